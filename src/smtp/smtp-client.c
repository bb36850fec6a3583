#include "smtp-client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "lib/xalloc.h"
#include "smtp-command.h"

enum state {
    ST_GREETING,
    ST_EHLO,
    ST_HELO,
    ST_STARTTLS,
    ST_TLS_WAIT, /* the owner is doing the handshake */
    ST_AUTH,
    ST_READY,
    ST_MAIL,
    ST_RCPT,
    ST_DATA,
    ST_BODY,
    ST_DOT,
    ST_DOT_DISCARD, /* an empty message sent after a 354 we did not want */
    ST_RSET,
    ST_QUIT,
    ST_CLOSED,
};

struct smtp_client {
    struct smtp_client_settings set;
    struct smtp_client_callbacks cb;
    void *ctx;
    enum state st;
    struct smtp_reply_parser parser;
    bool tls;
    bool esmtp;
    char peer[256];
    /* what the peer offers */
    bool pipelining, x8bitmime, smtputf8, dsn, starttls, auth_plain, size;
    unsigned long long size_limit; /* 0: SIZE without a limit, or no SIZE */
    /* the message in progress */
    const struct smtp_client_message *m;
    size_t rcpt_i;
    bool *done;     /* recipient i has its outcome */
    bool *accepted; /* recipient i was accepted by RCPT */
    size_t n_accepted;
    size_t dot_i; /* LMTP: next accepted recipient to get a reply */
    bool mail_failed;
    char mail_reply[SMTP_CLIENT_REPLY_MAX > 1024 ? 1024 : SMTP_CLIENT_REPLY_MAX];
    enum smtp_outcome mail_outcome;
    bool body_bol; /* the body is at the beginning of a line */
};

static void out(struct smtp_client *c, const char *s)
{
    c->cb.output(c->ctx, s, strlen(s));
}

static void outf(struct smtp_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct smtp_client *c, const char *fmt, ...)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    c->cb.output(c->ctx, b.data, b.len);
    buf_free(&b);
}

static enum smtp_outcome outcome_of(int code)
{
    if (code >= 200 && code < 300)
        return SMTP_OUTCOME_OK;
    if (code >= 500 && code < 600)
        return SMTP_OUTCOME_PERM;
    return SMTP_OUTCOME_TEMP;
}

struct smtp_client *smtp_client_new(const struct smtp_client_settings *set,
                                    const struct smtp_client_callbacks *cb, void *ctx)
{
    struct smtp_client *c = xcalloc(1, sizeof(*c));
    c->set = *set;
    c->cb = *cb;
    c->ctx = ctx;
    c->st = ST_GREETING;
    c->tls = set->tls;
    smtp_reply_parser_init(&c->parser);
    return c;
}

static void message_reset(struct smtp_client *c)
{
    x_free(&c->done);
    x_free(&c->accepted);
    c->m = NULL;
    c->n_accepted = 0;
    c->rcpt_i = 0;
    c->dot_i = 0;
    c->mail_failed = false;
}

void smtp_client_free(struct smtp_client **cp)
{
    struct smtp_client *c = *cp;
    if (!c)
        return;
    smtp_reply_parser_free(&c->parser);
    message_reset(c);
    x_free(cp);
}

/* Give every recipient still without an outcome this one. */
static void finish_rest(struct smtp_client *c, enum smtp_outcome o, const char *reply)
{
    if (!c->m)
        return;
    for (size_t i = 0; i < c->m->n; i++) {
        if (!c->done[i]) {
            c->done[i] = true;
            c->cb.on_rcpt(c->ctx, i, o, reply);
        }
    }
}

static void close_session(struct smtp_client *c, enum smtp_outcome o, const char *reason)
{
    if (c->st == ST_CLOSED)
        return;
    bool had_message = c->m != NULL;
    finish_rest(c, o, reason);
    c->st = ST_CLOSED;
    if (had_message) {
        message_reset(c);
        c->cb.on_message_done(c->ctx);
    }
    c->cb.on_close(c->ctx, o, reason);
}

void smtp_client_abort(struct smtp_client *c, enum smtp_outcome o, const char *reason)
{
    close_session(c, o, reason);
}

static void become_ready(struct smtp_client *c)
{
    c->st = ST_READY;
    c->cb.on_ready(c->ctx);
}

static void send_ehlo(struct smtp_client *c)
{
    c->st = ST_EHLO;
    outf(c, "%s %s\r\n", c->set.lmtp ? "LHLO" : "EHLO", c->set.helo_name);
}

