/* smtpd: the SMTP service. Wires SMTP sessions (smtp/smtp-server) to the
 * network (libevent), to the account database (recipient checks) and to
 * the spool (group commit through the syncer). */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/net.h"
#include "lib/str.h"
#include "lib/syncer.h"
#include "lib/xalloc.h"
#include "queue/envelope.h"
#include "queue/spool.h"
#include "smtp/smtp-server.h"
#include "state/state-db.h"
#include "state/state-domain.h"
#include "state/state-resolve.h"

#define IP_BUCKETS      509
#define PULL_MAX        (SMTP_ANY_LINE_MAX + 2)
#define READ_HIGH_WATER (256 * 1024) /* input buffered before reading pauses */

struct ip_count {
    char ip[64];
    unsigned n;
    struct ip_count *next;
};

struct smtpd {
    struct daemon_env *env;
    struct config *cfg;
    struct event_base *base;
    struct evconnlistener *listeners[DAEMON_MAX_LISTENERS];
    size_t n_listeners;
    struct event *sigterm_ev, *sigint_ev, *sighup_ev;
    struct spool spool;
    struct syncer *syncer;
    struct state_db *db;
    struct net_cidr *relay_nets;
    size_t n_relay_nets;
    struct smtp_server_settings settings;
    struct ip_count *ips[IP_BUCKETS];
    unsigned nconns;
    struct smtpd_conn *conns;
    bool stopping;
};

struct smtpd_conn {
    struct smtpd *d;
    struct bufferevent *bev;
    struct smtp_server_session *session;
    struct sockaddr_storage sa;
    char ip[64];
    bool relay_ok;
    /* the transaction */
    struct envelope env;
    char first_rcpt[SMTP_PATH_MAX + 1];
    struct spool_file *file;
    struct sync_op op;
    char qid[QUEUE_ID_LEN + 1];
    bool commit_pending;
    bool dead;    /* the client went away while a commit was pending */
    bool closing; /* close once the output is sent */
    unsigned messages;
    struct smtpd_conn *prev, *next;
};

static void conn_free(struct smtpd_conn *c);
static void conn_process(struct smtpd_conn *c);

/* --- per-IP connection counts --- */

static unsigned ip_hash(const char *ip)
{
    unsigned h = 5381;
    for (; *ip; ip++)
        h = h * 33 + (unsigned char)*ip;
    return h % IP_BUCKETS;
}

static unsigned ip_adjust(struct smtpd *d, const char *ip, int delta)
{
    struct ip_count **pp = &d->ips[ip_hash(ip)];
    for (; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->ip, ip) != 0)
            continue;
        struct ip_count *e = *pp;
        e->n = (unsigned)((int)e->n + delta);
        unsigned n = e->n;
        if (n == 0) {
            *pp = e->next;
            free(e);
        }
        return n;
    }
    if (delta <= 0)
        return 0;
    struct ip_count *e = xcalloc(1, sizeof(*e));
    str_copy(e->ip, sizeof(e->ip), ip);
    e->n = (unsigned)delta;
    e->next = NULL;
    *pp = e;
    return e->n;
}

/* --- session callbacks --- */

static const char *conn_qid(const struct smtpd_conn *c)
{
    return c->qid[0] ? c->qid : "NOQUEUE";
}

static void cb_output(void *ctx, const char *data, size_t len)
{
    struct smtpd_conn *c = ctx;
    if (!c->dead)
        bufferevent_write(c->bev, data, len);
}

static void cb_close(void *ctx)
{
    struct smtpd_conn *c = ctx;
    c->closing = true;
}

/* Session events. Refusals come as "reject: VERB: reply" and are logged as
 * "ID: reject: VERB from [IP]: reply; helo=<...>" so one fail2ban pattern
 * covers every refusal. */
