/* spf: check_host() (RFC 7208 4-6), replayed over a cache of DNS answers. */
#include "spf.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "spf-record.h"

#define SPF_LOOKUP_LIMIT 10 /* DNS-querying terms (RFC 7208 4.6.4) */
#define SPF_VOID_LIMIT   2  /* lookups that found nothing */
#define SPF_NAMES_LIMIT  10 /* MX or PTR names looked up per term */
#define SPF_DOMAIN_MAX   253

/* Inside the evaluation only: an answer is missing, unwind and ask. */
#define SPF_WAIT 100
/* A mechanism's verdict when it does not decide the result. */
#define SPF_MATCH   101
#define SPF_NOMATCH 102

struct cache_entry {
    char *name;
    enum spf_rr_type type;
    enum spf_dns_status st;
    char **rr;
    size_t n;
};

struct spf_check {
    /* the request */
    int family;
    unsigned char ip[16];
    char ip_text[64];  /* c macro */
    char ip_macro[80]; /* i macro: dotted, or dotted nibbles */
    char reverse[80];  /* the PTR name of the address */
    char *sender, *local, *sender_domain, *helo, *receiver, *start;
    long long now;
    /* answers */
    struct cache_entry *cache;
    size_t ncache, cap;
    size_t queries;
    char want_name[SPF_DOMAIN_MAX + 2];
    enum spf_rr_type want_type;
    /* one run */
    unsigned lookups, voids;
    bool ptr_known; /* the validated names below are computed */
    char ptr_names[SPF_NAMES_LIMIT][SPF_DOMAIN_MAX + 2];
    size_t nptr;
    struct buf reason, mechanism, explanation;
};

