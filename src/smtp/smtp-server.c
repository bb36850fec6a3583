#include "smtp-server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "smtp-line.h"

enum phase {
    PH_CMD,       /* reading command lines */
    PH_SKIP_LINE, /* discarding the rest of an over-long line */
    PH_DATA,      /* reading DATA up to the end mark */
    PH_BDAT,      /* reading the octets of a BDAT chunk */
    PH_AUTH,      /* reading a line of an AUTH exchange */
    PH_PENDING,   /* waiting for the owner's decision */
    PH_CLOSED,
};

enum pending {
    PK_NONE,
    PK_HELO,
    PK_MAIL,
    PK_RCPT,
    PK_DATA_START,
    PK_BDAT_START,
    PK_DATA_END,
    PK_STARTTLS,
    PK_AUTH,
};

struct smtp_server_session {
    struct smtp_server_settings set;
    struct smtp_server_callbacks cb;
    void *ctx;

    enum phase phase;
    enum pending pending;
    unsigned errors;
    int skip_cr;

    bool helo_done;
    bool esmtp;
    char helo[SMTP_DOMAIN_MAX + 1];
    char helo_pending[SMTP_DOMAIN_MAX + 1];
    bool helo_pending_ehlo;

    bool in_mail;
    struct smtp_mail_args mail;
    struct smtp_mail_args mail_pending;
    unsigned nrcpt;

    /* The message in progress (DATA or BDAT). */
    bool data_started; /* on_data_start accepted: the owner holds a message */
    bool too_big;
    struct smtp_data_parser data;

    /* BDAT */
    bool bdat_mode;               /* this transaction uses BDAT */
    unsigned long long bdat_left; /* octets of the chunk still to read */
    bool bdat_last;
    bool bdat_discard; /* consume the chunk, then send bdat_reply */
    struct smtp_reply bdat_reply;

    /* TLS and AUTH */
    bool tls;
    bool authenticated;
    enum smtp_auth_mech auth_mech;
    char *auth_user; /* LOGIN: the user name (base64) until the password comes */
};

struct smtp_reply *smtp_reply_set(struct smtp_reply *r, int code, const char *enh, const char *fmt,
                                  ...)
{
    r->code = code;
    str_copy(r->enh, sizeof(r->enh), enh ? enh : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->text, sizeof(r->text), fmt, ap);
    va_end(ap);
    return r;
}

/* Parse a static reply string "501 5.1.7 text" into r. */
static void reply_from_string(struct smtp_reply *r, const char *s)
{
    r->code = atoi(s);
    const char *p = strchr(s, ' ');
    const char *q = p ? strchr(p + 1, ' ') : NULL;
    if (p && q) {
        str_copyn(r->enh, sizeof(r->enh), p + 1, (size_t)(q - p - 1));
        str_copy(r->text, sizeof(r->text), q + 1);
    } else {
        r->enh[0] = '\0';
        str_copy(r->text, sizeof(r->text), p ? p + 1 : "");
    }
}

static void close_session(struct smtp_server_session *s)
{
    if (s->phase == PH_CLOSED)
        return;
    s->phase = PH_CLOSED;
    s->cb.close(s->ctx);
}

/* Format a reply and hand it to the output callback. */
static void output_reply(struct smtp_server_session *s, const struct smtp_reply *r)
{
    struct buf out;
    buf_init(&out, 4096);
    const char *text = r->text;
    for (;;) {
        const char *nl = strchr(text, '\n');
        size_t n = nl ? (size_t)(nl - text) : strlen(text);
        buf_printf(&out, "%03d%c", r->code, nl ? '-' : ' ');
        if (r->enh[0])
            buf_printf(&out, "%s ", r->enh);
        buf_append(&out, text, n);
        buf_append(&out, "\r\n", 2);
        if (!nl)
            break;
        text = nl + 1;
    }
    s->cb.output(s->ctx, out.data, out.len);
    buf_free(&out);
}

/* Send a reply; count errors and enforce the error limit. */
static void send_reply(struct smtp_server_session *s, const struct smtp_reply *r)
{
    if (s->phase == PH_CLOSED)
        return;
    output_reply(s, r);
    if (r->code >= 400 && r->code != 421 && ++s->errors >= s->set.max_errors) {
        struct smtp_reply bye;
        smtp_reply_set(&bye, 421, "4.7.0", "%s Too many errors, closing connection",
                       s->set.hostname);
        output_reply(s, &bye);
        if (s->cb.on_log)
            s->cb.on_log(s->ctx, "too many errors, disconnecting");
        close_session(s);
        return;
    }
    if (r->code == 221 || r->code == 421)
        close_session(s);
}

