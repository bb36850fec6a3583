/* Unit tests of src/policy/clamd-reply.c (the reply parser) and
 * src/policy/clamd.c (the INSTREAM client, against a fake clamd served on
 * the test's own event loop over a Unix socket). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "lib/buf.h"
#include "policy/clamd-reply.h"
#include "policy/clamd.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A heap copy of exactly n bytes: ASan catches any read past n. */
static char *exact_copy(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, s, n);
    return p;
}

/* --- the reply parser --- */

static void test_clamd_reply_parse(void **state)
{
    (void)state;
    static const struct {
        const char *reply;
        size_t len; /* 0: strlen, else explicit (for NULs) */
        int rc;
        enum clamd_reply_verdict verdict;
        const char *signature;
        const char *text;
    } cases[] = {
        {"stream: OK", 0, 0, CLAMD_REPLY_CLEAN, "", ""},
        {"stream: OK\n", 0, 0, CLAMD_REPLY_CLEAN, "", ""},
        {"stream: OK\0", 11, 0, CLAMD_REPLY_CLEAN, "", ""},
        {"stream: Eicar-Test-Signature FOUND\0", 35, 0, CLAMD_REPLY_INFECTED,
         "Eicar-Test-Signature", ""},
        {"stream: Eicar-Test-Signature FOUND\n", 0, 0, CLAMD_REPLY_INFECTED, "Eicar-Test-Signature",
         ""},
        {"stream: Win.Test.EICAR_HDB-1 FOUND", 0, 0, CLAMD_REPLY_INFECTED, "Win.Test.EICAR_HDB-1",
         ""},
        {"stream: Eicar-Signature(44d88612fea8a8f36de82e1278abb02f:68) FOUND", 0, 0,
         CLAMD_REPLY_INFECTED, "Eicar-Signature(44d88612fea8a8f36de82e1278abb02f:68)", ""},
        {"stream: Bad\x01Name\\ FOUND", 0, 0, CLAMD_REPLY_INFECTED, "Bad\\x01Name\\x5c", ""},
        {"stream: Can't allocate memory ERROR\0", 36, 0, CLAMD_REPLY_ERROR, "",
         "Can't allocate memory"},
        {"INSTREAM size limit exceeded. ERROR\0", 36, 0, CLAMD_REPLY_ERROR, "",
         "INSTREAM size limit exceeded."},
        {"INSTREAM size limit exceeded. ERROR\n", 0, 0, CLAMD_REPLY_ERROR, "",
         "INSTREAM size limit exceeded."},
        {"COMMAND READ TIMED OUT ERROR", 0, 0, CLAMD_REPLY_ERROR, "", "COMMAND READ TIMED OUT"},
        /* malformed */
        {"", 0, -1, CLAMD_REPLY_ERROR, "", ""},
        {"\0", 1, -1, CLAMD_REPLY_ERROR, "", "\\x00"},
        {"\n", 0, -1, CLAMD_REPLY_ERROR, "", "\\x0a"},
        {"stream: OK\0\0", 12, -1, CLAMD_REPLY_ERROR, "", "stream: OK\\x00\\x00"},
        {"stream: OK\n\0", 12, -1, CLAMD_REPLY_ERROR, "", "stream: OK\\x0a\\x00"},
        {"stream: OK\r\n", 0, -1, CLAMD_REPLY_ERROR, "", "stream: OK\\x0d\\x0a"},
        {"stream: ok", 0, -1, CLAMD_REPLY_ERROR, "", "stream: ok"},
        {"stream: OKAY", 0, -1, CLAMD_REPLY_ERROR, "", "stream: OKAY"},
        {"stream:OK", 0, -1, CLAMD_REPLY_ERROR, "", "stream:OK"},
        {"OK", 0, -1, CLAMD_REPLY_ERROR, "", "OK"},
        {"stream: FOUND", 0, -1, CLAMD_REPLY_ERROR, "", "stream: FOUND"},
        {"stream:  FOUND", 0, -1, CLAMD_REPLY_ERROR, "", "stream:  FOUND"},
        {"stream:  X FOUND", 0, -1, CLAMD_REPLY_ERROR, "", "stream:  X FOUND"},
        {"stream: ERROR", 0, -1, CLAMD_REPLY_ERROR, "", "stream: ERROR"},
        {" ERROR", 0, -1, CLAMD_REPLY_ERROR, "", " ERROR"},
        {"stream: Eicar FOUND\0garbage", 27, -1, CLAMD_REPLY_ERROR, "",
         "stream: Eicar FOUND\\x00garbage"},
        {"stream: Eic", 0, -1, CLAMD_REPLY_ERROR, "", "stream: Eic"},
        {"UNKNOWN COMMAND", 0, -1, CLAMD_REPLY_ERROR, "", "UNKNOWN COMMAND"},
        {"PONG", 0, -1, CLAMD_REPLY_ERROR, "", "PONG"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        size_t n = cases[i].len ? cases[i].len : strlen(cases[i].reply);
        char *r = exact_copy(cases[i].reply, n);
        struct clamd_reply out;
        int rc = clamd_reply_parse(r, n, &out);
        if (rc != cases[i].rc || out.verdict != cases[i].verdict ||
            strcmp(out.signature, cases[i].signature) != 0 || strcmp(out.text, cases[i].text) != 0)
            fail_msg("case %zu: rc %d verdict %d signature \"%s\" text \"%s\"", i, rc, out.verdict,
                     out.signature, out.text);
        free(r);
    }
}

static void test_clamd_reply_limits(void **state)
{
    (void)state;
    struct clamd_reply out;
    /* A reply of exactly CLAMD_REPLY_MAX bytes is parsed; one more is not. */
    char *r = malloc(CLAMD_REPLY_MAX + 1);
    assert_non_null(r);
    memcpy(r, "stream: ", 8);
    memset(r + 8, 'S', CLAMD_REPLY_MAX + 1 - 8);
    memcpy(r + CLAMD_REPLY_MAX - 7, " FOUND", 6);
    r[CLAMD_REPLY_MAX - 1] = '\0';
    assert_int_equal(clamd_reply_parse(r, CLAMD_REPLY_MAX, &out), 0);
    assert_int_equal(out.verdict, CLAMD_REPLY_INFECTED);
    /* the name is cut at CLAMD_SIGNATURE_MAX */
    assert_int_equal(strlen(out.signature), CLAMD_SIGNATURE_MAX);
    memcpy(r + CLAMD_REPLY_MAX - 6, " FOUND", 6);
    r[CLAMD_REPLY_MAX] = '\0';
    assert_int_equal(clamd_reply_parse(r, CLAMD_REPLY_MAX + 1, &out), -1);
    assert_true(strlen(out.text) <= CLAMD_TEXT_MAX);
    free(r);

    /* An ERROR text is cut at CLAMD_TEXT_MAX, escapes included. */
    char e[600];
    memset(e, '\x01', sizeof(e));
    memcpy(e + sizeof(e) - 6, " ERROR", 6);
    assert_int_equal(clamd_reply_parse(e, sizeof(e), &out), 0);
    assert_int_equal(out.verdict, CLAMD_REPLY_ERROR);
    assert_true(strlen(out.text) <= CLAMD_TEXT_MAX);
    assert_memory_equal(out.text, "\\x01", 4);
}

static void test_clamd_reply_size_limit(void **state)
{
    (void)state;
    struct clamd_reply out;
    const char *t = "INSTREAM size limit exceeded. ERROR";
    assert_int_equal(clamd_reply_parse(t, strlen(t), &out), 0);
    assert_true(clamd_reply_is_size_limit(&out));
    t = "stream: Can't allocate memory ERROR";
    assert_int_equal(clamd_reply_parse(t, strlen(t), &out), 0);
    assert_false(clamd_reply_is_size_limit(&out));
    t = "stream: OK";
    assert_int_equal(clamd_reply_parse(t, strlen(t), &out), 0);
    assert_false(clamd_reply_is_size_limit(&out));
}

/* No proper prefix of a FOUND reply is taken for an infection (the client
 * hands the parser only what came up to the NUL, but a cut reply must
 * never give a truncated signature name). */
static void test_clamd_reply_prefixes(void **state)
{
    (void)state;
    const char *whole = "stream: Eicar-Test-Signature FOUND";
    size_t n = strlen(whole);
    for (size_t i = 1; i < n; i++) {
        char *r = exact_copy(whole, i);
        struct clamd_reply out;
        int rc = clamd_reply_parse(r, i, &out);
        if (rc == 0)
            assert_int_not_equal(out.verdict, CLAMD_REPLY_INFECTED);
        free(r);
    }
}

static void test_clamd_address_check(void **state)
{
    (void)state;
    static const struct {
        const char *address;
        int rc;
    } cases[] = {
        {"/run/clamav/clamd.ctl", 0},
        {"127.0.0.1:3310", 0},
        {"localhost:3310", 0},
        {"[::1]:3310", 0},
        {"", -1},
        {"127.0.0.1", -1},
        {"127.0.0.1:", -1},
        {"127.0.0.1:0", -1},
        {"127.0.0.1:65536", -1},
        {"127.0.0.1:65535", 0},
        {"127.0.0.1:33x", -1},
        {"clamd.example:3310", -1},
        {"::1:3310", -1},
        {"[::1]3310", -1},
        {"[nope]:3310", -1},
        {"relative/path", -1},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        const char *error = NULL;
        int rc = clamd_address_check(cases[i].address, &error);
        if (rc != cases[i].rc)
            fail_msg("case %zu \"%s\": rc %d (%s)", i, cases[i].address, rc, error ? error : "-");
        if (rc != 0)
            assert_non_null(error);
    }
    /* a socket path must fit sun_path */
    char path[200];
    memset(path, 'a', sizeof(path));
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    const char *error = NULL;
    assert_int_equal(clamd_address_check(path, &error), -1);
    assert_non_null(error);
}

/* --- a fake clamd on the test's event loop --- */

enum fake_mode {
    FAKE_OK,      /* "stream: OK" */
    FAKE_FOUND,   /* "stream: Eicar-Test-Signature FOUND" */
    FAKE_ERROR,   /* "stream: Can't allocate memory ERROR" */
    FAKE_SILENT,  /* never answers (timeout) */
    FAKE_CLOSE,   /* closes once the command is read */
    FAKE_GARBAGE, /* answers "hello" */
    FAKE_LONG,    /* answers without ever sending a NUL */
    FAKE_LIMIT,   /* "INSTREAM size limit exceeded. ERROR" past limit bytes, then closes */
    FAKE_EARLY,   /* "stream: OK" right after the command */
    FAKE_SPLIT,   /* the FOUND reply in two writes, 20 ms apart */
    FAKE_NEWLINE, /* "stream: OK\n" (the n form) and close: no NUL */
};

#define FAKE_DATA_MAX (4 * 1024 * 1024)

struct fake {
    struct event_base *base;
    enum fake_mode mode;
    size_t limit;
    char dir[64];
    char path[128];
    int lfd;
    struct event *lev;
    struct bufferevent *conn;
    struct event *later;
    int connections;
    bool command_ok;
    bool bad_framing;
    bool terminator;
    size_t chunks;
    size_t max_chunk;
    struct buf data;
    bool closed_by_client;
};

static void fake_close_conn(struct fake *f)
{
    if (f->conn != NULL) {
        bufferevent_free(f->conn);
        f->conn = NULL;
    }
}

/* Close once the reply has gone out (as clamd does). */
static void fake_on_flushed(struct bufferevent *bev, void *arg)
{
    (void)bev;
    fake_close_conn(arg);
}

static void fake_reply(struct fake *f, const char *text, size_t n, bool then_close)
{
    bufferevent_write(f->conn, text, n);
    if (then_close)
        bufferevent_setcb(f->conn, NULL, fake_on_flushed, NULL, f);
}

static void fake_on_later(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct fake *f = arg;
    if (f->conn != NULL)
        fake_reply(f, "-Test-Signature FOUND", 22, true);
}

static void fake_answer(struct fake *f)
{
    static const char long_reply[2000] = {'A'};
    switch (f->mode) {
    case FAKE_OK:
        fake_reply(f, "stream: OK", 11, true);
        break;
    case FAKE_FOUND:
        fake_reply(f, "stream: Eicar-Test-Signature FOUND", 35, true);
        break;
    case FAKE_ERROR:
        fake_reply(f, "stream: Can't allocate memory ERROR", 36, true);
        break;
    case FAKE_GARBAGE:
        fake_reply(f, "hello", 6, true);
        break;
    case FAKE_LONG:
        bufferevent_write(f->conn, "stream: ", 8);
        for (int i = 0; i < 2; i++)
            bufferevent_write(f->conn, long_reply, sizeof(long_reply));
        break;
    case FAKE_NEWLINE:
        fake_reply(f, "stream: OK\n", 11, true);
        break;
    case FAKE_SPLIT: {
        bufferevent_write(f->conn, "stream: Eicar", 13);
        const struct timeval tv = {0, 20000};
        f->later = evtimer_new(f->base, fake_on_later, f);
        evtimer_add(f->later, &tv);
        break;
    }
    case FAKE_SILENT:
    case FAKE_CLOSE:
    case FAKE_LIMIT:
    case FAKE_EARLY:
        break;
    }
}

static void fake_on_read(struct bufferevent *bev, void *arg)
{
    struct fake *f = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        if (!f->command_ok) {
            if (evbuffer_get_length(in) < 10)
                return;
            unsigned char cmd[10];
            evbuffer_remove(in, cmd, sizeof(cmd));
            if (memcmp(cmd, "zINSTREAM\0", 10) != 0)
                f->bad_framing = true;
            f->command_ok = true;
            if (f->mode == FAKE_CLOSE) {
                fake_close_conn(f);
                return;
            }
            if (f->mode == FAKE_EARLY) {
                fake_reply(f, "stream: OK", 11, true);
                return;
            }
            continue;
        }
        if (f->terminator) {
            if (evbuffer_get_length(in) > 0)
                f->bad_framing = true; /* bytes after the terminator */
            evbuffer_drain(in, evbuffer_get_length(in));
            return;
        }
        if (evbuffer_get_length(in) < 4)
            return;
        unsigned char *h = evbuffer_pullup(in, 4);
        size_t n = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
        if (n == 0) {
            evbuffer_drain(in, 4);
            f->terminator = true;
            fake_answer(f);
            if (f->conn == NULL)
                return;
            continue;
        }
        if (n > f->max_chunk)
            f->max_chunk = n;
        if (n > CLAMD_CHUNK_MAX) {
            f->bad_framing = true;
            fake_close_conn(f);
            return;
        }
        if (evbuffer_get_length(in) < 4 + n)
            return;
        evbuffer_drain(in, 4);
        char *p = buf_reserve(&f->data, n);
        assert_non_null(p);
        evbuffer_remove(in, p, n);
        buf_commit(&f->data, n);
        f->chunks++;
        if (f->mode == FAKE_LIMIT && f->data.len > f->limit) {
            fake_reply(f, "INSTREAM size limit exceeded. ERROR", 36, true);
            return;
        }
    }
}

