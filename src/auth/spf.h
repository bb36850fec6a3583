/* spf: check_host() of RFC 7208, without doing DNS itself.
 *
 * An evaluation asks for DNS answers one at a time: spf_check_run either
 * finishes with a result or names the query it needs; the caller looks it
 * up however it likes (asynchronously in the server, from a zone file in
 * the conformance tests), gives the answer with spf_check_answer, and runs
 * again. Each run starts over from the top with the answers it has, which
 * costs microseconds and keeps the evaluation a plain recursive function;
 * the RFC's limits (10 DNS-querying terms, 2 void lookups, 10 MX or PTR
 * names) bound the number of queries to a few dozen. */
#ifndef POSTINO_SPF_H
#define POSTINO_SPF_H

#include <stdbool.h>
#include <stddef.h>

enum spf_result {
    SPF_NONE,
    SPF_NEUTRAL,
    SPF_PASS,
    SPF_FAIL,
    SPF_SOFTFAIL,
    SPF_TEMPERROR,
    SPF_PERMERROR,
};

/* "pass", "fail", ... as in Received-SPF and Authentication-Results. */
const char *spf_result_name(enum spf_result r);

enum spf_rr_type {
    SPF_RR_A = 1,
    SPF_RR_PTR = 12,
    SPF_RR_MX = 15,
    SPF_RR_TXT = 16,
    SPF_RR_AAAA = 28,
};

enum spf_dns_status {
    SPF_DNS_OK,       /* records follow */
    SPF_DNS_NODATA,   /* the name exists, without records of the type */
    SPF_DNS_NXDOMAIN, /* the name does not exist */
    SPF_DNS_TEMPFAIL, /* timeout, SERVFAIL */
};

struct spf_request {
    const char *ip;       /* the client's address, IPv4 or IPv6 text */
    const char *sender;   /* MAIL FROM address; "" for the null sender */
    const char *helo;     /* the HELO/EHLO name */
    const char *receiver; /* our host name, for the r macro */
    long long now;        /* for the t macro */
};

struct spf_check;

/* A check of the sender's identity: MAIL FROM, or postmaster@HELO when
 * MAIL FROM is empty (RFC 7208 2.4). NULL if the IP address is not one. */
struct spf_check *spf_check_new(const struct spf_request *req);
/* A check of the HELO identity itself (RFC 7208 2.3). */
struct spf_check *spf_check_new_helo(const struct spf_request *req);
void spf_check_free(struct spf_check **c);

struct spf_outcome {
    enum spf_result result;
    const char *domain;      /* the domain checked */
    const char *mechanism;   /* the term that matched, or "" (default result) */
    const char *reason;      /* for temperror/permerror/none: why */
    const char *explanation; /* for fail: the domain's exp= text, or "" */
};

/* Evaluate. Returns 1 with *out filled (its strings live as long as c),
 * or 0 when an answer is needed: *name and *type say which. */
int spf_check_run(struct spf_check *c, struct spf_outcome *out, const char **name,
                  enum spf_rr_type *type);

/* The answer to the query spf_check_run asked for. rr are the records as
 * text: TXT strings (each record's strings joined), A and AAAA addresses,
 * MX and PTR target names. Copied. */
void spf_check_answer(struct spf_check *c, const char *name, enum spf_rr_type type,
                      enum spf_dns_status st, const char *const *rr, size_t n);

/* The number of DNS queries asked for so far (for logs and tests). */
size_t spf_check_queries(const struct spf_check *c);

#endif
