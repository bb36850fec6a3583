/* Unit tests of src/share/share-crypt.c: the header, the lengths, round
 * trips at many sizes with the input split at every byte, every kind of
 * tampering, and known-answer vectors computed by an independent
 * implementation (Python's cryptography package; the same vectors are
 * checked against the browser's code in tests/integration/
 * test_share_crypt_js.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "lib/buf.h"
#include "share/share-crypt.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* The vectors' inputs: key 00..1f, salt 40..4f, nonce prefix a0..a7. */
static const char kat_plain[] = "The quick brown fox jumps over the lazy dog.";
/* Mode 3 (end-to-end), chunk size 16: chunks of 16, 16 and 12 bytes. */
static const char kat_fox_hex[] =
    "5053544e534852310103000000000010404142434445464748494a4b4c4d4e4fa0a1a2a3a4a5a6a7edb30767cc6"
    "3bd779291ff2cab37411549990e38463a376d01de6c2de0b19f7ce0fa1c1e731f036be5e75c328a75eb02eb50c8"
    "bcfc43a661b68cbfbb6941fd7b4b04d4ebb28c33148052bdea40f9a15dc94f52290a75a6a728fe436498800473"
    "310b820b782703cf3e67f74d";
/* Mode 1 (password), the default chunk size, the empty file. */
static const char kat_empty_hex[] =
    "5053544e534852310101000000010000404142434445464748494a4b4c4d4e4fa0a1a2a3a4a5a6a7edb30767cc6"
    "3bd779291ff2cab37411503e7b5ce088b018cff5ad5c05164f5f6";

static unsigned char test_key[SHARE_KEY_LEN];

static size_t from_hex(const char *hex, unsigned char *out, size_t outsize)
{
    size_t n = strlen(hex) / 2;
    assert_true(n <= outsize);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (unsigned char)v;
    }
    return n;
}

static void kat_header(struct share_header *h, enum share_mode mode, uint32_t chunk)
{
    memset(h, 0, sizeof(*h));
    h->version = SHARE_VERSION;
    h->mode = (uint8_t)mode;
    h->chunk_size = chunk;
    for (int i = 0; i < SHARE_SALT_LEN; i++)
        h->salt[i] = (unsigned char)(0x40 + i);
    for (int i = 0; i < SHARE_NONCE_PREFIX_LEN; i++)
        h->nonce_prefix[i] = (unsigned char)(0xa0 + i);
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)((i * 131 + seed * 7 + (i >> 8)) & 0xff);
}

/* Encrypt in pieces: the first split bytes, then the rest (split == n:
 * one piece; step: then step bytes at a time). */
static void encrypt_split(const struct share_header *h, const unsigned char *key,
                          const unsigned char *plain, size_t n, size_t split, size_t step,
                          struct buf *out)
{
    const char *err = NULL;
    struct share_encrypt *e = share_encrypt_new(h, key, share_crypt_output_buf, out, &err);
    assert_non_null(e);
    assert_int_equal(share_encrypt_update(e, plain, split), 0);
    for (size_t i = split; i < n; i += step) {
        size_t k = n - i < step ? n - i : step;
        assert_int_equal(share_encrypt_update(e, plain + i, k), 0);
    }
    assert_int_equal(share_encrypt_finish(e), 0);
    share_encrypt_free(&e);
    assert_null(e);
}

/* Decrypt n bytes fed in pieces of step bytes; returns what finish (or
 * the first failed update) returned, the status, and the plaintext. */
static int decrypt_steps(const unsigned char *key, const unsigned char *in, size_t n, size_t split,
                         size_t step, struct buf *out, enum share_crypt_error *err_r,
                         uint64_t *chunk_r)
{
    const char *why = NULL;
    struct share_decrypt *d = share_decrypt_new(key, share_crypt_output_buf, out, &why);
    assert_non_null(d);
    int rc = share_decrypt_update(d, in, split);
    for (size_t i = split; rc == 0 && i < n; i += step) {
        size_t k = n - i < step ? n - i : step;
        rc = share_decrypt_update(d, in + i, k);
    }
    if (rc == 0)
        rc = share_decrypt_finish(d);
    *err_r = share_decrypt_status(d, chunk_r);
    assert_true((rc == 0) == (*err_r == SHARE_CRYPT_OK));
    assert_non_null(share_decrypt_error(d));
    /* Once failed, always failed, and nothing more comes out. */
    if (rc < 0) {
        size_t before = out->len;
        assert_int_equal(share_decrypt_update(d, in, n), -1);
        assert_int_equal(share_decrypt_finish(d), -1);
        assert_int_equal(out->len, before);
    }
    share_decrypt_free(&d);
    return rc;
}

static int decrypt_all(const unsigned char *key, const unsigned char *in, size_t n, struct buf *out,
                       enum share_crypt_error *err_r, uint64_t *chunk_r)
{
    return decrypt_steps(key, in, n, n, 1, out, err_r, chunk_r);
}

/* ---- an independent encryptor, for files our encryptor never writes ---- */

