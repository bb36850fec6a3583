/* postino probe DOMAIN | HOST[:PORT]: what a receiving mail server and its
 * domain look like from here, checked the way a consultant would, with a
 * verdict per check (probe/probe-report.h). */
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "lib/buf.h"
#include "lib/config.h"
#include "lib/dns.h"
#include "lib/net.h"
#include "lib/str.h"
#include "policy/dnsbl-sites.h"
#include "policy/dnsbl.h"
#include "probe/probe-banner.h"
#include "probe/probe-dns.h"
#include "probe/probe-domain.h"
#include "probe/probe-report.h"
#include "probe/probe-smtp.h"

static const char usage[] =
    "usage: postino probe DOMAIN | HOST[:PORT] [--json] [--from ADDRESS] [--rcpt ADDRESS]\n"
    "                     [--timeout SECONDS] [--warn-after SECONDS] [--dnsbl LISTS]\n"
    "                     [--ca-file FILE] [--software-table FILE]\n"
    "Options: --config FILE (for dns_resolver, hostname and dnsbl_sites, if it exists)\n"
    "Checks a domain's MX hosts (or one host): DNS (MX, addresses, reverse DNS),\n"
    "then for each address the SMTP greeting and the software it reveals, EHLO,\n"
    "STARTTLS, TLS version, cipher and forward secrecy, the certificate, the time\n"
    "of every step, that postmaster@ is accepted, and with --rcpt a real MAIL and\n"
    "RCPT (then RSET: never DATA); then the domain's SPF, DMARC, MTA-STS and\n"
    "TLS-RPT records and the DNS block lists of every address. One verdict line per\n"
    "check (ok / warn / fail). Exit status 1 if any check fails, 2 on bad usage.\n";

#define MX_HOSTS_MAX     5 /* MX hosts probed */
#define ADDRS_PER_HOST   2 /* addresses of each probed */
#define SLOW_MS          30000.0
#define RFC_LIMIT_MS     300000.0 /* RFC 5321 4.5.3.2: 5 minutes for the greeting, MAIL, RCPT */
#define DEFAULT_TIMEOUT  60
#define EXPIRY_WARN_DAYS 14

extern const char probe_software_table_text[];

struct probe {
    struct event_base *base;
    struct dns *dns;
    struct probe_report *rep;
    struct probe_software_table table;
    bool have_table;
    const char *helo;
    const char *from;
    const char *rcpt;
    const char *ca_file;
    unsigned timeout_ms;
    double slow_ms; /* a step slower than this is a warning */
    struct dnsbl_sites sites;
    bool have_sites;
};

/* --- the DNS section --- */

struct host {
    char name[256];
    unsigned pref;
    char addr[ADDRS_PER_HOST][64];
    size_t n_addr;
};

/* The addresses of a host (AAAA then A). */
static void host_addresses(struct probe *p, struct host *h)
{
    h->n_addr = probe_addresses(p->base, p->dns, h->name, h->addr, ADDRS_PER_HOST);
}

/* Reverse DNS of an address, and whether the name leads back to it. */
static void reverse_dns(struct probe *p, const char *ip)
{
    char rname[128];
    if (probe_reverse_name(ip, rname, sizeof(rname)) < 0)
        return;
    struct probe_lookup l;
    probe_lookup(p->base, p->dns, rname, DNS_TYPE_PTR, &l);
    if (l.st == DNS_TEMPFAIL) {
        probe_report_check(p->rep, "reverse-dns", PROBE_WARN,
                           "%s: the reverse DNS lookup failed (temporary)", ip);
    } else if (l.n == 0) {
        probe_report_check(p->rep, "reverse-dns", PROBE_WARN,
                           "%s has no reverse DNS (PTR) name: many receivers distrust such "
                           "senders",
                           ip);
    } else {
        probe_report_fact(p->rep, "PTR", "%s -> %s", ip, l.rr[0]);
        struct host back = {0};
        str_copy(back.name, sizeof(back.name), l.rr[0]);
        host_addresses(p, &back);
        bool confirmed = false;
        for (size_t i = 0; i < back.n_addr; i++)
            if (strcmp(back.addr[i], ip) == 0)
                confirmed = true;
        if (confirmed)
            probe_report_check(p->rep, "reverse-dns", PROBE_OK,
                               "%s has the name %s, which leads back to it", ip, l.rr[0]);
        else
            probe_report_check(p->rep, "reverse-dns", PROBE_WARN,
                               "%s has the name %s, but that name does not lead back to it "
                               "(not forward-confirmed)",
                               ip, l.rr[0]);
    }
    probe_lookup_free(&l);
}

