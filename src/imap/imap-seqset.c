#include "imap-seqset.h"

#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

void imap_seqset_init(struct imap_seqset *set)
{
    memset(set, 0, sizeof(*set));
}

void imap_seqset_free(struct imap_seqset *set)
{
    free(set->ranges);
    imap_seqset_init(set);
}

void imap_seqset_clear(struct imap_seqset *set)
{
    set->count = 0;
}

/* Store a range as given, star in hi and otherwise lo <= hi. */
static int push_range(struct imap_seqset *set, uint32_t lo, uint32_t hi)
{
    if (set->count >= IMAP_SEQSET_RANGES_MAX)
        return -1;
    if (lo == IMAP_SEQ_STAR) {
        lo = hi;
        hi = IMAP_SEQ_STAR;
    }
    if (hi != IMAP_SEQ_STAR && lo > hi) {
        uint32_t t = lo;
        lo = hi;
        hi = t;
    }
    if (set->count == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 8;
        if (set->cap > IMAP_SEQSET_RANGES_MAX)
            set->cap = IMAP_SEQSET_RANGES_MAX;
        set->ranges = xrealloc(set->ranges, set->cap * sizeof(*set->ranges));
    }
    set->ranges[set->count].lo = lo;
    set->ranges[set->count].hi = hi;
    set->count++;
    return 0;
}

int imap_seqset_add(struct imap_seqset *set, uint32_t lo, uint32_t hi)
{
    return push_range(set, lo, hi);
}

int imap_seqset_append(struct imap_seqset *set, uint32_t n)
{
    if (n == 0)
        return -1;
    if (set->count > 0) {
        struct imap_seq_range *r = &set->ranges[set->count - 1];
        if (r->hi != IMAP_SEQ_STAR && r->hi != UINT32_MAX && r->hi + 1 == n) {
            r->hi = n;
            return 0;
        }
    }
    return push_range(set, n, n);
}

/* Read a seq-number (nz-number or '*') at s[*i]. */
static int parse_number(const char *s, size_t len, size_t *i, uint32_t *out)
{
    if (*i >= len)
        return -1;
    if (s[*i] == '*') {
        (*i)++;
        *out = IMAP_SEQ_STAR;
        return 0;
    }
    if (s[*i] < '1' || s[*i] > '9')
        return -1;
    uint64_t v = 0;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
        v = v * 10 + (uint64_t)(s[*i] - '0');
        if (v > UINT32_MAX)
            return -1;
        (*i)++;
    }
    *out = (uint32_t)v;
    return 0;
}

/* Parse into set (when not NULL); 0 or an error text. */
static const char *parse(const char *s, size_t len, struct imap_seqset *set)
{
    size_t i = 0;
    if (len == 0)
        return "Empty sequence set";
    for (;;) {
        uint32_t lo, hi;
        if (parse_number(s, len, &i, &lo) != 0)
            return "Invalid sequence set";
        hi = lo;
        if (i < len && s[i] == ':') {
            i++;
            if (parse_number(s, len, &i, &hi) != 0)
                return "Invalid sequence set";
        }
        if (set && push_range(set, lo, hi) != 0)
            return "Too many ranges in sequence set";
        if (i == len)
            return NULL;
        if (s[i] != ',')
            return "Invalid sequence set";
        i++;
    }
}

int imap_seqset_parse(const char *s, size_t len, struct imap_seqset *set, const char **error_r)
{
    imap_seqset_clear(set);
    const char *e = parse(s, len, set);
    if (e) {
        imap_seqset_clear(set);
        *error_r = e;
        return -1;
    }
    return 0;
}

bool imap_seqset_valid(const char *s, size_t len)
{
    return parse(s, len, NULL) == NULL;
}

/* qsort order of ranges: by lo, then hi. */
static int cmp_range(const void *a, const void *b)
{
    const struct imap_seq_range *x = a, *y = b;
    if (x->lo != y->lo)
        return x->lo < y->lo ? -1 : 1;
    if (x->hi != y->hi)
        return x->hi < y->hi ? -1 : 1;
    return 0;
}

/* Sort and merge ranges that overlap or touch; star-free ranges only. */
static void sort_merge(struct imap_seqset *set)
{
    if (set->count < 2)
        return;
    qsort(set->ranges, set->count, sizeof(*set->ranges), cmp_range);
    size_t out = 0;
    for (size_t i = 1; i < set->count; i++) {
        struct imap_seq_range *cur = &set->ranges[out];
        const struct imap_seq_range *r = &set->ranges[i];
        if ((uint64_t)r->lo <= (uint64_t)cur->hi + 1) {
            if (r->hi > cur->hi)
                cur->hi = r->hi;
        } else {
            set->ranges[++out] = *r;
        }
    }
    set->count = out + 1;
}

