/* store-private: internals shared by the store-*.c files. */
#ifndef POSTINO_STORE_PRIVATE_H
#define POSTINO_STORE_PRIVATE_H

#include <sqlite3.h>
#include <stdarg.h>

#include "store-quota.h"
#include "store.h"

#define STORE_PATH_MAX     4096
#define STORE_FILENAME_MAX 255

/* The index's page cache (PRAGMA cache_size, negative: KiB): small while
 * the account is idle (many accounts stay open in one process), larger
 * for the one transaction of a big sync so that its pages are not spilled
 * to the WAL before the commit. */
#define STORE_CACHE_KIB_IDLE "-256"
#define STORE_CACHE_KIB_BULK "-32768"
/* A sync that indexes at least this many new files uses the larger cache. */
#define STORE_SYNC_BULK_MIN 1000

enum store_stmt_id {
    SQ_FOLDER_BY_NAME,
    SQ_FOLDER_BY_ID,
    SQ_FOLDER_INSERT,
    SQ_FOLDER_SAVE,
    SQ_MSG_INSERT,
    SQ_MSG_INSERT_MANY,
    SQ_MSG_BY_UID,
    SQ_MSG_ALL,
    SQ_MSG_FROM_UID,
    SQ_MSG_CHANGED,
    SQ_MSG_UPDATE_FLAGS,
    SQ_MSG_DELETE,
    SQ_EXPUNGE_INSERT,
    SQ_EXPUNGES_SINCE,
    SQ_CACHE_DELETE_MSG,
    SQ_CACHE_GET,
    SQ_CACHE_PUT,
    SQ_META_GET,
    SQ_META_PUT,
    SQ_DATA_VERSION,
    SQ_COUNT_PLACEHOLDER,
};
#define STORE_STMT_COUNT ((size_t)SQ_COUNT_PLACEHOLDER)

/* Snapshots of message rows kept by an account (store-snap.c): at most
 * this many folders, and this many octets in all. */
#define STORE_SNAPS_MAX      4
#define STORE_SNAP_BYTES_MAX (64u * 1024 * 1024)

/* A folder's message rows as read at one moment (store-snap.c). */
struct store_snap {
    int refs; /* the account's cache, and each view whose names are here */
    int64_t folder_id;
    uint32_t uidvalidity, uidnext; /* the folder row's, when read */
    uint64_t modseq;
    int64_t data_version;   /* PRAGMA data_version when read, -1 unknown */
    struct store_msg *msgs; /* by UID; recent and expunged false */
    size_t count;
    char *names; /* every file name, NUL-terminated, one block */
    size_t names_size;
    uint64_t used; /* for the least-recently-used choice */
};

struct store_account {
    int refs;
    char *root;
    sqlite3 *db;
    sqlite3_stmt *stmts[STORE_STMT_COUNT];
    int tx_depth;           /* 1 inside a transaction (no nesting) */
    uint64_t local_changes; /* bumped by every commit that changed something */
    bool tx_changed;        /* the current transaction changed something */
    bool cache_batch;       /* store_view_cache_batch() has a transaction open */
    unsigned cache_batch_n; /* puts in it */
    bool bulk;              /* the page cache is STORE_CACHE_KIB_BULK */
    struct store_snap *snaps[STORE_SNAPS_MAX];
    uint64_t snap_tick;
    struct store_quota quota;
    struct store_bg_job *bg; /* a commit running on a thread (store-bg.c), or NULL */
    int bg_data_version;     /* store_data_version() when it started */
    enum store_err err;
    char errtext[512];
};

/* One row of the folders table. mtimes are in nanoseconds, -1 when the
 * directory must be scanned at the next sync. */
struct store_folder_row {
    int64_t id;
    char name[STORE_FOLDER_NAME_MAX + 1];
    uint32_t uidvalidity;
    uint32_t uidnext;
    uint32_t recent_uid; /* the first UID not claimed as \Recent */
    uint64_t modseq;     /* the highest modseq */
    int64_t new_mtime;
    int64_t cur_mtime;
};

/* A folder's keywords as in its dovecot-keywords file. */
struct store_keywords {
    char *names[STORE_KEYWORDS_MAX];
    size_t count;
    int64_t mtime; /* of the file, -1 if none */
};

struct store_view {
    struct store_account *acc;
    int64_t folder_id;
    char name[STORE_FOLDER_NAME_MAX + 1];
    bool readonly;
    uint32_t uidvalidity;
    uint32_t uidnext;
    uint64_t modseq;
    struct store_msg *msgs;
    size_t count, cap;
    struct store_snap *names; /* holds the file names not malloc'ed one by one */
    struct store_keywords kw;
    /* what the cheap check of store_view_sync() compares */
    int64_t seen_new_mtime, seen_cur_mtime;
    int seen_data_version;
    uint64_t seen_local_changes;
    bool dirty;
    bool gone;
    /* results, kept until the next call */
    uint32_t *res_seqs, *res_uids, *res_flags;
    size_t res_seqs_cap, res_flags_cap;
    struct store_sync_result res;
    uint32_t *st_changed, *st_modified;
    struct store_store_result st;
};

