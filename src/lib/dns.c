#include "dns.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unbound.h>

#include "buf.h"
#include "str.h"
#include "xalloc.h"

#define TYPE_A     DNS_TYPE_A
#define TYPE_CNAME DNS_TYPE_CNAME
#define TYPE_PTR   DNS_TYPE_PTR
#define TYPE_MX    DNS_TYPE_MX
#define TYPE_TXT   DNS_TYPE_TXT
#define TYPE_AAAA  DNS_TYPE_AAAA
#define CLASS_IN   1

/* Answers with more records than this are cut: nothing we look up has a
 * use for more, and a hostile zone could send thousands. */
#define DNS_RECORDS_MAX 100

struct dns_query;

struct dns {
    struct ub_ctx *ctx;
    struct event *ev;
    struct dns_query *queries; /* pending, for cancelling at free */
};

/* One lookup in progress (an address lookup is two queries). */
struct dns_query {
    struct dns *d;
    int kind; /* the record type; TYPE_A for an address lookup (A and AAAA) */
    int outstanding;
    int async_ids[2];
    union {
        dns_mx_cb *mx;
        dns_addr_cb *addr;
        dns_records_cb *records;
        dns_records_ttl_cb *records_ttl;
    } cb;
    bool with_ttl; /* records: cb.records_ttl */
    void *arg;
    /* address lookups: results gathered from both queries */
    struct dns_addr *addrs;
    size_t naddrs;
    enum dns_status st6, st4;
    struct dns_query *prev, *next;
};

const char *dns_status_name(enum dns_status s)
{
    switch (s) {
    case DNS_OK:
        return "ok";
    case DNS_NODATA:
        return "no records";
    case DNS_NXDOMAIN:
        return "no such domain";
    case DNS_NULL_MX:
        return "null MX";
    case DNS_TEMPFAIL:
        return "temporary DNS failure";
    }
    return "?";
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct dns *d = arg;
    ub_process(d->ctx);
}

struct dns *dns_new(struct event_base *base, const char *resolver, char **error_r)
{
    struct dns *d = xcalloc(1, sizeof(*d));
    d->ctx = ub_ctx_create();
    if (!d->ctx) {
        *error_r = xstrdup("cannot create a DNS resolver");
        free(d);
        return NULL;
    }
    int err = ub_ctx_async(d->ctx, 1); /* a thread, not a process */
    if (!err && resolver && resolver[0]) {
        /* "IP[:PORT]" -> unbound's "IP@PORT"; loopback servers allowed. */
        char fwd[128];
        str_copy(fwd, sizeof(fwd), resolver);
        char *colon = strrchr(fwd, ':');
        if (colon && strchr(fwd, '.') && !strchr(colon + 1, ']'))
            *colon = '@';
        if (fwd[0] == '[') {
            char *close = strchr(fwd, ']');
            if (close) {
                memmove(fwd, fwd + 1, (size_t)(close - fwd - 1));
                fwd[close - fwd - 1] = '\0';
                if (close[1] == ':')
                    snprintf(fwd + strlen(fwd), sizeof(fwd) - strlen(fwd), "@%s", close + 2);
            }
        }
        err = ub_ctx_set_option(d->ctx, "do-not-query-localhost:", "no");
        if (!err)
            err = ub_ctx_set_fwd(d->ctx, fwd);
    } else if (!err) {
        err = ub_ctx_resolvconf(d->ctx, NULL);
        if (!err)
            ub_ctx_hosts(d->ctx, NULL);
    }
    /* unbound answers names under test. itself (NXDOMAIN, RFC 6761); a
     * site's resolver may serve them, and the resolver decides. */
    if (!err)
        err = ub_ctx_set_option(d->ctx, "local-zone:", "test. transparent");
    /* the same for the reverse names of loopback and private addresses
     * (RFC 6303): a site's resolver may know them (postino probe asks) */
    if (!err)
        err = ub_ctx_set_option(d->ctx, "local-zone:", "127.in-addr.arpa. transparent");
    if (!err)
        err = ub_ctx_set_option(d->ctx, "unblock-lan-zones:", "yes");
    if (err) {
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        buf_printf(&b, "DNS resolver %s: %s", resolver && resolver[0] ? resolver : "(system)",
                   ub_strerror(err));
        *error_r = buf_steal(&b);
        ub_ctx_delete(d->ctx);
        free(d);
        return NULL;
    }
    d->ev = event_new(base, ub_fd(d->ctx), EV_READ | EV_PERSIST, on_readable, d);
    event_add(d->ev, NULL);
    return d;
}

