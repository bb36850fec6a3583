/* Unit tests: the content policy's whole-message checks (policy.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "mime/mime-header.h"
#include "policy/policy.h"
#include "policy/rules.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A message whose parts nest `depth` multiparts deep, each holding one
 * text part and the next level; `extra` more text parts at the top. */
static void nested(struct buf *b, unsigned depth, unsigned extra)
{
    buf_reset(b);
    buf_append_str(b, "From: a@example.org\r\nMIME-Version: 1.0\r\n");
    for (unsigned i = 0; i < depth; i++) {
        buf_printf(b, "Content-Type: multipart/mixed; boundary=\"b%u\"\r\n\r\n", i);
        buf_printf(b, "--b%u\r\nContent-Type: text/plain\r\n\r\nlevel %u\r\n", i, i);
        if (i == 0)
            for (unsigned k = 0; k < extra; k++)
                buf_printf(b, "--b0\r\nContent-Type: text/plain\r\n\r\nextra %u\r\n", k);
        buf_printf(b, "--b%u\r\n", i);
    }
    buf_append_str(b, "Content-Type: text/plain\r\n\r\ninnermost\r\n");
    for (unsigned i = depth; i > 0; i--)
        buf_printf(b, "--b%u--\r\n", i - 1);
}

static void check(const struct policy_config *pc, const struct buf *b, enum policy_action want,
                  const char *text_has)
{
    struct policy_verdict v;
    policy_verdict_init(&v);
    policy_check_message(pc, b->data, b->len, &v);
    if (v.action != want || (text_has && !strstr(v.text, text_has)))
        fail_msg("got %s \"%s\", want %s with \"%s\"", policy_action_name(v.action), v.text,
                 policy_action_name(want), text_has ? text_has : "");
    if (want == POLICY_REJECT) {
        assert_int_equal(v.code, 554);
        assert_string_equal(v.enh, "5.6.0");
        assert_true(v.why[0] != '\0');
    }
    policy_verdict_free(&v);
}

static void test_mime_depth(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1 << 20);
    struct policy_config pc = {.mime_max_depth = 3, .mime_max_parts = 0};
    nested(&b, 3, 0); /* the innermost text part is at depth 3 */
    check(&pc, &b, POLICY_ACCEPT, NULL);
    nested(&b, 4, 0);
    check(&pc, &b, POLICY_REJECT, "nested 4 deep, more than the 3");
    /* beyond the parser's own limit: still refused, and said so */
    nested(&b, 150, 0);
    check(&pc, &b, POLICY_REJECT, "or more deep");
    pc.mime_max_depth = 0; /* no limit */
    check(&pc, &b, POLICY_ACCEPT, NULL);
    buf_free(&b);
}

static void test_mime_parts(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 4 << 20);
    struct policy_config pc = {.mime_max_depth = 0, .mime_max_parts = 10};
    /* depth 1: the message, the multipart's text part, the innermost: 3 */
    nested(&b, 1, 7); /* 3 + 7 = 10 parts */
    check(&pc, &b, POLICY_ACCEPT, NULL);
    nested(&b, 1, 8);
    check(&pc, &b, POLICY_REJECT, "11 MIME parts, more than the 10");
    /* a plain message is one part */
    buf_reset(&b);
    buf_append_str(&b, "Subject: plain\r\n\r\nbody\r\n");
    pc.mime_max_parts = 1;
    check(&pc, &b, POLICY_ACCEPT, NULL);
    /* past the parser's limit on parts */
    pc.mime_max_parts = 100;
    nested(&b, 1, 12000);
    check(&pc, &b, POLICY_REJECT, "or more MIME parts");
    buf_free(&b);
}

static void test_empty_and_no_limits(void **state)
{
    (void)state;
    struct policy_config none = {0};
    struct policy_verdict v;
    policy_verdict_init(&v);
    policy_check_message(&none, NULL, 0, &v);
    assert_int_equal(v.action, POLICY_ACCEPT);
    struct policy_config pc = {.mime_max_depth = 1, .mime_max_parts = 1};
    policy_check_message(&pc, NULL, 0, &v);
    assert_int_equal(v.action, POLICY_ACCEPT);
    policy_verdict_free(&v);
    assert_string_equal(policy_action_name(POLICY_QUARANTINE), "quarantine");
}

/* A rule table from text; the test fails if it does not parse. */
static struct rule_table *table(const char *name, const char *text)
{
    char *error = NULL;
    struct rule_table *t = rule_table_parse(name, text, strlen(text), &error);
    if (t == NULL)
        fail_msg("%s does not parse: %s", name, error);
    return t;
}

/* msg through the policy as smtpd runs it: each field of its header with
 * header_checks as it streams in, then the whole message. */
