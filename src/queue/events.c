#include "events.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/sqlite-setup.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define MAX_BUFFERED 4096

struct pending_event {
    double time;
    char *qid;
    char *kind;
    char *rcpt;
    char *text;
    int type; /* 0 event, 1 message-id index, 2 address index */
};

struct events {
    sqlite3 *h;
    struct pending_event *buf;
    size_t n;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS events (\n"
    "  time REAL NOT NULL,\n"
    "  qid TEXT NOT NULL,\n"
    "  kind TEXT NOT NULL,\n"
    "  rcpt TEXT,\n"
    "  text TEXT NOT NULL\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS events_qid ON events(qid, time);\n"
    "CREATE TABLE IF NOT EXISTS message_ids (\n"
    "  message_id TEXT NOT NULL,\n"
    "  qid TEXT NOT NULL,\n"
    "  time REAL NOT NULL\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS message_ids_id ON message_ids(message_id);\n"
    "CREATE TABLE IF NOT EXISTS addresses (\n"
    "  address TEXT NOT NULL COLLATE NOCASE,\n"
    "  qid TEXT NOT NULL,\n"
    "  time REAL NOT NULL\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS addresses_address ON addresses(address, "
    "time);\n";

static double now_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct events *events_open(const char *data_dir, char **error_r)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/state/events.db", data_dir);
    sqlite3 *h = NULL;
    if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        buf_printf(&b, "%s: %s", path, h ? sqlite3_errmsg(h) : "out of memory");
        *error_r = buf_steal(&b);
        sqlite3_close(h);
        return NULL;
    }
    sqlite3_busy_timeout(h, 5000);
    sqlite_setup_persist_wal(h);
    char *err = NULL;
    /* History, not mail: NORMAL durability is enough. */
    if (sqlite_setup_exec(h, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;", &err) !=
            SQLITE_OK ||
        sqlite_setup_exec(h, schema, &err) != SQLITE_OK) {
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        buf_printf(&b, "%s: %s", path, err ? err : "cannot set up");
        sqlite3_free(err);
        *error_r = buf_steal(&b);
        sqlite3_close(h);
        return NULL;
    }
    struct events *e = xcalloc(1, sizeof(*e));
    e->h = h;
    e->buf = xcalloc(MAX_BUFFERED, sizeof(*e->buf));
    return e;
}

static void pending_free(struct pending_event *p)
{
    free(p->qid);
    free(p->kind);
    free(p->rcpt);
    free(p->text);
}

void events_close(struct events **ep)
{
    struct events *e = *ep;
    if (!e)
        return;
    events_flush(e);
    free(e->buf);
    sqlite3_close(e->h);
    x_free(ep);
}

static void push(struct events *e, int type, const char *qid, const char *kind, const char *rcpt,
                 char *text)
{
    if (e->n >= MAX_BUFFERED)
        events_flush(e);
    if (e->n >= MAX_BUFFERED) {
        free(text);
        return; /* the database is stuck: drop rather than grow */
    }
    struct pending_event *p = &e->buf[e->n++];
    p->time = now_real();
    p->type = type;
    p->qid = xstrdup(qid);
    p->kind = kind ? xstrdup(kind) : NULL;
    p->rcpt = rcpt ? xstrdup(rcpt) : NULL;
    p->text = text;
}

void events_add(struct events *e, const char *qid, const char *kind, const char *rcpt,
                const char *fmt, ...)
{
    if (!e)
        return;
    struct buf b;
    buf_init(&b, 8192);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    push(e, 0, qid, kind, rcpt, buf_steal(&b));
}

void events_index(struct events *e, const char *qid, const char *message_id,
                  const char *const *addrs, size_t n)
{
    if (!e)
        return;
    if (message_id && message_id[0])
        push(e, 1, qid, NULL, NULL, xstrdup(message_id));
    for (size_t i = 0; i < n; i++)
        if (addrs[i] && addrs[i][0])
            push(e, 2, qid, NULL, NULL, xstrdup(addrs[i]));
}

size_t events_pending(const struct events *e)
{
    return e ? e->n : 0;
}

void events_flush(struct events *e)
{
    if (!e || e->n == 0)
        return;
    static const char *const sql[3] = {
        "INSERT INTO events (time, qid, kind, rcpt, text) VALUES (?, ?, ?, ?, ?)",
        "INSERT INTO message_ids (time, qid, message_id) VALUES (?, ?, ?)",
        "INSERT INTO addresses (time, qid, address) VALUES (?, ?, ?)",
    };
    sqlite3_stmt *st[3] = {NULL, NULL, NULL};
    if (sqlite3_exec(e->h, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        goto out;
    for (int i = 0; i < 3; i++)
        if (sqlite3_prepare_v2(e->h, sql[i], -1, &st[i], NULL) != SQLITE_OK)
            goto rollback;
    for (size_t i = 0; i < e->n; i++) {
        struct pending_event *p = &e->buf[i];
        sqlite3_stmt *s = st[p->type];
        sqlite3_reset(s);
        sqlite3_bind_double(s, 1, p->time);
        sqlite3_bind_text(s, 2, p->qid, -1, SQLITE_STATIC);
        if (p->type == 0) {
            sqlite3_bind_text(s, 3, p->kind, -1, SQLITE_STATIC);
            if (p->rcpt)
                sqlite3_bind_text(s, 4, p->rcpt, -1, SQLITE_STATIC);
            else
                sqlite3_bind_null(s, 4);
            sqlite3_bind_text(s, 5, p->text, -1, SQLITE_STATIC);
        } else {
            sqlite3_bind_text(s, 3, p->text, -1, SQLITE_STATIC);
        }
        if (sqlite3_step(s) != SQLITE_DONE)
            goto rollback;
    }
    if (sqlite3_exec(e->h, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
        goto out;
rollback:
    log_warn("events not recorded: %s", sqlite3_errmsg(e->h));
    sqlite3_exec(e->h, "ROLLBACK", NULL, NULL, NULL);
out:
    for (int i = 0; i < 3; i++)
        sqlite3_finalize(st[i]);
    for (size_t i = 0; i < e->n; i++)
        pending_free(&e->buf[i]);
    e->n = 0;
}

void events_prune(struct events *e, long long before)
{
    if (!e)
        return;
    const char *tables[] = {"events", "message_ids", "addresses"};
    for (int i = 0; i < 3; i++) {
        char sql[128];
        snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE time < %lld", tables[i], before);
        sqlite3_exec(e->h, sql, NULL, NULL, NULL);
    }
}

static size_t find_qids(struct events *e, const char *sql, const char *key, double since,
                        char (*out)[16], size_t max)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(e->h, sql, -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 2, since);
    size_t n = 0;
    while (n < max && sqlite3_step(st) == SQLITE_ROW) {
        const char *q = (const char *)sqlite3_column_text(st, 0);
        bool dup = false;
        for (size_t i = 0; i < n; i++)
            if (strcmp(out[i], q) == 0)
                dup = true;
        if (!dup)
            str_copy(out[n++], 16, q);
    }
    sqlite3_finalize(st);
    return n;
}

size_t events_find_by_message_id(struct events *e, const char *message_id, char (*out)[16],
                                 size_t max)
{
    return find_qids(e,
                     "SELECT qid FROM message_ids WHERE message_id = ? AND time >= ? ORDER BY time",
                     message_id, 0, out, max);
}

size_t events_find_by_address(struct events *e, const char *address, double since, char (*out)[16],
                              size_t max)
{
    return find_qids(e, "SELECT qid FROM addresses WHERE address = ? AND time >= ? ORDER BY time",
                     address, since, out, max);
}

size_t events_of(struct events *e, const char *qid, double since,
                 void (*fn)(const struct event *ev, void *arg), void *arg)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(e->h,
                           "SELECT time, qid, kind, rcpt, text FROM events WHERE qid = ? AND "
                           "time >= ? ORDER BY time, rowid",
                           -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, qid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 2, since);
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct event ev;
        memset(&ev, 0, sizeof(ev));
        ev.time = sqlite3_column_double(st, 0);
        str_copy(ev.qid, sizeof(ev.qid), (const char *)sqlite3_column_text(st, 1));
        str_copy(ev.kind, sizeof(ev.kind), (const char *)sqlite3_column_text(st, 2));
        const unsigned char *r = sqlite3_column_text(st, 3);
        str_copy(ev.rcpt, sizeof(ev.rcpt), r ? (const char *)r : "");
        str_copy(ev.text, sizeof(ev.text), (const char *)sqlite3_column_text(st, 4));
        fn(&ev, arg);
        n++;
    }
    sqlite3_finalize(st);
    return n;
}
