/* share-policy: the share portal's per-domain policy setting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/config.h"
#include "share/share-policy.h"

#define ALL 15u /* the four modes */

static struct config *cfg_with(bool external)
{
    struct config *cfg = config_new_default();
    cfg->share_external_senders = external;
    return cfg;
}

static void test_empty_and_defaults(void **state)
{
    (void)state;
    struct config *cfg = cfg_with(false);
    struct share_policy p;
    assert_int_equal(share_policy_parse("", 0, &p, NULL), 0);
    assert_int_equal(p.n, 0);
    struct share_limits l;
    share_policy_limits(&p, cfg, "ann@example.org", false, &l);
    assert_true(l.may_send);
    assert_int_equal(l.max_size, (unsigned long long)cfg->share_max_size);
    assert_int_equal(l.expires_max, cfg->share_expires_max);
    assert_int_equal(l.modes, ALL);
    assert_false(share_policy_external_ok(&p, cfg, "example.org"));
    assert_false(share_policy_external_any(&p, cfg));
    share_policy_free(&p);
    config_free(&cfg);
}

static void test_entries(void **state)
{
    (void)state;
    struct config *cfg = cfg_with(false);
    const char *text = " Example.ORG senders=Ann@example.org|bob@example.org max_size=500M "
                       "expires_max=7 modes=generated|e2e external=yes,\tclosed.test senders=none,"
                       "big.test max_size=1024G expires_max=3650, open.test";
    struct share_policy p;
    char *err = NULL;
    assert_int_equal(share_policy_parse(text, strlen(text), &p, &err), 0);
    assert_null(err);
    assert_int_equal(p.n, 4);
    struct share_limits l;
    share_policy_limits(&p, cfg, "ann@example.org", false, &l);
    assert_true(l.may_send);
    assert_int_equal(l.max_size, 500ULL * 1024 * 1024);
    assert_int_equal(l.expires_max, 7);
    assert_int_equal(l.modes, (1u << SHARE_PW_GENERATED) | (1u << SHARE_PW_E2E));
    share_policy_limits(&p, cfg, "BOB@EXAMPLE.ORG", false, &l);
    assert_true(l.may_send);
    share_policy_limits(&p, cfg, "carol@example.org", false, &l);
    assert_false(l.may_send);
    share_policy_limits(&p, cfg, "x@closed.test", false, &l);
    assert_false(l.may_send);
    /* never past the global maximums */
    share_policy_limits(&p, cfg, "x@big.test", false, &l);
    assert_true(l.may_send);
    assert_int_equal(l.max_size, (unsigned long long)cfg->share_max_size);
    assert_int_equal(l.expires_max, cfg->share_expires_max);
    /* an outside sender: the global limits */
    share_policy_limits(&p, cfg, "carol@example.org", true, &l);
    assert_true(l.may_send);
    assert_int_equal(l.modes, ALL);
    assert_true(share_policy_external_ok(&p, cfg, "example.org"));
    assert_true(share_policy_external_ok(&p, cfg, "EXAMPLE.org"));
    assert_false(share_policy_external_ok(&p, cfg, "open.test"));
    assert_true(share_policy_external_any(&p, cfg));
    share_policy_free(&p);
    config_free(&cfg);
    /* the global switch, and a domain that says no */
    cfg = cfg_with(true);
    text = "no.test external=no";
    assert_int_equal(share_policy_parse(text, strlen(text), &p, NULL), 0);
    assert_false(share_policy_external_ok(&p, cfg, "no.test"));
    assert_true(share_policy_external_ok(&p, cfg, "other.test"));
    share_policy_free(&p);
    config_free(&cfg);
}

static void test_refused(void **state)
{
    (void)state;
    static const struct {
        const char *text, *words;
    } cases[] = {
        {"example.org colour=blue", "unknown option"},
        {"example.org senders", "NAME=VALUE"},
        {"example.org senders=", "NAME=VALUE"},
        {"example.org senders=someone", "senders"},
        {"example.org max_size=big", "max_size"},
        {"example.org max_size=0", "max_size"},
        {"example.org expires_max=0", "expires_max"},
        {"example.org expires_max=3651", "expires_max"},
        {"example.org expires_max=5d", "expires_max"},
        {"example.org modes=psychic", "modes"},
        {"example.org modes=generated|", "empty element"},
        {"example.org senders=|a@example.org", "empty element"},
        {"example.org senders=a@example.org||b@example.org", "empty element"},
        {"example.org external=maybe", "external"},
        {"ann@example.org", "starts with its domain"},
        {"localhost", "starts with its domain"},
        {"senders=all", "starts with its domain"},
        {"a.test, A.TEST", "two entries"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct share_policy p;
        char *err = NULL;
        if (share_policy_parse(cases[i].text, strlen(cases[i].text), &p, &err) != -1)
            fail_msg("'%s' was accepted", cases[i].text);
        assert_non_null(err);
        if (!strstr(err, cases[i].words))
            fail_msg("'%s': '%s' lacks '%s'", cases[i].text, err, cases[i].words);
        assert_non_null(strstr(err, "share_domain_policy"));
        assert_int_equal(p.n, 0);
        assert_null(p.text);
        free(err);
    }
    /* the limits: 64 domains fit, 65 do not */
    char text[SHARE_POLICY_TEXT_MAX];
    size_t n = 0;
    for (int i = 0; i < SHARE_POLICY_DOMAINS_MAX; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%sd%d.test", i ? "," : "", i);
    struct share_policy p;
    assert_int_equal(share_policy_parse(text, n, &p, NULL), 0);
    assert_int_equal(p.n, SHARE_POLICY_DOMAINS_MAX);
    share_policy_free(&p);
    n += (size_t)snprintf(text + n, sizeof(text) - n, ",one-more.test");
    char *err = NULL;
    assert_int_equal(share_policy_parse(text, n, &p, &err), -1);
    assert_non_null(strstr(err, "too many domains"));
    free(err);
    char *huge = calloc(1, SHARE_POLICY_TEXT_MAX + 2);
    memset(huge, 'a', SHARE_POLICY_TEXT_MAX + 1);
    assert_int_equal(share_policy_parse(huge, SHARE_POLICY_TEXT_MAX + 1, &p, &err), -1);
    free(err);
    free(huge);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_defaults),
        cmocka_unit_test(test_entries),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
