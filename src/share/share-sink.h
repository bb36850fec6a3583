/* share-sink: a file of the share portal written on a thread of its own.
 *
 * The caller (httpd's event loop, which also runs TLS) hands over the
 * octets of an upload as they arrive; the sink's thread hashes them
 * (SHA-256 of the plaintext), encrypts them (share-crypt.h) and writes
 * them, starting the write-back as it goes. So the encryption at rest,
 * the checksum and the copy into the page cache run on the other core,
 * and the event loop goes on with the next TLS records.
 *
 * Memory is bounded: SHARE_SINK_BLOCKS blocks of SHARE_SINK_BLOCK octets;
 * when the thread is behind, share_sink_write waits for a free block
 * (the upload then goes at the speed of the disk and the encryption). A
 * sink outlives the connection that fed it: an upload cut off goes on
 * later with the same sink, where it stopped.
 *
 * In raw mode (end to end: the browser encrypted) the octets are written
 * as they are, not hashed. */
#ifndef POSTINO_SHARE_SINK_H
#define POSTINO_SHARE_SINK_H

#include <stddef.h>

#include "share/share-crypt.h"

#define SHARE_SINK_BLOCK  (1u << 20) /* octets handed to the thread at a time */
#define SHARE_SINK_BLOCKS 5          /* blocks of one sink: filling, queued, in work */

struct share_sink;

/* A sink writing to fd (not owned; opened for appending), encrypting under
 * header h (from share_header_init) with the 32-byte data key, or raw when
 * h is NULL. Starts the thread. NULL with a static reason in *error_r. */
struct share_sink *share_sink_new(int fd, const struct share_header *h,
                                  const unsigned char key[SHARE_KEY_LEN], const char **error_r);

/* Hand over len octets (copied). Waits while every block is taken. 0, or
 * -1 once the thread has failed (disk full, ...): share_sink_error says
 * why, and the sink takes nothing more. */
int share_sink_write(struct share_sink *k, const void *data, size_t len);

/* The end of the file: waits for the thread to write everything, then the
 * final chunk, then fsync. 0 with the plaintext's SHA-256 in sha256_hex
 * (raw mode: "") and the octets written in *written_r; or -1. Nothing
 * may be written afterwards. */
int share_sink_finish(struct share_sink *k, char sha256_hex[65], unsigned long long *written_r);

/* The octets on disk so far (for progress records). */
unsigned long long share_sink_written(struct share_sink *k);

/* Why the sink failed (static or the sink's own text), "" if it did not. */
const char *share_sink_error(struct share_sink *k);

/* Stop the thread (what was not written yet is dropped), wipe the key and
 * the blocks, free; *kp becomes NULL. */
void share_sink_free(struct share_sink **kp);

#endif
