/* Unit tests of src/share/http-request.c.
 *
 * Every input is fed whole, split in two at every octet (inputs up to
 * SPLIT_ALL_MAX octets) and one octet at a time, each piece in an
 * exact-size heap copy (ASan sees any read past it), the way a connection
 * would: what a call does not take is offered again with the next piece.
 * Every way must give the same requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "share/http-request.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#define MAX_REQS      3
#define SPLIT_ALL_MAX 3000
#define BODY_MAX      (1024 * 1024)
#define INCOMPLETE    (-1)
#define HOST          "Host: example.org\r\n"
#define GET_ROOT      "GET / HTTP/1.1\r\n" HOST

/* What one request of a run gave. */
struct got {
    int status;         /* 0 complete, INCOMPLETE, or the error status */
    const char *reason; /* the parser's static reason */
    int heads;          /* HEAD events */
    char method[32];
    char target[HTTP_REQUEST_LINE_MAX];
    unsigned minor;
    enum http_body_framing framing;
    bool keep_alive;
    bool cont;
    struct buf body;
};

struct outcome {
    size_t n;
    struct got req[MAX_REQS];
};

/* What a request of a case must give. */
struct want {
    int status;
    const char *reason; /* NULL: not checked */
    const char *method; /* NULL: not checked */
    const char *target;
    unsigned minor;
    enum http_body_framing framing;
    const char *body; /* NULL: empty */
    size_t body_len;  /* 0: strlen(body) */
    bool keep_alive;
    bool cont;
};

struct req_case {
    const char *in;
    size_t len;        /* 0: strlen(in) */
    uint64_t body_max; /* 0: BODY_MAX */
    size_t n;          /* requests */
    struct want want[MAX_REQS];
};

static char *exact_copy(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, s, n);
    return p;
}

static void outcome_free(struct outcome *o)
{
    for (size_t i = 0; i < MAX_REQS; i++)
        buf_free(&o->req[i].body);
}

/* Feed in[0..n) in pieces ending at cuts[] (ascending, inside (0, n)), as a
 * connection would, starting the next request after each DONE. */
static void run(const char *in, size_t n, uint64_t body_max, const size_t *cuts, size_t ncuts,
                struct outcome *o)
{
    struct http_request *r = http_request_new(body_max);
    memset(o, 0, sizeof(*o));
    for (size_t i = 0; i < MAX_REQS; i++)
        buf_init(&o->req[i].body, BUF_UNLIMITED);
    size_t pos = 0, avail = 0, cut = 0;
    struct got *g = &o->req[0];
    enum http_request_event ev = HTTP_REQUEST_MORE;
    assert_true(http_request_idle(r));
    for (;;) {
        /* after MORE, the next piece; after HEAD or BODY, call again even
         * with nothing new, as the request may be complete */
        if (pos == avail && ev == HTTP_REQUEST_MORE) {
            if (avail == n) {
                /* the input ended inside a request (or right after one) */
                if (!http_request_idle(r)) {
                    g->status = INCOMPLETE;
                    o->n++;
                }
                break;
            }
            avail = cut < ncuts ? cuts[cut++] : n;
        }
        size_t len = avail - pos, used = 99;
        char *copy = exact_copy(in + pos, len);
        static const char sentinel = 0;
        const char *body = &sentinel;
        size_t blen = 99;
        ev = http_request_feed(r, copy, len, &used, &body, &blen);
        assert_true(used <= len);
        if (ev == HTTP_REQUEST_BODY) {
            assert_true(blen > 0 && blen <= used);
            assert_ptr_equal(body + blen, copy + used);
            assert_int_equal(buf_append(&g->body, body, blen), 0);
        } else {
            assert_null(body);
            assert_int_equal(blen, 0);
        }
        free(copy);
        pos += used;
        if (ev == HTTP_REQUEST_MORE) {
            assert_int_equal(used, len);
            assert_int_equal(http_request_status(r), 0);
            continue;
        }
        if (ev == HTTP_REQUEST_HEAD) {
            g->heads++;
            const char *m = http_request_method(r), *t = http_request_target(r);
            assert_non_null(m);
            assert_non_null(t);
            snprintf(g->method, sizeof(g->method), "%s", m);
            snprintf(g->target, sizeof(g->target), "%s", t);
            g->minor = http_request_version_minor(r);
            g->framing = http_request_framing(r);
            g->keep_alive = http_request_keep_alive(r);
            g->cont = http_request_expect_continue(r);
            continue;
        }
        if (ev == HTTP_REQUEST_BODY)
            continue;
        /* DONE or ERROR: sticky until the reset */
        size_t again = 99;
        assert_int_equal(http_request_feed(r, "x", 1, &again, &body, &blen), ev);
        assert_int_equal(again, 0);
        if (ev == HTTP_REQUEST_ERROR) {
            g->status = http_request_status(r);
            g->reason = http_request_error(r);
            assert_non_null(g->reason);
            assert_false(http_request_keep_alive(r));
            o->n++;
            break;
        }
        assert_int_equal(ev, HTTP_REQUEST_DONE);
        assert_int_equal(g->heads, 1);
        assert_int_equal(http_request_body_received(r), g->body.len);
        if (g->framing == HTTP_BODY_LENGTH)
            assert_int_equal(http_request_content_length(r), g->body.len);
        o->n++;
        if (o->n == MAX_REQS || pos == n)
            break;
        http_request_reset(r);
        assert_true(http_request_idle(r));
        assert_null(http_request_method(r));
        g = &o->req[o->n];
        ev = HTTP_REQUEST_MORE;
    }
    http_request_free(&r);
    assert_null(r);
}

