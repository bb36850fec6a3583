/* smtp-client: the client side of an SMTP or LMTP session, without I/O.
 *
 * The owner connects, feeds received bytes with smtp_client_input() and
 * sends what the output callback gives. The session says hello (EHLO, or
 * HELO when EHLO is refused; LHLO for LMTP), starts TLS when offered
 * (or required), authenticates when told to, then reports on_ready: the
 * owner hands it a message with smtp_client_send(), receives one outcome
 * per recipient, and may send further messages over the same connection
 * or smtp_client_quit().
 *
 * With PIPELINING, MAIL, every RCPT and DATA go out together (RFC 2920).
 * The extensions a message needs are checked before anything is sent:
 * SIZE over the peer's limit, 8-bit content to a peer without 8BITMIME,
 * SMTPUTF8 to a peer without it are permanent failures; DSN parameters
 * are passed on when the peer offers DSN. */
#ifndef POSTINO_SMTP_CLIENT_H
#define POSTINO_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"
#include "smtp-client-reply.h"

/* What happened to one recipient (or to the whole session). */
enum smtp_outcome {
    SMTP_OUTCOME_OK,   /* accepted by the peer */
    SMTP_OUTCOME_TEMP, /* try again later */
    SMTP_OUTCOME_PERM, /* give up */
};

/* Which RFC 5321 4.5.3.2 timeout applies now (the owner runs the clock). */
enum smtp_client_wait {
    SMTP_WAIT_GREETING, /* initial 220: 5 min */
    SMTP_WAIT_COMMAND,  /* EHLO, STARTTLS, AUTH, RSET, QUIT */
    SMTP_WAIT_MAIL,     /* MAIL: 5 min */
    SMTP_WAIT_RCPT,     /* RCPT: 5 min */
    SMTP_WAIT_DATA,     /* DATA initiation: 2 min */
    SMTP_WAIT_BLOCK,    /* sending the message: 3 min per block */
    SMTP_WAIT_DOT,      /* final dot: 10 min */
    SMTP_WAIT_NONE,     /* idle between messages, or done */
};

struct smtp_client_settings {
    const char *helo_name;
    bool lmtp;
    bool starttls;         /* use STARTTLS when offered */
    bool require_tls;      /* fail (temporary) without TLS */
    bool tls;              /* the connection is TLS from the start */
    const char *auth_user; /* AUTH PLAIN when set (only under TLS) */
    const char *auth_password;
};

struct smtp_client_rcpt {
    const char *addr;
    const char *orcpt; /* or NULL */
    unsigned notify;   /* SMTP_NOTIFY_* bits, 0 = none */
};

struct smtp_client_message {
    const char *sender; /* "" for <> */
    unsigned long long size;
    bool body_8bit; /* declared BODY=8BITMIME */
    bool has_8bit;  /* octets >= 0x80 really occur */
    bool smtputf8;
    int ret; /* enum smtp_ret */
    const char *envid;
    const struct smtp_client_rcpt *rcpts;
    size_t n;
};

struct smtp_client;

struct smtp_client_callbacks {
    void (*output)(void *ctx, const char *data, size_t len);
    /* STARTTLS got 220: start TLS, then smtp_client_tls_started() (or
     * smtp_client_abort() if the handshake fails). */
    void (*on_starttls)(void *ctx);
    /* Ready for a message (after the greeting, or after the last one). */
    void (*on_ready)(void *ctx);
    /* The peer wants the message: call smtp_client_body() with it (as
     * stored: CRLF lines, not dot-stuffed) and smtp_client_body_end(). */
    void (*on_body)(void *ctx);
    /* The outcome of recipient i of the current message. */
    void (*on_rcpt)(void *ctx, size_t i, enum smtp_outcome o, const char *reply);
    /* Every recipient of the message has its outcome. */
    void (*on_message_done)(void *ctx);
    /* The session failed (or ended after QUIT): close the connection.
     * When a message was in progress its recipients without an outcome
     * got one through on_rcpt first. reason: the reply or what happened. */
    void (*on_close)(void *ctx, enum smtp_outcome o, const char *reason);
    /* Every reply as it arrives, with what it answers (optional: for
     * timing each step). */
    void (*on_reply)(void *ctx, enum smtp_client_wait what, int code);
};

struct smtp_client *smtp_client_new(const struct smtp_client_settings *set,
                                    const struct smtp_client_callbacks *cb, void *ctx);
void smtp_client_free(struct smtp_client **c);

/* Feed received bytes; returns the octets consumed (the owner keeps the
 * rest; a reply line split across reads is waited for). */
size_t smtp_client_input(struct smtp_client *c, const char *data, size_t len);
void smtp_client_tls_started(struct smtp_client *c);
/* Send a message (only after on_ready). The strings must live until
 * on_message_done. */
void smtp_client_send(struct smtp_client *c, const struct smtp_client_message *m);
/* The message octets, in any pieces; then the end. */
void smtp_client_body(struct smtp_client *c, const char *data, size_t len);
void smtp_client_body_end(struct smtp_client *c);
/* Say goodbye (after on_ready): QUIT, then on_close. */
void smtp_client_quit(struct smtp_client *c);
/* The connection failed (timeout, reset, TLS): give the recipients in
 * flight the outcome and call on_close. */
void smtp_client_abort(struct smtp_client *c, enum smtp_outcome o, const char *reason);

enum smtp_client_wait smtp_client_waiting(const struct smtp_client *c);
bool smtp_client_tls(const struct smtp_client *c);
/* The peer's greeting name (first word of its 220 line). */
const char *smtp_client_peer_name(const struct smtp_client *c);

#endif
