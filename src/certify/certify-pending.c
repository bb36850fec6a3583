#include "certify-pending.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "lib/buf.h"
#include "lib/sqlite-setup.h"
#include "lib/str.h"
#include "lib/xalloc.h"

/* Row states. */
enum {
    ST_WAITING = 0,  /* handed over, nothing heard */
    ST_WARNED = 1,   /* the warning went */
    ST_ANSWERED = 2, /* a receipt or failure notice came back */
    ST_GIVEN_UP = 3, /* the final notice went */
};

static const char schema[] = "CREATE TABLE IF NOT EXISTS pending (\n"
                             "  msgid TEXT NOT NULL,\n"
                             "  rcpt TEXT NOT NULL,\n"
                             "  state INTEGER NOT NULL,\n"
                             "  qid TEXT NOT NULL DEFAULT '',\n"
                             "  handed INTEGER NOT NULL DEFAULT 0,\n"
                             "  warn_at INTEGER NOT NULL DEFAULT 0,\n"
                             "  fail_at INTEGER NOT NULL DEFAULT 0,\n"
                             "  xml BLOB,\n"
                             "  changed INTEGER NOT NULL,\n"
                             "  PRIMARY KEY (msgid, rcpt)\n"
                             ");\n"
                             "CREATE INDEX IF NOT EXISTS pending_state ON pending(state);\n";

struct certify_pending {
    sqlite3 *h;
};

struct certify_pending *certify_pending_open(const char *data_dir, char **error_r)
{
    struct buf path;
    buf_init(&path, 4096);
    if (buf_printf(&path, "%s/state/certify-pending.db", data_dir) < 0) {
        buf_free(&path);
        *error_r = xstrdup("data_dir too long");
        return NULL;
    }
    sqlite3 *h = NULL;
    char *err = NULL;
    if (sqlite3_open_v2(buf_cstr(&path), &h,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(h, 5000);
    sqlite_setup_persist_wal(h);
    /* Evidence of what is owed to senders: every change durable. */
    if (sqlite_setup_exec(h, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;", &err) !=
            SQLITE_OK ||
        sqlite_setup_exec(h, schema, &err) != SQLITE_OK)
        goto fail;
    buf_free(&path);
    struct certify_pending *p = xcalloc(1, sizeof(*p));
    p->h = h;
    return p;
fail:;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_printf(&b, "%s: %s", buf_cstr(&path), err ? err : h ? sqlite3_errmsg(h) : "out of memory");
    sqlite3_free(err);
    *error_r = buf_steal(&b);
    sqlite3_close(h);
    buf_free(&path);
    return NULL;
}

void certify_pending_close(struct certify_pending **pp)
{
    struct certify_pending *p = *pp;
    if (!p)
        return;
    sqlite3_close(p->h);
    x_free(pp);
}

/* Prepare sql; NULL (with *error_r) if the database refuses it. */
static sqlite3_stmt *prepare(struct certify_pending *p, const char *sql, const char **error_r)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(p->h, sql, -1, &st, NULL) != SQLITE_OK) {
        *error_r = sqlite3_errmsg(p->h);
        return NULL;
    }
    return st;
}

/* Run a statement without rows: 0, or -1 with *error_r. */
static int run(struct certify_pending *p, sqlite3_stmt *st, const char **error_r)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        *error_r = sqlite3_errmsg(p->h);
        return -1;
    }
    return 0;
}

int certify_pending_add(struct certify_pending *p, const char *qid, const char *msgid,
                        const char *rcpt, time_t handed, time_t warn_at, time_t fail_at,
                        const char *xml, size_t xml_len, const char **error_r)
{
    sqlite3_stmt *st =
        prepare(p,
                "INSERT OR IGNORE INTO pending (msgid, rcpt, state, qid, handed, warn_at, "
                "fail_at, xml, changed) VALUES (?1, lower(?2), 0, ?3, ?4, ?5, ?6, ?7, ?4)",
                error_r);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, msgid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, rcpt, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, qid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)handed);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)warn_at);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)fail_at);
    sqlite3_bind_blob64(st, 7, xml, (sqlite3_uint64)xml_len, SQLITE_STATIC);
    int rc = run(p, st, error_r);
    sqlite3_finalize(st);
    return rc < 0 ? -1 : sqlite3_changes(p->h) > 0;
}

