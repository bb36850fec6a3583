/* clamd: the asynchronous INSTREAM client (see clamd.h). */
#include "policy/clamd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "lib/net-connect.h"
#include "lib/net.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define CLAMD_COMMAND     "zINSTREAM"           /* sent with its NUL */
#define CLAMD_TIMEOUT_MAX (24u * 3600u * 1000u) /* clamp: a day, in ms */

struct clamd_scan {
    struct event_base *base;
    struct bufferevent *bev;
    struct event *timer;
    const unsigned char *data;
    size_t len;
    size_t sent;          /* bytes of data queued for sending */
    bool connected;       /* the connect completed */
    bool terminator_sent; /* the zero-length chunk is queued */
    unsigned timeout_ms;
    bool have_pending; /* a result decided before any I/O, given by the timer */
    struct clamd_result pending;
    clamd_done_fn *cb;
    void *arg;
    char address[CLAMD_ADDRESS_MAX];
};

int clamd_address_check(const char *address, const char **error_r)
{
    struct net_peer a;
    return net_parse_peer(address, &a, error_r);
}

/* Format a printable, bounded reason into r->detail. */
static void set_detail(struct clamd_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_detail(struct clamd_result *r, const char *fmt, ...)
{
    char tmp[CLAMD_DETAIL_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) {
        str_copy(r->detail, sizeof(r->detail), "(unformattable reason)");
        return;
    }
    /* n >= sizeof(tmp): cut, which a bounded log reason may be. */
    str_printable(r->detail, sizeof(r->detail), tmp, strnlen(tmp, sizeof(tmp)));
}

/* A result with no signature and no reason yet. */
static void result_init(struct clamd_result *r, enum clamd_status status,
                        enum clamd_failure failure)
{
    memset(r, 0, sizeof(*r));
    r->status = status;
    r->failure = failure;
}

static void scan_free(struct clamd_scan *s)
{
    if (s->bev != NULL)
        bufferevent_free(s->bev);
    if (s->timer != NULL)
        event_free(s->timer);
    free(s);
}

/* Free the scan, then tell the caller (so the callback may not touch it). */
static void scan_finish(struct clamd_scan *s, const struct clamd_result *r)
{
    struct clamd_result copy = *r;
    clamd_done_fn *cb = s->cb;
    void *arg = s->arg;
    scan_free(s);
    cb(&copy, arg);
}

/* Finish as UNAVAILABLE for this failure and reason. */
static void scan_fail(struct clamd_scan *s, enum clamd_failure failure, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void scan_fail(struct clamd_scan *s, enum clamd_failure failure, const char *fmt, ...)
{
    struct clamd_result r;
    char tmp[CLAMD_DETAIL_MAX + 1];
    result_init(&r, CLAMD_SCAN_UNAVAILABLE, failure);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        str_copy(tmp, sizeof(tmp), "(unformattable reason)");
    set_detail(&r, "%s", tmp);
    scan_finish(s, &r);
}

/* Queue more of the stream while the output is short: one chunk (header
 * and a reference to the caller's data, not a copy), or the terminator. */
static void scan_feed(struct clamd_scan *s)
{
    struct evbuffer *out = bufferevent_get_output(s->bev);
    while (!s->terminator_sent && evbuffer_get_length(out) < CLAMD_CHUNK_MAX) {
        size_t n = s->len - s->sent;
        if (n > CLAMD_CHUNK_MAX)
            n = CLAMD_CHUNK_MAX;
        unsigned char hdr[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                                (unsigned char)(n >> 8), (unsigned char)n};
        evbuffer_add(out, hdr, sizeof(hdr));
        if (n == 0) {
            s->terminator_sent = true;
            break;
        }
        evbuffer_add_reference(out, s->data + s->sent, n, NULL, NULL);
        s->sent += n;
    }
}

/* Look for a complete reply in the input; finish with it if there is one
 * (or if the input grew past any reply). Returns true if the scan ended. */
static bool scan_check_reply(struct clamd_scan *s)
{
    struct evbuffer *in = bufferevent_get_input(s->bev);
    const char nul = '\0';
    struct evbuffer_ptr pos = evbuffer_search(in, &nul, 1, NULL);
    size_t have = evbuffer_get_length(in);
    if (pos.pos < 0) {
        if (have < CLAMD_REPLY_MAX)
            return false;
        scan_fail(s, CLAMD_FAIL_PROTOCOL, "clamd %s: reply longer than %d bytes", s->address,
                  CLAMD_REPLY_MAX);
        return true;
    }
    size_t n = (size_t)pos.pos + 1;
    if (n > CLAMD_REPLY_MAX) {
        scan_fail(s, CLAMD_FAIL_PROTOCOL, "clamd %s: reply longer than %d bytes", s->address,
                  CLAMD_REPLY_MAX);
        return true;
    }
    const char *text = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
    struct clamd_reply reply;
    int rc = clamd_reply_parse(text, n, &reply);
    bool complete = s->terminator_sent && s->sent == s->len;
    struct clamd_result r;
    if (rc != 0) {
        scan_fail(s, CLAMD_FAIL_PROTOCOL, "clamd %s: unexpected reply \"%s\"", s->address,
                  reply.text);
        return true;
    }
    switch (reply.verdict) {
    case CLAMD_REPLY_CLEAN:
    case CLAMD_REPLY_INFECTED:
        if (!complete) {
            scan_fail(s, CLAMD_FAIL_PROTOCOL, "clamd %s: verdict before the end of the stream",
                      s->address);
            return true;
        }
        if (reply.verdict == CLAMD_REPLY_CLEAN) {
            result_init(&r, CLAMD_SCAN_CLEAN, CLAMD_FAIL_NONE);
        } else {
            result_init(&r, CLAMD_SCAN_INFECTED, CLAMD_FAIL_NONE);
            str_copy(r.signature, sizeof(r.signature), reply.signature);
        }
        break;
    case CLAMD_REPLY_ERROR:
    default:
        if (clamd_reply_is_size_limit(&reply)) {
            result_init(&r, CLAMD_SCAN_TOO_BIG, CLAMD_FAIL_NONE);
            set_detail(&r, "clamd %s: %s (StreamMaxLength)", s->address, reply.text);
        } else {
            result_init(&r, CLAMD_SCAN_UNAVAILABLE, CLAMD_FAIL_CLAMD);
            set_detail(&r, "clamd %s: %s", s->address, reply.text);
        }
        break;
    }
    scan_finish(s, &r);
    return true;
}

/* Input arrived: maybe the reply. */
static void on_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    scan_check_reply(arg);
}

/* The output drained: queue the next chunk. */
static void on_write(struct bufferevent *bev, void *arg)
{
    (void)bev;
    struct clamd_scan *s = arg;
    if (s->connected)
        scan_feed(s);
}

/* Connected, closed, or broken. */
static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct clamd_scan *s = arg;
    int err = EVUTIL_SOCKET_ERROR();
    if (what & BEV_EVENT_CONNECTED) {
        s->connected = true;
        struct evbuffer *out = bufferevent_get_output(bev);
        evbuffer_add(out, CLAMD_COMMAND, sizeof(CLAMD_COMMAND)); /* with the NUL */
        scan_feed(s);
        bufferevent_enable(bev, EV_READ | EV_WRITE);
        return;
    }
    if (!s->connected) {
        scan_fail(s, CLAMD_FAIL_CONNECT, "connect %s: %s", s->address,
                  err ? strerror(err) : "failed");
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        /* clamd may have answered (an ERROR) and closed while we sent: a
         * reply already in the socket says more than EPIPE. */
        evbuffer_read(bufferevent_get_input(bev), bufferevent_getfd(bev), CLAMD_REPLY_MAX);
        if (scan_check_reply(s))
            return;
        scan_fail(s, CLAMD_FAIL_IO, "clamd %s: %s", s->address, err ? strerror(err) : "I/O error");
        return;
    }
    /* EOF: a complete reply was already taken by on_read. */
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t have = evbuffer_get_length(in);
    if (have == 0) {
        scan_fail(s, CLAMD_FAIL_PROTOCOL, "clamd %s: connection closed without a reply",
                  s->address);
        return;
    }
    char part[CLAMD_DETAIL_MAX / 2];
    size_t n = have < CLAMD_REPLY_MAX ? have : CLAMD_REPLY_MAX;
    const char *text = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
    str_printable(part, sizeof(part), text, n);
    scan_fail(s, CLAMD_FAIL_PROTOCOL, "clamd %s: connection closed in the reply \"%s\"", s->address,
              part);
}

