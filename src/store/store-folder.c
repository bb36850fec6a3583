/* store-folder: the folders of an account (names, listing, create, delete,
 * rename, subscriptions, status). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "maildir.h"
#include "store-private.h"

#define SUBSCRIPTIONS_FILE     "subscriptions"
#define SUBSCRIPTIONS_FILE_MAX (STORE_FOLDERS_MAX * (STORE_FOLDER_NAME_MAX + 1))

bool store_folder_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > STORE_FOLDER_NAME_MAX || name[0] == '.' || name[n - 1] == '.')
        return false;
    size_t depth = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f || c == '/' || c == '*' || c == '%')
            return false;
        if (c == '.') {
            if (name[i + 1] == '.')
                return false;
            depth++;
        }
    }
    return depth <= STORE_FOLDER_DEPTH_MAX;
}

/* True if name is a valid folder name or INBOX. */
static bool name_ok(const char *name)
{
    return store_is_inbox(name) || store_folder_name_valid(name);
}

bool store_folder_exists(struct store_account *acc, const char *name)
{
    if (!name_ok(name))
        return false;
    char dir[STORE_PATH_MAX], cur[STORE_PATH_MAX + 8];
    if (store_folder_path(acc, name, dir, sizeof(dir)) < 0)
        return false;
    snprintf(cur, sizeof(cur), "%s/cur", dir);
    struct stat sb;
    return stat(cur, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* ------------------------------------------------------------ name lists */

struct names {
    char **v;
    size_t n, cap;
};

static void names_add(struct names *l, const char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 32;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = xstrdup(s);
}

static void names_free(struct names *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static bool names_has(const struct names *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return true;
    return false;
}

/* The folders on disk (not INBOX). */
static int read_folders(struct store_account *acc, struct names *out)
{
    DIR *d = opendir(acc->root);
    if (!d)
        return store_fail(acc, STORE_ERR_TEMP, "%s: %s", acc->root, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] != '.' || !store_folder_name_valid(de->d_name + 1))
            continue;
        if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
            continue;
        if (de->d_type == DT_UNKNOWN) {
            struct stat sb;
            if (fstatat(dirfd(d), de->d_name, &sb, 0) < 0 || !S_ISDIR(sb.st_mode))
                continue;
        }
        if (out->n >= STORE_FOLDERS_MAX * 2)
            break;
        names_add(out, de->d_name + 1);
    }
    closedir(d);
    return 0;
}

/* The subscribed names (Dovecot's "V\t2" format read too: '\t' separates
 * levels there). */
static int read_subscriptions(struct store_account *acc, struct names *out)
{
    char path[STORE_PATH_MAX];
    snprintf(path, sizeof(path), "%s/" SUBSCRIPTIONS_FILE, acc->root);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0
                               : store_fail(acc, STORE_ERR_TEMP, "%s: %s", path, strerror(errno));
    struct buf b;
    buf_init(&b, SUBSCRIPTIONS_FILE_MAX);
    for (;;) {
        char *p = buf_reserve(&b, 4096);
        if (!p)
            break; /* past the limit: the rest is ignored */
        ssize_t n = read(fd, p, 4096);
        if (n <= 0)
            break;
        buf_commit(&b, (size_t)n);
    }
    close(fd);
    char *data = b.data ? b.data : (char *)"";
    bool v2 = strncmp(data, "V\t2\n", 4) == 0;
    char *save = NULL;
    bool header = v2;
    for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (header) {
            /* the header ends at the first empty line, which strtok skips:
             * only the version line is known */
            if (strcmp(line, "V\t2") == 0)
                continue;
            header = false;
        }
        if (v2)
            for (char *c = line; *c; c++)
                if (*c == '\t')
                    *c = '.';
        if (name_ok(line) && !names_has(out, line) && out->n < STORE_FOLDERS_MAX)
            names_add(out, store_is_inbox(line) ? "INBOX" : line);
    }
    buf_free(&b);
    return 0;
}

