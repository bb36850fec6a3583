#include "state-domain.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/str.h"
#include "smtp/smtp-address.h"
#include "state-private.h"
#include "state-util.h"

int state_domain_add(struct state_db *db, const char *name, char **error_r)
{
    char lower[SMTP_DOMAIN_MAX + 1];
    if (str_copy(lower, sizeof(lower), name) < 0 || !smtp_domain_valid(name, strlen(name), true))
        return state_fail(error_r, "'%s' is not a valid domain name", name);
    str_lower(lower);
    int e = state_domain_exists(db, lower);
    if (e < 0)
        return state_fail(error_r, "database: %s", state_db_error(db));
    if (e > 0)
        return state_fail(error_r, "domain %s already exists", lower);
    char now[32];
    snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
    if (state_exec(db, error_r, "INSERT INTO domains (name, created) VALUES (?, ?)", lower, now,
                   (char *)NULL) < 0)
        return -1;
    return 0;
}

int state_domain_del(struct state_db *db, const char *name, char **error_r)
{
    char lower[SMTP_DOMAIN_MAX + 1];
    str_copy(lower, sizeof(lower), name);
    str_lower(lower);
    if (state_domain_exists(db, lower) != 1)
        return state_fail(error_r, "domain %s does not exist", lower);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h,
                           "SELECT (SELECT count(*) FROM users WHERE domain = ?1) + "
                           "(SELECT count(*) FROM aliases WHERE address LIKE '%@' || ?1) + "
                           "(SELECT count(*) FROM dkim_keys WHERE domain = ?1)",
                           -1, &st, NULL) != SQLITE_OK)
        return state_fail(error_r, "database: %s", sqlite3_errmsg(db->h));
    sqlite3_bind_text(st, 1, lower, -1, SQLITE_TRANSIENT);
    int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (n != 0)
        return state_fail(
            error_r, "domain %s still has users, aliases or DKIM keys; delete them first", lower);
    return state_exec(db, error_r, "DELETE FROM domains WHERE name = ?", lower, (char *)NULL) < 0
               ? -1
               : 0;
}

int state_domain_exists(struct state_db *db, const char *name)
{
    sqlite3_stmt *st = state_stmt(db, STMT_DOMAIN_EXISTS, "SELECT 1 FROM domains WHERE name = ?");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int state_domain_list(struct state_db *db, void (*fn)(const char *name, void *arg), void *arg)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, "SELECT name FROM domains ORDER BY name", -1, &st, NULL) !=
        SQLITE_OK)
        return -1;
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fn((const char *)sqlite3_column_text(st, 0), arg);
        n++;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? n : -1;
}