void imap_seqset_resolve(struct imap_seqset *set, uint32_t max)
{
    size_t out = 0;
    for (size_t i = 0; i < set->count; i++) {
        struct imap_seq_range r = set->ranges[i];
        if (r.hi == IMAP_SEQ_STAR) {
            if (r.lo == IMAP_SEQ_STAR) {
                if (max == 0)
                    continue;
                r.lo = r.hi = max;
            } else if (max == 0) {
                r.hi = r.lo;
            } else if (r.lo > max) {
                r.hi = r.lo;
                r.lo = max;
            } else {
                r.hi = max;
            }
        }
        set->ranges[out++] = r;
    }
    set->count = out;
    sort_merge(set);
}

void imap_seqset_normalize(struct imap_seqset *set)
{
    /* Stars sort apart: keep them at the end untouched. */
    size_t plain = 0;
    for (size_t i = 0; i < set->count; i++) {
        if (set->ranges[i].hi != IMAP_SEQ_STAR) {
            struct imap_seq_range t = set->ranges[plain];
            set->ranges[plain++] = set->ranges[i];
            set->ranges[i] = t;
        }
    }
    size_t stars = set->count - plain;
    struct imap_seq_range *tail = NULL;
    if (stars) {
        tail = xmalloc(stars * sizeof(*tail));
        memcpy(tail, set->ranges + plain, stars * sizeof(*tail));
    }
    set->count = plain;
    sort_merge(set);
    if (stars) {
        memcpy(set->ranges + set->count, tail, stars * sizeof(*tail));
        set->count += stars;
        free(tail);
    }
}

void imap_seqset_clamp(struct imap_seqset *set, uint32_t max)
{
    size_t out = 0;
    for (size_t i = 0; i < set->count; i++) {
        struct imap_seq_range r = set->ranges[i];
        if (r.lo > max || r.lo == IMAP_SEQ_STAR)
            continue;
        if (r.hi > max || r.hi == IMAP_SEQ_STAR)
            r.hi = max;
        set->ranges[out++] = r;
    }
    set->count = out;
}

bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n)
{
    size_t lo = 0, hi = set->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct imap_seq_range *r = &set->ranges[mid];
        if (n < r->lo)
            hi = mid;
        else if (n > r->hi)
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

bool imap_seqset_contains_max(const struct imap_seqset *set, uint32_t n, uint32_t max)
{
    for (size_t i = 0; i < set->count; i++) {
        uint32_t lo = set->ranges[i].lo, hi = set->ranges[i].hi;
        if (lo == IMAP_SEQ_STAR) {
            /* "*" alone: the largest number, if there is one. */
            if (max != 0 && n == max)
                return true;
            continue;
        }
        if (hi == IMAP_SEQ_STAR) {
            if (max == 0) {
                hi = lo;
            } else {
                hi = max;
                if (lo > max) {
                    hi = lo;
                    lo = max;
                }
            }
        }
        if (n >= lo && n <= hi)
            return true;
    }
    return false;
}

uint64_t imap_seqset_size(const struct imap_seqset *set)
{
    uint64_t total = 0;
    for (size_t i = 0; i < set->count; i++)
        total += (uint64_t)set->ranges[i].hi - set->ranges[i].lo + 1;
    return total;
}

uint32_t imap_seqset_last(const struct imap_seqset *set)
{
    return set->count ? set->ranges[set->count - 1].hi : 0;
}

bool imap_seqset_next(const struct imap_seqset *set, struct imap_seqset_iter *it, uint32_t *n_r)
{
    while (it->range < set->count) {
        const struct imap_seq_range *r = &set->ranges[it->range];
        if (it->next == 0)
            it->next = r->lo;
        if (it->next <= r->hi) {
            *n_r = (uint32_t)it->next++;
            return true;
        }
        it->range++;
        it->next = 0;
    }
    return false;
}

/* Append one number, or '*'. */
static int write_number(struct buf *out, uint32_t n)
{
    if (n == IMAP_SEQ_STAR)
        return buf_append_char(out, '*');
    return buf_printf(out, "%u", n);
}

int imap_seqset_write(const struct imap_seqset *set, struct buf *out)
{
    for (size_t i = 0; i < set->count; i++) {
        const struct imap_seq_range *r = &set->ranges[i];
        if (i > 0 && buf_append_char(out, ',') != 0)
            return -1;
        if (write_number(out, r->lo) != 0)
            return -1;
        if (r->hi != r->lo && (buf_append_char(out, ':') != 0 || write_number(out, r->hi) != 0))
            return -1;
    }
    return 0;
}
