#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/fd-write.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define WRITE_BUF_SIZE    (32 * 1024)
#define ENVELOPE_FILE_MAX (16 * 1024 * 1024)
/* "\npostino-env " 16 hex digits "\n" */
#define TRAILER_LEN    30 /* "\npostino-env " 16 hex "\n": the message starts at 0 */
#define TRAILER_V2_LEN 39 /* "\npostino-env " 16 hex " " 8 hex "\n": and where it starts */

struct spool_file {
    struct spool *sp;
    char id[QUEUE_ID_LEN + 1];
    int msg_fd;
    char *wbuf;
    size_t wlen;
    unsigned long long size;
    unsigned long long start; /* the message begins here (room for spool_file_prepend) */
    bool reserved;
    int error;   /* errno of the first write failure */
    int dest_fd; /* the directory finish renames into */
    void *map;   /* spool_file_map() */
    size_t map_len;
};

int spool_create_dirs(const char *data_dir)
{
    const char *subs[] = {"spool",      "spool/incoming",   "spool/queue",  "spool/free",
                          "spool/hold", "spool/quarantine", "spool/corrupt"};
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", data_dir, subs[i]);
        if (mkdir(path, 0750) < 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

int spool_open(struct spool *sp, const char *data_dir, const char **error_r)
{
    memset(sp, 0, sizeof(*sp));
    sp->incoming_fd = sp->queue_fd = sp->free_fd = sp->hold_fd = sp->quarantine_fd = -1;
    char path[4096];
    snprintf(path, sizeof(path), "%s/spool", data_dir);
    sp->dir = xstrdup(path);
    snprintf(path, sizeof(path), "%s/spool/incoming", data_dir);
    sp->incoming_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    snprintf(path, sizeof(path), "%s/spool/queue", data_dir);
    sp->queue_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sp->incoming_fd < 0 || sp->queue_fd < 0) {
        *error_r = strerror(errno);
        spool_close(sp);
        return -1;
    }
    /* A spool made before free/ existed gets one; without it, no reuse. */
    mkdirat(sp->queue_fd, "../free", 0750);
    sp->free_fd = openat(sp->queue_fd, "../free", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    sp->hold_fd = openat(sp->queue_fd, "../hold", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    sp->quarantine_fd = openat(sp->queue_fd, "../quarantine", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return 0;
}

void spool_close(struct spool *sp)
{
    if (sp->incoming_fd >= 0)
        close(sp->incoming_fd);
    if (sp->queue_fd >= 0)
        close(sp->queue_fd);
    if (sp->free_fd >= 0)
        close(sp->free_fd);
    if (sp->hold_fd >= 0)
        close(sp->hold_fd);
    if (sp->quarantine_fd >= 0)
        close(sp->quarantine_fd);
    sp->incoming_fd = sp->queue_fd = sp->free_fd = sp->hold_fd = sp->quarantine_fd = -1;
    x_free(&sp->free_names);
    sp->n_free = 0;
    x_free(&sp->dir);
}

/* Call fn for every entry of a directory but "." names; fn returns false
 * to stop. Returns the number of calls, or -1 if the directory cannot be
 * read. */
static int each_name(int dirfd, bool (*fn)(int dirfd, const char *name, void *arg), void *arg)
{
    int fd = dirfd >= 0 ? dup(dirfd) : -1;
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    rewinddir(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        n++;
        if (!fn(dirfd, de->d_name, arg))
            break;
    }
    closedir(d);
    return n;
}

static bool count_if(bool done, int *n)
{
    if (done)
        (*n)++;
    return true;
}

static bool remove_one(int dirfd, const char *name, void *arg)
{
    return count_if(unlinkat(dirfd, name, 0) == 0, arg);
}

int spool_clean_incoming(struct spool *sp)
{
    int n = 0;
    each_name(sp->incoming_fd, remove_one, &n);
    return n;
}

/* queue/: an .env.tmp, or an .env whose .msg is gone, is a leftover. */
static bool clean_queue_one(int dirfd, const char *name, void *arg)
{
    size_t len = strlen(name);
    bool orphan = false;
    if (len == QUEUE_ID_LEN + 8 && strcmp(name + QUEUE_ID_LEN, ".env.tmp") == 0) {
        orphan = true;
    } else if (len == QUEUE_ID_LEN + 4 && strcmp(name + QUEUE_ID_LEN, ".env") == 0) {
        char msg[64];
        snprintf(msg, sizeof(msg), "%.*s.msg", QUEUE_ID_LEN, name);
        orphan = faccessat(dirfd, msg, F_OK, 0) < 0 && errno == ENOENT;
    }
    return count_if(orphan && unlinkat(dirfd, name, 0) == 0, arg);
}

/* free/: a file a removal cut short moved here still holds its mail. */
static bool empty_free_one(int dirfd, const char *name, void *arg)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_size == 0)
        return true;
    int f = openat(dirfd, name, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
    if (f >= 0)
        close(f);
    return count_if(f >= 0, arg);
}

int spool_clean_queue(struct spool *sp)
{
    int n = 0;
    each_name(sp->queue_fd, clean_queue_one, &n);
    each_name(sp->free_fd, empty_free_one, &n);
    return n;
}

static void name_of(char *out, size_t size, const char *id, const char *ext)
{
    snprintf(out, size, "%s.%s", id, ext);
}

static bool cache_free_name(int dirfd, const char *name, void *arg)
{
    (void)dirfd;
    struct spool *sp = arg;
    if (queue_id_valid(name, strlen(name)))
        memcpy(sp->free_names[sp->n_free++], name, QUEUE_ID_LEN + 1);
    return sp->n_free < SPOOL_FREE_MAX;
}

/* Read up to SPOOL_FREE_MAX names of free/ into the cache. */
static void refill_free(struct spool *sp)
{
    sp->n_free = 0;
    if (!sp->free_names)
        sp->free_names = xmalloc(SPOOL_FREE_MAX * sizeof(*sp->free_names));
    each_name(sp->free_fd, cache_free_name, sp);
}

/* Take over an emptied file from free/ as incoming/name; -1 if none. The
 * rename is the claim: of several processes only one can win a file. */
static int take_free(struct spool *sp, const char *name)
{
    if (sp->free_fd < 0)
        return -1;
    for (;;) {
        if (sp->n_free == 0) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec < sp->free_retry_at)
                return -1;
            refill_free(sp);
            if (sp->n_free == 0) {
                sp->free_retry_at = now.tv_sec + 1;
                return -1;
            }
        }
        const char *old = sp->free_names[--sp->n_free];
        if (renameat2(sp->free_fd, old, sp->incoming_fd, name, RENAME_NOREPLACE) < 0) {
            if (errno == EEXIST) {
                sp->n_free++; /* the new name is taken, not the free file */
                return -1;
            }
            continue; /* taken by someone else */
        }
        int fd = openat(sp->incoming_fd, name, O_RDWR | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0)
            return fd;
        unlinkat(sp->incoming_fd, name, 0);
    }
}

struct spool_file *spool_file_create(struct spool *sp, char id[QUEUE_ID_LEN + 1])
{
    for (int attempt = 0; attempt < 100; attempt++) {
        char name[64];
        queue_id_new(id);
        name_of(name, sizeof(name), id, "msg");
        int fd = take_free(sp, name);
        if (fd < 0)
            fd = openat(sp->incoming_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
        if (fd < 0) {
            if (errno == EEXIST)
                continue;
            return NULL;
        }
        struct spool_file *f = xcalloc(1, sizeof(*f));
        f->sp = sp;
        memcpy(f->id, id, QUEUE_ID_LEN + 1);
        f->msg_fd = fd;
        f->dest_fd = -1;
        return f;
    }
    errno = EEXIST;
    return NULL;
}

static int flush_wbuf(struct spool_file *f)
{
    if (f->wlen == 0 || f->error)
        return f->error ? -1 : 0;
    if (fd_write_all(f->msg_fd, f->wbuf, f->wlen) < 0) {
        f->error = errno;
        return -1;
    }
    f->wlen = 0;
    return 0;
}

int spool_file_write(struct spool_file *f, const void *data, size_t len)
{
    if (f->error)
        return -1;
    f->size += len;
    if (len >= WRITE_BUF_SIZE) {
        if (flush_wbuf(f) < 0)
            return -1;
        if (fd_write_all(f->msg_fd, data, len) < 0) {
            f->error = errno;
            return -1;
        }
        return 0;
    }
    if (!f->wbuf)
        f->wbuf = xmalloc(WRITE_BUF_SIZE);
    if (f->wlen + len > WRITE_BUF_SIZE && flush_wbuf(f) < 0)
        return -1;
    memcpy(f->wbuf + f->wlen, data, len);
    f->wlen += len;
    return 0;
}

unsigned long long spool_file_size(const struct spool_file *f)
{
    return f->size;
}

int spool_file_reserve(struct spool_file *f, size_t room)
{
    if (f->size || f->reserved || room > SPOOL_RESERVE_MAX) {
        errno = EINVAL;
        return -1;
    }
    if (lseek(f->msg_fd, (off_t)room, SEEK_SET) < 0)
        return -1;
    f->start = room;
    f->reserved = true;
    return 0;
}

int spool_file_prepend(struct spool_file *f, const void *data, size_t len)
{
    if (f->error)
        return -1;
    if (!f->reserved || len > f->start) {
        errno = EFBIG;
        return -1;
    }
    off_t at = (off_t)(f->start - len);
    for (size_t done = 0; done < len;) {
        ssize_t w = pwrite(f->msg_fd, (const char *)data + done, len - done, at + (off_t)done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            f->error = errno ? errno : EIO;
            return -1;
        }
        done += (size_t)w;
    }
    f->start -= len;
    f->size += len;
    return 0;
}

int spool_file_replace(struct spool_file *f, const void *data, size_t len)
{
    spool_file_unmap(f);
    if (f->error) {
        errno = f->error;
        return -1;
    }
    f->wlen = 0; /* what was buffered is part of what goes */
    for (size_t done = 0; done < len;) {
        ssize_t w =
            pwrite(f->msg_fd, (const char *)data + done, len - done, (off_t)(f->start + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            f->error = errno ? errno : EIO;
            errno = f->error;
            return -1;
        }
        done += (size_t)w;
    }
    off_t end = (off_t)(f->start + len);
    if (ftruncate(f->msg_fd, end) < 0 || lseek(f->msg_fd, end, SEEK_SET) < 0) {
        f->error = errno;
        return -1;
    }
    f->size = len;
    return 0;
}

int spool_file_finish(struct spool_file *f, const struct envelope *env, struct sync_op *op)
{
    return spool_file_finish_into(f, env, op, SPOOL_DEST_QUEUE);
}

int spool_file_map(struct spool_file *f, const char **data_r, size_t *len_r)
{
    spool_file_unmap(f);
    if (flush_wbuf(f) < 0) {
        errno = f->error;
        return -1;
    }
    *data_r = NULL;
    *len_r = 0;
    if (f->size == 0)
        return 0;
    /* mmap offsets are page-aligned: map from the page holding the start */
    long page = sysconf(_SC_PAGESIZE);
    unsigned long long base = f->start - f->start % (unsigned long long)page;
    size_t len = (size_t)(f->start - base + f->size);
    void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, f->msg_fd, (off_t)base);
    if (p == MAP_FAILED)
        return -1;
    f->map = p;
    f->map_len = len;
    *data_r = (const char *)p + (f->start - base);
    *len_r = (size_t)f->size;
    return 0;
}

void spool_file_unmap(struct spool_file *f)
{
    if (f->map)
        munmap(f->map, f->map_len);
    f->map = NULL;
    f->map_len = 0;
}

int spool_file_finish_into(struct spool_file *f, const struct envelope *env, struct sync_op *op,
                           enum spool_dest dest)
{
    int dest_fd = dest == SPOOL_DEST_HOLD         ? f->sp->hold_fd
                  : dest == SPOOL_DEST_QUARANTINE ? f->sp->quarantine_fd
                                                  : f->sp->queue_fd;
    if (dest_fd < 0) {
        errno = ENOENT;
        return -1;
    }
    f->dest_fd = dest_fd;
    spool_file_unmap(f);
    if (flush_wbuf(f) < 0) {
        errno = f->error;
        return -1;
    }
    x_free(&f->wbuf);
    if (env->size != f->size) {
        errno = EINVAL;
        return -1;
    }
    struct buf text;
    buf_init(&text, ENVELOPE_FILE_MAX);
    /* the envelope, then the trailer that says where it (and the message)
     * start: the old form when the message starts at 0 */
    int enc = envelope_encode(env, &text);
    int tr = enc < 0 ? -1
             : f->reserved
                 ? buf_printf(&text, "\npostino-env %016llx %08llx\n", f->start + f->size, f->start)
                 : buf_printf(&text, "\npostino-env %016llx\n", f->size);
    if (tr < 0) {
        buf_free(&text);
        errno = EFBIG;
        return -1;
    }
    if (fd_write_all(f->msg_fd, text.data, text.len) < 0) {
        int e = errno;
        buf_free(&text);
        errno = e;
        return -1;
    }
    buf_free(&text);
    char name[64];
    name_of(name, sizeof(name), f->id, "msg");
    sync_op_init(op);
    sync_op_add_fd(op, f->msg_fd);
    sync_op_add_rename(op, f->sp->incoming_fd, name, dest_fd, name);
    sync_op_add_dir(op, dest_fd);
    return 0;
}

static void close_and_remove(struct spool_file *f, int dirfd)
{
    char name[64];
    if (f->msg_fd >= 0)
        close(f->msg_fd);
    f->msg_fd = -1;
    name_of(name, sizeof(name), f->id, "msg");
    unlinkat(dirfd, name, 0);
}

void spool_file_done(struct spool_file **fp, bool committed)
{
    struct spool_file *f = *fp;
    if (!f)
        return;
    if (committed) {
        close(f->msg_fd);
    } else {
        /* A failed commit may have renamed the file or not: the message was
         * not acknowledged, so remove it wherever it is. */
        close_and_remove(f, f->dest_fd >= 0 ? f->dest_fd : f->sp->queue_fd);
        close_and_remove(f, f->sp->incoming_fd);
    }
    spool_file_unmap(f);
    free(f->wbuf);
    x_free(fp);
}

void spool_file_abort(struct spool_file **fp)
{
    struct spool_file *f = *fp;
    if (!f)
        return;
    spool_file_unmap(f);
    close_and_remove(f, f->sp->incoming_fd);
    free(f->wbuf);
    x_free(fp);
}

/* Read all of a file from offset into b (up to its limit). 0 or -1. */
static int read_range(int fd, off_t off, size_t len, struct buf *b, const char **error_r)
{
    char *p = buf_reserve(b, len);
    if (!p) {
        *error_r = "envelope too large";
        return -1;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, p + got, len - got, off + (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *error_r = n < 0 ? strerror(errno) : "file shorter than expected";
            return -1;
        }
        got += (size_t)n;
    }
    buf_commit(b, len);
    return 0;
}

/* A run of n hex digits at p, into *v. 0 or -1. */
static int parse_hex(const char *p, int n, unsigned long long *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        char c = p[i];
        int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
        if (d < 0)
            return -1;
        *v = *v * 16 + (unsigned)d;
    }
    return 0;
}

/* Where things are in an open ID.msg, from its trailer. */
struct msg_layout {
    unsigned long long start;   /* the message begins here */
    unsigned long long env_off; /* and ends here, where the envelope begins */
    unsigned long long env_end; /* the envelope ends here, where the trailer begins */
};

/* Find the trailer of an open ID.msg: the old form ("postino-env" and the
 * envelope's offset; the message starts at 0) or the new one (also where
 * the message starts, after room left for fields added at its end). 0, or
 * -1 with *error_r. */
static int read_trailer(int fd, struct msg_layout *lo, const char **error_r)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        *error_r = strerror(errno);
        return -1;
    }
    unsigned long long size = (unsigned long long)st.st_size;
    char t[TRAILER_V2_LEN + 1];
    const char *bad = "bad trailer: not a complete queue file";
    unsigned long long off, start = 0, tlen;
    if (size >= TRAILER_V2_LEN &&
        pread(fd, t, TRAILER_V2_LEN, st.st_size - TRAILER_V2_LEN) == TRAILER_V2_LEN &&
        memcmp(t, "\npostino-env ", 13) == 0 && t[29] == ' ' && t[TRAILER_V2_LEN - 1] == '\n' &&
        parse_hex(t + 13, 16, &off) == 0 && parse_hex(t + 30, 8, &start) == 0) {
        tlen = TRAILER_V2_LEN;
    } else {
        if (size < TRAILER_LEN ||
            pread(fd, t, TRAILER_LEN, st.st_size - TRAILER_LEN) != TRAILER_LEN) {
            *error_r = "no trailer: not a complete queue file";
            return -1;
        }
        if (memcmp(t, "\npostino-env ", 13) != 0 || t[TRAILER_LEN - 1] != '\n' ||
            parse_hex(t + 13, 16, &off) < 0) {
            *error_r = bad;
            return -1;
        }
        tlen = TRAILER_LEN;
    }
    if (off > size - tlen || start > off) {
        *error_r = "trailer points outside the file";
        return -1;
    }
    lo->start = start;
    lo->env_off = off;
    lo->env_end = size - tlen;
    return 0;
}

