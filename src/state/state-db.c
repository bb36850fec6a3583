#include "state-db.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/sqlite-setup.h"
#include "lib/xalloc.h"
#include "state-private.h"

const char *const state_schema_v1 =
    "CREATE TABLE domains (\n"
    "  name TEXT PRIMARY KEY COLLATE NOCASE,\n"
    "  created INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE users (\n"
    "  address TEXT PRIMARY KEY COLLATE NOCASE,\n"
    "  domain TEXT NOT NULL COLLATE NOCASE REFERENCES domains(name),\n"
    "  password TEXT NOT NULL,\n"
    "  created INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX users_domain ON users(domain);\n"
    "CREATE TABLE aliases (\n"
    "  address TEXT NOT NULL COLLATE NOCASE,\n"
    "  target TEXT NOT NULL COLLATE NOCASE,\n"
    "  PRIMARY KEY (address, target)\n"
    ");\n";

/* Version 2: administrative locks and the counters of failed logins. */
static const char *const state_schema_v2 =
    "ALTER TABLE users ADD COLUMN locked INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE users ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE users ADD COLUMN locked_until INTEGER NOT NULL DEFAULT 0;\n";

/* Version 3: login failure bookkeeping (account lockout, per-address
 * penalty), addresses a user may send as, and a table of server secrets. */
static const char *const state_schema_v3 =
    "ALTER TABLE users ADD COLUMN failure_window_start INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE users ADD COLUMN last_failure_fp TEXT;\n"
    "CREATE TABLE auth_clients (\n"
    "  net TEXT PRIMARY KEY,\n"
    "  failures INTEGER NOT NULL,\n"
    "  window_start INTEGER NOT NULL,\n"
    "  last INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE send_as (\n"
    "  user TEXT NOT NULL COLLATE NOCASE,\n"
    "  address TEXT NOT NULL COLLATE NOCASE,\n"
    "  PRIMARY KEY (user, address)\n"
    ");\n"
    "CREATE TABLE meta (\n"
    "  key TEXT PRIMARY KEY,\n"
    "  value TEXT NOT NULL\n"
    ");\n";

/* Version 4: the transport table (where mail for a domain goes). */
static const char *const state_schema_v4 = "CREATE TABLE transports (\n"
                                           "  domain TEXT PRIMARY KEY COLLATE NOCASE,\n"
                                           "  nexthop TEXT NOT NULL\n"
                                           ");\n";

/* Version 5: the DKIM keys of our domains (the private keys are files
 * under dkim/, see dkim-keyfile.h). */
static const char *const state_schema_v5 =
    "CREATE TABLE dkim_keys (\n"
    "  domain TEXT NOT NULL COLLATE NOCASE REFERENCES domains(name),\n"
    "  selector TEXT NOT NULL COLLATE NOCASE,\n"
    "  type TEXT NOT NULL CHECK (type IN ('rsa', 'ed25519')),\n"
    "  bits INTEGER NOT NULL,\n"
    "  created INTEGER NOT NULL,\n"
    "  active INTEGER NOT NULL DEFAULT 1,\n"
    "  PRIMARY KEY (domain, selector)\n"
    ");\n";

/* Version 6: DMARC aggregate data (RFC 7489 7.2), one row per day and
 * kind of message from a source, counted. */
static const char *const state_schema_v6 =
    "CREATE TABLE dmarc_aggregate (\n"
    "  day TEXT NOT NULL,\n"
    "  policy_domain TEXT NOT NULL,\n"
    "  from_domain TEXT NOT NULL,\n"
    "  source_ip TEXT NOT NULL,\n"
    "  disposition TEXT NOT NULL,\n"
    "  dkim TEXT NOT NULL,\n"
    "  spf TEXT NOT NULL,\n"
    "  result TEXT NOT NULL,\n"
    "  published TEXT NOT NULL,\n"
    "  count INTEGER NOT NULL,\n"
    "  PRIMARY KEY (day, policy_domain, from_domain, source_ip, disposition, dkim, spf, result)\n"
    ");\n";

/* Version 7: per-account quota (NULL: the configuration's default, 0:
 * none). */
static const char *const state_schema_v7 = "ALTER TABLE users ADD COLUMN quota_bytes INTEGER;\n"
                                           "ALTER TABLE users ADD COLUMN quota_messages INTEGER;\n";

