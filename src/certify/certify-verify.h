/* certify-verify: checking a certified message (receipt, notice or
 * envelope, as certify-receipt.h builds them) read from anywhere.
 *
 * The checks, in order: the structure (multipart/signed with a CMS
 * signature part, its first part a multipart/mixed with the data part);
 * the signature over the first part; the data part (strict parser); its
 * consistency with the outer header fields (X-Certified-Type,
 * X-Certified-Reference-Message-ID, X-Certified-Receipt-Type,
 * X-Certified-Transport, Message-ID); that the signer's certificate is the
 * one of the service named in the data part; for the types that enclose
 * the original, that it is there and matches the hash in the data part;
 * finally, that the signer is trusted. */
#ifndef POSTINO_CERTIFY_VERIFY_H
#define POSTINO_CERTIFY_VERIFY_H

#include <stddef.h>

#include <openssl/x509.h>

#include "certify/certify-data.h"
#include "certify/certify-keys.h"

enum certify_verdict {
    CERTIFY_VALID,     /* everything holds and the signer is trusted */
    CERTIFY_INVALID,   /* malformed, altered or inconsistent */
    CERTIFY_UNTRUSTED, /* intact and consistent, but signed by a service not trusted */
};

struct certify_verify_result {
    enum certify_verdict verdict;
    char reason[256];                     /* why not valid, or "" */
    struct certify_data data;             /* the data part, if it could be read */
    char signer[CERTIFY_FINGERPRINT_LEN]; /* the signing certificate's fingerprint, or "" */
    char signer_subject[256];             /* its subject, or "" */
};

/* Verify msg[0..len) against the trusted certificates in store (which may
 * be NULL: then nothing is trusted). Never fails: the verdict says. Free
 * r->data with certify_data_free afterwards. */
void certify_verify(const char *msg, size_t len, X509_STORE *store,
                    struct certify_verify_result *r);

/* "valid", "invalid", "untrusted". */
const char *certify_verdict_name(enum certify_verdict v);

#endif
