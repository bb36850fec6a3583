/* state-user: mailbox accounts ("user@domain" with a password hash). */
#ifndef POSTINO_STATE_USER_H
#define POSTINO_STATE_USER_H

#include <stdbool.h>

#include "state-db.h"

struct state_user {
    char address[320];
    char domain[256];
    char password[256]; /* an encoded hash ($argon2id$...) */
    long long created;
    bool locked;              /* locked by the administrator */
    long long failures;       /* failed logins in the current window */
    long long locked_until;   /* lockout: unix time, -1 until unlocked, 0 none */
    long long quota_bytes;    /* -1: the configuration's default, 0: no limit */
    long long quota_messages; /* the same */
};

/* Add user@domain with a password hash; the domain must exist. 0 or -1
 * with a message in *error_r (caller frees). */
int state_user_add(struct state_db *db, const char *address, const char *hash, char **error_r);
int state_user_del(struct state_db *db, const char *address, char **error_r);
int state_user_set_password(struct state_db *db, const char *address, const char *hash,
                            char **error_r);
int state_user_set_locked(struct state_db *db, const char *address, bool locked, char **error_r);
/* Set an account's quota: bytes and messages, each -1 (the
 * configuration's default, mail_quota / mail_quota_messages), 0 (no
 * limit) or a limit. 0 or -1 with *error_r (caller frees). */
int state_user_set_quota(struct state_db *db, const char *address, long long bytes,
                         long long messages, char **error_r);
/* The quota that applies to an account, defaults resolved: 1 with *bytes
 * and *messages set (0: no limit), 0 if there is no such user, -1 on a
 * database error. */
int state_user_quota(struct state_db *db, const char *address, long long default_bytes,
                     long long default_messages, unsigned long long *bytes,
                     unsigned long long *messages);
/* 1 and *out filled if the user exists, 0 if not, -1 on a database error. */
int state_user_get(struct state_db *db, const char *address, struct state_user *out);
/* Call fn for every user (of one domain, or all with domain NULL), in
 * address order. Returns the count or -1. */
int state_user_list(struct state_db *db, const char *domain,
                    void (*fn)(const struct state_user *u, void *arg), void *arg);

#endif
