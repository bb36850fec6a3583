/* postino dmarc stats: the DMARC aggregate data counted so far */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "state/state-dmarc.h"

static const char usage[] =
    "usage: postino dmarc stats [YYYY-MM-DD] [--json]\n"
    "Options: --config FILE\n"
    "How many messages from the outside each sender domain's DMARC policy applied to, per day\n"
    "(UTC), source address, disposition and aligned DKIM/SPF result: the data of DMARC\n"
    "aggregate reports (RFC 7489 7.2). Without a day, every day kept.\n";

static void print_row(const struct state_dmarc_row *r, void *arg)
{
    if (cmd_list_item(arg)) {
        const char *keys[] = {"day",  "policy_domain", "from_domain", "source_ip", "disposition",
                              "dkim", "spf",           "result",      "published"};
        const char *vals[] = {r->day,       r->policy_domain, r->from_domain,
                              r->source_ip, r->disposition,   r->dkim,
                              r->spf,       r->result,        r->published};
        printf("{");
        for (int i = 0; i < 9; i++) {
            printf("%s\"%s\":", i ? "," : "", keys[i]);
            cmd_json_string(stdout, vals[i]);
        }
        printf(",\"count\":%lld}", r->count);
    } else {
        printf("%s %s from=%s ip=%s count=%lld disposition=%s dmarc=%s dkim=%s spf=%s (%s)\n",
               r->day, r->policy_domain, r->from_domain, r->source_ip, r->count, r->disposition,
               r->result, r->dkim, r->spf, r->published);
    }
}

int cmd_dmarc(int argc, char **argv)
{
    struct cmd_common c;
    argc = cmd_parse_common(argc, argv, &c, usage);
    if (argc <= 0)
        return argc < 0 ? 2 : 0;
    const char *sub = argc > 1 ? argv[1] : "";
    const char *day = argc > 2 ? argv[2] : NULL;
    if (strcmp(sub, "stats") != 0 || argc > 3 ||
        (day && (strlen(day) != 10 || day[4] != '-' || day[7] != '-'))) {
        fputs(usage, stderr);
        return 2;
    }
    struct config *cfg;
    struct state_db *db;
    if (cmd_open(&c, &cfg, &db) < 0)
        return 1;
    struct cmd_list l;
    cmd_list_begin(&l, c.json);
    int rc = state_dmarc_list(db, day, print_row, &l) >= 0 ? 0 : 1;
    cmd_list_end(&l);
    return cmd_close(&cfg, &db, NULL, rc);
}
