/* libFuzzer target: the SASL decoders (base64, PLAIN, LOGIN), with the
 * invariant that whatever decodes encodes back to the same text. */
#include "auth/sasl.h"
#include "fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_copy(data, size);
    unsigned char out[SASL_LINE_MAX];
    long n = sasl_base64_decode(in, size, out, sizeof(out));
    if (n >= 0) {
        CHECK((size_t)n <= size / 4 * 3);
        char *back = malloc(size + 1);
        CHECK(back != NULL);
        size_t m = sasl_base64_encode(out, (size_t)n, back, size + 1);
        CHECK(m == size && memcmp(back, in, size) == 0);
        free(back);
    }
    struct sasl_creds c;
    if (sasl_plain_decode(in, size, &c) == 0) {
        CHECK(c.user[0] != '\0' && c.password[0] != '\0');
        CHECK(n > 0);
    }
    char login[SASL_USER_MAX + 1];
    if (sasl_login_decode(in, size, login, sizeof(login)) == 0)
        CHECK(login[0] != '\0');
    free(in);
    return 0;
}