static void cb_log(void *ctx, const char *text)
{
    struct smtpd_conn *c = ctx;
    char helo[SMTP_DOMAIN_MAX * 4 + 1];
    const char *h = smtp_server_helo(c->session);
    str_printable(helo, sizeof(helo), h, strlen(h));
    if (strncmp(text, "reject: ", 8) == 0) {
        const char *verb = text + 8;
        const char *sep = strstr(verb, ": ");
        if (sep) {
            log_info("%s: reject: %.*s from [%s]: %s; helo=<%s>", conn_qid(c), (int)(sep - verb),
                     verb, c->ip, sep + 2, helo);
            return;
        }
    }
    log_info("%s: %s from [%s]", conn_qid(c), text, c->ip);
}

static void reset_transaction(struct smtpd_conn *c)
{
    envelope_free(&c->env);
    c->first_rcpt[0] = '\0';
    if (c->file)
        spool_file_abort(&c->file);
    c->qid[0] = '\0';
}

static enum smtp_decision cb_mail(void *ctx, const struct smtp_mail_args *a, struct smtp_reply *r)
{
    struct smtpd_conn *c = ctx;
    (void)r;
    reset_transaction(c);
    c->env.sender = xstrdup(a->path.null ? "" : a->path.mailbox);
    return SMTP_DECIDED;
}

static void reject_rcpt(struct smtpd_conn *c, const struct smtp_rcpt_args *a, struct smtp_reply *r,
                        int code, const char *enh, const char *why)
{
    char shown[SMTP_PATH_MAX * 4 + 1], from[SMTP_PATH_MAX * 4 + 1], helo[SMTP_DOMAIN_MAX * 4 + 1];
    str_printable(shown, sizeof(shown), a->path.mailbox, strlen(a->path.mailbox));
    str_printable(from, sizeof(from), c->env.sender ? c->env.sender : "",
                  c->env.sender ? strlen(c->env.sender) : 0);
    const char *h = smtp_server_helo(c->session);
    str_printable(helo, sizeof(helo), h, strlen(h));
    smtp_reply_set(r, code, enh, "<%s>: %s", shown, why);
    log_info("NOQUEUE: reject: RCPT from [%s]: %d %s <%s>: %s; from=<%s> to=<%s> helo=<%s>", c->ip,
             code, enh, shown, why, from, shown, helo);
}

/* True if the local part tries to route elsewhere: user%host@us,
 * host!user@us, "user@host"@us. */
static bool relay_trick(const struct smtp_path *p)
{
    return strpbrk(p->local, "%!@") != NULL;
}

/* Add a destination to the envelope unless it is there already. */
static void add_rcpt(struct smtpd_conn *c, const char *addr, const char *orig,
                     const struct smtp_rcpt_args *a, enum rcpt_route route)
{
    for (size_t i = 0; i < c->env.nrcpts; i++)
        if (strcmp(c->env.rcpts[i].addr, addr) == 0)
            return;
    envelope_add_rcpt(&c->env, addr, orig && strcmp(orig, addr) != 0 ? orig : NULL,
                      a->orcpt[0] ? a->orcpt : NULL, a->notify, route);
}

/* The domain of <postmaster>: the first domain of ours. */
static void first_domain(const char *name, void *arg)
{
    char *out = arg;
    if (!out[0])
        str_copy(out, SMTP_DOMAIN_MAX + 1, name);
}

