/* dkim-verify: verification of the DKIM-Signature header fields of a
 * message (RFC 6376, with RFC 8301 and RFC 8463).
 *
 * The verifier does no I/O. Its owner feeds the message (a complete RFC
 * 5322 message, CRLF line ends: header section, empty line, body) in
 * chunks of any size as it arrives. Once the header section is complete,
 * the verifier names the key records it needs ("selector._domainkey.
 * domain", lowercase); the owner looks them up however it likes (at once,
 * asynchronously while the body streams in, or not at all) and hands each
 * answer back. After the end of the message and the answers, it reports
 * one result per signature.
 *
 *   v = dkim_verify_new(&params);
 *   dkim_verify_feed(v, chunk, n) ...          (header, then body)
 *   dkim_verify_key_names(v, &names)           (as soon as the header is in)
 *   dkim_verify_set_key(v, name, status, txt)  (for each name, any time)
 *   dkim_verify_end(v);
 *   n = dkim_verify_results(v, &results);      (0 results: dkim=none)
 *   dkim_verify_free(&v);
 */
#ifndef POSTINO_DKIM_VERIFY_H
#define POSTINO_DKIM_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/buf.h"

/* Signatures looked at in one message; the ones after these are ignored. */
#define DKIM_VERIFY_MAX_SIGS 16
/* The shortest RSA key accepted (RFC 8301). */
#define DKIM_RSA_MIN_BITS 1024

/* The result of one signature, named as in RFC 8601 (Authentication-Results). */
enum dkim_status {
    DKIM_NONE,      /* (only for a message without signatures) */
    DKIM_PASS,      /* the signature verified */
    DKIM_FAIL,      /* it did not, or is unacceptable (expired, rsa-sha1, revoked key...) */
    DKIM_NEUTRAL,   /* the signature is malformed or uses what we do not support */
    DKIM_POLICY,    /* valid syntax, refused by local policy (l= not accepted) */
    DKIM_TEMPERROR, /* the key could not be fetched now: try again later */
    DKIM_PERMERROR, /* no key, or a key record that cannot be used */
};

/* The answer to one key lookup. */
enum dkim_key_status {
    DKIM_KEY_FOUND,     /* txt holds the TXT record (its strings concatenated) */
    DKIM_KEY_NONE,      /* NXDOMAIN or no TXT record */
    DKIM_KEY_TEMPERROR, /* timeout, SERVFAIL */
    DKIM_KEY_PERMERROR, /* anything else that will not get better */
};

struct dkim_key_cache;

struct dkim_verify_params {
    time_t now;             /* the current time, for x= */
    bool allow_body_length; /* accept signatures with l= (body after l= stays unverified) */
    unsigned min_rsa_bits;  /* 0 means DKIM_RSA_MIN_BITS */
    /* Parsed key records kept across messages (auth/dkim-key-cache.h),
     * borrowed: it must outlive the verifier. NULL: every key record is
     * parsed for the message and dropped with it. */
    struct dkim_key_cache *key_cache;
};

struct dkim_result {
    enum dkim_status status;
    const char *reason; /* static, human-readable: "body hash did not verify", ... */
    char domain[256];   /* d= (empty if the signature had none usable) */
    char selector[256]; /* s= */
    char algorithm[32]; /* a= */
    char header_b[9];   /* the first 8 characters of b=, for header.b */
    char identity[256]; /* i=, or "@" d= when absent (empty if unusable) */
    bool testing;       /* the key record has t=y */
    bool has_body_length;
    uint64_t body_length; /* l= */
    unsigned key_bits;    /* the size of the key that was used, 0 if none */
};

struct dkim_verify;

/* A new verifier. Never returns NULL. params is copied. */
struct dkim_verify *dkim_verify_new(const struct dkim_verify_params *params);
/* Free the verifier and everything it returned; sets *v to NULL. */
void dkim_verify_free(struct dkim_verify **v);

/* Feed the next n bytes of the message. Returns 0, or -1 if the header
 * section passes DKIM_HEADER_MAX bytes or has too many fields: the message
 * cannot be verified, further input is ignored and there are no results
 * (the caller decides what such a message gets; it is not dkim=none). */
int dkim_verify_feed(struct dkim_verify *v, const void *data, size_t n);
/* True once the header section is complete (the key names are known). */
bool dkim_verify_header_complete(const struct dkim_verify *v);
/* The end of the message (a message without an empty line is all
 * header). Idempotent. */
void dkim_verify_end(struct dkim_verify *v);

/* The key records needed, each a lowercase "selector._domainkey.domain"
 * without a trailing dot, without duplicates: *names_r points to count
 * strings owned by the verifier, valid until it is freed. Zero before the
 * header section is complete, or when no signature needs a key. */
size_t dkim_verify_key_names(const struct dkim_verify *v, const char *const **names_r);
/* Give the answer for name (as returned by dkim_verify_key_names, compared
 * case-insensitively). txt (len bytes, used only with DKIM_KEY_FOUND) is
 * copied. Returns 0, or -1 if no signature needs that name or it was
 * already answered. */
int dkim_verify_set_key(struct dkim_verify *v, const char *name, enum dkim_key_status status,
                        const char *txt, size_t len);

/* The results, one per DKIM-Signature field in the order of the message
 * (at most DKIM_VERIFY_MAX_SIGS). Call after dkim_verify_end(); a key that
 * was never answered gives temperror. The first call does the
 * cryptography; the array is owned by the verifier. */
size_t dkim_verify_results(struct dkim_verify *v, const struct dkim_result **results_r);

/* "pass", "fail", ... as in Authentication-Results. */
const char *dkim_status_name(enum dkim_status s);

/* Append to out the method result of r for an Authentication-Results
 * field (RFC 8601, RFC 6008): "dkim=STATUS (reason) header.d=D header.i=I
 * header.s=S header.a=A header.b=B". A property whose value is empty or
 * not made only of characters safe in that field (it came from the
 * message) is left out. A message without signatures gets "dkim=none",
 * which the caller writes. Returns 0, or -1 (out unchanged) past out's
 * maximum. */
int dkim_result_format(const struct dkim_result *r, struct buf *out);

#endif
