/* libFuzzer target: the pure parsers of the share portal's formats, all on
 * every input: the file header, the wrapped-key record, a key from a link,
 * base64url, and the lengths. What parses must format back to exactly the
 * bytes it came from (one encoding per value), with every field within
 * its bounds; what does not parse leaves nothing behind. */
#include "fuzz-util.h"
#include "lib/base64url.h"
#include "share/share-crypt.h"
#include "share/share-key.h"

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void check_header(const uint8_t *data, size_t size)
{
    struct share_header h;
    const char *err = NULL;
    int rc = share_header_parse(data, size, &h, &err);
    if (rc == 0) {
        CHECK(size >= SHARE_HEADER_LEN);
        CHECK(h.version == SHARE_VERSION);
        CHECK(h.mode >= SHARE_MODE_PASSWORD && h.mode <= SHARE_MODE_E2E);
        CHECK(h.chunk_size >= SHARE_CHUNK_MIN && h.chunk_size <= SHARE_CHUNK_MAX);
        unsigned char back[SHARE_HEADER_LEN];
        share_header_format(&h, back);
        CHECK(memcmp(back, data, SHARE_HEADER_LEN) == 0);
    } else {
        CHECK(rc == -1 && err != NULL && *err != '\0');
        static const struct share_header zero;
        CHECK(memcmp(&h, &zero, sizeof(h)) == 0);
    }
}

static void check_record(const char *s, size_t size)
{
    struct share_wrapped_key wk;
    const char *err = NULL;
    int rc = share_wrapped_key_parse(s, size, &wk, &err);
    if (rc == 0) {
        CHECK(share_kdf_params_check(&wk.kdf, &err) == 0);
        char back[SHARE_WRAPPED_KEY_TEXT_MAX];
        size_t n = share_wrapped_key_format(&wk, back);
        CHECK(n == size && memcmp(back, s, n) == 0);
    } else {
        CHECK(rc == -1 && err != NULL && *err != '\0');
        static const struct share_wrapped_key zero;
        CHECK(memcmp(&wk, &zero, sizeof(wk)) == 0);
    }
}

static void check_link(const char *s, size_t size)
{
    unsigned char key[SHARE_KEY_LEN];
    if (share_key_from_link(s, size, key) == 0) {
        char back[SHARE_LINK_KEY_LEN + 1];
        share_key_to_link(key, back);
        CHECK(size == SHARE_LINK_KEY_LEN && memcmp(back, s, size) == 0);
    } else {
        static const unsigned char zero[SHARE_KEY_LEN];
        CHECK(memcmp(key, zero, sizeof(key)) == 0);
    }
    /* base64url on its own, with room for any value. */
    unsigned char *out = malloc(size + 1);
    long n = base64url_decode(s, size, out, size + 1);
    if (n >= 0) {
        CHECK((size_t)n == BASE64URL_DECODED_MAX(size));
        char *back = malloc(size + 1);
        CHECK(base64url_encode(out, (size_t)n, back, size + 1) == (long)size);
        CHECK(memcmp(back, s, size) == 0);
        free(back);
    }
    free(out);
}

/* The lengths: both ways, inverse of each other. */
static void check_lengths(const uint8_t *data, size_t size)
{
    if (size < 12)
        return;
    uint64_t len = get_u64(data);
    uint32_t chunk = (uint32_t)get_u64(data + 4);
    /* Small lengths and chunk sizes most of the time, where edges are. */
    if (data[0] & 1)
        len >>= (data[1] & 63);
    uint64_t c, p;
    if (share_crypt_ciphertext_len(len, chunk, &c) == 0) {
        CHECK(chunk >= SHARE_CHUNK_MIN && chunk <= SHARE_CHUNK_MAX);
        CHECK(c > len);
        CHECK(share_crypt_plaintext_len(c, chunk, &p) == 0 && p == len);
    }
    if (share_crypt_plaintext_len(len, chunk, &p) == 0) {
        CHECK(share_crypt_ciphertext_len(p, chunk, &c) == 0 && c == len);
    }
    uint64_t k, poff, coff;
    if (share_crypt_resume_point(len, chunk, &k, &poff, &coff) == 0) {
        CHECK(coff <= len && poff == k * chunk);
        CHECK(coff == 0 || coff == SHARE_HEADER_LEN + k * ((uint64_t)chunk + SHARE_TAG_LEN));
        CHECK(coff == 0 || len - coff < (uint64_t)chunk + SHARE_TAG_LEN);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_copy(data, size);
    check_header((const uint8_t *)in, size);
    check_record(in, size);
    check_link(in, size);
    check_lengths((const uint8_t *)in, size);
    free(in);
    return 0;
}
