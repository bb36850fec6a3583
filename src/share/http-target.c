/* http-target: decoding of request paths and query parameters. */
#include "http-target.h"

#include <stdbool.h>
#include <string.h>

#include "lib/str.h"

/* The value of a hex digit, or -1: percent escapes. */
static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* RFC 3986 pchar, escapes aside: unreserved, sub-delims, ":" and "@". */
static bool is_pchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("-._~!$&'()*+,;=:@", c) != NULL;
}

/* The octet at s[*i] (n octets in all), decoded from %XX if it is an escape,
 * with "+" as a space if plus; *i moves past it. Returns the octet, or -1
 * for a bad escape. */
static int next_octet(const char *s, size_t n, size_t *i, bool plus)
{
    char c = s[*i];
    if (c == '%') {
        if (n - *i < 3)
            return -1;
        int hi = hex_digit(s[*i + 1]), lo = hex_digit(s[*i + 2]);
        if (hi < 0 || lo < 0)
            return -1;
        *i += 3;
        return hi << 4 | lo;
    }
    *i += 1;
    if (plus && c == '+')
        return ' ';
    return (unsigned char)c;
}

/* Decode one path segment s[0..n) onto path. Returns NULL or the reason. */
static const char *path_segment(const char *s, size_t n, struct buf *path)
{
    size_t start = path->len;
    for (size_t i = 0; i < n;) {
        if (s[i] != '%' && !is_pchar((unsigned char)s[i]))
            return "bad character in the path";
        int c = next_octet(s, n, &i, false);
        if (c < 0)
            return "bad percent escape in the path";
        if (c == 0)
            return "NUL in the path";
        if (c == '/')
            return "encoded slash in the path";
        if (c < 0x20 || c == 0x7f)
            return "control character in the path";
        if (c == '\\')
            return "backslash in the path";
        if (buf_append_char(path, (char)c) < 0)
            return "path too long";
    }
    size_t len = path->len - start;
    const char *seg = path->data ? path->data + start : "";
    if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
        return "dot segment in the path";
    return NULL;
}

int http_target_parse(const char *target, size_t len, struct buf *path, const char **query_r,
                      size_t *query_len_r, const char **error_r)
{
    buf_reset(path);
    *query_r = NULL;
    *query_len_r = 0;
    const char *q = memchr(target, '?', len);
    size_t plen = q ? (size_t)(q - target) : len;
    if (plen == 0 || target[0] != '/') {
        *error_r = "not an absolute path";
        return -1;
    }
    /* each segment after a "/" */
    for (size_t i = 0; i < plen;) {
        size_t start = i + 1;
        const char *slash = memchr(target + start, '/', plen - start);
        size_t end = slash ? (size_t)(slash - target) : plen;
        const char *why = NULL;
        if (buf_append_char(path, '/') < 0)
            why = "path too long";
        else
            why = path_segment(target + start, end - start, path);
        if (why) {
            buf_reset(path);
            *error_r = why;
            return -1;
        }
        i = end;
    }
    if (!str_utf8_valid(buf_cstr(path), path->len)) {
        buf_reset(path);
        *error_r = "path is not UTF-8";
        return -1;
    }
    if (q) {
        *query_r = q + 1;
        *query_len_r = len - plen - 1;
    }
    return 0;
}

/* True if the whole query is well-formed: RFC 3986 query characters, good
 * escapes, no %00. */
static bool query_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c != '%' && c != '/' && c != '?' && !is_pchar(c))
            return false;
        if (next_octet(s, n, &i, true) <= 0)
            return false;
    }
    return true;
}

/* True if s[0..n) decodes (form style) to exactly name. */
static bool name_is(const char *s, size_t n, const char *name)
{
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        int c = next_octet(s, n, &i, true);
        if (name[k] == '\0' || (unsigned char)name[k] != c)
            return false;
        k++;
    }
    return name[k] == '\0';
}

int http_query_get(const char *query, size_t len, const char *name, struct buf *value)
{
    buf_reset(value);
    if (!query_valid(query, len))
        return -1;
    for (size_t i = 0; i < len;) {
        const char *amp = memchr(query + i, '&', len - i);
        size_t end = amp ? (size_t)(amp - query) : len;
        const char *pair = query + i;
        size_t plen = end - i;
        i = amp ? end + 1 : len;
        if (plen == 0)
            continue;
        const char *eq = memchr(pair, '=', plen);
        size_t nlen = eq ? (size_t)(eq - pair) : plen;
        if (!name_is(pair, nlen, name))
            continue;
        if (!eq)
            return 1;
        const char *v = eq + 1;
        size_t vlen = plen - nlen - 1;
        for (size_t k = 0; k < vlen;) {
            if (buf_append_char(value, (char)next_octet(v, vlen, &k, true)) < 0) {
                buf_reset(value);
                return -1;
            }
        }
        return 1;
    }
    return 0;
}

/* 1 to HTTP_RANGE_DIGITS_MAX digits at *p (advanced): 0, or -1. */
static int range_number(const char **p, const char *end, unsigned long long *out)
{
    unsigned long long v = 0;
    size_t n = 0;
    while (*p < end && **p >= '0' && **p <= '9' && n < HTTP_RANGE_DIGITS_MAX + 1) {
        v = v * 10 + (unsigned long long)(**p - '0');
        (*p)++;
        n++;
    }
    if (n == 0 || n > HTTP_RANGE_DIGITS_MAX)
        return -1;
    *out = v;
    return 0;
}

int http_content_range_parse(const char *v, size_t len, unsigned long long *first_r,
                             unsigned long long *last_r, unsigned long long *complete_r)
{
    const char *p = v, *end = v + len;
    unsigned long long a, b, c;
    if (len < 6 || memcmp(v, "bytes ", 6) != 0)
        return -1;
    p += 6;
    if (range_number(&p, end, &a) < 0 || p == end || *p++ != '-' || range_number(&p, end, &b) < 0 ||
        p == end || *p++ != '/' || range_number(&p, end, &c) < 0 || p != end || a > b || b >= c)
        return -1;
    *first_r = a;
    *last_r = b;
    *complete_r = c;
    return 0;
}
