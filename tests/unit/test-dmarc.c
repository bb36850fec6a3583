/* Unit tests: DMARC records and Organizational Domains (RFC 7489). The
 * public suffix list is libpsl's (psl_latest: the distribution's list or
 * the built-in one). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dmarc-orgdomain.h"
#include "auth/dmarc-record.h"

static struct dmarc_orgdomain *od;

static int setup(void **state)
{
    (void)state;
    const char *err;
    od = dmarc_orgdomain_new(NULL, &err);
    return od ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    dmarc_orgdomain_free(&od);
    return 0;
}

static enum dmarc_record_status parse(const char *txt, struct dmarc_record *r)
{
    const char *err = NULL;
    enum dmarc_record_status st = dmarc_record_parse(txt, strlen(txt), r, &err);
    if (st != DMARC_RECORD_OK)
        assert_non_null(err);
    return st;
}

static void test_record_valid(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        enum dmarc_policy p, sp;
        unsigned pct;
        enum dmarc_align adkim, aspf;
        size_t rua, ruf;
    } cases[] = {
        {"v=DMARC1; p=none", DMARC_POLICY_NONE, DMARC_POLICY_NONE, 100, DMARC_ALIGN_RELAXED,
         DMARC_ALIGN_RELAXED, 0, 0},
        {"v=DMARC1; p=reject;", DMARC_POLICY_REJECT, DMARC_POLICY_REJECT, 100, DMARC_ALIGN_RELAXED,
         DMARC_ALIGN_RELAXED, 0, 0},
        {"v=DMARC1;p=quarantine;sp=none;pct=0;adkim=s;aspf=s", DMARC_POLICY_QUARANTINE,
         DMARC_POLICY_NONE, 0, DMARC_ALIGN_STRICT, DMARC_ALIGN_STRICT, 0, 0},
        /* whitespace around everything, trailing and doubled separators */
        {"  v = DMARC1 ;\tp = reject ; pct = 100 ;; ", DMARC_POLICY_REJECT, DMARC_POLICY_REJECT,
         100, DMARC_ALIGN_RELAXED, DMARC_ALIGN_RELAXED, 0, 0},
        /* tag names and keywords ignore case; DMARC1 does not */
        {"V=DMARC1; P=REJECT; SP=Quarantine; ADKIM=S; Aspf=R", DMARC_POLICY_REJECT,
         DMARC_POLICY_QUARANTINE, 100, DMARC_ALIGN_STRICT, DMARC_ALIGN_RELAXED, 0, 0},
        /* unknown tags are ignored, p need not be second */
        {"v=DMARC1; foo=bar; np=reject; psd=y; t=y; p=quarantine", DMARC_POLICY_QUARANTINE,
         DMARC_POLICY_QUARANTINE, 100, DMARC_ALIGN_RELAXED, DMARC_ALIGN_RELAXED, 0, 0},
        {"v=DMARC1; p=none; pct=050; fo=0:1:d:s; rf=afrf; ri=3600", DMARC_POLICY_NONE,
         DMARC_POLICY_NONE, 50, DMARC_ALIGN_RELAXED, DMARC_ALIGN_RELAXED, 0, 0},
        {"v=DMARC1; p=none; rua=mailto:a@example.com!10m, mailto:b@example.net; "
         "ruf=mailto:f@example.com",
         DMARC_POLICY_NONE, DMARC_POLICY_NONE, 100, DMARC_ALIGN_RELAXED, DMARC_ALIGN_RELAXED, 2, 1},
        /* invalid URIs are dropped, the record stays */
        {"v=DMARC1; p=none; rua=not a uri, mailto:x@example.com!9q, https://r.example/x",
         DMARC_POLICY_NONE, DMARC_POLICY_NONE, 100, DMARC_ALIGN_RELAXED, DMARC_ALIGN_RELAXED, 1, 0},
        /* RFC 7489 6.6.3: no valid p= but a valid rua= reads as p=none */
        {"v=DMARC1; rua=mailto:a@example.com", DMARC_POLICY_NONE, DMARC_POLICY_NONE, 100,
         DMARC_ALIGN_RELAXED, DMARC_ALIGN_RELAXED, 1, 0},
        {"v=DMARC1; p=bogus; rua=mailto:a@example.com", DMARC_POLICY_NONE, DMARC_POLICY_NONE, 100,
         DMARC_ALIGN_RELAXED, DMARC_ALIGN_RELAXED, 1, 0},
        {"v=DMARC1; p=reject; sp=bogus; rua=mailto:a@example.com", DMARC_POLICY_NONE,
         DMARC_POLICY_NONE, 100, DMARC_ALIGN_RELAXED, DMARC_ALIGN_RELAXED, 1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct dmarc_record r;
        dmarc_record_init(&r);
        if (parse(cases[i].in, &r) != DMARC_RECORD_OK)
            fail_msg("case %zu rejected: %s", i, cases[i].in);
        assert_int_equal(r.p, cases[i].p);
        assert_int_equal(r.sp, cases[i].sp);
        assert_int_equal(r.pct, cases[i].pct);
        assert_int_equal(r.adkim, cases[i].adkim);
        assert_int_equal(r.aspf, cases[i].aspf);
        assert_int_equal(r.rua_count, cases[i].rua);
        assert_int_equal(r.ruf_count, cases[i].ruf);
        dmarc_record_free(&r);
    }
}

