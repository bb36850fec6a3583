/* deliver-smtp: outbound delivery over SMTP and LMTP. It takes DELIVER
 * jobs (one message, the recipients of one next hop) from the queue
 * manager, finds the servers (MX, then addresses), talks to them through
 * the SMTP client session (smtp/smtp-client), reuses connections for
 * further mail to the same next hop, and answers each job with a RESULT
 * holding every recipient's outcome and the remote reply. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent-link.h"
#include "auth/dkim-keyfile.h"
#include "auth/dkim-sign.h"
#include "daemon.h"
#include "deliver/deliver-ipc.h"
#include "lib/buf.h"
#include "lib/dns.h"
#include "lib/log.h"
#include "lib/net.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "mime/mime-address.h"
#include "queue/events.h"
#include "queue/spool.h"
#include "queue/transport.h"
#include "smtp/smtp-client.h"
#include "smtp/smtp-command.h"
#include "state/state-db.h"
#include "state/state-dkim.h"

#define BODY_CHUNK          (64 * 1024)
#define BODY_HIGH_WATER     (256 * 1024)
#define MAX_TARGETS         32
#define RECEIVED_LOOP_LIMIT 50
#define SLOW_REPLY_MS       30000

struct ds;
struct ds_conn;
struct ds_site;

/* One address to try. */
struct ds_target {
    char host[256];
    struct sockaddr_storage ss;
    socklen_t len;
};

struct ds_job {
    struct ds *d;
    struct deliver_job job;  /* request in, results out */
    struct agent_conn *from; /* the queue manager's connection, for the result */
    struct buf prefix;       /* DKIM-Signature fields, sent before the message */
    struct ds_site *site;
    struct transport t;
    /* the message as the SMTP client wants it */
    struct smtp_client_message m;
    struct smtp_client_rcpt *rcpts;
    int msg_fd;
    unsigned long long msg_start, msg_len; /* the message in its queue file */
    unsigned long long body_off;
    /* where to try: hosts resolved one after the other */
    struct dns_mx *hosts;
    size_t nhosts, host_i;
    struct ds_target targets[MAX_TARGETS];
    size_t ntargets, target_i;
    char last_error[512];
    enum smtp_outcome last_outcome;
    struct ds_conn *conn;
    long long started_ms;
    char info[512];
    bool sent;        /* the message went to a server: outcomes are final */
    bool no_starttls; /* a TLS handshake failed: try again in plaintext */
    bool retry_plain;
    /* The job holds a connection slot of its site (and of the global
     * limit) from when it starts looking up servers until a connection
     * takes the slot over: lookups count against the limits too. */
    bool slot;
    struct ds_job *next; /* site queue */
};

struct ds_site {
    char key[300];
    unsigned active; /* connections open or opening */
    struct ds_conn *idle;
    struct ds_job *head, *tail;
    struct ds_site *next;
};

struct ds_conn {
    struct ds *d;
    struct ds_site *site;
    struct bufferevent *bev;
    SSL *ssl;
    struct smtp_client *sc;
    struct ds_job *job;
    char host[256];
    char ip[64];
    int port;
    bool connected;
    bool lmtp;
    bool no_tls;      /* a failed TLS handshake: this try goes without */
    bool tls_pending; /* STARTTLS accepted; the handshake starts after the read */
    char tls_info[160];
    struct event *idle_ev;
    struct event *free_ev; /* the session ended: free on the next turn */
    bool dead;
    long long cmd_sent_ms;
    long long opened_ms;
    char timings[400]; /* "connect=3ms greeting=10ms ..." of the current try */
    bool slow;
    bool slot_passed; /* the failed try gave its slot back to the job */
    struct ds_conn *next_idle;
    struct ds_conn *prev, *next; /* every connection, for the end */
};

struct ds {
    struct config *cfg;
    struct daemon_env *env;
    struct event_base *base;
    struct agent_link *link;
    struct event *sigterm_ev, *sigint_ev;
    struct dns *dns;
    struct spool spool;
    SSL_CTX *tls;
    struct ds_site *sites;
    struct events *events;
    struct event *events_ev;
    struct event *kick_ev; /* run the sites on the next turn of the loop */
    unsigned nconns;       /* slots in use: connections and jobs resolving */
    struct ds_conn *conns; /* all of them, busy, idle or closing */
    struct state_db *db;   /* for the DKIM keys; NULL if it cannot be read */
    bool stopping;
    char relay_user[256];
    char relay_password[256];
};

static void job_try_next(struct ds_job *j);
static void site_run(struct ds_site *s);
static void sites_run(struct ds *d, struct ds_site *first);
static void conn_free(struct ds_conn *c);

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- results --- */

static void job_finish(struct ds_job *j)
{
    struct ds *d = j->d;
    double delay = (double)(now_ms() - j->started_ms) / 1000.0;
    for (size_t i = 0; i < j->job.n; i++) {
        const struct deliver_rcpt *r = &j->job.rcpts[i];
        const char *status = r->outcome == DELIVER_OK         ? "sent"
                             : r->outcome == DELIVER_TEMPFAIL ? "deferred"
                                                              : "bounced";
        log_info("%s: to=<%s>, relay=%s, delay=%.2f, status=%s (%s)", j->job.qid, r->addr,
                 j->info[0] ? j->info : "none", delay, status, r->text ? r->text : "");
    }
    if (j->slot) {
        j->slot = false;
        j->site->active--;
        d->nconns--;
        event_active(d->kick_ev, EV_TIMEOUT, 0);
    }
    if (j->info[0])
        j->job.info = xstrdup(j->info);
    agent_conn_answer(j->from, &j->job);
    if (j->msg_fd >= 0)
        close(j->msg_fd);
    deliver_job_free(&j->job);
    buf_free(&j->prefix);
    free(j->rcpts);
    free(j->hosts);
    free(j);
}

