/* dmarc-tool: drive the DMARC library from the command line, for the
 * transcribed test cases (tests/integration/test_dmarc_cases.py). Built
 * with the tests only; not installed.
 *
 *   dmarc-tool [--psl FILE] record TEXT        parse a record
 *   dmarc-tool [--psl FILE] org DOMAIN         its Organizational Domain
 *   dmarc-tool [--psl FILE] align A B r|s      identifier alignment
 *   dmarc-tool [--psl FILE] from [VALUE...]    the From domain of these From fields
 *   dmarc-tool [--psl FILE] eval < CASE        a whole evaluation
 *
 * A CASE is lines of "keyword arguments":
 *   from-domain DOMAIN          (or: from VALUE, once per From field)
 *   txt NAME RECORD...          a TXT record at NAME (repeat for several)
 *   dns-fail NAME               the lookup of NAME fails temporarily
 *   spf RESULT [DOMAIN]         SPF result and the domain it was for
 *   dkim RESULT DOMAIN          one DKIM signature (repeat for several)
 *   ip ADDRESS                  the client address
 *   random N                    0..99, compared with pct=
 * Every other name has no TXT records. Output is key=value lines. Exit
 * status 0, or 2 on a usage error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dmarc.h"
#include "lib/str.h"

#define CASE_LINES_MAX 64
#define LINE_MAX_LEN   4096

static int usage(void)
{
    fprintf(stderr, "usage: dmarc-tool [--psl FILE] record|org|align|from|eval ...\n");
    return 2;
}

static int cmd_record(const char *txt)
{
    struct dmarc_record r;
    dmarc_record_init(&r);
    const char *err = NULL;
    enum dmarc_record_status st = dmarc_record_parse(txt, strlen(txt), &r, &err);
    if (st != DMARC_RECORD_OK) {
        printf("status=%s\nerror=%s\n", dmarc_record_status_name(st), err);
        return 0;
    }
    printf("status=ok\np=%s\nsp=%s\nsp_given=%d\np_implied=%d\npct=%u\nadkim=%s\naspf=%s\n"
           "fo=%u\nrf=%u\nri=%lu\n",
           dmarc_policy_name(r.p), dmarc_policy_name(r.sp), r.sp_given, r.p_implied, r.pct,
           dmarc_align_name(r.adkim), dmarc_align_name(r.aspf), r.fo, r.rf, r.ri);
    for (size_t i = 0; i < r.rua_count; i++)
        printf("rua=%s %llu\n", r.rua[i].uri, r.rua[i].max_size);
    for (size_t i = 0; i < r.ruf_count; i++)
        printf("ruf=%s %llu\n", r.ruf[i].uri, r.ruf[i].max_size);
    dmarc_record_free(&r);
    return 0;
}

static int cmd_org(const struct dmarc_orgdomain *od, const char *domain)
{
    char out[DMARC_DOMAIN_SIZE];
    const char *err;
    if (dmarc_orgdomain_get(od, domain, out, &err) < 0)
        printf("status=error\nerror=%s\n", err);
    else
        printf("status=ok\norg=%s\n", out);
    return 0;
}

static int cmd_align(const struct dmarc_orgdomain *od, char **argv)
{
    enum dmarc_align mode;
    if (strcmp(argv[2], "r") == 0)
        mode = DMARC_ALIGN_RELAXED;
    else if (strcmp(argv[2], "s") == 0)
        mode = DMARC_ALIGN_STRICT;
    else
        return usage();
    printf("aligned=%d\n", dmarc_aligned(od, argv[0], argv[1], mode));
    return 0;
}

static int cmd_from(const struct dmarc_orgdomain *od, int argc, char **argv)
{
    const char *fields[CASE_LINES_MAX];
    size_t lens[CASE_LINES_MAX];
    if (argc > CASE_LINES_MAX)
        return usage();
    for (int i = 0; i < argc; i++) {
        fields[i] = argv[i];
        lens[i] = strlen(argv[i]);
    }
    struct dmarc_eval *ev = dmarc_eval_new(od);
    enum dmarc_from_status st = dmarc_eval_from(ev, fields, lens, (size_t)argc);
    printf("status=%s\n", dmarc_from_status_name(st));
    if (st == DMARC_FROM_OK)
        printf("domain=%s\n", dmarc_eval_from_domain(ev));
    else
        printf("reason=%s\n", dmarc_eval_reason(ev));
    dmarc_eval_free(&ev);
    return 0;
}

static enum dmarc_auth_result auth_result(const char *s)
{
    static const enum dmarc_auth_result all[] = {
        DMARC_AUTH_NONE,    DMARC_AUTH_PASS,      DMARC_AUTH_FAIL,      DMARC_AUTH_SOFTFAIL,
        DMARC_AUTH_NEUTRAL, DMARC_AUTH_TEMPERROR, DMARC_AUTH_PERMERROR,
    };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(s, dmarc_auth_result_name(all[i])) == 0)
            return all[i];
    fprintf(stderr, "dmarc-tool: unknown result '%s', taken as none\n", s);
    return DMARC_AUTH_NONE;
}

/* Split "word rest" in place: returns rest (maybe ""), line holds word. */
static char *split_word(char *line)
{
    char *sp = strchr(line, ' ');
    if (!sp)
        return line + strlen(line);
    *sp = '\0';
    return sp + 1;
}

