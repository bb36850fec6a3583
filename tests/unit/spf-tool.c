/* spf-tool: runs postino's SPF evaluation over a zone given on stdin, for
 * the RFC 7208 conformance suite (tests/integration/test_spf_suite.py).
 *
 * Input lines, fields separated by tabs:
 *   ZONE  name  type  value      type A, AAAA, MX ("pref host"), PTR,
 *                                TXT (value in hex), CNAME; value
 *                                TIMEOUT: the query times out
 *   TIMEOUT  name                queries for types name has no data of
 *                                time out
 *   CASE  id  helo  ip  mailfrom evaluate (mailfrom may be empty)
 * Output, one line per case: id, result, explanation ("DEFAULT" when the
 * domain gave none), the number of DNS queries, tab-separated.
 *
 * Lookups follow CNAMEs; a name not in the zone does not exist. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/spf.h"
#include "lib/str.h"
#include "lib/xalloc.h"

struct rr {
    char *name, *type, *value;
};

static struct rr *zone;
static size_t nzone, capzone;
static char **timeouts;
static size_t ntimeouts;

static int type_of(const char *t)
{
    if (strcmp(t, "A") == 0)
        return SPF_RR_A;
    if (strcmp(t, "AAAA") == 0)
        return SPF_RR_AAAA;
    if (strcmp(t, "MX") == 0)
        return SPF_RR_MX;
    if (strcmp(t, "PTR") == 0)
        return SPF_RR_PTR;
    if (strcmp(t, "TXT") == 0)
        return SPF_RR_TXT;
    return -1;
}

static bool same_name(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la && a[la - 1] == '.')
        la--;
    if (lb && b[lb - 1] == '.')
        lb--;
    return la == lb && str_eqn_ci(a, b, la);
}

static void resolve(struct spf_check *c, const char *qname, enum spf_rr_type type)
{
    const char *name = qname;
    for (int hops = 0; hops < 8; hops++) {
        const char *rr[64];
        size_t n = 0;
        bool exists = false;
        const char *cname = NULL;
        for (size_t i = 0; i < nzone; i++) {
            if (!same_name(zone[i].name, name))
                continue;
            exists = true;
            if (strcmp(zone[i].type, "CNAME") == 0)
                cname = zone[i].value;
            if (type_of(zone[i].type) != (int)type)
                continue;
            if (strcmp(zone[i].value, "TIMEOUT") == 0) {
                spf_check_answer(c, qname, type, SPF_DNS_TEMPFAIL, NULL, 0);
                return;
            }
            const char *v = zone[i].value;
            if (type == SPF_RR_MX) { /* "pref host": the host */
                const char *sp = strchr(v, ' ');
                v = sp ? sp + 1 : v;
            }
            if (n < 64)
                rr[n++] = v;
        }
        /* a name that times out does so for the types it has no data of */
        for (size_t i = 0; i < ntimeouts && !n; i++)
            if (same_name(timeouts[i], name)) {
                spf_check_answer(c, qname, type, SPF_DNS_TEMPFAIL, NULL, 0);
                return;
            }
        if (n || !cname) {
            spf_check_answer(c, qname, type,
                             n        ? SPF_DNS_OK
                             : exists ? SPF_DNS_NODATA
                                      : SPF_DNS_NXDOMAIN,
                             rr, n);
            return;
        }
        name = cname;
    }
    spf_check_answer(c, qname, type, SPF_DNS_TEMPFAIL, NULL, 0);
}

/* TXT values come hex-encoded (they may hold any octet). A NUL cannot
 * live in a C string: it becomes 0x01, which no record syntax allows, as
 * the server's DNS layer does. */
static char *unhex(const char *h)
{
    if (strcmp(h, "TIMEOUT") == 0)
        return xstrdup(h);
    size_t n = strlen(h) / 2;
    char *out = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(h + 2 * i, "%2x", &v) != 1)
            v = 1;
        out[i] = v ? (char)v : '\x01';
    }
    out[n] = '\0';
    return out;
}

/* Split line at tabs into at most max fields. */
static size_t fields(char *line, char **f, size_t max)
{
    size_t n = 0;
    f[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == '\t') {
            *p = '\0';
            f[n++] = p + 1;
        }
    return n;
}

int main(void)
{
    char line[70000];
    while (fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\n")] = '\0';
        char *f[5];
        size_t n = fields(line, f, 5);
        if (strcmp(f[0], "ZONE") == 0 && n == 4) {
            if (nzone == capzone) {
                capzone = capzone ? capzone * 2 : 64;
                zone = xrealloc(zone, capzone * sizeof(*zone));
            }
            zone[nzone].name = xstrdup(f[1]);
            zone[nzone].type = xstrdup(f[2]);
            zone[nzone].value = strcmp(f[2], "TXT") == 0 ? unhex(f[3]) : xstrdup(f[3]);
            nzone++;
        } else if (strcmp(f[0], "TIMEOUT") == 0 && n == 2) {
            timeouts = xrealloc(timeouts, (ntimeouts + 1) * sizeof(*timeouts));
            timeouts[ntimeouts++] = xstrdup(f[1]);
        } else if (strcmp(f[0], "CASE") == 0 && n == 5) {
            struct spf_request req = {
                .ip = f[3], .sender = f[4], .helo = f[2], .receiver = "receiver.test", .now = 0};
            struct spf_check *c = spf_check_new(&req);
            if (!c) {
                printf("%s\tbad-ip\t\t0\n", f[1]);
                continue;
            }
            struct spf_outcome out;
            const char *qname;
            enum spf_rr_type qtype;
            while (!spf_check_run(c, &out, &qname, &qtype))
                resolve(c, qname, qtype);
            printf("%s\t%s\t%s\t%zu\t%s\n", f[1], spf_result_name(out.result),
                   out.explanation[0] ? out.explanation : "DEFAULT", spf_check_queries(c),
                   out.reason);
            spf_check_free(&c);
        } else {
            fprintf(stderr, "spf-tool: bad input line: %s\n", f[0]);
            return 2;
        }
        fflush(stdout);
    }
    return 0;
}