/* MX records ("PREF HOST") by preference, then name. */
static int mx_order(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    unsigned long px = strtoul(x, NULL, 10), py = strtoul(y, NULL, 10);
    if (px != py)
        return px < py ? -1 : 1;
    return strcmp(x, y);
}

/* MX hosts of domain into hosts (or the domain itself as implicit MX).
 * Returns how many; 0 after reporting why there are none. */
static size_t dns_section(struct probe *p, const char *domain, struct host *hosts)
{
    probe_report_section(p->rep, "dns", "DNS");
    struct probe_lookup l;
    probe_lookup(p->base, p->dns, domain, DNS_TYPE_MX, &l);
    size_t n = 0;
    unsigned pref0;
    char target0[8];
    bool null_mx =
        l.st == DNS_NULL_MX ||
        (l.n == 1 && sscanf(l.rr[0], "%u %7s", &pref0, target0) == 2 && strcmp(target0, ".") == 0);
    if (null_mx) {
        probe_report_check(p->rep, "mx", PROBE_FAIL,
                           "%s publishes a null MX (RFC 7505): it accepts no mail at all", domain);
    } else if (l.st == DNS_TEMPFAIL) {
        probe_report_check(p->rep, "mx", PROBE_FAIL,
                           "the MX lookup of %s failed (SERVFAIL or timeout): senders will "
                           "defer mail to it",
                           domain);
    } else if (l.st == DNS_NXDOMAIN) {
        probe_report_check(p->rep, "mx", PROBE_FAIL, "%s does not exist in the DNS", domain);
    } else if (l.n == 0) {
        struct host h = {0};
        str_copy(h.name, sizeof(h.name), domain);
        host_addresses(p, &h);
        if (h.n_addr) {
            hosts[n++] = h;
            probe_report_check(p->rep, "mx", PROBE_WARN,
                               "%s has no MX record: mail goes to its own address (implicit MX, "
                               "RFC 5321 5.1); publish an MX record",
                               domain);
        } else {
            probe_report_check(p->rep, "mx", PROBE_FAIL,
                               "%s has no MX record and no address: it cannot receive mail",
                               domain);
        }
    } else {
        if (l.n > 1) /* resolvers rotate the records */
            qsort(l.rr, l.n, sizeof(l.rr[0]), mx_order);
        for (size_t i = 0; i < l.n; i++) {
            unsigned pref = 0;
            char name[256];
            if (sscanf(l.rr[i], "%u %255s", &pref, name) != 2)
                continue;
            size_t nl = strlen(name);
            if (nl > 1 && name[nl - 1] == '.')
                name[nl - 1] = '\0';
            probe_report_fact(p->rep, "MX", "%u %s", pref, name);
            if (n < MX_HOSTS_MAX) {
                memset(&hosts[n], 0, sizeof(hosts[n]));
                str_copy(hosts[n].name, sizeof(hosts[n].name), name);
                hosts[n].pref = pref;
                n++;
            }
        }
        probe_report_check(p->rep, "mx", PROBE_OK, "%zu MX host%s", l.n, l.n == 1 ? "" : "s");
    }
    probe_lookup_free(&l);
    for (size_t i = 0; i < n; i++) {
        if (!hosts[i].n_addr)
            host_addresses(p, &hosts[i]);
        if (!hosts[i].n_addr) {
            probe_report_check(p->rep, "address", PROBE_FAIL,
                               "the MX host %s has no address (A or AAAA)", hosts[i].name);
            continue;
        }
        for (size_t k = 0; k < hosts[i].n_addr; k++) {
            probe_report_fact(p->rep, "address", "%s %s", hosts[i].name, hosts[i].addr[k]);
            reverse_dns(p, hosts[i].addr[k]);
        }
    }
    return n;
}

