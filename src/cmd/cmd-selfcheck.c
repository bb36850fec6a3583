/* postino selfcheck: the checks of postino probe turned on this server's
 * own configuration: its domains' DNS records against the configuration
 * and the DKIM keys, its certificate, an open-relay test against its own
 * SMTP port, its TLS, the queue and the free disk. */
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "auth/spf-resolve.h"
#include "auth/spf.h"
#include "cmd.h"
#include "lib/buf.h"
#include "lib/config.h"
#include "lib/dns.h"
#include "lib/net.h"
#include "lib/str.h"
#include "probe/probe-dns.h"
#include "probe/probe-domain.h"
#include "probe/probe-report.h"
#include "probe/probe-smtp.h"
#include "queue/envelope.h"
#include "queue/spool.h"
#include "state/state-dkim.h"
#include "state/state-domain.h"

static const char usage[] =
    "usage: postino selfcheck [--json] [--no-dns] [--timeout SECONDS]\n"
    "Options: --config FILE\n"
    "Checks this server as a receiver would see it, and its health: for each of our\n"
    "domains, that the MX, SPF, DKIM and DMARC records published match the\n"
    "configuration and the keys; that the certificate names the hostname and does\n"
    "not expire within 14 days; that the SMTP port is no open relay (the classic\n"
    "relay tricks, each reported); TLS on the SMTP port (versions, forward secrecy);\n"
    "the queue (messages, the oldest deferred one and why); free disk for the spool\n"
    "and the mailboxes. --no-dns leaves out the DNS checks (a machine offline).\n"
    "One verdict line per check; exit status 1 if any check fails.\n";

#define DOMAINS_MAX      64
#define OUR_ADDRS_MAX    4
#define EXPIRY_FAIL_DAYS 14
#define DISK_FAIL_BYTES  (1ULL << 30) /* 1 GiB */
#define DISK_WARN_BYTES  (5ULL << 30)
#define DISK_FAIL_PCT    2.0
#define DISK_WARN_PCT    10.0
#define DEFERRED_WARN    (24 * 3600) /* an older deferred message is a warning */
#define RELAY_TARGET     "relay-test.invalid"

struct self {
    struct config *cfg;
    struct state_db *db;
    struct probe_ctx ctx;
    struct probe_report *rep;
    char domains[DOMAINS_MAX][256];
    size_t n_domains;
    char host[256]; /* our hostname, lower case */
    char addrs[OUR_ADDRS_MAX][64];
    size_t n_addrs;
    unsigned timeout_ms;
};

static void add_domain(const char *name, void *arg)
{
    struct self *s = arg;
    if (s->n_domains < DOMAINS_MAX)
        str_copy(s->domains[s->n_domains++], sizeof(s->domains[0]), name);
}

/* --- the certificate files --- */

static void check_certificate_file(struct self *s, const char *item)
{
    const char *colon = strchr(item, ':');
    char rel[4096], path[4096];
    if (!colon || str_copyn(rel, sizeof(rel), item, (size_t)(colon - item)) < 0)
        return;
    if (rel[0] == '/')
        str_copy(path, sizeof(path), rel);
    else
        config_data_path(s->cfg, rel, path, sizeof(path));
    probe_report_fact(s->rep, "file", "%s", path);
    FILE *f = fopen(path, "r");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    if (!x) {
        probe_report_check(s->rep, "certificate", PROBE_FAIL,
                           "%s cannot be read as a PEM "
                           "certificate",
                           path);
        return;
    }
    char subject[256] = "", issuer[256] = "";
    X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
    X509_NAME_oneline(X509_get_issuer_name(x), issuer, sizeof(issuer));
    probe_report_fact(s->rep, "subject", "%s", subject);
    probe_report_fact(s->rep, "issuer", "%s", issuer);
    bool names_host = X509_check_host(x, s->host, 0, 0, NULL) == 1;
    probe_report_check(s->rep, "certificate-name", names_host ? PROBE_OK : PROBE_FAIL,
                       names_host ? "it names the hostname %s"
                                  : "it does not name the hostname %s: clients and MTA-STS "
                                    "senders refuse it",
                       s->host);
    bool self_signed = X509_self_signed(x, 1) == 1;
    if (self_signed)
        probe_report_check(s->rep, "certificate-issuer", PROBE_WARN,
                           "self-signed: mail clients warn, MTA-STS and DANE senders refuse it; "
                           "use one from a public authority (ACME)");
    int days = 0, secs = 0;
    ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x));
    if (secs >= 43200)
        days++; /* to the nearest day: a certificate made for 825 days has 825 */
    struct tm tm;
    char until[40] = "?";
    if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1)
        strftime(until, sizeof(until), "%Y-%m-%d %H:%M UTC", &tm);
    if (days < 0 || (days == 0 && secs < 0))
        probe_report_check(s->rep, "certificate-expiry", PROBE_FAIL, "it expired on %s", until);
    else if (days < EXPIRY_FAIL_DAYS)
        probe_report_check(s->rep, "certificate-expiry", PROBE_FAIL,
                           "it expires in %d day%s (%s): renew it now", days, days == 1 ? "" : "s",
                           until);
    else
        probe_report_check(s->rep, "certificate-expiry", PROBE_OK, "valid until %s (%d days)",
                           until, days);
    X509_free(x);
}

