/* Unit tests for the SPF record syntax, macro expansion (RFC 7208 7.4's
 * own examples) and the evaluation's DNS replay. The RFC 7208 conformance
 * suite runs in tests/integration/test_spf_suite.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth/spf-header.h"
#include "auth/spf-record.h"
#include "auth/spf.h"
#include "lib/buf.h"

static int parse(const char *text, struct spf_record *r)
{
    const char *err = NULL;
    int rc = spf_record_parse(text, strlen(text), r, &err);
    if (rc < 0)
        assert_non_null(err);
    return rc;
}

static void test_record_selection(void **state)
{
    (void)state;
    assert_true(spf_record_is_spf("v=spf1", 6));
    assert_true(spf_record_is_spf("V=SPF1 -all", 11));
    assert_false(spf_record_is_spf("v=spf10 -all", 12));
    assert_false(spf_record_is_spf("v=spf1\t-all", 11));
    assert_false(spf_record_is_spf("v=spf", 5));
    assert_false(spf_record_is_spf(" v=spf1", 7));
}

static void test_valid_records(void **state)
{
    (void)state;
    static struct spf_record r;
    assert_int_equal(parse("v=spf1", &r), 0);
    assert_int_equal(r.n, 0);
    assert_int_equal(parse("v=spf1  -all ", &r), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.terms[0].qualifier, '-');
    assert_true(r.has_all);
    assert_int_equal(parse("v=spf1 a/24//64 mx:example.com/16 ip4:192.0.2.0/24 "
                           "ip6:2001:db8::/32 include:_spf.example.net "
                           "?exists:%{ir}.sbl.example.org ptr ~all",
                           &r),
                     0);
    assert_int_equal(r.n, 8);
    assert_int_equal(r.terms[0].mech, SPF_MECH_A);
    assert_null(r.terms[0].domain);
    assert_int_equal(r.terms[0].cidr4, 24);
    assert_int_equal(r.terms[0].cidr6, 64);
    assert_int_equal(r.terms[1].mech, SPF_MECH_MX);
    assert_int_equal(r.terms[1].domain_len, 11);
    assert_memory_equal(r.terms[1].domain, "example.com", 11);
    assert_int_equal(r.terms[1].cidr4, 16);
    assert_int_equal(r.terms[1].cidr6, 128);
    assert_int_equal(r.terms[2].mech, SPF_MECH_IP4);
    assert_int_equal(r.terms[2].cidr4, 24);
    assert_memory_equal(r.terms[2].ip, "\xc0\x00\x02\x00", 4);
    assert_int_equal(r.terms[3].mech, SPF_MECH_IP6);
    assert_int_equal(r.terms[3].cidr6, 32);
    assert_int_equal(r.terms[5].qualifier, '?');
    assert_int_equal(r.terms[5].mech, SPF_MECH_EXISTS);
    assert_int_equal(r.terms[6].mech, SPF_MECH_PTR);
    assert_int_equal(r.terms[7].text_len, 4);
    assert_memory_equal(r.terms[7].text, "~all", 4);
    /* modifiers: redirect, exp, unknown ones ignored */
    assert_int_equal(parse("v=spf1 redirect=_spf.example.com exp=why.%{d} foo=bar%{d}", &r), 0);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.redirect_len, 16);
    assert_non_null(r.exp);
    /* a domain-spec may end in a macro, or in a top label and a dot */
    assert_int_equal(parse("v=spf1 a:%{d} mx:example.com. include:x.y-1", &r), 0);
}