static void check_outcome(const struct req_case *c, size_t i, const char *how,
                          const struct outcome *o)
{
    if (o->n != c->n)
        fail_msg("case %zu (%s): %zu requests, want %zu (first: status %d %s)", i, how, o->n, c->n,
                 o->req[0].status, o->req[0].reason ? o->req[0].reason : "");
    for (size_t k = 0; k < c->n; k++) {
        const struct want *w = &c->want[k];
        const struct got *g = &o->req[k];
        if (g->status != w->status || (w->reason && (!g->reason || strcmp(g->reason, w->reason))))
            fail_msg("case %zu (%s) request %zu: status %d \"%s\", want %d \"%s\"", i, how, k,
                     g->status, g->reason ? g->reason : "", w->status, w->reason ? w->reason : "");
        if (w->method == NULL)
            continue;
        const char *body = w->body ? w->body : "";
        size_t body_len = w->body_len ? w->body_len : strlen(body);
        if (g->heads != 1 || strcmp(g->method, w->method) != 0 ||
            strcmp(g->target, w->target) != 0 || g->minor != w->minor || g->framing != w->framing ||
            g->keep_alive != w->keep_alive || g->cont != w->cont || g->body.len != body_len ||
            memcmp(buf_cstr(&g->body), body, g->body.len) != 0)
            fail_msg("case %zu (%s) request %zu: heads %d \"%s\" \"%s\" 1.%u framing %d keep %d "
                     "continue %d body \"%s\"",
                     i, how, k, g->heads, g->method, g->target, g->minor, g->framing, g->keep_alive,
                     g->cont, buf_cstr(&g->body));
    }
}

/* Run a case whole, split at every octet (if short enough) and octet by
 * octet; cuts[] adds a split of its own. */
static void check_case(const struct req_case *c, size_t i)
{
    size_t n = c->len ? c->len : strlen(c->in);
    uint64_t max = c->body_max ? c->body_max : BODY_MAX;
    struct outcome o;
    run(c->in, n, max, NULL, 0, &o);
    check_outcome(c, i, "whole", &o);
    outcome_free(&o);
    if (n <= SPLIT_ALL_MAX) {
        for (size_t k = 1; k < n; k++) {
            char how[32];
            snprintf(how, sizeof(how), "split at %zu", k);
            run(c->in, n, max, &k, 1, &o);
            check_outcome(c, i, how, &o);
            outcome_free(&o);
        }
    }
    if (n > 1) {
        size_t *cuts = malloc((n - 1) * sizeof(*cuts));
        assert_non_null(cuts);
        for (size_t k = 1; k < n; k++)
            cuts[k - 1] = k;
        run(c->in, n, max, cuts, n - 1, &o);
        check_outcome(c, i, "octet by octet", &o);
        outcome_free(&o);
        /* pieces of 7 octets */
        size_t m = 0;
        for (size_t k = 7; k < n; k += 7)
            cuts[m++] = k;
        run(c->in, n, max, cuts, m, &o);
        check_outcome(c, i, "pieces of 7", &o);
        outcome_free(&o);
        free(cuts);
    }
}

#define REQ(m, t, mi, fr, b, ka)                                                                   \
    {                                                                                              \
        .method = m, .target = t, .minor = mi, .framing = fr, .body = b, .keep_alive = ka          \
    }
#define ERR(input, st, why)                                                                        \
    {                                                                                              \
        .in = input, .n = 1, .want = { {.status = st, .reason = why} }                             \
    }
#define NONE    HTTP_BODY_NONE
#define LENGTH  HTTP_BODY_LENGTH
#define CHUNKED HTTP_BODY_CHUNKED

