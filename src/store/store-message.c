/* store-message: reading messages, flags, expunge, copy, move and the
 * per-message cache. */
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

/* Open folder dir's cur/. */
static int open_cur(struct store_account *acc, const char *name)
{
    char dir[STORE_PATH_MAX], cur[STORE_PATH_MAX + 8];
    store_folder_path(acc, name, dir, sizeof(dir));
    snprintf(cur, sizeof(cur), "%s/cur", dir);
    int fd = open(cur, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        store_fail(acc, errno == ENOENT ? STORE_ERR_NOTFOUND : STORE_ERR_TEMP, "%s: %s", cur,
                   strerror(errno));
    return fd;
}

/* The row of one message: 1 found, 0 not, -1 error. name (size
 * STORE_FILENAME_MAX + 1) gets its file name. */
static int msg_row(struct store_account *acc, int64_t folder, uint32_t uid, char *name,
                   uint32_t *flags, uint32_t *keywords, uint64_t *modseq, uint64_t *size,
                   int64_t *idate)
{
    sqlite3_stmt *st = store_stmt(acc, SQ_MSG_BY_UID,
                                  "SELECT name, flags, keywords, modseq, size, idate FROM messages "
                                  "WHERE folder = ? AND uid = ?");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, folder);
    sqlite3_bind_int64(st, 2, uid);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        str_copy(name, STORE_FILENAME_MAX + 1, (const char *)sqlite3_column_text(st, 0));
        if (flags)
            *flags = (uint32_t)sqlite3_column_int64(st, 1);
        if (keywords)
            *keywords = (uint32_t)sqlite3_column_int64(st, 2);
        if (modseq)
            *modseq = (uint64_t)sqlite3_column_int64(st, 3);
        if (size)
            *size = (uint64_t)sqlite3_column_int64(st, 4);
        if (idate)
            *idate = sqlite3_column_int64(st, 5);
        sqlite3_reset(st);
        return 1;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : store_fail_db(acc, "message lookup");
}

/* ------------------------------------------------------------ reading */

int store_view_msg_open(struct store_view *v, uint32_t uid, uint64_t *size_r)
{
    long i = store_view_find_uid(v, uid);
    if (i < 0 || v->msgs[i].expunged)
        return store_fail(v->acc, STORE_ERR_EXPUNGED, "no such message");
    int cur = open_cur(v->acc, v->name);
    if (cur < 0)
        return -1;
    int fd = openat(cur, v->msgs[i].filename, O_RDONLY | O_CLOEXEC);
    for (int attempt = 0; fd < 0 && errno == ENOENT && attempt < 2; attempt++) {
        /* renamed by another view or process: ask the index (after a
         * scan, the second time) */
        if (attempt == 1) {
            struct store_folder_row f;
            if (store_folder_row_get_id(v->acc, v->folder_id, &f) > 0) {
                f.cur_mtime = -1;
                store_folder_sync(v->acc, &f);
            }
        }
        char name[STORE_FILENAME_MAX + 1];
        if (msg_row(v->acc, v->folder_id, uid, name, NULL, NULL, NULL, NULL, NULL) <= 0)
            break;
        store_view_set_filename(v, &v->msgs[i], name);
        fd = openat(cur, name, O_RDONLY | O_CLOEXEC);
    }
    int e = errno;
    close(cur);
    if (fd < 0)
        return store_fail(v->acc, e == ENOENT ? STORE_ERR_EXPUNGED : STORE_ERR_TEMP,
                          "cannot open the message: %s", strerror(e));
    if (size_r) {
        struct stat sb;
        *size_r = fstat(fd, &sb) == 0 ? (uint64_t)sb.st_size : 0;
    }
    return fd;
}

