#include "str.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int str_copy(char *dst, size_t dstsize, const char *src)
{
    return str_copyn(dst, dstsize, src, strlen(src));
}

int str_copyn(char *dst, size_t dstsize, const char *src, size_t n)
{
    if (dstsize == 0)
        return -1;
    int r = 0;
    if (n >= dstsize) {
        n = dstsize - 1;
        r = -1;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
    return r;
}

char str_lower_char(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

bool str_eq_ci(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (str_lower_char(*a) != str_lower_char(*b))
            return false;
    return *a == *b;
}

bool str_eqn_ci(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (str_lower_char(a[i]) != str_lower_char(b[i]))
            return false;
        if (a[i] == '\0')
            return true;
    }
    return true;
}

bool str_prefix_ci(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);
    return strlen(s) >= n && str_eqn_ci(s, prefix, n);
}

void str_lower(char *s)
{
    for (; *s; s++)
        *s = str_lower_char(*s);
}

int str_to_u64(const char *s, size_t n, unsigned long long max, unsigned long long *out)
{
    if (n == 0)
        return -1;
    unsigned long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        /* d > max first: otherwise max - d wraps around and a digit above
         * a small max (below 9) would be accepted. */
        if (d > max || v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

char *str_printable(char *dst, size_t dstsize, const char *src, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (dstsize == 0)
        return dst;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            if (o + 1 >= dstsize)
                break;
            dst[o++] = (char)c;
        } else {
            if (o + 4 >= dstsize)
                break;
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
        }
    }
    dst[o] = '\0';
    return dst;
}

bool str_is_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return false;
    return true;
}

bool str_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned cp;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

int str_base64_value(char c, char c63)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == c63)
        return 63;
    return -1;
}

void str_format(char *dst, size_t dstsize, const char *fmt, ...)
{
    if (dstsize == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, dstsize, fmt, ap);
    va_end(ap);
    if (n < 0)
        dst[0] = '\0';
    else if ((size_t)n >= dstsize && dstsize > 4)
        memcpy(dst + dstsize - 4, "...", 4);
}
