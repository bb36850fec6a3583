/* libFuzzer target: the share portal's decryptor fed arbitrary bytes in
 * arbitrary pieces, with a fixed key (00 01 .. 1f, the key the seeds were
 * made with: tests/unit/share-crypt-tool encrypt KEYHEX). Besides not
 * crashing, it must never hand out unauthenticated plaintext: every piece
 * of output is checked here against an independent decryption of its
 * chunk (HKDF and AES-256-GCM straight from OpenSSL), and must come only
 * once the whole chunk, tag included, has been fed. A stream that
 * finishes cleanly must have output exactly what its length promises.
 *
 * The input is also encrypted as plaintext (chunk size from its first
 * byte, pieces from its hash) and must decrypt back to itself. */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "fuzz-util.h"
#include "lib/buf.h"
#include "share/share-crypt.h"

#define EMITS_MAX 65536

static const unsigned char key[SHARE_KEY_LEN] = {
    0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
};

struct emit {
    size_t fed;     /* input bytes fed when it came out */
    bool finishing; /* it came out of share_decrypt_finish */
    size_t off;     /* where its bytes are in the output buffer */
    size_t len;
};

struct run {
    size_t fed;
    bool finishing;
    bool failed; /* an update or finish has returned -1 */
    struct buf out;
    struct emit emits[EMITS_MAX];
    size_t n_emits;
};

static int collect(void *ctx, const unsigned char *data, size_t len)
{
    struct run *r = ctx;
    CHECK(!r->failed);
    CHECK(len > 0);
    CHECK(r->n_emits < EMITS_MAX);
    r->emits[r->n_emits++] = (struct emit){r->fed, r->finishing, r->out.len, len};
    CHECK(buf_append(&r->out, data, len) == 0);
    return 0;
}

/* The reference: decrypt chunk i of the file in data (its header first)
 * with the given final flag into out. Returns the plaintext length, or -1
 * if it does not authenticate. */
static long ref_open(const uint8_t *data, size_t size, uint32_t chunk_size, size_t i, size_t len,
                     bool final, unsigned char *out)
{
    static char digest[] = "SHA256";
    static char info[] = "postino share v1 file key";
    unsigned char okm[48];
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf);
    OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, SHARE_KEY_LEN),
        OSSL_PARAM_octet_string(OSSL_KDF_PARAM_SALT, (void *)(data + 16), 16),
        OSSL_PARAM_octet_string(OSSL_KDF_PARAM_INFO, info, sizeof(info) - 1),
        OSSL_PARAM_END,
    };
    CHECK(EVP_KDF_derive(kctx, okm, sizeof(okm), params) == 1);
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    /* The key check must have matched for anything to come out. */
    CHECK(memcmp(okm + 32, data + 40, 16) == 0);

    size_t start = SHARE_HEADER_LEN + i * ((size_t)chunk_size + SHARE_TAG_LEN);
    CHECK(start + len + SHARE_TAG_LEN <= size);
    unsigned char iv[12], aad[SHARE_HEADER_LEN + 5];
    memcpy(iv, data + 32, 8);
    memcpy(aad, data, SHARE_HEADER_LEN);
    for (int b = 0; b < 4; b++)
        iv[8 + b] = aad[SHARE_HEADER_LEN + b] = (unsigned char)(i >> (24 - 8 * b));
    aad[SHARE_HEADER_LEN + 4] = final;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, ok;
    ok = EVP_DecryptInit_ex2(c, EVP_aes_256_gcm(), okm, iv, NULL) == 1 &&
         EVP_DecryptUpdate(c, NULL, &n, aad, sizeof(aad)) == 1 &&
         (len == 0 || EVP_DecryptUpdate(c, out, &n, data + start, (int)len) == 1) &&
         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)(data + start + len)) == 1 &&
         EVP_DecryptFinal_ex(c, out + len, &n) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok ? (long)len : -1;
}