static void fake_on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct fake *f = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        f->closed_by_client = true;
        fake_close_conn(f);
    }
}

static void fake_on_accept(evutil_socket_t lfd, short what, void *arg)
{
    (void)what;
    struct fake *f = arg;
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    f->connections++;
    assert_null(f->conn); /* one scan, one connection */
    f->conn = bufferevent_socket_new(f->base, fd, BEV_OPT_CLOSE_ON_FREE);
    assert_non_null(f->conn);
    bufferevent_setcb(f->conn, fake_on_read, NULL, fake_on_event, f);
    bufferevent_enable(f->conn, EV_READ | EV_WRITE);
}

static void fake_start(struct fake *f, struct event_base *base, enum fake_mode mode)
{
    memset(f, 0, sizeof(*f));
    f->base = base;
    f->mode = mode;
    f->limit = 100000;
    buf_init(&f->data, FAKE_DATA_MAX);
    int n = snprintf(f->dir, sizeof(f->dir), "/tmp/postino-clamd-XXXXXX");
    assert_true(n > 0 && (size_t)n < sizeof(f->dir));
    assert_non_null(mkdtemp(f->dir));
    n = snprintf(f->path, sizeof(f->path), "%s/clamd.sock", f->dir);
    assert_true(n > 0 && (size_t)n < sizeof(f->path));
    f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(f->lfd >= 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    memcpy(sun.sun_path, f->path, strlen(f->path) + 1);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    assert_int_equal(listen(f->lfd, 8), 0);
    f->lev = event_new(base, f->lfd, EV_READ | EV_PERSIST, fake_on_accept, f);
    event_add(f->lev, NULL);
}

static void fake_stop(struct fake *f)
{
    fake_close_conn(f);
    if (f->later)
        event_free(f->later);
    event_free(f->lev);
    close(f->lfd);
    unlink(f->path);
    rmdir(f->dir);
    buf_free(&f->data);
}

/* --- running one scan --- */

struct outcome {
    struct event_base *base;
    int calls;
    struct clamd_result r;
};

static void on_done(const struct clamd_result *r, void *arg)
{
    struct outcome *o = arg;
    o->calls++;
    o->r = *r;
    event_base_loopbreak(o->base);
}

static void on_guard(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

/* Run the loop until the callback (or a 10 s guard). */
static void run_until_done(struct event_base *base, struct outcome *o)
{
    struct event *guard = evtimer_new(base, on_guard, base);
    const struct timeval tv = {10, 0};
    evtimer_add(guard, &tv);
    event_base_dispatch(base);
    event_free(guard);
    assert_int_equal(o->calls, 1);
}

/* Run the loop for ms milliseconds. */
static void run_for(struct event_base *base, unsigned ms)
{
    struct event *guard = evtimer_new(base, on_guard, base);
    const struct timeval tv = {0, (suseconds_t)ms * 1000};
    evtimer_add(guard, &tv);
    event_base_dispatch(base);
    event_free(guard);
}

static char *make_message(size_t len)
{
    char *m = malloc(len ? len : 1);
    assert_non_null(m);
    for (size_t i = 0; i < len; i++)
        m[i] = (char)('a' + i % 26 + (i % 997 == 0));
    return m;
}

/* Scan a message of len bytes against a fake in this mode. */
static void scan_with(enum fake_mode mode, size_t len, unsigned timeout_ms, struct fake *f,
                      struct outcome *o)
{
    struct event_base *base = event_base_new();
    assert_non_null(base);
    fake_start(f, base, mode);
    char *msg = make_message(len);
    memset(o, 0, sizeof(*o));
    o->base = base;
    const char *error = NULL;
    struct clamd_scan *s =
        clamd_scan_start(base, f->path, msg, len, 25 * 1024 * 1024, timeout_ms, on_done, o, &error);
    assert_non_null(s);
    assert_int_equal(o->calls, 0); /* never from within start */
    run_until_done(base, o);
    /* let the fake see the close */
    run_for(base, 20);
    if (mode == FAKE_OK || mode == FAKE_FOUND || mode == FAKE_ERROR) {
        assert_false(f->bad_framing);
        assert_true(f->terminator);
        assert_int_equal(f->data.len, len);
        assert_memory_equal(f->data.data, msg, len);
    }
    free(msg);
    fake_stop(f);
    event_base_free(base);
}

static void test_clamd_scan_clean(void **state)
{
    (void)state;
    struct fake f;
    struct outcome o;
    scan_with(FAKE_OK, 1000, 5000, &f, &o);
    assert_int_equal(o.r.status, CLAMD_SCAN_CLEAN);
    assert_int_equal(o.r.failure, CLAMD_FAIL_NONE);
    assert_string_equal(o.r.signature, "");
    assert_int_equal(f.connections, 1);
    assert_int_equal(f.chunks, 1);
}

static void test_clamd_scan_found(void **state)
{
    (void)state;
    struct fake f;
    struct outcome o;
    scan_with(FAKE_FOUND, 68, 5000, &f, &o);
    assert_int_equal(o.r.status, CLAMD_SCAN_INFECTED);
    assert_string_equal(o.r.signature, "Eicar-Test-Signature");
}

/* A message over several chunks: none larger than CLAMD_CHUNK_MAX, the
 * data arrives whole and in order, then the terminator. */
static void test_clamd_scan_chunks(void **state)
{
    (void)state;
    struct fake f;
    struct outcome o;
    size_t len = 3 * CLAMD_CHUNK_MAX + 1234;
    scan_with(FAKE_OK, len, 5000, &f, &o);
    assert_int_equal(o.r.status, CLAMD_SCAN_CLEAN);
    assert_int_equal(f.chunks, 4);
    assert_int_equal(f.max_chunk, CLAMD_CHUNK_MAX);
    /* exactly CLAMD_CHUNK_MAX: one chunk; one more: two */
    scan_with(FAKE_OK, CLAMD_CHUNK_MAX, 5000, &f, &o);
    assert_int_equal(f.chunks, 1);
    scan_with(FAKE_OK, CLAMD_CHUNK_MAX + 1, 5000, &f, &o);
    assert_int_equal(f.chunks, 2);
    /* an empty message: the command and the terminator only */
    scan_with(FAKE_OK, 0, 5000, &f, &o);
    assert_int_equal(o.r.status, CLAMD_SCAN_CLEAN);
    assert_int_equal(f.chunks, 0);
}

static void test_clamd_scan_error(void **state)
{
    (void)state;
    struct fake f;
    struct outcome o;
    scan_with(FAKE_ERROR, 100, 5000, &f, &o);
    assert_int_equal(o.r.status, CLAMD_SCAN_UNAVAILABLE);
    assert_int_equal(o.r.failure, CLAMD_FAIL_CLAMD);
    assert_non_null(strstr(o.r.detail, "Can't allocate memory"));
}

static void test_clamd_scan_timeout(void **state)
{
    (void)state;
    struct fake f;
    struct outcome o;
    scan_with(FAKE_SILENT, 100, 200, &f, &o);
    assert_int_equal(o.r.status, CLAMD_SCAN_UNAVAILABLE);
    assert_int_equal(o.r.failure, CLAMD_FAIL_TIMEOUT);
    assert_true(f.terminator);
    assert_true(f.closed_by_client);
}

static void test_clamd_scan_closed_early(void **state)
{
    (void)state;
    struct fake f;
    struct outcome o;
    scan_with(FAKE_CLOSE, 10 * CLAMD_CHUNK_MAX, 5000, &f, &o);
    assert_int_equal(o.r.status, CLAMD_SCAN_UNAVAILABLE);
    if (o.r.failure != CLAMD_FAIL_IO && o.r.failure != CLAMD_FAIL_PROTOCOL)
        fail_msg("failure %s: %s", clamd_failure_name(o.r.failure), o.r.detail);
    /* a small message is all sent before the close is seen */
    scan_with(FAKE_CLOSE, 10, 5000, &f, &o);
    assert_int_equal(o.r.status, CLAMD_SCAN_UNAVAILABLE);
    if (o.r.failure != CLAMD_FAIL_IO && o.r.failure != CLAMD_FAIL_PROTOCOL)
        fail_msg("failure %s: %s", clamd_failure_name(o.r.failure), o.r.detail);
}

static void test_clamd_scan_bad_replies(void **state)
{
    (void)state;
    struct fake f;
    struct outcome o;
    static const enum fake_mode modes[] = {FAKE_GARBAGE, FAKE_LONG, FAKE_EARLY, FAKE_NEWLINE};
    for (size_t i = 0; i < N_ELEMS(modes); i++) {
        /* FAKE_EARLY answers while a long message is still being sent */
        scan_with(modes[i], modes[i] == FAKE_EARLY ? 40 * CLAMD_CHUNK_MAX : 1000, 5000, &f, &o);
        if (o.r.status != CLAMD_SCAN_UNAVAILABLE || o.r.failure != CLAMD_FAIL_PROTOCOL)
            fail_msg("mode %d: %s %s: %s", modes[i], clamd_status_name(o.r.status),
                     clamd_failure_name(o.r.failure), o.r.detail);
        assert_true(strlen(o.r.detail) <= CLAMD_DETAIL_MAX);
    }
}

static void test_clamd_scan_split_reply(void **state)
{
    (void)state;
    struct fake f;
    struct outcome o;
    scan_with(FAKE_SPLIT, 1000, 5000, &f, &o);
    assert_int_equal(o.r.status, CLAMD_SCAN_INFECTED);
    assert_string_equal(o.r.signature, "Eicar-Test-Signature");
}

/* clamd's StreamMaxLength crossed: it answers and closes while the client
 * still sends; the answer wins over the broken pipe. */
static void test_clamd_scan_clamd_limit(void **state)
{
    (void)state;
    struct fake f;
    struct outcome o;
    scan_with(FAKE_LIMIT, 40 * CLAMD_CHUNK_MAX, 5000, &f, &o);
    if (o.r.status != CLAMD_SCAN_TOO_BIG)
        fail_msg("%s %s: %s", clamd_status_name(o.r.status), clamd_failure_name(o.r.failure),
                 o.r.detail);
    assert_non_null(strstr(o.r.detail, "size limit"));
}

/* Larger than max_len: not sent at all, reported from the loop. */
static void test_clamd_scan_too_big(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    struct fake f;
    fake_start(&f, base, FAKE_OK);
    struct outcome o = {.base = base};
    char msg[101] = {0};
    const char *error = NULL;
    struct clamd_scan *s =
        clamd_scan_start(base, f.path, msg, sizeof(msg), 100, 5000, on_done, &o, &error);
    assert_non_null(s);
    assert_int_equal(o.calls, 0);
    run_until_done(base, &o);
    assert_int_equal(o.r.status, CLAMD_SCAN_TOO_BIG);
    assert_non_null(strstr(o.r.detail, "101"));
    assert_int_equal(f.connections, 0);
    /* exactly max_len is scanned */
    o.calls = 0;
    s = clamd_scan_start(base, f.path, msg, 100, 100, 5000, on_done, &o, &error);
    assert_non_null(s);
    run_until_done(base, &o);
    assert_int_equal(o.r.status, CLAMD_SCAN_CLEAN);
    run_for(base, 20);
    fake_stop(&f);
    event_base_free(base);
}

static void expect_refused(struct event_base *base, const char *address)
{
    struct outcome o = {.base = base};
    const char *error = NULL;
    struct clamd_scan *s = clamd_scan_start(base, address, "x", 1, 100, 5000, on_done, &o, &error);
    assert_non_null(s);
    assert_int_equal(o.calls, 0);
    run_until_done(base, &o);
    if (o.r.status != CLAMD_SCAN_UNAVAILABLE || o.r.failure != CLAMD_FAIL_CONNECT)
        fail_msg("%s: %s %s: %s", address, clamd_status_name(o.r.status),
                 clamd_failure_name(o.r.failure), o.r.detail);
    assert_non_null(strstr(o.r.detail, address));
}

static void test_clamd_scan_refused(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    /* no such socket */
    expect_refused(base, "/nonexistent/clamd.sock");
    /* a socket file nobody listens on */
    char dir[] = "/tmp/postino-clamd-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    int n = snprintf(path, sizeof(path), "%s/dead.sock", dir);
    assert_true(n > 0 && (size_t)n < sizeof(path));
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    memcpy(sun.sun_path, path, strlen(path) + 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    expect_refused(base, path);
    close(fd);
    unlink(path);
    rmdir(dir);
    /* a TCP port bound but not listening */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    socklen_t sl = sizeof(sin);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
    char address[32];
    n = snprintf(address, sizeof(address), "127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));
    assert_true(n > 0 && (size_t)n < sizeof(address));
    expect_refused(base, address);
    close(fd);
    /* an invalid address: NULL, no callback */
    const char *error = NULL;
    struct outcome o = {.base = base};
    assert_null(clamd_scan_start(base, "nowhere", "x", 1, 100, 5000, on_done, &o, &error));
    assert_non_null(error);
    event_base_free(base);
}

/* The client left: the connection closes, the callback never comes. */
static void test_clamd_scan_cancel(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    struct fake f;
    fake_start(&f, base, FAKE_SILENT);
    struct outcome o = {.base = base};
    const char *error = NULL;
    struct clamd_scan *s =
        clamd_scan_start(base, f.path, "hello", 5, 100, 300, on_done, &o, &error);
    assert_non_null(s);
    run_for(base, 50);
    assert_true(f.terminator);
    clamd_scan_cancel(&s);
    assert_null(s);
    clamd_scan_cancel(&s); /* no effect on NULL */
    run_for(base, 400);    /* past the timeout */
    assert_int_equal(o.calls, 0);
    assert_true(f.closed_by_client);
    /* cancelled before anything happened, and a deferred result too */
    s = clamd_scan_start(base, f.path, "hello", 5, 100, 300, on_done, &o, &error);
    clamd_scan_cancel(&s);
    s = clamd_scan_start(base, f.path, "hello", 5, 1, 300, on_done, &o, &error);
    clamd_scan_cancel(&s);
    run_for(base, 50);
    assert_int_equal(o.calls, 0);
    fake_stop(&f);
    event_base_free(base);
}

static void test_clamd_names(void **state)
{
    (void)state;
    assert_string_equal(clamd_status_name(CLAMD_SCAN_CLEAN), "clean");
    assert_string_equal(clamd_status_name(CLAMD_SCAN_INFECTED), "infected");
    assert_string_equal(clamd_status_name(CLAMD_SCAN_TOO_BIG), "too-big");
    assert_string_equal(clamd_status_name(CLAMD_SCAN_UNAVAILABLE), "unavailable");
    assert_string_equal(clamd_failure_name(CLAMD_FAIL_TIMEOUT), "timeout");
    assert_string_equal(clamd_failure_name(CLAMD_FAIL_CONNECT), "connect");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clamd_reply_parse),
        cmocka_unit_test(test_clamd_reply_limits),
        cmocka_unit_test(test_clamd_reply_size_limit),
        cmocka_unit_test(test_clamd_reply_prefixes),
        cmocka_unit_test(test_clamd_address_check),
        cmocka_unit_test(test_clamd_scan_clean),
        cmocka_unit_test(test_clamd_scan_found),
        cmocka_unit_test(test_clamd_scan_chunks),
        cmocka_unit_test(test_clamd_scan_error),
        cmocka_unit_test(test_clamd_scan_timeout),
        cmocka_unit_test(test_clamd_scan_closed_early),
        cmocka_unit_test(test_clamd_scan_bad_replies),
        cmocka_unit_test(test_clamd_scan_split_reply),
        cmocka_unit_test(test_clamd_scan_clamd_limit),
        cmocka_unit_test(test_clamd_scan_too_big),
        cmocka_unit_test(test_clamd_scan_refused),
        cmocka_unit_test(test_clamd_scan_cancel),
        cmocka_unit_test(test_clamd_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
