#include "policy-tables.h"

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "policy/clamd.h"
#include "policy/dnsbl-sites.h"

/* path relative to data_dir unless absolute. */
static void rule_path(const struct config *cfg, const char *value, char *out, size_t size)
{
    if (value[0] == '/' || config_data_path(cfg, value, out, size) < 0)
        str_copy(out, size, value);
}

static int load_one(const struct config *cfg, const char *key, const char *value,
                    struct rule_table **out, char **error_r)
{
    *out = NULL;
    if (!value || !value[0])
        return 0;
    char path[4096];
    rule_path(cfg, value, path, sizeof(path));
    char *err = NULL;
    struct rule_table *t = rule_table_load(path, &err);
    if (t && policy_table_usable(t, &err) < 0)
        rule_table_free(&t);
    if (!t) {
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        buf_printf(&b, "%s: %s", key, err ? err : "cannot load");
        free(err);
        *error_r = buf_steal(&b);
        return -1;
    }
    *out = t;
    return 0;
}

/* The default extensions and those of attachment_extra_extensions. */
static void build_extensions(const struct config *cfg, struct policy_tables *t)
{
    struct attachment_policy def = attachment_policy_defaults();
    t->attachments = def;
    const char *extra = cfg->attachment_extra_extensions;
    if (!extra || !extra[0])
        return;
    t->extra = xstrdup(extra);
    t->extensions =
        xcalloc(def.n_blocked_extensions + POLICY_EXTRA_EXTENSIONS_MAX, sizeof(*t->extensions));
    size_t n = 0;
    for (size_t i = 0; i < def.n_blocked_extensions; i++)
        t->extensions[n++] = def.blocked_extensions[i];
    char *save = NULL;
    for (char *w = strtok_r(t->extra, ", \t", &save);
         w && n < def.n_blocked_extensions + POLICY_EXTRA_EXTENSIONS_MAX;
         w = strtok_r(NULL, ", \t", &save))
        t->extensions[n++] = w;
    t->attachments.blocked_extensions = t->extensions;
    t->attachments.n_blocked_extensions = n;
}

int policy_tables_load(const struct config *cfg, struct policy_tables *t, char **error_r)
{
    memset(t, 0, sizeof(*t));
    if (load_one(cfg, "header_checks", cfg->header_checks, &t->header_checks, error_r) < 0 ||
        load_one(cfg, "mime_header_checks", cfg->mime_header_checks, &t->mime_header_checks,
                 error_r) < 0 ||
        load_one(cfg, "body_checks", cfg->body_checks, &t->body_checks, error_r) < 0) {
        policy_tables_free(t);
        return -1;
    }
    if (cfg->dnsbl_sites && cfg->dnsbl_sites[0]) {
        struct dnsbl_sites sites;
        char *err = NULL;
        if (dnsbl_sites_parse(cfg->dnsbl_sites, strlen(cfg->dnsbl_sites), &sites, &err) < 0) {
            struct buf b;
            buf_init(&b, BUF_UNLIMITED);
            buf_printf(&b, "dnsbl_sites: %s", err ? err : "?");
            free(err);
            *error_r = buf_steal(&b);
            policy_tables_free(t);
            return -1;
        }
    }
    const char *why = NULL;
    if (cfg->clamd_socket && cfg->clamd_socket[0] &&
        clamd_address_check(cfg->clamd_socket, &why) < 0) {
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        buf_printf(&b, "clamd_socket: %s", why);
        *error_r = buf_steal(&b);
        policy_tables_free(t);
        return -1;
    }
    if (cfg->milters && cfg->milters[0]) {
        struct milter_list_defaults md = {
            .default_accept = cfg->milter_default_action == 1,
            .connect_timeout_ms = (unsigned)cfg->milter_connect_timeout * 1000u,
            .command_timeout_ms = (unsigned)cfg->milter_command_timeout * 1000u,
        };
        char *err = NULL;
        if (milter_list_parse(cfg->milters, strlen(cfg->milters), &md, &t->milters, &err) < 0) {
            struct buf b;
            buf_init(&b, BUF_UNLIMITED);
            buf_printf(&b, "milters: %s", err ? err : "?");
            free(err);
            *error_r = buf_steal(&b);
            policy_tables_free(t);
            return -1;
        }
    }
    build_extensions(cfg, t);
    t->attachments.max_depth = (unsigned)cfg->attachment_archive_depth;
    t->attachments.encrypted_action = (enum attachment_action)cfg->attachment_encrypted;
    t->attachments.uninspected_action = (enum attachment_action)cfg->attachment_uninspectable;
    struct policy_config *pc = &t->config;
    pc->mime_max_depth = (unsigned)cfg->mime_max_depth;
    pc->mime_max_parts = (unsigned)cfg->mime_max_parts;
    pc->header_checks = t->header_checks;
    pc->mime_header_checks = t->mime_header_checks;
    pc->body_checks = t->body_checks;
    pc->attachments = cfg->attachment_checks ? &t->attachments : NULL;
    return 0;
}

void policy_tables_free(struct policy_tables *t)
{
    rule_table_free(&t->header_checks);
    rule_table_free(&t->mime_header_checks);
    rule_table_free(&t->body_checks);
    free(t->extensions);
    free(t->extra);
    memset(t, 0, sizeof(*t));
}