int certify_pending_answer(struct certify_pending *p, const char *msgid, const char *rcpt,
                           time_t now, const char **error_r)
{
    if (sqlite_setup_exec(p->h, "BEGIN IMMEDIATE", NULL) != SQLITE_OK) {
        *error_r = sqlite3_errmsg(p->h);
        return -1;
    }
    int result = -1;
    sqlite3_stmt *st =
        prepare(p, "SELECT state FROM pending WHERE msgid = ?1 AND rcpt = lower(?2)", error_r);
    if (!st)
        goto out;
    sqlite3_bind_text(st, 1, msgid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, rcpt, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int state = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        *error_r = sqlite3_errmsg(p->h);
        goto out;
    }
    st = prepare(p,
                 "INSERT INTO pending (msgid, rcpt, state, changed) VALUES (?1, lower(?2), 2, ?3) "
                 "ON CONFLICT (msgid, rcpt) DO UPDATE SET state = 2, changed = ?3, xml = NULL",
                 error_r);
    if (!st)
        goto out;
    sqlite3_bind_text(st, 1, msgid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, rcpt, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
    rc = run(p, st, error_r);
    sqlite3_finalize(st);
    if (rc == 0)
        result = state == ST_WAITING || state == ST_WARNED;
out:
    if (sqlite_setup_exec(p->h, result < 0 ? "ROLLBACK" : "COMMIT", NULL) != SQLITE_OK &&
        result >= 0) {
        *error_r = sqlite3_errmsg(p->h);
        result = -1;
    }
    return result;
}

/* A row fn has dealt with, to be moved on after the scan. */
struct moved {
    char *msgid, *rcpt;
    int state;
};

int certify_pending_due(struct certify_pending *p, time_t now,
                        bool (*fn)(const struct certify_pending_entry *e, void *arg), void *arg,
                        const char **error_r)
{
    sqlite3_stmt *st = prepare(p,
                               "SELECT msgid, rcpt, qid, handed, fail_at, xml FROM pending "
                               "WHERE (state = 0 AND warn_at <= ?1) OR "
                               "(state IN (0, 1) AND fail_at <= ?1) LIMIT ?2",
                               error_r);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
    sqlite3_bind_int(st, 2, CERTIFY_PENDING_BATCH);
    struct moved moved[CERTIFY_PENDING_BATCH];
    size_t n_moved = 0;
    int count = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct certify_pending_entry e = {0};
        const char *t = (const char *)sqlite3_column_text(st, 0);
        str_copy(e.msgid, sizeof(e.msgid), t ? t : "");
        t = (const char *)sqlite3_column_text(st, 1);
        str_copy(e.rcpt, sizeof(e.rcpt), t ? t : "");
        t = (const char *)sqlite3_column_text(st, 2);
        str_copy(e.qid, sizeof(e.qid), t ? t : "");
        e.handed = (time_t)sqlite3_column_int64(st, 3);
        e.step = sqlite3_column_int64(st, 4) <= (sqlite3_int64)now ? CERTIFY_PENDING_FINAL
                                                                   : CERTIFY_PENDING_WARN;
        e.xml = sqlite3_column_blob(st, 5);
        int n = sqlite3_column_bytes(st, 5);
        e.xml_len = n > 0 ? (size_t)n : 0;
        if (!e.xml)
            e.xml = "";
        count++;
        if (fn(&e, arg) && n_moved < CERTIFY_PENDING_BATCH) {
            moved[n_moved].msgid = xstrdup(e.msgid);
            moved[n_moved].rcpt = xstrdup(e.rcpt);
            moved[n_moved].state = e.step == CERTIFY_PENDING_FINAL ? ST_GIVEN_UP : ST_WARNED;
            n_moved++;
        }
    }
    if (rc != SQLITE_DONE) {
        *error_r = sqlite3_errmsg(p->h);
        count = -1;
    }
    sqlite3_finalize(st);
    /* Only rows still outstanding move: an answer may have come meanwhile. */
    sqlite3_stmt *up =
        n_moved ? prepare(p,
                          "UPDATE pending SET state = ?3, changed = ?4 WHERE msgid = ?1 AND "
                          "rcpt = ?2 AND state IN (0, 1)",
                          error_r)
                : NULL;
    for (size_t i = 0; i < n_moved; i++) {
        if (up) {
            sqlite3_bind_text(up, 1, moved[i].msgid, -1, SQLITE_STATIC);
            sqlite3_bind_text(up, 2, moved[i].rcpt, -1, SQLITE_STATIC);
            sqlite3_bind_int(up, 3, moved[i].state);
            sqlite3_bind_int64(up, 4, (sqlite3_int64)now);
            if (run(p, up, error_r) < 0)
                count = -1;
            sqlite3_reset(up);
        } else {
            count = -1;
        }
        free(moved[i].msgid);
        free(moved[i].rcpt);
    }
    sqlite3_finalize(up);
    return count;
}

time_t certify_pending_next(struct certify_pending *p)
{
    const char *why;
    sqlite3_stmt *st = prepare(p,
                               "SELECT MIN(CASE state WHEN 0 THEN MIN(warn_at, fail_at) "
                               "ELSE fail_at END) FROM pending WHERE state IN (0, 1)",
                               &why);
    if (!st)
        return -1;
    time_t t = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        t = sqlite3_column_type(st, 0) == SQLITE_NULL ? 0 : (time_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return t;
}

int certify_pending_prune(struct certify_pending *p, time_t before)
{
    const char *why;
    sqlite3_stmt *st =
        prepare(p, "DELETE FROM pending WHERE state IN (2, 3) AND changed < ?1", &why);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)before);
    int rc = run(p, st, &why);
    sqlite3_finalize(st);
    return rc < 0 ? -1 : sqlite3_changes(p->h);
}
