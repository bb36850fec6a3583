/* dkim-sign: producing a DKIM-Signature header field (RFC 6376, RFC 8463).
 *
 * The signer uses c=relaxed/relaxed, a=rsa-sha256 or ed25519-sha256 (from
 * the key), signs the header fields recommended by RFC 6376 5.4.1 that the
 * message has (plus Message-ID, MIME-Version and the Content-* fields),
 * and oversigns From (lists it once more than it occurs, so that no From
 * can be added). Like the verifier it does no I/O and takes the message
 * (CRLF line ends) in chunks of any size:
 *
 *   s = dkim_sign_new(&params);
 *   dkim_sign_feed(s, chunk, n) ...
 *   dkim_sign_finish(s, &field, &error);   field: "DKIM-Signature: ...\r\n"
 *   dkim_sign_free(&s);
 *
 * Signing with two keys (RSA and Ed25519) is two signers; the fields they
 * produce can be prepended in either order. */
#ifndef POSTINO_DKIM_SIGN_H
#define POSTINO_DKIM_SIGN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include "lib/buf.h"

struct dkim_sign_params {
    const char *domain;   /* d= */
    const char *selector; /* s= */
    EVP_PKEY *key;        /* RSA (>= 1024 bits) or Ed25519; borrowed, not freed */
    time_t now;           /* t=; a negative value leaves t= out */
    uint64_t expire;      /* seconds after now for x=, 0 for no x= */
    const char *identity; /* i=, or NULL for none (then it is "@" d=); its
                             domain must be domain or a subdomain of it */
};

struct dkim_sign;

/* Check params and start a signer. Returns NULL with a static reason in
 * *error_r if the key is neither RSA of at least 1024 bits nor Ed25519, or
 * the domain or selector is not a plain DNS name. The strings in params are
 * copied; the key must live until dkim_sign_finish(). */
struct dkim_sign *dkim_sign_new(const struct dkim_sign_params *params, const char **error_r);
/* Free the signer; sets *s to NULL. */
void dkim_sign_free(struct dkim_sign **s);

/* Feed the next n bytes of the message. Returns 0, or -1 if the header
 * section is too big (DKIM_HEADER_MAX) to sign. */
int dkim_sign_feed(struct dkim_sign *s, const void *data, size_t n);
/* The end of the message: append the DKIM-Signature field to out (folded
 * into lines of at most 78 characters, each ended by CRLF, the last one
 * too). Returns 0, or -1 with a static reason in *error_r (no From field,
 * header too big, an OpenSSL failure); out is then unchanged. Call once. */
int dkim_sign_finish(struct dkim_sign *s, struct buf *out, const char **error_r);

/* Sign a whole message in one call: dkim_sign_new, one feed, finish. */
int dkim_sign_message(const struct dkim_sign_params *params, const void *msg, size_t len,
                      struct buf *out, const char **error_r);

#endif
