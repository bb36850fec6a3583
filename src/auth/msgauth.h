/* msgauth: DKIM verification and DMARC evaluation of one arriving message,
 * with their DNS lookups done asynchronously (lib/dns) while the message
 * streams in. smtpd feeds the message and its From: fields, says when the
 * message is complete, and is called back once every lookup has answered
 * or the time limit has passed; then it reads the results. */
#ifndef POSTINO_MSGAUTH_H
#define POSTINO_MSGAUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "dkim-verify.h"
#include "dmarc.h"
#include "spf.h"

struct dns;
struct event_base;
struct msgauth;

struct msgauth_params {
    struct event_base *base;
    struct dns *dns;
    const struct dmarc_orgdomain *od;
    unsigned timeout_secs;
    const char *ip; /* the client's address */
    /* Parsed DKIM keys kept across messages (borrowed, may be NULL). */
    struct dkim_key_cache *dkim_keys;
};

struct msgauth *msgauth_new(const struct msgauth_params *p);
/* Forget the checks (pending lookups are cancelled; no callback). */
void msgauth_free(struct msgauth **m);

/* A From: header field of the message (the whole field). */
void msgauth_from_field(struct msgauth *m, const char *field, size_t len);
/* The next octets of the message as received (CRLF lines). */
void msgauth_feed(struct msgauth *m, const char *data, size_t len);
/* The message is complete: cb runs later on the event loop, once. */
void msgauth_end(struct msgauth *m, void (*cb)(void *arg), void *arg);

/* After the callback: the DKIM results (count returned; 0 means none). */
size_t msgauth_dkim(struct msgauth *m, const struct dkim_result **r);
/* After the callback: the From: check (DMARC_FROM_OK unless the message
 * has no, several, or an unusable From:) and its reason. */
enum dmarc_from_status msgauth_from(const struct msgauth *m, const char **reason);
/* After the callback: the DMARC verdict for this SPF outcome (NULL if SPF
 * was not checked) and MAIL FROM / HELO. */
void msgauth_dmarc(struct msgauth *m, const struct spf_outcome *spf, const char *mailfrom,
                   const char *helo, struct dmarc_verdict *out);

#endif
