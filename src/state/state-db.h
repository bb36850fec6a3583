/* state-db: the SQLite state database (state/postino.db).
 *
 * Holds domains, users, aliases (and, in later schema versions, lockout
 * state, DKIM keys, events ...). The schema carries a version
 * (PRAGMA user_version) from the first release; opening an older database
 * migrates it in place, one step per version, each step in a transaction,
 * so an upgrade either completes or leaves the old schema untouched. A
 * database newer than this program is refused rather than misread. */
#ifndef POSTINO_STATE_DB_H
#define POSTINO_STATE_DB_H

#include <stdbool.h>
#include <stddef.h>

#define STATE_SCHEMA_VERSION 7

struct state_db;
struct sqlite3;

/* Open (and with create, create) the database at path, migrating it to
 * STATE_SCHEMA_VERSION. Returns NULL with a message in *error_r (caller
 * frees). */
struct state_db *state_db_open(const char *path, bool create, char **error_r);
void state_db_close(struct state_db **db);
/* The version of the schema on disk (after open: STATE_SCHEMA_VERSION). */
int state_db_schema_version(struct state_db *db);
struct sqlite3 *state_db_handle(struct state_db *db);
/* The last SQLite error message of this connection. */
const char *state_db_error(struct state_db *db);

/* The SQL of schema version 1, exactly as the first release created it;
 * tests build old databases from it. */
extern const char *const state_schema_v1;

#endif
