/* smtp-server: the server side of one SMTP session, without any I/O.
 *
 * The owner feeds received bytes with smtp_server_input() and gets replies
 * through the output callback. Every decision that is not pure protocol
 * (does this recipient exist? can the message be stored?) is asked of the
 * owner through a callback, which either answers at once (SMTP_DECIDED,
 * reply filled in) or later (SMTP_PENDING, then smtp_server_resume()).
 * While a decision is pending the session consumes no input, so the
 * owner should stop reading from the network until it resumes. */
#ifndef POSTINO_SMTP_SERVER_H
#define POSTINO_SMTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "smtp-command.h"
#include "smtp-data.h"

#define SMTP_REPLY_TEXT_MAX 400

/* One reply: "code enhanced text". text may hold several lines separated
 * by '\n'; each becomes a line of a multi-line reply. */
struct smtp_reply {
    int code;     /* 250, 550 ... */
    char enh[16]; /* "2.0.0" (RFC 3463), "" to leave out */
    char text[SMTP_REPLY_TEXT_MAX];
};

/* Fill a reply; returns r. */
struct smtp_reply *smtp_reply_set(struct smtp_reply *r, int code, const char *enh, const char *fmt,
                                  ...) __attribute__((format(printf, 4, 5)));

enum smtp_decision {
    SMTP_DECIDED,
    SMTP_PENDING,
};

/* Why a message ended, passed to on_data_end. */
struct smtp_data_result {
    unsigned long long size; /* octets of the message as stored (CRLF) */
    bool bdat;               /* it came with BDAT */
    bool has_8bit;
    const char *message_id; /* the Message-ID: field's value, "" if none */
};

struct smtp_server_session;

enum smtp_auth_mech {
    SMTP_AUTH_PLAIN,
    SMTP_AUTH_LOGIN,
};

/* The client's responses of an AUTH exchange, still base64 as sent
 * (decoding and checking them is the owner's business). */
struct smtp_auth_request {
    enum smtp_auth_mech mech;
    const char *resp[2]; /* PLAIN: the one response; LOGIN: user, password */
    size_t resp_len[2];
};

struct smtp_server_callbacks {
    /* Send bytes to the client. */
    void (*output)(void *ctx, const char *data, size_t len);
    /* Close the connection once the output has been sent. */
    void (*close)(void *ctx);
    /* EHLO/HELO accepted by the protocol checks; may refuse (optional). */
    enum smtp_decision (*on_helo)(void *ctx, const char *name, bool ehlo, struct smtp_reply *r);
    /* MAIL with valid syntax, in the right state. */
    enum smtp_decision (*on_mail)(void *ctx, const struct smtp_mail_args *a, struct smtp_reply *r);
    /* RCPT with valid syntax; a 2xx reply adds the recipient. */
    enum smtp_decision (*on_rcpt)(void *ctx, const struct smtp_rcpt_args *a, struct smtp_reply *r);
    /* DATA or the first BDAT: prepare to store a message (a non-2xx/3xx
     * reply refuses it). */
    enum smtp_decision (*on_data_start)(void *ctx, struct smtp_reply *r);
    /* Message octets (CRLF lines, dot-stuffing removed). */
    void (*on_data_write)(void *ctx, const char *data, size_t len);
    /* The whole message arrived and passed the protocol checks: store it
     * and reply (usually SMTP_PENDING until it is on disk). */
    enum smtp_decision (*on_data_end)(void *ctx, const struct smtp_data_result *res,
                                      struct smtp_reply *r);
    /* The message in progress is refused or abandoned: drop what was
     * written of it. */
    void (*on_data_abort)(void *ctx);
    /* The transaction is over (RSET, HELO, after the final reply...). */
    void (*on_reset)(void *ctx);
    /* A line for the log about something the client did (sanitized). */
    void (*on_log)(void *ctx, const char *text);
    /* STARTTLS was accepted and its 220 reply output: the owner discards
     * every octet the client sent after the command (a command injected
     * in plaintext must never run under TLS), starts TLS, then calls
     * smtp_server_tls_started(), or closes. (optional: without it STARTTLS
     * is not offered) */
    void (*on_starttls)(void *ctx);
    /* AUTH: check the credentials; a 235 reply authenticates the session.
     * (optional: without it AUTH is not offered) */
    enum smtp_decision (*on_auth)(void *ctx, const struct smtp_auth_request *a,
                                  struct smtp_reply *r);
};

struct smtp_server_settings {
    const char *hostname;
    unsigned long long max_message_size;
    unsigned max_recipients;
    unsigned max_errors;
    unsigned max_received;
    /* Limits on the header section, checked at the end of the message
     * (0: none): the unfolded Subject value, the number of fields, the
     * octets of the whole section. */
    size_t max_subject;
    unsigned max_header_fields;
    unsigned long long max_header_size;
    bool starttls;     /* offer STARTTLS (until TLS is on) */
    bool auth;         /* offer AUTH, once TLS is on */
    bool tls;          /* TLS from the start (implicit TLS) */
    bool require_tls;  /* MAIL only under TLS: else 530 5.7.0 */
    bool require_auth; /* MAIL only after AUTH: else 530 5.7.0 */
};

/* Create a session; sends the 220 greeting at once. Free with
 * smtp_server_session_free(). */
struct smtp_server_session *smtp_server_session_new(const struct smtp_server_settings *set,
                                                    const struct smtp_server_callbacks *cb,
                                                    void *ctx);
void smtp_server_session_free(struct smtp_server_session **s);

/* Feed received bytes. Returns the octets consumed; the owner keeps the
 * rest and feeds it again after more arrive or after smtp_server_resume().
 * Consumes nothing while a decision is pending or after close. */
size_t smtp_server_input(struct smtp_server_session *s, const char *data, size_t len);
/* Give the answer to a pending decision. */
void smtp_server_resume(struct smtp_server_session *s, const struct smtp_reply *r);

/* Send "421 4.4.2 ... timeout" / a shutdown notice and close. */
void smtp_server_timeout(struct smtp_server_session *s);
void smtp_server_shutdown(struct smtp_server_session *s);

/* Send "421 enh text" and close (too many failed logins, ...). */
void smtp_server_disconnect(struct smtp_server_session *s, const char *enh, const char *text);

/* TLS is up after STARTTLS: the session starts over (EHLO again). */
void smtp_server_tls_started(struct smtp_server_session *s);

bool smtp_server_pending(const struct smtp_server_session *s);
bool smtp_server_tls(const struct smtp_server_session *s);
bool smtp_server_authenticated(const struct smtp_server_session *s);
bool smtp_server_closed(const struct smtp_server_session *s);
/* The HELO/EHLO name ("" before one), and whether EHLO was used. */
const char *smtp_server_helo(const struct smtp_server_session *s);
bool smtp_server_esmtp(const struct smtp_server_session *s);
/* The accepted MAIL of the current transaction (NULL outside one). */
const struct smtp_mail_args *smtp_server_mail(const struct smtp_server_session *s);
unsigned smtp_server_rcpt_count(const struct smtp_server_session *s);

#endif
