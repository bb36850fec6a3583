/* Fuzz target: a whole SMTP server session fed arbitrary bytes.
 *
 * The owner here is trivial: it accepts every sender, recipient and message
 * (except addresses whose local part starts with "refuse" or "temp", so
 * that refusal paths are reachable), and answers every other decision
 * later: the decision is left pending and resumed before the next input,
 * as a real owner does after a database lookup or an fsync. The input is
 * delivered in pieces whose sizes come from a generator seeded with the
 * input. The session must never crash, leak or hang, and:
 *   - it never consumes more than it is given, nothing while a decision
 *     is pending and nothing after it closed;
 *   - it never waits for more input while holding a full command line;
 *   - every reply line is "ddd" SP/"-" text CRLF, and nothing is sent after
 *     close;
 *   - every message handed to on_data_end is clean: CRLF lines only (no
 *     bare CR or LF, so smuggled commands never pass), no NUL, no line
 *     over 998 octets, within the size limit, and exactly the octets
 *     written. */
#include <stdbool.h>

#include "fuzz-util.h"
#include "lib/buf.h"
#include "smtp/smtp-server.h"

#define MAX_SIZE 1500 /* small, so that inputs of a few KiB cross it */

struct owner {
    struct smtp_server_session *s;
    struct buf msg;
    bool in_message;
    bool closed;
    bool pending;
    struct smtp_reply reply; /* the answer of the pending decision */
    unsigned decisions;
    unsigned resumes;
    bool starttls; /* STARTTLS accepted: switch at the next turn */
};

static void check_reply_text(const char *data, size_t len)
{
    /* Complete lines "ddd" SP or "-", then CRLF; no CR or LF inside. */
    CHECK(len >= 6);
    size_t i = 0;
    while (i < len) {
        CHECK(len - i >= 6);
        CHECK(data[i] >= '2' && data[i] <= '5');
        CHECK(data[i + 1] >= '0' && data[i + 1] <= '9' && data[i + 2] >= '0' && data[i + 2] <= '9');
        CHECK(data[i + 3] == ' ' || data[i + 3] == '-');
        size_t j = i + 4;
        while (j < len && data[j] != '\r' && data[j] != '\n')
            j++;
        CHECK(j + 1 < len && data[j] == '\r' && data[j + 1] == '\n');
        CHECK(j - i <= 4 + 16 + SMTP_REPLY_TEXT_MAX);
        /* The last line of a reply is the one with SP. */
        CHECK((data[i + 3] == ' ') == (j + 2 == len));
        i = j + 2;
    }
}

static void cb_output(void *ctx, const char *data, size_t len)
{
    struct owner *o = ctx;
    CHECK(!o->closed);
    check_reply_text(data, len);
}

static void cb_close(void *ctx)
{
    struct owner *o = ctx;
    CHECK(!o->closed);
    o->closed = true;
}

/* Accept (or refuse by the address), and leave every other decision
 * pending until the owner's next turn. */
static enum smtp_decision decide(struct owner *o, struct smtp_reply *r)
{
    CHECK(!o->pending);
    if (o->decisions++ % 2 == 0)
        return SMTP_DECIDED;
    o->reply = *r;
    o->pending = true;
    return SMTP_PENDING;
}

static enum smtp_decision cb_helo(void *ctx, const char *name, bool ehlo, struct smtp_reply *r)
{
    (void)ehlo;
    CHECK(strlen(name) > 0 && strlen(name) <= 255);
    return decide(ctx, r);
}

static void refuse_by_name(const char *local, struct smtp_reply *r)
{
    if (strncmp(local, "refuse", 6) == 0)
        smtp_reply_set(r, 550, "5.7.1", "Refused");
    else if (strncmp(local, "temp", 4) == 0)
        smtp_reply_set(r, 451, "4.3.0", "Try again\nlater");
}

static enum smtp_decision cb_mail(void *ctx, const struct smtp_mail_args *a, struct smtp_reply *r)
{
    CHECK(!a->has_size || a->size <= MAX_SIZE);
    refuse_by_name(a->path.local, r);
    return decide(ctx, r);
}

static enum smtp_decision cb_rcpt(void *ctx, const struct smtp_rcpt_args *a, struct smtp_reply *r)
{
    CHECK(!a->path.null);
    refuse_by_name(a->path.local, r);
    return decide(ctx, r);
}

static enum smtp_decision cb_data_start(void *ctx, struct smtp_reply *r)
{
    struct owner *o = ctx;
    CHECK(!o->in_message);
    o->in_message = true;
    buf_reset(&o->msg);
    return decide(o, r);
}

static void cb_data_write(void *ctx, const char *data, size_t len)
{
    struct owner *o = ctx;
    CHECK(o->in_message);
    CHECK(len > 0);
    CHECK(buf_append(&o->msg, data, len) == 0);
    CHECK(o->msg.len <= MAX_SIZE);
}

static enum smtp_decision cb_data_end(void *ctx, const struct smtp_data_result *res,
                                      struct smtp_reply *r)
{
    struct owner *o = ctx;
    CHECK(o->in_message);
    o->in_message = false;
    const char *m = buf_cstr(&o->msg);
    size_t n = o->msg.len;
    CHECK(res->size == n);
    CHECK(n <= MAX_SIZE);
    /* CRLF lines only, no NUL, no line over 998 octets. */
    CHECK(n == 0 || (n >= 2 && m[n - 2] == '\r' && m[n - 1] == '\n'));
    size_t line = 0;
    bool has_8bit = false;
    for (size_t i = 0; i < n; i++) {
        CHECK(m[i] != '\0');
        has_8bit |= (unsigned char)m[i] >= 0x80;
        if (m[i] == '\r') {
            CHECK(i + 1 < n && m[i + 1] == '\n');
            line = 0;
            i++;
            continue;
        }
        CHECK(m[i] != '\n');
        CHECK(++line <= SMTP_TEXT_LINE_MAX);
    }
    CHECK(res->has_8bit == has_8bit);
    smtp_reply_set(r, 250, "2.0.0", "Ok: queued");
    return decide(o, r);
}

