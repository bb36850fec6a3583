/* deliver-ipc: the messages between the queue manager and a delivery agent.
 *
 *   DELIVER  queue -> agent: job, queue ID, sender, recipients (index, address)
 *   RESULT   agent -> queue: job, per recipient (index, outcome, text)
 *
 * The text of a result starts with an enhanced status code ("2.0.0 ...",
 * "4.3.0 ...", "5.1.1 ...") so it can go into logs and DSNs unchanged. */
#ifndef POSTINO_DELIVER_IPC_H
#define POSTINO_DELIVER_IPC_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define DELIVER_MSG_DELIVER 1
#define DELIVER_MSG_RESULT  2
#define DELIVER_MAX_RCPTS   10000

enum deliver_outcome {
    DELIVER_OK = 0,
    DELIVER_TEMPFAIL = 1,
    DELIVER_PERMFAIL = 2,
};

struct deliver_rcpt {
    uint32_t index; /* the recipient's index in the envelope */
    char *addr;
    char *orcpt;                  /* requests: DSN ORCPT, or NULL */
    uint32_t notify;              /* requests: DSN NOTIFY bits */
    enum deliver_outcome outcome; /* results only */
    char *text;                   /* results only */
};

#define DELIVER_BODY_8BIT 1u /* declared BODY=8BITMIME */
#define DELIVER_HAS_8BIT  2u /* octets >= 0x80 really occur */
#define DELIVER_SMTPUTF8  4u
#define DELIVER_DKIM_SIGN 8u  /* it starts here: DKIM-sign it on the way out */
#define DELIVER_JUNK      16u /* DMARC quarantine: into the Junk folder */

struct deliver_job {
    uint32_t job;
    char *qid;      /* requests only */
    char *sender;   /* requests only */
    char *nexthop;  /* requests: where to (deliver-smtp), "" for local */
    uint32_t flags; /* requests: DELIVER_* */
    uint32_t ret;   /* requests: enum smtp_ret */
    char *envid;    /* requests: or NULL */
    uint64_t size;  /* requests: octets of the message */
    char *info;     /* results: how it went (relay, TLS, timings), or NULL */
    struct deliver_rcpt *rcpts;
    size_t n;
};

void deliver_job_free(struct deliver_job *j);
/* Add a recipient (addr copied; text may be NULL). */
struct deliver_rcpt *deliver_job_add(struct deliver_job *j, uint32_t index, const char *addr);
void deliver_rcpt_set(struct deliver_rcpt *r, enum deliver_outcome o, const char *text);

/* Append a DELIVER / RESULT frame. 0 or -1 (too large). */
int deliver_encode_request(const struct deliver_job *j, struct buf *out);
int deliver_encode_result(const struct deliver_job *j, struct buf *out);
/* Decode one whole frame; 0, or -1 if malformed (j is then empty). */
int deliver_decode_request(const void *frame, size_t len, struct deliver_job *j);
int deliver_decode_result(const void *frame, size_t len, struct deliver_job *j);

#endif
