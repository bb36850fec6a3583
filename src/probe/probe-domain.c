#include "probe/probe-domain.h"

#include <stdio.h>
#include <string.h>

#include "auth/dmarc-record.h"
#include "auth/spf-record.h"
#include "lib/str.h"
#include "probe/probe-dns.h"
#include "probe/probe-records.h"

#define SPF_DEPTH_MAX    10 /* include/redirect levels followed when counting */
#define SPF_LOOKUP_LIMIT 10 /* RFC 7208 4.6.4 */

static void spf_count(const struct probe_ctx *p, const char *domain, unsigned depth,
                      unsigned *count, char *why, size_t why_size);

/* The SPF record of domain ("" if none; -1 on a lookup failure). */
static int spf_record_of(const struct probe_ctx *p, const char *domain, char *out, size_t size,
                         unsigned *n_records)
{
    struct probe_lookup l;
    probe_lookup(p->base, p->dns, domain, DNS_TYPE_TXT, &l);
    out[0] = '\0';
    *n_records = 0;
    int rc = l.st == DNS_TEMPFAIL ? -1 : 0;
    for (size_t i = 0; i < l.n; i++)
        if (spf_record_is_spf(l.rr[i], strlen(l.rr[i]))) {
            if (!*n_records)
                str_copy(out, size, l.rr[i]);
            (*n_records)++;
        }
    probe_lookup_free(&l);
    return rc;
}

/* Count the DNS-querying terms of domain's record and of the records it
 * includes or redirects to (RFC 7208 4.6.4). */
static void spf_count(const struct probe_ctx *p, const char *domain, unsigned depth,
                      unsigned *count, char *why, size_t why_size)
{
    char text[4096];
    unsigned nrec;
    if (depth > SPF_DEPTH_MAX || spf_record_of(p, domain, text, sizeof(text), &nrec) < 0 ||
        nrec != 1) {
        if (!why[0])
            snprintf(why, why_size, "%s: %s", domain,
                     depth > SPF_DEPTH_MAX ? "includes nested too deep"
                     : nrec == 0           ? "no SPF record (an include of it is a permerror)"
                                           : "not exactly one SPF record");
        return;
    }
    struct spf_record rec;
    const char *err;
    if (spf_record_parse(text, strlen(text), &rec, &err) < 0) {
        if (!why[0])
            snprintf(why, why_size, "%s: %s", domain, err);
        return;
    }
    for (size_t i = 0; i < rec.n; i++) {
        const struct spf_term *t = &rec.terms[i];
        if (t->mech == SPF_MECH_INCLUDE || t->mech == SPF_MECH_A || t->mech == SPF_MECH_MX ||
            t->mech == SPF_MECH_PTR || t->mech == SPF_MECH_EXISTS)
            (*count)++;
        if (t->mech == SPF_MECH_INCLUDE && t->domain && !memchr(t->domain, '%', t->domain_len)) {
            char inc[256];
            if (str_copyn(inc, sizeof(inc), t->domain, t->domain_len) == 0)
                spf_count(p, inc, depth + 1, count, why, why_size);
        }
    }
    if (rec.redirect && !rec.has_all) {
        (*count)++;
        char red[256];
        if (!memchr(rec.redirect, '%', rec.redirect_len) &&
            str_copyn(red, sizeof(red), rec.redirect, rec.redirect_len) == 0)
            spf_count(p, red, depth + 1, count, why, why_size);
    }
}

void probe_check_spf(struct probe_ctx *p, const char *domain)
{
    char text[4096];
    unsigned nrec;
    if (spf_record_of(p, domain, text, sizeof(text), &nrec) < 0) {
        probe_report_check(p->rep, "spf", PROBE_WARN, "the TXT lookup of %s failed", domain);
        return;
    }
    if (nrec == 0) {
        probe_report_check(p->rep, "spf", PROBE_WARN,
                           "%s publishes no SPF record: receivers cannot tell its servers from "
                           "forgers",
                           domain);
        return;
    }
    probe_report_fact(p->rep, "SPF", "%s", text);
    if (nrec > 1) {
        probe_report_check(p->rep, "spf", PROBE_FAIL,
                           "%s publishes %u SPF records: receivers give permerror (RFC 7208 "
                           "4.5)",
                           domain, nrec);
        return;
    }
    struct spf_record rec;
    const char *err;
    if (spf_record_parse(text, strlen(text), &rec, &err) < 0) {
        probe_report_check(p->rep, "spf", PROBE_FAIL, "the SPF record is invalid: %s", err);
        return;
    }
    unsigned count = 0;
    char why[400] = "";
    spf_count(p, domain, 0, &count, why, sizeof(why));
    probe_report_fact(p->rep, "SPF lookups", "%u DNS-querying terms (limit %u)", count,
                      SPF_LOOKUP_LIMIT);
    if (count > SPF_LOOKUP_LIMIT)
        probe_report_check(p->rep, "spf", PROBE_FAIL,
                           "%u DNS-querying terms with its includes, over the limit of %u: "
                           "receivers give permerror (RFC 7208 4.6.4)",
                           count, SPF_LOOKUP_LIMIT);
    else if (why[0])
        probe_report_check(p->rep, "spf", PROBE_FAIL, "an include fails: %s", why);
    else
        probe_report_check(p->rep, "spf", PROBE_OK, "valid, %u of %u DNS-querying terms", count,
                           SPF_LOOKUP_LIMIT);
}