struct ref_chunk {
    uint32_t index;
    bool final;
    size_t len; /* plaintext bytes, taken in order from the plaintext */
};

/* Build a file from hdr (its key check filled in here) and the chunks
 * described, straight from OpenSSL. */
static void ref_encrypt(struct share_header *h, const unsigned char *plain,
                        const struct ref_chunk *chunks, size_t n_chunks, struct buf *out)
{
    static char digest[] = "SHA256";
    static char info[] = "postino share v1 file key";
    unsigned char okm[48];
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf);
    OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_octet_string(OSSL_KDF_PARAM_KEY, test_key, SHARE_KEY_LEN),
        OSSL_PARAM_octet_string(OSSL_KDF_PARAM_SALT, h->salt, SHARE_SALT_LEN),
        OSSL_PARAM_octet_string(OSSL_KDF_PARAM_INFO, info, sizeof(info) - 1),
        OSSL_PARAM_END,
    };
    assert_int_equal(EVP_KDF_derive(kctx, okm, sizeof(okm), params), 1);
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    memcpy(h->key_check, okm + 32, 16);
    unsigned char hdr[SHARE_HEADER_LEN];
    share_header_format(h, hdr);
    buf_append(out, hdr, sizeof(hdr));
    size_t off = 0;
    for (size_t k = 0; k < n_chunks; k++) {
        unsigned char iv[12], aad[SHARE_HEADER_LEN + 5], ct[256], tag[16];
        memcpy(iv, h->nonce_prefix, 8);
        for (int b = 0; b < 4; b++)
            iv[8 + b] = aad[SHARE_HEADER_LEN + b] =
                (unsigned char)(chunks[k].index >> (24 - 8 * b));
        memcpy(aad, hdr, SHARE_HEADER_LEN);
        aad[SHARE_HEADER_LEN + 4] = chunks[k].final;
        assert_true(chunks[k].len <= sizeof(ct));
        EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
        int len;
        assert_int_equal(EVP_EncryptInit_ex2(c, EVP_aes_256_gcm(), okm, iv, NULL), 1);
        assert_int_equal(EVP_EncryptUpdate(c, NULL, &len, aad, sizeof(aad)), 1);
        if (chunks[k].len)
            assert_int_equal(EVP_EncryptUpdate(c, ct, &len, plain + off, (int)chunks[k].len), 1);
        assert_int_equal(EVP_EncryptFinal_ex(c, ct, &len), 1);
        assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag), 1);
        EVP_CIPHER_CTX_free(c);
        buf_append(out, ct, chunks[k].len);
        buf_append(out, tag, 16);
        off += chunks[k].len;
    }
}

/* ---- tests ---- */

static void test_share_header(void **state)
{
    (void)state;
    struct share_header h, back;
    const char *err = NULL;
    unsigned char raw[SHARE_HEADER_LEN + 1];

    assert_int_equal(share_header_init(&h, SHARE_MODE_LINK, SHARE_CHUNK_DEFAULT, &err), 0);
    struct share_header h2;
    assert_int_equal(share_header_init(&h2, SHARE_MODE_LINK, SHARE_CHUNK_DEFAULT, &err), 0);
    assert_memory_not_equal(h.salt, h2.salt, SHARE_SALT_LEN);
    assert_memory_not_equal(h.nonce_prefix, h2.nonce_prefix, SHARE_NONCE_PREFIX_LEN);
    memset(h.key_check, 0x5a, sizeof(h.key_check));
    share_header_format(&h, raw);
    assert_memory_equal(raw, "PSTNSHR1\x01\x02\x00\x00\x00\x01\x00\x00", 16);
    assert_int_equal(share_header_parse(raw, SHARE_HEADER_LEN, &back, &err), 0);
    assert_memory_equal(&back, &h, sizeof(h));
    /* Longer input: only the header is read. */
    assert_int_equal(share_header_parse(raw, sizeof(raw), &back, &err), 0);

    assert_int_equal(share_header_init(&h, 0, SHARE_CHUNK_DEFAULT, &err), -1);
    assert_int_equal(share_header_init(&h, 4, SHARE_CHUNK_DEFAULT, &err), -1);
    assert_int_equal(share_header_init(&h, SHARE_MODE_E2E, SHARE_CHUNK_MIN - 1, &err), -1);
    assert_int_equal(share_header_init(&h, SHARE_MODE_E2E, SHARE_CHUNK_MAX + 1, &err), -1);
    assert_int_equal(share_header_init(&h, SHARE_MODE_E2E, SHARE_CHUNK_MIN, &err), 0);
    assert_int_equal(share_header_init(&h, SHARE_MODE_E2E, SHARE_CHUNK_MAX, &err), 0);

    /* Each field broken, and each bound crossed by one. */
    static const struct {
        size_t off;
        unsigned char v;
        int ok;
    } edits[] = {
        {0, 'p', -1},  {7, '2', -1},  {8, 0, -1},    {8, 2, -1},     {9, 0, -1},
        {9, 1, 0},     {9, 3, 0},     {9, 4, -1},    {10, 1, -1},    {11, 0x80, -1},
        {12, 1, -1},   {12, 0, 0},    {13, 0x10, 0}, {13, 0x11, -1}, {13, 0, -1},
        {15, 0xff, 0}, {16, 0xff, 0}, {39, 0xff, 0}, {55, 0xff, 0},
    };
    share_header_init(&h, SHARE_MODE_PASSWORD, SHARE_CHUNK_DEFAULT, &err);
    for (size_t i = 0; i < N_ELEMS(edits); i++) {
        share_header_format(&h, raw);
        raw[edits[i].off] = edits[i].v;
        err = NULL;
        int rc = share_header_parse(raw, SHARE_HEADER_LEN, &back, &err);
        if (rc != edits[i].ok)
            fail_msg("edit %zu: byte %zu = %02x gives %d", i, edits[i].off, edits[i].v, rc);
        if (rc < 0) {
            assert_non_null(err);
            static const struct share_header zero;
            assert_memory_equal(&back, &zero, sizeof(zero));
        }
    }
    /* The chunk size bounds, exactly. */
    static const uint32_t sizes[] = {0, 15, 16, 17, 65536, 1048576, 1048577, 0xffffffff};
    for (size_t i = 0; i < N_ELEMS(sizes); i++) {
        share_header_format(&h, raw);
        for (int b = 0; b < 4; b++)
            raw[12 + b] = (unsigned char)(sizes[i] >> (24 - 8 * b));
        int want = sizes[i] >= 16 && sizes[i] <= 1048576 ? 0 : -1;
        assert_int_equal(share_header_parse(raw, SHARE_HEADER_LEN, &back, &err), want);
        if (want == 0)
            assert_int_equal(back.chunk_size, sizes[i]);
    }
    /* Every length short of a header. */
    share_header_format(&h, raw);
    for (size_t n = 0; n < SHARE_HEADER_LEN; n++)
        assert_int_equal(share_header_parse(raw, n, &back, &err), -1);
}

