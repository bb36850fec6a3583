/* spool: the on-disk queue, which is the truth about every message.
 *
 *   spool/incoming/ID.msg, ID.env   being received, never acknowledged
 *   spool/queue/ID.msg              the message as received (CRLF), immutable
 *   spool/queue/ID.env              envelope and per-recipient state
 *
 * A message enters the queue when both files, complete and flushed, are
 * renamed from incoming/ into queue/ (.msg first, .env last) and queue/ is
 * flushed: only then is it acknowledged. An .env in queue/ therefore always
 * has its .msg beside it. The envelope is later replaced by writing ID.env.tmp,
 * flushing it and renaming it over ID.env. */
#ifndef POSTINO_SPOOL_H
#define POSTINO_SPOOL_H

#include <stdbool.h>
#include <stddef.h>

#include "envelope.h"
#include "lib/buf.h"
#include "lib/syncer.h"

struct spool {
    char *dir;       /* .../spool */
    int incoming_fd; /* directory fds */
    int queue_fd;
};

/* Open spool/incoming and spool/queue under data_dir (created by init).
 * Returns 0, or -1 with the reason in *error_r (static or errno text). */
int spool_open(struct spool *sp, const char *data_dir, const char **error_r);
void spool_close(struct spool *sp);

/* Create the spool directories under data_dir (mode 0750). 0 or -1. */
int spool_create_dirs(const char *data_dir);
/* Remove what a crash left in incoming/ (never acknowledged). Returns the
 * number of files removed. Call only when no smtpd runs. */
int spool_clean_incoming(struct spool *sp);

/* Remove what a crash left in queue/: a .msg without its .env (a commit
 * or a removal cut in half; never an acknowledged message still due) and
 * .env.tmp files. Returns the number removed. Call only when no other
 * process uses the spool. */
int spool_clean_queue(struct spool *sp);

/* A message being received. */
struct spool_file;

/* Create incoming/ID.msg with a fresh unique ID (copied to id). NULL with
 * errno set on failure. */
struct spool_file *spool_file_create(struct spool *sp, char id[QUEUE_ID_LEN + 1]);
/* Append message octets (buffered). Returns 0, or -1 after a write error
 * (errno kept; later writes are ignored and finish fails). */
int spool_file_write(struct spool_file *f, const void *data, size_t len);
/* Octets written so far. */
unsigned long long spool_file_size(const struct spool_file *f);
/* Write out the buffered octets and incoming/ID.env, and describe the
 * commit (flushes, renames into queue/, queue/ flush) in op. Returns 0, or
 * -1 with errno set. */
int spool_file_finish(struct spool_file *f, const struct envelope *env, struct sync_op *op);
/* After the op is durable (or failed): close the files. If the op failed,
 * also remove whatever is left. Frees f. */
void spool_file_done(struct spool_file **f, bool committed);
/* Give up on a message: close and unlink its files. Frees f. */
void spool_file_abort(struct spool_file **f);

/* Read queue/ID.env. Returns 0, -1 with *error_r (errno text or a decode
 * reason). */
int spool_read_envelope(struct spool *sp, const char *id, struct envelope *env,
                        const char **error_r);
/* Write env to queue/ID.env.tmp and describe in op its flush and rename
 * over ID.env. *fd_r is the tmp file's fd, to close after the op. */
int spool_write_envelope(struct spool *sp, const struct envelope *env, struct sync_op *op,
                         int *fd_r);
/* Describe in op the removal of a finished message (.env first). The
 * directory is not flushed: a removal undone by a crash only repeats a
 * delivery. */
void spool_remove(struct spool *sp, const char *id, struct sync_op *op);
/* Open queue/ID.msg read-only; -1 with errno. */
int spool_open_message(struct spool *sp, const char *id);

/* Call fn for the ID of every envelope in queue/. Returns the count. */
size_t spool_scan(struct spool *sp, void (*fn)(const char *id, void *arg), void *arg);

#endif
