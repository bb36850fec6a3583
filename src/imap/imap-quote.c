#include "imap-quote.h"

#include <stdbool.h>
#include <string.h>

#include "lib/str.h"

static int literal(struct buf *out, const char *s, size_t len)
{
    if (buf_printf(out, "{%zu}\r\n", len) < 0)
        return -1;
    return buf_append(out, s, len);
}

int imap_quote_string(struct buf *out, const char *s, size_t len)
{
    unsigned escapes = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            if (escapes++ < IMAP_QUOTE_MAX_ESCAPES)
                continue;
            return literal(out, s, len);
        }
        if (c == '\r' || c == '\n' || c == '\0' || c >= 0x80)
            return literal(out, s, len);
    }
    if (buf_append_char(out, '"') < 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if ((s[i] == '"' || s[i] == '\\') && buf_append_char(out, '\\') < 0)
            return -1;
        if (buf_append_char(out, s[i]) < 0)
            return -1;
    }
    return buf_append_char(out, '"');
}

int imap_quote_nstring(struct buf *out, const char *s)
{
    if (!s)
        return buf_append_str(out, "NIL");
    return imap_quote_string(out, s, strlen(s));
}

int imap_quote_nstring_nolf(struct buf *out, const char *s)
{
    if (!s || !strpbrk(s, "\r\n"))
        return imap_quote_nstring(out, s);
    struct buf b;
    size_t n = strlen(s);
    buf_init(&b, n + 1);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c != '\r' && c != '\n') {
            buf_append_char(&b, c);
        } else {
            char nx = s[i + 1];
            if (nx != ' ' && nx != '\t' && nx != '\r' && nx != '\n' && nx != '\0')
                buf_append_char(&b, ' ');
        }
    }
    int ret = literal(out, buf_cstr(&b), b.len);
    buf_free(&b);
    return ret;
}

/* RFC 3501 ASTRING-CHAR: ATOM-CHAR or "]". */
static bool astring_char(unsigned char c)
{
    if (c <= 0x20 || c >= 0x7f)
        return false;
    return strchr("(){%*\"\\", c) == NULL;
}

int imap_quote_astring(struct buf *out, const char *s)
{
    size_t n = strlen(s);
    bool atom = n > 0 && !str_eq_ci(s, "NIL");
    for (size_t i = 0; i < n && atom; i++)
        atom = astring_char((unsigned char)s[i]);
    if (atom)
        return buf_append(out, s, n);
    return imap_quote_string(out, s, n);
}
