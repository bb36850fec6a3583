/* queue: the queue manager. It learns of new messages from the spool
 * directory itself (inotify, and a periodic rescan as a safety net), hands
 * local recipients to deliver-local, records each outcome in the envelope
 * and removes a message once every recipient is done. The spool is the
 * truth: after a restart the same work is found again. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "deliver/deliver-ipc.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/syncer.h"
#include "lib/xalloc.h"
#include "queue/envelope.h"
#include "queue/schedule.h"
#include "queue/spool.h"

#define BUCKETS  4099
#define MAX_JOBS 512 /* DELIVER jobs outstanding at once */

struct qmsg {
    struct queue *q;
    struct envelope env;
    uint32_t job; /* outstanding job, 0 if none */
    bool writing; /* an envelope write or removal is in progress */
    bool remove;  /* the pending op removes the message */
    bool ready;   /* on the ready list */
    struct sync_op op;
    int op_fd;
    struct qmsg *hnext; /* hash chain */
    struct qmsg *rnext; /* ready list */
};

struct queue {
    struct config *cfg;
    struct daemon_env *denv;
    struct event_base *base;
    struct spool spool;
    struct syncer *syncer;
    struct qmsg *table[BUCKETS];
    size_t count;
    struct qmsg *ready;
    struct event *kick_ev; /* run the scheduler once, soon */
    struct event *tick_ev; /* every second: deferred messages due */
    struct event *scan_ev; /* every queue_scan_interval: rescan */
    struct event *inotify_ev;
    struct event *reconnect_ev;
    struct event *sigterm_ev, *sigint_ev, *sighup_ev;
    int inotify_fd;
    struct bufferevent *agent; /* connection to deliver-local */
    bool agent_up;
    uint32_t next_job;
    size_t jobs;
    int free_estimate; /* files in spool/free (recounted every second) */
    bool stopping;
};

static void schedule_soon(struct queue *q);

static unsigned hash_id(const char *id)
{
    unsigned h = 2166136261u;
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 16777619u;
    return h % BUCKETS;
}

static struct qmsg *find(struct queue *q, const char *id)
{
    for (struct qmsg *m = q->table[hash_id(id)]; m; m = m->hnext)
        if (strcmp(m->env.id, id) == 0)
            return m;
    return NULL;
}

static struct qmsg *find_job(struct queue *q, uint32_t job)
{
    for (size_t b = 0; b < BUCKETS; b++)
        for (struct qmsg *m = q->table[b]; m; m = m->hnext)
            if (m->job == job)
                return m;
    return NULL;
}

static void make_ready(struct queue *q, struct qmsg *m)
{
    if (m->ready)
        return;
    m->ready = true;
    m->rnext = q->ready;
    q->ready = m;
    schedule_soon(q);
}

static void forget(struct queue *q, struct qmsg *m)
{
    for (struct qmsg **pp = &q->table[hash_id(m->env.id)]; *pp; pp = &(*pp)->hnext) {
        if (*pp == m) {
            *pp = m->hnext;
            break;
        }
    }
    if (m->ready) {
        for (struct qmsg **pp = &q->ready; *pp; pp = &(*pp)->rnext) {
            if (*pp == m) {
                *pp = m->rnext;
                break;
            }
        }
    }
    envelope_free(&m->env);
    free(m);
    q->count--;
    if (q->stopping && q->jobs == 0 && syncer_busy(q->syncer) == 0)
        event_base_loopexit(q->base, NULL);
}

/* Move a message that cannot be read to spool/corrupt/ for the admin. */
static void quarantine(struct queue *q, const char *id, const char *why)
{
    char name[64];
    int corrupt = openat(q->spool.queue_fd, "../corrupt", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const char *exts[] = {"env", "msg"};
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof(name), "%s.%s", id, exts[i]);
        if (corrupt >= 0)
            renameat(q->spool.queue_fd, name, corrupt, name);
    }
    if (corrupt >= 0) {
        fsync(corrupt);
        close(corrupt);
    }
    fsync(q->spool.queue_fd);
    log_error("%s: unreadable queue file moved to spool/corrupt: %s", id, why);
}