static void check_certificates(struct self *s)
{
    probe_report_section(s->rep, "certificate", "Certificate");
    for (size_t i = 0; i < s->cfg->tls_certificates.n; i++)
        check_certificate_file(s, s->cfg->tls_certificates.items[i]);
    if (s->cfg->tls_certificates.n == 0)
        probe_report_check(s->rep, "certificate", PROBE_FAIL, "tls_certificates is empty");
}

/* --- our own SMTP port --- */

/* Where our SMTP service listens, as an address to connect to. */
static bool smtp_address(struct self *s, const struct config_list *listen,
                         struct sockaddr_storage *ss, socklen_t *len, char *text, size_t size)
{
    if (listen->n == 0)
        return false;
    struct net_listen_addr a;
    const char *err;
    if (net_parse_listen(listen->items[0], &a, &err) < 0)
        return false;
    (void)s;
    uint16_t port = (uint16_t)net_addr_port((struct sockaddr *)&a.ss);
    if (a.any) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        memset(ss, 0, sizeof(*ss));
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        *len = sizeof(*in);
    } else {
        *ss = a.ss;
        *len = a.len;
    }
    char ip[64];
    net_addr_text((struct sockaddr *)ss, ip, sizeof(ip));
    snprintf(text, size, "%s%s%s:%u", strchr(ip, ':') ? "[" : "", ip, strchr(ip, ':') ? "]" : "",
             port);
    return true;
}

/* The classic tricks to make a server relay, each tried on its own, from
 * source (or any address). */
static void relay_tests(struct self *s, const struct sockaddr *sa, socklen_t len,
                        const struct sockaddr *source, socklen_t source_len)
{
    const char *d = s->n_domains ? s->domains[0] : s->host;
    char tricks[10][600];
    size_t n = 0;
    snprintf(tricks[n++], 600, "<user@%s>", RELAY_TARGET);
    snprintf(tricks[n++], 600, "<user%%%s@%s>", RELAY_TARGET, d);
    snprintf(tricks[n++], 600, "<\"user@%s\"@%s>", RELAY_TARGET, d);
    snprintf(tricks[n++], 600, "<%s!user@%s>", RELAY_TARGET, d);
    snprintf(tricks[n++], 600, "<@%s:user@%s>", d, RELAY_TARGET);
    snprintf(tricks[n++], 600, "<user@%s@%s>", RELAY_TARGET, d);
    snprintf(tricks[n++], 600, "<user%%%s@[127.0.0.1]>", RELAY_TARGET);
    snprintf(tricks[n++], 600, "<user@[192.0.2.1]>");
    snprintf(tricks[n++], 600, "<user@%s.>", RELAY_TARGET);
    /* and with a sender of ours: a forged local sender must not open it */
    static const char *const senders[] = {"<selfcheck@" RELAY_TARGET ">", NULL, "<>"};
    char own_sender[300];
    snprintf(own_sender, sizeof(own_sender), "<postmaster@%s>", d);
    struct probe_smtp_options o = {.server_name = s->host,
                                   .addr = sa,
                                   .addr_len = len,
                                   .helo = "relay-test.invalid",
                                   .timeout_ms = s->timeout_ms,
                                   .source = source,
                                   .source_len = source_len};
    unsigned open = 0, refused = 0;
    for (size_t f = 0; f < 3; f++) {
        const char *from = f == 1 ? own_sender : senders[f];
        for (size_t i = 0; i < n; i++) {
            if (f > 0 && i > 0)
                break; /* the other senders with the plain case only */
            struct probe_step_result conn, banner, st;
            struct probe_session *ps = probe_session_open(&o, &conn, &banner);
            if (!ps) {
                probe_report_check(s->rep, "relay", PROBE_FAIL, "cannot test: %s",
                                   conn.done ? banner.reply : conn.reply);
                return;
            }
            char line[700];
            snprintf(line, sizeof(line), "MAIL FROM:%s", from);
            bool ok = probe_session_command(ps, line, &st) && st.code / 100 == 2;
            if (ok) {
                if (snprintf(line, sizeof(line), "RCPT TO:%s", tricks[i]) >= (int)sizeof(line))
                    line[sizeof(line) - 1] = '\0'; /* cannot be: the tricks are short */
                ok = probe_session_command(ps, line, &st);
            }
            probe_session_command(ps, "RSET", &(struct probe_step_result){0});
            probe_session_close(&ps);
            if (ok && st.code / 100 == 2) {
                open++;
                probe_report_check(s->rep, "relay", PROBE_FAIL,
                                   "OPEN RELAY: MAIL FROM:%s RCPT TO:%s was accepted (%s)", from,
                                   tricks[i], st.reply);
            } else {
                refused++;
                probe_report_fact(s->rep, "refused", "MAIL FROM:%s RCPT TO:%s: %s", from, tricks[i],
                                  st.reply);
            }
        }
    }
    if (!open)
        probe_report_check(s->rep, "relay", PROBE_OK,
                           "not an open relay: all %u relay tricks "
                           "refused",
                           refused);
}

