#include "share/share-store.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/sqlite-setup.h"
#include "lib/str.h"
#include "lib/xalloc.h"

static const char schema[] =
    "PRAGMA journal_mode = WAL;\n"
    "CREATE TABLE IF NOT EXISTS transfers (\n"
    "  id TEXT PRIMARY KEY,\n"
    "  sender TEXT NOT NULL,\n"
    "  external INTEGER NOT NULL DEFAULT 0,\n"
    "  parent TEXT NOT NULL DEFAULT '',\n"
    "  mode TEXT NOT NULL,\n"
    "  created INTEGER NOT NULL,\n"
    "  expires INTEGER NOT NULL,\n"
    "  revoked INTEGER NOT NULL DEFAULT 0,\n"
    "  sent INTEGER NOT NULL DEFAULT 0,\n"
    "  max_failures INTEGER NOT NULL,\n"
    "  wrapped_key BLOB,\n"
    "  message BLOB\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS transfers_sender ON transfers (sender, created);\n"
    "CREATE INDEX IF NOT EXISTS transfers_expires ON transfers (expires);\n"
    "CREATE TABLE IF NOT EXISTS recipients (\n"
    "  token TEXT PRIMARY KEY,\n"
    "  transfer TEXT NOT NULL,\n"
    "  address TEXT NOT NULL,\n"
    "  failures INTEGER NOT NULL DEFAULT 0,\n"
    "  locked INTEGER NOT NULL DEFAULT 0,\n"
    "  first_download INTEGER NOT NULL DEFAULT 0\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS recipients_transfer ON recipients (transfer);\n"
    "CREATE TABLE IF NOT EXISTS files (\n"
    "  transfer TEXT NOT NULL,\n"
    "  id TEXT NOT NULL,\n"
    "  meta BLOB,\n"
    "  size INTEGER NOT NULL,\n"
    "  stored INTEGER NOT NULL DEFAULT 0,\n"
    "  expected INTEGER NOT NULL,\n"
    "  scan INTEGER NOT NULL DEFAULT 0,\n"
    "  scan_detail TEXT NOT NULL DEFAULT '',\n"
    "  PRIMARY KEY (transfer, id)\n"
    ");\n"
    "CREATE TABLE IF NOT EXISTS access (\n"
    "  time INTEGER NOT NULL,\n"
    "  transfer TEXT NOT NULL,\n"
    "  recipient TEXT NOT NULL,\n"
    "  client TEXT NOT NULL,\n"
    "  file TEXT NOT NULL,\n"
    "  event TEXT NOT NULL,\n"
    "  bytes INTEGER NOT NULL,\n"
    "  completed INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS access_transfer ON access (transfer, time);\n";

enum {
    ST_T_ADD,
    ST_R_ADD,
    ST_T_GET,
    ST_T_SENT,
    ST_T_REVOKE,
    ST_T_LIST_ALL,
    ST_T_LIST_SENDER,
    ST_T_EXPIRED,
    ST_T_DEL,
    ST_F_DEL,
    ST_R_DEL,
    ST_R_LIST,
    ST_R_BY_TOKEN,
    ST_R_FAIL,
    ST_R_LOCK,
    ST_R_RESET,
    ST_R_DOWNLOADED,
    ST_R_UNLOCK,
    ST_F_ADD,
    ST_F_LIST,
    ST_F_GET,
    ST_F_STORED,
    ST_F_SCANNED,
    ST_F_META,
    ST_A_ADD,
    ST_A_LIST,
    ST_F_REMOVE,
    ST_USAGE,
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_COUNT
};

#define T_COLS                                                                                     \
    "id, sender, external, parent, mode, created, expires, revoked, sent, max_failures, "          \
    "wrapped_key, message"
#define F_COLS "transfer, id, meta, size, stored, expected, scan, scan_detail"