const char *spf_result_name(enum spf_result r)
{
    static const char *const names[] = {"none",     "neutral",   "pass",     "fail",
                                        "softfail", "temperror", "permerror"};
    return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

/* Lower case, no trailing dot: how names are compared and cached. */
static void norm_name(char *out, size_t size, const char *name)
{
    str_copy(out, size, name);
    str_lower(out);
    size_t n = strlen(out);
    if (n > 1 && out[n - 1] == '.')
        out[n - 1] = '\0';
}

/* The cached answer, or NULL after noting the query to make. */
static const struct cache_entry *lookup(struct spf_check *c, const char *name,
                                        enum spf_rr_type type)
{
    char key[SPF_DOMAIN_MAX + 2];
    norm_name(key, sizeof(key), name);
    for (size_t i = 0; i < c->ncache; i++)
        if (c->cache[i].type == type && strcmp(c->cache[i].name, key) == 0)
            return &c->cache[i];
    str_copy(c->want_name, sizeof(c->want_name), key);
    c->want_type = type;
    return NULL;
}

void spf_check_answer(struct spf_check *c, const char *name, enum spf_rr_type type,
                      enum spf_dns_status st, const char *const *rr, size_t n)
{
    if (c->ncache == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->cache = xrealloc(c->cache, c->cap * sizeof(*c->cache));
    }
    char key[SPF_DOMAIN_MAX + 2];
    norm_name(key, sizeof(key), name);
    struct cache_entry *e = &c->cache[c->ncache++];
    e->name = xstrdup(key);
    e->type = type;
    e->st = n == 0 && st == SPF_DNS_OK ? SPF_DNS_NODATA : st;
    e->n = st == SPF_DNS_OK ? n : 0;
    e->rr = xcalloc(e->n + 1, sizeof(char *));
    for (size_t i = 0; i < e->n; i++)
        e->rr[i] = xstrdup(rr[i]);
    c->queries++;
}

size_t spf_check_queries(const struct spf_check *c)
{
    return c->queries;
}

/* RFC 7208 4.3: a name check_host() can start from at all: labels of 1
 * to 63 octets, at least two of them, at most 253 octets. */
static bool domain_ok(const char *d, bool strict_chars)
{
    size_t len = strlen(d);
    if (len && d[len - 1] == '.')
        len--;
    if (len == 0 || len > SPF_DOMAIN_MAX)
        return false;
    size_t label = 0, labels = 1;
    for (size_t i = 0; i < len; i++) {
        char ch = d[i];
        if (ch == '.') {
            if (label == 0)
                return false;
            label = 0;
            labels++;
            continue;
        }
        if (++label > 63)
            return false;
        if (strict_chars && !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                              (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
            return false;
    }
    return label > 0 && labels >= 2;
}

/* Drop labels from the left until the name fits (RFC 7208 7.3). */
static void truncate_domain(struct buf *b)
{
    while (b->len > SPF_DOMAIN_MAX) {
        const char *dot = memchr(b->data, '.', b->len);
        if (!dot) {
            buf_truncate(b, 0);
            return;
        }
        buf_consume(b, (size_t)(dot - b->data) + 1);
    }
}

static bool addr_matches(const struct spf_check *c, const char *text, unsigned cidr4,
                         unsigned cidr6)
{
    unsigned char a[16];
    int fam = strchr(text, ':') ? AF_INET6 : AF_INET;
    if (fam != c->family || inet_pton(fam, text, a) != 1)
        return false;
    unsigned bits = fam == AF_INET ? cidr4 : cidr6;
    for (unsigned i = 0; i < bits; i++) {
        unsigned byte = i / 8, bit = 7 - i % 8;
        if (((a[byte] >> bit) & 1) != ((c->ip[byte] >> bit) & 1))
            return false;
    }
    return true;
}

__attribute__((format(printf, 3, 4))) static int fail_with(struct spf_check *c, int result,
                                                           const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_reset(&c->reason);
    buf_vprintf(&c->reason, fmt, ap);
    va_end(ap);
    return result;
}

/* The client's validated host names (RFC 7208 5.5): the PTR names whose
 * addresses include the client's. DNS errors only shorten the list. */
static int validate_ptr(struct spf_check *c)
{
    if (c->ptr_known)
        return 0;
    const struct cache_entry *e = lookup(c, c->reverse, SPF_RR_PTR);
    if (!e)
        return SPF_WAIT;
    c->nptr = 0;
    for (size_t i = 0; i < e->n && i < SPF_NAMES_LIMIT; i++) {
        const struct cache_entry *a =
            lookup(c, e->rr[i], c->family == AF_INET ? SPF_RR_A : SPF_RR_AAAA);
        if (!a)
            return SPF_WAIT;
        for (size_t k = 0; k < a->n; k++)
            if (addr_matches(c, a->rr[k], 32, 128)) {
                norm_name(c->ptr_names[c->nptr], sizeof(c->ptr_names[0]), e->rr[i]);
                c->nptr++;
                break;
            }
    }
    c->ptr_known = true;
    return 0;
}

static bool name_within(const char *name, const char *domain)
{
    size_t n = strlen(name), d = strlen(domain);
    if (n == d)
        return str_eq_ci(name, domain);
    return n > d && name[n - d - 1] == '.' && str_eq_ci(name + n - d, domain);
}

static void macro_vars(struct spf_check *c, const char *domain, struct spf_macro_vars *v)
{
    memset(v, 0, sizeof(*v));
    v->sender = c->sender;
    v->local = c->local;
    v->sender_domain = c->sender_domain;
    v->domain = domain;
    v->ip = c->ip_macro;
    v->ipv6 = c->family == AF_INET6;
    v->helo = c->helo;
    v->client_ip = c->ip_text;
    v->receiver = c->receiver;
    v->now = c->now;
    if (c->ptr_known) {
        /* the p macro: a validated name in the domain if there is one */
        for (size_t i = 0; i < c->nptr && !v->ptr_name; i++)
            if (name_within(c->ptr_names[i], domain))
                v->ptr_name = c->ptr_names[i];
        if (!v->ptr_name && c->nptr)
            v->ptr_name = c->ptr_names[0];
    }
}

/* Expand a domain-spec into out; SPF_WAIT, SPF_PERMERROR or 0. */
static int expand_domain(struct spf_check *c, const char *spec, size_t len, const char *domain,
                         struct buf *out)
{
    if (spf_macro_uses_ptr(spec, len)) {
        int r = validate_ptr(c);
        if (r)
            return r;
    }
    struct spf_macro_vars v;
    macro_vars(c, domain, &v);
    buf_reset(out);
    if (spf_macro_expand(spec, len, &v, false, out) < 0)
        return fail_with(c, SPF_PERMERROR, "bad macro in %s", domain);
    truncate_domain(out);
    return 0;
}

/* A lookup that found nothing counts against the void limit. */
static int count_void(struct spf_check *c, const char *name)
{
    if (++c->voids > SPF_VOID_LIMIT)
        return fail_with(c, SPF_PERMERROR, "more than 2 lookups found nothing (last: %s)", name);
    return SPF_NOMATCH;
}

static int check_host(struct spf_check *c, const char *domain, struct buf *expl, unsigned depth);

static int eval_term(struct spf_check *c, const struct spf_term *t, const char *domain,
                     unsigned depth)
{
    if (t->mech == SPF_MECH_ALL)
        return SPF_MATCH;
    if (t->mech == SPF_MECH_IP4 || t->mech == SPF_MECH_IP6) {
        int fam = t->mech == SPF_MECH_IP4 ? AF_INET : AF_INET6;
        if (fam != c->family)
            return SPF_NOMATCH;
        char text[64];
        inet_ntop(fam, t->ip, text, sizeof(text));
        return addr_matches(c, text, t->cidr4, t->cidr6) ? SPF_MATCH : SPF_NOMATCH;
    }
    if (++c->lookups > SPF_LOOKUP_LIMIT)
        return fail_with(c, SPF_PERMERROR, "more than 10 DNS-querying terms (at %s)", domain);
    struct buf target;
    buf_init(&target, BUF_UNLIMITED);
    int r = 0;
    if (t->domain)
        r = expand_domain(c, t->domain, t->domain_len, domain, &target);
    else
        buf_append_str(&target, domain);
    if (r) {
        buf_free(&target);
        return r;
    }
    const char *name = buf_cstr(&target);
    enum spf_rr_type atype = c->family == AF_INET ? SPF_RR_A : SPF_RR_AAAA;
    const struct cache_entry *e;
    switch (t->mech) {
    case SPF_MECH_INCLUDE: {
        struct buf scratch;
        buf_init(&scratch, BUF_UNLIMITED);
        r = check_host(c, name, &scratch, depth + 1);
        buf_free(&scratch);
        if (r == SPF_PASS)
            r = SPF_MATCH;
        else if (r == SPF_FAIL || r == SPF_SOFTFAIL || r == SPF_NEUTRAL)
            r = SPF_NOMATCH;
        else if (r == SPF_NONE)
            r = fail_with(c, SPF_PERMERROR, "include:%s has no SPF record", name);
        break;
    }
    case SPF_MECH_A:
    case SPF_MECH_EXISTS:
        e = lookup(c, name, t->mech == SPF_MECH_EXISTS ? SPF_RR_A : atype);
        if (!e)
            r = SPF_WAIT;
        else if (e->st == SPF_DNS_TEMPFAIL)
            r = fail_with(c, SPF_TEMPERROR, "DNS failure looking up %s", name);
        else if (e->st != SPF_DNS_OK)
            r = count_void(c, name);
        else if (t->mech == SPF_MECH_EXISTS)
            r = SPF_MATCH;
        else {
            r = SPF_NOMATCH;
            for (size_t i = 0; i < e->n && r == SPF_NOMATCH; i++)
                if (addr_matches(c, e->rr[i], t->cidr4, t->cidr6))
                    r = SPF_MATCH;
        }
        break;
    case SPF_MECH_MX:
        e = lookup(c, name, SPF_RR_MX);
        if (!e) {
            r = SPF_WAIT;
            break;
        }
        if (e->st == SPF_DNS_TEMPFAIL) {
            r = fail_with(c, SPF_TEMPERROR, "DNS failure looking up the MX of %s", name);
            break;
        }
        if (e->st != SPF_DNS_OK) {
            r = count_void(c, name);
            break;
        }
        if (e->n > SPF_NAMES_LIMIT) {
            r = fail_with(c, SPF_PERMERROR, "%s has more than 10 MX names", name);
            break;
        }
        r = SPF_NOMATCH;
        for (size_t i = 0; i < e->n && r == SPF_NOMATCH; i++) {
            if (strcmp(e->rr[i], ".") == 0 || !e->rr[i][0])
                continue; /* null MX */
            const struct cache_entry *a = lookup(c, e->rr[i], atype);
            if (!a) {
                r = SPF_WAIT;
                break;
            }
            if (a->st == SPF_DNS_TEMPFAIL) {
                r = fail_with(c, SPF_TEMPERROR, "DNS failure looking up %s", e->rr[i]);
                break;
            }
            for (size_t k = 0; k < a->n && r == SPF_NOMATCH; k++)
                if (addr_matches(c, a->rr[k], t->cidr4, t->cidr6))
                    r = SPF_MATCH;
        }
        break;
    case SPF_MECH_PTR:
        r = validate_ptr(c);
        if (r)
            break;
        r = SPF_NOMATCH;
        for (size_t i = 0; i < c->nptr; i++)
            if (name_within(c->ptr_names[i], name))
                r = SPF_MATCH;
        break;
    default:
        r = SPF_PERMERROR;
        break;
    }
    buf_free(&target);
    return r;
}

/* The domain's explanation of a fail (RFC 7208 6.2); errors leave none.
 * 0, or SPF_WAIT. */
static int explain(struct spf_check *c, const struct spf_record *rec, const char *domain,
                   struct buf *expl)
{
    buf_reset(expl);
    if (!rec->exp)
        return 0;
    struct buf name;
    buf_init(&name, BUF_UNLIMITED);
    int r = expand_domain(c, rec->exp, rec->exp_len, domain, &name);
    if (r) { /* a macro that cannot expand leaves no explanation */
        buf_free(&name);
        return r == SPF_WAIT ? SPF_WAIT : 0;
    }
    const struct cache_entry *e = lookup(c, buf_cstr(&name), SPF_RR_TXT);
    buf_free(&name);
    if (!e)
        return SPF_WAIT;
    if (e->st != SPF_DNS_OK || e->n != 1)
        return 0;
    const char *text = e->rr[0];
    if (spf_macro_check(text, strlen(text), true) < 0)
        return 0;
    if (spf_macro_uses_ptr(text, strlen(text))) {
        r = validate_ptr(c);
        if (r)
            return r;
    }
    struct spf_macro_vars v;
    macro_vars(c, domain, &v);
    if (spf_macro_expand(text, strlen(text), &v, true, expl) < 0)
        buf_reset(expl);
    return 0;
}

static int check_host(struct spf_check *c, const char *domain, struct buf *expl, unsigned depth)
{
    if (!domain_ok(domain, depth == 0))
        return fail_with(c, SPF_NONE, "%s is not a valid domain name", domain);
    const struct cache_entry *e = lookup(c, domain, SPF_RR_TXT);
    if (!e)
        return SPF_WAIT;
    if (e->st == SPF_DNS_TEMPFAIL)
        return fail_with(c, SPF_TEMPERROR, "DNS failure looking up the SPF record of %s", domain);
    const char *text = NULL;
    size_t found = 0;
    for (size_t i = 0; i < e->n; i++)
        if (spf_record_is_spf(e->rr[i], strlen(e->rr[i]))) {
            text = e->rr[i];
            found++;
        }
    if (found == 0)
        return fail_with(c, SPF_NONE, "%s has no SPF record", domain);
    if (found > 1)
        return fail_with(c, SPF_PERMERROR, "%s has more than one SPF record", domain);
    struct spf_record *rec = xmalloc(sizeof(*rec));
    const char *err;
    if (spf_record_parse(text, strlen(text), rec, &err) < 0) {
        free(rec);
        buf_reset(&c->reason);
        buf_printf(&c->reason, "the SPF record of %s: %s", domain, err);
        return SPF_PERMERROR;
    }
    int r = SPF_NOMATCH;
    for (size_t i = 0; i < rec->n; i++) {
        const struct spf_term *t = &rec->terms[i];
        r = eval_term(c, t, domain, depth);
        if (r == SPF_NOMATCH)
            continue;
        if (r == SPF_MATCH) {
            r = t->qualifier == '-'   ? SPF_FAIL
                : t->qualifier == '~' ? SPF_SOFTFAIL
                : t->qualifier == '?' ? SPF_NEUTRAL
                                      : SPF_PASS;
            buf_reset(&c->mechanism);
            buf_append(&c->mechanism, t->text, t->text_len);
            if (r == SPF_FAIL) {
                int w = explain(c, rec, domain, expl);
                if (w)
                    r = w;
            }
        }
        free(rec);
        return r;
    }
    if (rec->redirect && !rec->has_all) {
        if (++c->lookups > SPF_LOOKUP_LIMIT) {
            free(rec);
            return fail_with(c, SPF_PERMERROR, "more than 10 DNS-querying terms (at %s)", domain);
        }
        struct buf target;
        buf_init(&target, BUF_UNLIMITED);
        r = expand_domain(c, rec->redirect, rec->redirect_len, domain, &target);
        free(rec);
        if (!r) {
            r = check_host(c, buf_cstr(&target), expl, depth + 1);
            if (r == SPF_NONE)
                r = fail_with(c, SPF_PERMERROR, "redirect=%s: no SPF record there",
                              buf_cstr(&target));
        }
        buf_free(&target);
        return r;
    }
    free(rec);
    buf_reset(&c->mechanism);
    return SPF_NEUTRAL;
}

int spf_check_run(struct spf_check *c, struct spf_outcome *out, const char **name,
                  enum spf_rr_type *type)
{
    c->lookups = c->voids = 0;
    c->ptr_known = false;
    c->nptr = 0;
    buf_reset(&c->reason);
    buf_reset(&c->mechanism);
    buf_reset(&c->explanation);
    int r = check_host(c, c->start, &c->explanation, 0);
    if (r == SPF_WAIT) {
        *name = c->want_name;
        *type = c->want_type;
        return 0;
    }
    out->result = (enum spf_result)r;
    out->domain = c->start;
    out->mechanism = buf_cstr(&c->mechanism);
    out->reason = buf_cstr(&c->reason);
    out->explanation = r == SPF_FAIL ? buf_cstr(&c->explanation) : "";
    return 1;
}

static struct spf_check *check_new(const struct spf_request *req, bool helo)
{
    struct spf_check *c = xcalloc(1, sizeof(*c));
    if (inet_pton(AF_INET, req->ip, c->ip) == 1) {
        c->family = AF_INET;
    } else if (inet_pton(AF_INET6, req->ip, c->ip) == 1) {
        c->family = AF_INET6;
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(c->ip, mapped, 12) == 0) {
            memmove(c->ip, c->ip + 12, 4);
            c->family = AF_INET;
        }
    } else {
        free(c);
        return NULL;
    }
    inet_ntop(c->family, c->ip, c->ip_text, sizeof(c->ip_text));
    if (c->family == AF_INET) {
        snprintf(c->ip_macro, sizeof(c->ip_macro), "%u.%u.%u.%u", c->ip[0], c->ip[1], c->ip[2],
                 c->ip[3]);
        snprintf(c->reverse, sizeof(c->reverse), "%u.%u.%u.%u.in-addr.arpa", c->ip[3], c->ip[2],
                 c->ip[1], c->ip[0]);
    } else {
        static const char hex[] = "0123456789abcdef";
        static const char upper[] = "0123456789ABCDEF"; /* as RFC 7208 7.4 writes them */
        size_t k = 0;
        for (int i = 0; i < 16; i++) {
            c->ip_macro[k++] = upper[c->ip[i] >> 4];
            c->ip_macro[k++] = '.';
            c->ip_macro[k++] = upper[c->ip[i] & 15];
            c->ip_macro[k++] = '.';
        }
        c->ip_macro[k - 1] = '\0';
        k = 0;
        for (int i = 15; i >= 0; i--) {
            c->reverse[k++] = hex[c->ip[i] & 15];
            c->reverse[k++] = '.';
            c->reverse[k++] = hex[c->ip[i] >> 4];
            c->reverse[k++] = '.';
        }
        str_copy(c->reverse + k, sizeof(c->reverse) - k, "ip6.arpa");
    }
    c->helo = xstrdup(req->helo ? req->helo : "");
    c->receiver = req->receiver ? xstrdup(req->receiver) : NULL;
    c->now = req->now;
    /* the identity: MAIL FROM, or postmaster@HELO (RFC 7208 2.4, 4.3) */
    const char *sender = helo || !req->sender || !req->sender[0] ? NULL : req->sender;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    if (sender)
        buf_append_str(&b, sender);
    else
        buf_printf(&b, "postmaster@%s", c->helo);
    c->sender = buf_steal(&b);
    const char *at = strrchr(c->sender, '@');
    if (at && at > c->sender)
        c->local = xstrndup(c->sender, (size_t)(at - c->sender));
    else
        c->local = xstrdup("postmaster");
    c->sender_domain = xstrdup(at ? at + 1 : c->sender);
    c->start = xstrdup(c->sender_domain);
    buf_init(&c->reason, BUF_UNLIMITED);
    buf_init(&c->mechanism, BUF_UNLIMITED);
    buf_init(&c->explanation, BUF_UNLIMITED);
    return c;
}

struct spf_check *spf_check_new(const struct spf_request *req)
{
    return check_new(req, false);
}

struct spf_check *spf_check_new_helo(const struct spf_request *req)
{
    return check_new(req, true);
}

void spf_check_free(struct spf_check **cp)
{
    struct spf_check *c = *cp;
    if (!c)
        return;
    for (size_t i = 0; i < c->ncache; i++) {
        for (size_t k = 0; k < c->cache[i].n; k++)
            free(c->cache[i].rr[k]);
        free(c->cache[i].rr);
        free(c->cache[i].name);
    }
    free(c->cache);
    free(c->sender);
    free(c->local);
    free(c->sender_domain);
    free(c->helo);
    free(c->receiver);
    free(c->start);
    buf_free(&c->reason);
    buf_free(&c->mechanism);
    buf_free(&c->explanation);
    free(c);
    *cp = NULL;
}
