/* milter: an asynchronous client of one milter for one SMTP session.
 *
 * The Sendmail milter protocol, version 6 (milter-packet.h): postino is
 * the MTA. milter_open() connects (a Unix socket path, or a numeric
 * "host:port" / "[v6]:port"; no DNS on the path of a message) under a
 * connect timeout and negotiates; then the owner makes one call per SMTP
 * stage (connect, helo, mail, rcpt, data, header, eoh, body, eob), each
 * answered exactly once through the callback given to milter_open(),
 * from the event loop and never from within the call, under a
 * per-command timeout. Only one call may be pending at a time.
 *
 * Offered to the milter: every step may be declined (SMFIP_NOCONNECT ...
 * NODATA) or left unanswered (SMFIP_NR_*: the call is then answered
 * CONTINUE from the loop once the command is queued). Offered actions: header
 * add/insert/change, body replacement, recipient add/delete, sender
 * change, quarantine. A step the milter declined, and every message step
 * after it answered ACCEPT, DISCARD, REJECT or TEMPFAIL for the message
 * (or ACCEPT for the session), is not sent: the callback then says
 * CONTINUE with `skipped` set.
 *
 * A failure (connect refused, timeout, the connection closed, a protocol
 * error) is reported as MILTER_FAILED: the owner applies its per-milter
 * default (accept or tempfail); the session is then dead (every call
 * fails) and must be cancelled. The process must ignore SIGPIPE. */
#ifndef POSTINO_POLICY_MILTER_H
#define POSTINO_POLICY_MILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/milter-packet.h"

struct event_base;

#define MILTER_ADDRESS_TEXT_MAX 256        /* bytes of a milter's address */
#define MILTER_DETAIL_MAX       256        /* bytes of the why of a failure */
#define MILTER_MODS_MAX         1024       /* modifications accepted at end of body */
#define MILTER_MODS_BYTES_MAX   (4u << 20) /* bytes of their names and values */

enum milter_stage {
    MILTER_STAGE_OPEN, /* milter_open: connected and negotiated */
    MILTER_STAGE_CONNECT,
    MILTER_STAGE_HELO,
    MILTER_STAGE_MAIL,
    MILTER_STAGE_RCPT,
    MILTER_STAGE_DATA,
    MILTER_STAGE_HEADER,
    MILTER_STAGE_EOH,
    MILTER_STAGE_BODY,
    MILTER_STAGE_EOB,
};

enum milter_verdict {
    MILTER_CONTINUE,   /* go on */
    MILTER_ACCEPT,     /* accept; no more calls for this message (at
                        * connect or helo: for the session) */
    MILTER_REJECT,     /* 5xx (at rcpt: this recipient only) */
    MILTER_TEMPFAIL,   /* 4xx (at rcpt: this recipient only) */
    MILTER_DISCARD,    /* accept and drop the message */
    MILTER_REPLY,      /* reply with code, enh, text (4xx or 5xx) */
    MILTER_QUARANTINE, /* eob: accept into quarantine, for reason */
    MILTER_FAILED,     /* no verdict: failure and detail say why */
};

enum milter_failure {
    MILTER_FAIL_NONE,
    MILTER_FAIL_CONNECT,   /* connect refused, no such socket, ... */
    MILTER_FAIL_TIMEOUT,   /* no connection or no answer in time */
    MILTER_FAIL_IO,        /* the connection broke or closed */
    MILTER_FAIL_PROTOCOL,  /* a malformed or unexpected packet */
    MILTER_FAIL_NEGOTIATE, /* the milter wants what we do not offer */
};

enum milter_mod_type {
    MILTER_MOD_ADD_HEADER,    /* name, value: append a field */
    MILTER_MOD_INSERT_HEADER, /* index, name, value: insert at index (0 = first) */
    MILTER_MOD_CHANGE_HEADER, /* index (1 = first of that name), name,
                               * value ("" = delete that field) */
    MILTER_MOD_ADD_RCPT,      /* name: the address */
    MILTER_MOD_DELETE_RCPT,   /* name: the address */
    MILTER_MOD_CHANGE_FROM,   /* name: the address, value: ESMTP arguments */
};

/* One modification requested at end of body, in the order received.
 * Strings are terminated and passed the checks of milter_reply_decode(). */
struct milter_mod {
    enum milter_mod_type type;
    uint32_t index;
    const char *name;
    const char *value;
};

