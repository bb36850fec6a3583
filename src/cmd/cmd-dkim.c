/* postino dkim keygen|list|show|del|activate|deactivate */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/dkim-keyfile.h"
#include "cmd.h"
#include "lib/privs.h"
#include "lib/str.h"
#include "state/state-dkim.h"
#include "state/state-domain.h"

#define USAGE_KEYGEN                                                                               \
    "usage: postino dkim keygen DOMAIN [--selector S] [--type rsa|ed25519]\n"                      \
    "                          [--bits 2048|3072|4096]\n"
#define USAGE_LIST     "       postino dkim list [DOMAIN] [--json]\n"
#define USAGE_SHOW     "       postino dkim show DOMAIN [SELECTOR]\n"
#define USAGE_DEL      "       postino dkim del DOMAIN SELECTOR\n"
#define USAGE_ACTIVATE "       postino dkim activate|deactivate DOMAIN SELECTOR\n"
#define USAGE_OPTIONS  "Options: --config FILE\n"

#define ABOUT_KEYGEN                                                                               \
    "keygen makes a signing key for DOMAIN (one of ours), stores it in\n"                          \
    "DATA_DIR/dkim/DOMAIN/SELECTOR.pem (mode 0640, owned by the service user) and\n"               \
    "prints the TXT record to publish. --type: rsa (default, 2048 bits unless --bits)\n"           \
    "or ed25519 (RFC 8463); publishing both is recommended. The default selector is\n"             \
    "s, the year and month and r (RSA) or e (Ed25519): s202611r, s202611e.\n"
#define ABOUT_OTHERS                                                                               \
    "list shows every key, its DNS name and whether its file can be read; show\n"                  \
    "prints the TXT records of a domain's keys again; del removes a key (its row and\n"            \
    "its file); activate and deactivate mark whether a key is one to sign\n"                       \
    "outbound mail with (new keys are active).\n"

static const char usage_all[] = USAGE_KEYGEN USAGE_LIST USAGE_SHOW USAGE_DEL USAGE_ACTIVATE
    USAGE_OPTIONS ABOUT_KEYGEN ABOUT_OTHERS;
static const char usage_keygen[] = USAGE_KEYGEN USAGE_OPTIONS ABOUT_KEYGEN;
static const char usage_list[] =
    "usage: postino dkim list [DOMAIN] [--json]\n" USAGE_OPTIONS
    "Lists the DKIM keys: domain, selector, type, bits, creation date, active or\n"
    "not, the DNS name of the TXT record, and whether the key file can be read.\n";
static const char usage_show[] =
    "usage: postino dkim show DOMAIN [SELECTOR]\n" USAGE_OPTIONS
    "Prints the TXT record of one key of DOMAIN, or of each of its keys.\n";
static const char usage_del[] = "usage: postino dkim del DOMAIN SELECTOR\n" USAGE_OPTIONS
                                "Removes the key (its row and its file). Leave its TXT record in "
                                "the DNS a few\ndays more, for mail still on its way.\n";
static const char usage_activate[] =
    "usage: postino dkim activate|deactivate DOMAIN SELECTOR\n" USAGE_OPTIONS
    "Marks whether a key is one to sign outbound mail with (new keys are active);\n"
    "postino dns-records lists the TXT records of the active keys.\n";

/* The usage text of a subcommand (the whole one for an unknown name). */
static const char *usage_of(const char *sub)
{
    if (!sub)
        return usage_all;
    if (strcmp(sub, "keygen") == 0)
        return usage_keygen;
    if (strcmp(sub, "list") == 0)
        return usage_list;
    if (strcmp(sub, "show") == 0)
        return usage_show;
    if (strcmp(sub, "del") == 0)
        return usage_del;
    if (strcmp(sub, "activate") == 0 || strcmp(sub, "deactivate") == 0)
        return usage_activate;
    return usage_all;
}

/* The options of keygen, taken out of argv before the common ones. */
struct keygen_opts {
    const char *selector, *type, *bits;
};

/* Take "--selector S", "--type T", "--bits N" (or --opt=value) out of argv
 * (compacted). Returns the new argc, or -1 after printing why. */
static int take_keygen_options(int argc, char **argv, struct keygen_opts *o)
{
    static const char *const names[] = {"--selector", "--type", "--bits"};
    const char **slots[] = {&o->selector, &o->type, &o->bits};
    int out = 1;
    for (int i = 1; i < argc; i++) {
        bool taken = false;
        for (size_t k = 0; k < 3 && !taken; k++) {
            size_t n = strlen(names[k]);
            if (strcmp(argv[i], names[k]) == 0) {
                if (i + 1 >= argc) {
                    cmd_error("%s needs a value", names[k]);
                    return -1;
                }
                *slots[k] = argv[++i];
                taken = true;
            } else if (strncmp(argv[i], names[k], n) == 0 && argv[i][n] == '=') {
                *slots[k] = argv[i] + n + 1;
                taken = true;
            }
        }
        if (!taken)
            argv[out++] = argv[i];
    }
    argv[out] = NULL;
    return out;
}