static void run(const struct policy_config *pc, const char *msg, struct policy_verdict *v)
{
    policy_verdict_init(v);
    size_t len = strlen(msg), pos = 0;
    struct mime_field f;
    struct buf insert;
    buf_init(&insert, 64 * 1024);
    while (mime_header_next(msg, len, &pos, &f) == 1) {
        buf_reset(&insert);
        (void)policy_header_field(pc, msg + f.off, f.len, v, &insert);
    }
    buf_free(&insert);
    policy_check_message(pc, msg, len, v);
}

static const char filter_headers[] = "/^Subject:.*invoice/ FILTER smtp:[127.0.0.1]:10025\n"
                                     "/^X-Scan: (\\w+)/ FILTER lmtp:[$1.example]:24\n"
                                     "/^X-Scan-Odd: (.*)/ FILTER smtp:$1\n"
                                     "/^X-Reject:/ REJECT 5.7.1 no\n"
                                     "/^X-Discard:/ DISCARD\n"
                                     "/^X-Hold:/ HOLD\n"
                                     "/^X-Quarantine:/ QUARANTINE\n"
                                     "/^X-Redirect:/ REDIRECT carol@example.org\n";
static const char filter_body[] = "/scan the body/ FILTER smtp:[::1]:10026\n";

/* FILTER in the verdict: the last one wins, the stronger actions keep
 * it beside them, REDIRECT overrides it, a bad expansion is skipped. */
