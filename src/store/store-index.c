/* store-index: the SQLite index of an account (schema, statements,
 * transactions, folder rows). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/sqlite-setup.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "store-private.h"

#define STORE_SCHEMA_VERSION 1

static const char *const store_schema =
    "CREATE TABLE folders (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL UNIQUE,\n"
    "  uidvalidity INTEGER NOT NULL,\n"
    "  uidnext INTEGER NOT NULL,\n"
    "  recent_uid INTEGER NOT NULL,\n"
    "  modseq INTEGER NOT NULL,\n"
    "  new_mtime INTEGER NOT NULL,\n"
    "  cur_mtime INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE messages (\n"
    "  folder INTEGER NOT NULL,\n"
    "  uid INTEGER NOT NULL,\n"
    "  name TEXT NOT NULL,\n"
    "  flags INTEGER NOT NULL,\n"
    "  keywords INTEGER NOT NULL,\n"
    "  size INTEGER NOT NULL,\n"
    "  idate INTEGER NOT NULL,\n"
    "  saved INTEGER NOT NULL,\n"
    "  modseq INTEGER NOT NULL,\n"
    "  PRIMARY KEY (folder, uid)\n"
    ") WITHOUT ROWID;\n"
    "CREATE INDEX messages_modseq ON messages(folder, modseq);\n"
    "CREATE TABLE expunges (\n"
    "  folder INTEGER NOT NULL,\n"
    "  uid INTEGER NOT NULL,\n"
    "  modseq INTEGER NOT NULL,\n"
    "  PRIMARY KEY (folder, uid)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE cache (\n"
    "  folder INTEGER NOT NULL,\n"
    "  uid INTEGER NOT NULL,\n"
    "  key TEXT NOT NULL,\n"
    "  value BLOB NOT NULL,\n"
    "  PRIMARY KEY (folder, uid, key)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE meta (\n"
    "  key TEXT PRIMARY KEY,\n"
    "  value INTEGER NOT NULL\n"
    ");\n";

/* Open path and bring it to the schema; SQLITE_* of the failure. */
static int try_open(struct store_account *acc, const char *path, char **why)
{
    *why = NULL;
    int rc = sqlite3_open_v2(
        path, &acc->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(acc->db, STORE_BUSY_TIMEOUT_MS);
    sqlite_setup_persist_wal(acc->db);
    /* a small page cache: many accounts stay open in one process */
    rc = sqlite_setup_exec(acc->db,
                           "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
                           "PRAGMA cache_size = " STORE_CACHE_KIB_IDLE ";",
                           NULL);
    if (rc != SQLITE_OK)
        goto fail;
    sqlite3_stmt *st;
    rc = sqlite3_prepare_v2(acc->db, "PRAGMA user_version", -1, &st, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    rc = sqlite3_step(st);
    int v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        goto fail;
    if (v == STORE_SCHEMA_VERSION) {
        /* a look at every table: a damaged file fails here */
        rc = sqlite3_exec(acc->db,
                          "SELECT count(*) FROM folders; SELECT 1 FROM messages LIMIT 1; "
                          "SELECT 1 FROM expunges LIMIT 1; SELECT 1 FROM cache LIMIT 1;",
                          NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            goto fail;
        return SQLITE_OK;
    }
    if (v != 0) {
        *why = xstrdup("unknown index schema version");
        return SQLITE_CORRUPT;
    }
    rc = sqlite3_exec(acc->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    rc = sqlite3_prepare_v2(acc->db, "PRAGMA user_version", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_step(st);
        v = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    if (rc == SQLITE_OK && v == 0) {
        char setv[64];
        snprintf(setv, sizeof(setv), "PRAGMA user_version = %d;", STORE_SCHEMA_VERSION);
        rc = sqlite3_exec(acc->db, store_schema, NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(acc->db, setv, NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(acc->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_exec(acc->db, "ROLLBACK", NULL, NULL, NULL);
        goto fail;
    }
    return SQLITE_OK;
fail:
    *why = xstrdup(acc->db ? sqlite3_errmsg(acc->db) : "out of memory");
    if (rc == SQLITE_OK)
        rc = SQLITE_ERROR;
    return rc;
}

static void close_db(struct store_account *acc)
{
    for (size_t i = 0; i < STORE_STMT_COUNT; i++) {
        sqlite3_finalize(acc->stmts[i]);
        acc->stmts[i] = NULL;
    }
    sqlite3_close(acc->db);
    acc->db = NULL;
}

int store_index_open(struct store_account *acc, char **error_r)
{
    char path[STORE_PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/index.db", acc->root) >= (int)sizeof(path)) {
        *error_r = xstrdup("account path too long");
        return -1;
    }
    char *why;
    int rc = try_open(acc, path, &why);
    if (rc == SQLITE_OK)
        return 0;
    if ((rc & 0xff) != SQLITE_CORRUPT && (rc & 0xff) != SQLITE_NOTADB) {
        struct buf b;
        buf_init(&b, 1024);
        buf_printf(&b, "%s: %s", path, why);
        *error_r = buf_steal(&b);
        free(why);
        close_db(acc);
        return -1;
    }
    /* The index is a cache: set the damaged file aside and start again. */
    free(why);
    close_db(acc);
    char aside[STORE_PATH_MAX + 16];
    snprintf(aside, sizeof(aside), "%s.corrupt", path);
    if (rename(path, aside) < 0 && errno != ENOENT) {
        struct buf b;
        buf_init(&b, 1024);
        buf_printf(&b, "%s: corrupt, and cannot be moved aside: %s", path, strerror(errno));
        *error_r = buf_steal(&b);
        return -1;
    }
    const char *sfx[] = {"-wal", "-shm"};
    for (size_t i = 0; i < 2; i++) {
        char p[STORE_PATH_MAX + 8];
        snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
        unlink(p);
    }
    rc = try_open(acc, path, &why);
    if (rc == SQLITE_OK)
        return 0;
    struct buf b;
    buf_init(&b, 1024);
    buf_printf(&b, "%s: %s", path, why);
    *error_r = buf_steal(&b);
    free(why);
    close_db(acc);
    return -1;
}

sqlite3 *store_db(struct store_account *acc)
{
    store_bg_wait(acc);
    return acc->db;
}

void store_index_close(struct store_account *acc)
{
    store_bg_wait(acc);
    if (acc->db)
        close_db(acc);
}

sqlite3_stmt *store_stmt(struct store_account *acc, enum store_stmt_id id, const char *sql)
{
    store_bg_wait(acc);
    sqlite3_stmt *st = acc->stmts[id];
    if (!st) {
        if (!sql)
            return NULL;
        if (sqlite3_prepare_v3(acc->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
            SQLITE_OK) {
            store_fail_db(acc, "prepare");
            return NULL;
        }
        acc->stmts[id] = st;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

int store_tx_begin(struct store_account *acc, bool write)
{
    store_bg_wait(acc);
    if (acc->tx_depth > 0)
        return store_fail(acc, STORE_ERR_TEMP, "internal: nested transaction");
    if (sqlite3_exec(acc->db, write ? "BEGIN IMMEDIATE" : "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return store_fail_db(acc, "begin");
    acc->tx_depth = 1;
    acc->tx_changed = false;
    return 0;
}

int store_tx_commit(struct store_account *acc)
{
    store_bg_wait(acc);
    if (sqlite3_exec(acc->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        store_fail_db(acc, "commit");
        store_tx_rollback(acc);
        return -1;
    }
    acc->tx_depth = 0;
    if (acc->tx_changed)
        acc->local_changes++;
    return 0;
}

void store_tx_rollback(struct store_account *acc)
{
    store_bg_wait(acc);
    if (acc->tx_depth == 0)
        return;
    for (size_t i = 0; i < STORE_STMT_COUNT; i++)
        if (acc->stmts[i])
            sqlite3_reset(acc->stmts[i]);
    sqlite3_exec(acc->db, "ROLLBACK", NULL, NULL, NULL);
    acc->tx_depth = 0;
    /* cached state of views may have seen uncommitted rows: make them look */
    acc->local_changes++;
}

int64_t store_index_foreign_version(struct store_account *acc)
{
    sqlite3_stmt *st = store_stmt(acc, SQ_DATA_VERSION, "PRAGMA data_version");
    if (!st || sqlite3_step(st) != SQLITE_ROW)
        return -1;
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return v;
}

void store_index_bulk(struct store_account *acc, bool on)
{
    store_bg_wait(acc);
    if (on == acc->bulk)
        return;
    sqlite3_exec(acc->db,
                 on ? "PRAGMA cache_size = " STORE_CACHE_KIB_BULK
                    : "PRAGMA cache_size = " STORE_CACHE_KIB_IDLE,
                 NULL, NULL, NULL);
    acc->bulk = on;
}

int store_data_version(struct store_account *acc)
{
    /* the background commit holds the write lock: nobody else can change
     * the index meanwhile, and its own change is counted once it ends */
    if (store_bg_pending(acc))
        return acc->bg_data_version;
    int v = 0;
    if (sqlite3_file_control(acc->db, "main", SQLITE_FCNTL_DATA_VERSION, &v) != SQLITE_OK)
        return -1;
    return v;
}

static void row_from(sqlite3_stmt *st, struct store_folder_row *f)
{
    f->id = sqlite3_column_int64(st, 0);
    str_copy(f->name, sizeof(f->name), (const char *)sqlite3_column_text(st, 1));
    f->uidvalidity = (uint32_t)sqlite3_column_int64(st, 2);
    f->uidnext = (uint32_t)sqlite3_column_int64(st, 3);
    f->recent_uid = (uint32_t)sqlite3_column_int64(st, 4);
    f->modseq = (uint64_t)sqlite3_column_int64(st, 5);
    f->new_mtime = sqlite3_column_int64(st, 6);
    f->cur_mtime = sqlite3_column_int64(st, 7);
}

#define FOLDER_COLS "id, name, uidvalidity, uidnext, recent_uid, modseq, new_mtime, cur_mtime"

int store_folder_row_get(struct store_account *acc, const char *name, struct store_folder_row *f)
{
    sqlite3_stmt *st =
        store_stmt(acc, SQ_FOLDER_BY_NAME, "SELECT " FOLDER_COLS " FROM folders WHERE name = ?");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, store_is_inbox(name) ? "INBOX" : name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        row_from(st, f);
        sqlite3_reset(st);
        return 1;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return 0;
    return store_fail_db(acc, "folder lookup");
}

int store_folder_row_get_id(struct store_account *acc, int64_t id, struct store_folder_row *f)
{
    sqlite3_stmt *st =
        store_stmt(acc, SQ_FOLDER_BY_ID, "SELECT " FOLDER_COLS " FROM folders WHERE id = ?");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        row_from(st, f);
        sqlite3_reset(st);
        return 1;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return 0;
    return store_fail_db(acc, "folder lookup");
}

/* A UIDVALIDITY never handed out before in this account: kept in the file
 * postino-uidvalidity beside the index, so a rebuilt index gives new ones. */
static uint32_t next_uidvalidity(struct store_account *acc)
{
    char path[STORE_PATH_MAX];
    snprintf(path, sizeof(path), "%s/postino-uidvalidity", acc->root);
    unsigned long long last = 0;
    FILE *fp = fopen(path, "r");
    if (fp) {
        if (fscanf(fp, "%llu", &last) != 1)
            last = 0;
        fclose(fp);
    }
    unsigned long long now = (unsigned long long)time(NULL);
    unsigned long long v = last + 1 > now ? last + 1 : now;
    if (v > 0xffffffffULL)
        v = 1;
    char tmp[STORE_PATH_MAX + 8];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fp = fopen(tmp, "w");
    if (fp) {
        fprintf(fp, "%llu\n", v);
        if (fclose(fp) == 0)
            rename(tmp, path);
    }
    return (uint32_t)v;
}

int store_folder_row_create(struct store_account *acc, const char *name, struct store_folder_row *f)
{
    memset(f, 0, sizeof(*f));
    str_copy(f->name, sizeof(f->name), store_is_inbox(name) ? "INBOX" : name);
    f->uidvalidity = next_uidvalidity(acc);
    f->uidnext = 1;
    f->recent_uid = 1;
    f->modseq = 1;
    f->new_mtime = -1;
    f->cur_mtime = -1;
    sqlite3_stmt *st = store_stmt(acc, SQ_FOLDER_INSERT,
                                  "INSERT INTO folders (name, uidvalidity, uidnext, recent_uid, "
                                  "modseq, new_mtime, cur_mtime) VALUES (?, ?, 1, 1, 1, -1, -1)");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, f->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, f->uidvalidity);
    if (sqlite3_step(st) != SQLITE_DONE) {
        sqlite3_reset(st);
        return store_fail_db(acc, "folder insert");
    }
    sqlite3_reset(st);
    f->id = sqlite3_last_insert_rowid(store_db(acc));
    acc->tx_changed = true;
    return 0;
}

int store_folder_row_save(struct store_account *acc, const struct store_folder_row *f)
{
    sqlite3_stmt *st = store_stmt(acc, SQ_FOLDER_SAVE,
                                  "UPDATE folders SET uidnext = ?, recent_uid = ?, modseq = ?, "
                                  "new_mtime = ?, cur_mtime = ? WHERE id = ?");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, f->uidnext);
    sqlite3_bind_int64(st, 2, f->recent_uid);
    sqlite3_bind_int64(st, 3, (int64_t)f->modseq);
    sqlite3_bind_int64(st, 4, f->new_mtime);
    sqlite3_bind_int64(st, 5, f->cur_mtime);
    sqlite3_bind_int64(st, 6, f->id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_fail_db(acc, "folder update");
    acc->tx_changed = true;
    return 0;
}

/* Delete what the index holds of folder id: its messages, expunges and
 * cache, and with the_row its row too. */
static int delete_folder_data(struct store_account *acc, int64_t id, bool the_row, const char *what)
{
    const char *sql[] = {
        "DELETE FROM messages WHERE folder = ?",
        "DELETE FROM expunges WHERE folder = ?",
        "DELETE FROM cache WHERE folder = ?",
        "DELETE FROM folders WHERE id = ?",
    };
    store_snap_forget(acc, id);
    for (size_t i = 0; i < (the_row ? 4u : 3u); i++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(store_db(acc), sql[i], -1, &st, NULL) != SQLITE_OK)
            return store_fail_db(acc, what);
        sqlite3_bind_int64(st, 1, id);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            return store_fail_db(acc, what);
    }
    acc->tx_changed = true;
    return 0;
}

int store_folder_row_renew(struct store_account *acc, struct store_folder_row *f)
{
    if (delete_folder_data(acc, f->id, false, "folder renewal") < 0)
        return -1;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(store_db(acc), "UPDATE folders SET uidvalidity = ? WHERE id = ?", -1,
                           &st, NULL) != SQLITE_OK)
        return store_fail_db(acc, "folder renewal");
    f->uidvalidity = next_uidvalidity(acc);
    f->uidnext = 1;
    f->recent_uid = 1;
    f->new_mtime = -1;
    f->cur_mtime = -1;
    sqlite3_bind_int64(st, 1, f->uidvalidity);
    sqlite3_bind_int64(st, 2, f->id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE || store_folder_row_save(acc, f) < 0)
        return store_fail_db(acc, "folder renewal");
    return 0;
}

int store_folder_row_delete(struct store_account *acc, int64_t id)
{
    return delete_folder_data(acc, id, true, "folder delete");
}

int store_index_expunge(struct store_account *acc, int64_t folder, uint32_t uid, uint64_t modseq)
{
    store_snap_forget(acc, folder);
    sqlite3_stmt *st =
        store_stmt(acc, SQ_MSG_DELETE, "DELETE FROM messages WHERE folder = ? AND uid = ?");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, folder);
    sqlite3_bind_int64(st, 2, uid);
    if (sqlite3_step(st) != SQLITE_DONE)
        return store_fail_db(acc, "message delete");
    st = store_stmt(acc, SQ_CACHE_DELETE_MSG, "DELETE FROM cache WHERE folder = ? AND uid = ?");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, folder);
    sqlite3_bind_int64(st, 2, uid);
    if (sqlite3_step(st) != SQLITE_DONE)
        return store_fail_db(acc, "cache delete");
    st = store_stmt(acc, SQ_EXPUNGE_INSERT,
                    "INSERT OR REPLACE INTO expunges (folder, uid, modseq) VALUES (?, ?, ?)");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, folder);
    sqlite3_bind_int64(st, 2, uid);
    sqlite3_bind_int64(st, 3, (int64_t)modseq);
    if (sqlite3_step(st) != SQLITE_DONE)
        return store_fail_db(acc, "expunge log");
    acc->tx_changed = true;
    return 0;
}

/* One message row, the folder's snapshot left alone. */
static int insert_one(struct store_account *acc, int64_t folder, uint32_t uid, const char *name,
                      uint32_t flags, uint32_t keywords, uint64_t size, int64_t idate,
                      int64_t saved, uint64_t modseq)
{
    sqlite3_stmt *st = store_stmt(acc, SQ_MSG_INSERT,
                                  "INSERT INTO messages (folder, uid, name, flags, keywords, size, "
                                  "idate, saved, modseq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, folder);
    sqlite3_bind_int64(st, 2, uid);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, flags);
    sqlite3_bind_int64(st, 5, keywords);
    sqlite3_bind_int64(st, 6, (int64_t)size);
    sqlite3_bind_int64(st, 7, idate);
    sqlite3_bind_int64(st, 8, saved);
    sqlite3_bind_int64(st, 9, (int64_t)modseq);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_fail_db(acc, "message insert");
    acc->tx_changed = true;
    return 0;
}

int store_index_insert(struct store_account *acc, int64_t folder, uint32_t uid, const char *name,
                       uint32_t flags, uint32_t keywords, uint64_t size, int64_t idate,
                       int64_t saved, uint64_t modseq)
{
    store_snap_forget(acc, folder);
    return insert_one(acc, folder, uid, name, flags, keywords, size, idate, saved, modseq);
}

/* The statement inserting STORE_INSERT_BATCH rows: ?1 folder, ?2 saved,
 * ?3 modseq, then six parameters a row. */
static sqlite3_stmt *insert_many_stmt(struct store_account *acc)
{
    if (acc->stmts[SQ_MSG_INSERT_MANY])
        return store_stmt(acc, SQ_MSG_INSERT_MANY, NULL);
    struct buf b;
    buf_init(&b, 64 * 1024);
    int rc = buf_append_str(&b, "INSERT INTO messages (folder, uid, name, flags, keywords, size, "
                                "idate, saved, modseq) VALUES ");
    for (int i = 0; i < STORE_INSERT_BATCH && rc == 0; i++) {
        int p = 4 + i * 6;
        rc = buf_printf(&b, "%s(?1, ?%d, ?%d, ?%d, ?%d, ?%d, ?%d, ?2, ?3)", i ? ", " : "", p, p + 1,
                        p + 2, p + 3, p + 4, p + 5);
    }
    sqlite3_stmt *st = rc == 0 ? store_stmt(acc, SQ_MSG_INSERT_MANY, buf_cstr(&b)) : NULL;
    buf_free(&b);
    return st;
}

int store_index_insert_rows(struct store_account *acc, int64_t folder,
                            const struct store_index_row *rows, size_t n, int64_t saved,
                            uint64_t modseq)
{
    store_snap_forget(acc, folder);
    return store_index_insert_rows_raw(acc, folder, rows, n, saved, modseq);
}

int store_index_insert_rows_raw(struct store_account *acc, int64_t folder,
                                const struct store_index_row *rows, size_t n, int64_t saved,
                                uint64_t modseq)
{
    size_t i = 0;
    for (; n - i >= STORE_INSERT_BATCH; i += STORE_INSERT_BATCH) {
        sqlite3_stmt *st = insert_many_stmt(acc);
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, folder);
        sqlite3_bind_int64(st, 2, saved);
        sqlite3_bind_int64(st, 3, (int64_t)modseq);
        for (int k = 0; k < STORE_INSERT_BATCH; k++) {
            const struct store_index_row *r = &rows[i + (size_t)k];
            int p = 4 + k * 6;
            sqlite3_bind_int64(st, p, r->uid);
            sqlite3_bind_text(st, p + 1, r->name, (int)r->name_len, SQLITE_STATIC);
            sqlite3_bind_int64(st, p + 2, r->flags);
            sqlite3_bind_int64(st, p + 3, r->keywords);
            sqlite3_bind_int64(st, p + 4, (int64_t)r->size);
            sqlite3_bind_int64(st, p + 5, r->idate);
        }
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return store_fail_db(acc, "message insert");
        acc->tx_changed = true;
    }
    for (; i < n; i++)
        if (insert_one(acc, folder, rows[i].uid, rows[i].name, rows[i].flags, rows[i].keywords,
                       rows[i].size, rows[i].idate, saved, modseq) < 0)
            return -1;
    return 0;
}
