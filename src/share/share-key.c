#include "share/share-key.h"

#include <stdbool.h>
#include <string.h>

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "lib/base64url.h"

#define KEK_LEN      32
#define WRAP_CONTEXT "postino share key wrap v1"
#define AAD_MAX      (sizeof(WRAP_CONTEXT) + SHARE_TRANSFER_ID_MAX)
#define PREFIX       "$pstn-share-key$v=1$argon2id$"

const struct share_kdf_params share_kdf_default = {
    .time = 3,
    .memory_kib = 65536,
    .parallelism = 1,
};

int share_key_generate(unsigned char key[SHARE_KEY_LEN], const char **error_r)
{
    if (RAND_bytes(key, SHARE_KEY_LEN) != 1) {
        *error_r = "no random numbers";
        return -1;
    }
    return 0;
}

int share_kdf_params_check(const struct share_kdf_params *p, const char **error_r)
{
    if (p->time < SHARE_KDF_TIME_MIN || p->time > SHARE_KDF_TIME_MAX) {
        *error_r = "argon2id time cost out of bounds";
        return -1;
    }
    if (p->parallelism < SHARE_KDF_PARALLELISM_MIN || p->parallelism > SHARE_KDF_PARALLELISM_MAX) {
        *error_r = "argon2id parallelism out of bounds";
        return -1;
    }
    if (p->memory_kib < SHARE_KDF_MEMORY_MIN || p->memory_kib > SHARE_KDF_MEMORY_MAX ||
        p->memory_kib < 8 * p->parallelism) {
        *error_r = "argon2id memory cost out of bounds";
        return -1;
    }
    return 0;
}

/* The additional data of a wrapped key: the context, a NUL, the transfer
 * id. Returns its length, or 0 if the id is empty or too long. */
static size_t wrap_aad(const char *transfer_id, unsigned char aad[AAD_MAX])
{
    size_t n = strnlen(transfer_id, SHARE_TRANSFER_ID_MAX + 1);
    if (n == 0 || n > SHARE_TRANSFER_ID_MAX)
        return 0;
    memcpy(aad, WRAP_CONTEXT, sizeof(WRAP_CONTEXT)); /* the NUL included */
    memcpy(aad + sizeof(WRAP_CONTEXT), transfer_id, n);
    return sizeof(WRAP_CONTEXT) + n;
}

/* argon2id of the password into kek. Returns 0, or -1 with a reason. */
static int derive_kek(const struct share_kdf_params *p, const char *password, size_t len,
                      const unsigned char salt[SHARE_WRAP_SALT_LEN], unsigned char kek[KEK_LEN],
                      const char **error_r)
{
    int rc = argon2id_hash_raw(p->time, p->memory_kib, p->parallelism, password, len, salt,
                               SHARE_WRAP_SALT_LEN, kek, KEK_LEN);
    if (rc != ARGON2_OK) {
        OPENSSL_cleanse(kek, KEK_LEN);
        *error_r = argon2_error_message(rc);
        return -1;
    }
    return 0;
}

/* AES-256-GCM of one short message: seal (in: n bytes, out: n + 16) or
 * open (in: n bytes with the tag last, out: n - 16). Returns 0, -1 if
 * opening fails to authenticate, -2 on an OpenSSL failure. */
static int gcm_once(bool seal, const unsigned char kek[KEK_LEN],
                    const unsigned char iv[SHARE_WRAP_IV_LEN], const unsigned char *aad,
                    size_t aad_len, const unsigned char *in, size_t n, unsigned char *out)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c)
        return -2;
    int len = 0, rc = -2;
    size_t m = seal ? n : n - 16;
    if (EVP_CipherInit_ex2(c, EVP_aes_256_gcm(), kek, iv, seal ? 1 : 0, NULL) != 1 ||
        EVP_CipherUpdate(c, NULL, &len, aad, (int)aad_len) != 1 ||
        EVP_CipherUpdate(c, out, &len, in, (int)m) != 1 || (size_t)len != m)
        goto done;
    if (seal) {
        if (EVP_CipherFinal_ex(c, out + m, &len) != 1 ||
            EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + m) != 1)
            goto done;
        rc = 0;
    } else {
        unsigned char tag[16];
        memcpy(tag, in + m, 16);
        if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) != 1)
            goto done;
        rc = EVP_CipherFinal_ex(c, out + m, &len) == 1 ? 0 : -1;
        if (rc < 0)
            OPENSSL_cleanse(out, m);
    }
done:
    EVP_CIPHER_CTX_free(c);
    return rc;
}

