/* access-server: connections, TLS, limits and login checks of imapd and
 * pop3d (see access-server.h). */
#include "access-server.h"

#include "ip-count.h"
#include "tls-conn.h"
#include "login-check.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/net.h"
#include "lib/str.h"
#include "lib/tls.h"
#include "lib/xalloc.h"

#define READ_HIGH_WATER (256 * 1024) /* input buffered before reading pauses */
#define WRITE_LOW_WATER (64 * 1024)  /* output_drained() below this */
#define FLUSH_POLLS_MAX 1000         /* 10 s for the last replies to leave */
#define PRINT_LINE_MAX  8192

struct access_server;

struct listener {
    struct access_server *s;
    struct evconnlistener *l;
    bool tls;
};

struct access_server {
    struct daemon_env *env;
    struct config *cfg;
    const struct access_protocol *proto;
    struct access_settings set;
    struct event_base *base;
    struct listener *listeners;
    size_t n_listeners;
    struct tls_server *tls; /* NULL without certificates: no TLS at all */
    struct login_checker *logins;
    struct event *sigterm_ev, *sigint_ev, *sighup_ev;
    struct ip_counts *ips; /* connections per client address */
    unsigned nconns;
    struct access_conn *conns;
    bool stopping;
};

struct access_conn {
    struct access_server *s;
    void *session;
    struct bufferevent *bev;
    char ip[64];
    bool plaintext_ok; /* in plaintext_login_networks */
    struct tls_server *tls;
    SSL *ssl;
    char tls_info[160];
    bool starttls_requested;
    bool busy;
    bool closing;
    bool dead;       /* gone while a login check runs */
    bool in_process; /* conn_process() is on the stack */
    bool want_output;
    long long timeout;
    bool auth;                    /* a login check is running */
    struct auth_outcome auth_out; /* delivered when auth_delay fires */
    struct event *auth_delay;
    struct event *resume_ev;
    struct event *flush_ev;
    unsigned flush_polls;
    struct access_conn *prev, *next;
};

static void conn_process(struct access_conn *c);
static void conn_setup_bev(struct access_conn *c);
static void conn_free(struct access_conn *c);

/* --- accessors --- */

struct event_base *access_server_base(struct access_server *s)
{
    return s->base;
}

struct config *access_server_config(struct access_server *s)
{
    return s->cfg;
}

bool access_server_has_tls(struct access_server *s)
{
    return s->tls != NULL;
}

struct access_server *access_conn_server(struct access_conn *c)
{
    return c->s;
}

const char *access_conn_ip(const struct access_conn *c)
{
    return c->ip;
}

bool access_conn_plaintext_login_ok(const struct access_conn *c)
{
    return c->plaintext_ok;
}

bool access_conn_tls(const struct access_conn *c)
{
    return c->ssl != NULL && c->tls_info[0] != '\0';
}

const char *access_conn_tls_info(const struct access_conn *c)
{
    return c->tls_info;
}

void access_conn_set_timeout(struct access_conn *c, long long seconds)
{
    c->timeout = seconds;
    struct timeval tv = {(time_t)seconds, 0};
    bufferevent_set_timeouts(c->bev, &tv, &tv);
}

/* --- output --- */

void access_conn_write(struct access_conn *c, const void *data, size_t len)
{
    if (!c->dead && len)
        bufferevent_write(c->bev, data, len);
}

void access_conn_print(struct access_conn *c, const char *fmt, ...)
{
    char line[PRINT_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line)) {
        /* Longer than any line we print; go through a buffer. */
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        va_start(ap, fmt);
        buf_vprintf(&b, fmt, ap);
        va_end(ap);
        access_conn_write(c, b.data, b.len);
        buf_free(&b);
        return;
    }
    access_conn_write(c, line, (size_t)n);
}

size_t access_conn_output_len(struct access_conn *c)
{
    return tls_conn_output_len(c->bev);
}

void access_conn_want_output(struct access_conn *c, bool want)
{
    c->want_output = want;
}

/* --- flow --- */

void access_conn_busy(struct access_conn *c)
{
    c->busy = true;
}

/* Resumed from an event of its own, so that a session may call
 * access_conn_resume() from inside its own input handler. */
static void resume_now(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_process(arg);
}

void access_conn_resume(struct access_conn *c)
{
    c->busy = false;
    if (c->dead)
        return;
    if (!c->resume_ev)
        c->resume_ev = evtimer_new(c->s->base, resume_now, c);
    struct timeval now = {0, 0};
    evtimer_add(c->resume_ev, &now);
}