static void test_record_details(void **state)
{
    (void)state;
    struct dmarc_record r;
    dmarc_record_init(&r);
    assert_int_equal(parse("v=DMARC1; p=reject; rua=mailto:a@example.com!10m,"
                           "mailto:b@example.com!2k,mailto:c@example.com!7; fo=1:d; ri=0",
                           &r),
                     DMARC_RECORD_OK);
    assert_false(r.sp_given);
    assert_false(r.p_implied);
    assert_int_equal(r.rua_count, 3);
    assert_string_equal(r.rua[0].uri, "mailto:a@example.com");
    assert_int_equal(r.rua[0].max_size, 10ULL << 20);
    assert_int_equal(r.rua[1].max_size, 2048);
    assert_int_equal(r.rua[2].max_size, 7);
    assert_int_equal(r.fo, DMARC_FO_1 | DMARC_FO_D);
    assert_int_equal(r.ri, 0);
    /* a parse over a used record frees what it held */
    assert_int_equal(parse("v=DMARC1; rua=mailto:x@example.com", &r), DMARC_RECORD_OK);
    assert_true(r.p_implied);
    assert_int_equal(r.rua_count, 1);
    /* at most DMARC_RECORD_URIS_MAX URIs are kept */
    char many[1024] = "v=DMARC1; p=none; rua=";
    for (int i = 0; i <= DMARC_RECORD_URIS_MAX; i++) {
        char one[64];
        snprintf(one, sizeof(one), "%smailto:r%d@example.com", i ? "," : "", i);
        strncat(many, one, sizeof(many) - strlen(many) - 1);
    }
    assert_int_equal(parse(many, &r), DMARC_RECORD_OK);
    assert_int_equal(r.rua_count, DMARC_RECORD_URIS_MAX);
    assert_string_equal(r.rua[DMARC_RECORD_URIS_MAX - 1].uri, "mailto:r7@example.com");
    /* a failed parse leaves the defaults */
    assert_int_equal(parse("v=DMARC1; p=reject; pct=101", &r), DMARC_RECORD_BAD_VALUE);
    assert_int_equal(r.p, DMARC_POLICY_NONE);
    assert_int_equal(r.rua_count, 0);
    assert_int_equal(r.pct, 100);
    dmarc_record_free(&r);
}

