/* spf-resolve: an SPF check (auth/spf) answered by the server's
 * asynchronous DNS (lib/dns), so that a session waiting for it never holds
 * up another one. A check that takes longer than its time limit ends as
 * temperror. */
#ifndef POSTINO_SPF_RESOLVE_H
#define POSTINO_SPF_RESOLVE_H

#include <stdbool.h>

#include "spf.h"

struct dns;
struct event_base;
struct spf_resolve;

/* The outcome; its strings live until spf_resolve_free. The callback may
 * free the check. */
typedef void spf_resolve_cb(void *arg, const struct spf_outcome *out);

/* Start checking the MAIL FROM identity (or the HELO identity when helo
 * is true). cb runs later on the event loop, never from within this call.
 * NULL if req->ip is not an IP address. */
struct spf_resolve *spf_resolve_start(struct event_base *base, struct dns *dns,
                                      const struct spf_request *req, bool helo,
                                      unsigned timeout_secs, spf_resolve_cb *cb, void *arg);

/* The outcome once the callback has run, or NULL. */
const struct spf_outcome *spf_resolve_outcome(const struct spf_resolve *r);

/* Forget the check (done or not): cb will not run; a lookup still in
 * flight is cancelled. Sets *r to NULL. */
void spf_resolve_free(struct spf_resolve **r);

#endif