/* --- one SMTP server --- */

static void latency_checks(struct probe *p, const struct probe_smtp_result *r)
{
    struct buf times;
    buf_init(&times, 1024);
    for (int s = 0; s < PROBE_STEP_COUNT; s++) {
        const struct probe_step_result *st = &r->step[s];
        if (!st->tried)
            continue;
        buf_printf(&times, "%s%s %.0f ms", times.len ? ", " : "", probe_step_name(s), st->ms);
        if (!st->done) {
            if (strstr(st->reply, "in time"))
                probe_report_check(p->rep, "latency", PROBE_FAIL,
                                   "%s: no answer within %u s (--timeout)", probe_step_name(s),
                                   p->timeout_ms / 1000);
            continue;
        }
        if (st->ms > RFC_LIMIT_MS)
            probe_report_check(p->rep, "latency", PROBE_FAIL,
                               "%s took %.1f s, beyond the 5 minutes of RFC 5321 4.5.3.2: "
                               "senders give up",
                               probe_step_name(s), st->ms / 1000);
        else if (st->ms > p->slow_ms)
            probe_report_check(p->rep, "latency", PROBE_WARN, "%s took %.1f s (over %.0f s)",
                               probe_step_name(s), st->ms / 1000, p->slow_ms / 1000);
    }
    probe_report_fact(p->rep, "latency", "%s", buf_cstr(&times));
    buf_free(&times);
}

static void software_check(struct probe *p, const struct probe_smtp_result *r)
{
    struct probe_software sw;
    probe_banner_identify(r->banner, strlen(r->banner), r->ehlo, strlen(r->ehlo), &sw);
    if (!sw.name[0]) {
        probe_report_check(p->rep, "software", PROBE_INFO,
                           "the greeting does not say what "
                           "software this is");
        return;
    }
    probe_report_fact(p->rep, "software", "%s%s%s", sw.name, sw.version[0] ? " " : "", sw.version);
    const struct probe_software_rule *rule = NULL;
    enum probe_age age =
        p->have_table ? probe_software_age(&p->table, &sw, &rule) : PROBE_AGE_UNKNOWN;
    if (age == PROBE_AGE_OBSOLETE)
        probe_report_check(p->rep, "software", PROBE_WARN,
                           "%s %s is obsolete (older than %s, table of %s): %s", sw.name,
                           sw.version, rule->before, p->table.dated, rule->note);
    else if (age == PROBE_AGE_CURRENT)
        probe_report_check(p->rep, "software", PROBE_OK, "%s %s is not older than %s", sw.name,
                           sw.version, rule ? rule->before : "?");
    else
        probe_report_check(p->rep, "software", PROBE_INFO, "%s%s%s: age unknown", sw.name,
                           sw.version[0] ? " " : "", sw.version);
}