static const char *const sql[ST_COUNT] = {
    "INSERT INTO transfers (" T_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 0, ?8, ?9, ?10)",
    "INSERT INTO recipients (token, transfer, address) VALUES (?1, ?2, ?3)",
    "SELECT " T_COLS " FROM transfers WHERE id = ?1",
    "UPDATE transfers SET sent = 1 WHERE id = ?1",
    "UPDATE transfers SET revoked = ?2 WHERE id = ?1 AND revoked = 0",
    "SELECT " T_COLS " FROM transfers ORDER BY created DESC, id",
    "SELECT " T_COLS " FROM transfers WHERE sender = ?1 ORDER BY created DESC, id",
    "SELECT id FROM transfers WHERE expires < ?1 OR (sent = 0 AND created < ?1 - 86400) "
    "ORDER BY expires LIMIT ?2",
    "DELETE FROM transfers WHERE id = ?1",
    "DELETE FROM files WHERE transfer = ?1",
    "DELETE FROM recipients WHERE transfer = ?1",
    "SELECT token, transfer, address, failures, locked, first_download FROM recipients "
    "WHERE transfer = ?1 ORDER BY rowid",
    "SELECT token, transfer, address, failures, locked, first_download FROM recipients "
    "WHERE token = ?1",
    "UPDATE recipients SET failures = failures + 1 WHERE token = ?1 RETURNING failures",
    "UPDATE recipients SET locked = 1 WHERE token = ?1",
    "UPDATE recipients SET failures = 0 WHERE token = ?1 AND locked = 0",
    "UPDATE recipients SET first_download = ?2 WHERE token = ?1 AND first_download = 0",
    "UPDATE recipients SET locked = 0, failures = 0 WHERE token = ?1",
    "INSERT INTO files (" F_COLS ") VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, ?7)",
    "SELECT " F_COLS " FROM files WHERE transfer = ?1 ORDER BY rowid",
    "SELECT " F_COLS " FROM files WHERE transfer = ?1 AND id = ?2",
    "UPDATE files SET stored = ?3 WHERE transfer = ?1 AND id = ?2",
    "UPDATE files SET scan = ?3, scan_detail = ?4 WHERE transfer = ?1 AND id = ?2",
    "UPDATE files SET meta = ?3 WHERE transfer = ?1 AND id = ?2",
    "INSERT INTO access (time, transfer, recipient, client, file, event, bytes, completed) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    "SELECT time, transfer, recipient, client, file, event, bytes, completed FROM access "
    "WHERE transfer = ?1 ORDER BY time, rowid",
    "DELETE FROM files WHERE transfer = ?1 AND id = ?2",
    "SELECT count(DISTINCT transfer), coalesce(sum(expected), 0), coalesce(sum(stored), 0) "
    "FROM files",
    "BEGIN IMMEDIATE",
    "COMMIT",
    "ROLLBACK",
};

struct share_store {
    sqlite3 *h;
    sqlite3_stmt *st[ST_COUNT];
};

static const char *const mode_names[] = {"generated", "manual", "link", "e2e"};
static const char *const scan_names[] = {"pending", "clean", "infected", "none"};

const char *share_password_mode_name(enum share_password_mode m)
{
    return (unsigned)m < 4 ? mode_names[m] : "?";
}

int share_password_mode_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, mode_names[i]) == 0)
            return i;
    return -1;
}

const char *share_scan_name(enum share_scan s)
{
    return (unsigned)s < 4 ? scan_names[s] : "?";
}

const char *share_store_error(struct share_store *s)
{
    return sqlite3_errmsg(s->h);
}

void share_new_id(char out[SHARE_ID_LEN + 1])
{
    static const char b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char r[16];
    if (RAND_bytes(r, sizeof(r)) != 1)
        abort(); /* no randomness: nothing here may go on */
    /* 22 base64url digits of 128 bits (the last holds 2 bits) */
    unsigned acc = 0, bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < sizeof(r); i++) {
        acc = (acc << 8) | r[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = b64u[(acc >> bits) & 63];
        }
    }
    if (bits)
        out[o++] = b64u[(acc << (6 - bits)) & 63];
    out[o] = '\0';
    /* an id given on a command line must not read as an option: a first
     * "-" or "_" becomes a letter (1 bit less of 128 in 1 id of 32) */
    if (out[0] == '-' || out[0] == '_')
        out[0] = b64u[r[15] % 52];
    OPENSSL_cleanse(r, sizeof(r));
}

