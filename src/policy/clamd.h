/* clamd: an asynchronous client of ClamAV's clamd for the content policy.
 *
 * One scan is one connection: "zINSTREAM\0", the message in chunks (a
 * 4-byte big-endian length, then that many bytes; at most CLAMD_CHUNK_MAX
 * each), a zero length to end the stream, then clamd's reply up to its NUL
 * (parsed by clamd-reply.h). Everything runs on the caller's libevent loop
 * (non-blocking connect, bufferevent) under one overall timeout, and the
 * caller hears back exactly once through its callback, or never if it
 * cancels first (the client left).
 *
 * clamd is found at a Unix socket path ("/run/clamav/clamd.ctl") or at a
 * numeric TCP address "host:port" ("127.0.0.1:3310", "[::1]:3310"; the
 * name "localhost" means 127.0.0.1): no DNS on the path of a message.
 *
 * The process must ignore SIGPIPE (every postino process does): clamd may
 * close the connection while the message is still being sent. */
#ifndef POSTINO_POLICY_CLAMD_H
#define POSTINO_POLICY_CLAMD_H

#include <stddef.h>

#include "policy/clamd-reply.h"

struct event_base;

#define CLAMD_CHUNK_MAX   (64 * 1024) /* bytes of message in one INSTREAM chunk */
#define CLAMD_ADDRESS_MAX 256         /* bytes of an address (a socket path fits) */
#define CLAMD_DETAIL_MAX  256         /* bytes of the why of a result */

enum clamd_status {
    CLAMD_SCAN_CLEAN,       /* clamd found nothing */
    CLAMD_SCAN_INFECTED,    /* clamd found result->signature */
    CLAMD_SCAN_TOO_BIG,     /* not scanned: larger than max_len (or than
                             * clamd's StreamMaxLength) */
    CLAMD_SCAN_UNAVAILABLE, /* not scanned: result->failure says why */
};

enum clamd_failure {
    CLAMD_FAIL_NONE,     /* the status is not UNAVAILABLE */
    CLAMD_FAIL_CONNECT,  /* connect refused, no such socket, ... */
    CLAMD_FAIL_TIMEOUT,  /* no reply within timeout_ms */
    CLAMD_FAIL_IO,       /* the connection broke while sending or reading */
    CLAMD_FAIL_PROTOCOL, /* the reply was no clamd reply, or too long,
                          * or the connection closed without one */
    CLAMD_FAIL_CLAMD,    /* clamd answered ERROR (its text in detail) */
};

/* What the callback is told. */
struct clamd_result {
    enum clamd_status status;
    enum clamd_failure failure;
    /* INFECTED: the signature name (printable, bounded); "" otherwise. */
    char signature[CLAMD_SIGNATURE_MAX + 1];
    /* TOO_BIG, UNAVAILABLE: a printable one-line reason for the log
     * ("connect /run/clamd.sock: Connection refused", "timeout after
     * 30000 ms", "clamd: Can't allocate memory"); "" otherwise. */
    char detail[CLAMD_DETAIL_MAX + 1];
};

/* Called once per scan with the result (valid only during the call). The
 * scan is already freed when it is called: forget the handle (set the
 * pointer kept from clamd_scan_start() to NULL) and never cancel it. */
typedef void clamd_done_fn(const struct clamd_result *result, void *arg);

struct clamd_scan;

/* Check an address as clamd_scan_start() takes it, for the configuration
 * check. Returns 0, or -1 with a static reason in *error_r. */
int clamd_address_check(const char *address, const char **error_r);

/* Start scanning data[0..len): connect to address, send, read the reply,
 * all within timeout_ms (from now), then call cb(result, arg) from the
 * event loop, never from within this call. A message longer than max_len
 * is not sent and gives CLAMD_SCAN_TOO_BIG (set max_len no larger than
 * clamd's StreamMaxLength). data must stay valid and unchanged until the
 * callback or clamd_scan_cancel(). Returns the scan handle, or NULL (and
 * no callback) only if the address is invalid (see clamd_address_check),
 * with a static reason in *error_r. */
struct clamd_scan *clamd_scan_start(struct event_base *base, const char *address, const void *data,
                                    size_t len, size_t max_len, unsigned timeout_ms,
                                    clamd_done_fn *cb, void *arg, const char **error_r);

/* Abandon a scan that has not called back yet: close the connection, free
 * it, set *sp to NULL; the callback is never called. No effect on NULL. */
void clamd_scan_cancel(struct clamd_scan **sp);

/* The lower-case name of a status ("clean", "infected", "too-big",
 * "unavailable") and of a failure ("connect", "timeout", ...), for logs. */
const char *clamd_status_name(enum clamd_status status);
const char *clamd_failure_name(enum clamd_failure failure);

#endif
