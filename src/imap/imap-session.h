/* imap-session: one IMAP4rev1 session (RFC 3501 with the extensions the
 * CAPABILITY reply names) on bytes. It reads commands with imap-parser,
 * runs them on the mailbox store (store/store.h), and answers through its
 * owner's callbacks; it never touches a socket. Logins are decided by the
 * owner (asynchronously: imap_session_auth_done), and so is which store
 * account a user has. */
#ifndef POSTINO_IMAP_SESSION_H
#define POSTINO_IMAP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store_account;

struct imap_session_settings {
    const char *hostname;
    bool tls;               /* the connection is already encrypted (993) */
    bool starttls;          /* STARTTLS can be offered (143 with certificates) */
    bool plaintext_login;   /* logins allowed without TLS (a trusted network) */
    uint64_t max_append;    /* largest message APPEND takes, in octets */
    long long idle_timeout; /* seconds of silence once logged in (>= 30 min) */
};

/* How a login went. */
enum imap_auth_result {
    IMAP_AUTH_OK,
    IMAP_AUTH_FAIL,     /* NO [AUTHENTICATIONFAILED] */
    IMAP_AUTH_TEMPFAIL, /* NO [UNAVAILABLE] */
};

struct imap_session_callbacks {
    void (*output)(void *ctx, const char *data, size_t len);
    /* Octets written and not yet sent: long outputs (FETCH of many
     * messages) pause above a limit and go on after
     * imap_session_output_drained(), which the owner calls once this falls
     * low again after want_output(). */
    size_t (*output_pending)(void *ctx);
    void (*want_output)(void *ctx);
    /* Close after the queued output. */
    void (*close)(void *ctx);
    /* Start TLS now that the OK to STARTTLS is queued. */
    void (*starttls)(void *ctx);
    /* Check user/password; answer with imap_session_auth_done(). */
    void (*auth)(void *ctx, const char *user, const char *password, size_t len);
    /* The store account of a logged-in user (a reference the session
     * drops with store_account_unref), or NULL with a reason in *error_r
     * (static). */
    struct store_account *(*open_account)(void *ctx, const char *user, const char **error_r);
    /* The session changed a folder (new messages, flags, expunges): the
     * owner tells the other sessions of the same account that have it
     * selected (imap_session_notify). */
    void (*changed)(void *ctx, const char *folder);
    /* Seconds of silence allowed from now on (shorter before login). */
    void (*set_timeout)(void *ctx, long long seconds);
    void (*log)(void *ctx, const char *text);
};

struct imap_session;

/* A new session; writes the greeting. */
struct imap_session *imap_session_new(const struct imap_session_settings *set,
                                      const struct imap_session_callbacks *cb, void *ctx);
void imap_session_free(struct imap_session **s);

/* Feed bytes from the client. Returns how many were used: all of them
 * unless the session is now busy (imap_session_busy: a login check, a
 * long output, STARTTLS) or closing; the rest is offered again later. */
size_t imap_session_input(struct imap_session *s, const char *data, size_t len);
bool imap_session_busy(const struct imap_session *s);
bool imap_session_closing(const struct imap_session *s);

/* Events from the owner. */
void imap_session_tls_started(struct imap_session *s);
void imap_session_auth_done(struct imap_session *s, enum imap_auth_result r, const char *user);
void imap_session_output_drained(struct imap_session *s);
/* Another session changed the selected folder, or time passed (IDLE
 * polls the files once a second): bring the client up to date if it may
 * be told now (IDLE), else at the end of its next command. */
void imap_session_notify(struct imap_session *s);
/* True while the session is in IDLE (the owner polls those). */
bool imap_session_idling(const struct imap_session *s);
void imap_session_timeout(struct imap_session *s);
void imap_session_shutdown(struct imap_session *s);

/* The logged-in user (NULL before), and the selected folder (NULL if
 * none), for the owner's bookkeeping. */
const char *imap_session_user(const struct imap_session *s);
const char *imap_session_folder(const struct imap_session *s);
struct store_account *imap_session_account(const struct imap_session *s);

#endif
