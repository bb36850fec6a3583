/* postino serve / check-config / config-reference */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "share/share-policy.h"
#include "daemon/daemon.h"
#include "lib/buf.h"
#include "lib/net.h"
#include "lib/privs.h"
#include "lib/tls.h"
#include "policy/policy-tables.h"
#include "state/state-dkim.h"
#include "state/state-domain.h"
#include "state/state-resolve.h"

static const char serve_usage[] =
    "usage: postino serve [--config FILE]\n"
    "Runs every service in the foreground, logging to stderr (log_target), until\n"
    "SIGTERM or SIGINT; SIGHUP asks the services to reload.\n";

int cmd_serve(int argc, char **argv)
{
    struct cmd_common c;
    argc = cmd_parse_common(argc, argv, &c, serve_usage);
    if (argc <= 0)
        return argc < 0 ? 2 : 0;
    if (argc != 1) {
        fputs(serve_usage, stderr);
        return 2;
    }
    struct config *cfg = cmd_load_config(&c);
    if (!cfg)
        return 1;
    int rc = supervisor_main(cfg);
    config_free(&cfg);
    return rc;
}

static const char check_usage[] =
    "usage: postino check-config [--config FILE]\n"
    "Checks the configuration file and the layout it points to without starting\n"
    "anything; prints every problem found and exits 1 if there is one.\n";

static void warn_domain(const char *name, void *arg)
{
    struct state_db *db = arg;
    struct resolve_result r;
    if (state_resolve(db, "postmaster", name, &r) == RESOLVE_OK) {
        resolve_result_free(&r);
        return;
    }
    fprintf(stderr,
            "postino: warning: nobody receives postmaster@%s (RFC 5321 requires it): "
            "postino alias add postmaster@%s ADDRESS\n",
            name, name);
}

struct dkim_check {
    const struct config *cfg;
    int problems;
};

/* A DKIM key whose file cannot be read cannot sign. */
static void check_dkim_key(const struct state_dkim_key *k, void *arg)
{
    struct dkim_check *dc = arg;
    struct buf value;
    buf_init(&value, BUF_UNLIMITED);
    char *err = NULL;
    if (cmd_dkim_key_value(dc->cfg, k, &value, &err) < 0) {
        cmd_error("DKIM key %s of %s: %s (postino dkim del %s %s, then keygen)", k->selector,
                  k->domain, err, k->domain, k->selector);
        free(err);
        dc->problems++;
    }
    buf_free(&value);
}

/* Check what the state database points to: every DKIM key file must be
 * readable (as the service user, who signs); domains without a postmaster
 * get a warning (not an error: mail flows). Returns the number of
 * problems. Runs last: it gives up root for good. */
static int check_state(const struct config *cfg)
{
    /* As the owner of the state (cmd_open_state), so that no file of the
     * database comes to belong to root. */
    struct state_db *db = cmd_open_state(cfg);
    if (!db)
        return 1;
    struct dkim_check dc = {cfg, 0};
    if (state_dkim_list(db, NULL, false, check_dkim_key, &dc) < 0) {
        cmd_error("database: %s", state_db_error(db));
        dc.problems++;
    }
    state_domain_list(db, warn_domain, db);
    state_db_close(&db);
    return dc.problems;
}

int cmd_check_config(int argc, char **argv)
{
    struct cmd_common c;
    argc = cmd_parse_common(argc, argv, &c, check_usage);
    if (argc <= 0)
        return argc < 0 ? 2 : 0;
    if (argc != 1) {
        fputs(check_usage, stderr);
        return 2;
    }
    struct config *cfg = cmd_load_config(&c);
    if (!cfg)
        return 1;
    int problems = 0;
    struct policy_tables pt;
    char *polerr = NULL;
    if (policy_tables_load(cfg, &pt, &polerr) < 0) {
        cmd_error("content policy: %s", polerr);
        free(polerr);
        problems++;
    } else {
        policy_tables_free(&pt);
    }
    struct share_policy sp;
    const char *spt = cfg->share_domain_policy ? cfg->share_domain_policy : "";
    if (share_policy_parse(spt, strlen(spt), &sp, &polerr) < 0) {
        cmd_error("%s", polerr);
        free(polerr);
        problems++;
    } else {
        share_policy_free(&sp);
    }
    const char *subs[] = {"state/postino.db", "spool/incoming", "spool/queue", "mail"};
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        char path[4096];
        struct stat st;
        if (config_data_path(cfg, subs[i], path, sizeof(path)) < 0 || stat(path, &st) < 0) {
            cmd_error("%s: missing (postino init creates it)", path);
            problems++;
        }
    }
    if (privs_is_root()) {
        const char *users[] = {cfg->service_user, cfg->mail_user};
        for (size_t i = 0; i < 2; i++) {
            struct privs_user u;
            const char *why;
            if (privs_lookup(users[i], &u, &why) < 0) {
                cmd_error("user %s: %s", users[i], why);
                problems++;
            } else if (u.uid == 0) {
                cmd_error("user %s is root: services must not run as root", users[i]);
                problems++;
            }
        }
    }
    bool need_tls = cfg->smtp_starttls || cfg->submission_listen.n || cfg->submissions_listen.n;
    if (need_tls) {
        char *err = NULL;
        struct tls_server *t = tls_server_new(cfg, &err);
        if (!t) {
            cmd_error("TLS: %s", err);
            free(err);
            problems++;
        }
        tls_server_unref(&t);
    }
    if (problems == 0)
        problems += check_state(cfg);
    if (problems == 0)
        printf("%s: ok\n", cfg->path);
    config_free(&cfg);
    return problems ? 1 : 0;
}

static const char reference_usage[] =
    "usage: postino config-reference\n"
    "Prints the reference of every configuration key, with its type, default and\n"
    "meaning, as markdown (this is docs/configuration.md).\n";

int cmd_config_reference(int argc, char **argv)
{
    struct cmd_common c;
    argc = cmd_parse_common(argc, argv, &c, reference_usage);
    if (argc <= 0)
        return argc < 0 ? 2 : 0;
    if (argc != 1) {
        fputs(reference_usage, stderr);
        return 2;
    }
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    config_write_reference(&b);
    fwrite(b.data, 1, b.len, stdout);
    buf_free(&b);
    return 0;
}
