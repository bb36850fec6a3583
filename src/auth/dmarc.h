/* dmarc: DMARC evaluation of one message (RFC 7489), without I/O.
 *
 * The caller owns the DNS and the clock; the evaluation is a small state
 * machine it drives, so an event-driven server never blocks:
 *
 *   ev = dmarc_eval_new(od);
 *   1. dmarc_eval_from(ev, from_fields, lens, n)   the RFC5322.From domain
 *      (anything but DMARC_FROM_OK: reject the message, say reason)
 *   2. while ((name = dmarc_eval_query(ev)))       "_dmarc.example.com"
 *          look up TXT name, then dmarc_eval_answer(ev, status, txts, lens, n)
 *      (at most two lookups: the From domain, then its Organizational
 *      Domain if that differs and the first found no DMARC record)
 *   3. dmarc_eval_result(ev, &auth, &verdict)     SPF + DKIM results in,
 *      result, disposition, reason and an aggregate-report row out
 *   dmarc_eval_free(&ev);
 */
#ifndef POSTINO_DMARC_H
#define POSTINO_DMARC_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/dmarc-orgdomain.h"
#include "auth/dmarc-record.h"

/* Longest From header field value accepted (after unfolding). */
#define DMARC_FROM_FIELD_MAX 8192
/* Size of the human reason in a verdict (longer text is cut). */
#define DMARC_REASON_SIZE 512
/* Size of a source IP address text (IPv6 with a zone fits). */
#define DMARC_IP_SIZE 64

enum dmarc_from_status {
    DMARC_FROM_OK = 0,
    DMARC_FROM_MISSING,            /* no From field (RFC 5322 requires one) */
    DMARC_FROM_MULTIPLE_FIELDS,    /* more than one From field */
    DMARC_FROM_MULTIPLE_ADDRESSES, /* one From field naming several authors */
    DMARC_FROM_SYNTAX,             /* not an address list, no address, or no usable domain */
    /* A UTF-8 (U-label) domain: not converted to A-labels yet, so DMARC
     * cannot be evaluated. Not a reason to reject: treat as result none. */
    DMARC_FROM_IDN,
};

/* The outcome of an SPF or DKIM check, as the caller's verifier saw it. */
enum dmarc_auth_result {
    DMARC_AUTH_NONE = 0,
    DMARC_AUTH_PASS,
    DMARC_AUTH_FAIL,
    DMARC_AUTH_SOFTFAIL,
    DMARC_AUTH_NEUTRAL,
    DMARC_AUTH_TEMPERROR,
    DMARC_AUTH_PERMERROR,
};

/* What the caller's TXT lookup of dmarc_eval_query() gave. */
enum dmarc_dns_status {
    DMARC_DNS_FOUND = 0, /* TXT records, possibly none that is DMARC */
    DMARC_DNS_NONE,      /* NXDOMAIN or no TXT records */
    DMARC_DNS_TEMPERROR, /* SERVFAIL, timeout: try again later */
};

/* How policy discovery (step 2) ended. */
enum dmarc_discovery {
    DMARC_DISCOVERY_PENDING = 0, /* step 1 failed or a query is still open */
    DMARC_DISCOVERY_RECORD,      /* one valid record (dmarc_eval_record()) */
    DMARC_DISCOVERY_NO_RECORD,   /* no DMARC record at the From nor the org domain */
    DMARC_DISCOVERY_MULTIPLE,    /* several DMARC records at one name: no policy (6.6.3) */
    DMARC_DISCOVERY_INVALID,     /* one record, invalid: permerror */
    DMARC_DISCOVERY_TEMPERROR,   /* a lookup failed temporarily */
};

/* The DMARC result (RFC 7489 11.2, Authentication-Results dmarc=). */
enum dmarc_result {
    DMARC_RESULT_NONE = 0, /* no (single) DMARC record: no policy */
    DMARC_RESULT_PASS,
    DMARC_RESULT_FAIL,
    DMARC_RESULT_TEMPERROR, /* DNS, or an aligned SPF/DKIM check, failed temporarily */
    DMARC_RESULT_PERMERROR, /* the record is invalid */
};

struct dmarc_dkim_input {
    const char *domain; /* the signature's d= */
    enum dmarc_auth_result result;
};

struct dmarc_auth_input {
    enum dmarc_auth_result spf;
    const char *spf_domain; /* MAIL FROM domain, or HELO for <>; NULL if unknown */
    const struct dmarc_dkim_input *dkim;
    size_t dkim_count;
    const char *source_ip; /* text of the client address, for the report row; may be NULL */
    unsigned random100;    /* uniform in 0..99: the message is sampled in if < pct */
};

