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

struct list_state {
    bool json;
    int n;
};

static void print_domain(const char *name, void *arg)
{
    struct list_state *ls = arg;
    if (ls->json) {
        printf("%s", ls->n ? "," : "");
        cmd_json_string(stdout, name);
    } else {
        printf("%s\n", name);
    }
    ls->n++;
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
    struct config *cfg = cmd_load_config(&c);
    if (!cfg)
        return 1;
    struct state_db *db = cmd_open_state(cfg);
    if (!db) {
        config_free(&cfg);
        return 1;
    }
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
        struct list_state ls = {.json = c.json};
        if (c.json)
            printf("[");
        int n = state_domain_list(db, print_domain, &ls);
        if (c.json)
            printf("]\n");
        rc = n >= 0 ? 0 : 1;
    }
    if (err) {
        cmd_error("%s", err);
        free(err);
    }
    state_db_close(&db);
    config_free(&cfg);
    return rc;
}
