#include "password.h"

#include <argon2.h>
#include <crypt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "lib/str.h"

#define SALT_LEN 16
#define HASH_LEN 32

int password_hash(const char *password, size_t len, const struct password_cost *cost,
                  char out[PASSWORD_HASH_MAX], const char **error_r)
{
    unsigned char salt[SALT_LEN];
    size_t got = 0;
    while (got < sizeof(salt)) {
        ssize_t n = getrandom(salt + got, sizeof(salt) - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            *error_r = "no random numbers for the salt";
            return -1;
        }
        got += (size_t)n;
    }
    size_t need = argon2_encodedlen(cost->time, cost->memory_kib, cost->parallelism, SALT_LEN,
                                    HASH_LEN, Argon2_id);
    if (need > PASSWORD_HASH_MAX) {
        *error_r = "hash too long";
        return -1;
    }
    int rc = argon2id_hash_encoded(cost->time, cost->memory_kib, cost->parallelism, password, len,
                                   salt, SALT_LEN, HASH_LEN, out, PASSWORD_HASH_MAX);
    if (rc != ARGON2_OK) {
        *error_r = argon2_error_message(rc);
        return -1;
    }
    return 0;
}

const char *password_import_hash(const char *hash)
{
    if (strncmp(hash, "{SHA512-CRYPT}", 14) == 0)
        hash += 14;
    if (strncmp(hash, "$6$", 3) == 0 || strncmp(hash, "$argon2id$", 10) == 0)
        return strlen(hash) < PASSWORD_HASH_MAX ? hash : NULL;
    return NULL;
}

/* SHA512-CRYPT through libcrypt, compared in constant time. */
static int verify_sha512_crypt(const char *hash, const char *password, size_t len)
{
    char pw[PASSWORD_MAX + 1];
    if (len > PASSWORD_MAX || memchr(password, '\0', len))
        return 0;
    memcpy(pw, password, len);
    pw[len] = '\0';
    struct crypt_data data;
    memset(&data, 0, sizeof(data));
    /* crypt_rn: like crypt_r, but NULL on failure (and not intercepted by
     * ASan, whose crypt_r stand-in would hide libcrypt from the linker). */
    const char *out = crypt_rn(pw, hash, &data, (int)sizeof(data));
    memset(pw, 0, sizeof(pw));
    size_t n = strlen(hash);
    int ok = out && out[0] == '$' && strlen(out) == n && CRYPTO_memcmp(out, hash, n) == 0;
    memset(&data, 0, sizeof(data));
    return ok;
}

bool password_needs_upgrade(const char *hash, const struct password_cost *cost)
{
    char want[64];
    snprintf(want, sizeof(want), "$argon2id$v=19$m=%u,t=%u,p=%u$", cost->memory_kib, cost->time,
             cost->parallelism);
    return strncmp(hash, want, strlen(want)) != 0;
}

int password_verify(const char *hash, const char *password, size_t len)
{
    if (strncmp(hash, "{SHA512-CRYPT}", 14) == 0)
        hash += 14;
    if (strncmp(hash, "$6$", 3) == 0)
        return verify_sha512_crypt(hash, password, len);
    if (strncmp(hash, "$argon2id$", 10) != 0)
        return -1;
    int rc = argon2id_verify(hash, password, len);
    if (rc == ARGON2_OK)
        return 1;
    if (rc == ARGON2_VERIFY_MISMATCH)
        return 0;
    return -1;
}

int password_read_fd(int fd, char out[PASSWORD_MAX + 1])
{
    size_t n = 0;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || c == '\n')
            break;
        if (n >= PASSWORD_MAX)
            return -1;
        out[n++] = c;
    }
    if (n > 0 && out[n - 1] == '\r')
        n--;
    out[n] = '\0';
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
            return -1;
    return (int)n;
}
