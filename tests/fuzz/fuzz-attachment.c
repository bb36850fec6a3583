/* libFuzzer target: the input as an attachment named "a.zip" under the
 * default policy, so that libarchive is given every input (zip, rar, 7z,
 * tar, gzip, bzip2, xz and whatever else it bids on). Checks that the
 * result is consistent: a verdict, a terminated path and reason, both
 * empty exactly when the verdict is ATTACH_OK, and the path starting
 * with the attachment's name. */
#include "fuzz-util.h"
#include "policy/attachment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_copy(data, size);
    struct attachment_policy policy = attachment_policy_defaults();
    struct attachment_result r;
    enum attachment_verdict v =
        attachment_inspect(&policy, "a.zip", "application/zip", in, size, &r);
    CHECK(v == r.verdict);
    CHECK(v >= ATTACH_OK && v <= ATTACH_UNREADABLE);
    CHECK(memchr(r.path, '\0', sizeof(r.path)) != NULL);
    CHECK(memchr(r.reason, '\0', sizeof(r.reason)) != NULL);
    if (v == ATTACH_OK)
        CHECK(r.path[0] == '\0' && r.reason[0] == '\0');
    else
        CHECK(strncmp(r.path, "a.zip", 5) == 0 && r.reason[0] != '\0');
    for (const char *p = r.path; *p; p++)
        CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
    free(in);
    return 0;
}
