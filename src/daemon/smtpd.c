/* smtpd: the SMTP service. Wires SMTP sessions (smtp/smtp-server) to the
 * network (libevent), to the account database (recipient checks) and to
 * the spool (group commit through the syncer). */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth-results.h"
#include "auth/authenticate.h"
#include "auth/dkim-key-cache.h"
#include "auth/msgauth.h"
#include "auth/sasl.h"
#include "auth/spf-header.h"
#include "auth/spf-resolve.h"
#include "daemon.h"
#include "ip-count.h"
#include "tls-conn.h"
#include "login-check.h"
#include "lib/buf.h"
#include "lib/dns.h"
#include "lib/log.h"
#include "lib/net.h"
#include "lib/str.h"
#include "lib/syncer.h"
#include "lib/tls.h"
#include "lib/xalloc.h"
#include "mime/header-stream.h"
#include "queue/envelope.h"
#include "queue/events.h"
#include "policy/clamd.h"
#include "policy/dnsbl-sites.h"
#include "policy/dnsbl.h"
#include "certify/certify-flow.h"
#include "certify/certify-receipt.h"
#include "policy/milter-chain.h"
#include "policy/milter-edit.h"
#include "policy/policy-db.h"
#include "policy/policy-tables.h"
#include "policy/policy.h"
#include "queue/spool.h"
#include "smtp/smtp-server.h"
#include "state/state-db.h"
#include "state/state-auth.h"
#include "state/state-dmarc.h"
#include "state/state-domain.h"
#include "state/state-resolve.h"

#define PULL_MAX            (SMTP_ANY_LINE_MAX + 2)
#define READ_HIGH_WATER     (256 * 1024) /* input buffered before reading pauses */
#define FLUSH_POLLS_MAX     1000         /* 10 s for the last replies to leave */
#define AUTH_RESULTS_ROOM   8192         /* reserved in front of a message */
#define POLICY_PREPEND_ROOM 16384        /* ... more when content rules may PREPEND */

struct smtpd;

struct smtpd_listener {
    struct smtpd *d;
    struct evconnlistener *l;
    enum smtpd_service service;
};

struct smtpd {
    struct daemon_env *env;
    struct config *cfg;
    struct event_base *base;
    struct smtpd_listener listeners[DAEMON_MAX_LISTENERS];
    size_t n_listeners;
    struct tls_server *tls; /* NULL if no certificate could be loaded */
    struct login_checker *logins;
    char db_path[4096];
    struct event *sigterm_ev, *sigint_ev, *sighup_ev;
    struct spool spool;
    struct syncer *syncer;
    struct state_db *db;
    struct events *events;
    struct event *events_ev; /* writes the buffered events */
    struct net_cidr *relay_nets;
    size_t n_relay_nets;
    struct dnsbl *dnsbl;          /* dnsbl_sites, or NULL */
    struct policy_db *pdb;        /* rate limits and greylisting, or NULL */
    struct net_cidr *dnsbl_allow; /* dnsbl_allow_networks */
    size_t n_dnsbl_allow;
    struct smtp_server_settings settings[3]; /* per enum smtpd_service */
    struct ip_counts *ips;                   /* connections per client address */
    unsigned nconns;
    struct smtpd_conn *conns;
    struct dns *dns;                  /* NULL if no resolver could be set up: no SPF */
    struct dmarc_orgdomain *od;       /* public suffixes; NULL: no DKIM/DMARC checks */
    struct dkim_key_cache *dkim_keys; /* parsed DKIM keys, kept across messages */
    struct policy_tables policy;      /* the content policy (rules, attachments, limits) */
    struct certify_flow *certify;     /* certified mail (certified_domains), or NULL */
    bool stopping;
};

struct smtpd_conn {
    struct smtpd *d;
    enum smtpd_service service;
    struct bufferevent *bev;
    struct smtp_server_session *session;
    struct sockaddr_storage sa;
    char ip[64];
    bool relay_ok;
    /* TLS */
    struct tls_server *tls; /* the certificates this connection uses */
    SSL *ssl;
    bool starttls_requested; /* the 220 is queued: switch after processing */
    char tls_info[160];      /* "TLSv1.3 with cipher ..." once up */
    /* AUTH */
    char *auth_user; /* the authenticated account */
    unsigned auth_failures;
    bool auth; /* a login check is running */
    struct event *auth_delay;
    struct smtp_reply auth_reply; /* sent when auth_delay fires */
    struct event *flush_ev;       /* closing: waiting for the output to leave */
    unsigned flush_polls;
    /* the transaction */
    struct spf_resolve *spf;        /* the sender's SPF check, or NULL */
    bool spf_wait_rcpt;             /* a RCPT waits for it (spf_reject_fail) */
    bool spf_wait_data;             /* DATA waits for it (for the header) */
    struct smtp_rcpt_args spf_rcpt; /* the waiting RCPT */
    struct envelope env;
    char first_rcpt[SMTP_PATH_MAX + 1];
    char message_id[256];
    struct spool_file *file;
    struct header_stream *hs; /* the message's header, on its way to the file */
    struct msgauth *ma;       /* its DKIM and DMARC checks, or NULL */
    struct policy_verdict pv; /* its content policy verdict, with pv_live */
    bool pv_live;
    /* DNS block lists, asked at connect, applied at RCPT */
    struct dnsbl_check *dnsbl_check; /* pending */
    bool dnsbl_asked, dnsbl_done;
    struct dnsbl_result dnsbl_res;
    bool dnsbl_wait_rcpt;
    struct smtp_rcpt_args dnsbl_rcpt;
    struct clamd_scan *scan; /* the virus scan of the message, pending */
    /* milters (milters): the session's chain, and the step it waits for */
    struct milter_chain *milters;
    struct smtp_rcpt_args milter_rcpt; /* the RCPT the milters judge */
    size_t milter_rcpt_before;         /* env.nrcpts before it was added */
    struct smtp_data_result ma_res;    /* the end of DATA, waiting for them */
    char auth_summary[512];            /* "dkim=pass d=... dmarc=pass", for the trace */
    struct dmarc_verdict dmarc;        /* valid with have_dmarc */
    bool have_dmarc;
    struct sync_op op;
    char qid[QUEUE_ID_LEN + 1];
    bool commit_pending;
    struct certify_deferred *certify_after; /* receipts to send once committed */
    bool dead;                              /* the client went away while a commit was pending */
    bool closing;                           /* close once the output is sent */
    unsigned messages;
    struct smtpd_conn *prev, *next;
};

static void conn_free(struct smtpd_conn *c);
static void conn_process(struct smtpd_conn *c);
static void conn_setup_bev(struct smtpd_conn *c);

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
    if (!milter_chain_busy(c->milters))
        milter_chain_abort(c->milters);
    spf_resolve_free(&c->spf);
    c->spf_wait_rcpt = c->spf_wait_data = false;
    envelope_free(&c->env);
    c->first_rcpt[0] = '\0';
    header_stream_free(&c->hs);
    msgauth_free(&c->ma);
    c->auth_summary[0] = '\0';
    c->have_dmarc = false;
    if (c->pv_live)
        policy_verdict_free(&c->pv);
    c->pv_live = false;
    if (c->file)
        spool_file_abort(&c->file);
    c->qid[0] = '\0';
}

/* An authenticated user may use as sender: the account itself (also with
 * a +tag), an alias that reaches it, or what `postino user send-as` allows.
 * 1 yes, 0 no, -1 database error. */
static int sender_allowed(struct smtpd_conn *c, const struct smtp_path *p)
{
    if (p->null)
        return 1;
    char addr[SMTP_PATH_MAX + 1];
    str_copy(addr, sizeof(addr), p->mailbox);
    str_lower(addr);
    if (strcmp(addr, c->auth_user) == 0)
        return 1;
    struct resolve_result res;
    enum resolve_status st =
        p->literal ? RESOLVE_NOT_OURS : state_resolve(c->d->db, p->local, p->domain, &res);
    if (st == RESOLVE_TEMPFAIL)
        return -1;
    if (st == RESOLVE_OK) {
        bool mine = false;
        for (size_t i = 0; i < res.n; i++)
            if (res.dests[i].local && str_eq_ci(res.dests[i].addr, c->auth_user))
                mine = true;
        resolve_result_free(&res);
        if (mine)
            return 1;
    }
    return state_send_as_allowed(c->d->db, c->auth_user, addr);
}

static void spf_done(void *arg, const struct spf_outcome *o);

/* SPF is checked for mail from the outside: port 25, not logged in, not
 * from relay_networks. */
static void spf_start(struct smtpd_conn *c)
{
    struct smtpd *d = c->d;
    if (!d->cfg->spf_check || !d->dns || c->service != SERVICE_SMTP || c->auth_user || c->relay_ok)
        return;
    struct spf_request req = {
        .ip = c->ip,
        .sender = c->env.sender,
        .helo = smtp_server_helo(c->session),
        .receiver = d->cfg->hostname,
        .now = (long long)time(NULL),
    };
    c->spf =
        spf_resolve_start(d->base, d->dns, &req, false, (unsigned)d->cfg->spf_timeout, spf_done, c);
}

/* The key of the rate limits: the authenticated user, else the client. */
static void rate_key(const struct smtpd_conn *c, char *out, size_t size)
{
    if (snprintf(out, size, "%s:%s", c->auth_user ? "user" : "ip",
                 c->auth_user ? c->auth_user : c->ip) >= (int)size)
        out[size - 1] = '\0';
}

/* Count an accepted message for the rate limits. */
static void rate_count(struct smtpd_conn *c)
{
    struct smtpd *d = c->d;
    if (!d->pdb || (!d->cfg->rate_limit_messages && !d->cfg->rate_limit_recipients))
        return;
    char key[POLICY_KEY_MAX];
    rate_key(c, key, sizeof(key));
    if (policy_rate_add(d->pdb, key, (long long)time(NULL), 1, (unsigned)c->env.nrcpts) < 0)
        log_warn("rate limits: cannot count a message of %s", key);
}

/* Over a rate limit (messages, or recipients with `adding` more)? Sets r
 * and logs. */