/* migrations[i] takes the schema from version i to i + 1. */
static const char *const *const migrations[] = {
    &state_schema_v1, &state_schema_v2, &state_schema_v3, &state_schema_v4,
    &state_schema_v5, &state_schema_v6, &state_schema_v7,
};

static char *errmsg(const char *what, sqlite3 *h)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_printf(&b, "%s: %s", what, h ? sqlite3_errmsg(h) : "out of memory");
    return buf_steal(&b);
}

static int get_version(sqlite3 *h, int *v)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc = sqlite3_step(st);
    *v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* Bring the schema to STATE_SCHEMA_VERSION, one transaction per step. */
static int migrate(sqlite3 *h, const char *path, char **error_r)
{
    int v;
    if (get_version(h, &v) < 0) {
        *error_r = errmsg(path, h);
        return -1;
    }
    if (v > STATE_SCHEMA_VERSION) {
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        buf_printf(&b,
                   "%s: schema version %d is newer than this postino understands (%d); "
                   "run a newer postino",
                   path, v, STATE_SCHEMA_VERSION);
        *error_r = buf_steal(&b);
        return -1;
    }
    while (v < STATE_SCHEMA_VERSION) {
        char *sqlerr = NULL;
        char setv[64];
        snprintf(setv, sizeof(setv), "PRAGMA user_version = %d;", v + 1);
        if (sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, &sqlerr) != SQLITE_OK)
            goto fail;
        /* Someone else may have migrated while we waited for the lock. */
        int now;
        if (get_version(h, &now) < 0)
            goto rollback;
        if (now != v) {
            sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
            v = now;
            continue;
        }
        if (sqlite3_exec(h, *migrations[v], NULL, NULL, &sqlerr) != SQLITE_OK ||
            sqlite3_exec(h, setv, NULL, NULL, &sqlerr) != SQLITE_OK ||
            sqlite3_exec(h, "COMMIT", NULL, NULL, &sqlerr) != SQLITE_OK)
            goto rollback;
        v++;
        continue;
    rollback:
        sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
    fail : {
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        buf_printf(&b, "%s: migrating the schema from version %d: %s", path, v,
                   sqlerr ? sqlerr : sqlite3_errmsg(h));
        sqlite3_free(sqlerr);
        *error_r = buf_steal(&b);
        return -1;
    }
    }
    return 0;
}

struct state_db *state_db_open(const char *path, bool create, char **error_r)
{
    sqlite3 *h = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &h, flags, NULL) != SQLITE_OK) {
        *error_r = errmsg(path, h);
        sqlite3_close(h);
        return NULL;
    }
    sqlite3_busy_timeout(h, 10000);
    sqlite_setup_persist_wal(h);
    char *sqlerr = NULL;
    if (sqlite_setup_exec(h,
                          "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
                          "PRAGMA foreign_keys = ON;",
                          &sqlerr) != SQLITE_OK) {
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        buf_printf(&b, "%s: %s", path, sqlerr ? sqlerr : "cannot set up");
        sqlite3_free(sqlerr);
        *error_r = buf_steal(&b);
        sqlite3_close(h);
        return NULL;
    }
    if (migrate(h, path, error_r) < 0) {
        sqlite3_close(h);
        return NULL;
    }
    struct state_db *db = xcalloc(1, sizeof(*db));
    db->h = h;
    return db;
}

void state_db_close(struct state_db **dbp)
{
    struct state_db *db = *dbp;
    if (!db)
        return;
    for (size_t i = 0; i < STATE_STMT_COUNT; i++)
        sqlite3_finalize(db->stmts[i]);
    sqlite3_close(db->h);
    x_free(dbp);
}

int state_db_schema_version(struct state_db *db)
{
    int v;
    return get_version(db->h, &v) < 0 ? -1 : v;
}

struct sqlite3 *state_db_handle(struct state_db *db)
{
    return db->h;
}

const char *state_db_error(struct state_db *db)
{
    return sqlite3_errmsg(db->h);
}

sqlite3_stmt *state_stmt(struct state_db *db, enum state_stmt_id id, const char *sql)
{
    sqlite3_stmt *st = db->stmts[id];
    if (!st) {
        if (sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
            return NULL;
        db->stmts[id] = st;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}