int share_key_wrap(const unsigned char key[SHARE_KEY_LEN], const char *password,
                   size_t password_len, const char *transfer_id, const struct share_kdf_params *kdf,
                   struct share_wrapped_key *out, const char **error_r)
{
    memset(out, 0, sizeof(*out));
    if (share_kdf_params_check(kdf, error_r) < 0)
        return -1;
    if (password_len == 0 || password_len > SHARE_PASSWORD_MAX) {
        *error_r = "password empty or too long";
        return -1;
    }
    unsigned char aad[AAD_MAX];
    size_t aad_len = wrap_aad(transfer_id, aad);
    if (aad_len == 0) {
        *error_r = "transfer id empty or too long";
        return -1;
    }
    out->kdf = *kdf;
    if (RAND_bytes(out->salt, sizeof(out->salt)) != 1 ||
        RAND_bytes(out->iv, sizeof(out->iv)) != 1) {
        *error_r = "no random numbers";
        return -1;
    }
    unsigned char kek[KEK_LEN];
    if (derive_kek(kdf, password, password_len, out->salt, kek, error_r) < 0)
        return -1;
    int rc = gcm_once(true, kek, out->iv, aad, aad_len, key, SHARE_KEY_LEN, out->wrapped);
    OPENSSL_cleanse(kek, sizeof(kek));
    if (rc < 0) {
        memset(out, 0, sizeof(*out));
        *error_r = "AES-256-GCM failed";
        return -1;
    }
    return 0;
}

enum share_unwrap_result share_key_unwrap(const struct share_wrapped_key *wk, const char *password,
                                          size_t password_len, const char *transfer_id,
                                          unsigned char key[SHARE_KEY_LEN], const char **error_r)
{
    memset(key, 0, SHARE_KEY_LEN);
    if (share_kdf_params_check(&wk->kdf, error_r) < 0)
        return SHARE_UNWRAP_CORRUPT;
    if (password_len == 0 || password_len > SHARE_PASSWORD_MAX) {
        *error_r = "wrong password";
        return SHARE_UNWRAP_WRONG_PASSWORD;
    }
    unsigned char aad[AAD_MAX];
    size_t aad_len = wrap_aad(transfer_id, aad);
    if (aad_len == 0) {
        *error_r = "transfer id empty or too long";
        return SHARE_UNWRAP_ERROR;
    }
    unsigned char kek[KEK_LEN];
    if (derive_kek(&wk->kdf, password, password_len, wk->salt, kek, error_r) < 0)
        return SHARE_UNWRAP_ERROR;
    int rc = gcm_once(false, kek, wk->iv, aad, aad_len, wk->wrapped, SHARE_WRAPPED_LEN, key);
    OPENSSL_cleanse(kek, sizeof(kek));
    if (rc == -1) {
        *error_r = "wrong password";
        return SHARE_UNWRAP_WRONG_PASSWORD;
    }
    if (rc < 0) {
        *error_r = "AES-256-GCM failed";
        return SHARE_UNWRAP_ERROR;
    }
    return SHARE_UNWRAP_OK;
}

/* ---- the text record ---- */

/* The check of the n bytes of a record before its last '$'. */
static void record_check(const char *s, size_t n, unsigned char check[SHARE_WRAP_CHECK_LEN])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(s, n, md, &mdlen, EVP_sha256(), NULL);
    memcpy(check, md, SHARE_WRAP_CHECK_LEN);
}

/* Append base64url of n bytes at out[*o]; the room was counted by the caller. */
static void put_b64(char *out, size_t *o, const void *p, size_t n)
{
    long w = base64url_encode(p, n, out + *o, SHARE_WRAPPED_KEY_TEXT_MAX - *o);
    *o += (size_t)w;
}

/* Append a decimal number. */
static void put_u32(char *out, size_t *o, uint32_t v)
{
    char tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        out[(*o)++] = tmp[--n];
}

static void put_str(char *out, size_t *o, const char *s)
{
    size_t n = strlen(s);
    memcpy(out + *o, s, n);
    *o += n;
}

size_t share_wrapped_key_format(const struct share_wrapped_key *wk,
                                char out[SHARE_WRAPPED_KEY_TEXT_MAX])
{
    size_t o = 0;
    put_str(out, &o, PREFIX "m=");
    put_u32(out, &o, wk->kdf.memory_kib);
    put_str(out, &o, ",t=");
    put_u32(out, &o, wk->kdf.time);
    put_str(out, &o, ",p=");
    put_u32(out, &o, wk->kdf.parallelism);
    out[o++] = '$';
    put_b64(out, &o, wk->salt, sizeof(wk->salt));
    out[o++] = '$';
    put_b64(out, &o, wk->iv, sizeof(wk->iv));
    out[o++] = '$';
    put_b64(out, &o, wk->wrapped, sizeof(wk->wrapped));
    unsigned char check[SHARE_WRAP_CHECK_LEN];
    record_check(out, o, check);
    out[o++] = '$';
    put_b64(out, &o, check, sizeof(check));
    out[o] = '\0';
    return o;
}

/* Take "NAME=DIGITS" from s[*i..n) followed by end, then step over the
 * separator end. Canonical decimal only: no sign, no leading zero. */
