/* Fuzz target: the HTTP/1.1 request parser (share/http-request), and the
 * target, query and response helpers on what it accepts.
 *
 * The first octet picks the body maximum; the rest is what a client sends
 * on one connection: requests are parsed one after the other (the parser
 * reset after each DONE, as a keep-alive connection does) until an error
 * or the end. The input is fed whole, octet by octet and in pieces whose
 * sizes come from a generator seeded with the input: every way must give
 * the same requests, bodies, consumption and errors. Besides, for each
 * request:
 *  - the events keep their contract (MORE takes everything, a body run lies
 *    inside the input and ends where the consumption does, DONE and ERROR
 *    stick);
 *  - the head satisfies the grammar and the limits, and its request line is
 *    the first line of the input after any empty lines;
 *  - the body never passes the Content-Length, the sum of the chunk sizes
 *    or the maximum; a complete body is exactly the octets after the head
 *    (Content-Length) or what a small independent chunked decoder makes of
 *    the octets the request took;
 *  - the target helpers give a path without NUL, dot segments or bad
 *    UTF-8, and the response head made from a received field has exactly
 *    its own lines. */
#include <stdbool.h>

#include "fuzz-util.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "share/http-request.h"
#include "share/http-response.h"
#include "share/http-target.h"

#define REQUESTS_MAX 8

