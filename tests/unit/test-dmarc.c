/* Unit tests: DMARC records, Organizational Domains, alignment and the
 * evaluation of messages (RFC 7489). The public suffix list is libpsl's
 * (psl_latest: the distribution's list or the built-in one). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dmarc.h"
#include "lib/buf.h"
#include "lib/str.h"

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
    struct buf many;
    buf_init(&many, BUF_UNLIMITED);
    buf_append_str(&many, "v=DMARC1; p=none; rua=");
    for (int i = 0; i <= DMARC_RECORD_URIS_MAX; i++)
        buf_printf(&many, "%smailto:r%d@example.com", i ? "," : "", i);
    assert_int_equal(parse(buf_cstr(&many), &r), DMARC_RECORD_OK);
    buf_free(&many);
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

static void test_alignment(void **state)
{
    (void)state;
    static const struct {
        const char *a, *b;
        enum dmarc_align mode;
        bool aligned;
    } cases[] = {
        {"example.com", "example.com", DMARC_ALIGN_STRICT, true},
        {"Example.COM", "example.com.", DMARC_ALIGN_STRICT, true},
        {"mail.example.com", "example.com", DMARC_ALIGN_STRICT, false},
        {"mail.example.com", "example.com", DMARC_ALIGN_RELAXED, true},
        {"a.example.com", "b.example.com", DMARC_ALIGN_RELAXED, true},
        {"a.example.com", "b.example.com", DMARC_ALIGN_STRICT, false},
        {"example.com", "example.net", DMARC_ALIGN_RELAXED, false},
        {"oooo.com", "ooo.com", DMARC_ALIGN_RELAXED, false},
        {"a.example.co.uk", "example.co.uk", DMARC_ALIGN_RELAXED, true},
        {"example.co.uk", "other.co.uk", DMARC_ALIGN_RELAXED, false},
        {"co.uk", "example.co.uk", DMARC_ALIGN_RELAXED, false}, /* RFC 7489 3.1.1 */
        {"com", "example.com", DMARC_ALIGN_RELAXED, false},
        {".mac.com.", "mac.com", DMARC_ALIGN_STRICT, true},
        {"mac...com", "..com", DMARC_ALIGN_STRICT, false},
        {"", "", DMARC_ALIGN_STRICT, false},
        {"ex ample.com", "ex ample.com", DMARC_ALIGN_STRICT, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool got = dmarc_aligned(od, cases[i].a, cases[i].b, cases[i].mode);
        if (got != cases[i].aligned)
            fail_msg("case %zu %s / %s (%s): %d", i, cases[i].a, cases[i].b,
                     dmarc_align_name(cases[i].mode), got);
    }
    assert_false(dmarc_aligned(od, NULL, "example.com", DMARC_ALIGN_RELAXED));
}

static enum dmarc_from_status from1(struct dmarc_eval *ev, const char *value)
{
    size_t len = strlen(value);
    return dmarc_eval_from(ev, &value, &len, 1);
}