static void tls_checks(struct probe *p, const char *host, const struct probe_smtp_result *r)
{
    const struct probe_step_result *st = &r->step[PROBE_STEP_STARTTLS];
    if (!r->starttls_offered) {
        probe_report_check(p->rep, "starttls", PROBE_FAIL,
                           "STARTTLS is not offered: mail to this server travels unencrypted");
        return;
    }
    if (!r->tls) {
        probe_report_check(p->rep, "starttls", PROBE_FAIL, "STARTTLS is offered but fails: %s",
                           st->reply);
        return;
    }
    probe_report_check(p->rep, "starttls", PROBE_OK, "STARTTLS works");
    probe_report_fact(p->rep, "TLS", "%s, %s%s%s", r->tls_version, r->cipher,
                      r->group[0] ? ", group " : "", r->group);
    bool old = strcmp(r->tls_version, "TLSv1.2") != 0 && strcmp(r->tls_version, "TLSv1.3") != 0;
    probe_report_check(p->rep, "tls-version", old ? PROBE_FAIL : PROBE_OK, "%s%s", r->tls_version,
                       old ? " is deprecated (RFC 8996): TLS 1.2 or 1.3 needed" : "");
    probe_report_check(p->rep, "forward-secrecy", r->forward_secrecy ? PROBE_OK : PROBE_WARN,
                       r->forward_secrecy ? "%s uses an ephemeral key exchange"
                                          : "%s has no forward secrecy (no ECDHE/DHE)",
                       r->cipher);
    if (!r->have_cert) {
        probe_report_check(p->rep, "certificate", PROBE_FAIL, "the server sent no certificate");
        return;
    }
    for (size_t i = 0; i < r->chain_len; i++) {
        const struct probe_cert *c = &r->chain[i];
        probe_report_fact(p->rep, i ? "chain" : "certificate", "%s (issuer %s), %s to %s",
                          c->subject, c->issuer, c->not_before, c->not_after);
    }
    probe_report_fact(p->rep, "names", "%s", r->names);
    probe_report_check(p->rep, "certificate", r->verified ? PROBE_OK : PROBE_WARN,
                       r->verified ? "the chain verifies to a trusted authority"
                                   : "the chain does not verify (%s): fine for opportunistic "
                                     "TLS, refused by MTA-STS and DANE senders",
                       r->verify_error);
    probe_report_check(p->rep, "certificate-name", r->name_matches ? PROBE_OK : PROBE_WARN,
                       r->name_matches ? "it names %s" : "it does not name %s (names: %s)", host,
                       r->names);
    const struct probe_cert *leaf = &r->chain[0];
    if (leaf->days_left < 0)
        probe_report_check(p->rep, "certificate-expiry", PROBE_FAIL, "it expired on %s",
                           leaf->not_after);
    else if (leaf->not_yet_valid)
        probe_report_check(p->rep, "certificate-expiry", PROBE_FAIL, "it is not valid before %s",
                           leaf->not_before);
    else if (leaf->days_left < EXPIRY_WARN_DAYS)
        probe_report_check(p->rep, "certificate-expiry", PROBE_WARN, "it expires in %ld day%s (%s)",
                           leaf->days_left, leaf->days_left == 1 ? "" : "s", leaf->not_after);
    else
        probe_report_check(p->rep, "certificate-expiry", PROBE_OK, "valid until %s (%ld days)",
                           leaf->not_after, leaf->days_left);
}

/* A reply to RCPT, judged. */
static void rcpt_check(struct probe *p, const char *id, const char *addr,
                       const struct probe_step_result *st, bool required)
{
    if (!st->tried)
        return;
    if (!st->done)
        probe_report_check(p->rep, id, PROBE_FAIL, "RCPT TO:<%s>: %s", addr, st->reply);
    else if (st->code / 100 == 2)
        probe_report_check(p->rep, id, PROBE_OK, "<%s> is accepted: %s", addr, st->reply);
    else if (st->code / 100 == 4)
        probe_report_check(p->rep, id, PROBE_WARN, "<%s> is deferred (greylisting?): %s", addr,
                           st->reply);
    else
        probe_report_check(p->rep, id, PROBE_FAIL, "<%s> is refused: %s%s", addr, st->reply,
                           required ? " (RFC 5321 4.5.1 requires postmaster)" : "");
}

