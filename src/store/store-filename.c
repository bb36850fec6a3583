/* store-filename: Maildir file names (base, size fields, flag letters). */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "lib/str.h"
#include "store-private.h"

/* The Maildir letter of each system flag, in ASCII order of the letters. */
static const struct {
    char letter;
    uint32_t flag;
} flag_letters[] = {
    {'D', STORE_FLAG_DRAFT}, {'F', STORE_FLAG_FLAGGED}, {'R', STORE_FLAG_ANSWERED},
    {'S', STORE_FLAG_SEEN},  {'T', STORE_FLAG_DELETED},
};
#define N_FLAG_LETTERS (sizeof(flag_letters) / sizeof(flag_letters[0]))

/* Parse the decimal number at s (up to a non-digit); -1 if none. */
static int64_t leading_number(const char *s, const char *end)
{
    int64_t v = 0;
    const char *p = s;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        if (v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (*p - '0');
    }
    return p == s ? -1 : v;
}

/* The value of ",X=digits" in the base, -1 if absent. */
static int64_t size_field(const char *base, size_t len, char x)
{
    for (size_t i = 0; i + 3 <= len; i++)
        if (base[i] == ',' && base[i + 1] == x && base[i + 2] == '=')
            return leading_number(base + i + 3, base + len);
    return -1;
}

void store_name_parse(const char *name, struct store_name *p)
{
    memset(p, 0, sizeof(*p));
    const char *colon = strchr(name, ':');
    p->base_len = colon ? (size_t)(colon - name) : strlen(name);
    const char *end = name + p->base_len;
    p->time = leading_number(name, end);
    const char *m = memchr(name, '.', p->base_len);
    if (m && m + 1 < end && m[1] == 'M') {
        int64_t u = leading_number(m + 2, end);
        p->usec = u < 0 ? 0 : u;
    }
    p->psize = size_field(name, p->base_len, 'S');
    p->vsize = size_field(name, p->base_len, 'W');
    if (colon && colon[1] == '2' && colon[2] == ',') {
        p->has_info = true;
        for (const char *c = colon + 3; *c; c++) {
            if (*c >= 'a' && *c <= 'z') {
                p->keywords |= 1u << (*c - 'a');
                continue;
            }
            for (size_t i = 0; i < N_FLAG_LETTERS; i++)
                if (*c == flag_letters[i].letter)
                    p->flags |= flag_letters[i].flag;
        }
    }
}

int store_name_with_flags(const char *name, uint32_t flags, uint32_t keywords, char *out,
                          size_t size)
{
    struct store_name p;
    store_name_parse(name, &p);
    /* letters to keep from the old info: anything we do not manage (P...) */
    bool keep[128] = {false};
    if (p.has_info) {
        for (const char *c = name + p.base_len + 3; *c; c++) {
            unsigned char u = (unsigned char)*c;
            if (u >= 128 || (u >= 'a' && u <= 'z'))
                continue;
            bool ours = false;
            for (size_t i = 0; i < N_FLAG_LETTERS; i++)
                ours = ours || u == (unsigned char)flag_letters[i].letter;
            if (!ours && u > ' ' && u != ',')
                keep[u] = true;
        }
    }
    for (size_t i = 0; i < N_FLAG_LETTERS; i++)
        if (flags & flag_letters[i].flag)
            keep[(unsigned char)flag_letters[i].letter] = true;
    for (int k = 0; k < STORE_KEYWORDS_MAX; k++)
        if (keywords & (1u << k))
            keep['a' + k] = true;
    if (p.base_len + 3 >= size)
        return -1;
    memcpy(out, name, p.base_len);
    size_t o = p.base_len;
    memcpy(out + o, ":2,", 3);
    o += 3;
    for (int c = 0; c < 128; c++) {
        if (!keep[c])
            continue;
        if (o + 1 >= size)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

int store_name_new(char *out, size_t size, time_t t, uint64_t psize, uint64_t vsize)
{
    static unsigned long counter;
    static char host[64];
    if (!host[0]) {
        char raw[64];
        if (gethostname(raw, sizeof(raw)) < 0)
            str_copy(raw, sizeof(raw), "localhost");
        raw[sizeof(raw) - 1] = '\0';
        size_t o = 0;
        for (const char *c = raw; *c && o + 1 < sizeof(host); c++)
            host[o++] = (*c == '/' || *c == ':' || *c == ',') ? '_' : *c;
        host[o] = '\0';
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    int n = snprintf(out, size, "%lld.M%ldP%ldQ%lu.%s,S=%llu,W=%llu", (long long)t,
                     (long)tv.tv_usec, (long)getpid(), ++counter, host, (unsigned long long)psize,
                     (unsigned long long)vsize);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}
