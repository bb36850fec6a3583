/* store-view: a session's view of a folder (open, sync, accessors). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "lib/xalloc.h"
#include "store-private.h"

#define MSG_COLS "uid, name, flags, keywords, size, idate, modseq"

static void msg_fill(struct store_msg *m, sqlite3_stmt *st)
{
    memset(m, 0, sizeof(*m));
    m->uid = (uint32_t)sqlite3_column_int64(st, 0);
    m->filename = xstrdup((const char *)sqlite3_column_text(st, 1));
    m->flags = (uint32_t)sqlite3_column_int64(st, 2);
    m->keywords = (uint32_t)sqlite3_column_int64(st, 3);
    m->size = (uint64_t)sqlite3_column_int64(st, 4);
    m->internal_date = (time_t)sqlite3_column_int64(st, 5);
    m->modseq = (uint64_t)sqlite3_column_int64(st, 6);
}

static struct store_msg *msg_push(struct store_view *v)
{
    if (v->count == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 64;
        v->msgs = xrealloc(v->msgs, v->cap * sizeof(*v->msgs));
    }
    return &v->msgs[v->count++];
}

static void msg_clear(struct store_view *v, struct store_msg *m)
{
    if (!store_snap_owns(v->names, m->filename))
        free((char *)m->filename);
    m->filename = NULL;
}

void store_view_set_filename(struct store_view *v, struct store_msg *m, const char *name)
{
    msg_clear(v, m);
    m->filename = xstrdup(name);
}

/* Read every message row of folder f into a new snapshot (in a
 * transaction that has read f). */
static struct store_snap *snap_read(struct store_account *acc, const struct store_folder_row *f,
                                    int64_t data_version)
{
    sqlite3_stmt *st = store_stmt(acc, SQ_MSG_FROM_UID,
                                  "SELECT " MSG_COLS " FROM messages WHERE folder = ? AND uid >= ? "
                                  "ORDER BY uid");
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, f->id);
    sqlite3_bind_int64(st, 2, 1);
    struct store_snap *s = xcalloc(1, sizeof(*s));
    s->refs = 1;
    s->folder_id = f->id;
    size_t cap = 0, names_cap = 0;
    size_t *offs = NULL;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (s->count == cap) {
            cap = cap ? cap * 2 : 256;
            s->msgs = xrealloc(s->msgs, cap * sizeof(*s->msgs));
            offs = xrealloc(offs, cap * sizeof(*offs));
        }
        struct store_msg *m = &s->msgs[s->count];
        memset(m, 0, sizeof(*m));
        m->uid = (uint32_t)sqlite3_column_int64(st, 0);
        m->flags = (uint32_t)sqlite3_column_int64(st, 2);
        m->keywords = (uint32_t)sqlite3_column_int64(st, 3);
        m->size = (uint64_t)sqlite3_column_int64(st, 4);
        m->internal_date = (time_t)sqlite3_column_int64(st, 5);
        m->modseq = (uint64_t)sqlite3_column_int64(st, 6);
        const char *name = (const char *)sqlite3_column_text(st, 1);
        size_t l = (size_t)sqlite3_column_bytes(st, 1) + 1;
        if (s->names_size + l > names_cap) {
            names_cap = names_cap ? names_cap * 2 : 16384;
            while (s->names_size + l > names_cap)
                names_cap *= 2;
            s->names = xrealloc(s->names, names_cap);
        }
        memcpy(s->names + s->names_size, name ? name : "", l);
        offs[s->count++] = s->names_size;
        s->names_size += l;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        store_fail_db(acc, "reading messages");
        free(offs);
        store_snap_unref(&s);
        return NULL;
    }
    for (size_t i = 0; i < s->count; i++)
        s->msgs[i].filename = s->names + offs[i];
    free(offs);
    if (!s->msgs)
        s->msgs = xmalloc(sizeof(*s->msgs));
    if (!s->names)
        s->names = xmalloc(1);
    s->uidvalidity = f->uidvalidity;
    s->uidnext = f->uidnext;
    s->modseq = f->modseq;
    s->data_version = data_version;
    return s;
}

