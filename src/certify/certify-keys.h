/* certify-keys: the signing certificates and keys of our certification
 * services, and the certificates we trust.
 *
 * Each domain of certified_domains signs with DIR/DOMAIN.crt and
 * DIR/DOMAIN.key (PEM), DIR being certified_dir (relative to data_dir).
 * The trusted certificates are those of every certified domain of ours
 * plus the PEM bundle certified_trusted (the peer services). */
#ifndef POSTINO_CERTIFY_KEYS_H
#define POSTINO_CERTIFY_KEYS_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/config.h"

#define CERTIFY_PATH_MAX 4096
/* "AB:CD:..." of a SHA-256 fingerprint, with its NUL. */
#define CERTIFY_FINGERPRINT_LEN (32 * 3)
/* Days a certificate made by certify_keygen() is valid. */
#define CERTIFY_CERT_DAYS 1095

/* The directory of the keys (certified_dir made absolute) into out.
 * 0, or -1 if it does not fit. */
int certify_keys_dir(const struct config *cfg, char *out, size_t outsize);
/* The certificate and key paths of domain. 0, or -1 if the domain is not
 * a plain domain name (no "/", no leading ".") or a path does not fit. */
int certify_key_paths(const struct config *cfg, const char *domain, char *crt, size_t crtsize,
                      char *key, size_t keysize);

/* Make a new P-256 key and a self-signed certificate for domain's
 * certification service (subject CN "Certified mail service DOMAIN",
 * e-mail protection, CERTIFY_CERT_DAYS days); write the key to key_path
 * (mode 0640, never replacing a file) and the certificate to crt_path
 * (mode 0644, never replacing), and put the certificate's SHA-256
 * fingerprint in fpr. 0, or -1 with a message in *error_r (caller frees);
 * nothing is left behind on failure. */
int certify_keygen(const char *crt_path, const char *key_path, const char *domain,
                   char fpr[CERTIFY_FINGERPRINT_LEN], char **error_r);

/* The SHA-256 fingerprint of x as "AB:CD:...". */
void certify_fingerprint(X509 *x, char fpr[CERTIFY_FINGERPRINT_LEN]);

/* A service's certificate and private key. */
struct certify_signer {
    X509 *cert;
    EVP_PKEY *key;
};

/* Load domain's certificate and key (and check that they match). NULL
 * with a message in *error_r (caller frees). */
struct certify_signer *certify_signer_load(const struct config *cfg, const char *domain,
                                           char **error_r);
void certify_signer_free(struct certify_signer **s);

/* A store of the trusted certificates: those of our certified domains
 * that can be read, and every certificate of certified_trusted. NULL
 * with a message in *error_r (caller frees) if certified_trusted cannot
 * be read or nothing at all is trusted. Free with X509_STORE_free. */
X509_STORE *certify_trust_load(const struct config *cfg, char **error_r);

#endif
