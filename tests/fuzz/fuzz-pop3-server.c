/* Fuzz target: a whole POP3 session fed arbitrary bytes in pieces.
 *
 * The owner accepts every login whose user does not start with "bad",
 * answers logins and the maildrop at its next turn (as a real owner does
 * after a worker thread), and offers a maildrop of a few messages, some
 * with lines that start with a dot. The session must never crash, leak
 * or hang, and:
 *   - it never consumes more than it is given, nothing while waiting and
 *     nothing after it closed;
 *   - what it sends in one turn is whole CRLF lines (no bare LF);
 *   - nothing is sent after close, and logins only happen over TLS. */
#include <stdbool.h>

#include "fuzz-util.h"
#include "lib/buf.h"
#include "pop3/pop3-server.h"

static const char *const texts[] = {
    "Subject: a\r\n\r\n.\r\n..\r\n.x\r\nend\r\n",
    "",
    "no header at all",
    "A: b\r\n\r\n\r\n\r\n.\r\n",
};
#define N_TEXTS (sizeof(texts) / sizeof(texts[0]))

struct owner {
    struct pop3_server *s;
    bool closed;
    bool tls;
    bool starttls;
    bool auth_wait;
    bool auth_ok;
    bool open_wait;
    struct buf out; /* the replies since the last turn */
};

static void cb_output(void *ctx, const char *data, size_t len)
{
    struct owner *o = ctx;
    CHECK(!o->closed);
    CHECK(len > 0);
    CHECK(buf_append(&o->out, data, len) == 0);
}

/* The replies of one turn: whole CRLF lines. */
static void check_output(struct owner *o)
{
    const char *p = o->out.data;
    size_t len = o->out.len;
    if (len == 0)
        return;
    CHECK(len >= 2 && p[len - 2] == '\r' && p[len - 1] == '\n');
    for (size_t i = 0; i < len; i++)
        if (p[i] == '\n')
            CHECK(i > 0 && p[i - 1] == '\r');
    buf_reset(&o->out);
}

static void cb_close(void *ctx)
{
    struct owner *o = ctx;
    CHECK(!o->closed);
    o->closed = true;
}

static void cb_starttls(void *ctx)
{
    struct owner *o = ctx;
    CHECK(!o->tls && !o->starttls);
    o->starttls = true;
}

static void cb_auth(void *ctx, const char *user, const char *password, size_t len)
{
    struct owner *o = ctx;
    CHECK(o->tls);
    CHECK(!o->auth_wait);
    CHECK(len > 0 && password != NULL);
    o->auth_wait = true;
    o->auth_ok = strncmp(user, "bad", 3) != 0;
}

static void cb_open(void *ctx, const char *user)
{
    struct owner *o = ctx;
    CHECK(user[0] != '\0');
    o->open_wait = true;
}

static int cb_message(void *ctx, size_t i, const char **data, size_t *len)
{
    (void)ctx;
    CHECK(i < N_TEXTS);
    if (i == 1)
        return -1; /* cannot be read now */
    *data = texts[i];
    *len = strlen(texts[i]);
    return 0;
}

static int cb_commit(void *ctx, const bool *deleted, size_t n)
{
    (void)ctx;
    CHECK(n == N_TEXTS);
    return deleted[0] ? -1 : 0;
}

static void cb_log(void *ctx, const char *text)
{
    (void)ctx;
    CHECK(strchr(text, '\n') == NULL);
}

static const struct pop3_server_callbacks callbacks = {
    .output = cb_output,
    .close = cb_close,
    .starttls = cb_starttls,
    .auth = cb_auth,
    .open = cb_open,
    .message = cb_message,
    .commit = cb_commit,
    .log = cb_log,
};

/* The owner's turn: answer what waits. */
static void turn(struct owner *o)
{
    if (o->starttls) {
        o->starttls = false;
        o->tls = true;
        pop3_server_tls_started(o->s);
    }
    if (o->auth_wait) {
        o->auth_wait = false;
        pop3_server_auth_done(o->s, o->auth_ok ? POP3_OK : POP3_FAIL, "user@fuzz.test");
    }
    if (o->open_wait) {
        o->open_wait = false;
        struct pop3_message m[N_TEXTS];
        for (size_t i = 0; i < N_TEXTS; i++) {
            m[i].size = strlen(texts[i]);
            snprintf(m[i].uidl, sizeof(m[i].uidl), "u%zu", i);
        }
        pop3_server_maildrop_done(o->s, POP3_OK, m, N_TEXTS);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct owner o;
    memset(&o, 0, sizeof(o));
    o.tls = size > 0 && (data[0] & 1); /* port 995 or 110 */
    struct pop3_settings set = {.hostname = "fuzz.test", .tls = o.tls, .starttls = true};
    buf_init(&o.out, BUF_UNLIMITED);
    o.s = pop3_server_new(&set, &callbacks, &o);
    struct fuzz_rng rng;
    fuzz_rng_init(&rng, data, size);
    size_t pos = 0;
    unsigned stuck = 0;
    while (pos < size && !o.closed) {
        size_t piece = fuzz_rng_piece(&rng, 64);
        if (piece > size - pos)
            piece = size - pos;
        char *copy = fuzz_copy(data + pos, piece);
        size_t used = pop3_server_input(o.s, copy, piece);
        free(copy);
        CHECK(used <= piece);
        if (used < piece)
            CHECK(pop3_server_waiting(o.s) || pop3_server_closing(o.s));
        pos += used;
        check_output(&o);
        turn(&o);
        check_output(&o);
        stuck = used ? 0 : stuck + 1;
        CHECK(stuck < 4); /* a waiting session is answered at each turn */
    }
    if (!o.closed)
        pop3_server_timeout(o.s);
    CHECK(o.closed);
    check_output(&o);
    pop3_server_free(&o.s);
    buf_free(&o.out);
    return 0;
}
