/* store-housekeeping: expiry of Trash and Junk, usage reports. */
#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "lib/xalloc.h"
#include "store-private.h"

/* Expunge the messages of one folder saved before cutoff. */
static int expire_folder(struct store_account *acc, const char *name, int64_t cutoff, size_t *count)
{
    struct store_folder_row f;
    if (store_folder_open_row(acc, name, &f) < 0)
        return acc->err == STORE_ERR_NOTFOUND ? 0 : -1;
    if (store_tx_begin(acc, true) < 0)
        return -1;
    if (store_folder_row_get_id(acc, f.id, &f) <= 0) {
        store_tx_rollback(acc);
        return 0;
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(store_db(acc), "SELECT uid FROM messages WHERE folder = ? AND saved < ?",
                           -1, &st, NULL) != SQLITE_OK) {
        store_tx_rollback(acc);
        return store_fail_db(acc, "expire");
    }
    sqlite3_bind_int64(st, 1, f.id);
    sqlite3_bind_int64(st, 2, cutoff);
    uint32_t *uids = NULL;
    size_t n = 0, cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            uids = xrealloc(uids, cap * sizeof(*uids));
        }
        uids[n++] = (uint32_t)sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    size_t c = 0;
    int rc = store_expunge_rows(acc, &f, uids, n, &c);
    free(uids);
    if (rc < 0) {
        store_tx_rollback(acc);
        return -1;
    }
    if (store_tx_commit(acc) < 0)
        return -1;
    *count += c;
    return 0;
}

int store_account_expire(struct store_account *acc, unsigned days, time_t now, size_t *count_r)
{
    size_t count = 0;
    if (count_r)
        *count_r = 0;
    struct store_folder_info *l;
    size_t n;
    if (store_folder_list(acc, &l, &n) < 0)
        return -1;
    int64_t cutoff = (int64_t)now - (int64_t)days * 86400;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if ((l[i].attrs & (STORE_ATTR_TRASH | STORE_ATTR_JUNK)) &&
            !(l[i].attrs & STORE_ATTR_NOSELECT))
            rc = expire_folder(acc, l[i].name, cutoff, &count);
    free(l);
    if (count_r)
        *count_r = count;
    return rc;
}

int store_account_usage(struct store_account *acc, struct store_usage **list_r, size_t *count_r)
{
    *list_r = NULL;
    *count_r = 0;
    struct store_folder_info *l;
    size_t n;
    if (store_folder_list(acc, &l, &n) < 0)
        return -1;
    struct store_usage *u = xcalloc(n ? n : 1, sizeof(*u));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (l[i].attrs & STORE_ATTR_NOSELECT)
            continue;
        struct store_status st;
        if (store_folder_status(acc, l[i].name, &st) < 0) {
            if (acc->err == STORE_ERR_NOTFOUND)
                continue;
            free(u);
            free(l);
            return -1;
        }
        str_copy(u[k].name, sizeof(u[k].name), l[i].name);
        u[k].messages = st.messages;
        u[k].bytes = st.size;
        k++;
    }
    free(l);
    *list_r = u;
    *count_r = k;
    return 0;
}