/* Send a reply the session decided itself; log refusals. */
static void reply_self(struct smtp_server_session *s, const char *verb, int code, const char *enh,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void reply_self(struct smtp_server_session *s, const char *verb, int code, const char *enh,
                       const char *fmt, ...)
{
    struct smtp_reply r;
    r.code = code;
    str_copy(r.enh, sizeof(r.enh), enh);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r.text, sizeof(r.text), fmt, ap);
    va_end(ap);
    if (code >= 400 && s->cb.on_log) {
        char line[600];
        snprintf(line, sizeof(line), "reject: %s: %d %s %s", verb, code, enh, r.text);
        s->cb.on_log(s->ctx, line);
    }
    send_reply(s, &r);
}

static void reply_static(struct smtp_server_session *s, const char *verb, const char *reply)
{
    struct smtp_reply r;
    reply_from_string(&r, reply);
    reply_self(s, verb, r.code, r.enh, "%s", r.text);
}

/* End the transaction: forget MAIL and RCPT, drop any message. */
static void reset_transaction(struct smtp_server_session *s)
{
    if (s->data_started && s->cb.on_data_abort)
        s->cb.on_data_abort(s->ctx);
    bool had = s->in_mail || s->data_started;
    s->data_started = false;
    s->in_mail = false;
    s->nrcpt = 0;
    s->too_big = false;
    s->bdat_mode = false;
    if (had && s->cb.on_reset)
        s->cb.on_reset(s->ctx);
}

struct smtp_server_session *smtp_server_session_new(const struct smtp_server_settings *set,
                                                    const struct smtp_server_callbacks *cb,
                                                    void *ctx)
{
    struct smtp_server_session *s = xcalloc(1, sizeof(*s));
    s->set = *set;
    s->set.hostname = xstrdup(set->hostname);
    if (s->set.max_errors == 0)
        s->set.max_errors = 10;
    s->cb = *cb;
    s->ctx = ctx;
    s->phase = PH_CMD;
    s->tls = set->tls;
    struct smtp_reply r;
    smtp_reply_set(&r, 220, "", "%s ESMTP postino", s->set.hostname);
    send_reply(s, &r);
    return s;
}

void smtp_server_session_free(struct smtp_server_session **sp)
{
    struct smtp_server_session *s = *sp;
    if (!s)
        return;
    /* A message half-received when the connection dies is dropped. */
    if (s->data_started && s->cb.on_data_abort)
        s->cb.on_data_abort(s->ctx);
    free((char *)s->set.hostname);
    free(s->auth_user);
    x_free(sp);
}

/* Wait for the owner's answer. */
static void go_pending(struct smtp_server_session *s, enum pending kind)
{
    s->phase = PH_PENDING;
    s->pending = kind;
}

static bool starttls_offered(const struct smtp_server_session *s)
{
    return s->set.starttls && !s->tls && s->cb.on_starttls;
}

/* AUTH only under TLS: passwords never cross the network in the clear. */
static bool auth_offered(const struct smtp_server_session *s)
{
    return s->set.auth && s->tls && s->cb.on_auth;
}

static void send_ehlo(struct smtp_server_session *s, const char *name)
{
    /* The keyword lines must arrive whole, so they are formatted first and
     * the greeting line is cut to the room left. (A long hostname and a
     * 255-octet client name used to push them past SMTP_REPLY_TEXT_MAX:
     * the client saw "250 EN" and no DSN, SMTPUTF8 or CHUNKING.) */
    char keywords[192];
    int kn = snprintf(keywords, sizeof(keywords),
                      "\nPIPELINING\nSIZE %llu\n8BITMIME\nENHANCEDSTATUSCODES\nSMTPUTF8\nDSN\n"
                      "CHUNKING%s%s",
                      s->set.max_message_size, starttls_offered(s) ? "\nSTARTTLS" : "",
                      auth_offered(s) ? "\nAUTH PLAIN LOGIN" : "");
    if (kn < 0 || (size_t)kn >= sizeof(keywords))
        panic("EHLO keywords do not fit");
    char greeting[SMTP_REPLY_TEXT_MAX];
    if (snprintf(greeting, sizeof(greeting), "%s Hello %s", s->set.hostname, name) < 0)
        greeting[0] = '\0';
    struct smtp_reply r;
    smtp_reply_set(&r, 250, "", "%.*s%s", SMTP_REPLY_TEXT_MAX - 1 - kn, greeting, keywords);
    send_reply(s, &r);
}

