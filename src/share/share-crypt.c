#include "share/share-crypt.h"

#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "lib/buf.h"
#include "lib/xalloc.h"

#define IV_LEN     12
#define AAD_LEN    (SHARE_HEADER_LEN + 4 + 1)
#define OKM_LEN    (SHARE_KEY_LEN + SHARE_KEY_CHECK_LEN)
#define MSG_MAX    96
#define HKDF_INFO  "postino share v1 file key"
#define OFF_VER    8
#define OFF_MODE   9
#define OFF_RSVD   10
#define OFF_CHUNK  12
#define OFF_SALT   16
#define OFF_PREFIX 32
#define OFF_CHECK  40

int share_crypt_output_buf(void *ctx, const unsigned char *data, size_t len)
{
    return buf_append(ctx, data, len);
}

const char *share_crypt_error_name(enum share_crypt_error e)
{
    switch (e) {
    case SHARE_CRYPT_OK:
        return "no error";
    case SHARE_CRYPT_BAD_HEADER:
        return "bad header";
    case SHARE_CRYPT_WRONG_KEY:
        return "wrong key";
    case SHARE_CRYPT_AUTH:
        return "authentication failed";
    case SHARE_CRYPT_TRUNCATED:
        return "truncated";
    case SHARE_CRYPT_TRAILING:
        return "data after the final chunk";
    case SHARE_CRYPT_FORMAT:
        return "empty final chunk";
    case SHARE_CRYPT_TOO_LONG:
        return "too many chunks";
    case SHARE_CRYPT_OUTPUT:
        return "output refused";
    case SHARE_CRYPT_INTERNAL:
        return "internal error";
    }
    return "unknown error";
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool chunk_size_ok(uint32_t c)
{
    return c >= SHARE_CHUNK_MIN && c <= SHARE_CHUNK_MAX;
}

static bool mode_ok(unsigned m)
{
    return m == SHARE_MODE_PASSWORD || m == SHARE_MODE_LINK || m == SHARE_MODE_E2E;
}

/* ---- the header ---- */

int share_header_init(struct share_header *h, enum share_mode mode, uint32_t chunk_size,
                      const char **error_r)
{
    memset(h, 0, sizeof(*h));
    if (!mode_ok(mode)) {
        *error_r = "unknown mode";
        return -1;
    }
    if (!chunk_size_ok(chunk_size)) {
        *error_r = "chunk size out of bounds";
        return -1;
    }
    h->version = SHARE_VERSION;
    h->mode = (uint8_t)mode;
    h->chunk_size = chunk_size;
    if (RAND_bytes(h->salt, sizeof(h->salt)) != 1 ||
        RAND_bytes(h->nonce_prefix, sizeof(h->nonce_prefix)) != 1) {
        *error_r = "no random numbers";
        return -1;
    }
    return 0;
}

int share_header_parse(const void *data, size_t len, struct share_header *h, const char **error_r)
{
    const unsigned char *p = data;
    memset(h, 0, sizeof(*h));
    if (len < SHARE_HEADER_LEN) {
        *error_r = "header too short";
        return -1;
    }
    if (memcmp(p, SHARE_MAGIC, 8) != 0) {
        *error_r = "not a postino share file (bad magic)";
        return -1;
    }
    if (p[OFF_VER] != SHARE_VERSION) {
        *error_r = "unknown format version";
        return -1;
    }
    if (!mode_ok(p[OFF_MODE])) {
        *error_r = "unknown key mode";
        return -1;
    }
    if (p[OFF_RSVD] != 0 || p[OFF_RSVD + 1] != 0) {
        *error_r = "reserved header bytes are not zero";
        return -1;
    }
    uint32_t c = get_be32(p + OFF_CHUNK);
    if (!chunk_size_ok(c)) {
        *error_r = "chunk size out of bounds";
        return -1;
    }
    h->version = p[OFF_VER];
    h->mode = p[OFF_MODE];
    h->chunk_size = c;
    memcpy(h->salt, p + OFF_SALT, SHARE_SALT_LEN);
    memcpy(h->nonce_prefix, p + OFF_PREFIX, SHARE_NONCE_PREFIX_LEN);
    memcpy(h->key_check, p + OFF_CHECK, SHARE_KEY_CHECK_LEN);
    return 0;
}

void share_header_format(const struct share_header *h, unsigned char out[SHARE_HEADER_LEN])
{
    memcpy(out, SHARE_MAGIC, 8);
    out[OFF_VER] = h->version;
    out[OFF_MODE] = h->mode;
    out[OFF_RSVD] = 0;
    out[OFF_RSVD + 1] = 0;
    put_be32(out + OFF_CHUNK, h->chunk_size);
    memcpy(out + OFF_SALT, h->salt, SHARE_SALT_LEN);
    memcpy(out + OFF_PREFIX, h->nonce_prefix, SHARE_NONCE_PREFIX_LEN);
    memcpy(out + OFF_CHECK, h->key_check, SHARE_KEY_CHECK_LEN);
}

/* ---- lengths ---- */

int share_crypt_ciphertext_len(uint64_t plain_len, uint32_t chunk_size, uint64_t *out)
{
    if (!chunk_size_ok(chunk_size))
        return -1;
    uint64_t chunks = plain_len / chunk_size + (plain_len % chunk_size != 0);
    if (chunks == 0)
        chunks = 1; /* the empty file: one empty final chunk */
    if (chunks > SHARE_CHUNKS_MAX)
        return -1;
    /* At most 2^32 * 2^20 plaintext bytes: no overflow. */
    *out = SHARE_HEADER_LEN + plain_len + chunks * SHARE_TAG_LEN;
    return 0;
}

int share_crypt_plaintext_len(uint64_t cipher_len, uint32_t chunk_size, uint64_t *out)
{
    if (!chunk_size_ok(chunk_size) || cipher_len < SHARE_HEADER_LEN + SHARE_TAG_LEN)
        return -1;
    uint64_t body = cipher_len - SHARE_HEADER_LEN;
    uint64_t full = (uint64_t)chunk_size + SHARE_TAG_LEN;
    uint64_t n = body / full, rem = body % full;
    uint64_t chunks = n + (rem != 0);
    if (chunks > SHARE_CHUNKS_MAX)
        return -1;
    if (rem == 0) {
        *out = n * chunk_size;
        return 0;
    }
    /* A short last chunk holds at least one byte, unless it is the only
     * one (the empty file). */
    if (rem < SHARE_TAG_LEN || (rem == SHARE_TAG_LEN && n > 0))
        return -1;
    *out = n * chunk_size + (rem - SHARE_TAG_LEN);
    return 0;
}

int share_crypt_resume_point(uint64_t stored_cipher_len, uint32_t chunk_size, uint64_t *chunk_r,
                             uint64_t *plain_off_r, uint64_t *cipher_off_r)
{
    if (!chunk_size_ok(chunk_size))
        return -1;
    *chunk_r = *plain_off_r = *cipher_off_r = 0;
    if (stored_cipher_len < SHARE_HEADER_LEN)
        return 0;
    uint64_t full = (uint64_t)chunk_size + SHARE_TAG_LEN;
    uint64_t k = (stored_cipher_len - SHARE_HEADER_LEN) / full;
    if (k >= SHARE_CHUNKS_MAX)
        return -1;
    *chunk_r = k;
    *plain_off_r = k * chunk_size;
    *cipher_off_r = SHARE_HEADER_LEN + k * full;
    return 0;
}

/* ---- the per-file key and the chunks ---- */

/* HKDF-SHA256(key, salt, HKDF_INFO): the AES key of the file, then its
 * key check. Returns 0 or -1. */
static int derive_file_key(const unsigned char key[SHARE_KEY_LEN],
                           const unsigned char salt[SHARE_SALT_LEN], unsigned char okm[OKM_LEN])
{
    static char digest[] = "SHA256";
    static char info[] = HKDF_INFO;
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    if (!kdf)
        return -1;
    EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (!kctx)
        return -1;
    OSSL_PARAM params[5];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, SHARE_KEY_LEN);
    params[2] =
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, SHARE_SALT_LEN);
    params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, sizeof(info) - 1);
    params[4] = OSSL_PARAM_construct_end();
    int ok = EVP_KDF_derive(kctx, okm, OKM_LEN, params) == 1;
    EVP_KDF_CTX_free(kctx);
    return ok ? 0 : -1;
}

