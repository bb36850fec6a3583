/* certify-pending: the delivery receipts that certified messages handed
 * over to a peer service still wait for.
 *
 * In the model of PEC, the sender's service expects, for each certified
 * recipient, a delivery receipt (or a delivery-failure notice) from the
 * recipient's service; without one after certified_warning_after the
 * sender is warned, after certified_failure_after given the final notice.
 * This is the record of those expectations: DATA_DIR/state/
 * certify-pending.db (SQLite, WAL), one row per (Message-ID, recipient).
 * The queue manager adds a row when it hands a transport envelope over
 * and chases the rows whose time has come; smtpd marks a row answered when
 * a receipt for it arrives, also before the handover is recorded (the
 * answer may overtake it), in which case nothing is ever outstanding.
 *
 * Answered and concluded rows are kept CERTIFY_PENDING_KEEP seconds, then
 * pruned. */
#ifndef POSTINO_CERTIFY_PENDING_H
#define POSTINO_CERTIFY_PENDING_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "certify/certify-data.h"

#define CERTIFY_PENDING_KEEP    (7 * 86400) /* seconds a concluded row is kept */
#define CERTIFY_PENDING_BATCH   100         /* rows certify_pending_due() returns at most */
#define CERTIFY_PENDING_QID_MAX 64          /* octets of a queue ID, plus NUL */

struct certify_pending;

/* Open (creating it if needed) DATA_DIR/state/certify-pending.db. NULL
 * with *error_r (the caller frees it) when it cannot be opened. */
struct certify_pending *certify_pending_open(const char *data_dir, char **error_r);
void certify_pending_close(struct certify_pending **p);

/* Expect an answer for rcpt of the message msgid (its transport envelope
 * queued as qid, with the data part xml[0..xml_len)), handed over at
 * `handed`: warn at warn_at, give up at fail_at. Nothing changes if the
 * row exists already (an answer came first, or the same handover twice).
 * Returns 1 if the row was added, 0 if not, -1 with *error_r (static
 * text) on a database error. */
int certify_pending_add(struct certify_pending *p, const char *qid, const char *msgid,
                        const char *rcpt, time_t handed, time_t warn_at, time_t fail_at,
                        const char *xml, size_t xml_len, const char **error_r);

/* An answer (delivery receipt or failure notice) for rcpt of msgid came
 * at `now`. Returns 1 if it ended an outstanding wait, 0 if there was
 * none (the answer is kept, so that a handover recorded later is not
 * waited on), -1 with *error_r on a database error. */
int certify_pending_answer(struct certify_pending *p, const char *msgid, const char *rcpt,
                           time_t now, const char **error_r);

/* What a row is waiting for next. */
enum certify_pending_step {
    CERTIFY_PENDING_WARN,  /* the warning is due */
    CERTIFY_PENDING_FINAL, /* the final notice is due */
};

struct certify_pending_entry {
    char qid[CERTIFY_PENDING_QID_MAX];
    char msgid[CERTIFY_TEXT_MAX];
    char rcpt[CERTIFY_ADDR_MAX];
    time_t handed;
    enum certify_pending_step step;
    const char *xml; /* the envelope's data part; valid during the callback only */
    size_t xml_len;
};

/* Call fn for each outstanding row whose warning or final notice is due
 * at `now` (a row past fail_at gets only the final notice), at most
 * CERTIFY_PENDING_BATCH. fn returns whether it did what was due; the row
 * then moves on (warned, or concluded). Returns the number of rows
 * handed to fn, or -1 with *error_r. */
int certify_pending_due(struct certify_pending *p, time_t now,
                        bool (*fn)(const struct certify_pending_entry *e, void *arg), void *arg,
                        const char **error_r);

/* The earliest time something outstanding falls due; 0 if nothing is
 * outstanding, -1 on a database error. */
time_t certify_pending_next(struct certify_pending *p);

/* Remove the rows concluded (answered, or given up) before `before`.
 * Returns the count removed, or -1. */
int certify_pending_prune(struct certify_pending *p, time_t before);

#endif
