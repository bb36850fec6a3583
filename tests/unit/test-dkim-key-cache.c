/* Unit tests: the cache of parsed DKIM key records (auth/dkim-key-cache.h)
 * and the signature check with a key kept across checks (dkim_key_verify). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "auth/dkim-key-cache.h"
#include "auth/dkim-key.h"
#include "lib/buf.h"

/* RFC 8463's key records. */
#define ED_RECORD "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
#define RSA_RECORD                                                                                 \
    "v=DKIM1; k=rsa; "                                                                             \
    "p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6"                \
    "wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5Qjv" \
    "HO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB"

static struct dkim_key *get(struct dkim_key_cache *c, const char *txt)
{
    const char *err = NULL;
    struct dkim_key *k = dkim_key_cache_get(c, txt, strlen(txt), &err);
    if (!k)
        fail_msg("'%s': %s", txt, err ? err : "(no reason)");
    return k;
}

/* The record ED_RECORD with an extra tag n=<i>: other text, the same key. */
static const char *ed_variant(char *out, size_t size, unsigned i)
{
    int n = snprintf(out, size,
                     "v=DKIM1; k=ed25519; n=%u; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", i);
    assert_true(n > 0 && (size_t)n < size);
    return out;
}

static void test_hit_and_miss(void **state)
{
    (void)state;
    struct dkim_key_cache *c = dkim_key_cache_new(0);
    assert_int_equal(dkim_key_cache_count(c), 0);
    struct dkim_key *a = get(c, ED_RECORD);
    assert_int_equal(a->type, DKIM_KEY_ED25519);
    assert_non_null(a->pkey);
    assert_false(a->testing);
    assert_int_equal(dkim_key_cache_count(c), 1);
    /* the same text: the same key, nothing parsed again */
    assert_ptr_equal(get(c, ED_RECORD), a);
    assert_int_equal(dkim_key_cache_count(c), 1);
    /* the same text as a part of a longer buffer (only len bytes count) */
    const char *err;
    char longer[] = ED_RECORD "; t=y";
    assert_ptr_equal(dkim_key_cache_get(c, longer, strlen(ED_RECORD), &err), a);
    /* a changed record is a new entry, with what the new text says */
    struct dkim_key *b = get(c, longer);
    assert_ptr_not_equal(b, a);
    assert_true(b->testing);
    assert_int_equal(dkim_key_cache_count(c), 2);
    struct dkim_key *r = get(c, RSA_RECORD);
    assert_int_equal(r->type, DKIM_KEY_RSA);
    assert_int_equal(r->bits, 1024);
    assert_int_equal(dkim_key_cache_count(c), 3);
    assert_ptr_equal(get(c, ED_RECORD), a);
    assert_ptr_equal(get(c, RSA_RECORD), r);
    dkim_key_cache_free(&c);
    assert_null(c);
    dkim_key_cache_free(&c); /* no effect */
}

