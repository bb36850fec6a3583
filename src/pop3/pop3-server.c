/* pop3-server: the POP3 session state machine (see pop3-server.h). */
#include "pop3-server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sasl.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xalloc.h"

enum pop3_state {
    STATE_AUTHORIZATION,
    STATE_TRANSACTION,
    STATE_CLOSED,
};

enum pop3_wait {
    WAIT_NONE,
    WAIT_AUTH, /* the auth callback */
    WAIT_OPEN, /* the open callback */
    WAIT_SASL, /* the next line is an AUTH PLAIN response */
};

struct pop3_server {
    struct pop3_settings set;
    struct pop3_server_callbacks cb;
    void *ctx;
    enum pop3_state state;
    enum pop3_wait wait;
    bool tls;       /* encrypted (implicit or after STLS) */
    bool stls_sent; /* STLS accepted: no more input before the handshake */
    bool closing;
    struct buf line;
    bool line_too_long; /* discarding up to the next CRLF */
    unsigned errors;
    unsigned auth_failures;
    char user[SASL_USER_MAX + 1]; /* USER's argument, then the account */
    bool have_user;
    struct pop3_message *msgs;
    bool *deleted;
    size_t n;
};

/* --- output --- */

static void out(struct pop3_server *s, const char *data, size_t len)
{
    s->cb.output(s->ctx, data, len);
}

