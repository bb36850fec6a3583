/* msgauth: DKIM and DMARC for one arriving message over asynchronous DNS. */
#include "msgauth.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/dns.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define FROM_FIELDS_MAX 8

struct msgauth;

/* One DNS lookup in flight. */
struct lookup {
    struct msgauth *m;
    struct dns_query *q;
    char name[256];
    bool dmarc; /* a DMARC record, else a DKIM key */
    struct lookup *next;
};

struct msgauth {
    struct msgauth_params p;
    struct dkim_verify *dkim;
    struct dmarc_eval *dmarc;
    char *from[FROM_FIELDS_MAX];
    size_t from_len[FROM_FIELDS_MAX];
    size_t nfrom;
    enum dmarc_from_status from_status;
    bool started; /* the header was complete: lookups started */
    bool ended;
    bool done;
    struct lookup *lookups;
    struct event *timer, *turn;
    void (*cb)(void *arg);
    void *cb_arg;
};

static void maybe_done(struct msgauth *m);

static void lookup_unlink(struct msgauth *m, struct lookup *l)
{
    for (struct lookup **pp = &m->lookups; *pp; pp = &(*pp)->next)
        if (*pp == l) {
            *pp = l->next;
            break;
        }
}

static void start_lookup(struct msgauth *m, const char *name, bool dmarc);

static void on_txt(void *arg, enum dns_status st, char *const *rr, size_t n)
{
    struct lookup *l = arg;
    struct msgauth *m = l->m;
    lookup_unlink(m, l);
    if (l->dmarc) {
        size_t *lens = xcalloc(n + 1, sizeof(size_t));
        for (size_t i = 0; i < n; i++)
            lens[i] = strlen(rr[i]);
        dmarc_eval_answer(m->dmarc,
                          st == DNS_OK                             ? DMARC_DNS_FOUND
                          : st == DNS_NXDOMAIN || st == DNS_NODATA ? DMARC_DNS_NONE
                                                                   : DMARC_DNS_TEMPERROR,
                          (const char *const *)rr, lens, n);
        free(lens);
        const char *next = dmarc_eval_query(m->dmarc);
        if (next)
            start_lookup(m, next, true);
    } else {
        /* a key record is one TXT record (RFC 6376 3.6.2.2) */
        enum dkim_key_status ks = st == DNS_OK && n >= 1 ? DKIM_KEY_FOUND
                                  : st == DNS_TEMPFAIL   ? DKIM_KEY_TEMPERROR
                                                         : DKIM_KEY_NONE;
        dkim_verify_set_key(m->dkim, l->name, ks, ks == DKIM_KEY_FOUND ? rr[0] : NULL,
                            ks == DKIM_KEY_FOUND ? strlen(rr[0]) : 0);
    }
    free(l);
    maybe_done(m);
}

static void start_lookup(struct msgauth *m, const char *name, bool dmarc)
{
    struct lookup *l = xcalloc(1, sizeof(*l));
    l->m = m;
    l->dmarc = dmarc;
    str_copy(l->name, sizeof(l->name), name);
    l->next = m->lookups;
    m->lookups = l;
    /* a lookup that fails at once has answered (and freed l) already */
    struct dns_query *q = dns_lookup_records(m->p.dns, l->name, DNS_TYPE_TXT, on_txt, l);
    if (q)
        l->q = q;
}

/* The header is in: ask for the keys and the DMARC policy. */
static void start(struct msgauth *m)
{
    m->started = true;
    const char *const *names;
    size_t n = dkim_verify_key_names(m->dkim, &names);
    for (size_t i = 0; i < n; i++)
        start_lookup(m, names[i], false);
    m->from_status = dmarc_eval_from(m->dmarc, (const char *const *)m->from, m->from_len, m->nfrom);
    const char *q = m->from_status == DMARC_FROM_OK ? dmarc_eval_query(m->dmarc) : NULL;
    if (q)
        start_lookup(m, q, true);
}

static void on_turn(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct msgauth *m = arg;
    m->cb(m->cb_arg); /* may free m */
}

static void maybe_done(struct msgauth *m)
{
    if (!m->ended || m->done || m->lookups)
        return;
    m->done = true;
    event_del(m->timer);
    event_active(m->turn, EV_TIMEOUT, 0);
}

static void cancel_all(struct msgauth *m)
{
    while (m->lookups) {
        struct lookup *l = m->lookups;
        m->lookups = l->next;
        if (l->q)
            dns_cancel(m->p.dns, l->q);
        if (l->dmarc)
            dmarc_eval_answer(m->dmarc, DMARC_DNS_TEMPERROR, NULL, NULL, 0);
        free(l);
    }
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct msgauth *m = arg;
    /* what has not answered counts as a temporary failure */
    cancel_all(m);
    maybe_done(m);
}

