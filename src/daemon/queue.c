/* queue: the queue manager. It learns of new messages from the spool
 * directory itself (inotify, and a periodic rescan as a safety net), routes
 * each recipient (queue/route) to deliver-local or deliver-smtp, records
 * each outcome in the envelope, sends the sender its delivery status
 * notifications (queue/dsn) and removes a message once every recipient is
 * done. The spool is the truth: after a restart the same work is found
 * again. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "certify/certify-flow.h"
#include "certify/certify-receipt.h"
#include "daemon.h"
#include "deliver/deliver-ipc.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/net.h"
#include "lib/str.h"
#include "lib/syncer.h"
#include "lib/xalloc.h"
#include "queue/dsn.h"
#include "queue/envelope.h"
#include "queue/events.h"
#include "queue/route.h"
#include "queue/schedule.h"
#include "queue/spool.h"
#include "smtp/smtp-address.h"
#include "smtp/smtp-command.h"
#include "state/state-db.h"
#include "state/state-domain.h"
#include "state/state-resolve.h"

#define BUCKETS      4099
#define MAX_JOBS     512                /* DELIVER jobs outstanding at once, per agent */
#define DSN_FULL_MAX (10 * 1024 * 1024) /* RET=FULL returns at most this much */

enum agent_kind {
    AGENT_LOCAL,
    AGENT_SMTP,
    AGENT_COUNT,
};

/* A delivery process and the connection to it. */
struct agent {
    struct queue *q;
    enum agent_kind kind;
    const char *name;
    const char *path;
    struct bufferevent *bev;
    bool up;
    size_t jobs;
    struct event *reconnect_ev;
};

/* A job sent to an agent and not answered yet. */
struct pjob {
    uint32_t id;
    struct qmsg *m;
    struct agent *a;
    struct pjob *next;
};

