/* login-check: checking a user's password on worker threads, for every
 * service that takes logins (smtpd's AUTH, imapd, pop3d), and the log
 * lines each check leaves. A failure's line is the one the fail2ban
 * filter (contrib/fail2ban) reads, whichever service wrote it. */
#ifndef POSTINO_LOGIN_CHECK_H
#define POSTINO_LOGIN_CHECK_H

#include <stddef.h>

#include "auth/authenticate.h"
#include "lib/config.h"

struct event_base;
struct login_checker;

/* Worker threads with their own database connections (state/postino.db
 * under cfg's data_dir) and the lockout settings of cfg. Never NULL; a
 * thread without a database answers every check with AUTH_TEMPFAIL (and
 * says why in the log once). */
struct login_checker *login_checker_new(struct event_base *base, const struct config *cfg);
/* Finish the checks in flight (their callbacks run), stop, free. */
void login_checker_free(struct login_checker **lc);

/* Called on the event loop when a check is over, after its log lines. A
 * failure's answer should wait o->delay_ms (the penalty). */
typedef void (*login_check_done_fn)(void *arg, const struct auth_outcome *o);

/* Check user/password for a client (numeric IP text) of service ("smtp",
 * "submission", "imap", "pop3": a static string). The password is copied
 * and wiped after the check. done(arg, outcome) follows on the event loop
 * in every case: arg must stay valid until then. */
void login_check_start(struct login_checker *lc, const char *service, const char *user,
                       const char *password, size_t password_len, const char *client_ip,
                       login_check_done_fn done, void *arg);

#endif
