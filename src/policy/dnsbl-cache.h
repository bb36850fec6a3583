/* dnsbl-cache: the answers of DNS block lists, kept for their TTL.
 *
 * The key is (list, client address): the list is an index into the
 * owner's table of domains (dnsbl_sites.domains), the address 16 octets
 * (IPv4 as IPv4-mapped IPv6). The value is the list's listing answers
 * (nothing: not listed). An entry lives for the answer's TTL, at most the
 * cache's own lifetime (which is also used when the TTL is unknown); the
 * cache holds a bounded number of entries and, when full, drops the oldest
 * stored. Temporary failures are never stored. */
#ifndef POSTINO_POLICY_DNSBL_CACHE_H
#define POSTINO_POLICY_DNSBL_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define DNSBL_CACHE_ENTRIES_MAX 10000 /* entries at most */
#define DNSBL_CACHE_SECS        300   /* default lifetime of an entry */
#define DNSBL_CACHE_SECS_MAX    86400 /* largest lifetime accepted */
#define DNSBL_ANSWERS_MAX       16    /* listing answers kept per lookup */

typedef time_t dnsbl_clock_fn(void);

struct dnsbl_cache;

/* A cache of at most entries (clamped to 1..DNSBL_CACHE_ENTRIES_MAX)
 * living secs seconds (clamped to DNSBL_CACHE_SECS_MAX; 0 caches nothing).
 * clock gives the current time (NULL: time(NULL)); tests inject their own.
 * Never returns NULL (allocation failure aborts). */
struct dnsbl_cache *dnsbl_cache_new(size_t entries, unsigned secs, dnsbl_clock_fn *clock);
/* Free the cache and set *c to NULL (NULL is fine). */
void dnsbl_cache_free(struct dnsbl_cache **c);

/* Look up (list, addr). Returns the number of answers copied into out
 * (at most max, each host order), or -1 when absent or expired. */
int dnsbl_cache_get(struct dnsbl_cache *c, size_t list, const uint8_t addr[16], uint32_t *out,
                    size_t max);
/* Store n answers (n is cut to DNSBL_ANSWERS_MAX) for (list, addr) for
 * ttl seconds (negative: unknown; capped at the cache's lifetime; 0 stores
 * nothing), replacing an older entry of the same key; drops the oldest
 * entry when full. */
void dnsbl_cache_put(struct dnsbl_cache *c, size_t list, const uint8_t addr[16],
                     const uint32_t *answers, size_t n, int ttl);
/* Entries held, expired ones included (for tests and metrics). */
size_t dnsbl_cache_count(const struct dnsbl_cache *c);

#endif
