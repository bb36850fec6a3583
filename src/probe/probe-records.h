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

#define PROBE_RECORD_WHY_MAX 160
#define PROBE_STS_ID_MAX     32  /* RFC 8461: 1*32(ALPHA / DIGIT) */
#define PROBE_RUA_MAX        4   /* report URIs kept */
#define PROBE_URI_MAX        256 /* bytes of one kept */

struct probe_mta_sts {
    bool valid;
    char id[PROBE_STS_ID_MAX + 1];
    char why[PROBE_RECORD_WHY_MAX + 1]; /* when not valid */
};

struct probe_tlsrpt {
    bool valid;
    char rua[PROBE_RUA_MAX][PROBE_URI_MAX + 1]; /* "mailto:..." or "https://..." */
    size_t n_rua;
    char why[PROBE_RECORD_WHY_MAX + 1];
};

/* True if the record claims to be one of these at all (starts with
 * "v=STSv1" / "v=TLSRPTv1"): other TXT records at the name are ignored. */
bool probe_mta_sts_is(const char *txt, size_t len);
bool probe_tlsrpt_is(const char *txt, size_t len);

/* Parse; never fails (out->valid and out->why say). */
void probe_mta_sts_parse(const char *txt, size_t len, struct probe_mta_sts *out);
void probe_tlsrpt_parse(const char *txt, size_t len, struct probe_tlsrpt *out);

#endif