/* The keyed cipher context of a file, and its key check. Returns NULL on
 * an OpenSSL failure. */
static EVP_CIPHER_CTX *file_cipher_new(const unsigned char key[SHARE_KEY_LEN],
                                       const struct share_header *h, bool encrypt,
                                       unsigned char check[SHARE_KEY_CHECK_LEN])
{
    unsigned char okm[OKM_LEN];
    if (derive_file_key(key, h->salt, okm) < 0)
        return NULL;
    memcpy(check, okm + SHARE_KEY_LEN, SHARE_KEY_CHECK_LEN);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int ok = c != NULL;
    if (ok && encrypt)
        ok = EVP_EncryptInit_ex2(c, EVP_aes_256_gcm(), okm, NULL, NULL) == 1;
    else if (ok)
        ok = EVP_DecryptInit_ex2(c, EVP_aes_256_gcm(), okm, NULL, NULL) == 1;
    OPENSSL_cleanse(okm, sizeof(okm));
    if (!ok) {
        EVP_CIPHER_CTX_free(c);
        return NULL;
    }
    return c;
}

/* The IV and additional data of chunk index of a file. */
static void chunk_iv_aad(const unsigned char hdr[SHARE_HEADER_LEN], uint32_t index, bool final,
                         unsigned char iv[IV_LEN], unsigned char aad[AAD_LEN])
{
    memcpy(iv, hdr + OFF_PREFIX, SHARE_NONCE_PREFIX_LEN);
    put_be32(iv + SHARE_NONCE_PREFIX_LEN, index);
    memcpy(aad, hdr, SHARE_HEADER_LEN);
    put_be32(aad + SHARE_HEADER_LEN, index);
    aad[SHARE_HEADER_LEN + 4] = final ? 1 : 0;
}