/* The view's messages: a copy of its snapshot (v->names); UIDs from
 * recent_from on are \Recent in a read-write view. */
static void copy_snap(struct store_view *v, uint32_t recent_from)
{
    const struct store_snap *s = v->names;
    v->cap = s->count ? s->count : 1;
    v->msgs = xmalloc(v->cap * sizeof(*v->msgs));
    memcpy(v->msgs, s->msgs, s->count * sizeof(*v->msgs));
    v->count = s->count;
    if (!v->readonly)
        for (size_t i = v->count; i > 0 && v->msgs[i - 1].uid >= recent_from; i--)
            v->msgs[i - 1].recent = true;
}

/* The view's messages from the folder's snapshot: the kept one if it is
 * still valid, else one read now (and kept). In a transaction that has
 * read f. */
static int load_all(struct store_view *v, const struct store_folder_row *f)
{
    struct store_account *acc = v->acc;
    int64_t dv = store_index_foreign_version(acc);
    struct store_snap *s = store_snap_get(acc, f->id);
    if (!s || dv < 0 || s->data_version != dv || s->uidvalidity != f->uidvalidity ||
        s->uidnext != f->uidnext || s->modseq != f->modseq) {
        store_snap_forget(acc, f->id);
        s = snap_read(acc, f, dv);
        if (!s)
            return -1;
        if (dv >= 0)
            store_snap_put(acc, s);
        v->names = s;
    } else {
        v->names = store_snap_ref(s);
    }
    copy_snap(v, f->recent_uid);
    return 0;
}

/* Append the messages with uid >= from_uid; rw views claim \Recent from
 * recent_uid on. */
static int load_from(struct store_view *v, uint32_t from_uid, uint32_t recent_uid, size_t *n_new)
{
    sqlite3_stmt *st = store_stmt(v->acc, SQ_MSG_FROM_UID,
                                  "SELECT " MSG_COLS " FROM messages WHERE folder = ? AND uid >= ? "
                                  "ORDER BY uid");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, v->folder_id);
    sqlite3_bind_int64(st, 2, from_uid);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_msg *m = msg_push(v);
        msg_fill(m, st);
        m->recent = !v->readonly && m->uid >= recent_uid;
        (*n_new)++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_fail_db(v->acc, "reading messages");
    return 0;
}

/* Note what the cheap check compares next time. */
static void remember(struct store_view *v, int64_t nm, int64_t cm, const struct store_folder_row *f)
{
    v->seen_new_mtime = nm;
    v->seen_cur_mtime = cm;
    v->seen_data_version = store_data_version(v->acc);
    v->seen_local_changes = v->acc->local_changes;
    v->dirty = f->new_mtime < 0 || f->cur_mtime < 0;
}

struct store_view *store_view_open(struct store_account *acc, const char *name, unsigned flags)
{
    struct store_folder_row f;
    struct store_sync_bg bg = {.claim_recent = !(flags & STORE_VIEW_READONLY)};
    if (store_folder_open_row_bg(acc, name, &f, &bg) < 0) {
        if (acc->err == STORE_ERR_NOTFOUND && !store_is_inbox(name)) {
            struct store_folder_info *l;
            size_t n;
            if (store_folder_list(acc, &l, &n) == 0) {
                for (size_t i = 0; i < n; i++)
                    if (strcmp(l[i].name, name) == 0 && (l[i].attrs & STORE_ATTR_NOSELECT) &&
                        !(l[i].attrs & STORE_ATTR_NONEXISTENT))
                        store_fail(acc, STORE_ERR_NOTALLOWED, "the name is not selectable");
                free(l);
            }
        }
        return NULL;
    }
    struct store_view *v = xcalloc(1, sizeof(*v));
    v->acc = store_account_ref(acc);
    v->folder_id = f.id;
    str_copy(v->name, sizeof(v->name), f.name);
    v->readonly = flags & STORE_VIEW_READONLY;
    v->kw.mtime = -1;
    char dir[STORE_PATH_MAX];
    store_folder_path(acc, f.name, dir, sizeof(dir));
    int64_t nm = -1, cm = -1;
    store_dir_mtimes(dir, &nm, &cm);
    store_keywords_load(dir, &v->kw);
    if (bg.started) {
        /* the index is being written: the snapshot the sync kept is the
         * folder, and f the row that will be saved */
        v->names = store_snap_ref(store_snap_get(acc, f.id));
        copy_snap(v, bg.recent_from);
        v->uidvalidity = f.uidvalidity;
        v->uidnext = f.uidnext;
        v->modseq = f.modseq;
        remember(v, nm, cm, &f);
        return v;
    }
    if (store_tx_begin(acc, !v->readonly) < 0)
        goto fail;
    if (store_folder_row_get_id(acc, f.id, &f) <= 0) {
        store_tx_rollback(acc);
        store_fail(acc, STORE_ERR_NOTFOUND, "no such folder");
        goto fail;
    }
    if (load_all(v, &f) < 0) {
        store_tx_rollback(acc);
        goto fail;
    }
    if (!v->readonly && f.recent_uid < f.uidnext) {
        f.recent_uid = f.uidnext;
        if (store_folder_row_save(acc, &f) < 0) {
            store_tx_rollback(acc);
            goto fail;
        }
    }
    if (store_tx_commit(acc) < 0)
        goto fail;
    v->uidvalidity = f.uidvalidity;
    v->uidnext = f.uidnext;
    v->modseq = f.modseq;
    remember(v, nm, cm, &f);
    return v;
fail:
    store_view_close(&v);
    return NULL;
}