static int take_param(const char *s, size_t n, size_t *i, char name, char end, uint32_t *v)
{
    if (n - *i < 3 || s[*i] != name || s[*i + 1] != '=')
        return -1;
    size_t j = *i + 2, start = j;
    uint64_t acc = 0;
    while (j < n && s[j] >= '0' && s[j] <= '9') {
        acc = acc * 10 + (uint64_t)(s[j] - '0');
        if (acc > UINT32_MAX)
            return -1;
        j++;
    }
    if (j == start || (s[start] == '0' && j - start > 1) || j >= n || s[j] != end)
        return -1;
    *v = (uint32_t)acc;
    *i = j + 1;
    return 0;
}

/* Take exactly chars characters of base64url ending at a '$' (or at the
 * end of the record if last), decoding into len bytes at out. */
static int take_b64(const char *s, size_t n, size_t *i, size_t chars, bool last, void *out,
                    size_t len)
{
    if (n - *i < chars + (last ? 0 : 1))
        return -1;
    if (last ? *i + chars != n : s[*i + chars] != '$')
        return -1;
    if (base64url_decode(s + *i, chars, out, len) != (long)len)
        return -1;
    *i += chars + (last ? 0 : 1);
    return 0;
}

int share_wrapped_key_parse(const char *s, size_t n, struct share_wrapped_key *wk,
                            const char **error_r)
{
    memset(wk, 0, sizeof(*wk));
    size_t plen = sizeof(PREFIX) - 1;
    if (n >= SHARE_WRAPPED_KEY_TEXT_MAX) {
        *error_r = "record too long";
        return -1;
    }
    if (n < plen || memcmp(s, PREFIX, plen) != 0) {
        *error_r = "not a wrapped share key of a known version";
        return -1;
    }
    size_t i = plen;
    struct share_kdf_params kdf;
    if (take_param(s, n, &i, 'm', ',', &kdf.memory_kib) < 0 ||
        take_param(s, n, &i, 't', ',', &kdf.time) < 0 ||
        take_param(s, n, &i, 'p', '$', &kdf.parallelism) < 0) {
        *error_r = "bad argon2id parameters";
        return -1;
    }
    if (share_kdf_params_check(&kdf, error_r) < 0)
        return -1;
    unsigned char check[SHARE_WRAP_CHECK_LEN];
    if (take_b64(s, n, &i, BASE64URL_LEN(SHARE_WRAP_SALT_LEN), false, wk->salt,
                 SHARE_WRAP_SALT_LEN) < 0 ||
        take_b64(s, n, &i, BASE64URL_LEN(SHARE_WRAP_IV_LEN), false, wk->iv, SHARE_WRAP_IV_LEN) <
            0 ||
        take_b64(s, n, &i, BASE64URL_LEN(SHARE_WRAPPED_LEN), false, wk->wrapped,
                 SHARE_WRAPPED_LEN) < 0) {
        memset(wk, 0, sizeof(*wk));
        *error_r = "bad salt, IV or wrapped key";
        return -1;
    }
    size_t checked = i - 1; /* everything before the last '$' */
    if (take_b64(s, n, &i, BASE64URL_LEN(SHARE_WRAP_CHECK_LEN), true, check, sizeof(check)) < 0) {
        memset(wk, 0, sizeof(*wk));
        *error_r = "bad check";
        return -1;
    }
    unsigned char want[SHARE_WRAP_CHECK_LEN];
    record_check(s, checked, want);
    if (CRYPTO_memcmp(want, check, sizeof(check)) != 0) {
        memset(wk, 0, sizeof(*wk));
        *error_r = "check mismatch: the record is damaged";
        return -1;
    }
    wk->kdf = kdf;
    return 0;
}

enum share_unwrap_result share_key_unwrap_text(const char *s, size_t n, const char *password,
                                               size_t password_len, const char *transfer_id,
                                               unsigned char key[SHARE_KEY_LEN],
                                               const char **error_r)
{
    struct share_wrapped_key wk;
    if (share_wrapped_key_parse(s, n, &wk, error_r) < 0) {
        memset(key, 0, SHARE_KEY_LEN);
        return SHARE_UNWRAP_CORRUPT;
    }
    return share_key_unwrap(&wk, password, password_len, transfer_id, key, error_r);
}

/* ---- the key in a link ---- */

void share_key_to_link(const unsigned char key[SHARE_KEY_LEN], char out[SHARE_LINK_KEY_LEN + 1])
{
    base64url_encode(key, SHARE_KEY_LEN, out, SHARE_LINK_KEY_LEN + 1);
}

int share_key_from_link(const char *s, size_t n, unsigned char key[SHARE_KEY_LEN])
{
    if (n != SHARE_LINK_KEY_LEN || base64url_decode(s, n, key, SHARE_KEY_LEN) != SHARE_KEY_LEN) {
        memset(key, 0, SHARE_KEY_LEN);
        return -1;
    }
    return 0;
}