static bool rate_exceeded(struct smtpd_conn *c, const char *verb, size_t adding,
                          struct smtp_reply *r)
{
    struct smtpd *d = c->d;
    long long lim_m = d->cfg->rate_limit_messages, lim_r = d->cfg->rate_limit_recipients;
    if (!d->pdb || (!lim_m && !lim_r))
        return false;
    char key[POLICY_KEY_MAX];
    rate_key(c, key, sizeof(key));
    unsigned long long m, n;
    if (policy_rate_get(d->pdb, key, (long long)time(NULL), &m, &n) < 0)
        return false; /* the database failed: let it pass */
    const char *what = NULL;
    unsigned long long have = 0;
    long long lim = 0;
    if (lim_m && adding == 0 && m >= (unsigned long long)lim_m) {
        what = "messages";
        have = m;
        lim = lim_m;
    } else if (lim_r && adding && n + c->env.nrcpts + adding > (unsigned long long)lim_r) {
        what = "recipients";
        have = n + c->env.nrcpts;
        lim = lim_r;
    }
    if (!what)
        return false;
    smtp_reply_set(r, 450, "4.7.1",
                   "Rate limit reached: %llu %s in the last hour from %s (at most %lld); try "
                   "again later",
                   have, what, c->auth_user ? c->auth_user : c->ip, lim);
    log_info("NOQUEUE: reject: %s from [%s]: 450 4.7.1 rate limit: %llu %s in the last hour "
             "(limit %lld) for %s",
             verb, c->ip, have, what, lim, key);
    return true;
}

/* --- milters: MAIL and RCPT --- */

#define MILTER_WORDS_MAX 8   /* words of a MAIL or RCPT given to the milters */
#define MILTER_WORD_MAX  600 /* bytes of one */

/* What the milters refused, as the reply r and a log line in the form of
 * every other refusal. */
static void milter_refusal(struct smtpd_conn *c, const char *verb, const char *qid,
                           const struct milter_chain_result *m, struct smtp_reply *r)
{
    char text[MILTER_REPLY_LINE_MAX + 1], helo[SMTP_DOMAIN_MAX * 4 + 1];
    str_printable(text, sizeof(text), m->text, strlen(m->text));
    const char *h = smtp_server_helo(c->session);
    str_printable(helo, sizeof(helo), h, strlen(h));
    smtp_reply_set(r, (int)m->code, m->enh, "%s", text);
    log_info("%s: reject: %s from [%s]: %u %s %s; milter=%s%s%s helo=<%s>", qid, verb, c->ip,
             m->code, m->enh, text, m->who, m->failed ? " failure=" : "",
             m->failed ? m->detail : "", helo);
}

/* Log the milters that failed during a step (their default may have
 * hidden it from the verdict). */
static void milter_log_failures(struct smtpd_conn *c, const char *qid,
                                const struct milter_chain_result *m)
{
    if (m->failures && m->failures[0])
        log_warn("%s: %s; client=[%s]", qid, m->failures, c->ip);
}

/* The milters have judged MAIL. */
static void milter_mail_done(const struct milter_chain_result *m, void *arg)
{
    struct smtpd_conn *c = arg;
    milter_log_failures(c, "NOQUEUE", m);
    struct smtp_reply r;
    if (m->verdict == MILTER_REJECT || m->verdict == MILTER_TEMPFAIL ||
        m->verdict == MILTER_REPLY) {
        milter_refusal(c, "MAIL", "NOQUEUE", m, &r);
        reset_transaction(c);
    } else {
        smtp_reply_set(&r, 250, "2.1.0", "Ok");
    }
    smtp_server_resume(c->session, &r);
    conn_process(c);
}

/* MAIL as the milters see it: "<sender>" then its ESMTP parameters. */
static enum smtp_decision milter_mail_start(struct smtpd_conn *c, const struct smtp_mail_args *a,
                                            struct smtp_reply *r)
{
    char words[MILTER_WORDS_MAX][MILTER_WORD_MAX];
    const char *argv[MILTER_WORDS_MAX];
    size_t n = 0;
    snprintf(words[n], MILTER_WORD_MAX, "<%s>", a->path.null ? "" : a->path.mailbox);
    argv[n] = words[n];
    n++;
    if (a->has_size) {
        snprintf(words[n], MILTER_WORD_MAX, "SIZE=%llu", a->size);
        argv[n] = words[n];
        n++;
    }
    if (a->body != SMTP_BODY_NONE)
        argv[n++] = a->body == SMTP_BODY_8BITMIME ? "BODY=8BITMIME" : "BODY=7BIT";
    if (a->smtputf8)
        argv[n++] = "SMTPUTF8";
    if (a->ret != SMTP_RET_NONE)
        argv[n++] = a->ret == SMTP_RET_FULL ? "RET=FULL" : "RET=HDRS";
    if (a->envid[0]) {
        snprintf(words[n], MILTER_WORD_MAX, "ENVID=%s", a->envid);
        argv[n] = words[n];
        n++;
    }
    if (milter_chain_mail(c->milters, smtp_server_helo(c->session), c->auth_user, argv, n,
                          milter_mail_done, c) < 0) {
        smtp_reply_set(r, 451, "4.3.0", "Temporary failure in a mail filter, try again later");
        return SMTP_DECIDED;
    }
    return SMTP_PENDING;
}

/* The milters have judged a RCPT that we accepted: a refusal takes back
 * the destinations it added. */
static void milter_rcpt_done(const struct milter_chain_result *m, void *arg)
{
    struct smtpd_conn *c = arg;
    milter_log_failures(c, "NOQUEUE", m);
    struct smtp_reply r;
    if (m->verdict == MILTER_REJECT || m->verdict == MILTER_TEMPFAIL ||
        m->verdict == MILTER_REPLY) {
        while (c->env.nrcpts > c->milter_rcpt_before)
            envelope_remove_rcpt(&c->env, c->env.nrcpts - 1);
        milter_refusal(c, "RCPT", "NOQUEUE", m, &r);
    } else {
        if (!c->first_rcpt[0])
            str_copy(c->first_rcpt, sizeof(c->first_rcpt), c->milter_rcpt.path.mailbox);
        smtp_reply_set(&r, 250, "2.1.5", "Ok");
    }
    smtp_server_resume(c->session, &r);
    conn_process(c);
}

static enum smtp_decision milter_rcpt_start(struct smtpd_conn *c, const struct smtp_rcpt_args *a,
                                            size_t before, struct smtp_reply *r)
{
    char words[3][MILTER_WORD_MAX];
    const char *argv[3];
    size_t n = 0;
    snprintf(words[n], MILTER_WORD_MAX, "<%s>", a->path.mailbox);
    argv[n] = words[n];
    n++;
    if (a->notify) {
        unsigned nt = a->notify;
        snprintf(words[n], MILTER_WORD_MAX, "NOTIFY=%s%s%s%s",
                 nt & SMTP_NOTIFY_NEVER ? "NEVER" : "", nt & SMTP_NOTIFY_SUCCESS ? "SUCCESS" : "",
                 nt & SMTP_NOTIFY_FAILURE ? (nt & SMTP_NOTIFY_SUCCESS ? ",FAILURE" : "FAILURE")
                                          : "",
                 nt & SMTP_NOTIFY_DELAY
                     ? (nt & (SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE) ? ",DELAY" : "DELAY")
                     : "");
        argv[n] = words[n];
        n++;
    }
    if (a->orcpt[0]) {
        snprintf(words[n], MILTER_WORD_MAX, "ORCPT=%s", a->orcpt);
        argv[n] = words[n];
        n++;
    }
    c->milter_rcpt = *a;
    c->milter_rcpt_before = before;
    if (milter_chain_rcpt(c->milters, argv, n, milter_rcpt_done, c) < 0) {
        while (c->env.nrcpts > before)
            envelope_remove_rcpt(&c->env, c->env.nrcpts - 1);
        smtp_reply_set(r, 451, "4.3.0", "Temporary failure in a mail filter, try again later");
        return SMTP_DECIDED;
    }
    return SMTP_PENDING;
}