/* Free once the output is out, polling while it sits under the TLS layer. */
static void conn_close_soon(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct access_conn *c = arg;
    if (access_conn_output_len(c) == 0 || ++c->flush_polls > FLUSH_POLLS_MAX) {
        conn_free(c);
        return;
    }
    if (!c->flush_ev)
        c->flush_ev = evtimer_new(c->s->base, conn_close_soon, c);
    struct timeval tv = {0, 10000};
    evtimer_add(c->flush_ev, &tv);
}

void access_conn_close(struct access_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    bufferevent_disable(c->bev, EV_READ);
    if (!c->in_process && !c->auth)
        conn_close_soon(-1, 0, c);
}

/* --- TLS --- */

void access_conn_starttls(struct access_conn *c)
{
    c->starttls_requested = true;
}

static bool conn_start_tls(struct access_conn *c, evutil_socket_t fd)
{
    if (!c->s->tls)
        return false;
    c->tls = tls_server_ref(c->s->tls);
    struct bufferevent *bev =
        tls_conn_wrap(c->s->base, c->tls, (int)fd, fd >= 0 ? NULL : c->bev, &c->ssl);
    if (!bev)
        return false;
    c->bev = bev;
    conn_setup_bev(c);
    return true;
}

static void conn_switch_to_tls(struct access_conn *c)
{
    c->starttls_requested = false;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t junk = evbuffer_get_length(in);
    if (junk) {
        log_warn("%s: discarded %zu octets sent after STARTTLS in plaintext by [%s] "
                 "(command injection?)",
                 c->s->proto->name, junk, c->ip);
        evbuffer_drain(in, junk);
    }
    if (!conn_start_tls(c, -1)) {
        log_warn("%s: TLS setup failed for [%s]", c->s->proto->name, c->ip);
        access_conn_close(c);
    }
}

/* --- logins --- */

static void auth_delay_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct access_conn *c = arg;
    c->busy = false;
    if (c->closing) {
        conn_close_soon(-1, 0, c);
        return;
    }
    c->s->proto->auth_done(c->session, &c->auth_out);
    conn_process(c);
}

/* The login check is over (its lines are logged): answer at once, or
 * after the penalty delay of a failure. */
static void login_checked(void *arg, const struct auth_outcome *o)
{
    struct access_conn *c = arg;
    c->auth = false;
    if (c->dead) {
        conn_free(c);
        return;
    }
    c->auth_out = *o;
    long long delay = o->result == AUTH_OK ? 0 : o->delay_ms;
    if (delay > 0) {
        if (!c->auth_delay)
            c->auth_delay = evtimer_new(c->s->base, auth_delay_done, c);
        struct timeval tv = {(time_t)(delay / 1000), (suseconds_t)(delay % 1000) * 1000};
        evtimer_add(c->auth_delay, &tv);
        return;
    }
    auth_delay_done(-1, 0, c);
}

void access_conn_authenticate(struct access_conn *c, const char *user, const char *password,
                              size_t password_len)
{
    c->auth = true;
    c->busy = true;
    login_check_start(c->s->logins, c->s->proto->name, user, password, password_len, c->ip,
                      login_checked, c);
}

/* --- connections --- */

static void conn_free(struct access_conn *c)
{
    struct access_server *s = c->s;
    if (c->auth) {
        /* The login check's callback frees it when it is done. */
        c->dead = true;
        bufferevent_disable(c->bev, EV_READ | EV_WRITE);
        return;
    }
    if (c->session)
        s->proto->session_free(c->session);
    c->session = NULL;
    if (c->auth_delay)
        event_free(c->auth_delay);
    if (c->resume_ev)
        event_free(c->resume_ev);
    if (c->flush_ev)
        event_free(c->flush_ev);
    bufferevent_free(c->bev); /* the TLS layer frees the SSL and what is under it */
    tls_server_unref(&c->tls);
    ip_counts_adjust(s->ips, c->ip, -1);
    s->nconns--;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
    if (s->stopping && s->nconns == 0)
        event_base_loopexit(s->base, NULL);
}