/* After EHLO/HELO (and TLS): start TLS, authenticate or be ready. */
static void after_hello(struct smtp_client *c)
{
    if (!c->tls && c->starttls && (c->set.starttls || c->set.require_tls)) {
        c->st = ST_STARTTLS;
        out(c, "STARTTLS\r\n");
        return;
    }
    if (!c->tls && c->set.require_tls) {
        close_session(c, SMTP_OUTCOME_TEMP, "TLS is required but the server does not offer it");
        return;
    }
    if (c->set.auth_user && c->set.auth_user[0]) {
        if (!c->tls) {
            close_session(c, SMTP_OUTCOME_TEMP, "will not send a password without TLS");
            return;
        }
        if (!c->auth_plain) {
            close_session(c, SMTP_OUTCOME_TEMP, "the server does not offer AUTH PLAIN");
            return;
        }
        /* PLAIN: NUL user NUL password, base64 (RFC 4616) */
        size_t ul = strlen(c->set.auth_user), pl = strlen(c->set.auth_password);
        unsigned char *raw = xmalloc(ul + pl + 2);
        raw[0] = '\0';
        memcpy(raw + 1, c->set.auth_user, ul);
        raw[ul + 1] = '\0';
        memcpy(raw + ul + 2, c->set.auth_password, pl);
        static const char b64[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t n = ul + pl + 2;
        struct buf line;
        buf_init(&line, BUF_UNLIMITED);
        buf_append_str(&line, "AUTH PLAIN ");
        for (size_t i = 0; i < n; i += 3) {
            unsigned v = (unsigned)raw[i] << 16;
            if (i + 1 < n)
                v |= (unsigned)raw[i + 1] << 8;
            if (i + 2 < n)
                v |= raw[i + 2];
            buf_append_char(&line, b64[(v >> 18) & 63]);
            buf_append_char(&line, b64[(v >> 12) & 63]);
            buf_append_char(&line, i + 1 < n ? b64[(v >> 6) & 63] : '=');
            buf_append_char(&line, i + 2 < n ? b64[v & 63] : '=');
        }
        buf_append_str(&line, "\r\n");
        memset(raw, 0, n);
        free(raw);
        c->st = ST_AUTH;
        c->cb.output(c->ctx, line.data, line.len);
        memset(line.data, 0, line.len);
        buf_free(&line);
        return;
    }
    become_ready(c);
}

/* Learn the extensions from an EHLO reply. */
static void parse_ehlo(struct smtp_client *c, const struct smtp_client_reply *r)
{
    c->pipelining = c->x8bitmime = c->smtputf8 = c->dsn = c->starttls = c->auth_plain = c->size =
        false;
    c->size_limit = 0;
    const char *t = buf_cstr(&r->text);
    const char *nl = strchr(t, '\n');
    while (nl) {
        const char *line = nl + 1;
        nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char kw[64];
        size_t k = 0;
        while (k < len && k < sizeof(kw) - 1 && line[k] != ' ') {
            kw[k] = line[k];
            k++;
        }
        kw[k] = '\0';
        const char *arg = k < len ? line + k + 1 : "";
        size_t alen = k < len ? len - k - 1 : 0;
        if (str_eq_ci(kw, "PIPELINING"))
            c->pipelining = true;
        else if (str_eq_ci(kw, "8BITMIME"))
            c->x8bitmime = true;
        else if (str_eq_ci(kw, "SMTPUTF8"))
            c->smtputf8 = true;
        else if (str_eq_ci(kw, "DSN"))
            c->dsn = true;
        else if (str_eq_ci(kw, "STARTTLS"))
            c->starttls = true;
        else if (str_eq_ci(kw, "SIZE")) {
            c->size = true;
            unsigned long long v;
            size_t d = 0;
            while (d < alen && arg[d] >= '0' && arg[d] <= '9')
                d++;
            if (d && str_to_u64(arg, d, 1ULL << 62, &v) == 0)
                c->size_limit = v;
        } else if (str_eq_ci(kw, "AUTH")) {
            for (size_t i = 0; i + 5 <= alen; i++)
                if (str_eqn_ci(arg + i, "PLAIN", 5) && (i == 0 || arg[i - 1] == ' ') &&
                    (i + 5 == alen || arg[i + 5] == ' '))
                    c->auth_plain = true;
        }
    }
}

static void flat(const struct smtp_client_reply *r, char *outbuf, size_t size)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    smtp_client_reply_flat(r, &b);
    str_copy(outbuf, size, buf_cstr(&b));
    buf_free(&b);
}

