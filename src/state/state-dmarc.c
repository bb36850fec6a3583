#include "state-dmarc.h"

#include <sqlite3.h>

#include "lib/str.h"
#include "state-private.h"
#include "state-util.h"

int state_dmarc_add(struct state_db *db, const struct state_dmarc_row *r, char **error_r)
{
    return state_exec(db, error_r,
                      "INSERT INTO dmarc_aggregate (day, policy_domain, from_domain, source_ip,"
                      " disposition, dkim, spf, result, published, count)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)"
                      " ON CONFLICT (day, policy_domain, from_domain, source_ip, disposition,"
                      " dkim, spf, result) DO UPDATE SET count = count + 1,"
                      " published = excluded.published",
                      r->day, r->policy_domain, r->from_domain, r->source_ip, r->disposition,
                      r->dkim, r->spf, r->result, r->published, (char *)NULL) < 0
               ? -1
               : 0;
}

int state_dmarc_list(struct state_db *db, const char *day,
                     void (*fn)(const struct state_dmarc_row *row, void *arg), void *arg)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h,
                           "SELECT day, policy_domain, from_domain, source_ip, disposition, dkim,"
                           " spf, result, published, count FROM dmarc_aggregate"
                           " WHERE (?1 IS NULL OR day = ?1)"
                           " ORDER BY day, policy_domain, source_ip, from_domain",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (day)
        sqlite3_bind_text(st, 1, day, -1, SQLITE_TRANSIENT);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct state_dmarc_row r;
        char *const fields[] = {r.day,  r.policy_domain, r.from_domain, r.source_ip, r.disposition,
                                r.dkim, r.spf,           r.result,      r.published};
        const size_t sizes[] = {sizeof(r.day),       sizeof(r.policy_domain), sizeof(r.from_domain),
                                sizeof(r.source_ip), sizeof(r.disposition),   sizeof(r.dkim),
                                sizeof(r.spf),       sizeof(r.result),        sizeof(r.published)};
        for (int i = 0; i < 9; i++) {
            const unsigned char *t = sqlite3_column_text(st, i);
            str_copy(fields[i], sizes[i], t ? (const char *)t : "");
        }
        r.count = sqlite3_column_int64(st, 9);
        fn(&r, arg);
        n++;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? n : -1;
}
