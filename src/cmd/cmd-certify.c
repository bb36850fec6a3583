/* postino certify keygen|verify|log: certified mail (docs/certify.md). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "certify/certify-keys.h"
#include "certify/certify-log.h"
#include "certify/certify-receipt.h"
#include "certify/certify-verify.h"
#include "cmd.h"
#include "lib/privs.h"
#include "lib/str.h"

/* Exit statuses of `postino certify verify`. */
#define VERIFY_EX_VALID     0
#define VERIFY_EX_INVALID   1
#define VERIFY_EX_USAGE     2
#define VERIFY_EX_UNTRUSTED 3
#define VERIFY_EX_ERROR     4

#define USAGE_KEYGEN  "usage: postino certify keygen DOMAIN\n"
#define USAGE_VERIFY  "       postino certify verify FILE [--json]\n"
#define USAGE_LOG     "       postino certify log [--message-id ID] [--verify] [--prune] [--json]\n"
#define USAGE_OPTIONS "Options: --config FILE\n"
#define ABOUT                                                                                      \
    "keygen makes a signing key and a self-signed certificate for DOMAIN's certified\n"            \
    "mail service in certified_dir (DOMAIN.key mode 0640, DOMAIN.crt) and prints the\n"            \
    "certificate's SHA-256 fingerprint; give DOMAIN.crt to the peer services that\n"               \
    "should trust it (their certified_trusted).\n"                                                 \
    "verify checks a receipt, notice or envelope (a message file): exit 0 valid,\n"                \
    "1 invalid (altered, malformed or inconsistent), 3 untrusted (intact but signed\n"             \
    "by a service not trusted), 4 the file or the configuration cannot be read,\n"                 \
    "2 usage error.\n"                                                                             \
    "log shows the evidence log (only the records of one message with --message-id),\n"            \
    "checks its hash chain with --verify (exit 1 if broken), and with --prune drops\n"             \
    "the records older than certified_log_retention.\n"

static const char usage_all[] = USAGE_KEYGEN USAGE_VERIFY USAGE_LOG USAGE_OPTIONS ABOUT;

/* Create the keys directory (mode 0750), given to the owner of the state
 * directory when run as root. */
static int prepare_keys_dir(const struct config *cfg, const char *dir)
{
    char parent[CERTIFY_PATH_MAX], state[CERTIFY_PATH_MAX];
    if (str_copy(parent, sizeof(parent), dir) < 0 ||
        config_data_path(cfg, "state", state, sizeof(state)) < 0) {
        cmd_error("path too long");
        return -1;
    }
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        if (mkdir(parent, 0750) < 0 && errno != EEXIST) {
            cmd_error("cannot create %s: %s", parent, strerror(errno));
            return -1;
        }
    }
    if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
        cmd_error("cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    struct stat st;
    if (privs_is_root() && stat(state, &st) == 0 && st.st_uid != 0 &&
        (chown(parent, st.st_uid, st.st_gid) < 0 || chown(dir, st.st_uid, st.st_gid) < 0 ||
         chmod(dir, 0750) < 0)) {
        cmd_error("cannot give %s to the owner of %s: %s", dir, state, strerror(errno));
        return -1;
    }
    return 0;
}

static int keygen(const struct cmd_common *c, const char *domain_arg)
{
    char domain[256];
    if (str_copy(domain, sizeof(domain), domain_arg) < 0) {
        cmd_error("domain name too long");
        return 2;
    }
    str_lower(domain);
    struct config *cfg = cmd_load_config(c);
    if (!cfg)
        return 1;
    char dir[CERTIFY_PATH_MAX], crt[CERTIFY_PATH_MAX], key[CERTIFY_PATH_MAX];
    if (certify_keys_dir(cfg, dir, sizeof(dir)) < 0 ||
        certify_key_paths(cfg, domain, crt, sizeof(crt), key, sizeof(key)) < 0) {
        cmd_error("'%s': not a domain name, or path too long", domain);
        config_free(&cfg);
        return 1;
    }
    bool listed = false;
    for (size_t i = 0; i < cfg->certified_domains.n; i++)
        if (strcmp(cfg->certified_domains.items[i], domain) == 0)
            listed = true;
    int rc = 1;
    char fpr[CERTIFY_FINGERPRINT_LEN];
    char *err = NULL;
    if (prepare_keys_dir(cfg, dir) < 0)
        goto out;
    if (certify_keygen(crt, key, domain, fpr, &err) < 0) {
        cmd_error("%s", err);
        free(err);
        goto out;
    }
    struct stat st;
    if (privs_is_root() && stat(dir, &st) == 0 && st.st_uid != 0 &&
        (chown(key, st.st_uid, st.st_gid) < 0 || chown(crt, st.st_uid, st.st_gid) < 0)) {
        cmd_error("cannot give %s to the owner of %s: %s", key, dir, strerror(errno));
        goto out;
    }
    printf("certificate %s\nkey         %s\nfingerprint SHA256:%s\n", crt, key, fpr);
    if (!listed)
        printf("note: %s is not in certified_domains yet\n", domain);
    rc = 0;
out:
    config_free(&cfg);
    return rc;
}

