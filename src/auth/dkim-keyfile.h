/* dkim-keyfile: the private keys postino signs with, and the key records
 * (RFC 6376 3.6.1, RFC 8463) that publish their public halves.
 *
 * A key lives in DATA_DIR/dkim/DOMAIN/SELECTOR.pem (PKCS#8 PEM, not
 * encrypted, mode 0640, owned by the service user that signs); the
 * dkim_keys table of the state database (state-dkim.h) lists them. A
 * signer loads one with
 *
 *   dkim_keyfile_path(cfg->data_dir, domain, selector, path, sizeof(path));
 *   EVP_PKEY *key = dkim_keyfile_load(path, &error);
 *
 * and gives it to dkim_sign_new() (dkim-sign.h). */
#ifndef POSTINO_DKIM_KEYFILE_H
#define POSTINO_DKIM_KEYFILE_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "auth/dkim-key.h"
#include "lib/buf.h"

/* The longest selector accepted (one DNS label's worth). */
#define DKIM_SELECTOR_MAX 63
/* The RSA sizes keygen offers; 2048 is the default. */
#define DKIM_RSA_BITS_DEFAULT 2048
/* The longest character-string of a TXT record (RFC 1035 3.3). */
#define DKIM_TXT_STRING_MAX 255

/* True if s can be a selector: dot-separated labels of letters, digits,
 * "-" and "_", DKIM_SELECTOR_MAX characters at most (so it is also a safe
 * file name: no "/", no leading "."). */
bool dkim_selector_valid(const char *s);

/* A new key: Ed25519, or RSA of bits (2048, 3072 or 4096). The caller
 * frees it with EVP_PKEY_free. NULL with a static reason in *error_r on a
 * bad size or an OpenSSL failure. */
EVP_PKEY *dkim_keyfile_generate(enum dkim_key_type type, unsigned bits, const char **error_r);

/* The type and size of a key usable for signing (RSA of at least 1024 bits
 * or Ed25519). 0, or -1 with a static reason. */
int dkim_keyfile_describe(EVP_PKEY *key, enum dkim_key_type *type_r, unsigned *bits_r,
                          const char **error_r);

/* Append the key record of key's public half to out:
 * "v=DKIM1; k=rsa; p=BASE64" (SubjectPublicKeyInfo) or
 * "v=DKIM1; k=ed25519; p=BASE64" (the 32 raw bytes, RFC 8463).
 * 0, or -1 with a static reason (out unchanged). */
int dkim_keyfile_record(EVP_PKEY *key, struct buf *out, const char **error_r);

/* Append value as zone-file TXT data to out: quoted character-strings of
 * at most DKIM_TXT_STRING_MAX octets separated by spaces ("..." "..."),
 * with '"' and '\' escaped. Splits never fall inside an escape. */
void dkim_keyfile_zone_strings(const char *value, struct buf *out);

/* DATA_DIR/dkim/DOMAIN/SELECTOR.pem into out (domain and selector as
 * given: pass them lowercased). 0, or -1 if it does not fit or a name is
 * not valid (which would make it escape the directory). */
int dkim_keyfile_path(const char *data_dir, const char *domain, const char *selector, char *out,
                      size_t outsize);

/* Write key as PEM to path (mode 0640), atomically: through a temporary
 * file in the same directory, fsynced, then linked to path, which must
 * not exist yet. 0, or -1 with a message in *error_r (caller frees);
 * nothing is left behind on failure. The directory must exist. */
int dkim_keyfile_write(const char *path, EVP_PKEY *key, char **error_r);

/* Read the private key at path and check that it can sign (RSA >= 1024
 * bits or Ed25519). The caller frees it with EVP_PKEY_free. NULL with a
 * message in *error_r (caller frees): the file is missing or unreadable,
 * or holds no usable key. */
EVP_PKEY *dkim_keyfile_load(const char *path, char **error_r);

#endif