static void reply(struct pop3_server *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void reply(struct pop3_server *s, const char *fmt, ...)
{
    char line[POP3_LINE_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(line) - 3)
        n = (int)(sizeof(line) - 3);
    line[n++] = '\r';
    line[n++] = '\n';
    out(s, line, (size_t)n);
}

static void logf_(struct pop3_server *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void logf_(struct pop3_server *s, const char *fmt, ...)
{
    if (!s->cb.log)
        return;
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (n >= 0)
        s->cb.log(s->ctx, text);
}

static void close_session(struct pop3_server *s)
{
    s->closing = true;
    s->state = STATE_CLOSED;
    s->cb.close(s->ctx);
}

/* A bad command: -ERR, and the end after too many. */
static void bad(struct pop3_server *s, const char *text)
{
    s->errors++;
    if (s->errors >= POP3_ERRORS_MAX) {
        reply(s, "-ERR %s; too many errors, closing", text);
        close_session(s);
        return;
    }
    reply(s, "-ERR %s", text);
}

/* --- life --- */

struct pop3_server *pop3_server_new(const struct pop3_settings *set,
                                    const struct pop3_server_callbacks *cb, void *ctx)
{
    struct pop3_server *s = xcalloc(1, sizeof(*s));
    s->set = *set;
    s->cb = *cb;
    s->ctx = ctx;
    s->tls = set->tls;
    buf_init(&s->line, POP3_AUTH_MAX);
    reply(s, "+OK %s POP3 server ready",
          set->hostname && set->hostname[0] ? set->hostname : "postino");
    return s;
}

void pop3_server_free(struct pop3_server **sp)
{
    struct pop3_server *s = *sp;
    if (!s)
        return;
    buf_free(&s->line);
    free(s->msgs);
    free(s->deleted);
    memset(s->user, 0, sizeof(s->user));
    free(s);
    *sp = NULL;
}

bool pop3_server_waiting(const struct pop3_server *s)
{
    return s->wait == WAIT_AUTH || s->wait == WAIT_OPEN || s->stls_sent;
}

bool pop3_server_closing(const struct pop3_server *s)
{
    return s->closing;
}

const char *pop3_server_user(const struct pop3_server *s)
{
    return s->state == STATE_TRANSACTION ? s->user : NULL;
}

void pop3_server_tls_started(struct pop3_server *s)
{
    s->tls = true;
    s->stls_sent = false;
}

void pop3_server_timeout(struct pop3_server *s)
{
    if (s->closing)
        return;
    reply(s, "-ERR Disconnected for inactivity");
    close_session(s);
}

void pop3_server_shutdown(struct pop3_server *s)
{
    if (s->closing)
        return;
    reply(s, "-ERR [SYS/TEMP] Server shutting down");
    close_session(s);
}

/* --- AUTHORIZATION --- */

static void cmd_capa(struct pop3_server *s)
{
    struct buf b;
    buf_init(&b, 1024);
    buf_append_str(&b, "+OK Capability list follows\r\nCAPA\r\nTOP\r\nUIDL\r\n"
                       "RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n");
    if (s->state == STATE_AUTHORIZATION) {
        if (s->tls || s->set.plaintext_login)
            buf_append_str(&b, "USER\r\nSASL PLAIN\r\n");
        if (!s->tls && s->set.starttls)
            buf_append_str(&b, "STLS\r\n");
    }
    buf_append_str(&b, "IMPLEMENTATION postino\r\n.\r\n");
    out(s, b.data, b.len);
    buf_free(&b);
}

/* Logins only over TLS (RFC 2595 allows refusing them in the clear),
 * unless the client is on a network the administrator trusts. */
static bool login_allowed(struct pop3_server *s)
{
    if (s->tls || s->set.plaintext_login)
        return true;
    bad(s, "[AUTH] Plaintext authentication is not allowed without TLS (use STLS)");
    return false;
}

static void start_auth(struct pop3_server *s, const char *user, const char *password, size_t len)
{
    str_copy(s->user, sizeof(s->user), user);
    s->wait = WAIT_AUTH;
    s->cb.auth(s->ctx, user, password, len);
}

static void cmd_pass(struct pop3_server *s, const char *arg, size_t len)
{
    if (!s->have_user) {
        bad(s, "Give USER first");
        return;
    }
    s->have_user = false;
    if (len == 0 || len > PASSWORD_MAX) {
        bad(s, "[AUTH] Authentication failed");
        return;
    }
    char user[sizeof(s->user)];
    str_copy(user, sizeof(user), s->user);
    start_auth(s, user, arg, len);
    memset(user, 0, sizeof(user));
}

/* An AUTH PLAIN response (initial or on its own line). */
static void sasl_plain(struct pop3_server *s, const char *b64, size_t len)
{
    if (len == 1 && b64[0] == '*') {
        bad(s, "Authentication cancelled");
        return;
    }
    struct sasl_creds cr;
    int ok = sasl_plain_decode(b64, len, &cr);
    if (ok == 0 && cr.authzid[0] && !str_eq_ci(cr.authzid, cr.user))
        ok = -2; /* no acting as someone else */
    if (ok == -2) {
        memset(&cr, 0, sizeof(cr));
        s->auth_failures++;
        bad(s, "[AUTH] Authentication failed");
        return;
    }
    if (ok < 0) {
        memset(&cr, 0, sizeof(cr));
        bad(s, "Cannot decode the response");
        return;
    }
    start_auth(s, cr.user, cr.password, strlen(cr.password));
    memset(&cr, 0, sizeof(cr));
}

static void cmd_auth(struct pop3_server *s, const char *arg, size_t len)
{
    if (len == 0) {
        /* The mechanism list some old clients ask for. */
        out(s, "+OK\r\nPLAIN\r\n.\r\n", 15);
        return;
    }
    const char *sp = memchr(arg, ' ', len);
    size_t mlen = sp ? (size_t)(sp - arg) : len;
    if (mlen != 5 || !str_eqn_ci(arg, "PLAIN", 5)) {
        bad(s, "Unsupported authentication mechanism");
        return;
    }
    if (!login_allowed(s))
        return;
    if (sp) {
        const char *ir = sp + 1;
        size_t irlen = len - mlen - 1;
        if (irlen == 1 && ir[0] == '=') /* an empty initial response */
            irlen = 0;
        if (irlen > 0) {
            sasl_plain(s, ir, irlen);
            return;
        }
    }
    s->wait = WAIT_SASL;
    out(s, "+ \r\n", 4);
}

void pop3_server_auth_done(struct pop3_server *s, enum pop3_result r, const char *user)
{
    s->wait = WAIT_NONE;
    if (s->closing)
        return;
    if (r == POP3_OK) {
        str_copy(s->user, sizeof(s->user), user);
        s->wait = WAIT_OPEN;
        s->cb.open(s->ctx, s->user);
        return;
    }
    memset(s->user, 0, sizeof(s->user));
    if (r == POP3_TEMPFAIL) {
        reply(s, "-ERR [SYS/TEMP] Temporary authentication failure, try again later");
        return;
    }
    s->auth_failures++;
    if (s->auth_failures >= POP3_AUTH_TRIES) {
        reply(s, "-ERR [AUTH] Authentication failed; too many failures, closing");
        close_session(s);
        return;
    }
    reply(s, "-ERR [AUTH] Authentication failed");
}

void pop3_server_maildrop_done(struct pop3_server *s, enum pop3_result r,
                               const struct pop3_message *msgs, size_t n)
{
    s->wait = WAIT_NONE;
    if (s->closing)
        return;
    if (r != POP3_OK) {
        /* Logged in but no maildrop: RFC 1939 returns to AUTHORIZATION. */
        reply(s, "%s",
              r == POP3_IN_USE ? "-ERR [IN-USE] The maildrop is in use"
                               : "-ERR [SYS/TEMP] Cannot open the maildrop now");
        memset(s->user, 0, sizeof(s->user));
        return;
    }
    s->msgs = xcalloc(n ? n : 1, sizeof(*s->msgs));
    s->deleted = xcalloc(n ? n : 1, sizeof(*s->deleted));
    if (n)
        memcpy(s->msgs, msgs, n * sizeof(*msgs));
    s->n = n;
    s->state = STATE_TRANSACTION;
    unsigned long long total = 0;
    for (size_t i = 0; i < n; i++)
        total += msgs[i].size;
    logf_(s, "maildrop opened: messages=%zu size=%llu", n, total);
    reply(s, "+OK Logged in, %zu message%s (%llu octets)", n, n == 1 ? "" : "s", total);
}

/* --- TRANSACTION --- */

/* A message number argument: 1..n, not deleted. Returns the index or -1
 * (after the error reply). */
static long msg_arg(struct pop3_server *s, const char *arg, size_t len)
{
    unsigned long long v;
    if (len == 0 || str_to_u64(arg, len, 1000000000ULL, &v) < 0 || v == 0) {
        bad(s, "Invalid message number");
        return -1;
    }
    if (v > s->n) {
        bad(s, "No such message");
        return -1;
    }
    if (s->deleted[v - 1]) {
        bad(s, "Message already deleted");
        return -1;
    }
    return (long)(v - 1);
}

/* Split "a b" into two arguments. false if there are not exactly two. */
static bool two_args(const char *arg, size_t len, size_t *alen, const char **b, size_t *blen)
{
    const char *sp = memchr(arg, ' ', len);
    if (!sp)
        return false;
    *alen = (size_t)(sp - arg);
    *b = sp + 1;
    *blen = len - *alen - 1;
    return *alen > 0 && *blen > 0 && !memchr(*b, ' ', *blen);
}

static void cmd_stat(struct pop3_server *s)
{
    size_t count = 0;
    unsigned long long size = 0;
    for (size_t i = 0; i < s->n; i++)
        if (!s->deleted[i]) {
            count++;
            size += s->msgs[i].size;
        }
    reply(s, "+OK %zu %llu", count, size);
}

static void cmd_list(struct pop3_server *s, const char *arg, size_t len, bool uidl)
{
    if (len) {
        long i = msg_arg(s, arg, len);
        if (i < 0)
            return;
        if (uidl)
            reply(s, "+OK %ld %s", i + 1, s->msgs[i].uidl);
        else
            reply(s, "+OK %ld %llu", i + 1, s->msgs[i].size);
        return;
    }
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_append_str(&b, uidl ? "+OK Unique-ID listing follows\r\n" : "+OK Scan listing follows\r\n");
    for (size_t i = 0; i < s->n; i++) {
        if (s->deleted[i])
            continue;
        if (uidl)
            buf_printf(&b, "%zu %s\r\n", i + 1, s->msgs[i].uidl);
        else
            buf_printf(&b, "%zu %llu\r\n", i + 1, s->msgs[i].size);
    }
    buf_append_str(&b, ".\r\n");
    out(s, b.data, b.len);
    buf_free(&b);
}

/* Send text (CRLF lines) byte-stuffed (RFC 1939 3): a line that starts
 * with "." gets another. With max_body_lines >= 0, only the header, the
 * blank line and that many lines of the body (TOP). Ends with CRLF.CRLF. */
static void send_stuffed(struct pop3_server *s, const char *data, size_t len, long max_body_lines)
{
    size_t start = 0; /* of the run not yet written */
    size_t pos = 0;
    bool in_body = false;
    long body_lines = 0;
    while (pos < len) {
        if (max_body_lines >= 0 && in_body && body_lines >= max_body_lines)
            break;
        /* pos is at the start of a line */
        if (data[pos] == '.') {
            out(s, data + start, pos - start);
            out(s, ".", 1);
            start = pos;
        }
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) + 1 : len;
        bool blank = end - pos == 2 && data[pos] == '\r';
        if (in_body)
            body_lines++;
        else if (blank)
            in_body = true;
        pos = end;
    }
    out(s, data + start, pos - start);
    if (pos > 0 && data[pos - 1] != '\n')
        out(s, "\r\n", 2);
    out(s, ".\r\n", 3);
}

static void cmd_retr(struct pop3_server *s, const char *arg, size_t len)
{
    long i = msg_arg(s, arg, len);
    if (i < 0)
        return;
    const char *data;
    size_t dlen;
    if (s->cb.message(s->ctx, (size_t)i, &data, &dlen) < 0) {
        reply(s, "-ERR [SYS/TEMP] Cannot read the message now");
        return;
    }
    reply(s, "+OK %zu octets", dlen);
    send_stuffed(s, data, dlen, -1);
}

static void cmd_top(struct pop3_server *s, const char *arg, size_t len)
{
    size_t alen, blen;
    const char *b;
    unsigned long long lines;
    if (!two_args(arg, len, &alen, &b, &blen) || str_to_u64(b, blen, 1000000000ULL, &lines) < 0) {
        bad(s, "Usage: TOP msg lines");
        return;
    }
    long i = msg_arg(s, arg, alen);
    if (i < 0)
        return;
    const char *data;
    size_t dlen;
    if (s->cb.message(s->ctx, (size_t)i, &data, &dlen) < 0) {
        reply(s, "-ERR [SYS/TEMP] Cannot read the message now");
        return;
    }
    reply(s, "+OK Top of message follows");
    send_stuffed(s, data, dlen, (long)lines);
}

static void cmd_quit(struct pop3_server *s)
{
    if (s->state != STATE_TRANSACTION) {
        reply(s, "+OK Bye");
        close_session(s);
        return;
    }
    size_t left = 0, removed = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->deleted[i])
            removed++;
        else
            left++;
    }
    if (removed && s->cb.commit(s->ctx, s->deleted, s->n) < 0) {
        reply(s, "-ERR [SYS/TEMP] Some deleted messages were not removed");
        close_session(s);
        return;
    }
    logf_(s, "logout: deleted=%zu left=%zu", removed, left);
    reply(s, "+OK Bye (%zu message%s left)", left, left == 1 ? "" : "s");
    close_session(s);
}