/* Read a whole file, bounded by CERTIFY_MESSAGE_MAX. */
static int read_file(const char *path, struct buf *out)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        cmd_error("cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (buf_append(out, chunk, n) < 0) {
            cmd_error("%s: too large", path);
            rc = -1;
            break;
        }
    }
    if (ferror(f)) {
        cmd_error("cannot read %s", path);
        rc = -1;
    }
    if (f != stdin)
        fclose(f);
    return rc;
}

static int verify(const struct cmd_common *c, const char *path)
{
    struct config *cfg = cmd_load_config(c);
    if (!cfg)
        return VERIFY_EX_ERROR;
    char *err = NULL;
    X509_STORE *store = certify_trust_load(cfg, &err);
    if (!store) {
        /* Nothing trusted: a receipt can still be found intact (untrusted). */
        fprintf(stderr, "postino: warning: %s\n", err);
        free(err);
    }
    struct buf msg;
    buf_init(&msg, (size_t)CERTIFY_MESSAGE_MAX);
    if (read_file(path, &msg) < 0) {
        buf_free(&msg);
        X509_STORE_free(store);
        config_free(&cfg);
        return VERIFY_EX_ERROR;
    }
    struct certify_verify_result r;
    certify_verify(msg.data ? msg.data : "", msg.len, store, &r);
    const struct certify_data *d = &r.data;
    if (c->json) {
        printf("{\"verdict\":\"%s\",\"reason\":", certify_verdict_name(r.verdict));
        cmd_json_string(stdout, r.reason);
        printf(",\"type\":");
        cmd_json_string(stdout, d->id[0] ? certify_type_name(d->type) : "");
        printf(",\"identifier\":");
        cmd_json_string(stdout, d->id);
        printf(",\"service\":");
        cmd_json_string(stdout, d->service);
        printf(",\"message_id\":");
        cmd_json_string(stdout, d->msgid);
        printf(",\"sender\":");
        cmd_json_string(stdout, d->sender);
        printf(",\"delivery\":");
        cmd_json_string(stdout, d->delivery);
        printf(",\"error\":");
        cmd_json_string(stdout, d->id[0] ? certify_error_name(d->error) : "");
        printf(",\"signer\":");
        cmd_json_string(stdout, r.signer_subject);
        printf(",\"fingerprint\":");
        cmd_json_string(stdout, r.signer);
        printf("}\n");
    } else {
        printf("%s%s%s\n", certify_verdict_name(r.verdict), r.reason[0] ? ": " : "", r.reason);
        if (d->id[0]) {
            printf("type        %s\nidentifier  %s\nservice     %s\nmessage-id  %s\n"
                   "sender      %s\n",
                   certify_type_name(d->type), d->id, d->service, d->msgid, d->sender);
            for (size_t i = 0; i < d->n_rcpts; i++)
                printf("recipient   %s (%s)\n", d->rcpts[i].addr,
                       d->rcpts[i].certified ? "certified" : "external");
            if (d->delivery[0])
                printf("delivery    %s\n", d->delivery);
            if (d->error != CERTIFY_ERR_NONE)
                printf("error       %s %s\n", certify_error_name(d->error), d->error_ext);
        }
        if (r.signer[0])
            printf("signer      %s\n            SHA256:%s\n", r.signer_subject, r.signer);
    }
    int rc = r.verdict == CERTIFY_VALID       ? VERIFY_EX_VALID
             : r.verdict == CERTIFY_UNTRUSTED ? VERIFY_EX_UNTRUSTED
                                              : VERIFY_EX_INVALID;
    certify_data_free(&r.data);
    buf_free(&msg);
    X509_STORE_free(store);
    config_free(&cfg);
    return rc;
}

struct show_ctx {
    const char *msgid; /* only these, or NULL */
    struct cmd_list list;
    size_t n;
};