/* Read a message found in queue/ and add it to the work. */
static void load(const char *id, void *arg)
{
    struct queue *q = arg;
    if (find(q, id))
        return;
    struct qmsg *m = xcalloc(1, sizeof(*m));
    m->q = q;
    m->op_fd = -1;
    const char *err;
    bool missing;
    if (spool_read_envelope(&q->spool, id, &m->env, &err, &missing) < 0) {
        free(m);
        if (!missing)
            quarantine(q, id, err);
        return;
    }
    unsigned b = hash_id(id);
    m->hnext = q->table[b];
    q->table[b] = m;
    q->count++;
    make_ready(q, m);
}

static long long now_s(void)
{
    return (long long)time(NULL);
}

/* The envelope write or removal of m is durable (or failed). */
static void op_done(struct sync_op *op)
{
    struct qmsg *m = op->arg;
    struct queue *q = m->q;
    m->writing = false;
    if (m->op_fd >= 0) {
        close(m->op_fd);
        m->op_fd = -1;
    }
    if (op->error) {
        /* The outcome is in memory only: keep the message; a restart may
         * repeat deliveries, which is better than losing a message. */
        log_error("%s: cannot update the queue file (%s: %s)", m->env.id,
                  op->failed ? op->failed : "?", strerror(op->error));
        if (m->remove) {
            m->remove = false;
            return;
        }
    }
    if (m->remove) {
        log_info("%s: removed", m->env.id);
        forget(q, m);
        return;
    }
    if (q->stopping && q->jobs == 0 && syncer_busy(q->syncer) == 0)
        event_base_loopexit(q->base, NULL);
}

/* Write the envelope, or remove the message if every recipient is done. */
static void persist(struct queue *q, struct qmsg *m)
{
    m->writing = true;
    if (envelope_done(&m->env)) {
        m->remove = true;
        /* Keep the emptied file for reuse while the pool is not full. */
        bool recycle = q->free_estimate < SPOOL_FREE_MAX;
        if (recycle)
            q->free_estimate++;
        spool_remove(&q->spool, m->env.id, recycle, &m->op);
    } else if (spool_write_envelope(&q->spool, &m->env, &m->op, &m->op_fd) < 0) {
        log_error("%s: cannot write the envelope: %s", m->env.id, strerror(errno));
        m->writing = false;
        return;
    }
    m->op.done = op_done;
    m->op.arg = m;
    syncer_submit(q->syncer, &m->op);
}

/* A recipient failed temporarily: schedule it again, or expire it. */
static void defer(struct queue *q, struct qmsg *m, struct envelope_rcpt *r, const char *text)
{
    long long now = now_s();
    r->attempts++;
    envelope_rcpt_set_last(r, text);
    if (now - m->env.arrival >= q->cfg->max_queue_lifetime) {
        r->status = RCPT_EXPIRED;
        log_info("%s: to=<%s>, status=expired, delay=%llds (%s)", m->env.id, r->addr,
                 now - m->env.arrival, text);
        return;
    }
    r->status = RCPT_DEFERRED;
    r->next_try =
        now + schedule_retry_delay(r->attempts, q->cfg->queue_retry_min, q->cfg->queue_retry_max);
}

/* Send the due local recipients of m to deliver-local; returns false if
 * it could not (agent down or too busy). */
