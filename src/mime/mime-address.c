#include "mime-address.h"

#include <stdbool.h>
#include <string.h>

/* Skip a comment starting at s[i] == '('; returns the index after it or
 * -1 if unterminated. Comments nest (RFC 5322 3.2.2). */
static long skip_comment(const char *s, size_t len, size_t i)
{
    int depth = 0;
    for (; i < len; i++) {
        if (s[i] == '\\') {
            i++;
        } else if (s[i] == '(') {
            depth++;
        } else if (s[i] == ')') {
            if (--depth == 0)
                return (long)i + 1;
        }
    }
    return -1;
}

/* Skip a quoted string starting at s[i] == '"'. */
static long skip_quoted(const char *s, size_t len, size_t i)
{
    for (i++; i < len; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return (long)i + 1;
    }
    return -1;
}

/* Trim spaces and comments from a bare addr-spec and hand it out. */
static int emit_bare(const char *s, size_t start, size_t end,
                     void (*fn)(const char *, size_t, void *), void *arg)
{
    char out[1024];
    size_t o = 0;
    for (size_t i = start; i < end; i++) {
        char c = s[i];
        if (c == '(') {
            long e = skip_comment(s, end, i);
            if (e < 0)
                return -1;
            i = (size_t)e - 1;
            continue;
        }
        if (c == '"') {
            long e = skip_quoted(s, end, i);
            if (e < 0 || (size_t)e - i + o >= sizeof(out))
                return -1;
            memcpy(out + o, s + i, (size_t)e - i);
            o += (size_t)e - i;
            i = (size_t)e - 1;
            continue;
        }
        if (c == ' ' || c == '\t')
            continue;
        if (o + 1 >= sizeof(out))
            return -1;
        out[o++] = c;
    }
    if (o == 0)
        return 0;
    if (!memchr(out, '@', o))
        return -1;
    fn(out, o, arg);
    return 1;
}

int mime_address_list(const char *s, size_t len,
                      void (*fn)(const char *addr, size_t len, void *arg), void *arg)
{
    int found = 0;
    size_t start = 0;      /* of the current address */
    bool in_group = false; /* after "name:" */
    long angle = -1;       /* position of '<' in the current address */
    for (size_t i = 0; i <= len; i++) {
        char c = i < len ? s[i] : ',';
        if (i < len && c == '"') {
            long e = skip_quoted(s, len, i);
            if (e < 0)
                return -1;
            i = (size_t)e - 1;
            continue;
        }
        if (i < len && c == '(') {
            long e = skip_comment(s, len, i);
            if (e < 0)
                return -1;
            i = (size_t)e - 1;
            continue;
        }
        if (c == '<') {
            angle = (long)i;
            continue;
        }
        if (c == '>' && angle >= 0) {
            size_t a = (size_t)angle + 1;
            /* An obsolete route "@a,@b:" before the addr-spec is dropped. */
            const char *colon = memchr(s + a, ':', i - a);
            if (s[a] == '@' && colon)
                a = (size_t)(colon - s) + 1;
            if (i > a) {
                if (!memchr(s + a, '@', i - a))
                    return -1;
                fn(s + a, i - a, arg);
                found++;
            }
            angle = -2; /* done with this one: skip to ',' */
            continue;
        }
        if (c == ':' && angle == -1 && !in_group) {
            in_group = true; /* a group's display name ends here */
            start = i + 1;
            continue;
        }
        if (c == ',' || c == ';') {
            if (angle == -1) {
                int r = emit_bare(s, start, i, fn, arg);
                if (r < 0)
                    return -1;
                found += r;
            } else if (angle >= 0) {
                return -1; /* '<' without '>' */
            }
            if (c == ';')
                in_group = false;
            angle = -1;
            start = i + 1;
        }
    }
    return found;
}