static void send_rcpt(struct smtp_client *c, size_t i)
{
    const struct smtp_client_rcpt *r = &c->m->rcpts[i];
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_printf(&b, "RCPT TO:<%s>", r->addr);
    if (c->dsn && r->notify) {
        buf_append_str(&b, " NOTIFY=");
        if (r->notify & SMTP_NOTIFY_NEVER) {
            buf_append_str(&b, "NEVER");
        } else {
            const char *sep = "";
            if (r->notify & SMTP_NOTIFY_SUCCESS) {
                buf_printf(&b, "%sSUCCESS", sep);
                sep = ",";
            }
            if (r->notify & SMTP_NOTIFY_FAILURE) {
                buf_printf(&b, "%sFAILURE", sep);
                sep = ",";
            }
            if (r->notify & SMTP_NOTIFY_DELAY)
                buf_printf(&b, "%sDELAY", sep);
        }
    }
    if (c->dsn && r->orcpt && r->orcpt[0])
        buf_printf(&b, " ORCPT=%s", r->orcpt);
    buf_append_str(&b, "\r\n");
    c->cb.output(c->ctx, b.data, b.len);
    buf_free(&b);
}

/* RSET after a failed transaction, so the connection can carry more. */
static void send_rset(struct smtp_client *c)
{
    message_reset(c);
    c->cb.on_message_done(c->ctx);
    if (c->st == ST_CLOSED)
        return;
    c->st = ST_RSET;
    out(c, "RSET\r\n");
}

static void message_complete(struct smtp_client *c)
{
    message_reset(c);
    c->cb.on_message_done(c->ctx);
    if (c->st != ST_CLOSED)
        become_ready(c);
}

/* The RCPT replies are all in: send DATA (or not). */
static void after_rcpts(struct smtp_client *c)
{
    if (c->pipelining) {
        c->st = ST_DATA; /* DATA went out with the RCPTs */
        return;
    }
    if (c->mail_failed || c->n_accepted == 0) {
        finish_rest(c, c->mail_outcome, c->mail_reply);
        send_rset(c);
        return;
    }
    c->st = ST_DATA;
    out(c, "DATA\r\n");
}

