/* dmarc-record: parse one DMARC policy record (RFC 7489 6.3, 6.4).
 *
 *   v=DMARC1; p=reject; sp=none; pct=50; adkim=s; aspf=r;
 *   rua=mailto:agg@example.com!10m, mailto:x@example.net; ruf=...; fo=1:d; rf=afrf; ri=86400
 *
 * v=DMARC1 must be the first tag (the value is case-sensitive, tag names
 * and keyword values are not). Unknown tags are ignored, but every tag
 * must still be well-formed (name "=" value, printable ASCII). A known tag
 * with a bad value, or a known tag given twice, makes the record invalid,
 * with one exception from RFC 7489 6.6.3: a record whose p= is missing or
 * invalid, or whose sp= is invalid, is read as "v=DMARC1; p=none" (plus
 * its other tags) when its rua= holds at least one valid URI.
 *
 * Two leniencies, both in favour of applying what the domain owner
 * published: p= may come anywhere after v= (the ABNF of 6.4 puts it
 * second, but reading "v=DMARC1; rua=...; p=reject" as invalid would turn
 * it into p=none by the rule above), and empty tag-specs ("; ;") are
 * skipped.
 *
 * Reporting URIs that are not syntactically URIs are dropped from the
 * lists (6.6.3 speaks of "at least one syntactically valid reporting
 * URI"); at most DMARC_RECORD_URIS_MAX of each list are kept.
 *
 * Pure parsing: no DNS, no public suffix list, no allocation but the
 * kept URIs. */
#ifndef POSTINO_DMARC_RECORD_H
#define POSTINO_DMARC_RECORD_H

#include <stdbool.h>
#include <stddef.h>

/* Longest record text accepted (TXT strings of one RR concatenated). */
#define DMARC_RECORD_MAX 4096
/* Reporting URIs kept per list (RFC 7489 6.2: receivers may limit, but
 * must support at least two). */
#define DMARC_RECORD_URIS_MAX 8

enum dmarc_policy {
    DMARC_POLICY_NONE = 0,
    DMARC_POLICY_QUARANTINE,
    DMARC_POLICY_REJECT,
};

enum dmarc_align {
    DMARC_ALIGN_RELAXED = 0,
    DMARC_ALIGN_STRICT,
};

/* fo= options, as bits. */
#define DMARC_FO_0 0x1u /* report if all mechanisms fail (the default) */
#define DMARC_FO_1 0x2u /* report if any mechanism fails */
#define DMARC_FO_D 0x4u /* DKIM failure report */
#define DMARC_FO_S 0x8u /* SPF failure report */

/* rf= formats, as bits (only afrf is registered). */
#define DMARC_RF_AFRF 0x1u

enum dmarc_record_status {
    DMARC_RECORD_OK = 0,
    DMARC_RECORD_EMPTY,       /* nothing but whitespace */
    DMARC_RECORD_BAD_VERSION, /* does not start with v=DMARC1: not a DMARC record */
    DMARC_RECORD_BAD_SYNTAX,  /* a tag-spec that is not name=value, or a bad character */
    DMARC_RECORD_BAD_VALUE,   /* a known tag with a value outside its grammar, or twice */
    DMARC_RECORD_NO_POLICY,   /* no p= (and no valid rua= to fall back on) */
};

struct dmarc_uri {
    char *uri;                   /* as written, without the !size suffix; owned */
    unsigned long long max_size; /* bytes from "!size", 0 if none given */
};

struct dmarc_record {
    enum dmarc_policy p;
    enum dmarc_policy sp;   /* p when sp= is absent */
    bool sp_given;          /* sp= was present (and valid) */
    bool p_implied;         /* p=none taken from the rua= rule of 6.6.3 */
    unsigned pct;           /* 0..100, default 100 */
    enum dmarc_align adkim; /* default relaxed */
    enum dmarc_align aspf;  /* default relaxed */
    unsigned fo;            /* DMARC_FO_* bits, default DMARC_FO_0 */
    unsigned rf;            /* DMARC_RF_* bits, default DMARC_RF_AFRF */
    unsigned long ri;       /* seconds, default 86400 */
    struct dmarc_uri rua[DMARC_RECORD_URIS_MAX];
    size_t rua_count;
    struct dmarc_uri ruf[DMARC_RECORD_URIS_MAX];
    size_t ruf_count;
};

/* Set r to the defaults of an empty policy (p=none, pct=100, relaxed...).
 * Owns nothing yet. */
void dmarc_record_init(struct dmarc_record *r);

/* Parse txt[0..len) (need not be terminated) into r, which is first freed
 * and reset. Returns DMARC_RECORD_OK, or another status with r reset to
 * the defaults and *error_r (if error_r is not NULL) set to a static
 * English reason. */
enum dmarc_record_status dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *r,
                                            const char **error_r);

/* True if txt[0..len) starts with the v=DMARC1 tag, i.e. it is a DMARC
 * record at all (RFC 7489 6.6.3 step 2 discards the TXT records that are
 * not), whether or not the rest is valid. */
bool dmarc_record_is_dmarc(const char *txt, size_t len);

/* Release the URIs; r is back to the defaults. */
void dmarc_record_free(struct dmarc_record *r);

/* "none", "quarantine", "reject" / "r", "s" / short status names for logs
 * and reports ("ok", "empty", "bad-version", "bad-syntax", "bad-value",
 * "no-policy"). */
const char *dmarc_policy_name(enum dmarc_policy p);
const char *dmarc_align_name(enum dmarc_align a);
const char *dmarc_record_status_name(enum dmarc_record_status s);

#endif
