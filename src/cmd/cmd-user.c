/* postino user add|del|list|passwd|lock|unlock|import|sender */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/password.h"
#include "cmd.h"
#include "lib/str.h"
#include "state/state-auth.h"
#include "state/state-user.h"

static const char usage[] =
    "usage: postino user add ADDRESS [--password-stdin]\n"
    "       postino user passwd ADDRESS [--password-stdin]\n"
    "       postino user del ADDRESS\n"
    "       postino user lock|unlock ADDRESS\n"
    "       postino user list [DOMAIN] [--json]\n"
    "       postino user import FILE\n"
    "       postino user sender add|del ADDRESS SENDER\n"
    "       postino user sender list [ADDRESS] [--json]\n"
    "       postino user quota ADDRESS [BYTES|default|none [MESSAGES|default|none]]\n"
    "Options: --config FILE (default $POSTINO_CONFIG, then /etc/postino/postino.conf)\n"
    "The password is read from stdin up to a newline with --password-stdin, else asked\n"
    "twice on the terminal. It is stored as an argon2id hash.\n"
    "unlock also ends a lockout after failed logins and clears the failure count.\n"
    "import reads a Dovecot passwd-file (user@domain:{SHA512-CRYPT}$6$...:...); the\n"
    "hashes are replaced by argon2id at each user's next successful login.\n"
    "sender add lets ADDRESS send as SENDER (an address, or @domain for any\n"
    "address of it) besides its own addresses and the aliases that reach it.\n"
    "quota sets the limits of a mailbox (BYTES with K, M or G; default: mail_quota and\n"
    "mail_quota_messages of the configuration; none: no limit), or shows them.\n"
    "Delivery past the quota is deferred (452 4.2.2), APPEND refused.\n";

static void print_user(const struct state_user *u, void *arg)
{
    long long now = (long long)time(NULL);
    bool lockout = u->locked_until == -1 || u->locked_until > now;
    if (cmd_list_item(arg)) {
        printf("{\"address\":");
        cmd_json_string(stdout, u->address);
        printf(",\"domain\":");
        cmd_json_string(stdout, u->domain);
        printf(",\"created\":%lld,\"locked\":%s,\"admin_locked\":%s,\"failures\":%lld,"
               "\"locked_until\":%lld,\"quota_bytes\":%lld,\"quota_messages\":%lld}",
               u->created, (u->locked || lockout) ? "true" : "false", u->locked ? "true" : "false",
               u->failures, lockout ? u->locked_until : 0, u->quota_bytes, u->quota_messages);
        return;
    }
    printf("%s", u->address);
    if (u->locked)
        printf(" (locked by the administrator)");
    if (lockout && u->locked_until == -1)
        printf(" (locked after %lld failed logins, until unlocked)", u->failures);
    else if (lockout)
        printf(" (locked after %lld failed logins, for %llds more)", u->failures,
               u->locked_until - now);
    else if (u->failures)
        printf(" (%lld failed login%s)", u->failures, u->failures == 1 ? "" : "s");
    putchar('\n');
}

static void print_sender(const char *user, const char *address, void *arg)
{
    if (cmd_list_item(arg)) {
        printf("{\"user\":");
        cmd_json_string(stdout, user);
        printf(",\"sender\":");
        cmd_json_string(stdout, address);
        printf("}");
    } else {
        printf("%s may send as %s\n", user, address);
    }
}

