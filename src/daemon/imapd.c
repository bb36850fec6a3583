/* imapd: the IMAP service. Wires IMAP sessions (imap/imap-session) to the
 * network and logins (access-server) and to the mailbox store. One process
 * serves every connection: the sessions of one user share one open store
 * account, and a change one session makes reaches the others that have
 * the same folder selected at once; deliveries by deliver-local reach
 * sessions in IDLE through a poll of the files every half second. Once a
 * day it also expires old messages from every account's Trash and Junk
 * (imapd-expiry.h; POSTINO_TRASH_EXPIRY_INTERVAL shortens the day for
 * tests). */
#include <event2/event.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access-server.h"
#include "daemon.h"
#include "imapd-expiry.h"
#include "imap/imap-session.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "state/state-db.h"
#include "state/state-user.h"
#include "store/store.h"

#define IDLE_POLL_MS      500
#define ACCOUNT_KEEP_SECS 600 /* an account stays open this long after its last session */
#define ACCOUNTS_KEPT_MAX                                                                          \
    16 /* accounts without sessions kept open at most: each may hold                               \
        * up to STORE_SNAP_BYTES_MAX of folder rows */

/* One open store account and the sessions using it. */
struct account {
    char user[320];
    struct store_account *acc; /* the table's own reference */
    unsigned sessions;
    time_t unused_since; /* when the last session left (sessions == 0) */
    struct account *next;
};

struct imapd_session {
    struct access_conn *c;
    struct imap_session *s;
    struct account *account; /* once logged in */
    struct imapd_session *prev, *next;
};

struct imapd {
    const struct config *cfg;
    struct state_db *db; /* quotas; NULL: none enforced */
    char mail_dir[4096];
    struct account *accounts;
    struct imapd_session *sessions;
    struct event *poll_ev;
    struct access_server *srv;
    struct imapd_expiry *expiry;
};

static struct imapd imapd;

/* --- accounts --- */

/* The account's quota, read at every login so that a change applies to
 * the next session. */
static void apply_quota(struct account *a)
{
    unsigned long long bytes = 0, messages = 0;
    if (imapd.db && state_user_quota(imapd.db, a->user, imapd.cfg->mail_quota,
                                     imapd.cfg->mail_quota_messages, &bytes, &messages) == 1)
        store_account_set_quota(a->acc, bytes, messages);
}

static struct account *account_get(const char *user, const char **error_r)
{
    for (struct account *a = imapd.accounts; a; a = a->next)
        if (strcmp(a->user, user) == 0) {
            a->sessions++;
            apply_quota(a);
            return a;
        }
    char root[4096];
    if (store_account_root(imapd.mail_dir, user, root, sizeof(root)) < 0) {
        *error_r = "no mailbox path for this address";
        return NULL;
    }
    char *err = NULL;
    struct store_account *acc = store_account_open(root, &err);
    if (!acc) {
        log_error("imap: user=<%s>: cannot open the mailbox: %s", user, err);
        free(err);
        *error_r = "the mailbox cannot be opened";
        return NULL;
    }
    struct account *a = xcalloc(1, sizeof(*a));
    str_copy(a->user, sizeof(a->user), user);
    a->acc = acc;
    a->sessions = 1;
    a->next = imapd.accounts;
    imapd.accounts = a;
    apply_quota(a);
    return a;
}

static void account_close(struct account *a)
{
    for (struct account **pp = &imapd.accounts; *pp; pp = &(*pp)->next)
        if (*pp == a) {
            *pp = a->next;
            break;
        }
    store_account_unref(&a->acc);
    free(a);
}

/* Close the accounts nobody used for ACCOUNT_KEEP_SECS, and the oldest
 * unused ones past ACCOUNTS_KEPT_MAX (all of them with force). */
static void accounts_trim(time_t now, bool force)
{
    size_t unused = 0;
    for (struct account *a = imapd.accounts; a; a = a->next)
        unused += a->sessions == 0;
    for (struct account *a = imapd.accounts, *next; a; a = next) {
        next = a->next;
        if (a->sessions)
            continue;
        if (force || now - a->unused_since >= ACCOUNT_KEEP_SECS || unused > ACCOUNTS_KEPT_MAX) {
            account_close(a);
            unused--;
        }
    }
}

/* A session leaves its account. The account stays open a while: the
 * next login of the same user (a phone polling, a client's second
 * connection) then finds the index open and its folders in memory. */
static void account_put(struct account *a)
{
    if (--a->sessions > 0)
        return;
    a->unused_since = time(NULL);
    accounts_trim(a->unused_since, false);
}

/* --- the session's owner --- */

