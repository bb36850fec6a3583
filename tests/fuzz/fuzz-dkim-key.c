/* Fuzz target: DKIM key records (the TXT record at selector._domainkey).
 * A parsed key is revoked or has an OpenSSL key of its type. A cache of
 * parsed keys kept across inputs gives what the parser gives, twice. */
#include "auth/dkim-key-cache.h"
#include "auth/dkim-key.h"
#include "fuzz-util.h"

/* Small, so that entries are dropped and their places taken again. */
#define CACHE_ENTRIES 8

static struct dkim_key_cache *cache;

/* The cache's answer for s equals the parser's (rc, key or error). */
static void check_cached(const char *s, size_t size, int rc, const struct dkim_key *key,
                         const char *err)
{
    const char *cerr = NULL;
    struct dkim_key *k = dkim_key_cache_get(cache, s, size, &cerr);
    if (rc < 0) {
        CHECK(k == NULL && cerr != NULL && strcmp(cerr, err) == 0);
        return;
    }
    CHECK(k != NULL);
    CHECK(k->type == key->type && k->revoked == key->revoked && k->testing == key->testing &&
          k->strict == key->strict && k->sha256 == key->sha256 && k->email == key->email &&
          k->bits == key->bits);
    CHECK((k->pkey == NULL) == (key->pkey == NULL));
    if (k->pkey)
        CHECK(EVP_PKEY_eq(k->pkey, key->pkey) == 1);
    CHECK(dkim_key_cache_count(cache) <= CACHE_ENTRIES);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!cache)
        cache = dkim_key_cache_new(CACHE_ENTRIES);
    char *s = fuzz_copy(data, size);
    struct dkim_key key;
    const char *err = NULL;
    int rc = dkim_key_parse(s, size, &key, &err);
    check_cached(s, size, rc, &key, err);
    check_cached(s, size, rc, &key, err);
    if (rc == 0) {
        CHECK(key.revoked == (key.pkey == NULL));
        if (key.pkey) {
            int id = EVP_PKEY_get_base_id(key.pkey);
            CHECK(key.type == DKIM_KEY_ED25519 ? id == EVP_PKEY_ED25519 : id == EVP_PKEY_RSA);
            CHECK(key.bits > 0);
        }
        dkim_key_free(&key);
        CHECK(key.pkey == NULL);
    } else {
        CHECK(err != NULL);
    }
    free(s);
    return 0;
}
