#include "syncer.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "str.h"
#include "xalloc.h"

#define MAX_THREADS 16

struct syncer {
    struct event_base *base;
    enum syncer_method method;
    int nthreads;

    pthread_mutex_t lock;
    pthread_cond_t work_cond;  /* coordinator: new ops or stop */
    pthread_cond_t phase_cond; /* helpers: a batch of flushes to share */
    pthread_cond_t idle_cond;  /* coordinator: helpers finished the flushes */

    struct sync_op *pending; /* submitted, not yet taken (FIFO via tail) */
    struct sync_op **pending_tail;
    struct sync_op *completed; /* durable, callbacks not yet run */
    size_t busy;
    bool stopping;

    /* The flushes of the current batch, shared by all threads. */
    int *flush_fds;
    int *flush_err;
    size_t flush_n;
    size_t flush_next;
    unsigned long flush_generation;
    int helpers_active;

    pthread_t coordinator;
    pthread_t helpers[MAX_THREADS];
    int notify_pipe[2];
    struct event *notify_ev;
};

void sync_op_init(struct sync_op *op)
{
    /* Only the counts and results: the name arrays are kilobytes and are
     * written before they are read. */
    op->n_fds = op->n_truncates = op->n_renames = op->n_unlinks = op->n_dirs = 0;
    op->error = 0;
    op->failed = NULL;
    op->done = NULL;
    op->arg = NULL;
    op->next = NULL;
}

int sync_op_add_fd(struct sync_op *op, int fd)
{
    if (op->n_fds >= SYNC_OP_FILES)
        return -1;
    op->fds[op->n_fds++] = fd;
    return 0;
}

int sync_op_add_rename(struct sync_op *op, int from_dir, const char *from, int to_dir,
                       const char *to)
{
    if (op->n_renames >= SYNC_OP_FILES)
        return -1;
    size_t i = op->n_renames;
    if (str_copy(op->renames[i].from, SYNC_NAME_MAX, from) < 0 ||
        str_copy(op->renames[i].to, SYNC_NAME_MAX, to) < 0)
        return -1;
    op->renames[i].from_dir = from_dir;
    op->renames[i].to_dir = to_dir;
    op->n_renames++;
    return 0;
}

int sync_op_add_unlink(struct sync_op *op, int dir, const char *name)
{
    if (op->n_unlinks >= SYNC_OP_FILES)
        return -1;
    if (str_copy(op->unlinks[op->n_unlinks].name, SYNC_NAME_MAX, name) < 0)
        return -1;
    op->unlinks[op->n_unlinks++].dir = dir;
    return 0;
}

int sync_op_add_truncate(struct sync_op *op, int dir, const char *name)
{
    if (op->n_truncates >= SYNC_OP_FILES)
        return -1;
    if (str_copy(op->truncates[op->n_truncates].name, SYNC_NAME_MAX, name) < 0)
        return -1;
    op->truncates[op->n_truncates++].dir = dir;
    return 0;
}

int sync_op_add_dir(struct sync_op *op, int dir)
{
    for (size_t i = 0; i < op->n_dirs; i++)
        if (op->dirs[i] == dir)
            return 0;
    if (op->n_dirs >= SYNC_OP_FILES)
        return -1;
    op->dirs[op->n_dirs++] = dir;
    return 0;
}

static void op_fail(struct sync_op *op, int err, const char *what)
{
    if (!op->error) {
        op->error = err ? err : EIO;
        op->failed = what;
    }
}