/* Encrypt n (<= SHARE_CHUNK_MAX) bytes as chunk index into out (n + tag
 * bytes). Returns 0, or -1 on an OpenSSL failure. */
static int chunk_seal(EVP_CIPHER_CTX *c, const unsigned char hdr[SHARE_HEADER_LEN], uint32_t index,
                      bool final, const unsigned char *in, size_t n, unsigned char *out)
{
    unsigned char iv[IV_LEN], aad[AAD_LEN];
    chunk_iv_aad(hdr, index, final, iv, aad);
    int len = 0, fin = 0;
    if (EVP_EncryptInit_ex2(c, NULL, NULL, iv, NULL) != 1 ||
        EVP_EncryptUpdate(c, NULL, &len, aad, AAD_LEN) != 1)
        return -1;
    if (n > 0 && (EVP_EncryptUpdate(c, out, &len, in, (int)n) != 1 || (size_t)len != n))
        return -1;
    if (EVP_EncryptFinal_ex(c, out + n, &fin) != 1 || fin != 0 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, SHARE_TAG_LEN, out + n) != 1)
        return -1;
    return 0;
}

/* Decrypt chunk index (n >= tag bytes at in, tag last) into out (n - tag
 * bytes). Returns 0 if it authenticates, -1 if not (out is then wiped), -2
 * on an OpenSSL failure. */
static int chunk_open(EVP_CIPHER_CTX *c, const unsigned char hdr[SHARE_HEADER_LEN], uint32_t index,
                      bool final, const unsigned char *in, size_t n, unsigned char *out)
{
    unsigned char iv[IV_LEN], aad[AAD_LEN], tag[SHARE_TAG_LEN];
    size_t m = n - SHARE_TAG_LEN;
    chunk_iv_aad(hdr, index, final, iv, aad);
    memcpy(tag, in + m, SHARE_TAG_LEN);
    int len = 0, fin = 0;
    if (EVP_DecryptInit_ex2(c, NULL, NULL, iv, NULL) != 1 ||
        EVP_DecryptUpdate(c, NULL, &len, aad, AAD_LEN) != 1)
        return -2;
    if (m > 0 && (EVP_DecryptUpdate(c, out, &len, in, (int)m) != 1 || (size_t)len != m))
        return -2;
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, SHARE_TAG_LEN, tag) != 1)
        return -2;
    if (EVP_DecryptFinal_ex(c, out + m, &fin) != 1) {
        OPENSSL_cleanse(out, m);
        return -1;
    }
    return 0;
}