/* The owner accepted (or refused) HELO/EHLO. */
static void finish_helo(struct smtp_server_session *s, const struct smtp_reply *r)
{
    if (r->code / 100 != 2) {
        send_reply(s, r);
        return;
    }
    s->helo_done = true;
    s->esmtp = s->helo_pending_ehlo;
    str_copy(s->helo, sizeof(s->helo), s->helo_pending);
    if (s->esmtp) {
        send_ehlo(s, s->helo);
    } else {
        struct smtp_reply h;
        smtp_reply_set(&h, 250, "", "%s", s->set.hostname);
        send_reply(s, &h);
    }
}

static void cmd_helo(struct smtp_server_session *s, const struct smtp_command *c, bool ehlo)
{
    const char *verb = ehlo ? "EHLO" : "HELO";
    if (c->args_len == 0 || !smtp_helo_valid(c->args, c->args_len)) {
        reply_self(s, verb, 501, "5.5.4", "Syntax: %s hostname", verb);
        return;
    }
    reset_transaction(s);
    str_copyn(s->helo_pending, sizeof(s->helo_pending), c->args, c->args_len);
    s->helo_pending_ehlo = ehlo;
    struct smtp_reply r;
    smtp_reply_set(&r, 250, "", "ok");
    if (s->cb.on_helo && s->cb.on_helo(s->ctx, s->helo_pending, ehlo, &r) == SMTP_PENDING) {
        go_pending(s, PK_HELO);
        return;
    }
    finish_helo(s, &r);
}

static void cmd_mail(struct smtp_server_session *s, const struct smtp_command *c)
{
    if (!s->helo_done) {
        reply_self(s, "MAIL", 503, "5.5.1", "Send EHLO or HELO first");
        return;
    }
    if (s->in_mail) {
        reply_self(s, "MAIL", 503, "5.5.1", "Nested MAIL command");
        return;
    }
    if (s->set.require_tls && !s->tls) {
        reply_self(s, "MAIL", 530, "5.7.0", "Must issue a STARTTLS command first");
        return;
    }
    if (s->set.require_auth && !s->authenticated) {
        reply_self(s, "MAIL", 530, "5.7.0", "Authentication required");
        return;
    }
    const char *err;
    struct smtp_mail_args *a = &s->mail_pending;
    if (smtp_mail_parse(c->args, c->args_len, a, &err) < 0) {
        reply_static(s, "MAIL", err);
        return;
    }
    if (!s->esmtp && (a->has_size || a->body || a->smtputf8 || a->ret || a->envid[0])) {
        reply_self(s, "MAIL", 555, "5.5.4", "MAIL parameters need EHLO");
        return;
    }
    if (a->path.utf8 && !a->smtputf8) {
        reply_self(s, "MAIL", 553, "5.6.7", "Non-ASCII sender address needs SMTPUTF8");
        return;
    }
    if (a->has_size && a->size > s->set.max_message_size) {
        reply_self(s, "MAIL", 552, "5.3.4", "Message size exceeds fixed limit of %llu octets",
                   s->set.max_message_size);
        return;
    }
    struct smtp_reply r;
    smtp_reply_set(&r, 250, "2.1.0", "Ok");
    if (s->cb.on_mail(s->ctx, a, &r) == SMTP_PENDING) {
        go_pending(s, PK_MAIL);
        return;
    }
    if (r.code / 100 == 2) {
        s->in_mail = true;
        s->mail = *a;
    }
    send_reply(s, &r);
}

static void cmd_rcpt(struct smtp_server_session *s, const struct smtp_command *c)
{
    if (!s->in_mail) {
        reply_self(s, "RCPT", 503, "5.5.1", "Need MAIL command first");
        return;
    }
    if (s->bdat_mode) {
        reply_self(s, "RCPT", 503, "5.5.1", "RCPT after BDAT");
        return;
    }
    struct smtp_rcpt_args a;
    const char *err;
    if (smtp_rcpt_parse(c->args, c->args_len, &a, &err) < 0) {
        reply_static(s, "RCPT", err);
        return;
    }
    if (!s->esmtp && (a.notify || a.orcpt[0])) {
        reply_self(s, "RCPT", 555, "5.5.4", "RCPT parameters need EHLO");
        return;
    }
    if (a.path.utf8 && !s->mail.smtputf8) {
        reply_self(s, "RCPT", 553, "5.6.7", "Non-ASCII recipient address needs SMTPUTF8");
        return;
    }
    if (s->nrcpt >= s->set.max_recipients) {
        reply_self(s, "RCPT", 452, "4.5.3", "Too many recipients");
        return;
    }
    struct smtp_reply r;
    smtp_reply_set(&r, 250, "2.1.5", "Ok");
    if (s->cb.on_rcpt(s->ctx, &a, &r) == SMTP_PENDING) {
        go_pending(s, PK_RCPT);
        return;
    }
    if (r.code / 100 == 2)
        s->nrcpt++;
    send_reply(s, &r);
}