/* Give every recipient without an outcome this one, and finish. */
static void job_fail(struct ds_job *j, enum deliver_outcome o, const char *text)
{
    for (size_t i = 0; i < j->job.n; i++)
        if (!j->job.rcpts[i].text)
            deliver_rcpt_set(&j->job.rcpts[i], o, text);
    job_finish(j);
}

/* --- connections --- */

static void conn_timeouts(struct ds_conn *c)
{
    const struct config *cfg = c->d->cfg;
    long long secs;
    switch (smtp_client_waiting(c->sc)) {
    case SMTP_WAIT_GREETING:
    case SMTP_WAIT_COMMAND:
        secs = cfg->smtp_greeting_timeout;
        break;
    case SMTP_WAIT_MAIL:
        secs = cfg->smtp_mail_timeout;
        break;
    case SMTP_WAIT_RCPT:
        secs = cfg->smtp_rcpt_timeout;
        break;
    case SMTP_WAIT_DATA:
        secs = cfg->smtp_data_init_timeout;
        break;
    case SMTP_WAIT_BLOCK:
        secs = cfg->smtp_data_block_timeout;
        break;
    case SMTP_WAIT_DOT:
        secs = cfg->smtp_data_done_timeout;
        break;
    default:
        secs = 3600; /* idle: the reuse timer closes it */
        break;
    }
    struct timeval r = {(time_t)secs, 0};
    struct timeval w = {(time_t)cfg->smtp_data_block_timeout, 0};
    bufferevent_set_timeouts(c->bev, &r, &w);
}

static void sc_output(void *ctx, const char *data, size_t len)
{
    struct ds_conn *c = ctx;
    bufferevent_write(c->bev, data, len);
    c->cmd_sent_ms = now_ms();
}

/* Feed the message while the output buffer has room. */
static void feed_body(struct ds_conn *c)
{
    struct ds_job *j = c->job;
    if (!j || smtp_client_waiting(c->sc) != SMTP_WAIT_BLOCK)
        return;
    char chunk[BODY_CHUNK];
    struct evbuffer *out = bufferevent_get_output(c->bev);
    /* body_off counts the signatures in front of the message too */
    unsigned long long total = j->prefix.len + j->msg_len;
    while (j->body_off < total && evbuffer_get_length(out) < BODY_HIGH_WATER) {
        if (j->body_off < j->prefix.len) {
            size_t n = j->prefix.len - (size_t)j->body_off;
            smtp_client_body(c->sc, j->prefix.data + j->body_off, n);
            j->body_off += n;
            continue;
        }
        unsigned long long off = j->body_off - j->prefix.len;
        size_t want = j->msg_len - off < sizeof(chunk) ? (size_t)(j->msg_len - off) : sizeof(chunk);
        ssize_t n = pread(j->msg_fd, chunk, want, (off_t)(j->msg_start + off));
        if (n <= 0) {
            smtp_client_abort(c->sc, SMTP_OUTCOME_TEMP, "cannot read the queued message");
            return;
        }
        smtp_client_body(c->sc, chunk, (size_t)n);
        j->body_off += (unsigned long long)n;
    }
    if (j->body_off >= total)
        smtp_client_body_end(c->sc);
}

static void sc_on_body(void *ctx)
{
    struct ds_conn *c = ctx;
    c->job->sent = true;
    c->job->body_off = 0;
    feed_body(c);
}

static void on_tls_event(struct bufferevent *bev, short what, void *arg);

/* The client session asks for TLS while conn_read still holds the server's
 * 220 in the socket's input buffer; the handshake starts once conn_read has
 * drained it, or the TLS layer would read that reply as a TLS record. */
static void sc_on_starttls(void *ctx)
{
    struct ds_conn *c = ctx;
    c->tls_pending = true;
}

