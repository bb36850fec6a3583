/* state-dkim: the DKIM keys of our domains (table dkim_keys).
 *
 * One row per key: the domain that signs, the selector (its DNS name is
 * SELECTOR._domainkey.DOMAIN), the type ("rsa" or "ed25519"), its size,
 * when it was made, and whether outbound mail is signed with it. The
 * private key itself is a file (dkim-keyfile.h); a row says it should
 * exist. A domain with keys cannot be deleted (state_domain_del). */
#ifndef POSTINO_STATE_DKIM_H
#define POSTINO_STATE_DKIM_H

#include <stdbool.h>

#include "state-db.h"

struct state_dkim_key {
    char domain[256];  /* lowercase */
    char selector[64]; /* lowercase */
    char type[8];      /* "rsa" or "ed25519" */
    unsigned bits;     /* RSA modulus size; 256 for Ed25519 */
    long long created; /* unix time */
    bool active;       /* outbound mail of domain is signed with it */
};

/* Add a key row (domain and selector lowercased; created as given, or the
 * current time if 0). The domain must be ours and the selector new for it.
 * 0, or -1 with a message in *error_r (caller frees). */
int state_dkim_add(struct state_db *db, const struct state_dkim_key *k, char **error_r);
/* Remove a key row. 0, or -1 (no such key, database error). */
int state_dkim_del(struct state_db *db, const char *domain, const char *selector, char **error_r);
/* Mark a key used for signing or not. 0, or -1 (no such key, database). */
int state_dkim_set_active(struct state_db *db, const char *domain, const char *selector,
                          bool active, char **error_r);
/* 1 and *out filled if the key exists, 0 if not, -1 on a database error. */
int state_dkim_get(struct state_db *db, const char *domain, const char *selector,
                   struct state_dkim_key *out);
/* Call fn for each key (of one domain, or all with domain NULL; only the
 * active ones with active_only), by domain then selector. This is what a
 * signer asks for the keys of a sending domain. Returns the count or -1. */
int state_dkim_list(struct state_db *db, const char *domain, bool active_only,
                    void (*fn)(const struct state_dkim_key *k, void *arg), void *arg);

#endif