static enum smtp_decision cb_mail(void *ctx, const struct smtp_mail_args *a, struct smtp_reply *r)
{
    struct smtpd_conn *c = ctx;
    if (rate_exceeded(c, "MAIL", 0, r))
        return SMTP_DECIDED;
    if (c->auth_user) {
        int ok = sender_allowed(c, &a->path);
        if (ok <= 0) {
            char shown[SMTP_PATH_MAX * 4 + 1];
            str_printable(shown, sizeof(shown), a->path.mailbox, strlen(a->path.mailbox));
            if (ok < 0) {
                smtp_reply_set(r, 451, "4.3.0", "Temporary lookup failure, try again later");
            } else {
                smtp_reply_set(r, 553, "5.7.1", "<%s>: Sender address rejected: not owned by %s",
                               shown, c->auth_user);
                log_info("NOQUEUE: reject: MAIL from [%s]: 553 5.7.1 <%s>: sender not owned by "
                         "user=<%s>",
                         c->ip, shown, c->auth_user);
            }
            return SMTP_DECIDED;
        }
    }
    reset_transaction(c);
    c->env.sender = xstrdup(a->path.null ? "" : a->path.mailbox);
    spf_start(c);
    if (c->milters)
        return milter_mail_start(c, a, r);
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

static enum smtp_decision rcpt_decide(struct smtpd_conn *c, const struct smtp_rcpt_args *a,
                                      struct smtp_reply *r);

/* The sender's domain is in dnsbl_allow_sender_domains. */
static bool sender_domain_allowed(const struct smtpd_conn *c)
{
    const char *list = c->d->cfg->dnsbl_allow_sender_domains;
    const char *at = c->env.sender ? strrchr(c->env.sender, '@') : NULL;
    if (!list || !list[0] || !at)
        return false;
    const char *dom = at + 1;
    size_t dl = strlen(dom);
    for (const char *p = list; *p;) {
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        size_t n = strcspn(p, ", \t");
        if (n && n == dl && str_eqn_ci(p, dom, n))
            return true;
        p += n;
    }
    return false;
}

static void dnsbl_done(void *arg, const struct dnsbl_result *res);

/* Ask the lists about a client of port 25 that is not one of ours. */
static void dnsbl_start(struct smtpd_conn *c)
{
    struct smtpd *d = c->d;
    if (!d->dnsbl || c->service != SERVICE_SMTP || c->relay_ok)
        return;
    for (size_t i = 0; i < d->n_dnsbl_allow; i++)
        if (net_cidr_match(&d->dnsbl_allow[i], (const struct sockaddr *)&c->sa))
            return;
    c->dnsbl_asked = true;
    c->dnsbl_check = dnsbl_check_start(d->dnsbl, c->ip, dnsbl_done, c);
}

/* Greylisting (off by default) of mail from the outside: a triplet
 * (client network, sender, recipient) not seen before is deferred with
 * 450 4.7.1; a real server retries after greylist_delay and passes, and
 * its network passes from then on for greylist_allow_time. */
static bool greylisted(struct smtpd_conn *c, const struct smtp_rcpt_args *a, struct smtp_reply *r)
{
    struct smtpd *d = c->d;
    if (!d->pdb || !d->cfg->greylisting || c->service != SERVICE_SMTP || c->auth_user ||
        c->relay_ok)
        return false;
    char client[80];
    policy_greylist_client(c->ip, client, sizeof(client));
    long long wait = 0;
    enum greylist_verdict g = policy_greylist(
        d->pdb, client, c->env.sender ? c->env.sender : "", a->path.mailbox, (long long)time(NULL),
        d->cfg->greylist_delay, d->cfg->greylist_allow_time, &wait);
    if (g != GREYLIST_DEFER)
        return false;
    char why[200];
    snprintf(why, sizeof(why), "Greylisted: please try again in %lld seconds", wait);
    reject_rcpt(c, a, r, 450, "4.7.1", why);
    return true;
}

/* Before a recipient is looked at: the block lists (waited for), the rate
 * limits, greylisting, then, with spf_reject_fail, the SPF result. */
static enum smtp_decision rcpt_gate(struct smtpd_conn *c, const struct smtp_rcpt_args *a,
                                    struct smtp_reply *r)
{
    bool exempt = c->auth_user || c->relay_ok;
    if (c->dnsbl_asked && !c->dnsbl_done && !exempt) {
        c->dnsbl_rcpt = *a;
        c->dnsbl_wait_rcpt = true;
        return SMTP_PENDING;
    }
    if (c->dnsbl_done && !exempt &&
        dnsbl_result_blocks(&c->dnsbl_res, (int)c->d->cfg->dnsbl_threshold)) {
        const struct spf_outcome *spf = spf_resolve_outcome(c->spf);
        bool allowed = sender_domain_allowed(c);
        if (allowed && c->spf && !spf) {
            c->spf_rcpt = *a; /* the allowance needs SPF's pass */
            c->spf_wait_rcpt = true;
            return SMTP_PENDING;
        }
        if (!allowed || !spf || spf->result != SPF_PASS) {
            char why[400];
            snprintf(why, sizeof(why), "Service unavailable; client [%s] blocked using %s", c->ip,
                     c->dnsbl_res.listed_by[0] ? c->dnsbl_res.listed_by : "a block list");
            reject_rcpt(c, a, r, 554, "5.7.1", why);
            return SMTP_DECIDED;
        }
    }
    if (rate_exceeded(c, "RCPT", 1, r))
        return SMTP_DECIDED;
    if (greylisted(c, a, r))
        return SMTP_DECIDED;
    if (c->spf && c->d->cfg->spf_reject_fail && !spf_resolve_outcome(c->spf)) {
        c->spf_rcpt = *a;
        c->spf_wait_rcpt = true;
        return SMTP_PENDING;
    }
    return rcpt_decide(c, a, r);
}

static enum smtp_decision cb_rcpt(void *ctx, const struct smtp_rcpt_args *a, struct smtp_reply *r)
{
    return rcpt_gate(ctx, a, r);
}

static void dnsbl_done(void *arg, const struct dnsbl_result *res)
{
    struct smtpd_conn *c = arg;
    c->dnsbl_check = NULL;
    c->dnsbl_done = true;
    c->dnsbl_res = *res;
    if (res->score != 0 || res->tempfail)
        log_info("NOQUEUE: dnsbl client=[%s] score=%d threshold=%lld%s%s%s", c->ip, res->score,
                 c->d->cfg->dnsbl_threshold, res->listed_by[0] ? " listed_by=" : "", res->listed_by,
                 res->tempfail ? " (some lookups failed: counted 0)" : "");
    if (c->dead || !c->dnsbl_wait_rcpt)
        return;
    c->dnsbl_wait_rcpt = false;
    struct smtp_reply r;
    if (rcpt_gate(c, &c->dnsbl_rcpt, &r) == SMTP_DECIDED) {
        smtp_server_resume(c->session, &r);
        conn_process(c);
    }
}

static enum smtp_decision rcpt_decide(struct smtpd_conn *c, const struct smtp_rcpt_args *a,
                                      struct smtp_reply *r)
{
    struct smtpd *d = c->d;
    size_t before = c->env.nrcpts;
    const struct spf_outcome *spf = spf_resolve_outcome(c->spf);
    if (spf && spf->result == SPF_FAIL && d->cfg->spf_reject_fail) {
        char why[600], expl[300];
        str_printable(expl, sizeof(expl), spf->explanation, strlen(spf->explanation));
        snprintf(why, sizeof(why), "SPF: %s does not allow [%s] to send its mail%s%s", spf->domain,
                 c->ip, expl[0] ? ": " : "", expl);
        reject_rcpt(c, a, r, 550, "5.7.23", why);
        return SMTP_DECIDED;
    }
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
        if (!c->relay_ok && !c->auth_user) {
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
    if (c->milters)
        return milter_rcpt_start(c, a, before, r);
    if (!c->first_rcpt[0])
        str_copy(c->first_rcpt, sizeof(c->first_rcpt), a->path.mailbox);
    smtp_reply_set(r, 250, "2.1.5", "Ok");
    return SMTP_DECIDED;
}

/* The "with" protocol of RFC 3848 / RFC 6531: ESMTP, ESMTPS, ESMTPSA ... */
static const char *protocol_name(const struct smtpd_conn *c)
{
    const struct smtp_mail_args *m = smtp_server_mail(c->session);
    if (!smtp_server_esmtp(c->session))
        return "SMTP";
    static const char *const names[2][2][2] = {
        {{"ESMTP", "ESMTPA"}, {"ESMTPS", "ESMTPSA"}},
        {{"UTF8SMTP", "UTF8SMTPA"}, {"UTF8SMTPS", "UTF8SMTPSA"}},
    };
    return names[m && m->smtputf8][c->tls_info[0] != 0][c->auth_user != NULL];
}

/* The Received: field of RFC 5321 4.4, with its own queue ID. */
static void write_received(struct smtpd_conn *c, struct buf *out)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
    buf_printf(out, "Received: from %s ([%s])\r\n", smtp_server_helo(c->session), c->ip);
    if (c->tls_info[0])
        buf_printf(out, "\t(using %s)\r\n", c->tls_info);
    buf_printf(out, "\tby %s (postino) with %s id %s", c->d->cfg->hostname, protocol_name(c),
               c->qid);
    if (smtp_server_rcpt_count(c->session) == 1 && c->first_rcpt[0])
        buf_printf(out, "\r\n\tfor <%s>", c->first_rcpt);
    buf_printf(out, ";\r\n\t%s\r\n", date);
}

static enum smtp_decision data_start_decide(struct smtpd_conn *c, struct smtp_reply *r);

/* A header field of an arriving message: Authentication-Results fields
 * that claim to be ours are forgeries (RFC 8601 5) and go. */
static bool header_field(void *arg, const char *field, size_t len)
{
    struct smtpd_conn *c = arg;
    if (c->ma && header_field_is(field, len, "From"))
        msgauth_from_field(c->ma, field, len);
    if (auth_results_claims(field, len, c->d->cfg->hostname)) {
        log_info("%s: removed an Authentication-Results field that claims to be ours, from [%s]",
                 c->qid, c->ip);
        return false;
    }
    if (c->pv_live && c->d->policy.config.header_checks) {
        struct buf insert;
        buf_init(&insert, 64 * 1024);
        bool keep = policy_header_field(&c->d->policy.config, field, len, &c->pv, &insert);
        if (insert.len && c->file)
            spool_file_write(c->file, insert.data, insert.len); /* PREPEND: before the field */
        buf_free(&insert);
        return keep;
    }
    return true;
}

static void header_out(void *arg, const char *data, size_t len)
{
    struct smtpd_conn *c = arg;
    if (c->file)
        spool_file_write(c->file, data, len);
}

/* The message waits for the SPF result that goes into its header. */
static enum smtp_decision cb_data_start(void *ctx, struct smtp_reply *r)
{
    struct smtpd_conn *c = ctx;
    if (c->spf && !spf_resolve_outcome(c->spf)) {
        c->spf_wait_data = true;
        return SMTP_PENDING;
    }
    return data_start_decide(c, r);
}

static enum smtp_decision data_start_decide(struct smtpd_conn *c, struct smtp_reply *r)
{
    if (c->file)
        spool_file_abort(&c->file);
    c->file = spool_file_create(&c->d->spool, c->qid);
    struct smtpd *d = c->d;
    bool check_dkim = d->cfg->dkim_verify && d->dns && d->od && c->service == SERVICE_SMTP &&
                      !c->auth_user && !c->relay_ok;
    /* room for Authentication-Results and PREPEND lines of the content
     * rules, known at the end of the message (only when there may be some:
     * the room is a hole in the file) */
    const struct policy_config *pc = &d->policy.config;
    bool rules = pc->header_checks || pc->mime_header_checks || pc->body_checks;
    size_t room = (c->spf || check_dkim ? AUTH_RESULTS_ROOM : 0) +
                  (rules || d->cfg->clamd_socket[0] ? POLICY_PREPEND_ROOM : 0);
    if (c->file && room && spool_file_reserve(c->file, room) < 0) {
        spool_file_abort(&c->file);
        errno = EIO;
    }
    if (!c->file) {
        log_error("NOQUEUE: cannot create a queue file: %s", strerror(errno));
        c->qid[0] = '\0';
        smtp_reply_set(r, 451, "4.3.0", "Temporary failure: cannot write to the queue");
        return SMTP_DECIDED;
    }
    struct buf hdr;
    buf_init(&hdr, 4096);
    const struct spf_outcome *spf = spf_resolve_outcome(c->spf);
    if (spf) {
        struct spf_header_info info = {c->ip, c->env.sender, smtp_server_helo(c->session),
                                       c->d->cfg->hostname};
        spf_header_received(&hdr, spf, &info);
    }
    write_received(c, &hdr);
    spool_file_write(c->file, hdr.data, hdr.len);
    buf_free(&hdr);
    header_stream_free(&c->hs);
    if (c->pv_live)
        policy_verdict_free(&c->pv);
    policy_verdict_init(&c->pv);
    c->pv_live = true;
    c->hs = header_stream_new(header_field, header_out, c);
    msgauth_free(&c->ma);
    c->auth_summary[0] = '\0';
    c->have_dmarc = false;
    if (check_dkim) {
        struct msgauth_params mp = {.base = d->base,
                                    .dns = d->dns,
                                    .od = d->od,
                                    .timeout_secs = (unsigned)d->cfg->spf_timeout,
                                    .ip = c->ip,
                                    .dkim_keys = d->dkim_keys};
        c->ma = msgauth_new(&mp);
    }
    smtp_reply_set(r, 354, "", "ok");
    return SMTP_DECIDED;
}

static void cb_data_write(void *ctx, const char *data, size_t len)
{
    struct smtpd_conn *c = ctx;
    if (c->hs)
        header_stream_feed(c->hs, data, len);
    if (c->ma)
        msgauth_feed(c->ma, data, len);
}

static void cb_data_abort(void *ctx)
{
    struct smtpd_conn *c = ctx;
    header_stream_free(&c->hs);
    if (c->file)
        spool_file_abort(&c->file);
    c->qid[0] = '\0';
}

static void cb_reset(void *ctx)
{
    reset_transaction(ctx);
}

/* The trace: what arrived, from whom, how. */
static void record_received(struct smtpd_conn *c)
{
    const struct envelope *env = &c->env;
    const struct spf_outcome *spf = spf_resolve_outcome(c->spf);
    events_add(
        c->d->events, c->qid, "received", NULL,
        "from <%s> by %s from [%s] (helo %s), %s%s%s%s%s, %llu octets, %zu recipient%s%s%s%s%s%s%s",
        env->sender, smtpd_service_name(c->service), c->ip, env->helo ? env->helo : "",
        env->proto ? env->proto : "", c->tls_info[0] ? ", " : "", c->tls_info,
        c->auth_user ? ", user " : "", c->auth_user ? c->auth_user : "", env->size, env->nrcpts,
        env->nrcpts == 1 ? "" : "s", spf ? ", SPF " : "", spf ? spf_result_name(spf->result) : "",
        c->auth_summary[0] ? ", " : "", c->auth_summary, c->message_id[0] ? ", message-id " : "",
        c->message_id);
    const char *addrs[64];
    size_t n = 0;
    addrs[n++] = env->sender;
    for (size_t i = 0; i < env->nrcpts && n < 64; i++) {
        addrs[n++] = env->rcpts[i].addr;
        if (env->rcpts[i].orig && n < 64)
            addrs[n++] = env->rcpts[i].orig;
    }
    events_index(c->d->events, c->qid, c->message_id, addrs, n);
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
        rate_count(c);
    } else {
        log_error("%s: cannot commit the message to the queue (%s: %s)", c->qid,
                  op->failed ? op->failed : "?", strerror(op->error));
        events_add(c->d->events, c->qid, "refused", NULL,
                   "not queued after all: the disk refused it (%s); the client was told to retry",
                   strerror(op->error));
        smtp_reply_set(&r, 451, "4.3.0", "Temporary failure storing the message, try again");
    }
    spool_file_done(&c->file, ok);
    /* Durable now (or not at all): the acceptance may say so. */
    certify_flow_deferred_run(c->d->certify, &c->certify_after, ok);
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

static enum smtp_decision data_end_decide(struct smtpd_conn *c, const struct smtp_data_result *res,
                                          struct smtp_reply *r);
static void msgauth_done(void *arg);

/* The end of DATA waits for the DKIM and DMARC lookups, if any. */
static enum smtp_decision cb_data_end(void *ctx, const struct smtp_data_result *res,
                                      struct smtp_reply *r)
{
    struct smtpd_conn *c = ctx;
    if (!c->file) {
        smtp_reply_set(r, 451, "4.3.0", "Temporary failure: cannot write to the queue");
        return SMTP_DECIDED;
    }
    if (c->hs) {
        header_stream_finish(c->hs);
        header_stream_free(&c->hs);
    }
    str_copy(c->message_id, sizeof(c->message_id), res->message_id);
    if (c->ma) {
        c->ma_res = *res;
        c->ma_res.message_id = c->message_id;
        msgauth_end(c->ma, msgauth_done, c);
        return SMTP_PENDING;
    }
    return data_end_decide(c, res, r);
}

static void refuse_message_code(struct smtpd_conn *c, struct smtp_reply *r, int code,
                                const char *enh, const char *why);

/* Where a message of certified mail goes (certify-flow.h): like a RCPT. */
static bool certify_resolve(void *arg, const char *addr, struct envelope *env)
{
    struct smtpd *d = arg;
    struct smtp_path p;
    if (smtp_mailbox_parse(addr, strlen(addr), &p) != SMTP_PATH_OK || p.null)
        return false;
    struct resolve_result res;
    enum resolve_status st =
        p.literal ? RESOLVE_NOT_OURS : state_resolve(d->db, p.local, p.domain, &res);
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

/* A certified user's message refused at the end of DATA: the sender gets
 * the non-acceptance notice. */
static void certify_refused(struct smtpd_conn *c, enum certify_error error, const char *why)
{
    const char *data = NULL;
    size_t len = 0;
    bool mapped = c->file && spool_file_map(c->file, &data, &len) == 0;
    certify_flow_refused(c->d->certify, c->qid, c->env.sender, c->auth_user != NULL,
                         mapped ? data : NULL, len, error, why);
    if (mapped)
        spool_file_unmap(c->file);
}

/* Certified mail (certify-flow.h): the message may be replaced by its
 * transport envelope, refused, or lose recipients to an anomaly envelope.
 * False (r set) if it is not to be stored. */
static bool certify_message(struct smtpd_conn *c, struct smtp_reply *r)
{
    const char *data;
    size_t len;
    if (spool_file_map(c->file, &data, &len) < 0) {
        log_error("%s: cannot read the message back for certified mail: %s", c->qid,
                  strerror(errno));
        refuse_message_code(c, r, 451, "4.3.0", "Temporary failure: cannot store the message");
        return false;
    }
    struct buf replacement;
    buf_init(&replacement, (size_t)CERTIFY_MESSAGE_MAX);
    struct certify_submit cs = {.qid = c->qid,
                                .msg = data ? data : "",
                                .len = len,
                                .env = &c->env,
                                .submission = c->auth_user != NULL,
                                .replacement = &replacement};
    enum certify_submit_action a = certify_flow_submit(c->d->certify, &cs);
    spool_file_unmap(c->file);
    c->certify_after = cs.deferred;
    bool ok = true;
    if (a == CERTIFY_REFUSE) {
        /* The notice, if any, went out already: not again from here. */
        struct certify_flow *f = c->d->certify;
        c->d->certify = NULL;
        refuse_message_code(c, r, cs.enh[0] == '4' ? 451 : 550, cs.enh, cs.reply);
        c->d->certify = f;
        ok = false;
    } else if (a == CERTIFY_REPLACED &&
               spool_file_replace(c->file, replacement.data, replacement.len) < 0) {
        log_error("%s: cannot store the transport envelope: %s", c->qid, strerror(errno));
        refuse_message_code(c, r, 451, "4.3.0", "Temporary failure: cannot store the message");
        ok = false;
    }
    buf_free(&replacement);
    if (!ok)
        certify_flow_deferred_run(c->d->certify, &c->certify_after, false);
    return ok;
}

/* Refuse the message in progress at the end of DATA. */
static void refuse_message_code(struct smtpd_conn *c, struct smtp_reply *r, int code,
                                const char *enh, const char *why)
{
    char from[SMTP_PATH_MAX * 4 + 1], text[600];
    str_printable(from, sizeof(from), c->env.sender, strlen(c->env.sender));
    str_printable(text, sizeof(text), why, strlen(why));
    smtp_reply_set(r, code, enh, "%s", text);
    log_info("NOQUEUE: reject: DATA from [%s]: %d %s %s; from=<%s>%s%s", c->ip, code, enh, text,
             from, c->message_id[0] ? " message-id=" : "", c->message_id);
    if (code >= 500 && c->d->certify)
        certify_refused(c, strstr(why, "virus") ? CERTIFY_ERR_VIRUS : CERTIFY_ERR_POLICY, text);
    if (c->file)
        spool_file_abort(&c->file);
    c->qid[0] = '\0';
}

static void refuse_message(struct smtpd_conn *c, struct smtp_reply *r, const char *enh,
                           const char *why)
{
    refuse_message_code(c, r, 550, enh, why);
}

/* Count the message in the DMARC aggregate data of its policy domain. */
static void record_dmarc(struct smtpd_conn *c, const struct dmarc_verdict *v)
{
    if (!v->record_found)
        return;
    struct state_dmarc_row row;
    memset(&row, 0, sizeof(row));
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(row.day, sizeof(row.day), "%Y-%m-%d", &tm);
    str_copy(row.policy_domain, sizeof(row.policy_domain), v->policy_domain);
    str_copy(row.from_domain, sizeof(row.from_domain), v->from_domain);
    str_copy(row.source_ip, sizeof(row.source_ip), c->ip);
    str_copy(row.disposition, sizeof(row.disposition), dmarc_policy_name(v->disposition));
    str_copy(row.dkim, sizeof(row.dkim), v->dkim_aligned ? "pass" : "fail");
    str_copy(row.spf, sizeof(row.spf), v->spf_aligned ? "pass" : "fail");
    str_copy(row.result, sizeof(row.result), dmarc_result_name(v->result));
    snprintf(row.published, sizeof(row.published), "p=%s sp=%s pct=%u adkim=%s aspf=%s",
             dmarc_policy_name(v->published.p), dmarc_policy_name(v->published.sp),
             v->published.pct, dmarc_align_name(v->published.adkim),
             dmarc_align_name(v->published.aspf));
    char *err = NULL;
    if (state_dmarc_add(c->d->db, &row, &err) < 0) {
        log_warn("%s: DMARC aggregate data not recorded: %s", c->qid, err ? err : "?");
        free(err);
    }
}

/* DKIM and DMARC are decided: log them, refuse what DMARC says to refuse,
 * or store the message. */
static void msgauth_done(void *arg)
{
    struct smtpd_conn *c = arg;
    struct smtpd *d = c->d;
    struct smtp_reply r;
    const struct dkim_result *dk;
    size_t n = msgauth_dkim(c->ma, &dk);
    struct buf sum;
    buf_init(&sum, sizeof(c->auth_summary) - 1);
    if (n == 0)
        buf_append_str(&sum, "dkim=none");
    for (size_t i = 0; i < n; i++)
        buf_printf(&sum, "%sdkim=%s d=%s s=%s", i ? " " : "", dkim_status_name(dk[i].status),
                   dk[i].domain[0] ? dk[i].domain : "-", dk[i].selector[0] ? dk[i].selector : "-");
    const char *reason;
    enum dmarc_from_status fs = msgauth_from(c->ma, &reason);
    bool refuse_from = fs != DMARC_FROM_OK && fs != DMARC_FROM_IDN;
    struct dmarc_verdict v;
    memset(&v, 0, sizeof(v));
    if (!refuse_from) {
        msgauth_dmarc(c->ma, spf_resolve_outcome(c->spf), c->env.sender,
                      smtp_server_helo(c->session), &v);
        buf_printf(&sum, " dmarc=%s", dmarc_result_name(v.result));
        if (v.record_found)
            buf_printf(&sum, " (p=%s) header.from=%s", dmarc_policy_name(v.policy), v.from_domain);
    }
    str_copy(c->auth_summary, sizeof(c->auth_summary), buf_cstr(&sum));
    buf_free(&sum);
    if (!refuse_from) {
        record_dmarc(c, &v);
        c->dmarc = v;
        c->have_dmarc = true;
    }
    log_info("%s: %s client=[%s]", c->qid, c->auth_summary, c->ip);
    enum smtp_decision dec;
    if (refuse_from) {
        struct buf why;
        buf_init(&why, BUF_UNLIMITED);
        buf_printf(&why, "Message refused: %s (RFC 5322 3.6.2, RFC 7489 6.6.1)", reason);
        refuse_message(c, &r, "5.7.1", buf_cstr(&why));
        buf_free(&why);
        dec = SMTP_DECIDED;
    } else if (v.result == DMARC_RESULT_FAIL && v.disposition == DMARC_POLICY_REJECT &&
               d->cfg->dmarc_reject) {
        struct buf why;
        buf_init(&why, BUF_UNLIMITED);
        buf_printf(&why, "Message refused: %s does not accept this message (DMARC: %s)",
                   v.from_domain, v.reason);
        refuse_message(c, &r, "5.7.1", buf_cstr(&why));
        buf_free(&why);
        dec = SMTP_DECIDED;
    } else {
        if (v.result == DMARC_RESULT_FAIL && v.disposition == DMARC_POLICY_QUARANTINE) {
            c->env.junk = true;
            log_info("%s: quarantined: %s asks for it (DMARC: %s); local copies go to Junk", c->qid,
                     v.from_domain, v.reason);
        }
        dec = data_end_decide(c, &c->ma_res, &r);
    }
    if (dec == SMTP_DECIDED) {
        smtp_server_resume(c->session, &r);
        conn_process(c);
    }
}

/* What SPF, DKIM and DMARC found, in front of the message (RFC 8601). */
static void add_auth_results(struct smtpd_conn *c)
{
    const struct spf_outcome *spf = spf_resolve_outcome(c->spf);
    if (!spf && !c->ma)
        return;
    struct auth_results ar = {.spf = spf,
                              .mailfrom = c->env.sender,
                              .helo = smtp_server_helo(c->session),
                              .dkim_checked = c->ma != NULL,
                              .dmarc = c->have_dmarc ? &c->dmarc : NULL};
    if (c->ma)
        ar.ndkim = msgauth_dkim(c->ma, &ar.dkim);
    struct buf h;
    buf_init(&h, BUF_UNLIMITED); /* too long for the room: prepend refuses it */
    auth_results_header(&h, c->d->cfg->hostname, &ar);
    if (h.len == 0 || spool_file_prepend(c->file, h.data, h.len) < 0)
        log_warn("%s: no room for the Authentication-Results field", c->qid);
    buf_free(&h);
}

/* WARN matches, redirects and rules that failed, one log line each. */
static void log_policy_lines(struct smtpd_conn *c, const struct policy_verdict *v)
{
    const char *p = v->log.data, *end = p ? p + v->log.len : NULL;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char line[1200];
        str_printable(line, sizeof(line), p, n);
        log_info("%s: %s", c->qid, line);
        p += n + 1;
    }
}

/* REDIRECT: the message goes to addr alone, routed as if given at RCPT.
 * -1 with r set if it cannot be (the message is then not accepted). */
static int redirect_envelope(struct smtpd_conn *c, const char *addr, struct smtp_reply *r)
{
    const char *at = strrchr(addr, '@');
    char local[SMTP_LOCAL_MAX + 1], domain[SMTP_DOMAIN_MAX + 1];
    if (!at || str_copyn(local, sizeof(local), addr, (size_t)(at - addr)) < 0 ||
        str_copy(domain, sizeof(domain), at + 1) < 0) {
        refuse_message_code(c, r, 451, "4.3.5", "Temporary failure: bad REDIRECT address");
        return -1;
    }
    struct resolve_result res;
    enum resolve_status st = state_resolve(c->d->db, local, domain, &res);
    if (st == RESOLVE_TEMPFAIL || st == RESOLVE_UNKNOWN || st == RESOLVE_LOOP) {
        if (st == RESOLVE_TEMPFAIL)
            log_warn("%s: REDIRECT to <%s>: account database error: %s", c->qid, addr,
                     state_db_error(c->d->db));
        else
            log_warn("%s: REDIRECT to <%s>: no such recipient here", c->qid, addr);
        refuse_message_code(c, r, 451, "4.3.5",
                            "Temporary failure: the content policy's REDIRECT cannot be done");
        return -1;
    }
    envelope_clear_rcpts(&c->env);
    if (st == RESOLVE_OK) {
        for (size_t i = 0; i < res.n; i++)
            envelope_add_rcpt(&c->env, res.dests[i].addr, addr, NULL, 0,
                              res.dests[i].local ? ROUTE_LOCAL : ROUTE_REMOTE);
        resolve_result_free(&res);
    } else {
        envelope_add_rcpt(&c->env, addr, NULL, NULL, 0, ROUTE_REMOTE);
    }
    return 0;
}

/* The content policy on the whole message (policy.h). False if the
 * message is refused (r set); else v says what becomes of it. */
static bool check_content(struct smtpd_conn *c, struct policy_verdict *v, struct smtp_reply *r)
{
    if (!c->pv_live) { /* no header seen (BDAT of nothing): start one */
        policy_verdict_init(&c->pv);
        c->pv_live = true;
    }
    const char *data;
    size_t len;
    if (spool_file_map(c->file, &data, &len) < 0) {
        log_error("%s: cannot read the message back for the content checks: %s", c->qid,
                  strerror(errno));
        spool_file_abort(&c->file);
        c->qid[0] = '\0';
        smtp_reply_set(r, 451, "4.3.0", "Temporary failure: cannot check the message");
        return false;
    }
    policy_check_message(&c->d->policy.config, data, len, v);
    spool_file_unmap(c->file);
    log_policy_lines(c, v);
    if (v->action == POLICY_REJECT) {
        if (v->why[0] && strcmp(v->why, v->text) != 0)
            log_info("%s: reject: %s", c->qid, v->why);
        refuse_message_code(c, r, v->code, v->enh, v->text);
        return false;
    }
    if (v->prepend.len && spool_file_prepend(c->file, v->prepend.data, v->prepend.len) < 0)
        log_warn("%s: the PREPEND lines of the content rules did not fit: %s", c->qid,
                 strerror(errno));
    if (v->redirect[0] && v->action != POLICY_DISCARD && redirect_envelope(c, v->redirect, r) < 0)
        return false;
    /* FILTER: not for what the content filter hands back (no loop). */
    const struct config_list *back = &c->d->cfg->filter_return_networks;
    for (size_t i = 0; v->filter[0] && i < back->n; i++) {
        struct net_cidr net;
        if (net_parse_cidr(back->items[i], &net) == 0 &&
            net_cidr_match(&net, (const struct sockaddr *)&c->sa)) {
            log_info("%s: FILTER ignored: client in filter_return_networks", c->qid);
            v->filter[0] = '\0';
        }
    }
    return true;
}

/* DISCARD: the client is told the message was queued (it must not try
 * again or learn what the policy looks for); the message is dropped, and
 * the log and the trace say so and why. */
static enum smtp_decision discard_message(struct smtpd_conn *c, const struct policy_verdict *v,
                                          struct smtp_reply *r)
{
    record_received(c);
    char from[SMTP_PATH_MAX * 4 + 1];
    str_printable(from, sizeof(from), c->env.sender, strlen(c->env.sender));
    log_info("%s: discard: %s; from=<%s>, client=[%s]", c->qid, v->why, from, c->ip);
    for (size_t i = 0; i < c->env.nrcpts; i++)
        events_add(c->d->events, c->qid, "discarded", c->env.rcpts[i].addr,
                   "discarded by the content policy: %s", v->why);
    smtp_reply_set(r, 250, "2.0.0", "Ok: queued as %s", c->qid);
    rate_count(c);
    spool_file_abort(&c->file);
    c->qid[0] = '\0';
    c->messages++;
    return SMTP_DECIDED;
}

static enum smtp_decision data_end_store(struct smtpd_conn *c, const struct smtp_data_result *res,
                                         struct smtp_reply *r);

/* clamd has judged the message (or could not). */
static void clamd_done(const struct clamd_result *cr, void *arg)
{
    struct smtpd_conn *c = arg;
    c->scan = NULL;
    if (c->file)
        spool_file_unmap(c->file);
    struct smtp_reply r;
    enum smtp_decision dec = SMTP_DECIDED;
    const char *unavailable = c->d->cfg->clamd_unavailable == 0 ? "tempfail" : "accept";
    switch (cr->status) {
    case CLAMD_SCAN_INFECTED: {
        char why[300];
        snprintf(why, sizeof(why), "Message refused: virus found: %s", cr->signature);
        refuse_message_code(c, &r, 554, "5.7.1", why);
        break;
    }
    case CLAMD_SCAN_UNAVAILABLE:
        log_warn("%s: virus scan failed (%s: %s); %s", c->qid, clamd_failure_name(cr->failure),
                 cr->detail, unavailable);
        if (c->d->cfg->clamd_unavailable == 0) {
            refuse_message_code(c, &r, 451, "4.7.1",
                                "Temporary failure: the virus scanner is unavailable, try again "
                                "later");
            break;
        }
        /* accepted with a warning header, as below */
        __attribute__((fallthrough));
    case CLAMD_SCAN_TOO_BIG: {
        char hdr[400];
        snprintf(hdr, sizeof(hdr), "X-Postino-Virus-Scan: not scanned (%s)\r\n",
                 cr->status == CLAMD_SCAN_TOO_BIG ? "too large" : "scanner unavailable");
        if (cr->status == CLAMD_SCAN_TOO_BIG)
            log_info("%s: not scanned for viruses: %s", c->qid, cr->detail);
        if (spool_file_prepend(c->file, hdr, strlen(hdr)) < 0)
            log_warn("%s: no room for the X-Postino-Virus-Scan field", c->qid);
        dec = data_end_store(c, &c->ma_res, &r);
        break;
    }
    case CLAMD_SCAN_CLEAN:
        dec = data_end_store(c, &c->ma_res, &r);
        break;
    }
    if (dec == SMTP_DECIDED) {
        smtp_server_resume(c->session, &r);
        conn_process(c);
    }
}

/* The virus scan (clamd_socket), then storing. */
static enum smtp_decision data_end_scan(struct smtpd_conn *c, struct smtp_reply *r)
{
    const struct config *cfg = c->d->cfg;
    if (!cfg->clamd_socket[0] || c->pv.action == POLICY_DISCARD)
        return data_end_store(c, &c->ma_res, r);
    const char *data;
    size_t len;
    const char *err = NULL;
    if (spool_file_map(c->file, &data, &len) == 0 &&
        (c->scan = clamd_scan_start(c->d->base, cfg->clamd_socket, data ? data : "", len,
                                    (size_t)cfg->clamd_max_size,
                                    (unsigned)cfg->clamd_timeout * 1000u, clamd_done, c, &err)))
        return SMTP_PENDING;
    spool_file_unmap(c->file);
    log_error("%s: cannot start the virus scan: %s", c->qid, err ? err : strerror(errno));
    refuse_message_code(c, r, 451, "4.7.1", "Temporary failure: cannot scan the message");
    return SMTP_DECIDED;
}

/* --- milters: the message --- */

/* An address a milter gave ("<a@b>" or "a@b"), without the brackets, into
 * out; false if it is not one (then ignored, and logged). */
static bool milter_address(const char *in, char *out, size_t size)
{
    while (*in == ' ')
        in++;
    size_t n = strlen(in);
    while (n && in[n - 1] == ' ')
        n--;
    if (n >= 2 && in[0] == '<' && in[n - 1] == '>') {
        in++;
        n -= 2;
    }
    if (n >= size || n > SMTP_PATH_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)in[i] <= ' ' || in[i] == 0x7f || in[i] == '<' || in[i] == '>')
            return false;
    str_copyn(out, size, in, n);
    return true;
}

