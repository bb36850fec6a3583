#include "state-util.h"

#include <sqlite3.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/str.h"
#include "state-private.h"

int state_fail(char **error_r, const char *fmt, ...)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    *error_r = buf_steal(&b);
    return -1;
}

int state_exec(struct state_db *db, char **error_r, const char *sql, ...)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
        return state_fail(error_r, "database: %s", sqlite3_errmsg(db->h));
    va_list ap;
    va_start(ap, sql);
    int i = 1;
    for (const char *p = va_arg(ap, const char *); p; p = va_arg(ap, const char *))
        sqlite3_bind_text(st, i++, p, -1, SQLITE_TRANSIENT);
    va_end(ap);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return state_fail(error_r, "database: %s", sqlite3_errmsg(db->h));
    return sqlite3_changes(db->h);
}

void state_domain_of(const char *address, char *out, size_t outsize)
{
    const char *at = strrchr(address, '@');
    str_copy(out, outsize, at ? at + 1 : "");
    str_lower(out);
}