struct msgauth *msgauth_new(const struct msgauth_params *p)
{
    struct msgauth *m = xcalloc(1, sizeof(*m));
    m->p = *p;
    struct dkim_verify_params vp = {
        .now = time(NULL), .allow_body_length = false, .key_cache = p->dkim_keys};
    m->dkim = dkim_verify_new(&vp);
    m->dmarc = dmarc_eval_new(p->od);
    m->from_status = DMARC_FROM_MISSING;
    m->timer = evtimer_new(p->base, on_timeout, m);
    m->turn = event_new(p->base, -1, 0, on_turn, m);
    return m;
}

void msgauth_free(struct msgauth **mp)
{
    struct msgauth *m = *mp;
    if (!m)
        return;
    cancel_all(m);
    dkim_verify_free(&m->dkim);
    dmarc_eval_free(&m->dmarc);
    for (size_t i = 0; i < m->nfrom; i++)
        free(m->from[i]);
    event_free(m->timer);
    event_free(m->turn);
    free(m);
    *mp = NULL;
}

void msgauth_from_field(struct msgauth *m, const char *field, size_t len)
{
    const char *colon = memchr(field, ':', len);
    if (!colon || m->nfrom == FROM_FIELDS_MAX)
        return;
    size_t vlen = len - (size_t)(colon + 1 - field);
    m->from[m->nfrom] = xstrndup(colon + 1, vlen);
    m->from_len[m->nfrom++] = vlen;
}

void msgauth_feed(struct msgauth *m, const char *data, size_t len)
{
    dkim_verify_feed(m->dkim, data, len);
    if (!m->started && dkim_verify_header_complete(m->dkim))
        start(m);
}

void msgauth_end(struct msgauth *m, void (*cb)(void *arg), void *arg)
{
    m->cb = cb;
    m->cb_arg = arg;
    m->ended = true;
    dkim_verify_end(m->dkim);
    if (!m->started)
        start(m); /* a message that is all header */
    struct timeval tv = {(time_t)m->p.timeout_secs, 0};
    evtimer_add(m->timer, &tv);
    maybe_done(m);
}

size_t msgauth_dkim(struct msgauth *m, const struct dkim_result **r)
{
    return dkim_verify_results(m->dkim, r);
}

enum dmarc_from_status msgauth_from(const struct msgauth *m, const char **reason)
{
    *reason = dmarc_eval_reason(m->dmarc);
    return m->from_status;
}

static enum dmarc_auth_result from_spf(enum spf_result r)
{
    switch (r) {
    case SPF_PASS:
        return DMARC_AUTH_PASS;
    case SPF_FAIL:
        return DMARC_AUTH_FAIL;
    case SPF_SOFTFAIL:
        return DMARC_AUTH_SOFTFAIL;
    case SPF_NEUTRAL:
        return DMARC_AUTH_NEUTRAL;
    case SPF_TEMPERROR:
        return DMARC_AUTH_TEMPERROR;
    case SPF_PERMERROR:
        return DMARC_AUTH_PERMERROR;
    default:
        return DMARC_AUTH_NONE;
    }
}

static enum dmarc_auth_result from_dkim(enum dkim_status s)
{
    switch (s) {
    case DKIM_PASS:
        return DMARC_AUTH_PASS;
    case DKIM_TEMPERROR:
        return DMARC_AUTH_TEMPERROR;
    case DKIM_PERMERROR:
        return DMARC_AUTH_PERMERROR;
    case DKIM_NONE:
        return DMARC_AUTH_NONE;
    default:
        return DMARC_AUTH_FAIL;
    }
}

void msgauth_dmarc(struct msgauth *m, const struct spf_outcome *spf, const char *mailfrom,
                   const char *helo, struct dmarc_verdict *out)
{
    const struct dkim_result *r;
    size_t n = dkim_verify_results(m->dkim, &r);
    struct dmarc_dkim_input in[DKIM_VERIFY_MAX_SIGS];
    for (size_t i = 0; i < n && i < DKIM_VERIFY_MAX_SIGS; i++) {
        in[i].domain = r[i].domain;
        in[i].result = from_dkim(r[i].status);
    }
    const char *at = mailfrom ? strrchr(mailfrom, '@') : NULL;
    unsigned rnd = 0;
    if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        rnd = (unsigned)time(NULL);
    struct dmarc_auth_input ai = {
        .spf = spf ? from_spf(spf->result) : DMARC_AUTH_NONE,
        .spf_domain = at ? at + 1 : helo,
        .dkim = in,
        .dkim_count = n < DKIM_VERIFY_MAX_SIGS ? n : DKIM_VERIFY_MAX_SIGS,
        .source_ip = m->p.ip,
        .random100 = rnd % 100,
    };
    dmarc_eval_result(m->dmarc, &ai, out);
}
