/* state-dmarc: DMARC aggregate data (table dmarc_aggregate), the counts
 * from which RFC 7489 7.2 aggregate reports are made: per day (UTC), per
 * policy domain, From domain and source address, how many messages got
 * which disposition, DKIM and SPF alignment and result. */
#ifndef POSTINO_STATE_DMARC_H
#define POSTINO_STATE_DMARC_H

#include "state-db.h"

struct state_dmarc_row {
    char day[16];            /* YYYY-MM-DD, UTC */
    char policy_domain[256]; /* where the record was found */
    char from_domain[256];
    char source_ip[64];
    char disposition[16]; /* none, quarantine, reject */
    char dkim[8];         /* pass / fail: an aligned DKIM pass */
    char spf[8];          /* pass / fail: an aligned SPF pass */
    char result[16];      /* the DMARC result */
    char published[64];   /* "p=reject sp=none pct=100 adkim=r aspf=r" */
    long long count;
};

/* Count one message (row.count is ignored). 0, or -1 with *error_r. */
int state_dmarc_add(struct state_db *db, const struct state_dmarc_row *row, char **error_r);
/* Call fn for each row of day (or every day with day NULL), by day,
 * policy domain, source. Returns the count of rows or -1. */
int state_dmarc_list(struct state_db *db, const char *day,
                     void (*fn)(const struct state_dmarc_row *row, void *arg), void *arg);

#endif