static int read_envelope_in(int dirfd, const char *id, struct envelope *env, const char **error_r,
                            bool *missing_r)
{
    char name[64];
    *missing_r = false;
    name_of(name, sizeof(name), id, "msg");
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *missing_r = errno == ENOENT;
        *error_r = strerror(errno);
        return -1;
    }
    struct msg_layout lo;
    struct buf b;
    buf_init(&b, ENVELOPE_FILE_MAX);
    if (read_trailer(fd, &lo, error_r) < 0)
        goto fail;
    name_of(name, sizeof(name), id, "env");
    int efd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (efd >= 0) {
        /* The envelope has changed since arrival. */
        struct stat st;
        int r = fstat(efd, &st) < 0 ? -1 : read_range(efd, 0, (size_t)st.st_size, &b, error_r);
        close(efd);
        if (r < 0)
            goto fail;
    } else if (errno == ENOENT) {
        if (read_range(fd, (off_t)lo.env_off, (size_t)(lo.env_end - lo.env_off), &b, error_r) < 0)
            goto fail;
    } else {
        *error_r = strerror(errno);
        goto fail;
    }
    close(fd);
    int r = envelope_decode(b.data ? b.data : "", b.len, env, error_r);
    buf_free(&b);
    if (r < 0)
        return -1;
    if (strcmp(env->id, id) != 0 || env->size != lo.env_off - lo.start) {
        envelope_free(env);
        *error_r = "envelope does not match its message file";
        return -1;
    }
    return 0;
