/* auth-results: the Authentication-Results header field (RFC 8601) that
 * tells the recipient's software what this server verified, and the
 * recognition of such fields that claim to come from us (a forgery once
 * the message arrives from outside: they are removed, RFC 8601 5). */
#ifndef POSTINO_AUTH_RESULTS_H
#define POSTINO_AUTH_RESULTS_H

#include <stdbool.h>
#include <stddef.h>

#include "dkim-verify.h"
#include "dmarc.h"
#include "spf.h"

struct buf;

/* What was checked; NULL members were not. */
struct auth_results {
    const struct spf_outcome *spf;
    const char *mailfrom; /* the MAIL FROM address ("" for <>) */
    const char *helo;
    bool dkim_checked; /* then ndkim results (0: dkim=none) */
    const struct dkim_result *dkim;
    size_t ndkim;
    const struct dmarc_verdict *dmarc;
};

/* Append "Authentication-Results: AUTHSERV-ID; ..." with CRLF; "none" when
 * nothing was checked. */
void auth_results_header(struct buf *out, const char *authserv_id, const struct auth_results *r);

/* True if field is an Authentication-Results field whose authserv-id is
 * authserv_id (case-insensitive). */
bool auth_results_claims(const char *field, size_t len, const char *authserv_id);

#endif