static int write_subscriptions(struct store_account *acc, const struct names *l)
{
    struct buf b;
    buf_init(&b, SUBSCRIPTIONS_FILE_MAX + 1024);
    for (size_t i = 0; i < l->n; i++)
        if (buf_printf(&b, "%s\n", l->v[i]) < 0) {
            buf_free(&b);
            return store_fail(acc, STORE_ERR_LIMIT, "too many subscriptions");
        }
    char path[STORE_PATH_MAX], tmp[STORE_PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/" SUBSCRIPTIONS_FILE, acc->root);
    snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = -1;
    if (fd >= 0) {
        ssize_t w = write(fd, b.data ? b.data : "", b.len);
        rc = w == (ssize_t)b.len && fsync(fd) == 0 ? 0 : -1;
        close(fd);
        if (rc == 0)
            rc = rename(tmp, path);
        if (rc < 0)
            unlink(tmp);
    }
    buf_free(&b);
    if (rc < 0)
        return store_fail(acc, STORE_ERR_TEMP, "%s: %s", path, strerror(errno));
    return 0;
}

int store_folder_subscribe(struct store_account *acc, const char *name, bool subscribed)
{
    if (!name_ok(name))
        return store_fail(acc, STORE_ERR_INVALID, "invalid folder name");
    const char *canon = store_is_inbox(name) ? "INBOX" : name;
    /* the index's write lock serializes the read-modify-write of the file */
    bool own_tx = acc->db && acc->tx_depth == 0;
    if (own_tx && store_tx_begin(acc, true) < 0)
        return -1;
    struct names l = {0};
    int rc = read_subscriptions(acc, &l);
    if (rc == 0 && names_has(&l, canon) != subscribed) {
        if (subscribed) {
            names_add(&l, canon);
        } else {
            for (size_t i = 0; i < l.n; i++)
                if (strcmp(l.v[i], canon) == 0) {
                    free(l.v[i]);
                    l.v[i] = l.v[--l.n];
                    break;
                }
        }
        rc = write_subscriptions(acc, &l);
    }
    names_free(&l);
    if (own_tx) {
        if (rc == 0)
            return store_tx_commit(acc);
        store_tx_rollback(acc);
    }
    return rc;
}

/* ------------------------------------------------------------ list */

static int info_cmp(const void *a, const void *b)
{
    const struct store_folder_info *x = a, *y = b;
    bool xi = strcmp(x->name, "INBOX") == 0, yi = strcmp(y->name, "INBOX") == 0;
    if (xi != yi)
        return xi ? -1 : 1;
    return strcmp(x->name, y->name);
}

static struct store_folder_info *find_info(struct store_folder_info *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            return &v[i];
    return NULL;
}

int store_folder_list(struct store_account *acc, struct store_folder_info **list_r, size_t *count_r)
{
    *list_r = NULL;
    *count_r = 0;
    struct names folders = {0}, subs = {0};
    if (read_folders(acc, &folders) < 0 || read_subscriptions(acc, &subs) < 0) {
        names_free(&folders);
        names_free(&subs);
        return -1;
    }
    size_t cap = folders.n * 2 + subs.n + 1;
    struct store_folder_info *v = xcalloc(cap, sizeof(*v));
    size_t n = 0;
    str_copy(v[n++].name, sizeof(v[0].name), "INBOX");
    for (size_t i = 0; i < folders.n; i++) {
        str_copy(v[n].name, sizeof(v[n].name), folders.v[i]);
        v[n++].attrs = store_special_use(folders.v[i]);
    }
    /* intermediate names with no folder of their own */
    size_t real = n;
    for (size_t i = 1; i < real; i++) {
        char parent[STORE_FOLDER_NAME_MAX + 1];
        str_copy(parent, sizeof(parent), v[i].name);
        char *dot;
        while ((dot = strrchr(parent, '.')) != NULL) {
            *dot = '\0';
            if (find_info(v, n, parent))
                continue;
            if (n == cap) {
                cap *= 2;
                v = xrealloc(v, cap * sizeof(*v));
            }
            memset(&v[n], 0, sizeof(v[n]));
            str_copy(v[n].name, sizeof(v[n].name), parent);
            v[n++].attrs = STORE_ATTR_NOSELECT;
        }
    }
    /* children */
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(v[i].name);
        bool kids = false;
        for (size_t j = 0; j < n && !kids; j++)
            kids = strncmp(v[j].name, v[i].name, l) == 0 && v[j].name[l] == '.';
        v[i].attrs |= kids ? STORE_ATTR_HASCHILDREN : STORE_ATTR_HASNOCHILD;
    }
    for (size_t i = 0; i < subs.n; i++) {
        struct store_folder_info *fi = find_info(v, n, subs.v[i]);
        if (!fi) {
            if (n == cap) {
                cap *= 2;
                v = xrealloc(v, cap * sizeof(*v));
            }
            fi = &v[n++];
            memset(fi, 0, sizeof(*fi));
            str_copy(fi->name, sizeof(fi->name), subs.v[i]);
            fi->attrs = STORE_ATTR_NONEXISTENT | STORE_ATTR_NOSELECT;
        }
        fi->attrs |= STORE_ATTR_SUBSCRIBED;
    }
    qsort(v, n, sizeof(*v), info_cmp);
    names_free(&folders);
    names_free(&subs);
    *list_r = v;
    *count_r = n;
    return 0;
}

