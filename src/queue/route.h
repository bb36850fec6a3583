/* route: where the queue manager sends one recipient. The transport table
 * comes first (it may send a local domain to LMTP, or refuse a domain);
 * then our own mailboxes go to deliver-local, and the rest to the
 * relayhost if there is one, else to the MX of the recipient's domain.
 * A message a content rule FILTERs goes to its filter instead, every
 * recipient of it (route_filter). */
#ifndef POSTINO_ROUTE_H
#define POSTINO_ROUTE_H

#include "envelope.h"
#include "lib/config.h"
#include "state/state-db.h"

enum route_kind {
    ROUTE_TO_LOCAL,   /* deliver-local */
    ROUTE_TO_SMTP,    /* deliver-smtp, to nexthop (SMTP or LMTP) */
    ROUTE_TO_BOUNCE,  /* refuse for good: text */
    ROUTE_TO_DEFER,   /* not now: text */
    ROUTE_TO_DISCARD, /* drop (a transport says so) */
};

struct route {
    enum route_kind kind;
    char nexthop[320]; /* "smtp:...", "lmtp:...", or "relayhost" */
    char text[320];
};

/* Decide the route of r. Never fails: trouble gives ROUTE_TO_DEFER. */
void route_rcpt(struct state_db *db, const struct config *cfg, const struct envelope_rcpt *r,
                struct route *out);

/* The route of every recipient of a message that a FILTER of the content
 * policy sends to a content filter (envelope->filter): ROUTE_TO_SMTP to
 * that next hop, whatever the recipient's own route (local mailbox,
 * transport table, relayhost, MX). A spec that is not an smtp: or lmtp:
 * next hop gives ROUTE_TO_DEFER with the reason. */
void route_filter(const char *spec, struct route *out);

#endif