static void query_unlink(struct dns_query *q)
{
    if (q->prev)
        q->prev->next = q->next;
    else
        q->d->queries = q->next;
    if (q->next)
        q->next->prev = q->prev;
}

void dns_free(struct dns **dp)
{
    struct dns *d = *dp;
    if (!d)
        return;
    while (d->queries)
        dns_cancel(d, d->queries);
    event_free(d->ev);
    ub_ctx_delete(d->ctx);
    x_free(dp);
}

static struct dns_query *query_new(struct dns *d, int kind, void *arg)
{
    struct dns_query *q = xcalloc(1, sizeof(*q));
    q->d = d;
    q->kind = kind;
    q->arg = arg;
    q->next = d->queries;
    if (d->queries)
        d->queries->prev = q;
    d->queries = q;
    return q;
}

static enum dns_status status_of(int err, const struct ub_result *r)
{
    if (err || !r)
        return DNS_TEMPFAIL;
    if (r->rcode == 3 || r->nxdomain)
        return DNS_NXDOMAIN;
    if (r->rcode != 0)
        return DNS_TEMPFAIL;
    return r->havedata ? DNS_OK : DNS_NODATA;
}

long dns_name_decode(const unsigned char *data, size_t len, size_t off, char *out, size_t outsize)
{
    size_t o = 0, i = off;
    for (;;) {
        if (i >= len)
            return -1;
        unsigned l = data[i++];
        if (l == 0)
            break;
        if (l > 63 || i + l > len)
            return -1;
        if (o + l + 2 > outsize)
            return -1;
        if (o)
            out[o++] = '.';
        for (unsigned k = 0; k < l; k++) {
            unsigned char c = data[i + k];
            /* a name with a dot or control character inside a label is
             * not a host name we can use */
            if (c == '.' || c < 0x21 || c > 0x7e)
                return -1;
            out[o++] = (char)c;
        }
        i += l;
    }
    if (o == 0) {
        if (outsize < 2)
            return -1;
        out[o++] = '.';
    }
    out[o] = '\0';
    str_lower(out);
    return (long)(i - off);
}

static int mx_cmp(const void *a, const void *b)
{
    const struct dns_mx *x = a, *y = b;
    return x->pref < y->pref ? -1 : x->pref > y->pref ? 1 : 0;
}

static void on_mx(void *arg, int err, struct ub_result *r)
{
    struct dns_query *q = arg;
    q->async_ids[0] = 0;
    enum dns_status st = status_of(err, r);
    struct dns_mx *mx = NULL;
    size_t n = 0;
    if (st == DNS_OK) {
        size_t count = 0;
        while (r->data[count])
            count++;
        mx = xcalloc(count + 1, sizeof(*mx));
        for (size_t i = 0; i < count; i++) {
            const unsigned char *p = (const unsigned char *)r->data[i];
            if (r->len[i] < 3)
                continue;
            mx[n].pref = ((unsigned)p[0] << 8) | p[1];
            if (dns_name_decode(p, (size_t)r->len[i], 2, mx[n].host, sizeof(mx[n].host)) < 0)
                continue;
            n++;
        }
        /* RFC 7505: a single MX of "." means no mail at all. */
        if (n == 1 && strcmp(mx[0].host, ".") == 0) {
            st = DNS_NULL_MX;
            n = 0;
        } else {
            /* shuffle, then a stable sort by preference: random order
             * among equal preferences (RFC 5321 5.1) */
            for (size_t i = n; i > 1; i--) {
                unsigned rnd;
                if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
                    rnd = (unsigned)i;
                size_t j = rnd % i;
                struct dns_mx t = mx[i - 1];
                mx[i - 1] = mx[j];
                mx[j] = t;
            }
            /* insertion sort: stable */
            for (size_t i = 1; i < n; i++) {
                struct dns_mx t = mx[i];
                size_t j = i;
                while (j > 0 && mx_cmp(&mx[j - 1], &t) > 0) {
                    mx[j] = mx[j - 1];
                    j--;
                }
                mx[j] = t;
            }
            /* drop "." entries among others */
            size_t k = 0;
            for (size_t i = 0; i < n; i++)
                if (strcmp(mx[i].host, ".") != 0)
                    mx[k++] = mx[i];
            n = k;
            if (n == 0)
                st = DNS_NODATA;
        }
    }
    if (r)
        ub_resolve_free(r);
    query_unlink(q);
    q->cb.mx(q->arg, st, mx, n);
    free(mx);
    free(q);
}

