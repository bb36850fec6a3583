/* pop3-server: one POP3 session (RFC 1939, CAPA RFC 2449, STLS RFC 2595,
 * SASL RFC 5034) as a state machine on bytes. It never touches a socket
 * or a mailbox: it asks its owner for every decision through callbacks
 * (login, the maildrop, a message's text, the deletions at QUIT), and
 * some of those are answered later (pop3_server_*_done). */
#ifndef POP3_SERVER_H
#define POP3_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#define POP3_LINE_MAX   512   /* a command line (RFC 2449 says 255 suffice) */
#define POP3_AUTH_MAX   12288 /* a SASL response line (RFC 5034 4) */
#define POP3_ERRORS_MAX 10    /* bad commands before the session is closed */
#define POP3_UIDL_MAX   70    /* RFC 1939 7: 1 to 70 characters 0x21-0x7E */
#define POP3_AUTH_TRIES 3     /* failed logins before the session is closed */

struct pop3_message {
    unsigned long long size; /* octets with CRLF, as RETR sends before stuffing */
    char uidl[POP3_UIDL_MAX + 1];
};

struct pop3_settings {
    const char *hostname;
    bool tls;             /* the connection is already encrypted (port 995) */
    bool starttls;        /* STLS can be offered */
    bool plaintext_login; /* logins allowed without TLS (a trusted network) */
};

/* How a login or opening the maildrop went. */
enum pop3_result {
    POP3_OK,
    POP3_FAIL,     /* wrong credentials: -ERR [AUTH] */
    POP3_TEMPFAIL, /* try again later: -ERR [SYS/TEMP] */
    POP3_IN_USE,   /* -ERR [IN-USE] */
};

struct pop3_server_callbacks {
    void (*output)(void *ctx, const char *data, size_t len);
    /* Close after the queued output. */
    void (*close)(void *ctx);
    /* Start TLS now that "+OK Begin TLS" is queued. */
    void (*starttls)(void *ctx);
    /* Check user/password; answer with pop3_server_auth_done(). */
    void (*auth)(void *ctx, const char *user, const char *password, size_t len);
    /* Open the maildrop of the logged-in user; answer with
     * pop3_server_maildrop_done(). */
    void (*open)(void *ctx, const char *user);
    /* The text of message i (0-based) with CRLF line ends; *data stays
     * valid until the next callback. 0, or -1 if it cannot be read now. */
    int (*message)(void *ctx, size_t i, const char **data, size_t *len);
    /* QUIT in the TRANSACTION state: remove the messages marked deleted
     * (deleted[i] for each i < n). 0, or -1 if some could not be. */
    int (*commit)(void *ctx, const bool *deleted, size_t n);
    void (*log)(void *ctx, const char *text);
};

struct pop3_server;

/* A new session; writes the greeting. */
struct pop3_server *pop3_server_new(const struct pop3_settings *set,
                                    const struct pop3_server_callbacks *cb, void *ctx);
void pop3_server_free(struct pop3_server **s);

/* Feed bytes from the client. Returns how many were used: all of them
 * unless the session is now waiting for an answer (pop3_server_waiting)
 * or closing. */
size_t pop3_server_input(struct pop3_server *s, const char *data, size_t len);
bool pop3_server_waiting(const struct pop3_server *s);
bool pop3_server_closing(const struct pop3_server *s);

/* TLS is up after STLS. */
void pop3_server_tls_started(struct pop3_server *s);
/* The answer to the auth callback; user is the account name to use. */
void pop3_server_auth_done(struct pop3_server *s, enum pop3_result r, const char *user);
/* The answer to the open callback: the messages of the maildrop (copied). */
void pop3_server_maildrop_done(struct pop3_server *s, enum pop3_result r,
                               const struct pop3_message *msgs, size_t n);
/* The client was silent too long / the service stops: say so, close. */
void pop3_server_timeout(struct pop3_server *s);
void pop3_server_shutdown(struct pop3_server *s);
/* The user name once logged in, else NULL. */
const char *pop3_server_user(const struct pop3_server *s);

#endif
