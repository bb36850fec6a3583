/* Unit tests: the rate counts and greylisting triplets of state/policy.db
 * (policy-db.h), on a scratch directory, with explicit times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "policy/policy-db.h"

static char base[] = "/tmp/postino-test-policy-db-XXXXXX";

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(base))
        return -1;
    char p[600];
    snprintf(p, sizeof(p), "%s/state", base);
    return mkdir(p, 0700);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
    return system(cmd) == 0 ? 0 : -1;
}

static struct policy_db *open_db(void)
{
    char *err = NULL;
    struct policy_db *db = policy_db_open(base, &err);
    if (!db)
        fail_msg("open: %s", err);
    return db;
}

static void test_rates_sliding_hour(void **state)
{
    (void)state;
    struct policy_db *db = open_db();
    const long long t0 = 1800000000;
    unsigned long long m, r;
    assert_int_equal(policy_rate_get(db, "ip:192.0.2.1", t0, &m, &r), 0);
    assert_int_equal(m, 0);
    assert_int_equal(policy_rate_add(db, "ip:192.0.2.1", t0, 1, 3), 0);
    assert_int_equal(policy_rate_add(db, "ip:192.0.2.1", t0 + 30, 1, 2), 0);
    assert_int_equal(policy_rate_add(db, "ip:192.0.2.1", t0 + 1800, 1, 1), 0);
    assert_int_equal(policy_rate_add(db, "user:bob", t0, 5, 5), 0);
    assert_int_equal(policy_rate_get(db, "ip:192.0.2.1", t0 + 1800, &m, &r), 0);
    assert_int_equal(m, 3);
    assert_int_equal(r, 6);
    /* an hour after the first two, only the third counts */
    assert_int_equal(policy_rate_get(db, "ip:192.0.2.1", t0 + 3600 + 120, &m, &r), 0);
    assert_int_equal(m, 1);
    assert_int_equal(r, 1);
    assert_int_equal(policy_rate_get(db, "user:bob", t0 + 10, &m, &r), 0);
    assert_int_equal(m, 5);
    /* a second connection (another process) sees the same counts */
    struct policy_db *other = open_db();
    assert_int_equal(policy_rate_get(other, "user:bob", t0 + 10, &m, &r), 0);
    assert_int_equal(r, 5);
    policy_db_close(&other);
    policy_db_close(&db);
    assert_null(db);
}

static void test_greylist(void **state)
{
    (void)state;
    struct policy_db *db = open_db();
    const long long t0 = 1800000000, delay = 300, allow = 36 * 86400;
    long long wait;
    const char *cl = "192.0.2.0/24";
    assert_int_equal(policy_greylist(db, cl, "a@x.test", "bob@y.test", t0, delay, allow, &wait),
                     GREYLIST_DEFER);
    assert_int_equal(wait, 300);
    /* retried too soon */
    assert_int_equal(
        policy_greylist(db, cl, "a@x.test", "bob@y.test", t0 + 100, delay, allow, &wait),
        GREYLIST_DEFER);
    assert_int_equal(wait, 200);
    /* another triplet of the same client is new */
    assert_int_equal(
        policy_greylist(db, cl, "b@x.test", "bob@y.test", t0 + 100, delay, allow, &wait),
        GREYLIST_DEFER);
    /* retried after the delay: passes, and the client is allowed */
    assert_int_equal(
        policy_greylist(db, cl, "a@x.test", "bob@y.test", t0 + 301, delay, allow, &wait),
        GREYLIST_PASS);
    assert_int_equal(
        policy_greylist(db, cl, "new@z.test", "carol@y.test", t0 + 302, delay, allow, &wait),
        GREYLIST_PASS);
    /* the allowance ends; other clients were never allowed */
    assert_int_equal(policy_greylist(db, cl, "new2@z.test", "carol@y.test", t0 + 301 + allow + 1,
                                     delay, allow, &wait),
                     GREYLIST_DEFER);
    assert_int_equal(policy_greylist(db, "198.51.100.0/24", "a@x.test", "bob@y.test", t0 + 400,
                                     delay, allow, &wait),
                     GREYLIST_DEFER);
    policy_db_close(&db);
}

static void test_greylist_client(void **state)
{
    (void)state;
    char out[80];
    policy_greylist_client("192.0.2.77", out, sizeof(out));
    assert_string_equal(out, "192.0.2.0/24");
    policy_greylist_client("2001:db8:1:2:3:4:5:6", out, sizeof(out));
    assert_string_equal(out, "2001:db8:1:2::/64");
    policy_greylist_client("not an address", out, sizeof(out));
    assert_string_equal(out, "not an address");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rates_sliding_hour),
        cmocka_unit_test(test_greylist),
        cmocka_unit_test(test_greylist_client),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