static bool show_record(void *arg, const struct certify_log_record *rec)
{
    struct show_ctx *s = arg;
    if (s->msgid && strcmp(s->msgid, rec->msgid) != 0)
        return true;
    s->n++;
    char when[32];
    struct tm tm;
    if (!gmtime_r(&rec->time, &tm) || strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        str_copy(when, sizeof(when), "?");
    if (cmd_list_item(&s->list)) {
        printf("{\"seq\":%llu,\"time\":\"%s\",\"event\":", rec->seq, when);
        cmd_json_string(stdout, rec->event);
        const char *names[] = {"queue_id",   "message_id", "identifier", "sender",
                               "recipients", "detail",     "prev",       "hash"};
        const char *values[] = {rec->queue_id, rec->msgid,  rec->id,   rec->sender,
                                rec->rcpt,     rec->detail, rec->prev, rec->hash};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            printf(",\"%s\":", names[i]);
            cmd_json_string(stdout, values[i]);
        }
        printf("}");
    } else {
        char line[4 * CERTIFY_LOG_FIELD_MAX];
        str_format(line, sizeof(line), "%llu %s %s %s %s %s -> %s %s", rec->seq, when, rec->event,
                   rec->queue_id[0] ? rec->queue_id : "-", rec->msgid[0] ? rec->msgid : "-",
                   rec->sender[0] ? rec->sender : "-", rec->rcpt[0] ? rec->rcpt : "-", rec->detail);
        char printable[sizeof(line) * 4];
        puts(str_printable(printable, sizeof(printable), line, strlen(line)));
    }
    return true;
}

static int log_cmd(const struct cmd_common *c, const char *msgid, bool check, bool prune)
{
    struct config *cfg = cmd_load_config(c);
    if (!cfg)
        return 1;
    char path[CERTIFY_PATH_MAX];
    int rc = 1;
    char *err = NULL;
    if (certify_log_path(cfg, path, sizeof(path)) < 0) {
        cmd_error("path too long");
        goto out;
    }
    if (prune) {
        size_t n = 0;
        time_t before = certify_log_cutoff(time(NULL), cfg->certified_log_retention);
        if (certify_log_prune(path, before, &n, &err) < 0) {
            cmd_error("%s", err);
            goto out;
        }
        printf("pruned %zu records\n", n);
        rc = 0;
        goto out;
    }
    if (check) {
        struct certify_log_check k;
        if (certify_log_verify(path, &k, &err) < 0) {
            cmd_error("%s", err);
            goto out;
        }
        if (c->json) {
            printf("{\"ok\":%s,\"records\":%zu,\"first_seq\":%llu,\"bad_seq\":%llu,\"reason\":",
                   k.ok ? "true" : "false", k.records, k.first_seq, k.bad_seq);
            cmd_json_string(stdout, k.reason);
            printf("}\n");
        } else if (k.ok) {
            printf("ok: %zu records, the chain holds%s\n", k.records,
                   k.records && k.first_seq > 1 ? " (from a checkpoint)" : "");
        } else {
            printf("BROKEN at record %llu: %s\n", k.bad_seq, k.reason);
        }
        rc = k.ok ? 0 : 1;
        goto out;
    }
    struct show_ctx s = {.msgid = msgid};
    cmd_list_begin(&s.list, c->json);
    int r = certify_log_read(path, show_record, &s, &err);
    cmd_list_end(&s.list);
    if (r < 0) {
        cmd_error("%s (postino certify log --verify)", err);
        goto out;
    }
    rc = 0;
out:
    free(err);
    config_free(&cfg);
    return rc;
}

/* Take "--message-id ID", "--verify" and "--prune" out of argv. */
static int take_log_options(int argc, char **argv, const char **msgid, bool *check, bool *prune)
{
    int out = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--message-id") == 0) {
            if (i + 1 >= argc) {
                cmd_error("--message-id needs a value");
                return -1;
            }
            *msgid = argv[++i];
        } else if (strncmp(argv[i], "--message-id=", 13) == 0) {
            *msgid = argv[i] + 13;
        } else if (strcmp(argv[i], "--verify") == 0) {
            *check = true;
        } else if (strcmp(argv[i], "--prune") == 0) {
            *prune = true;
        } else {
            argv[out++] = argv[i];
        }
    }
    argv[out] = NULL;
    return out;
}

int cmd_certify(int argc, char **argv)
{
    const char *msgid = NULL;
    bool check = false, prune = false;
    argc = take_log_options(argc, argv, &msgid, &check, &prune);
    if (argc < 0)
        return 2;
    struct cmd_common c;
    argc = cmd_parse_common(argc, argv, &c, usage_all);
    if (argc < 0)
        return 2;
    if (c.help) {
        fputs(usage_all, stdout);
        return 0;
    }
    const char *sub = argc > 1 ? argv[1] : NULL;
    if (sub && strcmp(sub, "keygen") == 0 && argc == 3)
        return keygen(&c, argv[2]);
    if (sub && strcmp(sub, "verify") == 0 && argc == 3)
        return verify(&c, argv[2]);
    if (sub && strcmp(sub, "log") == 0 && argc == 2)
        return log_cmd(&c, msgid, check, prune);
    fputs(usage_all, stderr);
    return 2;
}