struct qmsg {
    struct queue *q;
    struct envelope env;
    unsigned jobs_out; /* jobs sent and not answered */
    bool writing;      /* an envelope write or removal is in progress */
    bool remove;       /* the pending op removes the message */
    bool ready;        /* on the ready list */
    int certified;     /* a transport envelope of certified mail: 0 unknown, 1 yes, 2 no */
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
    struct event *sigterm_ev, *sigint_ev, *sighup_ev;
    int inotify_fd;
    struct agent agents[AGENT_COUNT];
    struct pjob *pjobs;
    struct state_db *db;
    struct evconnlistener *ctl;
    struct events *events;
    struct event *events_ev;
    uint32_t next_job;
    int free_estimate;            /* files in spool/free (recounted every second) */
    struct certify_flow *certify; /* certified mail (certified_domains), or NULL */
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

static size_t jobs_out(const struct queue *q)
{
    size_t n = 0;
    for (int i = 0; i < AGENT_COUNT; i++)
        n += q->agents[i].jobs;
    return n;
}

/* Stopping: exit once nothing is in flight. */
static void maybe_exit(struct queue *q)
{
    if (q->stopping && jobs_out(q) == 0 && syncer_busy(q->syncer) == 0)
        event_base_loopexit(q->base, NULL);
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
    maybe_exit(q);
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
    size_t open = 0;
    for (size_t i = 0; i < m->env.nrcpts; i++)
        open += m->env.rcpts[i].status == RCPT_PENDING || m->env.rcpts[i].status == RCPT_DEFERRED;
    events_add(q->events, id, "queued", NULL, "in the queue, %zu of %zu recipient%s to deliver",
               open, m->env.nrcpts, m->env.nrcpts == 1 ? "" : "s");
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
        events_add(q->events, m->env.id, "done", NULL,
                   "every recipient done; removed from "
                   "the queue");
        forget(q, m);
        return;
    }
    maybe_exit(q);
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

/* True if m is a transport envelope of certified mail (certify-flow.h);
 * found out once, from its header. */
static bool certified_envelope(struct queue *q, struct qmsg *m)
{
    if (!q->certify)
        return false;
    if (m->certified == 0) {
        struct buf hdr;
        buf_init(&hdr, BUF_UNLIMITED);
        unsigned long long start, len;
        int fd = spool_open_message(&q->spool, m->env.id, &start, &len);
        if (fd < 0)
            return false; /* not known yet: asked again */
        size_t want = len < 64 * 1024 ? (size_t)len : 64 * 1024;
        char *p = buf_reserve(&hdr, want);
        ssize_t n = p ? pread(fd, p, want, (off_t)start) : -1;
        close(fd);
        if (n > 0) {
            buf_commit(&hdr, (size_t)n);
            m->certified = certify_flow_is_envelope(hdr.data, hdr.len) ? 1 : 2;
        }
        buf_free(&hdr);
    }
    return m->certified == 1;
}

/* Read the whole message of m (at most CERTIFY_MESSAGE_MAX) into out.
 * 0, or -1 if it cannot be read or is too long. */
static int read_certified(struct queue *q, struct qmsg *m, struct buf *out)
{
    unsigned long long start, len;
    int fd = spool_open_message(&q->spool, m->env.id, &start, &len);
    if (fd < 0)
        return -1;
    int rc = -1;
    if (len <= (unsigned long long)CERTIFY_MESSAGE_MAX) {
        char *p = buf_reserve(out, (size_t)len);
        ssize_t n = p ? pread(fd, p, (size_t)len, (off_t)start) : -1;
        if (n == (ssize_t)len) {
            buf_commit(out, (size_t)n);
            rc = 0;
        }
    }
    close(fd);
    return rc;
}

/* Tell certified mail what happened to recipient r of m (a transport
 * envelope): true if it sent the sender a receipt or notice. */
static bool certify_outcome(struct queue *q, struct qmsg *m, struct envelope_rcpt *r,
                            enum certify_outcome o, const char *text)
{
    if (!certified_envelope(q, m))
        return false;
    struct buf msg;
    buf_init(&msg, (size_t)CERTIFY_MESSAGE_MAX);
    bool sent = read_certified(q, m, &msg) == 0 &&
                certify_flow_outcome(q->certify, m->env.id, msg.data ? msg.data : "", msg.len,
                                     r->addr, o, text);
    buf_free(&msg);
    if (sent)
        events_add(q->events, m->env.id, "certified", r->addr, "certified mail: %s sent",
                   o == CERTIFY_OUT_DELIVERED ? "delivery receipt"
                   : o == CERTIFY_OUT_FAILED  ? "delivery failure notice"
                   : o == CERTIFY_OUT_WARNING ? "warning (not delivered yet)"
                                              : "final notice (not delivered)");
    return sent;
}

/* Recipient r of m (a transport envelope) was handed over to relay: its
 * delivery receipt is awaited from the peer service (certify-flow.h). */
static void certify_handover(struct queue *q, struct qmsg *m, struct envelope_rcpt *r,
                             const char *relay)
{
    if (!certified_envelope(q, m))
        return;
    struct buf msg;
    buf_init(&msg, (size_t)CERTIFY_MESSAGE_MAX);
    if (read_certified(q, m, &msg) == 0 &&
        certify_flow_handed_over(q->certify, m->env.id, msg.data ? msg.data : "", msg.len, r->addr,
                                 relay))
        events_add(q->events, m->env.id, "certified", r->addr,
                   "certified mail: delivery receipt awaited from the recipient's service");
    buf_free(&msg);
}

/* Where a receipt or notice of certified mail goes. */
static bool dsn_destination(struct queue *q, const char *sender, struct envelope *env);
static bool certify_resolve(void *arg, const char *addr, struct envelope *env)
{
    return dsn_destination(arg, addr, env);
}

/* A recipient failed temporarily: schedule it again, or expire it. */
static void defer(struct queue *q, struct qmsg *m, struct envelope_rcpt *r, const char *text)
{
    long long now = now_s();
    r->attempts++;
    envelope_rcpt_set_last(r, text);
    /* Certified mail: a warning after certified_warning_after, the final
     * notice after certified_failure_after (then given up). */
    if (q->certify && certified_envelope(q, m)) {
        long long age = now - m->env.arrival;
        if (age >= q->cfg->certified_failure_after) {
            r->status = RCPT_EXPIRED;
            events_add(q->events, m->env.id, "expired", r->addr,
                       "certified mail not delivered after %lld s; last: %s", age, text);
            if (certify_outcome(q, m, r, CERTIFY_OUT_EXPIRED, text))
                r->notified = true;
            return;
        }
        if (age >= q->cfg->certified_warning_after && !r->warned &&
            certify_outcome(q, m, r, CERTIFY_OUT_WARNING, text))
            r->warned = true;
    }
    if (now - m->env.arrival >= q->cfg->max_queue_lifetime) {
        r->status = RCPT_EXPIRED;
        log_info("%s: to=<%s>, status=expired, delay=%llds (%s)", m->env.id, r->addr,
                 now - m->env.arrival, text);
        events_add(q->events, m->env.id, "expired", r->addr,
                   "given up after %lld s in the queue; last: %s", now - m->env.arrival, text);
        return;
    }
    r->status = RCPT_DEFERRED;
    r->next_try =
        now + schedule_retry_delay(r->attempts, q->cfg->queue_retry_min, q->cfg->queue_retry_max);
    char when[32];
    time_t nt = (time_t)r->next_try;
    struct tm tm;
    localtime_r(&nt, &tm);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
    events_add(q->events, m->env.id, "deferred", r->addr, "%s; next try at %s", text, when);
}

/* Record what happened to a recipient. */
static void apply_outcome(struct queue *q, struct qmsg *m, struct envelope_rcpt *r,
                          enum deliver_outcome o, const char *text, const char *relay)
{
    r->last_try = now_s();
    free(r->relay);
    r->relay = relay ? xstrdup(relay) : NULL;
    if (o == DELIVER_OK) {
        r->status = RCPT_DELIVERED;
        envelope_rcpt_set_last(r, text);
        bool discarded = strncmp(text, "2.0.0 discarded", 15) == 0;
        if (discarded)
            log_info("%s: to=<%s>, status=discarded (%s)", m->env.id, r->addr, text);
        events_add(q->events, m->env.id, discarded ? "discarded" : "delivered", r->addr,
                   "%s%s%s%s%s%s%s", m->env.filter ? "to the content filter " : "",
                   m->env.filter ? m->env.filter : "", m->env.filter ? ": " : "", text,
                   relay ? " (by " : "", relay ? relay : "", relay ? ")" : "");
        if (r->route == ROUTE_LOCAL && !discarded && !m->env.filter)
            certify_outcome(q, m, r, CERTIFY_OUT_DELIVERED, text);
        else if (r->route == ROUTE_REMOTE && !discarded && !m->env.filter)
            certify_handover(q, m, r, relay);
        return;
    }
    if (o == DELIVER_PERMFAIL && q->cfg->soft_bounce) {
        /* soft_bounce: keep the message while the administrator fixes the
         * cause; say what would have happened. */
        char soft[1200];
        snprintf(soft, sizeof(soft), "soft bounce: %s", text);
        defer(q, m, r, soft);
        log_info("%s: to=<%s>, status=deferred (%s)", m->env.id, r->addr, soft);
        return;
    }
    if (o == DELIVER_PERMFAIL) {
        r->status = RCPT_BOUNCED;
        r->attempts++;
        envelope_rcpt_set_last(r, text);
        events_add(q->events, m->env.id, "bounced", r->addr, "%s%s%s%s", text,
                   relay ? " (from " : "", relay ? relay : "", relay ? ")" : "");
        /* Certified mail: the failure notice instead of the DSN. */
        if (certify_outcome(q, m, r, CERTIFY_OUT_FAILED, text))
            r->notified = true;
        return;
    }
    defer(q, m, r, text);
}

/* --- delivery status notifications --- */

struct dsn_commit {
    struct sync_op op;
    struct spool_file *f;
    char id[QUEUE_ID_LEN + 1];
};

static void dsn_committed(struct sync_op *op)
{
    struct dsn_commit *dc = op->arg;
    if (op->error)
        log_error("%s: cannot queue the notification: %s", dc->id, strerror(op->error));
    spool_file_done(&dc->f, op->error == 0);
    free(dc);
}

/* Read the original: its header section, or (full) all of it. */
static void read_original(struct queue *q, const char *id, bool full, struct buf *out)
{
    unsigned long long start, len;
    int fd = spool_open_message(&q->spool, id, &start, &len);
    if (fd < 0)
        return;
    size_t want = full ? (len < DSN_FULL_MAX ? (size_t)len : DSN_FULL_MAX)
                       : (len < 256 * 1024 ? (size_t)len : 256 * 1024);
    char *p = buf_reserve(out, want);
    ssize_t n = p ? pread(fd, p, want, (off_t)start) : -1;
    close(fd);
    if (n <= 0)
        return;
    buf_commit(out, (size_t)n);
    if (!full) {
        const char *end = strstr(buf_cstr(out), "\r\n\r\n");
        if (end)
            buf_truncate(out, (size_t)(end - out->data) + 2);
    }
}

/* Where a notification to sender goes: its route(s), or none (unknown
 * local address: log and drop, never bounce a bounce). */
static bool dsn_destination(struct queue *q, const char *sender, struct envelope *env)
{
    struct smtp_path p;
    if (smtp_mailbox_parse(sender, strlen(sender), &p) != SMTP_PATH_OK)
        return false;
    struct resolve_result res;
    enum resolve_status st =
        p.literal || !q->db ? RESOLVE_NOT_OURS : state_resolve(q->db, p.local, p.domain, &res);
    if (st == RESOLVE_NOT_OURS) {
        envelope_add_rcpt(env, p.mailbox, NULL, NULL, SMTP_NOTIFY_NEVER, ROUTE_REMOTE);
        return true;
    }
    if (st != RESOLVE_OK)
        return false;
    for (size_t i = 0; i < res.n; i++)
        envelope_add_rcpt(env, res.dests[i].addr, NULL, NULL, SMTP_NOTIFY_NEVER,
                          res.dests[i].local ? ROUTE_LOCAL : ROUTE_REMOTE);
    resolve_result_free(&res);
    return true;
}

/* Send the sender the notifications this round calls for: failures (a
 * bounce or an expiry), delays past delay_warning_time, and successes
 * asked for with NOTIFY=SUCCESS. Never to the null sender. */
static void notify_sender(struct queue *q, struct qmsg *m)
{
    struct envelope *env = &m->env;
    long long now = now_s();
    struct dsn_rcpt *list = xcalloc(env->nrcpts, sizeof(*list));
    char(*texts)[1100] = xcalloc(env->nrcpts, sizeof(*texts));
    size_t n = 0;
    for (size_t i = 0; i < env->nrcpts; i++) {
        struct envelope_rcpt *r = &env->rcpts[i];
        unsigned nf = r->notify;
        bool want_fail = !(nf & SMTP_NOTIFY_NEVER) && (nf == 0 || (nf & SMTP_NOTIFY_FAILURE));
        bool want_delay = !(nf & SMTP_NOTIFY_NEVER) && (nf == 0 || (nf & SMTP_NOTIFY_DELAY));
        bool want_success = (nf & SMTP_NOTIFY_SUCCESS) != 0;
        enum dsn_action action;
        if ((r->status == RCPT_BOUNCED || r->status == RCPT_EXPIRED) && !r->notified) {
            r->notified = true;
            if (!want_fail)
                continue;
            action = DSN_FAILED;
        } else if (r->status == RCPT_DELIVERED && !r->notified && want_success) {
            r->notified = true;
            action = DSN_DELIVERED;
        } else if (r->status == RCPT_DEFERRED && !r->warned && want_delay &&
                   q->cfg->delay_warning_time > 0 &&
                   now - env->arrival >= q->cfg->delay_warning_time) {
            r->warned = true;
            action = DSN_DELAYED;
        } else {
            continue;
        }
        if (r->status == RCPT_EXPIRED)
            snprintf(texts[n], sizeof(texts[n]), "4.4.7 delivery time expired (last: %s)",
                     r->last ? r->last : "no attempt");
        else
            snprintf(texts[n], sizeof(texts[n]), "%s", r->last ? r->last : "");
        list[n].addr = r->addr;
        list[n].orcpt = r->orcpt;
        list[n].action = action;
        list[n].reply = texts[n];
        list[n].remote_mta = r->relay;
        list[n].last_attempt = r->last_try;
        n++;
    }
    if (n == 0 || !env->sender[0]) {
        if (n)
            log_info("%s: no notification for the null sender", env->id);
        free(list);
        free(texts);
        return;
    }
    struct dsn_info info = {
        .hostname = q->cfg->hostname,
        .qid = env->id,
        .envid = env->envid,
        .arrival = env->arrival,
        .now = now,
        .sender = env->sender,
        .retry_until = env->arrival + q->cfg->max_queue_lifetime,
    };
    struct buf orig, text;
    buf_init(&orig, BUF_UNLIMITED);
    buf_init(&text, BUF_UNLIMITED);
    bool full = env->ret == 1; /* RET=FULL */
    read_original(q, env->id, full, &orig);
    dsn_compose(&info, list, n, buf_cstr(&orig), orig.len, full, &text);
    buf_free(&orig);
    free(list);
    free(texts);

    struct envelope denv;
    envelope_init(&denv);
    denv.sender = xstrdup("");
    denv.proto = xstrdup("dsn");
    if (!dsn_destination(q, env->sender, &denv)) {
        log_warn("%s: cannot return a notification to <%s> (not a deliverable address); "
                 "dropped",
                 env->id, env->sender);
        envelope_free(&denv);
        buf_free(&text);
        return;
    }
    struct dsn_commit *dc = xcalloc(1, sizeof(*dc));
    dc->f = spool_file_create(&q->spool, dc->id);
    if (!dc->f || spool_file_write(dc->f, text.data, text.len) < 0) {
        log_error("%s: cannot create the notification: %s", env->id, strerror(errno));
        if (dc->f)
            spool_file_abort(&dc->f);
        free(dc);
        envelope_free(&denv);
        buf_free(&text);
        return;
    }
    memcpy(denv.id, dc->id, sizeof(denv.id));
    denv.arrival = now;
    denv.size = spool_file_size(dc->f);
    denv.has_8bit = denv.body_8bit = !str_is_ascii(text.data, text.len);
    if (spool_file_finish(dc->f, &denv, &dc->op) < 0) {
        log_error("%s: cannot write the notification: %s", env->id, strerror(errno));
        spool_file_done(&dc->f, false);
        free(dc);
    } else {
        log_info("%s: sender delivery status notification: %s", env->id, dc->id);
        events_add(q->events, env->id, "notified", NULL,
                   "delivery status notification %s sent to <%s>", dc->id, env->sender);
        events_add(q->events, dc->id, "received", NULL,
                   "delivery status notification about %s, to <%s>", env->id, env->sender);
        dc->op.done = dsn_committed;
        dc->op.arg = dc;
        syncer_submit(q->syncer, &dc->op);
    }
    envelope_free(&denv);
    buf_free(&text);
}

/* Every outcome of this round is in: notify the sender, then write the
 * envelope or remove the message. */
static void finish_round(struct queue *q, struct qmsg *m)
{
    notify_sender(q, m);
    persist(q, m);
}

/* The recipients of one message going to one agent and next hop. */
struct group {
    struct agent *a;
    struct deliver_job job;
};

/* Mail that starts here is DKIM-signed on its way out: from a logged-in
 * user (the protocol name ends in "A", RFC 3848), from sendmail, our own
 * reports, or a client in relay_networks. */
static bool originates_here(const struct queue *q, const struct envelope *env)
{
    const char *p = env->proto ? env->proto : "";
    size_t n = strlen(p);
    if (strcmp(p, "local") == 0 || strcmp(p, "dsn") == 0 || (n > 1 && p[n - 1] == 'A'))
        return true;
    if (!env->client)
        return false;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, env->client, &s4->sin_addr) == 1)
        s4->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, env->client, &s6->sin6_addr) == 1)
        s6->sin6_family = AF_INET6;
    else
        return false;
    for (size_t i = 0; i < q->cfg->relay_networks.n; i++) {
        struct net_cidr cidr;
        if (net_parse_cidr(q->cfg->relay_networks.items[i], &cidr) == 0 &&
            net_cidr_match(&cidr, (struct sockaddr *)&ss))
            return true;
    }
    return false;
}

