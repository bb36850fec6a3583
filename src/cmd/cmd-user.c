/* postino user add|del|list|passwd|lock|unlock */
#include <stdlib.h>
#include <string.h>

#include "auth/password.h"
#include "cmd.h"
#include "state/state-user.h"

static const char usage[] =
    "usage: postino user add ADDRESS [--password-stdin]\n"
    "       postino user passwd ADDRESS [--password-stdin]\n"
    "       postino user del ADDRESS\n"
    "       postino user lock|unlock ADDRESS\n"
    "       postino user list [DOMAIN] [--json]\n"
    "Options: --config FILE (default $POSTINO_CONFIG, then /etc/postino/postino.conf)\n"
    "The password is read from stdin up to a newline with --password-stdin, else asked\n"
    "twice on the terminal. It is stored as an argon2id hash.\n";

static void print_user(const struct state_user *u, void *arg)
{
    if (cmd_list_item(arg)) {
        printf("{\"address\":");
        cmd_json_string(stdout, u->address);
        printf(",\"domain\":");
        cmd_json_string(stdout, u->domain);
        printf(",\"created\":%lld,\"locked\":%s}", u->created, u->locked ? "true" : "false");
    } else {
        printf("%s%s\n", u->address, u->locked ? " (locked)" : "");
    }
}

int cmd_user(int argc, char **argv)
{
    struct cmd_common c;
    argc = cmd_parse_common(argc, argv, &c, usage);
    if (argc <= 0)
        return argc < 0 ? 2 : 0;
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *sub = argv[1];
    bool list = strcmp(sub, "list") == 0;
    if ((!list && argc != 3) || (list && argc > 3)) {
        fputs(usage, stderr);
        return 2;
    }
    if (!list && strcmp(sub, "add") && strcmp(sub, "del") && strcmp(sub, "passwd") &&
        strcmp(sub, "lock") && strcmp(sub, "unlock")) {
        cmd_error("unknown subcommand: user %s", sub);
        fputs(usage, stderr);
        return 2;
    }
    struct config *cfg = cmd_load_config(&c);
    if (!cfg)
        return 1;
    int rc = 1;
    char *err = NULL;
    char hash[PASSWORD_HASH_MAX];
    char pw[PASSWORD_MAX + 2];
    /* Read and hash the password before touching the database. */
    if (strcmp(sub, "add") == 0 || strcmp(sub, "passwd") == 0) {
        int n = cmd_read_password(&c, pw, sizeof(pw));
        if (n < 0 || cmd_hash_password(cfg, pw, (size_t)n, hash) < 0) {
            memset(pw, 0, sizeof(pw));
            config_free(&cfg);
            return 1;
        }
        memset(pw, 0, sizeof(pw));
    }
    struct state_db *db = cmd_open_state(cfg);
    if (!db) {
        config_free(&cfg);
        return 1;
    }
    const char *addr = argc > 2 ? argv[2] : NULL;
    if (strcmp(sub, "add") == 0) {
        if (state_user_add(db, addr, hash, &err) == 0) {
            printf("user %s added\n", addr);
            rc = 0;
        }
    } else if (strcmp(sub, "passwd") == 0) {
        if (state_user_set_password(db, addr, hash, &err) == 0) {
            printf("password of %s changed\n", addr);
            rc = 0;
        }
    } else if (strcmp(sub, "del") == 0) {
        if (state_user_del(db, addr, &err) == 0) {
            printf("user %s deleted (the mailbox stays on disk)\n", addr);
            rc = 0;
        }
    } else if (strcmp(sub, "lock") == 0 || strcmp(sub, "unlock") == 0) {
        bool lock = strcmp(sub, "lock") == 0;
        if (state_user_set_locked(db, addr, lock, &err) == 0) {
            printf("user %s %s\n", addr, lock ? "locked" : "unlocked");
            rc = 0;
        }
    } else {
        struct cmd_list l;
        cmd_list_begin(&l, c.json);
        if (state_user_list(db, addr, print_user, &l) >= 0)
            rc = 0;
        else
            cmd_error("database: %s", state_db_error(db));
        cmd_list_end(&l);
    }
    return cmd_close(&cfg, &db, err, rc);
}