int store_view_msg_read(struct store_view *v, uint32_t uid, bool crlf, struct buf *out)
{
    int fd = store_view_msg_open(v, uid, NULL);
    if (fd < 0)
        return -1;
    size_t start = out->len;
    char in[65536];
    char prev = '\0';
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = read(fd, in, sizeof(in))) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = store_fail(v->acc, STORE_ERR_TEMP, "reading the message: %s", strerror(errno));
            break;
        }
        if (!crlf) {
            if (buf_append(out, in, (size_t)n) < 0)
                rc = store_fail(v->acc, STORE_ERR_LIMIT, "the message is too large");
            continue;
        }
        /* Count the LFs that need a CR, make room once, then copy the
         * runs between them. */
        size_t add = 0;
        for (const char *p = in; (p = memchr(p, '\n', (size_t)(in + n - p))) != NULL; p++)
            add += (p > in ? p[-1] : prev) != '\r';
        char *dst = buf_reserve(out, (size_t)n + add);
        if (!dst) {
            rc = store_fail(v->acc, STORE_ERR_LIMIT, "the message is too large");
            break;
        }
        size_t from = 0, w = 0;
        for (const char *p = in; (p = memchr(p, '\n', (size_t)(in + n - p))) != NULL; p++) {
            size_t k = (size_t)(p - in);
            if ((k > 0 ? in[k - 1] : prev) == '\r')
                continue;
            memcpy(dst + w, in + from, k - from);
            w += k - from;
            dst[w++] = '\r';
            dst[w++] = '\n';
            from = k + 1;
        }
        memcpy(dst + w, in + from, (size_t)n - from);
        w += (size_t)n - from;
        buf_commit(out, w);
        prev = in[n - 1];
    }
    close(fd);
    if (rc < 0)
        buf_truncate(out, start);
    return rc;
}

/* ------------------------------------------------------------ flags */

static void push_uid(uint32_t **v, size_t *n, size_t *cap, uint32_t uid)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *v = xrealloc(*v, *cap * sizeof(**v));
    }
    (*v)[(*n)++] = uid;
}

static uint32_t apply_op(enum store_flag_op op, uint32_t old, uint32_t bits)
{
    switch (op) {
    case STORE_FLAGS_SET:
        return bits;
    case STORE_FLAGS_ADD:
        return old | bits;
    case STORE_FLAGS_REMOVE:
        return old & ~bits;
    }
    return old;
}

int store_view_store(struct store_view *v, const uint32_t *uids, size_t n, enum store_flag_op op,
                     uint32_t flags, uint32_t keywords, uint64_t unchangedsince,
                     const struct store_store_result **res_r)
{
    struct store_account *acc = v->acc;
    memset(&v->st, 0, sizeof(v->st));
    if (res_r)
        *res_r = &v->st;
    if (v->readonly)
        return store_fail(acc, STORE_ERR_NOTALLOWED, "the folder is open read-only");
    flags &= STORE_FLAGS_ALL;
    int cur = open_cur(acc, v->name);
    if (cur < 0)
        return -1;
    char dir[STORE_PATH_MAX];
    store_folder_path(acc, v->name, dir, sizeof(dir));
    int64_t nm, before = -1;
    store_dir_mtimes(dir, &nm, &before);
    if (store_tx_begin(acc, true) < 0) {
        close(cur);
        return -1;
    }
    struct store_folder_row f;
    if (store_folder_row_get_id(acc, v->folder_id, &f) <= 0) {
        store_tx_rollback(acc);
        close(cur);
        return store_fail(acc, STORE_ERR_NOTFOUND, "the folder is gone");
    }
    uint64_t ms = f.modseq + 1;
    size_t n_ch = 0, cap_ch = 0, n_mod = 0, cap_mod = 0;
    free(v->st_changed);
    free(v->st_modified);
    v->st_changed = v->st_modified = NULL;
    bool lost = false;
    for (size_t k = 0; k < n; k++) {
        long i = store_view_find_uid(v, uids[k]);
        if (i < 0 || v->msgs[i].expunged)
            continue;
        char name[STORE_FILENAME_MAX + 1], to[STORE_FILENAME_MAX + 1];
        uint32_t of, ok;
        uint64_t oms;
        int r = msg_row(acc, v->folder_id, uids[k], name, &of, &ok, &oms, NULL, NULL);
        if (r < 0)
            goto fail;
        if (r == 0)
            continue; /* expunged meanwhile: the next sync says so */
        if (unchangedsince && oms > unchangedsince) {
            push_uid(&v->st_modified, &n_mod, &cap_mod, uids[k]);
            continue;
        }
        uint32_t nf = apply_op(op, of, flags), nk = apply_op(op, ok, keywords);
        if (nf == of && nk == ok)
            continue;
        if (store_name_with_flags(name, nf, nk, to, sizeof(to)) < 0)
            continue;
        if (renameat(cur, name, cur, to) < 0) {
            if (errno != ENOENT) {
                store_fail(acc, STORE_ERR_TEMP, "rename %s: %s", name, strerror(errno));
                goto fail;
            }
            lost = true; /* renamed or removed by another tool: rescan */
            continue;
        }
        store_snap_forget(acc, v->folder_id);
        sqlite3_stmt *st = store_stmt(acc, SQ_MSG_UPDATE_FLAGS,
                                      "UPDATE messages SET name = ?, flags = ?, keywords = ?, "
                                      "modseq = CASE WHEN ? THEN ? ELSE modseq END "
                                      "WHERE folder = ? AND uid = ?");
        if (!st)
            goto fail;
        sqlite3_bind_text(st, 1, to, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, nf);
        sqlite3_bind_int64(st, 3, nk);
        sqlite3_bind_int(st, 4, 1);
        sqlite3_bind_int64(st, 5, (int64_t)ms);
        sqlite3_bind_int64(st, 6, v->folder_id);
        sqlite3_bind_int64(st, 7, uids[k]);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            renameat(cur, to, cur, name);
            store_fail_db(acc, "flag update");
            goto fail;
        }
        struct store_msg *m = &v->msgs[i];
        m->flags = nf;
        m->keywords = nk;
        m->modseq = ms;
        store_view_set_filename(v, m, to);
        push_uid(&v->st_changed, &n_ch, &cap_ch, uids[k]);
    }
    if (n_ch > 0 || lost) {
        if (n_ch > 0)
            f.modseq = ms;
        store_folder_touched(acc, &f, before);
        if (lost)
            f.cur_mtime = -1;
        if (store_folder_row_save(acc, &f) < 0)
            goto fail;
    }
    close(cur);
    if (store_tx_commit(acc) < 0)
        return -1;
    v->st.changed_uids = v->st_changed;
    v->st.n_changed = n_ch;
    v->st.modified_uids = v->st_modified;
    v->st.n_modified = n_mod;
    return 0;
