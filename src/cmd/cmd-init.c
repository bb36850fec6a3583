/* postino init: write a working configuration and create the state layout. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "lib/buf.h"
#include "lib/privs.h"
#include "lib/str.h"
#include "lib/tls.h"
#include "queue/spool.h"
#include "state/state-domain.h"

static const char usage[] =
    "usage: postino init --dir DIR --domain DOMAIN [--hostname NAME] [--port-base N]\n"
    "                    [--set KEY=VALUE ...]\n"
    "Writes DIR/postino.conf (every key documented in it), creates the state database\n"
    "with DOMAIN as the first mail domain, and the spool, mail and run directories.\n"
    "With --port-base N every service listens on 127.0.0.1 at N + its standard port\n"
    "(SMTP N+25); without it, the standard ports on every address. --set sets any\n"
    "configuration key, checked like the file. Started as root, init also creates the\n"
    "system users named by service_user and mail_user if they are missing, and gives\n"
    "them the directories they work in.\n";

#define MAX_SET 64

static int make_dir(const char *path, mode_t mode)
{
    if (mkdir(path, mode) < 0 && errno != EEXIST) {
        cmd_error("cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* chown + chmod, reporting failures. */
static int own(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
    if (chown(path, uid, gid) < 0 || chmod(path, mode) < 0) {
        cmd_error("cannot set the owner of %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* A self-signed certificate for development, if the configuration names
 * the default files and they do not exist yet. The key is readable by the
 * service user's group (smtpd loads it, and reloads it on SIGHUP). */
static int make_tls(const char *data, const struct config *cfg, bool root,
                    const struct privs_user *svc)
{
    if (cfg->tls_certificates.n != 1 ||
        strcmp(cfg->tls_certificates.items[0], "tls/cert.pem:tls/key.pem") != 0)
        return 0;
    char dir[4096 + 16], cert[4096 + 32], key[4096 + 32];
    snprintf(dir, sizeof(dir), "%s/tls", data);
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    if (make_dir(dir, 0750) < 0 || (root && own(dir, 0, svc->gid, 0750) < 0))
        return -1;
    if (access(cert, F_OK) == 0)
        return 0;
    char *err = NULL;
    const char *name = cfg->hostname[0] ? cfg->hostname : "localhost";
    char host[256];
    if (!cfg->hostname[0] && gethostname(host, sizeof(host)) == 0) {
        host[sizeof(host) - 1] = '\0';
        name = host;
    }
    if (tls_make_self_signed(cert, key, name, &err) < 0) {
        cmd_error("%s", err);
        free(err);
        return -1;
    }
    if (chmod(key, 0640) < 0 || (root && own(key, 0, svc->gid, 0640) < 0))
        return -1;
    return 0;
}

static int create_state(const char *dbpath, const char *domain)
{
    char *err = NULL;
    struct state_db *db = state_db_open(dbpath, true, &err);
    if (!db) {
        cmd_error("%s", err);
        free(err);
        return -1;
    }
    int rc = state_domain_add(db, domain, &err);
    if (rc < 0) {
        cmd_error("%s", err);
        free(err);
    }
    state_db_close(&db);
    return rc;
}

int cmd_init(int argc, char **argv)
{
    const char *dir = NULL, *domain = NULL, *hostname = NULL;
    long port_base = -1;
    const char *sets[MAX_SET];
    size_t n_sets = 0;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (!v) {
            cmd_error("%s needs a value", a);
            fputs(usage, stderr);
            return 2;
        }
        if (strcmp(a, "--dir") == 0) {
            dir = v;
        } else if (strcmp(a, "--domain") == 0) {
            domain = v;
        } else if (strcmp(a, "--hostname") == 0) {
            hostname = v;
        } else if (strcmp(a, "--port-base") == 0) {
            char *end;
            port_base = strtol(v, &end, 10);
            if (*end || port_base < 0 || port_base + 995 > 65535) {
                cmd_error("--port-base must be a number from 0 to %d", 65535 - 995);
                return 2;
            }
        } else if (strcmp(a, "--set") == 0) {
            if (n_sets >= MAX_SET) {
                cmd_error("too many --set options");
                return 2;
            }
            sets[n_sets++] = v;
        } else {
            cmd_error("unknown option %s", a);
            fputs(usage, stderr);
            return 2;
        }
    }
    if (!dir || !domain) {
        cmd_error("init needs --dir and --domain");
        fputs(usage, stderr);
        return 2;
    }

    struct config *cfg = config_new_default();
    const char *set_keys[MAX_SET + 16];
    size_t n_keys = 0;
    char *err = NULL;
    char keybuf[MAX_SET][128];
    int rc = 2;
    if (hostname) {
        if (config_set(cfg, "hostname", hostname, &err) < 0)
            goto out;
        set_keys[n_keys++] = "hostname";
    }
    if (port_base >= 0) {
        const struct {
            const char *key;
            long port;
        } ports[] = {{"smtp_listen", 25},  {"submission_listen", 587}, {"submissions_listen", 465},
                     {"imap_listen", 143}, {"imaps_listen", 993},      {"pop3_listen", 110},
                     {"pop3s_listen", 995}};
        for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
            char listen[64];
            snprintf(listen, sizeof(listen), "127.0.0.1:%ld", port_base + ports[i].port);
            config_set(cfg, ports[i].key, listen, &err);
            set_keys[n_keys++] = ports[i].key;
        }
    }
    for (size_t i = 0; i < n_sets; i++) {
        const char *eq = strchr(sets[i], '=');
        if (!eq || eq == sets[i] || (size_t)(eq - sets[i]) >= sizeof(keybuf[i])) {
            cmd_error("--set needs KEY=VALUE, not '%s'", sets[i]);
            goto out;
        }
        str_copyn(keybuf[i], sizeof(keybuf[i]), sets[i], (size_t)(eq - sets[i]));
        if (config_set(cfg, keybuf[i], eq + 1, &err) < 0)
            goto out;
        bool seen = false;
        for (size_t k = 0; k < n_keys; k++)
            if (strcmp(set_keys[k], keybuf[i]) == 0)
                seen = true;
        if (!seen)
            set_keys[n_keys++] = keybuf[i];
    }

    rc = 1;
    if (make_dir(dir, 0755) < 0)
        goto out;
    char path[4096], data[4096];
    snprintf(path, sizeof(path), "%s/postino.conf", dir);
    if (access(path, F_OK) == 0) {
        cmd_error("%s already exists; not overwriting it", path);
        goto out;
    }
    char *absdir = realpath(dir, NULL);
    if (!absdir) {
        cmd_error("%s: %s", dir, strerror(errno));
        goto out;
    }
    if (cfg->data_dir[0] == '/')
        snprintf(data, sizeof(data), "%s", cfg->data_dir);
    else if (strcmp(cfg->data_dir, ".") == 0)
        snprintf(data, sizeof(data), "%s", absdir);
    else
        snprintf(data, sizeof(data), "%s/%s", absdir, cfg->data_dir);
    free(absdir);

    bool root = privs_is_root();
    struct privs_user svc = {getuid(), getgid(), 0}, mail = {getuid(), getgid(), 0};
    if (root) {
        const char *why;
        if (privs_ensure_system_user(cfg->service_user, &why) < 0 ||
            privs_ensure_system_user(cfg->mail_user, &why) < 0 ||
            privs_lookup(cfg->service_user, &svc, &why) < 0 ||
            privs_lookup(cfg->mail_user, &mail, &why) < 0) {
            cmd_error("cannot set up the users %s and %s: %s", cfg->service_user, cfg->mail_user,
                      why);
            goto out;
        }
    }

    char p[4096 + 32];
    if (make_dir(data, 0755) < 0)
        goto out;
    snprintf(p, sizeof(p), "%s/state", data);
    /* Group-writable and setgid: imapd and pop3d check logins with the
     * service group, and the files SQLite makes beside the database (-wal,
     * -shm) must stay in that group whoever creates them. */
    if (make_dir(p, 0770) < 0 || (root && own(p, svc.uid, svc.gid, 02770) < 0))
        goto out;
    if (spool_create_dirs(data) < 0) {
        cmd_error("cannot create the spool under %s: %s", data, strerror(errno));
        goto out;
    }
    if (root) {
        /* deliver-local (mail_user) reads queued messages through the group
         * of the queue directories, which new files inherit (setgid). */
        const struct {
            const char *sub;
            gid_t gid;
            mode_t mode;
        } spool_dirs[] = {
            {"spool", mail.gid, 0750},        {"spool/incoming", mail.gid, 02750},
            {"spool/queue", mail.gid, 02750}, {"spool/free", mail.gid, 02750},
            {"spool/hold", svc.gid, 0750},    {"spool/quarantine", svc.gid, 0750},
            {"spool/corrupt", svc.gid, 0750},
        };
        for (size_t i = 0; i < sizeof(spool_dirs) / sizeof(spool_dirs[0]); i++) {
            snprintf(p, sizeof(p), "%s/%s", data, spool_dirs[i].sub);
            if (own(p, svc.uid, spool_dirs[i].gid, spool_dirs[i].mode) < 0)
                goto out;
        }
    }
    snprintf(p, sizeof(p), "%s/mail", data);
    if (make_dir(p, 0700) < 0 || (root && own(p, mail.uid, mail.gid, 0700) < 0))
        goto out;
    snprintf(p, sizeof(p), "%s/run", data);
    if (make_dir(p, 0750) < 0 || (root && own(p, 0, svc.gid, 0750) < 0))
        goto out;
    /* the share portal's encrypted files (httpd, postino share) */
    snprintf(p, sizeof(p), "%s/shares", data);
    if (make_dir(p, 0750) < 0 || (root && own(p, svc.uid, svc.gid, 0750) < 0))
        goto out;
    if (make_tls(data, cfg, root, &svc) < 0)
        goto out;

    if (root) {
        snprintf(p, sizeof(p), "%s/state", data);
        char mp[4096 + 32];
        snprintf(mp, sizeof(mp), "%s/mail", data);
        if (!privs_can_access(&svc, p, W_OK | X_OK) || !privs_can_access(&mail, mp, W_OK | X_OK)) {
            cmd_error("the users %s and %s cannot reach %s: every directory above it must be "
                      "searchable by them (chmod o+x)",
                      cfg->service_user, cfg->mail_user, data);
            goto out;
        }
    }

    /* The database is created by (and so belongs to) the service user. */
    snprintf(p, sizeof(p), "%s/state/postino.db", data);
    if (root && (setegid(svc.gid) < 0 || seteuid(svc.uid) < 0)) {
        cmd_error("cannot switch to %s: %s", cfg->service_user, strerror(errno));
        goto out;
    }
    int st = create_state(p, domain);
    if (root && (seteuid(0) < 0 || setegid(0) < 0)) {
        cmd_error("cannot switch back to root: %s", strerror(errno));
        goto out;
    }
    if (st < 0)
        goto out;
    if (root && chmod(p, 0660) < 0) {
        cmd_error("cannot chmod %s: %s", p, strerror(errno));
        goto out;
    }

    struct buf text;
    buf_init(&text, BUF_UNLIMITED);
    config_write_file(cfg, set_keys, n_keys, &text);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text.data, text.len) != (ssize_t)text.len || fsync(fd) < 0) {
        cmd_error("cannot write %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        buf_free(&text);
        goto out;
    }
    close(fd);
    buf_free(&text);

    char *listen = config_value_text(cfg, "smtp_listen");
    char *sub = config_value_text(cfg, "submission_listen");
    char *subs = config_value_text(cfg, "submissions_listen");
    printf("postino initialised in %s\n", dir);
    printf("  configuration: %s\n", path);
    printf("  mail domain:   %s\n", domain);
    printf("  SMTP:          %s\n", listen);
    printf("  submission:    %s (STARTTLS), %s (TLS)\n", sub, subs);
    free(sub);
    free(subs);
    char *imap = config_value_text(cfg, "imap_listen");
    char *imaps = config_value_text(cfg, "imaps_listen");
    char *pop3 = config_value_text(cfg, "pop3_listen");
    char *pop3s = config_value_text(cfg, "pop3s_listen");
    printf("  IMAP:          %s (STARTTLS), %s (TLS)\n", imap, imaps);
    printf("  POP3:          %s (STLS), %s (TLS)\n", pop3, pop3s);
    free(imap);
    free(imaps);
    free(pop3);
    free(pop3s);
    printf("next: postino user add USER@%s --config %s\n"
           "      postino serve --config %s\n",
           domain, path, path);
    free(listen);
    rc = 0;
out:
    if (err) {
        cmd_error("%s", err);
        free(err);
    }
    config_free(&cfg);
    return rc;
}
