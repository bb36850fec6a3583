/* state-alias: addresses that forward to one or several other addresses.
 *
 * An alias address is "local@domain" of one of our domains, or "@domain"
 * for a catch-all; a target is any address, local or remote. */
#ifndef POSTINO_STATE_ALIAS_H
#define POSTINO_STATE_ALIAS_H

#include "state-db.h"

/* Add one target to an alias. 0 or -1 with *error_r (caller frees). */
int state_alias_add(struct state_db *db, const char *address, const char *target, char **error_r);
/* Remove one target, or with target NULL every target of the alias. */
int state_alias_del(struct state_db *db, const char *address, const char *target, char **error_r);
/* Call fn for each target of address. Returns the count, 0 if it is not
 * an alias, -1 on a database error. */
int state_alias_targets(struct state_db *db, const char *address,
                        void (*fn)(const char *target, void *arg), void *arg);
/* Call fn for every (alias, target) pair, in order. Count or -1. */
int state_alias_list(struct state_db *db,
                     void (*fn)(const char *address, const char *target, void *arg), void *arg);

#endif
