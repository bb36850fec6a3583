#include "state-auth.h"

#include <openssl/rand.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "smtp/smtp-address.h"
#include "state-private.h"
#include "state-user.h"
#include "state-util.h"

static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int state_auth_user_get(struct state_db *db, const char *address, struct state_auth_user *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h,
                           "SELECT address, password, locked, failed_logins, failure_window_start, "
                           "locked_until, last_failure_fp FROM users WHERE address = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, address, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof(*out));
        str_copy(out->address, sizeof(out->address), (const char *)sqlite3_column_text(st, 0));
        str_copy(out->password, sizeof(out->password), (const char *)sqlite3_column_text(st, 1));
        out->admin_locked = sqlite3_column_int(st, 2) != 0;
        out->failures = sqlite3_column_int64(st, 3);
        out->window_start = sqlite3_column_int64(st, 4);
        out->locked_until = sqlite3_column_int64(st, 5);
        const unsigned char *fp = sqlite3_column_text(st, 6);
        str_copy(out->last_fp, sizeof(out->last_fp), fp ? (const char *)fp : "");
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int state_auth_user_put(struct state_db *db, const struct state_auth_user *u)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h,
                           "UPDATE users SET failed_logins = ?, failure_window_start = ?, "
                           "locked_until = ?, last_failure_fp = ? WHERE address = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, u->failures);
    sqlite3_bind_int64(st, 2, u->window_start);
    sqlite3_bind_int64(st, 3, u->locked_until);
    if (u->last_fp[0])
        sqlite3_bind_text(st, 4, u->last_fp, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, 4);
    sqlite3_bind_text(st, 5, u->address, -1, SQLITE_TRANSIENT);
    return step_done(st);
}

int state_auth_user_set_password(struct state_db *db, const char *address, const char *hash)
{
    char *err = NULL;
    int n = state_exec(db, &err, "UPDATE users SET password = ? WHERE address = ?", hash, address,
                       (char *)NULL);
    free(err);
    return n < 0 ? -1 : 0;
}

int state_auth_client_get(struct state_db *db, const char *net, struct state_auth_client *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h,
                           "SELECT failures, window_start, last FROM auth_clients WHERE net = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, net, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->failures = sqlite3_column_int64(st, 0);
        out->window_start = sqlite3_column_int64(st, 1);
        out->last = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int state_auth_client_put(struct state_db *db, const char *net, const struct state_auth_client *c)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(
            db->h,
            "INSERT OR REPLACE INTO auth_clients (net, failures, window_start, last) "
            "VALUES (?, ?, ?, ?)",
            -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, net, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, c->failures);
    sqlite3_bind_int64(st, 3, c->window_start);
    sqlite3_bind_int64(st, 4, c->last);
    return step_done(st);
}

int state_auth_client_expire(struct state_db *db, long long before)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, "DELETE FROM auth_clients WHERE last < ?", -1, &st, NULL) !=
        SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, before);
    if (step_done(st) < 0)
        return -1;
    return sqlite3_changes(db->h);
}

int state_auth_begin(struct state_db *db)
{
    return sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

int state_auth_commit(struct state_db *db)
{
    return sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

void state_auth_rollback(struct state_db *db)
{
    sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

int state_meta_secret(struct state_db *db, const char *key, unsigned char out[32])
{
    for (int attempt = 0; attempt < 2; attempt++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db->h, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL) !=
            SQLITE_OK)
            return -1;
        sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 64) {
            const char *hex = (const char *)sqlite3_column_text(st, 0);
            for (int i = 0; i < 32; i++) {
                unsigned v;
                if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
                    sqlite3_finalize(st);
                    return -1;
                }
                out[i] = (unsigned char)v;
            }
            sqlite3_finalize(st);
            return 0;
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
            return -1;
        /* None yet: make one (another process may win the race). */
        unsigned char raw[32];
        if (RAND_bytes(raw, sizeof(raw)) != 1)
            return -1;
        char hex[65];
        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", raw[i]);
        char *err = NULL;
        if (state_exec(db, &err, "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", key, hex,
                       (char *)NULL) < 0) {
            free(err);
            return -1;
        }
    }
    return -1;
}

int state_send_as_allowed(struct state_db *db, const char *user, const char *address)
{
    char domain[256];
    state_domain_of(address, domain, sizeof(domain));
    char wild[260];
    snprintf(wild, sizeof(wild), "@%s", domain);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h,
                           "SELECT 1 FROM send_as WHERE user = ? AND (address = ? OR address = ?)",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, user, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, address, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, wild, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int state_send_as_add(struct state_db *db, const char *user, const char *address, char **error_r)
{
    struct state_user u;
    if (state_user_get(db, user, &u) != 1)
        return state_fail(error_r, "user %s does not exist", user);
    struct smtp_path p;
    bool wild = address[0] == '@' && smtp_domain_valid(address + 1, strlen(address + 1), true);
    if (!wild && smtp_mailbox_parse(address, strlen(address), &p) != SMTP_PATH_OK)
        return state_fail(error_r, "'%s' is neither an address nor @domain", address);
    int n = state_exec(db, error_r, "INSERT OR IGNORE INTO send_as (user, address) VALUES (?, ?)",
                       u.address, address, (char *)NULL);
    if (n < 0)
        return -1;
    if (n == 0)
        return state_fail(error_r, "%s may already send as %s", u.address, address);
    return 0;
}

int state_send_as_del(struct state_db *db, const char *user, const char *address, char **error_r)
{
    int n = state_exec(db, error_r, "DELETE FROM send_as WHERE user = ? AND address = ?", user,
                       address, (char *)NULL);
    if (n < 0)
        return -1;
    if (n == 0)
        return state_fail(error_r, "%s has no permission to send as %s", user, address);
    return 0;
}

int state_send_as_list(struct state_db *db, const char *user,
                       void (*fn)(const char *user, const char *address, void *arg), void *arg)
{
    sqlite3_stmt *st;
    const char *sql = user ? "SELECT user, address FROM send_as WHERE user = ? ORDER BY address"
                           : "SELECT user, address FROM send_as ORDER BY user, address";
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (user)
        sqlite3_bind_text(st, 1, user, -1, SQLITE_TRANSIENT);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fn((const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1), arg);
        n++;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? n : -1;
}
