/* certify-flow: certified mail in the flow of messages, called by smtpd
 * at the end of DATA and by the queue manager on delivery outcomes.
 *
 * At the end of DATA (certify_flow_submit):
 *   - a user of a certified domain submitting (authenticated): the message
 *     is checked (its From must be the envelope sender, it must not be a
 *     certified message itself); refused: a non-acceptance notice goes to
 *     the sender and the SMTP reply is 5xx; accepted: the message is
 *     replaced by its signed transport envelope ("CERTIFIED: subject", the
 *     original attached unaltered) for every recipient, and the sender
 *     gets the acceptance receipt once it is committed;
 *   - for the recipients in our certified domains otherwise: a transport
 *     envelope or receipt that verifies (signed by a trusted service) is
 *     delivered as it is, and for an envelope the sender gets the
 *     taking-in-charge receipt; anything else goes to them wrapped in an
 *     anomaly envelope (a copy queued for them; they leave the original's
 *     recipients).
 * In the queue (certify_flow_outcome): a transport envelope delivered to a
 * mailbox of a certified domain gives the sender a delivery receipt
 * (complete, short or summary, as the sender asked with the header field
 * X-Certified-Receipt-Type); one that fails for good gives the sender a
 * delivery-failure notice; one still not delivered after
 * certified_warning_after gives a warning, after certified_failure_after
 * the final notice (and the recipient is given up). A transport envelope
 * handed over to a peer's certification service is followed the same way
 * until the peer's delivery receipt comes back (certify_flow_handed_over,
 * certify_flow_chase).
 *
 * Receipts and notices go from the null sender; every event is appended
 * to the evidence log (certify-log.h). Nothing here fails the mail flow:
 * a receipt that cannot be made is logged as an error. */
#ifndef POSTINO_CERTIFY_FLOW_H
#define POSTINO_CERTIFY_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "certify/certify-data.h"
#include "lib/buf.h"
#include "lib/config.h"
#include "queue/envelope.h"

/* Add to env the routed recipients for addr (a message we make goes to
 * it). False if addr cannot be delivered to. Supplied by the process. */
typedef bool certify_resolve_fn(void *arg, const char *addr, struct envelope *env);

struct certify_flow;

/* A flow for cfg (kept, not copied), or NULL when certified_domains is
 * empty. The signing keys are loaded when first needed; the trusted
 * certificates now (a failure is logged: nothing is trusted then). */
struct certify_flow *certify_flow_new(const struct config *cfg, certify_resolve_fn *resolve,
                                      void *arg);
void certify_flow_free(struct certify_flow **f);

/* True if addr's domain is one of our certified domains. */
bool certify_flow_certified_addr(const struct certify_flow *f, const char *addr);

enum certify_submit_action {
    CERTIFY_STORE,    /* store the message as it is (env may have lost recipients) */
    CERTIFY_REPLACED, /* store *replacement instead */
    CERTIFY_REFUSE,   /* refuse with 550 enh reply (a notice went to the sender) */
};

/* Receipts about a message that may go only once it is committed (the
 * acceptance, the taking in charge): a list, owned by its holder. */
struct certify_deferred;

struct certify_submit {
    const char *qid;
    const char *msg; /* the message as spooled so far */
    size_t len;
    struct envelope *env; /* sender and routed recipients */
    bool submission;      /* from an authenticated user */
    struct buf *replacement;
    char enh[16];
    char reply[256];
    /* Receipts to send after the commit: NULL before the call; the
     * caller then owns the list (certify_flow_deferred_run). */
    struct certify_deferred *deferred;
};

/* The end-of-DATA step (see above). The acceptance receipt and the
 * taking-in-charge receipt are not sent here but left in s->deferred, so
 * that none says a message was accepted before it is durably queued.
 * Anomaly envelopes are queued here, before the original is committed:
 * they carry mail, and must be durable before the client's 250. */
enum certify_submit_action certify_flow_submit(struct certify_flow *f, struct certify_submit *s);

/* Send the receipts of *list (certify_submit.deferred) if committed (the
 * message they are about is durably queued), else drop them (logged);
 * free the list and set *list to NULL. Nothing to do for NULL. */
void certify_flow_deferred_run(struct certify_flow *f, struct certify_deferred **list,
                               bool committed);

/* A message of sender refused at the end of DATA for another reason
 * (error, why): a non-acceptance notice if sender is a certified user and
 * the message came by submission. msg may be NULL. */
void certify_flow_refused(struct certify_flow *f, const char *qid, const char *sender,
                          bool submission, const char *msg, size_t len, enum certify_error error,
                          const char *why);

/* True if the header section hdr[0..len) is the one of a transport
 * envelope (X-Certified-Transport: envelope). */
bool certify_flow_is_envelope(const char *hdr, size_t len);

enum certify_outcome {
    CERTIFY_OUT_DELIVERED, /* in rcpt's mailbox (local delivery) */
    CERTIFY_OUT_FAILED,    /* failed for good (reason) */
    CERTIFY_OUT_WARNING,   /* not delivered after certified_warning_after */
    CERTIFY_OUT_EXPIRED,   /* not delivered after certified_failure_after */
};

/* An outcome for recipient rcpt of the transport envelope msg[0..len)
 * (queue ID qid): the receipt or notice it calls for, if any. True if one
 * was sent (the ordinary delivery status notification is then not
 * needed). */
bool certify_flow_outcome(struct certify_flow *f, const char *qid, const char *msg, size_t len,
                          const char *rcpt, enum certify_outcome o, const char *reason);

/* Recipient rcpt of the transport envelope msg[0..len) (queue ID qid) was
 * handed over by SMTP to relay (NULL if unknown). When rcpt is in a
 * peer's certified domain and the sender is one of our certified users,
 * its delivery receipt is awaited from then on (certify-pending.h): the
 * sender is warned after certified_warning_after and given the final
 * notice after certified_failure_after unless a delivery receipt or a
 * delivery-failure notice for rcpt arrives first (certify_flow_submit
 * notes those). True if the wait was recorded. */
bool certify_flow_handed_over(struct certify_flow *f, const char *qid, const char *msg, size_t len,
                              const char *rcpt, const char *relay);

/* Send the warnings and final notices that are due for handed-over
 * recipients (certify_flow_handed_over). Looks at the database only when
 * something may be due: call it every second. */
void certify_flow_chase(struct certify_flow *f, time_t now);

/* Prune the evidence log to certified_log_retention, and forget the
 * concluded waits for receipts (CERTIFY_PENDING_KEEP); does something at
 * most once a day (call it as often as convenient). A log that does not
 * verify is not pruned, and that is logged as an error. */
void certify_flow_maintain(struct certify_flow *f, time_t now);

#endif
