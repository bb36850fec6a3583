/* share-policy: the portal's per-domain policy (see the header). */
#include "share/share-policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define ALL_MODES                                                                                  \
    ((1u << SHARE_PW_GENERATED) | (1u << SHARE_PW_MANUAL) | (1u << SHARE_PW_LINK) |                \
     (1u << SHARE_PW_E2E))

static int refuse(const char *entry, const char *why, char **error_r)
{
    char shown[200];
    str_printable(shown, sizeof(shown), entry, strlen(entry));
    if (error_r) {
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        buf_printf(&b, "share_domain_policy: '%s': %s", shown, why);
        *error_r = buf_steal(&b);
    }
    return -1;
}

/* One option of an entry (NUL-terminated, in the copy). NULL, or why not. */
static const char *option(struct share_domain_rule *r, char *opt)
{
    char *eq = strchr(opt, '=');
    if (!eq || eq == opt || !eq[1])
        return "an option is NAME=VALUE";
    *eq = '\0';
    char *v = eq + 1;
    size_t vl = strlen(v);
    if (v[0] == '|' || v[vl - 1] == '|' || strstr(v, "||"))
        return "an empty element in a list joined by |";
    if (strcmp(opt, "senders") == 0) {
        str_lower(v);
        if (strcmp(v, "all") == 0)
            r->senders = NULL;
        else if (strcmp(v, "none") == 0)
            r->senders = "";
        else if (strchr(v, '@'))
            r->senders = v;
        else
            return "senders: all, none, or addresses joined by |";
    } else if (strcmp(opt, "max_size") == 0) {
        long long n;
        if (config_parse_size(v, &n) < 0 || n <= 0)
            return "max_size: a size like 500M";
        r->max_size = (unsigned long long)n;
    } else if (strcmp(opt, "expires_max") == 0) {
        char *end;
        long d = strtol(v, &end, 10);
        if (*end || d < 1 || d > 3650)
            return "expires_max: 1 to 3650 days";
        r->expires_max = d;
    } else if (strcmp(opt, "modes") == 0) {
        r->modes = 0;
        for (char *save = NULL, *m = strtok_r(v, "|", &save); m; m = strtok_r(NULL, "|", &save)) {
            int mode = share_password_mode_parse(m);
            if (mode < 0)
                return "modes: generated, manual, link, e2e joined by |";
            r->modes |= 1u << mode;
        }
        if (!r->modes)
            return "modes: at least one";
    } else if (strcmp(opt, "external") == 0) {
        if (strcmp(v, "yes") == 0)
            r->external = 1;
        else if (strcmp(v, "no") == 0)
            r->external = 0;
        else
            return "external: yes or no";
    } else {
        return "unknown option (senders, max_size, expires_max, modes, external)";
    }
    return NULL;
}

int share_policy_parse(const char *text, size_t len, struct share_policy *out, char **error_r)
{
    memset(out, 0, sizeof(*out));
    if (len > SHARE_POLICY_TEXT_MAX)
        return refuse("...", "the setting is too long", error_r);
    out->text = xmalloc(len + 1);
    memcpy(out->text, text, len);
    out->text[len] = '\0';
    char *save = NULL;
    for (char *entry = strtok_r(out->text, ",", &save); entry; entry = strtok_r(NULL, ",", &save)) {
        while (*entry == ' ' || *entry == '\t')
            entry++;
        if (!*entry)
            continue;
        if (out->n == SHARE_POLICY_DOMAINS_MAX) {
            char copy[200];
            str_copy(copy, sizeof(copy), entry);
            share_policy_free(out);
            return refuse(copy, "too many domains", error_r);
        }
        struct share_domain_rule *r = &out->r[out->n];
        *r = (struct share_domain_rule){.external = -1};
        char *wsave = NULL;
        char *word = strtok_r(entry, " \t", &wsave);
        str_lower(word);
        if (!strchr(word, '.') || strchr(word, '@') || strchr(word, '=')) {
            char copy[200];
            str_copy(copy, sizeof(copy), word);
            share_policy_free(out);
            return refuse(copy, "an entry starts with its domain", error_r);
        }
        r->domain = word;
        for (size_t i = 0; i < out->n; i++)
            if (strcmp(out->r[i].domain, word) == 0) {
                char copy[200];
                str_copy(copy, sizeof(copy), word);
                share_policy_free(out);
                return refuse(copy, "the domain has two entries", error_r);
            }
        while ((word = strtok_r(NULL, " \t", &wsave))) {
            char copy[200];
            str_copy(copy, sizeof(copy), word);
            const char *why = option(r, word);
            if (why) {
                share_policy_free(out);
                return refuse(copy, why, error_r);
            }
        }
        out->n++;
    }
    return 0;
}

void share_policy_free(struct share_policy *p)
{
    free(p->text);
    memset(p, 0, sizeof(*p));
}

static const struct share_domain_rule *rule_of(const struct share_policy *p, const char *domain)
{
    for (size_t i = 0; domain && i < p->n; i++)
        if (strcasecmp(p->r[i].domain, domain) == 0)
            return &p->r[i];
    return NULL;
}

/* Whether address is one of "a@x|b@x" (case-insensitive). */
static bool listed(const char *list, const char *address)
{
    size_t n = strlen(address);
    for (const char *p = list; *p;) {
        size_t k = strcspn(p, "|");
        if (k == n && strncasecmp(p, address, n) == 0)
            return true;
        p += k + (p[k] == '|');
    }
    return false;
}

void share_policy_limits(const struct share_policy *p, const struct config *cfg, const char *sender,
                         bool external, struct share_limits *out)
{
    *out = (struct share_limits){.may_send = true,
                                 .max_size = (unsigned long long)cfg->share_max_size,
                                 .expires_max = (long)cfg->share_expires_max,
                                 .modes = ALL_MODES};
    if (external)
        return;
    const char *at = strrchr(sender, '@');
    const struct share_domain_rule *r = rule_of(p, at ? at + 1 : NULL);
    if (!r)
        return;
    if (r->senders)
        out->may_send = r->senders[0] && listed(r->senders, sender);
    if (r->max_size && r->max_size < out->max_size)
        out->max_size = r->max_size;
    if (r->expires_max && r->expires_max < out->expires_max)
        out->expires_max = r->expires_max;
    if (r->modes)
        out->modes = r->modes;
}

bool share_policy_external_ok(const struct share_policy *p, const struct config *cfg,
                              const char *domain)
{
    const struct share_domain_rule *r = rule_of(p, domain);
    return r && r->external >= 0 ? r->external == 1 : cfg->share_external_senders;
}

bool share_policy_external_any(const struct share_policy *p, const struct config *cfg)
{
    if (cfg->share_external_senders)
        return true;
    for (size_t i = 0; i < p->n; i++)
        if (p->r[i].external == 1)
            return true;
    return false;
}
