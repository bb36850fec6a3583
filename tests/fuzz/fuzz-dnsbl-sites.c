/* Fuzz target: the dnsbl sites setting (postscreen_dnsbl_sites syntax)
 * through the parser, and, when it parses, a few fixed answers through
 * the scoring. Besides not crashing or leaking, an error must name a site,
 * the limits must hold and the score must be the sum of the matched
 * sites' weights. */
#include <stdbool.h>

#include "fuzz-util.h"
#include "policy/dnsbl.h"

static const char *const answers_text[][3] = {
    {"127.0.0.2", "127.0.0.4", NULL},
    {"127.0.10.1", NULL, NULL},
    {"127.255.255.254", "192.0.2.1", NULL},
    {"127.0.0.255", "127.1.2.3", "127.0.0.0"},
};

static void check_sites(const struct dnsbl_sites *s)
{
    CHECK(s->n <= DNSBL_SITES_MAX);
    CHECK(s->n_domains <= s->n);
    for (size_t i = 0; i < s->n; i++) {
        const struct dnsbl_site *site = &s->site[i];
        size_t len = strlen(site->domain);
        CHECK(len > 0 && len <= DNSBL_DOMAIN_MAX);
        CHECK(site->weight >= -DNSBL_WEIGHT_MAX && site->weight <= DNSBL_WEIGHT_MAX);
        CHECK(site->domain_index < s->n_domains);
        CHECK(strcmp(s->domains[site->domain_index], site->domain) == 0);
        char name[DNSBL_QUERY_MAX];
        CHECK(dnsbl_query_name("2001:db8::1", site->domain, name, sizeof(name)) == 0);
        CHECK(dnsbl_query_name("192.0.2.1", site->domain, name, sizeof(name)) == 0);
    }
}

static void check_scores(const struct dnsbl_sites *s)
{
    for (size_t a = 0; a < sizeof(answers_text) / sizeof(answers_text[0]); a++) {
        char *rr[3];
        size_t n = 0;
        for (size_t k = 0; k < 3 && answers_text[a][k] != NULL; k++)
            rr[n++] = (char *)(uintptr_t)answers_text[a][k];
        uint32_t ans[DNSBL_ANSWERS_MAX];
        size_t na = dnsbl_answers_parse(rr, n, ans, DNSBL_ANSWERS_MAX);
        struct dnsbl_result r;
        dnsbl_result_init(&r);
        for (size_t d = 0; d < s->n_domains; d++)
            dnsbl_result_add(&r, s, d, ans, na);
        int sum = 0;
        for (size_t i = 0; i < s->n; i++)
            if (r.matched & ((uint32_t)1 << i))
                sum += s->site[i].weight;
        CHECK(sum == r.score);
        if (r.listed_site >= 0) {
            CHECK((size_t)r.listed_site < s->n);
            CHECK(s->site[r.listed_site].weight > 0);
            CHECK(strcmp(r.listed_by, s->site[r.listed_site].domain) == 0);
        } else {
            CHECK(r.listed_by[0] == '\0');
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_copy(data, size);
    char *error = NULL;
    struct dnsbl_sites s;
    if (dnsbl_sites_parse(text, size, &s, &error) != 0) {
        CHECK(error != NULL);
        CHECK(strncmp(error, "dnsbl site \"", 12) == 0);
        CHECK(s.n == 0);
        free(error);
        free(text);
        return 0;
    }
    CHECK(error == NULL);
    check_sites(&s);
    struct dnsbl_sites copy;
    dnsbl_sites_copy(&copy, &s);
    check_sites(&copy);
    check_scores(&copy);
    free(text);
    return 0;
}