void store_view_close(struct store_view **vp)
{
    struct store_view *v = *vp;
    if (!v)
        return;
    for (size_t i = 0; i < v->count; i++)
        msg_clear(v, &v->msgs[i]);
    free(v->msgs);
    store_snap_unref(&v->names);
    store_keywords_free(&v->kw);
    free(v->res_seqs);
    free(v->res_uids);
    free(v->res_flags);
    free(v->st_changed);
    free(v->st_modified);
    store_account_unref(&v->acc);
    free(v);
    *vp = NULL;
}

const char *store_view_name(const struct store_view *v)
{
    return v->name;
}

uint32_t store_view_uidvalidity(const struct store_view *v)
{
    return v->uidvalidity;
}

uint32_t store_view_uidnext(const struct store_view *v)
{
    return v->uidnext;
}

uint64_t store_view_highestmodseq(const struct store_view *v)
{
    return v->modseq;
}

bool store_view_readonly(const struct store_view *v)
{
    return v->readonly;
}

size_t store_view_count(const struct store_view *v)
{
    return v->count;
}

const struct store_msg *store_view_msg(const struct store_view *v, size_t i)
{
    return i < v->count ? &v->msgs[i] : NULL;
}

long store_view_find_uid(const struct store_view *v, uint32_t uid)
{
    size_t lo = 0, hi = v->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->msgs[mid].uid < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < v->count && v->msgs[lo].uid == uid ? (long)lo : -1;
}

uint32_t store_view_recent_count(const struct store_view *v)
{
    uint32_t n = 0;
    for (size_t i = 0; i < v->count; i++)
        n += v->msgs[i].recent && !v->msgs[i].expunged;
    return n;
}

uint32_t store_view_unseen_count(const struct store_view *v)
{
    uint32_t n = 0;
    for (size_t i = 0; i < v->count; i++)
        n += !(v->msgs[i].flags & STORE_FLAG_SEEN) && !v->msgs[i].expunged;
    return n;
}

long store_view_first_unseen(const struct store_view *v)
{
    for (size_t i = 0; i < v->count; i++)
        if (!(v->msgs[i].flags & STORE_FLAG_SEEN) && !v->msgs[i].expunged)
            return (long)i;
    return -1;
}

size_t store_view_keyword_count(const struct store_view *v)
{
    return v->kw.count;
}

const char *store_view_keyword_name(const struct store_view *v, size_t i)
{
    return i < v->kw.count ? v->kw.names[i] : NULL;
}

int store_view_keyword_index(struct store_view *v, const char *name, bool create)
{
    char dir[STORE_PATH_MAX];
    store_folder_path(v->acc, v->name, dir, sizeof(dir));
    if (create && v->readonly) {
        int i = store_keywords_lookup(v->acc, dir, &v->kw, name, false);
        if (i < 0)
            store_fail(v->acc, STORE_ERR_NOTALLOWED, "read-only");
        return i;
    }
    return store_keywords_lookup(v->acc, dir, &v->kw, name, create);
}

