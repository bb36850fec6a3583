/* state-domain: the mail domains this server receives for. */
#ifndef POSTINO_STATE_DOMAIN_H
#define POSTINO_STATE_DOMAIN_H

#include "state-db.h"

/* Add a domain (lowercased). 0, or -1 with a message in *error_r (caller
 * frees): already present, bad name, database error. */
int state_domain_add(struct state_db *db, const char *name, char **error_r);
/* Remove a domain that has no users, aliases or DKIM keys left. 0 or -1. */
int state_domain_del(struct state_db *db, const char *name, char **error_r);
/* 1 if the domain is ours, 0 if not, -1 on a database error. */
int state_domain_exists(struct state_db *db, const char *name);
/* Call fn for each domain in name order. Returns the count or -1. */
int state_domain_list(struct state_db *db, void (*fn)(const char *name, void *arg), void *arg);

#endif
