/* Unit tests: login checks, account lockout and client penalties, on a
 * real database in a scratch directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/authenticate.h"
#include "state/state-db.h"
#include "state/state-domain.h"
#include "state/state-user.h"

static char dir[] = "/tmp/postino-test-auth-XXXXXX";
static char path[256];
static const struct password_cost cheap = {.memory_kib = 64, .time = 1, .parallelism = 1};

static struct auth_settings settings(void)
{
    struct auth_settings s = {
        .max_failures = 3,
        .window = 3600,
        .lockout = 3600,
        .delay_ms = 1000,
        .delay_max_ms = 15000,
        .client_max_failures = 5,
        .cost = cheap,
    };
    return s;
}

static void add_user(struct state_db *db, const char *addr, const char *pw)
{
    char hash[PASSWORD_HASH_MAX];
    const char *why;
    assert_int_equal(password_hash(pw, strlen(pw), &cheap, hash, &why), 0);
    char *err = NULL;
    if (state_user_add(db, addr, hash, &err) != 0)
        fail_msg("%s", err);
}

static int setup(void **state)
{
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof(path), "%s/postino.db", dir);
    char *err = NULL;
    struct state_db *db = state_db_open(path, true, &err);
    if (!db || state_domain_add(db, "ex.test", &err) != 0)
        return -1;
    *state = db;
    return 0;
}

static int teardown(void **state)
{
    struct state_db *db = *state;
    state_db_close(&db);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct auth_outcome try(struct auth_context *ac, const char *user, const char *pw,
                               const char *ip)
{
    struct auth_outcome o;
    authenticate(ac, user, pw, strlen(pw), ip, &o);
    return o;
}

static void test_success_and_unknown(void **state)
{
    struct state_db *db = *state;
    add_user(db, "ann@ex.test", "right");
    struct auth_settings s = settings();
    char *err = NULL;
    struct auth_context *ac = auth_context_new(path, &s, &err);
    assert_non_null(ac);
    struct auth_outcome o = try(ac, "ANN@ex.test", "right", "192.0.2.1");
    assert_int_equal(o.result, AUTH_OK);
    assert_string_equal(o.user, "ann@ex.test");
    assert_int_equal(o.delay_ms, 0);
    o = try(ac, "nobody@ex.test", "right", "192.0.2.1");
    assert_int_equal(o.result, AUTH_UNKNOWN_USER);
    assert_int_equal(o.client_failures, 1);
    assert_int_equal(o.delay_ms, 1000);
    o = try(ac, "ann@ex.test", "wrong", "192.0.2.1");
    assert_int_equal(o.result, AUTH_WRONG_PASSWORD);
    assert_int_equal(o.delay_ms, 2000);
    /* successes are never delayed, and do not clear the client's record */
    o = try(ac, "ann@ex.test", "right", "192.0.2.1");
    assert_int_equal(o.result, AUTH_OK);
    assert_int_equal(o.delay_ms, 0);
    o = try(ac, "ann@ex.test", "wrong2", "192.0.2.1");
    assert_int_equal(o.delay_ms, 4000);
    auth_context_free(&ac);
}

