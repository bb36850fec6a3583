/* store-bg: the commit of a big sync, written by a thread while the session
 * that asked for the folder goes on.
 *
 * Opening a folder of tens of thousands of new files for the first time
 * spends most of its time inserting their rows. The sync assigns the UIDs,
 * keeps the rows as the folder's snapshot and opens the view from it; the
 * inserts and the COMMIT run on a thread over the same connection and the
 * same open write transaction, so other processes wait for the write lock
 * as they would for any sync. On this handle, every call that would touch
 * the connection waits for the thread first (store_bg_wait()).
 *
 * A client may see UIDs before they are committed. If the process dies
 * first, the next sync must not hand the same UIDs to other files under
 * the same UIDVALIDITY: a marker file, index.db-bulk, names the folder and
 * the UIDNEXT the commit brings. It is written before the view opens and
 * removed after the commit; a sync that finds it under the write lock with
 * the folder short of that UIDNEXT gives the folder a new UIDVALIDITY. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "store-private.h"

_Thread_local bool store_in_bg;

struct store_bg_job {
    pthread_t thread;
    struct store_folder_row f; /* as the commit saves it */
    struct store_index_row *rows;
    size_t n_rows;
    char **names; /* the rows' names, owned by the job */
    size_t n_names;
    int64_t saved;
    uint64_t modseq;
    bool ok;
    char error[512];
};

static void marker_path(const struct store_account *acc, char *out, size_t size)
{
    snprintf(out, size, "%s/index.db-bulk", acc->root);
}

static void *run(void *arg)
{
    struct store_account *acc = arg;
    struct store_bg_job *job = acc->bg;
    store_in_bg = true;
    bool ok = store_index_insert_rows_raw(acc, job->f.id, job->rows, job->n_rows, job->saved,
                                          job->modseq) == 0 &&
              store_folder_row_save(acc, &job->f) == 0;
    if (ok && sqlite3_exec(acc->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        ok = false;
    if (!ok) {
        str_copy(job->error, sizeof(job->error), sqlite3_errmsg(acc->db));
        for (size_t i = 0; i < STORE_STMT_COUNT; i++)
            if (acc->stmts[i])
                sqlite3_reset(acc->stmts[i]);
        sqlite3_exec(acc->db, "ROLLBACK", NULL, NULL, NULL);
    }
    job->ok = ok;
    store_index_bulk(acc, false);
    /* tens of thousands of frees: here rather than in the session that
     * happens to wait for the thread */
    free(job->rows);
    job->rows = NULL;
    for (size_t i = 0; i < job->n_names; i++)
        free(job->names[i]);
    free(job->names);
    job->names = NULL;
    return NULL;
}

int store_bg_commit(struct store_account *acc, const struct store_folder_row *f,
                    struct store_index_row *rows, size_t n_rows, char **names, size_t n_names,
                    int64_t saved, uint64_t modseq)
{
    char path[STORE_PATH_MAX + 16];
    marker_path(acc, path, sizeof(path));
    char text[64];
    int len = snprintf(text, sizeof(text), "%lld %u\n", (long long)f->id, f->uidnext);
    FILE *fp = fopen(path, "w");
    if (!fp)
        return -1;
    bool written = fwrite(text, 1, (size_t)len, fp) == (size_t)len;
    if (fclose(fp) != 0 || !written) {
        unlink(path);
        return -1;
    }
    struct store_bg_job *job = xcalloc(1, sizeof(*job));
    job->f = *f;
    job->rows = rows;
    job->n_rows = n_rows;
    job->names = names;
    job->n_names = n_names;
    job->saved = saved;
    job->modseq = modseq;
    acc->bg_data_version = store_data_version(acc);
    acc->bg = job;
    if (pthread_create(&job->thread, NULL, run, acc) != 0) {
        acc->bg = NULL;
        free(job);
        unlink(path);
        return -1;
    }
    /* the transaction is the thread's now: a transaction begun on this
     * side waits for it (store_tx_begin) */
    acc->tx_depth = 0;
    return 0;
}

bool store_bg_pending(const struct store_account *acc)
{
    return acc->bg != NULL && !store_in_bg;
}

void store_bg_wait(struct store_account *acc)
{
    if (!store_bg_pending(acc))
        return;
    struct store_bg_job *job = acc->bg;
    pthread_join(job->thread, NULL);
    acc->bg = NULL;
    acc->local_changes++;
    if (job->ok) {
        store_bg_marker_remove(acc);
    } else {
        /* The rows the views were given are not in the index: the marker
         * stays, and the next sync gives the folder a new UIDVALIDITY. */
        store_snap_forget(acc, job->f.id);
        log_warn("%s: indexing folder %s failed: %s", acc->root, job->f.name, job->error);
    }
    free(job);
}

int store_bg_recover(struct store_account *acc)
{
    char path[STORE_PATH_MAX + 16];
    marker_path(acc, path, sizeof(path));
    FILE *fp = fopen(path, "r");
    if (!fp)
        return 0;
    long long id = 0;
    unsigned target = 0;
    int n = fscanf(fp, "%lld %u", &id, &target);
    fclose(fp);
    if (n != 2)
        return 1;
    struct store_folder_row f;
    int r = store_folder_row_get_id(acc, id, &f);
    if (r < 0)
        return -1;
    if (r > 0 && f.uidnext < target) {
        if (store_folder_row_renew(acc, &f) < 0)
            return -1;
        log_warn("%s: folder %s was shown UIDs that were never committed; new UIDVALIDITY %u",
                 acc->root, f.name, f.uidvalidity);
    }
    return 1;
}

void store_bg_marker_remove(struct store_account *acc)
{
    char path[STORE_PATH_MAX + 16];
    marker_path(acc, path, sizeof(path));
    unlink(path);
}
