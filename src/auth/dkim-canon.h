/* dkim-canon: the "simple" and "relaxed" canonicalizations of RFC 6376
 * section 3.4, for header fields and (streaming) for the body, and the
 * body hash of a signature's bh= tag.
 *
 * Input is mail as it travels: lines end in CRLF. A CR or LF that is not
 * part of a CRLF pair is ordinary content. */
#ifndef POSTINO_DKIM_CANON_H
#define POSTINO_DKIM_CANON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "lib/buf.h"

enum dkim_canon {
    DKIM_CANON_SIMPLE,
    DKIM_CANON_RELAXED,
};

/* No l= limit. */
#define DKIM_BODY_UNLIMITED UINT64_MAX

/* Parse a c= value ("relaxed/simple", "simple", ...; a missing body half
 * means simple). Returns 0, or -1 for an unknown name. */
int dkim_canon_parse(const char *s, size_t n, enum dkim_canon *header, enum dkim_canon *body);

/* Append to out the canonical form of one header field: the n bytes at
 * field are the whole field (name, colon, value and its continuation
 * lines) without the CRLF that ends it; the CRLF of the canonical form is
 * not appended either. Returns 0, or -1 if out would pass its maximum. */
int dkim_canon_header(enum dkim_canon c, const char *field, size_t n, struct buf *out);

/* A running body canonicalization feeding a SHA-256 hash. */
struct dkim_body_hash {
    EVP_MD_CTX *md;
    enum dkim_canon canon;
    uint64_t limit;  /* hash at most this many canonical bytes (l=) */
    uint64_t hashed; /* canonical bytes hashed so far */
    uint64_t total;  /* canonical bytes produced, hashed or not */
    uint64_t empty;  /* empty lines held back (dropped if at the end) */
    bool cr;         /* the last byte was a CR not yet known to be CRLF */
    bool wsp;        /* relaxed: whitespace held back in this line */
    bool line;       /* the current line has content */
    bool failed;     /* a digest call failed */
    unsigned char out[4096];
    size_t out_len;
};

/* Start a body hash with the given canonicalization and limit (l=, or
 * DKIM_BODY_UNLIMITED). Returns 0, or -1 if OpenSSL fails (nothing to
 * free then). */
int dkim_body_hash_init(struct dkim_body_hash *h, enum dkim_canon c, uint64_t limit);
/* Feed the next n bytes of the body (any split gives the same hash). */
void dkim_body_hash_update(struct dkim_body_hash *h, const void *data, size_t n);
/* End of body: write the 32-byte SHA-256 into digest and set *total to the
 * length of the whole canonical body (to compare with l=). Returns 0, or -1
 * on an OpenSSL failure. Frees the hash state either way. */
int dkim_body_hash_final(struct dkim_body_hash *h, unsigned char digest[32], uint64_t *total);
/* Free the state of a hash that is not finished (no effect after final). */
void dkim_body_hash_free(struct dkim_body_hash *h);

#endif