fail:
    close(fd);
    buf_free(&b);
    return -1;
}

int spool_read_envelope(struct spool *sp, const char *id, struct envelope *env,
                        const char **error_r, bool *missing_r)
{
    return read_envelope_in(sp->queue_fd, id, env, error_r, missing_r);
}

int spool_read_held_envelope(struct spool *sp, const char *id, struct envelope *env,
                             const char **error_r)
{
    bool missing;
    if (sp->hold_fd < 0) {
        *error_r = "no spool/hold";
        return -1;
    }
    return read_envelope_in(sp->hold_fd, id, env, error_r, &missing);
}

/* Move ID.env (if any) then ID.msg between two directories, each durable
 * before the next step. */
static int move_message(int from, int to, const char *id)
{
    char env[64], msg[64];
    name_of(env, sizeof(env), id, "env");
    name_of(msg, sizeof(msg), id, "msg");
    if (from < 0 || to < 0) {
        errno = ENOENT;
        return -1;
    }
    if (faccessat(from, msg, F_OK, 0) < 0)
        return -1;
    if (renameat(from, env, to, env) < 0 && errno != ENOENT)
        return -1;
    if (renameat(from, msg, to, msg) < 0)
        return -1;
    fsync(to);
    fsync(from);
    return 0;
}

int spool_hold(struct spool *sp, const char *id)
{
    return move_message(sp->queue_fd, sp->hold_fd, id);
}