/* ------------------------------------------------------------ create */

/* Create the folder directory of name (Maildir++ sub-folder). */
static int make_folder_dir(struct store_account *acc, const char *name)
{
    char dir[STORE_PATH_MAX];
    if (store_folder_path(acc, name, dir, sizeof(dir)) < 0)
        return store_fail(acc, STORE_ERR_INVALID, "folder name too long");
    if (maildir_create(dir, 0700) < 0)
        return store_fail(acc, STORE_ERR_TEMP, "%s: %s", dir, strerror(errno));
    char marker[STORE_PATH_MAX + 16];
    snprintf(marker, sizeof(marker), "%s/maildirfolder", dir);
    int fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    return 0;
}

/* Give name a fresh index row (dropping a stale one). In a transaction. */
static int fresh_row(struct store_account *acc, const char *name)
{
    struct store_folder_row f;
    int r = store_folder_row_get(acc, name, &f);
    if (r < 0)
        return -1;
    if (r > 0 && store_folder_row_delete(acc, f.id) < 0)
        return -1;
    return store_folder_row_create(acc, name, &f);
}

/* Create name's missing parents and name itself, in a transaction. */
static int create_with_parents(struct store_account *acc, const char *name, bool must_be_new)
{
    char part[STORE_FOLDER_NAME_MAX + 1];
    str_copy(part, sizeof(part), name);
    for (char *p = part;; p++) {
        if (*p != '.' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        bool last = saved == '\0';
        if (!store_folder_exists(acc, part)) {
            if (make_folder_dir(acc, part) < 0 || fresh_row(acc, part) < 0)
                return -1;
        } else if (last && must_be_new) {
            return store_fail(acc, STORE_ERR_EXISTS, "the folder exists");
        }
        if (last)
            break;
        *p = saved;
    }
    return 0;
}

static size_t count_folders(struct store_account *acc)
{
    struct names l = {0};
    read_folders(acc, &l);
    size_t n = l.n;
    names_free(&l);
    return n;
}

int store_folder_create(struct store_account *acc, const char *name)
{
    if (store_is_inbox(name))
        return store_fail(acc, STORE_ERR_EXISTS, "INBOX exists");
    if (!store_folder_name_valid(name))
        return store_fail(acc, STORE_ERR_INVALID, "invalid folder name");
    if (store_folder_exists(acc, name))
        return store_fail(acc, STORE_ERR_EXISTS, "the folder exists");
    if (count_folders(acc) >= STORE_FOLDERS_MAX)
        return store_fail(acc, STORE_ERR_LIMIT, "too many folders");
    if (store_tx_begin(acc, true) < 0)
        return -1;
    if (create_with_parents(acc, name, true) < 0) {
        store_tx_rollback(acc);
        return -1;
    }
    return store_tx_commit(acc);
}

/* ------------------------------------------------------------ delete */

/* rm -r of dir_fd/name (a folder: depth 2 at most, but any is handled). */
static int remove_tree(int dir_fd, const char *name, int depth)
{
    if (depth > 8)
        return -1;
    int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return unlinkat(dir_fd, name, 0);
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) {
            if (remove_tree(dirfd(d), de->d_name, depth + 1) < 0)
                rc = -1;
        } else if (unlinkat(dirfd(d), de->d_name, 0) < 0) {
            rc = -1;
        }
    }
    closedir(d);
    if (unlinkat(dir_fd, name, AT_REMOVEDIR) < 0)
        rc = -1;
    return rc;
}