static void cb_output(void *ctx, const char *data, size_t len)
{
    struct imapd_session *p = ctx;
    access_conn_write(p->c, data, len);
}

static size_t cb_output_pending(void *ctx)
{
    struct imapd_session *p = ctx;
    return access_conn_output_len(p->c);
}

static void cb_want_output(void *ctx)
{
    struct imapd_session *p = ctx;
    access_conn_want_output(p->c, true);
}

static void cb_close(void *ctx)
{
    struct imapd_session *p = ctx;
    access_conn_close(p->c);
}

static void cb_starttls(void *ctx)
{
    struct imapd_session *p = ctx;
    access_conn_starttls(p->c);
}

static void cb_auth(void *ctx, const char *user, const char *password, size_t len)
{
    struct imapd_session *p = ctx;
    access_conn_authenticate(p->c, user, password, len);
}

static struct store_account *cb_open_account(void *ctx, const char *user, const char **error_r)
{
    struct imapd_session *p = ctx;
    if (p->account) {
        account_put(p->account);
        p->account = NULL;
    }
    p->account = account_get(user, error_r);
    return p->account ? store_account_ref(p->account->acc) : NULL;
}

static void cb_changed(void *ctx, const char *folder)
{
    struct imapd_session *p = ctx;
    if (!p->account)
        return;
    for (struct imapd_session *o = imapd.sessions; o; o = o->next) {
        if (o == p || o->account != p->account || !o->s)
            continue;
        const char *f = imap_session_folder(o->s);
        if (f && strcmp(f, folder) == 0)
            imap_session_notify(o->s);
    }
}

static void cb_set_timeout(void *ctx, long long seconds)
{
    struct imapd_session *p = ctx;
    access_conn_set_timeout(p->c, seconds);
}

static void cb_log(void *ctx, const char *text)
{
    struct imapd_session *p = ctx;
    const char *user = p->s ? imap_session_user(p->s) : NULL;
    log_info("imap: [%s] user=<%s> %s", access_conn_ip(p->c), user ? user : "", text);
}

static const struct imap_session_callbacks session_callbacks = {
    .output = cb_output,
    .output_pending = cb_output_pending,
    .want_output = cb_want_output,
    .close = cb_close,
    .starttls = cb_starttls,
    .auth = cb_auth,
    .open_account = cb_open_account,
    .changed = cb_changed,
    .set_timeout = cb_set_timeout,
    .log = cb_log,
};

/* --- the protocol hooks of access-server --- */

/* After an event from the owner: let the input flow again if the session
 * is no longer busy. */
static void after_event(struct imapd_session *p)
{
    if (!imap_session_busy(p->s))
        access_conn_resume(p->c);
}

static void *proto_session_new(struct access_conn *c, bool tls)
{
    struct imapd_session *p = xcalloc(1, sizeof(*p));
    p->c = c;
    p->next = imapd.sessions;
    if (imapd.sessions)
        imapd.sessions->prev = p;
    imapd.sessions = p;
    struct access_server *srv = access_conn_server(c);
    const struct config *cfg = access_server_config(srv);
    struct imap_session_settings set = {
        .hostname = cfg->hostname,
        .tls = tls,
        .starttls = !tls && access_server_has_tls(srv),
        .plaintext_login = access_conn_plaintext_login_ok(c),
        .max_append = (uint64_t)cfg->message_size_limit,
        .idle_timeout = cfg->imap_timeout,
    };
    p->s = imap_session_new(&set, &session_callbacks, p);
    return p;
}

static size_t proto_input(void *session, const char *data, size_t len)
{
    struct imapd_session *p = session;
    size_t used = imap_session_input(p->s, data, len);
    if (imap_session_busy(p->s))
        access_conn_busy(p->c);
    return used;
}

static void proto_tls_started(void *session)
{
    struct imapd_session *p = session;
    imap_session_tls_started(p->s);
    after_event(p);
}

static void proto_auth_done(void *session, const struct auth_outcome *o)
{
    struct imapd_session *p = session;
    enum imap_auth_result r = IMAP_AUTH_FAIL;
    if (o->result == AUTH_OK)
        r = IMAP_AUTH_OK;
    else if (o->result == AUTH_TEMPFAIL)
        r = IMAP_AUTH_TEMPFAIL;
    imap_session_auth_done(p->s, r, o->user);
    after_event(p);
}

static void proto_output_drained(void *session)
{
    struct imapd_session *p = session;
    imap_session_output_drained(p->s);
    after_event(p);
}

static void proto_timeout(void *session)
{
    struct imapd_session *p = session;
    imap_session_timeout(p->s);
}

