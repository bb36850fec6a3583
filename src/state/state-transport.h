/* state-transport: the transport table: a next hop per domain, overriding
 * the normal route (local mailboxes for our domains, MX for the others).
 * An entry "example.org" matches that domain; ".example.org" matches its
 * subdomains. Next hops are checked with transport_parse(). */
#ifndef POSTINO_STATE_TRANSPORT_H
#define POSTINO_STATE_TRANSPORT_H

#include <stddef.h>

#include "state-db.h"

int state_transport_set(struct state_db *db, const char *domain, const char *nexthop,
                        char **error_r);
int state_transport_del(struct state_db *db, const char *domain, char **error_r);
/* The next hop for a domain (exact entry first, then ".parent" ones):
 * 1 and out, 0 if none, -1 on error. */
int state_transport_lookup(struct state_db *db, const char *domain, char *out, size_t outsize);
int state_transport_list(struct state_db *db,
                         void (*fn)(const char *domain, const char *nexthop, void *arg), void *arg);

#endif
