#include "dmarc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "mime/mime-address.h"

/* Where policy discovery stands. */
enum stage {
    STAGE_NO_FROM,  /* step 1 not done (or failed) */
    STAGE_ASK_FROM, /* waiting for _dmarc.<from domain> */
    STAGE_ASK_ORG,  /* waiting for _dmarc.<organizational domain> */
    STAGE_DONE,     /* discovery over: see outcome */
};

struct dmarc_eval {
    const struct dmarc_orgdomain *od;
    enum stage stage;
    enum dmarc_discovery outcome; /* meaningful in STAGE_DONE */
    char from[DMARC_DOMAIN_SIZE];
    char org[DMARC_DOMAIN_SIZE];
    char policy_domain[DMARC_DOMAIN_SIZE];
    char query[DMARC_DOMAIN_SIZE + 8]; /* "_dmarc." + a domain */
    char reason[DMARC_REASON_SIZE];
    struct dmarc_record record;
};

/* Write a formatted reason into dst (size n); too long is cut short. */
static void __attribute__((format(printf, 3, 4)))
set_text(char *dst, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(dst, n, fmt, ap);
    va_end(ap);
    if (r < 0)
        dst[0] = '\0';
}

struct dmarc_eval *dmarc_eval_new(const struct dmarc_orgdomain *od)
{
    struct dmarc_eval *ev = xcalloc(1, sizeof(*ev));
    ev->od = od;
    ev->stage = STAGE_NO_FROM;
    dmarc_record_init(&ev->record);
    str_copy(ev->reason, sizeof(ev->reason), "no From domain yet");
    return ev;
}

void dmarc_eval_free(struct dmarc_eval **ev)
{
    if (!*ev)
        return;
    dmarc_record_free(&(*ev)->record);
    x_free(ev);
}

/* Collects the addresses of the From field. */
struct from_addrs {
    size_t count;
    char first[DMARC_DOMAIN_SIZE + 1]; /* domain part of the first, maybe cut */
    size_t first_len;
    bool first_too_long;
    struct buf domains; /* "a.example, b.example" for the reason */
};

/* mime_address_list callback: keep the domain part of each address. */
static void on_from_addr(const char *addr, size_t len, void *arg)
{
    struct from_addrs *fa = arg;
    const char *at = NULL;
    for (size_t i = len; i > 0; i--) {
        if (addr[i - 1] == '@') {
            at = addr + i - 1;
            break;
        }
    }
    const char *dom = at ? at + 1 : addr + len;
    size_t dlen = (size_t)(addr + len - dom);
    if (fa->count == 0) {
        fa->first_too_long = dlen > DMARC_DOMAIN_SIZE;
        fa->first_len = fa->first_too_long ? 0 : dlen;
        memcpy(fa->first, dom, fa->first_len);
        fa->first[fa->first_len] = '\0';
    }
    char printable[DMARC_DOMAIN_SIZE];
    str_printable(printable, sizeof(printable), dom, dlen);
    if (fa->count > 0)
        buf_append_str(&fa->domains, ", "); /* past max: the reason is cut short */
    buf_append_str(&fa->domains, printable);
    fa->count++;
}

/* Start discovery for the domain now in ev->from. */
static void start_discovery(struct dmarc_eval *ev)
{
    const char *err;
    if (dmarc_orgdomain_get(ev->od, ev->from, ev->org, &err) < 0)
        str_copy(ev->org, sizeof(ev->org), ev->from); /* cannot happen: from is valid */
    set_text(ev->query, sizeof(ev->query), "_dmarc.%s", ev->from);
    ev->policy_domain[0] = '\0';
    dmarc_record_free(&ev->record);
    ev->stage = STAGE_ASK_FROM;
    ev->outcome = DMARC_DISCOVERY_NO_RECORD;
    set_text(ev->reason, sizeof(ev->reason), "looking up %s", ev->query);
}

int dmarc_eval_set_from_domain(struct dmarc_eval *ev, const char *domain)
{
    const char *err;
    ev->stage = STAGE_NO_FROM;
    ev->from[0] = '\0';
    if (dmarc_domain_normalize(domain, strlen(domain), ev->from, &err) < 0) {
        ev->from[0] = '\0';
        set_text(ev->reason, sizeof(ev->reason), "From domain: %s", err);
        return -1;
    }
    start_discovery(ev);
    return 0;
}