void dns_lookup_mx(struct dns *d, const char *domain, dns_mx_cb *cb, void *arg)
{
    struct dns_query *q = query_new(d, TYPE_MX, arg);
    q->cb.mx = cb;
    q->outstanding = 1;
    if (ub_resolve_async(d->ctx, domain, TYPE_MX, CLASS_IN, q, on_mx, &q->async_ids[0]) != 0)
        on_mx(q, 1, NULL);
}

static void addr_done(struct dns_query *q)
{
    if (--q->outstanding > 0)
        return;
    enum dns_status st;
    if (q->naddrs > 0)
        st = DNS_OK;
    else if (q->st6 == DNS_TEMPFAIL || q->st4 == DNS_TEMPFAIL)
        st = DNS_TEMPFAIL;
    else if (q->st6 == DNS_NXDOMAIN && q->st4 == DNS_NXDOMAIN)
        st = DNS_NXDOMAIN;
    else
        st = DNS_NODATA;
    query_unlink(q);
    q->cb.addr(q->arg, st, q->addrs, q->naddrs);
    free(q->addrs);
    free(q);
}

static void add_addrs(struct dns_query *q, struct ub_result *r, int family)
{
    for (size_t i = 0; r->data[i]; i++) {
        struct dns_addr a;
        memset(&a, 0, sizeof(a));
        if (family == AF_INET6 && r->len[i] == 16) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a.ss;
            s6->sin6_family = AF_INET6;
            memcpy(&s6->sin6_addr, r->data[i], 16);
            a.len = sizeof(*s6);
        } else if (family == AF_INET && r->len[i] == 4) {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&a.ss;
            s4->sin_family = AF_INET;
            memcpy(&s4->sin_addr, r->data[i], 4);
            a.len = sizeof(*s4);
        } else {
            continue;
        }
        q->addrs = xrealloc(q->addrs, (q->naddrs + 1) * sizeof(*q->addrs));
        q->addrs[q->naddrs++] = a;
    }
}

static void on_aaaa(void *arg, int err, struct ub_result *r)
{
    struct dns_query *q = arg;
    q->async_ids[0] = 0;
    q->st6 = status_of(err, r);
    if (q->st6 == DNS_OK) {
        /* AAAA first: keep them before the A records whatever the order
         * the answers arrive in. */
        struct dns_addr *v4 = q->addrs;
        size_t n4 = q->naddrs;
        q->addrs = NULL;
        q->naddrs = 0;
        add_addrs(q, r, AF_INET6);
        for (size_t i = 0; i < n4; i++) {
            q->addrs = xrealloc(q->addrs, (q->naddrs + 1) * sizeof(*q->addrs));
            q->addrs[q->naddrs++] = v4[i];
        }
        free(v4);
    }
    if (r)
        ub_resolve_free(r);
    addr_done(q);
}

static void on_a(void *arg, int err, struct ub_result *r)
{
    struct dns_query *q = arg;
    q->async_ids[1] = 0;
    q->st4 = status_of(err, r);
    if (q->st4 == DNS_OK)
        add_addrs(q, r, AF_INET);
    if (r)
        ub_resolve_free(r);
    addr_done(q);
}

void dns_lookup_addr(struct dns *d, const char *host, dns_addr_cb *cb, void *arg)
{
    struct dns_query *q = query_new(d, TYPE_A, arg);
    q->cb.addr = cb;
    q->outstanding = 2;
    if (ub_resolve_async(d->ctx, host, TYPE_AAAA, CLASS_IN, q, on_aaaa, &q->async_ids[0]) != 0)
        on_aaaa(q, 1, NULL);
    if (ub_resolve_async(d->ctx, host, TYPE_A, CLASS_IN, q, on_a, &q->async_ids[1]) != 0)
        on_a(q, 1, NULL);
}

/* One record's data as text (see dns_lookup_records); false if it is
 * malformed. */