static void check_decrypt(const uint8_t *data, size_t size)
{
    static struct run r;
    r.fed = 0;
    r.finishing = r.failed = false;
    r.n_emits = 0;
    buf_init(&r.out, BUF_UNLIMITED);
    const char *err;
    struct share_decrypt *d = share_decrypt_new(key, collect, &r, &err);
    CHECK(d != NULL);
    struct fuzz_rng rng;
    fuzz_rng_init(&rng, data, size);
    int rc = 0;
    while (rc == 0 && r.fed < size) {
        size_t n = fuzz_rng_piece(&rng, size - r.fed < 200 ? size - r.fed : 200);
        if (fuzz_rng_next(&rng) % 8 == 0)
            n = size - r.fed; /* the rest at once, sometimes */
        r.fed += n;
        rc = share_decrypt_update(d, data + r.fed - n, n);
    }
    if (rc == 0) {
        r.finishing = true;
        rc = share_decrypt_finish(d);
    }
    r.failed = rc < 0;
    uint64_t chunk;
    enum share_crypt_error e = share_decrypt_status(d, &chunk);
    CHECK((rc == 0) == (e == SHARE_CRYPT_OK));
    CHECK(share_decrypt_error(d)[0] != '\0');
    /* Nothing more comes out after a failure. */
    if (rc < 0) {
        CHECK(share_decrypt_update(d, data, size) == -1);
        CHECK(share_decrypt_finish(d) == -1);
    }

    /* Each output is chunk k, whole, fed, authentic. */
    if (r.n_emits > 0) {
        const struct share_header *h = share_decrypt_header(d);
        CHECK(h != NULL);
        uint32_t cs = h->chunk_size;
        unsigned char *plain = malloc(cs);
        for (size_t k = 0; k < r.n_emits; k++) {
            const struct emit *em = &r.emits[k];
            size_t end =
                SHARE_HEADER_LEN + k * ((size_t)cs + SHARE_TAG_LEN) + em->len + SHARE_TAG_LEN;
            CHECK(em->fed >= end);
            /* A chunk is known not to be the last only once more follows. */
            CHECK(em->finishing || em->fed > end);
            CHECK(em->finishing || em->len == cs);
            CHECK(ref_open(data, size, cs, k, em->len, em->finishing, plain) == (long)em->len);
            CHECK(memcmp(plain, r.out.data + em->off, em->len) == 0);
        }
        free(plain);
    }
    CHECK(share_decrypt_plain_bytes(d) == r.out.len);
    if (rc == 0) {
        const struct share_header *h = share_decrypt_header(d);
        CHECK(h != NULL);
        uint64_t want;
        CHECK(share_crypt_plaintext_len(size, h->chunk_size, &want) == 0);
        CHECK(want == r.out.len);
    }
    share_decrypt_free(&d);
    buf_free(&r.out);
}

/* Encrypt the input and decrypt it back. */
static void check_round_trip(const uint8_t *data, size_t size)
{
    if (size == 0)
        return;
    uint32_t cs = SHARE_CHUNK_MIN + data[0] % 64;
    struct share_header h;
    const char *err;
    CHECK(share_header_init(&h, SHARE_MODE_E2E, cs, &err) == 0);
    struct buf ct, pt;
    buf_init(&ct, BUF_UNLIMITED);
    buf_init(&pt, BUF_UNLIMITED);
    struct share_encrypt *e = share_encrypt_new(&h, key, share_crypt_output_buf, &ct, &err);
    CHECK(e != NULL);
    struct fuzz_rng rng;
    fuzz_rng_init(&rng, data, size);
    for (size_t off = 0; off < size;) {
        size_t n = fuzz_rng_piece(&rng, size - off < 150 ? size - off : 150);
        CHECK(share_encrypt_update(e, data + off, n) == 0);
        off += n;
    }
    CHECK(share_encrypt_finish(e) == 0);
    share_encrypt_free(&e);
    uint64_t want;
    CHECK(share_crypt_ciphertext_len(size, cs, &want) == 0 && want == ct.len);
    struct share_decrypt *d = share_decrypt_new(key, share_crypt_output_buf, &pt, &err);
    CHECK(share_decrypt_update(d, ct.data, ct.len) == 0);
    CHECK(share_decrypt_finish(d) == 0);
    share_decrypt_free(&d);
    CHECK(pt.len == size && memcmp(pt.data, data, size) == 0);
    buf_free(&ct);
    buf_free(&pt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *in = (uint8_t *)fuzz_copy(data, size);
    check_decrypt(in, size);
    check_round_trip(in, size);
    free(in);
    return 0;
}