static void conn_start_tls(struct ds_conn *c)
{
    c->tls_pending = false;
    /* Anything the server sent behind its 220 is not part of TLS. */
    struct evbuffer *in = bufferevent_get_input(c->bev);
    evbuffer_drain(in, evbuffer_get_length(in));
    c->ssl = SSL_new(c->d->tls);
    if (!c->ssl) {
        smtp_client_abort(c->sc, SMTP_OUTCOME_TEMP, "cannot set up TLS");
        return;
    }
    if (c->host[0] && !strchr(c->host, ':') && strspn(c->host, "0123456789.") != strlen(c->host))
        SSL_set_tlsext_host_name(c->ssl, c->host);
    struct bufferevent *tls = bufferevent_openssl_filter_new(
        c->d->base, c->bev, c->ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
    if (!tls) {
        smtp_client_abort(c->sc, SMTP_OUTCOME_TEMP, "cannot set up TLS");
        return;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
    c->bev = tls;
    bufferevent_setcb(c->bev, NULL, NULL, on_tls_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void conn_take_job(struct ds_conn *c, struct ds_job *j);

static void sc_on_ready(void *ctx)
{
    struct ds_conn *c = ctx;
    if (c->job) {
        conn_take_job(c, c->job);
        return;
    }
    struct ds_site *s = c->site;
    if (s->head && !c->d->stopping) {
        struct ds_job *j = s->head;
        s->head = j->next;
        if (!s->head)
            s->tail = NULL;
        j->next = NULL;
        conn_take_job(c, j);
        return;
    }
    /* Idle: wait a little for more mail to this next hop, then QUIT. */
    if (c->d->stopping || c->d->cfg->smtp_connection_reuse_time == 0) {
        smtp_client_quit(c->sc);
        return;
    }
    c->next_idle = s->idle;
    s->idle = c;
    struct timeval tv = {(time_t)c->d->cfg->smtp_connection_reuse_time, 0};
    evtimer_add(c->idle_ev, &tv);
}

static void sc_on_rcpt(void *ctx, size_t i, enum smtp_outcome o, const char *reply)
{
    struct ds_conn *c = ctx;
    struct ds_job *j = c->job;
    if (!j || i >= j->job.n)
        return;
    enum deliver_outcome d = o == SMTP_OUTCOME_OK     ? DELIVER_OK
                             : o == SMTP_OUTCOME_PERM ? DELIVER_PERMFAIL
                                                      : DELIVER_TEMPFAIL;
    char text[1200];
    /* RFC 3463 status of the reply; local texts carry theirs already */
    snprintf(text, sizeof(text), "%s", reply);
    deliver_rcpt_set(&j->job.rcpts[i], d, text);
}

/* The trace: one event per recipient and try, with how long each step
 * took (a reply slower than 30 s is how an overloaded or obsolete server
 * shows itself, so it is marked). */
static void record_attempt(struct ds_conn *c, struct ds_job *j, const char *failure)
{
    for (size_t i = 0; i < j->job.n; i++) {
        const struct deliver_rcpt *r = &j->job.rcpts[i];
        const char *what = failure ? failure : r->text ? r->text : "";
        events_add(c->d->events, j->job.qid, "attempt", r->addr, "%s[%s]:%d %s%s%s%s; %s%s",
                   c->host, c->ip, c->port, c->tls_info[0] ? c->tls_info : "no TLS",
                   c->lmtp ? " (LMTP)" : "", "; reply: ", what, c->timings,
                   c->slow ? "; SLOW reply (over 30 s)" : "");
    }
}

static void sc_on_reply(void *ctx, enum smtp_client_wait what, int code)
{
    struct ds_conn *c = ctx;
    static const char *const names[] = {"greeting", "hello", "mail", "rcpt",
                                        "data",     "body",  "dot",  "idle"};
    long long ms = now_ms() - (what == SMTP_WAIT_GREETING ? c->opened_ms : c->cmd_sent_ms);
    if (ms > SLOW_REPLY_MS)
        c->slow = true;
    size_t len = strlen(c->timings);
    if (len + 40 < sizeof(c->timings))
        snprintf(c->timings + len, sizeof(c->timings) - len, "%s%s=%lldms(%d)%s", len ? " " : "",
                 names[what], ms, code, ms > SLOW_REPLY_MS ? "!" : "");
}

static void sc_on_message_done(void *ctx)
{
    struct ds_conn *c = ctx;
    struct ds_job *j = c->job;
    c->job = NULL;
    if (!j)
        return;
    record_attempt(c, j, NULL);
    c->timings[0] = '\0';
    c->slow = false;
    j->conn = NULL;
    snprintf(j->info, sizeof(j->info), "%s[%s]:%d%s%s", c->host, c->ip, c->port,
             c->tls_info[0] ? " " : "", c->tls_info);
    job_finish(j);
}

/* The session is over. The connection is freed on the next turn of the
 * loop (the session's own code is still on the stack). */
static void sc_on_close(void *ctx, enum smtp_outcome o, const char *reason)
{
    struct ds_conn *c = ctx;
    struct ds_job *j = c->job;
    c->job = NULL;
    c->dead = true;
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    for (struct ds_conn **pp = &c->site->idle; *pp; pp = &(*pp)->next_idle)
        if (*pp == c) {
            *pp = c->next_idle;
            break;
        }
    event_active(c->free_ev, EV_TIMEOUT, 0);
    if (!j)
        return;
    /* It failed before the message went out: try the next server of this
     * next hop (or this one again in plaintext after a TLS failure). */
    j->conn = NULL;
    snprintf(j->last_error, sizeof(j->last_error), "%s[%s]:%d: %s", c->host, c->ip, c->port,
             reason);
    j->last_outcome = o == SMTP_OUTCOME_OK ? SMTP_OUTCOME_TEMP : o;
    log_info("%s: %s", j->job.qid, j->last_error);
    record_attempt(c, j, reason);
    c->slot_passed = true;
    j->slot = true;
    if (c->no_tls && !j->no_starttls) {
        j->no_starttls = true;
        j->retry_plain = true;
    }
    job_try_next(j);
}

static void on_free_event(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_free(arg);
}

static const struct smtp_client_callbacks client_callbacks = {
    .output = sc_output,
    .on_starttls = sc_on_starttls,
    .on_ready = sc_on_ready,
    .on_body = sc_on_body,
    .on_rcpt = sc_on_rcpt,
    .on_message_done = sc_on_message_done,
    .on_close = sc_on_close,
    .on_reply = sc_on_reply,
};

static void conn_take_job(struct ds_conn *c, struct ds_job *j)
{
    c->job = j;
    j->conn = c;
    snprintf(j->info, sizeof(j->info), "%s[%s]:%d", c->host, c->ip, c->port);
    smtp_client_send(c->sc, &j->m);
    conn_timeouts(c);
}

static void conn_read(struct bufferevent *bev, void *arg)
{
    struct ds_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        size_t avail = evbuffer_get_length(in);
        if (avail == 0)
            break;
        unsigned char *p = evbuffer_pullup(in, -1);
        size_t used = smtp_client_input(c->sc, (const char *)p, avail);
        if (c->dead)
            return;
        evbuffer_drain(in, used);
        if (c->tls_pending) {
            conn_start_tls(c);
            return;
        }
        if (used == 0)
            break;
    }
    conn_timeouts(c);
}

static void conn_write(struct bufferevent *bev, void *arg)
{
    (void)bev;
    feed_body(arg);
}

static void conn_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct ds_conn *c = arg;
    if (c->dead)
        return;
    if (what & BEV_EVENT_CONNECTED) {
        c->connected = true;
        long long ms = now_ms() - c->opened_ms;
        snprintf(c->timings, sizeof(c->timings), "connect=%lldms", ms);
        c->opened_ms = now_ms();
        conn_timeouts(c);
        return;
    }
    const char *why = what & BEV_EVENT_TIMEOUT ? (c->connected ? "timeout waiting for the server"
                                                               : "connection timed out")
                      : c->connected           ? "lost connection"
                                               : "connection refused or unreachable";
    char text[300];
    if (!c->connected && (what & BEV_EVENT_ERROR) && errno)
        snprintf(text, sizeof(text), "%s (%s)", why, strerror(errno));
    else
        snprintf(text, sizeof(text), "%s", why);
    smtp_client_abort(c->sc, SMTP_OUTCOME_TEMP, text);
}

static void on_tls_event(struct bufferevent *bev, short what, void *arg)
{
    struct ds_conn *c = arg;
    if (c->dead)
        return;
    if (what & BEV_EVENT_CONNECTED) {
        int alg = 0;
        int bits = SSL_get_cipher_bits(c->ssl, &alg);
        snprintf(c->tls_info, sizeof(c->tls_info), "tls=%s cipher=%s bits=%d",
                 SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl), bits);
        log_info("TLS established with %s[%s]:%d: %s with cipher %s (%d bits)", c->host, c->ip,
                 c->port, SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl), bits);
        bufferevent_setcb(c->bev, conn_read, conn_write, conn_event, c);
        bufferevent_setwatermark(c->bev, EV_WRITE, BODY_CHUNK, 0);
        smtp_client_tls_started(c->sc);
        conn_timeouts(c);
        return;
    }
    unsigned long e = bufferevent_get_openssl_error(bev);
    char text[300];
    snprintf(text, sizeof(text), "TLS handshake failed: %s",
             e ? ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "error" : "closed");
    while (bufferevent_get_openssl_error(bev))
        ;
    log_warn("%s with %s[%s]:%d; the message goes again without TLS unless TLS is required", text,
             c->host, c->ip, c->port);
    c->no_tls = true;
    smtp_client_abort(c->sc, SMTP_OUTCOME_TEMP, text);
}