/* A recipient a milter added, routed as if given at RCPT. */
static void milter_add_rcpt(struct smtpd_conn *c, const char *who, const char *addr)
{
    const char *at = strrchr(addr, '@');
    char local[SMTP_LOCAL_MAX + 1], domain[SMTP_DOMAIN_MAX + 1];
    if (!at || at == addr || str_copyn(local, sizeof(local), addr, (size_t)(at - addr)) < 0 ||
        str_copy(domain, sizeof(domain), at + 1) < 0 || !domain[0]) {
        log_warn("%s: milter %s added <%s>: not an address; ignored", c->qid, who, addr);
        return;
    }
    struct resolve_result res;
    enum resolve_status st = state_resolve(c->d->db, local, domain, &res);
    if (st == RESOLVE_OK) {
        for (size_t i = 0; i < res.n; i++)
            envelope_add_rcpt(&c->env, res.dests[i].addr, addr, NULL, 0,
                              res.dests[i].local ? ROUTE_LOCAL : ROUTE_REMOTE);
        resolve_result_free(&res);
    } else if (st == RESOLVE_NOT_OURS) {
        envelope_add_rcpt(&c->env, addr, NULL, NULL, 0, ROUTE_REMOTE);
    } else {
        log_warn("%s: milter %s added <%s>: %s; ignored", c->qid, who, addr,
                 st == RESOLVE_TEMPFAIL ? "account database error" : "no such recipient here");
        return;
    }
    log_info("%s: milter %s added the recipient <%s>", c->qid, who, addr);
}