struct share_store *share_store_open(const char *data_dir, char **error_r)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/state/shares.db", data_dir) >= (int)sizeof(path)) {
        *error_r = xstrdup("data_dir too long");
        return NULL;
    }
    sqlite3 *h = NULL;
    char *err = NULL;
    if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        buf_printf(&b, "%s: %s", path, h ? sqlite3_errmsg(h) : "out of memory");
        *error_r = buf_steal(&b);
        sqlite3_close(h);
        return NULL;
    }
    sqlite3_busy_timeout(h, 10000);
    sqlite_setup_persist_wal(h);
    if (sqlite_setup_exec(h, schema, &err) != SQLITE_OK) {
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        buf_printf(&b, "%s: %s", path, err ? err : sqlite3_errmsg(h));
        *error_r = buf_steal(&b);
        sqlite3_free(err);
        sqlite3_close(h);
        return NULL;
    }
    struct share_store *s = xcalloc(1, sizeof(*s));
    s->h = h;
    for (int i = 0; i < ST_COUNT; i++)
        if (sqlite3_prepare_v3(h, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) !=
            SQLITE_OK) {
            struct buf b;
            buf_init(&b, BUF_UNLIMITED);
            buf_printf(&b, "%s: %s", path, sqlite3_errmsg(h));
            *error_r = buf_steal(&b);
            share_store_close(&s);
            return NULL;
        }
    return s;
}

void share_store_close(struct share_store **sp)
{
    struct share_store *s = *sp;
    if (!s)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->h);
    free(s);
    *sp = NULL;
}

/* A statement, reset and cleared for new bindings. */
static sqlite3_stmt *stmt(struct share_store *s, int i)
{
    sqlite3_reset(s->st[i]);
    sqlite3_clear_bindings(s->st[i]);
    return s->st[i];
}

static int run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

static void set_error(struct share_store *s, char **error_r)
{
    if (error_r)
        *error_r = xstrdup(sqlite3_errmsg(s->h));
}

static void copy_text(char *out, size_t size, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    str_copy(out, size, t ? (const char *)t : "");
}

static unsigned char *copy_blob(sqlite3_stmt *st, int col, size_t *len)
{
    const void *b = sqlite3_column_blob(st, col);
    int n = sqlite3_column_bytes(st, col);
    *len = 0;
    if (!b || n <= 0)
        return NULL;
    unsigned char *out = xmalloc((size_t)n);
    memcpy(out, b, (size_t)n);
    *len = (size_t)n;
    return out;
}

static void read_transfer(sqlite3_stmt *st, struct share_transfer *t)
{
    memset(t, 0, sizeof(*t));
    copy_text(t->id, sizeof(t->id), st, 0);
    copy_text(t->sender, sizeof(t->sender), st, 1);
    t->sender_verified_external = sqlite3_column_int(st, 2) != 0;
    copy_text(t->parent, sizeof(t->parent), st, 3);
    const unsigned char *m = sqlite3_column_text(st, 4);
    int mode = m ? share_password_mode_parse((const char *)m) : -1;
    t->mode = mode < 0 ? SHARE_PW_GENERATED : (enum share_password_mode)mode;
    t->created = sqlite3_column_int64(st, 5);
    t->expires = sqlite3_column_int64(st, 6);
    t->revoked = sqlite3_column_int64(st, 7);
    t->sent = sqlite3_column_int(st, 8) != 0;
    t->max_failures = (unsigned)sqlite3_column_int(st, 9);
    t->wrapped_key = copy_blob(st, 10, &t->wrapped_key_len);
    t->message = copy_blob(st, 11, &t->message_len);
}

void share_transfer_free(struct share_transfer *t)
{
    free(t->wrapped_key);
    free(t->message);
    t->wrapped_key = t->message = NULL;
    t->wrapped_key_len = t->message_len = 0;
}