static void proto_shutdown(void *session)
{
    struct imapd_session *p = session;
    imap_session_shutdown(p->s);
}

static void proto_session_free(void *session)
{
    struct imapd_session *p = session;
    imap_session_free(&p->s);
    if (p->account)
        account_put(p->account);
    if (p->prev)
        p->prev->next = p->next;
    else
        imapd.sessions = p->next;
    if (p->next)
        p->next->prev = p->prev;
    free(p);
}

static void proto_refusal(const char *why, char *out, size_t outsize)
{
    snprintf(out, outsize, "* BYE [UNAVAILABLE] %s\r\n", why);
}

static const struct access_protocol imap_protocol = {
    .name = "imap",
    .session_new = proto_session_new,
    .input = proto_input,
    .tls_started = proto_tls_started,
    .auth_done = proto_auth_done,
    .output_drained = proto_output_drained,
    .timeout = proto_timeout,
    .shutdown = proto_shutdown,
    .session_free = proto_session_free,
    .refusal = proto_refusal,
};

/* Sessions in IDLE look at their folder's files (deliveries). */
static void on_poll(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    static time_t last_trim;
    time_t now = time(NULL);
    if (now - last_trim >= 60) {
        last_trim = now;
        accounts_trim(now, false);
    }
    for (struct imapd_session *p = imapd.sessions; p; p = p->next)
        if (p->s && imap_session_idling(p->s))
            imap_session_notify(p->s);
}

/* The expiry's hooks: the retention of the (maybe reloaded) config, and
 * the sessions of an account that lost messages look again. */
static unsigned expiry_days(void *arg)
{
    (void)arg;
    long long d = access_server_config(imapd.srv)->trash_retention_days;
    return d > 0 ? (unsigned)d : 0;
}

static void expiry_expunged(const char *root, void *arg)
{
    (void)arg;
    for (struct imapd_session *p = imapd.sessions; p; p = p->next)
        if (p->s && p->account && strcmp(store_account_path(p->account->acc), root) == 0)
            imap_session_notify(p->s);
}

static void teardown(struct access_server *srv, void *arg)
{
    (void)srv;
    (void)arg;
    if (imapd.poll_ev)
        event_free(imapd.poll_ev);
    imapd.poll_ev = NULL;
    accounts_trim(0, true);
    imapd_expiry_stop(&imapd.expiry);
}

static void setup(struct access_server *srv, void *arg)
{
    (void)arg;
    imapd.poll_ev = event_new(access_server_base(srv), -1, EV_PERSIST, on_poll, NULL);
    struct timeval tv = {0, IDLE_POLL_MS * 1000};
    event_add(imapd.poll_ev, &tv);
    imapd.srv = srv;
    struct imapd_expiry_hooks hooks = {expiry_days, expiry_expunged, NULL};
    imapd.expiry = imapd_expiry_start(access_server_base(srv), imapd.mail_dir, &hooks);
}

int imapd_main(struct daemon_env *env)
{
    /* A view of a large folder holds an array of several MiB, allocated at
     * SELECT and freed at CLOSE. glibc would map each one afresh and give
     * the pages back when it is freed, so every SELECT of a big folder paid
     * for faulting them in again (0.5 ms a MiB); kept in the heap up to
     * these sizes they are reused. */
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
    memset(&imapd, 0, sizeof(imapd));
    imapd.cfg = env->cfg;
    daemon_path(env->cfg, "mail", imapd.mail_dir, sizeof(imapd.mail_dir));
    char dbpath[4096];
    daemon_path(env->cfg, "state/postino.db", dbpath, sizeof(dbpath));
    char *dberr = NULL;
    imapd.db = state_db_open(dbpath, false, &dberr);
    if (!imapd.db) {
        log_error("no quotas: %s", dberr);
        free(dberr);
    }
    struct access_listener listeners[DAEMON_MAX_LISTENERS];
    size_t n = 0;
    for (size_t i = 0; i < env->n_access_fds; i++) {
        enum access_service s = env->access_services[i];
        if (s != ACCESS_IMAP && s != ACCESS_IMAPS)
            continue;
        listeners[n].fd = env->access_fds[i];
        listeners[n].tls = s == ACCESS_IMAPS;
        n++;
    }
    struct access_settings set = {
        .max_connections = env->cfg->mail_max_connections,
        .max_connections_per_ip = env->cfg->mail_max_connections_per_ip,
        .timeout = 60,
    };
    int rc = access_server_run(env, &imap_protocol, listeners, n, &set, setup, teardown, NULL);
    state_db_close(&imapd.db);
    return rc;
}
