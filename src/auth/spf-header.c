/* spf-header: Received-SPF (RFC 7208 9.1). */
#include "spf-header.h"

#include <string.h>

#include "lib/buf.h"

/* Comment text: printable ASCII without the characters that would end or
 * nest the comment. */
static void put_comment_text(struct buf *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        buf_append_char(out,
                        c < 0x20 || c > 0x7e || c == '(' || c == ')' || c == '\\' ? '?' : (char)c);
    }
}

/* A quoted-string: quotes and backslashes escaped, controls dropped. */
static void put_quoted(struct buf *out, const char *s)
{
    buf_append_char(out, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            continue;
        if (c == '"' || c == '\\')
            buf_append_char(out, '\\');
        buf_append_char(out, (char)c);
    }
    buf_append_char(out, '"');
}

void spf_header_received(struct buf *out, const struct spf_outcome *o,
                         const struct spf_header_info *info)
{
    bool helo_identity = !info->sender[0];
    const char *who = helo_identity ? info->helo : info->sender;
    buf_printf(out, "Received-SPF: %s (%s: ", spf_result_name(o->result), info->receiver);
    switch (o->result) {
    case SPF_PASS:
        buf_append_str(out, "domain of ");
        put_comment_text(out, who);
        buf_printf(out, " designates %s as permitted sender", info->ip);
        break;
    case SPF_FAIL:
        buf_append_str(out, "domain of ");
        put_comment_text(out, who);
        buf_printf(out, " does not designate %s as permitted sender", info->ip);
        break;
    case SPF_SOFTFAIL:
        buf_append_str(out, "domain of transitioning ");
        put_comment_text(out, who);
        buf_printf(out, " does not designate %s as permitted sender", info->ip);
        break;
    case SPF_NEUTRAL:
        buf_printf(out, "%s is neither permitted nor denied by domain of ", info->ip);
        put_comment_text(out, who);
        break;
    default:
        put_comment_text(out, o->reason && o->reason[0] ? o->reason : spf_result_name(o->result));
        break;
    }
    buf_printf(out, ")\r\n\tclient-ip=%s;", info->ip);
    buf_append_str(out, " envelope-from=");
    put_quoted(out, info->sender);
    buf_append_str(out, ";\r\n\thelo=");
    put_quoted(out, info->helo);
    buf_printf(out, "; receiver=%s; identity=%s", info->receiver,
               helo_identity ? "helo" : "mailfrom");
    if (o->mechanism && o->mechanism[0]) {
        buf_append_str(out, ";\r\n\tmechanism=");
        put_quoted(out, o->mechanism);
    }
    buf_append_str(out, "\r\n");
}
