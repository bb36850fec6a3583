/* queue-inject: a message a postino process makes itself (postino
 * sendmail, the share portal's notifications) put straight into the
 * spool, committed to disk before the call returns; the queue manager
 * finds it as any other. */
#ifndef POSTINO_QUEUE_INJECT_H
#define POSTINO_QUEUE_INJECT_H

#include <stddef.h>

#include "lib/config.h"
#include "queue/envelope.h"

/* Queue msg[0..len) (CRLF line ends) for env's sender and recipients
 * (resolved by the caller), with a Received field naming via ("sendmail,
 * uid 0", "share"), and From, Date and Message-ID when the message has
 * none. env's id, arrival, size and flags are set here. Returns 0, or -1
 * with a reason in *error_r (static or strerror). */
int queue_inject(const struct config *cfg, struct envelope *env, const char *msg, size_t len,
                 const char *via, const char **error_r);

/* The length of msg's header section, its empty line included (all of
 * msg when it has no body). */
size_t queue_header_length(const char *msg, size_t len);

#endif