fail:
    /* files renamed so far keep their new names: the next scan sees them */
    store_tx_rollback(acc);
    close(cur);
    return -1;
}

/* ------------------------------------------------------------ expunge */

int store_expunge_rows(struct store_account *acc, struct store_folder_row *f, const uint32_t *uids,
                       size_t n, size_t *count_r)
{
    size_t count = 0;
    if (n == 0) {
        if (count_r)
            *count_r = 0;
        return 0;
    }
    int cur = open_cur(acc, f->name);
    if (cur < 0)
        return -1;
    char dir[STORE_PATH_MAX];
    store_folder_path(acc, f->name, dir, sizeof(dir));
    int64_t nm, before = -1;
    store_dir_mtimes(dir, &nm, &before);
    uint64_t ms = f->modseq + 1;
    int64_t bytes = 0;
    for (size_t k = 0; k < n; k++) {
        char name[STORE_FILENAME_MAX + 1];
        int r = msg_row(acc, f->id, uids[k], name, NULL, NULL, NULL, NULL, NULL);
        if (r < 0) {
            close(cur);
            return -1;
        }
        if (r == 0)
            continue;
        struct store_name p;
        store_name_parse(name, &p);
        int64_t psize = p.psize;
        if (psize < 0) {
            struct stat sb;
            psize = fstatat(cur, name, &sb, 0) == 0 ? (int64_t)sb.st_size : 0;
        }
        if (unlinkat(cur, name, 0) < 0 && errno != ENOENT) {
            store_fail(acc, STORE_ERR_TEMP, "unlink %s: %s", name, strerror(errno));
            close(cur);
            return -1;
        }
        if (store_index_expunge(acc, f->id, uids[k], ms) < 0) {
            close(cur);
            return -1;
        }
        bytes += psize;
        count++;
    }
    close(cur);
    if (count > 0) {
        f->modseq = ms;
        store_folder_touched(acc, f, before);
        if (store_folder_row_save(acc, f) < 0)
            return -1;
        if (store_quota_enabled(&acc->quota))
            store_quota_update(acc->root, &acc->quota, -bytes, -(int64_t)count);
    }
    if (count_r)
        *count_r = count;
    return 0;
}

