/* dnsbl-sites: the configured DNS block and allow lists, in the syntax of
 * Postfix's postscreen_dnsbl_sites:
 *
 *   entry [, entry ...]          separated by commas and/or white space
 *   entry = domain[=filter][*weight]
 *
 * domain is the list's zone (zen.spamhaus.org). filter is d.d.d.d where
 * each d is a number 0..255, a range [a..b] or a list [a;b;c] whose items
 * may themselves be ranges ([1;4..6]); without a filter any listed answer
 * matches. weight is a decimal integer, 1 when absent; a negative weight
 * makes the entry an allow list (list.dnswl.org=127.0.[0..255].[1..3]*-2).
 * The same domain may appear in several entries with different filters:
 * it is looked up once, and each entry counts its weight once when one of
 * the answers matches its filter.
 *
 * Pure: no I/O, no allocation but the error message. */
#ifndef POSTINO_POLICY_DNSBL_SITES_H
#define POSTINO_POLICY_DNSBL_SITES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNSBL_SETTING_MAX 8192 /* bytes in the whole setting */
#define DNSBL_ENTRY_MAX   512  /* bytes in one entry */
#define DNSBL_SITES_MAX   32   /* entries (and so distinct domains) */
/* Bytes in a domain: with the 64 octets of an IPv6 query prefix the query
 * name stays within the 253 of a DNS name. */
#define DNSBL_DOMAIN_MAX 180
#define DNSBL_LABEL_MAX  63   /* bytes in one label of the domain */
#define DNSBL_WEIGHT_MAX 1000 /* |weight| */

/* One entry. The filter is one 256-bit set per octet of the answer. */
struct dnsbl_site {
    char domain[DNSBL_DOMAIN_MAX + 1]; /* lower case, no trailing dot */
    size_t domain_index;               /* into dnsbl_sites.domains */
    bool has_filter;                   /* false: any listed answer matches */
    uint64_t filter[4][4];             /* octet k value v: bit v%64 of [k][v/64] */
    int weight;
};

struct dnsbl_sites {
    struct dnsbl_site site[DNSBL_SITES_MAX];
    size_t n;
    /* The distinct domains, in order of first appearance: one lookup each. */
    const char *domains[DNSBL_SITES_MAX]; /* point into site[].domain */
    size_t n_domains;
};

/* Parse len bytes of text (need not be terminated) into *out (overwritten;
 * it holds no pointers to text, but domains[] point into out itself, so
 * copy it with dnsbl_sites_copy). An empty setting gives no sites.
 * Returns 0, or -1 with a message quoting the entry (its first 100 bytes,
 * made printable) and the reason in *error_r (caller frees) on a syntax
 * error or a crossed limit; *out then holds no sites. */
int dnsbl_sites_parse(const char *text, size_t len, struct dnsbl_sites *out, char **error_r);

/* Copy src into dst, fixing dst->domains to point into dst. */
void dnsbl_sites_copy(struct dnsbl_sites *dst, const struct dnsbl_sites *src);

/* True if the IPv4 answer address a (host order, 127.0.0.2 = 0x7f000002)
 * passes the site's filter (always true without one). Does not judge
 * whether the answer is a listing at all: see dnsbl_answers_parse. */
bool dnsbl_site_filter_match(const struct dnsbl_site *site, uint32_t a);

#endif