int spool_release(struct spool *sp, const char *id)
{
    return move_message(sp->hold_fd, sp->queue_fd, id);
}

static int delete_in(int dirfd, const char *id)
{
    char name[64];
    if (dirfd < 0) {
        errno = ENOENT;
        return -1;
    }
    name_of(name, sizeof(name), id, "msg");
    if (unlinkat(dirfd, name, 0) < 0)
        return -1;
    name_of(name, sizeof(name), id, "env");
    unlinkat(dirfd, name, 0);
    fsync(dirfd);
    return 0;
}

int spool_delete(struct spool *sp, const char *id)
{
    return delete_in(sp->queue_fd, id);
}

int spool_read_quarantined_envelope(struct spool *sp, const char *id, struct envelope *env,
                                    const char **error_r)
{
    bool missing;
    if (sp->quarantine_fd < 0) {
        *error_r = "no spool/quarantine";
        return -1;
    }
    return read_envelope_in(sp->quarantine_fd, id, env, error_r, &missing);
}

int spool_quarantine_release(struct spool *sp, const char *id)
{
    return move_message(sp->quarantine_fd, sp->queue_fd, id);
}

int spool_quarantine_delete(struct spool *sp, const char *id)
{
    return delete_in(sp->quarantine_fd, id);
}

int spool_write_envelope(struct spool *sp, const struct envelope *env, struct sync_op *op,
                         int *fd_r)
{
    struct buf text;
    buf_init(&text, ENVELOPE_FILE_MAX);
    if (envelope_encode(env, &text) < 0) {
        buf_free(&text);
        errno = EFBIG;
        return -1;
    }
    char tmp[64], name[64];
    name_of(tmp, sizeof(tmp), env->id, "env.tmp");
    name_of(name, sizeof(name), env->id, "env");
    int fd = openat(sp->queue_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0 || fd_write_all(fd, text.data, text.len) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        buf_free(&text);
        errno = e;
        return -1;
    }
    buf_free(&text);
    sync_op_init(op);
    sync_op_add_fd(op, fd);
    sync_op_add_rename(op, sp->queue_fd, tmp, sp->queue_fd, name);
    sync_op_add_dir(op, sp->queue_fd);
    *fd_r = fd;
    return 0;
}

