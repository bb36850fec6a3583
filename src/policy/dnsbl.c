/* dnsbl: query names, answer judgement, scores and the parallel lookups. */
#include "policy/dnsbl.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/dns.h"
#include "lib/str.h"
#include "lib/xalloc.h"

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int dnsbl_addr_parse(const char *ip, uint8_t addr[16])
{
    if (strnlen(ip, DNSBL_IP_MAX) == DNSBL_IP_MAX)
        return -1;
    struct in_addr a4;
    if (inet_pton(AF_INET, ip, &a4) == 1) {
        memcpy(addr, v4_mapped, 12);
        memcpy(addr + 12, &a4, 4);
        return 0;
    }
    struct in6_addr a6;
    if (inet_pton(AF_INET6, ip, &a6) == 1) {
        memcpy(addr, &a6, 16);
        return 0;
    }
    return -1;
}

int dnsbl_query_name_addr(const uint8_t addr[16], const char *zone, char *out, size_t outsize)
{
    static const char hex[] = "0123456789abcdef";
    char prefix[65];
    size_t n = 0;
    if (memcmp(addr, v4_mapped, 12) == 0) {
        int w = snprintf(prefix, sizeof(prefix), "%u.%u.%u.%u.", addr[15], addr[14], addr[13],
                         addr[12]);
        if (w < 0 || (size_t)w >= sizeof(prefix))
            return -1;
        n = (size_t)w;
    } else {
        for (int i = 15; i >= 0; i--) {
            prefix[n++] = hex[addr[i] & 0xf];
            prefix[n++] = '.';
            prefix[n++] = hex[addr[i] >> 4];
            prefix[n++] = '.';
        }
        prefix[n] = '\0';
    }
    int w = snprintf(out, outsize, "%s%s", prefix, zone);
    if (w < 0 || (size_t)w >= outsize)
        return -1;
    return 0;
}

int dnsbl_query_name(const char *ip, const char *zone, char *out, size_t outsize)
{
    uint8_t addr[16];
    if (dnsbl_addr_parse(ip, addr) != 0)
        return -1;
    return dnsbl_query_name_addr(addr, zone, out, outsize);
}

size_t dnsbl_answers_parse(char *const *rr, size_t n, uint32_t *out, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < max; i++) {
        struct in_addr a4;
        if (rr[i] == NULL || strnlen(rr[i], DNSBL_IP_MAX) == DNSBL_IP_MAX ||
            inet_pton(AF_INET, rr[i], &a4) != 1)
            continue;
        uint32_t a = ntohl(a4.s_addr);
        if ((a >> 24) != 127 || (a >> 8) == 0x7fffff)
            continue;
        out[k++] = a;
    }
    return k;
}

void dnsbl_result_init(struct dnsbl_result *r)
{
    memset(r, 0, sizeof(*r));
    r->listed_site = -1;
}

void dnsbl_result_add(struct dnsbl_result *r, const struct dnsbl_sites *sites, size_t domain,
                      const uint32_t *answers, size_t n)
{
    for (size_t i = 0; i < sites->n; i++) {
        const struct dnsbl_site *s = &sites->site[i];
        if (s->domain_index != domain || (r->matched & ((uint32_t)1 << i)))
            continue;
        size_t k = 0;
        while (k < n && !dnsbl_site_filter_match(s, answers[k]))
            k++;
        if (k == n)
            continue;
        r->matched |= (uint32_t)1 << i;
        r->score += s->weight;
        if (s->weight <= 0)
            continue;
        int best = r->listed_site;
        if (best < 0 || s->weight > sites->site[best].weight ||
            (s->weight == sites->site[best].weight && (int)i < best)) {
            r->listed_site = (int)i;
            (void)str_copy(r->listed_by, sizeof(r->listed_by), s->domain);
        }
    }
}

bool dnsbl_result_blocks(const struct dnsbl_result *r, int threshold)
{
    return r->score >= threshold;
}

/* ---- The asynchronous checker ---- */

struct dnsbl {
    struct dns *dns;
    struct dnsbl_sites sites;
    struct dnsbl_cache *cache;
};

/* The context of one domain's lookup within a check. */
struct lookup {
    struct dnsbl_check *check;
    size_t domain;
    struct dns_query *q; /* NULL once answered */
};