static void test_from(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        enum dmarc_from_status st;
        const char *domain;
    } cases[] = {
        {"joe@Example.COM", DMARC_FROM_OK, "example.com"},
        {"Joe Johnson <joe@joe.example>", DMARC_FROM_OK, "joe.example"},
        {"\"Johnson, Joe\" <joe@joe.example>", DMARC_FROM_OK, "joe.example"},
        {"(Joe) joe@joe.example", DMARC_FROM_OK, "joe.example"},
        {"Joe\r\n <joe@joe.example>", DMARC_FROM_OK, "joe.example"}, /* folded */
        {"\"a@b\"@joe.example", DMARC_FROM_OK, "joe.example"},
        {"joe@joe.example, ann@ann.example", DMARC_FROM_MULTIPLE_ADDRESSES, NULL},
        {"joe@joe.example, ann@joe.example", DMARC_FROM_MULTIPLE_ADDRESSES, NULL},
        {"undisclosed-recipients:;", DMARC_FROM_SYNTAX, NULL},
        {"", DMARC_FROM_SYNTAX, NULL},
        {"joe", DMARC_FROM_SYNTAX, NULL},
        {"<joe@joe.example", DMARC_FROM_SYNTAX, NULL},
        {"joe@[192.0.2.1]", DMARC_FROM_SYNTAX, NULL},
        {"joe@", DMARC_FROM_SYNTAX, NULL},
        {"joe@b\xc3\xbc"
         "cher.example",
         DMARC_FROM_IDN, NULL},
        {"joe@b\xfc"
         "cher.example",
         DMARC_FROM_SYNTAX, NULL}, /* not even UTF-8 */
    };
    struct dmarc_eval *ev = dmarc_eval_new(od);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum dmarc_from_status st = from1(ev, cases[i].in);
        if (st != cases[i].st)
            fail_msg("case %zu '%s': %s (%s)", i, cases[i].in, dmarc_from_status_name(st),
                     dmarc_eval_reason(ev));
        if (cases[i].domain) {
            assert_string_equal(dmarc_eval_from_domain(ev), cases[i].domain);
            assert_non_null(dmarc_eval_query(ev));
        } else {
            assert_string_equal(dmarc_eval_from_domain(ev), "");
            assert_null(dmarc_eval_query(ev));
            assert_true(strlen(dmarc_eval_reason(ev)) > 0);
        }
    }
    /* the reason names the authors */
    assert_int_equal(from1(ev, "a@one.example, b@two.example"), DMARC_FROM_MULTIPLE_ADDRESSES);
    assert_string_equal(dmarc_eval_reason(ev),
                        "From header field has 2 addresses (one.example, two.example)");
    /* no field, two fields */
    assert_int_equal(dmarc_eval_from(ev, NULL, NULL, 0), DMARC_FROM_MISSING);
    const char *two[] = {"a@one.example", "b@one.example"};
    size_t lens[] = {13, 13};
    assert_int_equal(dmarc_eval_from(ev, two, lens, 2), DMARC_FROM_MULTIPLE_FIELDS);
    assert_null(dmarc_eval_query(ev));
    /* the field length limit, crossed by one */
    char *big = malloc(DMARC_FROM_FIELD_MAX + 2);
    memset(big, ' ', DMARC_FROM_FIELD_MAX + 1);
    memcpy(big, "a@one.example", 13);
    size_t blen = DMARC_FROM_FIELD_MAX;
    const char *bp = big;
    assert_int_equal(dmarc_eval_from(ev, &bp, &blen, 1), DMARC_FROM_OK);
    blen = DMARC_FROM_FIELD_MAX + 1;
    assert_int_equal(dmarc_eval_from(ev, &bp, &blen, 1), DMARC_FROM_SYNTAX);
    free(big);
    dmarc_eval_free(&ev);
}

/* A scripted DNS: each name with its TXT records, NULL-terminated. */
struct zone {
    const char *name;
    const char *txt[3];
    bool temperror;
};

/* Run discovery against a zone; returns the number of queries asked and
 * writes them, separated by spaces, into asked (size bytes). */
static int discover(struct dmarc_eval *ev, const struct zone *zone, char *asked, size_t size)
{
    const char *q;
    int n = 0;
    struct buf names;
    buf_init(&names, size - 1);
    while ((q = dmarc_eval_query(ev)) != NULL) {
        assert_true(++n <= 2);
        if (n > 1)
            assert_int_equal(buf_append_char(&names, ' '), 0);
        assert_int_equal(buf_append_str(&names, q), 0);
        const struct zone *z = zone;
        while (z->name && strcmp(z->name, q) != 0)
            z++;
        if (!z->name) {
            dmarc_eval_answer(ev, DMARC_DNS_NONE, NULL, NULL, 0);
            continue;
        }
        if (z->temperror) {
            dmarc_eval_answer(ev, DMARC_DNS_TEMPERROR, NULL, NULL, 0);
            continue;
        }
        size_t lens[3], count = 0;
        while (count < 3 && z->txt[count]) {
            lens[count] = strlen(z->txt[count]);
            count++;
        }
        dmarc_eval_answer(ev, DMARC_DNS_FOUND, z->txt, lens, count);
    }
    str_copy(asked, size, buf_cstr(&names));
    buf_free(&names);
    return n;
}

