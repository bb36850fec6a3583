/* Fuzz target: DKIM verification and signing of a whole message.
 *
 * The input is a message. It is verified with fixed key records (one
 * Ed25519, one RSA) fed whole and in pieces chosen from the input, and
 * whole again with the keys kept across inputs in a small key cache: the
 * results must be the same. Then it is signed with a fixed Ed25519 key;
 * when that works, the signed message must verify with our signature
 * first and passing (unless the message starts with whitespace, which
 * would continue the new field). */
#include <stdbool.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth/dkim-key-cache.h"
#include "auth/dkim-sign.h"
#include "auth/dkim-verify.h"
#include "fuzz-util.h"

/* RFC 8463 A.2's Ed25519 key pair: the secret key's seed and the record. */
static const unsigned char ed_seed[32] = {
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60};
static EVP_PKEY *ed_key;
static char ed_record[128];
/* Kept across inputs; one entry, so that the two keys take turns in it. */
static struct dkim_key_cache *key_cache;

static const char *const rsa_record =
    "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6"
    "wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5Qjv"
    "HO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";

static void init(void)
{
    if (ed_key)
        return;
    key_cache = dkim_key_cache_new(1);
    ed_key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, ed_seed, sizeof(ed_seed));
    CHECK(ed_key);
    unsigned char pub[32], b64[64];
    size_t len = sizeof(pub);
    CHECK(EVP_PKEY_get_raw_public_key(ed_key, pub, &len) == 1 && len == 32);
    EVP_EncodeBlock(b64, pub, 32);
    snprintf(ed_record, sizeof(ed_record), "v=DKIM1; k=ed25519; p=%s", (const char *)b64);
}

/* Answer the verifier's key names: selectors "ed" and "rsa" have keys,
 * "temp" fails temporarily, everything else does not exist. */
static void answer(struct dkim_verify *v)
{
    const char *const *names;
    size_t n = dkim_verify_key_names(v, &names);
    for (size_t i = 0; i < n; i++) {
        int r;
        if (strncmp(names[i], "ed._domainkey.", 14) == 0)
            r = dkim_verify_set_key(v, names[i], DKIM_KEY_FOUND, ed_record, strlen(ed_record));
        else if (strncmp(names[i], "rsa._domainkey.", 15) == 0)
            r = dkim_verify_set_key(v, names[i], DKIM_KEY_FOUND, rsa_record, strlen(rsa_record));
        else if (strncmp(names[i], "temp._domainkey.", 16) == 0)
            r = dkim_verify_set_key(v, names[i], DKIM_KEY_TEMPERROR, NULL, 0);
        else
            r = dkim_verify_set_key(v, names[i], DKIM_KEY_NONE, NULL, 0);
        CHECK(r == 0);
        CHECK(dkim_verify_set_key(v, names[i], DKIM_KEY_NONE, NULL, 0) == -1);
    }
}

/* Verify msg in pieces (piece_rng NULL: whole), with the key cache c (or
 * none); returns the verifier. */
static struct dkim_verify *verify(const char *msg, size_t size, struct fuzz_rng *rng,
                                  struct dkim_key_cache *c)
{
    struct dkim_verify_params p = {.now = 1700000000, .allow_body_length = true, .key_cache = c};
    struct dkim_verify *v = dkim_verify_new(&p);
    bool answered = false;
    size_t i = 0;
    while (i < size) {
        size_t n = rng ? fuzz_rng_piece(rng, 64) : size;
        if (n > size - i)
            n = size - i;
        if (dkim_verify_feed(v, msg + i, n) < 0)
            break;
        i += n;
        if (!answered && dkim_verify_header_complete(v)) {
            answer(v);
            answered = true;
        }
    }
    dkim_verify_end(v);
    if (!answered)
        answer(v);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init();
    char *msg = fuzz_copy(data, size);

    struct dkim_verify *whole = verify(msg, size, NULL, NULL);
    struct fuzz_rng rng;
    fuzz_rng_init(&rng, data, size);
    struct dkim_verify *pieces = verify(msg, size, &rng, NULL);
    struct dkim_verify *cached = verify(msg, size, NULL, key_cache);
    const struct dkim_result *a, *b, *k;
    size_t na = dkim_verify_results(whole, &a);
    size_t nb = dkim_verify_results(pieces, &b);
    size_t nk = dkim_verify_results(cached, &k);
    CHECK(na == nb && na == nk && na <= DKIM_VERIFY_MAX_SIGS);
    for (size_t i = 0; i < na; i++) {
        CHECK(a[i].status == b[i].status && a[i].status == k[i].status);
        CHECK(a[i].status != DKIM_NONE);
        CHECK(strcmp(a[i].reason, b[i].reason) == 0 && strcmp(a[i].reason, k[i].reason) == 0);
        CHECK(a[i].key_bits == k[i].key_bits && a[i].testing == k[i].testing);
        CHECK(strlen(a[i].header_b) <= 8);
        CHECK(dkim_status_name(a[i].status) != NULL);
    }
    dkim_verify_free(&whole);
    dkim_verify_free(&pieces);
    dkim_verify_free(&cached);

    struct dkim_sign_params sp = {
        .domain = "example.com", .selector = "ed", .key = ed_key, .now = 1700000000};
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    const char *err = NULL;
    if (dkim_sign_message(&sp, msg, size, &out, &err) == 0) {
        CHECK(out.len > 2 && out.data[out.len - 2] == '\r' && out.data[out.len - 1] == '\n');
        if (size == 0 || (msg[0] != ' ' && msg[0] != '\t')) {
            buf_append(&out, msg, size);
            struct dkim_verify *v = verify(out.data, out.len, &rng, key_cache);
            const struct dkim_result *r;
            size_t n = dkim_verify_results(v, &r);
            CHECK(n >= 1);
            if (r[0].status != DKIM_PASS)
                fprintf(stderr, "own signature: %s (%s)\n", dkim_status_name(r[0].status),
                        r[0].reason);
            CHECK(r[0].status == DKIM_PASS);
            dkim_verify_free(&v);
        }
    } else {
        CHECK(err != NULL);
    }
    buf_free(&out);
    free(msg);
    return 0;
}