/* Common checks of DATA and the first BDAT. Returns false (reply sent or
 * stored) if the transaction cannot take a message now. */
static bool data_allowed(struct smtp_server_session *s, struct smtp_reply *r)
{
    if (!s->in_mail) {
        smtp_reply_set(r, 503, "5.5.1", "Need MAIL command first");
        return false;
    }
    if (s->nrcpt == 0) {
        smtp_reply_set(r, 554, "5.5.1", "No valid recipients");
        return false;
    }
    return true;
}

static void start_data_phase(struct smtp_server_session *s, bool bdat)
{
    s->data_started = true;
    s->too_big = false;
    smtp_data_init(&s->data, !bdat);
    if (!bdat) {
        s->phase = PH_DATA;
        struct smtp_reply r;
        smtp_reply_set(&r, 354, "", "End data with <CR><LF>.<CR><LF>");
        send_reply(s, &r);
    } else {
        s->bdat_mode = true;
        s->phase = PH_BDAT;
    }
}

static void cmd_data(struct smtp_server_session *s, const struct smtp_command *c)
{
    struct smtp_reply r;
    if (c->args_len) {
        reply_self(s, "DATA", 501, "5.5.4", "Syntax: DATA");
        return;
    }
    if (s->bdat_mode) {
        reply_self(s, "DATA", 503, "5.5.1", "DATA after BDAT");
        return;
    }
    if (!data_allowed(s, &r)) {
        reply_self(s, "DATA", r.code, r.enh, "%s", r.text);
        return;
    }
    smtp_reply_set(&r, 354, "", "ok");
    if (s->cb.on_data_start(s->ctx, &r) == SMTP_PENDING) {
        go_pending(s, PK_DATA_START);
        return;
    }
    if (r.code / 100 != 2 && r.code != 354) {
        send_reply(s, &r);
        return;
    }
    start_data_phase(s, false);
}

static void cmd_bdat(struct smtp_server_session *s, const struct smtp_command *c)
{
    unsigned long long size;
    bool last;
    if (smtp_bdat_parse(c->args, c->args_len, &size, &last) < 0) {
        /* Without a size the chunk's end is unknown: no way to go on. */
        reply_self(s, "BDAT", 501, "5.5.4", "Syntax: BDAT size [LAST]");
        close_session(s);
        return;
    }
    s->bdat_left = size;
    s->bdat_last = last;
    s->bdat_discard = false;
    if (s->bdat_mode) {
        s->phase = PH_BDAT;
        return;
    }
    struct smtp_reply r;
    if (!data_allowed(s, &r)) {
        s->bdat_discard = true;
        s->bdat_reply = r;
        s->phase = PH_BDAT;
        return;
    }
    smtp_reply_set(&r, 250, "2.0.0", "ok");
    if (s->cb.on_data_start(s->ctx, &r) == SMTP_PENDING) {
        go_pending(s, PK_BDAT_START);
        return;
    }
    if (r.code / 100 != 2 && r.code != 354) {
        s->bdat_discard = true;
        s->bdat_reply = r;
        s->phase = PH_BDAT;
        return;
    }
    start_data_phase(s, true);
}

static void cmd_starttls(struct smtp_server_session *s, const struct smtp_command *c)
{
    if (s->tls) {
        reply_self(s, "STARTTLS", 503, "5.5.1", "TLS is already active");
        return;
    }
    if (!starttls_offered(s)) {
        reply_self(s, "STARTTLS", 502, "5.5.1", "STARTTLS is not available");
        return;
    }
    if (c->args_len) {
        reply_self(s, "STARTTLS", 501, "5.5.4", "Syntax: STARTTLS");
        return;
    }
    reset_transaction(s);
    struct smtp_reply r;
    smtp_reply_set(&r, 220, "2.0.0", "Ready to start TLS");
    send_reply(s, &r);
    /* Nothing more is read in plaintext: the owner drops what follows. */
    go_pending(s, PK_STARTTLS);
    s->cb.on_starttls(s->ctx);
}

