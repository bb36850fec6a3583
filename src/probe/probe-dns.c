#include "probe/probe-dns.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xalloc.h"

struct wait {
    bool done;
    struct probe_lookup *out;
};

static void records_done(void *arg, enum dns_status st, char *const *rr, size_t n)
{
    struct wait *w = arg;
    w->done = true;
    w->out->st = st;
    w->out->rr = n ? xcalloc(n, sizeof(char *)) : NULL;
    for (size_t i = 0; i < n; i++)
        w->out->rr[i] = xstrdup(rr[i]);
    w->out->n = n;
}

void probe_lookup(struct event_base *base, struct dns *dns, const char *name, int type,
                  struct probe_lookup *out)
{
    memset(out, 0, sizeof(*out));
    struct wait w = {.out = out};
    dns_lookup_records(dns, name, type, records_done, &w);
    while (!w.done)
        event_base_loop(base, EVLOOP_ONCE);
}

void probe_lookup_free(struct probe_lookup *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->rr[i]);
    free(l->rr);
    memset(l, 0, sizeof(*l));
}

static int text_order(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

size_t probe_addresses(struct event_base *base, struct dns *dns, const char *host, char (*out)[64],
                       size_t max)
{
    static const int types[] = {DNS_TYPE_AAAA, DNS_TYPE_A};
    size_t n = 0;
    for (size_t t = 0; t < 2; t++) {
        struct probe_lookup l;
        probe_lookup(base, dns, host, types[t], &l);
        if (l.n > 1) /* the same order every time */
            qsort(l.rr, l.n, sizeof(l.rr[0]), text_order);
        for (size_t i = 0; i < l.n && n < max; i++)
            str_copy(out[n++], 64, l.rr[i]);
        probe_lookup_free(&l);
    }
    return n;
}

int probe_reverse_name(const char *ip, char *out, size_t size)
{
    unsigned char a[16];
    if (inet_pton(AF_INET, ip, a) == 1) {
        int n = snprintf(out, size, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
        return n > 0 && (size_t)n < size ? 0 : -1;
    }
    if (inet_pton(AF_INET6, ip, a) != 1)
        return -1;
    struct buf b;
    buf_init(&b, size - 1);
    static const char hex[] = "0123456789abcdef";
    int rc = 0;
    for (int i = 15; i >= 0; i--)
        rc |= buf_printf(&b, "%c.%c.", hex[a[i] & 15], hex[a[i] >> 4]);
    rc |= buf_append_str(&b, "ip6.arpa");
    str_copy(out, size, buf_cstr(&b));
    buf_free(&b);
    return rc ? -1 : 0;
}