enum dmarc_from_status dmarc_eval_from(struct dmarc_eval *ev, const char *const *fields,
                                       const size_t *lens, size_t count)
{
    ev->stage = STAGE_NO_FROM;
    ev->from[0] = '\0';
    if (count == 0) {
        str_copy(ev->reason, sizeof(ev->reason), "no From header field");
        return DMARC_FROM_MISSING;
    }
    if (count > 1) {
        set_text(ev->reason, sizeof(ev->reason), "%zu From header fields", count);
        return DMARC_FROM_MULTIPLE_FIELDS;
    }
    /* Unfold: drop the CR and LF of folding (a bare one is no better). */
    struct buf value;
    buf_init(&value, DMARC_FROM_FIELD_MAX);
    for (size_t i = 0; i < lens[0]; i++) {
        char c = fields[0][i];
        if (c == '\r' || c == '\n')
            continue;
        if (buf_append_char(&value, c) < 0) {
            buf_free(&value);
            str_copy(ev->reason, sizeof(ev->reason), "From header field too long");
            return DMARC_FROM_SYNTAX;
        }
    }
    struct from_addrs fa;
    memset(&fa, 0, sizeof(fa));
    buf_init(&fa.domains, 300);
    int n = mime_address_list(buf_cstr(&value), value.len, on_from_addr, &fa);
    buf_free(&value);
    enum dmarc_from_status st = DMARC_FROM_OK;
    const char *err;
    if (n < 0) {
        str_copy(ev->reason, sizeof(ev->reason), "From header field is not an address list");
        st = DMARC_FROM_SYNTAX;
    } else if (fa.count == 0) {
        str_copy(ev->reason, sizeof(ev->reason), "From header field has no address");
        st = DMARC_FROM_SYNTAX;
    } else if (fa.count > 1) {
        set_text(ev->reason, sizeof(ev->reason), "From header field has %zu addresses (%s)",
                 fa.count, buf_cstr(&fa.domains));
        st = DMARC_FROM_MULTIPLE_ADDRESSES;
    } else if (!fa.first_too_long && !str_is_ascii(fa.first, fa.first_len) &&
               str_utf8_valid(fa.first, fa.first_len)) {
        set_text(ev->reason, sizeof(ev->reason),
                 "From domain '%s' is in U-labels: DMARC not evaluated", buf_cstr(&fa.domains));
        st = DMARC_FROM_IDN;
    } else if (fa.first_too_long ||
               dmarc_domain_normalize(fa.first, fa.first_len, ev->from, &err) < 0) {
        set_text(ev->reason, sizeof(ev->reason), "From domain '%s': %s", buf_cstr(&fa.domains),
                 fa.first_too_long ? "domain too long" : err);
        ev->from[0] = '\0';
        st = DMARC_FROM_SYNTAX;
    }
    buf_free(&fa.domains);
    if (st == DMARC_FROM_OK)
        start_discovery(ev);
    return st;
}

const char *dmarc_eval_from_domain(const struct dmarc_eval *ev)
{
    return ev->from;
}

const char *dmarc_eval_reason(const struct dmarc_eval *ev)
{
    return ev->reason;
}

const char *dmarc_eval_query(const struct dmarc_eval *ev)
{
    if (ev->stage == STAGE_ASK_FROM || ev->stage == STAGE_ASK_ORG)
        return ev->query;
    return NULL;
}

enum dmarc_discovery dmarc_eval_discovery(const struct dmarc_eval *ev)
{
    return ev->stage == STAGE_DONE ? ev->outcome : DMARC_DISCOVERY_PENDING;
}

const struct dmarc_record *dmarc_eval_record(const struct dmarc_eval *ev)
{
    return ev->outcome == DMARC_DISCOVERY_RECORD && ev->stage == STAGE_DONE ? &ev->record : NULL;
}

