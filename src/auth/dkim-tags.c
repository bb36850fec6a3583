#include "dkim-tags.h"

#include <string.h>

#include "lib/str.h"

/* Whitespace inside a tag list: SP, HTAB, or CRLF followed by SP/HTAB
 * (folding). Returns how many bytes at s[i] are whitespace; 0 if none. A
 * CRLF not followed by WSP, a bare CR or a bare LF is not whitespace. */
static size_t fws_len(const char *s, size_t n, size_t i)
{
    size_t j = i;
    for (;;) {
        if (j < n && (s[j] == ' ' || s[j] == '\t')) {
            j++;
            continue;
        }
        if (j + 2 < n && s[j] == '\r' && s[j + 1] == '\n' &&
            (s[j + 2] == ' ' || s[j + 2] == '\t')) {
            j += 3;
            continue;
        }
        return j - i;
    }
}

/* tval characters: %x21-3A / %x3C-7E (printable ASCII except ";"). */
static bool is_tval_char(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != ';';
}

/* ALPHA and DIGIT of RFC 5234, for tag names. */
static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

int dkim_tags_parse(const char *s, size_t n, struct dkim_tag_list *out, const char **error_r)
{
    size_t i = 0;
    out->count = 0;
    for (;;) {
        i += fws_len(s, n, i);
        if (i >= n) {
            if (out->count == 0) {
                *error_r = "empty tag list";
                return -1;
            }
            return 0; /* after a trailing ";" */
        }
        /* tag-name */
        size_t name = i;
        if (!is_alpha((unsigned char)s[i])) {
            *error_r = "bad tag name";
            return -1;
        }
        while (i < n &&
               (is_alpha((unsigned char)s[i]) || is_digit((unsigned char)s[i]) || s[i] == '_'))
            i++;
        size_t name_len = i - name;
        i += fws_len(s, n, i);
        if (i >= n || s[i] != '=') {
            *error_r = "tag without '='";
            return -1;
        }
        i++;
        size_t after_eq = i;
        i += fws_len(s, n, i);
        /* tag-value: tval *( 1*(WSP / FWS) tval ), possibly empty */
        size_t value = i, value_end = i;
        while (i < n && is_tval_char((unsigned char)s[i])) {
            while (i < n && is_tval_char((unsigned char)s[i]))
                i++;
            value_end = i;
            i += fws_len(s, n, i);
        }
        if (i < n && s[i] != ';') {
            *error_r = "bad character in tag value";
            return -1;
        }
        if (out->count == DKIM_TAGS_MAX) {
            *error_r = "too many tags";
            return -1;
        }
        for (size_t k = 0; k < out->count; k++) {
            if (out->tags[k].name_len == name_len &&
                memcmp(out->tags[k].name, s + name, name_len) == 0) {
                *error_r = "duplicate tag";
                return -1;
            }
        }
        struct dkim_tag *t = &out->tags[out->count++];
        t->name = s + name;
        t->name_len = name_len;
        t->value = s + value;
        t->value_len = value_end - value;
        t->after_eq_off = after_eq;
        t->spec_end_off = i;
        if (i >= n)
            return 0;
        i++; /* ";" */
    }
}

const struct dkim_tag *dkim_tags_find(const struct dkim_tag_list *l, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < l->count; i++) {
        if (l->tags[i].name_len == len && memcmp(l->tags[i].name, name, len) == 0)
            return &l->tags[i];
    }
    return NULL;
}

bool dkim_tag_is(const struct dkim_tag *t, const char *s)
{
    return t->value_len == strlen(s) && memcmp(t->value, s, t->value_len) == 0;
}

bool dkim_tag_is_ci(const struct dkim_tag *t, const char *s)
{
    return t->value_len == strlen(s) && str_eqn_ci(t->value, s, t->value_len);
}

/* What a byte is in a base64 tag value: its 6-bit value, or one of these. */
enum {
    B64_BAD = 64,  /* not base64 */
    B64_SKIP = 65, /* whitespace, skipped */
    B64_PAD = 66,  /* "=" */
};

/* What each byte is (X: B64_BAD, S: B64_SKIP, P: B64_PAD): a table lookup
 * per byte rather than a chain of range checks, as b= is several hundred
 * bytes long. */
#define X B64_BAD
#define S B64_SKIP
#define P B64_PAD
/* clang-format off */
static const unsigned char b64_table[256] = {
     X,  X,  X,  X,  X,  X,  X,  X,  X,  S,  S,  X,  X,  S,  X,  X,
     X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
     S,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X, 62,  X,  X,  X, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61,  X,  X,  X,  P,  X,  X,
     X,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,  X,  X,  X,  X,  X,
     X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51,  X,  X,  X,  X,  X,
     X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
     X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
     X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
     X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
     X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
     X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
     X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
     X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
};
/* clang-format on */
#undef X
#undef S
#undef P

long dkim_base64_decode(const char *s, size_t n, unsigned char *out, size_t outsize)
{
    unsigned long acc = 0;
    size_t bits = 0, len = 0, pad = 0, chars = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char v = b64_table[(unsigned char)s[i]];
        if (v < 64 && pad == 0) {
            chars++;
            acc = (acc << 6) | v;
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                if (len >= outsize)
                    return -1;
                out[len++] = (unsigned char)((acc >> bits) & 0xff);
            }
        } else if (v == B64_SKIP) {
            continue;
        } else if (v == B64_PAD) {
            pad++;
            chars++;
        } else {
            return -1; /* not base64, or data after padding */
        }
    }
    if (chars % 4 != 0 || pad > 2)
        return -1;
    /* The bits left over must be zero padding of the right amount. */
    if ((pad == 1 && bits != 2) || (pad == 2 && bits != 4) || (pad == 0 && bits != 0))
        return -1;
    if ((acc & ((1UL << bits) - 1)) != 0)
        return -1;
    return (long)len;
}
