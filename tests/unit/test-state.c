/* Unit tests: the state database (schema, migration), domains, users,
 * aliases, recipient resolution and DKIM keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state/state-alias.h"
#include "state/state-db.h"
#include "lib/str.h"
#include "state/state-dkim.h"
#include "state/state-dmarc.h"
#include "state/state-domain.h"
#include "state/state-resolve.h"
#include "state/state-user.h"

static char dbdir[] = "/tmp/postino-test-state-XXXXXX";
static char dbpath[256];

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dbdir))
        return -1;
    snprintf(dbpath, sizeof(dbpath), "%s/postino.db", dbdir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dbdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void remove_db(void)
{
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char p[300];
        snprintf(p, sizeof(p), "%s%s", dbpath, sfx[i]);
        unlink(p);
    }
}

static struct state_db *fresh_db(void)
{
    remove_db();
    char *err = NULL;
    struct state_db *db = state_db_open(dbpath, true, &err);
    if (!db)
        fail_msg("open: %s", err);
    return db;
}

static void ok(int rc, char *err)
{
    if (rc != 0)
        fail_msg("unexpected failure: %s", err ? err : "?");
    free(err);
}

static void expect_fail(int rc, char *err, const char *needle)
{
    const char *shown = err ? err : "(none)";
    if (rc != -1 || !strstr(shown, needle))
        fail_msg("rc %d, message '%s' lacks '%s'", rc, shown, needle);
    free(err);
}

/* Run a call that sets err, then check it; err is read after the call. */
#define OK(call)                                                                                   \
    do {                                                                                           \
        err = NULL;                                                                                \
        int rc_ = (call);                                                                          \
        ok(rc_, err);                                                                              \
    } while (0)
#define FAIL(call, needle)                                                                         \
    do {                                                                                           \
        err = NULL;                                                                                \
        int rc_ = (call);                                                                          \
        expect_fail(rc_, err, needle);                                                             \
    } while (0)

static void test_new_db_has_current_schema(void **state)
{
    (void)state;
    struct state_db *db = fresh_db();
    assert_int_equal(state_db_schema_version(db), STATE_SCHEMA_VERSION);
    state_db_close(&db);
    assert_null(db);
}