void probe_check_dmarc(struct probe_ctx *p, const char *domain)
{
    char name[300];
    snprintf(name, sizeof(name), "_dmarc.%s", domain);
    struct probe_lookup l;
    probe_lookup(p->base, p->dns, name, DNS_TYPE_TXT, &l);
    const char *txt = NULL;
    unsigned n = 0;
    for (size_t i = 0; i < l.n; i++)
        if (dmarc_record_is_dmarc(l.rr[i], strlen(l.rr[i]))) {
            txt = txt ? txt : l.rr[i];
            n++;
        }
    if (!txt) {
        probe_report_check(p->rep, "dmarc", PROBE_WARN,
                           "%s publishes no DMARC record: its name can be forged in From", domain);
    } else if (n > 1) {
        probe_report_fact(p->rep, "DMARC", "%s", txt);
        probe_report_check(p->rep, "dmarc", PROBE_FAIL,
                           "%u DMARC records: receivers ignore them all (RFC 7489 6.6.3)", n);
    } else {
        probe_report_fact(p->rep, "DMARC", "%s", txt);
        struct dmarc_record r;
        dmarc_record_init(&r);
        const char *err = NULL;
        if (dmarc_record_parse(txt, strlen(txt), &r, &err) != DMARC_RECORD_OK)
            probe_report_check(p->rep, "dmarc", PROBE_FAIL, "the DMARC record is invalid: %s",
                               err ? err : "?");
        else if (r.p == DMARC_POLICY_NONE)
            probe_report_check(p->rep, "dmarc", PROBE_WARN,
                               "p=none: forged mail in its name is reported, not refused");
        else
            probe_report_check(p->rep, "dmarc", PROBE_OK, "p=%s%s", dmarc_policy_name(r.p),
                               r.pct < 100 ? " (for a part of the mail only: pct < 100)" : "");
        dmarc_record_free(&r);
    }
    probe_lookup_free(&l);
}

void probe_check_sts(struct probe_ctx *p, const char *domain)
{
    char name[300];
    snprintf(name, sizeof(name), "_mta-sts.%s", domain);
    struct probe_lookup l;
    probe_lookup(p->base, p->dns, name, DNS_TYPE_TXT, &l);
    bool seen = false;
    for (size_t i = 0; i < l.n && !seen; i++) {
        if (!probe_mta_sts_is(l.rr[i], strlen(l.rr[i])))
            continue;
        seen = true;
        struct probe_mta_sts s;
        probe_mta_sts_parse(l.rr[i], strlen(l.rr[i]), &s);
        probe_report_fact(p->rep, "MTA-STS", "%s", l.rr[i]);
        if (s.valid)
            probe_report_check(p->rep, "mta-sts", PROBE_OK, "an MTA-STS record (id %s)", s.id);
        else
            probe_report_check(p->rep, "mta-sts", PROBE_FAIL, "the MTA-STS record is invalid: %s",
                               s.why);
    }
    if (!seen)
        probe_report_check(p->rep, "mta-sts", PROBE_INFO,
                           "no MTA-STS record: senders may deliver without TLS if it is "
                           "stripped");
    probe_lookup_free(&l);
    snprintf(name, sizeof(name), "_smtp._tls.%s", domain);
    probe_lookup(p->base, p->dns, name, DNS_TYPE_TXT, &l);
    seen = false;
    for (size_t i = 0; i < l.n && !seen; i++) {
        if (!probe_tlsrpt_is(l.rr[i], strlen(l.rr[i])))
            continue;
        seen = true;
        struct probe_tlsrpt t;
        probe_tlsrpt_parse(l.rr[i], strlen(l.rr[i]), &t);
        probe_report_fact(p->rep, "TLS-RPT", "%s", l.rr[i]);
        if (t.valid)
            probe_report_check(p->rep, "tls-rpt", PROBE_OK, "TLS reports go to %s", t.rua[0]);
        else
            probe_report_check(p->rep, "tls-rpt", PROBE_FAIL, "the TLS-RPT record is invalid: %s",
                               t.why);
    }
    if (!seen)
        probe_report_check(p->rep, "tls-rpt", PROBE_INFO,
                           "no TLS-RPT record: nobody is told of TLS failures");
    probe_lookup_free(&l);
}