/* Write "NAME at chunk K"-style text into msg (MSG_MAX), falling back to
 * the bare name if it does not fit. */
static void set_message(char *msg, enum share_crypt_error e, const char *detail, uint64_t chunk,
                        bool with_chunk)
{
    int n;
    if (with_chunk)
        n = snprintf(msg, MSG_MAX, "%s%s%llu", share_crypt_error_name(e), detail,
                     (unsigned long long)chunk);
    else if (detail)
        n = snprintf(msg, MSG_MAX, "%s: %s", share_crypt_error_name(e), detail);
    else
        n = snprintf(msg, MSG_MAX, "%s", share_crypt_error_name(e));
    if (n < 0 || n >= MSG_MAX)
        snprintf(msg, MSG_MAX, "%s", share_crypt_error_name(e));
}

/* ---- encryption ---- */

struct share_encrypt {
    struct share_header h;
    unsigned char hdr[SHARE_HEADER_LEN];
    EVP_CIPHER_CTX *cipher;
    share_crypt_output_fn *out;
    void *out_ctx;
    unsigned char *plain; /* chunk_size bytes: the chunk being filled */
    size_t plain_len;
    unsigned char *sealed; /* chunk_size + tag bytes */
    uint64_t index;        /* the number of the chunk being filled */
    bool header_sent;
    bool finished;
    enum share_crypt_error err;
    char msg[MSG_MAX];
};

static struct share_encrypt *encrypt_new(const struct share_header *h,
                                         const unsigned char key[SHARE_KEY_LEN],
                                         uint64_t first_chunk, bool resume,
                                         share_crypt_output_fn *out, void *ctx,
                                         const char **error_r)
{
    if (h->version != SHARE_VERSION || !mode_ok(h->mode) || !chunk_size_ok(h->chunk_size)) {
        *error_r = "invalid header";
        return NULL;
    }
    if (first_chunk >= SHARE_CHUNKS_MAX) {
        *error_r = "too many chunks";
        return NULL;
    }
    unsigned char check[SHARE_KEY_CHECK_LEN];
    EVP_CIPHER_CTX *cipher = file_cipher_new(key, h, true, check);
    if (!cipher) {
        *error_r = "cannot set up AES-256-GCM";
        return NULL;
    }
    if (resume && CRYPTO_memcmp(check, h->key_check, SHARE_KEY_CHECK_LEN) != 0) {
        EVP_CIPHER_CTX_free(cipher);
        *error_r = "wrong key";
        return NULL;
    }
    struct share_encrypt *e = xcalloc(1, sizeof(*e));
    e->h = *h;
    memcpy(e->h.key_check, check, SHARE_KEY_CHECK_LEN);
    share_header_format(&e->h, e->hdr);
    e->cipher = cipher;
    e->out = out;
    e->out_ctx = ctx;
    e->plain = xmalloc(h->chunk_size);
    e->sealed = xmalloc((size_t)h->chunk_size + SHARE_TAG_LEN);
    e->index = first_chunk;
    e->header_sent = resume;
    return e;
}

struct share_encrypt *share_encrypt_new(const struct share_header *h,
                                        const unsigned char key[SHARE_KEY_LEN],
                                        share_crypt_output_fn *out, void *ctx, const char **error_r)
{
    return encrypt_new(h, key, 0, false, out, ctx, error_r);
}

struct share_encrypt *share_encrypt_resume(const struct share_header *h,
                                           const unsigned char key[SHARE_KEY_LEN],
                                           uint64_t first_chunk, share_crypt_output_fn *out,
                                           void *ctx, const char **error_r)
{
    return encrypt_new(h, key, first_chunk, true, out, ctx, error_r);
}

static int encrypt_fail(struct share_encrypt *e, enum share_crypt_error err, const char *detail)
{
    e->err = err;
    set_message(e->msg, err, detail, 0, false);
    OPENSSL_cleanse(e->plain, e->h.chunk_size);
    return -1;
}

