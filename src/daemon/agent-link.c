/* agent-link: the queue manager's connections, seen from a delivery agent. */
#include "agent-link.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <stdbool.h>
#include <stdlib.h>

#include "daemon.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xalloc.h"

struct agent_conn {
    struct agent_link *l;
    struct bufferevent *bev;
    size_t jobs; /* handed to the agent and not answered yet */
    bool dead;   /* the connection has gone; freed when jobs reaches 0 */
    struct agent_conn *next;
};

struct agent_link {
    struct event_base *base;
    struct evconnlistener *listener;
    agent_job_fn on_job;
    void *ctx;
    struct agent_conn *conns;
    bool stopping;
};

static void conn_free(struct agent_conn *c)
{
    struct agent_link *l = c->l;
    if (c->jobs > 0) {
        /* the agent still holds jobs of it: wait for their answers */
        c->dead = true;
        bufferevent_disable(c->bev, EV_READ | EV_WRITE);
        return;
    }
    for (struct agent_conn **pp = &l->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    bufferevent_free(c->bev);
    free(c);
    if (l->stopping && !l->conns)
        event_base_loopexit(l->base, NULL);
}

static void conn_read(struct bufferevent *bev, void *arg)
{
    struct agent_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    while (!c->dead) {
        unsigned char *frame;
        size_t flen;
        int r = daemon_frame_next(in, &frame, &flen);
        if (r == 0)
            return;
        struct deliver_job job;
        if (r < 0 || deliver_decode_request(frame, flen, &job) < 0) {
            log_error("malformed request from the queue manager; closing");
            conn_free(c);
            return;
        }
        evbuffer_drain(in, flen);
        c->jobs++;
        c->l->on_job(c->l->ctx, c, &job);
    }
}

static void conn_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        conn_free(arg);
}

static void on_accept(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    (void)listener;
    (void)sa;
    (void)salen;
    struct agent_link *l = arg;
    struct agent_conn *c = xcalloc(1, sizeof(*c));
    c->l = l;
    c->bev = bufferevent_socket_new(l->base, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(c->bev, conn_read, NULL, conn_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->next = l->conns;
    l->conns = c;
}

struct agent_link *agent_link_new(struct event_base *base, int fd, agent_job_fn on_job, void *ctx)
{
    struct agent_link *l = xcalloc(1, sizeof(*l));
    l->base = base;
    l->on_job = on_job;
    l->ctx = ctx;
    l->listener = evconnlistener_new(base, on_accept, l, LEV_OPT_CLOSE_ON_FREE, -1, fd);
    if (!l->listener) {
        free(l);
        return NULL;
    }
    return l;
}

void agent_link_stop(struct agent_link *l)
{
    l->stopping = true;
    evconnlistener_disable(l->listener);
    if (!l->conns)
        event_base_loopexit(l->base, NULL);
}

void agent_link_free(struct agent_link **lp)
{
    struct agent_link *l = *lp;
    if (!l)
        return;
    l->stopping = false; /* the loop is over: nothing to end */
    while (l->conns) {
        l->conns->jobs = 0;
        conn_free(l->conns);
    }
    evconnlistener_free(l->listener);
    free(l);
    *lp = NULL;
}

void agent_conn_answer(struct agent_conn *c, const struct deliver_job *job)
{
    if (!c->dead) {
        struct buf out;
        buf_init(&out, BUF_UNLIMITED);
        if (deliver_encode_result(job, &out) == 0)
            bufferevent_write(c->bev, out.data, out.len);
        else
            log_error("%s: the result is too large to send", job->qid ? job->qid : "?");
        buf_free(&out);
    }
    if (--c->jobs == 0 && c->dead)
        conn_free(c);
}
