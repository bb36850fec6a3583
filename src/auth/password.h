/* password: hashing and checking account passwords.
 *
 * New hashes are argon2id (RFC 9106) in the PHC string format
 * "$argon2id$v=19$m=...,t=...,p=...$salt$hash", with a random 16-octet
 * salt per hash and the cost from the configuration. Checking compares in
 * constant time (libargon2 does). */
#ifndef POSTINO_PASSWORD_H
#define POSTINO_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#define PASSWORD_HASH_MAX 256
#define PASSWORD_MAX      1024 /* longest password accepted */

struct password_cost {
    unsigned memory_kib;
    unsigned time;
    unsigned parallelism;
};

/* Hash a password into out (PASSWORD_HASH_MAX). Returns 0, or -1 with a
 * static reason in *error_r. */
int password_hash(const char *password, size_t len, const struct password_cost *cost,
                  char out[PASSWORD_HASH_MAX], const char **error_r);
/* 1 if password matches hash, 0 if not, -1 if the hash is not one we
 * understand. Besides argon2id, SHA512-CRYPT hashes ("$6$...", also with
 * Dovecot's "{SHA512-CRYPT}" prefix) are checked, for imported accounts. */
int password_verify(const char *hash, const char *password, size_t len);
/* True if hash should be replaced by a new argon2id hash of the same
 * password at the next successful login (another scheme, another cost). */
bool password_needs_upgrade(const char *hash, const struct password_cost *cost);
/* Normalise an imported hash: "{SHA512-CRYPT}$6$..." becomes "$6$...".
 * Returns the hash to store, or NULL if it is no scheme we accept. */
const char *password_import_hash(const char *hash);

/* Read a password from fd up to the first newline (excluded) or EOF,
 * for --password-stdin. Returns its length, or -1 (empty, too long, or a
 * control character in it). */
int password_read_fd(int fd, char out[PASSWORD_MAX + 1]);

#endif
