#include "policy-db.h"

#include <arpa/inet.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/sqlite-setup.h"
#include "lib/str.h"
#include "lib/xalloc.h"

/* Old rate buckets are removed once in this many additions. */
#define PRUNE_EVERY 256
/* Triplets never passed are forgotten after this long, passed ones after
 * the auto-allow time. */
#define GREYLIST_FORGET_SECS (2 * 86400)

static const char schema[] = "CREATE TABLE IF NOT EXISTS rates (\n"
                             "  key TEXT NOT NULL,\n"
                             "  minute INTEGER NOT NULL,\n"
                             "  messages INTEGER NOT NULL,\n"
                             "  recipients INTEGER NOT NULL,\n"
                             "  PRIMARY KEY (key, minute)\n"
                             ") WITHOUT ROWID;\n"
                             "CREATE TABLE IF NOT EXISTS greylist (\n"
                             "  client TEXT NOT NULL,\n"
                             "  sender TEXT NOT NULL,\n"
                             "  rcpt TEXT NOT NULL,\n"
                             "  first INTEGER NOT NULL,\n"
                             "  PRIMARY KEY (client, sender, rcpt)\n"
                             ") WITHOUT ROWID;\n"
                             "CREATE TABLE IF NOT EXISTS greylist_allowed (\n"
                             "  client TEXT PRIMARY KEY,\n"
                             "  until INTEGER NOT NULL\n"
                             ") WITHOUT ROWID;\n";

enum {
    ST_RATE_GET,
    ST_RATE_ADD,
    ST_RATE_PRUNE,
    ST_GL_ALLOWED,
    ST_GL_GET,
    ST_GL_PUT,
    ST_GL_ALLOW,
    ST_GL_PRUNE,
    ST_COUNT
};

static const char *const sql[ST_COUNT] = {
    "SELECT coalesce(sum(messages), 0), coalesce(sum(recipients), 0) FROM rates "
    "WHERE key = ?1 AND minute > ?2",
    "INSERT INTO rates (key, minute, messages, recipients) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (key, minute) DO UPDATE SET messages = messages + excluded.messages, "
    "recipients = recipients + excluded.recipients",
    "DELETE FROM rates WHERE minute < ?1",
    "SELECT until FROM greylist_allowed WHERE client = ?1",
    "SELECT first FROM greylist WHERE client = ?1 AND sender = ?2 AND rcpt = ?3",
    "INSERT OR IGNORE INTO greylist (client, sender, rcpt, first) VALUES (?1, ?2, ?3, ?4)",
    "INSERT OR REPLACE INTO greylist_allowed (client, until) VALUES (?1, ?2)",
    "DELETE FROM greylist WHERE first < ?1",
};

struct policy_db {
    sqlite3 *h;
    sqlite3_stmt *st[ST_COUNT];
    unsigned adds;
};

struct policy_db *policy_db_open(const char *data_dir, char **error_r)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/state/policy.db", data_dir) >= (int)sizeof(path)) {
        *error_r = xstrdup("data_dir too long");
        return NULL;
    }
    sqlite3 *h = NULL;
    char *err = NULL;
    if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(h, POLICY_DB_BUSY_MS);
    sqlite_setup_persist_wal(h);
    if (sqlite_setup_exec(h, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;", &err) !=
            SQLITE_OK ||
        sqlite_setup_exec(h, schema, &err) != SQLITE_OK)
        goto fail;
    struct policy_db *db = xcalloc(1, sizeof(*db));
    db->h = h;
    for (int i = 0; i < ST_COUNT; i++)
        if (sqlite3_prepare_v3(h, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &db->st[i], NULL) !=
            SQLITE_OK) {
            db->h = NULL;
            policy_db_close(&db);
            goto fail;
        }
    return db;
fail : {
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_printf(&b, "%s: %s", path, err ? err : h ? sqlite3_errmsg(h) : "out of memory");
    sqlite3_free(err);
    *error_r = buf_steal(&b);
    sqlite3_close(h);
    return NULL;
}
}

void policy_db_close(struct policy_db **dbp)
{
    struct policy_db *db = *dbp;
    if (!db)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(db->st[i]);
    sqlite3_close(db->h);
    free(db);
    *dbp = NULL;
}

static sqlite3_stmt *stmt(struct policy_db *db, int id)
{
    sqlite3_stmt *st = db->st[id];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

int policy_rate_get(struct policy_db *db, const char *key, long long now,
                    unsigned long long *messages, unsigned long long *recipients)
{
    *messages = *recipients = 0;
    sqlite3_stmt *st = stmt(db, ST_RATE_GET);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (now - POLICY_WINDOW_SECS) / 60);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *messages = (unsigned long long)sqlite3_column_int64(st, 0);
        *recipients = (unsigned long long)sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

int policy_rate_add(struct policy_db *db, const char *key, long long now, unsigned messages,
                    unsigned recipients)
{
    sqlite3_stmt *st = stmt(db, ST_RATE_ADD);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now / 60);
    sqlite3_bind_int64(st, 3, messages);
    sqlite3_bind_int64(st, 4, recipients);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (++db->adds % PRUNE_EVERY == 0) {
        st = stmt(db, ST_RATE_PRUNE);
        sqlite3_bind_int64(st, 1, (now - 2 * POLICY_WINDOW_SECS) / 60);
        sqlite3_step(st);
        sqlite3_reset(st);
        st = stmt(db, ST_GL_PRUNE);
        sqlite3_bind_int64(st, 1, now - GREYLIST_FORGET_SECS);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    return rc == SQLITE_DONE ? 0 : -1;
}

enum greylist_verdict policy_greylist(struct policy_db *db, const char *client, const char *sender,
                                      const char *rcpt, long long now, long long delay,
                                      long long allow_secs, long long *wait_r)
{
    *wait_r = 0;
    sqlite3_stmt *st = stmt(db, ST_GL_ALLOWED);
    sqlite3_bind_text(st, 1, client, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    long long until = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return GREYLIST_ERROR;
    if (until > now)
        return GREYLIST_PASS;
    st = stmt(db, ST_GL_GET);
    sqlite3_bind_text(st, 1, client, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, sender, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, rcpt, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    long long first = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return GREYLIST_ERROR;
    if (first < 0) {
        st = stmt(db, ST_GL_PUT);
        sqlite3_bind_text(st, 1, client, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, sender, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, rcpt, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return GREYLIST_ERROR;
        *wait_r = delay;
        return GREYLIST_DEFER;
    }
    if (now - first < delay) {
        *wait_r = delay - (now - first);
        return GREYLIST_DEFER;
    }
    /* retried after the delay, as a real server does: the client passes
     * from now on */
    st = stmt(db, ST_GL_ALLOW);
    sqlite3_bind_text(st, 1, client, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now + allow_secs);
    sqlite3_step(st);
    sqlite3_reset(st);
    return GREYLIST_PASS;
}

void policy_greylist_client(const char *ip, char *out, size_t size)
{
    unsigned char a[16];
    char text[INET6_ADDRSTRLEN];
    if (inet_pton(AF_INET, ip, a) == 1) {
        a[3] = 0;
        if (inet_ntop(AF_INET, a, text, sizeof(text))) {
            snprintf(out, size, "%s/24", text);
            return;
        }
    } else if (inet_pton(AF_INET6, ip, a) == 1) {
        memset(a + 8, 0, 8);
        if (inet_ntop(AF_INET6, a, text, sizeof(text))) {
            snprintf(out, size, "%s/64", text);
            return;
        }
    }
    str_copy(out, size, ip);
}
