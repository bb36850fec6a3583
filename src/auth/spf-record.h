/* spf-record: the syntax of an SPF record (RFC 7208 4.5, 4.6, 5, 6) and
 * of its macro-strings (RFC 7208 7). Pure functions on bytes: no DNS.
 *
 * A record is parsed whole before anything in it is evaluated, because a
 * syntax error anywhere makes the result permerror (RFC 7208 4.6). Terms
 * point into the caller's text, which must outlive the parsed record. */
#ifndef POSTINO_SPF_RECORD_H
#define POSTINO_SPF_RECORD_H

#include <stdbool.h>
#include <stddef.h>

/* More terms than fit in one DNS answer is not a record anyone can publish. */
#define SPF_MAX_TERMS 256

enum spf_mech {
    SPF_MECH_ALL,
    SPF_MECH_INCLUDE,
    SPF_MECH_A,
    SPF_MECH_MX,
    SPF_MECH_PTR,
    SPF_MECH_IP4,
    SPF_MECH_IP6,
    SPF_MECH_EXISTS,
};

struct spf_term {
    enum spf_mech mech;
    char qualifier;     /* '+', '-', '~' or '?' */
    const char *domain; /* the domain-spec (a macro-string), or NULL */
    size_t domain_len;
    unsigned cidr4, cidr6; /* a, mx: 32 and 128 unless given; ip4/ip6: the prefix */
    unsigned char ip[16];  /* ip4 (first 4 octets), ip6 */
    const char *text;      /* the whole term, for logs and Received-SPF */
    size_t text_len;
};

struct spf_record {
    struct spf_term terms[SPF_MAX_TERMS];
    size_t n;
    bool has_all;         /* an "all" mechanism: redirect is ignored */
    const char *redirect; /* redirect= domain-spec, or NULL */
    size_t redirect_len;
    const char *exp; /* exp= domain-spec, or NULL */
    size_t exp_len;
};

/* True if text is an SPF record: "v=spf1" (any case) alone or followed by
 * a space (RFC 7208 4.5). */
bool spf_record_is_spf(const char *text, size_t len);

/* Parse a record that spf_record_is_spf accepted. 0, or -1 with a reason
 * in *error_r (static text naming the problem). */
int spf_record_parse(const char *text, size_t len, struct spf_record *out, const char **error_r);

/* Check the syntax of a macro-string; in a domain-spec (exp_text false)
 * the letters c, r and t are not allowed (RFC 7208 7.2). 0 or -1. */
int spf_macro_check(const char *s, size_t len, bool exp_text);

/* The values macros expand to (RFC 7208 7.2). All are text; NULL means
 * unknown. */
struct spf_macro_vars {
    const char *sender;        /* s: <sender> */
    const char *local;         /* l: its local-part */
    const char *sender_domain; /* o */
    const char *domain;        /* d: the current domain */
    const char *ip;            /* i: dotted IPv4, or IPv6 as dotted nibbles */
    const char *ptr_name;      /* p: validated domain name of the client, or NULL ("unknown") */
    bool ipv6;                 /* v: "ip6" or "in-addr" */
    const char *helo;          /* h */
    const char *client_ip;     /* c: the client address as people write it */
    const char *receiver;      /* r */
    long long now;             /* t */
};

/* Expand a macro-string into out (appended). exp_text allows c, r and t.
 * 0, or -1 on a syntax error. */
struct buf;
int spf_macro_expand(const char *s, size_t len, const struct spf_macro_vars *v, bool exp_text,
                     struct buf *out);

/* True if the domain-spec s uses the p macro (which needs DNS lookups). */
bool spf_macro_uses_ptr(const char *s, size_t len);

#endif