static void on_idle_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct ds_conn *c = arg;
    /* leave the idle list, say goodbye */
    for (struct ds_conn **pp = &c->site->idle; *pp; pp = &(*pp)->next_idle)
        if (*pp == c) {
            *pp = c->next_idle;
            break;
        }
    smtp_client_quit(c->sc);
}

/* Free a connection's memory and unlink it from the lists. */
static void conn_destroy(struct ds_conn *c)
{
    struct ds *d = c->d;
    for (struct ds_conn **pp = &c->site->idle; *pp; pp = &(*pp)->next_idle)
        if (*pp == c) {
            *pp = c->next_idle;
            break;
        }
    if (c->prev)
        c->prev->next = c->next;
    else
        d->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->idle_ev)
        event_free(c->idle_ev);
    if (c->free_ev)
        event_free(c->free_ev);
    if (c->bev)
        bufferevent_free(c->bev);
    smtp_client_free(&c->sc);
    free(c);
}

static void conn_free(struct ds_conn *c)
{
    struct ds *d = c->d;
    struct ds_site *s = c->site;
    bool passed = c->slot_passed;
    conn_destroy(c);
    if (!passed) {
        s->active--;
        d->nconns--;
        sites_run(d, s);
    }
}

/* Open a connection to the job's current target. */
static void conn_open(struct ds_job *j)
{
    struct ds *d = j->d;
    struct ds_target *t = &j->targets[j->target_i];
    struct ds_conn *c = xcalloc(1, sizeof(*c));
    c->d = d;
    c->site = j->site;
    c->lmtp = j->t.kind == TRANSPORT_LMTP;
    c->next = d->conns;
    if (d->conns)
        d->conns->prev = c;
    d->conns = c;
    str_copy(c->host, sizeof(c->host), t->host);
    if (t->ss.ss_family == AF_UNIX) {
        str_copy(c->ip, sizeof(c->ip), "unix");
        c->port = 0;
    } else {
        net_addr_text((struct sockaddr *)&t->ss, c->ip, sizeof(c->ip));
        c->port = j->t.port;
    }
    if (j->slot)
        j->slot = false; /* the connection takes the job's slot over */
    else {
        j->site->active++;
        d->nconns++;
    }
    c->bev = bufferevent_socket_new(d->base, -1, BEV_OPT_CLOSE_ON_FREE);
    c->idle_ev = evtimer_new(d->base, on_idle_timeout, c);
    c->opened_ms = now_ms();
    c->free_ev = event_new(d->base, -1, 0, on_free_event, c);
    bool relay = j->t.kind == TRANSPORT_SMTP && d->cfg->relayhost[0] &&
                 strcmp(j->job.nexthop, "relayhost") == 0;
    struct smtp_client_settings set = {
        .helo_name = d->cfg->hostname,
        .lmtp = c->lmtp,
        .starttls = d->cfg->smtp_client_starttls && !c->lmtp && !j->no_starttls,
        .require_tls = relay && d->cfg->relayhost_require_tls,
        .auth_user = relay && d->relay_user[0] ? d->relay_user : NULL,
        .auth_password = d->relay_password,
    };
    c->sc = smtp_client_new(&set, &client_callbacks, c);
    c->job = j;
    j->conn = c;
    bufferevent_setcb(c->bev, conn_read, conn_write, conn_event, c);
    bufferevent_setwatermark(c->bev, EV_WRITE, BODY_CHUNK, 0);
    struct timeval tv = {(time_t)d->cfg->smtp_connect_timeout, 0};
    bufferevent_set_timeouts(c->bev, &tv, &tv);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    struct sockaddr_storage ss = t->ss;
    if (ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)j->t.port);
    else if (ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)j->t.port);
    if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&ss, (int)t->len) < 0) {
        int e = errno;
        char text[300];
        snprintf(text, sizeof(text), "cannot connect: %s", strerror(e));
        smtp_client_abort(c->sc, SMTP_OUTCOME_TEMP, text);
    }
}

