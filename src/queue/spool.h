/* spool: the on-disk queue, which is the truth about every message.
 *
 *   spool/incoming/ID.msg   being received, never acknowledged
 *   spool/queue/ID.msg      the message as received (CRLF), followed by its
 *                           envelope as it was at arrival and a trailer
 *                           line "postino-env OFFSET" (16 hex digits) that
 *                           says where the envelope starts; or "postino-env
 *                           OFFSET START" (and 8 hex digits) when the
 *                           message starts at START, after room left for
 *                           header fields added at its end; immutable
 *   spool/queue/ID.env      the envelope once it has changed (a deferral,
 *                           a partial delivery): it overrides the copy in
 *                           ID.msg
 *
 * One file per message is what most messages ever need: it is written,
 * flushed and renamed into queue/ (then queue/ is flushed) before the
 * message is acknowledged, and unlinked after delivery. Creating and
 * removing files is what file systems charge most for, so the common case
 * pays for one file, not two. ID.env is written as ID.env.tmp, flushed
 * and renamed. A message is removed .msg first, so an ID.env alone is a
 * leftover (cleaned at start), never a message.
 *
 *   spool/free/             emptied files of finished messages, reused for
 *                           new ones
 *
 * A finished ID.msg is usually not unlinked but truncated and moved to
 * free/, and the next message received takes it over: the file system then
 * allocates and frees no inode per message at all, which on ext4 (that
 * searches past recently freed inodes on every allocation) is what a busy
 * server spends most of its time on. The pool is bounded (SPOOL_FREE_MAX). */
#ifndef POSTINO_SPOOL_H
#define POSTINO_SPOOL_H

#include <stdbool.h>
#include <stddef.h>

#include "envelope.h"
#include "lib/buf.h"
#include "lib/syncer.h"

#define SPOOL_FREE_MAX 1024 /* emptied files kept for reuse */