static void test_share_lengths(void **state)
{
    (void)state;
    uint64_t c, p;
    static const uint32_t chunks[] = {16, 17, 100, 65536};
    for (size_t k = 0; k < N_ELEMS(chunks); k++) {
        uint32_t cs = chunks[k];
        uint64_t full = cs + 16;
        for (uint64_t plain = 0; plain < 5 * (uint64_t)cs + 3; plain += plain < 300 ? 1 : 97) {
            assert_int_equal(share_crypt_ciphertext_len(plain, cs, &c), 0);
            uint64_t n = plain == 0 ? 1 : (plain + cs - 1) / cs;
            assert_int_equal(c, 56 + plain + 16 * n);
            assert_int_equal(share_crypt_plaintext_len(c, cs, &p), 0);
            assert_int_equal(p, plain);
        }
        /* Every encrypted length near the small ones: either invalid, or
         * the inverse of a plaintext length. */
        for (uint64_t t = 0; t < 56 + 4 * full; t++) {
            if (share_crypt_plaintext_len(t, cs, &p) == 0) {
                assert_int_equal(share_crypt_ciphertext_len(p, cs, &c), 0);
                assert_int_equal(c, t);
            } else {
                uint64_t body = t < 56 ? 0 : t - 56, rem = body % full;
                assert_true(t < 72 || (rem > 0 && rem < 16) || (rem == 16 && body > 16));
            }
        }
    }
    /* 2^32 chunks at most. */
    uint64_t most = (UINT64_C(1) << 32) * 16;
    assert_int_equal(share_crypt_ciphertext_len(most, 16, &c), 0);
    assert_int_equal(c, 56 + most + (UINT64_C(1) << 32) * 16);
    assert_int_equal(share_crypt_plaintext_len(c, 16, &p), 0);
    assert_int_equal(p, most);
    assert_int_equal(share_crypt_ciphertext_len(most + 1, 16, &c), -1);
    assert_int_equal(share_crypt_plaintext_len(56 + (UINT64_C(1) << 32) * 32 + 17, 16, &p), -1);
    assert_int_equal(share_crypt_ciphertext_len(UINT64_MAX, 16, &c), -1);
    assert_int_equal(share_crypt_plaintext_len(UINT64_MAX, 16, &p), -1);
    /* Chunk sizes out of bounds. */
    assert_int_equal(share_crypt_ciphertext_len(1, 15, &c), -1);
    assert_int_equal(share_crypt_ciphertext_len(1, SHARE_CHUNK_MAX + 1, &c), -1);
    assert_int_equal(share_crypt_plaintext_len(100, 15, &p), -1);
    uint64_t a, b, d;
    assert_int_equal(share_crypt_resume_point(100, 15, &a, &b, &d), -1);
}

