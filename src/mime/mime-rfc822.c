#include "mime-rfc822.h"

#include <string.h>

void mime_lexer_init(struct mime_lexer *lx, const char *data, size_t len, struct buf *last_comment)
{
    lx->data = (const unsigned char *)data;
    lx->end = lx->data + len;
    lx->last_comment = last_comment;
}

bool mime_is_atext(unsigned char c)
{
    if (c >= 0x80)
        return true;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

bool mime_is_token_char(unsigned char c)
{
    if (c == '.')
        return true;
    return mime_is_atext(c) && c != '/' && c != '=' && c != '?';
}

/* Append the bytes [from, to) of the input; -1 past the buffer's maximum. */
static int put(struct buf *out, const unsigned char *from, const unsigned char *to)
{
    return buf_append(out, from, (size_t)(to - from));
}

static int more(const struct mime_lexer *lx)
{
    return lx->data < lx->end ? 1 : 0;
}

int mime_lex_skip_comment(struct mime_lexer *lx)
{
    int level = 1;
    if (lx->last_comment)
        buf_reset(lx->last_comment);
    const unsigned char *start = ++lx->data;
    for (; lx->data < lx->end; lx->data++) {
        switch (*lx->data) {
        case '(':
            level++;
            break;
        case ')':
            if (--level == 0) {
                if (lx->last_comment && put(lx->last_comment, start, lx->data) < 0)
                    return -1;
                lx->data++;
                return more(lx);
            }
            break;
        case '\\':
            if (lx->last_comment && put(lx->last_comment, start, lx->data) < 0)
                return -1;
            start = lx->data + 1;
            lx->data++;
            if (lx->data >= lx->end)
                return -1;
            break;
        default:
            break;
        }
    }
    return -1;
}

int mime_lex_skip_lwsp(struct mime_lexer *lx)
{
    while (lx->data < lx->end) {
        unsigned char c = *lx->data;
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            lx->data++;
            continue;
        }
        if (c != '(')
            break;
        if (mime_lex_skip_comment(lx) < 0)
            return -1;
    }
    return more(lx);
}

int mime_lex_atom(struct mime_lexer *lx, struct buf *out)
{
    if (lx->data >= lx->end || !mime_is_atext(*lx->data))
        return -1;
    const unsigned char *start = lx->data++;
    while (lx->data < lx->end && mime_is_atext(*lx->data))
        lx->data++;
    if (put(out, start, lx->data) < 0)
        return -1;
    return mime_lex_skip_lwsp(lx);
}

int mime_lex_dot_atom(struct mime_lexer *lx, struct buf *out)
{
    if (lx->data >= lx->end || !mime_is_atext(*lx->data))
        return -1;
    const unsigned char *start = lx->data++;
    while (lx->data < lx->end) {
        if (mime_is_atext(*lx->data)) {
            lx->data++;
            continue;
        }
        if (put(out, start, lx->data) < 0)
            return -1;
        int ret = mime_lex_skip_lwsp(lx);
        if (ret <= 0)
            return ret;
        if (*lx->data != '.')
            return 1;
        lx->data++;
        if (buf_append_char(out, '.') < 0)
            return -1;
        ret = mime_lex_skip_lwsp(lx);
        if (ret <= 0)
            return ret;
        start = lx->data;
    }
    if (put(out, start, lx->data) < 0)
        return -1;
    return 0;
}

int mime_lex_token(struct mime_lexer *lx, struct buf *out)
{
    const unsigned char *start = lx->data;
    while (lx->data < lx->end && mime_is_token_char(*lx->data))
        lx->data++;
    if (put(out, start, lx->data) < 0)
        return -1;
    return mime_lex_skip_lwsp(lx);
}

int mime_lex_quoted(struct mime_lexer *lx, struct buf *out)
{
    lx->data++;
    const unsigned char *start = lx->data;
    for (; lx->data < lx->end; lx->data++) {
        switch (*lx->data) {
        case '"':
            if (put(out, start, lx->data) < 0)
                return -1;
            lx->data++;
            return mime_lex_skip_lwsp(lx);
        case '\n': {
            /* folding inside the string: drop the line break */
            const unsigned char *stop = lx->data;
            if (stop > start && stop[-1] == '\r')
                stop--;
            if (put(out, start, stop) < 0)
                return -1;
            start = lx->data + 1;
            break;
        }
        case '\\':
            lx->data++;
            if (lx->data >= lx->end)
                return -1;
            if (put(out, start, lx->data - 1) < 0)
                return -1;
            start = lx->data;
            break;
        default:
            break;
        }
    }
    return -1;
}