/* Feed the session what has arrived, chunk by chunk, while it takes it. */
static void conn_process(struct access_conn *c)
{
    if (c->in_process || c->dead)
        return;
    c->in_process = true;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    while (!c->closing && !c->busy && !c->starttls_requested) {
        struct evbuffer_iovec v;
        if (evbuffer_get_length(in) == 0 || evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        size_t used = c->s->proto->input(c->session, v.iov_base, v.iov_len);
        if (used > v.iov_len)
            used = v.iov_len;
        evbuffer_drain(in, used);
        if (used < v.iov_len && !c->busy && !c->closing && !c->starttls_requested) {
            log_error("%s: session for [%s] left input unused while not busy", c->s->proto->name,
                      c->ip);
            access_conn_close(c);
        }
    }
    c->in_process = false;
    if (c->starttls_requested && !c->closing)
        conn_switch_to_tls(c);
    if (c->closing && !c->auth && !c->flush_ev)
        conn_close_soon(-1, 0, c);
}

static void conn_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    conn_process(arg);
}

static void conn_write(struct bufferevent *bev, void *arg)
{
    (void)bev;
    struct access_conn *c = arg;
    if (c->closing) {
        if (!c->flush_ev && !c->auth)
            conn_close_soon(-1, 0, c);
        return;
    }
    if (c->want_output && c->s->proto->output_drained) {
        c->want_output = false;
        c->s->proto->output_drained(c->session);
        conn_process(c);
    }
}

static void log_tls_error(struct access_conn *c)
{
    char text[256];
    log_info("%s: TLS handshake failed with [%s]: %s", c->s->proto->name, c->ip,
             tls_conn_error(c->bev, text, sizeof(text)));
}

static void conn_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct access_conn *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        tls_describe(c->ssl, c->tls_info, sizeof(c->tls_info));
        log_info("%s: TLS established with [%s]: %s%s", c->s->proto->name, c->ip, c->tls_info,
                 SSL_session_reused(c->ssl) ? " (resumed)" : "");
        c->s->proto->tls_started(c->session);
        conn_process(c);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        if (c->closing) {
            conn_free(c);
            return;
        }
        if (what & BEV_EVENT_WRITING) {
            /* The client has not read its output for that long. */
            log_info("%s: [%s] stopped reading; disconnected", c->s->proto->name, c->ip);
            conn_free(c);
            return;
        }
        if (c->busy) {
            /* We are the slow one (a login check, a long output): wait. */
            bufferevent_enable(c->bev, EV_READ | EV_WRITE);
            return;
        }
        log_info("%s: timeout of [%s]", c->s->proto->name, c->ip);
        /* the hook may close with nothing queued: c must outlive it and
         * the close below; conn_process() frees it once it is safe */
        c->in_process = true;
        c->s->proto->timeout(c->session);
        if (!c->closing)
            access_conn_close(c);
        c->in_process = false;
        conn_process(c);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        if (c->ssl && !c->tls_info[0])
            log_tls_error(c);
        conn_free(c);
    }
}