/* A recipient a milter deleted: every destination of that address as
 * given at RCPT. */
static void milter_delete_rcpt(struct smtpd_conn *c, const char *who, const char *addr)
{
    size_t removed = 0;
    for (size_t i = c->env.nrcpts; i-- > 0;) {
        const struct envelope_rcpt *rc = &c->env.rcpts[i];
        if (str_eq_ci(rc->orig ? rc->orig : rc->addr, addr)) {
            envelope_remove_rcpt(&c->env, i);
            removed++;
        }
    }
    log_info("%s: milter %s deleted the recipient <%s>%s", c->qid, who, addr,
             removed ? "" : " (not among them)");
}

/* The envelope changes the milters asked for. */
static void milter_envelope(struct smtpd_conn *c, const struct milter_chain_result *m)
{
    for (size_t i = 0; i < m->n_mods; i++) {
        const struct milter_mod *mod = &m->mods[i];
        char addr[SMTP_PATH_MAX + 1];
        if (mod->type != MILTER_MOD_ADD_RCPT && mod->type != MILTER_MOD_DELETE_RCPT &&
            mod->type != MILTER_MOD_CHANGE_FROM)
            continue;
        if (!milter_address(mod->name, addr, sizeof(addr))) {
            char shown[200];
            str_printable(shown, sizeof(shown), mod->name, strlen(mod->name));
            log_warn("%s: a milter gave a bad address <%s>; ignored", c->qid, shown);
            continue;
        }
        if (mod->type == MILTER_MOD_ADD_RCPT) {
            milter_add_rcpt(c, m->who, addr);
        } else if (mod->type == MILTER_MOD_DELETE_RCPT) {
            milter_delete_rcpt(c, m->who, addr);
        } else {
            log_info("%s: milter changed the sender from <%s> to <%s>", c->qid, c->env.sender,
                     addr);
            free(c->env.sender);
            c->env.sender = xstrdup(addr);
        }
    }
}