/* The lowercase copy of a domain or selector argument; -1 if too long. */
static int lower_arg(const char *arg, char *out, size_t outsize)
{
    if (str_copy(out, outsize, arg) < 0)
        return -1;
    str_lower(out);
    return 0;
}

int cmd_dkim_key_value(const struct config *cfg, const struct state_dkim_key *k, struct buf *out,
                       char **error_r)
{
    char path[4096];
    if (dkim_keyfile_path(cfg->data_dir, k->domain, k->selector, path, sizeof(path)) < 0) {
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        buf_printf(&b, "bad DKIM domain or selector: %s %s", k->domain, k->selector);
        *error_r = buf_steal(&b);
        return -1;
    }
    EVP_PKEY *key = dkim_keyfile_load(path, error_r);
    if (!key)
        return -1;
    const char *why;
    int rc = dkim_keyfile_record(key, out, &why);
    EVP_PKEY_free(key);
    if (rc < 0) {
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        buf_printf(&b, "%s: %s", path, why);
        *error_r = buf_steal(&b);
    }
    return rc;
}

void cmd_zone_txt(FILE *f, const char *name, const char *value)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    dkim_keyfile_zone_strings(value, &b);
    fprintf(f, "%s. IN TXT %s\n", name, buf_cstr(&b));
    buf_free(&b);
}

/* Print a key's TXT record in zone-file form; -1 after printing why. */
static int print_record(const struct config *cfg, const struct state_dkim_key *k)
{
    struct buf value;
    buf_init(&value, BUF_UNLIMITED);
    char *err = NULL;
    if (cmd_dkim_key_value(cfg, k, &value, &err) < 0) {
        cmd_error("DKIM key %s of %s: %s", k->selector, k->domain, err);
        free(err);
        buf_free(&value);
        return -1;
    }
    char name[400];
    snprintf(name, sizeof(name), "%s._domainkey.%s", k->selector, k->domain);
    cmd_zone_txt(stdout, name, buf_cstr(&value));
    buf_free(&value);
    return 0;
}

/* Create DATA_DIR/dkim (mode 0750) before the state is opened: run as
 * root, it belongs to the owner of the state directory, whom
 * cmd_open_state() then becomes. */
