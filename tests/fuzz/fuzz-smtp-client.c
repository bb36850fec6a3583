/* Fuzz target: the SMTP/LMTP client session and its reply parser, fed
 * arbitrary server bytes.
 *
 * The first input byte chooses the settings (SMTP or LMTP, STARTTLS, TLS
 * required, AUTH, the message's size and 8-bit flags); the rest is what
 * "the server" says, delivered in pieces whose sizes come from a
 * generator seeded with the input. The owner behaves as deliver-smtp
 * does: it sends a message from on_ready (two in all, then QUIT), feeds
 * the body from on_body, and completes a STARTTLS at its next turn.
 *
 * First the reply parser alone reads the bytes: every reply it completes
 * has a code in 100..599, at most SMTP_CLIENT_REPLY_MAX octets of text,
 * an enhanced code of the reply's class or none; it never consumes more
 * than it is given and never waits while holding a full line.
 *
 * Then the session reads them; it must never crash, leak or hang, and:
 *   - it consumes no more than it is given, and nothing after close or
 *     while waiting for TLS;
 *   - every recipient of a message gets exactly one outcome, before
 *     on_message_done, and a message that was not finished gets them all
 *     before on_close;
 *   - on_close comes at most once, and nothing is said after it;
 *   - every command it sends is one CRLF line (the body aside). */
#include <stdbool.h>

#include "fuzz-util.h"
#include "lib/buf.h"
#include "smtp/smtp-client.h"

#define N_RCPT 3

static const struct smtp_client_rcpt rcpts[N_RCPT] = {
    {"a@x.test", "rfc822;A@x.test", 3},
    {"b@x.test", NULL, 0},
    {"c@x.test", NULL, 0},
};

static const char body[] = "Subject: x\r\n\r\n.dot\r\nline\r\n..two\r\nlast";

struct owner {
    struct smtp_client *c;
    struct smtp_client_message m;
    int outcome[N_RCPT]; /* -1 = none yet */
    bool in_message;
    bool in_body;
    bool closed;
    bool tls_pending;
    unsigned sent;
    unsigned body_chunks;
    struct fuzz_rng rng;
};

static void cb_output(void *ctx, const char *data, size_t len)
{
    struct owner *o = ctx;
    CHECK(!o->closed);
    if (o->in_body)
        return; /* the message, dot-stuffed: checked by the unit tests */
    /* Commands: whole CRLF lines, no bare CR or LF, no NUL. */
    CHECK(len >= 2 && data[len - 2] == '\r' && data[len - 1] == '\n');
    for (size_t i = 0; i + 2 < len; i++) {
        CHECK(data[i] != '\0');
        if (data[i] == '\r')
            CHECK(data[i + 1] == '\n');
        if (data[i] == '\n')
            CHECK(i > 0 && data[i - 1] == '\r');
    }
}

static void cb_starttls(void *ctx)
{
    struct owner *o = ctx;
    CHECK(!o->closed && !o->in_message);
    o->tls_pending = true;
}

static void feed_body(struct owner *o)
{
    /* The body in two pieces, the cut chosen by the generator. */
    size_t cut = (size_t)(fuzz_rng_next(&o->rng) % sizeof(body));
    smtp_client_body(o->c, body, cut);
    smtp_client_body(o->c, body + cut, sizeof(body) - 1 - cut);
    o->in_body = false;
    smtp_client_body_end(o->c);
}

static void cb_ready(void *ctx)
{
    struct owner *o = ctx;
    CHECK(!o->closed && !o->in_message);
    if (o->sent >= 2) {
        smtp_client_quit(o->c);
        return;
    }
    o->sent++;
    o->in_message = true;
    for (size_t i = 0; i < N_RCPT; i++)
        o->outcome[i] = -1;
    smtp_client_send(o->c, &o->m);
}

static void cb_body(void *ctx)
{
    struct owner *o = ctx;
    CHECK(!o->closed && o->in_message);
    o->in_body = true;
    o->body_chunks++;
    feed_body(o);
}

static void cb_rcpt(void *ctx, size_t i, enum smtp_outcome oc, const char *reply)
{
    struct owner *o = ctx;
    CHECK(!o->closed && o->in_message);
    CHECK(i < N_RCPT);
    CHECK(o->outcome[i] == -1);
    CHECK(oc == SMTP_OUTCOME_OK || oc == SMTP_OUTCOME_TEMP || oc == SMTP_OUTCOME_PERM);
    CHECK(reply != NULL);
    o->outcome[i] = (int)oc;
}

static void cb_done(void *ctx)
{
    struct owner *o = ctx;
    CHECK(!o->closed && o->in_message);
    for (size_t i = 0; i < N_RCPT; i++)
        CHECK(o->outcome[i] != -1);
    o->in_message = false;
}

