/* envelope: what the spool knows about a message besides its octets.
 *
 * Encoded as text, one record per line, so that an administrator can read
 * it with less(1):
 *
 *   postino-envelope 1
 *   id 0CJQ4VS7H8M2G
 *   arrival 1764294339
 *   size 4212
 *   sender alice@example.org          (empty value: the null sender <>)
 *   body 8BITMIME                     (7BIT when not given)
 *   8bit 1                            (only if the octets really are 8-bit)
 *   smtputf8 1
 *   ret HDRS                          (only if given)
 *   envid QQ314159                    (only if given)
 *   client 192.0.2.7
 *   helo mail.example.org
 *   proto ESMTP
 *   filter smtp:[127.0.0.1]:10025     (only if a content rule's FILTER applies)
 *   rcpt addr=bob@example.com orig=bob+x@example.com route=local status=pending ...
 *   end
 *
 * Values are %-escaped (octets below 0x21, '%', '=' and 0x7f); UTF-8 stays
 * as it is. The final "end" line tells a complete file from a torn one. */
#ifndef POSTINO_ENVELOPE_H
#define POSTINO_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"
#include "queue-id.h"

enum rcpt_status {
    RCPT_PENDING,  /* not tried yet, or to be tried again at next_try */
    RCPT_DEFERRED, /* failed temporarily; next_try says when again */
    RCPT_DELIVERED,
    RCPT_BOUNCED, /* failed permanently */
    RCPT_EXPIRED, /* deferred for longer than max_queue_lifetime */
};

enum rcpt_route {
    ROUTE_LOCAL,  /* a mailbox of ours */
    ROUTE_REMOTE, /* another mail server */
};

struct envelope_rcpt {
    char *addr;      /* final recipient, after aliases and +tag */
    char *orig;      /* the address given at RCPT (NULL if the same) */
    char *orcpt;     /* DSN ORCPT parameter as received, or NULL */
    unsigned notify; /* SMTP_NOTIFY_* bits */
    enum rcpt_route route;
    enum rcpt_status status;
    unsigned attempts;
    long long next_try; /* unix time; 0 = at once */
    long long last_try; /* unix time of the last attempt, 0 if none */
    char *last;         /* last reply or reason, or NULL */
    char *relay;        /* the server that gave it ("mx.example.org"), or NULL */
    bool warned;        /* a delay notification went to the sender */
    bool notified;      /* the notification of the final state went out */
};

struct envelope {
    char id[QUEUE_ID_LEN + 1];
    long long arrival;
    unsigned long long size; /* octets of the .msg file */
    char *sender;            /* "" for <> */
    bool body_8bit;          /* declared BODY=8BITMIME */
    bool has_8bit;           /* octets >= 0x80 occur in the message */
    bool smtputf8;
    bool junk;    /* DMARC quarantine: local copies go to the Junk folder */
    int ret;      /* enum smtp_ret */
    char *envid;  /* or NULL */
    char *client; /* client address, or NULL */
    char *helo;   /* or NULL */
    char *proto;  /* SMTP, ESMTP, ... or NULL */
    char *filter; /* content policy FILTER: every recipient's next hop, or NULL */
    struct envelope_rcpt *rcpts;
    size_t nrcpts;
};

/* Start an empty envelope (all pointers NULL). */
void envelope_init(struct envelope *env);
/* Release everything the envelope owns; it is empty afterwards. */
void envelope_free(struct envelope *env);
/* Add a recipient (strings copied; orig and orcpt may be NULL). */
struct envelope_rcpt *envelope_add_rcpt(struct envelope *env, const char *addr, const char *orig,
                                        const char *orcpt, unsigned notify, enum rcpt_route route);
/* Remove recipient i (< nrcpts); those after it move down one. */
void envelope_remove_rcpt(struct envelope *env, size_t i);
/* Remove every recipient. */
void envelope_clear_rcpts(struct envelope *env);
/* Set rcpt->last (copied). */
void envelope_rcpt_set_last(struct envelope_rcpt *r, const char *text);

/* Append the text form to out. Returns 0, or -1 if out's limit is crossed. */
int envelope_encode(const struct envelope *env, struct buf *out);
/* Parse the text form into env (initialised here). Returns 0, or -1 with a
 * static reason in *error_r (env is then empty). */
int envelope_decode(const char *data, size_t len, struct envelope *env, const char **error_r);

/* True once no recipient is pending or deferred. */
bool envelope_done(const struct envelope *env);

const char *rcpt_status_name(enum rcpt_status s);

#endif