static void test_not_kept(void **state)
{
    (void)state;
    struct dkim_key_cache *c = dkim_key_cache_new(4);
    /* a revoked key: given, not kept, every time */
    for (int i = 0; i < 3; i++) {
        struct dkim_key *k = get(c, "v=DKIM1; k=rsa; p=");
        assert_true(k->revoked);
        assert_null(k->pkey);
        assert_int_equal(dkim_key_cache_count(c), 0);
    }
    /* a record that does not parse: dkim_key_parse's reason, not kept */
    static const char *const bad[] = {
        "v=DKIM1; k=rsa; p=AAAA",
        "v=DKIM1; k=dsa; p="
        "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
        "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaa===",
        "v=DKIM1; k=ed25519",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (int round = 0; round < 2; round++) {
            const char *err = NULL, *want = NULL;
            struct dkim_key key;
            assert_int_equal(dkim_key_parse(bad[i], strlen(bad[i]), &key, &want), -1);
            assert_null(dkim_key_cache_get(c, bad[i], strlen(bad[i]), &err));
            assert_string_equal(err, want);
            assert_int_equal(dkim_key_cache_count(c), 0);
        }
    }
    /* a valid record that was revoked: the old text is kept, the new one
     * says revoked */
    struct dkim_key *k = get(c, ED_RECORD);
    assert_non_null(k->pkey);
    assert_true(get(c, "v=DKIM1; k=ed25519; p=")->revoked);
    assert_ptr_equal(get(c, ED_RECORD), k);
    assert_int_equal(dkim_key_cache_count(c), 1);
    /* a record longer than DKIM_KEY_CACHE_TXT_MAX: usable, not kept; one
     * byte shorter is kept */
    struct buf big;
    buf_init(&big, BUF_UNLIMITED);
    buf_append_str(&big, "v=DKIM1; k=ed25519; n=");
    size_t tail = strlen("; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
    while (big.len + tail < DKIM_KEY_CACHE_TXT_MAX + 1)
        buf_append_char(&big, 'x');
    buf_append_str(&big, "; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
    assert_int_equal(big.len, DKIM_KEY_CACHE_TXT_MAX + 1);
    const char *err = NULL;
    struct dkim_key *kb = dkim_key_cache_get(c, big.data, big.len, &err);
    assert_non_null(kb);
    assert_non_null(kb->pkey);
    assert_int_equal(dkim_key_cache_count(c), 1);
    memmove(big.data + 22, big.data + 23, big.len - 23);
    buf_truncate(&big, big.len - 1);
    assert_int_equal(big.len, DKIM_KEY_CACHE_TXT_MAX);
    assert_non_null(dkim_key_cache_get(c, big.data, big.len, &err));
    assert_int_equal(dkim_key_cache_count(c), 2);
    buf_free(&big);
    dkim_key_cache_free(&c);
}

static void test_eviction(void **state)
{
    (void)state;
    char t[128];
    /* least recently used first: A B C, A used, D replaces B, B then C */
    struct dkim_key_cache *c = dkim_key_cache_new(3);
    struct dkim_key *a = get(c, ed_variant(t, sizeof(t), 1));
    struct dkim_key *b = get(c, ed_variant(t, sizeof(t), 2));
    struct dkim_key *cc = get(c, ed_variant(t, sizeof(t), 3));
    assert_ptr_equal(get(c, ed_variant(t, sizeof(t), 1)), a);
    assert_ptr_equal(get(c, ed_variant(t, sizeof(t), 4)), b); /* B's place */
    assert_int_equal(dkim_key_cache_count(c), 3);
    assert_ptr_equal(get(c, ed_variant(t, sizeof(t), 1)), a);
    assert_ptr_equal(get(c, ed_variant(t, sizeof(t), 2)), cc); /* C was the oldest */
    assert_ptr_equal(get(c, ed_variant(t, sizeof(t), 4)), b);
    assert_ptr_equal(get(c, ed_variant(t, sizeof(t), 3)), a); /* now A was */
    assert_int_equal(dkim_key_cache_count(c), 3);
    dkim_key_cache_free(&c);
    /* the default size holds DKIM_KEY_CACHE_ENTRIES keys and no more; a
     * cache of one entry works too */
    c = dkim_key_cache_new(0);
    for (unsigned i = 0; i < DKIM_KEY_CACHE_ENTRIES + 40; i++) {
        struct dkim_key *k = get(c, ed_variant(t, sizeof(t), i));
        assert_non_null(k->pkey);
        assert_int_equal(dkim_key_cache_count(c),
                         i < DKIM_KEY_CACHE_ENTRIES ? i + 1 : DKIM_KEY_CACHE_ENTRIES);
    }
    /* the newest ones are there, the first ones went */
    struct dkim_key *last = get(c, ed_variant(t, sizeof(t), DKIM_KEY_CACHE_ENTRIES + 39));
    assert_ptr_equal(get(c, ed_variant(t, sizeof(t), DKIM_KEY_CACHE_ENTRIES + 39)), last);
    dkim_key_cache_free(&c);
    c = dkim_key_cache_new(1);
    for (unsigned i = 0; i < 5; i++) {
        struct dkim_key *k = get(c, ed_variant(t, sizeof(t), i % 2));
        assert_ptr_equal(get(c, ed_variant(t, sizeof(t), i % 2)), k);
        assert_int_equal(dkim_key_cache_count(c), 1);
    }
    dkim_key_cache_free(&c);
}

/* Sign digest with pkey as DKIM does (RSA PKCS#1 v1.5 SHA-256, or
 * Ed25519 over the digest). */
static size_t sign(EVP_PKEY *pkey, const unsigned char digest[32], unsigned char *sig, size_t size)
{
    size_t len = size;
    if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        assert_non_null(md);
        assert_int_equal(EVP_DigestSignInit(md, NULL, NULL, NULL, pkey), 1);
        assert_int_equal(EVP_DigestSign(md, sig, &len, digest, 32), 1);
        EVP_MD_CTX_free(md);
    } else {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);
        assert_non_null(ctx);
        assert_int_equal(EVP_PKEY_sign_init(ctx), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
        assert_int_equal(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()), 1);
        assert_int_equal(EVP_PKEY_sign(ctx, sig, &len, digest, 32), 1);
        EVP_PKEY_CTX_free(ctx);
    }
    return len;
}

