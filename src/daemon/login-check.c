/* login-check: logins checked on worker threads (see login-check.h). */
#include "login-check.h"

#include <stdlib.h>
#include <string.h>

#include "auth/sasl.h"
#include "daemon.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/worker.h"
#include "lib/xalloc.h"

#define LOGIN_THREADS 2

struct login_checker {
    struct worker_pool *pool;
    struct auth_settings set;
    char db_path[4096];
};

struct login_job {
    struct worker_job job; /* first: the pool hands this back */
    const char *service;
    char user[SASL_USER_MAX + 1];
    char password[PASSWORD_MAX + 1];
    size_t password_len;
    char ip[64];
    struct auth_outcome out;
    login_check_done_fn done;
    void *arg;
};

/* Each worker thread's own database connection. */
static void *thread_init(void *arg)
{
    struct login_checker *lc = arg;
    char *err = NULL;
    struct auth_context *ac = auth_context_new(lc->db_path, &lc->set, &err);
    if (!ac) {
        log_error("authentication unavailable: %s", err);
        free(err);
    }
    return ac;
}

static void thread_fini(void *state)
{
    struct auth_context *ac = state;
    auth_context_free(&ac);
}

struct login_checker *login_checker_new(struct event_base *base, const struct config *cfg)
{
    struct login_checker *lc = xcalloc(1, sizeof(*lc));
    auth_settings_from_config(&lc->set, cfg);
    daemon_path(cfg, "state/postino.db", lc->db_path, sizeof(lc->db_path));
    lc->pool = worker_pool_new(base, LOGIN_THREADS, thread_init, thread_fini, lc);
    return lc;
}

void login_checker_free(struct login_checker **lcp)
{
    struct login_checker *lc = *lcp;
    if (!lc)
        return;
    worker_pool_free(&lc->pool);
    free(lc);
    *lcp = NULL;
}

static void job_run(struct worker_job *job, void *state)
{
    struct login_job *j = (struct login_job *)job;
    if (state)
        authenticate(state, j->user, j->password, j->password_len, j->ip, &j->out);
    else
        j->out.result = AUTH_TEMPFAIL; /* no database: logged at start */
    memset(j->password, 0, sizeof(j->password));
}

/* The outcome's log lines. */
static void log_outcome(const struct login_job *j)
{
    const struct auth_outcome *o = &j->out;
    char user[SASL_USER_MAX * 4 + 1];
    str_printable(user, sizeof(user), o->user, strlen(o->user));
    if (o->result == AUTH_OK) {
        log_info("authenticated: service=%s client=%s user=<%s>%s", j->service, j->ip, user,
                 o->upgraded ? " (password hash upgraded to argon2id)" : "");
        return;
    }
    if (o->result == AUTH_TEMPFAIL) {
        log_error("authentication error: service=%s client=%s user=<%s> (database)", j->service,
                  j->ip, user);
        return;
    }
    log_warn("authentication failed: service=%s client=%s user=<%s> reason=%s%s "
             "account_failures=%lld client_failures=%lld delay=%lldms",
             j->service, j->ip, user, auth_result_name(o->result),
             o->repeated ? " (same password again)" : "", o->account_failures, o->client_failures,
             o->delay_ms);
    if (o->locked_now)
        log_warn("account locked: user=<%s> after %lld failures (last from %s)", user,
                 o->account_failures, j->ip);
}

static void job_done(struct worker_job *job)
{
    struct login_job *j = (struct login_job *)job;
    log_outcome(j);
    struct auth_outcome out = j->out;
    login_check_done_fn done = j->done;
    void *arg = j->arg;
    memset(j, 0, sizeof(*j));
    free(j);
    done(arg, &out);
}

void login_check_start(struct login_checker *lc, const char *service, const char *user,
                       const char *password, size_t password_len, const char *client_ip,
                       login_check_done_fn done, void *arg)
{
    struct login_job *j = xcalloc(1, sizeof(*j));
    j->service = service;
    str_copy(j->user, sizeof(j->user), user);
    if (password_len > PASSWORD_MAX)
        password_len = PASSWORD_MAX; /* callers refuse longer ones */
    memcpy(j->password, password, password_len);
    j->password_len = password_len;
    str_copy(j->ip, sizeof(j->ip), client_ip);
    j->done = done;
    j->arg = arg;
    j->job.run = job_run;
    j->job.done = job_done;
    worker_submit(lc->pool, &j->job);
}