static void cb_data_abort(void *ctx)
{
    struct owner *o = ctx;
    CHECK(o->in_message);
    o->in_message = false;
}

static void cb_reset(void *ctx)
{
    (void)ctx;
}

static void cb_log(void *ctx, const char *text)
{
    (void)ctx;
    /* Log text is printable: no line breaks from the client. */
    for (const char *p = text; *p; p++)
        CHECK(*p != '\r' && *p != '\n');
}

/* STARTTLS: the owner drops what follows and brings TLS up at its next
 * turn (see pump). */
static void cb_starttls(void *ctx)
{
    struct owner *o = ctx;
    CHECK(!o->starttls);
    o->starttls = true;
}

static enum smtp_decision cb_auth(void *ctx, const struct smtp_auth_request *a,
                                  struct smtp_reply *r)
{
    struct owner *o = ctx;
    CHECK(smtp_server_tls(o->s));
    CHECK(a->mech == SMTP_AUTH_PLAIN || a->mech == SMTP_AUTH_LOGIN);
    for (int i = 0; i < (a->mech == SMTP_AUTH_LOGIN ? 2 : 1); i++) {
        CHECK(a->resp[i] != NULL);
        CHECK(a->resp_len[i] <= SMTP_AUTH_LINE_MAX);
    }
    if (a->resp_len[0] >= 2 && memcmp(a->resp[0], "QQ", 2) == 0)
        smtp_reply_set(r, 235, "2.7.0", "Authentication successful");
    else
        smtp_reply_set(r, 535, "5.7.8", "Authentication credentials invalid");
    return decide(o, r);
}

static const struct smtp_server_callbacks callbacks = {
    .output = cb_output,
    .close = cb_close,
    .on_helo = cb_helo,
    .on_mail = cb_mail,
    .on_rcpt = cb_rcpt,
    .on_data_start = cb_data_start,
    .on_data_write = cb_data_write,
    .on_data_end = cb_data_end,
    .on_data_abort = cb_data_abort,
    .on_reset = cb_reset,
    .on_log = cb_log,
    .on_starttls = cb_starttls,
    .on_auth = cb_auth,
};

/* Hand over everything buffered, resuming decisions, until the session
 * needs more input (or closed). */
static void pump(struct owner *o, struct buf *in)
{
    for (unsigned rounds = 0;; rounds++) {
        CHECK(rounds < 100000); /* bounded: every round makes progress */
        if (o->starttls) {
            /* Plaintext behind STARTTLS is dropped, never executed. */
            CHECK(smtp_server_pending(o->s));
            CHECK(smtp_server_input(o->s, buf_cstr(in), in->len) == 0);
            buf_reset(in);
            o->starttls = false;
            smtp_server_tls_started(o->s);
            CHECK(smtp_server_tls(o->s) && !smtp_server_authenticated(o->s));
            continue;
        }
        if (o->pending) {
            CHECK(smtp_server_pending(o->s));
            CHECK(smtp_server_input(o->s, buf_cstr(in), in->len) == 0);
            o->pending = false;
            o->resumes++;
            smtp_server_resume(o->s, &o->reply);
            continue;
        }
        CHECK(!smtp_server_pending(o->s));
        size_t used = smtp_server_input(o->s, buf_cstr(in), in->len);
        CHECK(used <= in->len);
        buf_consume(in, used);
        if (o->closed) {
            CHECK(smtp_server_closed(o->s));
            CHECK(smtp_server_input(o->s, buf_cstr(in), in->len) == 0);
            return;
        }
        if (o->pending)
            continue;
        /* Waiting for more: never with a full line's worth buffered. */
        CHECK(in->len < SMTP_ANY_LINE_MAX);
        return;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct owner o;
    memset(&o, 0, sizeof(o));
    buf_init(&o.msg, BUF_UNLIMITED);
    struct smtp_server_settings set = {
        .hostname = "mx.fuzz.example",
        .max_message_size = MAX_SIZE,
        .max_recipients = 5,
        .max_errors = 30,
        .max_received = 3,
        .starttls = true,
        .auth = true,
        .tls = size % 5 == 0,
        .require_tls = size % 7 == 0,
        .require_auth = size % 11 == 0,
    };
    o.s = smtp_server_session_new(&set, &callbacks, &o);
    struct buf in;
    buf_init(&in, BUF_UNLIMITED);
    struct fuzz_rng rng;
    fuzz_rng_init(&rng, data, size);
    size_t max_piece = 1 + (size_t)(fuzz_rng_next(&rng) % 512);
    size_t pos = 0;
    while (pos < size && !o.closed) {
        size_t len = fuzz_rng_piece(&rng, max_piece);
        if (len > size - pos)
            len = size - pos;
        CHECK(buf_append(&in, data + pos, len) == 0);
        pos += len;
        pump(&o, &in);
    }
    /* The connection ends here: sometimes by a timeout first. */
    if (size % 3 == 0)
        smtp_server_timeout(o.s);
    if (o.pending && !o.closed) {
        o.pending = false;
        smtp_server_resume(o.s, &o.reply);
    }
    smtp_server_session_free(&o.s);
    CHECK(o.s == NULL);
    /* A message still held when the session went away was dropped, or was
     * handed over (its end pending when the timeout came). */
    buf_free(&in);
    buf_free(&o.msg);
    return 0;
}