static void test_share_known_answers(void **state)
{
    (void)state;
    unsigned char want[256];
    struct share_header h;
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);

    size_t n = from_hex(kat_fox_hex, want, sizeof(want));
    assert_int_equal(n, 148);
    kat_header(&h, SHARE_MODE_E2E, 16);
    size_t plen = strlen(kat_plain);
    encrypt_split(&h, test_key, (const unsigned char *)kat_plain, plen, plen, 1, &out);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, want, n);
    uint64_t len;
    assert_int_equal(share_crypt_ciphertext_len(plen, 16, &len), 0);
    assert_int_equal(len, n);
    buf_reset(&out);
    enum share_crypt_error e;
    assert_int_equal(decrypt_all(test_key, want, n, &out, &e, NULL), 0);
    assert_int_equal(out.len, plen);
    assert_memory_equal(out.data, kat_plain, plen);

    buf_reset(&out);
    n = from_hex(kat_empty_hex, want, sizeof(want));
    assert_int_equal(n, 72);
    kat_header(&h, SHARE_MODE_PASSWORD, SHARE_CHUNK_DEFAULT);
    encrypt_split(&h, test_key, NULL, 0, 0, 1, &out);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, want, n);
    buf_reset(&out);
    assert_int_equal(decrypt_all(test_key, want, n, &out, &e, NULL), 0);
    assert_int_equal(out.len, 0);
    buf_free(&out);
}

/* Round trips: small sizes split at every byte on both sides, larger ones
 * in odd pieces. */
static void test_share_round_trips(void **state)
{
    (void)state;
    const char *err;
    struct buf ct, pt;
    buf_init(&ct, BUF_UNLIMITED);
    buf_init(&pt, BUF_UNLIMITED);
    static const size_t small[] = {0, 1, 15, 16, 17, 31, 32, 33, 47, 48, 49, 100};
    unsigned char plain[300000];
    fill(plain, sizeof(plain), 1);
    for (size_t k = 0; k < N_ELEMS(small); k++) {
        size_t n = small[k];
        struct share_header h;
        assert_int_equal(share_header_init(&h, SHARE_MODE_PASSWORD, 16, &err), 0);
        struct buf first;
        buf_init(&first, BUF_UNLIMITED);
        encrypt_split(&h, test_key, plain, n, n, 1, &first);
        uint64_t want_len;
        share_crypt_ciphertext_len(n, 16, &want_len);
        assert_int_equal(first.len, want_len);
        /* Same header, same key: the same bytes however the input is cut. */
        for (size_t split = 0; split <= n; split++) {
            buf_reset(&ct);
            encrypt_split(&h, test_key, plain, n, split, n, &ct);
            assert_int_equal(ct.len, first.len);
            assert_memory_equal(ct.data, first.data, ct.len);
        }
        buf_reset(&ct);
        encrypt_split(&h, test_key, plain, n, 0, 1, &ct);
        assert_memory_equal(ct.data, first.data, ct.len);
        /* Decryption cut at every byte, and byte by byte. */
        enum share_crypt_error e;
        for (size_t split = 0; split <= first.len; split++) {
            buf_reset(&pt);
            assert_int_equal(decrypt_steps(test_key, (unsigned char *)first.data, first.len, split,
                                           first.len, &pt, &e, NULL),
                             0);
            assert_int_equal(pt.len, n);
            assert_memory_equal(pt.data, plain, n);
        }
        buf_reset(&pt);
        assert_int_equal(
            decrypt_steps(test_key, (unsigned char *)first.data, first.len, 0, 1, &pt, &e, NULL),
            0);
        assert_int_equal(pt.len, n);
        buf_free(&first);
    }
    /* Around the default chunk size, in pieces of various sizes. */
    static const size_t large[] = {65535, 65536, 65537, 131072, 200000, 300000};
    static const size_t steps[] = {1000, 4096, 65536, 65553, 100000, 300000};
    for (size_t k = 0; k < N_ELEMS(large); k++) {
        struct share_header h;
        assert_int_equal(share_header_init(&h, SHARE_MODE_E2E, SHARE_CHUNK_DEFAULT, &err), 0);
        for (size_t s = 0; s < N_ELEMS(steps); s++) {
            buf_reset(&ct);
            buf_reset(&pt);
            encrypt_split(&h, test_key, plain, large[k], 0, steps[s], &ct);
            uint64_t want_len;
            share_crypt_ciphertext_len(large[k], SHARE_CHUNK_DEFAULT, &want_len);
            assert_int_equal(ct.len, want_len);
            enum share_crypt_error e;
            assert_int_equal(decrypt_steps(test_key, (unsigned char *)ct.data, ct.len, 0,
                                           steps[s] + 7, &pt, &e, NULL),
                             0);
            assert_int_equal(pt.len, large[k]);
            assert_memory_equal(pt.data, plain, large[k]);
        }
    }
    buf_free(&ct);
    buf_free(&pt);
}

/* Collects output and checks it is always a prefix of the plaintext. */
struct prefix_check {
    const unsigned char *plain;
    size_t plain_len;
    size_t got;
};

static int prefix_out(void *ctx, const unsigned char *data, size_t len)
{
    struct prefix_check *pc = ctx;
    assert_true(len > 0);
    assert_true(pc->got + len <= pc->plain_len);
    assert_memory_equal(data, pc->plain + pc->got, len);
    pc->got += len;
    return 0;
}