struct case_input {
    char *lines[CASE_LINES_MAX]; /* owned; cut after the keyword */
    char *args[CASE_LINES_MAX];  /* what follows the keyword in each line */
    size_t nlines;
};

static int cmd_eval(const struct dmarc_orgdomain *od)
{
    struct case_input c = {0};
    char line[LINE_MAX_LEN];
    while (fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0' || line[0] == '#')
            continue;
        if (c.nlines >= CASE_LINES_MAX)
            return usage();
        c.lines[c.nlines++] = strdup(line);
    }

    struct dmarc_eval *ev = dmarc_eval_new(od);
    const char *froms[CASE_LINES_MAX];
    size_t from_lens[CASE_LINES_MAX], nfrom = 0;
    const char *from_domain = NULL;
    struct dmarc_dkim_input dkim[CASE_LINES_MAX];
    struct dmarc_auth_input in = {.spf = DMARC_AUTH_NONE};
    in.dkim = dkim;
    for (size_t i = 0; i < c.nlines; i++) {
        char *kw = c.lines[i], *rest = split_word(kw);
        c.args[i] = rest;
        if (strcmp(kw, "from") == 0) {
            froms[nfrom] = rest;
            from_lens[nfrom++] = strlen(rest);
        } else if (strcmp(kw, "from-domain") == 0) {
            from_domain = rest;
        } else if (strcmp(kw, "spf") == 0) {
            char *dom = split_word(rest);
            in.spf = auth_result(rest);
            in.spf_domain = *dom ? dom : NULL;
        } else if (strcmp(kw, "dkim") == 0) {
            char *dom = split_word(rest);
            dkim[in.dkim_count].result = auth_result(rest);
            dkim[in.dkim_count++].domain = dom;
        } else if (strcmp(kw, "ip") == 0) {
            in.source_ip = rest;
        } else if (strcmp(kw, "random") == 0) {
            in.random100 = (unsigned)atoi(rest);
        }
    }

    int ret = 0;
    if (from_domain) {
        if (dmarc_eval_set_from_domain(ev, from_domain) < 0)
            printf("from=error\n");
    } else {
        enum dmarc_from_status st = dmarc_eval_from(ev, froms, from_lens, nfrom);
        printf("from=%s\n", dmarc_from_status_name(st));
    }
    if (!dmarc_eval_from_domain(ev)[0]) {
        printf("reason=%s\n", dmarc_eval_reason(ev));
        goto out;
    }

    const char *q;
    int asked = 0;
    while ((q = dmarc_eval_query(ev)) != NULL) {
        if (++asked > 4) {
            printf("error=too many queries\n");
            ret = 1;
            goto out;
        }
        printf("query=%s\n", q);
        char name[DMARC_DOMAIN_SIZE + 8];
        str_copy(name, sizeof(name), q);
        const char *txts[CASE_LINES_MAX];
        size_t lens[CASE_LINES_MAX], n = 0;
        bool fail = false;
        for (size_t i = 0; i < c.nlines; i++) {
            const char *kw = c.lines[i], *rest = c.args[i];
            if (strcmp(kw, "dns-fail") == 0 && str_eq_ci(rest, name))
                fail = true;
            if (strcmp(kw, "txt") == 0) {
                /* "NAME RECORD" was split once: NAME<NUL>RECORD */
                const char *rec = strchr(rest, ' ');
                if (rec && (size_t)(rec - rest) == strlen(name) &&
                    str_eqn_ci(rest, name, strlen(name))) {
                    txts[n] = rec + 1;
                    lens[n++] = strlen(rec + 1);
                }
            }
        }
        if (fail)
            dmarc_eval_answer(ev, DMARC_DNS_TEMPERROR, NULL, NULL, 0);
        else
            dmarc_eval_answer(ev, n ? DMARC_DNS_FOUND : DMARC_DNS_NONE, txts, lens, n);
    }

    struct dmarc_verdict v;
    dmarc_eval_result(ev, &in, &v);
    printf("discovery=%s\n", dmarc_discovery_name(dmarc_eval_discovery(ev)));
    printf("result=%s\ndisposition=%s\npolicy=%s\nsampled_out=%d\n", dmarc_result_name(v.result),
           dmarc_policy_name(v.disposition), dmarc_policy_name(v.policy), v.sampled_out);
    printf("spf_aligned=%d\ndkim_aligned=%d\ndkim_aligned_domain=%s\n", v.spf_aligned,
           v.dkim_aligned, v.dkim_aligned_domain);
    printf("from_domain=%s\npolicy_domain=%s\nsource_ip=%s\nrecord_found=%d\n", v.from_domain,
           v.policy_domain, v.source_ip, v.record_found);
    if (v.record_found)
        printf("published=p=%s sp=%s pct=%u adkim=%s aspf=%s\n", dmarc_policy_name(v.published.p),
               dmarc_policy_name(v.published.sp), v.published.pct,
               dmarc_align_name(v.published.adkim), dmarc_align_name(v.published.aspf));
    printf("reason=%s\n", v.reason);
out:
    dmarc_eval_free(&ev);
    for (size_t i = 0; i < c.nlines; i++)
        free(c.lines[i]);
    return ret;
}

int main(int argc, char **argv)
{
    const char *psl_file = NULL;
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "--psl") == 0) {
        psl_file = argv[i + 1];
        i += 2;
    }
    if (i >= argc)
        return usage();
    const char *cmd = argv[i++];
    if (strcmp(cmd, "record") == 0)
        return i + 1 == argc ? cmd_record(argv[i]) : usage();

    const char *err;
    struct dmarc_orgdomain *od = dmarc_orgdomain_new(psl_file, &err);
    if (!od) {
        fprintf(stderr, "dmarc-tool: %s\n", err);
        return 1;
    }
    int ret;
    if (strcmp(cmd, "org") == 0 && i + 1 == argc)
        ret = cmd_org(od, argv[i]);
    else if (strcmp(cmd, "align") == 0 && i + 3 == argc)
        ret = cmd_align(od, argv + i);
    else if (strcmp(cmd, "from") == 0)
        ret = cmd_from(od, argc - i, argv + i);
    else if (strcmp(cmd, "eval") == 0 && i == argc)
        ret = cmd_eval(od);
    else
        ret = usage();
    dmarc_orgdomain_free(&od);
    return ret;
}