static void test_record_invalid(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        enum dmarc_record_status st;
    } cases[] = {
        {"", DMARC_RECORD_EMPTY},
        {" \t ", DMARC_RECORD_EMPTY},
        {"V=BOB", DMARC_RECORD_BAD_VERSION},
        {"v=dmarc1; p=none", DMARC_RECORD_BAD_VERSION},
        {"v=DMARC2; p=none", DMARC_RECORD_BAD_VERSION},
        {"v=DMARC1x; p=none", DMARC_RECORD_BAD_VERSION},
        {"p=none; v=DMARC1", DMARC_RECORD_BAD_VERSION},
        {"v=spf1 -all", DMARC_RECORD_BAD_VERSION},
        {"v=DMARC1", DMARC_RECORD_NO_POLICY},
        {"v=DMARC1; pct=100;", DMARC_RECORD_NO_POLICY},
        {"v=DMARC1; sp=reject", DMARC_RECORD_NO_POLICY},
        {"v=DMARC1; p=none; bogus", DMARC_RECORD_BAD_SYNTAX},
        {"v=DMARC1; p=none; =x", DMARC_RECORD_BAD_SYNTAX},
        {"v=DMARC1; p=none; 9a=x", DMARC_RECORD_BAD_SYNTAX},
        {"v=DMARC1; p=none; x-y=1", DMARC_RECORD_BAD_SYNTAX},
        {"v=DMARC1; p=none; x=caf\xc3\xa9", DMARC_RECORD_BAD_SYNTAX},
        {"v=DMARC1; p=none; x=a\x01", DMARC_RECORD_BAD_SYNTAX},
        {"v=DMARC1; p=bob;", DMARC_RECORD_BAD_VALUE},
        {"v=DMARC1; p=n;", DMARC_RECORD_BAD_VALUE},
        {"v=DMARC1; p=;", DMARC_RECORD_BAD_VALUE},
        {"v=DMARC1; p=none; sp=bob;", DMARC_RECORD_BAD_VALUE},
        {"v=DMARC1; p=none; adkim=bob;", DMARC_RECORD_BAD_VALUE},
        {"v=DMARC1; p=none; aspf=x;", DMARC_RECORD_BAD_VALUE},
        {"v=DMARC1; p=none; rf=bob;", DMARC_RECORD_BAD_VALUE},
        {"v=DMARC1; p=none; rf=000000000000000000000000000000000", DMARC_RECORD_BAD_VALUE},
        {"v=DMARC1; p=none; ri=bob;", DMARC_RECORD_BAD_VALUE},
        {"v=DMARC1; p=none; ri=4294967296", DMARC_RECORD_BAD_VALUE},
        {"v=DMARC1; p=none; fo=2", DMARC_RECORD_BAD_VALUE},
        {"v=DMARC1; p=none; pct=500;", DMARC_RECORD_BAD_VALUE},
        {"v=DMARC1; p=none; pct=101", DMARC_RECORD_BAD_VALUE},
        {"v=DMARC1; p=none; pct=-1", DMARC_RECORD_BAD_VALUE},
        {"v=DMARC1; p=none; pct=0100", DMARC_RECORD_BAD_VALUE},
        {"v=DMARC1; p=none; pct=", DMARC_RECORD_BAD_VALUE},
        {"v=DMARC1; p=none; p=reject", DMARC_RECORD_BAD_VALUE},
        {"v=DMARC1; p=none; v=DMARC1", DMARC_RECORD_BAD_VALUE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct dmarc_record r;
        dmarc_record_init(&r);
        enum dmarc_record_status st = parse(cases[i].in, &r);
        if (st != cases[i].st)
            fail_msg("case %zu '%s': %s, expected %s", i, cases[i].in, dmarc_record_status_name(st),
                     dmarc_record_status_name(cases[i].st));
        dmarc_record_free(&r);
    }
    /* the pct limit, crossed by one */
    struct dmarc_record r;
    dmarc_record_init(&r);
    assert_int_equal(parse("v=DMARC1; p=none; pct=100", &r), DMARC_RECORD_OK);
    assert_int_equal(parse("v=DMARC1; p=none; pct=101", &r), DMARC_RECORD_BAD_VALUE);
    /* the length limit, crossed by one */
    char big[DMARC_RECORD_MAX + 2];
    memset(big, 'x', sizeof(big));
    memcpy(big, "v=DMARC1; p=none; x=", 20);
    assert_int_equal(dmarc_record_parse(big, DMARC_RECORD_MAX, &r, NULL), DMARC_RECORD_OK);
    assert_int_equal(dmarc_record_parse(big, DMARC_RECORD_MAX + 1, &r, NULL),
                     DMARC_RECORD_BAD_SYNTAX);
    /* a record that is not terminated is read by its length */
    assert_int_equal(dmarc_record_parse("v=DMARC1; p=rejectXXX", 18, &r, NULL), DMARC_RECORD_OK);
    assert_int_equal(r.p, DMARC_POLICY_REJECT);
    dmarc_record_free(&r);
}