static enum smtp_decision cb_rcpt(void *ctx, const struct smtp_rcpt_args *a, struct smtp_reply *r)
{
    struct smtpd_conn *c = ctx;
    struct smtpd *d = c->d;
    char domain[SMTP_DOMAIN_MAX + 1];
    str_copy(domain, sizeof(domain), a->path.domain);
    if (a->path.postmaster) {
        domain[0] = '\0';
        state_domain_list(d->db, first_domain, domain);
    }
    struct resolve_result res;
    enum resolve_status st =
        a->path.literal ? RESOLVE_NOT_OURS : state_resolve(d->db, a->path.local, domain, &res);
    if (st != RESOLVE_NOT_OURS && st != RESOLVE_TEMPFAIL && relay_trick(&a->path)) {
        if (st == RESOLVE_OK)
            resolve_result_free(&res);
        reject_rcpt(c, a, r, 554, "5.7.1", "Relay access denied");
        return SMTP_DECIDED;
    }
    switch (st) {
    case RESOLVE_OK:
        for (size_t i = 0; i < res.n; i++)
            add_rcpt(c, res.dests[i].addr, a->path.mailbox, a,
                     res.dests[i].local ? ROUTE_LOCAL : ROUTE_REMOTE);
        resolve_result_free(&res);
        break;
    case RESOLVE_NOT_OURS:
        if (!c->relay_ok) {
            reject_rcpt(c, a, r, 554, "5.7.1", "Relay access denied");
            return SMTP_DECIDED;
        }
        add_rcpt(c, a->path.mailbox, NULL, a, ROUTE_REMOTE);
        break;
    case RESOLVE_UNKNOWN:
        reject_rcpt(c, a, r, 550, "5.1.1", "Recipient address rejected: User unknown");
        return SMTP_DECIDED;
    case RESOLVE_LOOP:
        reject_rcpt(c, a, r, 550, "5.4.6",
                    "Recipient address rejected: alias loop or too many "
                    "alias targets");
        return SMTP_DECIDED;
    case RESOLVE_TEMPFAIL:
        log_warn("NOQUEUE: account database error: %s", state_db_error(d->db));
        reject_rcpt(c, a, r, 451, "4.3.0", "Temporary lookup failure, try again later");
        return SMTP_DECIDED;
    }
    if (!c->first_rcpt[0])
        str_copy(c->first_rcpt, sizeof(c->first_rcpt), a->path.mailbox);
    smtp_reply_set(r, 250, "2.1.5", "Ok");
    return SMTP_DECIDED;
}

static const char *protocol_name(const struct smtpd_conn *c)
{
    const struct smtp_mail_args *m = smtp_server_mail(c->session);
    if (!smtp_server_esmtp(c->session))
        return "SMTP";
    return m && m->smtputf8 ? "UTF8SMTP" : "ESMTP";
}

/* The Received: field of RFC 5321 4.4, with its own queue ID. */
static void write_received(struct smtpd_conn *c, struct buf *out)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
    buf_printf(out, "Received: from %s ([%s])\r\n\tby %s (postino) with %s id %s",
               smtp_server_helo(c->session), c->ip, c->d->cfg->hostname, protocol_name(c), c->qid);
    if (smtp_server_rcpt_count(c->session) == 1 && c->first_rcpt[0])
        buf_printf(out, "\r\n\tfor <%s>", c->first_rcpt);
    buf_printf(out, ";\r\n\t%s\r\n", date);
}

static enum smtp_decision cb_data_start(void *ctx, struct smtp_reply *r)
{
    struct smtpd_conn *c = ctx;
    if (c->file)
        spool_file_abort(&c->file);
    c->file = spool_file_create(&c->d->spool, c->qid);
    if (!c->file) {
        log_error("NOQUEUE: cannot create a queue file: %s", strerror(errno));
        c->qid[0] = '\0';
        smtp_reply_set(r, 451, "4.3.0", "Temporary failure: cannot write to the queue");
        return SMTP_DECIDED;
    }
    struct buf hdr;
    buf_init(&hdr, 4096);
    write_received(c, &hdr);
    spool_file_write(c->file, hdr.data, hdr.len);
    buf_free(&hdr);
    smtp_reply_set(r, 354, "", "ok");
    return SMTP_DECIDED;
}

static void cb_data_write(void *ctx, const char *data, size_t len)
{
    struct smtpd_conn *c = ctx;
    if (c->file)
        spool_file_write(c->file, data, len);
}

static void cb_data_abort(void *ctx)
{
    struct smtpd_conn *c = ctx;
    if (c->file)
        spool_file_abort(&c->file);
    c->qid[0] = '\0';
}

static void cb_reset(void *ctx)
{
    reset_transaction(ctx);
}

