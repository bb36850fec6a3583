/* dns: asynchronous DNS lookups (libunbound) on an event loop.
 *
 * One resolver per process. By default it uses the system's resolvers
 * (/etc/resolv.conf, /etc/hosts); with the dns_resolver setting every
 * query goes to that server instead (tests point it at a loopback DNS
 * server). Results keep a temporary failure (SERVFAIL, timeout: try later)
 * apart from a definite answer (the name or the records do not exist), so
 * that callers can tell 4xx from 5xx. */
#ifndef POSTINO_DNS_H
#define POSTINO_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct event_base;
struct dns;

enum dns_status {
    DNS_OK,       /* records found */
    DNS_NODATA,   /* the name exists, but has no records of this type */
    DNS_NXDOMAIN, /* the name does not exist */
    DNS_NULL_MX,  /* MX only: RFC 7505 "MX 0 ." — the domain takes no mail */
    DNS_TEMPFAIL, /* no answer now: SERVFAIL, timeout, network trouble */
};

const char *dns_status_name(enum dns_status s);

/* Create the resolver. resolver is "" (system) or "IP[:PORT]". NULL with
 * a message in *error_r (caller frees). */
struct dns *dns_new(struct event_base *base, const char *resolver, char **error_r);
/* Cancel what is pending (callbacks are not called) and free. */
void dns_free(struct dns **d);

struct dns_mx {
    unsigned pref;
    char host[256];
};

typedef void dns_mx_cb(void *arg, enum dns_status st, const struct dns_mx *mx, size_t n);
/* MX records of domain, sorted by preference, equal preferences in random
 * order. The callback runs later, on the event loop. */
void dns_lookup_mx(struct dns *d, const char *domain, dns_mx_cb *cb, void *arg);

struct dns_addr {
    struct sockaddr_storage ss;
    socklen_t len;
};

typedef void dns_addr_cb(void *arg, enum dns_status st, const struct dns_addr *a, size_t n);
/* IPv6 and IPv4 addresses of host (AAAA first, then A; port 0). The
 * status is DNS_OK if either found some. */
void dns_lookup_addr(struct dns *d, const char *host, dns_addr_cb *cb, void *arg);

#define DNS_TYPE_A     1
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_PTR   12
#define DNS_TYPE_MX    15
#define DNS_TYPE_TXT   16
#define DNS_TYPE_AAAA  28

struct dns_query;

typedef void dns_records_cb(void *arg, enum dns_status st, char *const *rr, size_t n);
/* Records of one type as text: A and AAAA addresses, "PREF HOST" for MX,
 * the target name of PTR and CNAME (lower case, "." for the root), TXT
 * strings joined (a NUL octet reads as 0x01). Malformed records are left
 * out, and at most 100 are given. rr is valid during the callback, which
 * runs later on the event loop; the returned query can be cancelled until
 * then. If the lookup cannot even start, the callback runs at once (with
 * DNS_TEMPFAIL) and the result is NULL. */
struct dns_query *dns_lookup_records(struct dns *d, const char *name, int type, dns_records_cb *cb,
                                     void *arg);

/* The same, the callback also told the records' time to live in seconds
 * (that of a negative answer when the server gave one, else
 * DNS_TTL_UNKNOWN), for callers that keep answers themselves. */
#define DNS_TTL_UNKNOWN (-1)
typedef void dns_records_ttl_cb(void *arg, enum dns_status st, char *const *rr, size_t n, int ttl);
struct dns_query *dns_lookup_records_ttl(struct dns *d, const char *name, int type,
                                         dns_records_ttl_cb *cb, void *arg);
/* Cancel a lookup whose callback has not run: it never will. */
void dns_cancel(struct dns *d, struct dns_query *q);

typedef dns_records_cb dns_txt_cb;
/* TXT records: dns_lookup_records(d, name, DNS_TYPE_TXT, ...). */
void dns_lookup_txt(struct dns *d, const char *name, dns_txt_cb *cb, void *arg);

/* Decode a wire-format domain name (uncompressed, as libunbound returns
 * rdata) at data[off..len) into out ("." for the root). Returns the
 * octets used, or -1. Exposed for tests and the fuzzer. */
long dns_name_decode(const unsigned char *data, size_t len, size_t off, char *out, size_t outsize);

#endif
