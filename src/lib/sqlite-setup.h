/* sqlite-setup: opening an SQLite database that several processes share.
 *
 * postino's daemons open the same databases (state/events.db, each account's
 * index.db) at the same moments, often when the file is new. Two things go
 * wrong there that SQLite's busy timeout does not cover, and these helpers
 * handle them. */
#ifndef POSTINO_SQLITE_SETUP_H
#define POSTINO_SQLITE_SETUP_H

struct sqlite3;

/* Keep the WAL file when the last connection closes. Otherwise the last
 * closer deletes it, and a process opening at that moment can be refused as
 * busy without waiting. */
void sqlite_setup_persist_wal(struct sqlite3 *h);

/* sqlite3_exec(sql), retried for up to 10 s while it fails as busy or
 * locked. Switching a new database to WAL needs an exclusive lock, and SQLite
 * refuses a connection that would deadlock waiting for one at once, without
 * calling the busy handler: that happens when processes meet on a new file.
 * Returns the SQLite result; *err_r as sqlite3_exec sets it (free it with
 * sqlite3_free; err_r may be NULL). */
int sqlite_setup_exec(struct sqlite3 *h, const char *sql, char **err_r);

#endif