/* --- finding the servers --- */

static void on_addrs(void *arg, enum dns_status st, const struct dns_addr *a, size_t n);

/* Look up the addresses of the next host, or give up. */
static void job_next_host(struct ds_job *j)
{
    if (j->host_i >= j->nhosts) {
        job_fail(j, j->last_outcome == SMTP_OUTCOME_PERM ? DELIVER_PERMFAIL : DELIVER_TEMPFAIL,
                 j->last_error[0] ? j->last_error : "4.4.1 no server could be reached");
        return;
    }
    const char *host = j->hosts[j->host_i].host;
    /* an IP address needs no lookup */
    struct net_cidr ip;
    if (net_parse_cidr(host, &ip) == 0 && !strchr(host, '/')) {
        j->ntargets = 1;
        j->target_i = 0;
        memset(&j->targets[0], 0, sizeof(j->targets[0]));
        str_copy(j->targets[0].host, sizeof(j->targets[0].host), host);
        if (ip.family == AF_INET) {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&j->targets[0].ss;
            s4->sin_family = AF_INET;
            memcpy(&s4->sin_addr, ip.addr, 4);
            j->targets[0].len = sizeof(*s4);
        } else {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&j->targets[0].ss;
            s6->sin6_family = AF_INET6;
            memcpy(&s6->sin6_addr, ip.addr, 16);
            j->targets[0].len = sizeof(*s6);
        }
        j->host_i++;
        conn_open(j);
        return;
    }
    dns_lookup_addr(j->d->dns, host, on_addrs, j);
}

static void on_addrs(void *arg, enum dns_status st, const struct dns_addr *a, size_t n)
{
    struct ds_job *j = arg;
    const char *host = j->hosts[j->host_i].host;
    j->host_i++;
    if (st != DNS_OK) {
        snprintf(j->last_error, sizeof(j->last_error), "%s for %s (address lookup)",
                 st == DNS_TEMPFAIL ? "4.4.3 temporary DNS failure" : "4.4.4 no address", host);
        j->last_outcome = SMTP_OUTCOME_TEMP;
        job_next_host(j);
        return;
    }
    j->ntargets = 0;
    j->target_i = 0;
    for (size_t i = 0; i < n && j->ntargets < MAX_TARGETS; i++) {
        struct ds_target *t = &j->targets[j->ntargets++];
        memset(t, 0, sizeof(*t));
        str_copy(t->host, sizeof(t->host), host);
        memcpy(&t->ss, &a[i].ss, a[i].len);
        t->len = a[i].len;
    }
    conn_open(j);
}

static void on_mx(void *arg, enum dns_status st, const struct dns_mx *mx, size_t n)
{
    struct ds_job *j = arg;
    switch (st) {
    case DNS_OK:
        j->hosts = xcalloc(n, sizeof(*j->hosts));
        memcpy(j->hosts, mx, n * sizeof(*mx));
        j->nhosts = n;
        break;
    case DNS_NULL_MX:
        job_fail(j, DELIVER_PERMFAIL,
                 "556 5.1.10 the domain does not accept mail (null MX, RFC 7505)");
        return;
    case DNS_NXDOMAIN:
        job_fail(j, DELIVER_PERMFAIL, "550 5.1.2 the domain does not exist");
        return;
    case DNS_TEMPFAIL:
        job_fail(j, DELIVER_TEMPFAIL, "451 4.4.3 temporary DNS failure looking up the MX");
        return;
    case DNS_NODATA:
        /* no MX: the domain's own address (RFC 5321 5.1) */
        j->hosts = xcalloc(1, sizeof(*j->hosts));
        str_copy(j->hosts[0].host, sizeof(j->hosts[0].host), j->t.host);
        j->nhosts = 1;
        break;
    }
    j->host_i = 0;
    job_next_host(j);
}

/* After a failed try: the next address of this host, or the next host. */
static void job_try_next(struct ds_job *j)
{
    if (j->sent) {
        job_fail(j, j->last_outcome == SMTP_OUTCOME_PERM ? DELIVER_PERMFAIL : DELIVER_TEMPFAIL,
                 j->last_error);
        return;
    }
    if (j->d->stopping) {
        job_fail(j, DELIVER_TEMPFAIL, "4.3.2 delivery stopped: postino is shutting down");
        return;
    }
    if (j->retry_plain) {
        j->retry_plain = false;
        conn_open(j);
        return;
    }
    if (++j->target_i < j->ntargets) {
        conn_open(j);
        return;
    }
    job_next_host(j);
}