/* Flip every bit of a three-chunk file: it never decrypts, and what came
 * out before the failure is only the chunks before the damaged one. */
static void test_share_tamper_bits(void **state)
{
    (void)state;
    const char *err;
    unsigned char plain[40];
    fill(plain, sizeof(plain), 2);
    struct share_header h;
    assert_int_equal(share_header_init(&h, SHARE_MODE_LINK, 16, &err), 0);
    struct buf ct;
    buf_init(&ct, BUF_UNLIMITED);
    encrypt_split(&h, test_key, plain, sizeof(plain), 0, 1, &ct);
    assert_int_equal(ct.len, 56 + 40 + 3 * 16);
    unsigned char *bad = malloc(ct.len);
    for (size_t i = 0; i < ct.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(bad, ct.data, ct.len);
            bad[i] ^= (unsigned char)(1u << bit);
            struct prefix_check pc = {plain, sizeof(plain), 0};
            struct share_decrypt *d = share_decrypt_new(test_key, prefix_out, &pc, &err);
            int rc = share_decrypt_update(d, bad, ct.len);
            if (rc == 0)
                rc = share_decrypt_finish(d);
            uint64_t chunk;
            enum share_crypt_error e = share_decrypt_status(d, &chunk);
            if (rc == 0)
                fail_msg("byte %zu bit %d: accepted", i, bit);
            if (i < 16 || (i >= 40 && i < 56)) {
                /* magic, version, mode, reserved, chunk size; key check */
                if (i >= 40)
                    assert_int_equal(e, SHARE_CRYPT_WRONG_KEY);
                else if (i < 9 || (i >= 10 && i < 12))
                    assert_int_equal(e, SHARE_CRYPT_BAD_HEADER);
                assert_int_equal(pc.got, 0);
            } else if (i >= 16 && i < 32) {
                assert_int_equal(e, SHARE_CRYPT_WRONG_KEY); /* the salt */
                assert_int_equal(pc.got, 0);
            } else if (i >= 32 && i < 40) {
                assert_int_equal(e, SHARE_CRYPT_AUTH); /* the nonce prefix */
                assert_int_equal(chunk, 0);
                assert_int_equal(pc.got, 0);
            } else {
                size_t k = (i - 56) / 32; /* a chunk */
                assert_int_equal(e, SHARE_CRYPT_AUTH);
                assert_int_equal(chunk, k);
                assert_int_equal(pc.got, 16 * k);
                assert_non_null(strstr(share_decrypt_error(d), "at chunk"));
            }
            share_decrypt_free(&d);
        }
    }
    free(bad);
    buf_free(&ct);
}

/* What decrypting bytes gives: the status and the chunk concerned. */
static void expect_failure(const unsigned char *in, size_t n, enum share_crypt_error want,
                           uint64_t want_chunk, size_t max_out)
{
    struct buf pt;
    buf_init(&pt, BUF_UNLIMITED);
    enum share_crypt_error e;
    uint64_t chunk = 0;
    /* Whole, and byte by byte: the same outcome. */
    for (int pass = 0; pass < 2; pass++) {
        buf_reset(&pt);
        int rc = pass == 0 ? decrypt_all(test_key, in, n, &pt, &e, &chunk)
                           : decrypt_steps(test_key, in, n, 0, 1, &pt, &e, &chunk);
        assert_int_equal(rc, -1);
        if (e != want || chunk != want_chunk)
            fail_msg("pass %d: got %s at chunk %llu, want %s at %llu", pass,
                     share_crypt_error_name(e), (unsigned long long)chunk,
                     share_crypt_error_name(want), (unsigned long long)want_chunk);
        assert_true(pt.len <= max_out);
    }
    buf_free(&pt);
}