static void send_job(struct queue *q, struct qmsg *m, struct group *g)
{
    if (++q->next_job == 0)
        q->next_job = 1;
    g->job.job = q->next_job;
    g->job.qid = xstrdup(m->env.id);
    g->job.sender = xstrdup(m->env.sender);
    /* Not signed on the way to a content filter: it may change the message,
     * and signing is for the copy it hands back. */
    g->job.flags = (m->env.body_8bit ? DELIVER_BODY_8BIT : 0) |
                   (m->env.has_8bit ? DELIVER_HAS_8BIT : 0) |
                   (m->env.smtputf8 ? DELIVER_SMTPUTF8 : 0) |
                   (!m->env.filter && originates_here(q, &m->env) ? DELIVER_DKIM_SIGN : 0) |
                   (m->env.junk ? DELIVER_JUNK : 0);
    g->job.ret = (uint32_t)m->env.ret;
    g->job.envid = m->env.envid ? xstrdup(m->env.envid) : NULL;
    g->job.size = m->env.size;
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    if (deliver_encode_request(&g->job, &out) == 0) {
        bufferevent_write(g->a->bev, out.data, out.len);
        struct pjob *pj = xcalloc(1, sizeof(*pj));
        pj->id = g->job.job;
        pj->m = m;
        pj->a = g->a;
        pj->next = q->pjobs;
        q->pjobs = pj;
        g->a->jobs++;
        m->jobs_out++;
    } else {
        log_error("%s: too many recipients for one delivery request", m->env.id);
    }
    buf_free(&out);
}