static void bind_blob(sqlite3_stmt *st, int i, const unsigned char *p, size_t n)
{
    if (p && n)
        sqlite3_bind_blob(st, i, p, (int)n, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

int share_transfer_add(struct share_store *s, struct share_transfer *t,
                       struct share_recipient *rcpts, size_t n, char **error_r)
{
    if (n > SHARE_RCPTS_MAX || t->wrapped_key_len > SHARE_BLOB_MAX ||
        t->message_len > SHARE_BLOB_MAX) {
        if (error_r)
            *error_r = xstrdup("too many recipients, or a key or message too large");
        return -1;
    }
    if (!t->id[0])
        share_new_id(t->id);
    if (run(stmt(s, ST_BEGIN)) < 0) {
        set_error(s, error_r);
        return -1;
    }
    sqlite3_stmt *st = stmt(s, ST_T_ADD);
    sqlite3_bind_text(st, 1, t->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, t->sender, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, t->sender_verified_external);
    sqlite3_bind_text(st, 4, t->parent, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, share_password_mode_name(t->mode), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, t->created);
    sqlite3_bind_int64(st, 7, t->expires);
    sqlite3_bind_int(st, 8, (int)t->max_failures);
    bind_blob(st, 9, t->wrapped_key, t->wrapped_key_len);
    bind_blob(st, 10, t->message, t->message_len);
    int rc = run(st);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        share_new_id(rcpts[i].token);
        str_copy(rcpts[i].transfer, sizeof(rcpts[i].transfer), t->id);
        st = stmt(s, ST_R_ADD);
        sqlite3_bind_text(st, 1, rcpts[i].token, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, t->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, rcpts[i].address, -1, SQLITE_STATIC);
        rc = run(st);
    }
    if (rc == 0 && run(stmt(s, ST_COMMIT)) == 0)
        return 0;
    set_error(s, error_r);
    run(stmt(s, ST_ROLLBACK));
    return -1;
}

int share_transfer_get(struct share_store *s, const char *id, struct share_transfer *t)
{
    sqlite3_stmt *st = stmt(s, ST_T_GET);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        read_transfer(st, t);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int changed(struct share_store *s, int rc)
{
    return rc < 0 ? -1 : sqlite3_changes(s->h) > 0 ? 0 : -1;
}

int share_transfer_set_sent(struct share_store *s, const char *id)
{
    sqlite3_stmt *st = stmt(s, ST_T_SENT);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    return changed(s, run(st));
}

int share_transfer_revoke(struct share_store *s, const char *id, long long now)
{
    sqlite3_stmt *st = stmt(s, ST_T_REVOKE);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now ? now : 1);
    return changed(s, run(st));
}

int share_transfer_list(struct share_store *s, const char *sender,
                        void (*fn)(const struct share_transfer *t, void *arg), void *arg)
{
    sqlite3_stmt *st = stmt(s, sender ? ST_T_LIST_SENDER : ST_T_LIST_ALL);
    if (sender)
        sqlite3_bind_text(st, 1, sender, -1, SQLITE_STATIC);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct share_transfer t;
        read_transfer(st, &t);
        fn(&t, arg);
        share_transfer_free(&t);
        n++;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? n : -1;
}

int share_transfer_expired(struct share_store *s, long long now, char (*ids)[SHARE_ID_LEN + 1],
                           size_t max)
{
    sqlite3_stmt *st = stmt(s, ST_T_EXPIRED);
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, (long long)max);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && (size_t)n < max)
        copy_text(ids[n++], SHARE_ID_LEN + 1, st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? n : -1;
}

int share_transfer_delete(struct share_store *s, const char *id)
{
    if (run(stmt(s, ST_BEGIN)) < 0)
        return -1;
    int rc = 0;
    static const int dels[] = {ST_F_DEL, ST_R_DEL, ST_T_DEL};
    for (size_t i = 0; i < 3 && rc == 0; i++) {
        sqlite3_stmt *st = stmt(s, dels[i]);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        rc = run(st);
    }
    if (rc == 0 && run(stmt(s, ST_COMMIT)) == 0)
        return 0;
    run(stmt(s, ST_ROLLBACK));
    return -1;
}