/* The commit of a message is durable (or failed): answer the client. */
static void commit_done(struct sync_op *op)
{
    struct smtpd_conn *c = op->arg;
    struct smtp_reply r;
    bool ok = op->error == 0;
    c->commit_pending = false;
    if (ok) {
        char from[SMTP_PATH_MAX * 4 + 1];
        str_printable(from, sizeof(from), c->env.sender, strlen(c->env.sender));
        log_info("%s: from=<%s>, size=%llu, nrcpt=%zu, client=[%s]", c->qid, from, c->env.size,
                 c->env.nrcpts, c->ip);
        smtp_reply_set(&r, 250, "2.0.0", "Ok: queued as %s", c->qid);
        c->messages++;
    } else {
        log_error("%s: cannot commit the message to the queue (%s: %s)", c->qid,
                  op->failed ? op->failed : "?", strerror(op->error));
        smtp_reply_set(&r, 451, "4.3.0", "Temporary failure storing the message, try again");
    }
    spool_file_done(&c->file, ok);
    c->qid[0] = '\0';
    if (c->dead) {
        if (ok)
            log_info("%s: the client left before it got the reply", c->env.id);
        conn_free(c);
        return;
    }
    smtp_server_resume(c->session, &r);
    if (c->d->stopping && !c->closing)
        smtp_server_shutdown(c->session);
    conn_process(c);
}

static enum smtp_decision cb_data_end(void *ctx, const struct smtp_data_result *res,
                                      struct smtp_reply *r)
{
    struct smtpd_conn *c = ctx;
    (void)res;
    if (!c->file) {
        smtp_reply_set(r, 451, "4.3.0", "Temporary failure: cannot write to the queue");
        return SMTP_DECIDED;
    }
    const struct smtp_mail_args *m = smtp_server_mail(c->session);
    struct envelope *env = &c->env;
    memcpy(env->id, c->qid, sizeof(env->id));
    env->arrival = (long long)time(NULL);
    env->size = spool_file_size(c->file);
    env->body_8bit = m && m->body == SMTP_BODY_8BITMIME;
    env->smtputf8 = m && m->smtputf8;
    env->ret = m ? (int)m->ret : 0;
    free(env->envid);
    env->envid = m && m->envid[0] ? xstrdup(m->envid) : NULL;
    free(env->client);
    env->client = xstrdup(c->ip);
    free(env->helo);
    env->helo = xstrdup(smtp_server_helo(c->session));
    free(env->proto);
    env->proto = xstrdup(protocol_name(c));
    if (spool_file_finish(c->file, env, &c->op) < 0) {
        log_error("%s: cannot write the queue file: %s", c->qid, strerror(errno));
        spool_file_abort(&c->file);
        c->qid[0] = '\0';
        smtp_reply_set(r, 451, "4.3.0", "Temporary failure: cannot write to the queue");
        return SMTP_DECIDED;
    }
    c->op.done = commit_done;
    c->op.arg = c;
    c->commit_pending = true;
    syncer_submit(c->d->syncer, &c->op);
    return SMTP_PENDING;
}

static const struct smtp_server_callbacks session_callbacks = {
    .output = cb_output,
    .close = cb_close,
    .on_mail = cb_mail,
    .on_rcpt = cb_rcpt,
    .on_data_start = cb_data_start,
    .on_data_write = cb_data_write,
    .on_data_end = cb_data_end,
    .on_data_abort = cb_data_abort,
    .on_reset = cb_reset,
    .on_log = cb_log,
};

/* --- connections --- */

static void conn_free(struct smtpd_conn *c)
{
    struct smtpd *d = c->d;
    if (c->commit_pending) {
        /* The commit callback frees it once the message is safe. */
        c->dead = true;
        bufferevent_disable(c->bev, EV_READ | EV_WRITE);
        return;
    }
    log_info("disconnect from [%s] messages=%u", c->ip, c->messages);
    smtp_server_session_free(&c->session);
    reset_transaction(c);
    bufferevent_free(c->bev);
    ip_adjust(d, c->ip, -1);
    d->nconns--;
    if (c->prev)
        c->prev->next = c->next;
    else
        d->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
    if (d->stopping && d->nconns == 0)
        event_base_loopexit(d->base, NULL);
}

static void conn_write(struct bufferevent *bev, void *arg)
{
    struct smtpd_conn *c = arg;
    if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        conn_free(c);
}

