/* libFuzzer target: SPF macro expansion (RFC 7208 7) of domain-specs and
 * of explanation texts, which come from DNS. What the syntax check accepts
 * the expander expands; what it refuses the expander refuses too. */
#include "auth/spf-record.h"
#include "fuzz-util.h"
#include "lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool exp_text = data[0] & 1;
    char *text = fuzz_copy(data + 1, size - 1);
    size_t len = size - 1;
    struct spf_macro_vars v = {
        .sender = "strong-bad@email.example.com",
        .local = "strong-bad",
        .sender_domain = "email.example.com",
        .domain = "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.example.com",
        .ip = "2.0.0.1.0.D.B.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.C.B.0.1",
        .ipv6 = true,
        .helo = "mx.example.org",
        .client_ip = "2001:db8::cb01",
        .receiver = "mx.example.net",
        .now = 1700000000,
    };
    struct buf out;
    buf_init(&out, 1 << 20);
    int checked = spf_macro_check(text, len, exp_text);
    int expanded = spf_macro_expand(text, len, &v, exp_text, &out);
    /* the expander may refuse more (a zero part count), never less */
    CHECK(expanded < 0 || checked == 0);
    buf_free(&out);
    free(text);
    return 0;
}