/* relay_networks trusts sa. */
static bool trusted_client(const struct self *s, const struct sockaddr *sa)
{
    for (size_t i = 0; i < s->cfg->relay_networks.n; i++) {
        struct net_cidr c;
        if (net_parse_cidr(s->cfg->relay_networks.items[i], &c) == 0 && net_cidr_match(&c, sa))
            return true;
    }
    return false;
}

static void check_smtp(struct self *s)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    char where[100];
    probe_report_section(s->rep, "smtp", "The SMTP service");
    if (!smtp_address(s, &s->cfg->smtp_listen, &ss, &len, where, sizeof(where))) {
        probe_report_check(s->rep, "smtp", PROBE_INFO, "smtp_listen is empty: no SMTP service");
        return;
    }
    probe_report_fact(s->rep, "address", "%s", where);
    /* relay_networks trusts some clients: a network that holds a
     * documentation address stands for "anyone" */
    struct sockaddr_in anyone = {.sin_family = AF_INET};
    inet_pton(AF_INET, "192.0.2.1", &anyone.sin_addr);
    if (trusted_client(s, (struct sockaddr *)&anyone))
        probe_report_check(s->rep, "relay", PROBE_FAIL,
                           "OPEN RELAY: relay_networks trusts the whole Internet (192.0.2.1 "
                           "included)");
    /* test from a loopback address relay_networks does not trust, when
     * the service listens on loopback; else from where the system says */
    struct sockaddr_in src = {.sin_family = AF_INET};
    const struct sockaddr *source = NULL;
    bool loopback = ss.ss_family == AF_INET &&
                    (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
    static const char *const candidates[] = {"127.0.0.1", "127.0.0.2", "127.0.1.1",
                                             "127.255.255.254"};
    bool found = !loopback && !trusted_client(s, (struct sockaddr *)&ss);
    for (size_t i = 0; loopback && i < sizeof(candidates) / sizeof(candidates[0]); i++) {
        inet_pton(AF_INET, candidates[i], &src.sin_addr);
        if (!trusted_client(s, (struct sockaddr *)&src)) {
            source = (struct sockaddr *)&src;
            found = true;
            break;
        }
    }
    if (found || trusted_client(s, (struct sockaddr *)&anyone)) {
        if (source)
            probe_report_fact(s->rep, "relay test from", "%s", inet_ntoa(src.sin_addr));
        relay_tests(s, (struct sockaddr *)&ss, len, source, source ? sizeof(src) : 0);
    } else {
        probe_report_check(s->rep, "relay", PROBE_INFO,
                           "not tested: relay_networks trusts every address the test could come "
                           "from (%s)",
                           where);
    }
    /* TLS as a sender sees it */
    struct probe_smtp_options o = {.server_name = s->host,
                                   .addr = (struct sockaddr *)&ss,
                                   .addr_len = len,
                                   .helo = "selfcheck.invalid",
                                   .timeout_ms = s->timeout_ms};
    struct probe_smtp_result *r = calloc(1, sizeof(*r));
    if (!r)
        return;
    probe_smtp_run(&o, r);
    if (!r->step[PROBE_STEP_CONNECT].done) {
        probe_report_check(s->rep, "smtp", PROBE_FAIL, "cannot connect to %s: %s", where,
                           r->step[PROBE_STEP_CONNECT].reply);
    } else if (!r->starttls_offered) {
        probe_report_check(s->rep, "starttls", s->cfg->smtp_starttls ? PROBE_FAIL : PROBE_WARN,
                           "STARTTLS is not offered%s",
                           s->cfg->smtp_starttls ? " (a certificate problem?)"
                                                 : ": smtp_starttls = no");
    } else if (!r->tls) {
        probe_report_check(s->rep, "starttls", PROBE_FAIL, "STARTTLS fails: %s",
                           r->step[PROBE_STEP_STARTTLS].reply);
    } else {
        probe_report_check(s->rep, "starttls", PROBE_OK, "STARTTLS works: %s, %s", r->tls_version,
                           r->cipher);
        probe_report_check(s->rep, "forward-secrecy", r->forward_secrecy ? PROBE_OK : PROBE_FAIL,
                           r->forward_secrecy ? "%s" : "%s: no forward secrecy", r->cipher);
        /* the old versions must be refused */
        struct probe_smtp_result *old = calloc(1, sizeof(*old));
        if (old) {
            o.tls_max_version = TLS1_1_VERSION;
            probe_smtp_run(&o, old);
            probe_report_check(s->rep, "tls-versions", old->tls ? PROBE_FAIL : PROBE_OK,
                               old->tls ? "TLS 1.1 is accepted (%s): it is deprecated (RFC 8996)"
                                        : "TLS 1.1 and older are refused%s",
                               old->tls ? old->tls_version : "");
            free(old);
        }
    }
    free(r);
}