struct spool {
    char *dir;       /* .../spool */
    int incoming_fd; /* directory fds */
    int queue_fd;
    int free_fd;       /* -1 if spool/free is unusable: then no reuse */
    int hold_fd;       /* spool/hold, -1 if missing */
    int quarantine_fd; /* spool/quarantine, -1 if missing */
    /* Names of files seen in free/ and not yet taken by this process. */
    char (*free_names)[QUEUE_ID_LEN + 1];
    size_t n_free;
    long long free_retry_at; /* free/ was empty: look again after this */
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

/* Remove what a crash left in queue/: an .env without its .msg (a removal
 * cut in half) and .env.tmp files; and empty files in free/ that a removal
 * cut short left full. Returns the number of files cleaned. Call only when
 * no other process uses the spool. */
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

/* Most room spool_file_reserve may leave. */
#define SPOOL_RESERVE_MAX (1024 * 1024)
/* Before the first write: leave room for up to `room` octets of header
 * fields that are only known once the message is in (the results of
 * checks made as it arrived), added with spool_file_prepend. The room
 * left unused is a hole in the file. 0, or -1 with errno. */
int spool_file_reserve(struct spool_file *f, size_t room);
/* Replace the whole message written so far (prepended fields included)
 * by len octets of data, which must not point into a mapping of the file;
 * the room left in front stays. 0, or -1 with errno. */
int spool_file_replace(struct spool_file *f, const void *data, size_t len);
/* Put data in front of what was written (into the reserved room, which
 * shrinks). 0, or -1 with errno (EFBIG: not enough room left). */
int spool_file_prepend(struct spool_file *f, const void *data, size_t len);
/* Write out the buffered octets, the envelope and the trailer, and
 * describe the commit (flush, rename into queue/, flush of queue/) in op.
 * env->size must be the octets written. Returns 0, or -1 with errno set. */
int spool_file_finish(struct spool_file *f, const struct envelope *env, struct sync_op *op);
/* Where spool_file_finish_into() puts a message: queue/ (to be
 * delivered), hold/ (kept until the administrator releases it) or
 * quarantine/ (kept until released or expired). */
enum spool_dest { SPOOL_DEST_QUEUE, SPOOL_DEST_HOLD, SPOOL_DEST_QUARANTINE };
/* spool_file_finish(), renaming into dest. -1 with errno ENOENT if that
 * directory is missing. */
int spool_file_finish_into(struct spool_file *f, const struct envelope *env, struct sync_op *op,
                           enum spool_dest dest);
/* The message written so far, mapped read-only (the buffered octets are
 * written out first), for checks that need it whole. *data_r is NULL for
 * an empty message. Unmap with spool_file_unmap() before finishing. 0, or
 * -1 with errno. */
int spool_file_map(struct spool_file *f, const char **data_r, size_t *len_r);
void spool_file_unmap(struct spool_file *f);
/* After the op is durable (or failed): close the files. If the op failed,
 * also remove whatever is left. Frees f. */
void spool_file_done(struct spool_file **f, bool committed);
/* Give up on a message: close and unlink its files. Frees f. */
void spool_file_abort(struct spool_file **f);

/* Read the current envelope of queue/ID (ID.env if there is one, else
 * the copy in ID.msg) and check it against the message file. Returns 0,
 * or -1 with *error_r (errno text or a decode reason); *missing_r is set
 * when ID.msg does not exist at all (removed meanwhile). */
int spool_read_envelope(struct spool *sp, const char *id, struct envelope *env,
                        const char **error_r, bool *missing_r);
/* Write env to queue/ID.env.tmp and describe in op its flush and rename
 * over ID.env. *fd_r is the tmp file's fd, to close after the op. */
int spool_write_envelope(struct spool *sp, const struct envelope *env, struct sync_op *op,
                         int *fd_r);
/* Describe in op the removal of a finished message (.msg first): with
 * recycle, its .msg is emptied and moved to free/ for reuse, else
 * unlinked. The directory is not flushed: a removal undone by a crash only
 * repeats a delivery. */
void spool_remove(struct spool *sp, const char *id, bool recycle, struct sync_op *op);
/* Number of files in free/ now (-1 if it cannot be read). */
int spool_free_count(struct spool *sp);
/* Open queue/ID.msg read-only; the message is the *len_r octets from
 * offset *start_r (what comes before is room spool_file_reserve left, what
 * comes after the envelope). -1 with errno (EINVAL: no valid trailer). */
int spool_open_message(struct spool *sp, const char *id, unsigned long long *start_r,
                       unsigned long long *len_r);

/* Move a message (both files) from queue/ to hold/, or back (release).
 * 0, or -1 with errno (ENOENT: no such message there). */
int spool_hold(struct spool *sp, const char *id);
int spool_release(struct spool *sp, const char *id);
/* Remove a message for good (administrator's delete). 0 or -1. */
int spool_delete(struct spool *sp, const char *id);
/* Read the envelope of a held message (like spool_read_envelope). */
int spool_read_held_envelope(struct spool *sp, const char *id, struct envelope *env,
                             const char **error_r);
/* Call fn for every held message. Returns the count. */
size_t spool_scan_held(struct spool *sp, void (*fn)(const char *id, void *arg), void *arg);

/* Quarantine: messages the content policy set aside (spool/quarantine).
 * Scan, read, release (back into queue/, to be delivered), delete one, or
 * delete those that arrived before `before` (unix time, from the file's
 * modification time). Same returns as their queue/hold counterparts;
 * spool_quarantine_expire returns the number removed. */
size_t spool_scan_quarantined(struct spool *sp, void (*fn)(const char *id, void *arg), void *arg);
int spool_read_quarantined_envelope(struct spool *sp, const char *id, struct envelope *env,
                                    const char **error_r);
int spool_quarantine_release(struct spool *sp, const char *id);
int spool_quarantine_delete(struct spool *sp, const char *id);
size_t spool_quarantine_expire(struct spool *sp, long long before);

/* Call fn for the ID of every message in queue/. Returns the count. */
size_t spool_scan(struct spool *sp, void (*fn)(const char *id, void *arg), void *arg);

#endif