static void conn_setup_bev(struct access_conn *c)
{
    struct timeval tv = {(time_t)c->timeout, 0};
    bufferevent_set_timeouts(c->bev, &tv, &tv);
    bufferevent_setcb(c->bev, conn_read, conn_write, conn_event, c);
    bufferevent_setwatermark(c->bev, EV_READ, 0, READ_HIGH_WATER);
    bufferevent_setwatermark(c->bev, EV_WRITE, WRITE_LOW_WATER, 0);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* Refuse a connection over a limit with the protocol's one line. */
static void refuse(struct access_server *s, int fd, const char *ip, const char *why)
{
    char line[256];
    s->proto->refusal(why, line, sizeof(line));
    ssize_t w = send(fd, line, strlen(line), MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)w;
    close(fd);
    log_warn("%s: refused connection from [%s]: %s", s->proto->name, ip, why);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
    (void)l;
    (void)salen;
    struct listener *li = arg;
    struct access_server *s = li->s;
    char ip[64];
    net_addr_text(sa, ip, sizeof(ip));
    if (s->stopping) {
        refuse(s, fd, ip, "Service shutting down");
        return;
    }
    if (s->nconns >= (unsigned long long)s->set.max_connections) {
        refuse(s, fd, ip, "Too many connections, try again later");
        return;
    }
    if (ip_counts_adjust(s->ips, ip, 1) > (unsigned long long)s->set.max_connections_per_ip) {
        ip_counts_adjust(s->ips, ip, -1);
        refuse(s, fd, ip, "Too many connections from your address, try again later");
        return;
    }
    if (li->tls && !s->tls) {
        ip_counts_adjust(s->ips, ip, -1);
        refuse(s, fd, ip, "TLS is not available");
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct access_conn *c = xcalloc(1, sizeof(*c));
    c->s = s;
    c->timeout = s->set.timeout;
    str_copy(c->ip, sizeof(c->ip), ip);
    const struct config_list *nets = &s->cfg->plaintext_login_networks;
    for (size_t i = 0; i < nets->n && !c->plaintext_ok; i++) {
        struct net_cidr cidr;
        if (net_parse_cidr(nets->items[i], &cidr) == 0 && net_cidr_match(&cidr, sa))
            c->plaintext_ok = true;
    }
    if (li->tls) {
        if (!conn_start_tls(c, fd)) {
            tls_server_unref(&c->tls);
            free(c);
            ip_counts_adjust(s->ips, ip, -1);
            close(fd);
            log_error("%s: TLS setup failed for [%s]", s->proto->name, ip);
            return;
        }
    } else {
        c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
        conn_setup_bev(c);
    }
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    log_info("%s: connect from [%s]:%d%s", s->proto->name, ip, net_addr_port(sa),
             li->tls ? " (TLS)" : "");
    c->session = s->proto->session_new(c, li->tls);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
    (void)l;
    (void)arg;
    log_warn("accept: %s", strerror(errno));
}

static void server_stop(struct access_server *s)
{
    if (s->stopping)
        return;
    s->stopping = true;
    log_info("stopping");
    for (size_t i = 0; i < s->n_listeners; i++)
        evconnlistener_disable(s->listeners[i].l);
    for (struct access_conn *c = s->conns, *next; c; c = next) {
        next = c->next;
        if (!c->closing && !c->dead && !c->auth) {
            c->in_process = true; /* as on a timeout: c outlives the hook */
            s->proto->shutdown(c->session);
            if (!c->closing)
                access_conn_close(c);
            c->in_process = false;
            conn_process(c);
        }
    }
    if (s->nconns == 0)
        event_base_loopexit(s->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct access_server *s = arg;
    if (sig == SIGHUP) {
        /* Certificates are reloaded; connections keep theirs. */
        tls_conn_reload(&s->tls, s->cfg);
        return;
    }
    server_stop(s);
}

int access_server_run(struct daemon_env *env, const struct access_protocol *proto,
                      const struct access_listener *listeners, size_t n_listeners,
                      const struct access_settings *set,
                      void (*setup)(struct access_server *s, void *arg),
                      void (*teardown)(struct access_server *s, void *arg), void *arg)
{
    struct access_server *s = xcalloc(1, sizeof(*s));
    s->env = env;
    s->cfg = env->cfg;
    s->proto = proto;
    s->set = *set;
    s->base = event_base_new();
    if (!s->base)
        log_fatal("cannot create an event loop");
    char *tlserr = NULL;
    s->tls = tls_server_new(s->cfg, &tlserr);
    if (!s->tls) {
        log_error("no TLS (no STARTTLS, no implicit TLS, no logins): %s", tlserr);
        free(tlserr);
    }
    s->logins = login_checker_new(s->base, s->cfg);
    s->ips = ip_counts_new();
    s->listeners = xcalloc(n_listeners + 1, sizeof(*s->listeners));
    for (size_t i = 0; i < n_listeners; i++) {
        struct listener *li = &s->listeners[s->n_listeners];
        li->s = s;
        li->tls = listeners[i].tls;
        li->l =
            evconnlistener_new(s->base, on_accept, li, LEV_OPT_CLOSE_ON_FREE, -1, listeners[i].fd);
        if (!li->l)
            log_fatal("cannot listen on a %s socket", proto->name);
        evconnlistener_set_error_cb(li->l, on_accept_error);
        s->n_listeners++;
    }
    s->sigterm_ev = evsignal_new(s->base, SIGTERM, on_signal, s);
    s->sigint_ev = evsignal_new(s->base, SIGINT, on_signal, s);
    s->sighup_ev = evsignal_new(s->base, SIGHUP, on_signal, s);
    event_add(s->sigterm_ev, NULL);
    event_add(s->sigint_ev, NULL);
    event_add(s->sighup_ev, NULL);
    if (setup)
        setup(s, arg);
    daemon_signals_ready();
    log_info("ready");

    event_base_dispatch(s->base);

    for (size_t i = 0; i < s->n_listeners; i++)
        evconnlistener_free(s->listeners[i].l);
    /* Finish the login checks in flight, then drop what is left. */
    login_checker_free(&s->logins);
    while (s->conns) {
        s->conns->auth = false;
        s->conns->closing = true;
        conn_free(s->conns);
    }
    if (teardown)
        teardown(s, arg);
    tls_server_unref(&s->tls);
    event_free(s->sigterm_ev);
    event_free(s->sigint_ev);
    event_free(s->sighup_ev);
    ip_counts_free(&s->ips);
    free(s->listeners);
    event_base_free(s->base);
    free(s);
    return 0;
}