static void smtp_section(struct probe *p, const char *host, const char *ip, unsigned port,
                         const char *domain)
{
    char title[2200], id[100];
    if (snprintf(title, sizeof(title), "%s [%s]:%u", host, ip, port) >= (int)sizeof(title))
        title[sizeof(title) - 1] = '\0';
    if (snprintf(id, sizeof(id), "smtp:%s", ip) >= (int)sizeof(id))
        id[sizeof(id) - 1] = '\0';
    probe_report_section(p->rep, id, title);
    struct {
        struct sockaddr_storage ss;
        socklen_t len;
    } a = {0};
    struct sockaddr_in *s4 = (struct sockaddr_in *)&a.ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a.ss;
    if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        a.len = sizeof(*s4);
    } else if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        a.len = sizeof(*s6);
    } else {
        probe_report_check(p->rep, "connect", PROBE_FAIL, "%s is not an address", ip);
        return;
    }
    char postmaster[300];
    snprintf(postmaster, sizeof(postmaster), "postmaster@%s", domain);
    struct probe_smtp_options o = {.server_name = host,
                                   .addr = (struct sockaddr *)&a.ss,
                                   .addr_len = a.len,
                                   .helo = p->helo,
                                   .mail_from = p->from ? p->from : "",
                                   .rcpt = p->rcpt,
                                   .postmaster = domain[0] ? postmaster : NULL,
                                   .timeout_ms = p->timeout_ms,
                                   .ca_file = p->ca_file};
    struct probe_smtp_result *r = calloc(1, sizeof(*r));
    if (!r)
        return;
    probe_smtp_run(&o, r);
    const struct probe_step_result *st = &r->step[PROBE_STEP_CONNECT];
    if (!st->done) {
        probe_report_check(p->rep, "connect", PROBE_FAIL, "cannot connect: %s", st->reply);
        free(r);
        return;
    }
    probe_report_check(p->rep, "connect", PROBE_OK, "connected in %.0f ms", st->ms);
    st = &r->step[PROBE_STEP_BANNER];
    if (r->banner[0])
        probe_report_fact(p->rep, "banner", "%d %s", st->code, r->banner);
    if (!st->done || st->code != 220) {
        probe_report_check(p->rep, "banner", PROBE_FAIL, "no greeting: %s", st->reply);
        latency_checks(p, r);
        free(r);
        return;
    }
    probe_report_check(p->rep, "banner", PROBE_OK, "greets with 220");
    software_check(p, r);
    st = &r->step[PROBE_STEP_EHLO];
    if (!st->done || st->code != 250) {
        probe_report_check(p->rep, "ehlo", PROBE_FAIL, "EHLO and HELO refused: %s", st->reply);
    } else {
        if (r->ehlo[0]) {
            struct buf caps;
            buf_init(&caps, 2048);
            const char *q = strchr(r->ehlo, '\n');
            for (; q && *q;) {
                q++;
                size_t n = strcspn(q, "\n");
                buf_printf(&caps, "%s%.*s", caps.len ? ", " : "", (int)n, q);
                q += n;
            }
            probe_report_fact(p->rep, "EHLO", "%s", buf_cstr(&caps));
            buf_free(&caps);
        }
        probe_report_check(p->rep, "ehlo", r->esmtp ? PROBE_OK : PROBE_WARN,
                           r->esmtp ? "EHLO accepted" : "only HELO: no ESMTP extensions");
        tls_checks(p, host, r);
        st = &r->step[PROBE_STEP_MAIL];
        if (st->tried && (!st->done || st->code / 100 != 2))
            probe_report_check(p->rep, "mail", PROBE_FAIL, "MAIL FROM:<%s> refused: %s",
                               p->from ? p->from : "", st->reply);
        rcpt_check(p, "rcpt", p->rcpt ? p->rcpt : "", &r->step[PROBE_STEP_RCPT], false);
        rcpt_check(p, "postmaster", postmaster, &r->step[PROBE_STEP_POSTMASTER], true);
    }
    latency_checks(p, r);
    free(r);
}

/* --- DNS block lists --- */

struct bl_wait {
    bool done;
    struct dnsbl_result r;
};

static void bl_done(void *arg, const struct dnsbl_result *r)
{
    struct bl_wait *w = arg;
    w->r = *r;
    w->done = true;
}

static void dnsbl_checks(struct probe *p, const struct host *hosts, size_t n)
{
    probe_report_section(p->rep, "dnsbl", "DNS block lists");
    struct dnsbl *bl = dnsbl_new(p->dns, &p->sites, 0);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < hosts[i].n_addr; k++) {
            const char *ip = hosts[i].addr[k];
            struct bl_wait w = {0};
            dnsbl_check_start(bl, ip, bl_done, &w);
            while (!w.done)
                event_base_loop(p->base, EVLOOP_ONCE);
            struct buf listed;
            buf_init(&listed, 2048);
            for (size_t s = 0; s < p->sites.n; s++)
                if ((w.r.matched >> s) & 1)
                    buf_printf(&listed, "%s%s", listed.len ? ", " : "", p->sites.site[s].domain);
            if (listed.len)
                probe_report_check(p->rep, "dnsbl", PROBE_FAIL, "%s is listed by %s", ip,
                                   buf_cstr(&listed));
            else if (w.r.tempfail)
                probe_report_check(p->rep, "dnsbl", PROBE_WARN, "%s: some lists could not be asked",
                                   ip);
            else
                probe_report_check(p->rep, "dnsbl", PROBE_OK, "%s is on none of %zu lists", ip,
                                   p->sites.n);
            buf_free(&listed);
        }
    dnsbl_free(&bl);
}

