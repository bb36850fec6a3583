/* dnsbl: the score of a client address on DNS block and allow lists.
 *
 * For each distinct domain of the configured sites (policy/dnsbl-sites.h)
 * one A lookup of the client's reversed address under the domain runs, all
 * in parallel. Each answer is judged: one in 127.255.255.0/24 means the
 * list operator refused the query (over quota, public resolver) and one
 * outside 127.0.0.0/8 is bogus: both are ignored. Each site whose filter
 * passes one of the remaining answers adds its weight, once. The caller
 * compares the total with its threshold (dnsbl_result_blocks).
 *
 * A lookup that fails temporarily counts 0 (a DNS failure never blocks a
 * client) and is reported in the result. Answers are cached per (domain,
 * address) for a fixed time (the DNS layer does not expose the TTL; see
 * policy/dnsbl-cache.h). */
#ifndef POSTINO_POLICY_DNSBL_H
#define POSTINO_POLICY_DNSBL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/dnsbl-cache.h"
#include "policy/dnsbl-sites.h"

struct dns;

/* Bytes of a query name: 64 for the reversed IPv6 nibbles, the domain,
 * the terminator. */
#define DNSBL_QUERY_MAX (64 + DNSBL_DOMAIN_MAX + 1)
#define DNSBL_IP_MAX    64 /* bytes of a client address text */

/* ---- Pure helpers ---- */

/* Parse a client address ("192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1")
 * into 16 octets, IPv4 as IPv4-mapped IPv6. Returns 0, or -1 if ip is not
 * a numeric address. */
int dnsbl_addr_parse(const char *ip, uint8_t addr[16]);

/* Write the query name of addr under zone into out: "1.2.0.192.zone" for
 * IPv4 (and IPv4-mapped IPv6), 32 reversed lower-case nibbles for IPv6.
 * Returns 0, or -1 if it does not fit in outsize. */
int dnsbl_query_name_addr(const uint8_t addr[16], const char *zone, char *out, size_t outsize);
/* The same from the address's text. -1 also if ip is not an address. */
int dnsbl_query_name(const char *ip, const char *zone, char *out, size_t outsize);

/* Keep the listing answers among n A records as text (lib/dns.h): each an
 * IPv4 address in 127.0.0.0/8 but not in 127.255.255.0/24; the rest, and
 * anything malformed, is skipped. Writes at most max (host order) to out
 * and returns how many. */
size_t dnsbl_answers_parse(char *const *rr, size_t n, uint32_t *out, size_t max);

struct dnsbl_result {
    int score;        /* sum of the weights of the matching sites */
    bool tempfail;    /* some lookup failed temporarily (counted 0) */
    uint32_t matched; /* bit i: site i matched */
    /* The matching site with the largest positive weight (the first
     * configured on a tie), for the reply text; "" and -1 if none. */
    char listed_by[DNSBL_DOMAIN_MAX + 1];
    int listed_site;
};

/* An empty result: score 0, nothing matched. */
void dnsbl_result_init(struct dnsbl_result *r);
/* Judge the n listing answers (from dnsbl_answers_parse) of the domain
 * sites->domains[domain] and add every matching site of that domain to r. */
void dnsbl_result_add(struct dnsbl_result *r, const struct dnsbl_sites *sites, size_t domain,
                      const uint32_t *answers, size_t n);
/* True if the score reaches threshold (a client is refused at score >=
 * threshold, as Postfix's postscreen_dnsbl_threshold). */
bool dnsbl_result_blocks(const struct dnsbl_result *r, int threshold);

/* ---- The asynchronous checker ---- */

struct dnsbl;
struct dnsbl_check;

/* A checker asking through dns (which must outlive it) the sites (copied),
 * with a cache of DNSBL_CACHE_ENTRIES_MAX entries living cache_secs
 * seconds (0: no cache). Never returns NULL. */
struct dnsbl *dnsbl_new(struct dns *dns, const struct dnsbl_sites *sites, unsigned cache_secs);
/* The same with an injected clock for the cache (tests). */
struct dnsbl *dnsbl_new_clock(struct dns *dns, const struct dnsbl_sites *sites, unsigned cache_secs,
                              dnsbl_clock_fn *clock);
/* Free the checker and set *d to NULL (NULL is fine). Every check must
 * have completed or been cancelled before. */
void dnsbl_free(struct dnsbl **d);

/* r is valid during the call only. */
typedef void dnsbl_check_cb(void *arg, const struct dnsbl_result *r);

/* Score ip (numeric text). The callback runs once, later on the event
 * loop, and the returned check can be cancelled until then; it is freed
 * after the callback. When every answer comes from the cache (or there
 * are no sites, or a lookup cannot even start for all remaining ones),
 * the callback runs before this returns and the result is NULL. An ip
 * that is not an address gives, at once, score 0 with tempfail set. */
struct dnsbl_check *dnsbl_check_start(struct dnsbl *d, const char *ip, dnsbl_check_cb *cb,
                                      void *arg);
/* Cancel a check whose callback has not run (the client left): it never
 * will; its lookups are cancelled and it is freed. */
void dnsbl_check_cancel(struct dnsbl_check *c);

#endif
