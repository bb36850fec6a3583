/* state-util: small helpers shared by the state-*.c files. */
#ifndef POSTINO_STATE_UTIL_H
#define POSTINO_STATE_UTIL_H

#include <stdarg.h>

#include "state-db.h"

/* Set *error_r to a formatted message (caller frees); returns -1. */
int state_fail(char **error_r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Run one statement with text parameters (NULL-terminated list of char*).
 * Returns the number of rows changed, or -1 with *error_r set. */
int state_exec(struct state_db *db, char **error_r, const char *sql, ...);
/* Lowercase copy of an address's domain part into out. */
void state_domain_of(const char *address, char *out, size_t outsize);

#endif
