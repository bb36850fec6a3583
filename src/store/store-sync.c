/* store-sync: bringing a folder's index rows in line with its files.
 *
 * The mtimes of new/ and cur/ seen at the last scan are kept in the
 * folder's row; while they are unchanged nothing is read. A directory
 * whose mtime is less than a second old may still change within the same
 * timestamp, so its stored mtime is -1 (scan again next time). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/str.h"
#include "lib/xalloc.h"
#include "store-private.h"

#define NS 1000000000LL

/* One indexed message while scanning. */
struct row_ent {
    uint32_t uid;
    uint32_t flags, keywords;
    uint64_t size, modseq;
    int64_t idate;
    char *name;
    size_t base_len;
    bool seen;
};

/* A file not in the index. */
struct fresh {
    char *name;
    bool in_new;
    int64_t t, usec;
};

static int64_t ts_ns(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * NS + ts->tv_nsec;
}

int store_dir_mtimes(const char *dir, int64_t *new_m, int64_t *cur_m)
{
    char p[STORE_PATH_MAX + 8];
    struct stat sb;
    snprintf(p, sizeof(p), "%s/new", dir);
    if (stat(p, &sb) < 0)
        return -1;
    *new_m = ts_ns(&sb.st_mtim);
    snprintf(p, sizeof(p), "%s/cur", dir);
    if (stat(p, &sb) < 0)
        return -1;
    *cur_m = ts_ns(&sb.st_mtim);
    return 0;
}

static bool is_recent(int64_t mtime, time_t now)
{
    return mtime / NS >= (int64_t)now - 1;
}

void store_folder_touched(struct store_account *acc, struct store_folder_row *f, int64_t before)
{
    char dir[STORE_PATH_MAX];
    int64_t nm, cm;
    if (store_folder_path(acc, f->name, dir, sizeof(dir)) < 0 ||
        store_dir_mtimes(dir, &nm, &cm) < 0) {
        f->cur_mtime = -1;
        return;
    }
    f->cur_mtime = f->cur_mtime == before ? cm : -1;
}

/* ------------------------------------------------------------ hash of bases */

struct base_table {
    struct row_ent *rows;
    size_t n;
    size_t *slots; /* index + 1, 0 = empty */
    size_t mask;
};

static uint64_t hash_base(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static void table_build(struct base_table *t)
{
    size_t cap = 16;
    while (cap < t->n * 2)
        cap <<= 1;
    t->slots = xcalloc(cap, sizeof(*t->slots));
    t->mask = cap - 1;
    for (size_t i = 0; i < t->n; i++) {
        size_t h = (size_t)hash_base(t->rows[i].name, t->rows[i].base_len) & t->mask;
        while (t->slots[h])
            h = (h + 1) & t->mask;
        t->slots[h] = i + 1;
    }
}

static struct row_ent *table_find(struct base_table *t, const char *name, size_t base_len)
{
    size_t h = (size_t)hash_base(name, base_len) & t->mask;
    while (t->slots[h]) {
        struct row_ent *r = &t->rows[t->slots[h] - 1];
        if (r->base_len == base_len && memcmp(r->name, name, base_len) == 0)
            return r;
        h = (h + 1) & t->mask;
    }
    return NULL;
}

static void table_free(struct base_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->rows[i].name);
    free(t->rows);
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

static size_t base_len_of(const char *name)
{
    const char *c = strchr(name, ':');
    return c ? (size_t)(c - name) : strlen(name);
}

/* Read every indexed message of folder into t. */
static int load_rows(struct store_account *acc, int64_t folder, struct base_table *t)
{
    sqlite3_stmt *st = store_stmt(acc, SQ_MSG_ALL,
                                  "SELECT uid, name, flags, keywords, size, idate, modseq "
                                  "FROM messages WHERE folder = ? ORDER BY uid");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, folder);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (t->n == cap) {
            cap = cap ? cap * 2 : 256;
            t->rows = xrealloc(t->rows, cap * sizeof(*t->rows));
        }
        struct row_ent *r = &t->rows[t->n++];
        memset(r, 0, sizeof(*r));
        r->uid = (uint32_t)sqlite3_column_int64(st, 0);
        r->name = xstrdup((const char *)sqlite3_column_text(st, 1));
        r->base_len = base_len_of(r->name);
        r->flags = (uint32_t)sqlite3_column_int64(st, 2);
        r->keywords = (uint32_t)sqlite3_column_int64(st, 3);
        r->size = (uint64_t)sqlite3_column_int64(st, 4);
        r->idate = sqlite3_column_int64(st, 5);
        r->modseq = (uint64_t)sqlite3_column_int64(st, 6);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_fail_db(acc, "reading messages");
    table_build(t);
    return 0;
}

