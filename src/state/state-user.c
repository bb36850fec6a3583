#include "state-user.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/str.h"
#include "smtp/smtp-address.h"
#include "state-domain.h"
#include "state-private.h"
#include "state-util.h"

/* Check "local@domain" and return the lowercased copy in out. */
static int normalize(const char *address, char *out, size_t outsize, char **error_r)
{
    struct smtp_path p;
    if (smtp_mailbox_parse(address, strlen(address), &p) != SMTP_PATH_OK || p.literal)
        return state_fail(error_r, "'%s' is not a valid address (user@domain)", address);
    if (p.quoted || strchr(p.local, '+'))
        return state_fail(error_r,
                          "'%s': mailbox names cannot be quoted or contain '+' "
                          "(user+tag@domain reaches user@domain)",
                          address);
    /* The local part names a directory under mail/DOMAIN/. */
    if (strchr(p.local, '/') || p.local[0] == '.')
        return state_fail(error_r, "'%s': mailbox names cannot contain '/' or start with '.'",
                          address);
    str_copy(out, outsize, p.mailbox);
    str_lower(out); /* ASCII only: UTF-8 local parts keep their case */
    return 0;
}

int state_user_add(struct state_db *db, const char *address, const char *hash, char **error_r)
{
    char addr[320], domain[256];
    if (normalize(address, addr, sizeof(addr), error_r) < 0)
        return -1;
    state_domain_of(addr, domain, sizeof(domain));
    int e = state_domain_exists(db, domain);
    if (e <= 0)
        return state_fail(error_r, "domain %s does not exist (add it with: postino domain add %s)",
                          domain, domain);
    struct state_user u;
    if (state_user_get(db, addr, &u) == 1)
        return state_fail(error_r, "user %s already exists", addr);
    char now[32];
    snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
    return state_exec(db, error_r,
                      "INSERT INTO users (address, domain, password, created) VALUES (?,?,?,?)",
                      addr, domain, hash, now, (char *)NULL) < 0
               ? -1
               : 0;
}

int state_user_del(struct state_db *db, const char *address, char **error_r)
{
    int n = state_exec(db, error_r, "DELETE FROM users WHERE address = ?", address, (char *)NULL);
    if (n < 0)
        return -1;
    if (n == 0)
        return state_fail(error_r, "user %s does not exist", address);
    return 0;
}

int state_user_set_password(struct state_db *db, const char *address, const char *hash,
                            char **error_r)
{
    int n = state_exec(db, error_r, "UPDATE users SET password = ? WHERE address = ?", hash,
                       address, (char *)NULL);
    if (n < 0)
        return -1;
    if (n == 0)
        return state_fail(error_r, "user %s does not exist", address);
    return 0;
}

int state_user_set_locked(struct state_db *db, const char *address, bool locked, char **error_r)
{
    int n = state_exec(db, error_r,
                       locked ? "UPDATE users SET locked = 1 WHERE address = ?"
                              : "UPDATE users SET locked = 0, failed_logins = 0, "
                                "locked_until = 0, failure_window_start = 0, "
                                "last_failure_fp = NULL WHERE address = ?",
                       address, (char *)NULL);
    if (n < 0)
        return -1;
    if (n == 0)
        return state_fail(error_r, "user %s does not exist", address);
    return 0;
}

static void fill(sqlite3_stmt *st, struct state_user *u)
{
    memset(u, 0, sizeof(*u));
    str_copy(u->address, sizeof(u->address), (const char *)sqlite3_column_text(st, 0));
    str_copy(u->domain, sizeof(u->domain), (const char *)sqlite3_column_text(st, 1));
    str_copy(u->password, sizeof(u->password), (const char *)sqlite3_column_text(st, 2));
    u->created = sqlite3_column_int64(st, 3);
    u->locked = sqlite3_column_int(st, 4) != 0;
    u->failures = sqlite3_column_int64(st, 5);
    u->locked_until = sqlite3_column_int64(st, 6);
    u->quota_bytes = sqlite3_column_type(st, 7) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 7);
    u->quota_messages =
        sqlite3_column_type(st, 8) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 8);
}

#define USER_COLUMNS                                                                               \
    "address, domain, password, created, locked, failed_logins, locked_until, quota_bytes, "       \
    "quota_messages"

int state_user_set_quota(struct state_db *db, const char *address, long long bytes,
                         long long messages, char **error_r)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h,
                           "UPDATE users SET quota_bytes = ?, quota_messages = ? WHERE "
                           "address = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return state_fail(error_r, "cannot set the quota: %s", sqlite3_errmsg(db->h));
    if (bytes < 0)
        sqlite3_bind_null(st, 1);
    else
        sqlite3_bind_int64(st, 1, bytes);
    if (messages < 0)
        sqlite3_bind_null(st, 2);
    else
        sqlite3_bind_int64(st, 2, messages);
    sqlite3_bind_text(st, 3, address, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return state_fail(error_r, "cannot set the quota: %s", sqlite3_errmsg(db->h));
    if (sqlite3_changes(db->h) == 0)
        return state_fail(error_r, "user %s does not exist", address);
    return 0;
}

int state_user_quota(struct state_db *db, const char *address, long long default_bytes,
                     long long default_messages, unsigned long long *bytes,
                     unsigned long long *messages)
{
    struct state_user u;
    int rc = state_user_get(db, address, &u);
    if (rc != 1)
        return rc;
    long long b = u.quota_bytes < 0 ? default_bytes : u.quota_bytes;
    long long m = u.quota_messages < 0 ? default_messages : u.quota_messages;
    *bytes = b > 0 ? (unsigned long long)b : 0;
    *messages = m > 0 ? (unsigned long long)m : 0;
    return 1;
}

int state_user_get(struct state_db *db, const char *address, struct state_user *out)
{
    sqlite3_stmt *st =
        state_stmt(db, STMT_USER_GET, "SELECT " USER_COLUMNS " FROM users WHERE address = ?");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        fill(st, out);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int state_user_list(struct state_db *db, const char *domain,
                    void (*fn)(const struct state_user *u, void *arg), void *arg)
{
    sqlite3_stmt *st;
    const char *sql = domain ? "SELECT " USER_COLUMNS
                               " FROM users WHERE domain = ? ORDER BY address"
                             : "SELECT " USER_COLUMNS " FROM users ORDER BY domain, address";
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (domain)
        sqlite3_bind_text(st, 1, domain, -1, SQLITE_TRANSIENT);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct state_user u;
        fill(st, &u);
        fn(&u, arg);
        n++;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? n : -1;
}
