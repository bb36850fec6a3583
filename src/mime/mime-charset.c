#include "mime-charset.h"

#include <errno.h>
#include <stdint.h>
#include <iconv.h>
#include <string.h>

#include "lib/str.h"

#define REPLACEMENT "\xef\xbf\xbd"

static bool is_utf8_name(const char *cs)
{
    return str_eq_ci(cs, "utf-8") || str_eq_ci(cs, "utf8");
}

static bool is_ascii_name(const char *cs)
{
    return str_eq_ci(cs, "us-ascii") || str_eq_ci(cs, "ascii");
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0x80                    ? 1
                 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2
                 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
                 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4
                                                : 0;
    if (len == 0 || len > n)
        return 0;
    return str_utf8_valid((const char *)s, len) ? len : 0;
}

/* Copy valid UTF-8, each invalid byte replaced. */
static int copy_utf8(const char *in, size_t len, struct buf *out)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len) {
            size_t l = utf8_seq(s + i, len - i);
            if (l == 0)
                break;
            i += l;
        }
        if (buf_append(out, in + start, i - start) < 0)
            return -1;
        if (i < len) {
            if (buf_append_str(out, REPLACEMENT) < 0)
                return -1;
            i++;
        }
    }
    return 0;
}

static iconv_t open_conv(const char *charset)
{
    char name[MIME_CHARSET_NAME_MAX];
    if (str_copy(name, sizeof(name), charset) < 0)
        return (iconv_t)-1;
    return iconv_open("UTF-8", name);
}

bool mime_charset_known(const char *charset)
{
    if (is_utf8_name(charset) || is_ascii_name(charset))
        return true;
    iconv_t cd = open_conv(charset);
    if (cd == (iconv_t)-1)
        return false;
    iconv_close(cd);
    return true;
}

int mime_charset_to_utf8(const char *charset, const char *in, size_t len, struct buf *out,
                         const char **error_r)
{
    if (is_utf8_name(charset) || is_ascii_name(charset)) {
        if (copy_utf8(in, len, out) < 0) {
            *error_r = "output too long";
            return -1;
        }
        return 0;
    }
    iconv_t cd = open_conv(charset);
    if (cd == (iconv_t)-1) {
        *error_r = "unknown charset";
        return -1;
    }
    char *src = (char *)(uintptr_t)in;
    size_t left = len;
    char chunk[4096];
    int ret = 0;
    while (left > 0 && ret == 0) {
        char *dst = chunk;
        size_t room = sizeof(chunk);
        size_t r = iconv(cd, &src, &left, &dst, &room);
        int err = r == (size_t)-1 ? errno : 0;
        if (buf_append(out, chunk, sizeof(chunk) - room) < 0) {
            ret = -1;
            break;
        }
        if (err == EILSEQ) {
            if (buf_append_str(out, REPLACEMENT) < 0)
                ret = -1;
            src++;
            left--;
        } else if (err == EINVAL) {
            if (buf_append_str(out, REPLACEMENT) < 0)
                ret = -1;
            left = 0;
        } else if (err != 0 && err != E2BIG) {
            ret = -1;
        }
    }
    if (ret == 0) {
        /* flush any shift state */
        char *dst = chunk;
        size_t room = sizeof(chunk);
        iconv(cd, NULL, NULL, &dst, &room);
        if (buf_append(out, chunk, sizeof(chunk) - room) < 0)
            ret = -1;
    }
    iconv_close(cd);
    if (ret < 0)
        *error_r = "output too long";
    return ret;
}
