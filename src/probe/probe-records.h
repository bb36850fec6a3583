/* probe-records: the DNS TXT records a domain publishes about its mail
 * transport, parsed for `postino probe`:
 *
 *   _mta-sts.DOMAIN   "v=STSv1; id=20240101T000000;"     RFC 8461 3.1
 *   _smtp._tls.DOMAIN "v=TLSRPTv1; rua=mailto:tls@example.org"  RFC 8460 3
 *
 * Each parser takes one record's text (the TXT strings concatenated) and
 * says whether it is valid and, if not, why in plain words. Unknown
 * extension fields are allowed (both RFCs say so); v= must come first.
 *
 * Pure: no I/O. */
#ifndef POSTINO_PROBE_RECORDS_H
#define POSTINO_PROBE_RECORDS_H

#include <stdbool.h>
#include <stddef.h>

#define PROBE_RECORD_WHY_MAX    160
#define PROBE_STS_ID_MAX        32    /* RFC 8461: 1*32(ALPHA / DIGIT) */
#define PROBE_RUA_MAX           4     /* report URIs kept */
#define PROBE_URI_MAX           256   /* bytes of one kept */
#define PROBE_RECORD_TEXT_MAX   65535 /* the most a TXT record's RDATA holds */
#define PROBE_RECORD_FIELDS_MAX 32    /* fields of one record */

struct probe_mta_sts {
    bool valid;
    char id[PROBE_STS_ID_MAX + 1];
    char why[PROBE_RECORD_WHY_MAX + 1]; /* when not valid */
};

struct probe_tlsrpt {
    bool valid;
    char rua[PROBE_RUA_MAX][PROBE_URI_MAX + 1]; /* "mailto:..." or "https://..." */
    size_t n_rua;     /* kept: the first PROBE_RUA_MAX of at most PROBE_URI_MAX bytes */
    size_t n_rua_all; /* in the record, kept or not */
    char why[PROBE_RECORD_WHY_MAX + 1];
};

/* True if the record claims to be one of these at all (starts with
 * "v=STSv1" / "v=TLSRPTv1"): other TXT records at the name are ignored. */
bool probe_mta_sts_is(const char *txt, size_t len);
bool probe_tlsrpt_is(const char *txt, size_t len);

/* Parse one record of at most PROBE_RECORD_TEXT_MAX bytes (and at most
 * PROBE_RECORD_FIELDS_MAX fields); never fails (out->valid and out->why
 * say, why in plain words and with the offending bytes made printable).
 *
 * Both follow the ABNF of their RFC strictly: printable US-ASCII only; the
 * version literal first and case-sensitive, with no white space inside
 * it; fields "name=value" with no white space around '=' (a name is a
 * letter or digit then up to 31 letters, digits, '_', '-', '.'; a value
 * printable ASCII but ';' and '='), separated by ';' with optional blanks
 * around it; one ';' may end the record, an empty field (";;") is invalid.
 * Blanks at the very end are tolerated. Unknown fields are allowed.
 *
 * MTA-STS: id= (case-sensitive) is required, 1 to 32 letters and digits;
 * a field name seen twice makes the record invalid.
 *
 * TLS-RPT: rua= (case-sensitive) is required; its value is URIs separated
 * by ',' with optional blanks, each mailto: (with an address) or https:
 * (with a host), of RFC 3986 characters with ',', '!' and ';' encoded. A
 * second rua= adds its URIs (the grammar allows it); a second v= is
 * invalid. */
void probe_mta_sts_parse(const char *txt, size_t len, struct probe_mta_sts *out);
void probe_tlsrpt_parse(const char *txt, size_t len, struct probe_tlsrpt *out);

#endif
