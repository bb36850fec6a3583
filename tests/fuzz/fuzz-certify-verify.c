/* Fuzz target: verifying a certified message (receipt, notice or
 * envelope) as smtpd does for every certified message that arrives, and
 * as `postino certify verify` does for a file.
 *
 * No certificate is trusted, so the best verdict is "untrusted"; besides
 * not crashing, the verdict must be one of the three, an invalid or
 * untrusted one must say why, and an untrusted one must have read the
 * data part and the signer. */
#include "certify/certify-verify.h"
#include "fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_copy(data, size);
    struct certify_verify_result r;
    certify_verify(in, size, NULL, &r);
    CHECK(r.verdict == CERTIFY_VALID || r.verdict == CERTIFY_INVALID ||
          r.verdict == CERTIFY_UNTRUSTED);
    CHECK(r.verdict != CERTIFY_VALID); /* nothing is trusted */
    CHECK(r.reason[0] != '\0');
    if (r.verdict == CERTIFY_UNTRUSTED)
        CHECK(r.data.id[0] != '\0' && r.signer[0] != '\0');
    CHECK(r.data.n_rcpts <= CERTIFY_MAX_RECIPIENTS);
    certify_data_free(&r.data);
    free(in);
    return 0;
}
