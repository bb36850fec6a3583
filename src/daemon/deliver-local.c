/* deliver-local: the process that writes into mailboxes. It takes
 * DELIVER jobs from the queue manager over its Unix socket, writes the
 * copies (deliver/deliver-local), makes them durable in batches (syncer)
 * and answers each job with its RESULT. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "deliver/deliver-ipc.h"
#include "deliver/deliver-local.h"
#include "lib/buf.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/syncer.h"
#include "lib/xalloc.h"
#include "queue/spool.h"

struct dl_client;

struct dl {
    struct config *cfg;
    struct event_base *base;
    struct evconnlistener *listener;
    struct event *sigterm_ev, *sigint_ev;
    struct syncer *syncer;
    struct spool spool;
    char mail_dir[4096];
    struct dl_client *clients;
    bool stopping;
};

struct dl_client {
    struct dl *d;
    struct bufferevent *bev;
    size_t jobs; /* jobs in progress */
    bool dead;
    struct dl_client *next;
};

struct dl_op_ref {
    struct local_delivery *ld;
    struct dl_client *client;
};

static void client_free(struct dl_client *c)
{
    struct dl *d = c->d;
    if (c->jobs > 0) {
        /* Wait for the ops in flight; their callbacks free it. */
        c->dead = true;
        bufferevent_disable(c->bev, EV_READ | EV_WRITE);
        return;
    }
    for (struct dl_client **pp = &d->clients; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    bufferevent_free(c->bev);
    free(c);
    if (d->stopping && !d->clients)
        event_base_loopexit(d->base, NULL);
}

/* Log the outcome of each recipient and send the RESULT. */
static void job_finish(struct dl_client *c, struct local_delivery *ld)
{
    for (size_t i = 0; i < ld->job.n; i++) {
        const struct deliver_rcpt *r = &ld->job.rcpts[i];
        const char *status = r->outcome == DELIVER_OK         ? "delivered"
                             : r->outcome == DELIVER_TEMPFAIL ? "deferred"
                                                              : "bounced";
        log_info("%s: to=<%s>, relay=local, status=%s (%s)", ld->job.qid, r->addr, status,
                 r->text ? r->text : "");
    }
    if (!c->dead) {
        struct buf out;
        buf_init(&out, BUF_UNLIMITED);
        if (deliver_encode_result(&ld->job, &out) == 0)
            bufferevent_write(c->bev, out.data, out.len);
        buf_free(&out);
    }
    deliver_local_free(ld);
    free(ld);
    c->jobs--;
    if (c->dead && c->jobs == 0)
        client_free(c);
}

static void op_done(struct sync_op *op)
{
    struct dl_op_ref *ref = op->arg;
    struct local_delivery *ld = ref->ld;
    struct dl_client *c = ref->client;
    size_t i = (size_t)(op - ld->ops);
    deliver_local_complete(ld, i);
    free(ref);
    if (--ld->ops_left == 0)
        job_finish(c, ld);
}

static void handle_job(struct dl_client *c, struct local_delivery *ld)
{
    struct dl *d = c->d;
    c->jobs++;
    deliver_local_prepare(ld, d->mail_dir, &d->spool);
    if (ld->ops_left == 0) {
        job_finish(c, ld);
        return;
    }
    for (size_t i = 0; i < ld->job.n; i++) {
        if (!ld->started[i])
            continue;
        struct dl_op_ref *ref = xcalloc(1, sizeof(*ref));
        ref->ld = ld;
        ref->client = c;
        ld->ops[i].done = op_done;
        ld->ops[i].arg = ref;
        syncer_submit(d->syncer, &ld->ops[i]);
    }
}

static void client_read(struct bufferevent *bev, void *arg)
{
    struct dl_client *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        unsigned char *frame;
        size_t flen;
        int r = daemon_frame_next(in, &frame, &flen);
        if (r == 0)
            return;
        struct local_delivery *ld = xcalloc(1, sizeof(*ld));
        if (r < 0 || deliver_decode_request(frame, flen, &ld->job) < 0) {
            free(ld);
            log_error("malformed request from the queue manager; closing");
            client_free(c);
            return;
        }
        evbuffer_drain(in, flen);
        handle_job(c, ld);
    }
}

static void client_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        client_free(arg);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
    (void)l;
    (void)sa;
    (void)salen;
    struct dl *d = arg;
    struct dl_client *c = xcalloc(1, sizeof(*c));
    c->d = d;
    c->bev = bufferevent_socket_new(d->base, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(c->bev, client_read, NULL, client_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->next = d->clients;
    d->clients = c;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    struct dl *d = arg;
    /* Jobs in progress finish and are answered; the queue manager closes
     * its connection when it stops, and then this process ends. */
    d->stopping = true;
    evconnlistener_disable(d->listener);
    if (!d->clients)
        event_base_loopexit(d->base, NULL);
}

int deliver_local_main(struct daemon_env *env)
{
    struct dl d;
    memset(&d, 0, sizeof(d));
    d.cfg = env->cfg;
    d.base = event_base_new();
    if (!d.base)
        log_fatal("cannot create an event loop");
    const char *err;
    if (spool_open(&d.spool, d.cfg->data_dir, &err) < 0)
        log_fatal("cannot open the spool under %s: %s", d.cfg->data_dir, err);
    daemon_path(d.cfg, "mail", d.mail_dir, sizeof(d.mail_dir));
    if (access(d.mail_dir, W_OK | X_OK) < 0)
        log_fatal("cannot write to %s: %s", d.mail_dir, strerror(errno));
    d.syncer = syncer_new(d.base,
                          d.cfg->spool_sync == SPOOL_SYNC_SYNCFS ? SYNCER_SYNCFS : SYNCER_FSYNC, 4);
    d.listener =
        evconnlistener_new(d.base, on_accept, &d, LEV_OPT_CLOSE_ON_FREE, -1, env->deliver_fd);
    if (!d.listener)
        log_fatal("cannot listen on %s", env->deliver_path);
    d.sigterm_ev = evsignal_new(d.base, SIGTERM, on_signal, &d);
    d.sigint_ev = evsignal_new(d.base, SIGINT, on_signal, &d);
    event_add(d.sigterm_ev, NULL);
    event_add(d.sigint_ev, NULL);
    log_info("ready");

    event_base_dispatch(d.base);

    /* Everything written is made durable and answered before exit. */
    syncer_free(&d.syncer);
    while (d.clients) {
        d.clients->jobs = 0;
        client_free(d.clients);
    }
    evconnlistener_free(d.listener);
    event_free(d.sigterm_ev);
    event_free(d.sigint_ev);
    spool_close(&d.spool);
    event_base_free(d.base);
    return 0;
}
