/* milter-chain: every configured milter (milter-list.h) for one SMTP
 * session, asked together and answered as one.
 *
 * The owner (smtpd) makes one call per SMTP step: milter_chain_start at
 * connect (the milters are connected, negotiated and told of the client
 * in the background), then mail, rcpt, message (DATA's end) and abort,
 * one at a time. Each call but start and abort is answered once through
 * its callback, from the event loop (never from within the call), when
 * every milter has answered; the milters are asked in parallel.
 *
 * The answer is the strongest among the milters' (the first milter in
 * the list wins among equals): a refusal (REJECT, TEMPFAIL, REPLY) over
 * DISCARD over QUARANTINE over going on. What concerns more than the
 * step is remembered:
 *   - a refusal at connect or HELO refuses every MAIL of the session
 *     (as Postfix does: the client learns at MAIL);
 *   - ACCEPT at connect or HELO: that milter is done for the session;
 *   - DISCARD at MAIL or RCPT: the message is discarded at its end;
 *   - a milter that fails (connect, timeout, protocol) is dropped for the
 *     session; with default=tempfail the step, and every MAIL after it,
 *     is answered 451 4.7.1, with default=accept it is as if it were not
 *     configured.
 * At the message's end the modifications of every milter are gathered,
 * in milter order (milter-edit.h applies those to the header and body).
 *
 * The HELO name goes to the milters with the MAIL that follows it. */
#ifndef POSTINO_POLICY_MILTER_CHAIN_H
#define POSTINO_POLICY_MILTER_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/milter-list.h"
#include "policy/milter.h"

struct event_base;

#define MILTER_CHAIN_BODY_MAX (64u << 20) /* bytes of a replacement body */

/* The client, as milters are told of it (and as macros). */
struct milter_chain_client {
    const char *hostname; /* "[192.0.2.1]" when it has no name */
    const char *address;  /* "192.0.2.1", "2001:db8::1" */
    uint16_t port;
    bool ipv6;
    const char *daemon_name; /* "smtp", "submission" ... */
    const char *our_hostname;
};

/* The answer to a step. */
struct milter_chain_result {
    enum milter_verdict verdict; /* CONTINUE, REJECT, TEMPFAIL, REPLY,
                                  * DISCARD or QUARANTINE (never ACCEPT
                                  * or FAILED) */
    /* REJECT, TEMPFAIL, REPLY: the reply to give (defaults filled in) */
    unsigned code;
    char enh[MILTER_ENH_MAX + 1];
    char text[MILTER_REPLY_LINE_MAX + 1];
    /* QUARANTINE: the milter's reason */
    char reason[MILTER_REPLY_LINE_MAX + 1];
    /* the milter that decided (its address), for the log; empty for
     * CONTINUE */
    char who[MILTER_ADDRESS_TEXT_MAX + 1];
    /* the decision is a failure's default: what went wrong */
    bool failed;
    char detail[MILTER_DETAIL_MAX + 1];
    /* message: the gathered modifications (every milter's, in order)
     * and the new body of the last milter that replaced it, or NULL */
    const struct milter_mod *mods;
    size_t n_mods;
    const char *body;
    size_t body_len;
    /* one line per milter failure met during the step (a default of
     * accept hides them from the verdict), for the log; "" if none */
    const char *failures;
};

typedef void milter_chain_done_fn(const struct milter_chain_result *r, void *arg);

struct milter_chain;

/* Connect to every milter of list (which must outlive the chain) and
 * tell them of the client; no callback. NULL if the list is empty. */
struct milter_chain *milter_chain_start(struct event_base *base, const struct milter_list *list,
                                        const struct milter_chain_client *client);

/* The steps. Each returns 0 (the callback will come) or -1 (a step is
 * pending: a bug of the caller). The strings are copied.
 * mail: the HELO name, then argv[0] the sender in <>, then its ESMTP
 * parameters; auth_user is the SASL login or NULL.
 * rcpt: argv[0] the recipient in <>, then its parameters; a refusal
 * concerns that recipient only.
 * message: the message as it will be stored (CRLF) under queue ID qid;
 * msg must stay valid until the callback. */
int milter_chain_mail(struct milter_chain *ch, const char *helo, const char *auth_user,
                      const char *const *argv, size_t argc, milter_chain_done_fn *cb, void *arg);
int milter_chain_rcpt(struct milter_chain *ch, const char *const *argv, size_t argc,
                      milter_chain_done_fn *cb, void *arg);
int milter_chain_message(struct milter_chain *ch, const char *qid, const char *msg, size_t len,
                         milter_chain_done_fn *cb, void *arg);
/* The transaction ends without a message (RSET, a new MAIL, a refusal):
 * the milters forget it. No callback; harmless when nothing was sent. */
void milter_chain_abort(struct milter_chain *ch);
/* True while a step waits for milters. */
bool milter_chain_busy(const struct milter_chain *ch);

/* QUIT every milter and free the chain; a pending callback never comes.
 * No effect on NULL. */
void milter_chain_free(struct milter_chain **chp);

#endif
