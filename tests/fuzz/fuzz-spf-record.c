/* libFuzzer target: SPF record syntax (RFC 7208 4.5-6), from DNS answers
 * anyone can publish. A record that parses has terms inside the input and
 * domain-specs that are valid macro-strings. */
#include "auth/spf-record.h"
#include "fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_copy(data, size);
    bool spf = spf_record_is_spf(text, size);
    static struct spf_record r;
    const char *err = NULL;
    int rc = spf_record_parse(text, size, &r, &err);
    CHECK(rc == 0 || err != NULL);
    CHECK(rc < 0 || spf);
    if (rc == 0) {
        CHECK(r.n <= SPF_MAX_TERMS);
        for (size_t i = 0; i < r.n; i++) {
            const struct spf_term *t = &r.terms[i];
            CHECK(t->text >= text && t->text + t->text_len <= text + size);
            CHECK(t->cidr4 <= 128 && t->cidr6 <= 128);
            if (t->domain)
                CHECK(spf_macro_check(t->domain, t->domain_len, false) == 0);
        }
        if (r.redirect)
            CHECK(spf_macro_check(r.redirect, r.redirect_len, false) == 0);
    }
    free(text);
    return 0;
}