/* True if some folder is a child of name. */
static bool has_children(struct store_account *acc, const char *name)
{
    struct names l = {0};
    read_folders(acc, &l);
    size_t len = strlen(name);
    bool kids = false;
    for (size_t i = 0; i < l.n && !kids; i++)
        kids = strncmp(l.v[i], name, len) == 0 && l.v[i][len] == '.';
    names_free(&l);
    return kids;
}

int store_folder_delete(struct store_account *acc, const char *name)
{
    if (store_is_inbox(name))
        return store_fail(acc, STORE_ERR_NOTALLOWED, "INBOX cannot be deleted");
    if (!store_folder_name_valid(name))
        return store_fail(acc, STORE_ERR_INVALID, "invalid folder name");
    if (!store_folder_exists(acc, name)) {
        if (has_children(acc, name))
            return store_fail(acc, STORE_ERR_NOTALLOWED,
                              "the name has children and no folder of its own");
        return store_fail(acc, STORE_ERR_NOTFOUND, "no such folder");
    }
    if (store_tx_begin(acc, true) < 0)
        return -1;
    /* out of sight first (a name no listing shows), then removed */
    char from[STORE_FOLDER_NAME_MAX + 2], aside[STORE_FOLDER_NAME_MAX + 64];
    snprintf(from, sizeof(from), ".%s", name);
    snprintf(aside, sizeof(aside), "..deleted.%ld.%s", (long)getpid(), name);
    int root_fd = open(acc->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0 || renameat(root_fd, from, root_fd, aside) < 0) {
        int e = errno;
        if (root_fd >= 0)
            close(root_fd);
        store_tx_rollback(acc);
        return store_fail(acc, STORE_ERR_TEMP, "cannot delete %s: %s", name, strerror(e));
    }
    struct store_folder_row f;
    int r = store_folder_row_get(acc, name, &f);
    if (r < 0 || (r > 0 && store_folder_row_delete(acc, f.id) < 0)) {
        renameat(root_fd, aside, root_fd, from);
        close(root_fd);
        store_tx_rollback(acc);
        return -1;
    }
    if (store_tx_commit(acc) < 0) {
        renameat(root_fd, aside, root_fd, from);
        close(root_fd);
        return -1;
    }
    acc->local_changes++;
    remove_tree(root_fd, aside, 0);
    close(root_fd);
    return 0;
}

/* ------------------------------------------------------------ rename */