/* An atom that may contain dots, without skipping white space inside. */
static int lex_atom_or_dot(struct mime_lexer *lx, struct buf *out)
{
    const unsigned char *start = lx->data;
    while (lx->data < lx->end && (mime_is_atext(*lx->data) || *lx->data == '.'))
        lx->data++;
    if (put(out, start, lx->data) < 0)
        return -1;
    return mime_lex_skip_lwsp(lx);
}

int mime_lex_phrase(struct mime_lexer *lx, struct buf *out)
{
    if (lx->data >= lx->end)
        return 0;
    if (*lx->data == '.')
        return -1;
    for (;;) {
        int ret = *lx->data == '"' ? mime_lex_quoted(lx, out) : lex_atom_or_dot(lx, out);
        if (ret <= 0)
            return ret;
        unsigned char c = *lx->data;
        if (!mime_is_atext(c) && c != '"' && c != '.')
            break;
        if (buf_append_char(out, ' ') < 0)
            return -1;
    }
    return mime_lex_skip_lwsp(lx);
}

/* "[" ... "]" kept as written. */
static int lex_domain_literal(struct mime_lexer *lx, struct buf *out)
{
    const unsigned char *start = lx->data;
    for (; lx->data < lx->end; lx->data++) {
        if (*lx->data == '\\') {
            lx->data++;
            if (lx->data >= lx->end)
                break;
        } else if (*lx->data == ']') {
            lx->data++;
            if (put(out, start, lx->data) < 0)
                return -1;
            return mime_lex_skip_lwsp(lx);
        }
    }
    return -1;
}

int mime_lex_domain(struct mime_lexer *lx, struct buf *out)
{
    lx->data++;
    if (mime_lex_skip_lwsp(lx) <= 0)
        return -1;
    if (*lx->data == '[')
        return lex_domain_literal(lx, out);
    return mime_lex_dot_atom(lx, out);
}

int mime_lex_content_type(struct mime_lexer *lx, struct buf *out)
{
    size_t start = out->len;
    if (mime_lex_skip_lwsp(lx) <= 0)
        return -1;
    if (mime_lex_token(lx, out) <= 0 || out->len == start)
        goto error;
    if (*lx->data != '/')
        goto error;
    lx->data++;
    if (mime_lex_skip_lwsp(lx) <= 0)
        goto error;
    if (buf_append_char(out, '/') < 0)
        goto error;
    size_t sub = out->len;
    if (mime_lex_token(lx, out) < 0 || out->len == sub)
        goto error;
    if (lx->data < lx->end && *lx->data != ';')
        goto error;
    return more(lx);
error:
    buf_truncate(out, start);
    return -1;
}

int mime_lex_param(struct mime_lexer *lx, struct buf *key, struct buf *value)
{
    buf_reset(key);
    buf_reset(value);
    if (lx->data >= lx->end)
        return 0;
    if (*lx->data != ';')
        return -1;
    lx->data++;
    if (mime_lex_skip_lwsp(lx) <= 0)
        return -1;
    if (mime_lex_token(lx, key) <= 0)
        return -1;
    if (*lx->data != '=')
        return -1;
    lx->data++;
    int ret = mime_lex_skip_lwsp(lx);
    if (ret <= 0) {
        /* no value */
    } else if (*lx->data == '"') {
        ret = mime_lex_quoted(lx, value);
    } else if (*lx->data == '=') {
        /* broken input seen in the wild: name==?utf-8?b?...?= */
        const unsigned char *start = lx->data;
        while (lx->data < lx->end && *lx->data != ';' && *lx->data != ' ' && *lx->data != '\t' &&
               *lx->data != '\r' && *lx->data != '\n')
            lx->data++;
        if (put(value, start, lx->data) < 0)
            return -1;
    } else {
        ret = mime_lex_token(lx, value);
    }
    return ret < 0 ? -1 : 1;
}
