#include "mime-decode.h"

#include <stdbool.h>
#include <string.h>

#include "lib/str.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decode one line (without its line break) of quoted-printable, or of Q
 * when q is set. A soft line break ("=" at the end) sets *soft. */
static int qp_line(const char *s, size_t n, bool q, bool *soft, struct buf *out)
{
    /* trailing white space was added in transport (RFC 2045 6.7 (3)) */
    if (!q) {
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
    }
    *soft = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '=') {
            if (i + 1 == n && !q) {
                *soft = true;
                return 0;
            }
            if (i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
                char v = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
                if (buf_append_char(out, v) < 0)
                    return -1;
                i += 2;
                continue;
            }
        } else if (c == '_' && q) {
            c = ' ';
        }
        if (buf_append_char(out, c) < 0)
            return -1;
    }
    return 0;
}

int mime_decode_qp(const char *in, size_t len, struct buf *out)
{
    size_t pos = 0;
    while (pos < len) {
        const char *lf = memchr(in + pos, '\n', len - pos);
        size_t end = lf ? (size_t)(lf - in) : len;
        size_t text_end = end > pos && in[end - 1] == '\r' && lf ? end - 1 : end;
        bool soft;
        if (qp_line(in + pos, text_end - pos, false, &soft, out) < 0)
            return -1;
        if (lf && !soft && buf_append_str(out, "\r\n") < 0)
            return -1;
        pos = lf ? end + 1 : len;
    }
    return 0;
}

int mime_decode_q(const char *in, size_t len, struct buf *out)
{
    bool soft;
    return qp_line(in, len, true, &soft, out);
}

int mime_decode_base64(const char *in, size_t len, struct buf *out)
{
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '=')
            break;
        int v = str_base64_value((char)c, '/');
        if (v < 0)
            continue;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (buf_append_char(out, (char)((acc >> bits) & 0xff)) < 0)
                return -1;
        }
        acc &= (1u << bits) - 1;
    }
    return 0;
}

int mime_decode_body(const char *encoding, const char *in, size_t len, struct buf *out)
{
    if (encoding && str_eq_ci(encoding, "quoted-printable"))
        return mime_decode_qp(in, len, out);
    if (encoding && str_eq_ci(encoding, "base64"))
        return mime_decode_base64(in, len, out);
    return buf_append(out, in, len);
}
