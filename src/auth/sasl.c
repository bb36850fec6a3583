#include "sasl.h"

#include <string.h>

#include "lib/str.h"

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

long sasl_base64_decode(const char *in, size_t len, unsigned char *out, size_t outsize)
{
    if (len % 4 != 0)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            char c = in[i + (size_t)k];
            if (c == '=' && last && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad) /* data after padding */
                return -1;
            v[k] = str_base64_value(c, '/');
            if (v[k] < 0)
                return -1;
        }
        unsigned triple = ((unsigned)v[0] << 18) | ((unsigned)v[1] << 12) | ((unsigned)v[2] << 6) |
                          (unsigned)v[3];
        /* Canonical encoding: the bits under the padding are zero. */
        if ((pad == 1 && (triple & 0xff)) || (pad == 2 && (triple & 0xffff)))
            return -1;
        size_t n = 3 - (size_t)pad;
        if (o + n > outsize)
            return -1;
        out[o++] = (unsigned char)(triple >> 16);
        if (n > 1)
            out[o++] = (unsigned char)(triple >> 8);
        if (n > 2)
            out[o++] = (unsigned char)triple;
    }
    return (long)o;
}

size_t sasl_base64_encode(const unsigned char *in, size_t len, char *out, size_t outsize)
{
    size_t need = 4 * ((len + 2) / 3) + 1;
    if (outsize < need)
        return 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = b64chars[(v >> 18) & 63];
        out[o++] = b64chars[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64chars[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? b64chars[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

/* Copy a NUL-free UTF-8 part into out; -1 if it does not fit or is bad. */
static int take_part(const unsigned char *p, size_t n, char *out, size_t outsize)
{
    if (n >= outsize || memchr(p, '\0', n) || !str_utf8_valid((const char *)p, n))
        return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

int sasl_plain_decode(const char *b64, size_t len, struct sasl_creds *out)
{
    unsigned char raw[SASL_USER_MAX * 2 + PASSWORD_MAX + 4];
    memset(out, 0, sizeof(*out));
    long n = sasl_base64_decode(b64, len, raw, sizeof(raw));
    if (n < 0)
        return -1;
    const unsigned char *end = raw + n;
    const unsigned char *nul1 = memchr(raw, '\0', (size_t)n);
    if (!nul1)
        return -1;
    const unsigned char *nul2 = memchr(nul1 + 1, '\0', (size_t)(end - nul1 - 1));
    if (!nul2)
        return -1;
    size_t user_len = (size_t)(nul2 - nul1 - 1), pw_len = (size_t)(end - nul2 - 1);
    if (user_len == 0 || pw_len == 0)
        return -1;
    if (take_part(raw, (size_t)(nul1 - raw), out->authzid, sizeof(out->authzid)) < 0 ||
        take_part(nul1 + 1, user_len, out->user, sizeof(out->user)) < 0 ||
        take_part(nul2 + 1, pw_len, out->password, sizeof(out->password)) < 0) {
        memset(out, 0, sizeof(*out));
        memset(raw, 0, sizeof(raw));
        return -1;
    }
    memset(raw, 0, sizeof(raw));
    return 0;
}

int sasl_login_decode(const char *b64, size_t len, char *out, size_t outsize)
{
    unsigned char raw[PASSWORD_MAX + 1];
    long n = sasl_base64_decode(b64, len, raw, sizeof(raw));
    int rc = (n <= 0 || take_part(raw, (size_t)n, out, outsize) < 0) ? -1 : 0;
    memset(raw, 0, sizeof(raw));
    return rc;
}