/* Start resolving the next hop of a job that has no connection yet. */
static void job_start(struct ds_job *j)
{
    if (j->t.kind == TRANSPORT_LMTP && j->t.path[0]) {
        j->ntargets = 1;
        j->target_i = 0;
        memset(&j->targets[0], 0, sizeof(j->targets[0]));
        struct sockaddr_un *sun = (struct sockaddr_un *)&j->targets[0].ss;
        sun->sun_family = AF_UNIX;
        str_copy(sun->sun_path, sizeof(sun->sun_path), j->t.path);
        j->targets[0].len = sizeof(*sun);
        str_copy(j->targets[0].host, sizeof(j->targets[0].host), j->t.path);
        j->hosts = xcalloc(1, sizeof(*j->hosts));
        j->nhosts = 1;
        j->host_i = 1;
        conn_open(j);
        return;
    }
    if (j->t.mx) {
        dns_lookup_mx(j->d->dns, j->t.host, on_mx, j);
        return;
    }
    j->hosts = xcalloc(1, sizeof(*j->hosts));
    str_copy(j->hosts[0].host, sizeof(j->hosts[0].host), j->t.host);
    j->nhosts = 1;
    j->host_i = 0;
    job_next_host(j);
}

/* --- sites: concurrency per next hop --- */

static struct ds_site *site_get(struct ds *d, const char *key)
{
    for (struct ds_site *s = d->sites; s; s = s->next)
        if (strcmp(s->key, key) == 0)
            return s;
    struct ds_site *s = xcalloc(1, sizeof(*s));
    str_copy(s->key, sizeof(s->key), key);
    s->next = d->sites;
    d->sites = s;
    return s;
}

/* At the global limit, an idle connection to another next hop gives its
 * slot up for mail that is waiting (it closes; its slot frees later). */
static void evict_idle(struct ds *d, struct ds_site *s)
{
    for (struct ds_site *o = d->sites; o; o = o->next) {
        if (o == s || !o->idle)
            continue;
        struct ds_conn *c = o->idle;
        o->idle = c->next_idle;
        evtimer_del(c->idle_ev);
        smtp_client_quit(c->sc);
        return;
    }
}

/* Hand waiting jobs to idle connections, or open new ones within limits. */
static void site_run(struct ds_site *s)
{
    while (s->head) {
        struct ds_job *j = s->head;
        struct ds *d = j->d;
        if (s->idle) {
            struct ds_conn *c = s->idle;
            s->idle = c->next_idle;
            evtimer_del(c->idle_ev);
            s->head = j->next;
            if (!s->head)
                s->tail = NULL;
            j->next = NULL;
            conn_take_job(c, j);
            continue;
        }
        if (s->active >= (unsigned)d->cfg->smtp_destination_concurrency)
            return;
        if (d->nconns >= (unsigned)d->cfg->smtp_max_connections) {
            evict_idle(d, s);
            return;
        }
        s->head = j->next;
        if (!s->head)
            s->tail = NULL;
        j->next = NULL;
        s->active++;
        d->nconns++;
        j->slot = true;
        job_start(j);
    }
}

/* Let waiting jobs go on after slots were freed: this site first, then
 * the others within the global limit. */
static void sites_run(struct ds *d, struct ds_site *first)
{
    if (first)
        site_run(first);
    for (struct ds_site *o = d->sites; o && d->nconns < (unsigned)d->cfg->smtp_max_connections;
         o = o->next)
        if (o != first && o->head)
            site_run(o);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sites_run(arg, NULL);
}

