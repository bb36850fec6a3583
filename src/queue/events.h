/* events: the history of every message, for `postino trace`.
 *
 * Each process that handles mail (smtpd, the queue manager, deliver-smtp,
 * sendmail) records events: received, queued, each delivery attempt,
 * delivered, deferred, bounced, expired, discarded, notified, held,
 * deleted... with the queue ID, the recipient when there is one, and a
 * text in plain words. They go to state/events.db (SQLite, WAL), buffered
 * and written in batches, so that recording costs little. Losing the last
 * events in a power cut only shortens a history: the spool stays the
 * truth about the mail itself. */
#ifndef POSTINO_EVENTS_H
#define POSTINO_EVENTS_H

#include <stdbool.h>
#include <stddef.h>

struct events;

/* Open (creating if needed) data_dir/state/events.db. NULL with *error_r
 * (caller frees). */
struct events *events_open(const char *data_dir, char **error_r);
/* Write what is buffered and close. */
void events_close(struct events **e);

/* Record an event. rcpt may be NULL. */
void events_add(struct events *e, const char *qid, const char *kind, const char *rcpt,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Index a message for lookups by Message-ID and by address. */
void events_index(struct events *e, const char *qid, const char *message_id,
                  const char *const *addrs, size_t n);
/* Write the buffered events now (one transaction). */
void events_flush(struct events *e);
/* Events buffered and not written yet. */
size_t events_pending(const struct events *e);
/* Forget events older than `before` (unix time). */
void events_prune(struct events *e, long long before);

/* Reading, for postino trace. */
struct event {
    double time;
    char qid[16];
    char kind[24];
    char rcpt[330];
    char text[2048];
};

/* The queue IDs recorded for a Message-ID or an address (newest last),
 * since `since`. Returns the count written to out (at most max). */
size_t events_find_by_message_id(struct events *e, const char *message_id, char (*out)[16],
                                 size_t max);
size_t events_find_by_address(struct events *e, const char *address, double since, char (*out)[16],
                              size_t max);
/* Call fn for each event of qid in time order. Returns the count. */
size_t events_of(struct events *e, const char *qid, double since,
                 void (*fn)(const struct event *ev, void *arg), void *arg);

#endif