int store_view_expunge(struct store_view *v, const uint32_t *uids, size_t n, size_t *count_r)
{
    struct store_account *acc = v->acc;
    if (count_r)
        *count_r = 0;
    if (v->readonly)
        return store_fail(acc, STORE_ERR_NOTALLOWED, "the folder is open read-only");
    if (store_tx_begin(acc, true) < 0)
        return -1;
    struct store_folder_row f;
    if (store_folder_row_get_id(acc, v->folder_id, &f) <= 0) {
        store_tx_rollback(acc);
        return store_fail(acc, STORE_ERR_NOTFOUND, "the folder is gone");
    }
    /* the \Deleted messages this view knows of, among uids if given */
    uint32_t *list = NULL;
    size_t ln = 0, lcap = 0;
    size_t total = uids ? n : v->count;
    for (size_t k = 0; k < total; k++) {
        uint32_t uid = uids ? uids[k] : v->msgs[k].uid;
        if (store_view_find_uid(v, uid) < 0)
            continue;
        char name[STORE_FILENAME_MAX + 1];
        uint32_t fl;
        int r = msg_row(acc, v->folder_id, uid, name, &fl, NULL, NULL, NULL, NULL);
        if (r < 0) {
            free(list);
            store_tx_rollback(acc);
            return -1;
        }
        if (r > 0 && (fl & STORE_FLAG_DELETED))
            push_uid(&list, &ln, &lcap, uid);
    }
    int rc = store_expunge_rows(acc, &f, list, ln, count_r);
    free(list);
    if (rc < 0) {
        store_tx_rollback(acc);
        return -1;
    }
    return store_tx_commit(acc);
}

/* ------------------------------------------------------------ copy */

/* Copy a file when a hard link cannot be made. */
static int copy_file(int from_dir, const char *from, int to_dir, const char *to)
{
    int in = openat(from_dir, from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = openat(to_dir, to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        close(in);
        return -1;
    }
    char b[65536];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, b, sizeof(b))) > 0)
        if (write(out, b, (size_t)n) != n) {
            rc = -1;
            break;
        }
    if (n < 0 || fsync(out) < 0)
        rc = -1;
    struct stat sb;
    if (rc == 0 && fstat(in, &sb) == 0) {
        struct timespec ts[2] = {sb.st_atim, sb.st_mtim};
        futimens(out, ts);
    }
    close(in);
    close(out);
    if (rc < 0)
        unlinkat(to_dir, to, 0);
    return rc;
}