static bool dispatch(struct queue *q, struct qmsg *m)
{
    long long now = now_s();
    struct deliver_job job;
    memset(&job, 0, sizeof(job));
    bool changed = false;
    for (size_t i = 0; i < m->env.nrcpts; i++) {
        struct envelope_rcpt *r = &m->env.rcpts[i];
        if ((r->status != RCPT_PENDING && r->status != RCPT_DEFERRED) || r->next_try > now)
            continue;
        if (r->route == ROUTE_REMOTE) {
            /* Outbound delivery is not part of this build yet: keep the
             * message (and say so) rather than drop or bounce it. */
            defer(q, m, r, "4.4.1 outbound delivery is not available yet");
            log_info("%s: to=<%s>, status=deferred (%s)", m->env.id, r->addr, r->last);
            changed = true;
            continue;
        }
        deliver_job_add(&job, (uint32_t)i, r->addr);
    }
    if (job.n == 0) {
        deliver_job_free(&job);
        if (changed)
            persist(q, m);
        return true;
    }
    if (!q->agent_up || q->jobs >= MAX_JOBS) {
        deliver_job_free(&job);
        if (changed)
            persist(q, m);
        return false;
    }
    /* From here the job's result writes the envelope, changes included. */
    if (++q->next_job == 0)
        q->next_job = 1;
    job.job = q->next_job;
    job.qid = xstrdup(m->env.id);
    job.sender = xstrdup(m->env.sender);
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    if (deliver_encode_request(&job, &out) == 0) {
        bufferevent_write(q->agent, out.data, out.len);
        m->job = job.job;
        q->jobs++;
    } else {
        log_error("%s: too many recipients for one delivery request", m->env.id);
    }
    buf_free(&out);
    deliver_job_free(&job);
    return true;
}

/* Run through the ready list. */
static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct queue *q = arg;
    if (q->stopping)
        return;
    struct qmsg *list = q->ready, *keep = NULL;
    q->ready = NULL;
    while (list) {
        struct qmsg *m = list;
        list = m->rnext;
        m->ready = false;
        if (m->job || m->writing)
            continue; /* looked at again when that finishes */
        if (!dispatch(q, m)) {
            m->ready = true;
            m->rnext = keep;
            keep = m;
        }
    }
    /* Those that could not go yet wait for the agent or a free slot. */
    while (keep) {
        struct qmsg *m = keep;
        keep = m->rnext;
        m->rnext = q->ready;
        q->ready = m;
    }
}

static void schedule_soon(struct queue *q)
{
    event_active(q->kick_ev, EV_TIMEOUT, 0);
}

/* Deferred recipients whose time has come. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct queue *q = arg;
    long long now = now_s();
    /* Work left on the ready list (agent busy or down) is tried again. */
    if (q->ready)
        schedule_soon(q);
    /* smtpd takes files from the pool; see how many are left. */
    int n = spool_free_count(&q->spool);
    q->free_estimate = n < 0 ? SPOOL_FREE_MAX : n;
    for (size_t b = 0; b < BUCKETS; b++) {
        for (struct qmsg *m = q->table[b]; m; m = m->hnext) {
            if (m->job || m->writing || m->ready)
                continue;
            for (size_t i = 0; i < m->env.nrcpts; i++) {
                const struct envelope_rcpt *r = &m->env.rcpts[i];
                if ((r->status == RCPT_PENDING || r->status == RCPT_DEFERRED) &&
                    r->next_try <= now) {
                    make_ready(q, m);
                    break;
                }
            }
        }
    }
}

static void on_scan(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct queue *q = arg;
    spool_scan(&q->spool, load, q);
}

static void on_inotify(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct queue *q = arg;
    char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            break;
        for (char *p = buf; p < buf + n;) {
            /* Events are aligned in the buffer (the kernel pads names). */
            const struct inotify_event *ev = (const void *)p;
            p += sizeof(*ev) + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                spool_scan(&q->spool, load, q);
                continue;
            }
            size_t len = ev->len ? strlen(ev->name) : 0;
            if (len == QUEUE_ID_LEN + 4 && strcmp(ev->name + QUEUE_ID_LEN, ".msg") == 0 &&
                queue_id_valid(ev->name, QUEUE_ID_LEN)) {
                char id[QUEUE_ID_LEN + 1];
                memcpy(id, ev->name, QUEUE_ID_LEN);
                id[QUEUE_ID_LEN] = '\0';
                load(id, q);
            }
        }
    }
}