/* Feed the session what has arrived; stop reading while it waits. */
static void conn_process(struct smtpd_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    while (!c->closing && !smtp_server_pending(c->session)) {
        size_t avail = evbuffer_get_length(in);
        if (avail == 0)
            break;
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        size_t used = smtp_server_input(c->session, v.iov_base, v.iov_len);
        if (used == 0 && v.iov_len < avail && !c->closing && !smtp_server_pending(c->session)) {
            /* A line split across buffer chunks: look at it whole. */
            size_t want = avail < PULL_MAX ? avail : PULL_MAX;
            unsigned char *p = evbuffer_pullup(in, (ev_ssize_t)want);
            used = smtp_server_input(c->session, (const char *)p, want);
        }
        if (used == 0)
            break;
        evbuffer_drain(in, used);
    }
    if (c->closing) {
        bufferevent_disable(c->bev, EV_READ);
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
            conn_free(c);
        return;
    }
    /* While a decision is pending, input just waits in the buffer; the read
     * watermark stops reading from the socket once enough has piled up. */
}

static void conn_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    conn_process(arg);
}

static void conn_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct smtpd_conn *c = arg;
    if (what & BEV_EVENT_TIMEOUT) {
        if (c->commit_pending) {
            /* The client waits for us, not the other way round. */
            bufferevent_enable(c->bev, EV_READ);
            return;
        }
        if (c->closing) {
            conn_free(c);
            return;
        }
        smtp_server_timeout(c->session);
        log_info("timeout after %s from [%s]", c->commit_pending ? "DATA" : "a command", c->ip);
        conn_process(c);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        if (c->file && !c->commit_pending)
            log_info("%s: lost connection from [%s] during the message", c->qid, c->ip);
        conn_free(c);
    }
}