static void test_invalid_records(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "v=spf1 a:1.2.3.4",                     /* all-numeric top label */
        "v=spf1 a:example",                     /* no dot before the top label */
        "v=spf1 ip4:192.0.2.0/33",              /* prefix too long */
        "v=spf1 ip4:192.0.2.0/024",             /* leading zero */
        "v=spf1 ip4:1.2.3",                     /* not an address */
        "v=spf1 ip6:::1/129",                   /* prefix too long */
        "v=spf1 a//129",                        /* prefix too long */
        "v=spf1 a/33",                          /* prefix too long */
        "v=spf1 redirect=a.com redirect=b.com", /* twice */
        "v=spf1 exp=a.com exp=b.com",           /* twice */
        "v=spf1 -redirect=a.com",               /* a qualifier on a modifier */
        "v=spf1 foo:bar.com",                   /* unknown mechanism */
        "v=spf1 include",                       /* needs a domain */
        "v=spf1 exists:",                       /* needs a domain */
        "v=spf1 all:x",                         /* takes none */
        "v=spf1 a:%{x}.example.com",            /* unknown macro letter */
        "v=spf1 a:%{c}.example.com",            /* c only in exp text */
        "v=spf1 a:%%{d}%.example.com",          /* a lone % */
        "v=spf1 a:exa mple.com",                /* "mple.com" is a mechanism? no */
        "v=spf1 =foo",                          /* a modifier without name */
        "v=spf1 a:example.com\x01",             /* a control character */
        "v=spf1 -all\xc3\xa9",                  /* non-ASCII */
    };
    static struct spf_record r;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(bad[i], &r) == 0)
            fail_msg("accepted: %s", bad[i]);
    }
}