/* What the callback is told (valid only during the call). */
struct milter_result {
    enum milter_stage stage;
    enum milter_verdict verdict;
    bool skipped; /* nothing was sent for this call */
    /* MILTER_REPLY: code 400..599, enh ("4.7.1" or ""), text (printable) */
    unsigned code;
    char enh[MILTER_ENH_MAX + 1];
    char text[MILTER_REPLY_LINE_MAX + 1];
    /* MILTER_QUARANTINE: the reason (printable) */
    char reason[MILTER_REPLY_LINE_MAX + 1];
    /* MILTER_FAILED: what went wrong, and a printable line for the log */
    enum milter_failure failure;
    char detail[MILTER_DETAIL_MAX + 1];
    /* MILTER_STAGE_EOB (any verdict but FAILED): the modifications, and
     * the new body if the milter replaced it (the bytes as the milter
     * sent them, CRLF line ends expected). */
    const struct milter_mod *mods;
    size_t n_mods;
    bool body_replaced;
    const char *body;
    size_t body_len;
};

/* Called once per call with its result. The session stays the owner's:
 * it may make the next call from within the callback. */
typedef void milter_done_fn(const struct milter_result *result, void *arg);

struct milter_options {
    const char *address;         /* "/path.sock", "127.0.0.1:8891", "[::1]:8891" */
    unsigned connect_timeout_ms; /* to connect and negotiate */
    unsigned command_timeout_ms; /* to answer one command (PROGRESS restarts it) */
    size_t body_max;             /* bytes of a replacement body accepted */
};

struct milter;

/* Check an address as milter_open() takes it, for the configuration
 * check. Returns 0, or -1 with a static reason in *error_r. */
int milter_address_check(const char *address, const char **error_r);

/* Connect and negotiate; cb(result, arg) with stage OPEN tells CONTINUE
 * (ready) or FAILED. Returns the session, or NULL (no callback) only if
 * the address is invalid, with a static reason in *error_r. */
struct milter *milter_open(struct event_base *base, const struct milter_options *opts,
                           milter_done_fn *cb, void *arg, const char **error_r);

/* The stage calls. Each returns 0 (the callback will come), or -1 (no
 * callback) if a call is pending, the session failed, was quit, or the
 * arguments cannot be encoded (longer than a packet).
 * connect: the client's name ("[192.0.2.1]" if it has none), family
 * (SMFIA_INET, SMFIA_INET6, SMFIA_UNIX or SMFIA_UNKNOWN), port, address.
 * mail, rcpt: argv[0] the address in <>, then ESMTP parameters. A REJECT
 * or TEMPFAIL at rcpt concerns that recipient only. */
int milter_connect(struct milter *m, const char *hostname, char family, uint16_t port,
                   const char *address);
int milter_helo(struct milter *m, const char *helo);
int milter_mail(struct milter *m, const char *const *argv, size_t argc);
int milter_rcpt(struct milter *m, const char *const *argv, size_t argc);
int milter_data(struct milter *m);
/* One header field: name and value as received (without the colon and
 * the final CRLF). */
int milter_header(struct milter *m, const char *name, const char *value);
int milter_eoh(struct milter *m);
/* A piece of the body (CRLF line ends), sent in chunks of at most
 * MILTER_BODY_CHUNK_MAX bytes, each answered; the first answer other
 * than CONTINUE ends the call. data must stay valid until the callback. */
int milter_body(struct milter *m, const void *data, size_t len);
/* End of the message: the final verdict and the modifications. */
int milter_eob(struct milter *m);

/* Macros for the next command of `stage` ('C', 'H', 'M', 'R', 'T',
 * 'L', 'N', 'E'): sent at once, no answer. Returns 0 or -1 (as above). */
int milter_macros(struct milter *m, char stage, const char *const *names, const char *const *values,
                  size_t n_pairs);
/* The message is abandoned (RSET, the client left, another milter
 * decided): SMFIC_ABORT, no answer; the next message starts afresh.
 * Returns 0, or -1 if a call is pending or the session is dead. */
int milter_abort(struct milter *m);

/* End the session politely: SMFIC_QUIT, then the connection is closed
 * once it is sent (or after the command timeout); *mp is set to NULL and
 * a pending callback never comes. No effect on NULL. */
void milter_quit(struct milter **mp);
/* Abandon the session at once (no QUIT): close, free, *mp = NULL; a
 * pending callback never comes. No effect on NULL. */
void milter_cancel(struct milter **mp);

/* The negotiated protocol flags (SMFIP_*) and actions (SMFIF_*), once
 * open succeeded. */
uint32_t milter_protocol(const struct milter *m);
uint32_t milter_actions(const struct milter *m);

/* Lower-case names for logs ("continue", "reject", ...; "connect",
 * "timeout", ...; "rcpt", "eob", ...). */
const char *milter_verdict_name(enum milter_verdict verdict);
const char *milter_failure_name(enum milter_failure failure);
const char *milter_stage_name(enum milter_stage stage);

#endif