static int prepare_dkim_dir(const struct config *cfg)
{
    char dir[4096], state[4096];
    if (config_data_path(cfg, "dkim", dir, sizeof(dir)) < 0 ||
        config_data_path(cfg, "state", state, sizeof(state)) < 0) {
        cmd_error("path too long");
        return -1;
    }
    if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
        cmd_error("cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    struct stat st;
    if (privs_is_root() && stat(state, &st) == 0 && st.st_uid != 0 &&
        (chown(dir, st.st_uid, st.st_gid) < 0 || chmod(dir, 0750) < 0)) {
        cmd_error("cannot give %s to the owner of %s: %s", dir, state, strerror(errno));
        return -1;
    }
    return 0;
}

static int keygen(const struct cmd_common *c, const char *domain_arg, const struct keygen_opts *o)
{
    enum dkim_key_type type = DKIM_KEY_RSA;
    if (o->type && strcmp(o->type, "ed25519") == 0) {
        type = DKIM_KEY_ED25519;
    } else if (o->type && strcmp(o->type, "rsa") != 0) {
        cmd_error("unknown key type '%s': rsa or ed25519", o->type);
        return 2;
    }
    unsigned bits = type == DKIM_KEY_ED25519 ? 256 : DKIM_RSA_BITS_DEFAULT;
    if (o->bits) {
        if (type != DKIM_KEY_RSA) {
            cmd_error("--bits is for RSA keys (an Ed25519 key has a fixed size)");
            return 2;
        }
        if (strcmp(o->bits, "2048") && strcmp(o->bits, "3072") && strcmp(o->bits, "4096")) {
            cmd_error("--bits must be 2048, 3072 or 4096, not '%s'", o->bits);
            return 2;
        }
        bits = (unsigned)atoi(o->bits);
    }
    char domain[256], selector[DKIM_SELECTOR_MAX + 1];
    if (lower_arg(domain_arg, domain, sizeof(domain)) < 0) {
        cmd_error("'%s' is not one of our domains (postino domain list)", domain_arg);
        return 1;
    }
    if (o->selector) {
        if (!dkim_selector_valid(o->selector)) {
            cmd_error("'%s' is not a valid selector: letters, digits, '-' and '_' in "
                      "dot-separated labels, %d characters at most",
                      o->selector, DKIM_SELECTOR_MAX);
            return 2;
        }
        lower_arg(o->selector, selector, sizeof(selector));
    } else {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        char ym[16];
        strftime(ym, sizeof(ym), "%Y%m", &tm);
        snprintf(selector, sizeof(selector), "s%s%c", ym, type == DKIM_KEY_RSA ? 'r' : 'e');
    }

    struct config *cfg = cmd_load_config(c);
    if (!cfg)
        return 1;
    struct state_db *db = NULL;
    if (prepare_dkim_dir(cfg) < 0 || !(db = cmd_open_state(cfg)))
        return cmd_close(&cfg, &db, NULL, 1);
    int e = state_domain_exists(db, domain);
    if (e <= 0) {
        if (e < 0)
            cmd_error("database: %s", state_db_error(db));
        else
            cmd_error("%s is not one of our domains (postino domain list)", domain);
        return cmd_close(&cfg, &db, NULL, 1);
    }
    struct state_dkim_key k = {.bits = bits, .active = true};
    str_copy(k.domain, sizeof(k.domain), domain);
    str_copy(k.selector, sizeof(k.selector), selector);
    str_copy(k.type, sizeof(k.type), type == DKIM_KEY_RSA ? "rsa" : "ed25519");
    struct state_dkim_key old;
    e = state_dkim_get(db, domain, selector, &old);
    if (e != 0) {
        if (e < 0)
            cmd_error("database: %s", state_db_error(db));
        else
            cmd_error("%s already has a DKIM key with selector %s%s", domain, selector,
                      o->selector ? "" : ": choose another one with --selector");
        return cmd_close(&cfg, &db, NULL, 1);
    }

    char dir[4096], path[4096];
    if (dkim_keyfile_path(cfg->data_dir, domain, selector, path, sizeof(path)) < 0 ||
        snprintf(dir, sizeof(dir), "%s/dkim/%s", cfg->data_dir, domain) >= (int)sizeof(dir)) {
        cmd_error("%s: bad domain name or path too long", domain);
        return cmd_close(&cfg, &db, NULL, 1);
    }
    if ((mkdir(dir, 0750) < 0 && errno != EEXIST) || chmod(dir, 0750) < 0) {
        cmd_error("cannot create %s: %s", dir, strerror(errno));
        return cmd_close(&cfg, &db, NULL, 1);
    }
    const char *why;
    EVP_PKEY *key = dkim_keyfile_generate(type, bits, &why);
    if (!key) {
        cmd_error("%s", why);
        return cmd_close(&cfg, &db, NULL, 1);
    }
    char *err = NULL;
    int rc = 1;
    if (dkim_keyfile_write(path, key, &err) == 0) {
        if (state_dkim_add(db, &k, &err) == 0)
            rc = 0;
        else
            unlink(path);
    }
    EVP_PKEY_free(key);
    if (rc == 0) {
        printf("DKIM key %s (%s, %u bits) for %s stored in %s\n", selector, k.type, bits, domain,
               path);
        printf("Publish this TXT record in the DNS zone of %s (a DNS provider's form may\n"
               "want the value as one string: join the quoted parts), then check it with\n"
               "  dig +short TXT %s._domainkey.%s\n\n",
               domain, selector, domain);
        if (print_record(cfg, &k) < 0)
            rc = 1;
    }
    return cmd_close(&cfg, &db, err, rc);
}

struct list_ctx {
    struct cmd_list l;
    const struct config *cfg;
    int broken;
};

static void print_key(const struct state_dkim_key *k, void *arg)
{
    struct list_ctx *ctx = arg;
    struct buf value;
    buf_init(&value, BUF_UNLIMITED);
    char *err = NULL;
    bool ok = cmd_dkim_key_value(ctx->cfg, k, &value, &err) == 0;
    buf_free(&value);
    char name[400], day[32];
    snprintf(name, sizeof(name), "%s._domainkey.%s", k->selector, k->domain);
    time_t t = (time_t)k->created;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(day, sizeof(day), "%Y-%m-%d", &tm);
    if (!ok) {
        ctx->broken++;
        cmd_error("warning: DKIM key %s of %s cannot be used: %s", k->selector, k->domain, err);
    }
    if (cmd_list_item(&ctx->l)) {
        printf("{\"domain\":");
        cmd_json_string(stdout, k->domain);
        printf(",\"selector\":");
        cmd_json_string(stdout, k->selector);
        printf(",\"type\":");
        cmd_json_string(stdout, k->type);
        printf(",\"bits\":%u,\"created\":%lld,\"active\":%s,\"dns_name\":", k->bits, k->created,
               k->active ? "true" : "false");
        cmd_json_string(stdout, name);
        printf(",\"ok\":%s,\"problem\":", ok ? "true" : "false");
        if (ok)
            printf("null");
        else
            cmd_json_string(stdout, err);
        printf("}");
    } else {
        printf("%s %s %s %u %s %s %s%s%s\n", k->domain, k->selector, k->type, k->bits, day,
               k->active ? "active" : "inactive", name, ok ? "" : " BROKEN: ", ok ? "" : err);
    }
    free(err);
}

static void print_show(const struct state_dkim_key *k, void *arg)
{
    struct list_ctx *ctx = arg;
    if (!k->active)
        printf("; inactive (not signing): %s\n", k->selector);
    if (print_record(ctx->cfg, k) < 0)
        ctx->broken++;
}

/* The subcommand: the first argument that is not an option (nor the file
 * of --config), or NULL. */
static const char *find_sub(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0)
            i++;
        else if (argv[i][0] != '-')
            return argv[i];
    }
    return NULL;
}

