/* dkim-signature: the value of one DKIM-Signature header field, parsed and
 * checked (RFC 6376 3.5, RFC 8301, RFC 8463). No cryptography here. */
#ifndef POSTINO_DKIM_SIGNATURE_H
#define POSTINO_DKIM_SIGNATURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "auth/dkim-canon.h"
#include "auth/dkim-message.h"
#include "auth/dkim-tags.h"
#include "auth/dkim-verify.h"

/* The most names in h= (the list is bounded by the tag list itself). */
#define DKIM_SIG_NAMES_MAX 256
/* The largest signature b= accepted, decoded (RSA 8192 bits). */
#define DKIM_SIG_B_MAX 1024

enum dkim_alg {
    DKIM_ALG_RSA_SHA256,
    DKIM_ALG_ED25519_SHA256,
};

struct dkim_signature {
    struct dkim_tag_list tags; /* point into the parsed value */
    enum dkim_alg alg;
    enum dkim_canon header_canon, body_canon;
    char domain[256];   /* d=, lowercase */
    char selector[256]; /* s=, lowercase */
    char algorithm[32]; /* a= as written */
    char identity[256]; /* i=, or "@" d= */
    char i_domain[256]; /* the domain of i=, lowercase */
    char header_b[9];   /* the first 8 characters of b= */
    struct dkim_name names[DKIM_SIG_NAMES_MAX];
    size_t name_count;
    bool has_l;
    uint64_t l;
    bool has_t, has_x;
    uint64_t t, x;
    unsigned char bh[32];
    unsigned char b[DKIM_SIG_B_MAX];
    size_t b_len;
    const struct dkim_tag *b_tag; /* for removing the b= value */
};

/* True if s is a DNS name as DKIM uses it in d= and s=: dot-separated
 * labels of 1 to 63 letters, digits, "-" or "_". */
bool dkim_name_ok(const char *s);

/* Parse the n bytes of a DKIM-Signature field's value (after the colon)
 * into sig and check them. Returns DKIM_PASS if the signature is usable so
 * far (its key and hashes still to check), or the final status of the
 * signature with a static reason in *reason_r: neutral for a malformed or
 * unsupported signature, fail for rsa-sha1 or an expired one (x= before
 * now), policy for l= when allow_l is false. The fields of sig that could be
 * read (domain, selector, algorithm, header_b) are filled even then. */
enum dkim_status dkim_signature_parse(const char *value, size_t n, time_t now, bool allow_l,
                                      struct dkim_signature *sig, const char **reason_r);

#endif
