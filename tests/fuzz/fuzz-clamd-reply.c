/* Fuzz target: a reply of clamd to INSTREAM through the parser. Besides
 * not crashing or reading past the input, a verdict must keep its fields
 * apart (a signature only when INFECTED), and every kept text must be
 * bounded and printable (it reaches log lines and SMTP replies). */
#include <stdbool.h>

#include "fuzz-util.h"
#include "policy/clamd-reply.h"

/* Printable ASCII only, no backslash but in an escape ("\xHH"). */
static void check_printable(const char *s, size_t max)
{
    size_t n = strlen(s);
    CHECK(n <= max);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        CHECK(c >= 0x20 && c < 0x7f);
        if (c == '\\')
            CHECK(i + 3 < n && s[i + 1] == 'x');
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *r = fuzz_copy(data, size);
    struct clamd_reply out;
    int rc = clamd_reply_parse(r, size, &out);
    CHECK(rc == 0 || rc == -1);
    check_printable(out.signature, CLAMD_SIGNATURE_MAX);
    check_printable(out.text, CLAMD_TEXT_MAX);
    switch (out.verdict) {
    case CLAMD_REPLY_CLEAN:
        CHECK(rc == 0);
        CHECK(out.signature[0] == '\0' && out.text[0] == '\0');
        break;
    case CLAMD_REPLY_INFECTED:
        CHECK(rc == 0);
        CHECK(out.signature[0] != '\0' && out.text[0] == '\0');
        break;
    case CLAMD_REPLY_ERROR:
        CHECK(out.signature[0] == '\0');
        CHECK(rc == -1 || out.text[0] != '\0');
        break;
    default:
        CHECK(false);
    }
    if (rc == 0) {
        /* a verdict comes from one line: no NUL or newline but a last one */
        CHECK(size > 0 && size <= CLAMD_REPLY_MAX);
        for (size_t i = 0; i + 1 < size; i++)
            CHECK(r[i] != '\0' && r[i] != '\n');
    } else {
        CHECK(out.verdict == CLAMD_REPLY_ERROR);
    }
    (void)clamd_reply_is_size_limit(&out);
    free(r);
    return 0;
}