/* --- the command --- */

/* TARGET: a domain, or HOST:PORT / [V6]:PORT / an address (one server). */
static bool split_target(const char *t, char *host, size_t hsize, unsigned *port)
{
    *port = 25;
    const char *colon = strrchr(t, ':');
    if (t[0] == '[') {
        const char *close = strchr(t, ']');
        if (!close || str_copyn(host, hsize, t + 1, (size_t)(close - t - 1)) < 0)
            return false;
        if (close[1] == ':')
            *port = (unsigned)atoi(close + 2);
        return true;
    }
    if (colon && strchr(t, ':') == colon) {
        if (str_copyn(host, hsize, t, (size_t)(colon - t)) < 0)
            return false;
        *port = (unsigned)atoi(colon + 1);
        return true;
    }
    return str_copy(host, hsize, t) == 0;
}

static bool is_address(const char *s)
{
    unsigned char a[16];
    return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

int cmd_probe(int argc, char **argv)
{
    struct cmd_common c;
    const char *from = NULL, *rcpt = NULL, *timeout = NULL, *dnsbl = NULL, *ca_file = NULL,
               *warn_after = NULL, *table_file = NULL;
    /* our own options first, then the shared ones */
    int out = 1;
    for (int i = 1; i < argc; i++) {
        const char **dst = strcmp(argv[i], "--from") == 0             ? &from
                           : strcmp(argv[i], "--rcpt") == 0           ? &rcpt
                           : strcmp(argv[i], "--timeout") == 0        ? &timeout
                           : strcmp(argv[i], "--dnsbl") == 0          ? &dnsbl
                           : strcmp(argv[i], "--ca-file") == 0        ? &ca_file
                           : strcmp(argv[i], "--warn-after") == 0     ? &warn_after
                           : strcmp(argv[i], "--software-table") == 0 ? &table_file
                                                                      : NULL;
        if (dst) {
            if (i + 1 >= argc) {
                fputs(usage, stderr);
                return 2;
            }
            *dst = argv[++i];
            continue;
        }
        argv[out++] = argv[i];
    }
    argc = cmd_parse_common(out, argv, &c, usage);
    if (argc < 0)
        return 2;
    if (c.help) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc != 2) {
        fputs(usage, stderr);
        return 2;
    }
    struct probe p = {0};
    p.from = from;
    p.rcpt = rcpt;
    p.ca_file = ca_file;
    p.timeout_ms = (unsigned)(timeout ? atoi(timeout) : DEFAULT_TIMEOUT) * 1000u;
    if (p.timeout_ms == 0 || p.timeout_ms > 3600u * 1000u) {
        cmd_error("--timeout: seconds from 1 to 3600");
        return 2;
    }
    p.slow_ms = warn_after ? atof(warn_after) * 1000.0 : SLOW_MS;
    if (!(p.slow_ms > 0)) {
        cmd_error("--warn-after: seconds, more than 0");
        return 2;
    }
    /* the configuration, when there is one: resolver, our name, lists */
    struct config *cfg = NULL;
    if (c.config_path && access(c.config_path, R_OK) == 0)
        cfg = cmd_load_config(&c);
    char helo[256] = "";
    if (cfg && cfg->hostname && cfg->hostname[0])
        str_copy(helo, sizeof(helo), cfg->hostname);
    else if (gethostname(helo, sizeof(helo) - 1) < 0 || !helo[0])
        str_copy(helo, sizeof(helo), "localhost");
    p.helo = helo;
    const char *lists = dnsbl ? dnsbl : cfg && cfg->dnsbl_sites ? cfg->dnsbl_sites : "";
    if (lists[0]) {
        char *err = NULL;
        if (dnsbl_sites_parse(lists, strlen(lists), &p.sites, &err) < 0) {
            cmd_error("--dnsbl: %s", err ? err : "?");
            free(err);
            config_free(&cfg);
            return 2;
        }
        p.have_sites = p.sites.n > 0;
    }
    /* the table built in, or a newer one the administrator names */
    struct buf table;
    buf_init(&table, PROBE_TABLE_TEXT_MAX);
    if (table_file) {
        FILE *tf = fopen(table_file, "r");
        char chunk[4096];
        size_t got;
        int bad = !tf;
        while (tf && (got = fread(chunk, 1, sizeof(chunk), tf)) > 0)
            bad |= buf_append(&table, chunk, got);
        if (tf)
            fclose(tf);
        if (bad) {
            cmd_error("--software-table %s: cannot read it (or over %d bytes)", table_file,
                      PROBE_TABLE_TEXT_MAX);
            buf_free(&table);
            config_free(&cfg);
            return 2;
        }
    } else {
        buf_append_str(&table, probe_software_table_text);
    }
    char *err = NULL;
    if (probe_software_table_parse(buf_cstr(&table), table.len, &p.table, &err) == 0)
        p.have_table = true;
    else
        cmd_error("the software table%s%s is broken: %s", table_file ? " " : "",
                  table_file ? table_file : "", err ? err : "?");
    free(err);
    buf_free(&table);
    err = NULL;
    p.base = event_base_new();
    p.dns =
        p.base ? dns_new(p.base, cfg && cfg->dns_resolver ? cfg->dns_resolver : "", &err) : NULL;
    if (!p.dns) {
        cmd_error("cannot set up DNS: %s", err ? err : "?");
        free(err);
        if (p.base)
            event_base_free(p.base);
        config_free(&cfg);
        return 1;
    }
    char host[256];
    unsigned port;
    if (!split_target(argv[1], host, sizeof(host), &port) || !host[0] || port == 0 ||
        port > 65535) {
        fputs(usage, stderr);
        dns_free(&p.dns);
        event_base_free(p.base);
        config_free(&cfg);
        return 2;
    }
    size_t hl = strlen(host);
    if (hl > 1 && host[hl - 1] == '.')
        host[hl - 1] = '\0';
    str_lower(host);
    p.rep = probe_report_new("probe", argv[1]);
    bool domain_mode = !strchr(argv[1], ':') && !is_address(host);
    struct host hosts[MX_HOSTS_MAX];
    size_t n = 0;
    if (domain_mode) {
        n = dns_section(&p, host, hosts);
    } else {
        memset(&hosts[0], 0, sizeof(hosts[0]));
        str_copy(hosts[0].name, sizeof(hosts[0].name), host);
        probe_report_section(p.rep, "dns", "DNS");
        if (is_address(host)) {
            str_copy(hosts[0].addr[0], sizeof(hosts[0].addr[0]), host);
            hosts[0].n_addr = 1;
        } else {
            host_addresses(&p, &hosts[0]);
        }
        if (hosts[0].n_addr) {
            for (size_t k = 0; k < hosts[0].n_addr; k++) {
                probe_report_fact(p.rep, "address", "%s %s", host, hosts[0].addr[k]);
                reverse_dns(&p, hosts[0].addr[k]);
            }
            n = 1;
        } else {
            probe_report_check(p.rep, "address", PROBE_FAIL, "%s has no address", host);
        }
    }
    /* the domain whose postmaster is asked: the target domain, or the
     * host's own name without its first label */
    const char *pm_domain = domain_mode ? host : "";
    if (!domain_mode && !is_address(host) && strchr(host, '.'))
        pm_domain = strchr(host, '.') + 1;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < hosts[i].n_addr; k++)
            smtp_section(&p, hosts[i].name, hosts[i].addr[k], port, pm_domain);
    if (domain_mode) {
        probe_report_section(p.rep, "records", "Domain records");
        struct probe_ctx ctx = {p.base, p.dns, p.rep};
        probe_check_spf(&ctx, host);
        probe_check_dmarc(&ctx, host);
        probe_check_sts(&ctx, host);
    }
    if (p.have_sites && n)
        dnsbl_checks(&p, hosts, n);
    if (c.json)
        probe_report_print_json(p.rep, stdout);
    else
        probe_report_print_text(p.rep, stdout);
    int rc = probe_report_count(p.rep, PROBE_FAIL) ? 1 : 0;
    probe_report_free(&p.rep);
    dns_free(&p.dns);
    event_base_free(p.base);
    config_free(&cfg);
    return rc;
}