/* A parsed message file name. */
struct store_name {
    size_t base_len;   /* octets before ":2," (or the whole name) */
    bool has_info;     /* ":2," present */
    uint32_t flags;    /* STORE_FLAG_* from the info */
    uint32_t keywords; /* 'a'.. 'z' from the info */
    int64_t psize;     /* S=, -1 if absent */
    int64_t vsize;     /* W=, -1 if absent */
    int64_t time;      /* leading seconds, -1 if not a number */
    int64_t usec;      /* M part, 0 if absent */
};

/* store-account.c */
int store_fail(struct store_account *acc, enum store_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int store_fail_db(struct store_account *acc, const char *what);
/* dir of folder name ("INBOX" = root). 0, or -1 (too long). */
int store_folder_path(const struct store_account *acc, const char *name, char *out, size_t size);
bool store_is_inbox(const char *name);
/* STORE_ATTR_SENT... for the special-use folder names, else 0. */
unsigned store_special_use(const char *name);

/* store-index.c */
/* The connection, for a statement of one's own: waits for a commit
 * running in the background first. */
sqlite3 *store_db(struct store_account *acc);
int store_index_open(struct store_account *acc, char **error_r);
void store_index_close(struct store_account *acc);
sqlite3_stmt *store_stmt(struct store_account *acc, enum store_stmt_id id, const char *sql);
int store_tx_begin(struct store_account *acc, bool write);
int store_tx_commit(struct store_account *acc);
void store_tx_rollback(struct store_account *acc);
int store_data_version(struct store_account *acc);
/* PRAGMA data_version: changed by the commits of other connections only.
 * Current inside a transaction that has read something. -1 on error. */
int64_t store_index_foreign_version(struct store_account *acc);
/* Grow the page cache for a big transaction (on), or shrink it back and
 * free what it held (off). */
void store_index_bulk(struct store_account *acc, bool on);
/* 1 found, 0 not, -1 error. */
int store_folder_row_get(struct store_account *acc, const char *name, struct store_folder_row *f);
int store_folder_row_get_id(struct store_account *acc, int64_t id, struct store_folder_row *f);
/* In a write transaction: a new row with a new UIDVALIDITY. 0 or -1. */
int store_folder_row_create(struct store_account *acc, const char *name,
                            struct store_folder_row *f);
int store_folder_row_save(struct store_account *acc, const struct store_folder_row *f);
/* Delete the folder's row and everything of its messages. */
int store_folder_row_delete(struct store_account *acc, int64_t id);
/* Remove message uid of folder: its row, its cache; log the expunge. */
int store_index_expunge(struct store_account *acc, int64_t folder, uint32_t uid, uint64_t modseq);
int store_index_insert(struct store_account *acc, int64_t folder, uint32_t uid, const char *name,
                       uint32_t flags, uint32_t keywords, uint64_t size, int64_t idate,
                       int64_t saved, uint64_t modseq);
/* One message row for store_index_insert_rows(). */
struct store_index_row {
    uint32_t uid, flags, keywords;
    uint64_t size;
    int64_t idate;
    const char *name;
    size_t name_len;
};
/* Rows inserted per statement by store_index_insert_rows(). */
#define STORE_INSERT_BATCH 64
/* Insert n message rows of folder at once (all saved at saved, with
 * modseq), STORE_INSERT_BATCH rows per statement. In a write
 * transaction. 0 or -1. */
int store_index_insert_rows(struct store_account *acc, int64_t folder,
                            const struct store_index_row *rows, size_t n, int64_t saved,
                            uint64_t modseq);

/* store_index_insert_rows() without forgetting the folder's snapshot
 * (for the background commit, whose rows are the snapshot). */
int store_index_insert_rows_raw(struct store_account *acc, int64_t folder,
                                const struct store_index_row *rows, size_t n, int64_t saved,
                                uint64_t modseq);
/* In a write transaction: give folder f a new UIDVALIDITY and forget its
 * message rows, expunges and cache (the next sync indexes its files
 * afresh). f is updated. 0 or -1. */
int store_folder_row_renew(struct store_account *acc, struct store_folder_row *f);

/* store-bg.c */
struct store_bg_job;
/* True on the thread of a background commit. */
extern _Thread_local bool store_in_bg;
/* Hand the open write transaction to a thread that inserts rows (n_rows,
 * with the names they point to: names, n_names, now the job's), saves f
 * and commits. Writes the marker first. 0 started (rows and names are the
 * job's), -1 not (nothing changed: the caller goes on). */
int store_bg_commit(struct store_account *acc, const struct store_folder_row *f,
                    struct store_index_row *rows, size_t n_rows, char **names, size_t n_names,
                    int64_t saved, uint64_t modseq);
/* A background commit is running (false on its own thread). */
bool store_bg_pending(const struct store_account *acc);
/* Wait for the background commit, if any, and settle it. */
void store_bg_wait(struct store_account *acc);
/* In a write transaction: act on a marker left by a commit that never
 * happened. 1 if there was one (remove it with store_bg_marker_remove()
 * after the commit), 0 if none, -1 on error. */
int store_bg_recover(struct store_account *acc);
void store_bg_marker_remove(struct store_account *acc);

/* store-view.c */
/* Give message m of the view a new file name (a copy of name). */
void store_view_set_filename(struct store_view *v, struct store_msg *m, const char *name);

/* store-snap.c */
/* A snapshot (one reference) of count messages: a copy of msgs and of
 * their file names. Its folder state and data_version are the caller's
 * to set. */
struct store_snap *store_snap_build(int64_t folder_id, const struct store_msg *msgs, size_t count);
struct store_snap *store_snap_ref(struct store_snap *s);
void store_snap_unref(struct store_snap **sp);
/* True if name points into the snapshot's block of names. */
bool store_snap_owns(const struct store_snap *s, const char *name);
/* Keep s (a reference of its own) as the snapshot of its folder,
 * replacing the one before; the least recently used are dropped to stay
 * within STORE_SNAPS_MAX and STORE_SNAP_BYTES_MAX. */
void store_snap_put(struct store_account *acc, struct store_snap *s);
/* The kept snapshot of a folder (not checked for validity), or NULL. */
struct store_snap *store_snap_get(struct store_account *acc, int64_t folder_id);
/* Drop the snapshot of a folder: called by every write of its message
 * rows. */
void store_snap_forget(struct store_account *acc, int64_t folder_id);
void store_snap_forget_all(struct store_account *acc);

/* store-filename.c */
void store_name_parse(const char *name, struct store_name *p);
/* name's base with the info made of flags and keywords (other letters of
 * the old info kept). 0, or -1 (too long). */
int store_name_with_flags(const char *name, uint32_t flags, uint32_t keywords, char *out,
                          size_t size);
/* A fresh unique base "secs.MusecsPpidQn.host,S=psize,W=vsize". */
int store_name_new(char *out, size_t size, time_t t, uint64_t psize, uint64_t vsize);

/* store-sync.c */
/* Bring folder f's index rows up to date with its files (scanning what
 * changed). Outside a transaction. 0, -1 (STORE_ERR_NOTFOUND if the
 * folder's directory is gone). */
int store_folder_sync(struct store_account *acc, struct store_folder_row *f);
/* Look up a folder by name, creating its row (new UIDVALIDITY) if the
 * directory exists without one, and sync it. 0 or -1. */
int store_folder_open_row(struct store_account *acc, const char *name, struct store_folder_row *f);
/* For a view being opened: a sync that indexes many new files may leave
 * their insert and its commit to a background thread (store-bg.c). */
struct store_sync_bg {
    bool claim_recent;    /* in: the view claims \Recent (read-write) */
    bool started;         /* out: the commit runs in the background; f is
                           * the row it saves and the folder's snapshot
                           * holds every message */
    uint32_t recent_from; /* out, if started: the first UID that is
                           * \Recent for the view */
};
int store_folder_sync_bg(struct store_account *acc, struct store_folder_row *f,
                         struct store_sync_bg *bg);
int store_folder_open_row_bg(struct store_account *acc, const char *name,
                             struct store_folder_row *f, struct store_sync_bg *bg);
/* stat the mtimes (ns) of dir/new and dir/cur. 0 or -1. */
int store_dir_mtimes(const char *dir, int64_t *new_m, int64_t *cur_m);
/* After our own change to cur/ under the write lock: keep the stored
 * mtime of cur/ in step if it was (before = its mtime before the change). */
void store_folder_touched(struct store_account *acc, struct store_folder_row *f, int64_t before);

/* store-keywords.c */
int store_keywords_load(const char *dir, struct store_keywords *kw);
void store_keywords_free(struct store_keywords *kw);
/* The index of name, defining it (under the write lock) if create. -1 if
 * absent / full / invalid (with the error set on acc). */
int store_keywords_lookup(struct store_account *acc, const char *dir, struct store_keywords *kw,
                          const char *name, bool create);
bool store_keyword_valid(const char *name);

/* store-message.c */
/* Expunge the given rows of folder f in the current write transaction:
 * unlink the files, log the expunges, record quota. */
int store_expunge_rows(struct store_account *acc, struct store_folder_row *f, const uint32_t *uids,
                       size_t n, size_t *count_r);

#endif