static int do_copy(struct store_view *v, const uint32_t *uids, size_t n, const char *dest,
                   uint32_t *dest_uidvalidity_r, uint32_t **src_uids_r, uint32_t **dest_uids_r,
                   size_t *n_r)
{
    struct store_account *acc = v->acc;
    *src_uids_r = *dest_uids_r = NULL;
    *n_r = 0;
    struct store_folder_row df;
    if (store_folder_open_row(acc, dest, &df) < 0)
        return -1;
    /* what is copied, and its size for the quota */
    uint32_t *src = NULL;
    size_t sn = 0, scap = 0;
    int64_t bytes = 0;
    for (size_t k = 0; k < n; k++) {
        long i = store_view_find_uid(v, uids[k]);
        if (i < 0 || v->msgs[i].expunged)
            continue;
        push_uid(&src, &sn, &scap, uids[k]);
        struct store_name p;
        store_name_parse(v->msgs[i].filename, &p);
        bytes += p.psize >= 0 ? p.psize : (int64_t)v->msgs[i].size;
    }
    if (store_quota_enabled(&acc->quota)) {
        int q = store_quota_check(acc->root, &acc->quota, (uint64_t)bytes, sn);
        if (q == 0) {
            free(src);
            return store_fail(acc, STORE_ERR_QUOTA, "over quota");
        }
    }
    int scur = open_cur(acc, v->name);
    int dcur = scur >= 0 ? open_cur(acc, df.name) : -1;
    if (dcur < 0) {
        if (scur >= 0)
            close(scur);
        free(src);
        return -1;
    }
    char ddir[STORE_PATH_MAX];
    store_folder_path(acc, df.name, ddir, sizeof(ddir));
    struct store_keywords dkw = {.mtime = -1};
    store_keywords_load(ddir, &dkw);
    int64_t nm, before = -1;
    store_dir_mtimes(ddir, &nm, &before);
    uint32_t *dst = xcalloc(sn ? sn : 1, sizeof(*dst));
    char(*made)[STORE_FILENAME_MAX + 1] = xcalloc(sn ? sn : 1, sizeof(*made));
    size_t done = 0;
    time_t now = time(NULL);
    if (store_tx_begin(acc, true) < 0)
        goto fail_notx;
    if (store_folder_row_get_id(acc, df.id, &df) <= 0) {
        store_fail(acc, STORE_ERR_NOTFOUND, "the folder is gone");
        goto fail;
    }
    uint64_t ms = df.modseq + 1;
    for (size_t k = 0; k < sn; k++) {
        char name[STORE_FILENAME_MAX + 1];
        uint32_t fl, kw;
        uint64_t size;
        int64_t idate;
        int r = msg_row(acc, v->folder_id, src[k], name, &fl, &kw, NULL, &size, &idate);
        if (r < 0)
            goto fail;
        if (r == 0) {
            store_fail(acc, STORE_ERR_EXPUNGED, "a message was expunged meanwhile");
            goto fail;
        }
        /* keywords by name into the destination's own letters */
        uint32_t dk = 0;
        for (size_t b = 0; b < STORE_KEYWORDS_MAX; b++) {
            if (!(kw & (1u << b)) || b >= v->kw.count || !v->kw.names[b])
                continue;
            int di = store_keywords_lookup(acc, ddir, &dkw, v->kw.names[b], true);
            if (di >= 0)
                dk |= 1u << di;
        }
        struct store_name p;
        store_name_parse(name, &p);
        char base[STORE_FILENAME_MAX + 1];
        if (store_name_new(base, sizeof(base), (time_t)idate,
                           p.psize >= 0 ? (uint64_t)p.psize : size, size) < 0 ||
            store_name_with_flags(base, fl, dk, made[k], sizeof(made[k])) < 0) {
            store_fail(acc, STORE_ERR_TEMP, "name too long");
            goto fail;
        }
        if (linkat(scur, name, dcur, made[k], 0) < 0 && copy_file(scur, name, dcur, made[k]) < 0) {
            store_fail(acc, errno == ENOENT ? STORE_ERR_EXPUNGED : STORE_ERR_TEMP, "copying %s: %s",
                       name, strerror(errno));
            goto fail;
        }
        done = k + 1;
        dst[k] = df.uidnext;
        if (store_index_insert(acc, df.id, df.uidnext, made[k], fl, dk, size, idate, (int64_t)now,
                               ms) < 0)
            goto fail;
        df.uidnext++;
    }
    if (sn > 0) {
        if (fsync(dcur) < 0) {
            store_fail(acc, STORE_ERR_TEMP, "fsync: %s", strerror(errno));
            goto fail;
        }
        df.modseq = ms;
        store_folder_touched(acc, &df, before);
        if (store_folder_row_save(acc, &df) < 0)
            goto fail;
    }
    if (store_tx_commit(acc) < 0)
        goto fail_notx;
    if (sn > 0 && store_quota_enabled(&acc->quota))
        store_quota_update(acc->root, &acc->quota, bytes, (int64_t)sn);
    close(scur);
    close(dcur);
    free(made);
    store_keywords_free(&dkw);
    *dest_uidvalidity_r = df.uidvalidity;
    *src_uids_r = src;
    *dest_uids_r = dst;
    *n_r = sn;
    return 0;
fail:
    store_tx_rollback(acc);
fail_notx:
    for (size_t k = 0; k < done; k++)
        unlinkat(dcur, made[k], 0);
    close(scur);
    close(dcur);
    free(made);
    free(src);
    free(dst);
    store_keywords_free(&dkw);
    return -1;
}

int store_view_copy(struct store_view *v, const uint32_t *uids, size_t n, const char *dest,
                    uint32_t *dest_uidvalidity_r, uint32_t **src_uids_r, uint32_t **dest_uids_r,
                    size_t *n_r)
{
    return do_copy(v, uids, n, dest, dest_uidvalidity_r, src_uids_r, dest_uids_r, n_r);
}

