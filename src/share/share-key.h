/* share-key: the data keys of the share portal and how they are kept.
 *
 * Every transfer has a random 256-bit data key (the input of the file
 * format, share-crypt.h). The server keeps it only wrapped:
 *
 *   KEK     = argon2id(password, salt 16 random bytes, t, m, p) -> 32 bytes
 *   wrapped = AES-256-GCM(KEK, IV 12 random bytes, data key,
 *                         AAD = "postino share key wrap v1" || 0x00 || transfer id)
 *
 * stored as one line of text (docs/share-format.md):
 *
 *   $pstn-share-key$v=1$argon2id$m=65536,t=3,p=1$SALT$IV$WRAPPED$CHECK
 *
 * SALT, IV and WRAPPED (key and tag) in unpadded base64url, and CHECK the
 * first 8 bytes of SHA-256 of everything before its '$': a record damaged
 * on disk is told apart from a wrong password without any password.
 *
 * In "link" mode the data key itself travels in the link's fragment
 * (#k=...), as 43 characters of unpadded base64url. */
#ifndef POSTINO_SHARE_KEY_H
#define POSTINO_SHARE_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "share/share-crypt.h"

#define SHARE_WRAP_SALT_LEN        16
#define SHARE_WRAP_IV_LEN          12
#define SHARE_WRAPPED_LEN          (SHARE_KEY_LEN + 16) /* the key, then the GCM tag */
#define SHARE_WRAP_CHECK_LEN       8
#define SHARE_PASSWORD_MAX         1024 /* longest transfer password */
#define SHARE_TRANSFER_ID_MAX      128  /* longest transfer id */
#define SHARE_WRAPPED_KEY_TEXT_MAX 192  /* a record, terminator included */
#define SHARE_LINK_KEY_LEN         43   /* the key in a link, terminator excluded */

/* argon2id's cost, stored with each wrapped key. Bounds: time 1..16,
 * memory 8 KiB .. 1 GiB (and at least 8 KiB per lane), parallelism 1..16. */
struct share_kdf_params {
    uint32_t time;       /* passes */
    uint32_t memory_kib; /* memory in KiB */
    uint32_t parallelism;
};
#define SHARE_KDF_TIME_MIN        1u
#define SHARE_KDF_TIME_MAX        16u
#define SHARE_KDF_MEMORY_MIN      8u
#define SHARE_KDF_MEMORY_MAX      (1024u * 1024u)
#define SHARE_KDF_PARALLELISM_MIN 1u
#define SHARE_KDF_PARALLELISM_MAX 16u

/* The server's default: t=3, m=64 MiB, p=1 (about a tenth of a second). */
extern const struct share_kdf_params share_kdf_default;

struct share_wrapped_key {
    struct share_kdf_params kdf;
    unsigned char salt[SHARE_WRAP_SALT_LEN];
    unsigned char iv[SHARE_WRAP_IV_LEN];
    unsigned char wrapped[SHARE_WRAPPED_LEN];
};

enum share_unwrap_result {
    SHARE_UNWRAP_OK = 0,
    SHARE_UNWRAP_WRONG_PASSWORD, /* the record is intact; the password (or
                                    the transfer id) is not the one */
    SHARE_UNWRAP_CORRUPT,        /* the record is damaged or not a record */
    SHARE_UNWRAP_ERROR,          /* argon2 or OpenSSL failed (memory, ...) */
};

/* A fresh random data key. Returns 0, or -1 with a static reason in
 * *error_r (no random numbers). */
int share_key_generate(unsigned char key[SHARE_KEY_LEN], const char **error_r);

/* 0 if p is within the bounds above, else -1 with a static reason. */
int share_kdf_params_check(const struct share_kdf_params *p, const char **error_r);

/* Wrap the data key with a key derived from the password (1 ..
 * SHARE_PASSWORD_MAX bytes, any bytes) for the transfer transfer_id (a C
 * string of 1 .. SHARE_TRANSFER_ID_MAX bytes), with a fresh salt and IV.
 * This runs argon2id: it takes the time and memory kdf says. Returns 0
 * and fills *out, or -1 with a static reason in *error_r. */
int share_key_wrap(const unsigned char key[SHARE_KEY_LEN], const char *password,
                   size_t password_len, const char *transfer_id, const struct share_kdf_params *kdf,
                   struct share_wrapped_key *out, const char **error_r);

/* Unwrap: on SHARE_UNWRAP_OK the data key is in key; otherwise key is
 * zeroed and *error_r says why (static). A password that could not have
 * been set (empty, too long) is a wrong password. */
enum share_unwrap_result share_key_unwrap(const struct share_wrapped_key *wk, const char *password,
                                          size_t password_len, const char *transfer_id,
                                          unsigned char key[SHARE_KEY_LEN], const char **error_r);

/* Write wk as its text record into out, terminated. Returns the length
 * (less than SHARE_WRAPPED_KEY_TEXT_MAX). wk must be within the bounds
 * (as share_key_wrap and share_wrapped_key_parse make it). */
size_t share_wrapped_key_format(const struct share_wrapped_key *wk,
                                char out[SHARE_WRAPPED_KEY_TEXT_MAX]);

/* Parse the n bytes of a text record (no terminator needed; no line end).
 * Strict: exactly the form share_wrapped_key_format writes, parameters
 * in bounds, and the check matching. Returns 0 and fills *wk, or -1 with a
 * static reason in *error_r (*wk is then zeroed). */
int share_wrapped_key_parse(const char *s, size_t n, struct share_wrapped_key *wk,
                            const char **error_r);

/* Parse a text record and unwrap it: SHARE_UNWRAP_CORRUPT if it does not
 * parse, else as share_key_unwrap. */
enum share_unwrap_result share_key_unwrap_text(const char *s, size_t n, const char *password,
                                               size_t password_len, const char *transfer_id,
                                               unsigned char key[SHARE_KEY_LEN],
                                               const char **error_r);

/* The data key as it goes into a link (#k=...): 43 characters of unpadded
 * base64url and a terminator. */
void share_key_to_link(const unsigned char key[SHARE_KEY_LEN], char out[SHARE_LINK_KEY_LEN + 1]);

/* The data key from the n characters of a link's key. Returns 0, or -1 if
 * they are not exactly the canonical 43-character encoding of 32 bytes
 * (key is then zeroed). */
int share_key_from_link(const char *s, size_t n, unsigned char key[SHARE_KEY_LEN]);

#endif