/* The overall timeout, or the delivery of a result decided at start. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct clamd_scan *s = arg;
    if (s->have_pending) {
        struct clamd_result r = s->pending;
        scan_finish(s, &r);
        return;
    }
    scan_fail(s, CLAMD_FAIL_TIMEOUT, "clamd %s: no reply within %u ms", s->address, s->timeout_ms);
}

/* Give r from the event loop soon (never from within clamd_scan_start). */
static void scan_defer(struct clamd_scan *s, const struct clamd_result *r)
{
    s->have_pending = true;
    s->pending = *r;
    const struct timeval now = {0, 0};
    evtimer_add(s->timer, &now);
}

struct clamd_scan *clamd_scan_start(struct event_base *base, const char *address, const void *data,
                                    size_t len, size_t max_len, unsigned timeout_ms,
                                    clamd_done_fn *cb, void *arg, const char **error_r)
{
    struct net_peer a;
    if (net_parse_peer(address, &a, error_r) != 0)
        return NULL;
    struct clamd_scan *s = xcalloc(1, sizeof(*s));
    s->base = base;
    s->data = data;
    s->len = len;
    s->timeout_ms = timeout_ms < CLAMD_TIMEOUT_MAX ? timeout_ms : CLAMD_TIMEOUT_MAX;
    s->cb = cb;
    s->arg = arg;
    str_copy(s->address, sizeof(s->address), address);
    s->timer = evtimer_new(base, on_timer, s);
    if (s->timer == NULL) {
        free(s);
        *error_r = "cannot create a timer";
        return NULL;
    }

    struct clamd_result r;
    if (len > max_len) {
        result_init(&r, CLAMD_SCAN_TOO_BIG, CLAMD_FAIL_NONE);
        set_detail(&r, "message of %zu bytes is larger than the scan limit of %zu", len, max_len);
        scan_defer(s, &r);
        return s;
    }
    char why[200];
    s->bev = net_connect_start(base, &a, why, sizeof(why));
    if (s->bev == NULL) {
        result_init(&r, CLAMD_SCAN_UNAVAILABLE, CLAMD_FAIL_CONNECT);
        set_detail(&r, "connect %s: %s", s->address, why);
        scan_defer(s, &r);
        return s;
    }
    bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
    const struct timeval tv = {(time_t)(s->timeout_ms / 1000),
                               (suseconds_t)(s->timeout_ms % 1000) * 1000};
    evtimer_add(s->timer, &tv);
    return s;
}

void clamd_scan_cancel(struct clamd_scan **sp)
{
    if (*sp == NULL)
        return;
    scan_free(*sp);
    *sp = NULL;
}

const char *clamd_status_name(enum clamd_status status)
{
    switch (status) {
    case CLAMD_SCAN_CLEAN:
        return "clean";
    case CLAMD_SCAN_INFECTED:
        return "infected";
    case CLAMD_SCAN_TOO_BIG:
        return "too-big";
    case CLAMD_SCAN_UNAVAILABLE:
        return "unavailable";
    }
    return "?";
}

const char *clamd_failure_name(enum clamd_failure failure)
{
    switch (failure) {
    case CLAMD_FAIL_NONE:
        return "none";
    case CLAMD_FAIL_CONNECT:
        return "connect";
    case CLAMD_FAIL_TIMEOUT:
        return "timeout";
    case CLAMD_FAIL_IO:
        return "io";
    case CLAMD_FAIL_PROTOCOL:
        return "protocol";
    case CLAMD_FAIL_CLAMD:
        return "clamd";
    }
    return "?";
}
