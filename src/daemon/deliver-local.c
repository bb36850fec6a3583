/* deliver-local: the process that writes into mailboxes. It takes
 * DELIVER jobs from the queue manager over its Unix socket, writes the
 * copies (deliver/deliver-local), makes them durable in batches (syncer)
 * and answers each job with its RESULT. */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent-link.h"
#include "daemon.h"
#include "deliver/deliver-ipc.h"
#include "deliver/deliver-local.h"
#include "lib/log.h"
#include "lib/syncer.h"
#include "lib/xalloc.h"
#include "queue/spool.h"
#include "state/state-db.h"
#include "state/state-user.h"

struct dl {
    struct config *cfg;
    struct event_base *base;
    struct agent_link *link;
    struct event *sigterm_ev, *sigint_ev;
    struct syncer *syncer;
    struct spool spool;
    char mail_dir[4096];
    struct state_db *db; /* quota lookups; NULL: none checked */
};

struct dl_op_ref {
    struct local_delivery *ld;
    struct agent_conn *conn;
};

/* Log the outcome of each recipient and send the RESULT. */
static void job_finish(struct agent_conn *c, struct local_delivery *ld)
{
    for (size_t i = 0; i < ld->job.n; i++) {
        const struct deliver_rcpt *r = &ld->job.rcpts[i];
        const char *status = r->outcome == DELIVER_OK         ? "delivered"
                             : r->outcome == DELIVER_TEMPFAIL ? "deferred"
                                                              : "bounced";
        log_info("%s: to=<%s>, relay=local, status=%s (%s)", ld->job.qid, r->addr, status,
                 r->text ? r->text : "");
    }
    agent_conn_answer(c, &ld->job);
    deliver_local_free(ld);
    free(ld);
}

static void op_done(struct sync_op *op)
{
    struct dl_op_ref *ref = op->arg;
    struct local_delivery *ld = ref->ld;
    struct agent_conn *c = ref->conn;
    size_t i = (size_t)(op - ld->ops);
    deliver_local_complete(ld, i);
    free(ref);
    if (--ld->ops_left == 0)
        job_finish(c, ld);
}

/* The quota of a mailbox from the users table (the configuration's
 * default when the account has none of its own). */
static int quota_lookup(void *arg, const char *address, struct store_quota *q)
{
    struct dl *d = arg;
    unsigned long long bytes = 0, messages = 0;
    int rc = state_user_quota(d->db, address, d->cfg->mail_quota, d->cfg->mail_quota_messages,
                              &bytes, &messages);
    if (rc < 0)
        return -1;
    q->bytes_limit = bytes;
    q->messages_limit = messages;
    return 0;
}

static void handle_job(void *ctx, struct agent_conn *c, struct deliver_job *job)
{
    struct dl *d = ctx;
    struct local_delivery *ld = xcalloc(1, sizeof(*ld));
    ld->job = *job;
    if (d->db) {
        ld->quota_lookup = quota_lookup;
        ld->quota_arg = d;
    }
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
        ref->conn = c;
        ld->ops[i].done = op_done;
        ld->ops[i].arg = ref;
        syncer_submit(d->syncer, &ld->ops[i]);
    }
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    struct dl *d = arg;
    /* Jobs in progress finish and are answered; the queue manager closes
     * its connection when it stops, and then this process ends. */
    agent_link_stop(d->link);
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
    char dbpath[4096];
    daemon_path(d.cfg, "state/postino.db", dbpath, sizeof(dbpath));
    char *dberr = NULL;
    d.db = state_db_open(dbpath, false, &dberr);
    if (!d.db) {
        log_error("no quota checks: %s", dberr);
        free(dberr);
    }
    d.syncer = syncer_new(d.base,
                          d.cfg->spool_sync == SPOOL_SYNC_SYNCFS ? SYNCER_SYNCFS : SYNCER_FSYNC, 4);
    d.link = agent_link_new(d.base, env->deliver_fd, handle_job, &d);
    if (!d.link)
        log_fatal("cannot listen on %s", env->deliver_path);
    d.sigterm_ev = evsignal_new(d.base, SIGTERM, on_signal, &d);
    d.sigint_ev = evsignal_new(d.base, SIGINT, on_signal, &d);
    event_add(d.sigterm_ev, NULL);
    event_add(d.sigint_ev, NULL);
    daemon_signals_ready();
    log_info("ready");

    event_base_dispatch(d.base);

    /* Everything written is made durable and answered before exit. */
    syncer_free(&d.syncer);
    agent_link_free(&d.link);
    event_free(d.sigterm_ev);
    event_free(d.sigint_ev);
    spool_close(&d.spool);
    state_db_close(&d.db);
    event_base_free(d.base);
    return 0;
}
