#include "state-resolve.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "state-alias.h"
#include "state-domain.h"
#include "state-user.h"
#include "state-util.h"

struct list {
    char **items;
    size_t n;
};

static void list_add(const char *s, void *arg)
{
    struct list *l = arg;
    l->items = xrealloc(l->items, (l->n + 1) * sizeof(char *));
    l->items[l->n++] = xstrdup(s);
}

static void list_free(struct list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

struct resolver {
    struct state_db *db;
    struct resolve_result *out;
    const char *path[RESOLVE_DEPTH + 1]; /* aliases being expanded */
    int depth;
    enum resolve_status status;
};

static void add_dest(struct resolver *r, const char *addr, bool local)
{
    for (size_t i = 0; i < r->out->n; i++)
        if (str_eq_ci(r->out->dests[i].addr, addr))
            return;
    if (r->out->n >= RESOLVE_MAX_TARGETS) {
        r->status = RESOLVE_LOOP;
        return;
    }
    r->out->dests = xrealloc(r->out->dests, (r->out->n + 1) * sizeof(*r->out->dests));
    r->out->dests[r->out->n].addr = xstrdup(addr);
    r->out->dests[r->out->n].local = local;
    r->out->n++;
}

static bool on_path(const struct resolver *r, const char *addr)
{
    for (int i = 0; i < r->depth; i++)
        if (str_eq_ci(r->path[i], addr))
            return true;
    return false;
}

/* Expand the targets of alias (already found to have some). */
static void expand(struct resolver *r, const char *alias, struct list *targets);

/* Resolve one address of our domain; returns false if nobody has it. */
static bool resolve_local(struct resolver *r, const char *local, const char *domain)
{
    char addr[SMTP_ADDR_BUF], base[SMTP_ADDR_BUF], catchall[SMTP_ADDR_BUF];
    snprintf(addr, sizeof(addr), "%s@%s", local, domain);
    str_lower(addr);
    /* the base address: local part without its +tag */
    const char *plus = strchr(local, '+');
    size_t blen = plus ? (size_t)(plus - local) : strlen(local);
    snprintf(base, sizeof(base), "%.*s@%s", (int)blen, local, domain);
    str_lower(base);
    snprintf(catchall, sizeof(catchall), "@%s", domain);

    const char *candidates[2] = {addr, base};
    for (int i = 0; i < (plus && blen > 0 ? 2 : 1); i++) {
        if (on_path(r, candidates[i]))
            continue; /* "alias includes itself": the user below */
        struct list t = {0};
        int n = state_alias_targets(r->db, candidates[i], list_add, &t);
        if (n < 0) {
            r->status = RESOLVE_TEMPFAIL;
            list_free(&t);
            return true;
        }
        if (n > 0) {
            expand(r, candidates[i], &t);
            list_free(&t);
            return true;
        }
    }
    if (plus && blen == 0)
        return false; /* "+tag@domain" has no base */
    struct state_user u;
    int e = state_user_get(r->db, base, &u);
    if (e < 0) {
        r->status = RESOLVE_TEMPFAIL;
        return true;
    }
    if (e == 1) {
        add_dest(r, u.address, true);
        return true;
    }
    if (!on_path(r, catchall)) {
        struct list t = {0};
        int n = state_alias_targets(r->db, catchall, list_add, &t);
        if (n < 0) {
            r->status = RESOLVE_TEMPFAIL;
            list_free(&t);
            return true;
        }
        if (n > 0) {
            expand(r, catchall, &t);
            list_free(&t);
            return true;
        }
    }
    return false;
}

static void expand(struct resolver *r, const char *alias, struct list *targets)
{
    if (r->depth >= RESOLVE_DEPTH) {
        r->status = RESOLVE_LOOP;
        return;
    }
    r->path[r->depth++] = alias;
    for (size_t i = 0; i < targets->n && r->status == RESOLVE_OK; i++) {
        const char *t = targets->items[i];
        const char *at = strrchr(t, '@');
        if (!at)
            continue;
        char domain[256];
        state_domain_of(t, domain, sizeof(domain));
        int ours = state_domain_exists(r->db, domain);
        if (ours < 0) {
            r->status = RESOLVE_TEMPFAIL;
            break;
        }
        if (!ours) {
            add_dest(r, t, false);
            continue;
        }
        char local[SMTP_ADDR_BUF];
        snprintf(local, sizeof(local), "%.*s", (int)(at - t), t);
        /* A local target nobody has is a configuration error: skip it
         * rather than refuse the whole alias. */
        resolve_local(r, local, domain);
    }
    r->depth--;
}

enum resolve_status state_resolve(struct state_db *db, const char *local, const char *domain,
                                  struct resolve_result *out)
{
    memset(out, 0, sizeof(*out));
    int ours = state_domain_exists(db, domain);
    if (ours < 0)
        return RESOLVE_TEMPFAIL;
    if (!ours)
        return RESOLVE_NOT_OURS;
    struct resolver r = {.db = db, .out = out, .status = RESOLVE_OK};
    bool found = resolve_local(&r, local, domain);
    if (r.status != RESOLVE_OK) {
        resolve_result_free(out);
        return r.status;
    }
    if (!found || out->n == 0) {
        resolve_result_free(out);
        return RESOLVE_UNKNOWN;
    }
    return RESOLVE_OK;
}

void resolve_result_free(struct resolve_result *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->dests[i].addr);
    free(r->dests);
    r->dests = NULL;
    r->n = 0;
}