/* ------------------------------------------------------------ scanning */

struct fresh_list {
    struct fresh *v;
    size_t n, cap;
};

static void fresh_add(struct fresh_list *l, const char *name, bool in_new)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    struct fresh *fr = &l->v[l->n++];
    fr->name = xstrdup(name);
    fr->in_new = in_new;
    struct store_name p;
    store_name_parse(name, &p);
    fr->t = p.time;
    fr->usec = p.usec;
}

static int fresh_cmp(const void *a, const void *b)
{
    const struct fresh *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    if (x->usec != y->usec)
        return x->usec < y->usec ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int update_name(struct store_account *acc, int64_t folder, struct row_ent *r,
                       const char *name, uint64_t modseq, bool *changed)
{
    struct store_name p;
    store_name_parse(name, &p);
    bool flag_change = p.flags != r->flags || p.keywords != r->keywords;
    store_snap_forget(acc, folder);
    sqlite3_stmt *st = store_stmt(acc, SQ_MSG_UPDATE_FLAGS,
                                  "UPDATE messages SET name = ?, flags = ?, keywords = ?, "
                                  "modseq = CASE WHEN ? THEN ? ELSE modseq END "
                                  "WHERE folder = ? AND uid = ?");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, p.flags);
    sqlite3_bind_int64(st, 3, p.keywords);
    sqlite3_bind_int(st, 4, flag_change);
    sqlite3_bind_int64(st, 5, (int64_t)modseq);
    sqlite3_bind_int64(st, 6, folder);
    sqlite3_bind_int64(st, 7, r->uid);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_fail_db(acc, "message update");
    free(r->name);
    r->name = xstrdup(name);
    r->flags = p.flags;
    r->keywords = p.keywords;
    acc->tx_changed = true;
    if (flag_change) {
        r->modseq = modseq;
        *changed = true;
    }
    return 0;
}

/* Read cur/, matching names with the rows: renamed ones are updated,
 * unknown ones go to fresh. */
static int scan_cur(struct store_account *acc, int64_t folder, int cur_fd, struct base_table *t,
                    struct fresh_list *fresh, uint64_t modseq, bool *changed, bool second)
{
    int fd = dup(cur_fd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return store_fail(acc, STORE_ERR_TEMP, "cannot read cur/: %s", strerror(errno));
    }
    rewinddir(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        size_t bl = base_len_of(de->d_name);
        struct row_ent *r = table_find(t, de->d_name, bl);
        if (r) {
            if (r->seen)
                continue;
            r->seen = true;
            if (strcmp(r->name, de->d_name) != 0 &&
                update_name(acc, folder, r, de->d_name, modseq, changed) < 0) {
                closedir(d);
                return -1;
            }
        } else if (!second) {
            fresh_add(fresh, de->d_name, false);
        }
    }
    closedir(d);
    return 0;
}