/* Count Received: fields of the header (a mail loop shows as many). */
static unsigned count_received(int fd, unsigned long long start, unsigned long long len)
{
    char buf[65536];
    size_t want = len < sizeof(buf) - 1 ? (size_t)len : sizeof(buf) - 1;
    ssize_t n = pread(fd, buf, want, (off_t)start);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    unsigned count = 0;
    for (char *p = buf; p && *p;) {
        if (p[0] == '\r' && p[1] == '\n')
            break; /* end of the header */
        if (str_eqn_ci(p, "Received:", 9))
            count++;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return count;
}

/* --- DKIM signing --- */

#define DKIM_KEYS_MAX 8

static void first_address(const char *addr, size_t len, void *arg)
{
    struct buf *b = arg;
    if (b->len == 0)
        buf_append(b, addr, len);
}

/* The domain of the (first) address of the message's From: field,
 * lowercased, in out; "" if there is none. */
static void from_domain(int fd, unsigned long long msg_start, unsigned long long msg_len, char *out,
                        size_t size)
{
    out[0] = '\0';
    char head[65536];
    size_t want = msg_len < sizeof(head) - 1 ? (size_t)msg_len : sizeof(head) - 1;
    ssize_t n = pread(fd, head, want, (off_t)msg_start);
    if (n <= 0)
        return;
    head[n] = '\0';
    for (char *line = head; line && *line && !(line[0] == '\r' && line[1] == '\n');) {
        char *next = strstr(line, "\r\n");
        if (str_eqn_ci(line, "From:", 5)) {
            /* the value, unfolded */
            struct buf value, addr;
            buf_init(&value, BUF_UNLIMITED);
            buf_init(&addr, BUF_UNLIMITED);
            const char *v = line + 5;
            while (next && (next[2] == ' ' || next[2] == '\t')) {
                buf_append(&value, v, (size_t)(next - v));
                v = next + 2;
                next = strstr(v, "\r\n");
            }
            buf_append(&value, v, next ? (size_t)(next - v) : strlen(v));
            if (mime_address_list(value.data, value.len, first_address, &addr) > 0) {
                const char *at = strrchr(buf_cstr(&addr), '@');
                if (at && at[1]) {
                    str_copy(out, size, at + 1);
                    str_lower(out);
                }
            }
            buf_free(&value);
            buf_free(&addr);
            return;
        }
        line = next ? next + 2 : NULL;
    }
}

struct key_list {
    struct state_dkim_key k[DKIM_KEYS_MAX];
    size_t n;
};

static void collect_key(const struct state_dkim_key *k, void *arg)
{
    struct key_list *l = arg;
    if (l->n < DKIM_KEYS_MAX)
        l->k[l->n++] = *k;
}

/* Sign mail that starts here with every active key of its From: domain
 * (RSA and Ed25519 side by side, RFC 8463); the signatures go in front of
 * the message as it is sent. A key that cannot be used is logged and the
 * mail goes with the others, or unsigned. */
static void dkim_sign_job(struct ds *d, struct ds_job *j)
{
    char domain[256];
    from_domain(j->msg_fd, j->msg_start, j->msg_len, domain, sizeof(domain));
    struct key_list keys = {.n = 0};
    if (!domain[0] || !d->db || state_dkim_list(d->db, domain, true, collect_key, &keys) <= 0)
        return;
    struct dkim_sign *signers[DKIM_KEYS_MAX];
    EVP_PKEY *pkeys[DKIM_KEYS_MAX];
    const char *selectors[DKIM_KEYS_MAX];
    size_t ns = 0;
    for (size_t i = 0; i < keys.n; i++) {
        char path[4096];
        char *err = NULL;
        const char *why = NULL;
        EVP_PKEY *key = NULL;
        if (dkim_keyfile_path(d->cfg->data_dir, keys.k[i].domain, keys.k[i].selector, path,
                              sizeof(path)) == 0)
            key = dkim_keyfile_load(path, &err);
        struct dkim_sign_params params = {
            .domain = domain, .selector = keys.k[i].selector, .key = key, .now = time(NULL)};
        struct dkim_sign *s = key ? dkim_sign_new(&params, &why) : NULL;
        if (!s) {
            log_warn("%s: no DKIM signature with d=%s s=%s: %s", j->job.qid, domain,
                     keys.k[i].selector,
                     err   ? err
                     : why ? why
                           : "cannot read the key");
            free(err);
            EVP_PKEY_free(key);
            continue;
        }
        signers[ns] = s;
        selectors[ns] = keys.k[i].selector;
        pkeys[ns++] = key;
    }
    char chunk[65536];
    bool ok = true;
    for (unsigned long long off = 0; off < j->msg_len && ok;) {
        size_t want = j->msg_len - off < sizeof(chunk) ? (size_t)(j->msg_len - off) : sizeof(chunk);
        ssize_t n = pread(j->msg_fd, chunk, want, (off_t)(j->msg_start + off));
        if (n <= 0) {
            ok = false;
            break;
        }
        for (size_t i = 0; i < ns; i++)
            dkim_sign_feed(signers[i], chunk, (size_t)n);
        off += (unsigned long long)n;
    }
    if (!ok && ns)
        log_warn("%s: no DKIM signature: cannot read the queued message", j->job.qid);
    for (size_t i = 0; i < ns; i++) {
        const char *why = NULL;
        if (ok && dkim_sign_finish(signers[i], &j->prefix, &why) < 0)
            log_warn("%s: no DKIM signature with d=%s s=%s: %s", j->job.qid, domain, selectors[i],
                     why ? why : "?");
        else if (ok)
            log_info("%s: DKIM-signed d=%s s=%s", j->job.qid, domain, selectors[i]);
        dkim_sign_free(&signers[i]);
        EVP_PKEY_free(pkeys[i]);
    }
}

static void handle_job(void *ctx, struct agent_conn *from, struct deliver_job *job)
{
    struct ds *d = ctx;
    struct ds_job *j = xcalloc(1, sizeof(*j));
    j->job = *job;
    buf_init(&j->prefix, 64 * 1024);
    j->d = d;
    j->from = from;
    j->msg_fd = -1;
    j->started_ms = now_ms();
    const char *why;
    const char *spec = strcmp(j->job.nexthop, "relayhost") == 0 ? NULL : j->job.nexthop;
    char relay[320];
    if (!spec) {
        snprintf(relay, sizeof(relay), "smtp:%s", d->cfg->relayhost);
        spec = relay;
    }
    if (transport_parse(spec, &j->t, &why) < 0 ||
        (j->t.kind != TRANSPORT_SMTP && j->t.kind != TRANSPORT_LMTP)) {
        char text[700];
        snprintf(text, sizeof(text), "4.3.5 bad next hop '%.300s': %s", spec,
                 j->t.kind == TRANSPORT_SMTP || j->t.kind == TRANSPORT_LMTP ? why
                                                                            : "not smtp/lmtp");
        job_fail(j, DELIVER_TEMPFAIL, text);
        return;
    }
    j->msg_fd = spool_open_message(&d->spool, j->job.qid, &j->msg_start, &j->msg_len);
    if (j->msg_fd < 0) {
        char text[300];
        snprintf(text, sizeof(text), "4.3.0 cannot open the queued message: %s", strerror(errno));
        job_fail(j, DELIVER_TEMPFAIL, text);
        return;
    }
    if (count_received(j->msg_fd, j->msg_start, j->msg_len) > RECEIVED_LOOP_LIMIT) {
        job_fail(j, DELIVER_PERMFAIL,
                 "554 5.4.6 mail loop: the message has more than 50 Received: headers");
        return;
    }
    j->rcpts = xcalloc(j->job.n, sizeof(*j->rcpts));
    for (size_t i = 0; i < j->job.n; i++) {
        j->rcpts[i].addr = j->job.rcpts[i].addr;
        j->rcpts[i].orcpt = j->job.rcpts[i].orcpt;
        j->rcpts[i].notify = j->job.rcpts[i].notify;
    }
    if ((j->job.flags & DELIVER_DKIM_SIGN) && j->t.kind == TRANSPORT_SMTP)
        dkim_sign_job(d, j);
    j->m.sender = j->job.sender;
    j->m.size = j->msg_len + j->prefix.len;
    j->m.body_8bit = j->job.flags & DELIVER_BODY_8BIT;
    j->m.has_8bit = j->job.flags & DELIVER_HAS_8BIT;
    j->m.smtputf8 = j->job.flags & DELIVER_SMTPUTF8;
    j->m.ret = (int)j->job.ret;
    j->m.envid = j->job.envid;
    j->m.rcpts = j->rcpts;
    j->m.n = j->job.n;
    j->site = site_get(d, spec);
    if (j->site->tail)
        j->site->tail->next = j;
    else
        j->site->head = j;
    j->site->tail = j;
    site_run(j->site);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    struct ds *d = arg;
    d->stopping = true;
    /* idle connections say goodbye; busy ones finish their message */
    for (struct ds_site *s = d->sites; s; s = s->next)
        while (s->idle) {
            struct ds_conn *c = s->idle;
            s->idle = c->next_idle;
            evtimer_del(c->idle_ev);
            smtp_client_quit(c->sc);
        }
    agent_link_stop(d->link);
}

static void on_events_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct ds *d = arg;
    events_flush(d->events);
}