/* Phase 2 of one op: its renames, truncations and unlinks. */
static void op_namespace(struct sync_op *op)
{
    for (size_t i = 0; i < op->n_renames && !op->error; i++)
        if (renameat(op->renames[i].from_dir, op->renames[i].from, op->renames[i].to_dir,
                     op->renames[i].to) < 0)
            op_fail(op, errno, "rename");
    for (size_t i = 0; i < op->n_truncates && !op->error; i++) {
        int fd = openat(op->truncates[i].dir, op->truncates[i].name,
                        O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
            op_fail(op, errno, "truncate");
        else
            close(fd);
    }
    for (size_t i = 0; i < op->n_unlinks && !op->error; i++)
        if (unlinkat(op->unlinks[i].dir, op->unlinks[i].name, 0) < 0 && errno != ENOENT)
            op_fail(op, errno, "unlink");
}

void sync_op_run_now(struct sync_op *op, enum syncer_method method)
{
    if (method == SYNCER_FSYNC)
        for (size_t i = 0; i < op->n_fds && !op->error; i++)
            if (fdatasync(op->fds[i]) < 0)
                op_fail(op, errno, "fdatasync");
    if (!op->error)
        op_namespace(op);
    if (op->error)
        return;
    if (method == SYNCER_SYNCFS) {
        int fd = op->n_dirs ? op->dirs[0] : op->n_fds ? op->fds[0] : -1;
        if (fd >= 0 && syncfs(fd) < 0)
            op_fail(op, errno, "syncfs");
        return;
    }
    for (size_t i = 0; i < op->n_dirs && !op->error; i++)
        if (fsync(op->dirs[i]) < 0)
            op_fail(op, errno, "fsync directory");
}

/* Take flushes of the current batch until none is left. Called with the
 * lock held; drops it while flushing. */
static void share_flushes(struct syncer *s)
{
    while (s->flush_next < s->flush_n) {
        size_t i = s->flush_next++;
        int fd = s->flush_fds[i];
        pthread_mutex_unlock(&s->lock);
        int r = fdatasync(fd) < 0 ? errno : 0;
        pthread_mutex_lock(&s->lock);
        s->flush_err[i] = r;
    }
}

static void *helper_main(void *arg)
{
    struct syncer *s = arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->stopping && s->flush_generation == seen)
            pthread_cond_wait(&s->phase_cond, &s->lock);
        if (s->stopping)
            break;
        seen = s->flush_generation;
        s->helpers_active++;
        share_flushes(s);
        if (--s->helpers_active == 0)
            pthread_cond_signal(&s->idle_cond);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* Make one batch durable (runs on the coordinator thread, lock held on
 * entry and exit). */
static void run_batch(struct syncer *s, struct sync_op *batch)
{
    size_t nf = 0;
    for (struct sync_op *op = batch; op; op = op->next)
        nf += op->n_fds;
    if (s->method == SYNCER_FSYNC && nf > 0) {
        s->flush_fds = xrealloc(s->flush_fds, nf * sizeof(int));
        s->flush_err = xrealloc(s->flush_err, nf * sizeof(int));
        size_t k = 0;
        for (struct sync_op *op = batch; op; op = op->next)
            for (size_t i = 0; i < op->n_fds; i++)
                s->flush_fds[k++] = op->fds[i];
        s->flush_n = nf;
        s->flush_next = 0;
        s->flush_generation++;
        if (nf > 1)
            pthread_cond_broadcast(&s->phase_cond);
        share_flushes(s);
        while (s->helpers_active > 0)
            pthread_cond_wait(&s->idle_cond, &s->lock);
        k = 0;
        for (struct sync_op *op = batch; op; op = op->next)
            for (size_t i = 0; i < op->n_fds; i++, k++)
                if (s->flush_err[k])
                    op_fail(op, s->flush_err[k], "fdatasync");
        s->flush_n = 0;
    }
    pthread_mutex_unlock(&s->lock);

    for (struct sync_op *op = batch; op; op = op->next)
        if (!op->error)
            op_namespace(op);

    if (s->method == SYNCER_SYNCFS) {
        int fd = -1;
        for (struct sync_op *op = batch; op && fd < 0; op = op->next)
            fd = op->n_dirs ? op->dirs[0] : op->n_fds ? op->fds[0] : -1;
        if (fd >= 0 && syncfs(fd) < 0) {
            int e = errno;
            for (struct sync_op *op = batch; op; op = op->next)
                op_fail(op, e, "syncfs");
        }
    } else {
        /* Each directory once: later ops that share it reuse the result. */
        for (struct sync_op *op = batch; op; op = op->next) {
            for (size_t i = 0; i < op->n_dirs; i++) {
                int dir = op->dirs[i];
                bool done = false;
                for (struct sync_op *p = batch; p != op && !done; p = p->next)
                    for (size_t j = 0; j < p->n_dirs; j++)
                        if (p->dirs[j] == dir && !p->error)
                            done = true;
                if (!done && fsync(dir) < 0)
                    op_fail(op, errno, "fsync directory");
            }
        }
    }
    pthread_mutex_lock(&s->lock);
}

static void *coordinator_main(void *arg)
{
    struct syncer *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->pending && !s->stopping)
            pthread_cond_wait(&s->work_cond, &s->lock);
        if (!s->pending && s->stopping)
            break;
        struct sync_op *batch = s->pending;
        s->pending = NULL;
        s->pending_tail = &s->pending;
        run_batch(s, batch);
        /* Hand the batch back to the event loop, keeping its order. */
        struct sync_op **tail = &s->completed;
        while (*tail)
            tail = &(*tail)->next;
        *tail = batch;
        char c = 1;
        ssize_t w = write(s->notify_pipe[1], &c, 1);
        (void)w;
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* On the event loop: run the callbacks of completed ops. */
static void on_notify(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct syncer *s = arg;
    char drain[64];
    while (read(fd, drain, sizeof(drain)) > 0)
        ;
    pthread_mutex_lock(&s->lock);
    struct sync_op *list = s->completed;
    s->completed = NULL;
    pthread_mutex_unlock(&s->lock);
    while (list) {
        struct sync_op *op = list;
        list = op->next;
        op->next = NULL;
        pthread_mutex_lock(&s->lock);
        s->busy--;
        pthread_mutex_unlock(&s->lock);
        op->done(op);
    }
}

struct syncer *syncer_new(struct event_base *base, enum syncer_method method, int threads)
{
    struct syncer *s = xcalloc(1, sizeof(*s));
    s->base = base;
    s->method = method;
    s->nthreads = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->work_cond, NULL);
    pthread_cond_init(&s->phase_cond, NULL);
    pthread_cond_init(&s->idle_cond, NULL);
    s->pending_tail = &s->pending;
    if (pipe2(s->notify_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
        log_fatal("syncer: pipe: %s", strerror(errno));
    s->notify_ev = event_new(base, s->notify_pipe[0], EV_READ | EV_PERSIST, on_notify, s);
    event_add(s->notify_ev, NULL);
    if (pthread_create(&s->coordinator, NULL, coordinator_main, s) != 0)
        log_fatal("syncer: cannot start a thread");
    for (int i = 0; i < s->nthreads - 1; i++)
        if (pthread_create(&s->helpers[i], NULL, helper_main, s) != 0)
            log_fatal("syncer: cannot start a thread");
    return s;
}

void syncer_submit(struct syncer *s, struct sync_op *op)
{
    op->next = NULL;
    op->error = 0;
    op->failed = NULL;
    pthread_mutex_lock(&s->lock);
    *s->pending_tail = op;
    s->pending_tail = &op->next;
    s->busy++;
    pthread_cond_signal(&s->work_cond);
    pthread_mutex_unlock(&s->lock);
}

size_t syncer_busy(const struct syncer *s)
{
    return s->busy;
}

void syncer_free(struct syncer **sp)
{
    struct syncer *s = *sp;
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_broadcast(&s->work_cond);
    pthread_cond_broadcast(&s->phase_cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->coordinator, NULL);
    for (int i = 0; i < s->nthreads - 1; i++)
        pthread_join(s->helpers[i], NULL);
    /* Everything submitted is durable now: run the last callbacks. */
    on_notify(s->notify_pipe[0], EV_READ, s);
    event_free(s->notify_ev);
    close(s->notify_pipe[0]);
    close(s->notify_pipe[1]);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->work_cond);
    pthread_cond_destroy(&s->phase_cond);
    pthread_cond_destroy(&s->idle_cond);
    free(s->flush_fds);
    free(s->flush_err);
    x_free(sp);
}