/* Move every message file of INBOX into folder dir (new names kept). */
static int move_inbox_files(struct store_account *acc, const char *to_dir)
{
    const char *subs[] = {"new", "cur"};
    for (size_t s = 0; s < 2; s++) {
        char src[STORE_PATH_MAX + 8], dst[STORE_PATH_MAX + 8];
        snprintf(src, sizeof(src), "%s/%s", acc->root, subs[s]);
        snprintf(dst, sizeof(dst), "%s/%s", to_dir, subs[s]);
        int sfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int dfd = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = sfd >= 0 ? fdopendir(sfd) : NULL;
        if (!d || dfd < 0) {
            int e = errno;
            if (d)
                closedir(d);
            else if (sfd >= 0)
                close(sfd);
            if (dfd >= 0)
                close(dfd);
            return store_fail(acc, STORE_ERR_TEMP, "moving INBOX: %s", strerror(e));
        }
        struct dirent *de;
        int rc = 0;
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.')
                continue;
            if (renameat(dirfd(d), de->d_name, dfd, de->d_name) < 0 && errno != ENOENT)
                rc = store_fail(acc, STORE_ERR_TEMP, "moving INBOX: %s", strerror(errno));
        }
        closedir(d);
        close(dfd);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int rename_inbox(struct store_account *acc, const char *new_name)
{
    if (create_with_parents(acc, new_name, true) < 0)
        return -1;
    char to_dir[STORE_PATH_MAX];
    store_folder_path(acc, new_name, to_dir, sizeof(to_dir));
    struct store_folder_row inbox;
    int r = store_folder_row_get(acc, "INBOX", &inbox);
    if (r < 0)
        return -1;
    if (move_inbox_files(acc, to_dir) < 0)
        return -1;
    if (r > 0) {
        /* every INBOX message is expunged there (and indexed anew in the
         * new folder at its first sync) */
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(store_db(acc), "SELECT uid FROM messages WHERE folder = ?", -1, &st,
                               NULL) != SQLITE_OK)
            return store_fail_db(acc, "rename");
        sqlite3_bind_int64(st, 1, inbox.id);
        uint32_t *uids = NULL;
        size_t n = 0, cap = 0;
        while (sqlite3_step(st) == SQLITE_ROW) {
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                uids = xrealloc(uids, cap * sizeof(*uids));
            }
            uids[n++] = (uint32_t)sqlite3_column_int64(st, 0);
        }
        sqlite3_finalize(st);
        uint64_t ms = inbox.modseq + 1;
        int rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = store_index_expunge(acc, inbox.id, uids[i], ms);
        free(uids);
        if (rc < 0)
            return -1;
        inbox.modseq = ms;
        inbox.new_mtime = inbox.cur_mtime = -1;
        if (store_folder_row_save(acc, &inbox) < 0)
            return -1;
    }
    return 0;
}