/* Apply the RESULT of a job to its message. */
static void handle_result(struct queue *q, struct deliver_job *res)
{
    struct qmsg *m = find_job(q, res->job);
    if (!m) {
        log_warn("result for an unknown job %u", res->job);
        return;
    }
    m->job = 0;
    q->jobs--;
    for (size_t i = 0; i < res->n; i++) {
        const struct deliver_rcpt *d = &res->rcpts[i];
        if (d->index >= m->env.nrcpts)
            continue;
        struct envelope_rcpt *r = &m->env.rcpts[d->index];
        if (r->status != RCPT_PENDING && r->status != RCPT_DEFERRED)
            continue;
        if (d->outcome == DELIVER_OK) {
            r->status = RCPT_DELIVERED;
            envelope_rcpt_set_last(r, d->text);
        } else if (d->outcome == DELIVER_PERMFAIL) {
            r->status = RCPT_BOUNCED;
            r->attempts++;
            envelope_rcpt_set_last(r, d->text);
        } else {
            defer(q, m, r, d->text);
        }
    }
    persist(q, m);
}

static void agent_read(struct bufferevent *bev, void *arg)
{
    struct queue *q = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        unsigned char *frame;
        size_t len;
        int r = daemon_frame_next(in, &frame, &len);
        if (r == 0)
            break;
        struct deliver_job res;
        if (r < 0 || deliver_decode_result(frame, len, &res) < 0) {
            log_error("malformed reply from deliver-local; reconnecting");
            bufferevent_free(q->agent);
            q->agent = NULL;
            q->agent_up = false;
            event_add(q->reconnect_ev, &(struct timeval){1, 0});
            return;
        }
        evbuffer_drain(in, len);
        handle_result(q, &res);
        deliver_job_free(&res);
    }
    if (q->stopping && q->jobs == 0 && syncer_busy(q->syncer) == 0)
        event_base_loopexit(q->base, NULL);
    schedule_soon(q);
}

static void agent_lost(struct queue *q)
{
    if (q->agent) {
        bufferevent_free(q->agent);
        q->agent = NULL;
    }
    if (q->agent_up)
        log_warn("lost the connection to deliver-local");
    q->agent_up = false;
    /* Jobs in flight get no answer: their recipients are still pending,
     * so they are simply tried again. */
    for (size_t b = 0; b < BUCKETS; b++)
        for (struct qmsg *m = q->table[b]; m; m = m->hnext)
            if (m->job) {
                m->job = 0;
                make_ready(q, m);
            }
    q->jobs = 0;
    if (q->stopping) {
        if (syncer_busy(q->syncer) == 0)
            event_base_loopexit(q->base, NULL);
        return;
    }
    event_add(q->reconnect_ev, &(struct timeval){1, 0});
}

static void agent_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct queue *q = arg;
    if (what & BEV_EVENT_CONNECTED) {
        q->agent_up = true;
        log_info("connected to deliver-local");
        for (size_t b = 0; b < BUCKETS; b++)
            for (struct qmsg *m = q->table[b]; m; m = m->hnext)
                if (!m->job && !m->writing)
                    make_ready(q, m);
        /* Messages already on the ready list were waiting for this. */
        schedule_soon(q);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        agent_lost(q);
}