/* --- DNS: what our domains publish --- */

struct spf_wait {
    bool done;
    enum spf_result result;
    char why[300];
};

static void spf_done(void *arg, const struct spf_outcome *o)
{
    struct spf_wait *w = arg;
    w->done = true;
    w->result = o->result;
    str_printable(w->why, sizeof(w->why), o->reason, strlen(o->reason));
}

struct dkim_each {
    struct self *s;
    const char *domain;
    unsigned n;
};

/* The p= value of a DKIM record, white space removed. */
static void dkim_p(const char *txt, char *out, size_t size)
{
    out[0] = '\0';
    const char *p = txt;
    while ((p = strstr(p, "p=")) != NULL) {
        if (p == txt || p[-1] == ';' || p[-1] == ' ' || p[-1] == '\t')
            break;
        p += 2;
    }
    if (!p)
        return;
    p += 2;
    size_t o = 0;
    for (; *p && *p != ';' && o + 1 < size; p++)
        if (*p != ' ' && *p != '\t')
            out[o++] = *p;
    out[o] = '\0';
}

static void check_dkim_key(const struct state_dkim_key *k, void *arg)
{
    struct dkim_each *e = arg;
    struct self *s = e->s;
    e->n++;
    struct buf want;
    buf_init(&want, BUF_UNLIMITED);
    char *err = NULL;
    if (cmd_dkim_key_value(s->cfg, k, &want, &err) < 0) {
        probe_report_check(s->rep, "dkim", PROBE_FAIL, "selector %s: its key cannot be read: %s",
                           k->selector, err ? err : "?");
        free(err);
        buf_free(&want);
        return;
    }
    char name[400];
    snprintf(name, sizeof(name), "%s._domainkey.%s", k->selector, k->domain);
    struct probe_lookup l;
    probe_lookup(s->ctx.base, s->ctx.dns, name, DNS_TYPE_TXT, &l);
    char want_p[4096], got_p[4096] = "";
    dkim_p(buf_cstr(&want), want_p, sizeof(want_p));
    for (size_t i = 0; i < l.n && !got_p[0]; i++)
        dkim_p(l.rr[i], got_p, sizeof(got_p));
    if (l.st == DNS_TEMPFAIL)
        probe_report_check(s->rep, "dkim", PROBE_WARN, "%s: the lookup failed", name);
    else if (!got_p[0])
        probe_report_check(s->rep, "dkim", PROBE_FAIL,
                           "%s is not published: receivers cannot verify our signatures "
                           "(postino dns-records %s)",
                           name, k->domain);
    else if (strcmp(want_p, got_p) != 0)
        probe_report_check(s->rep, "dkim", PROBE_FAIL,
                           "%s publishes another key than ours: every signature fails "
                           "(postino dns-records %s)",
                           name, k->domain);
    else
        probe_report_check(s->rep, "dkim", PROBE_OK, "%s publishes our %s key", name, k->type);
    probe_lookup_free(&l);
    buf_free(&want);
}