static void test_is_dmarc(void **state)
{
    (void)state;
    assert_true(dmarc_record_is_dmarc("v=DMARC1", 8));
    assert_true(dmarc_record_is_dmarc(" v = DMARC1 ; p=x", 17));
    assert_false(dmarc_record_is_dmarc("v=DMARC10", 9));
    assert_false(dmarc_record_is_dmarc("other", 5));
    assert_false(dmarc_record_is_dmarc("", 0));
}

static void test_orgdomain(void **state)
{
    (void)state;
    static const struct {
        const char *in, *org; /* org NULL: invalid */
    } cases[] = {
        {"example.com", "example.com"},
        {"a.b.example.com", "example.com"},
        {"A.B.Example.COM", "example.com"},
        {"www.example.com.", "example.com"},
        {"example.co.uk", "example.co.uk"},
        {"mail.example.co.uk", "example.co.uk"},
        {"co.uk", "co.uk"}, /* a public suffix is its own */
        {"com", "com"},
        {"a.b.c.xn--mgba3a4f16a.ir", "c.xn--mgba3a4f16a.ir"}, /* IDN suffix in A-labels */
        {"www.xn--bcher-kva.example", "xn--bcher-kva.example"},
        {"sub.reject.example", "reject.example"}, /* unknown TLD: the "*" rule */
        {"", NULL},
        {".", NULL},
        {"a..example.com", NULL},
        {".example.com", NULL},
        {"example.com..", NULL},
        {"b\xc3\xbc"
         "cher.example",
         NULL}, /* U-labels are refused */
        {"ex ample.com", NULL},
        {"[192.0.2.1]", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[DMARC_DOMAIN_SIZE];
        const char *err = NULL;
        int r = dmarc_orgdomain_get(od, cases[i].in, out, &err);
        if (cases[i].org == NULL) {
            if (r != -1)
                fail_msg("case %zu '%s' accepted as %s", i, cases[i].in, out);
            assert_non_null(err);
        } else {
            if (r != 0)
                fail_msg("case %zu '%s': %s", i, cases[i].in, err);
            assert_string_equal(out, cases[i].org);
        }
    }
    /* label and name limits, crossed by one */
    char name[DMARC_DOMAIN_SIZE + 8], out[DMARC_DOMAIN_SIZE];
    const char *err;
    memset(name, 'a', 63);
    memcpy(name + 63, ".com", 5);
    assert_int_equal(dmarc_domain_normalize(name, strlen(name), out, &err), 0);
    memset(name, 'a', 64);
    memcpy(name + 64, ".com", 5);
    assert_int_equal(dmarc_domain_normalize(name, strlen(name), out, &err), -1);
    for (size_t i = 0; i < DMARC_DOMAIN_MAX + 1; i++)
        name[i] = i % 2 ? '.' : 'a';
    assert_int_equal(dmarc_domain_normalize(name, DMARC_DOMAIN_MAX, out, &err), 0);
    assert_int_equal(strlen(out), DMARC_DOMAIN_MAX);
    name[DMARC_DOMAIN_MAX] = 'a';
    assert_int_equal(dmarc_domain_normalize(name, DMARC_DOMAIN_MAX + 1, out, &err), -1);
    /* ...but a trailing dot does not count */
    name[DMARC_DOMAIN_MAX] = '.';
    assert_int_equal(dmarc_domain_normalize(name, DMARC_DOMAIN_MAX + 1, out, &err), 0);

    /* a list that cannot be loaded */
    assert_null(dmarc_orgdomain_new("/nonexistent/psl.dat", &err));
    assert_non_null(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_valid),   cmocka_unit_test(test_record_details),
        cmocka_unit_test(test_record_invalid), cmocka_unit_test(test_is_dmarc),
        cmocka_unit_test(test_orgdomain),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
