/* state-resolve: where mail for an address of ours goes.
 *
 * For local@domain, in order: an alias of exactly that address; an alias
 * of the address without its +tag; the user local@domain (without +tag);
 * a catch-all alias @domain. Aliases expand recursively (at most
 * RESOLVE_DEPTH levels) into local users and remote addresses; an alias
 * that names itself among its targets delivers to the user of that name
 * as well. The result has no duplicates. */
#ifndef POSTINO_STATE_RESOLVE_H
#define POSTINO_STATE_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>

#include "state-db.h"

/* Room for any address "local@domain" plus a terminator. */
#define SMTP_ADDR_BUF 330

#define RESOLVE_DEPTH       8
#define RESOLVE_MAX_TARGETS 1000

enum resolve_status {
    RESOLVE_OK,       /* at least one destination */
    RESOLVE_NOT_OURS, /* the domain is not one of ours */
    RESOLVE_UNKNOWN,  /* our domain, but nobody of that name */
    RESOLVE_LOOP,     /* aliases too deep or too many targets */
    RESOLVE_TEMPFAIL, /* database error: try again later */
};

struct resolve_dest {
    char *addr;
    bool local; /* a mailbox of ours; else another mail server's */
};

struct resolve_result {
    struct resolve_dest *dests;
    size_t n;
};

/* Resolve local@domain (local unquoted, domain lowercased). */
enum resolve_status state_resolve(struct state_db *db, const char *local, const char *domain,
                                  struct resolve_result *out);
void resolve_result_free(struct resolve_result *r);

#endif