/* Write the header if it has not been written yet. */
static int encrypt_header(struct share_encrypt *e)
{
    if (e->header_sent)
        return 0;
    e->header_sent = true;
    if (e->out(e->out_ctx, e->hdr, SHARE_HEADER_LEN) < 0)
        return encrypt_fail(e, SHARE_CRYPT_OUTPUT, NULL);
    return 0;
}

/* Encrypt n bytes at in as the current chunk and output it. */
static int encrypt_chunk(struct share_encrypt *e, const unsigned char *in, size_t n, bool final)
{
    /* A chunk that is not the last one must leave a number for the next. */
    if (!final && e->index >= SHARE_CHUNKS_MAX - 1)
        return encrypt_fail(e, SHARE_CRYPT_TOO_LONG, NULL);
    if (chunk_seal(e->cipher, e->hdr, (uint32_t)e->index, final, in, n, e->sealed) < 0)
        return encrypt_fail(e, SHARE_CRYPT_INTERNAL, "AES-256-GCM failed");
    if (e->out(e->out_ctx, e->sealed, n + SHARE_TAG_LEN) < 0)
        return encrypt_fail(e, SHARE_CRYPT_OUTPUT, NULL);
    e->index++;
    return 0;
}

int share_encrypt_update(struct share_encrypt *e, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t c = e->h.chunk_size;
    if (e->err != SHARE_CRYPT_OK)
        return -1;
    if (e->finished)
        return encrypt_fail(e, SHARE_CRYPT_INTERNAL, "data after the end");
    if (encrypt_header(e) < 0)
        return -1;
    while (len > 0) {
        /* A full chunk with more data after it is not the last one. */
        if (e->plain_len == c) {
            if (encrypt_chunk(e, e->plain, c, false) < 0)
                return -1;
            e->plain_len = 0;
        }
        /* Whole chunks straight from the input, when more follows. */
        while (e->plain_len == 0 && len > c) {
            if (encrypt_chunk(e, p, c, false) < 0)
                return -1;
            p += c;
            len -= c;
        }
        size_t take = c - e->plain_len < len ? c - e->plain_len : len;
        memcpy(e->plain + e->plain_len, p, take);
        e->plain_len += take;
        p += take;
        len -= take;
    }
    return 0;
}

int share_encrypt_finish(struct share_encrypt *e)
{
    if (e->err != SHARE_CRYPT_OK)
        return -1;
    if (e->finished)
        return encrypt_fail(e, SHARE_CRYPT_INTERNAL, "finished twice");
    if (encrypt_header(e) < 0)
        return -1;
    /* A resumed file that ends right at its first new chunk has no
     * plaintext left for a final chunk: it would need an empty one. */
    if (e->plain_len == 0 && e->index > 0)
        return encrypt_fail(e, SHARE_CRYPT_FORMAT, "nothing left for the final chunk");
    if (encrypt_chunk(e, e->plain, e->plain_len, true) < 0)
        return -1;
    e->finished = true;
    OPENSSL_cleanse(e->plain, e->h.chunk_size);
    e->plain_len = 0;
    return 0;
}

const struct share_header *share_encrypt_header(const struct share_encrypt *e)
{
    return &e->h;
}

enum share_crypt_error share_encrypt_status(const struct share_encrypt *e)
{
    return e->err;
}

const char *share_encrypt_error(const struct share_encrypt *e)
{
    return e->err == SHARE_CRYPT_OK ? share_crypt_error_name(e->err) : e->msg;
}

void share_encrypt_free(struct share_encrypt **ep)
{
    struct share_encrypt *e = *ep;
    if (!e)
        return;
    EVP_CIPHER_CTX_free(e->cipher);
    OPENSSL_cleanse(e->plain, e->h.chunk_size);
    free(e->plain);
    free(e->sealed);
    OPENSSL_cleanse(e, sizeof(*e));
    free(e);
    *ep = NULL;
}

/* ---- decryption ---- */