void dmarc_eval_answer(struct dmarc_eval *ev, enum dmarc_dns_status status, const char *const *txt,
                       const size_t *lens, size_t count)
{
    if (ev->stage != STAGE_ASK_FROM && ev->stage != STAGE_ASK_ORG)
        return;
    const char *asked = ev->stage == STAGE_ASK_FROM ? ev->from : ev->org;
    if (status == DMARC_DNS_TEMPERROR) {
        ev->stage = STAGE_DONE;
        ev->outcome = DMARC_DISCOVERY_TEMPERROR;
        str_copy(ev->policy_domain, sizeof(ev->policy_domain), asked);
        set_text(ev->reason, sizeof(ev->reason), "temporary DNS error looking up %s", ev->query);
        return;
    }
    /* RFC 7489 6.6.3: keep only the records that start with v=DMARC1. */
    size_t found = 0, which = 0;
    if (status == DMARC_DNS_FOUND) {
        for (size_t i = 0; i < count; i++) {
            if (dmarc_record_is_dmarc(txt[i], lens[i])) {
                if (found++ == 0)
                    which = i;
            }
        }
    }
    if (found == 0) {
        if (ev->stage == STAGE_ASK_FROM && strcmp(ev->org, ev->from) != 0) {
            ev->stage = STAGE_ASK_ORG;
            set_text(ev->query, sizeof(ev->query), "_dmarc.%s", ev->org);
            set_text(ev->reason, sizeof(ev->reason), "looking up %s", ev->query);
            return;
        }
        ev->stage = STAGE_DONE;
        ev->outcome = DMARC_DISCOVERY_NO_RECORD;
        set_text(ev->reason, sizeof(ev->reason), "no DMARC record for %s", ev->from);
        return;
    }
    ev->stage = STAGE_DONE;
    if (found > 1) {
        /* Several records: no policy, and no fallback to the org domain. */
        ev->outcome = DMARC_DISCOVERY_MULTIPLE;
        set_text(ev->reason, sizeof(ev->reason), "%zu DMARC records at %s: no policy", found,
                 ev->query);
        return;
    }
    str_copy(ev->policy_domain, sizeof(ev->policy_domain), asked);
    const char *err = NULL;
    enum dmarc_record_status st = dmarc_record_parse(txt[which], lens[which], &ev->record, &err);
    if (st != DMARC_RECORD_OK) {
        ev->outcome = DMARC_DISCOVERY_INVALID;
        set_text(ev->reason, sizeof(ev->reason), "invalid DMARC record at %s: %s", ev->query, err);
        return;
    }
    ev->outcome = DMARC_DISCOVERY_RECORD;
    set_text(ev->reason, sizeof(ev->reason), "DMARC record found at %s", ev->query);
}

/* Copy a domain for comparison without its leading and trailing dots and
 * normalize it; -1 if it is not a valid name. */
static int align_name(const char *in, char *out)
{
    const char *err;
    size_t len = strlen(in);
    while (len > 0 && in[0] == '.') {
        in++;
        len--;
    }
    while (len > 0 && in[len - 1] == '.')
        len--;
    return dmarc_domain_normalize(in, len, out, &err);
}

bool dmarc_aligned(const struct dmarc_orgdomain *od, const char *a, const char *b,
                   enum dmarc_align mode)
{
    char na[DMARC_DOMAIN_SIZE], nb[DMARC_DOMAIN_SIZE];
    if (!a || !b || align_name(a, na) < 0 || align_name(b, nb) < 0)
        return false;
    if (strcmp(na, nb) == 0)
        return true;
    if (mode == DMARC_ALIGN_STRICT)
        return false;
    char oa[DMARC_DOMAIN_SIZE], ob[DMARC_DOMAIN_SIZE];
    const char *err;
    if (dmarc_orgdomain_get(od, na, oa, &err) < 0 || dmarc_orgdomain_get(od, nb, ob, &err) < 0)
        return false;
    return strcmp(oa, ob) == 0;
}

static const char *mode_name(enum dmarc_align m)
{
    return m == DMARC_ALIGN_STRICT ? "strict" : "relaxed";
}

/* Say why SPF gave no aligned pass. */
static void spf_why(const struct dmarc_eval *ev, const struct dmarc_auth_input *in, char *out,
                    size_t n)
{
    char dom[DMARC_DOMAIN_SIZE];
    str_printable(dom, sizeof(dom), in->spf_domain ? in->spf_domain : "",
                  in->spf_domain ? strlen(in->spf_domain) : 0);
    if (in->spf != DMARC_AUTH_PASS)
        set_text(out, n, "SPF %s%s%s", dmarc_auth_result_name(in->spf),
                 in->spf_domain ? " for " : "", dom);
    else if (!in->spf_domain)
        set_text(out, n, "SPF pass without a domain");
    else
        set_text(out, n, "SPF domain %s not aligned with From %s (%s)", dom, ev->from,
                 mode_name(ev->record.aspf));
}

