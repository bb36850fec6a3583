#include "sqlite-setup.h"

#include <sqlite3.h>
#include <time.h>

#define RETRY_PAUSE_MS 10
#define RETRY_TOTAL_MS 10000

void sqlite_setup_persist_wal(sqlite3 *h)
{
    int persist = 1;
    sqlite3_file_control(h, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
}

int sqlite_setup_exec(sqlite3 *h, const char *sql, char **err_r)
{
    const struct timespec pause = {.tv_sec = 0, .tv_nsec = RETRY_PAUSE_MS * 1000 * 1000};
    for (int waited = 0;; waited += RETRY_PAUSE_MS) {
        char *err = NULL;
        int rc = sqlite3_exec(h, sql, NULL, NULL, &err);
        int primary = rc & 0xff;
        if ((primary != SQLITE_BUSY && primary != SQLITE_LOCKED) || waited >= RETRY_TOTAL_MS) {
            if (err_r)
                *err_r = err;
            else
                sqlite3_free(err);
            return rc;
        }
        sqlite3_free(err);
        nanosleep(&pause, NULL);
    }
}