static const uint64_t body_maxes[] = {0, 16, 1024 * 1024, UINT64_MAX};

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* What the parser must have done with an accepted head. */
static void check_head(const struct http_request *r, const char *d, size_t req_start,
                       size_t head_end)
{
    const char *method = http_request_method(r), *target = http_request_target(r);
    CHECK(method && target);
    CHECK(http_token_valid(method, strlen(method)));
    size_t tlen = strlen(target);
    CHECK(tlen > 0 && (target[0] == '/' || strcmp(target, "*") == 0));
    if (target[0] == '*')
        CHECK(strcmp(method, "OPTIONS") == 0);
    unsigned minor = http_request_version_minor(r);
    CHECK(minor <= 1);
    /* the request line is the first line after any empty lines */
    size_t s = req_start;
    while (s + 1 < head_end && d[s] == '\r' && d[s + 1] == '\n')
        s += 2;
    CHECK((s - req_start) / 2 <= HTTP_EMPTY_LINES_MAX);
    size_t mlen = strlen(method);
    CHECK(memcmp(d + s, method, mlen) == 0 && d[s + mlen] == ' ');
    CHECK(memcmp(d + s + mlen + 1, target, tlen) == 0);
    CHECK(memcmp(d + s + mlen + 1 + tlen, minor ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n", 11) == 0);
    size_t line = mlen + tlen + 12;
    CHECK(line <= HTTP_REQUEST_LINE_MAX);
    CHECK(head_end - s - line <= HTTP_HEADER_SECTION_MAX);
    CHECK(memcmp(d + head_end - 2, "\r\n", 2) == 0);

    size_t n = http_request_field_count(r), hosts = 0, cls = 0, tes = 0;
    CHECK(n <= HTTP_HEADER_FIELDS_MAX);
    for (size_t i = 0; i < n; i++) {
        const char *name, *value;
        CHECK(http_request_field(r, i, &name, &value));
        CHECK(http_token_valid(name, strlen(name)));
        size_t vlen = strlen(value);
        CHECK(http_field_value_valid(value, vlen));
        CHECK(vlen == 0 || (!is_ows(value[0]) && !is_ows(value[vlen - 1])));
        hosts += str_eq_ci(name, "Host");
        cls += str_eq_ci(name, "Content-Length");
        tes += str_eq_ci(name, "Transfer-Encoding");
        /* the lookups find each field */
        size_t pos = 0;
        const char *v;
        bool found = false;
        while ((v = http_request_header_next(r, name, &pos)) != NULL)
            found |= v == value;
        CHECK(found);
    }
    const char *dummy;
    CHECK(!http_request_field(r, n, &dummy, &dummy));
    CHECK(hosts <= 1 && (minor == 0 || hosts == 1));
    switch (http_request_framing(r)) {
    case HTTP_BODY_NONE:
        CHECK(cls == 0 && tes == 0);
        break;
    case HTTP_BODY_LENGTH:
        CHECK(cls > 0 && tes == 0);
        break;
    case HTTP_BODY_CHUNKED:
        CHECK(cls == 0 && tes > 0 && minor == 1);
        break;
    }
    if (minor == 0)
        CHECK(!http_request_expect_continue(r) && !http_request_expect_other(r));
    if (http_request_header_has_token(r, "Connection", "close"))
        CHECK(!http_request_keep_alive(r));
}

/* The target and query helpers, and a response head from a received field. */
static void check_helpers(const struct http_request *r)
{
    const char *target = http_request_target(r), *q, *error = NULL;
    size_t tlen = strlen(target), qlen;
    struct buf path, value, out;
    buf_init(&path, HTTP_REQUEST_LINE_MAX);
    if (http_target_parse(target, tlen, &path, &q, &qlen, &error) == 0) {
        const char *p = buf_cstr(&path);
        CHECK(path.len > 0 && p[0] == '/' && path.len <= tlen);
        CHECK(memchr(p, '\0', path.len) == NULL);
        CHECK(str_utf8_valid(p, path.len));
        CHECK(strstr(p, "/../") == NULL && strstr(p, "/./") == NULL && strstr(p, "\\") == NULL);
        CHECK(!(path.len >= 3 && strcmp(p + path.len - 3, "/..") == 0));
        CHECK(!(path.len >= 2 && strcmp(p + path.len - 2, "/.") == 0));
        if (q) {
            CHECK(q > target && q + qlen == target + tlen && q[-1] == '?');
            buf_init(&value, BUF_UNLIMITED);
            static const char *const names[] = {"a", "x", "id", "", "a b"};
            for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                int got = http_query_get(q, qlen, names[i], &value);
                CHECK(got >= -1 && got <= 1);
                CHECK(value.len <= qlen && (got == 1 || value.len == 0));
                CHECK(memchr(buf_cstr(&value), '\0', value.len) == NULL);
            }
            buf_free(&value);
        }
    } else {
        CHECK(error != NULL && path.len == 0);
    }
    buf_free(&path);

    const char *name, *v;
    if (!http_request_field(r, 0, &name, &v))
        return;
    struct http_header h = {name, v};
    buf_init(&out, BUF_UNLIMITED);
    int ret = http_response_head(&out, 200, &h, 1, HTTP_RESPONSE_LENGTH, 1, &error);
    bool framing = str_eq_ci(name, "Content-Length") || str_eq_ci(name, "Transfer-Encoding");
    CHECK(ret == (framing ? -1 : 0));
    if (ret == 0) {
        /* the status line, the field, Content-Length and the empty line */
        size_t lines = 0;
        for (const char *c = out.data; (c = strstr(c, "\r\n")) != NULL; c += 2)
            lines++;
        CHECK(lines == 4);
        CHECK(memchr(out.data, '\n', out.len) == out.data + 16);
        CHECK(strcmp(out.data + out.len - 4, "\r\n\r\n") == 0);
    } else {
        CHECK(out.len == 0);
    }
    buf_free(&out);
}

/* An independent reading of a chunked body that the parser accepted: the
 * octets d[from..to) are chunk lines, chunk data and trailers. */
static void check_chunked(const char *d, size_t from, size_t to, const struct buf *body)
{
    struct buf want;
    buf_init(&want, BUF_UNLIMITED);
    size_t i = from;
    for (;;) {
        uint64_t size = 0;
        size_t digits = 0;
        for (; i < to; i++, digits++) {
            char c = d[i];
            int v = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            if (v < 0)
                break;
            size = size << 4 | (uint64_t)v;
        }
        CHECK(digits > 0 && digits <= HTTP_CHUNK_SIZE_DIGITS_MAX);
        const char *lf = memchr(d + i, '\n', to - i);
        CHECK(lf != NULL && lf[-1] == '\r');
        i = (size_t)(lf - d) + 1;
        if (size == 0)
            break;
        CHECK(size <= to - i);
        buf_append(&want, d + i, (size_t)size);
        i += (size_t)size;
        CHECK(i + 2 <= to && d[i] == '\r' && d[i + 1] == '\n');
        i += 2;
    }
    /* trailer lines, then the empty line that ends the request */
    CHECK(to - i >= 2 && memcmp(d + to - 2, "\r\n", 2) == 0);
    CHECK(to - i - 2 <= HTTP_HEADER_SECTION_MAX);
    CHECK(body->len == want.len && memcmp(buf_cstr(body), buf_cstr(&want), want.len) == 0);
    buf_free(&want);
}

/* Parse the connection's octets, fed whole (how 0), octet by octet (1) or in
 * pieces sized by rng (2); everything seen goes to trace. */
static void run(const char *d, size_t n, uint64_t body_max, int how, struct fuzz_rng *rng,
                struct buf *trace)
{
    struct http_request *r = http_request_new(body_max);
    struct buf body;
    buf_init(&body, BUF_UNLIMITED);
    size_t pos = 0, avail = 0, req_start = 0, head_end = 0;
    unsigned requests = 0;
    bool head = false;
    size_t max_piece = rng ? 1 + (size_t)(fuzz_rng_next(rng) % 200) : 1;
    enum http_request_event ev = HTTP_REQUEST_MORE;
    for (;;) {
        if (pos == avail && ev == HTTP_REQUEST_MORE) {
            if (avail == n)
                break;
            size_t len = how == 0 ? n : how == 1 ? 1 : fuzz_rng_piece(rng, max_piece);
            avail = len > n - avail ? n : avail + len;
        }
        size_t len = avail - pos, used = 0, blen = 0;
        char *copy = fuzz_copy(d + pos, len);
        const char *b = NULL;
        ev = http_request_feed(r, copy, len, &used, &b, &blen);
        CHECK(used <= len);
        if (ev == HTTP_REQUEST_BODY) {
            CHECK(head && blen > 0 && b + blen == copy + used && b >= copy);
            CHECK(memcmp(b, d + pos + (size_t)(b - copy), blen) == 0);
            buf_append(&body, b, blen);
        } else {
            CHECK(b == NULL && blen == 0);
        }
        free(copy);
        pos += used;
        switch (ev) {
        case HTTP_REQUEST_MORE:
            CHECK(used == len);
            CHECK(http_request_status(r) == 0);
            break;
        case HTTP_REQUEST_HEAD:
            CHECK(!head);
            head = true;
            head_end = pos;
            check_head(r, d, req_start, head_end);
            check_helpers(r);
            buf_printf(trace, "H%zu %s %s %u %d %d %d %zu|", pos, http_request_method(r),
                       http_request_target(r), http_request_version_minor(r),
                       (int)http_request_framing(r), http_request_keep_alive(r),
                       http_request_expect_continue(r), http_request_field_count(r));
            break;
        case HTTP_REQUEST_BODY:
            break;
        case HTTP_REQUEST_DONE:
        case HTTP_REQUEST_ERROR: {
            size_t again = 1;
            CHECK(http_request_feed(r, "x", 1, &again, &b, &blen) == ev && again == 0);
            break;
        }
        }
        /* the body never passes what was declared, nor the maximum */
        uint64_t got = http_request_body_received(r);
        CHECK(got == body.len && got <= body_max);
        if (head && http_request_framing(r) == HTTP_BODY_LENGTH)
            CHECK(got <= http_request_content_length(r));
        if (head && http_request_framing(r) == HTTP_BODY_NONE)
            CHECK(got == 0);
        if (ev == HTTP_REQUEST_ERROR) {
            int st = http_request_status(r);
            CHECK(st == 400 || st == 413 || st == 414 || st == 431 || st == 501 || st == 505);
            CHECK(http_request_error(r) != NULL);
            CHECK(!http_request_keep_alive(r));
            buf_printf(trace, "X%d %s|", st, http_request_error(r));
            break;
        }
        if (ev != HTTP_REQUEST_DONE)
            continue;
        CHECK(head);
        if (http_request_framing(r) == HTTP_BODY_LENGTH) {
            CHECK(got == http_request_content_length(r));
            CHECK(pos - head_end == got && memcmp(buf_cstr(&body), d + head_end, (size_t)got) == 0);
        } else if (http_request_framing(r) == HTTP_BODY_CHUNKED) {
            check_chunked(d, head_end, pos, &body);
        } else {
            CHECK(pos == head_end);
        }
        buf_printf(trace, "D%zu %zu:", pos, body.len);
        buf_append(trace, buf_cstr(&body), body.len);
        buf_append_char(trace, '|');
        if (++requests == REQUESTS_MAX || pos == n)
            break;
        http_request_reset(r);
        CHECK(http_request_idle(r) && http_request_method(r) == NULL);
        buf_reset(&body);
        head = false;
        req_start = pos;
        ev = HTTP_REQUEST_MORE;
    }
    buf_printf(trace, "E%zu %d", pos, http_request_idle(r));
    buf_free(&body);
    http_request_free(&r);
}

/* A Content-Range value: what parses is within its rules and prints back
 * to the same text. */
static void check_content_range(const char *v, size_t n)
{
    unsigned long long a, b, c;
    if (http_content_range_parse(v, n, &a, &b, &c) != 0)
        return;
    CHECK(a <= b && b < c);
    char back[80];
    int k = snprintf(back, sizeof(back), "bytes %llu-%llu/%llu", a, b, c);
    /* leading zeros are allowed in the field, so compare the numbers */
    unsigned long long a2, b2, c2;
    CHECK(k > 0 && http_content_range_parse(back, (size_t)k, &a2, &b2, &c2) == 0);
    CHECK(a2 == a && b2 == b && c2 == c && (size_t)k <= n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    check_content_range((const char *)data + 1, size - 1);
    uint64_t body_max = body_maxes[data[0] % (sizeof(body_maxes) / sizeof(body_maxes[0]))];
    const char *d = (const char *)data + 1;
    size_t n = size - 1;
    struct buf whole, other;
    buf_init(&whole, BUF_UNLIMITED);
    buf_init(&other, BUF_UNLIMITED);
    run(d, n, body_max, 0, NULL, &whole);
    run(d, n, body_max, 1, NULL, &other);
    CHECK(whole.len == other.len && memcmp(whole.data, other.data, whole.len) == 0);
    struct fuzz_rng rng;
    fuzz_rng_init(&rng, data, size);
    for (int k = 0; k < 2; k++) {
        buf_reset(&other);
        run(d, n, body_max, 2, &rng, &other);
        CHECK(whole.len == other.len && memcmp(whole.data, other.data, whole.len) == 0);
    }
    buf_free(&whole);
    buf_free(&other);
    return 0;
}
