/* postino alias add|del|list */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "state/state-alias.h"

static const char usage[] =
    "usage: postino alias add ADDRESS TARGET [TARGET...]\n"
    "       postino alias del ADDRESS [TARGET]\n"
    "       postino alias list [--json]\n"
    "Options: --config FILE\n"
    "ADDRESS is local@domain of one of our domains, or @domain for a catch-all.\n"
    "Targets are local or remote addresses; an alias may name itself to keep a copy\n"
    "in the mailbox of the same name.\n";

static void print_alias(const char *address, const char *target, void *arg)
{
    if (cmd_list_item(arg)) {
        printf("{\"address\":");
        cmd_json_string(stdout, address);
        printf(",\"target\":");
        cmd_json_string(stdout, target);
        printf("}");
    } else {
        printf("%s -> %s\n", address, target);
    }
}

int cmd_alias(int argc, char **argv)
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
    bool ok = (strcmp(sub, "list") == 0 && argc == 2) || (strcmp(sub, "add") == 0 && argc >= 4) ||
              (strcmp(sub, "del") == 0 && (argc == 3 || argc == 4));
    if (!ok) {
        fputs(usage, stderr);
        return 2;
    }
    struct config *cfg;
    struct state_db *db;
    if (cmd_open(&c, &cfg, &db) < 0)
        return 1;
    int rc = 0;
    char *err = NULL;
    if (strcmp(sub, "add") == 0) {
        for (int i = 3; i < argc && rc == 0; i++) {
            if (state_alias_add(db, argv[2], argv[i], &err) == 0)
                printf("alias %s -> %s added\n", argv[2], argv[i]);
            else
                rc = 1;
        }
    } else if (strcmp(sub, "del") == 0) {
        if (state_alias_del(db, argv[2], argc == 4 ? argv[3] : NULL, &err) == 0)
            printf("alias %s deleted\n", argv[2]);
        else
            rc = 1;
    } else {
        struct cmd_list l;
        cmd_list_begin(&l, c.json);
        rc = state_alias_list(db, print_alias, &l) >= 0 ? 0 : 1;
        cmd_list_end(&l);
    }
    return cmd_close(&cfg, &db, err, rc);
}
