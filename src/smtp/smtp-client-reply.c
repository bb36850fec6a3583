#include "smtp-client-reply.h"

#include <string.h>

#include "lib/str.h"

void smtp_client_reply_init(struct smtp_client_reply *r)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->text, SMTP_CLIENT_REPLY_MAX);
}

void smtp_client_reply_free(struct smtp_client_reply *r)
{
    buf_free(&r->text);
    memset(r, 0, sizeof(*r));
}

void smtp_reply_parser_init(struct smtp_reply_parser *p)
{
    smtp_client_reply_init(&p->cur);
    p->started = false;
}

void smtp_reply_parser_free(struct smtp_reply_parser *p)
{
    smtp_client_reply_free(&p->cur);
}

/* "x.y.z" with x 2, 4 or 5 and y, z of 1-3 digits (RFC 3463 2). */
static size_t enhanced_len(const char *s, size_t n)
{
    if (n < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
        return 0;
    size_t i = 2;
    for (int part = 0; part < 2; part++) {
        size_t start = i;
        while (i < n && s[i] >= '0' && s[i] <= '9' && i - start < 3)
            i++;
        if (i == start)
            return 0;
        if (part == 0) {
            if (i >= n || s[i] != '.')
                return 0;
            i++;
        }
    }
    if (i < n && s[i] != ' ')
        return 0;
    return i;
}

/* Take one complete line (without its end); returns false if it is not a
 * reply line. */
static bool take_line(struct smtp_reply_parser *p, const char *line, size_t len, bool *last)
{
    if (len < 3 || len > SMTP_CLIENT_LINE_MAX)
        return false;
    for (int i = 0; i < 3; i++)
        if (line[i] < '0' || line[i] > '9')
            return false;
    int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (code < 100 || code > 599)
        return false;
    if (len > 3 && line[3] != ' ' && line[3] != '-')
        return false;
    *last = len == 3 || line[3] == ' ';
    if (p->started && code != p->cur.code)
        return false;
    const char *text = len > 4 ? line + 4 : "";
    size_t tlen = len > 4 ? len - 4 : 0;
    if (!p->started) {
        p->started = true;
        p->cur.code = code;
        size_t e = enhanced_len(text, tlen);
        if (e && text[0] == line[0])
            str_copyn(p->cur.enh, sizeof(p->cur.enh), text, e);
    } else if (buf_append_char(&p->cur.text, '\n') < 0) {
        return false;
    }
    p->cur.lines++;
    return buf_append(&p->cur.text, text, tlen) == 0;
}

enum smtp_reply_parse smtp_reply_parse(struct smtp_reply_parser *p, const char *data, size_t n,
                                       size_t *used, struct smtp_client_reply *out)
{
    size_t pos = 0;
    *used = 0;
    while (pos < n) {
        const char *nl = memchr(data + pos, '\n', n - pos);
        if (!nl) {
            if (n - pos > SMTP_CLIENT_LINE_MAX + 2)
                return SMTP_REPLY_BAD;
            return SMTP_REPLY_NEED_MORE;
        }
        size_t len = (size_t)(nl - (data + pos));
        size_t line_len = len > 0 && data[pos + len - 1] == '\r' ? len - 1 : len;
        bool last = false;
        if (memchr(data + pos, '\0', line_len) || !take_line(p, data + pos, line_len, &last))
            return SMTP_REPLY_BAD;
        pos += len + 1;
        *used = pos;
        if (last) {
            smtp_client_reply_free(out);
            *out = p->cur;
            smtp_reply_parser_init(p);
            return SMTP_REPLY_DONE;
        }
    }
    return SMTP_REPLY_NEED_MORE;
}

void smtp_client_reply_flat(const struct smtp_client_reply *r, struct buf *out)
{
    buf_printf(out, "%03d ", r->code);
    const char *t = buf_cstr(&r->text);
    for (; *t; t++) {
        unsigned char c = (unsigned char)*t;
        if (c == '\n')
            buf_append_char(out, ' ');
        else if (c < 0x20 || c == 0x7f)
            buf_append_char(out, '?');
        else
            buf_append_char(out, (char)c);
    }
}