static void test_macro_examples(void **state)
{
    (void)state;
    /* RFC 7208 7.4 */
    struct spf_macro_vars v = {
        .sender = "strong-bad@email.example.com",
        .local = "strong-bad",
        .sender_domain = "email.example.com",
        .domain = "email.example.com",
        .ip = "192.0.2.3",
        .helo = "mx.example.org",
        .client_ip = "192.0.2.3",
        .receiver = "mx.example.net",
        .now = 1700000000,
    };
    static const char *const cases[][2] = {
        {"%{s}", "strong-bad@email.example.com"},
        {"%{o}", "email.example.com"},
        {"%{d}", "email.example.com"},
        {"%{d4}", "email.example.com"},
        {"%{d3}", "email.example.com"},
        {"%{d2}", "example.com"},
        {"%{d1}", "com"},
        {"%{dr}", "com.example.email"},
        {"%{d2r}", "example.email"},
        {"%{l}", "strong-bad"},
        {"%{l-}", "strong.bad"},
        {"%{lr}", "strong-bad"},
        {"%{lr-}", "bad.strong"},
        {"%{l1r-}", "strong"},
        {"%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
        {"%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
        {"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
        {"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"},
        {"%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"},
        {"%{S}", "strong-bad%40email.example.com"},
        {"%%%_%-", "% %20"},
        {"%{p}", "unknown"},
        {"%{h}", "mx.example.org"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf out;
        buf_init(&out, BUF_UNLIMITED);
        assert_int_equal(spf_macro_expand(cases[i][0], strlen(cases[i][0]), &v, false, &out), 0);
        if (strcmp(buf_cstr(&out), cases[i][1]) != 0)
            fail_msg("%s gave %s, want %s", cases[i][0], buf_cstr(&out), cases[i][1]);
        buf_free(&out);
    }
    /* exp text only: c, r, t */
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    assert_int_equal(spf_macro_expand("%{c} %{r} %{t}", 14, &v, false, &out), -1);
    buf_reset(&out);
    assert_int_equal(spf_macro_expand("%{c} %{r} %{t}", 14, &v, true, &out), 0);
    assert_string_equal(buf_cstr(&out), "192.0.2.3 mx.example.net 1700000000");
    buf_reset(&out);
    assert_int_equal(spf_macro_expand("%{d0}", 5, &v, false, &out), -1); /* zero parts */
    buf_free(&out);
}

/* Answers a query from a tiny zone: one record per name. */
static void answer(struct spf_check *c, const char *name, enum spf_rr_type type)
{
    static const struct {
        const char *name;
        enum spf_rr_type type;
        const char *value;
    } zone[] = {
        {"example.com", SPF_RR_TXT, "v=spf1 include:_spf.example.com mx -all"},
        {"_spf.example.com", SPF_RR_TXT, "v=spf1 ip4:198.51.100.0/24 ~all"},
        {"example.com", SPF_RR_MX, "mx.example.com"},
        {"mx.example.com", SPF_RR_A, "192.0.2.25"},
    };
    for (size_t i = 0; i < sizeof(zone) / sizeof(zone[0]); i++)
        if (strcmp(zone[i].name, name) == 0 && zone[i].type == type) {
            spf_check_answer(c, name, type, SPF_DNS_OK, &zone[i].value, 1);
            return;
        }
    spf_check_answer(c, name, type, SPF_DNS_NXDOMAIN, NULL, 0);
}

static enum spf_result evaluate(const char *ip, const char *sender, size_t *queries, char *mech,
                                size_t mechsize)
{
    struct spf_request req = {.ip = ip, .sender = sender, .helo = "client.example.org"};
    struct spf_check *c = spf_check_new(&req);
    assert_non_null(c);
    struct spf_outcome out;
    const char *name;
    enum spf_rr_type type;
    size_t runs = 0;
    while (!spf_check_run(c, &out, &name, &type)) {
        answer(c, name, type);
        assert_true(++runs < 50);
    }
    *queries = spf_check_queries(c);
    snprintf(mech, mechsize, "%s", out.mechanism);
    enum spf_result r = out.result;
    spf_check_free(&c);
    assert_null(c);
    return r;
}

static void test_evaluation_replay(void **state)
{
    (void)state;
    size_t q;
    char mech[64];
    /* pass through the include: two TXT queries */
    assert_int_equal(evaluate("198.51.100.7", "a@example.com", &q, mech, sizeof(mech)), SPF_PASS);
    assert_int_equal(q, 2);
    assert_string_equal(mech, "include:_spf.example.com");
    /* pass by mx, IPv4-mapped IPv6 taken as IPv4 */
    assert_int_equal(evaluate("::ffff:192.0.2.25", "a@example.com", &q, mech, sizeof(mech)),
                     SPF_PASS);
    assert_string_equal(mech, "mx");
    assert_int_equal(q, 4);
    /* fail */
    assert_int_equal(evaluate("203.0.113.1", "a@example.com", &q, mech, sizeof(mech)), SPF_FAIL);
    assert_string_equal(mech, "-all");
    /* no record */
    assert_int_equal(evaluate("203.0.113.1", "a@example.net", &q, mech, sizeof(mech)), SPF_NONE);
    /* null sender: postmaster@HELO */
    assert_int_equal(evaluate("203.0.113.1", "", &q, mech, sizeof(mech)), SPF_NONE);
    struct spf_request req = {.ip = "not an address", .sender = "a@b.c"};
    assert_null(spf_check_new(&req));
}

static void test_received_spf_header(void **state)
{
    (void)state;
    struct spf_outcome o = {.result = SPF_PASS,
                            .domain = "b.example",
                            .mechanism = "ip4:192.0.2.0/24",
                            .reason = "",
                            .explanation = ""};
    struct spf_header_info info = {"192.0.2.7", "a\"x\\@b.example", "mail.b.example",
                                   "mx.example.test"};
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    spf_header_received(&out, &o, &info);
    assert_string_equal(
        buf_cstr(&out),
        "Received-SPF: pass (mx.example.test: domain of a\"x?@b.example "
        "designates 192.0.2.7 as permitted sender)\r\n"
        "\tclient-ip=192.0.2.7; envelope-from=\"a\\\"x\\\\@b.example\";\r\n"
        "\thelo=\"mail.b.example\"; receiver=mx.example.test; identity=mailfrom;\r\n"
        "\tmechanism=\"ip4:192.0.2.0/24\"\r\n");
    /* an error's reason from DNS cannot break out of the comment */
    buf_reset(&out);
    o.result = SPF_PERMERROR;
    o.mechanism = "";
    o.reason = "bad (record)\r\nX-Injected: 1";
    info.sender = "";
    spf_header_received(&out, &o, &info);
    assert_string_equal(buf_cstr(&out),
                        "Received-SPF: permerror (mx.example.test: bad ?record???X-Injected: 1)\r\n"
                        "\tclient-ip=192.0.2.7; envelope-from=\"\";\r\n"
                        "\thelo=\"mail.b.example\"; receiver=mx.example.test; identity=helo\r\n");
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_selection),  cmocka_unit_test(test_valid_records),
        cmocka_unit_test(test_invalid_records),   cmocka_unit_test(test_macro_examples),
        cmocka_unit_test(test_evaluation_replay), cmocka_unit_test(test_received_spf_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