/* The header and body changes: the message is rewritten under its ID.
 * False (r set, the message refused) if it cannot be. data is the
 * message as mapped; it is unmapped here. */
static bool milter_rewrite(struct smtpd_conn *c, const struct milter_chain_result *m,
                           const char *data, size_t len, struct smtp_reply *r)
{
    struct buf out;
    buf_init(&out, (size_t)c->d->cfg->message_size_limit + MILTER_CHAIN_BODY_MAX);
    bool changed = false;
    size_t ignored = 0;
    errno = 0; /* a -1 without errno: the result is too large */
    int rc = milter_edit_message(data ? data : "", len, m->mods, m->n_mods, m->body, m->body_len,
                                 &out, &changed, &ignored);
    spool_file_unmap(c->file);
    if (ignored)
        log_warn("%s: %zu header change%s of the milters ignored: bad field name", c->qid, ignored,
                 ignored == 1 ? "" : "s");
    if (rc == 0 && changed && spool_file_replace(c->file, out.data ? out.data : "", out.len) < 0)
        rc = -1;
    buf_free(&out);
    if (rc < 0) {
        log_error("%s: cannot apply the changes of the milters: %s", c->qid,
                  errno ? strerror(errno) : "too large");
        refuse_message_code(c, r, 451, "4.3.0", "Temporary failure: cannot store the message");
        return false;
    }
    if (changed)
        log_info("%s: the milters changed the message (%zu modification%s%s)", c->qid, m->n_mods,
                 m->n_mods == 1 ? "" : "s", m->body ? ", new body" : "");
    return true;
}

/* The milters have judged the message. */
static void milter_message_done(const struct milter_chain_result *m, void *arg)
{
    struct smtpd_conn *c = arg;
    milter_log_failures(c, c->qid, m);
    struct smtp_reply r;
    enum smtp_decision dec = SMTP_DECIDED;
    const char *data;
    size_t len;
    if (m->verdict == MILTER_REJECT || m->verdict == MILTER_TEMPFAIL ||
        m->verdict == MILTER_REPLY) {
        milter_refusal(c, "DATA", "NOQUEUE", m, &r);
        spool_file_abort(&c->file);
        c->qid[0] = '\0';
    } else if (spool_file_map(c->file, &data, &len) < 0) {
        log_error("%s: cannot read the message back for the milters' changes: %s", c->qid,
                  strerror(errno));
        refuse_message_code(c, &r, 451, "4.3.0", "Temporary failure: cannot store the message");
    } else if (milter_rewrite(c, m, data, len, &r)) {
        milter_envelope(c, m);
        if (m->verdict == MILTER_DISCARD || c->env.nrcpts == 0) {
            c->pv.action = POLICY_DISCARD;
            snprintf(c->pv.why, sizeof(c->pv.why), "milter %s: %s", m->who,
                     m->verdict == MILTER_DISCARD ? "discard" : "it deleted every recipient");
        } else if (m->verdict == MILTER_QUARANTINE && c->pv.action < POLICY_QUARANTINE) {
            c->pv.action = POLICY_QUARANTINE;
            char reason[200];
            str_printable(reason, sizeof(reason), m->reason, strlen(m->reason));
            snprintf(c->pv.why, sizeof(c->pv.why), "milter %s: %s", m->who, reason);
        }
        dec = data_end_scan(c, &r);
    }
    if (dec == SMTP_DECIDED) {
        smtp_server_resume(c->session, &r);
        conn_process(c);
    }
}

/* The content policy, then the milters, the virus scan and storing. */
static enum smtp_decision data_end_decide(struct smtpd_conn *c, const struct smtp_data_result *res,
                                          struct smtp_reply *r)
{
    if (!check_content(c, &c->pv, r))
        return SMTP_DECIDED;
    if (res != &c->ma_res) {
        c->ma_res = *res;
        c->ma_res.message_id = c->message_id;
    }
    if (!c->milters || c->pv.action == POLICY_DISCARD)
        return data_end_scan(c, r);
    const char *data;
    size_t len;
    if (spool_file_map(c->file, &data, &len) == 0 &&
        milter_chain_message(c->milters, c->qid, data, len, milter_message_done, c) == 0)
        return SMTP_PENDING;
    spool_file_unmap(c->file);
    log_error("%s: cannot give the message to the milters: %s", c->qid, strerror(errno));
    refuse_message_code(c, r, 451, "4.3.0", "Temporary failure in a mail filter, try again later");
    return SMTP_DECIDED;
}