/* A quota value: "default" (-1), "none" (0) or a size. 0, or -1. */
static int parse_quota(const char *s, bool size, long long *out)
{
    if (strcmp(s, "default") == 0) {
        *out = -1;
        return 0;
    }
    if (strcmp(s, "none") == 0) {
        *out = 0;
        return 0;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    long long mult = 1;
    if (size && *end && !end[1]) {
        switch (*end) {
        case 'K':
        case 'k':
            mult = 1024LL;
            end++;
            break;
        case 'M':
        case 'm':
            mult = 1024LL * 1024;
            end++;
            break;
        case 'G':
        case 'g':
            mult = 1024LL * 1024 * 1024;
            end++;
            break;
        default:
            break;
        }
    }
    if (errno || end == s || *end || v < 0 || v * (double)mult > 1e18)
        return -1;
    *out = (long long)(v * (double)mult);
    return 0;
}

static void print_limit(const char *what, long long v, long long def)
{
    if (v < 0 && def > 0)
        printf("%s: %lld (the default)\n", what, def);
    else if (v < 0)
        printf("%s: none (the default)\n", what);
    else if (v == 0)
        printf("%s: none\n", what);
    else
        printf("%s: %lld\n", what, v);
}

static int quota_command(struct state_db *db, const struct config *cfg, int argc, char **argv,
                         char **err)
{
    const char *addr = argv[2];
    if (argc == 3) {
        struct state_user u;
        int found = state_user_get(db, addr, &u);
        if (found != 1) {
            cmd_error(found == 0 ? "user %s does not exist" : "database error reading %s", addr);
            return 1;
        }
        print_limit("bytes", u.quota_bytes, cfg->mail_quota);
        print_limit("messages", u.quota_messages, cfg->mail_quota_messages);
        return 0;
    }
    long long bytes, messages = -1;
    if (parse_quota(argv[3], true, &bytes) < 0 ||
        (argc == 5 && parse_quota(argv[4], false, &messages) < 0)) {
        cmd_error("a quota is a number (bytes may end in K, M or G), default or none");
        return 2;
    }
    if (state_user_set_quota(db, addr, bytes, messages, err) < 0)
        return 1;
    printf("quota of %s set\n", addr);
    return 0;
}

/* Import a Dovecot passwd-file. Returns the exit status. */
static int import_file(struct state_db *db, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        cmd_error("%s: %s", path, strerror(errno));
        return 1;
    }
    char line[4096];
    unsigned lineno = 0, added = 0, failed = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0' || line[0] == '#')
            continue;
        char *colon = strchr(line, ':');
        if (!colon) {
            cmd_error("%s:%u: expected user:hash", path, lineno);
            failed++;
            continue;
        }
        *colon = '\0';
        char *hash = colon + 1;
        char *end = strchr(hash, ':');
        if (end)
            *end = '\0';
        const char *stored = password_import_hash(hash);
        if (!stored) {
            cmd_error("%s:%u: %s: the password scheme is not supported (SHA512-CRYPT or "
                      "ARGON2ID)",
                      path, lineno, line);
            failed++;
            continue;
        }
        char *err = NULL;
        if (state_user_add(db, line, stored, &err) < 0) {
            cmd_error("%s:%u: %s", path, lineno, err);
            free(err);
            failed++;
            continue;
        }
        added++;
    }
    fclose(f);
    printf("%u user%s imported, %u line%s refused\n", added, added == 1 ? "" : "s", failed,
           failed == 1 ? "" : "s");
    return failed ? 1 : 0;
}

static int sender_command(struct state_db *db, const struct cmd_common *c, int argc, char **argv)
{
    char *err = NULL;
    int rc = 1;
    if (argc == 5 && strcmp(argv[2], "add") == 0) {
        if (state_send_as_add(db, argv[3], argv[4], &err) == 0) {
            printf("%s may send as %s\n", argv[3], argv[4]);
            rc = 0;
        }
    } else if (argc == 5 && strcmp(argv[2], "del") == 0) {
        if (state_send_as_del(db, argv[3], argv[4], &err) == 0) {
            printf("%s may no longer send as %s\n", argv[3], argv[4]);
            rc = 0;
        }
    } else if ((argc == 3 || argc == 4) && strcmp(argv[2], "list") == 0) {
        struct cmd_list l;
        cmd_list_begin(&l, c->json);
        rc = state_send_as_list(db, argc == 4 ? argv[3] : NULL, print_sender, &l) >= 0 ? 0 : 1;
        cmd_list_end(&l);
    } else {
        fputs(usage, stderr);
        return 2;
    }
    if (err) {
        cmd_error("%s", err);
        free(err);
    }
    return rc;
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
    static const char *const one_arg[] = {"add", "del", "passwd", "lock", "unlock", "import"};
    bool known = strcmp(sub, "list") == 0 || strcmp(sub, "sender") == 0;
    if (strcmp(sub, "quota") == 0) {
        known = true;
        if (argc < 3 || argc > 5) {
            fputs(usage, stderr);
            return 2;
        }
    }
    for (size_t i = 0; i < sizeof(one_arg) / sizeof(one_arg[0]); i++)
        if (strcmp(sub, one_arg[i]) == 0) {
            known = true;
            if (argc != 3) {
                fputs(usage, stderr);
                return 2;
            }
        }
    if (!known) {
        cmd_error("unknown subcommand: user %s", sub);
        fputs(usage, stderr);
        return 2;
    }
    if (strcmp(sub, "list") == 0 && argc > 3) {
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
    } else if (strcmp(sub, "import") == 0) {
        rc = import_file(db, addr);
    } else if (strcmp(sub, "sender") == 0) {
        rc = sender_command(db, &c, argc, argv);
    } else if (strcmp(sub, "quota") == 0) {
        rc = quota_command(db, cfg, argc, argv, &err);
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