/* ------------------------------------------------------------ sync */

static void res_reset(struct store_view *v)
{
    memset(&v->res, 0, sizeof(v->res));
}

static void add_flag_uid(struct store_view *v, uint32_t uid)
{
    if (v->res.n_flags == v->res_flags_cap) {
        v->res_flags_cap = v->res_flags_cap ? v->res_flags_cap * 2 : 64;
        v->res_flags = xrealloc(v->res_flags, v->res_flags_cap * sizeof(*v->res_flags));
    }
    v->res_flags[v->res.n_flags++] = uid;
}

static int uid_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Drop the messages marked expunged, noting their sequence numbers. */
static void compact(struct store_view *v)
{
    size_t marked = 0;
    for (size_t i = 0; i < v->count; i++)
        marked += v->msgs[i].expunged;
    if (marked == 0)
        return;
    if (marked > v->res_seqs_cap) {
        v->res_seqs_cap = marked;
        v->res_seqs = xrealloc(v->res_seqs, marked * sizeof(*v->res_seqs));
        v->res_uids = xrealloc(v->res_uids, marked * sizeof(*v->res_uids));
    }
    size_t o = 0, r = 0;
    for (size_t i = 0; i < v->count; i++) {
        struct store_msg *m = &v->msgs[i];
        if (m->expunged) {
            v->res_seqs[r] = (uint32_t)(i - r + 1);
            v->res_uids[r] = m->uid;
            r++;
            msg_clear(v, m);
            continue;
        }
        v->msgs[o++] = *m;
    }
    v->count = o;
    v->res.n_expunged = r;
    v->res.expunged_seqs = v->res_seqs;
    v->res.expunged_uids = v->res_uids;
    /* a message expunged is not also reported as changed */
    size_t k = 0;
    for (size_t i = 0; i < v->res.n_flags; i++)
        if (store_view_find_uid(v, v->res_flags[i]) >= 0)
            v->res_flags[k++] = v->res_flags[i];
    v->res.n_flags = k;
}

static void finish_result(struct store_view *v, unsigned flags, size_t n_new,
                          const struct store_sync_result **res_r)
{
    if (!(flags & STORE_SYNC_NO_EXPUNGE))
        compact(v);
    v->res.n_new = n_new;
    v->res.exists = (uint32_t)v->count;
    v->res.recent = store_view_recent_count(v);
    v->res.flag_uids = v->res_flags;
    if (res_r)
        *res_r = &v->res;
}

/* The folder is gone or rebuilt: everything is expunged. */
static void view_gone(struct store_view *v)
{
    for (size_t i = 0; i < v->count; i++)
        v->msgs[i].expunged = true;
    v->gone = true;
    v->res.uidvalidity_changed = true;
}

static int mark_expunged(struct store_view *v)
{
    sqlite3_stmt *st = store_stmt(v->acc, SQ_EXPUNGES_SINCE,
                                  "SELECT uid FROM expunges WHERE folder = ? AND modseq > ?");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, v->folder_id);
    sqlite3_bind_int64(st, 2, (int64_t)v->modseq);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        long i = store_view_find_uid(v, (uint32_t)sqlite3_column_int64(st, 0));
        if (i >= 0)
            v->msgs[i].expunged = true;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : store_fail_db(v->acc, "reading expunges");
}

