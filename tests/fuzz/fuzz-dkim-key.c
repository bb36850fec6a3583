/* Fuzz target: DKIM key records (the TXT record at selector._domainkey).
 * A parsed key is revoked or has an OpenSSL key of its type. */
#include "auth/dkim-key.h"
#include "fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_copy(data, size);
    struct dkim_key key;
    const char *err = NULL;
    if (dkim_key_parse(s, size, &key, &err) == 0) {
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
