/* probe-domain: the checks of what a domain publishes about its mail, for
 * `postino probe` and `postino selfcheck`, each added to a report:
 *
 *   spf      one valid v=spf1 record, its DNS-querying terms counted
 *            through its includes and redirect against the limit of 10
 *            (RFC 7208 4.6.4);
 *   dmarc    one valid record at _dmarc (RFC 7489), p=none a warning;
 *   mta-sts, tls-rpt   the TXT records of RFC 8461 and RFC 8460 (their
 *            absence is info). */
#ifndef POSTINO_PROBE_DOMAIN_H
#define POSTINO_PROBE_DOMAIN_H

#include "probe/probe-report.h"

struct event_base;
struct dns;

/* Where the checks look and report. */
struct probe_ctx {
    struct event_base *base;
    struct dns *dns;
    struct probe_report *rep;
};

void probe_check_spf(struct probe_ctx *p, const char *domain);
void probe_check_dmarc(struct probe_ctx *p, const char *domain);
void probe_check_sts(struct probe_ctx *p, const char *domain);

#endif