static void test_share_tamper_structure(void **state)
{
    (void)state;
    const char *err;
    unsigned char plain[64];
    fill(plain, sizeof(plain), 3);
    struct share_header h;
    assert_int_equal(share_header_init(&h, SHARE_MODE_PASSWORD, 16, &err), 0);
    struct buf a, b, t;
    buf_init(&a, BUF_UNLIMITED);
    buf_init(&b, BUF_UNLIMITED);
    buf_init(&t, BUF_UNLIMITED);
    /* 40 bytes: chunks of 16, 16, 8. */
    encrypt_split(&h, test_key, plain, 40, 40, 1, &a);
    unsigned char *ap = (unsigned char *)a.data;
    size_t c0 = 56, c1 = 56 + 32, c2 = 56 + 64;

    /* Drop the last chunk: chunk 1 is not final. */
    expect_failure(ap, c2, SHARE_CRYPT_TRUNCATED, 1, 32);
    /* Drop the last two. */
    expect_failure(ap, c1, SHARE_CRYPT_TRUNCATED, 0, 16);
    /* Only the header; nothing at all; half a header. */
    expect_failure(ap, c0, SHARE_CRYPT_TRUNCATED, 0, 0);
    expect_failure(ap, 0, SHARE_CRYPT_TRUNCATED, 0, 0);
    expect_failure(ap, 30, SHARE_CRYPT_TRUNCATED, 0, 0);
    /* Cut inside any chunk. */
    for (size_t n = c0 + 1; n < a.len; n++) {
        if (n == c1 || n == c2)
            continue;
        size_t k = (n - c0) / 32, in_chunk = (n - c0) % 32;
        expect_failure(ap, n, in_chunk < 16 ? SHARE_CRYPT_TRUNCATED : SHARE_CRYPT_AUTH, k, 16 * k);
    }
    /* Swap chunks 0 and 1. */
    buf_reset(&t);
    buf_append(&t, ap, c0);
    buf_append(&t, ap + c1, 32);
    buf_append(&t, ap + c0, 32);
    buf_append(&t, ap + c2, a.len - c2);
    expect_failure((unsigned char *)t.data, t.len, SHARE_CRYPT_AUTH, 0, 0);
    /* Repeat chunk 0. */
    buf_reset(&t);
    buf_append(&t, ap, c1);
    buf_append(&t, ap + c0, a.len - c0);
    expect_failure((unsigned char *)t.data, t.len, SHARE_CRYPT_AUTH, 1, 16);
    /* Append bytes after a short final chunk: the final chunk no longer
     * authenticates. */
    buf_reset(&t);
    buf_append(&t, ap, a.len);
    buf_append(&t, "x", 1);
    expect_failure((unsigned char *)t.data, t.len, SHARE_CRYPT_AUTH, 2, 32);
    /* After a whole final chunk (48 bytes: three full chunks), any number
     * of bytes is data after the final chunk. */
    encrypt_split(&h, test_key, plain, 48, 48, 1, &b);
    for (size_t extra = 1; extra <= 40; extra++) {
        buf_reset(&t);
        buf_append(&t, b.data, b.len);
        buf_append(&t, plain, extra);
        expect_failure((unsigned char *)t.data, t.len, SHARE_CRYPT_TRAILING, 2, 32);
    }
    /* Chunk 1 taken from another file with the same key. */
    struct share_header h2;
    assert_int_equal(share_header_init(&h2, SHARE_MODE_PASSWORD, 16, &err), 0);
    buf_reset(&b);
    encrypt_split(&h2, test_key, plain, 40, 40, 1, &b);
    buf_reset(&t);
    buf_append(&t, ap, c1);
    buf_append(&t, b.data + c1, b.len - c1);
    expect_failure((unsigned char *)t.data, t.len, SHARE_CRYPT_AUTH, 1, 16);
    /* Another file's header on our chunks. */
    buf_reset(&t);
    buf_append(&t, b.data, c0);
    buf_append(&t, ap + c0, a.len - c0);
    expect_failure((unsigned char *)t.data, t.len, SHARE_CRYPT_AUTH, 0, 0);
    /* A wrong key: nothing decrypted at all. */
    unsigned char other[SHARE_KEY_LEN];
    memcpy(other, test_key, sizeof(other));
    other[31] ^= 1;
    struct buf pt;
    buf_init(&pt, BUF_UNLIMITED);
    enum share_crypt_error e;
    assert_int_equal(decrypt_all(other, ap, a.len, &pt, &e, NULL), -1);
    assert_int_equal(e, SHARE_CRYPT_WRONG_KEY);
    assert_int_equal(pt.len, 0);
    buf_free(&pt);

    /* Files our encryptor never writes, from the reference encryptor. */
    struct share_header r;
    /* The last chunk without its final flag. */
    {
        const struct ref_chunk ch[] = {{0, false, 16}, {1, false, 16}, {2, false, 8}};
        assert_int_equal(share_header_init(&r, SHARE_MODE_E2E, 16, &err), 0);
        buf_reset(&t);
        ref_encrypt(&r, plain, ch, 3, &t);
        expect_failure((unsigned char *)t.data, t.len, SHARE_CRYPT_AUTH, 2, 32);
    }
    /* A whole last chunk without its final flag: cut after it. */
    {
        const struct ref_chunk ch[] = {{0, false, 16}, {1, false, 16}};
        buf_reset(&t);
        ref_encrypt(&r, plain, ch, 2, &t);
        expect_failure((unsigned char *)t.data, t.len, SHARE_CRYPT_TRUNCATED, 1, 16);
    }
    /* A final flag on a middle chunk. */
    {
        const struct ref_chunk ch[] = {{0, false, 16}, {1, true, 16}, {2, true, 8}};
        buf_reset(&t);
        ref_encrypt(&r, plain, ch, 3, &t);
        expect_failure((unsigned char *)t.data, t.len, SHARE_CRYPT_TRAILING, 1, 16);
    }
    /* Counter skipping a number. */
    {
        const struct ref_chunk ch[] = {{0, false, 16}, {2, true, 8}};
        buf_reset(&t);
        ref_encrypt(&r, plain, ch, 2, &t);
        expect_failure((unsigned char *)t.data, t.len, SHARE_CRYPT_AUTH, 1, 16);
    }
    /* An empty final chunk after a whole one: authentic, but never
     * written, and it would make lengths ambiguous. */
    {
        const struct ref_chunk ch[] = {{0, false, 16}, {1, true, 0}};
        buf_reset(&t);
        ref_encrypt(&r, plain, ch, 2, &t);
        expect_failure((unsigned char *)t.data, t.len, SHARE_CRYPT_FORMAT, 1, 16);
    }
    /* And the reference encryptor agrees with ours on a proper file. */
    {
        const struct ref_chunk ch[] = {{0, false, 16}, {1, false, 16}, {2, true, 8}};
        buf_reset(&t);
        ref_encrypt(&r, plain, ch, 3, &t);
        buf_reset(&b);
        encrypt_split(&r, test_key, plain, 40, 40, 1, &b);
        assert_int_equal(t.len, b.len);
        assert_memory_equal(t.data, b.data, t.len);
    }
    buf_free(&a);
    buf_free(&b);
    buf_free(&t);
}

