/* postino: one program for the whole mail service; this dispatches the
 * subcommands. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "lib/log.h"

#ifndef POSTINO_VERSION
#define POSTINO_VERSION "0"
#endif

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *what;
} commands[] = {
    {"init", cmd_init, "create a configuration and the state layout"},
    {"serve", cmd_serve, "run the mail service in the foreground"},
    {"check-config", cmd_check_config, "check the configuration without starting anything"},
    {"user", cmd_user, "add, delete, list users; change passwords; lock accounts"},
    {"alias", cmd_alias, "add, delete, list aliases"},
    {"domain", cmd_domain, "add, delete, list mail domains"},
    {"trace", cmd_trace, "what happened to a message, and where it is now"},
    {"queue", cmd_queue, "list, show, flush, retry, hold, release, delete, bounce"},
    {"quarantine", cmd_quarantine, "list, show, release, delete what the content policy set aside"},
    {"transport", cmd_transport, "where mail for a domain goes (relay, LMTP, refuse...)"},
    {"dkim", cmd_dkim, "DKIM signing keys: generate, list, show, delete"},
    {"certify", cmd_certify, "certified mail: service keys, verifying receipts, the evidence log"},
    {"share", cmd_share, "send files securely; list, show, revoke transfers and their log"},
    {"probe", cmd_probe, "check a domain's mail servers and records from here (TLS, DNS...)"},
    {"selfcheck", cmd_selfcheck, "check this server: DNS records, certificate, relay, queue, disk"},
    {"dns-records", cmd_dns_records, "the DNS records to publish for a domain (MX, SPF, DKIM...)"},
    {"dmarc", cmd_dmarc, "DMARC aggregate data of the mail received"},
    {"report", cmd_report, "reports on the mailboxes: usage (space per domain and user)"},
    {"sendmail", cmd_sendmail, "queue a message read on stdin (sendmail-compatible)"},
    {"config-reference", cmd_config_reference, "print the reference of every configuration key"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: postino COMMAND [options]   (postino COMMAND --help for more)\n\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-17s %s\n", commands[i].name, commands[i].what);
    fprintf(f, "\nEvery command takes --config FILE (default: $POSTINO_CONFIG, then "
               "/etc/postino/postino.conf).\n");
}

int main(int argc, char **argv)
{
    log_open("postino", LOG_TARGET_STDERR);
    /* Installed (or linked) as "sendmail": behave as `postino sendmail`. */
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    if (strcmp(base, "sendmail") == 0)
        return cmd_sendmail(argc, argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("postino %s\n", POSTINO_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "postino: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
