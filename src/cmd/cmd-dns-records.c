/* postino dns-records DOMAIN: the DNS records a domain served here needs. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cmd.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "state/state-dkim.h"
#include "state/state-domain.h"

static const char usage[] =
    "usage: postino dns-records DOMAIN [--json]\n"
    "Options: --config FILE\n"
    "Prints, in zone-file syntax ready to paste, the records to publish for DOMAIN\n"
    "(one of ours), each after a comment saying why: MX (this server's hostname),\n"
    "SPF, the TXT record of each active DKIM key, DMARC, MTA-STS (with the policy\n"
    "file to serve over HTTPS) and TLS-RPT. With --json, a list of objects\n"
    "{name, type, value, why}; the MTA-STS policy is the entry of type \"file\"\n"
    "whose name is its https URL.\n";

/* The MTA-STS policy lasts this long in senders' caches while testing. */
#define MTA_STS_MAX_AGE 86400

/* Where the records go: zone-file text, or a JSON list. */
struct records {
    struct cmd_list l;
    bool json;
};

/* One record: a comment line with why, then the zone-file line (TXT values
 * split into 255-octet strings), or one JSON object. name has no final
 * dot. */
static void add(struct records *r, const char *name, const char *type, const char *value,
                const char *why)
{
    if (r->json) {
        cmd_list_item(&r->l);
        printf("{\"name\":");
        cmd_json_string(stdout, name);
        printf(",\"type\":");
        cmd_json_string(stdout, type);
        printf(",\"value\":");
        cmd_json_string(stdout, value);
        printf(",\"why\":");
        cmd_json_string(stdout, why);
        printf("}");
        return;
    }
    printf("; %s\n", why);
    if (strcmp(type, "TXT") == 0)
        cmd_zone_txt(stdout, name, value);
    else
        printf("%s. IN %s %s.\n", name, type, value);
}

struct dkim_ctx {
    struct records *r;
    const struct config *cfg;
    int n;
};

static void add_dkim(const struct state_dkim_key *k, void *arg)
{
    struct dkim_ctx *ctx = arg;
    struct buf value, why;
    buf_init(&value, BUF_UNLIMITED);
    buf_init(&why, BUF_UNLIMITED);
    char *err = NULL;
    char name[400];
    snprintf(name, sizeof(name), "%s._domainkey.%s", k->selector, k->domain);
    ctx->n++;
    if (cmd_dkim_key_value(ctx->cfg, k, &value, &err) < 0) {
        cmd_error("warning: DKIM key %s of %s left out: %s", k->selector, k->domain, err);
        if (!ctx->r->json)
            printf("; DKIM: the key %s cannot be read (%s): see postino dkim list\n", k->selector,
                   err);
        free(err);
    } else {
        buf_printf(&why,
                   "DKIM (RFC 6376%s): the public %s key of selector %s, with which receivers "
                   "verify the DKIM signatures of mail from %s",
                   strcmp(k->type, "ed25519") == 0 ? ", RFC 8463" : "", k->type, k->selector,
                   k->domain);
        add(ctx->r, name, "TXT", buf_cstr(&value), buf_cstr(&why));
    }
    buf_free(&value);
    buf_free(&why);
}

/* The MTA-STS policy file for mx, and its id: the first 16 hex digits of
 * its SHA-256, so that the id changes exactly when the policy does. */
static void mta_sts_policy(const char *mx, struct buf *policy, char id[17])
{
    buf_printf(policy, "version: STSv1\nmode: testing\nmx: %s\nmax_age: %d\n", mx, MTA_STS_MAX_AGE);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(policy->data, policy->len, md, &mdlen, EVP_sha256(), NULL) != 1)
        mdlen = 0;
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < 8; i++) {
        id[2 * i] = i < mdlen ? hex[md[i] >> 4] : '0';
        id[2 * i + 1] = i < mdlen ? hex[md[i] & 15] : '0';
    }
    id[16] = '\0';
}