struct dnsbl_check {
    struct dnsbl *d;
    uint8_t addr[16];
    dnsbl_check_cb *cb;
    void *arg;
    struct dnsbl_result r;
    size_t pending; /* lookups not answered, plus one while starting */
    struct lookup lookup[DNSBL_SITES_MAX];
};

struct dnsbl *dnsbl_new_clock(struct dns *dns, const struct dnsbl_sites *sites, unsigned cache_secs,
                              dnsbl_clock_fn *clock)
{
    struct dnsbl *d = xcalloc(1, sizeof(*d));
    d->dns = dns;
    dnsbl_sites_copy(&d->sites, sites);
    d->cache = dnsbl_cache_new(DNSBL_CACHE_ENTRIES_MAX, cache_secs, clock);
    return d;
}

struct dnsbl *dnsbl_new(struct dns *dns, const struct dnsbl_sites *sites, unsigned cache_secs)
{
    return dnsbl_new_clock(dns, sites, cache_secs, NULL);
}

void dnsbl_free(struct dnsbl **d)
{
    if (*d == NULL)
        return;
    dnsbl_cache_free(&(*d)->cache);
    x_free(d);
}

/* One fewer lookup pending; at none, call back and free the check. */
static void check_done_one(struct dnsbl_check *c)
{
    if (--c->pending > 0)
        return;
    c->cb(c->arg, &c->r);
    free(c);
}

/* The answer of one domain's lookup. */
static void on_answer(void *arg, enum dns_status st, char *const *rr, size_t n, int ttl)
{
    struct lookup *l = arg;
    struct dnsbl_check *c = l->check;
    l->q = NULL;
    if (st == DNS_TEMPFAIL) {
        c->r.tempfail = true;
    } else {
        uint32_t answers[DNSBL_ANSWERS_MAX];
        size_t k = st == DNS_OK ? dnsbl_answers_parse(rr, n, answers, DNSBL_ANSWERS_MAX) : 0;
        dnsbl_cache_put(c->d->cache, l->domain, c->addr, answers, k, ttl);
        dnsbl_result_add(&c->r, &c->d->sites, l->domain, answers, k);
    }
    check_done_one(c);
}

struct dnsbl_check *dnsbl_check_start(struct dnsbl *d, const char *ip, dnsbl_check_cb *cb,
                                      void *arg)
{
    struct dnsbl_check *c = xcalloc(1, sizeof(*c));
    c->d = d;
    c->cb = cb;
    c->arg = arg;
    dnsbl_result_init(&c->r);
    c->pending = 1;
    if (dnsbl_addr_parse(ip, c->addr) != 0) {
        c->r.tempfail = true;
        check_done_one(c);
        return NULL;
    }
    for (size_t dom = 0; dom < d->sites.n_domains; dom++) {
        uint32_t answers[DNSBL_ANSWERS_MAX];
        int k = dnsbl_cache_get(d->cache, dom, c->addr, answers, DNSBL_ANSWERS_MAX);
        if (k >= 0) {
            dnsbl_result_add(&c->r, &d->sites, dom, answers, (size_t)k);
            continue;
        }
        char name[DNSBL_QUERY_MAX];
        if (dnsbl_query_name_addr(c->addr, d->sites.domains[dom], name, sizeof(name)) != 0) {
            c->r.tempfail = true;
            continue;
        }
        struct lookup *l = &c->lookup[dom];
        l->check = c;
        l->domain = dom;
        c->pending++;
        /* The callback may run at once (the lookup cannot start): the
         * extra pending count keeps c alive until the loop is over. */
        l->q = dns_lookup_records_ttl(d->dns, name, DNS_TYPE_A, on_answer, l);
    }
    if (c->pending == 1) {
        check_done_one(c);
        return NULL;
    }
    c->pending--;
    return c;
}

void dnsbl_check_cancel(struct dnsbl_check *c)
{
    if (c == NULL)
        return;
    for (size_t dom = 0; dom < DNSBL_SITES_MAX; dom++)
        if (c->lookup[dom].q != NULL)
            dns_cancel(c->d->dns, c->lookup[dom].q);
    free(c);
}
