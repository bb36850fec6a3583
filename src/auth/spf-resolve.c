/* spf-resolve: SPF over the server's asynchronous DNS. */
#include "spf-resolve.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/dns.h"
#include "lib/xalloc.h"

struct spf_resolve {
    struct spf_check *check;
    struct dns *dns;
    spf_resolve_cb *cb;
    void *arg;
    struct event *timer;     /* the time limit */
    struct event *turn;      /* the next step, on a later turn of the loop */
    struct dns_query *query; /* the lookup in flight, or NULL */
    bool done;
    char qname[256];
    enum spf_rr_type qtype;
    struct spf_outcome out;
};

static void on_records(void *arg, enum dns_status st, char *const *rr, size_t n);

static void destroy(struct spf_resolve *r)
{
    spf_check_free(&r->check);
    event_free(r->timer);
    event_free(r->turn);
    free(r);
}

static void finish(struct spf_resolve *r)
{
    r->done = true;
    event_del(r->timer);
    r->cb(r->arg, &r->out); /* may free r */
}

/* Run the check with the answers it has; finish, or ask for the next. */
static void step(struct spf_resolve *r)
{
    const char *name;
    enum spf_rr_type type;
    if (spf_check_run(r->check, &r->out, &name, &type)) {
        finish(r);
        return;
    }
    snprintf(r->qname, sizeof(r->qname), "%s", name);
    r->qtype = type;
    r->query = dns_lookup_records(r->dns, r->qname, (int)type, on_records, r);
}

static void on_records(void *arg, enum dns_status st, char *const *rr, size_t n)
{
    struct spf_resolve *r = arg;
    r->query = NULL;
    if (r->done)
        return; /* the time limit ended it */
    enum spf_dns_status s = st == DNS_OK         ? SPF_DNS_OK
                            : st == DNS_NODATA   ? SPF_DNS_NODATA
                            : st == DNS_NXDOMAIN ? SPF_DNS_NXDOMAIN
                                                 : SPF_DNS_TEMPFAIL;
    const char **v = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        v[i] = rr[i];
        if (r->qtype == SPF_RR_MX) { /* "PREF HOST": the host */
            const char *sp = strchr(rr[i], ' ');
            v[i] = sp ? sp + 1 : rr[i];
        }
    }
    spf_check_answer(r->check, r->qname, r->qtype, s, v, n);
    free(v);
    /* not from here: a lookup that fails at once answers inside
     * dns_lookup_records, and the owner's callback must not run there */
    event_active(r->turn, EV_TIMEOUT, 0);
}

static void on_turn(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct spf_resolve *r = arg;
    if (!r->done)
        step(r);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct spf_resolve *r = arg;
    if (r->done)
        return;
    event_del(r->turn);
    r->out.result = SPF_TEMPERROR;
    r->out.domain = "";
    r->out.mechanism = "";
    r->out.reason = "the DNS lookups took too long";
    r->out.explanation = "";
    finish(r);
}

struct spf_resolve *spf_resolve_start(struct event_base *base, struct dns *dns,
                                      const struct spf_request *req, bool helo,
                                      unsigned timeout_secs, spf_resolve_cb *cb, void *arg)
{
    struct spf_check *check = helo ? spf_check_new_helo(req) : spf_check_new(req);
    if (!check)
        return NULL;
    struct spf_resolve *r = xcalloc(1, sizeof(*r));
    r->check = check;
    r->dns = dns;
    r->cb = cb;
    r->arg = arg;
    r->timer = evtimer_new(base, on_timeout, r);
    r->turn = event_new(base, -1, 0, on_turn, r);
    struct timeval tv = {(time_t)timeout_secs, 0};
    evtimer_add(r->timer, &tv);
    event_active(r->turn, EV_TIMEOUT, 0);
    return r;
}

const struct spf_outcome *spf_resolve_outcome(const struct spf_resolve *r)
{
    return r && r->done ? &r->out : NULL;
}

void spf_resolve_free(struct spf_resolve **rp)
{
    struct spf_resolve *r = *rp;
    if (!r)
        return;
    *rp = NULL;
    if (r->query)
        dns_cancel(r->dns, r->query);
    destroy(r);
}