/* --- dispatch --- */

static bool is_cmd(const char *word, size_t wlen, const char *name)
{
    return wlen == strlen(name) && str_eqn_ci(word, name, wlen);
}

static void command(struct pop3_server *s, const char *line, size_t len)
{
    if (s->wait == WAIT_SASL) {
        s->wait = WAIT_NONE;
        sasl_plain(s, line, len);
        return;
    }
    const char *sp = memchr(line, ' ', len);
    size_t wlen = sp ? (size_t)(sp - line) : len;
    const char *arg = sp ? sp + 1 : line + len;
    size_t alen = sp ? len - wlen - 1 : 0;
    if (wlen == 0 || wlen > 4) {
        bad(s, "Unknown command");
        return;
    }
    if (is_cmd(line, wlen, "QUIT")) {
        cmd_quit(s);
        return;
    }
    if (is_cmd(line, wlen, "CAPA")) {
        cmd_capa(s);
        return;
    }
    if (is_cmd(line, wlen, "NOOP") && s->state == STATE_TRANSACTION) {
        reply(s, "+OK");
        return;
    }
    if (s->state == STATE_AUTHORIZATION) {
        if (is_cmd(line, wlen, "USER")) {
            if (!login_allowed(s))
                return;
            if (alen == 0 || alen > SASL_USER_MAX || !str_utf8_valid(arg, alen)) {
                bad(s, "Invalid user name");
                return;
            }
            str_copyn(s->user, sizeof(s->user), arg, alen);
            s->have_user = true;
            reply(s, "+OK");
        } else if (is_cmd(line, wlen, "PASS")) {
            if (login_allowed(s))
                cmd_pass(s, arg, alen);
        } else if (is_cmd(line, wlen, "AUTH")) {
            cmd_auth(s, arg, alen);
        } else if (is_cmd(line, wlen, "STLS")) {
            if (s->tls || !s->set.starttls) {
                bad(s, s->tls ? "TLS is already active" : "STLS is not available");
                return;
            }
            reply(s, "+OK Begin TLS negotiation");
            s->stls_sent = true;
            s->cb.starttls(s->ctx);
        } else if (is_cmd(line, wlen, "APOP")) {
            bad(s, "APOP is not supported");
        } else {
            bad(s, "Unknown command, or not allowed before login");
        }
        return;
    }
    /* TRANSACTION */
    if (is_cmd(line, wlen, "STAT")) {
        cmd_stat(s);
    } else if (is_cmd(line, wlen, "LIST")) {
        cmd_list(s, arg, alen, false);
    } else if (is_cmd(line, wlen, "UIDL")) {
        cmd_list(s, arg, alen, true);
    } else if (is_cmd(line, wlen, "RETR")) {
        cmd_retr(s, arg, alen);
    } else if (is_cmd(line, wlen, "TOP")) {
        cmd_top(s, arg, alen);
    } else if (is_cmd(line, wlen, "DELE")) {
        long i = msg_arg(s, arg, alen);
        if (i >= 0) {
            s->deleted[i] = true;
            reply(s, "+OK Message deleted");
        }
    } else if (is_cmd(line, wlen, "RSET")) {
        memset(s->deleted, 0, s->n * sizeof(*s->deleted));
        reply(s, "+OK");
    } else {
        bad(s, "Unknown command");
    }
}

