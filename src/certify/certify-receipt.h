/* certify-receipt: building a signed receipt, notice or envelope.
 *
 * Every certified message is S/MIME-signed: a multipart/signed
 * (protocol="application/pkcs7-signature", micalg=sha-256) whose first
 * part is a multipart/mixed holding
 *
 *   1. a human-readable text/plain part,
 *   2. the data part (application/xml, daticert.xml, base64; certify-data.h),
 *   3. for a transport envelope, an anomaly envelope and a complete
 *      delivery receipt, the original message, unaltered
 *      (message/rfc822, original.eml),
 *
 * and whose second part is a CMS detached signature (smime.p7s) over the
 * first, with the signing certificate included. The outer header carries
 * X-Certified-Type, X-Certified-Reference-Message-ID, X-Certified-Transport
 * (envelopes) and X-Certified-Receipt-Type (delivery receipts), which
 * verification checks against the data part. */
#ifndef POSTINO_CERTIFY_RECEIPT_H
#define POSTINO_CERTIFY_RECEIPT_H

#include <stdbool.h>
#include <stddef.h>

#include "certify/certify-data.h"
#include "certify/certify-keys.h"
#include "lib/buf.h"

/* The largest certified message built or verified: the original plus the
 * receipt's own parts. */
#define CERTIFY_MESSAGE_MAX (64LL * 1024 * 1024 + 1024 * 1024)
/* The local part of the address our services send from. */
#define CERTIFY_SERVICE_LOCAL "certified-mail"

/* The header fields of a certified message. */
#define CERTIFY_HDR_TYPE         "X-Certified-Type"
#define CERTIFY_HDR_TRANSPORT    "X-Certified-Transport"
#define CERTIFY_HDR_REFERENCE    "X-Certified-Reference-Message-ID"
#define CERTIFY_HDR_RECEIPT_TYPE "X-Certified-Receipt-Type"

/* What to build. */
struct certify_build {
    const struct certify_data *data; /* type, parties, identifier... (complete) */
    const char *to;                  /* the To field's value (addresses) */
    const char *reply_to;            /* a Reply-To field's value, or NULL */
    const char *original;            /* the original message (CRLF), or NULL */
    size_t original_len;
    bool attach_original; /* enclose it as message/rfc822 */
};

/* True if a message of type t (and receipt kind k for deliveries) encloses
 * the original. */
bool certify_type_encloses(enum certify_type t, bool has_kind, enum certify_receipt_kind k);

/* A fresh unique identifier "HEX@service" into out. */
void certify_new_id(const char *service, char out[CERTIFY_ID_MAX]);

/* SHA-256 of n bytes as lowercase hex. */
void certify_sha256_hex(const void *p, size_t n, char out[CERTIFY_HASH_HEX + 1]);

/* Add to d the SHA-256 of every leaf part of msg (its IMAP section path,
 * content type and the hash of its body as transmitted), for a short
 * delivery receipt. 0, or -1 with *error_r when there are too many. */
int certify_hash_parts(const char *msg, size_t len, struct certify_data *d, const char **error_r);

/* Build the signed message b describes, signed by s, into out (CRLF line
 * ends). 0, or -1 with a message in *error_r (caller frees). */
int certify_receipt_build(const struct certify_signer *s, const struct certify_build *b,
                          struct buf *out, char **error_r);

#endif