/* Some recipients of m go to its content filter now: say so in the log,
 * and in the trace the first time (first: none of them was tried yet). */
static void record_filter(struct queue *q, struct qmsg *m, size_t n, bool first)
{
    log_info("%s: filter=%s, %zu recipient%s to the content filter (FILTER of the content "
             "policy)",
             m->env.id, m->env.filter, n, n == 1 ? "" : "s");
    if (first)
        events_add(q->events, m->env.id, "filter", NULL,
                   "every recipient goes to the content filter %s (FILTER of the content "
                   "policy) instead of its own route",
                   m->env.filter);
}

/* Route the due recipients of m and send them to the delivery agents.
 * Returns false if some could not go now (an agent down or busy). */
static bool dispatch(struct queue *q, struct qmsg *m)
{
    long long now = now_s();
    struct group groups[16];
    size_t ngroups = 0, filtered = 0;
    bool changed = false, all_sent = true, first = true;
    for (size_t i = 0; i < m->env.nrcpts; i++) {
        struct envelope_rcpt *r = &m->env.rcpts[i];
        if ((r->status != RCPT_PENDING && r->status != RCPT_DEFERRED) || r->next_try > now)
            continue;
        struct route rt;
        if (m->env.filter)
            route_filter(m->env.filter, &rt);
        else
            route_rcpt(q->db, q->cfg, r, &rt);
        if (rt.kind == ROUTE_TO_BOUNCE || rt.kind == ROUTE_TO_DEFER ||
            rt.kind == ROUTE_TO_DISCARD) {
            enum deliver_outcome o = rt.kind == ROUTE_TO_BOUNCE  ? DELIVER_PERMFAIL
                                     : rt.kind == ROUTE_TO_DEFER ? DELIVER_TEMPFAIL
                                                                 : DELIVER_OK;
            apply_outcome(q, m, r, o, rt.text, NULL);
            changed = true;
            continue;
        }
        struct agent *a = &q->agents[rt.kind == ROUTE_TO_LOCAL ? AGENT_LOCAL : AGENT_SMTP];
        if (!a->up || a->jobs >= MAX_JOBS) {
            all_sent = false;
            continue;
        }
        const char *nh = rt.kind == ROUTE_TO_LOCAL ? "" : rt.nexthop;
        struct group *g = NULL;
        for (size_t k = 0; k < ngroups; k++)
            if (groups[k].a == a && strcmp(groups[k].job.nexthop, nh) == 0)
                g = &groups[k];
        if (!g) {
            if (ngroups == sizeof(groups) / sizeof(groups[0])) {
                all_sent = false; /* the rest goes in the next round */
                continue;
            }
            g = &groups[ngroups++];
            memset(g, 0, sizeof(*g));
            g->a = a;
            g->job.nexthop = xstrdup(nh);
        }
        struct deliver_rcpt *dr = deliver_job_add(&g->job, (uint32_t)i, r->addr);
        dr->orcpt = r->orcpt ? xstrdup(r->orcpt) : NULL;
        dr->notify = r->notify;
        if (m->env.filter) {
            filtered++;
            first = first && r->attempts == 0 && r->last_try == 0;
        }
        r->last_try = now;
    }
    if (filtered)
        record_filter(q, m, filtered, first);
    for (size_t k = 0; k < ngroups; k++) {
        send_job(q, m, &groups[k]);
        deliver_job_free(&groups[k].job);
    }
    /* Without jobs out, write what changed now; else the results will. */
    if (m->jobs_out == 0 && (changed || envelope_done(&m->env)))
        finish_round(q, m);
    return all_sent;
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
        if (m->jobs_out || m->writing)
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
    /* Certified mail handed over without its delivery receipt yet. */
    certify_flow_chase(q->certify, (time_t)now);
    /* Work left on the ready list (agent busy or down) is tried again. */
    if (q->ready)
        schedule_soon(q);
    /* smtpd takes files from the pool; see how many are left. */
    int n = spool_free_count(&q->spool);
    q->free_estimate = n < 0 ? SPOOL_FREE_MAX : n;
    for (size_t b = 0; b < BUCKETS; b++) {
        for (struct qmsg *m = q->table[b]; m; m = m->hnext) {
            if (m->jobs_out || m->writing || m->ready)
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

/* Quarantined mail is kept quarantine_retention, then removed. */
static void expire_quarantine(struct queue *q)
{
    long long before = (long long)time(NULL) - q->cfg->quarantine_retention;
    size_t n = spool_quarantine_expire(&q->spool, before);
    long long r = q->cfg->quarantine_retention;
    bool days = r % 86400 == 0;
    if (n)
        log_info("removed %zu quarantined message%s older than %lld %s (quarantine_retention)", n,
                 n == 1 ? "" : "s", days ? r / 86400 : r / 3600, days ? "days" : "hours");
}

static void on_scan(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct queue *q = arg;
    spool_scan(&q->spool, load, q);
    /* The history is kept for 30 days. */
    events_prune(q->events, now_s() - 30 * 86400);
    expire_quarantine(q);
    certify_flow_maintain(q->certify, (time_t)now_s());
}

static void on_events_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct queue *q = arg;
    events_flush(q->events);
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
static void handle_result(struct queue *q, struct agent *a, struct deliver_job *res)
{
    struct pjob *pj = NULL;
    for (struct pjob **pp = &q->pjobs; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == res->job && (*pp)->a == a) {
            pj = *pp;
            *pp = pj->next;
            break;
        }
    }
    if (!pj) {
        log_warn("result for an unknown job %u from %s", res->job, a->name);
        return;
    }
    struct qmsg *m = pj->m;
    free(pj);
    a->jobs--;
    m->jobs_out--;
    /* "relay=host[ip]:port ..." -> the remote MTA's name for DSNs */
    char relay[256] = "";
    if (res->info)
        str_copyn(relay, sizeof(relay), res->info, strcspn(res->info, "[ "));
    for (size_t i = 0; i < res->n; i++) {
        const struct deliver_rcpt *d = &res->rcpts[i];
        if (d->index >= m->env.nrcpts)
            continue;
        struct envelope_rcpt *r = &m->env.rcpts[d->index];
        if (r->status != RCPT_PENDING && r->status != RCPT_DEFERRED)
            continue;
        apply_outcome(q, m, r, d->outcome, d->text ? d->text : "", relay[0] ? relay : NULL);
    }
    if (m->jobs_out == 0)
        finish_round(q, m);
}

static void agent_connect(struct agent *a);

static void agent_lost(struct agent *a)
{
    struct queue *q = a->q;
    if (a->bev) {
        bufferevent_free(a->bev);
        a->bev = NULL;
    }
    if (a->up)
        log_warn("lost the connection to %s", a->name);
    a->up = false;
    /* Jobs in flight get no answer: their recipients are still pending,
     * so they are simply tried again. */
    for (struct pjob **pp = &q->pjobs; *pp;) {
        struct pjob *pj = *pp;
        if (pj->a != a) {
            pp = &pj->next;
            continue;
        }
        *pp = pj->next;
        pj->m->jobs_out--;
        if (pj->m->jobs_out == 0)
            make_ready(q, pj->m);
        free(pj);
    }
    a->jobs = 0;
    if (q->stopping) {
        maybe_exit(q);
        return;
    }
    event_add(a->reconnect_ev, &(struct timeval){1, 0});
}

static void agent_read(struct bufferevent *bev, void *arg)
{
    struct agent *a = arg;
    struct queue *q = a->q;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        unsigned char *frame;
        size_t len;
        int r = daemon_frame_next(in, &frame, &len);
        if (r == 0)
            break;
        struct deliver_job res;
        if (r < 0 || deliver_decode_result(frame, len, &res) < 0) {
            log_error("malformed reply from %s; reconnecting", a->name);
            agent_lost(a);
            return;
        }
        evbuffer_drain(in, len);
        handle_result(q, a, &res);
        deliver_job_free(&res);
    }
    maybe_exit(q);
    schedule_soon(q);
}

static void agent_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct agent *a = arg;
    struct queue *q = a->q;
    if (what & BEV_EVENT_CONNECTED) {
        a->up = true;
        log_info("connected to %s", a->name);
        for (size_t b = 0; b < BUCKETS; b++)
            for (struct qmsg *m = q->table[b]; m; m = m->hnext)
                if (!m->jobs_out && !m->writing)
                    make_ready(q, m);
        /* Messages already on the ready list were waiting for this. */
        schedule_soon(q);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        agent_lost(a);
}

static void agent_connect(struct agent *a)
{
    struct queue *q = a->q;
    if (a->bev || q->stopping)
        return;
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    str_copy(sun.sun_path, sizeof(sun.sun_path), a->path);
    a->bev = bufferevent_socket_new(q->base, -1, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(a->bev, agent_read, NULL, agent_event, a);
    bufferevent_enable(a->bev, EV_READ | EV_WRITE);
    if (bufferevent_socket_connect(a->bev, (struct sockaddr *)&sun, sizeof(sun)) < 0)
        agent_lost(a);
}

static void on_reconnect(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    agent_connect(arg);
}

/* --- the control socket (postino queue flush|retry|hold|delete|bounce) --- */

/* A message that an administrator's command may change now. */
static struct qmsg *ctl_message(struct queue *q, const char *id, struct buf *reply)
{
    struct qmsg *m = queue_id_valid(id, strlen(id)) ? find(q, id) : NULL;
    if (!m) {
        buf_printf(reply, "error no message %s in the queue\n", id);
        return NULL;
    }
    if (m->jobs_out || m->writing) {
        buf_printf(reply, "error %s is being delivered right now; try again in a moment\n", id);
        return NULL;
    }
    return m;
}

static void retry_now(struct queue *q, struct qmsg *m)
{
    events_add(q->events, m->env.id, "retry", NULL,
               "tried again now at the administrator's "
               "request");
    for (size_t i = 0; i < m->env.nrcpts; i++)
        if (m->env.rcpts[i].status == RCPT_DEFERRED)
            m->env.rcpts[i].next_try = 0;
    make_ready(q, m);
}

/* Mark every recipient not yet done as bounced by the administrator. */
static void bounce_now(struct queue *q, struct qmsg *m)
{
    for (size_t i = 0; i < m->env.nrcpts; i++) {
        struct envelope_rcpt *r = &m->env.rcpts[i];
        if (r->status == RCPT_PENDING || r->status == RCPT_DEFERRED) {
            r->status = RCPT_BOUNCED;
            envelope_rcpt_set_last(r, "5.0.0 returned to the sender by the administrator");
        }
    }
    log_info("%s: returned to the sender by the administrator", m->env.id);
    for (size_t i = 0; i < m->env.nrcpts; i++)
        if (m->env.rcpts[i].status == RCPT_BOUNCED && !m->env.rcpts[i].notified)
            events_add(q->events, m->env.id, "bounced", m->env.rcpts[i].addr,
                       "returned to the sender by the administrator");
    finish_round(q, m);
}

static void ctl_command(struct queue *q, char *line, struct buf *reply)
{
    char *arg = strchr(line, ' ');
    if (arg)
        *arg++ = '\0';
    if (strcmp(line, "flush") == 0) {
        size_t n = 0;
        for (size_t b = 0; b < BUCKETS; b++)
            for (struct qmsg *m = q->table[b]; m; m = m->hnext)
                if (!m->jobs_out && !m->writing) {
                    retry_now(q, m);
                    n++;
                }
        log_info("queue flushed by the administrator (%zu messages)", n);
        buf_printf(reply, "ok %zu messages to be tried now\n", n);
        return;
    }
    if (!arg || !*arg) {
        buf_append_str(reply, "error missing argument\n");
        return;
    }
    if (strcmp(line, "delete-from") == 0) {
        size_t n = 0, busy = 0;
        for (size_t b = 0; b < BUCKETS; b++) {
            for (struct qmsg *m = q->table[b], *next; m; m = next) {
                next = m->hnext;
                if (!str_eq_ci(m->env.sender, arg))
                    continue;
                if (m->jobs_out || m->writing) {
                    busy++;
                    continue;
                }
                if (spool_delete(&q->spool, m->env.id) == 0) {
                    log_info("%s: deleted by the administrator", m->env.id);
                    forget(q, m);
                    n++;
                }
            }
        }
        buf_printf(reply, "ok %zu deleted%s\n", n, busy ? ", some busy: try again" : "");
        return;
    }
    struct qmsg *m = ctl_message(q, arg, reply);
    if (!m)
        return;
    if (strcmp(line, "retry") == 0) {
        retry_now(q, m);
        buf_printf(reply, "ok %s to be tried now\n", arg);
    } else if (strcmp(line, "hold") == 0) {
        if (spool_hold(&q->spool, arg) < 0) {
            buf_printf(reply, "error cannot hold %s: %s\n", arg, strerror(errno));
            return;
        }
        log_info("%s: held by the administrator", arg);
        events_add(q->events, arg, "held", NULL, "held by the administrator");
        forget(q, m);
        buf_printf(reply, "ok %s held\n", arg);
    } else if (strcmp(line, "delete") == 0) {
        if (spool_delete(&q->spool, arg) < 0) {
            buf_printf(reply, "error cannot delete %s: %s\n", arg, strerror(errno));
            return;
        }
        log_info("%s: deleted by the administrator", arg);
        events_add(q->events, arg, "deleted", NULL, "deleted by the administrator");
        forget(q, m);
        buf_printf(reply, "ok %s deleted\n", arg);
    } else if (strcmp(line, "bounce") == 0) {
        bounce_now(q, m);
        buf_printf(reply, "ok %s returned to its sender\n", arg);
    } else {
        buf_printf(reply, "error unknown command %s\n", line);
    }
}

static void ctl_read(struct bufferevent *bev, void *arg)
{
    struct queue *q = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t len;
    char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
    if (!line) {
        if (evbuffer_get_length(in) > 1024)
            bufferevent_free(bev);
        return;
    }
    struct buf reply;
    buf_init(&reply, BUF_UNLIMITED);
    ctl_command(q, line, &reply);
    free(line);
    bufferevent_write(bev, reply.data, reply.len);
    buf_free(&reply);
    bufferevent_disable(bev, EV_READ);
}

static void ctl_write(struct bufferevent *bev, void *arg)
{
    (void)arg;
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0 &&
        !(bufferevent_get_enabled(bev) & EV_READ))
        bufferevent_free(bev);
}

static void ctl_event(struct bufferevent *bev, short what, void *arg)
{
    (void)what;
    (void)arg;
    bufferevent_free(bev);
}

static void ctl_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                       void *arg)
{
    (void)l;
    (void)sa;
    (void)salen;
    struct queue *q = arg;
    struct bufferevent *bev = bufferevent_socket_new(q->base, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(bev, ctl_read, ctl_write, ctl_event, q);
    struct timeval tv = {10, 0};
    bufferevent_set_timeouts(bev, &tv, &tv);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
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
    maybe_exit(q);
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
    char dbpath[4096];
    daemon_path(q.cfg, "state/postino.db", dbpath, sizeof(dbpath));
    char *dberr = NULL;
    q.db = state_db_open(dbpath, false, &dberr);
    if (!q.db)
        log_fatal("%s", dberr);
    q.certify = certify_flow_new(q.cfg, certify_resolve, &q);
    static const char *const names[AGENT_COUNT] = {"deliver-local", "deliver-smtp"};
    const char *paths[AGENT_COUNT] = {env->deliver_path, env->smtp_client_path};
    for (int i = 0; i < AGENT_COUNT; i++) {
        struct agent *a = &q.agents[i];
        a->q = &q;
        a->kind = (enum agent_kind)i;
        a->name = names[i];
        a->path = paths[i];
        a->reconnect_ev = event_new(q.base, -1, 0, on_reconnect, a);
    }
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
    char *everr = NULL;
    q.events = events_open(q.cfg->data_dir, &everr);
    if (!q.events) {
        log_warn("no message history (trace): %s", everr);
        free(everr);
    }
    q.events_ev = event_new(q.base, -1, EV_PERSIST, on_events_timer, &q);
    event_add(q.events_ev, &(struct timeval){0, 200000});
    int nfree = spool_free_count(&q.spool);
    q.free_estimate = nfree < 0 ? SPOOL_FREE_MAX : nfree;
    size_t n = spool_scan(&q.spool, load, &q);
    daemon_signals_ready();
    log_info("ready, %zu message%s in the queue", n, n == 1 ? "" : "s");

    q.sigterm_ev = evsignal_new(q.base, SIGTERM, on_signal, &q);
    q.sigint_ev = evsignal_new(q.base, SIGINT, on_signal, &q);
    q.sighup_ev = evsignal_new(q.base, SIGHUP, on_signal, &q);
    event_add(q.sigterm_ev, NULL);
    event_add(q.sigint_ev, NULL);
    event_add(q.sighup_ev, NULL);
    for (int i = 0; i < AGENT_COUNT; i++)
        agent_connect(&q.agents[i]);
    if (env->queue_ctl_fd >= 0)
        q.ctl = evconnlistener_new(q.base, ctl_accept, &q, LEV_OPT_CLOSE_ON_FREE, -1,
                                   env->queue_ctl_fd);

    event_base_dispatch(q.base);

    syncer_free(&q.syncer);
    for (int i = 0; i < AGENT_COUNT; i++) {
        if (q.agents[i].bev)
            bufferevent_free(q.agents[i].bev);
        event_free(q.agents[i].reconnect_ev);
    }
    while (q.pjobs) {
        struct pjob *pj = q.pjobs;
        q.pjobs = pj->next;
        free(pj);
    }
    certify_flow_free(&q.certify);
    state_db_close(&q.db);
    event_free(q.events_ev);
    events_close(&q.events);
    if (q.ctl)
        evconnlistener_free(q.ctl);
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
