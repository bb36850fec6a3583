/* dkim-key: the DKIM key record (RFC 6376 3.6.1, RFC 8463 for Ed25519),
 * the TXT record published at selector._domainkey.domain. */
#ifndef POSTINO_DKIM_KEY_H
#define POSTINO_DKIM_KEY_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

/* The largest p= accepted, decoded (an 8192-bit RSA key is ~1.1 kB). */
#define DKIM_KEY_DATA_MAX 2048

enum dkim_key_type {
    DKIM_KEY_RSA,
    DKIM_KEY_ED25519,
};

struct dkim_key {
    enum dkim_key_type type; /* k=, rsa when absent */
    EVP_PKEY *pkey;          /* NULL if revoked; owned, see dkim_key_free */
    bool revoked;            /* p= is empty */
    bool testing;            /* t=y */
    bool strict;             /* t=s: the i= domain must be d= itself */
    bool sha256;             /* h= absent or lists sha256 */
    bool email;              /* s= absent or lists email or * */
    unsigned bits;           /* the key size (RSA modulus, 256 for Ed25519) */
    /* The signature check's OpenSSL state, made on first use and kept for
     * the next checks (see dkim_key_verify); owned. */
    EVP_PKEY_CTX *rsa_ctx; /* RSA: verify, PKCS#1 v1.5, SHA-256 */
    EVP_MD_CTX *ed_ctx;    /* Ed25519: initialised again for each check */
};

/* Parse the key record txt (len bytes, the strings of the TXT record
 * concatenated). Returns 0 and fills key (free it with dkim_key_free), or
 * -1 with a static reason in *error_r ("key record syntax error", "unknown
 * key type", "bad key data", ...) and nothing to free. A revoked key
 * (empty p=) parses: key->revoked is set, key->pkey is NULL. RSA keys may
 * be SubjectPublicKeyInfo (the standard) or a bare RSAPublicKey. */
int dkim_key_parse(const char *txt, size_t len, struct dkim_key *key, const char **error_r);
/* Release the key's OpenSSL objects. */
void dkim_key_free(struct dkim_key *key);

/* Check the signature sig (sig_len bytes) over the 32-byte SHA-256 digest
 * with key (parsed, not revoked): RSA PKCS#1 v1.5 with SHA-256, or Ed25519
 * over the digest itself (RFC 8463). The OpenSSL context is made on the
 * first check and kept in key, so that a kept key checks faster the next
 * time (OpenSSL also keeps the RSA modulus' Montgomery form in the key); a
 * key is not to be used by two threads at once. Returns 1 if the signature
 * verifies, 0 if it does not, -1 on an internal error (no context).
 * OpenSSL's error queue is left empty. */
int dkim_key_verify(struct dkim_key *key, const unsigned char *sig, size_t sig_len,
                    const unsigned char digest[32]);

#endif