static void on_reply(struct smtp_client *c, const struct smtp_client_reply *r)
{
    if (c->cb.on_reply)
        c->cb.on_reply(c->ctx, smtp_client_waiting(c), r->code);
    char text[1024];
    flat(r, text, sizeof(text));
    enum smtp_outcome o = outcome_of(r->code);
    switch (c->st) {
    case ST_GREETING:
        if (r->code != 220) {
            close_session(c, o == SMTP_OUTCOME_OK ? SMTP_OUTCOME_TEMP : SMTP_OUTCOME_TEMP, text);
            return;
        }
        {
            const char *t = buf_cstr(&r->text);
            size_t k = strcspn(t, " \n");
            str_copyn(c->peer, sizeof(c->peer), t, k);
        }
        send_ehlo(c);
        return;
    case ST_EHLO:
        if (r->code == 250) {
            c->esmtp = true;
            parse_ehlo(c, r);
            after_hello(c);
        } else if (r->code >= 500 && !c->set.lmtp && !c->tls) {
            c->st = ST_HELO;
            outf(c, "HELO %s\r\n", c->set.helo_name);
        } else {
            close_session(c, SMTP_OUTCOME_TEMP, text);
        }
        return;
    case ST_HELO:
        if (r->code != 250) {
            close_session(c, SMTP_OUTCOME_TEMP, text);
            return;
        }
        c->esmtp = false;
        parse_ehlo(c, r); /* no extensions */
        after_hello(c);
        return;
    case ST_STARTTLS:
        if (r->code == 220) {
            c->st = ST_TLS_WAIT;
            c->cb.on_starttls(c->ctx);
            return;
        }
        if (c->set.require_tls) {
            close_session(c, SMTP_OUTCOME_TEMP, text);
            return;
        }
        c->starttls = false; /* go on in plaintext */
        after_hello(c);
        return;
    case ST_AUTH:
        if (r->code != 235) {
            /* A relay refusing our credentials needs an administrator,
             * not a bounce: temporary. */
            close_session(c, SMTP_OUTCOME_TEMP, text);
            return;
        }
        become_ready(c);
        return;
    case ST_MAIL:
        if (o != SMTP_OUTCOME_OK) {
            c->mail_failed = true;
            c->mail_outcome = o;
            str_copy(c->mail_reply, sizeof(c->mail_reply), text);
            if (!c->pipelining) {
                finish_rest(c, o, text);
                send_rset(c);
                return;
            }
        }
        c->st = ST_RCPT;
        c->rcpt_i = 0;
        if (!c->pipelining)
            send_rcpt(c, 0);
        return;
    case ST_RCPT: {
        size_t i = c->rcpt_i++;
        if (c->mail_failed) {
            c->done[i] = true;
            c->cb.on_rcpt(c->ctx, i, c->mail_outcome, c->mail_reply);
        } else if (o == SMTP_OUTCOME_OK) {
            c->accepted[i] = true;
            c->n_accepted++;
        } else {
            c->done[i] = true;
            c->cb.on_rcpt(c->ctx, i, o, text);
        }
        if (c->rcpt_i < c->m->n) {
            if (!c->pipelining)
                send_rcpt(c, c->rcpt_i);
            return;
        }
        after_rcpts(c);
        return;
    }
    case ST_DATA:
        if (r->code == 354) {
            if (c->mail_failed || c->n_accepted == 0) {
                /* nobody to send it to: end an empty message at once */
                c->st = ST_DOT_DISCARD;
                out(c, ".\r\n");
                return;
            }
            c->st = ST_BODY;
            c->body_bol = true;
            c->cb.on_body(c->ctx);
            return;
        }
        finish_rest(
            c, c->mail_failed ? c->mail_outcome : (o == SMTP_OUTCOME_OK ? SMTP_OUTCOME_TEMP : o),
            c->mail_failed ? c->mail_reply : text);
        send_rset(c);
        return;
    case ST_DOT_DISCARD:
        finish_rest(c, c->mail_failed ? c->mail_outcome : SMTP_OUTCOME_TEMP,
                    c->mail_failed ? c->mail_reply : "no recipient accepted");
        send_rset(c);
        return;
    case ST_DOT:
        if (!c->set.lmtp) {
            for (size_t i = 0; i < c->m->n; i++) {
                if (c->accepted[i] && !c->done[i]) {
                    c->done[i] = true;
                    c->cb.on_rcpt(c->ctx, i, o, text);
                }
            }
            message_complete(c);
            return;
        }
        /* LMTP: one reply per accepted recipient, in order (RFC 2033 4.2) */
        while (c->dot_i < c->m->n && !c->accepted[c->dot_i])
            c->dot_i++;
        if (c->dot_i < c->m->n) {
            c->done[c->dot_i] = true;
            c->cb.on_rcpt(c->ctx, c->dot_i, o, text);
            c->dot_i++;
        }
        while (c->dot_i < c->m->n && !c->accepted[c->dot_i])
            c->dot_i++;
        if (c->dot_i >= c->m->n)
            message_complete(c);
        return;
    case ST_RSET:
        if (r->code != 250) {
            close_session(c, SMTP_OUTCOME_TEMP, text);
            return;
        }
        become_ready(c);
        return;
    case ST_QUIT:
        close_session(c, SMTP_OUTCOME_OK, text);
        return;
    case ST_READY:
    case ST_BODY:
    case ST_TLS_WAIT:
    case ST_CLOSED:
        /* A reply nobody asked for (a 421 before closing, say). */
        close_session(c, SMTP_OUTCOME_TEMP, text);
        return;
    }
}

size_t smtp_client_input(struct smtp_client *c, const char *data, size_t len)
{
    size_t total = 0;
    while (total < len && c->st != ST_CLOSED && c->st != ST_TLS_WAIT) {
        size_t used;
        struct smtp_client_reply r;
        smtp_client_reply_init(&r);
        enum smtp_reply_parse st =
            smtp_reply_parse(&c->parser, data + total, len - total, &used, &r);
        total += used;
        if (st == SMTP_REPLY_BAD) {
            smtp_client_reply_free(&r);
            close_session(c, SMTP_OUTCOME_TEMP,
                          "the server sent something that is not an SMTP reply");
            break;
        }
        if (st == SMTP_REPLY_NEED_MORE) {
            smtp_client_reply_free(&r);
            break;
        }
        on_reply(c, &r);
        smtp_client_reply_free(&r);
    }
    return total;
}

void smtp_client_tls_started(struct smtp_client *c)
{
    if (c->st != ST_TLS_WAIT)
        return;
    c->tls = true;
    /* RFC 3207 4.2: everything learnt before TLS is forgotten. */
    send_ehlo(c);
}

