/* libFuzzer target: DMARC policy records (RFC 7489 6.3), the TXT text a
 * domain owner publishes and every receiver parses. A valid record keeps
 * its values in range; parsing again into a used record gives the same
 * outcome; a record that is not v=DMARC1 first is never valid. */
#include "auth/dmarc-record.h"
#include "fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_copy(data, size);
    struct dmarc_record r;
    dmarc_record_init(&r);
    const char *err = NULL;
    enum dmarc_record_status st = dmarc_record_parse(in, size, &r, &err);
    CHECK(st >= DMARC_RECORD_OK && st <= DMARC_RECORD_NO_POLICY);
    if (st == DMARC_RECORD_OK) {
        CHECK(dmarc_record_is_dmarc(in, size));
        CHECK(r.pct <= 100);
        CHECK(r.p <= DMARC_POLICY_REJECT && r.sp <= DMARC_POLICY_REJECT);
        CHECK(r.adkim <= DMARC_ALIGN_STRICT && r.aspf <= DMARC_ALIGN_STRICT);
        CHECK(r.rua_count <= DMARC_RECORD_URIS_MAX && r.ruf_count <= DMARC_RECORD_URIS_MAX);
        CHECK(!r.p_implied || r.rua_count > 0);
        for (size_t i = 0; i < r.rua_count; i++)
            CHECK(r.rua[i].uri && strchr(r.rua[i].uri, ':') && strlen(r.rua[i].uri) < size);
        for (size_t i = 0; i < r.ruf_count; i++)
            CHECK(r.ruf[i].uri && strchr(r.ruf[i].uri, ':') && strlen(r.ruf[i].uri) < size);
    } else {
        CHECK(err != NULL);
        CHECK(r.rua_count == 0 && r.ruf_count == 0 && r.pct == 100);
    }
    if (st != DMARC_RECORD_EMPTY && st != DMARC_RECORD_BAD_VERSION && size <= DMARC_RECORD_MAX)
        CHECK(dmarc_record_is_dmarc(in, size));
    /* the same text into a record that holds URIs: the same outcome */
    enum dmarc_record_status again = dmarc_record_parse(in, size, &r, NULL);
    CHECK(again == st);
    dmarc_record_free(&r);
    free(in);
    return 0;
}