int store_view_move(struct store_view *v, const uint32_t *uids, size_t n, const char *dest,
                    uint32_t *dest_uidvalidity_r, uint32_t **src_uids_r, uint32_t **dest_uids_r,
                    size_t *n_r)
{
    if (v->readonly)
        return store_fail(v->acc, STORE_ERR_NOTALLOWED, "the folder is open read-only");
    if (do_copy(v, uids, n, dest, dest_uidvalidity_r, src_uids_r, dest_uids_r, n_r) < 0)
        return -1;
    struct store_account *acc = v->acc;
    if (store_tx_begin(acc, true) < 0)
        return 0; /* copied; the sources stay (a duplicate, nothing lost) */
    struct store_folder_row f;
    if (store_folder_row_get_id(acc, v->folder_id, &f) <= 0 ||
        store_expunge_rows(acc, &f, *src_uids_r, *n_r, NULL) < 0) {
        store_tx_rollback(acc);
        return 0;
    }
    store_tx_commit(acc);
    return 0;
}

/* ------------------------------------------------------------ cache */

int store_view_cache_get(struct store_view *v, uint32_t uid, const char *key, struct buf *out)
{
    sqlite3_stmt *st = store_stmt(
        v->acc, SQ_CACHE_GET, "SELECT value FROM cache WHERE folder = ? AND uid = ? AND key = ?");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, v->folder_id);
    sqlite3_bind_int64(st, 2, uid);
    sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int result = 0;
    if (rc == SQLITE_ROW) {
        const void *p = sqlite3_column_blob(st, 0);
        size_t len = (size_t)sqlite3_column_bytes(st, 0);
        result = 1;
        if (len > 0 && buf_append(out, p, len) < 0)
            result = store_fail(v->acc, STORE_ERR_LIMIT, "cached value too large");
    } else if (rc != SQLITE_DONE) {
        result = store_fail_db(v->acc, "cache");
    }
    sqlite3_reset(st);
    return result;
}

int store_view_cache_batch(struct store_view *v, bool begin)
{
    struct store_account *acc = v->acc;
    if (begin) {
        if (acc->cache_batch || acc->tx_depth > 0)
            return -1;
        if (store_tx_begin(acc, true) < 0)
            return -1;
        acc->cache_batch = true;
        acc->cache_batch_n = 0;
        return 0;
    }
    if (!acc->cache_batch)
        return 0;
    acc->cache_batch = false;
    return store_tx_commit(acc);
}

/* A batch commits every STORE_CACHE_BATCH_MAX puts, so that other
 * processes are not kept waiting for the index for long. */
static void cache_batch_step(struct store_account *acc)
{
    if (!acc->cache_batch || ++acc->cache_batch_n < STORE_CACHE_BATCH_MAX)
        return;
    acc->cache_batch_n = 0;
    if (store_tx_commit(acc) < 0 || store_tx_begin(acc, true) < 0)
        acc->cache_batch = false; /* go on one put at a time */
}

int store_view_cache_put(struct store_view *v, uint32_t uid, const char *key, const void *data,
                         size_t len)
{
    size_t kl = strlen(key);
    if (kl == 0 || kl > STORE_CACHE_KEY_MAX)
        return store_fail(v->acc, STORE_ERR_INVALID, "bad cache key");
    if (len > STORE_CACHE_VALUE_MAX)
        return store_fail(v->acc, STORE_ERR_LIMIT, "cache value too large");
    sqlite3_stmt *st = store_stmt(v->acc, SQ_CACHE_PUT,
                                  "INSERT OR REPLACE INTO cache (folder, uid, key, value) "
                                  "SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM messages "
                                  "WHERE folder = ?1 AND uid = ?2)");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, v->folder_id);
    sqlite3_bind_int64(st, 2, uid);
    sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, len ? data : "", (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_fail_db(v->acc, "cache");
    if (sqlite3_changes(store_db(v->acc)) == 0)
        return store_fail(v->acc, STORE_ERR_EXPUNGED, "no such message");
    cache_batch_step(v->acc);
    return 0;
}
