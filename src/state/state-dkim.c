#include "state-dkim.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/str.h"
#include "state-domain.h"
#include "state-private.h"
#include "state-util.h"

#define KEY_COLUMNS "domain, selector, type, bits, created, active"

/* Lowercased copies of domain and selector; -1 if either is too long. */
static int lower_pair(const char *domain, const char *selector, char *d, size_t dsize, char *s,
                      size_t ssize)
{
    if (str_copy(d, dsize, domain) < 0 || str_copy(s, ssize, selector) < 0)
        return -1;
    str_lower(d);
    str_lower(s);
    return 0;
}

int state_dkim_add(struct state_db *db, const struct state_dkim_key *k, char **error_r)
{
    char d[sizeof(k->domain)], s[sizeof(k->selector)];
    if (lower_pair(k->domain, k->selector, d, sizeof(d), s, sizeof(s)) < 0 || !*d || !*s)
        return state_fail(error_r, "bad domain or selector");
    if (strcmp(k->type, "rsa") != 0 && strcmp(k->type, "ed25519") != 0)
        return state_fail(error_r, "unknown key type '%s'", k->type);
    int e = state_domain_exists(db, d);
    if (e < 0)
        return state_fail(error_r, "database: %s", state_db_error(db));
    if (e == 0)
        return state_fail(error_r, "%s is not one of our domains (postino domain list)", d);
    struct state_dkim_key old;
    e = state_dkim_get(db, d, s, &old);
    if (e < 0)
        return state_fail(error_r, "database: %s", state_db_error(db));
    if (e > 0)
        return state_fail(error_r, "%s already has a DKIM key with selector %s", d, s);
    char bits[16], created[32], active[4];
    snprintf(bits, sizeof(bits), "%u", k->bits);
    snprintf(created, sizeof(created), "%lld", k->created ? k->created : (long long)time(NULL));
    snprintf(active, sizeof(active), "%d", k->active ? 1 : 0);
    return state_exec(db, error_r,
                      "INSERT INTO dkim_keys (" KEY_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?)", d, s,
                      k->type, bits, created, active, (char *)NULL) < 0
               ? -1
               : 0;
}

int state_dkim_del(struct state_db *db, const char *domain, const char *selector, char **error_r)
{
    char d[256], s[64];
    if (lower_pair(domain, selector, d, sizeof(d), s, sizeof(s)) < 0)
        return state_fail(error_r, "no DKIM key %s for %s", selector, domain);
    int n = state_exec(db, error_r, "DELETE FROM dkim_keys WHERE domain = ? AND selector = ?", d, s,
                       (char *)NULL);
    if (n < 0)
        return -1;
    if (n == 0)
        return state_fail(error_r, "no DKIM key %s for %s", s, d);
    return 0;
}

int state_dkim_set_active(struct state_db *db, const char *domain, const char *selector,
                          bool active, char **error_r)
{
    char d[256], s[64];
    if (lower_pair(domain, selector, d, sizeof(d), s, sizeof(s)) < 0)
        return state_fail(error_r, "no DKIM key %s for %s", selector, domain);
    int n = state_exec(db, error_r,
                       active ? "UPDATE dkim_keys SET active = 1 WHERE domain = ? AND selector = ?"
                              : "UPDATE dkim_keys SET active = 0 WHERE domain = ? AND selector = ?",
                       d, s, (char *)NULL);
    if (n < 0)
        return -1;
    if (n == 0)
        return state_fail(error_r, "no DKIM key %s for %s", s, d);
    return 0;
}

/* Fill k from a row of KEY_COLUMNS. */
static void read_row(sqlite3_stmt *st, struct state_dkim_key *k)
{
    memset(k, 0, sizeof(*k));
    str_copy(k->domain, sizeof(k->domain), (const char *)sqlite3_column_text(st, 0));
    str_copy(k->selector, sizeof(k->selector), (const char *)sqlite3_column_text(st, 1));
    str_copy(k->type, sizeof(k->type), (const char *)sqlite3_column_text(st, 2));
    k->bits = (unsigned)sqlite3_column_int(st, 3);
    k->created = sqlite3_column_int64(st, 4);
    k->active = sqlite3_column_int(st, 5) != 0;
}

int state_dkim_get(struct state_db *db, const char *domain, const char *selector,
                   struct state_dkim_key *out)
{
    char d[256], s[64];
    if (lower_pair(domain, selector, d, sizeof(d), s, sizeof(s)) < 0)
        return 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(
            db->h, "SELECT " KEY_COLUMNS " FROM dkim_keys WHERE domain = ? AND selector = ?", -1,
            &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, d, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, s, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        read_row(st, out);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int state_dkim_list(struct state_db *db, const char *domain, bool active_only,
                    void (*fn)(const struct state_dkim_key *k, void *arg), void *arg)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h,
                           "SELECT " KEY_COLUMNS " FROM dkim_keys"
                           " WHERE (?1 IS NULL OR domain = ?1) AND (?2 = 0 OR active = 1)"
                           " ORDER BY domain, selector",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    char d[256];
    if (domain) {
        str_copy(d, sizeof(d), domain);
        str_lower(d);
        sqlite3_bind_text(st, 1, d, -1, SQLITE_TRANSIENT);
    }
    sqlite3_bind_int(st, 2, active_only ? 1 : 0);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct state_dkim_key k;
        read_row(st, &k);
        fn(&k, arg);
        n++;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? n : -1;
}
