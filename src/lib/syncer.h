/* syncer: make batches of files durable off the event loop (group commit).
 *
 * A sync_op describes what one message needs: files to flush, renames and
 * unlinks to do after that, directories to flush after those. The syncer
 * runs every op submitted while the previous batch was on its way as one
 * batch on a worker thread: all flushes in parallel, then the renames and
 * unlinks, then each directory once. When the batch is durable each op's
 * done callback runs on the event loop thread. One flush of a directory
 * thus serves every message of the batch; that is what makes many
 * concurrent sessions cheap. */
#ifndef POSTINO_SYNCER_H
#define POSTINO_SYNCER_H

#include <stddef.h>

struct event_base;

#define SYNC_OP_FILES 4
#define SYNC_NAME_MAX 256

struct sync_op {
    /* Phase 1: flushed with fdatasync() (skipped under syncfs). */
    int fds[SYNC_OP_FILES];
    size_t n_fds;
    /* Phase 2, in order: renames, truncations to zero, then unlinks (names
     * relative to dir fds). */
    struct {
        int dir;
        char name[SYNC_NAME_MAX];
    } truncates[SYNC_OP_FILES];
    size_t n_truncates;
    struct {
        int from_dir;
        char from[SYNC_NAME_MAX];
        int to_dir;
        char to[SYNC_NAME_MAX];
    } renames[SYNC_OP_FILES];
    size_t n_renames;
    struct {
        int dir;
        char name[SYNC_NAME_MAX];
    } unlinks[SYNC_OP_FILES];
    size_t n_unlinks;
    /* Phase 3: directories to flush (each once per batch). */
    int dirs[SYNC_OP_FILES];
    size_t n_dirs;

    /* Result: 0, or the errno of the first failure and what failed. */
    int error;
    const char *failed;

    void (*done)(struct sync_op *op);
    void *arg;
    struct sync_op *next; /* private */
};

enum syncer_method {
    SYNCER_FSYNC,  /* fdatasync each file, fsync each directory */
    SYNCER_SYNCFS, /* one syncfs() of the file system per batch */
};

struct syncer;

/* Start the worker threads (threads >= 1 flush files in parallel). */
struct syncer *syncer_new(struct event_base *base, enum syncer_method method, int threads);
/* Wait for submitted work, run its callbacks, stop the threads, free. */
void syncer_free(struct syncer **s);

/* Queue an op; its done callback runs later on the event loop thread. The
 * fds and dir fds must stay open until then. */
void syncer_submit(struct syncer *s, struct sync_op *op);
/* Ops submitted and not yet completed. */
size_t syncer_busy(const struct syncer *s);

/* Helpers to fill an op. Return 0, or -1 if the op is full or a name too long. */
void sync_op_init(struct sync_op *op);
int sync_op_add_fd(struct sync_op *op, int fd);
int sync_op_add_rename(struct sync_op *op, int from_dir, const char *from, int to_dir,
                       const char *to);
int sync_op_add_unlink(struct sync_op *op, int dir, const char *name);
int sync_op_add_truncate(struct sync_op *op, int dir, const char *name);
int sync_op_add_dir(struct sync_op *op, int dir);

/* Run one op synchronously in the calling thread (tools, tests). */
void sync_op_run_now(struct sync_op *op, enum syncer_method method);

#endif