static int read_flag_changes(struct store_view *v, uint32_t old_uidnext)
{
    sqlite3_stmt *st = store_stmt(v->acc, SQ_MSG_CHANGED,
                                  "SELECT " MSG_COLS " FROM messages WHERE folder = ? AND "
                                  "modseq > ? AND uid < ?");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, v->folder_id);
    sqlite3_bind_int64(st, 2, (int64_t)v->modseq);
    sqlite3_bind_int64(st, 3, old_uidnext);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        long i = store_view_find_uid(v, (uint32_t)sqlite3_column_int64(st, 0));
        if (i < 0)
            continue;
        struct store_msg *m = &v->msgs[i];
        uint64_t ms = (uint64_t)sqlite3_column_int64(st, 6);
        const char *name = (const char *)sqlite3_column_text(st, 1);
        if (strcmp(name, m->filename) != 0)
            store_view_set_filename(v, m, name);
        if (ms == m->modseq)
            continue; /* this view's own change */
        uint32_t fl = (uint32_t)sqlite3_column_int64(st, 2);
        uint32_t kw = (uint32_t)sqlite3_column_int64(st, 3);
        m->modseq = ms;
        if (fl != m->flags || kw != m->keywords) {
            m->flags = fl;
            m->keywords = kw;
            add_flag_uid(v, m->uid);
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_fail_db(v->acc, "reading changes");
    if (v->res.n_flags > 1)
        qsort(v->res_flags, v->res.n_flags, sizeof(*v->res_flags), uid_cmp);
    return 0;
}

int store_view_sync(struct store_view *v, unsigned flags, const struct store_sync_result **res_r)
{
    struct store_account *acc = v->acc;
    res_reset(v);
    if (v->gone) {
        v->res.uidvalidity_changed = true;
        finish_result(v, flags, 0, res_r);
        return 0;
    }
    char dir[STORE_PATH_MAX];
    store_folder_path(acc, v->name, dir, sizeof(dir));
    int64_t nm = -1, cm = -1;
    bool dir_ok = store_dir_mtimes(dir, &nm, &cm) == 0;
    if (dir_ok && !v->dirty && nm == v->seen_new_mtime && cm == v->seen_cur_mtime &&
        acc->local_changes == v->seen_local_changes &&
        store_data_version(acc) == v->seen_data_version) {
        finish_result(v, flags, 0, res_r);
        return 0;
    }
    struct store_folder_row f;
    int r = store_folder_row_get_id(acc, v->folder_id, &f);
    if (r < 0)
        return -1;
    if (r > 0 && strcmp(f.name, v->name) != 0) {
        /* renamed (by this or another process): follow it */
        str_copy(v->name, sizeof(v->name), f.name);
        store_folder_path(acc, v->name, dir, sizeof(dir));
        dir_ok = store_dir_mtimes(dir, &nm, &cm) == 0;
    }
    if (r == 0 || !dir_ok || f.uidvalidity != v->uidvalidity) {
        view_gone(v);
        finish_result(v, flags, 0, res_r);
        return 0;
    }
    if (store_folder_sync(acc, &f) < 0) {
        if (acc->err != STORE_ERR_NOTFOUND)
            return -1;
        view_gone(v);
        finish_result(v, flags, 0, res_r);
        return 0;
    }
    size_t old_kw = v->kw.count;
    store_keywords_load(dir, &v->kw);
    v->res.keywords_changed = v->kw.count != old_kw;
    bool claim = !v->readonly && f.uidnext > v->uidnext;
    if (store_tx_begin(acc, claim) < 0)
        return -1;
    r = store_folder_row_get_id(acc, v->folder_id, &f);
    if (r <= 0) {
        store_tx_rollback(acc);
        if (r < 0)
            return -1;
        view_gone(v);
        finish_result(v, flags, 0, res_r);
        return 0;
    }
    uint32_t old_uidnext = v->uidnext;
    size_t n_new = 0;
    size_t old_count = v->count;
    if (mark_expunged(v) < 0 || read_flag_changes(v, old_uidnext) < 0 ||
        load_from(v, old_uidnext, claim ? f.recent_uid : UINT32_MAX, &n_new) < 0)
        goto fail;
    if (claim && f.recent_uid < f.uidnext) {
        f.recent_uid = f.uidnext;
        if (store_folder_row_save(acc, &f) < 0)
            goto fail;
    }
    if (store_tx_commit(acc) < 0)
        goto fail_committed;
    v->uidnext = f.uidnext;
    v->modseq = f.modseq;
    remember(v, nm, cm, &f);
    finish_result(v, flags, n_new, res_r);
    return 0;
fail:
    store_tx_rollback(acc);
fail_committed:
    for (size_t i = old_count; i < v->count; i++)
        msg_clear(v, &v->msgs[i]);
    v->count = old_count;
    return -1;
}
