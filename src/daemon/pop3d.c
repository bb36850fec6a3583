/* pop3d: the POP3 service. Wires POP3 sessions (pop3/pop3-server) to the
 * network and logins (access-server) and to the mailbox store: a session
 * sees the INBOX of its account as it was at login, and QUIT expunges
 * what it deleted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access-server.h"
#include "daemon.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "pop3/pop3-server.h"
#include "store/store.h"

struct pop3d_session {
    struct access_conn *c;
    struct pop3_server *s;
    struct store_account *acc;
    struct store_view *view;
    uint32_t *uids; /* message i of the session is UID uids[i] */
    size_t n;
    struct buf text; /* the message being sent */
    char user[320];
};

static char mail_dir[4096];

/* --- the session's owner --- */

static void cb_output(void *ctx, const char *data, size_t len)
{
    struct pop3d_session *p = ctx;
    access_conn_write(p->c, data, len);
}

static void cb_close(void *ctx)
{
    struct pop3d_session *p = ctx;
    access_conn_close(p->c);
}

static void cb_starttls(void *ctx)
{
    struct pop3d_session *p = ctx;
    access_conn_starttls(p->c);
}

static void cb_auth(void *ctx, const char *user, const char *password, size_t len)
{
    struct pop3d_session *p = ctx;
    access_conn_authenticate(p->c, user, password, len);
}

/* The stable UIDL of a message: the unique base of its file name (what
 * comes before ",S=" or ":2,"), which survives an index rebuild; a name
 * that cannot serve (too long, odd characters) gets its UIDVALIDITY and
 * UID instead. */
static void make_uidl(const struct store_msg *m, uint32_t uidvalidity, char *out, size_t outsize)
{
    const char *name = m->filename ? m->filename : "";
    size_t n = strcspn(name, ",:");
    bool ok = n > 0 && n <= POP3_UIDL_MAX;
    for (size_t i = 0; ok && i < n; i++)
        if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e)
            ok = false;
    if (ok)
        str_copyn(out, outsize, name, n);
    else
        snprintf(out, outsize, "%08x%08x", (unsigned)m->uid, (unsigned)uidvalidity);
}

static void cb_open(void *ctx, const char *user)
{
    struct pop3d_session *p = ctx;
    char root[4096];
    char *err = NULL;
    str_copy(p->user, sizeof(p->user), user);
    if (store_account_root(mail_dir, user, root, sizeof(root)) < 0) {
        log_error("pop3: user=<%s>: no mailbox path for this address", user);
        pop3_server_maildrop_done(p->s, POP3_TEMPFAIL, NULL, 0);
        return;
    }
    p->acc = store_account_open(root, &err);
    if (!p->acc) {
        log_error("pop3: user=<%s>: cannot open the mailbox: %s", user, err);
        free(err);
        pop3_server_maildrop_done(p->s, POP3_TEMPFAIL, NULL, 0);
        return;
    }
    p->view = store_view_open(p->acc, "INBOX", 0);
    if (!p->view) {
        const char *why;
        store_account_error(p->acc, &why);
        log_error("pop3: user=<%s>: cannot open INBOX: %s", user, why);
        store_account_unref(&p->acc);
        pop3_server_maildrop_done(p->s, POP3_TEMPFAIL, NULL, 0);
        return;
    }
    size_t n = store_view_count(p->view);
    struct pop3_message *msgs = xcalloc(n ? n : 1, sizeof(*msgs));
    p->uids = xcalloc(n ? n : 1, sizeof(*p->uids));
    uint32_t uidvalidity = store_view_uidvalidity(p->view);
    for (size_t i = 0; i < n; i++) {
        const struct store_msg *m = store_view_msg(p->view, i);
        p->uids[p->n] = m->uid;
        msgs[p->n].size = m->size;
        make_uidl(m, uidvalidity, msgs[p->n].uidl, sizeof(msgs[p->n].uidl));
        p->n++;
    }
    pop3_server_maildrop_done(p->s, POP3_OK, msgs, p->n);
    free(msgs);
}

static int cb_message(void *ctx, size_t i, const char **data, size_t *len)
{
    struct pop3d_session *p = ctx;
    buf_free(&p->text);
    buf_init(&p->text, (size_t)STORE_MESSAGE_MAX);
    if (i >= p->n || store_view_msg_read(p->view, p->uids[i], true, &p->text) < 0) {
        const char *why = "";
        store_account_error(p->acc, &why);
        log_warn("pop3: user=<%s>: cannot read message %zu: %s", p->user, i + 1, why);
        return -1;
    }
    *data = buf_cstr(&p->text);
    *len = p->text.len;
    return 0;
}