/* The verdict, and the row of an aggregate report (RFC 7489 appendix C). */
struct dmarc_verdict {
    enum dmarc_result result;
    enum dmarc_policy disposition; /* what to do with the message */
    enum dmarc_policy policy;      /* what the record asks (p= or sp=), before pct= */
    bool sampled_out;              /* pct= left this message out: disposition lowered */
    bool spf_aligned;              /* SPF passed for a domain aligned with From */
    bool dkim_aligned;             /* some DKIM signature passed with an aligned d= */
    char dkim_aligned_domain[DMARC_DOMAIN_SIZE]; /* its d=, "" if none */
    char reason[DMARC_REASON_SIZE];              /* one line of English */
    /* report row */
    char source_ip[DMARC_IP_SIZE];
    char from_domain[DMARC_DOMAIN_SIZE];
    char policy_domain[DMARC_DOMAIN_SIZE]; /* where the record was found ("" if none) */
    bool record_found;                     /* the published policy below is meaningful */
    struct {
        enum dmarc_policy p, sp;
        unsigned pct;
        enum dmarc_align adkim, aspf;
    } published;
};

struct dmarc_eval;

/* A new evaluation using the public suffix list od (which must outlive
 * it). Never returns NULL. */
struct dmarc_eval *dmarc_eval_new(const struct dmarc_orgdomain *od);
void dmarc_eval_free(struct dmarc_eval **ev);

/* Step 1: the values of all From header fields of the message (count of
 * them, each fields[i][0..lens[i]), folding allowed). On DMARC_FROM_OK
 * the domain is dmarc_eval_from_domain(); otherwise dmarc_eval_reason()
 * says what is wrong and, but for DMARC_FROM_IDN, the server should
 * reject the message (RFC 7489 6.6.1). */
enum dmarc_from_status dmarc_eval_from(struct dmarc_eval *ev, const char *const *fields,
                                       const size_t *lens, size_t count);
/* Step 1 for a caller that has the domain already (tests, tools): 0, or
 * -1 if it is not a valid domain name (reason set). */
int dmarc_eval_set_from_domain(struct dmarc_eval *ev, const char *domain);
/* The normalized From domain ("" before step 1 succeeded). */
const char *dmarc_eval_from_domain(const struct dmarc_eval *ev);
/* The reason of the last failed step, or of the discovery outcome. */
const char *dmarc_eval_reason(const struct dmarc_eval *ev);

/* Step 2: the name whose TXT records the caller must look up next
 * ("_dmarc.<domain>"), or NULL when policy discovery is over. The string
 * belongs to ev and is valid until the next call on ev. */
const char *dmarc_eval_query(const struct dmarc_eval *ev);
/* The answer to that query: for DMARC_DNS_FOUND, count TXT records, each
 * txt[i][0..lens[i]) being the strings of one record concatenated. Does
 * nothing if no query is pending. */
void dmarc_eval_answer(struct dmarc_eval *ev, enum dmarc_dns_status status, const char *const *txt,
                       const size_t *lens, size_t count);

/* Step 3: judge the message with its SPF and DKIM results. Fills *out
 * completely; may be called again with other inputs. If step 1 failed or
 * discovery is unfinished, the result is none (reason says why). */
void dmarc_eval_result(const struct dmarc_eval *ev, const struct dmarc_auth_input *in,
                       struct dmarc_verdict *out);

/* How discovery ended (DMARC_DISCOVERY_PENDING while it has not). */
enum dmarc_discovery dmarc_eval_discovery(const struct dmarc_eval *ev);
/* The published record found by discovery, or NULL. */
const struct dmarc_record *dmarc_eval_record(const struct dmarc_eval *ev);

/* Identifier alignment (RFC 7489 3.1): strict = the same name (ASCII case
 * ignored), relaxed = the same Organizational Domain. Leading and
 * trailing dots are ignored; an invalid name never aligns. */
bool dmarc_aligned(const struct dmarc_orgdomain *od, const char *a, const char *b,
                   enum dmarc_align mode);

/* Names for logs, Authentication-Results and tests. */
const char *dmarc_result_name(enum dmarc_result r);
const char *dmarc_auth_result_name(enum dmarc_auth_result r);
const char *dmarc_from_status_name(enum dmarc_from_status s);
const char *dmarc_discovery_name(enum dmarc_discovery d);

#endif