/* Ask the owner to check the collected responses. */
static void auth_decide(struct smtp_server_session *s, const char *resp, size_t len)
{
    struct smtp_auth_request a;
    memset(&a, 0, sizeof(a));
    a.mech = s->auth_mech;
    if (a.mech == SMTP_AUTH_LOGIN) {
        a.resp[0] = s->auth_user;
        a.resp_len[0] = strlen(s->auth_user);
        a.resp[1] = resp;
        a.resp_len[1] = len;
    } else {
        a.resp[0] = resp;
        a.resp_len[0] = len;
    }
    struct smtp_reply r;
    smtp_reply_set(&r, 535, "5.7.8", "Authentication credentials invalid");
    go_pending(s, PK_AUTH);
    if (s->cb.on_auth(s->ctx, &a, &r) == SMTP_PENDING)
        return;
    smtp_server_resume(s, &r);
}

/* A line of the exchange arrived (the "334" prompt was answered). */
static void auth_line(struct smtp_server_session *s, const char *line, size_t len)
{
    s->phase = PH_CMD;
    if (len == 1 && line[0] == '*') {
        x_free(&s->auth_user);
        reply_self(s, "AUTH", 501, "5.0.0", "Authentication canceled");
        return;
    }
    if (s->auth_mech == SMTP_AUTH_LOGIN && !s->auth_user) {
        s->auth_user = xstrndup(line, len);
        struct smtp_reply r;
        smtp_reply_set(&r, 334, "", "UGFzc3dvcmQ6"); /* "Password:" */
        send_reply(s, &r);
        s->phase = PH_AUTH;
        return;
    }
    auth_decide(s, line, len);
}

static void cmd_auth(struct smtp_server_session *s, const struct smtp_command *c)
{
    if (!auth_offered(s)) {
        if (s->set.auth && s->cb.on_auth && !s->tls)
            reply_self(s, "AUTH", 538, "5.7.11", "Encryption required: issue STARTTLS first");
        else
            reply_self(s, "AUTH", 502, "5.5.1", "AUTH is not available");
        return;
    }
    if (!s->helo_done) {
        reply_self(s, "AUTH", 503, "5.5.1", "Send EHLO first");
        return;
    }
    if (s->authenticated) {
        reply_self(s, "AUTH", 503, "5.5.1", "Already authenticated");
        return;
    }
    if (s->in_mail) {
        reply_self(s, "AUTH", 503, "5.5.1", "AUTH not allowed during a mail transaction");
        return;
    }
    const char *sp = memchr(c->args, ' ', c->args_len);
    size_t mlen = sp ? (size_t)(sp - c->args) : c->args_len;
    const char *initial = sp ? sp + 1 : NULL;
    size_t ilen = sp ? c->args_len - mlen - 1 : 0;
    if (mlen == 5 && str_eqn_ci(c->args, "PLAIN", 5)) {
        s->auth_mech = SMTP_AUTH_PLAIN;
    } else if (mlen == 5 && str_eqn_ci(c->args, "LOGIN", 5)) {
        s->auth_mech = SMTP_AUTH_LOGIN;
    } else {
        reply_self(s, "AUTH", 504, "5.5.4", "Unrecognized authentication type");
        return;
    }
    x_free(&s->auth_user);
    if (initial && ilen == 0) {
        reply_self(s, "AUTH", 501, "5.5.2", "Syntax: AUTH mechanism [initial-response]");
        return;
    }
    if (initial) {
        /* "=" stands for an empty initial response (RFC 4954 4). */
        if (ilen == 1 && initial[0] == '=')
            ilen = 0;
        auth_line(s, initial, ilen);
        return;
    }
    struct smtp_reply r;
    /* PLAIN: an empty challenge; LOGIN: "Username:" */
    smtp_reply_set(&r, 334, "", "%s", s->auth_mech == SMTP_AUTH_PLAIN ? "" : "VXNlcm5hbWU6");
    send_reply(s, &r);
    s->phase = PH_AUTH;
}

