/* store-append: saving a new message into a folder (APPEND). */
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

struct store_append {
    struct store_account *acc;
    char folder[STORE_FOLDER_NAME_MAX + 1];
    char dir[STORE_PATH_MAX];
    int tmp_dir_fd;
    int fd;
    char tmpname[STORE_FILENAME_MAX + 1];
    uint64_t written; /* octets on disk (LF) */
    uint64_t lines;   /* LFs written */
    uint64_t input;   /* octets given */
    bool pending_cr;
    bool failed;
};

struct store_append *store_append_begin(struct store_account *acc, const char *name)
{
    if (!store_folder_exists(acc, name)) {
        store_fail(acc, STORE_ERR_NOTFOUND, "no such folder");
        return NULL;
    }
    struct store_append *a = xcalloc(1, sizeof(*a));
    a->acc = acc;
    a->fd = a->tmp_dir_fd = -1;
    str_copy(a->folder, sizeof(a->folder), store_is_inbox(name) ? "INBOX" : name);
    store_folder_path(acc, a->folder, a->dir, sizeof(a->dir));
    char tmp[STORE_PATH_MAX + 8];
    snprintf(tmp, sizeof(tmp), "%s/tmp", a->dir);
    a->tmp_dir_fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (a->tmp_dir_fd < 0 && errno == ENOENT && mkdir(tmp, 0700) == 0)
        a->tmp_dir_fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    for (int attempt = 0; a->tmp_dir_fd >= 0 && attempt < 10 && a->fd < 0; attempt++) {
        if (store_name_new(a->tmpname, sizeof(a->tmpname), time(NULL), 0, 0) < 0)
            break;
        a->fd = openat(a->tmp_dir_fd, a->tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (a->fd < 0 && errno != EEXIST)
            break;
    }
    if (a->fd < 0) {
        store_fail(acc, STORE_ERR_TEMP, "%s: cannot create a file: %s", tmp, strerror(errno));
        store_append_abort(&a);
        return NULL;
    }
    return a;
}

static int write_all(struct store_append *a, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(a->fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            a->failed = true;
            return store_fail(a->acc, STORE_ERR_TEMP, "writing the message: %s", strerror(errno));
        }
        p += w;
        n -= (size_t)w;
        a->written += (uint64_t)w;
    }
    return 0;
}

int store_append_write(struct store_append *a, const void *data, size_t len)
{
    if (a->failed)
        return -1;
    if (a->input + len > STORE_MESSAGE_MAX) {
        a->failed = true;
        return store_fail(a->acc, STORE_ERR_LIMIT, "the message is too large");
    }
    a->input += len;
    const char *in = data;
    char out[65536];
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (o + 2 > sizeof(out)) {
            if (write_all(a, out, o) < 0)
                return -1;
            o = 0;
        }
        if (a->pending_cr) {
            a->pending_cr = false;
            if (c != '\n')
                out[o++] = '\r'; /* a lone CR stays */
        }
        if (c == '\r') {
            a->pending_cr = true;
            continue;
        }
        if (c == '\n')
            a->lines++;
        out[o++] = c;
    }
    return o ? write_all(a, out, o) : 0;
}

void store_append_abort(struct store_append **ap)
{
    struct store_append *a = *ap;
    if (!a)
        return;
    if (a->fd >= 0) {
        close(a->fd);
        unlinkat(a->tmp_dir_fd, a->tmpname, 0);
    }
    if (a->tmp_dir_fd >= 0)
        close(a->tmp_dir_fd);
    free(a);
    *ap = NULL;
}

