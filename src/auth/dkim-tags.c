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

/* The 6-bit value of a base64 character, or -1. */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long dkim_base64_decode(const char *s, size_t n, unsigned char *out, size_t outsize)
{
    unsigned long acc = 0;
    size_t bits = 0, len = 0, pad = 0, chars = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        if (c == '=') {
            pad++;
            chars++;
            continue;
        }
        int v = b64_value(c);
        if (v < 0 || pad > 0)
            return -1;
        chars++;
        acc = (acc << 6) | (unsigned long)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (len >= outsize)
                return -1;
            out[len++] = (unsigned char)((acc >> bits) & 0xff);
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