static int scan_new(struct store_account *acc, int new_fd, struct fresh_list *fresh)
{
    int fd = dup(new_fd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return store_fail(acc, STORE_ERR_TEMP, "cannot read new/: %s", strerror(errno));
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            fresh_add(fresh, de->d_name, true);
    closedir(d);
    return 0;
}

/* Octets of the file with CRLF line ends, and on disk. */
static int measure(int dir_fd, const char *name, uint64_t *psize, uint64_t *vsize)
{
    int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char b[65536];
    uint64_t total = 0, lf = 0;
    ssize_t n;
    while ((n = read(fd, b, sizeof(b))) > 0) {
        total += (uint64_t)n;
        for (ssize_t i = 0; i < n; i++)
            lf += b[i] == '\n';
    }
    close(fd);
    if (n < 0)
        return -1;
    *psize = total;
    *vsize = total + lf;
    return 0;
}

/* Prepare the index row of one new file (moving it from new/ to cur/
 * first): 1 with r filled (r->name is fr->name, now the name in cur/), 0
 * if the file is left alone, -1 on error. */
static int add_fresh(struct store_account *acc, struct store_folder_row *f, int new_fd, int cur_fd,
                     struct fresh *fr, bool *moved, struct store_index_row *r)
{
    size_t len = strlen(fr->name);
    if (len > STORE_FILENAME_MAX)
        return 0; /* not a name we can handle: left alone */
    if (fr->in_new) {
        char name[STORE_FILENAME_MAX + 1];
        memcpy(name, fr->name, len + 1);
        if (!strchr(name, ':')) {
            if (len + 3 >= sizeof(name))
                return 0;
            memcpy(name + len, ":2,", 4);
            len += 3;
        }
        if (renameat(new_fd, fr->name, cur_fd, name) < 0)
            return errno == ENOENT ? 0
                                   : store_fail(acc, STORE_ERR_TEMP, "cannot move %s to cur/: %s",
                                                fr->name, strerror(errno));
        *moved = true;
        free(fr->name);
        fr->name = xstrdup(name);
    }
    struct store_name p;
    store_name_parse(fr->name, &p);
    uint64_t vsize;
    if (p.vsize >= 0) {
        vsize = (uint64_t)p.vsize;
    } else {
        uint64_t ps;
        if (measure(cur_fd, fr->name, &ps, &vsize) < 0)
            return 0; /* gone meanwhile */
    }
    int64_t idate = p.time;
    if (idate < 0) {
        struct stat sb;
        if (fstatat(cur_fd, fr->name, &sb, 0) < 0)
            return 0;
        idate = sb.st_mtim.tv_sec;
    }
    r->uid = f->uidnext++;
    r->flags = p.flags;
    r->keywords = p.keywords;
    r->size = vsize;
    r->idate = idate;
    r->name = fr->name;
    r->name_len = len;
    return 1;
}

/* Expunge the rows not seen in cur/ (a second look first: a file renamed
 * during the first readdir may have been missed). */
static int expunge_missing(struct store_account *acc, int64_t folder, int cur_fd,
                           struct base_table *t, uint64_t modseq, bool *changed)
{
    size_t missing = 0;
    for (size_t i = 0; i < t->n; i++)
        missing += !t->rows[i].seen;
    if (missing == 0)
        return 0;
    struct fresh_list none = {0};
    if (scan_cur(acc, folder, cur_fd, t, &none, modseq, changed, true) < 0)
        return -1;
    for (size_t i = 0; i < t->n; i++) {
        if (t->rows[i].seen)
            continue;
        if (store_index_expunge(acc, folder, t->rows[i].uid, modseq) < 0)
            return -1;
        *changed = true;
    }
    return 0;
}

/* After a full scan of cur/: keep the folder's rows (those seen, and
 * the new ones) as its snapshot, so that a view opened next need not
 * read them back. dv: PRAGMA data_version in the scan's transaction. */
static void keep_snapshot(struct store_account *acc, const struct store_folder_row *f,
                          const struct base_table *t, const struct store_index_row *rows,
                          size_t n_rows, uint64_t modseq, int64_t dv)
{
    size_t n = n_rows;
    for (size_t i = 0; i < t->n; i++)
        n += t->rows[i].seen;
    struct store_msg *msgs = xcalloc(n ? n : 1, sizeof(*msgs));
    size_t k = 0;
    for (size_t i = 0; i < t->n; i++) {
        const struct row_ent *r = &t->rows[i];
        if (!r->seen)
            continue;
        struct store_msg *m = &msgs[k++];
        m->uid = r->uid;
        m->flags = r->flags;
        m->keywords = r->keywords;
        m->size = r->size;
        m->internal_date = (time_t)r->idate;
        m->modseq = r->modseq;
        m->filename = r->name;
    }
    for (size_t i = 0; i < n_rows; i++) {
        struct store_msg *m = &msgs[k++];
        m->uid = rows[i].uid;
        m->flags = rows[i].flags;
        m->keywords = rows[i].keywords;
        m->size = rows[i].size;
        m->internal_date = (time_t)rows[i].idate;
        m->modseq = modseq;
        m->filename = rows[i].name;
    }
    struct store_snap *s = store_snap_build(f->id, msgs, n);
    free(msgs);
    s->uidvalidity = f->uidvalidity;
    s->uidnext = f->uidnext;
    s->modseq = f->modseq;
    s->data_version = dv;
    store_snap_put(acc, s);
    store_snap_unref(&s);
}

/* Hand the rest of a big first scan to a background commit: the rows
 * become the folder's snapshot now, and the thread inserts them and saves
 * f. True if it started (rows and the names of fresh are the job's). */
static bool commit_in_background(struct store_account *acc, struct store_folder_row *f,
                                 const struct base_table *t, struct store_index_row *rows,
                                 size_t n_rows, struct fresh_list *fresh, int64_t saved,
                                 uint64_t modseq, int64_t dv, struct store_sync_bg *bg)
{
    uint32_t recent_from = f->recent_uid;
    if (bg->claim_recent)
        f->recent_uid = f->uidnext;
    keep_snapshot(acc, f, t, rows, n_rows, modseq, dv);
    char **names = xmalloc(fresh->n * sizeof(*names));
    for (size_t i = 0; i < fresh->n; i++)
        names[i] = fresh->v[i].name;
    if (!store_snap_get(acc, f->id) ||
        store_bg_commit(acc, f, rows, n_rows, names, fresh->n, saved, modseq) < 0) {
        free(names);
        f->recent_uid = recent_from;
        store_snap_forget(acc, f->id);
        return false;
    }
    for (size_t i = 0; i < fresh->n; i++)
        fresh->v[i].name = NULL;
    bg->started = true;
    bg->recent_from = recent_from;
    return true;
}

int store_folder_sync(struct store_account *acc, struct store_folder_row *f)
{
    return store_folder_sync_bg(acc, f, NULL);
}

int store_folder_sync_bg(struct store_account *acc, struct store_folder_row *f,
                         struct store_sync_bg *bg)
{
    if (bg)
        bg->started = false;
    char dir[STORE_PATH_MAX];
    if (store_folder_path(acc, f->name, dir, sizeof(dir)) < 0)
        return store_fail(acc, STORE_ERR_INVALID, "folder path too long");
    int64_t nm0, cm0;
    bool dir_ok = store_dir_mtimes(dir, &nm0, &cm0) == 0;
    if (dir_ok && nm0 == f->new_mtime && cm0 == f->cur_mtime)
        return 0;
    if (store_tx_begin(acc, true) < 0)
        return -1;
    int marker = store_bg_recover(acc);
    int r = marker < 0 ? -1 : store_folder_row_get_id(acc, f->id, f);
    if (r <= 0) {
        store_tx_rollback(acc);
        return r < 0 ? -1 : store_fail(acc, STORE_ERR_NOTFOUND, "no such folder");
    }
    dir_ok = store_dir_mtimes(dir, &nm0, &cm0) == 0;
    if (!dir_ok) {
        /* the folder is gone: so is its index */
        int e = errno;
        if (e == ENOENT && store_folder_row_delete(acc, f->id) == 0 && store_tx_commit(acc) == 0) {
            if (marker > 0)
                store_bg_marker_remove(acc);
            return store_fail(acc, STORE_ERR_NOTFOUND, "no such folder");
        }
        store_tx_rollback(acc);
        return store_fail(acc, STORE_ERR_TEMP, "%s: %s", dir, strerror(e));
    }
    if (nm0 == f->new_mtime && cm0 == f->cur_mtime) {
        if (store_tx_commit(acc) == 0 && marker > 0)
            store_bg_marker_remove(acc);
        return 0;
    }
    bool do_cur = cm0 != f->cur_mtime, do_new = nm0 != f->new_mtime;
    int64_t dv = do_cur ? store_index_foreign_version(acc) : -1;
    char p[STORE_PATH_MAX + 8];
    snprintf(p, sizeof(p), "%s/new", dir);
    int new_fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    snprintf(p, sizeof(p), "%s/cur", dir);
    int cur_fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct base_table t = {0};
    struct fresh_list fresh = {0};
    uint64_t modseq = f->modseq + 1;
    bool changed = false, moved = false, background = false;
    time_t now = time(NULL);
    const int64_t saved = (int64_t)now;
    struct store_index_row *rows = NULL;
    size_t n_rows = 0;
    int rc = -1;
    if (new_fd < 0 || cur_fd < 0) {
        store_fail(acc, STORE_ERR_TEMP, "%s: %s", dir, strerror(errno));
        goto out;
    }
    if (do_cur) {
        if (load_rows(acc, f->id, &t) < 0 ||
            scan_cur(acc, f->id, cur_fd, &t, &fresh, modseq, &changed, false) < 0 ||
            expunge_missing(acc, f->id, cur_fd, &t, modseq, &changed) < 0)
            goto out;
    }
    if (do_new && scan_new(acc, new_fd, &fresh) < 0)
        goto out;
    if (fresh.n > 1)
        qsort(fresh.v, fresh.n, sizeof(*fresh.v), fresh_cmp);
    if (fresh.n >= STORE_SYNC_BULK_MIN)
        store_index_bulk(acc, true);
    rows = fresh.n ? xmalloc(fresh.n * sizeof(*rows)) : NULL;
    for (size_t i = 0; i < fresh.n; i++) {
        int a = add_fresh(acc, f, new_fd, cur_fd, &fresh.v[i], &moved, &rows[n_rows]);
        if (a < 0)
            goto out;
        n_rows += (size_t)a;
    }
    /* a big scan whose rows a view is waiting for (and no marker of
     * another's to settle first) may commit in the background */
    bool may_background = bg && do_cur && dv >= 0 && marker == 0 && n_rows >= STORE_SYNC_BULK_MIN;
    if (n_rows > 0) {
        if (!may_background && store_index_insert_rows(acc, f->id, rows, n_rows, saved, modseq) < 0)
            goto out;
        changed = true;
    }
    if (changed)
        f->modseq = modseq;
    int64_t nm1, cm1;
    if (store_dir_mtimes(dir, &nm1, &cm1) < 0) {
        store_fail(acc, STORE_ERR_TEMP, "%s: %s", dir, strerror(errno));
        goto out;
    }
    now = time(NULL);
    f->new_mtime = nm1 == nm0 && !is_recent(nm1, now) ? nm1 : -1;
    if (do_cur)
        f->cur_mtime = is_recent(cm0, now) ? -1 : cm1 == cm0 ? cm0 : moved ? cm1 : -1;
    else
        f->cur_mtime = cm1 == cm0 ? cm0 : moved ? cm1 : -1;
    if (may_background) {
        background = commit_in_background(acc, f, &t, rows, n_rows, &fresh, saved, modseq, dv, bg);
        if (background) {
            rows = NULL;
            rc = 0;
            goto out;
        }
        if (store_index_insert_rows(acc, f->id, rows, n_rows, saved, modseq) < 0)
            goto out;
    }
    if (store_folder_row_save(acc, f) < 0)
        goto out;
    rc = 0;
out:
    if (background) {
        /* the thread commits, then shrinks the page cache back */
    } else if (rc < 0) {
        store_tx_rollback(acc);
    } else {
        if (!changed)
            acc->tx_changed = false; /* only the mtimes: views need not look */
        rc = store_tx_commit(acc);
        if (rc == 0 && marker > 0)
            store_bg_marker_remove(acc);
        if (rc == 0 && do_cur && dv >= 0 && (changed || !store_snap_get(acc, f->id)))
            keep_snapshot(acc, f, &t, rows, n_rows, modseq, dv);
    }
    if (!background)
        store_index_bulk(acc, false);
    free(rows);
    for (size_t i = 0; i < fresh.n; i++)
        free(fresh.v[i].name);
    free(fresh.v);
    table_free(&t);
    if (new_fd >= 0)
        close(new_fd);
    if (cur_fd >= 0)
        close(cur_fd);
    return rc;
}

int store_folder_open_row(struct store_account *acc, const char *name, struct store_folder_row *f)
{
    return store_folder_open_row_bg(acc, name, f, NULL);
}

int store_folder_open_row_bg(struct store_account *acc, const char *name,
                             struct store_folder_row *f, struct store_sync_bg *bg)
{
    if (bg)
        bg->started = false;
    if (!store_is_inbox(name) && !store_folder_name_valid(name))
        return store_fail(acc, STORE_ERR_INVALID, "invalid folder name");
    char dir[STORE_PATH_MAX];
    if (store_folder_path(acc, name, dir, sizeof(dir)) < 0)
        return store_fail(acc, STORE_ERR_INVALID, "folder name too long");
    char cur[STORE_PATH_MAX + 8];
    snprintf(cur, sizeof(cur), "%s/cur", dir);
    struct stat sb;
    if (stat(cur, &sb) < 0 || !S_ISDIR(sb.st_mode))
        return store_fail(acc, STORE_ERR_NOTFOUND, "no such folder");
    int r = store_folder_row_get(acc, name, f);
    if (r < 0)
        return -1;
    if (r == 0) {
        if (store_tx_begin(acc, true) < 0)
            return -1;
        r = store_folder_row_get(acc, name, f);
        if (r == 0)
            r = store_folder_row_create(acc, name, f) == 0 ? 1 : -1;
        if (r < 0) {
            store_tx_rollback(acc);
            return -1;
        }
        if (store_tx_commit(acc) < 0)
            return -1;
    }
    return store_folder_sync_bg(acc, f, bg);
}