/* Say why DKIM gave no aligned pass: the first passing signature that
 * does not align, else the first signature's result. */
static void dkim_why(const struct dmarc_eval *ev, const struct dmarc_auth_input *in, char *out,
                     size_t n)
{
    if (in->dkim_count == 0) {
        set_text(out, n, "no DKIM signature");
        return;
    }
    size_t pick = 0;
    for (size_t i = 0; i < in->dkim_count; i++) {
        if (in->dkim[i].result == DMARC_AUTH_PASS) {
            pick = i;
            break;
        }
    }
    const struct dmarc_dkim_input *d = &in->dkim[pick];
    char dom[DMARC_DOMAIN_SIZE];
    str_printable(dom, sizeof(dom), d->domain ? d->domain : "", d->domain ? strlen(d->domain) : 0);
    if (d->result == DMARC_AUTH_PASS)
        set_text(out, n, "DKIM d=%s not aligned with From %s (%s)", dom, ev->from,
                 mode_name(ev->record.adkim));
    else
        set_text(out, n, "DKIM %s for d=%s", dmarc_auth_result_name(d->result), dom);
}

/* The verdict of a message under the record found. */
static void judge(const struct dmarc_eval *ev, const struct dmarc_auth_input *in,
                  struct dmarc_verdict *out)
{
    const struct dmarc_record *r = &ev->record;
    bool spf_temp = false, dkim_temp = false;
    if (in->spf_domain && dmarc_aligned(ev->od, in->spf_domain, ev->from, r->aspf)) {
        out->spf_aligned = in->spf == DMARC_AUTH_PASS;
        spf_temp = in->spf == DMARC_AUTH_TEMPERROR;
    }
    for (size_t i = 0; i < in->dkim_count; i++) {
        const struct dmarc_dkim_input *d = &in->dkim[i];
        if (d->result != DMARC_AUTH_PASS && d->result != DMARC_AUTH_TEMPERROR)
            continue;
        if (!dmarc_aligned(ev->od, d->domain, ev->from, r->adkim))
            continue;
        if (d->result == DMARC_AUTH_TEMPERROR) {
            dkim_temp = true;
        } else if (!out->dkim_aligned) {
            out->dkim_aligned = true;
            if (align_name(d->domain, out->dkim_aligned_domain) < 0)
                out->dkim_aligned_domain[0] = '\0';
        }
    }

    /* sp= applies when the record is the org domain's and From is below it. */
    bool sub = strcmp(ev->policy_domain, ev->from) != 0;
    out->policy = sub ? r->sp : r->p;

    if (out->spf_aligned || out->dkim_aligned) {
        out->result = DMARC_RESULT_PASS;
        if (out->spf_aligned && out->dkim_aligned)
            set_text(out->reason, sizeof(out->reason), "SPF and DKIM d=%s aligned pass",
                     out->dkim_aligned_domain);
        else if (out->spf_aligned)
            set_text(out->reason, sizeof(out->reason), "SPF aligned pass (%s)", mode_name(r->aspf));
        else
            set_text(out->reason, sizeof(out->reason), "DKIM d=%s aligned pass (%s)",
                     out->dkim_aligned_domain, mode_name(r->adkim));
        return;
    }
    if (spf_temp || dkim_temp) {
        out->result = DMARC_RESULT_TEMPERROR;
        set_text(out->reason, sizeof(out->reason), "no aligned pass, and %s%s%s temporary error",
                 spf_temp ? "an aligned SPF" : "", spf_temp && dkim_temp ? " and " : "",
                 dkim_temp ? "an aligned DKIM" : "");
        return;
    }
    out->result = DMARC_RESULT_FAIL;
    out->disposition = out->policy;
    char spf[DMARC_REASON_SIZE / 2], dkim[DMARC_REASON_SIZE / 2];
    spf_why(ev, in, spf, sizeof(spf));
    dkim_why(ev, in, dkim, sizeof(dkim));
    /* RFC 7489 6.6.4: out of the pct= sample, one step milder. */
    if (in->random100 >= r->pct && out->policy != DMARC_POLICY_NONE) {
        out->sampled_out = true;
        out->disposition =
            out->policy == DMARC_POLICY_REJECT ? DMARC_POLICY_QUARANTINE : DMARC_POLICY_NONE;
    }
    if (out->sampled_out)
        set_text(out->reason, sizeof(out->reason),
                 "no aligned identifier: %s; %s; pct=%u sampled out, %s lowered to %s", spf, dkim,
                 r->pct, dmarc_policy_name(out->policy), dmarc_policy_name(out->disposition));
    else
        set_text(out->reason, sizeof(out->reason), "no aligned identifier: %s; %s", spf, dkim);
}