/* A database made by the first release is upgraded in place. */
static void test_migrate_from_v1(void **state)
{
    (void)state;
    remove_db();
    sqlite3 *h;
    assert_int_equal(sqlite3_open(dbpath, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, state_schema_v1, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(h,
                     "PRAGMA user_version = 1;"
                     "INSERT INTO domains VALUES ('old.example', 1);"
                     "INSERT INTO users VALUES ('ann@old.example', 'old.example', "
                     "'$argon2id$x', 2);"
                     "INSERT INTO aliases VALUES ('a@old.example', 'ann@old.example');",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(h);

    char *err = NULL;
    struct state_db *db = state_db_open(dbpath, false, &err);
    assert_non_null(db);
    assert_int_equal(state_db_schema_version(db), STATE_SCHEMA_VERSION);
    struct state_user u;
    assert_int_equal(state_user_get(db, "ann@old.example", &u), 1);
    assert_string_equal(u.password, "$argon2id$x");
    assert_false(u.locked);
    OK(state_user_set_locked(db, "ann@old.example", true, &err));
    assert_int_equal(state_user_get(db, "ann@old.example", &u), 1);
    assert_true(u.locked);
    struct resolve_result r;
    assert_int_equal(state_resolve(db, "a", "old.example", &r), RESOLVE_OK);
    assert_int_equal(r.n, 1);
    resolve_result_free(&r);
    /* the DKIM table of version 5 is there */
    struct state_dkim_key k = {
        .domain = "old.example", .selector = "s1", .type = "rsa", .bits = 2048, .active = true};
    OK(state_dkim_add(db, &k, &err));
    state_db_close(&db);

    /* Opening again changes nothing. */
    db = state_db_open(dbpath, false, &err);
    assert_non_null(db);
    assert_int_equal(state_db_schema_version(db), STATE_SCHEMA_VERSION);
    state_db_close(&db);
}

static void test_newer_schema_refused(void **state)
{
    (void)state;
    remove_db();
    sqlite3 *h;
    assert_int_equal(sqlite3_open(dbpath, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "PRAGMA user_version = 99;", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    char *err = NULL;
    assert_null(state_db_open(dbpath, false, &err));
    assert_non_null(strstr(err, "newer"));
    free(err);
}

static void test_domains_users_aliases(void **state)
{
    (void)state;
    struct state_db *db = fresh_db();
    char *err = NULL;
    OK(state_domain_add(db, "Example.TEST", &err));
    assert_int_equal(state_domain_exists(db, "example.test"), 1);
    assert_int_equal(state_domain_exists(db, "other.test"), 0);
    FAIL(state_domain_add(db, "example.test", &err), "already");
    FAIL(state_domain_add(db, "bad_domain..x", &err), "not a valid");

    OK(state_user_add(db, "Bob@example.test", "$argon2id$h", &err));
    struct state_user u;
    assert_int_equal(state_user_get(db, "bob@example.test", &u), 1);
    assert_string_equal(u.address, "bob@example.test");
    assert_string_equal(u.domain, "example.test");
    assert_int_equal(state_user_get(db, "BOB@EXAMPLE.TEST", &u), 1);
    FAIL(state_user_add(db, "bob@example.test", "x", &err), "already");
    FAIL(state_user_add(db, "x@nowhere.test", "x", &err), "does not exist");
    FAIL(state_user_add(db, "a+b@example.test", "x", &err), "+");
    FAIL(state_user_add(db, "a/b@example.test", "x", &err), "/");
    FAIL(state_user_add(db, "not an address", "x", &err), "not a valid");
    OK(state_user_set_password(db, "bob@example.test", "$argon2id$new", &err));
    assert_int_equal(state_user_get(db, "bob@example.test", &u), 1);
    assert_string_equal(u.password, "$argon2id$new");

    OK(state_alias_add(db, "team@example.test", "bob@example.test", &err));
    OK(state_alias_add(db, "team@example.test", "ext@remote.test", &err));
    FAIL(state_alias_add(db, "team@example.test", "ext@remote.test", &err), "already");
    FAIL(state_alias_add(db, "x@notours.test", "bob@example.test", &err), "not one of ours");
    FAIL(state_domain_del(db, "example.test", &err), "still has");
    OK(state_alias_del(db, "team@example.test", NULL, &err));
    OK(state_user_del(db, "bob@example.test", &err));
    FAIL(state_user_del(db, "bob@example.test", &err), "does not exist");
    OK(state_domain_del(db, "example.test", &err));
    assert_int_equal(state_domain_exists(db, "example.test"), 0);
    state_db_close(&db);
}

/* Resolve and compare with the expected "addr:L|R" list (sorted as given). */
static void expect_resolve(struct state_db *db, const char *local, const char *domain,
                           enum resolve_status want, const char *const *dests, size_t n)
{
    struct resolve_result r;
    enum resolve_status st = state_resolve(db, local, domain, &r);
    if (st != want)
        fail_msg("%s@%s: status %d, want %d", local, domain, st, want);
    if (st != RESOLVE_OK)
        return;
    if (r.n != n)
        fail_msg("%s@%s: %zu destinations, want %zu", local, domain, r.n, n);
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        for (size_t k = 0; k < r.n; k++) {
            char text[400];
            snprintf(text, sizeof(text), "%s:%c", r.dests[k].addr, r.dests[k].local ? 'L' : 'R');
            if (strcmp(text, dests[i]) == 0)
                found = true;
        }
        if (!found)
            fail_msg("%s@%s: %s missing", local, domain, dests[i]);
    }
    resolve_result_free(&r);
}

static void test_resolve(void **state)
{
    (void)state;
    struct state_db *db = fresh_db();
    char *err = NULL;
    OK(state_domain_add(db, "ex.test", &err));
    OK(state_domain_add(db, "other.test", &err));
    OK(state_user_add(db, "bob@ex.test", "h", &err));
    OK(state_user_add(db, "ann@ex.test", "h", &err));
    OK(state_user_add(db, "zed@other.test", "h", &err));
    OK(state_alias_add(db, "team@ex.test", "bob@ex.test", &err));
    OK(state_alias_add(db, "team@ex.test", "ann@ex.test", &err));
    OK(state_alias_add(db, "team@ex.test", "out@remote.test", &err));
    OK(state_alias_add(db, "all@ex.test", "team@ex.test", &err));
    OK(state_alias_add(db, "all@ex.test", "zed@other.test", &err));
    OK(state_alias_add(db, "bob@ex.test", "bob@ex.test", &err)); /* keeps a copy */
    OK(state_alias_add(db, "bob@ex.test", "ann@ex.test", &err));
    OK(state_alias_add(db, "loop1@ex.test", "loop2@ex.test", &err));
    OK(state_alias_add(db, "loop2@ex.test", "loop1@ex.test", &err));
    OK(state_alias_add(db, "sales+eu@ex.test", "ann@ex.test", &err));
    OK(state_alias_add(db, "@other.test", "zed@other.test", &err));

    expect_resolve(db, "ann", "ex.test", RESOLVE_OK, (const char *[]){"ann@ex.test:L"}, 1);
    expect_resolve(db, "ANN", "ex.test", RESOLVE_OK, (const char *[]){"ann@ex.test:L"}, 1);
    expect_resolve(db, "ann+news", "ex.test", RESOLVE_OK, (const char *[]){"ann@ex.test:L"}, 1);
    expect_resolve(db, "bob", "ex.test", RESOLVE_OK,
                   (const char *[]){"bob@ex.test:L", "ann@ex.test:L"}, 2);
    expect_resolve(db, "team", "ex.test", RESOLVE_OK,
                   (const char *[]){"bob@ex.test:L", "ann@ex.test:L", "out@remote.test:R"}, 3);
    expect_resolve(
        db, "all", "ex.test", RESOLVE_OK,
        (const char *[]){"bob@ex.test:L", "ann@ex.test:L", "out@remote.test:R", "zed@other.test:L"},
        4);
    expect_resolve(db, "sales+eu", "ex.test", RESOLVE_OK, (const char *[]){"ann@ex.test:L"}, 1);
    expect_resolve(db, "sales", "ex.test", RESOLVE_UNKNOWN, NULL, 0);
    expect_resolve(db, "nobody", "ex.test", RESOLVE_UNKNOWN, NULL, 0);
    expect_resolve(db, "+tag", "ex.test", RESOLVE_UNKNOWN, NULL, 0);
    expect_resolve(db, "anything", "other.test", RESOLVE_OK, (const char *[]){"zed@other.test:L"},
                   1);
    expect_resolve(db, "loop1", "ex.test", RESOLVE_UNKNOWN, NULL, 0);
    expect_resolve(db, "x", "remote.test", RESOLVE_NOT_OURS, NULL, 0);
    state_db_close(&db);
}

static int n_listed;
static char listed[8][400];

static void collect_key(const struct state_dkim_key *k, void *arg)
{
    (void)arg;
    if (n_listed < 8)
        snprintf(listed[n_listed], sizeof(listed[0]), "%s/%s/%s/%u/%d", k->domain, k->selector,
                 k->type, k->bits, k->active ? 1 : 0);
    n_listed++;
}

static void list_keys(struct state_db *db, const char *domain, bool active_only)
{
    n_listed = 0;
    int n = state_dkim_list(db, domain, active_only, collect_key, NULL);
    assert_int_equal(n, n_listed);
}

static void test_dkim_keys(void **state)
{
    (void)state;
    struct state_db *db = fresh_db();
    char *err = NULL;
    OK(state_domain_add(db, "ex.test", &err));
    OK(state_domain_add(db, "other.test", &err));
    struct state_dkim_key k = {.domain = "Ex.TEST",
                               .selector = "S202611R",
                               .type = "rsa",
                               .bits = 2048,
                               .created = 1700000000,
                               .active = true};
    OK(state_dkim_add(db, &k, &err));
    /* the same selector (in any case) is refused; another domain may reuse it */
    k.selector[0] = 's';
    FAIL(state_dkim_add(db, &k, &err), "already has a DKIM key");
    struct state_dkim_key o = {.domain = "other.test",
                               .selector = "s202611r",
                               .type = "ed25519",
                               .bits = 256,
                               .active = false};
    OK(state_dkim_add(db, &o, &err));
    struct state_dkim_key e = {.domain = "ex.test",
                               .selector = "s202611e",
                               .type = "ed25519",
                               .bits = 256,
                               .active = true};
    OK(state_dkim_add(db, &e, &err));
    struct state_dkim_key bad = {.domain = "notours.test", .selector = "s", .type = "rsa"};
    FAIL(state_dkim_add(db, &bad, &err), "not one of our domains");
    struct state_dkim_key badtype = {.domain = "ex.test", .selector = "d", .type = "dsa"};
    FAIL(state_dkim_add(db, &badtype, &err), "unknown key type");

    struct state_dkim_key got;
    assert_int_equal(state_dkim_get(db, "EX.test", "s202611R", &got), 1);
    assert_string_equal(got.domain, "ex.test");
    assert_string_equal(got.selector, "s202611r");
    assert_string_equal(got.type, "rsa");
    assert_int_equal(got.bits, 2048);
    assert_int_equal(got.created, 1700000000);
    assert_true(got.active);
    assert_int_equal(state_dkim_get(db, "ex.test", "nope", &got), 0);
    assert_int_equal(state_dkim_get(db, "other.test", "s202611r", &got), 1);
    assert_true(got.created > 1700000000); /* 0 means now */

    list_keys(db, NULL, false);
    assert_int_equal(n_listed, 3);
    assert_string_equal(listed[0], "ex.test/s202611e/ed25519/256/1");
    assert_string_equal(listed[1], "ex.test/s202611r/rsa/2048/1");
    assert_string_equal(listed[2], "other.test/s202611r/ed25519/256/0");
    list_keys(db, NULL, true);
    assert_int_equal(n_listed, 2);
    list_keys(db, "OTHER.test", true);
    assert_int_equal(n_listed, 0);
    OK(state_dkim_set_active(db, "other.test", "S202611R", true, &err));
    list_keys(db, "other.test", true);
    assert_int_equal(n_listed, 1);
    OK(state_dkim_set_active(db, "ex.test", "s202611e", false, &err));
    list_keys(db, "ex.test", true);
    assert_int_equal(n_listed, 1);
    assert_string_equal(listed[0], "ex.test/s202611r/rsa/2048/1");
    FAIL(state_dkim_set_active(db, "ex.test", "nope", true, &err), "no DKIM key");

    /* a domain with keys cannot go */
    FAIL(state_domain_del(db, "other.test", &err), "DKIM");
    OK(state_dkim_del(db, "Other.Test", "s202611r", &err));
    FAIL(state_dkim_del(db, "other.test", "s202611r", &err), "no DKIM key");
    OK(state_domain_del(db, "other.test", &err));
    list_keys(db, NULL, false);
    assert_int_equal(n_listed, 2);
    state_db_close(&db);
}

static long long dmarc_total;
static size_t dmarc_rows;

static void count_row(const struct state_dmarc_row *r, void *arg)
{
    (void)arg;
    dmarc_total += r->count;
    dmarc_rows++;
}

static void test_dmarc_aggregate(void **state)
{
    (void)state;
    struct state_db *db = fresh_db();
    char *err = NULL;
    struct state_dmarc_row r = {.day = "2026-11-28",
                                .policy_domain = "b.example",
                                .from_domain = "mail.b.example",
                                .source_ip = "192.0.2.7",
                                .disposition = "reject",
                                .dkim = "fail",
                                .spf = "fail",
                                .result = "fail",
                                .published = "p=reject sp=reject pct=100 adkim=r aspf=r"};
    OK(state_dmarc_add(db, &r, &err));
    OK(state_dmarc_add(db, &r, &err)); /* the same kind again: counted */
    str_copy(r.disposition, sizeof(r.disposition), "none");
    str_copy(r.result, sizeof(r.result), "pass");
    OK(state_dmarc_add(db, &r, &err));
    str_copy(r.day, sizeof(r.day), "2026-11-29");
    OK(state_dmarc_add(db, &r, &err));
    dmarc_total = 0;
    dmarc_rows = 0;
    assert_int_equal(state_dmarc_list(db, "2026-11-28", count_row, NULL), 2);
    assert_int_equal(dmarc_rows, 2);
    assert_int_equal(dmarc_total, 3);
    assert_int_equal(state_dmarc_list(db, NULL, count_row, NULL), 3);
    assert_int_equal(state_dmarc_list(db, "2026-01-01", count_row, NULL), 0);
    state_db_close(&db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_db_has_current_schema),
        cmocka_unit_test(test_migrate_from_v1),
        cmocka_unit_test(test_newer_schema_refused),
        cmocka_unit_test(test_domains_users_aliases),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_dkim_keys),
        cmocka_unit_test(test_dmarc_aggregate),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