static void check_domain(struct self *s, const char *domain)
{
    char id[300];
    snprintf(id, sizeof(id), "domain:%s", domain);
    probe_report_section(s->rep, id, domain);
    /* MX: one of them must be us */
    struct probe_lookup l;
    probe_lookup(s->ctx.base, s->ctx.dns, domain, DNS_TYPE_MX, &l);
    bool ours = false;
    for (size_t i = 0; i < l.n; i++) {
        unsigned pref;
        char name[256];
        if (sscanf(l.rr[i], "%u %255s", &pref, name) != 2)
            continue;
        size_t nl = strlen(name);
        if (nl > 1 && name[nl - 1] == '.')
            name[nl - 1] = '\0';
        probe_report_fact(s->rep, "MX", "%u %s", pref, name);
        if (str_eq_ci(name, s->host))
            ours = true;
    }
    if (l.st == DNS_TEMPFAIL)
        probe_report_check(s->rep, "mx", PROBE_WARN, "the MX lookup failed (temporary)");
    else if (l.n == 0)
        probe_report_check(s->rep, "mx", PROBE_FAIL,
                           "%s has no MX record: publish 10 %s (postino dns-records %s)", domain,
                           s->host, domain);
    else if (!ours)
        probe_report_check(s->rep, "mx", PROBE_FAIL,
                           "no MX record of %s names this server (%s): its mail goes elsewhere",
                           domain, s->host);
    else
        probe_report_check(s->rep, "mx", PROBE_OK, "an MX record names this server (%s)", s->host);
    probe_lookup_free(&l);
    /* SPF: the record is sound, and lets our addresses send */
    probe_check_spf(&s->ctx, domain);
    for (size_t i = 0; i < s->n_addrs; i++) {
        char sender[300];
        snprintf(sender, sizeof(sender), "postmaster@%s", domain);
        struct spf_request req = {.ip = s->addrs[i],
                                  .sender = sender,
                                  .helo = s->host,
                                  .receiver = "selfcheck.invalid",
                                  .now = (long long)time(NULL)};
        struct spf_wait w = {0};
        struct spf_resolve *sr = spf_resolve_start(s->ctx.base, s->ctx.dns, &req, false,
                                                   s->timeout_ms / 1000, spf_done, &w);
        while (sr && !w.done)
            event_base_loop(s->ctx.base, EVLOOP_ONCE);
        spf_resolve_free(&sr);
        if (!w.done)
            continue;
        if (w.result == SPF_PASS)
            probe_report_check(s->rep, "spf-ours", PROBE_OK, "SPF lets our address %s send for %s",
                               s->addrs[i], domain);
        else
            probe_report_check(s->rep, "spf-ours", PROBE_FAIL,
                               "SPF gives %s for our address %s: our mail from %s fails SPF",
                               spf_result_name(w.result), s->addrs[i], domain);
    }
    /* DKIM: each active key published as it is */
    struct dkim_each e = {.s = s, .domain = domain};
    state_dkim_list(s->db, domain, true, check_dkim_key, &e);
    if (e.n == 0)
        probe_report_check(s->rep, "dkim", PROBE_WARN,
                           "no DKIM key: our mail from %s is not signed (postino dkim keygen "
                           "%s)",
                           domain, domain);
    probe_check_dmarc(&s->ctx, domain);
}

