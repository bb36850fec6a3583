/* ip-count: connections per client address (see ip-count.h). */
#include "ip-count.h"

#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "lib/xalloc.h"

#define IP_BUCKETS 1021

struct ip_count {
    char ip[64];
    unsigned n;
    struct ip_count *next;
};

struct ip_counts {
    struct ip_count *buckets[IP_BUCKETS];
};

struct ip_counts *ip_counts_new(void)
{
    return xcalloc(1, sizeof(struct ip_counts));
}

void ip_counts_free(struct ip_counts **tp)
{
    struct ip_counts *t = *tp;
    if (!t)
        return;
    for (size_t i = 0; i < IP_BUCKETS; i++)
        while (t->buckets[i]) {
            struct ip_count *e = t->buckets[i];
            t->buckets[i] = e->next;
            free(e);
        }
    free(t);
    *tp = NULL;
}

static unsigned ip_hash(const char *ip)
{
    unsigned h = 5381;
    for (; *ip; ip++)
        h = h * 33 + (unsigned char)*ip;
    return h % IP_BUCKETS;
}

unsigned ip_counts_adjust(struct ip_counts *t, const char *ip, int delta)
{
    struct ip_count **pp = &t->buckets[ip_hash(ip)];
    for (; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->ip, ip) != 0)
            continue;
        struct ip_count *e = *pp;
        e->n = (unsigned)((int)e->n + delta);
        unsigned n = e->n;
        if (n == 0) {
            *pp = e->next;
            free(e);
        }
        return n;
    }
    if (delta <= 0)
        return 0;
    struct ip_count *e = xcalloc(1, sizeof(*e));
    str_copy(e->ip, sizeof(e->ip), ip);
    e->n = (unsigned)delta;
    *pp = e;
    return e->n;
}