void spool_remove(struct spool *sp, const char *id, bool recycle, struct sync_op *op)
{
    char name[64];
    sync_op_init(op);
    name_of(name, sizeof(name), id, "msg");
    if (recycle && sp->free_fd >= 0) {
        /* Moved first, emptied then: a message cut short in queue/ would
         * look like a torn file. */
        sync_op_add_rename(op, sp->queue_fd, name, sp->free_fd, id);
        sync_op_add_truncate(op, sp->free_fd, id);
    } else {
        sync_op_add_unlink(op, sp->queue_fd, name);
    }
    name_of(name, sizeof(name), id, "env");
    sync_op_add_unlink(op, sp->queue_fd, name);
    /* No flush of the directory: if a crash undoes the removal, the
     * message is delivered again (the allowed duplicate), never lost. */
}

int spool_open_message(struct spool *sp, const char *id, unsigned long long *start_r,
                       unsigned long long *len_r)
{
    char name[64];
    name_of(name, sizeof(name), id, "msg");
    int fd = openat(sp->queue_fd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct msg_layout lo;
    const char *err;
    if (read_trailer(fd, &lo, &err) < 0) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    *start_r = lo.start;
    *len_r = lo.env_off - lo.start;
    return fd;
}

struct scan_state {
    void (*fn)(const char *id, void *arg);
    void *arg;
    size_t n;
};

static bool scan_one(int dirfd, const char *name, void *arg)
{
    (void)dirfd;
    struct scan_state *st = arg;
    size_t len = strlen(name);
    if (len != QUEUE_ID_LEN + 4 || strcmp(name + QUEUE_ID_LEN, ".msg") != 0 ||
        !queue_id_valid(name, QUEUE_ID_LEN))
        return true;
    char id[QUEUE_ID_LEN + 1];
    memcpy(id, name, QUEUE_ID_LEN);
    id[QUEUE_ID_LEN] = '\0';
    st->fn(id, st->arg);
    st->n++;
    return true;
}

size_t spool_scan(struct spool *sp, void (*fn)(const char *id, void *arg), void *arg)
{
    struct scan_state st = {fn, arg, 0};
    each_name(sp->queue_fd, scan_one, &st);
    return st.n;
}

size_t spool_scan_held(struct spool *sp, void (*fn)(const char *id, void *arg), void *arg)
{
    struct scan_state st = {fn, arg, 0};
    each_name(sp->hold_fd, scan_one, &st);
    return st.n;
}

size_t spool_scan_quarantined(struct spool *sp, void (*fn)(const char *id, void *arg), void *arg)
{
    struct scan_state st = {fn, arg, 0};
    each_name(sp->quarantine_fd, scan_one, &st);
    return st.n;
}

struct expire_state {
    struct spool *sp;
    long long before;
    size_t n;
};

static void expire_one(const char *id, void *arg)
{
    struct expire_state *st = arg;
    char name[64];
    name_of(name, sizeof(name), id, "msg");
    struct stat sb;
    if (fstatat(st->sp->quarantine_fd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
        (long long)sb.st_mtim.tv_sec < st->before && delete_in(st->sp->quarantine_fd, id) == 0)
        st->n++;
}

size_t spool_quarantine_expire(struct spool *sp, long long before)
{
    struct expire_state st = {sp, before, 0};
    spool_scan_quarantined(sp, expire_one, &st);
    return st.n;
}

static bool count_one(int dirfd, const char *name, void *arg)
{
    (void)dirfd;
    (void)name;
    (void)arg;
    return true;
}

int spool_free_count(struct spool *sp)
{
    return each_name(sp->free_fd, count_one, NULL);
}