/* A line is complete (CRLF removed). */
static void line_done(struct pop3_server *s)
{
    size_t len = s->line.len;
    const char *p = buf_cstr(&s->line);
    size_t max = s->wait == WAIT_SASL ? POP3_AUTH_MAX : POP3_LINE_MAX;
    if (len > max) {
        bad(s, "Line too long");
    } else if (memchr(p, '\0', len) || !str_utf8_valid(p, len)) {
        s->wait = WAIT_NONE;
        bad(s, "Invalid characters in the command");
    } else {
        command(s, p, len);
    }
    /* No password stays in memory longer than its line. */
    memset(s->line.data, 0, s->line.len);
    buf_reset(&s->line);
}

size_t pop3_server_input(struct pop3_server *s, const char *data, size_t len)
{
    size_t used = 0;
    while (used < len && !s->closing && !pop3_server_waiting(s)) {
        const char *nl = memchr(data + used, '\n', len - used);
        size_t chunk = nl ? (size_t)(nl - (data + used)) + 1 : len - used;
        if (!s->line_too_long && buf_append(&s->line, data + used, chunk) < 0)
            s->line_too_long = true;
        used += chunk;
        if (!nl)
            break;
        if (s->line_too_long) {
            s->line_too_long = false;
            memset(s->line.data, 0, s->line.len);
            buf_reset(&s->line);
            s->wait = s->wait == WAIT_SASL ? WAIT_NONE : s->wait;
            bad(s, "Line too long");
            continue;
        }
        /* The line ends in LF; it must end in CRLF. */
        if (s->line.len < 2 || s->line.data[s->line.len - 2] != '\r') {
            memset(s->line.data, 0, s->line.len);
            buf_reset(&s->line);
            s->wait = s->wait == WAIT_SASL ? WAIT_NONE : s->wait;
            bad(s, "Lines must end with CRLF");
            continue;
        }
        buf_truncate(&s->line, s->line.len - 2);
        line_done(s);
    }
    return used;
}