/* An output function that refuses after some calls. */
static int refuse_out(void *ctx, const unsigned char *data, size_t len)
{
    (void)data;
    (void)len;
    int *left = ctx;
    return (*left)-- > 0 ? 0 : -1;
}

static void test_share_errors(void **state)
{
    (void)state;
    const char *err;
    unsigned char plain[100];
    fill(plain, sizeof(plain), 4);
    struct share_header h;
    share_header_init(&h, SHARE_MODE_LINK, 16, &err);

    /* The encryptor's output refused: at the header, at a chunk. */
    for (int allow = 0; allow < 3; allow++) {
        int left = allow;
        struct share_encrypt *e = share_encrypt_new(&h, test_key, refuse_out, &left, &err);
        int rc = share_encrypt_update(e, plain, 40);
        if (rc == 0)
            rc = share_encrypt_finish(e);
        assert_int_equal(rc, -1);
        assert_int_equal(share_encrypt_status(e), SHARE_CRYPT_OUTPUT);
        assert_int_equal(share_encrypt_update(e, plain, 1), -1);
        share_encrypt_free(&e);
    }
    /* Data after finish; finish twice. */
    struct buf ct;
    buf_init(&ct, BUF_UNLIMITED);
    struct share_encrypt *e = share_encrypt_new(&h, test_key, share_crypt_output_buf, &ct, &err);
    assert_int_equal(share_encrypt_status(e), SHARE_CRYPT_OK);
    assert_int_equal(share_encrypt_finish(e), 0);
    assert_int_equal(share_encrypt_update(e, plain, 1), -1);
    assert_int_equal(share_encrypt_status(e), SHARE_CRYPT_INTERNAL);
    share_encrypt_free(&e);
    share_encrypt_free(&e); /* NULL: nothing */
    /* A header we would not write. */
    struct share_header bad = h;
    bad.chunk_size = 8;
    assert_null(share_encrypt_new(&bad, test_key, share_crypt_output_buf, &ct, &err));
    bad = h;
    bad.mode = 9;
    assert_null(share_encrypt_new(&bad, test_key, share_crypt_output_buf, &ct, &err));

    /* The decryptor's output refused at the second chunk. */
    buf_reset(&ct);
    encrypt_split(&h, test_key, plain, 40, 40, 1, &ct);
    int left = 1;
    struct share_decrypt *d = share_decrypt_new(test_key, refuse_out, &left, &err);
    int rc = share_decrypt_update(d, ct.data, ct.len);
    assert_int_equal(rc, -1);
    assert_int_equal(share_decrypt_status(d, NULL), SHARE_CRYPT_OUTPUT);
    share_decrypt_free(&d);
    /* The header is known once read; the plaintext count grows. */
    struct buf pt;
    buf_init(&pt, BUF_UNLIMITED);
    d = share_decrypt_new(test_key, share_crypt_output_buf, &pt, &err);
    assert_null(share_decrypt_header(d));
    assert_int_equal(share_decrypt_update(d, ct.data, 55), 0);
    assert_null(share_decrypt_header(d));
    assert_int_equal(share_decrypt_update(d, ct.data + 55, 1), 0);
    assert_non_null(share_decrypt_header(d));
    assert_int_equal(share_decrypt_header(d)->mode, SHARE_MODE_LINK);
    assert_int_equal(share_decrypt_update(d, ct.data + 56, ct.len - 56), 0);
    assert_int_equal(share_decrypt_plain_bytes(d), 32);
    assert_int_equal(share_decrypt_finish(d), 0);
    assert_int_equal(share_decrypt_plain_bytes(d), 40);
    assert_string_equal(share_decrypt_error(d), "no error");
    assert_int_equal(share_decrypt_finish(d), -1);
    share_decrypt_free(&d);
    /* A bad header says why. */
    d = share_decrypt_new(test_key, share_crypt_output_buf, &pt, &err);
    assert_int_equal(share_decrypt_update(d, "PSTNSHR2", 8), 0);
    assert_int_equal(share_decrypt_update(d, plain, 48), -1);
    assert_int_equal(share_decrypt_status(d, NULL), SHARE_CRYPT_BAD_HEADER);
    assert_non_null(strstr(share_decrypt_error(d), "magic"));
    share_decrypt_free(&d);
    /* A buffer with a maximum refuses past it. */
    struct buf small;
    buf_init(&small, 20);
    enum share_crypt_error st;
    assert_int_equal(decrypt_all(test_key, (unsigned char *)ct.data, ct.len, &small, &st, NULL),
                     -1);
    assert_int_equal(st, SHARE_CRYPT_OUTPUT);
    assert_int_equal(small.len, 16);
    buf_free(&small);
    buf_free(&pt);
    buf_free(&ct);

    /* Error names. */
    for (int i = SHARE_CRYPT_OK; i <= SHARE_CRYPT_INTERNAL; i++)
        assert_string_not_equal(share_crypt_error_name((enum share_crypt_error)i), "unknown error");
}