int cmd_dns_records(int argc, char **argv)
{
    struct cmd_common c;
    argc = cmd_parse_common(argc, argv, &c, usage);
    if (argc <= 0)
        return argc < 0 ? 2 : 0;
    if (argc != 2) {
        fputs(usage, stderr);
        return 2;
    }
    char domain[256];
    if (str_copy(domain, sizeof(domain), argv[1]) < 0) {
        cmd_error("'%s' is not one of our domains (postino domain list)", argv[1]);
        return 1;
    }
    str_lower(domain);
    struct config *cfg;
    struct state_db *db;
    if (cmd_open(&c, &cfg, &db) < 0)
        return 1;
    int e = state_domain_exists(db, domain);
    if (e <= 0) {
        if (e < 0)
            cmd_error("database: %s", state_db_error(db));
        else
            cmd_error("%s is not one of our domains (postino domain list)", domain);
        return cmd_close(&cfg, &db, NULL, 1);
    }
    char mx[256];
    str_copy(mx, sizeof(mx), cfg->hostname);
    str_lower(mx);
    if (!strchr(mx, '.'))
        cmd_error("warning: the hostname '%s' is not a fully qualified name; set hostname in "
                  "%s to the name the MX record should point to",
                  mx, cfg->path);

    struct records r = {.json = c.json};
    if (r.json)
        cmd_list_begin(&r.l, true);
    else
        printf("; DNS records for %s, to add to its zone. Generated by postino dns-records.\n",
               domain);
    struct buf why, value;
    buf_init(&why, BUF_UNLIMITED);
    buf_init(&value, BUF_UNLIMITED);

    buf_printf(&why,
               "MX: mail for %s is delivered to this server, %s (it needs A/AAAA records, and "
               "reverse DNS naming it)",
               domain, mx);
    buf_printf(&value, "10 %s", mx);
    add(&r, domain, "MX", buf_cstr(&value), buf_cstr(&why));

    buf_reset(&why);
    buf_printf(&why,
               "SPF (RFC 7208): only the MX hosts (this server) send mail from %s; add the "
               "addresses of any other sender (ip4:, ip6:, include:) before -all",
               domain);
    add(&r, domain, "TXT", "v=spf1 mx -all", buf_cstr(&why));

    struct dkim_ctx dctx = {.r = &r, .cfg = cfg};
    if (state_dkim_list(db, domain, true, add_dkim, &dctx) < 0) {
        cmd_error("database: %s", state_db_error(db));
        buf_free(&why);
        buf_free(&value);
        if (r.json)
            cmd_list_end(&r.l);
        return cmd_close(&cfg, &db, NULL, 1);
    }
    if (dctx.n == 0 && !r.json)
        printf("; DKIM: %s has no key yet: run postino dkim keygen %s (and again with --type "
               "ed25519), then postino dns-records %s again\n",
               domain, domain, domain);

    buf_reset(&why);
    buf_reset(&value);
    buf_printf(&why,
               "DMARC (RFC 7489): reports go to postmaster@%s; once they show only your own "
               "servers, passing SPF or DKIM, move p=none to p=quarantine, then p=reject",
               domain);
    buf_printf(&value, "v=DMARC1; p=none; rua=mailto:postmaster@%s", domain);
    char name[300];
    snprintf(name, sizeof(name), "_dmarc.%s", domain);
    add(&r, name, "TXT", buf_cstr(&value), buf_cstr(&why));

    struct buf policy;
    buf_init(&policy, BUF_UNLIMITED);
    char id[17];
    mta_sts_policy(mx, &policy, id);
    buf_reset(&why);
    buf_reset(&value);
    buf_printf(&why,
               "MTA-STS (RFC 8461): senders must reach %s over TLS with a valid certificate; "
               "the id changes whenever the policy file changes",
               domain);
    buf_printf(&value, "v=STSv1; id=%s", id);
    snprintf(name, sizeof(name), "_mta-sts.%s", domain);
    add(&r, name, "TXT", buf_cstr(&value), buf_cstr(&why));

    char url[320];
    snprintf(url, sizeof(url), "https://mta-sts.%s/.well-known/mta-sts.txt", domain);
    buf_reset(&why);
    buf_printf(&why,
               "MTA-STS policy: serve this file at %s (mta-sts.%s needs an address and a valid "
               "certificate); after some weeks of clean TLS reports change mode: testing to "
               "mode: enforce, and the id above with it",
               url, domain);
    if (r.json) {
        add(&r, url, "file", buf_cstr(&policy), buf_cstr(&why));
    } else {
        printf("; %s\n", buf_cstr(&why));
        const char *p = buf_cstr(&policy);
        while (*p) {
            size_t n = strcspn(p, "\n");
            printf(";   %.*s\n", (int)n, p);
            p += n + (p[n] == '\n');
        }
    }

    buf_reset(&why);
    buf_reset(&value);
    buf_printf(&why,
               "TLS-RPT (RFC 8460): senders report their TLS failures delivering to %s to "
               "postmaster@%s",
               domain, domain);
    buf_printf(&value, "v=TLSRPTv1; rua=mailto:postmaster@%s", domain);
    snprintf(name, sizeof(name), "_smtp._tls.%s", domain);
    add(&r, name, "TXT", buf_cstr(&value), buf_cstr(&why));

    if (r.json)
        cmd_list_end(&r.l);
    buf_free(&policy);
    buf_free(&why);
    buf_free(&value);
    return cmd_close(&cfg, &db, NULL, 0);
}