static void read_recipient(sqlite3_stmt *st, struct share_recipient *r)
{
    memset(r, 0, sizeof(*r));
    copy_text(r->token, sizeof(r->token), st, 0);
    copy_text(r->transfer, sizeof(r->transfer), st, 1);
    copy_text(r->address, sizeof(r->address), st, 2);
    r->failures = (unsigned)sqlite3_column_int(st, 3);
    r->locked = sqlite3_column_int(st, 4) != 0;
    r->first_download = sqlite3_column_int64(st, 5);
}

int share_recipients(struct share_store *s, const char *transfer, struct share_recipient *out,
                     size_t max)
{
    sqlite3_stmt *st = stmt(s, ST_R_LIST);
    sqlite3_bind_text(st, 1, transfer, -1, SQLITE_STATIC);
    int n = 0, rc;
    while ((size_t)n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
        read_recipient(st, &out[n++]);
    if ((size_t)n == max)
        rc = SQLITE_DONE;
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? n : -1;
}

int share_recipient_by_token(struct share_store *s, const char *token, struct share_recipient *r)
{
    sqlite3_stmt *st = stmt(s, ST_R_BY_TOKEN);
    sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        read_recipient(st, r);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int share_recipient_fail(struct share_store *s, const char *token, unsigned max, bool *locked_r)
{
    *locked_r = false;
    if (run(stmt(s, ST_BEGIN)) < 0)
        return -1;
    sqlite3_stmt *st = stmt(s, ST_R_FAIL);
    sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int failures = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_reset(st);
    if (failures >= 0 && (unsigned)failures >= max) {
        st = stmt(s, ST_R_LOCK);
        sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
        if (run(st) < 0)
            failures = -1;
        else
            *locked_r = true;
    }
    if (failures >= 0 && run(stmt(s, ST_COMMIT)) == 0)
        return failures;
    run(stmt(s, ST_ROLLBACK));
    return -1;
}

int share_recipient_reset(struct share_store *s, const char *token)
{
    sqlite3_stmt *st = stmt(s, ST_R_RESET);
    sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
    return run(st);
}

int share_recipient_downloaded(struct share_store *s, const char *token, long long now)
{
    sqlite3_stmt *st = stmt(s, ST_R_DOWNLOADED);
    sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now ? now : 1);
    if (run(st) < 0)
        return -1;
    return sqlite3_changes(s->h) > 0 ? 1 : 0;
}

int share_recipient_unlock(struct share_store *s, const char *token)
{
    sqlite3_stmt *st = stmt(s, ST_R_UNLOCK);
    sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
    return changed(s, run(st));
}

static void read_file(sqlite3_stmt *st, struct share_file *f)
{
    memset(f, 0, sizeof(*f));
    copy_text(f->transfer, sizeof(f->transfer), st, 0);
    copy_text(f->id, sizeof(f->id), st, 1);
    f->meta = copy_blob(st, 2, &f->meta_len);
    f->size = (unsigned long long)sqlite3_column_int64(st, 3);
    f->stored = (unsigned long long)sqlite3_column_int64(st, 4);
    f->expected = (unsigned long long)sqlite3_column_int64(st, 5);
    f->complete = f->stored == f->expected;
    int scan = sqlite3_column_int(st, 6);
    f->scan = scan >= 0 && scan <= 3 ? (enum share_scan)scan : SHARE_SCAN_PENDING;
    copy_text(f->scan_detail, sizeof(f->scan_detail), st, 7);
}

void share_file_free(struct share_file *f)
{
    free(f->meta);
    f->meta = NULL;
    f->meta_len = 0;
}

int share_file_add(struct share_store *s, struct share_file *f, char **error_r)
{
    if (f->meta_len > SHARE_BLOB_MAX) {
        if (error_r)
            *error_r = xstrdup("file description too large");
        return -1;
    }
    share_new_id(f->id);
    sqlite3_stmt *st = stmt(s, ST_F_ADD);
    sqlite3_bind_text(st, 1, f->transfer, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, f->id, -1, SQLITE_STATIC);
    bind_blob(st, 3, f->meta, f->meta_len);
    sqlite3_bind_int64(st, 4, (long long)f->size);
    sqlite3_bind_int64(st, 5, (long long)f->expected);
    sqlite3_bind_int(st, 6, (int)f->scan);
    sqlite3_bind_text(st, 7, f->scan_detail, -1, SQLITE_STATIC);
    if (run(st) == 0)
        return 0;
    set_error(s, error_r);
    return -1;
}

int share_files(struct share_store *s, const char *transfer, struct share_file *out, size_t max)
{
    sqlite3_stmt *st = stmt(s, ST_F_LIST);
    sqlite3_bind_text(st, 1, transfer, -1, SQLITE_STATIC);
    int n = 0, rc = SQLITE_DONE;
    while ((size_t)n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
        read_file(st, &out[n++]);
    if (rc == SQLITE_ROW)
        rc = SQLITE_DONE;
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? n : -1;
}

int share_file_get(struct share_store *s, const char *transfer, const char *id,
                   struct share_file *f)
{
    sqlite3_stmt *st = stmt(s, ST_F_GET);
    sqlite3_bind_text(st, 1, transfer, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        read_file(st, f);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int share_file_stored(struct share_store *s, const char *transfer, const char *id,
                      unsigned long long stored)
{
    sqlite3_stmt *st = stmt(s, ST_F_STORED);
    sqlite3_bind_text(st, 1, transfer, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (long long)stored);
    return changed(s, run(st));
}

int share_file_scanned(struct share_store *s, const char *transfer, const char *id,
                       enum share_scan scan, const char *detail)
{
    sqlite3_stmt *st = stmt(s, ST_F_SCANNED);
    sqlite3_bind_text(st, 1, transfer, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, (int)scan);
    sqlite3_bind_text(st, 4, detail ? detail : "", -1, SQLITE_STATIC);
    return changed(s, run(st));
}

int share_file_remove(struct share_store *s, const char *transfer, const char *id)
{
    sqlite3_stmt *st = stmt(s, ST_F_REMOVE);
    sqlite3_bind_text(st, 1, transfer, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    return changed(s, run(st));
}

int share_store_usage(struct share_store *s, unsigned long long *bytes_r,
                      unsigned long long *stored_r, unsigned long long *transfers_r)
{
    sqlite3_stmt *st = stmt(s, ST_USAGE);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *transfers_r = (unsigned long long)sqlite3_column_int64(st, 0);
        *bytes_r = (unsigned long long)sqlite3_column_int64(st, 1);
        if (stored_r)
            *stored_r = (unsigned long long)sqlite3_column_int64(st, 2);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

int share_file_set_meta(struct share_store *s, const char *transfer, const char *id,
                        const unsigned char *meta, size_t len)
{
    if (len > SHARE_BLOB_MAX)
        return -1;
    sqlite3_stmt *st = stmt(s, ST_F_META);
    sqlite3_bind_text(st, 1, transfer, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    bind_blob(st, 3, meta, len);
    return changed(s, run(st));
}

int share_access_add(struct share_store *s, const struct share_access *a)
{
    sqlite3_stmt *st = stmt(s, ST_A_ADD);
    sqlite3_bind_int64(st, 1, a->time);
    sqlite3_bind_text(st, 2, a->transfer, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, a->recipient, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, a->client, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, a->file, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, a->event, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, (long long)a->bytes);
    sqlite3_bind_int(st, 8, a->completed);
    return run(st);
}

int share_access_list(struct share_store *s, const char *transfer,
                      void (*fn)(const struct share_access *a, void *arg), void *arg)
{
    sqlite3_stmt *st = stmt(s, ST_A_LIST);
    sqlite3_bind_text(st, 1, transfer, -1, SQLITE_STATIC);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct share_access a;
        memset(&a, 0, sizeof(a));
        a.time = sqlite3_column_int64(st, 0);
        copy_text(a.transfer, sizeof(a.transfer), st, 1);
        copy_text(a.recipient, sizeof(a.recipient), st, 2);
        copy_text(a.client, sizeof(a.client), st, 3);
        copy_text(a.file, sizeof(a.file), st, 4);
        copy_text(a.event, sizeof(a.event), st, 5);
        a.bytes = (unsigned long long)sqlite3_column_int64(st, 6);
        a.completed = sqlite3_column_int(st, 7) != 0;
        fn(&a, arg);
        n++;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? n : -1;
}
