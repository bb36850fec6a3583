/* Fuzz target: DKIM tag lists (RFC 6376 3.2) and DKIM-Signature values.
 *
 * The input is parsed as a tag list, as the value of a DKIM-Signature
 * field and as base64. Accepted tag lists must point inside the input,
 * have unique names of the right characters, values without whitespace
 * at either end, and offsets in order; a parsed signature must respect
 * its limits. */
#include <stdbool.h>
#include <string.h>

#include "auth/dkim-signature.h"
#include "auth/dkim-tags.h"
#include "fuzz-util.h"

static bool is_wsp(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_copy(data, size);

    struct dkim_tag_list l;
    const char *err = NULL;
    if (dkim_tags_parse(s, size, &l, &err) == 0) {
        CHECK(l.count >= 1 && l.count <= DKIM_TAGS_MAX);
        size_t prev_end = 0;
        for (size_t i = 0; i < l.count; i++) {
            const struct dkim_tag *t = &l.tags[i];
            CHECK(t->name >= s && t->name + t->name_len <= s + size && t->name_len > 0);
            CHECK(t->value >= s && t->value + t->value_len <= s + size);
            CHECK(t->after_eq_off <= (size_t)(t->value - s));
            CHECK((size_t)(t->value - s) + t->value_len <= t->spec_end_off);
            CHECK(t->spec_end_off <= size);
            CHECK(t->spec_end_off == size || s[t->spec_end_off] == ';');
            CHECK((size_t)(t->name - s) >= prev_end);
            CHECK(s[t->after_eq_off - 1] == '=');
            prev_end = t->spec_end_off;
            if (t->value_len > 0)
                CHECK(!is_wsp(t->value[0]) && !is_wsp(t->value[t->value_len - 1]));
            CHECK(memchr(t->value, ';', t->value_len) == NULL);
            for (size_t j = 0; j < i; j++)
                CHECK(l.tags[j].name_len != t->name_len ||
                      memcmp(l.tags[j].name, t->name, t->name_len) != 0);
            char name[64];
            if (t->name_len < sizeof(name)) {
                memcpy(name, t->name, t->name_len);
                name[t->name_len] = '\0';
                CHECK(dkim_tags_find(&l, name) == t);
            }
        }
    } else {
        CHECK(err != NULL);
    }

    struct dkim_signature *sig = malloc(sizeof(*sig));
    CHECK(sig);
    const char *reason = NULL;
    enum dkim_status st = dkim_signature_parse(s, size, 1700000000, size & 1, sig, &reason);
    if (st == DKIM_PASS) {
        CHECK(sig->name_count >= 1 && sig->name_count <= DKIM_SIG_NAMES_MAX);
        CHECK(sig->b_len >= 1 && sig->b_len <= DKIM_SIG_B_MAX);
        CHECK(dkim_name_ok(sig->domain) && dkim_name_ok(sig->selector));
        CHECK(sig->b_tag != NULL);
        CHECK(!sig->has_l || (size & 1));
        CHECK(!sig->has_x || sig->x >= 1700000000);
    } else {
        CHECK(reason != NULL);
    }
    CHECK(strlen(sig->header_b) <= 8);
    free(sig);

    unsigned char out[256];
    long n = dkim_base64_decode(s, size, out, sizeof(out));
    CHECK(n >= -1 && n <= (long)sizeof(out));
    free(s);
    return 0;
}