static void read_relay_auth(struct ds *d)
{
    if (!d->cfg->relayhost_auth_file[0])
        return;
    char path[4096];
    if (d->cfg->relayhost_auth_file[0] == '/')
        str_copy(path, sizeof(path), d->cfg->relayhost_auth_file);
    else
        daemon_path(d->cfg, d->cfg->relayhost_auth_file, path, sizeof(path));
    FILE *f = fopen(path, "r");
    char line[600];
    if (!f || !fgets(line, sizeof(line), f)) {
        log_error("cannot read relayhost_auth_file %s: %s", path, f ? "empty" : strerror(errno));
        if (f)
            fclose(f);
        return;
    }
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    char *colon = strchr(line, ':');
    if (!colon) {
        log_error("relayhost_auth_file %s: expected USERNAME:PASSWORD", path);
        return;
    }
    *colon = '\0';
    str_copy(d->relay_user, sizeof(d->relay_user), line);
    str_copy(d->relay_password, sizeof(d->relay_password), colon + 1);
    memset(line, 0, sizeof(line));
}

int deliver_smtp_main(struct daemon_env *env)
{
    struct ds d;
    memset(&d, 0, sizeof(d));
    d.cfg = env->cfg;
    d.env = env;
    d.base = event_base_new();
    if (!d.base)
        log_fatal("cannot create an event loop");
    const char *err;
    if (spool_open(&d.spool, d.cfg->data_dir, &err) < 0)
        log_fatal("cannot open the spool under %s: %s", d.cfg->data_dir, err);
    char *dnserr = NULL;
    d.dns = dns_new(d.base, d.cfg->dns_resolver, &dnserr);
    if (!d.dns)
        log_fatal("%s", dnserr);
    d.tls = SSL_CTX_new(TLS_client_method());
    if (!d.tls)
        log_fatal("cannot create a TLS client context");
    SSL_CTX_set_min_proto_version(d.tls, TLS1_2_VERSION);
    SSL_CTX_set_verify(d.tls, SSL_VERIFY_NONE, NULL); /* opportunistic (no DANE yet) */
    read_relay_auth(&d);
    char dbpath[4096], *dberr = NULL;
    daemon_path(d.cfg, "state/postino.db", dbpath, sizeof(dbpath));
    d.db = state_db_open(dbpath, false, &dberr);
    if (!d.db) {
        log_warn("no DKIM signing: %s", dberr);
        free(dberr);
    }
    char *everr = NULL;
    d.events = events_open(d.cfg->data_dir, &everr);
    if (!d.events) {
        log_warn("no message history (trace): %s", everr);
        free(everr);
    }
    d.kick_ev = event_new(d.base, -1, 0, on_kick, &d);
    d.events_ev = event_new(d.base, -1, EV_PERSIST, on_events_timer, &d);
    event_add(d.events_ev, &(struct timeval){0, 200000});
    d.link = agent_link_new(d.base, env->smtp_client_fd, handle_job, &d);
    if (!d.link)
        log_fatal("cannot listen on %s", env->smtp_client_path);
    d.sigterm_ev = evsignal_new(d.base, SIGTERM, on_signal, &d);
    d.sigint_ev = evsignal_new(d.base, SIGINT, on_signal, &d);
    event_add(d.sigterm_ev, NULL);
    event_add(d.sigint_ev, NULL);
    daemon_signals_ready();
    log_info("ready");

    event_base_dispatch(d.base);

    /* Every job is answered; connections still saying goodbye go. */
    while (d.conns)
        conn_destroy(d.conns);
    while (d.sites) {
        struct ds_site *s = d.sites;
        d.sites = s->next;
        free(s);
    }
    agent_link_free(&d.link);
    event_free(d.sigterm_ev);
    event_free(d.sigint_ev);
    dns_free(&d.dns);
    state_db_close(&d.db);
    event_free(d.events_ev);
    event_free(d.kick_ev);
    events_close(&d.events);
    SSL_CTX_free(d.tls);
    memset(d.relay_password, 0, sizeof(d.relay_password));
    spool_close(&d.spool);
    event_base_free(d.base);
    return 0;
}
