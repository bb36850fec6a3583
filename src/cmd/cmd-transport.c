/* postino transport add|del|list */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "state/state-transport.h"

static const char usage[] =
    "usage: postino transport add DOMAIN NEXTHOP\n"
    "       postino transport del DOMAIN\n"
    "       postino transport list [--json]\n"
    "Options: --config FILE\n"
    "DOMAIN is a domain, or .domain for all its subdomains. NEXTHOP is one of\n"
    "  smtp:DOMAIN[:PORT]   the MX hosts of DOMAIN     smtp:[HOST][:PORT]  that host\n"
    "  lmtp:[HOST]:PORT     an LMTP server             lmtp:unix:/PATH     (Dovecot)\n"
    "  local   error:5.1.1 TEXT   discard\n";

static void print_transport(const char *domain, const char *nexthop, void *arg)
{
    if (cmd_list_item(arg)) {
        printf("{\"domain\":");
        cmd_json_string(stdout, domain);
        printf(",\"nexthop\":");
        cmd_json_string(stdout, nexthop);
        printf("}");
    } else {
        printf("%s %s\n", domain, nexthop);
    }
}

int cmd_transport(int argc, char **argv)
{
    struct cmd_common c;
    argc = cmd_parse_common(argc, argv, &c, usage);
    if (argc <= 0)
        return argc < 0 ? 2 : 0;
    const char *sub = argc > 1 ? argv[1] : "";
    bool ok = (strcmp(sub, "add") == 0 && argc == 4) || (strcmp(sub, "del") == 0 && argc == 3) ||
              (strcmp(sub, "list") == 0 && argc == 2);
    if (!ok) {
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
        if (state_transport_set(db, argv[2], argv[3], &err) == 0) {
            printf("mail for %s goes to %s\n", argv[2], argv[3]);
            rc = 0;
        }
    } else if (strcmp(sub, "del") == 0) {
        if (state_transport_del(db, argv[2], &err) == 0) {
            printf("transport of %s deleted\n", argv[2]);
            rc = 0;
        }
    } else {
        struct cmd_list l;
        cmd_list_begin(&l, c.json);
        rc = state_transport_list(db, print_transport, &l) >= 0 ? 0 : 1;
        cmd_list_end(&l);
    }
    return cmd_close(&cfg, &db, err, rc);
}
