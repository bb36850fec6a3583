#include "state-transport.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "queue/transport.h"
#include "smtp/smtp-address.h"
#include "state-private.h"
#include "state-util.h"

int state_transport_set(struct state_db *db, const char *domain, const char *nexthop,
                        char **error_r)
{
    const char *d = domain[0] == '.' ? domain + 1 : domain;
    if (!smtp_domain_valid(d, strlen(d), true))
        return state_fail(error_r, "'%s' is not a domain (or .domain for its subdomains)", domain);
    struct transport t;
    const char *why;
    if (transport_parse(nexthop, &t, &why) < 0)
        return state_fail(error_r, "'%s': %s", nexthop, why);
    char lower[300];
    str_copy(lower, sizeof(lower), domain);
    str_lower(lower);
    return state_exec(db, error_r,
                      "INSERT OR REPLACE INTO transports (domain, nexthop) VALUES (?, ?)", lower,
                      nexthop, (char *)NULL) < 0
               ? -1
               : 0;
}

int state_transport_del(struct state_db *db, const char *domain, char **error_r)
{
    int n =
        state_exec(db, error_r, "DELETE FROM transports WHERE domain = ?", domain, (char *)NULL);
    if (n < 0)
        return -1;
    if (n == 0)
        return state_fail(error_r, "no transport for %s", domain);
    return 0;
}

static int get_one(struct state_db *db, const char *key, char *out, size_t outsize)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, "SELECT nexthop FROM transports WHERE domain = ?", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        str_copy(out, outsize, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int state_transport_lookup(struct state_db *db, const char *domain, char *out, size_t outsize)
{
    int r = get_one(db, domain, out, outsize);
    if (r != 0)
        return r;
    /* ".parent" entries, nearest first */
    for (const char *p = strchr(domain, '.'); p; p = strchr(p + 1, '.')) {
        r = get_one(db, p, out, outsize);
        if (r != 0)
            return r;
    }
    return 0;
}

int state_transport_list(struct state_db *db,
                         void (*fn)(const char *domain, const char *nexthop, void *arg), void *arg)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, "SELECT domain, nexthop FROM transports ORDER BY domain", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fn((const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1), arg);
        n++;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? n : -1;
}
