/* auth-results: Authentication-Results (RFC 8601). */
#include "auth-results.h"

#include <string.h>

#include "lib/buf.h"
#include "lib/str.h"
#include "mime/header-stream.h"

/* The atext of RFC 5322, and "." between atoms. */
static bool is_atext(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL);
}

/* An address as a pvalue: whole if it is a plain dot-atom, else only its
 * domain ("[local-part "@"] domain-name", RFC 8601 2.2). */
static void put_address(struct buf *out, const char *addr)
{
    const char *at = strrchr(addr, '@');
    bool plain = at != NULL && at != addr;
    for (const char *p = addr; *p && plain; p++)
        if (p != at && !is_atext(*p))
            plain = false;
    const char *v = plain ? addr : at ? at + 1 : addr;
    for (; *v; v++)
        if (is_atext(*v) || *v == '@')
            buf_append_char(out, *v);
}

/* Start the next method result: ";" and a folded line. */
static void next_method(struct buf *out)
{
    buf_append_str(out, ";\r\n\t");
}

void auth_results_header(struct buf *out, const char *authserv_id, const struct auth_results *r)
{
    buf_printf(out, "Authentication-Results: %s", authserv_id);
    bool any = false;
    if (r->spf) {
        next_method(out);
        buf_printf(out, "spf=%s", spf_result_name(r->spf->result));
        if (r->mailfrom && r->mailfrom[0]) {
            buf_append_str(out, " smtp.mailfrom=");
            put_address(out, r->mailfrom);
        } else {
            buf_append_str(out, " smtp.helo=");
            put_address(out, r->helo ? r->helo : "");
        }
        any = true;
    }
    if (r->dkim_checked) {
        if (r->ndkim == 0) {
            next_method(out);
            buf_append_str(out, "dkim=none");
        }
        for (size_t i = 0; i < r->ndkim; i++) {
            next_method(out);
            dkim_result_format(&r->dkim[i], out);
        }
        any = true;
    }
    if (r->dmarc) {
        next_method(out);
        buf_printf(out, "dmarc=%s", dmarc_result_name(r->dmarc->result));
        if (r->dmarc->record_found)
            buf_printf(out, " (p=%s dis=%s)", dmarc_policy_name(r->dmarc->policy),
                       dmarc_policy_name(r->dmarc->disposition));
        if (r->dmarc->from_domain[0]) {
            buf_append_str(out, " header.from=");
            put_address(out, r->dmarc->from_domain);
        }
        any = true;
    }
    buf_append_str(out, any ? "\r\n" : "; none\r\n");
}

bool auth_results_claims(const char *field, size_t len, const char *authserv_id)
{
    if (!header_field_is(field, len, "Authentication-Results"))
        return false;
    const char *p = memchr(field, ':', len);
    const char *end = field + len;
    p++;
    /* CFWS before the authserv-id: blanks, line breaks, (comments) */
    for (;;) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
            p++;
        if (p < end && *p == '(') {
            int depth = 0;
            for (; p < end; p++) {
                if (*p == '\\' && p + 1 < end) {
                    p++;
                    continue;
                }
                if (*p == '(')
                    depth++;
                else if (*p == ')' && --depth == 0) {
                    p++;
                    break;
                }
            }
            continue;
        }
        break;
    }
    const char *id = p;
    bool quoted = p < end && *p == '"';
    if (quoted)
        id = ++p;
    while (p < end && (quoted ? *p != '"'
                              : !(*p == ';' || *p == ' ' || *p == '\t' || *p == '\r' ||
                                  *p == '\n' || *p == '(')))
        p++;
    size_t n = (size_t)(p - id);
    return n == strlen(authserv_id) && str_eqn_ci(id, authserv_id, n);
}