static void test_filter_verdict(void **state)
{
    (void)state;
    struct rule_table *h = table("header_checks", filter_headers);
    struct rule_table *b = table("body_checks", filter_body);
    char *err = NULL;
    assert_int_equal(policy_table_usable(h, &err), 0);
    assert_int_equal(policy_table_usable(b, &err), 0);
    struct policy_config pc = {.header_checks = h, .body_checks = b};
    static const struct {
        const char *msg;
        enum policy_action action;
        const char *filter;
        const char *log_has; /* in v.log, or NULL */
    } cases[] = {
        {"Subject: hello\r\n\r\nbody\r\n", POLICY_ACCEPT, "", NULL},
        {"Subject: your invoice\r\n\r\nbody\r\n", POLICY_ACCEPT, "smtp:[127.0.0.1]:10025",
         "filter: header_checks line 1: FILTER smtp:[127.0.0.1]:10025 for the header "
         "\"Subject: your invoice\""},
        /* the last FILTER matched wins: header order, then the body */
        {"Subject: invoice\r\nX-Scan: av\r\n\r\nbody\r\n", POLICY_ACCEPT, "lmtp:[av.example]:24",
         NULL},
        {"X-Scan: av\r\nSubject: invoice\r\n\r\nbody\r\n", POLICY_ACCEPT, "smtp:[127.0.0.1]:10025",
         NULL},
        {"Subject: invoice\r\n\r\nplease scan the body\r\n", POLICY_ACCEPT, "smtp:[::1]:10026",
         "filter: body_checks line 1"},
        /* an expanded next hop that transport_parse() refuses: skipped */
        {"X-Scan-Odd: [bad\r\n\r\nbody\r\n", POLICY_ACCEPT, "",
         "rule skipped: header_checks line 3: FILTER smtp:[bad: expected [HOST]"},
        {"Subject: invoice\r\nX-Scan-Odd: -x-\r\n\r\nbody\r\n", POLICY_ACCEPT,
         "smtp:[127.0.0.1]:10025", "rule skipped: header_checks line 3"},
        /* REJECT and DISCARD win (the filter stays in the verdict, unused) */
        {"Subject: invoice\r\nX-Reject: 1\r\n\r\nbody\r\n", POLICY_REJECT, "smtp:[127.0.0.1]:10025",
         NULL},
        {"Subject: invoice\r\nX-Discard: 1\r\n\r\nbody\r\n", POLICY_DISCARD,
         "smtp:[127.0.0.1]:10025", NULL},
        /* HOLD and QUARANTINE keep it for the release */
        {"X-Hold: 1\r\nSubject: invoice\r\n\r\nbody\r\n", POLICY_HOLD, "smtp:[127.0.0.1]:10025",
         NULL},
        {"Subject: invoice\r\nX-Quarantine: 1\r\n\r\nbody\r\n", POLICY_QUARANTINE,
         "smtp:[127.0.0.1]:10025", NULL},
        /* REDIRECT overrides FILTER, before or after it */
        {"Subject: invoice\r\nX-Redirect: 1\r\n\r\nbody\r\n", POLICY_ACCEPT, "",
         "FILTER smtp:[127.0.0.1]:10025 overridden by the REDIRECT"},
        {"X-Redirect: 1\r\nSubject: invoice\r\n\r\nscan the body\r\n", POLICY_ACCEPT, "",
         "FILTER ignored (a REDIRECT overrides it): header_checks line 1"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct policy_verdict v;
        run(&pc, cases[i].msg, &v);
        const char *log = v.log.len ? buf_cstr(&v.log) : "";
        if (v.action != cases[i].action || strcmp(v.filter, cases[i].filter) != 0 ||
            (cases[i].log_has && !strstr(log, cases[i].log_has)))
            fail_msg("case %zu: %s filter \"%s\" log \"%s\"", i, policy_action_name(v.action),
                     v.filter, log);
        if (strstr(cases[i].msg, "X-Redirect"))
            assert_string_equal(v.redirect, "carol@example.org");
        policy_verdict_free(&v);
    }
    rule_table_free(&h);
    rule_table_free(&b);
}

/* The next hops FILTER accepts, and the load-time errors naming the
 * table and the line. */
static void test_filter_next_hops(void **state)
{
    (void)state;
    static const struct {
        const char *spec;
        const char *why; /* NULL: accepted */
    } hops[] = {
        {"smtp:[127.0.0.1]:10025", NULL},
        {"smtp:[::1]:10025", NULL},
        {"smtp:[filter.example]", NULL},
        {"smtp:filter.example:10025", NULL},
        {"lmtp:[127.0.0.1]:24", NULL},
        {"lmtp:unix:/run/filter.sock", NULL},
        {"smtp:[127.0.0.1]:0", "bad port"},
        {"smtp:[127.0.0.1]:65536", "bad port"},
        {"smtp:[127.0.0.1", "expected [HOST]"},
        {"smtp:bad_host!", "not a host name or IP address"},
        {"lmtp:[127.0.0.1]", "lmtp: needs a port"},
        {"lmtp:unix:relative", "lmtp:unix: needs an absolute socket path"},
        {"error:5.7.1", "a content filter is reached by smtp: or lmtp:"},
        {"local", "a content filter is reached by smtp: or lmtp:"},
        {"discard", "a content filter is reached by smtp: or lmtp:"},
        {"uucp:host", "expected smtp:, lmtp:, local, error: or discard"},
    };
    for (size_t i = 0; i < N_ELEMS(hops); i++) {
        const char *why = NULL;
        int rc = policy_filter_check(hops[i].spec, &why);
        if ((hops[i].why == NULL) != (rc == 0) || (hops[i].why && strcmp(why, hops[i].why) != 0))
            fail_msg("%s: rc %d why \"%s\"", hops[i].spec, rc, why ? why : "");
    }
    /* one byte over the limit */
    char longhop[POLICY_FILTER_MAX + 2];
    memset(longhop, 'a', sizeof(longhop) - 1);
    longhop[sizeof(longhop) - 1] = '\0';
    memcpy(longhop, "smtp:", 5);
    const char *why = NULL;
    assert_int_equal(policy_filter_check(longhop, &why), -1);
    assert_string_equal(why, "next hop too long");

    static const struct {
        const char *text;
        const char *error; /* NULL: usable */
    } tables[] = {
        {"/a/ WARN x\n/b/ FILTER smtp:[127.0.0.1]:10025\n", NULL},
        {"/a/ FILTER smtp:$1\n", NULL}, /* (no groups: refused by the parser) */
        {"/(a)/ FILTER smtp:[$1]:10025\n", NULL},
        {"/a/ WARN x\n\n/b/ FILTER smtp:[127.0.0.1]:10025\n/c/ FILTER smtp:[127.0.0.1\n",
         "t:4: bad FILTER next hop \"smtp:[127.0.0.1\": expected [HOST]"},
        {"/a/ FILTER error:5.7.1\n",
         "t:1: bad FILTER next hop \"error:5.7.1\": a content filter is reached by smtp: or "
         "lmtp:"},
        {"/a/ FILTER lmtp:[127.0.0.1]\n",
         "t:1: bad FILTER next hop \"lmtp:[127.0.0.1]\": lmtp: needs a port"},
    };
    for (size_t i = 0; i < N_ELEMS(tables); i++) {
        char *err = NULL;
        struct rule_table *t = rule_table_parse("t", tables[i].text, strlen(tables[i].text), &err);
        if (t == NULL) {
            assert_true(strstr(err, "capture group") != NULL);
            free(err);
            continue;
        }
        int rc = policy_table_usable(t, &err);
        if ((tables[i].error == NULL) != (rc == 0) ||
            (tables[i].error && strcmp(err, tables[i].error) != 0))
            fail_msg("table %zu: rc %d error \"%s\"", i, rc, err ? err : "");
        free(err);
        rule_table_free(&t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mime_depth),          cmocka_unit_test(test_mime_parts),
        cmocka_unit_test(test_empty_and_no_limits), cmocka_unit_test(test_filter_verdict),
        cmocka_unit_test(test_filter_next_hops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