static int cb_commit(void *ctx, const bool *deleted, size_t n)
{
    struct pop3d_session *p = ctx;
    uint32_t *uids = xcalloc(n ? n : 1, sizeof(*uids));
    size_t k = 0;
    for (size_t i = 0; i < n && i < p->n; i++)
        if (deleted[i])
            uids[k++] = p->uids[i];
    size_t expunged = 0;
    int rc = store_view_store(p->view, uids, k, STORE_FLAGS_ADD, STORE_FLAG_DELETED, 0, 0, NULL);
    if (rc == 0)
        rc = store_view_expunge(p->view, uids, k, &expunged);
    if (rc < 0) {
        const char *why;
        store_account_error(p->acc, &why);
        log_error("pop3: user=<%s>: cannot remove deleted messages: %s", p->user, why);
    } else {
        log_info("pop3: user=<%s>: expunged %zu message%s", p->user, expunged,
                 expunged == 1 ? "" : "s");
    }
    free(uids);
    return rc;
}

static void cb_log(void *ctx, const char *text)
{
    struct pop3d_session *p = ctx;
    log_info("pop3: [%s] user=<%s> %s", access_conn_ip(p->c), p->user, text);
}

static const struct pop3_server_callbacks session_callbacks = {
    .output = cb_output,
    .close = cb_close,
    .starttls = cb_starttls,
    .auth = cb_auth,
    .open = cb_open,
    .message = cb_message,
    .commit = cb_commit,
    .log = cb_log,
};

/* --- the protocol hooks of access-server --- */

static void *proto_session_new(struct access_conn *c, bool tls)
{
    struct pop3d_session *p = xcalloc(1, sizeof(*p));
    p->c = c;
    buf_init(&p->text, (size_t)STORE_MESSAGE_MAX);
    struct access_server *srv = access_conn_server(c);
    const struct config *cfg = access_server_config(srv);
    struct pop3_settings set = {
        .hostname = cfg->hostname,
        .tls = tls,
        .starttls = !tls && access_server_has_tls(srv),
        .plaintext_login = access_conn_plaintext_login_ok(c),
    };
    p->s = pop3_server_new(&set, &session_callbacks, p);
    return p;
}

static size_t proto_input(void *session, const char *data, size_t len)
{
    struct pop3d_session *p = session;
    size_t used = pop3_server_input(p->s, data, len);
    if (pop3_server_waiting(p->s))
        access_conn_busy(p->c);
    return used;
}

static void proto_tls_started(void *session)
{
    struct pop3d_session *p = session;
    pop3_server_tls_started(p->s);
    /* Input waited for the handshake (STLS made the session busy). */
    access_conn_resume(p->c);
}

static void proto_auth_done(void *session, const struct auth_outcome *o)
{
    struct pop3d_session *p = session;
    enum pop3_result r = POP3_FAIL;
    if (o->result == AUTH_OK)
        r = POP3_OK;
    else if (o->result == AUTH_TEMPFAIL)
        r = POP3_TEMPFAIL;
    pop3_server_auth_done(p->s, r, o->user);
}

static void proto_timeout(void *session)
{
    struct pop3d_session *p = session;
    pop3_server_timeout(p->s);
}

static void proto_shutdown(void *session)
{
    struct pop3d_session *p = session;
    pop3_server_shutdown(p->s);
}

static void proto_session_free(void *session)
{
    struct pop3d_session *p = session;
    pop3_server_free(&p->s);
    store_view_close(&p->view);
    store_account_unref(&p->acc);
    free(p->uids);
    buf_free(&p->text);
    free(p);
}

static void proto_refusal(const char *why, char *out, size_t outsize)
{
    snprintf(out, outsize, "-ERR [SYS/TEMP] %s\r\n", why);
}

static const struct access_protocol pop3_protocol = {
    .name = "pop3",
    .session_new = proto_session_new,
    .input = proto_input,
    .tls_started = proto_tls_started,
    .auth_done = proto_auth_done,
    .timeout = proto_timeout,
    .shutdown = proto_shutdown,
    .session_free = proto_session_free,
    .refusal = proto_refusal,
};

int pop3d_main(struct daemon_env *env)
{
    daemon_path(env->cfg, "mail", mail_dir, sizeof(mail_dir));
    struct access_listener listeners[DAEMON_MAX_LISTENERS];
    size_t n = 0;
    for (size_t i = 0; i < env->n_access_fds; i++) {
        enum access_service s = env->access_services[i];
        if (s != ACCESS_POP3 && s != ACCESS_POP3S)
            continue;
        listeners[n].fd = env->access_fds[i];
        listeners[n].tls = s == ACCESS_POP3S;
        n++;
    }
    struct access_settings set = {
        .max_connections = env->cfg->mail_max_connections,
        .max_connections_per_ip = env->cfg->mail_max_connections_per_ip,
        .timeout = env->cfg->pop3_timeout,
    };
    return access_server_run(env, &pop3_protocol, listeners, n, &set, NULL, NULL, NULL);
}