int cmd_dkim(int argc, char **argv)
{
    const char *sub = find_sub(argc, argv);
    struct keygen_opts o = {0};
    if (sub && strcmp(sub, "keygen") == 0) {
        argc = take_keygen_options(argc, argv, &o);
        if (argc < 0) {
            fputs(usage_keygen, stderr);
            return 2;
        }
    }
    const char *usage = usage_of(sub);
    struct cmd_common c;
    argc = cmd_parse_common(argc, argv, &c, usage);
    if (argc <= 0)
        return argc < 0 ? 2 : 0;
    sub = argc > 1 ? argv[1] : "";
    bool two =
        strcmp(sub, "del") == 0 || strcmp(sub, "activate") == 0 || strcmp(sub, "deactivate") == 0;
    bool ok = (strcmp(sub, "keygen") == 0 && argc == 3) ||
              (strcmp(sub, "list") == 0 && argc <= 3) ||
              (strcmp(sub, "show") == 0 && (argc == 3 || argc == 4)) || (two && argc == 4);
    if (!ok) {
        fputs(usage, stderr);
        return 2;
    }
    if (strcmp(sub, "keygen") == 0)
        return keygen(&c, argv[2], &o);

    struct config *cfg;
    struct state_db *db;
    if (cmd_open(&c, &cfg, &db) < 0)
        return 1;
    int rc = 1;
    char *err = NULL;
    struct list_ctx ctx = {.cfg = cfg};
    if (strcmp(sub, "list") == 0) {
        cmd_list_begin(&ctx.l, c.json);
        rc = state_dkim_list(db, argc == 3 ? argv[2] : NULL, false, print_key, &ctx) >= 0 ? 0 : 1;
        cmd_list_end(&ctx.l);
    } else if (strcmp(sub, "show") == 0) {
        struct state_dkim_key k;
        if (argc == 4) {
            int e = state_dkim_get(db, argv[2], argv[3], &k);
            if (e > 0)
                rc = print_record(cfg, &k) < 0 ? 1 : 0;
            else if (e == 0)
                cmd_error("no DKIM key %s for %s (postino dkim list)", argv[3], argv[2]);
        } else {
            int n = state_dkim_list(db, argv[2], false, print_show, &ctx);
            if (n == 0)
                cmd_error("%s has no DKIM key: postino dkim keygen %s", argv[2], argv[2]);
            rc = n > 0 && ctx.broken == 0 ? 0 : 1;
        }
    } else if (strcmp(sub, "del") == 0) {
        char domain[256], selector[DKIM_SELECTOR_MAX + 1], path[4096];
        if (state_dkim_del(db, argv[2], argv[3], &err) == 0) {
            rc = 0;
            lower_arg(argv[2], domain, sizeof(domain));
            lower_arg(argv[3], selector, sizeof(selector));
            if (dkim_keyfile_path(cfg->data_dir, domain, selector, path, sizeof(path)) == 0 &&
                unlink(path) < 0 && errno != ENOENT) {
                cmd_error("warning: cannot remove %s: %s", path, strerror(errno));
            }
            char dir[4096];
            if (snprintf(dir, sizeof(dir), "%s/dkim/%s", cfg->data_dir, domain) < (int)sizeof(dir))
                rmdir(dir); /* only if it is now empty */
            printf("DKIM key %s of %s deleted; remove the TXT record %s._domainkey.%s in a few "
                   "days (mail signed with it may still be on its way)\n",
                   selector, domain, selector, domain);
        }
    } else {
        bool on = strcmp(sub, "activate") == 0;
        if (state_dkim_set_active(db, argv[2], argv[3], on, &err) == 0) {
            printf("DKIM key %s of %s marked %s\n", argv[3], argv[2], on ? "active" : "inactive");
            rc = 0;
        }
    }
    return cmd_close(&cfg, &db, err, rc);
}