static bool record_text(int type, const unsigned char *p, size_t len, struct buf *out)
{
    char name[256];
    char addr[INET6_ADDRSTRLEN];
    switch (type) {
    case TYPE_A:
    case TYPE_AAAA:
        if (len != (type == TYPE_A ? 4u : 16u))
            return false;
        inet_ntop(type == TYPE_A ? AF_INET : AF_INET6, p, addr, sizeof(addr));
        buf_append_str(out, addr);
        return true;
    case TYPE_MX:
        if (len < 3 || dns_name_decode(p, len, 2, name, sizeof(name)) < 0)
            return false;
        buf_printf(out, "%u %s", ((unsigned)p[0] << 8) | p[1], name);
        return true;
    case TYPE_PTR:
    case TYPE_CNAME:
        if (dns_name_decode(p, len, 0, name, sizeof(name)) < 0)
            return false;
        buf_append_str(out, name);
        return true;
    case TYPE_TXT:
        /* character-strings: length octet + text, concatenated */
        for (size_t k = 0; k < len;) {
            size_t l = p[k++];
            if (k + l > len)
                return false;
            /* a NUL cannot live in a C string: it becomes 0x01, which no
             * record syntax (SPF, DKIM, DMARC) allows */
            for (size_t c = 0; c < l; c++)
                buf_append_char(out, p[k + c] ? (char)p[k + c] : '\x01');
            k += l;
        }
        return true;
    default:
        return false;
    }
}

static void on_records(void *arg, int err, struct ub_result *r)
{
    struct dns_query *q = arg;
    q->async_ids[0] = 0;
    enum dns_status st = status_of(err, r);
    char **rr = NULL;
    size_t n = 0;
    if (st == DNS_OK) {
        for (size_t i = 0; r->data[i] && n < DNS_RECORDS_MAX; i++) {
            struct buf b;
            buf_init(&b, 65536);
            if (!record_text(q->kind, (const unsigned char *)r->data[i], (size_t)r->len[i], &b)) {
                buf_free(&b);
                continue;
            }
            rr = xrealloc(rr, (n + 1) * sizeof(char *));
            rr[n++] = buf_steal(&b);
        }
        if (n == 0)
            st = DNS_NODATA; /* nothing usable */
    }
    /* libunbound gives 0 for a negative answer without an SOA to take a
     * TTL from */
    int ttl = !r             ? DNS_TTL_UNKNOWN
              : st == DNS_OK ? (r->ttl > 0 ? r->ttl : 0)
                             : (r->ttl > 0 ? r->ttl : DNS_TTL_UNKNOWN);
    if (r)
        ub_resolve_free(r);
    query_unlink(q);
    if (q->with_ttl)
        q->cb.records_ttl(q->arg, st, rr, n, ttl);
    else
        q->cb.records(q->arg, st, rr, n);
    for (size_t i = 0; i < n; i++)
        free(rr[i]);
    free(rr);
    free(q);
}

struct dns_query *dns_lookup_records(struct dns *d, const char *name, int type, dns_records_cb *cb,
                                     void *arg)
{
    struct dns_query *q = query_new(d, type, arg);
    q->cb.records = cb;
    q->outstanding = 1;
    if (ub_resolve_async(d->ctx, name, type, CLASS_IN, q, on_records, &q->async_ids[0]) != 0) {
        on_records(q, 1, NULL);
        return NULL;
    }
    return q;
}

struct dns_query *dns_lookup_records_ttl(struct dns *d, const char *name, int type,
                                         dns_records_ttl_cb *cb, void *arg)
{
    struct dns_query *q = query_new(d, type, arg);
    q->cb.records_ttl = cb;
    q->with_ttl = true;
    q->outstanding = 1;
    if (ub_resolve_async(d->ctx, name, type, CLASS_IN, q, on_records, &q->async_ids[0]) != 0) {
        on_records(q, 1, NULL);
        return NULL;
    }
    return q;
}

void dns_cancel(struct dns *d, struct dns_query *q)
{
    for (int i = 0; i < 2; i++)
        if (q->async_ids[i])
            ub_cancel(d->ctx, q->async_ids[i]);
    query_unlink(q);
    free(q->addrs);
    free(q);
}

void dns_lookup_txt(struct dns *d, const char *name, dns_txt_cb *cb, void *arg)
{
    (void)dns_lookup_records(d, name, TYPE_TXT, cb, arg);
}
