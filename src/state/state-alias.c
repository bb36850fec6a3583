#include "state-alias.h"

#include <sqlite3.h>
#include <string.h>

#include "lib/str.h"
#include "smtp/smtp-address.h"
#include "state-domain.h"
#include "state-private.h"
#include "state-util.h"

int state_alias_add(struct state_db *db, const char *address, const char *target, char **error_r)
{
    char addr[320], tgt[320], domain[256];
    struct smtp_path p;
    if (address[0] == '@') {
        if (!smtp_domain_valid(address + 1, strlen(address + 1), true))
            return state_fail(error_r, "'%s' is not a valid catch-all (@domain)", address);
        str_copy(addr, sizeof(addr), address);
    } else {
        if (smtp_mailbox_parse(address, strlen(address), &p) != SMTP_PATH_OK || p.literal)
            return state_fail(error_r, "'%s' is not a valid address", address);
        str_copy(addr, sizeof(addr), p.mailbox);
    }
    str_lower(addr);
    if (smtp_mailbox_parse(target, strlen(target), &p) != SMTP_PATH_OK)
        return state_fail(error_r, "'%s' is not a valid target address", target);
    str_copy(tgt, sizeof(tgt), p.mailbox);
    state_domain_of(addr, domain, sizeof(domain));
    if (state_domain_exists(db, domain) != 1)
        return state_fail(error_r, "domain %s is not one of ours (postino domain add %s)", domain,
                          domain);
    int n = state_exec(db, error_r, "INSERT OR IGNORE INTO aliases (address, target) VALUES (?,?)",
                       addr, tgt, (char *)NULL);
    if (n < 0)
        return -1;
    if (n == 0)
        return state_fail(error_r, "%s already forwards to %s", addr, tgt);
    return 0;
}

int state_alias_del(struct state_db *db, const char *address, const char *target, char **error_r)
{
    int n = target ? state_exec(db, error_r, "DELETE FROM aliases WHERE address = ? AND target = ?",
                                address, target, (char *)NULL)
                   : state_exec(db, error_r, "DELETE FROM aliases WHERE address = ?", address,
                                (char *)NULL);
    if (n < 0)
        return -1;
    if (n == 0)
        return state_fail(error_r, "no such alias: %s%s%s", address, target ? " -> " : "",
                          target ? target : "");
    return 0;
}

int state_alias_targets(struct state_db *db, const char *address,
                        void (*fn)(const char *target, void *arg), void *arg)
{
    sqlite3_stmt *st = state_stmt(db, STMT_ALIAS_TARGETS,
                                  "SELECT target FROM aliases WHERE address = ? ORDER BY target");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fn((const char *)sqlite3_column_text(st, 0), arg);
        n++;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? n : -1;
}

int state_alias_list(struct state_db *db,
                     void (*fn)(const char *address, const char *target, void *arg), void *arg)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, "SELECT address, target FROM aliases ORDER BY address, target",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fn((const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1), arg);
        n++;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? n : -1;
}