static void cb_close(void *ctx, enum smtp_outcome oc, const char *reason)
{
    struct owner *o = ctx;
    CHECK(!o->closed);
    CHECK(reason != NULL);
    (void)oc;
    if (o->in_message)
        for (size_t i = 0; i < N_RCPT; i++)
            CHECK(o->outcome[i] != -1);
    o->closed = true;
}

static void cb_reply(void *ctx, enum smtp_client_wait what, int code)
{
    struct owner *o = ctx;
    (void)what;
    CHECK(!o->closed);
    CHECK(code >= 100 && code <= 599);
}

static const struct smtp_client_callbacks cbs = {
    .output = cb_output,
    .on_starttls = cb_starttls,
    .on_ready = cb_ready,
    .on_body = cb_body,
    .on_rcpt = cb_rcpt,
    .on_message_done = cb_done,
    .on_close = cb_close,
    .on_reply = cb_reply,
};

/* The reply parser alone, over the input in pieces. */
static void parse_replies(const char *d, size_t n, struct fuzz_rng *rng)
{
    struct smtp_reply_parser p;
    smtp_reply_parser_init(&p);
    size_t off = 0, avail = 0;
    while (off < n) {
        if (avail < n - off)
            avail += fuzz_rng_piece(rng, 64);
        if (avail > n - off)
            avail = n - off;
        size_t used = 0;
        struct smtp_client_reply r;
        smtp_client_reply_init(&r);
        enum smtp_reply_parse st = smtp_reply_parse(&p, d + off, avail, &used, &r);
        CHECK(used <= avail);
        off += used;
        avail -= used;
        if (st == SMTP_REPLY_BAD) {
            smtp_client_reply_free(&r);
            break;
        }
        if (st == SMTP_REPLY_DONE) {
            CHECK(r.code >= 100 && r.code <= 599);
            CHECK(r.lines >= 1);
            CHECK(r.text.len <= SMTP_CLIENT_REPLY_MAX);
            CHECK(r.enh[0] == '\0' || r.enh[0] == '0' + r.code / 100);
            struct buf flat;
            buf_init(&flat, BUF_UNLIMITED);
            smtp_client_reply_flat(&r, &flat);
            CHECK(flat.len >= 3);
            CHECK(memchr(buf_cstr(&flat), '\n', flat.len) == NULL);
            buf_free(&flat);
        } else {
            /* Waiting for more: what is left holds no line end, unless
             * all of it was consumed. */
            CHECK(avail == 0 || memchr(d + off, '\n', avail) == NULL);
            if (avail == n - off) {
                smtp_client_reply_free(&r);
                break; /* all of it offered: a partial last line */
            }
        }
        smtp_client_reply_free(&r);
    }
    smtp_reply_parser_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0];
    char *d = fuzz_copy(data + 1, size - 1);
    size_t n = size - 1;

    struct fuzz_rng rng;
    fuzz_rng_init(&rng, data, size);
    parse_replies(d, n, &rng);

    struct owner o;
    memset(&o, 0, sizeof(o));
    fuzz_rng_init(&o.rng, data, size);
    o.m = (struct smtp_client_message){
        .sender = flags & 0x40 ? "" : "s@me.test",
        .size = flags & 0x80 ? 100000 : 40,
        .body_8bit = flags & 0x10,
        .has_8bit = flags & 0x20,
        .smtputf8 = (flags & 0x30) == 0x30,
        .ret = 1,
        .envid = flags & 0x08 ? "ENV1" : NULL,
        .rcpts = rcpts,
        .n = N_RCPT,
    };
    struct smtp_client_settings set = {
        .helo_name = "me.test",
        .lmtp = flags & 0x01,
        .starttls = flags & 0x02,
        .require_tls = flags & 0x04,
        .auth_user = flags & 0x08 ? "user" : NULL,
        .auth_password = flags & 0x08 ? "secret" : NULL,
    };
    o.c = smtp_client_new(&set, &cbs, &o);

    /* The owner keeps what was not consumed and offers it again with
     * more; a session that stops consuming while the whole input is
     * offered is done (closed, waiting for TLS, or needing more). */
    size_t off = 0, avail = 0;
    while (off < n && !o.closed) {
        if (o.tls_pending) {
            o.tls_pending = false;
            smtp_client_tls_started(o.c);
            continue;
        }
        if (avail < n - off)
            avail += fuzz_rng_piece(&rng, 128);
        if (avail > n - off)
            avail = n - off;
        size_t used = smtp_client_input(o.c, d + off, avail);
        CHECK(used <= avail);
        off += used;
        avail -= used;
        if (used == 0 && avail == n - off && !o.tls_pending)
            break;
    }
    if (o.closed)
        CHECK(smtp_client_input(o.c, "250 ok\r\n", 8) == 0);
    else
        smtp_client_abort(o.c, SMTP_OUTCOME_TEMP, "end of input");
    CHECK(o.closed);
    smtp_client_free(&o.c);
    free(d);
    return 0;
}