static const struct zone zone[] = {
    {"_dmarc.reject.example", {"v=DMARC1; p=reject; sp=quarantine; pct=50"}, false},
    {"_dmarc.strict.example", {"v=DMARC1; p=reject; adkim=s; aspf=s"}, false},
    {"_dmarc.own.reject.example", {"v=DMARC1; p=none"}, false},
    {"_dmarc.two.example", {"v=DMARC1; p=none", "v=DMARC1; p=reject"}, false},
    {"_dmarc.sub.two.example", {"v=DMARC1; p=reject", "v=DMARC1; p=reject"}, false},
    {"_dmarc.other.example", {"v=spf1 -all", "v=DMARC1; p=quarantine"}, false},
    {"_dmarc.bad.example", {"v=DMARC1; p=none; bogus"}, false},
    {"_dmarc.fail.example", {NULL}, true},
    {"_dmarc.nonly.example", {"not dmarc"}, false},
    {NULL, {NULL}, false},
};

static void test_discovery(void **state)
{
    (void)state;
    static const struct {
        const char *from;
        const char *asked;
        enum dmarc_discovery d;
        const char *policy_domain;
    } cases[] = {
        {"reject.example", "_dmarc.reject.example", DMARC_DISCOVERY_RECORD, "reject.example"},
        {"a.b.reject.example", "_dmarc.a.b.reject.example _dmarc.reject.example",
         DMARC_DISCOVERY_RECORD, "reject.example"},
        {"own.reject.example", "_dmarc.own.reject.example", DMARC_DISCOVERY_RECORD,
         "own.reject.example"},
        {"absent.example", "_dmarc.absent.example", DMARC_DISCOVERY_NO_RECORD, ""},
        {"x.absent.example", "_dmarc.x.absent.example _dmarc.absent.example",
         DMARC_DISCOVERY_NO_RECORD, ""},
        {"two.example", "_dmarc.two.example", DMARC_DISCOVERY_MULTIPLE, ""},
        /* several records stop discovery: no fallback to the org domain */
        {"sub.two.example", "_dmarc.sub.two.example", DMARC_DISCOVERY_MULTIPLE, ""},
        {"other.example", "_dmarc.other.example", DMARC_DISCOVERY_RECORD, "other.example"},
        {"bad.example", "_dmarc.bad.example", DMARC_DISCOVERY_INVALID, "bad.example"},
        {"fail.example", "_dmarc.fail.example", DMARC_DISCOVERY_TEMPERROR, "fail.example"},
        {"x.fail.example", "_dmarc.x.fail.example _dmarc.fail.example", DMARC_DISCOVERY_TEMPERROR,
         "fail.example"},
        {"x.nonly.example", "_dmarc.x.nonly.example _dmarc.nonly.example",
         DMARC_DISCOVERY_NO_RECORD, ""},
        {"example.co.uk", "_dmarc.example.co.uk", DMARC_DISCOVERY_NO_RECORD, ""},
        {"co.uk", "_dmarc.co.uk", DMARC_DISCOVERY_NO_RECORD, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct dmarc_eval *ev = dmarc_eval_new(od);
        assert_int_equal(dmarc_eval_discovery(ev), DMARC_DISCOVERY_PENDING);
        assert_int_equal(dmarc_eval_set_from_domain(ev, cases[i].from), 0);
        char asked[512];
        discover(ev, zone, asked, sizeof(asked));
        if (strcmp(asked, cases[i].asked) != 0)
            fail_msg("case %zu %s asked '%s'", i, cases[i].from, asked);
        if (dmarc_eval_discovery(ev) != cases[i].d)
            fail_msg("case %zu %s: %s", i, cases[i].from,
                     dmarc_discovery_name(dmarc_eval_discovery(ev)));
        struct dmarc_auth_input in = {0};
        struct dmarc_verdict v;
        dmarc_eval_result(ev, &in, &v);
        assert_string_equal(v.policy_domain, cases[i].policy_domain);
        assert_int_equal(dmarc_eval_record(ev) != NULL, cases[i].d == DMARC_DISCOVERY_RECORD);
        /* an answer after the end changes nothing */
        dmarc_eval_answer(ev, DMARC_DNS_TEMPERROR, NULL, NULL, 0);
        assert_int_equal(dmarc_eval_discovery(ev), cases[i].d);
        dmarc_eval_free(&ev);
    }
}

/* Evaluate one message from the zone above. */
static void eval(const char *from, const struct dmarc_auth_input *in, struct dmarc_verdict *v)
{
    struct dmarc_eval *ev = dmarc_eval_new(od);
    assert_int_equal(dmarc_eval_set_from_domain(ev, from), 0);
    char asked[512];
    discover(ev, zone, asked, sizeof(asked));
    dmarc_eval_result(ev, in, v);
    dmarc_eval_free(&ev);
}

static void test_verdict(void **state)
{
    (void)state;
    static const struct dmarc_dkim_input dk_sub_pass[] = {{"mail.reject.example", DMARC_AUTH_PASS}};
    static const struct dmarc_dkim_input dk_other[] = {{"example.org", DMARC_AUTH_PASS},
                                                       {"strict.example", DMARC_AUTH_FAIL}};
    static const struct dmarc_dkim_input dk_temp[] = {{"reject.example", DMARC_AUTH_TEMPERROR}};
    static const struct dmarc_dkim_input dk_sub_strict[] = {
        {"sub.strict.example", DMARC_AUTH_PASS}};
    static const struct {
        const char *from;
        struct dmarc_auth_input in;
        enum dmarc_result result;
        enum dmarc_policy policy, disposition;
        bool spf, dkim, sampled_out;
        const char *reason;
    } cases[] = {
        /* SPF aligned (relaxed) */
        {"reject.example",
         {DMARC_AUTH_PASS, "bounce.reject.example", NULL, 0, "192.0.2.1", 99},
         DMARC_RESULT_PASS,
         DMARC_POLICY_REJECT,
         DMARC_POLICY_NONE,
         true,
         false,
         false,
         "SPF aligned pass (relaxed)"},
        /* DKIM aligned (relaxed) */
        {"reject.example",
         {DMARC_AUTH_FAIL, "reject.example", dk_sub_pass, 1, NULL, 0},
         DMARC_RESULT_PASS,
         DMARC_POLICY_REJECT,
         DMARC_POLICY_NONE,
         false,
         true,
         false,
         "DKIM d=mail.reject.example aligned pass (relaxed)"},
        /* nothing at all, inside the pct=50 sample */
        {"reject.example",
         {DMARC_AUTH_NONE, NULL, NULL, 0, NULL, 49},
         DMARC_RESULT_FAIL,
         DMARC_POLICY_REJECT,
         DMARC_POLICY_REJECT,
         false,
         false,
         false,
         "no aligned identifier: SPF none; no DKIM signature"},
        /* ...and outside it: reject becomes quarantine */
        {"reject.example",
         {DMARC_AUTH_NONE, NULL, NULL, 0, NULL, 50},
         DMARC_RESULT_FAIL,
         DMARC_POLICY_REJECT,
         DMARC_POLICY_QUARANTINE,
         false,
         false,
         true,
         "no aligned identifier: SPF none; no DKIM signature; pct=50 sampled out, reject "
         "lowered to quarantine"},
        /* a subdomain without its own record gets sp= (quarantine), out of
         * the sample: none */
        {"x.reject.example",
         {DMARC_AUTH_FAIL, "x.reject.example", NULL, 0, NULL, 70},
         DMARC_RESULT_FAIL,
         DMARC_POLICY_QUARANTINE,
         DMARC_POLICY_NONE,
         false,
         false,
         true,
         "no aligned identifier: SPF fail for x.reject.example; no DKIM signature; pct=50 "
         "sampled out, quarantine lowered to none"},
        /* a subdomain with its own record gets its p= */
        {"own.reject.example",
         {DMARC_AUTH_NONE, NULL, NULL, 0, NULL, 0},
         DMARC_RESULT_FAIL,
         DMARC_POLICY_NONE,
         DMARC_POLICY_NONE,
         false,
         false,
         false,
         NULL},
        /* strict: a subdomain does not align */
        {"strict.example",
         {DMARC_AUTH_PASS, "sub.strict.example", dk_sub_strict, 1, NULL, 0},
         DMARC_RESULT_FAIL,
         DMARC_POLICY_REJECT,
         DMARC_POLICY_REJECT,
         false,
         false,
         false,
         "no aligned identifier: SPF domain sub.strict.example not aligned with From "
         "strict.example (strict); DKIM d=sub.strict.example not aligned with From "
         "strict.example (strict)"},
        {"strict.example",
         {DMARC_AUTH_PASS, NULL, dk_other, 2, NULL, 0},
         DMARC_RESULT_FAIL,
         DMARC_POLICY_REJECT,
         DMARC_POLICY_REJECT,
         false,
         false,
         false,
         "no aligned identifier: SPF pass without a domain; DKIM d=example.org not aligned "
         "with From strict.example (strict)"},
        /* an aligned temporary failure and no pass: temperror */
        {"reject.example",
         {DMARC_AUTH_FAIL, "reject.example", dk_temp, 1, NULL, 0},
         DMARC_RESULT_TEMPERROR,
         DMARC_POLICY_REJECT,
         DMARC_POLICY_NONE,
         false,
         false,
         false,
         "no aligned pass, and an aligned DKIM temporary error"},
        {"reject.example",
         {DMARC_AUTH_TEMPERROR, "reject.example", dk_sub_pass, 1, NULL, 0},
         DMARC_RESULT_PASS,
         DMARC_POLICY_REJECT,
         DMARC_POLICY_NONE,
         false,
         true,
         false,
         NULL},
        /* a temporary error of a domain that could not align is a fail */
        {"reject.example",
         {DMARC_AUTH_TEMPERROR, "example.org", NULL, 0, NULL, 0},
         DMARC_RESULT_FAIL,
         DMARC_POLICY_REJECT,
         DMARC_POLICY_REJECT,
         false,
         false,
         false,
         NULL},
        /* no record, several, invalid, DNS failure */
        {"absent.example",
         {DMARC_AUTH_PASS, "absent.example", NULL, 0, NULL, 0},
         DMARC_RESULT_NONE,
         DMARC_POLICY_NONE,
         DMARC_POLICY_NONE,
         false,
         false,
         false,
         "no DMARC record for absent.example"},
        {"two.example",
         {DMARC_AUTH_NONE, NULL, NULL, 0, NULL, 0},
         DMARC_RESULT_NONE,
         DMARC_POLICY_NONE,
         DMARC_POLICY_NONE,
         false,
         false,
         false,
         "2 DMARC records at _dmarc.two.example: no policy"},
        {"bad.example",
         {DMARC_AUTH_NONE, NULL, NULL, 0, NULL, 0},
         DMARC_RESULT_PERMERROR,
         DMARC_POLICY_NONE,
         DMARC_POLICY_NONE,
         false,
         false,
         false,
         "invalid DMARC record at _dmarc.bad.example: tag without '='"},
        {"fail.example",
         {DMARC_AUTH_PASS, "fail.example", NULL, 0, NULL, 0},
         DMARC_RESULT_TEMPERROR,
         DMARC_POLICY_NONE,
         DMARC_POLICY_NONE,
         false,
         false,
         false,
         "temporary DNS error looking up _dmarc.fail.example"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct dmarc_verdict v;
        eval(cases[i].from, &cases[i].in, &v);
        if (v.result != cases[i].result || v.policy != cases[i].policy ||
            v.disposition != cases[i].disposition || v.spf_aligned != cases[i].spf ||
            v.dkim_aligned != cases[i].dkim || v.sampled_out != cases[i].sampled_out)
            fail_msg("case %zu %s: %s policy=%s disposition=%s spf=%d dkim=%d sampled_out=%d: %s",
                     i, cases[i].from, dmarc_result_name(v.result), dmarc_policy_name(v.policy),
                     dmarc_policy_name(v.disposition), v.spf_aligned, v.dkim_aligned, v.sampled_out,
                     v.reason);
        if (cases[i].reason)
            assert_string_equal(v.reason, cases[i].reason);
    }
}

static void test_report_row(void **state)
{
    (void)state;
    static const struct dmarc_dkim_input dk[] = {{"Mail.Reject.Example", DMARC_AUTH_PASS}};
    struct dmarc_auth_input in = {DMARC_AUTH_PASS, "reject.example", dk, 1, "2001:db8::1", 0};
    struct dmarc_verdict v;
    eval("x.reject.example", &in, &v);
    assert_int_equal(v.result, DMARC_RESULT_PASS);
    assert_string_equal(v.source_ip, "2001:db8::1");
    assert_string_equal(v.from_domain, "x.reject.example");
    assert_string_equal(v.policy_domain, "reject.example");
    assert_true(v.record_found);
    assert_int_equal(v.published.p, DMARC_POLICY_REJECT);
    assert_int_equal(v.published.sp, DMARC_POLICY_QUARANTINE);
    assert_int_equal(v.published.pct, 50);
    assert_int_equal(v.published.adkim, DMARC_ALIGN_RELAXED);
    assert_int_equal(v.published.aspf, DMARC_ALIGN_RELAXED);
    assert_int_equal(v.disposition, DMARC_POLICY_NONE);
    assert_true(v.spf_aligned);
    assert_true(v.dkim_aligned);
    assert_string_equal(v.dkim_aligned_domain, "mail.reject.example");
    assert_string_equal(v.reason, "SPF and DKIM d=mail.reject.example aligned pass");

    /* before discovery is over, and without a From domain: none */
    struct dmarc_eval *ev = dmarc_eval_new(od);
    dmarc_eval_result(ev, &in, &v);
    assert_int_equal(v.result, DMARC_RESULT_NONE);
    assert_string_equal(v.reason, "no From domain");
    assert_int_equal(dmarc_eval_set_from_domain(ev, "reject.example"), 0);
    dmarc_eval_result(ev, &in, &v);
    assert_int_equal(v.result, DMARC_RESULT_NONE);
    assert_string_equal(v.reason, "policy discovery unfinished");
    assert_int_equal(dmarc_eval_set_from_domain(ev, "bad..example"), -1);
    assert_null(dmarc_eval_query(ev));
    /* the whole flow from the From header field */
    assert_int_equal(from1(ev, "Boss <boss@Reject.Example>"), DMARC_FROM_OK);
    assert_string_equal(dmarc_eval_query(ev), "_dmarc.reject.example");
    char asked[512];
    discover(ev, zone, asked, sizeof(asked));
    struct dmarc_auth_input none = {0};
    dmarc_eval_result(ev, &none, &v);
    assert_int_equal(v.result, DMARC_RESULT_FAIL);
    assert_int_equal(v.disposition, DMARC_POLICY_REJECT);
    dmarc_eval_free(&ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_valid),   cmocka_unit_test(test_record_details),
        cmocka_unit_test(test_record_invalid), cmocka_unit_test(test_is_dmarc),
        cmocka_unit_test(test_orgdomain),      cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_from),           cmocka_unit_test(test_discovery),
        cmocka_unit_test(test_verdict),        cmocka_unit_test(test_report_row),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