void dmarc_eval_result(const struct dmarc_eval *ev, const struct dmarc_auth_input *in,
                       struct dmarc_verdict *out)
{
    memset(out, 0, sizeof(*out));
    out->result = DMARC_RESULT_NONE;
    out->disposition = DMARC_POLICY_NONE;
    out->policy = DMARC_POLICY_NONE;
    if (in->source_ip)
        str_printable(out->source_ip, sizeof(out->source_ip), in->source_ip, strlen(in->source_ip));
    str_copy(out->from_domain, sizeof(out->from_domain), ev->from);
    str_copy(out->policy_domain, sizeof(out->policy_domain), ev->policy_domain);
    if (ev->stage != STAGE_DONE) {
        set_text(out->reason, sizeof(out->reason), "%s",
                 ev->stage == STAGE_NO_FROM ? "no From domain" : "policy discovery unfinished");
        return;
    }
    switch (ev->outcome) {
    case DMARC_DISCOVERY_PENDING:
    case DMARC_DISCOVERY_NO_RECORD:
    case DMARC_DISCOVERY_MULTIPLE:
        out->policy_domain[0] = '\0';
        str_copy(out->reason, sizeof(out->reason), ev->reason);
        return;
    case DMARC_DISCOVERY_TEMPERROR:
        out->result = DMARC_RESULT_TEMPERROR;
        str_copy(out->reason, sizeof(out->reason), ev->reason);
        return;
    case DMARC_DISCOVERY_INVALID:
        out->result = DMARC_RESULT_PERMERROR;
        str_copy(out->reason, sizeof(out->reason), ev->reason);
        return;
    case DMARC_DISCOVERY_RECORD:
        break;
    }
    out->record_found = true;
    out->published.p = ev->record.p;
    out->published.sp = ev->record.sp;
    out->published.pct = ev->record.pct;
    out->published.adkim = ev->record.adkim;
    out->published.aspf = ev->record.aspf;
    judge(ev, in, out);
}

const char *dmarc_result_name(enum dmarc_result r)
{
    switch (r) {
    case DMARC_RESULT_NONE:
        return "none";
    case DMARC_RESULT_PASS:
        return "pass";
    case DMARC_RESULT_FAIL:
        return "fail";
    case DMARC_RESULT_TEMPERROR:
        return "temperror";
    case DMARC_RESULT_PERMERROR:
        return "permerror";
    }
    return "?";
}

const char *dmarc_auth_result_name(enum dmarc_auth_result r)
{
    switch (r) {
    case DMARC_AUTH_NONE:
        return "none";
    case DMARC_AUTH_PASS:
        return "pass";
    case DMARC_AUTH_FAIL:
        return "fail";
    case DMARC_AUTH_SOFTFAIL:
        return "softfail";
    case DMARC_AUTH_NEUTRAL:
        return "neutral";
    case DMARC_AUTH_TEMPERROR:
        return "temperror";
    case DMARC_AUTH_PERMERROR:
        return "permerror";
    }
    return "?";
}

const char *dmarc_discovery_name(enum dmarc_discovery d)
{
    switch (d) {
    case DMARC_DISCOVERY_PENDING:
        return "pending";
    case DMARC_DISCOVERY_RECORD:
        return "record";
    case DMARC_DISCOVERY_NO_RECORD:
        return "no-record";
    case DMARC_DISCOVERY_MULTIPLE:
        return "multiple-records";
    case DMARC_DISCOVERY_INVALID:
        return "invalid-record";
    case DMARC_DISCOVERY_TEMPERROR:
        return "temperror";
    }
    return "?";
}

const char *dmarc_from_status_name(enum dmarc_from_status s)
{
    switch (s) {
    case DMARC_FROM_OK:
        return "ok";
    case DMARC_FROM_MISSING:
        return "missing";
    case DMARC_FROM_MULTIPLE_FIELDS:
        return "multiple-fields";
    case DMARC_FROM_MULTIPLE_ADDRESSES:
        return "multiple-addresses";
    case DMARC_FROM_SYNTAX:
        return "syntax";
    case DMARC_FROM_IDN:
        return "idn";
    }
    return "?";
}
