/* access-server: the network side shared by imapd and pop3d, the services
 * through which users read their mail.
 *
 * It accepts connections on the listening sockets the supervisor hands
 * over (implicit TLS or plain), enforces the connection limits, runs TLS
 * (at once, or when the protocol asks after STARTTLS/STLS), checks logins
 * on worker threads with the same lockout and per-client penalty as SMTP
 * AUTH (auth/authenticate.h), times out silent clients, and stops cleanly
 * on SIGTERM. The protocol (IMAP, POP3) is a session object behind the
 * hooks of struct access_protocol: it is given the bytes that arrive and
 * answers through access_conn_write(). */
#ifndef POSTINO_ACCESS_SERVER_H
#define POSTINO_ACCESS_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/authenticate.h"
#include "daemon.h"

struct access_conn;
struct access_server;
struct event_base;

/* What a protocol provides. Every hook is called on the event loop. */
struct access_protocol {
    const char *name; /* "imap", "pop3": logs and the login failure line */
    /* A new connection; tls is true when it is already encrypted (993,
     * 995: the handshake is still running, input comes after it). Returns
     * the session (never NULL). It should write its greeting. */
    void *(*session_new)(struct access_conn *c, bool tls);
    /* Bytes from the client. Returns how many were used: all of them,
     * unless the session became busy (access_conn_busy) or closing, in
     * which case the rest is offered again after access_conn_resume(). */
    size_t (*input)(void *session, const char *data, size_t len);
    /* The TLS handshake after access_conn_starttls() is done. */
    void (*tls_started)(void *session);
    /* The answer to access_conn_authenticate(), after any penalty delay. */
    void (*auth_done)(void *session, const struct auth_outcome *o);
    /* The output fell below the low-water mark while the session had
     * output_wanted set (a long FETCH goes on). May be NULL. */
    void (*output_drained)(void *session);
    /* The client was silent for too long: say goodbye and close. */
    void (*timeout)(void *session);
    /* The service stops: say goodbye and close. */
    void (*shutdown)(void *session);
    /* The connection is gone; free the session. */
    void (*session_free)(void *session);
    /* The one-line refusal sent when a limit refuses a connection, e.g.
     * "* BYE Too many connections\r\n". why is a short reason. */
    void (*refusal)(const char *why, char *out, size_t outsize);
};

struct access_listener {
    int fd;
    bool tls; /* implicit TLS */
};

struct access_settings {
    long long max_connections;
    long long max_connections_per_ip;
    long long timeout; /* seconds of silence allowed, set per connection later */
};

/* Run the service until SIGTERM/SIGINT: accept on the listeners, serve
 * every connection, then wait for the sessions to say goodbye. setup, if
 * not NULL, is called with arg once the event loop exists (for the
 * protocol's own timers), and teardown before the loop is freed. Returns
 * the process exit status. */
int access_server_run(struct daemon_env *env, const struct access_protocol *proto,
                      const struct access_listener *listeners, size_t n_listeners,
                      const struct access_settings *set,
                      void (*setup)(struct access_server *s, void *arg),
                      void (*teardown)(struct access_server *s, void *arg), void *arg);

struct event_base *access_server_base(struct access_server *s);
struct config *access_server_config(struct access_server *s);
/* Whether TLS certificates are loaded (STARTTLS can be offered). */
bool access_server_has_tls(struct access_server *s);

/* Queue output for the client. */
void access_conn_write(struct access_conn *c, const void *data, size_t len);
void access_conn_print(struct access_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Octets queued and not yet sent. */
size_t access_conn_output_len(struct access_conn *c);
/* Ask for output_drained() once the output falls below a low-water mark. */
void access_conn_want_output(struct access_conn *c, bool want);

/* Stop feeding input until access_conn_resume() (a command waits for a
 * login check, a long output, a timer...). */
void access_conn_busy(struct access_conn *c);
/* Feed the waiting input again (from a later event). */
void access_conn_resume(struct access_conn *c);

/* Close once the queued output has left. The session is freed then. */
void access_conn_close(struct access_conn *c);
/* Start TLS once the current input has been handled (the reply to
 * STARTTLS/STLS must be queued first). Plaintext the client sent after the
 * command is discarded (command injection, CVE-2011-0411). */
void access_conn_starttls(struct access_conn *c);
bool access_conn_tls(const struct access_conn *c);
/* "TLSv1.3 with cipher ..." once TLS is up, else "". */
const char *access_conn_tls_info(const struct access_conn *c);
/* The client's numeric address. */
const char *access_conn_ip(const struct access_conn *c);
/* True if the client is in plaintext_login_networks (may log in without
 * TLS). */
bool access_conn_plaintext_login_ok(const struct access_conn *c);
/* Seconds of silence allowed from now on. */
void access_conn_set_timeout(struct access_conn *c, long long seconds);
struct access_server *access_conn_server(struct access_conn *c);

/* Check a login on a worker thread; auth_done() gets the outcome (a
 * failure after the penalty delay). The connection is busy meanwhile.
 * Logs the outcome (the failure line is the one fail2ban reads). */
void access_conn_authenticate(struct access_conn *c, const char *user, const char *password,
                              size_t password_len);

#endif