/* An interrupted encryption resumed from every stored length gives the
 * same file as one run. */
static void test_share_resume(void **state)
{
    (void)state;
    const char *err;
    unsigned char plain[100];
    fill(plain, sizeof(plain), 5);
    struct share_header h;
    share_header_init(&h, SHARE_MODE_PASSWORD, 16, &err);
    struct buf whole, t;
    buf_init(&whole, BUF_UNLIMITED);
    buf_init(&t, BUF_UNLIMITED);
    encrypt_split(&h, test_key, plain, sizeof(plain), 0, 7, &whole);

    for (size_t stored = 0; stored < whole.len; stored++) {
        uint64_t chunk, poff, coff;
        assert_int_equal(share_crypt_resume_point(stored, 16, &chunk, &poff, &coff), 0);
        assert_true(coff <= stored);
        buf_reset(&t);
        buf_append(&t, whole.data, coff);
        struct share_encrypt *e;
        if (coff == 0) {
            assert_true(stored < 56);
            assert_int_equal(chunk, 0);
            assert_int_equal(poff, 0);
            e = share_encrypt_new(&h, test_key, share_crypt_output_buf, &t, &err);
        } else {
            struct share_header back;
            assert_int_equal(share_header_parse(t.data, t.len, &back, &err), 0);
            e = share_encrypt_resume(&back, test_key, chunk, share_crypt_output_buf, &t, &err);
        }
        assert_non_null(e);
        assert_int_equal(share_encrypt_update(e, plain + poff, sizeof(plain) - poff), 0);
        assert_int_equal(share_encrypt_finish(e), 0);
        share_encrypt_free(&e);
        if (t.len != whole.len || memcmp(t.data, whole.data, t.len) != 0)
            fail_msg("resumed after %zu stored bytes: different file", stored);
    }
    /* The stored header with another key. */
    unsigned char other[SHARE_KEY_LEN] = {0};
    struct share_header back;
    share_header_parse(whole.data, whole.len, &back, &err);
    err = NULL;
    assert_null(share_encrypt_resume(&back, other, 1, share_crypt_output_buf, &t, &err));
    assert_string_equal(err, "wrong key");
    /* Nothing left for the final chunk. */
    struct share_encrypt *e =
        share_encrypt_resume(&back, test_key, 2, share_crypt_output_buf, &t, &err);
    assert_int_equal(share_encrypt_finish(e), -1);
    assert_int_equal(share_encrypt_status(e), SHARE_CRYPT_FORMAT);
    share_encrypt_free(&e);
    /* The last chunk number: a final chunk fits, a further one does not. */
    uint64_t last = SHARE_CHUNKS_MAX - 1;
    buf_reset(&t);
    e = share_encrypt_resume(&back, test_key, last, share_crypt_output_buf, &t, &err);
    assert_int_equal(share_encrypt_update(e, plain, 16), 0);
    assert_int_equal(share_encrypt_finish(e), 0);
    share_encrypt_free(&e);
    e = share_encrypt_resume(&back, test_key, last, share_crypt_output_buf, &t, &err);
    assert_int_equal(share_encrypt_update(e, plain, 17), -1);
    assert_int_equal(share_encrypt_status(e), SHARE_CRYPT_TOO_LONG);
    share_encrypt_free(&e);
    assert_null(share_encrypt_resume(&back, test_key, last + 1, share_crypt_output_buf, &t, &err));
    uint64_t a, b, c;
    assert_int_equal(share_crypt_resume_point(56 + (last + 1) * 32, 16, &a, &b, &c), -1);
    assert_int_equal(share_crypt_resume_point(56 + last * 32 + 31, 16, &a, &b, &c), 0);
    assert_int_equal(a, last);
    buf_free(&whole);
    buf_free(&t);
}

int main(void)
{
    for (int i = 0; i < SHARE_KEY_LEN; i++)
        test_key[i] = (unsigned char)i;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_share_header),        cmocka_unit_test(test_share_lengths),
        cmocka_unit_test(test_share_known_answers), cmocka_unit_test(test_share_round_trips),
        cmocka_unit_test(test_share_tamper_bits),   cmocka_unit_test(test_share_tamper_structure),
        cmocka_unit_test(test_share_errors),        cmocka_unit_test(test_share_resume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