static void handle_command(struct smtp_server_session *s, const char *line, size_t len)
{
    struct smtp_command c;
    smtp_command_parse(line, len, &c);
    if (len + 2 > smtp_command_line_max(c.verb)) {
        reply_self(s, smtp_verb_name(c.verb), 500, "5.5.2", "Line too long");
        return;
    }
    switch (c.verb) {
    case SMTP_VERB_HELO:
        cmd_helo(s, &c, false);
        break;
    case SMTP_VERB_EHLO:
        cmd_helo(s, &c, true);
        break;
    case SMTP_VERB_MAIL:
        cmd_mail(s, &c);
        break;
    case SMTP_VERB_RCPT:
        cmd_rcpt(s, &c);
        break;
    case SMTP_VERB_DATA:
        cmd_data(s, &c);
        break;
    case SMTP_VERB_BDAT:
        cmd_bdat(s, &c);
        break;
    case SMTP_VERB_RSET:
        if (c.args_len) {
            reply_self(s, "RSET", 501, "5.5.4", "Syntax: RSET");
            break;
        }
        reset_transaction(s);
        reply_self(s, "RSET", 250, "2.0.0", "Ok");
        break;
    case SMTP_VERB_NOOP:
        reply_self(s, "NOOP", 250, "2.0.0", "Ok");
        break;
    case SMTP_VERB_QUIT:
        reply_self(s, "QUIT", 221, "2.0.0", "%s closing connection", s->set.hostname);
        break;
    case SMTP_VERB_HELP:
        reply_self(s, "HELP", 214, "2.0.0",
                   "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP VRFY\n"
                   "See RFC 5321");
        break;
    case SMTP_VERB_VRFY:
        if (c.args_len == 0) {
            reply_self(s, "VRFY", 501, "5.5.4", "Syntax: VRFY address");
            break;
        }
        reply_self(s, "VRFY", 252, "2.5.0",
                   "Cannot VRFY user, but will accept message and attempt delivery");
        break;
    case SMTP_VERB_EXPN:
        reply_self(s, "EXPN", 502, "5.5.1", "EXPN is not available");
        break;
    case SMTP_VERB_STARTTLS:
        cmd_starttls(s, &c);
        break;
    case SMTP_VERB_AUTH:
        cmd_auth(s, &c);
        break;
    case SMTP_VERB_UNKNOWN:
        reply_self(s, "unknown", 500, "5.5.1", "Command unrecognized");
        break;
    }
}

/* Output of the data parser: pass to the owner while under the size limit. */
static void data_out(void *ctx, const char *data, size_t len)
{
    struct smtp_server_session *s = ctx;
    if (s->too_big)
        return;
    if (s->data.size > s->set.max_message_size) {
        s->too_big = true;
        return;
    }
    s->cb.on_data_write(s->ctx, data, len);
}

/* Protocol checks of a complete message; returns false after refusing it. */
static bool data_acceptable(struct smtp_server_session *s, const char *verb)
{
    const struct smtp_data_parser *p = &s->data;
    const char *enh = NULL, *text = NULL;
    int code = 0;
    if (p->errors & (SMTP_DATA_BARE_LF | SMTP_DATA_BARE_CR)) {
        code = 554;
        enh = "5.6.0";
        text = "Message refused: bare CR or LF in the message; only CRLF ends a line";
    } else if (p->errors & SMTP_DATA_NUL) {
        code = 554;
        enh = "5.6.0";
        text = "Message refused: NUL characters in the message";
    } else if (p->errors & SMTP_DATA_LONG_LINE) {
        code = 500;
        enh = "5.5.2";
        text = "Line too long: a message line is limited to 998 characters";
    } else if (s->too_big) {
        code = 552;
        enh = "5.3.4";
        text = "Message size exceeds fixed maximum message size";
    } else if (p->received > s->set.max_received) {
        code = 554;
        enh = "5.4.6";
        text = "Too many Received: headers, a mail loop";
    }
    if (code) {
        reset_transaction(s);
        reply_self(s, verb, code, enh, "%s", text);
        return false;
    }
    /* the administrator's limits on the header section */
    size_t subject = p->subject_len;
    unsigned fields = p->header_fields;
    unsigned long long hsize = p->header_size;
    if (s->set.max_subject && subject > s->set.max_subject) {
        reset_transaction(s);
        reply_self(s, verb, 554, "5.6.0",
                   "Message refused: its Subject is %zu octets long, more than the %zu accepted",
                   subject, s->set.max_subject);
        return false;
    }
    if (s->set.max_header_fields && fields > s->set.max_header_fields) {
        reset_transaction(s);
        reply_self(s, verb, 554, "5.6.0",
                   "Message refused: %u header fields, more than the %u accepted", fields,
                   s->set.max_header_fields);
        return false;
    }
    if (s->set.max_header_size && hsize > s->set.max_header_size) {
        reset_transaction(s);
        reply_self(s, verb, 552, "5.3.4",
                   "Message refused: its header is %llu octets long, more than the %llu accepted",
                   hsize, s->set.max_header_size);
        return false;
    }
    return true;
}