static void test_http_request_good(void **state)
{
    (void)state;
    static const struct req_case cases[] = {
        {GET_ROOT "\r\n", 0, 0, 1, {REQ("GET", "/", 1, NONE, NULL, true)}},
        {"GET /share/abc?x=1&y=%20z HTTP/1.1\r\nhost: EXAMPLE.org:8443\r\nAccept: */*\r\n\r\n",
         0,
         0,
         1,
         {REQ("GET", "/share/abc?x=1&y=%20z", 1, NONE, NULL, true)}},
        {"HEAD /index.html HTTP/1.1\r\n" HOST "\r\n",
         0,
         0,
         1,
         {REQ("HEAD", "/index.html", 1, NONE, NULL, true)}},
        /* HTTP/1.0: no Host needed, closes unless keep-alive */
        {"GET / HTTP/1.0\r\n\r\n", 0, 0, 1, {REQ("GET", "/", 0, NONE, NULL, false)}},
        {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
         0,
         0,
         1,
         {REQ("GET", "/", 0, NONE, NULL, true)}},
        {"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
         0,
         0,
         1,
         {REQ("GET", "/", 0, NONE, NULL, false)}},
        {GET_ROOT "Connection: close\r\n\r\n", 0, 0, 1, {REQ("GET", "/", 1, NONE, NULL, false)}},
        {GET_ROOT "Connection: upgrade\r\nConnection: foo ,CLOSE\r\n\r\n",
         0,
         0,
         1,
         {REQ("GET", "/", 1, NONE, NULL, false)}},
        /* empty lines before the request line are ignored */
        {"\r\n\r\n" GET_ROOT "\r\n", 0, 0, 1, {REQ("GET", "/", 1, NONE, NULL, true)}},
        /* a stray CR LF after a request, then the end: a clean close */
        {"POST / HTTP/1.1\r\n" HOST "Content-Length: 1\r\n\r\nx\r\n",
         0,
         0,
         1,
         {REQ("POST", "/", 1, LENGTH, "x", true)}},
        {"OPTIONS * HTTP/1.1\r\n" HOST "\r\n", 0, 0, 1, {REQ("OPTIONS", "*", 1, NONE, NULL, true)}},
        {"OPTIONS /x HTTP/1.1\r\n" HOST "\r\n",
         0,
         0,
         1,
         {REQ("OPTIONS", "/x", 1, NONE, NULL, true)}},
        /* any token is a method: what it means is the caller's business */
        {"M-SEARCH /a:b@c/!$&'()*+,;=-._~ HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
         0,
         0,
         1,
         {REQ("M-SEARCH", "/a:b@c/!$&'()*+,;=-._~", 1, NONE, NULL, true)}},
        {"POST /upload HTTP/1.1\r\n" HOST "Content-Length: 11\r\n\r\nhello world",
         0,
         0,
         1,
         {REQ("POST", "/upload", 1, LENGTH, "hello world", true)}},
        {"POST /upload HTTP/1.1\r\n" HOST "Content-Length: 0\r\n\r\n",
         0,
         0,
         1,
         {REQ("POST", "/upload", 1, LENGTH, NULL, true)}},
        {"POST / HTTP/1.1\r\n" HOST "content-length:\t007 \r\n\r\nabcdefg",
         0,
         0,
         1,
         {REQ("POST", "/", 1, LENGTH, "abcdefg", true)}},
        /* the same length repeated (RFC 9110 8.6) */
        {"POST / HTTP/1.1\r\n" HOST "Content-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc",
         0,
         0,
         1,
         {REQ("POST", "/", 1, LENGTH, "abc", true)}},
        {"POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nab",
         0,
         0,
         1,
         {REQ("POST", "/", 0, LENGTH, "ab", false)}},
        /* a body may hold anything, CR LF and NUL included */
        {"PUT /f HTTP/1.1\r\n" HOST "Content-Length: 6\r\n\r\n\r\n\0\n\r\xff",
         6 + sizeof("PUT /f HTTP/1.1\r\n" HOST "Content-Length: 6\r\n\r\n") - 1,
         0,
         1,
         {{.method = "PUT",
           .target = "/f",
           .minor = 1,
           .framing = LENGTH,
           .body = "\r\n\0\n\r\xff",
           .body_len = 6,
           .keep_alive = true}}},
        /* chunked, with extensions and trailers */
        {"POST /up HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked\r\n\r\n"
         "5;name=value;q=\"a \\\"b\\\" ;,\"\r\nhello\r\n"
         "6 ; x\t;y = z\r\n world\r\n"
         "000A\r\n0123456789\r\n"
         "0;last\r\nChecksum: abc\r\nX-Empty:\r\n\r\n",
         0,
         0,
         1,
         {REQ("POST", "/up", 1, CHUNKED, "hello world0123456789", true)}},
        {"POST /up HTTP/1.1\r\n" HOST "Transfer-Encoding: Chunked\r\n\r\n"
         "1\r\na\r\nff\r\n" /* followed by 255 octets */
         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde"
         "\r\n0\r\n\r\n",
         0,
         0,
         1,
         {REQ("POST", "/up", 1, CHUNKED,
              "a0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
              "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
              "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
              "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
              true)}},
        {"POST /up HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         0,
         0,
         1,
         {REQ("POST", "/up", 1, CHUNKED, NULL, true)}},
        /* Expect: 100-continue (ignored in HTTP/1.0) */
        {"PUT /f HTTP/1.1\r\n" HOST "Expect: 100-Continue\r\nContent-Length: 1\r\n\r\nx",
         0,
         0,
         1,
         {{.method = "PUT",
           .target = "/f",
           .minor = 1,
           .framing = LENGTH,
           .body = "x",
           .keep_alive = true,
           .cont = true}}},
        {"PUT /f HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
         0,
         0,
         1,
         {REQ("PUT", "/f", 0, LENGTH, "x", false)}},
        /* field values: obs-text, empty, OWS around */
        {GET_ROOT "X-A: caf\xc3\xa9 \t \r\nX-B:\r\nX-C: \t\r\nX-D:a b\tc\r\n\r\n",
         0,
         0,
         1,
         {REQ("GET", "/", 1, NONE, NULL, true)}},
        /* pipelined: each request stops where it ends */
        {GET_ROOT "\r\nGET /two HTTP/1.1\r\n" HOST "Connection: close\r\n\r\n",
         0,
         0,
         2,
         {REQ("GET", "/", 1, NONE, NULL, true), REQ("GET", "/two", 1, NONE, NULL, false)}},
        {"POST /a HTTP/1.1\r\n" HOST "Content-Length: 4\r\n\r\nGET "
         "POST /b HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked\r\n\r\n3\r\nGET\r\n0\r\n\r\n"
         "GET /c HTTP/1.1\r\n" HOST "\r\n",
         0,
         0,
         3,
         {REQ("POST", "/a", 1, LENGTH, "GET ", true), REQ("POST", "/b", 1, CHUNKED, "GET", true),
          REQ("GET", "/c", 1, NONE, NULL, true)}},
        /* the input ends inside a request */
        {"GET / HTTP/1.1\r\n" HOST, 0, 0, 1, {{.status = INCOMPLETE}}},
        {"POST / HTTP/1.1\r\n" HOST "Content-Length: 5\r\n\r\nabc",
         0,
         0,
         1,
         {{.status = INCOMPLETE}}},
        {"POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n",
         0,
         0,
         1,
         {{.status = INCOMPLETE}}},
        {GET_ROOT "\r\nGET",
         0,
         0,
         2,
         {REQ("GET", "/", 1, NONE, NULL, true), {.status = INCOMPLETE}}},
        /* the largest body allowed */
        {"POST / HTTP/1.1\r\n" HOST "Content-Length: 3\r\n\r\nabc",
         0,
         3,
         1,
         {REQ("POST", "/", 1, LENGTH, "abc", true)}},
        {"POST / HTTP/1.1\r\n" HOST
         "Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n",
         0,
         3,
         1,
         {REQ("POST", "/", 1, CHUNKED, "abc", true)}},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++)
        check_case(&cases[i], i);
}

