/* probe-dns: DNS lookups made synchronous for `postino probe` and
 * `postino selfcheck`, command-line tools that ask one thing after
 * another: each call runs the event loop until lib/dns answers. */
#ifndef POSTINO_PROBE_DNS_H
#define POSTINO_PROBE_DNS_H

#include <stddef.h>

#include "lib/dns.h"

struct event_base;

/* The answer of one lookup: rr[0..n) as lib/dns gives records as text
 * (copied; free with probe_lookup_free). */
struct probe_lookup {
    enum dns_status st;
    char **rr;
    size_t n;
};

/* Ask name's records of type; waits (the loop of base runs). */
void probe_lookup(struct event_base *base, struct dns *dns, const char *name, int type,
                  struct probe_lookup *out);
void probe_lookup_free(struct probe_lookup *l);

/* The addresses of host (AAAA, then A), at most max, as text into
 * out[i][64]. Returns how many. */
size_t probe_addresses(struct event_base *base, struct dns *dns, const char *host, char (*out)[64],
                       size_t max);

/* The reverse name of an address ("1.2.0.192.in-addr.arpa", nibbles
 * under ip6.arpa). 0, or -1 if ip is not an address or it does not fit. */
int probe_reverse_name(const char *ip, char *out, size_t size);

#endif
