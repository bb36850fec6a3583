/* dnsbl-cache: a ring of entries in insertion order (so the oldest is the
 * next to go) with a chained hash index over it. */
#include "policy/dnsbl-cache.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

#define NONE ((size_t)-1)

struct entry {
    bool used;
    size_t list;
    uint8_t addr[16];
    time_t expires;
    uint32_t answers[DNSBL_ANSWERS_MAX];
    size_t n;
    size_t next; /* next entry in the same hash bucket, or NONE */
};

struct dnsbl_cache {
    struct entry *ring;
    size_t size;  /* slots in the ring */
    size_t head;  /* the slot written next (the oldest when full) */
    size_t count; /* used slots */
    size_t *bucket;
    size_t nbuckets; /* a power of two */
    unsigned secs;
    dnsbl_clock_fn *clock;
};

static time_t clock_now(void)
{
    return time(NULL);
}

/* FNV-1a over the key. */
static size_t key_hash(const struct dnsbl_cache *c, size_t list, const uint8_t addr[16])
{
    uint64_t h = 0xcbf29ce484222325ULL;
    h = (h ^ (uint8_t)list) * 0x100000001b3ULL;
    for (int i = 0; i < 16; i++)
        h = (h ^ addr[i]) * 0x100000001b3ULL;
    return (size_t)h & (c->nbuckets - 1);
}

struct dnsbl_cache *dnsbl_cache_new(size_t entries, unsigned secs, dnsbl_clock_fn *clock)
{
    struct dnsbl_cache *c = xcalloc(1, sizeof(*c));
    if (entries < 1)
        entries = 1;
    if (entries > DNSBL_CACHE_ENTRIES_MAX)
        entries = DNSBL_CACHE_ENTRIES_MAX;
    c->size = entries;
    c->ring = xcalloc(entries, sizeof(*c->ring));
    c->nbuckets = 1;
    while (c->nbuckets < 2 * entries)
        c->nbuckets *= 2;
    c->bucket = xmalloc(c->nbuckets * sizeof(*c->bucket));
    for (size_t i = 0; i < c->nbuckets; i++)
        c->bucket[i] = NONE;
    c->secs = secs > DNSBL_CACHE_SECS_MAX ? DNSBL_CACHE_SECS_MAX : secs;
    c->clock = clock ? clock : clock_now;
    return c;
}

void dnsbl_cache_free(struct dnsbl_cache **c)
{
    if (*c == NULL)
        return;
    free((*c)->ring);
    free((*c)->bucket);
    x_free(c);
}

/* The slot holding the key, or NONE. */
static size_t find(const struct dnsbl_cache *c, size_t list, const uint8_t addr[16])
{
    for (size_t i = c->bucket[key_hash(c, list, addr)]; i != NONE; i = c->ring[i].next)
        if (c->ring[i].list == list && memcmp(c->ring[i].addr, addr, 16) == 0)
            return i;
    return NONE;
}

/* Take slot i out of its bucket's chain and mark it free. */
static void unlink_slot(struct dnsbl_cache *c, size_t i)
{
    size_t *p = &c->bucket[key_hash(c, c->ring[i].list, c->ring[i].addr)];
    while (*p != i)
        p = &c->ring[*p].next;
    *p = c->ring[i].next;
    c->ring[i].used = false;
    c->count--;
}

int dnsbl_cache_get(struct dnsbl_cache *c, size_t list, const uint8_t addr[16], uint32_t *out,
                    size_t max)
{
    size_t i = find(c, list, addr);
    if (i == NONE)
        return -1;
    const struct entry *e = &c->ring[i];
    if (c->clock() >= e->expires)
        return -1;
    size_t n = e->n < max ? e->n : max;
    if (n > 0)
        memcpy(out, e->answers, n * sizeof(*out));
    return (int)n;
}

void dnsbl_cache_put(struct dnsbl_cache *c, size_t list, const uint8_t addr[16],
                     const uint32_t *answers, size_t n, int ttl)
{
    unsigned life = ttl < 0 || (unsigned)ttl > c->secs ? c->secs : (unsigned)ttl;
    if (life == 0)
        return;
    size_t old = find(c, list, addr);
    if (old != NONE)
        unlink_slot(c, old);
    size_t i = c->head;
    if (c->ring[i].used)
        unlink_slot(c, i);
    c->head = (c->head + 1) % c->size;
    struct entry *e = &c->ring[i];
    e->used = true;
    e->list = list;
    memcpy(e->addr, addr, 16);
    e->expires = c->clock() + (time_t)life;
    e->n = n > DNSBL_ANSWERS_MAX ? DNSBL_ANSWERS_MAX : n;
    if (e->n > 0)
        memcpy(e->answers, answers, e->n * sizeof(*answers));
    size_t b = key_hash(c, list, addr);
    e->next = c->bucket[b];
    c->bucket[b] = i;
    c->count++;
}

size_t dnsbl_cache_count(const struct dnsbl_cache *c)
{
    return c->count;
}