struct share_decrypt {
    unsigned char key[SHARE_KEY_LEN];
    unsigned char hdr[SHARE_HEADER_LEN];
    size_t hdr_len;
    struct share_header h;
    bool have_header; /* parsed, key checked, buffers allocated */
    EVP_CIPHER_CTX *cipher;
    share_crypt_output_fn *out;
    void *out_ctx;
    unsigned char *in; /* chunk_size + tag bytes: the chunk being read */
    size_t in_len;
    unsigned char *plain; /* chunk_size bytes: a verified plaintext */
    uint64_t index;       /* the number of the chunk being read */
    uint64_t plain_bytes;
    bool finished;
    enum share_crypt_error err;
    uint64_t err_chunk;
    char msg[MSG_MAX];
};

struct share_decrypt *share_decrypt_new(const unsigned char key[SHARE_KEY_LEN],
                                        share_crypt_output_fn *out, void *ctx, const char **error_r)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c) {
        *error_r = "cannot set up AES-256-GCM";
        return NULL;
    }
    struct share_decrypt *d = xcalloc(1, sizeof(*d));
    memcpy(d->key, key, SHARE_KEY_LEN);
    d->cipher = c;
    d->out = out;
    d->out_ctx = ctx;
    return d;
}

static int decrypt_fail(struct share_decrypt *d, enum share_crypt_error err, const char *detail,
                        bool with_chunk)
{
    d->err = err;
    d->err_chunk = d->index;
    set_message(d->msg, err, detail, d->index, with_chunk);
    return -1;
}

/* The header is complete: parse it, check the key, set up the cipher. */
static int decrypt_start(struct share_decrypt *d)
{
    const char *why;
    if (share_header_parse(d->hdr, SHARE_HEADER_LEN, &d->h, &why) < 0)
        return decrypt_fail(d, SHARE_CRYPT_BAD_HEADER, why, false);
    unsigned char okm[OKM_LEN];
    if (derive_file_key(d->key, d->h.salt, okm) < 0)
        return decrypt_fail(d, SHARE_CRYPT_INTERNAL, "HKDF failed", false);
    if (CRYPTO_memcmp(okm + SHARE_KEY_LEN, d->h.key_check, SHARE_KEY_CHECK_LEN) != 0) {
        OPENSSL_cleanse(okm, sizeof(okm));
        return decrypt_fail(d, SHARE_CRYPT_WRONG_KEY, NULL, false);
    }
    int ok = EVP_DecryptInit_ex2(d->cipher, EVP_aes_256_gcm(), okm, NULL, NULL) == 1;
    OPENSSL_cleanse(okm, sizeof(okm));
    if (!ok)
        return decrypt_fail(d, SHARE_CRYPT_INTERNAL, "AES-256-GCM failed", false);
    d->in = xmalloc((size_t)d->h.chunk_size + SHARE_TAG_LEN);
    d->plain = xmalloc(d->h.chunk_size);
    d->have_header = true;
    return 0;
}

/* Verify chunk d->index (n bytes at in, tag included) as final or not, and
 * output its plaintext. When it fails, the other flag tells a stream cut
 * after a whole chunk, or going on after its final one, from damage. */
static int decrypt_chunk(struct share_decrypt *d, const unsigned char *in, size_t n, bool final)
{
    size_t full = (size_t)d->h.chunk_size + SHARE_TAG_LEN;
    if (!final && d->index >= SHARE_CHUNKS_MAX - 1)
        return decrypt_fail(d, SHARE_CRYPT_TOO_LONG, NULL, false);
    uint32_t i = (uint32_t)d->index;
    int rc = chunk_open(d->cipher, d->hdr, i, final, in, n, d->plain);
    if (rc == -2)
        return decrypt_fail(d, SHARE_CRYPT_INTERNAL, "AES-256-GCM failed", false);
    if (rc < 0) {
        if (n == full) {
            rc = chunk_open(d->cipher, d->hdr, i, !final, in, n, d->plain);
            OPENSSL_cleanse(d->plain, d->h.chunk_size);
            if (rc == 0 && final)
                return decrypt_fail(d, SHARE_CRYPT_TRUNCATED,
                                    ": the stream ends without its final chunk, after chunk ",
                                    true);
            if (rc == 0)
                return decrypt_fail(d, SHARE_CRYPT_TRAILING, ", which is chunk ", true);
        }
        return decrypt_fail(d, SHARE_CRYPT_AUTH, " at chunk ", true);
    }
    size_t m = n - SHARE_TAG_LEN;
    if (final && m == 0 && d->index > 0)
        return decrypt_fail(d, SHARE_CRYPT_FORMAT, " at chunk ", true);
    if (m > 0 && d->out(d->out_ctx, d->plain, m) < 0) {
        OPENSSL_cleanse(d->plain, m);
        return decrypt_fail(d, SHARE_CRYPT_OUTPUT, NULL, false);
    }
    /* the next chunk overwrites the plaintext, and the end wipes it: no
     * wipe per chunk (it cost a few per cent of a download) */
    d->plain_bytes += m;
    d->index++;
    return 0;
}

