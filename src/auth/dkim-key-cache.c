#include "dkim-key-cache.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

/* No entry (list ends, empty buckets). */
#define NIL SIZE_MAX

struct entry {
    char *txt; /* the key record, len bytes; NULL if the slot is free */
    size_t len;
    uint64_t hash;
    struct dkim_key key;
    size_t chain;        /* the next entry of the same bucket */
    size_t newer, older; /* the recency list */
};

struct dkim_key_cache {
    struct entry *entries;
    size_t max, count;
    size_t *buckets; /* bucket_mask + 1 heads of chains */
    size_t bucket_mask;
    size_t newest, oldest;
    struct dkim_key scratch; /* the last key that was not kept */
};

/* A 64-bit hash of the record, 8 bytes at a time. Not keyed: a chain is
 * never longer than the cache, so crafted collisions cost at most a scan
 * of it. */
static uint64_t hash_text(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    for (; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    h ^= h >> 32;
    return h;
}

struct dkim_key_cache *dkim_key_cache_new(size_t entries)
{
    if (entries == 0)
        entries = DKIM_KEY_CACHE_ENTRIES;
    if (entries > DKIM_KEY_CACHE_ENTRIES_MAX)
        entries = DKIM_KEY_CACHE_ENTRIES_MAX;
    struct dkim_key_cache *c = xcalloc(1, sizeof(*c));
    c->max = entries;
    c->entries = xcalloc(entries, sizeof(*c->entries));
    size_t nb = 1;
    while (nb < 2 * entries)
        nb *= 2;
    c->buckets = xcalloc(nb, sizeof(*c->buckets));
    for (size_t i = 0; i < nb; i++)
        c->buckets[i] = NIL;
    c->bucket_mask = nb - 1;
    c->newest = c->oldest = NIL;
    return c;
}

void dkim_key_cache_free(struct dkim_key_cache **cp)
{
    struct dkim_key_cache *c = *cp;
    if (!c)
        return;
    for (size_t i = 0; i < c->count; i++) {
        dkim_key_free(&c->entries[i].key);
        free(c->entries[i].txt);
    }
    dkim_key_free(&c->scratch);
    free(c->entries);
    free(c->buckets);
    free(c);
    *cp = NULL;
}

size_t dkim_key_cache_count(const struct dkim_key_cache *c)
{
    return c->count;
}

/* Take entry i out of the recency list. */
static void list_unlink(struct dkim_key_cache *c, size_t i)
{
    struct entry *e = &c->entries[i];
    if (e->newer != NIL)
        c->entries[e->newer].older = e->older;
    else
        c->newest = e->older;
    if (e->older != NIL)
        c->entries[e->older].newer = e->newer;
    else
        c->oldest = e->newer;
}

/* Put entry i at the front of the recency list. */
static void list_push(struct dkim_key_cache *c, size_t i)
{
    struct entry *e = &c->entries[i];
    e->newer = NIL;
    e->older = c->newest;
    if (c->newest != NIL)
        c->entries[c->newest].newer = i;
    c->newest = i;
    if (c->oldest == NIL)
        c->oldest = i;
}

/* Take entry i out of its bucket's chain. */
static void chain_unlink(struct dkim_key_cache *c, size_t i)
{
    size_t *pp = &c->buckets[c->entries[i].hash & c->bucket_mask];
    while (*pp != i)
        pp = &c->entries[*pp].chain;
    *pp = c->entries[i].chain;
}

struct dkim_key *dkim_key_cache_get(struct dkim_key_cache *c, const char *txt, size_t len,
                                    const char **error_r)
{
    uint64_t h = hash_text(txt, len);
    for (size_t i = c->buckets[h & c->bucket_mask]; i != NIL; i = c->entries[i].chain) {
        struct entry *e = &c->entries[i];
        if (e->hash == h && e->len == len && memcmp(e->txt, txt, len) == 0) {
            if (c->newest != i) {
                list_unlink(c, i);
                list_push(c, i);
            }
            return &e->key;
        }
    }
    struct dkim_key key;
    if (dkim_key_parse(txt, len, &key, error_r) < 0)
        return NULL;
    if (!key.pkey || len > DKIM_KEY_CACHE_TXT_MAX) {
        dkim_key_free(&c->scratch);
        c->scratch = key;
        return &c->scratch;
    }
    size_t i;
    if (c->count < c->max) {
        i = c->count++;
    } else {
        i = c->oldest;
        list_unlink(c, i);
        chain_unlink(c, i);
        dkim_key_free(&c->entries[i].key);
        free(c->entries[i].txt);
    }
    struct entry *e = &c->entries[i];
    e->txt = xmalloc(len ? len : 1);
    memcpy(e->txt, txt, len);
    e->len = len;
    e->hash = h;
    e->key = key;
    e->chain = c->buckets[h & c->bucket_mask];
    c->buckets[h & c->bucket_mask] = i;
    list_push(c, i);
    return &e->key;
}