static enum smtp_decision data_end_store(struct smtpd_conn *c, const struct smtp_data_result *res,
                                         struct smtp_reply *r)
{
    const struct smtp_mail_args *m = smtp_server_mail(c->session);
    struct envelope *env = &c->env;
    const struct policy_verdict pv = c->pv; /* the action and why; the buffers stay c->pv's */
    add_auth_results(c);
    memcpy(env->id, c->qid, sizeof(env->id));
    env->arrival = (long long)time(NULL);
    env->size = spool_file_size(c->file);
    env->body_8bit = m && m->body == SMTP_BODY_8BITMIME;
    env->has_8bit = res->has_8bit;
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
    free(env->filter);
    env->filter = pv.filter[0] ? xstrdup(pv.filter) : NULL;
    if (pv.action == POLICY_DISCARD)
        return discard_message(c, &pv, r);
    enum spool_dest dest = pv.action == POLICY_HOLD         ? SPOOL_DEST_HOLD
                           : pv.action == POLICY_QUARANTINE ? SPOOL_DEST_QUARANTINE
                                                            : SPOOL_DEST_QUEUE;
    if (dest == SPOOL_DEST_QUEUE && c->d->certify) {
        if (!certify_message(c, r))
            return SMTP_DECIDED;
        env->size = spool_file_size(c->file);
        if (env->nrcpts == 0) {
            /* Every recipient got the anomaly envelope instead (queued
             * and durable already). */
            certify_flow_deferred_run(c->d->certify, &c->certify_after, true);
            record_received(c);
            smtp_reply_set(r, 250, "2.0.0", "Ok: queued as %s", c->qid);
            rate_count(c);
            spool_file_abort(&c->file);
            c->qid[0] = '\0';
            c->messages++;
            return SMTP_DECIDED;
        }
    }
    if (spool_file_finish_into(c->file, env, &c->op, dest) < 0) {
        log_error("%s: cannot write the queue file: %s", c->qid, strerror(errno));
        certify_flow_deferred_run(c->d->certify, &c->certify_after, false);
        spool_file_abort(&c->file);
        c->qid[0] = '\0';
        smtp_reply_set(r, 451, "4.3.0", "Temporary failure: cannot write to the queue");
        return SMTP_DECIDED;
    }
    /* Recorded now, so that it comes before what the queue manager does
     * with the message (it may see it before the commit returns). */
    record_received(c);
    if (dest != SPOOL_DEST_QUEUE) {
        const char *kind = dest == SPOOL_DEST_HOLD ? "held" : "quarantined";
        log_info("%s: %s: %s", c->qid, dest == SPOOL_DEST_HOLD ? "hold" : "quarantine", pv.why);
        events_add(c->d->events, c->qid, kind, NULL, "%s by the content policy: %s", kind, pv.why);
    }
    c->op.done = commit_done;
    c->op.arg = c;
    c->commit_pending = true;
    syncer_submit(c->d->syncer, &c->op);
    return SMTP_PENDING;
}

/* --- TLS --- */

static void cb_starttls(void *ctx)
{
    struct smtpd_conn *c = ctx;
    c->starttls_requested = true;
}

/* Put a TLS layer under the session: on a new connection (implicit TLS)
 * or after STARTTLS. */
static bool conn_start_tls(struct smtpd_conn *c, evutil_socket_t fd)
{
    c->tls = tls_server_ref(c->d->tls);
    struct bufferevent *bev =
        tls_conn_wrap(c->d->base, c->tls, (int)fd, fd >= 0 ? NULL : c->bev, &c->ssl);
    if (!bev)
        return false;
    c->bev = bev;
    conn_setup_bev(c);
    return true;
}

/* After the 220 to STARTTLS: drop whatever the client sent behind the
 * command in plaintext (CVE-2011-0411), then start TLS. */
static void conn_switch_to_tls(struct smtpd_conn *c)
{
    c->starttls_requested = false;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t junk = evbuffer_get_length(in);
    if (junk) {
        log_warn("NOQUEUE: discarded %zu octets sent after STARTTLS in plaintext by [%s] "
                 "(command injection?)",
                 junk, c->ip);
        evbuffer_drain(in, junk);
    }
    if (!conn_start_tls(c, -1)) {
        log_warn("TLS setup failed for [%s]", c->ip);
        c->closing = true;
    }
}

/* --- AUTH --- */

/* The delayed answer to a failed login. */
static void auth_delay_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct smtpd_conn *c = arg;
    smtp_server_resume(c->session, &c->auth_reply);
    if (c->auth_failures >= (unsigned)c->d->cfg->auth_max_failures_per_connection)
        smtp_server_disconnect(c->session, "4.7.0", "Too many failed authentications");
    conn_process(c);
}

/* The login check is over (login-check has logged it): the reply, at
 * once or after the penalty delay of a failure. */
static void login_checked(void *arg, const struct auth_outcome *o)
{
    struct smtpd_conn *c = arg;
    c->auth = false;
    if (c->dead) {
        conn_free(c);
        return;
    }
    struct smtp_reply r;
    if (o->result == AUTH_OK) {
        c->auth_user = xstrdup(o->user);
        smtp_reply_set(&r, 235, "2.7.0", "Authentication successful");
    } else if (o->result == AUTH_TEMPFAIL) {
        smtp_reply_set(&r, 454, "4.7.0", "Temporary authentication failure");
    } else {
        c->auth_failures++;
        smtp_reply_set(&r, 535, "5.7.8", "Authentication credentials invalid");
    }
    c->auth_reply = r;
    long long delay = o->result == AUTH_OK ? 0 : o->delay_ms;
    if (delay > 0) {
        if (!c->auth_delay)
            c->auth_delay = evtimer_new(c->d->base, auth_delay_done, c);
        struct timeval tv = {(time_t)(delay / 1000), (suseconds_t)(delay % 1000) * 1000};
        evtimer_add(c->auth_delay, &tv);
        return;
    }
    auth_delay_done(-1, 0, c);
}

static enum smtp_decision cb_auth(void *ctx, const struct smtp_auth_request *rq,
                                  struct smtp_reply *r)
{
    struct smtpd_conn *c = ctx;
    char user[SASL_USER_MAX + 1] = "";
    char password[PASSWORD_MAX + 1] = "";
    int ok;
    if (rq->mech == SMTP_AUTH_PLAIN) {
        struct sasl_creds cr;
        ok = sasl_plain_decode(rq->resp[0], rq->resp_len[0], &cr);
        /* No acting as someone else: an authzid must name the same user. */
        if (ok == 0 && cr.authzid[0] && !str_eq_ci(cr.authzid, cr.user))
            ok = -2;
        if (ok == 0) {
            str_copy(user, sizeof(user), cr.user);
            str_copy(password, sizeof(password), cr.password);
        }
        memset(&cr, 0, sizeof(cr));
    } else {
        ok = sasl_login_decode(rq->resp[0], rq->resp_len[0], user, sizeof(user));
        if (ok == 0)
            ok = sasl_login_decode(rq->resp[1], rq->resp_len[1], password, sizeof(password));
    }
    if (ok < 0) {
        memset(password, 0, sizeof(password));
        if (ok == -2)
            smtp_reply_set(r, 535, "5.7.8", "Authentication credentials invalid");
        else
            smtp_reply_set(r, 501, "5.5.2", "Cannot decode the response");
        return SMTP_DECIDED;
    }
    c->auth = true;
    login_check_start(c->d->logins, smtpd_service_name(c->service), user, password,
                      strlen(password), c->ip, login_checked, c);
    memset(password, 0, sizeof(password));
    return SMTP_PENDING;
}

/* The SPF check is over: log it, and go on with what waited for it. */
static void spf_done(void *arg, const struct spf_outcome *o)
{
    struct smtpd_conn *c = arg;
    char from[SMTP_PATH_MAX * 4 + 1], reason[400];
    str_printable(from, sizeof(from), c->env.sender, strlen(c->env.sender));
    str_printable(reason, sizeof(reason), o->reason, strlen(o->reason));
    log_info("NOQUEUE: spf=%s client=[%s] from=<%s> domain=%s%s%s%s%s", spf_result_name(o->result),
             c->ip, from, o->domain, o->mechanism[0] ? " mechanism=" : "", o->mechanism,
             reason[0] ? " reason=" : "", reason);
    if (c->dead)
        return;
    struct smtp_reply r;
    if (c->spf_wait_rcpt) {
        c->spf_wait_rcpt = false;
        if (rcpt_gate(c, &c->spf_rcpt, &r) != SMTP_DECIDED)
            return;
        smtp_server_resume(c->session, &r);
    } else if (c->spf_wait_data) {
        c->spf_wait_data = false;
        if (data_start_decide(c, &r) == SMTP_DECIDED)
            smtp_server_resume(c->session, &r);
    } else {
        return;
    }
    conn_process(c);
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
    .on_starttls = cb_starttls,
    .on_auth = cb_auth,
};

/* --- connections --- */