int share_decrypt_update(struct share_decrypt *d, const void *data, size_t len)
{
    const unsigned char *p = data;
    if (d->err != SHARE_CRYPT_OK)
        return -1;
    if (d->finished)
        return decrypt_fail(d, SHARE_CRYPT_INTERNAL, "data after the end", false);
    if (!d->have_header) {
        size_t take = SHARE_HEADER_LEN - d->hdr_len < len ? SHARE_HEADER_LEN - d->hdr_len : len;
        memcpy(d->hdr + d->hdr_len, p, take);
        d->hdr_len += take;
        p += take;
        len -= take;
        if (d->hdr_len < SHARE_HEADER_LEN)
            return 0;
        if (decrypt_start(d) < 0)
            return -1;
    }
    size_t full = (size_t)d->h.chunk_size + SHARE_TAG_LEN;
    while (len > 0) {
        /* A whole chunk with more bytes after it is not the last one. */
        if (d->in_len == full) {
            if (decrypt_chunk(d, d->in, full, false) < 0)
                return -1;
            d->in_len = 0;
        }
        /* Whole chunks straight from the input, when more follows. */
        while (d->in_len == 0 && len > full) {
            if (decrypt_chunk(d, p, full, false) < 0)
                return -1;
            p += full;
            len -= full;
        }
        size_t take = full - d->in_len < len ? full - d->in_len : len;
        memcpy(d->in + d->in_len, p, take);
        d->in_len += take;
        p += take;
        len -= take;
    }
    return 0;
}

int share_decrypt_finish(struct share_decrypt *d)
{
    if (d->err != SHARE_CRYPT_OK)
        return -1;
    if (d->finished)
        return decrypt_fail(d, SHARE_CRYPT_INTERNAL, "finished twice", false);
    if (!d->have_header)
        return decrypt_fail(d, SHARE_CRYPT_TRUNCATED, "the stream ends in the header", false);
    if (d->in_len < SHARE_TAG_LEN)
        return decrypt_fail(d, SHARE_CRYPT_TRUNCATED, ": the stream ends inside chunk ", true);
    if (decrypt_chunk(d, d->in, d->in_len, true) < 0)
        return -1;
    d->finished = true;
    d->in_len = 0;
    return 0;
}

const struct share_header *share_decrypt_header(const struct share_decrypt *d)
{
    return d->have_header ? &d->h : NULL;
}

enum share_crypt_error share_decrypt_status(const struct share_decrypt *d, uint64_t *chunk_r)
{
    if (chunk_r)
        *chunk_r = d->err_chunk;
    return d->err;
}

const char *share_decrypt_error(const struct share_decrypt *d)
{
    return d->err == SHARE_CRYPT_OK ? share_crypt_error_name(d->err) : d->msg;
}

uint64_t share_decrypt_plain_bytes(const struct share_decrypt *d)
{
    return d->plain_bytes;
}

void share_decrypt_free(struct share_decrypt **dp)
{
    struct share_decrypt *d = *dp;
    if (!d)
        return;
    EVP_CIPHER_CTX_free(d->cipher);
    if (d->plain)
        OPENSSL_cleanse(d->plain, d->h.chunk_size);
    free(d->plain);
    free(d->in);
    OPENSSL_cleanse(d, sizeof(*d));
    free(d);
    *dp = NULL;
}