int store_folder_rename(struct store_account *acc, const char *old_name, const char *new_name)
{
    if (!name_ok(old_name) || !store_folder_name_valid(new_name))
        return store_fail(acc, STORE_ERR_INVALID, "invalid folder name");
    if (store_folder_exists(acc, new_name) || has_children(acc, new_name))
        return store_fail(acc, STORE_ERR_EXISTS, "the new name exists");
    if (store_is_inbox(old_name)) {
        if (store_tx_begin(acc, true) < 0)
            return -1;
        if (rename_inbox(acc, new_name) < 0) {
            store_tx_rollback(acc);
            return -1;
        }
        acc->tx_changed = true;
        return store_tx_commit(acc);
    }
    size_t ol = strlen(old_name);
    if (strncmp(new_name, old_name, ol) == 0 && new_name[ol] == '.')
        return store_fail(acc, STORE_ERR_INVALID, "cannot rename a folder into itself");
    struct names all = {0}, moving = {0};
    if (read_folders(acc, &all) < 0)
        return -1;
    for (size_t i = 0; i < all.n; i++)
        if (strcmp(all.v[i], old_name) == 0 ||
            (strncmp(all.v[i], old_name, ol) == 0 && all.v[i][ol] == '.'))
            names_add(&moving, all.v[i]);
    names_free(&all);
    if (moving.n == 0) {
        names_free(&moving);
        return store_fail(acc, STORE_ERR_NOTFOUND, "no such folder");
    }
    /* every new name must be valid */
    for (size_t i = 0; i < moving.n; i++) {
        char to[STORE_FOLDER_NAME_MAX * 2 + 2];
        snprintf(to, sizeof(to), "%s%s", new_name, moving.v[i] + ol);
        if (!store_folder_name_valid(to)) {
            names_free(&moving);
            return store_fail(acc, STORE_ERR_INVALID, "a new name would be invalid");
        }
    }
    if (store_tx_begin(acc, true) < 0) {
        names_free(&moving);
        return -1;
    }
    int rc = 0;
    /* the parents of the new name */
    char parent[STORE_FOLDER_NAME_MAX + 1];
    str_copy(parent, sizeof(parent), new_name);
    char *dot = strrchr(parent, '.');
    if (dot) {
        *dot = '\0';
        rc = create_with_parents(acc, parent, false);
    }
    int root_fd = open(acc->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    size_t done = 0;
    sqlite3_stmt *st = NULL;
    if (rc == 0 && (root_fd < 0 ||
                    sqlite3_prepare_v2(store_db(acc), "UPDATE folders SET name = ? WHERE name = ?",
                                       -1, &st, NULL) != SQLITE_OK))
        rc = root_fd < 0 ? store_fail(acc, STORE_ERR_TEMP, "%s", strerror(errno))
                         : store_fail_db(acc, "rename");
    for (; rc == 0 && done < moving.n; done++) {
        char to[STORE_FOLDER_NAME_MAX + 1], dfrom[STORE_FOLDER_NAME_MAX + 2],
            dto[STORE_FOLDER_NAME_MAX + 2];
        snprintf(to, sizeof(to), "%s%s", new_name, moving.v[done] + ol);
        snprintf(dfrom, sizeof(dfrom), ".%s", moving.v[done]);
        snprintf(dto, sizeof(dto), ".%s", to);
        if (renameat(root_fd, dfrom, root_fd, dto) < 0) {
            rc = store_fail(acc, STORE_ERR_TEMP, "rename %s: %s", moving.v[done], strerror(errno));
            break;
        }
        struct store_folder_row stale;
        int sr = store_folder_row_get(acc, to, &stale);
        if (sr < 0 || (sr > 0 && store_folder_row_delete(acc, stale.id) < 0)) {
            rc = -1;
            done++;
            break;
        }
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, to, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, moving.v[done], -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) {
            rc = store_fail_db(acc, "rename");
            done++;
            break;
        }
    }
    sqlite3_finalize(st);
    if (rc < 0) {
        /* put back what was moved */
        for (size_t i = 0; i < done; i++) {
            char dfrom[STORE_FOLDER_NAME_MAX + 2], dto[STORE_FOLDER_NAME_MAX * 2 + 2];
            snprintf(dfrom, sizeof(dfrom), ".%s", moving.v[i]);
            snprintf(dto, sizeof(dto), ".%s%s", new_name, moving.v[i] + ol);
            renameat(root_fd, dto, root_fd, dfrom);
        }
        store_tx_rollback(acc);
    } else {
        acc->tx_changed = true;
        rc = store_tx_commit(acc);
    }
    if (root_fd >= 0)
        close(root_fd);
    if (rc == 0) {
        /* subscriptions follow the names */
        struct names subs = {0};
        if (read_subscriptions(acc, &subs) == 0) {
            bool any = false;
            for (size_t i = 0; i < subs.n; i++) {
                const char *s = subs.v[i];
                if (strcmp(s, old_name) == 0 || (strncmp(s, old_name, ol) == 0 && s[ol] == '.')) {
                    char to[STORE_FOLDER_NAME_MAX * 2 + 2];
                    snprintf(to, sizeof(to), "%s%s", new_name, s + ol);
                    free(subs.v[i]);
                    subs.v[i] = xstrdup(to);
                    any = true;
                }
            }
            if (any)
                write_subscriptions(acc, &subs);
        }
        names_free(&subs);
    }
    names_free(&moving);
    return rc;
}

/* ------------------------------------------------------------ status */

int store_folder_status(struct store_account *acc, const char *name, struct store_status *st_r)
{
    memset(st_r, 0, sizeof(*st_r));
    struct store_folder_row f;
    if (store_folder_open_row(acc, name, &f) < 0)
        return -1;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(store_db(acc),
                           "SELECT count(*), total(uid >= ?), total((flags & 1) = 0), "
                           "total((flags & 8) != 0), total(size) FROM messages WHERE folder = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return store_fail_db(acc, "status");
    sqlite3_bind_int64(st, 1, f.recent_uid);
    sqlite3_bind_int64(st, 2, f.id);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return store_fail_db(acc, "status");
    }
    st_r->messages = (uint32_t)sqlite3_column_int64(st, 0);
    st_r->recent = (uint32_t)sqlite3_column_double(st, 1);
    st_r->unseen = (uint32_t)sqlite3_column_double(st, 2);
    st_r->deleted = (uint32_t)sqlite3_column_double(st, 3);
    st_r->size = (uint64_t)sqlite3_column_double(st, 4);
    sqlite3_finalize(st);
    st_r->uidnext = f.uidnext;
    st_r->uidvalidity = f.uidvalidity;
    st_r->highestmodseq = f.modseq;
    return 0;
}
