/* dsn: delivery status notifications (RFC 3464), the reports postino sends
 * back to a sender: a message could not be delivered (failed), is late
 * (delayed), or arrived (delivered, when the sender asked with
 * NOTIFY=SUCCESS).
 *
 * The report is a multipart/report: a part for people that quotes the
 * remote server's exact reply, a message/delivery-status part for
 * programs, and the original message's header (or, with RET=FULL, the
 * whole message). */
#ifndef POSTINO_DSN_H
#define POSTINO_DSN_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

enum dsn_action {
    DSN_FAILED,
    DSN_DELAYED,
    DSN_DELIVERED,
};

struct dsn_rcpt {
    const char *addr;  /* final recipient */
    const char *orcpt; /* ORCPT as given ("rfc822;..."), or NULL */
    enum dsn_action action;
    const char *reply;      /* the reply or reason, "550 5.1.1 ..." */
    const char *remote_mta; /* the server that answered ("mx.example.org"), or NULL */
    long long last_attempt; /* unix time, 0 if none */
};

struct dsn_info {
    const char *hostname; /* this server: Reporting-MTA, From: */
    const char *qid;      /* the original message's queue ID */
    const char *envid;    /* ENVID, or NULL */
    long long arrival;
    long long now;
    const char *sender;    /* where the report goes */
    long long retry_until; /* delayed: when postino gives up */
};

/* Compose the report into out (CRLF lines). original: the original
 * message's header section (full = false) or the whole message (full =
 * true), CRLF. */
void dsn_compose(const struct dsn_info *info, const struct dsn_rcpt *rcpts, size_t n,
                 const char *original, size_t original_len, bool full, struct buf *out);

/* The RFC 3463 status of a reply: its enhanced code, else one made from
 * the reply code ("5.0.0", "4.0.0"), written to out. */
void dsn_status_of(const char *reply, bool failed, char out[16]);

#endif
