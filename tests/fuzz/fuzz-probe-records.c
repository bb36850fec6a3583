/* libFuzzer target: the MTA-STS and TLS-RPT TXT records `postino probe`
 * reads from any domain's DNS. Both parsers run on every input: a valid
 * record claims to be one, keeps only what its limits allow, and an
 * invalid one says why in printable words and keeps nothing. */
#include "fuzz-util.h"
#include "lib/str.h"
#include "probe/probe-records.h"

static void check_why(const char *why, bool valid)
{
    size_t n = strlen(why);
    CHECK(n <= PROBE_RECORD_WHY_MAX);
    CHECK(valid ? n == 0 : n > 0);
    for (size_t i = 0; i < n; i++)
        CHECK(why[i] >= 0x20 && why[i] < 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_copy(data, size);

    struct probe_mta_sts sts;
    probe_mta_sts_parse(in, size, &sts);
    check_why(sts.why, sts.valid);
    if (sts.valid) {
        CHECK(probe_mta_sts_is(in, size));
        size_t n = strlen(sts.id);
        CHECK(n >= 1 && n <= PROBE_STS_ID_MAX);
        for (size_t i = 0; i < n; i++)
            CHECK((sts.id[i] >= '0' && sts.id[i] <= '9') ||
                  (sts.id[i] >= 'a' && sts.id[i] <= 'z') || (sts.id[i] >= 'A' && sts.id[i] <= 'Z'));
        CHECK(memmem(in, size, sts.id, n) != NULL);
    } else {
        CHECK(sts.id[0] == '\0');
    }
    if (!probe_mta_sts_is(in, size))
        CHECK(!sts.valid);

    struct probe_tlsrpt rpt;
    probe_tlsrpt_parse(in, size, &rpt);
    check_why(rpt.why, rpt.valid);
    if (rpt.valid) {
        CHECK(probe_tlsrpt_is(in, size));
        CHECK(rpt.n_rua <= PROBE_RUA_MAX && rpt.n_rua <= rpt.n_rua_all && rpt.n_rua_all >= 1);
        for (size_t k = 0; k < rpt.n_rua; k++) {
            size_t n = strlen(rpt.rua[k]);
            CHECK(n > 0 && n <= PROBE_URI_MAX);
            CHECK(str_prefix_ci(rpt.rua[k], "mailto:") || str_prefix_ci(rpt.rua[k], "https://"));
            CHECK(strchr(rpt.rua[k], ',') == NULL && strchr(rpt.rua[k], '!') == NULL);
            CHECK(memmem(in, size, rpt.rua[k], n) != NULL);
        }
    } else {
        CHECK(rpt.n_rua == 0 && rpt.n_rua_all == 0);
    }
    /* A record is never both. */
    CHECK(!(sts.valid && rpt.valid));

    /* The same text into used results: the same outcome. */
    struct probe_mta_sts sts2;
    memset(&sts2, 'x', sizeof(sts2));
    probe_mta_sts_parse(in, size, &sts2);
    CHECK(sts2.valid == sts.valid && strcmp(sts2.why, sts.why) == 0 &&
          strcmp(sts2.id, sts.id) == 0);
    struct probe_tlsrpt rpt2;
    memset(&rpt2, 'x', sizeof(rpt2));
    probe_tlsrpt_parse(in, size, &rpt2);
    CHECK(rpt2.valid == rpt.valid && rpt2.n_rua == rpt.n_rua && strcmp(rpt2.why, rpt.why) == 0);
    free(in);
    return 0;
}