static void test_lockout(void **state)
{
    struct state_db *db = *state;
    add_user(db, "bob@ex.test", "right");
    struct auth_settings s = settings();
    char *err = NULL;
    struct auth_context *ac = auth_context_new(path, &s, &err);
    struct auth_outcome o = try(ac, "bob@ex.test", "guess1", "192.0.2.10");
    assert_int_equal(o.account_failures, 1);
    /* the same wrong password again counts once */
    o = try(ac, "bob@ex.test", "guess1", "192.0.2.11");
    assert_true(o.repeated);
    assert_int_equal(o.account_failures, 1);
    o = try(ac, "bob@ex.test", "guess2", "192.0.2.12");
    assert_int_equal(o.account_failures, 2);
    assert_false(o.locked_now);
    o = try(ac, "bob@ex.test", "guess3", "192.0.2.13");
    assert_true(o.locked_now);
    /* locked: the right password fails like a wrong one, and is not counted */
    o = try(ac, "bob@ex.test", "right", "192.0.2.14");
    assert_int_equal(o.result, AUTH_ACCOUNT_LOCKED);
    struct state_user u;
    assert_int_equal(state_user_get(db, "bob@ex.test", &u), 1);
    assert_int_equal(u.failures, 3);
    assert_true(u.locked_until > (long long)time(NULL));
    /* an administrator's unlock ends it */
    assert_int_equal(state_user_set_locked(db, "bob@ex.test", false, &err), 0);
    o = try(ac, "bob@ex.test", "right", "192.0.2.15");
    assert_int_equal(o.result, AUTH_OK);
    /* a lockout that ran out ends by itself */
    try(ac, "bob@ex.test", "a", "192.0.2.16");
    try(ac, "bob@ex.test", "b", "192.0.2.16");
    o = try(ac, "bob@ex.test", "c", "192.0.2.16");
    assert_true(o.locked_now);
    assert_int_equal(sqlite3_exec(state_db_handle(db),
                                  "UPDATE users SET locked_until = 1 WHERE address = 'bob@ex.test'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    o = try(ac, "bob@ex.test", "right", "192.0.2.17");
    assert_int_equal(o.result, AUTH_OK);
    auth_context_free(&ac);

    /* lockout_duration 0: until unlocked */
    s.lockout = 0;
    ac = auth_context_new(path, &s, &err);
    try(ac, "bob@ex.test", "x1", "192.0.2.18");
    try(ac, "bob@ex.test", "x2", "192.0.2.18");
    try(ac, "bob@ex.test", "x3", "192.0.2.18");
    assert_int_equal(state_user_get(db, "bob@ex.test", &u), 1);
    assert_int_equal(u.locked_until, -1);
    o = try(ac, "bob@ex.test", "right", "192.0.2.19");
    assert_int_equal(o.result, AUTH_ACCOUNT_LOCKED);
    auth_context_free(&ac);
}

static void test_client_penalty(void **state)
{
    struct state_db *db = *state;
    add_user(db, "carl@ex.test", "right");
    struct auth_settings s = settings();
    s.max_failures = 100;
    char *err = NULL;
    struct auth_context *ac = auth_context_new(path, &s, &err);
    long long want[] = {1000, 2000, 4000, 8000, 15000};
    for (int i = 0; i < 5; i++) {
        struct auth_outcome o = try(ac, "carl@ex.test", i % 2 ? "no" : "nope", "198.51.100.7");
        assert_int_equal(o.result, AUTH_WRONG_PASSWORD);
        assert_int_equal(o.delay_ms, want[i]);
    }
    struct state_user u;
    assert_int_equal(state_user_get(db, "carl@ex.test", &u), 1);
    long long before = u.failures;
    /* past auth_ip_max_failures the client is refused unchecked, even with
     * the right password, and the account is not charged */
    struct auth_outcome o = try(ac, "carl@ex.test", "right", "198.51.100.7");
    assert_int_equal(o.result, AUTH_CLIENT_BLOCKED);
    assert_int_equal(o.delay_ms, 15000);
    assert_int_equal(state_user_get(db, "carl@ex.test", &u), 1);
    assert_int_equal(u.failures, before);
    /* another address is not affected */
    o = try(ac, "carl@ex.test", "right", "198.51.100.8");
    assert_int_equal(o.result, AUTH_OK);
    /* IPv6 clients count per /64 */
    char key[80];
    auth_client_key("2001:db8:1:2:3:4:5:6", key, sizeof(key));
    assert_string_equal(key, "2001:db8:1:2::/64");
    auth_client_key("192.0.2.1", key, sizeof(key));
    assert_string_equal(key, "192.0.2.1");
    o = try(ac, "carl@ex.test", "bad", "2001:db8:9:9::1");
    assert_int_equal(o.client_failures, 1);
    o = try(ac, "carl@ex.test", "bad2", "2001:db8:9:9:ffff::2");
    assert_int_equal(o.client_failures, 2);
    auth_context_free(&ac);
}

static void test_hash_upgrade(void **state)
{
    struct state_db *db = *state;
    /* openssl passwd -6 -salt saltsalt 'secret pw' */
    const char *h = "$6$saltsalt$zM85MwF7wzNFxhHekCkSASe1NaC/xUx1S2eoXlbcx1w6LkHRO4n1DK7q.d/"
                    "HKoYFUjJ10GWDs5jLq2A53OAzU1";
    char *err = NULL;
    assert_int_equal(state_user_add(db, "dora@ex.test", h, &err), 0);
    struct auth_settings s = settings();
    struct auth_context *ac = auth_context_new(path, &s, &err);
    struct auth_outcome o = try(ac, "dora@ex.test", "secret pw", "203.0.113.1");
    assert_int_equal(o.result, AUTH_OK);
    assert_true(o.upgraded);
    struct state_user u;
    assert_int_equal(state_user_get(db, "dora@ex.test", &u), 1);
    assert_true(strncmp(u.password, "$argon2id$", 10) == 0);
    o = try(ac, "dora@ex.test", "secret pw", "203.0.113.1");
    assert_int_equal(o.result, AUTH_OK);
    assert_false(o.upgraded);
    auth_context_free(&ac);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_success_and_unknown),
        cmocka_unit_test(test_lockout),
        cmocka_unit_test(test_client_penalty),
        cmocka_unit_test(test_hash_upgrade),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