void smtp_client_send(struct smtp_client *c, const struct smtp_client_message *m)
{
    if (c->st != ST_READY)
        return;
    c->m = m;
    c->done = xcalloc(m->n ? m->n : 1, sizeof(bool));
    c->accepted = xcalloc(m->n ? m->n : 1, sizeof(bool));
    c->n_accepted = 0;
    c->mail_failed = false;
    char why[200] = "";
    enum smtp_outcome o = SMTP_OUTCOME_PERM;
    if (m->n == 0)
        snprintf(why, sizeof(why), "no recipients");
    else if (c->size_limit && m->size > c->size_limit)
        snprintf(why, sizeof(why),
                 "552 5.3.4 message of %llu octets exceeds the %llu the server accepts", m->size,
                 c->size_limit);
    else if (m->has_8bit && !c->x8bitmime)
        snprintf(why, sizeof(why),
                 "554 5.6.3 the message has 8-bit content and the server does not offer 8BITMIME");
    else if (m->smtputf8 && !c->smtputf8)
        snprintf(why, sizeof(why),
                 "553 5.6.7 the message needs SMTPUTF8 and the server does not offer it");
    if (why[0]) {
        finish_rest(c, o, why);
        message_complete(c);
        return;
    }
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_printf(&b, "MAIL FROM:<%s>", m->sender);
    if (c->size) /* RFC 1870: only to a server that offers SIZE */
        buf_printf(&b, " SIZE=%llu", m->size);
    if (m->body_8bit && m->has_8bit && c->x8bitmime)
        buf_append_str(&b, " BODY=8BITMIME");
    if (m->smtputf8)
        buf_append_str(&b, " SMTPUTF8");
    if (c->dsn && m->ret)
        buf_printf(&b, " RET=%s", m->ret == SMTP_RET_FULL ? "FULL" : "HDRS");
    if (c->dsn && m->envid && m->envid[0])
        buf_printf(&b, " ENVID=%s", m->envid);
    buf_append_str(&b, "\r\n");
    c->st = ST_MAIL;
    c->cb.output(c->ctx, b.data, b.len);
    buf_free(&b);
    if (c->pipelining) {
        for (size_t i = 0; i < m->n; i++)
            send_rcpt(c, i);
        out(c, "DATA\r\n");
    }
}

void smtp_client_body(struct smtp_client *c, const char *data, size_t len)
{
    if (c->st != ST_BODY)
        return;
    /* Dot-stuffing (RFC 5321 4.5.2): a line starting with "." gets one
     * more. */
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        if (c->body_bol && data[i] == '.') {
            c->cb.output(c->ctx, data + run, i - run);
            c->cb.output(c->ctx, ".", 1);
            run = i;
        }
        c->body_bol = data[i] == '\n';
    }
    c->cb.output(c->ctx, data + run, len - run);
}

void smtp_client_body_end(struct smtp_client *c)
{
    if (c->st != ST_BODY)
        return;
    if (!c->body_bol)
        out(c, "\r\n");
    out(c, ".\r\n");
    c->st = ST_DOT;
    c->dot_i = 0;
}

void smtp_client_quit(struct smtp_client *c)
{
    if (c->st != ST_READY)
        return;
    c->st = ST_QUIT;
    out(c, "QUIT\r\n");
}

enum smtp_client_wait smtp_client_waiting(const struct smtp_client *c)
{
    switch (c->st) {
    case ST_GREETING:
        return SMTP_WAIT_GREETING;
    case ST_EHLO:
    case ST_HELO:
    case ST_STARTTLS:
    case ST_TLS_WAIT:
    case ST_AUTH:
    case ST_RSET:
    case ST_QUIT:
        return SMTP_WAIT_COMMAND;
    case ST_MAIL:
        return SMTP_WAIT_MAIL;
    case ST_RCPT:
        return SMTP_WAIT_RCPT;
    case ST_DATA:
        return SMTP_WAIT_DATA;
    case ST_BODY:
        return SMTP_WAIT_BLOCK;
    case ST_DOT:
    case ST_DOT_DISCARD:
        return SMTP_WAIT_DOT;
    case ST_READY:
    case ST_CLOSED:
        return SMTP_WAIT_NONE;
    }
    return SMTP_WAIT_NONE;
}

bool smtp_client_tls(const struct smtp_client *c)
{
    return c->tls;
}

const char *smtp_client_peer_name(const struct smtp_client *c)
{
    return c->peer;
}