static void on_reconnect(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct queue *q = arg;
    if (q->agent || q->stopping)
        return;
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    str_copy(sun.sun_path, sizeof(sun.sun_path), q->denv->deliver_path);
    q->agent = bufferevent_socket_new(q->base, -1, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(q->agent, agent_read, NULL, agent_event, q);
    bufferevent_enable(q->agent, EV_READ | EV_WRITE);
    if (bufferevent_socket_connect(q->agent, (struct sockaddr *)&sun, sizeof(sun)) < 0)
        agent_lost(q);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct queue *q = arg;
    if (sig == SIGHUP) {
        spool_scan(&q->spool, load, q);
        return;
    }
    if (q->stopping)
        return;
    q->stopping = true;
    log_info("stopping");
    /* Wait for the answers of jobs in flight and the envelope writes. */
    if (q->jobs == 0 && syncer_busy(q->syncer) == 0)
        event_base_loopexit(q->base, NULL);
}

int queue_main(struct daemon_env *env)
{
    struct queue q;
    memset(&q, 0, sizeof(q));
    q.cfg = env->cfg;
    q.denv = env;
    q.base = event_base_new();
    if (!q.base)
        log_fatal("cannot create an event loop");
    const char *err;
    if (spool_open(&q.spool, q.cfg->data_dir, &err) < 0)
        log_fatal("cannot open the spool under %s: %s", q.cfg->data_dir, err);
    q.syncer = syncer_new(q.base,
                          q.cfg->spool_sync == SPOOL_SYNC_SYNCFS ? SYNCER_SYNCFS : SYNCER_FSYNC, 2);
    q.kick_ev = event_new(q.base, -1, 0, on_kick, &q);
    q.tick_ev = event_new(q.base, -1, EV_PERSIST, on_tick, &q);
    q.scan_ev = event_new(q.base, -1, EV_PERSIST, on_scan, &q);
    q.reconnect_ev = event_new(q.base, -1, 0, on_reconnect, &q);
    event_add(q.tick_ev, &(struct timeval){1, 0});
    event_add(q.scan_ev, &(struct timeval){(time_t)q.cfg->queue_scan_interval, 0});

    /* Watch before the first scan, so nothing slips between the two. */
    q.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    char qdir[4096];
    daemon_path(q.cfg, "spool/queue", qdir, sizeof(qdir));
    if (q.inotify_fd < 0 || inotify_add_watch(q.inotify_fd, qdir, IN_MOVED_TO) < 0)
        log_warn("inotify unavailable (%s): new mail is seen at the next scan", strerror(errno));
    else {
        q.inotify_ev = event_new(q.base, q.inotify_fd, EV_READ | EV_PERSIST, on_inotify, &q);
        event_add(q.inotify_ev, NULL);
    }
    int nfree = spool_free_count(&q.spool);
    q.free_estimate = nfree < 0 ? SPOOL_FREE_MAX : nfree;
    size_t n = spool_scan(&q.spool, load, &q);
    log_info("ready, %zu message%s in the queue", n, n == 1 ? "" : "s");

    q.sigterm_ev = evsignal_new(q.base, SIGTERM, on_signal, &q);
    q.sigint_ev = evsignal_new(q.base, SIGINT, on_signal, &q);
    q.sighup_ev = evsignal_new(q.base, SIGHUP, on_signal, &q);
    event_add(q.sigterm_ev, NULL);
    event_add(q.sigint_ev, NULL);
    event_add(q.sighup_ev, NULL);
    on_reconnect(-1, 0, &q);

    event_base_dispatch(q.base);

    syncer_free(&q.syncer);
    if (q.agent)
        bufferevent_free(q.agent);
    for (size_t b = 0; b < BUCKETS; b++)
        while (q.table[b]) {
            struct qmsg *m = q.table[b];
            q.table[b] = m->hnext;
            if (m->op_fd >= 0)
                close(m->op_fd);
            envelope_free(&m->env);
            free(m);
        }
    event_free(q.kick_ev);
    event_free(q.tick_ev);
    event_free(q.scan_ev);
    event_free(q.reconnect_ev);
    if (q.inotify_ev)
        event_free(q.inotify_ev);
    if (q.inotify_fd >= 0)
        close(q.inotify_fd);
    event_free(q.sigterm_ev);
    event_free(q.sigint_ev);
    event_free(q.sighup_ev);
    spool_close(&q.spool);
    event_base_free(q.base);
    return 0;
}