static void conn_free(struct smtpd_conn *c)
{
    struct smtpd *d = c->d;
    if (c->commit_pending || c->auth) {
        /* The commit (or login check) callback frees it when it is done. */
        c->dead = true;
        bufferevent_disable(c->bev, EV_READ | EV_WRITE);
        return;
    }
    log_info("disconnect from [%s] messages=%u%s%s%s", c->ip, c->messages,
             c->auth_user ? " user=<" : "", c->auth_user ? c->auth_user : "",
             c->auth_user ? ">" : "");
    smtp_server_session_free(&c->session);
    if (c->dnsbl_check)
        dnsbl_check_cancel(c->dnsbl_check);
    c->dnsbl_check = NULL;
    clamd_scan_cancel(&c->scan);
    milter_chain_free(&c->milters);
    reset_transaction(c);
    certify_flow_deferred_run(d->certify, &c->certify_after, false);
    if (c->auth_delay)
        event_free(c->auth_delay);
    if (c->flush_ev)
        event_free(c->flush_ev);
    bufferevent_free(c->bev); /* the TLS layer frees the SSL and what is under it */
    tls_server_unref(&c->tls);
    free(c->auth_user);
    ip_counts_adjust(d->ips, c->ip, -1);
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

/* All the output has left: from the TLS layer and, after STARTTLS, from
 * the plain connection under it too (freeing earlier would lose the
 * last replies). */
static bool conn_output_empty(struct smtpd_conn *c)
{
    return tls_conn_output_len(c->bev) == 0;
}

/* Closing: free the connection once its output is out, looking again
 * every few milliseconds while what is left sits under the TLS layer. */
static void conn_close_soon(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct smtpd_conn *c = arg;
    if (conn_output_empty(c) || ++c->flush_polls > FLUSH_POLLS_MAX) {
        conn_free(c);
        return;
    }
    if (!c->flush_ev)
        c->flush_ev = evtimer_new(c->d->base, conn_close_soon, c);
    struct timeval tv = {0, 10000};
    evtimer_add(c->flush_ev, &tv);
}

static void conn_write(struct bufferevent *bev, void *arg)
{
    (void)bev;
    struct smtpd_conn *c = arg;
    if (c->closing && !c->flush_ev)
        conn_close_soon(-1, 0, c);
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
    if (c->starttls_requested && !c->closing)
        conn_switch_to_tls(c);
    if (c->closing) {
        bufferevent_disable(c->bev, EV_READ);
        if (!c->flush_ev && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
            conn_close_soon(-1, 0, c);
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

/* Why a TLS connection failed, for the log. */
static void log_tls_error(struct smtpd_conn *c)
{
    char text[256];
    log_info("TLS handshake failed with [%s]: %s", c->ip,
             tls_conn_error(c->bev, text, sizeof(text)));
}

static void conn_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct smtpd_conn *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        /* The TLS handshake is done. */
        tls_describe(c->ssl, c->tls_info, sizeof(c->tls_info));
        log_info("TLS established with [%s]: %s%s", c->ip, c->tls_info,
                 SSL_session_reused(c->ssl) ? " (resumed)" : "");
        smtp_server_tls_started(c->session);
        conn_process(c);
        return;
    }
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
        if (c->ssl && !c->tls_info[0])
            log_tls_error(c);
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

static void conn_setup_bev(struct smtpd_conn *c)
{
    struct timeval tv = {(time_t)c->d->cfg->smtpd_timeout, 0};
    bufferevent_set_timeouts(c->bev, &tv, &tv);
    bufferevent_setcb(c->bev, conn_read, conn_write, conn_event, c);
    bufferevent_setwatermark(c->bev, EV_READ, 0, READ_HIGH_WATER);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
    (void)l;
    (void)salen;
    struct smtpd_listener *sl = arg;
    struct smtpd *d = sl->d;
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
    if (ip_counts_adjust(d->ips, ip, 1) > (unsigned)d->cfg->smtpd_max_connections_per_ip) {
        ip_counts_adjust(d->ips, ip, -1);
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
    c->service = sl->service;
    if (c->service == SERVICE_SUBMISSIONS) {
        if (!conn_start_tls(c, fd)) {
            tls_server_unref(&c->tls);
            free(c);
            ip_counts_adjust(d->ips, ip, -1);
            close(fd);
            log_error("TLS setup failed for [%s]", ip);
            return;
        }
    } else {
        c->bev = bufferevent_socket_new(d->base, fd, BEV_OPT_CLOSE_ON_FREE);
        conn_setup_bev(c);
    }
    c->next = d->conns;
    if (d->conns)
        d->conns->prev = c;
    d->conns = c;
    d->nconns++;
    log_info("connect from [%s]:%d to %s", ip, net_addr_port(sa), smtpd_service_name(c->service));
    c->session = smtp_server_session_new(&d->settings[c->service], &session_callbacks, c);
    dnsbl_start(c);
    char name[80];
    snprintf(name, sizeof(name), "[%s]", ip);
    struct milter_chain_client mc = {.hostname = name,
                                     .address = ip,
                                     .port = (uint16_t)net_addr_port(sa),
                                     .ipv6 = sa->sa_family == AF_INET6,
                                     .daemon_name = smtpd_service_name(c->service),
                                     .our_hostname = d->cfg->hostname};
    c->milters = milter_chain_start(d->base, &d->policy.milters, &mc);
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
        evconnlistener_disable(d->listeners[i].l);
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
    if (sig == SIGHUP) {
        /* Accounts are read live; certificates are reloaded. Connections
         * keep the certificates they started with. */
        tls_conn_reload(&d->tls, d->cfg);
        return;
    }
    smtpd_stop(d);
}

static void on_events_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct smtpd *d = arg;
    events_flush(d->events);
}

/* The session settings of each service. */
static void make_settings(struct smtpd *d)
{
    for (int i = 0; i < 3; i++) {
        struct smtp_server_settings *set = &d->settings[i];
        set->hostname = d->cfg->hostname;
        set->max_message_size = (unsigned long long)d->cfg->message_size_limit;
        set->max_recipients = (unsigned)d->cfg->smtpd_recipient_limit;
        set->max_errors = (unsigned)d->cfg->smtpd_error_limit;
        set->max_received = (unsigned)d->cfg->max_received_headers;
        set->max_subject = (size_t)d->cfg->max_subject_length;
        set->max_header_fields = (unsigned)d->cfg->max_header_fields;
        set->max_header_size = (unsigned long long)d->cfg->max_header_size;
    }

    bool tls = d->tls != NULL;
    d->settings[SERVICE_SMTP].starttls = tls && d->cfg->smtp_starttls;
    d->settings[SERVICE_SMTP].auth = tls && d->cfg->smtp_auth;
    struct smtp_server_settings *sub = &d->settings[SERVICE_SUBMISSION];
    sub->starttls = sub->auth = sub->require_tls = sub->require_auth = true;
    struct smtp_server_settings *subs = &d->settings[SERVICE_SUBMISSIONS];
    subs->tls = subs->auth = subs->require_tls = subs->require_auth = true;
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
    daemon_path(d.cfg, "state/postino.db", d.db_path, sizeof(d.db_path));
    char *dberr = NULL;
    d.db = state_db_open(d.db_path, false, &dberr);
    if (!d.db)
        log_fatal("%s", dberr);
    d.certify = certify_flow_new(d.cfg, certify_resolve, &d);
    bool need_tls = d.cfg->smtp_starttls;
    for (size_t i = 0; i < env->n_smtp_fds; i++)
        if (env->smtp_services[i] != SERVICE_SMTP)
            need_tls = true;
    if (need_tls) {
        char *tlserr = NULL;
        d.tls = tls_server_new(d.cfg, &tlserr);
        if (!d.tls) {
            for (size_t i = 0; i < env->n_smtp_fds; i++)
                if (env->smtp_services[i] != SERVICE_SMTP)
                    log_fatal("submission needs TLS: %s", tlserr);
            log_error("STARTTLS disabled: %s", tlserr);
            free(tlserr);
        }
    }
    make_settings(&d);
    char *polerr = NULL;
    if (policy_tables_load(d.cfg, &d.policy, &polerr) < 0)
        log_fatal("content policy: %s", polerr);
    if (d.cfg->dkim_verify) {
        const char *pslerr = NULL;
        d.od = dmarc_orgdomain_new(NULL, &pslerr);
        if (!d.od)
            log_error("no DKIM or DMARC checks: public suffix list: %s", pslerr ? pslerr : "?");
        else
            d.dkim_keys = dkim_key_cache_new(DKIM_KEY_CACHE_ENTRIES);
    }
    if (d.cfg->spf_check || d.cfg->dkim_verify) {
        char *dnserr = NULL;
        d.dns = dns_new(d.base, d.cfg->dns_resolver, &dnserr);
        if (!d.dns) {
            log_error("no SPF, DKIM or DMARC checks: %s", dnserr);
            free(dnserr);
        }
    }
    if (d.cfg->rate_limit_messages || d.cfg->rate_limit_recipients || d.cfg->greylisting) {
        char *pdberr = NULL;
        d.pdb = policy_db_open(d.cfg->data_dir, &pdberr);
        if (!d.pdb) {
            log_error("no rate limits or greylisting: %s", pdberr);
            free(pdberr);
        }
    }
    if (d.cfg->dnsbl_sites[0]) {
        struct dnsbl_sites sites;
        char *sitesr = NULL;
        if (dnsbl_sites_parse(d.cfg->dnsbl_sites, strlen(d.cfg->dnsbl_sites), &sites, &sitesr) < 0)
            log_fatal("dnsbl_sites: %s", sitesr);
        if (!d.dns) {
            char *dnserr = NULL;
            d.dns = dns_new(d.base, d.cfg->dns_resolver, &dnserr);
            if (!d.dns) {
                log_error("no DNS block lists: %s", dnserr);
                free(dnserr);
            }
        }
        if (d.dns)
            d.dnsbl = dnsbl_new(d.dns, &sites, (unsigned)d.cfg->dnsbl_cache_time);
        d.dnsbl_allow = xcalloc(d.cfg->dnsbl_allow_networks.n + 1, sizeof(*d.dnsbl_allow));
        for (size_t i = 0; i < d.cfg->dnsbl_allow_networks.n; i++)
            if (net_parse_cidr(d.cfg->dnsbl_allow_networks.items[i],
                               &d.dnsbl_allow[d.n_dnsbl_allow]) == 0)
                d.n_dnsbl_allow++;
    }
    char *everr = NULL;
    d.events = events_open(d.cfg->data_dir, &everr);
    if (!d.events) {
        log_warn("no message history (trace): %s", everr);
        free(everr);
    }
    d.events_ev = event_new(d.base, -1, EV_PERSIST, on_events_timer, &d);
    event_add(d.events_ev, &(struct timeval){0, 200000});
    d.logins = login_checker_new(d.base, d.cfg);
    d.ips = ip_counts_new();
    d.relay_nets = xcalloc(d.cfg->relay_networks.n + 1, sizeof(*d.relay_nets));
    for (size_t i = 0; i < d.cfg->relay_networks.n; i++)
        if (net_parse_cidr(d.cfg->relay_networks.items[i], &d.relay_nets[d.n_relay_nets]) == 0)
            d.n_relay_nets++;
    d.syncer = syncer_new(d.base,
                          d.cfg->spool_sync == SPOOL_SYNC_SYNCFS ? SYNCER_SYNCFS : SYNCER_FSYNC, 4);
    for (size_t i = 0; i < env->n_smtp_fds; i++) {
        struct smtpd_listener *sl = &d.listeners[d.n_listeners];
        sl->d = &d;
        sl->service = env->smtp_services[i];
        sl->l =
            evconnlistener_new(d.base, on_accept, sl, LEV_OPT_CLOSE_ON_FREE, -1, env->smtp_fds[i]);
        if (!sl->l)
            log_fatal("cannot listen on an SMTP socket");
        evconnlistener_set_error_cb(sl->l, on_accept_error);
        d.n_listeners++;
    }
    d.sigterm_ev = evsignal_new(d.base, SIGTERM, on_signal, &d);
    d.sigint_ev = evsignal_new(d.base, SIGINT, on_signal, &d);
    d.sighup_ev = evsignal_new(d.base, SIGHUP, on_signal, &d);
    event_add(d.sigterm_ev, NULL);
    event_add(d.sigint_ev, NULL);
    event_add(d.sighup_ev, NULL);
    daemon_signals_ready();
    log_info("ready");

    event_base_dispatch(d.base);

    for (size_t i = 0; i < d.n_listeners; i++)
        evconnlistener_free(d.listeners[i].l);
    /* Finish the commits and login checks in flight (their clients get
     * their replies), then drop whatever connection is left. */
    syncer_free(&d.syncer);
    login_checker_free(&d.logins);
    while (d.conns) {
        d.conns->commit_pending = false;
        d.conns->auth = false;
        d.conns->closing = true;
        conn_free(d.conns);
    }
    dnsbl_free(&d.dnsbl);
    policy_db_close(&d.pdb);
    dns_free(&d.dns);
    dmarc_orgdomain_free(&d.od);
    dkim_key_cache_free(&d.dkim_keys);
    policy_tables_free(&d.policy);
    tls_server_unref(&d.tls);
    event_free(d.events_ev);
    events_close(&d.events);
    event_free(d.sigterm_ev);
    event_free(d.sigint_ev);
    event_free(d.sighup_ev);
    free(d.relay_nets);
    free(d.dnsbl_allow);
    certify_flow_free(&d.certify);
    state_db_close(&d.db);
    spool_close(&d.spool);
    ip_counts_free(&d.ips);
    event_base_free(d.base);
    return 0;
}