/* The whole message is in: final checks, then ask the owner to store it. */
static void finish_message(struct smtp_server_session *s, const char *verb)
{
    s->phase = PH_CMD;
    if (!data_acceptable(s, verb))
        return;
    s->data.message_id[s->data.mid_len] = '\0';
    struct smtp_data_result res = {.size = s->data.size,
                                   .bdat = s->bdat_mode,
                                   .has_8bit = s->data.has_8bit,
                                   .message_id = s->data.message_id};
    struct smtp_reply r;
    smtp_reply_set(&r, 451, "4.3.0", "Local error");
    s->data_started = false; /* from here the owner has the message */
    if (s->cb.on_data_end(s->ctx, &res, &r) == SMTP_PENDING) {
        go_pending(s, PK_DATA_END);
        return;
    }
    reset_transaction(s);
    send_reply(s, &r);
}

/* A BDAT chunk has been read completely. */
static void finish_chunk(struct smtp_server_session *s)
{
    s->phase = PH_CMD;
    if (s->bdat_discard) {
        struct smtp_reply r = s->bdat_reply;
        reply_self(s, "BDAT", r.code, r.enh, "%s", r.text);
        return;
    }
    if (!s->bdat_last) {
        /* Refuse early what can already be refused. */
        if (s->too_big || (s->data.errors & (SMTP_DATA_BARE_LF | SMTP_DATA_NUL))) {
            data_acceptable(s, "BDAT");
            return;
        }
        reply_self(s, "BDAT", 250, "2.0.0", "%llu octets received", s->data.size);
        return;
    }
    if (smtp_data_finish_chunks(&s->data))
        smtp_data_feed(&s->data, "\r\n", 2, data_out, s);
    finish_message(s, "BDAT");
}

size_t smtp_server_input(struct smtp_server_session *s, const char *data, size_t len)
{
    size_t used = 0;
    while (used < len) {
        const char *p = data + used;
        size_t n = len - used;
        switch (s->phase) {
        case PH_PENDING:
        case PH_CLOSED:
            return used;
        case PH_CMD: {
            struct smtp_line line;
            smtp_line_find(p, n, SMTP_ANY_LINE_MAX, &line);
            if (line.status == SMTP_LINE_NEED_MORE)
                return used;
            used += line.consumed;
            if (line.status == SMTP_LINE_TOO_LONG) {
                s->phase = PH_SKIP_LINE;
                s->skip_cr = 0;
                reply_self(s, "command", 500, "5.5.2", "Line too long");
            } else if (line.status == SMTP_LINE_BAD) {
                reply_self(s, "command", 500, "5.5.2",
                           "Bad command: bare CR, bare LF or NUL; only CRLF ends a line");
            } else {
                handle_command(s, p, line.len);
            }
            break;
        }
        case PH_AUTH: {
            struct smtp_line line;
            smtp_line_find(p, n, SMTP_AUTH_LINE_MAX, &line);
            if (line.status == SMTP_LINE_NEED_MORE)
                return used;
            used += line.consumed;
            if (line.status != SMTP_LINE_OK) {
                if (line.status == SMTP_LINE_TOO_LONG) {
                    s->phase = PH_SKIP_LINE;
                    s->skip_cr = 0;
                } else {
                    s->phase = PH_CMD;
                }
                x_free(&s->auth_user);
                reply_self(s, "AUTH", 500, "5.5.6",
                           "Authentication exchange line is too long or "
                           "malformed");
                break;
            }
            auth_line(s, p, line.len);
            break;
        }
        case PH_SKIP_LINE: {
            int done;
            used += smtp_line_skip(p, n, &s->skip_cr, &done);
            if (done && s->phase == PH_SKIP_LINE)
                s->phase = PH_CMD;
            break;
        }
        case PH_DATA:
            used += smtp_data_feed(&s->data, p, n, data_out, s);
            if (s->data.done)
                finish_message(s, "DATA");
            break;
        case PH_BDAT: {
            size_t take = n < s->bdat_left ? n : (size_t)s->bdat_left;
            if (!s->bdat_discard)
                smtp_data_feed(&s->data, p, take, data_out, s);
            used += take;
            s->bdat_left -= take;
            if (s->bdat_left == 0)
                finish_chunk(s);
            break;
        }
        }
    }
    /* A zero-length chunk needs no input to complete. */
    if (s->phase == PH_BDAT && s->bdat_left == 0)
        finish_chunk(s);
    return used;
}