/* Refuse a connection over a limit with a 421 written straight away. */
static void refuse(int fd, const char *ip, const char *why)
{
    char line[256];
    int n = snprintf(line, sizeof(line), "421 4.7.0 %s\r\n", why);
    if (n > 0) {
        ssize_t w = send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
        (void)w;
    }
    close(fd);
    log_warn("NOQUEUE: reject: connect from [%s]: 421 4.7.0 %s", ip, why);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
    (void)l;
    (void)salen;
    struct smtpd *d = arg;
    char ip[64];
    net_addr_text(sa, ip, sizeof(ip));
    if (d->stopping) {
        refuse(fd, ip, "Service shutting down");
        return;
    }
    if (d->nconns >= (unsigned)d->cfg->smtpd_max_connections) {
        refuse(fd, ip, "Too many connections, try again later");
        return;
    }
    if (ip_adjust(d, ip, 1) > (unsigned)d->cfg->smtpd_max_connections_per_ip) {
        ip_adjust(d, ip, -1);
        refuse(fd, ip, "Too many connections from your address, try again later");
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct smtpd_conn *c = xcalloc(1, sizeof(*c));
    c->d = d;
    memcpy(&c->sa, sa, (size_t)salen < sizeof(c->sa) ? (size_t)salen : sizeof(c->sa));
    str_copy(c->ip, sizeof(c->ip), ip);
    for (size_t i = 0; i < d->n_relay_nets; i++)
        if (net_cidr_match(&d->relay_nets[i], sa))
            c->relay_ok = true;
    envelope_init(&c->env);
    c->bev = bufferevent_socket_new(d->base, fd, BEV_OPT_CLOSE_ON_FREE);
    struct timeval tv = {(time_t)d->cfg->smtpd_timeout, 0};
    bufferevent_set_timeouts(c->bev, &tv, &tv);
    bufferevent_setcb(c->bev, conn_read, conn_write, conn_event, c);
    bufferevent_setwatermark(c->bev, EV_READ, 0, READ_HIGH_WATER);
    c->next = d->conns;
    if (d->conns)
        d->conns->prev = c;
    d->conns = c;
    d->nconns++;
    log_info("connect from [%s]:%d", ip, net_addr_port(sa));
    c->session = smtp_server_session_new(&d->settings, &session_callbacks, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
    (void)l;
    (void)arg;
    /* EMFILE and friends: log and go on; the listener stays. */
    log_warn("accept: %s", strerror(errno));
}

static void smtpd_stop(struct smtpd *d)
{
    if (d->stopping)
        return;
    d->stopping = true;
    log_info("stopping");
    for (size_t i = 0; i < d->n_listeners; i++)
        evconnlistener_disable(d->listeners[i]);
    for (struct smtpd_conn *c = d->conns, *next; c; c = next) {
        next = c->next;
        if (!c->commit_pending && !c->closing) {
            smtp_server_shutdown(c->session);
            conn_process(c);
        }
    }
    if (d->nconns == 0)
        event_base_loopexit(d->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct smtpd *d = arg;
    if (sig == SIGHUP)
        return; /* nothing to reload yet: accounts are read live */
    smtpd_stop(d);
}

int smtpd_main(struct daemon_env *env)
{
    struct smtpd d;
    memset(&d, 0, sizeof(d));
    d.env = env;
    d.cfg = env->cfg;
    d.base = event_base_new();
    if (!d.base)
        log_fatal("cannot create an event loop");
    const char *err;
    if (spool_open(&d.spool, d.cfg->data_dir, &err) < 0)
        log_fatal("cannot open the spool under %s: %s", d.cfg->data_dir, err);
    char dbpath[4096];
    daemon_path(d.cfg, "state/postino.db", dbpath, sizeof(dbpath));
    char *dberr = NULL;
    d.db = state_db_open(dbpath, false, &dberr);
    if (!d.db)
        log_fatal("%s", dberr);
    d.relay_nets = xcalloc(d.cfg->relay_networks.n + 1, sizeof(*d.relay_nets));
    for (size_t i = 0; i < d.cfg->relay_networks.n; i++)
        if (net_parse_cidr(d.cfg->relay_networks.items[i], &d.relay_nets[d.n_relay_nets]) == 0)
            d.n_relay_nets++;
    d.settings.hostname = d.cfg->hostname;
    d.settings.max_message_size = (unsigned long long)d.cfg->message_size_limit;
    d.settings.max_recipients = (unsigned)d.cfg->smtpd_recipient_limit;
    d.settings.max_errors = (unsigned)d.cfg->smtpd_error_limit;
    d.settings.max_received = (unsigned)d.cfg->max_received_headers;
    d.syncer = syncer_new(d.base,
                          d.cfg->spool_sync == SPOOL_SYNC_SYNCFS ? SYNCER_SYNCFS : SYNCER_FSYNC, 4);
    for (size_t i = 0; i < env->n_smtp_fds; i++) {
        struct evconnlistener *l =
            evconnlistener_new(d.base, on_accept, &d, LEV_OPT_CLOSE_ON_FREE, -1, env->smtp_fds[i]);
        if (!l)
            log_fatal("cannot listen on an SMTP socket");
        evconnlistener_set_error_cb(l, on_accept_error);
        d.listeners[d.n_listeners++] = l;
    }
    d.sigterm_ev = evsignal_new(d.base, SIGTERM, on_signal, &d);
    d.sigint_ev = evsignal_new(d.base, SIGINT, on_signal, &d);
    d.sighup_ev = evsignal_new(d.base, SIGHUP, on_signal, &d);
    event_add(d.sigterm_ev, NULL);
    event_add(d.sigint_ev, NULL);
    event_add(d.sighup_ev, NULL);
    log_info("ready");

    event_base_dispatch(d.base);

    for (size_t i = 0; i < d.n_listeners; i++)
        evconnlistener_free(d.listeners[i]);
    /* Finish the commits in flight (their clients get their replies),
     * then drop whatever connection is left. */
    syncer_free(&d.syncer);
    while (d.conns) {
        d.conns->commit_pending = false;
        d.conns->closing = true;
        conn_free(d.conns);
    }
    event_free(d.sigterm_ev);
    event_free(d.sigint_ev);
    event_free(d.sighup_ev);
    free(d.relay_nets);
    state_db_close(&d.db);
    spool_close(&d.spool);
    for (size_t i = 0; i < IP_BUCKETS; i++)
        while (d.ips[i]) {
            struct ip_count *e = d.ips[i];
            d.ips[i] = e->next;
            free(e);
        }
    event_base_free(d.base);
    return 0;
}
