/* state-private: internals shared by the state-*.c files. */
#ifndef POSTINO_STATE_PRIVATE_H
#define POSTINO_STATE_PRIVATE_H

#include <sqlite3.h>

enum state_stmt_id {
    STMT_DOMAIN_EXISTS,
    STMT_USER_GET,
    STMT_ALIAS_TARGETS,
    STMT_COUNT_PLACEHOLDER,
};
#define STATE_STMT_COUNT ((size_t)STMT_COUNT_PLACEHOLDER)

struct state_db {
    sqlite3 *h;
    sqlite3_stmt *stmts[STATE_STMT_COUNT]; /* prepared once, reused */
};

/* The cached statement id (prepared from sql on first use), reset and
 * with its bindings cleared; NULL on a prepare error. */
sqlite3_stmt *state_stmt(struct state_db *db, enum state_stmt_id id, const char *sql);

#endif
