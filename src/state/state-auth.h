/* state-auth: what the database keeps about logins: failure counters of
 * accounts and of client networks, the addresses a user may send as, and
 * server secrets. The policy that uses them is auth/authenticate. */
#ifndef POSTINO_STATE_AUTH_H
#define POSTINO_STATE_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "state-db.h"

/* Failure bookkeeping of one account. */
struct state_auth_user {
    char address[320];
    char password[256];
    bool admin_locked;      /* `postino user lock` */
    long long failures;     /* in the current window */
    long long window_start; /* unix time the window began */
    long long locked_until; /* unix time; -1: until unlocked; 0: not locked */
    char last_fp[65];       /* fingerprint of the last wrong password, "" if none */
};

/* 1 and *out filled, 0 if no such user, -1 on a database error. */
int state_auth_user_get(struct state_db *db, const char *address, struct state_auth_user *out);
/* Store failures, window_start, locked_until, last_fp of u. 0 or -1. */
int state_auth_user_put(struct state_db *db, const struct state_auth_user *u);
/* Replace the password hash (upgrade after a login). 0 or -1. */
int state_auth_user_set_password(struct state_db *db, const char *address, const char *hash);

/* Failures of one client network (an IPv4 address or an IPv6 /64). */
struct state_auth_client {
    long long failures;
    long long window_start;
    long long last;
};
/* 1 and *out, 0 if unknown, -1 on error. */
int state_auth_client_get(struct state_db *db, const char *net, struct state_auth_client *out);
int state_auth_client_put(struct state_db *db, const char *net, const struct state_auth_client *c);
/* Forget client networks with no failure since `before`. Returns the
 * number removed or -1. */
int state_auth_client_expire(struct state_db *db, long long before);

/* Transactions around read-modify-write of the counters (other processes
 * update them too). 0 or -1. */
int state_auth_begin(struct state_db *db);
int state_auth_commit(struct state_db *db);
void state_auth_rollback(struct state_db *db);

/* A 32-octet secret of this installation named key, made on first use.
 * 0 or -1. */
int state_meta_secret(struct state_db *db, const char *key, unsigned char out[32]);

/* May user send as address? (an exact entry, or "@domain"). 1, 0 or -1. */
int state_send_as_allowed(struct state_db *db, const char *user, const char *address);
int state_send_as_add(struct state_db *db, const char *user, const char *address, char **error_r);
int state_send_as_del(struct state_db *db, const char *user, const char *address, char **error_r);
/* Call fn for every entry of user (or of everyone with user NULL). */
int state_send_as_list(struct state_db *db, const char *user,
                       void (*fn)(const char *user, const char *address, void *arg), void *arg);

#endif