static void test_http_request_errors(void **state)
{
    (void)state;
#define POST_TE "POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked\r\n\r\n"
#define POST_CL "POST / HTTP/1.1\r\n" HOST
    static const struct req_case cases[] = {
        /* line ends: CR LF only */
        ERR("GET / HTTP/1.1\n" HOST "\r\n", 400, "bare LF"),
        ERR("GET / HTTP/1.1\r\nHost: example.org\n\r\n", 400, "bare LF"),
        ERR(GET_ROOT "\n", 400, "bare LF"),
        ERR("\n" GET_ROOT "\r\n", 400, "bare LF"),
        ERR("GET / HTTP/1.1\r" HOST "\r\n", 400, "bare CR"),
        ERR(GET_ROOT "X: a\rInjected: yes\r\n\r\n", 400, "bare CR"),
        ERR(GET_ROOT "X: a\r\r\n\r\n", 400, "bare CR"),
        ERR("\r\r\n" GET_ROOT "\r\n", 400, "bare CR"),
        /* the request line */
        ERR("GET\r\n\r\n", 400, "malformed request line"),
        ERR("GET /\r\n\r\n", 400, "malformed request line"), /* HTTP/0.9 */
        ERR("GET  / HTTP/1.1\r\n" HOST "\r\n", 400, "malformed request line"),
        ERR(" GET / HTTP/1.1\r\n" HOST "\r\n", 400, "bad method"),
        ERR("G(T / HTTP/1.1\r\n" HOST "\r\n", 400, "bad method"),
        ERR("GET\t/ HTTP/1.1\r\n" HOST "\r\n", 400, "bad method"),
        ERR("GET /\tHTTP/1.1\r\n" HOST "\r\n", 400, "malformed request line"),
        ERR("GET / HTTP/1.1 \r\n" HOST "\r\n", 400, "malformed HTTP version"),
        ERR("GET / HTTP/1.1 x\r\n" HOST "\r\n", 400, "malformed HTTP version"),
        ERR("GET / http/1.1\r\n" HOST "\r\n", 400, "malformed HTTP version"),
        ERR("GET / HTTP/1.10\r\n" HOST "\r\n", 400, "malformed HTTP version"),
        ERR("GET / HTTP/1\r\n" HOST "\r\n", 400, "malformed HTTP version"),
        ERR("GET / HTTP/2.0\r\n" HOST "\r\n", 505, "HTTP version not supported"),
        ERR("GET / HTTP/1.2\r\n" HOST "\r\n", 505, "HTTP version not supported"),
        ERR("GET / HTTP/0.9\r\n\r\n", 505, "HTTP version not supported"),
        ERR("GET / HTTP/3.0\r\n\r\n", 505, "HTTP version not supported"),
        ERR("GET http://example.org/ HTTP/1.1\r\n" HOST "\r\n", 400, "target not in origin-form"),
        ERR("CONNECT example.org:443 HTTP/1.1\r\n" HOST "\r\n", 400, "target not in origin-form"),
        ERR("GET * HTTP/1.1\r\n" HOST "\r\n", 400, "target * without OPTIONS"),
        ERR("OPTIONS *x HTTP/1.1\r\n" HOST "\r\n", 400, "target not in origin-form"),
        ERR("GET /a#frag HTTP/1.1\r\n" HOST "\r\n", 400, "bad request target"),
        ERR("GET /a%2 HTTP/1.1\r\n" HOST "\r\n", 400, "bad request target"),
        ERR("GET /a%zz HTTP/1.1\r\n" HOST "\r\n", 400, "bad request target"),
        ERR("GET /a\"b HTTP/1.1\r\n" HOST "\r\n", 400, "bad request target"),
        ERR("GET /caf\xc3\xa9 HTTP/1.1\r\n" HOST "\r\n", 400, "bad request target"),
        ERR("GET /a\\b HTTP/1.1\r\n" HOST "\r\n", 400, "bad request target"),
        {"GET /a\0b HTTP/1.1\r\n" HOST "\r\n",
         sizeof("GET /a\0b HTTP/1.1\r\n" HOST "\r\n") - 1,
         0,
         1,
         {{.status = 400, .reason = "bad request target"}}},
        ERR("\r\n\r\n\r\n\r\n\r\n" GET_ROOT "\r\n", 400, "too many empty lines"),
        /* field lines */
        ERR(GET_ROOT "X: a\r\n b\r\n\r\n", 400, "obsolete line folding"),
        ERR(GET_ROOT "X: a\r\n\tb\r\n\r\n", 400, "obsolete line folding"),
        ERR("GET / HTTP/1.1\r\n " HOST "\r\n", 400, "obsolete line folding"),
        ERR(POST_CL "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400,
            "whitespace before a colon"),
        ERR(POST_CL "Content-Length\t: 1\r\n\r\nx", 400, "whitespace before a colon"),
        ERR(GET_ROOT "X-No-Colon\r\n\r\n", 400, "field line without a colon"),
        ERR(GET_ROOT ": value\r\n\r\n", 400, "empty field name"),
        ERR(GET_ROOT "X Y: z\r\n\r\n", 400, "bad field name"),
        ERR(GET_ROOT "X\xc3\xa9: z\r\n\r\n", 400, "bad field name"),
        ERR(GET_ROOT "X: a\x01\r\n\r\n", 400, "control character in a field value"),
        ERR(GET_ROOT "X: a\x7f\r\n\r\n", 400, "control character in a field value"),
        {GET_ROOT "X: a\0b\r\n\r\n",
         sizeof(GET_ROOT "X: a\0b\r\n\r\n") - 1,
         0,
         1,
         {{.status = 400, .reason = "NUL in a field value"}}},
        {GET_ROOT "X\0: b\r\n\r\n",
         sizeof(GET_ROOT "X\0: b\r\n\r\n") - 1,
         0,
         1,
         {{.status = 400, .reason = "bad field name"}}},
        /* Host */
        ERR("GET / HTTP/1.1\r\n\r\n", 400, "no Host field"),
        ERR(GET_ROOT HOST "\r\n", 400, "several Host fields"),
        ERR("GET / HTTP/1.0\r\n" HOST HOST "\r\n", 400, "several Host fields"),
        ERR("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "bad Host field"),
        ERR("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "bad Host field"),
        ERR("GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", 400, "bad Host field"),
        ERR("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400, "bad Host field"),
        /* Content-Length */
        ERR(POST_CL "Content-Length: -1\r\n\r\n", 400, "bad Content-Length"),
        ERR(POST_CL "Content-Length: +5\r\n\r\nabcde", 400, "bad Content-Length"),
        ERR(POST_CL "Content-Length: 0x10\r\n\r\n", 400, "bad Content-Length"),
        ERR(POST_CL "Content-Length: 1e3\r\n\r\n", 400, "bad Content-Length"),
        ERR(POST_CL "Content-Length: 1 2\r\n\r\n", 400, "bad Content-Length"),
        ERR(POST_CL "Content-Length:\r\n\r\n", 400, "bad Content-Length"),
        ERR(POST_CL "Content-Length: 5,\r\n\r\nabcde", 400, "bad Content-Length"),
        ERR(POST_CL "Content-Length: 5, 6\r\n\r\nabcde", 400, "bad Content-Length"),
        ERR(POST_CL "Content-Length: 5\r\nContent-Length: 6\r\n\r\nabcde", 400,
            "bad Content-Length"),
        ERR(POST_CL "Content-Length: 5\r\nContent-Length: 05\r\nContent-Length: 6\r\n\r\nabcde",
            400, "bad Content-Length"),
        ERR(POST_CL "Content-Length: 99999999999999999999999\r\n\r\n", 413, "body too large"),
        ERR(POST_CL "Content-Length: 18446744073709551616\r\n\r\n", 413, "body too large"),
        ERR(POST_CL "Content-Length: 1048577\r\n\r\n", 413, "body too large"),
        /* smuggling: both framings, codings other than a final chunked */
        ERR(POST_CL "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
            "both Content-Length and Transfer-Encoding"),
        ERR(POST_CL "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400,
            "both Content-Length and Transfer-Encoding"),
        ERR(POST_CL "Transfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc", 400,
            "both Content-Length and Transfer-Encoding"),
        ERR(POST_CL "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 400,
            "chunked is not the last transfer coding"),
        ERR(POST_CL "Transfer-Encoding: identity\r\n\r\n", 400,
            "chunked is not the last transfer coding"),
        ERR(POST_CL "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 400,
            "chunked is not the last transfer coding"),
        ERR(POST_CL "Transfer-Encoding: xchunked\r\n\r\n", 400,
            "chunked is not the last transfer coding"),
        ERR(POST_CL "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400,
            "chunked applied twice"),
        ERR(POST_CL "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400, "chunked applied twice"),
        ERR(POST_CL "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501,
            "transfer coding not implemented"),
        ERR(POST_CL "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501,
            "transfer coding not implemented"),
        ERR(POST_CL "Transfer-Encoding:\r\n\r\n", 400, "bad Transfer-Encoding"),
        ERR(POST_CL "Transfer-Encoding: , chunked\r\n\r\n0\r\n\r\n", 400, "bad Transfer-Encoding"),
        ERR(POST_CL "Transfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n", 400,
            "bad Transfer-Encoding"),
        ERR(POST_CL "Transfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n", 400,
            "bad Transfer-Encoding"),
        ERR("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
            "Transfer-Encoding in HTTP/1.0"),
        /* chunk lines */
        ERR(POST_TE "ffffffffffffffffff\r\n", 400, "chunk size too long"),
        ERR(POST_TE "00000000000000001\r\nx\r\n0\r\n\r\n", 400, "chunk size too long"),
        ERR(POST_TE "-1\r\n", 400, "bad chunk size"),
        ERR(POST_TE "g\r\n", 400, "bad chunk size"),
        ERR(POST_TE "\r\n", 400, "bad chunk size"),
        ERR(POST_TE ";x\r\n", 400, "bad chunk size"),
        ERR(POST_TE " 1\r\nx\r\n0\r\n\r\n", 400, "bad chunk size"),
        ERR(POST_TE "0x1\r\nx\r\n0\r\n\r\n", 400, "bad chunk extension"),
        ERR(POST_TE "1 \r\nx\r\n0\r\n\r\n", 400, "bad chunk extension"),
        ERR(POST_TE "1;\r\nx\r\n0\r\n\r\n", 400, "bad chunk extension"),
        ERR(POST_TE "1;a=\r\nx\r\n0\r\n\r\n", 400, "bad chunk extension"),
        ERR(POST_TE "1;a=\"b\r\nx\r\n0\r\n\r\n", 400, "bad chunk extension"),
        ERR(POST_TE "1;a=b c\r\nx\r\n0\r\n\r\n", 400, "bad chunk extension"),
        ERR(POST_TE "1;a=\"\x01\"\r\nx\r\n0\r\n\r\n", 400, "bad chunk extension"),
        ERR(POST_TE "1\nx\r\n0\r\n\r\n", 400, "bare LF"),
        ERR(POST_TE "1\rx\r\n0\r\n\r\n", 400, "bare CR"),
        ERR(POST_TE "1\r\nx\n0\r\n\r\n", 400, "chunk not followed by CR LF"),
        ERR(POST_TE "1\r\nxy\r\n0\r\n\r\n", 400, "chunk not followed by CR LF"),
        ERR(POST_TE "1\r\nx\r0\r\n\r\n", 400, "chunk not followed by CR LF"),
        ERR(POST_TE "100001\r\n", 413, "body too large"),
        /* trailers */
        ERR(POST_TE "0\r\nX: a\r\n b\r\n\r\n", 400, "obsolete line folding"),
        ERR(POST_TE "0\r\nX: a\n\r\n", 400, "bare LF"),
        ERR(POST_TE "0\r\n\n", 400, "bare LF"),
        ERR(POST_TE "0\r\nX : a\r\n\r\n", 400, "whitespace before a colon"),
        ERR(POST_TE "0\r\nX: \x01\r\n\r\n", 400, "control character in a field value"),
        ERR(POST_TE "0\r\nno colon\r\n\r\n", 400, "field line without a colon"),
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++)
        check_case(&cases[i], i);
#undef POST_TE
#undef POST_CL
}

/* in = prefix, n octets of fill, suffix. */
static const char *build(struct buf *b, const char *prefix, char fill, size_t n, const char *suffix)
{
    buf_reset(b);
    buf_append_str(b, prefix);
    for (size_t i = 0; i < n; i++)
        buf_append_char(b, fill);
    buf_append_str(b, suffix);
    return buf_cstr(b);
}

/* One request (or error) from the text in b. */
static void check_built(const struct buf *b, uint64_t body_max, int status, const char *reason,
                        size_t line)
{
    struct req_case c = {.in = b->data, .len = b->len, .body_max = body_max, .n = 1};
    c.want[0].status = status;
    c.want[0].reason = reason;
    check_case(&c, line);
}

/* Each limit, met exactly, then crossed by one octet. */
static void test_http_request_limits(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    /* the request line: "GET /" + n + " HTTP/1.1\r\n" */
    size_t fill = HTTP_REQUEST_LINE_MAX - strlen("GET / HTTP/1.1\r\n");
    build(&b, "GET /", 'a', fill, " HTTP/1.1\r\n" HOST "\r\n");
    check_built(&b, BODY_MAX, 0, NULL, __LINE__);
    build(&b, "GET /", 'a', fill + 1, " HTTP/1.1\r\n" HOST "\r\n");
    check_built(&b, BODY_MAX, 414, "request line too long", __LINE__);
    /* with no line end at all */
    build(&b, "GET /", 'a', HTTP_REQUEST_LINE_MAX - 5 + 1, "");
    check_built(&b, BODY_MAX, 414, "request line too long", __LINE__);

    /* the header section: Host, X: fill, and the empty line */
    fill = HTTP_HEADER_SECTION_MAX - strlen(HOST "X: \r\n\r\n");
    build(&b, GET_ROOT "X: ", 'b', fill, "\r\n\r\n");
    check_built(&b, BODY_MAX, 0, NULL, __LINE__);
    build(&b, GET_ROOT "X: ", 'b', fill + 1, "\r\n\r\n");
    check_built(&b, BODY_MAX, 431, "header section too large", __LINE__);
    build(&b, GET_ROOT "X: ", 'b', fill + 5, "");
    check_built(&b, BODY_MAX, 431, "header section too large", __LINE__);

    /* the number of fields: Host and 99 more, then 100 more */
    buf_reset(&b);
    buf_append_str(&b, GET_ROOT);
    for (int i = 1; i < HTTP_HEADER_FIELDS_MAX; i++)
        buf_printf(&b, "X-%d: %d\r\n", i, i);
    buf_append_str(&b, "\r\n");
    check_built(&b, BODY_MAX, 0, NULL, __LINE__);
    buf_truncate(&b, b.len - 2);
    buf_append_str(&b, "X-Last: 1\r\n\r\n");
    check_built(&b, BODY_MAX, 431, "too many header fields", __LINE__);

    /* empty lines before the request line */
    buf_reset(&b);
    for (int i = 0; i < HTTP_EMPTY_LINES_MAX; i++)
        buf_append_str(&b, "\r\n");
    buf_append_str(&b, GET_ROOT "\r\n");
    check_built(&b, BODY_MAX, 0, NULL, __LINE__);
    buf_reset(&b);
    for (int i = 0; i <= HTTP_EMPTY_LINES_MAX; i++)
        buf_append_str(&b, "\r\n");
    buf_append_str(&b, GET_ROOT "\r\n");
    check_built(&b, BODY_MAX, 400, "too many empty lines", __LINE__);

#define POST_TE "POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked\r\n\r\n"
    /* a chunk line: "1;x=" fill CR LF */
    fill = HTTP_CHUNK_LINE_MAX - strlen("1;x=\r\n");
    build(&b, POST_TE "1;x=", 'c', fill, "\r\nz\r\n0\r\n\r\n");
    check_built(&b, BODY_MAX, 0, NULL, __LINE__);
    build(&b, POST_TE "1;x=", 'c', fill + 1, "\r\nz\r\n0\r\n\r\n");
    check_built(&b, BODY_MAX, 400, "chunk line too long", __LINE__);

    /* the digits of a chunk size */
    build(&b, POST_TE, '0', HTTP_CHUNK_SIZE_DIGITS_MAX - 1, "1\r\nz\r\n0\r\n\r\n");
    check_built(&b, BODY_MAX, 0, NULL, __LINE__);
    build(&b, POST_TE, '0', HTTP_CHUNK_SIZE_DIGITS_MAX, "1\r\nz\r\n0\r\n\r\n");
    check_built(&b, BODY_MAX, 400, "chunk size too long", __LINE__);
    build(&b, POST_TE, 'f', HTTP_CHUNK_SIZE_DIGITS_MAX, "\r\n");
    check_built(&b, UINT64_MAX - 1, 413, "body too large", __LINE__);

    /* the trailer section: X: fill, and the empty line */
    fill = HTTP_HEADER_SECTION_MAX - strlen("X: \r\n\r\n");
    build(&b, POST_TE "0\r\nX: ", 'd', fill, "\r\n\r\n");
    check_built(&b, BODY_MAX, 0, NULL, __LINE__);
    build(&b, POST_TE "0\r\nX: ", 'd', fill + 1, "\r\n\r\n");
    check_built(&b, BODY_MAX, 431, "trailer section too large", __LINE__);

    /* the number of trailer fields */
    buf_reset(&b);
    buf_append_str(&b, POST_TE "0\r\n");
    for (int i = 0; i < HTTP_HEADER_FIELDS_MAX; i++)
        buf_printf(&b, "T-%d: %d\r\n", i, i);
    buf_append_str(&b, "\r\n");
    check_built(&b, BODY_MAX, 0, NULL, __LINE__);
    buf_truncate(&b, b.len - 2);
    buf_append_str(&b, "T-Last: 1\r\n\r\n");
    check_built(&b, BODY_MAX, 431, "too many trailer fields", __LINE__);

    /* the body's maximum: Content-Length and chunks */
    build(&b, "POST / HTTP/1.1\r\n" HOST "Content-Length: 10\r\n\r\n", 'e', 10, "");
    check_built(&b, 10, 0, NULL, __LINE__);
    check_built(&b, 9, 413, "body too large", __LINE__);
    build(&b, POST_TE "5\r\n", 'e', 5, "\r\n5\r\neeeee\r\n0\r\n\r\n");
    check_built(&b, 10, 0, NULL, __LINE__);
    check_built(&b, 9, 413, "body too large", __LINE__);
    build(&b, POST_TE "0\r\n\r\n", 'e', 0, "");
    check_built(&b, 0, 0, NULL, __LINE__);
    /* two chunks of 512 KiB and one octet add up past 1 MiB: refused at the
     * second chunk-size line, before its octets */
    build(&b, POST_TE "80000\r\n", 'e', 0x80000, "\r\n80001\r\n");
    struct req_case c = {.in = b.data, .len = b.len, .n = 1};
    c.want[0].status = 413;
    c.want[0].reason = "body too large";
    struct outcome o;
    run(c.in, c.len, BODY_MAX, NULL, 0, &o);
    check_outcome(&c, __LINE__, "whole", &o);
    assert_int_equal(o.req[0].body.len, 0x80000);
    outcome_free(&o);
    size_t cut = b.len - 3;
    run(c.in, c.len, BODY_MAX, &cut, 1, &o);
    check_outcome(&c, __LINE__, "split", &o);
    outcome_free(&o);
#undef POST_TE
    buf_free(&b);
}

/* A large body comes out in runs that point into the input, never copied. */
static void test_http_request_body_runs(void **state)
{
    (void)state;
    static const char head[] = "PUT /big HTTP/1.1\r\n" HOST "Content-Length: 100000\r\n\r\n";
    size_t n = strlen(head) + 100000;
    char *in = malloc(n);
    assert_non_null(in);
    memcpy(in, head, strlen(head));
    for (size_t i = strlen(head); i < n; i++)
        in[i] = (char)('a' + i % 26);
    struct http_request *r = http_request_new(100000);
    size_t used, blen;
    const char *body;
    assert_int_equal(http_request_feed(r, in, 1000, &used, &body, &blen), HTTP_REQUEST_HEAD);
    assert_int_equal(used, strlen(head));
    size_t pos = used, total = 0;
    for (;;) {
        size_t len = n - pos > 4096 ? 4096 : n - pos;
        enum http_request_event ev = http_request_feed(r, in + pos, len, &used, &body, &blen);
        if (ev == HTTP_REQUEST_DONE)
            break;
        assert_int_equal(ev, HTTP_REQUEST_BODY);
        assert_ptr_equal(body, in + pos); /* a run inside the input */
        assert_int_equal(blen, len);
        total += blen;
        pos += used;
    }
    assert_int_equal(total, 100000);
    assert_int_equal(http_request_body_received(r), 100000);
    free(in);
    http_request_free(&r);
}

/* The lookups over the parsed fields. */
static void test_http_request_fields(void **state)
{
    (void)state;
    static const char in[] = "POST /x HTTP/1.1\r\nHost: example.org\r\nAccept: a\r\n"
                             "X-Multi: one\r\nx-multi:  two \r\nConnection: keep-alive, Upgrade\r\n"
                             "Expect: 100-continue, fancy\r\nContent-Length: 2\r\n\r\nokGET";
    struct http_request *r = http_request_new(10);
    size_t used, blen, pos;
    const char *body, *name, *value;
    /* before HEAD: nothing */
    assert_int_equal(http_request_feed(r, in, 10, &used, &body, &blen), HTTP_REQUEST_MORE);
    assert_false(http_request_idle(r));
    assert_null(http_request_method(r));
    assert_null(http_request_target(r));
    assert_null(http_request_header(r, "Host"));
    assert_int_equal(http_request_field_count(r), 0);
    assert_false(http_request_field(r, 0, &name, &value));
    assert_false(http_request_keep_alive(r));
    assert_int_equal(http_request_status(r), 0);
    assert_null(http_request_error(r));

    assert_int_equal(http_request_feed(r, in + 10, sizeof(in) - 1 - 10, &used, &body, &blen),
                     HTTP_REQUEST_HEAD);
    size_t at = 10 + used;
    assert_string_equal(http_request_method(r), "POST");
    assert_string_equal(http_request_target(r), "/x");
    assert_int_equal(http_request_version_minor(r), 1);
    assert_int_equal(http_request_field_count(r), 7);
    assert_true(http_request_field(r, 3, &name, &value));
    assert_string_equal(name, "x-multi");
    assert_string_equal(value, "two");
    assert_false(http_request_field(r, 7, &name, &value));
    assert_string_equal(http_request_header(r, "HOST"), "example.org");
    assert_string_equal(http_request_header(r, "x-MULTI"), "one");
    assert_null(http_request_header(r, "X-Multi-"));
    assert_null(http_request_header(r, "X-Mult"));
    pos = 0;
    assert_string_equal(http_request_header_next(r, "X-Multi", &pos), "one");
    assert_string_equal(http_request_header_next(r, "X-Multi", &pos), "two");
    assert_null(http_request_header_next(r, "X-Multi", &pos));
    assert_null(http_request_header_next(r, "X-Multi", &pos));
    assert_true(http_request_header_has_token(r, "connection", "UPGRADE"));
    assert_true(http_request_header_has_token(r, "Connection", "keep-alive"));
    assert_false(http_request_header_has_token(r, "Connection", "close"));
    assert_false(http_request_header_has_token(r, "Connection", "keep"));
    assert_true(http_request_keep_alive(r));
    assert_true(http_request_expect_continue(r));
    assert_true(http_request_expect_other(r));
    assert_int_equal(http_request_framing(r), HTTP_BODY_LENGTH);
    assert_int_equal(http_request_content_length(r), 2);

    assert_int_equal(http_request_feed(r, in + at, sizeof(in) - 1 - at, &used, &body, &blen),
                     HTTP_REQUEST_BODY);
    assert_int_equal(blen, 2);
    assert_memory_equal(body, "ok", 2);
    at += used;
    assert_int_equal(http_request_feed(r, in + at, sizeof(in) - 1 - at, &used, &body, &blen),
                     HTTP_REQUEST_DONE);
    assert_int_equal(used, 0);
    /* still there after DONE */
    assert_string_equal(http_request_header(r, "Accept"), "a");

    /* the next request, on the same parser */
    http_request_reset(r);
    assert_true(http_request_idle(r));
    assert_int_equal(http_request_feed(r, "GET / HTTP/1.1\r\nHost: h\r\nExpect: fancy\r\n\r\n", 42,
                                       &used, &body, &blen),
                     HTTP_REQUEST_HEAD);
    assert_false(http_request_expect_continue(r));
    assert_true(http_request_expect_other(r));
    assert_int_equal(http_request_feed(r, "", 0, &used, &body, &blen), HTTP_REQUEST_DONE);
    assert_int_equal(http_request_body_received(r), 0);

    /* an error after HEAD: the head stays readable, the connection closes */
    http_request_reset(r);
    static const char bad[] = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "2\r\nabX";
    assert_int_equal(http_request_feed(r, bad, sizeof(bad) - 1, &used, &body, &blen),
                     HTTP_REQUEST_HEAD);
    at = used;
    assert_int_equal(http_request_feed(r, bad + at, sizeof(bad) - 1 - at, &used, &body, &blen),
                     HTTP_REQUEST_BODY);
    at += used;
    assert_int_equal(http_request_feed(r, bad + at, sizeof(bad) - 1 - at, &used, &body, &blen),
                     HTTP_REQUEST_ERROR);
    assert_int_equal(http_request_status(r), 400);
    assert_string_equal(http_request_method(r), "POST");
    assert_false(http_request_keep_alive(r));
    http_request_free(&r);
    http_request_free(&r); /* NULL: nothing */
}

static void test_http_request_token_value(void **state)
{
    (void)state;
    assert_true(http_token_valid("Content-Length", 14));
    assert_true(http_token_valid("!#$%&'*+-.^_`|~09azAZ", 21));
    assert_false(http_token_valid("", 0));
    assert_false(http_token_valid("a b", 3));
    assert_false(http_token_valid("a:b", 3));
    assert_false(http_token_valid("a\0b", 3));
    assert_false(http_token_valid("\xc3\xa9", 2));
    assert_true(http_field_value_valid("", 0));
    assert_true(http_field_value_valid("a b\tc \xff", 7));
    assert_false(http_field_value_valid("a\rb", 3));
    assert_false(http_field_value_valid("a\nb", 3));
    assert_false(http_field_value_valid("a\0b", 3));
    assert_false(http_field_value_valid("\x7f", 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_request_good),   cmocka_unit_test(test_http_request_errors),
        cmocka_unit_test(test_http_request_limits), cmocka_unit_test(test_http_request_body_runs),
        cmocka_unit_test(test_http_request_fields), cmocka_unit_test(test_http_request_token_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