static void check_dns(struct self *s)
{
    probe_report_section(s->rep, "host", "Host name");
    if (!strchr(s->host, '.'))
        probe_report_check(s->rep, "hostname", PROBE_FAIL,
                           "hostname '%s' is not a fully qualified name", s->host);
    s->n_addrs = probe_addresses(s->ctx.base, s->ctx.dns, s->host, s->addrs, OUR_ADDRS_MAX);
    for (size_t i = 0; i < s->n_addrs; i++)
        probe_report_fact(s->rep, "address", "%s", s->addrs[i]);
    if (!s->n_addrs)
        probe_report_check(s->rep, "hostname", PROBE_FAIL,
                           "%s has no address in the DNS: nobody can reach it", s->host);
    else
        probe_report_check(s->rep, "hostname", PROBE_OK, "%s has %zu address%s", s->host,
                           s->n_addrs, s->n_addrs == 1 ? "" : "es");
    for (size_t i = 0; i < s->n_addrs; i++) {
        char rname[128];
        if (probe_reverse_name(s->addrs[i], rname, sizeof(rname)) < 0)
            continue;
        struct probe_lookup l;
        probe_lookup(s->ctx.base, s->ctx.dns, rname, DNS_TYPE_PTR, &l);
        bool named = false;
        for (size_t k = 0; k < l.n; k++)
            if (str_eq_ci(l.rr[k], s->host))
                named = true;
        probe_report_check(s->rep, "reverse-dns", named ? PROBE_OK : PROBE_WARN,
                           named ? "%s has the reverse name %s"
                                 : "%s does not have the reverse name %s: receivers distrust "
                                   "mail from it",
                           s->addrs[i], s->host);
        probe_lookup_free(&l);
    }
    for (size_t i = 0; i < s->n_domains; i++)
        check_domain(s, s->domains[i]);
}

/* --- the queue and the disk --- */

struct queue_scan {
    struct spool *sp;
    unsigned total, deferred;
    long long oldest;
    char oldest_id[QUEUE_ID_LEN + 1];
    char oldest_why[400];
};

static void scan_one(const char *id, void *arg)
{
    struct queue_scan *q = arg;
    struct envelope env;
    envelope_init(&env);
    const char *err;
    bool missing;
    q->total++;
    if (spool_read_envelope(q->sp, id, &env, &err, &missing) < 0)
        return;
    for (size_t i = 0; i < env.nrcpts; i++) {
        const struct envelope_rcpt *r = &env.rcpts[i];
        if (r->status != RCPT_DEFERRED)
            continue;
        q->deferred++;
        if (!q->oldest || env.arrival < q->oldest) {
            q->oldest = env.arrival;
            str_copy(q->oldest_id, sizeof(q->oldest_id), id);
            char why[300];
            str_printable(why, sizeof(why), r->last ? r->last : "", r->last ? strlen(r->last) : 0);
            snprintf(q->oldest_why, sizeof(q->oldest_why), "to <%s>: %s", r->addr, why);
        }
        break;
    }
    envelope_free(&env);
}

static void count_file(const char *id, void *arg)
{
    (void)id;
    (*(unsigned *)arg)++;
}

static void check_queue(struct self *s)
{
    probe_report_section(s->rep, "queue", "Queue");
    struct spool sp;
    const char *err;
    if (spool_open(&sp, s->cfg->data_dir, &err) < 0) {
        probe_report_check(s->rep, "queue", PROBE_FAIL, "the spool cannot be opened: %s", err);
        return;
    }
    struct queue_scan q = {.sp = &sp};
    spool_scan(&sp, scan_one, &q);
    unsigned held = 0, quarantined = 0;
    spool_scan_held(&sp, count_file, &held);
    spool_scan_quarantined(&sp, count_file, &quarantined);
    probe_report_fact(s->rep, "messages",
                      "%u in the queue, %u with deferred recipients, %u held, "
                      "%u quarantined",
                      q.total, q.deferred, held, quarantined);
    if (!q.deferred) {
        probe_report_check(s->rep, "queue", PROBE_OK, "%u message%s, none deferred", q.total,
                           q.total == 1 ? "" : "s");
    } else {
        long long age = (long long)time(NULL) - q.oldest;
        probe_report_check(s->rep, "queue", age > DEFERRED_WARN ? PROBE_WARN : PROBE_INFO,
                           "%u deferred; the oldest, %s, for %lld h %lld min, %s "
                           "(postino trace %s)",
                           q.deferred, q.oldest_id, age / 3600, age % 3600 / 60, q.oldest_why,
                           q.oldest_id);
    }
    spool_close(&sp);
}

