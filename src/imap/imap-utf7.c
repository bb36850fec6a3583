#include "imap-utf7.h"

#include <stdint.h>

#include "lib/str.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/* Decode one code point of valid UTF-8 at s[*i]. */
static uint32_t utf8_next(const unsigned char *s, size_t *i)
{
    uint32_t c = s[(*i)++];
    if (c < 0x80)
        return c;
    int more = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;
    c &= (uint32_t)(0x3f >> more);
    while (more-- > 0)
        c = (c << 6) | (s[(*i)++] & 0x3fu);
    return c;
}

/* Write a UTF-16 unit as base64 digits, carrying bits between calls. */
struct b64_out {
    uint32_t bits;
    int nbits;
};

static int put_unit(struct buf *out, struct b64_out *st, uint32_t unit)
{
    st->bits = (st->bits << 16) | unit;
    st->nbits += 16;
    while (st->nbits >= 6) {
        st->nbits -= 6;
        if (buf_append_char(out, b64[(st->bits >> st->nbits) & 0x3f]) != 0)
            return -1;
    }
    st->bits &= (1u << st->nbits) - 1;
    return 0;
}

int imap_utf7_encode(const char *s, size_t len, struct buf *out)
{
    if (!str_utf8_valid(s, len))
        return -1;
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        uint32_t c = utf8_next(u, &i);
        if (c < 0x20 || c == 0x7f)
            return -1;
        if (c < 0x7f) {
            int r = c == '&' ? buf_append_str(out, "&-") : buf_append_char(out, (char)c);
            if (r != 0)
                return -1;
            continue;
        }
        /* A run of characters outside printable ASCII. */
        struct b64_out st = {0, 0};
        if (buf_append_char(out, '&') != 0)
            return -1;
        for (;;) {
            if (c >= 0x10000) {
                uint32_t v = c - 0x10000;
                if (put_unit(out, &st, 0xd800 | (v >> 10)) != 0 ||
                    put_unit(out, &st, 0xdc00 | (v & 0x3ff)) != 0)
                    return -1;
            } else if (put_unit(out, &st, c) != 0) {
                return -1;
            }
            if (i >= len)
                break;
            size_t save = i;
            c = utf8_next(u, &i);
            if (c < 0x20 || c == 0x7f)
                return -1;
            if (c < 0x7f) {
                i = save;
                break;
            }
        }
        if (st.nbits > 0 && buf_append_char(out, b64[(st.bits << (6 - st.nbits)) & 0x3f]) != 0)
            return -1;
        if (buf_append_char(out, '-') != 0)
            return -1;
    }
    return 0;
}

/* Append a code point as UTF-8. */
static int put_utf8(struct buf *out, uint32_t c)
{
    char tmp[4];
    size_t n;
    if (c < 0x80) {
        tmp[0] = (char)c;
        n = 1;
    } else if (c < 0x800) {
        tmp[0] = (char)(0xc0 | (c >> 6));
        tmp[1] = (char)(0x80 | (c & 0x3f));
        n = 2;
    } else if (c < 0x10000) {
        tmp[0] = (char)(0xe0 | (c >> 12));
        tmp[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        tmp[2] = (char)(0x80 | (c & 0x3f));
        n = 3;
    } else {
        tmp[0] = (char)(0xf0 | (c >> 18));
        tmp[1] = (char)(0x80 | ((c >> 12) & 0x3f));
        tmp[2] = (char)(0x80 | ((c >> 6) & 0x3f));
        tmp[3] = (char)(0x80 | (c & 0x3f));
        n = 4;
    }
    return buf_append(out, tmp, n);
}

/* Decode the base64 run s[start..end) (between '&' and '-') to out (when
 * not NULL). Returns 0 or -1. */
static int decode_run(const char *s, size_t start, size_t end, struct buf *out)
{
    uint32_t bits = 0;
    int nbits = 0;
    uint32_t high = 0; /* a pending high surrogate */
    bool any = false;
    for (size_t i = start; i < end; i++) {
        int v = str_base64_value(s[i], ','); /* modified base64 */
        if (v < 0)
            return -1;
        bits = (bits << 6) | (uint32_t)v;
        nbits += 6;
        if (nbits < 16)
            continue;
        nbits -= 16;
        uint32_t unit = (bits >> nbits) & 0xffff;
        bits &= (1u << nbits) - 1;
        any = true;
        if (high) {
            if (unit < 0xdc00 || unit > 0xdfff)
                return -1;
            uint32_t c = 0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00);
            high = 0;
            if (out && put_utf8(out, c) != 0)
                return -1;
            continue;
        }
        if (unit >= 0xd800 && unit <= 0xdbff) {
            high = unit;
            continue;
        }
        if (unit >= 0xdc00 && unit <= 0xdfff)
            return -1;
        /* Printable ASCII must not be encoded; nor may NUL etc. be
         * smuggled in. */
        if (unit < 0x80 && unit >= 0x20 && unit != 0x7f)
            return -1;
        if (unit < 0x20 || unit == 0x7f)
            return -1;
        if (out && put_utf8(out, unit) != 0)
            return -1;
    }
    if (!any || high || nbits >= 6 || bits != 0)
        return -1;
    return 0;
}

/* Decode or only check. */
static int decode(const char *s, size_t len, struct buf *out)
{
    size_t i = 0;
    bool after_run = false;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f)
            return -1;
        if (c != '&') {
            if (out && buf_append_char(out, (char)c) != 0)
                return -1;
            after_run = false;
            i++;
            continue;
        }
        size_t start = ++i;
        while (i < len && s[i] != '-')
            i++;
        if (i >= len)
            return -1;
        if (i == start) {
            if (out && buf_append_char(out, '&') != 0)
                return -1;
            after_run = false;
        } else {
            if (after_run)
                return -1; /* two runs side by side must be one */
            if (decode_run(s, start, i, out) != 0)
                return -1;
            after_run = true;
        }
        i++;
    }
    return 0;
}

int imap_utf7_decode(const char *s, size_t len, struct buf *out)
{
    return decode(s, len, out);
}

bool imap_utf7_valid(const char *s, size_t len)
{
    return decode(s, len, NULL) == 0;
}
