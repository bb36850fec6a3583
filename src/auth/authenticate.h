/* authenticate: checking a login, with the defences against password
 * guessing. One module for SMTP AUTH now and IMAP/POP3 later.
 *
 * - Account lockout: lockout_max_failures failures within
 *   lockout_failure_window lock the account for lockout_duration (0: until
 *   `postino user unlock`). While locked even the right password fails, and
 *   such attempts are not counted again. The same wrong password repeated
 *   within the window counts once (a phone with a stale saved password).
 * - Client penalty: failures are also counted per client network (an IPv4
 *   address, or the /64 of an IPv6 one) in the database, so every process
 *   sees them. Each failure delays the reply more (auth_failure_delay,
 *   doubling, at most auth_failure_delay_max), and past
 *   auth_ip_max_failures the client's attempts are refused unchecked, so
 *   that one address cannot lock an account out.
 * - An unknown user, a wrong password, a locked account and a blocked
 *   client look the same to the client; the outcome's reason tells the log.
 *
 * authenticate() blocks (argon2id, database writes): run it on a worker
 * thread with a context of its own. */
#ifndef POSTINO_AUTHENTICATE_H
#define POSTINO_AUTHENTICATE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/config.h"
#include "password.h"
#include "state/state-db.h"

struct auth_settings {
    long long max_failures;
    long long window;   /* seconds */
    long long lockout;  /* seconds; 0 = until unlocked */
    long long delay_ms; /* first failure */
    long long delay_max_ms;
    long long client_max_failures;
    struct password_cost cost;
};

void auth_settings_from_config(struct auth_settings *set, const struct config *cfg);

struct auth_context;

/* A context for one thread: its own database connection. NULL with
 * *error_r (caller frees). */
struct auth_context *auth_context_new(const char *db_path, const struct auth_settings *set,
                                      char **error_r);
void auth_context_free(struct auth_context **ac);

enum auth_result {
    AUTH_OK,
    AUTH_UNKNOWN_USER,
    AUTH_WRONG_PASSWORD,
    AUTH_ACCOUNT_LOCKED,
    AUTH_CLIENT_BLOCKED,
    AUTH_TEMPFAIL, /* database trouble: try again later */
};

struct auth_outcome {
    enum auth_result result;
    char user[320];  /* the account (canonical form when it exists) */
    bool repeated;   /* the same wrong password again: not counted */
    bool locked_now; /* this failure locked the account */
    bool upgraded;   /* the stored hash was replaced by argon2id */
    long long account_failures;
    long long client_failures; /* in the window, this one included */
    long long delay_ms;        /* wait this long before answering */
};

/* Check user/password for a client (numeric IP text). */
void authenticate(struct auth_context *ac, const char *user, const char *password, size_t len,
                  const char *client_ip, struct auth_outcome *out);

/* The name of a result for log lines: ok, unknown-user, wrong-password,
 * account-locked, client-blocked, tempfail. */
const char *auth_result_name(enum auth_result r);
/* The key failures of a client are counted under: the IPv4 address, or
 * the /64 of an IPv6 address ("2001:db8:1:2::/64"). */
void auth_client_key(const char *ip, char *out, size_t outsize);

#endif