/* The key record that publishes pkey's public half. */
static void record_of(EVP_PKEY *pkey, struct buf *out)
{
    unsigned char der[DKIM_KEY_DATA_MAX], b64[DKIM_KEY_DATA_MAX * 2];
    size_t n = sizeof(der);
    bool ed = EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519;
    if (ed) {
        assert_int_equal(EVP_PKEY_get_raw_public_key(pkey, der, &n), 1);
    } else {
        unsigned char *p = der;
        int len = i2d_PUBKEY(pkey, &p);
        assert_true(len > 0);
        n = (size_t)len;
    }
    EVP_EncodeBlock(b64, der, (int)n);
    buf_printf(out, "v=DKIM1; k=%s; p=%s", ed ? "ed25519" : "rsa", (const char *)b64);
}

/* A kept key checks any number of signatures, good and bad in any order,
 * through the cache as well as parsed afresh. */
static void test_verify_reused(void **state)
{
    (void)state;
    EVP_PKEY *keys[2] = {EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024),
                         EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")};
    struct dkim_key_cache *c = dkim_key_cache_new(2);
    for (size_t i = 0; i < 2; i++) {
        assert_non_null(keys[i]);
        struct buf rec;
        buf_init(&rec, BUF_UNLIMITED);
        record_of(keys[i], &rec);
        unsigned char digest[32], other[32], sig[256];
        memset(digest, 0x5a, sizeof(digest));
        memset(other, 0xa5, sizeof(other));
        size_t sig_len = sign(keys[i], digest, sig, sizeof(sig));
        struct dkim_key parsed;
        const char *err;
        assert_int_equal(dkim_key_parse(rec.data, rec.len, &parsed, &err), 0);
        for (int round = 0; round < 3; round++) {
            struct dkim_key *k = dkim_key_cache_get(c, rec.data, rec.len, &err);
            assert_non_null(k);
            struct dkim_key *both[2] = {k, &parsed};
            for (size_t j = 0; j < 2; j++) {
                assert_int_equal(dkim_key_verify(both[j], sig, sig_len, digest), 1);
                assert_int_equal(dkim_key_verify(both[j], sig, sig_len, other), 0);
                sig[0] ^= 1;
                assert_int_equal(dkim_key_verify(both[j], sig, sig_len, digest), 0);
                sig[0] ^= 1;
                assert_int_equal(dkim_key_verify(both[j], sig, sig_len - 1, digest), 0);
                assert_int_equal(dkim_key_verify(both[j], sig, sig_len, digest), 1);
            }
        }
        dkim_key_free(&parsed);
        assert_null(parsed.pkey);
        assert_null(parsed.rsa_ctx);
        assert_null(parsed.ed_ctx);
        buf_free(&rec);
        EVP_PKEY_free(keys[i]);
    }
    assert_int_equal(dkim_key_cache_count(c), 2);
    /* a revoked key checks nothing */
    struct dkim_key *r = get(c, "v=DKIM1; p=");
    unsigned char digest[32] = {0}, sig[4] = {0};
    assert_int_equal(dkim_key_verify(r, sig, sizeof(sig), digest), -1);
    dkim_key_cache_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_and_miss),
        cmocka_unit_test(test_not_kept),
        cmocka_unit_test(test_eviction),
        cmocka_unit_test(test_verify_reused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