static void check_disk_path(struct self *s, const char *what, const char *path)
{
    struct statvfs v;
    if (statvfs(path, &v) < 0) {
        probe_report_check(s->rep, "disk", PROBE_FAIL, "%s (%s) cannot be examined", what, path);
        return;
    }
    unsigned long long avail = (unsigned long long)v.f_bavail * v.f_frsize;
    unsigned long long total = (unsigned long long)v.f_blocks * v.f_frsize;
    double pct = total ? 100.0 * (double)avail / (double)total : 0;
    double ipct = v.f_files ? 100.0 * (double)v.f_favail / (double)v.f_files : 100;
    probe_report_fact(s->rep, what, "%s: %.1f GiB free of %.1f GiB (%.0f %%), %.0f %% of inodes",
                      path, (double)avail / (1 << 30), (double)total / (1 << 30), pct, ipct);
    enum probe_verdict vd = PROBE_OK;
    if (avail < DISK_FAIL_BYTES || pct < DISK_FAIL_PCT || ipct < DISK_FAIL_PCT)
        vd = PROBE_FAIL;
    else if (avail < DISK_WARN_BYTES || pct < DISK_WARN_PCT || ipct < DISK_WARN_PCT)
        vd = PROBE_WARN;
    probe_report_check(s->rep, "disk", vd, "%s: %.1f GiB free (%.0f %%)%s", what,
                       (double)avail / (1 << 30), pct,
                       vd == PROBE_FAIL   ? ": mail will be refused soon"
                       : vd == PROBE_WARN ? ": getting low"
                                          : "");
}

static void check_disk(struct self *s)
{
    probe_report_section(s->rep, "disk", "Disk");
    char spool[4096], mail[4096];
    config_data_path(s->cfg, "spool", spool, sizeof(spool));
    config_data_path(s->cfg, "mail", mail, sizeof(mail));
    check_disk_path(s, "spool", spool);
    check_disk_path(s, "mail", mail);
}

int cmd_selfcheck(int argc, char **argv)
{
    struct cmd_common c;
    const char *timeout = NULL;
    bool no_dns = false;
    int out = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            timeout = argv[++i];
            continue;
        }
        if (strcmp(argv[i], "--no-dns") == 0) {
            no_dns = true;
            continue;
        }
        argv[out++] = argv[i];
    }
    argc = cmd_parse_common(out, argv, &c, usage);
    if (argc <= 0)
        return argc < 0 ? 2 : 0;
    if (argc != 1) {
        fputs(usage, stderr);
        return 2;
    }
    struct self s = {0};
    s.timeout_ms = (unsigned)(timeout ? atoi(timeout) : 30) * 1000u;
    if (s.timeout_ms == 0) {
        cmd_error("--timeout: seconds, at least 1");
        return 2;
    }
    if (cmd_open(&c, &s.cfg, &s.db) < 0)
        return 1;
    str_copy(s.host, sizeof(s.host), s.cfg->hostname);
    str_lower(s.host);
    state_domain_list(s.db, add_domain, &s);
    s.rep = probe_report_new("selfcheck", s.host);
    s.ctx.rep = s.rep;
    s.ctx.base = event_base_new();
    char *err = NULL;
    if (!no_dns && s.ctx.base) {
        s.ctx.dns = dns_new(s.ctx.base, s.cfg->dns_resolver ? s.cfg->dns_resolver : "", &err);
        if (!s.ctx.dns) {
            probe_report_section(s.rep, "host", "Host name");
            probe_report_check(s.rep, "dns", PROBE_FAIL, "no DNS resolver: %s", err ? err : "?");
            free(err);
        }
    }
    if (s.ctx.dns)
        check_dns(&s);
    check_certificates(&s);
    check_smtp(&s);
    check_queue(&s);
    check_disk(&s);
    if (c.json)
        probe_report_print_json(s.rep, stdout);
    else
        probe_report_print_text(s.rep, stdout);
    int rc = probe_report_count(s.rep, PROBE_FAIL) ? 1 : 0;
    probe_report_free(&s.rep);
    dns_free(&s.ctx.dns);
    if (s.ctx.base)
        event_base_free(s.ctx.base);
    return cmd_close(&s.cfg, &s.db, NULL, rc);
}