void smtp_server_resume(struct smtp_server_session *s, const struct smtp_reply *r)
{
    if (s->phase != PH_PENDING)
        return;
    enum pending kind = s->pending;
    s->pending = PK_NONE;
    s->phase = PH_CMD;
    switch (kind) {
    case PK_NONE:
        break;
    case PK_HELO:
        finish_helo(s, r);
        break;
    case PK_MAIL:
        if (r->code / 100 == 2) {
            s->in_mail = true;
            s->mail = s->mail_pending;
        }
        send_reply(s, r);
        break;
    case PK_RCPT:
        if (r->code / 100 == 2)
            s->nrcpt++;
        send_reply(s, r);
        break;
    case PK_DATA_START:
        if (r->code / 100 != 2 && r->code != 354)
            send_reply(s, r);
        else
            start_data_phase(s, false);
        break;
    case PK_BDAT_START:
        if (r->code / 100 != 2 && r->code != 354) {
            s->bdat_discard = true;
            s->bdat_reply = *r;
            s->phase = PH_BDAT;
        } else {
            start_data_phase(s, true);
        }
        if (s->bdat_left == 0)
            finish_chunk(s);
        break;
    case PK_DATA_END:
        reset_transaction(s);
        send_reply(s, r);
        break;
    case PK_STARTTLS:
        /* Only smtp_server_tls_started() ends this wait. */
        s->phase = PH_PENDING;
        s->pending = PK_STARTTLS;
        break;
    case PK_AUTH:
        x_free(&s->auth_user);
        if (r->code == 235)
            s->authenticated = true;
        send_reply(s, r);
        break;
    }
}

void smtp_server_timeout(struct smtp_server_session *s)
{
    if (s->phase == PH_CLOSED)
        return;
    if (s->cb.on_log)
        s->cb.on_log(s->ctx, "timeout");
    struct smtp_reply r;
    smtp_reply_set(&r, 421, "4.4.2", "%s Timeout, closing connection", s->set.hostname);
    send_reply(s, &r);
}

void smtp_server_shutdown(struct smtp_server_session *s)
{
    if (s->phase == PH_CLOSED)
        return;
    struct smtp_reply r;
    smtp_reply_set(&r, 421, "4.3.2", "%s Service shutting down, closing connection",
                   s->set.hostname);
    send_reply(s, &r);
}

void smtp_server_disconnect(struct smtp_server_session *s, const char *enh, const char *text)
{
    if (s->phase == PH_CLOSED)
        return;
    struct smtp_reply r;
    smtp_reply_set(&r, 421, enh, "%s %s", s->set.hostname, text);
    send_reply(s, &r);
}

void smtp_server_tls_started(struct smtp_server_session *s)
{
    if (s->phase != PH_PENDING || s->pending != PK_STARTTLS)
        return;
    /* RFC 3207 4.2: forget everything learnt before TLS; EHLO again. */
    s->tls = true;
    s->helo_done = false;
    s->esmtp = false;
    s->helo[0] = '\0';
    s->authenticated = false;
    reset_transaction(s);
    s->pending = PK_NONE;
    s->phase = PH_CMD;
}

bool smtp_server_tls(const struct smtp_server_session *s)
{
    return s->tls;
}

bool smtp_server_authenticated(const struct smtp_server_session *s)
{
    return s->authenticated;
}

bool smtp_server_pending(const struct smtp_server_session *s)
{
    return s->phase == PH_PENDING;
}

bool smtp_server_closed(const struct smtp_server_session *s)
{
    return s->phase == PH_CLOSED;
}

const char *smtp_server_helo(const struct smtp_server_session *s)
{
    return s->helo;
}

bool smtp_server_esmtp(const struct smtp_server_session *s)
{
    return s->esmtp;
}

const struct smtp_mail_args *smtp_server_mail(const struct smtp_server_session *s)
{
    return s->in_mail ? &s->mail : NULL;
}

unsigned smtp_server_rcpt_count(const struct smtp_server_session *s)
{
    return s->nrcpt;
}
