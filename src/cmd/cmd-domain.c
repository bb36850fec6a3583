/* postino domain add|del|list */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "state/state-domain.h"

static const char usage[] = "usage: postino domain add DOMAIN\n"
                            "       postino domain del DOMAIN\n"
                            "       postino domain list [--json]\n"
                            "Options: --config FILE\n"
                            "A domain can be deleted once it has no users and no aliases.\n";

static void print_domain(const char *name, void *arg)
{
    if (cmd_list_item(arg))
        cmd_json_string(stdout, name);
    else
        printf("%s\n", name);
}

int cmd_domain(int argc, char **argv)
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
    if ((list && argc != 2) || (!list && argc != 3) ||
        (!list && strcmp(sub, "add") && strcmp(sub, "del"))) {
        fputs(usage, stderr);
        return 2;
    }
    struct config *cfg;
    struct state_db *db;
    if (cmd_open(&c, &cfg, &db) < 0)
        return 1;
    int rc = 1;
    char *err = NULL;
    if (strcmp(sub, "add") == 0) {
        if (state_domain_add(db, argv[2], &err) == 0) {
            printf("domain %s added\n", argv[2]);
            rc = 0;
        }
    } else if (strcmp(sub, "del") == 0) {
        if (state_domain_del(db, argv[2], &err) == 0) {
            printf("domain %s deleted\n", argv[2]);
            rc = 0;
        }
    } else {
        struct cmd_list l;
        cmd_list_begin(&l, c.json);
        rc = state_domain_list(db, print_domain, &l) >= 0 ? 0 : 1;
        cmd_list_end(&l);
    }
    return cmd_close(&cfg, &db, err, rc);
}