int store_append_finish(struct store_append **ap, uint32_t flags, const char *const *keywords,
                        size_t nkeywords, time_t idate, uint32_t *uid_r, uint32_t *uidvalidity_r)
{
    struct store_append *a = *ap;
    struct store_account *acc = a->acc;
    if (a->failed)
        goto fail_early;
    if (a->pending_cr) {
        a->pending_cr = false;
        if (write_all(a, "\r", 1) < 0)
            goto fail_early;
    }
    if (store_quota_enabled(&acc->quota) &&
        store_quota_check(acc->root, &acc->quota, a->written, 1) == 0) {
        store_fail(acc, STORE_ERR_QUOTA, "over quota");
        goto fail_early;
    }
    if (idate <= 0)
        idate = time(NULL);
    struct timespec ts[2] = {{.tv_sec = idate}, {.tv_sec = idate}};
    if (futimens(a->fd, ts) < 0 || fsync(a->fd) < 0) {
        store_fail(acc, STORE_ERR_TEMP, "writing the message: %s", strerror(errno));
        goto fail_early;
    }
    struct store_folder_row f;
    if (store_folder_open_row(acc, a->folder, &f) < 0)
        goto fail_early;
    struct store_keywords kw = {.mtime = -1};
    store_keywords_load(a->dir, &kw);
    char base[STORE_FILENAME_MAX + 1], name[STORE_FILENAME_MAX + 1];
    char cur[STORE_PATH_MAX + 8];
    snprintf(cur, sizeof(cur), "%s/cur", a->dir);
    int cur_fd = open(cur, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cur_fd < 0) {
        store_fail(acc, STORE_ERR_TEMP, "%s: %s", cur, strerror(errno));
        store_keywords_free(&kw);
        goto fail_early;
    }
    int64_t nm, before = -1;
    store_dir_mtimes(a->dir, &nm, &before);
    if (store_tx_begin(acc, true) < 0)
        goto fail_fd;
    uint32_t kbits = 0;
    for (size_t i = 0; i < nkeywords; i++) {
        int k = store_keywords_lookup(acc, a->dir, &kw, keywords[i], true);
        if (k < 0)
            goto fail_tx;
        kbits |= 1u << k;
    }
    if (store_folder_row_get_id(acc, f.id, &f) <= 0) {
        store_fail(acc, STORE_ERR_NOTFOUND, "the folder is gone");
        goto fail_tx;
    }
    uint64_t vsize = a->written + a->lines;
    if (store_name_new(base, sizeof(base), idate, a->written, vsize) < 0 ||
        store_name_with_flags(base, flags & STORE_FLAGS_ALL, kbits, name, sizeof(name)) < 0) {
        store_fail(acc, STORE_ERR_TEMP, "name too long");
        goto fail_tx;
    }
    if (renameat(a->tmp_dir_fd, a->tmpname, cur_fd, name) < 0 || fsync(cur_fd) < 0) {
        store_fail(acc, STORE_ERR_TEMP, "storing the message: %s", strerror(errno));
        goto fail_tx;
    }
    uint64_t ms = f.modseq + 1;
    uint32_t uid = f.uidnext++;
    if (store_index_insert(acc, f.id, uid, name, flags & STORE_FLAGS_ALL, kbits, vsize, idate,
                           (int64_t)time(NULL), ms) < 0)
        goto fail_stored;
    f.modseq = ms;
    store_folder_touched(acc, &f, before);
    if (store_folder_row_save(acc, &f) < 0 || store_tx_commit(acc) < 0)
        goto fail_stored;
    close(cur_fd);
    store_keywords_free(&kw);
    if (store_quota_enabled(&acc->quota))
        store_quota_update(acc->root, &acc->quota, (int64_t)a->written, 1);
    close(a->fd);
    a->fd = -1;
    store_append_abort(ap);
    if (uid_r)
        *uid_r = uid;
    if (uidvalidity_r)
        *uidvalidity_r = f.uidvalidity;
    return 0;
fail_stored:
    /* the file is in cur/ but not indexed: take it back */
    unlinkat(cur_fd, name, 0);
fail_tx:
    store_tx_rollback(acc);
fail_fd:
    close(cur_fd);
    store_keywords_free(&kw);
fail_early:
    store_append_abort(ap);
    return -1;
}

int store_append(struct store_account *acc, const char *name, const void *data, size_t len,
                 uint32_t flags, const char *const *keywords, size_t nkeywords, time_t idate,
                 uint32_t *uid_r, uint32_t *uidvalidity_r)
{
    struct store_append *a = store_append_begin(acc, name);
    if (!a)
        return -1;
    if (store_append_write(a, data, len) < 0) {
        store_append_abort(&a);
        return -1;
    }
    return store_append_finish(&a, flags, keywords, nkeywords, idate, uid_r, uidvalidity_r);
}
