/* Unit tests of src/policy/dnsbl-sites.c, dnsbl-cache.c and dnsbl.c; the
 * lookups run against a small DNS responder on 127.0.0.1 in this file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/dns.h"
#include "policy/dnsbl.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
/* A string literal where the DNS layer's char *const * is wanted. */
#define RR(s)           ((char *)(uintptr_t)(s))
#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))

static void parse_ok(const char *text, struct dnsbl_sites *s)
{
    char *error = NULL;
    if (dnsbl_sites_parse(text, strlen(text), s, &error) != 0)
        fail_msg("\"%s\": %s", text, error);
    assert_null(error);
}

static void test_sites_parse(void **state)
{
    (void)state;
    struct dnsbl_sites s;
    parse_ok("zen.spamhaus.org*2, bl.example=127.0.0.2\n"
             "  list.dnswl.org=127.0.[0..255].[1..3]*-2,,Bl.Example.=127.0.0.[4;6..7;9]",
             &s);
    assert_int_equal(s.n, 4);
    assert_int_equal(s.n_domains, 3);
    assert_string_equal(s.site[0].domain, "zen.spamhaus.org");
    assert_false(s.site[0].has_filter);
    assert_int_equal(s.site[0].weight, 2);
    assert_string_equal(s.site[1].domain, "bl.example");
    assert_int_equal(s.site[1].weight, 1);
    assert_true(dnsbl_site_filter_match(&s.site[1], IP4(127, 0, 0, 2)));
    assert_false(dnsbl_site_filter_match(&s.site[1], IP4(127, 0, 0, 3)));
    assert_int_equal(s.site[2].weight, -2);
    assert_true(dnsbl_site_filter_match(&s.site[2], IP4(127, 0, 15, 1)));
    assert_true(dnsbl_site_filter_match(&s.site[2], IP4(127, 0, 255, 3)));
    assert_false(dnsbl_site_filter_match(&s.site[2], IP4(127, 0, 15, 0)));
    assert_false(dnsbl_site_filter_match(&s.site[2], IP4(127, 0, 15, 4)));
    assert_false(dnsbl_site_filter_match(&s.site[2], IP4(127, 1, 15, 1)));
    /* The same domain twice: one lookup, two sites. */
    assert_string_equal(s.site[3].domain, "bl.example");
    assert_int_equal(s.site[3].domain_index, s.site[1].domain_index);
    static const unsigned in[] = {4, 6, 7, 9};
    static const unsigned out[] = {3, 5, 8, 10, 0, 255};
    for (size_t i = 0; i < N_ELEMS(in); i++)
        assert_true(dnsbl_site_filter_match(&s.site[3], IP4(127, 0, 0, in[i])));
    for (size_t i = 0; i < N_ELEMS(out); i++)
        assert_false(dnsbl_site_filter_match(&s.site[3], IP4(127, 0, 0, out[i])));
    assert_string_equal(s.domains[s.site[3].domain_index], "bl.example");

    /* Empty settings, explicit weights. */
    parse_ok("", &s);
    assert_int_equal(s.n, 0);
    parse_ok(" ,\t\r\n ", &s);
    assert_int_equal(s.n, 0);
    parse_ok("a.example*+3 b.example*-1000 c.example*1000 d.example*0", &s);
    assert_int_equal(s.site[0].weight, 3);
    assert_int_equal(s.site[1].weight, -1000);
    assert_int_equal(s.site[2].weight, 1000);
    assert_int_equal(s.site[3].weight, 0);

    /* The copy points into itself. */
    struct dnsbl_sites copy;
    parse_ok("a.example b.example a.example=127.0.0.2", &s);
    dnsbl_sites_copy(&copy, &s);
    assert_int_equal(copy.n_domains, 2);
    assert_ptr_equal(copy.domains[1], copy.site[1].domain);
}

static void test_sites_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *why;
    } cases[] = {
        {"=127.0.0.2", "no domain"},
        {"*2", "no domain"},
        {"a..example", "empty label"},
        {".example", "empty label"},
        {"a.exa$mple", "bad character"},
        {"bl.example=127.0.0", "four octets"},
        {"bl.example=127.0.0.2.3", "junk after"},
        {"bl.example=127.0.0.256", "bad number"},
        {"bl.example=127.0.0.2000", "bad number"},
        {"bl.example=127.0.0.", "filter too short"},
        {"bl.example=127.0.0.[1..", "bad number"},
        {"bl.example=127.0.0.[5..2]", "goes down"},
        {"bl.example=127.0.0.[1;2", "unterminated"},
        {"bl.example=127.0.0.[]", "bad number"},
        {"bl.example=127.0.0.[1;]", "bad number"},
        {"bl.example=", "filter too short"},
        {"bl.example*", "bad weight"},
        {"bl.example*x", "bad weight"},
        {"bl.example*1001", "bad weight"},
        {"bl.example*-1001", "bad weight"},
        {"bl.example*2*3", "bad weight"},
        {"bl.example*-", "bad weight"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct dnsbl_sites s;
        char *error = NULL;
        char text[128];
        int w = snprintf(text, sizeof(text), "ok.example %s", cases[i].text);
        assert_true(w > 0 && (size_t)w < sizeof(text));
        if (dnsbl_sites_parse(text, strlen(text), &s, &error) != -1)
            fail_msg("case %zu \"%s\" parsed", i, cases[i].text);
        assert_non_null(error);
        /* The message names the entry and why. */
        if (strstr(error, cases[i].text) == NULL || strstr(error, cases[i].why) == NULL)
            fail_msg("case %zu: \"%s\"", i, error);
        assert_int_equal(s.n, 0);
        free(error);
    }
}

static void test_sites_limits(void **state)
{
    (void)state;
    struct dnsbl_sites s;
    char text[DNSBL_SETTING_MAX + 2];
    char *error = NULL;
    size_t n = 0;
    /* DNSBL_SITES_MAX entries pass, one more fails. */
    for (int i = 0; i < DNSBL_SITES_MAX; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "s%d.example ", i);
    assert_int_equal(dnsbl_sites_parse(text, n, &s, &error), 0);
    assert_int_equal(s.n, DNSBL_SITES_MAX);
    n += (size_t)snprintf(text + n, sizeof(text) - n, "one.more.example");
    assert_int_equal(dnsbl_sites_parse(text, n, &s, &error), -1);
    assert_non_null(strstr(error, "too many sites"));
    assert_non_null(strstr(error, "one.more.example"));
    free(error);

    /* A domain of DNSBL_DOMAIN_MAX bytes passes, one more fails. */
    char dom[DNSBL_DOMAIN_MAX + 2];
    for (size_t i = 0; i < sizeof(dom) - 1; i++)
        dom[i] = (i % 60 == 59) ? '.' : 'a';
    assert_int_equal(dnsbl_sites_parse(dom, DNSBL_DOMAIN_MAX, &s, &error), 0);
    assert_int_equal(dnsbl_sites_parse(dom, DNSBL_DOMAIN_MAX + 1, &s, &error), -1);
    assert_non_null(strstr(error, "domain too long"));
    free(error);
    /* A label of 63 passes, 64 fails. */
    memset(dom, 'a', 64);
    memcpy(dom + 64, ".x", 2);
    assert_int_equal(dnsbl_sites_parse(dom + 1, 65, &s, &error), 0);
    assert_int_equal(dnsbl_sites_parse(dom, 66, &s, &error), -1);
    assert_non_null(strstr(error, "label too long"));
    free(error);

    /* The setting: DNSBL_SETTING_MAX bytes pass, one more fails. */
    memset(text, ' ', sizeof(text));
    memcpy(text, "a.example", 9);
    assert_int_equal(dnsbl_sites_parse(text, DNSBL_SETTING_MAX, &s, &error), 0);
    assert_int_equal(dnsbl_sites_parse(text, DNSBL_SETTING_MAX + 1, &s, &error), -1);
    assert_non_null(strstr(error, "setting too long"));
    free(error);

    /* An entry of DNSBL_ENTRY_MAX + 1 bytes fails. */
    memset(text, 'a', DNSBL_ENTRY_MAX + 1);
    assert_int_equal(dnsbl_sites_parse(text, DNSBL_ENTRY_MAX + 1, &s, &error), -1);
    assert_non_null(strstr(error, "entry too long"));
    free(error);
}

static void test_query_name(void **state)
{
    (void)state;
    static const struct {
        const char *ip;
        const char *name;
    } cases[] = {
        {"192.0.2.1", "1.2.0.192.zen.example"},
        {"127.0.0.2", "2.0.0.127.zen.example"},
        {"::ffff:192.0.2.99", "99.2.0.192.zen.example"},
        {"::FFFF:10.0.0.1", "1.0.0.10.zen.example"},
        {"2001:db8::1",
         "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.example"},
        {"2001:DB8:1:2:3:4:5:abcd",
         "d.c.b.a.5.0.0.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.zen.example"},
        {"::1", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.zen.example"},
        {"fe80::", "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.zen.example"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        char out[DNSBL_QUERY_MAX];
        assert_int_equal(dnsbl_query_name(cases[i].ip, "zen.example", out, sizeof(out)), 0);
        if (strcmp(out, cases[i].name) != 0)
            fail_msg("case %zu %s: %s", i, cases[i].ip, out);
    }
    static const char *const bad[] = {
        "",           "192.0.2",     "192.0.2.256", "host.example", "2001:db8::1::2",
        " 192.0.2.1", "192.0.2.1/24"};
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        char out[DNSBL_QUERY_MAX];
        assert_int_equal(dnsbl_query_name(bad[i], "zen.example", out, sizeof(out)), -1);
    }
    /* Too small an output fails. */
    char small[20];
    assert_int_equal(dnsbl_query_name("192.0.2.1", "zen.example", small, 21 - 10), -1);
    assert_int_equal(dnsbl_query_name("192.0.2.1", "zen.example", small, 20), -1);
    char exact[22];
    assert_int_equal(dnsbl_query_name("192.0.2.1", "zen.example", exact, sizeof(exact)), 0);
    /* The longest domain fits with an IPv6 address. */
    char dom[DNSBL_DOMAIN_MAX + 1];
    memset(dom, 'a', DNSBL_DOMAIN_MAX);
    dom[DNSBL_DOMAIN_MAX] = '\0';
    char out[DNSBL_QUERY_MAX];
    assert_int_equal(dnsbl_query_name("2001:db8::1", dom, out, sizeof(out)), 0);
    assert_true(strlen(out) <= 253);
}

static void test_answers(void **state)
{
    (void)state;
    char *rr[] = {RR("127.0.0.2"),  RR("127.255.255.254"), RR("192.0.2.1"),     RR("garbage"),
                  RR("127.0.0.10"), RR("127.255.255.0"),   RR("127.255.254.1"), RR("10.0.0.2")};
    uint32_t a[DNSBL_ANSWERS_MAX];
    size_t n = dnsbl_answers_parse(rr, N_ELEMS(rr), a, N_ELEMS(a));
    assert_int_equal(n, 3);
    assert_int_equal(a[0], IP4(127, 0, 0, 2));
    assert_int_equal(a[1], IP4(127, 0, 0, 10));
    assert_int_equal(a[2], IP4(127, 255, 254, 1));
    /* Bounded by max. */
    assert_int_equal(dnsbl_answers_parse(rr, N_ELEMS(rr), a, 1), 1);
}

static void test_scores(void **state)
{
    (void)state;
    struct dnsbl_sites s;
    parse_ok("zen.example*2 bl.example=127.0.0.2*3 bl.example=127.0.0.[2..4] "
             "wl.example=127.0.[0..255].[1..3]*-2 big.example*3",
             &s);
    struct dnsbl_result r;
    uint32_t two[] = {IP4(127, 0, 0, 2), IP4(127, 0, 0, 3)};
    uint32_t wl[] = {IP4(127, 0, 9, 2)};
    uint32_t none[] = {IP4(127, 0, 0, 9)};

    /* Weights summed once per site, even with two matching answers. */
    dnsbl_result_init(&r);
    assert_int_equal(r.listed_site, -1);
    assert_string_equal(r.listed_by, "");
    dnsbl_result_add(&r, &s, s.site[1].domain_index, two, 2);
    assert_int_equal(r.score, 4);
    assert_int_equal(r.matched, 0x6);
    assert_string_equal(r.listed_by, "bl.example");
    assert_int_equal(r.listed_site, 1);
    /* Added twice: still once. */
    dnsbl_result_add(&r, &s, s.site[1].domain_index, two, 2);
    assert_int_equal(r.score, 4);
    dnsbl_result_add(&r, &s, s.site[0].domain_index, two, 1);
    assert_int_equal(r.score, 6);
    assert_string_equal(r.listed_by, "bl.example"); /* weight 3 beats 2 */
    /* An equal weight configured later does not take the name. */
    dnsbl_result_add(&r, &s, s.site[4].domain_index, two, 1);
    assert_int_equal(r.score, 9);
    assert_string_equal(r.listed_by, "bl.example");
    /* An allow list lowers the score and never names the listing. */
    dnsbl_result_add(&r, &s, s.site[3].domain_index, wl, 1);
    assert_int_equal(r.score, 7);
    assert_true(dnsbl_result_blocks(&r, 7));
    assert_false(dnsbl_result_blocks(&r, 8));

    /* Order does not change the name. */
    dnsbl_result_init(&r);
    dnsbl_result_add(&r, &s, s.site[4].domain_index, two, 1);
    assert_string_equal(r.listed_by, "big.example");
    dnsbl_result_add(&r, &s, s.site[1].domain_index, two, 1);
    assert_string_equal(r.listed_by, "bl.example");
    assert_int_equal(r.score, 7);

    /* A filter that passes nothing; no answers; only the allow list. */
    dnsbl_result_init(&r);
    dnsbl_result_add(&r, &s, s.site[1].domain_index, none, 1);
    dnsbl_result_add(&r, &s, s.site[0].domain_index, none, 0);
    assert_int_equal(r.score, 0);
    dnsbl_result_add(&r, &s, s.site[3].domain_index, wl, 1);
    assert_int_equal(r.score, -2);
    assert_int_equal(r.listed_site, -1);
    assert_false(dnsbl_result_blocks(&r, 1));
    assert_true(dnsbl_result_blocks(&r, -2));

    /* The ignored answers, end to end. */
    char *ignored[] = {RR("127.255.255.254"), RR("192.0.2.2")};
    uint32_t a[DNSBL_ANSWERS_MAX];
    size_t n = dnsbl_answers_parse(ignored, 2, a, DNSBL_ANSWERS_MAX);
    dnsbl_result_init(&r);
    dnsbl_result_add(&r, &s, s.site[0].domain_index, a, n);
    assert_int_equal(r.score, 0);
}

static time_t fake_now;
static time_t fake_clock(void)
{
    return fake_now;
}

static void test_cache(void **state)
{
    (void)state;
    fake_now = 1000;
    struct dnsbl_cache *c = dnsbl_cache_new(3, 300, fake_clock);
    uint8_t a1[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
    uint8_t a2[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 2};
    uint32_t ans[] = {IP4(127, 0, 0, 2), IP4(127, 0, 0, 4)};
    uint32_t out[DNSBL_ANSWERS_MAX];

    assert_int_equal(dnsbl_cache_get(c, 0, a1, out, DNSBL_ANSWERS_MAX), -1);
    dnsbl_cache_put(c, 0, a1, ans, 2, -1);
    dnsbl_cache_put(c, 1, a1, NULL, 0, -1);
    assert_int_equal(dnsbl_cache_get(c, 0, a1, out, DNSBL_ANSWERS_MAX), 2);
    assert_int_equal(out[1], IP4(127, 0, 0, 4));
    assert_int_equal(dnsbl_cache_get(c, 0, a1, out, 1), 1);
    assert_int_equal(dnsbl_cache_get(c, 1, a1, out, DNSBL_ANSWERS_MAX), 0);
    assert_int_equal(dnsbl_cache_get(c, 0, a2, out, DNSBL_ANSWERS_MAX), -1);
    assert_int_equal(dnsbl_cache_get(c, 2, a1, out, DNSBL_ANSWERS_MAX), -1);

    /* Expiry: alive at 299 s, gone at 300 s. */
    fake_now = 1299;
    assert_int_equal(dnsbl_cache_get(c, 0, a1, out, DNSBL_ANSWERS_MAX), 2);
    fake_now = 1300;
    assert_int_equal(dnsbl_cache_get(c, 0, a1, out, DNSBL_ANSWERS_MAX), -1);
    /* Put again: replaces, does not duplicate. */
    dnsbl_cache_put(c, 0, a1, ans, 1, -1);
    assert_int_equal(dnsbl_cache_count(c), 2);
    assert_int_equal(dnsbl_cache_get(c, 0, a1, out, DNSBL_ANSWERS_MAX), 1);

    /* Eviction: full at 3, the fourth drops the oldest ((1, a1)). */
    dnsbl_cache_put(c, 0, a2, ans, 2, -1);
    assert_int_equal(dnsbl_cache_count(c), 3);
    dnsbl_cache_put(c, 1, a2, ans, 2, -1);
    assert_int_equal(dnsbl_cache_count(c), 3);
    assert_int_equal(dnsbl_cache_get(c, 1, a1, out, DNSBL_ANSWERS_MAX), -1);
    assert_int_equal(dnsbl_cache_get(c, 0, a1, out, DNSBL_ANSWERS_MAX), 1);
    assert_int_equal(dnsbl_cache_get(c, 0, a2, out, DNSBL_ANSWERS_MAX), 2);
    assert_int_equal(dnsbl_cache_get(c, 1, a2, out, DNSBL_ANSWERS_MAX), 2);
    dnsbl_cache_free(&c);
    assert_null(c);

    /* Lifetime 0 caches nothing; many puts stay bounded. */
    c = dnsbl_cache_new(0, 0, fake_clock);
    dnsbl_cache_put(c, 0, a1, ans, 2, -1);
    assert_int_equal(dnsbl_cache_get(c, 0, a1, out, DNSBL_ANSWERS_MAX), -1);
    dnsbl_cache_free(&c);
    c = dnsbl_cache_new(100, 300, fake_clock);
    for (unsigned i = 0; i < 1000; i++) {
        uint8_t a[16] = {0};
        a[14] = (uint8_t)(i >> 8);
        a[15] = (uint8_t)i;
        dnsbl_cache_put(c, i % 3, a, ans, 2, -1);
    }
    assert_int_equal(dnsbl_cache_count(c), 100);
    dnsbl_cache_free(&c);

    /* An answer lives for its TTL, at most the cache's lifetime. */
    c = dnsbl_cache_new(10, 300, fake_clock);
    fake_now = 5000;
    dnsbl_cache_put(c, 0, a1, ans, 2, 10);
    dnsbl_cache_put(c, 1, a1, ans, 2, 0); /* "do not keep" */
    dnsbl_cache_put(c, 0, a2, ans, 2, 86400);
    assert_int_equal(dnsbl_cache_get(c, 1, a1, out, DNSBL_ANSWERS_MAX), -1);
    fake_now = 5009;
    assert_int_equal(dnsbl_cache_get(c, 0, a1, out, DNSBL_ANSWERS_MAX), 2);
    fake_now = 5010;
    assert_int_equal(dnsbl_cache_get(c, 0, a1, out, DNSBL_ANSWERS_MAX), -1);
    fake_now = 5299;
    assert_int_equal(dnsbl_cache_get(c, 0, a2, out, DNSBL_ANSWERS_MAX), 2);
    fake_now = 5300;
    assert_int_equal(dnsbl_cache_get(c, 0, a2, out, DNSBL_ANSWERS_MAX), -1);
    dnsbl_cache_free(&c);
}

/* ---- A DNS responder for the lookups: A records from a table. ---- */

struct zone_entry {
    const char *name;
    const char *const *a; /* NULL-terminated; NULL: SERVFAIL */
    bool nxdomain;
    int queries;
};

static const char *const a_127_0_0_2[] = {"127.0.0.2", NULL};
static const char *const a_refused[] = {"127.255.255.254", NULL};
static const char *const a_wl[] = {"127.0.10.2", NULL};

static struct zone_entry zone[] = {
    {"2.0.0.127.zen.example", a_127_0_0_2, false, 0},
    {"2.0.0.127.bl.example", a_refused, false, 0},
    {"2.0.0.127.wl.example", a_wl, false, 0},
    {"2.0.0.127.fail.example", NULL, false, 0},
    {"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.example", a_127_0_0_2,
     false, 0},
};

struct responder {
    int fd;
    struct event *ev;
    int port;
};

/* Answer one query from the table (unknown names: NXDOMAIN, without an
 * SOA: a TTL the cache does not know); A records with TTL 60. */
static void on_query(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    (void)arg;
    uint8_t q[512];
    struct sockaddr_storage from;
    socklen_t fromlen = sizeof(from);
    ssize_t n = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fromlen);
    if (n < 12)
        return;
    char name[256];
    size_t nl = 0;
    size_t i = 12;
    while (i < (size_t)n && q[i] != 0 && nl + q[i] + 2 < sizeof(name)) {
        size_t len = q[i];
        if (i + 1 + len > (size_t)n)
            return;
        if (nl > 0)
            name[nl++] = '.';
        for (size_t k = 0; k < len; k++) {
            char ch = (char)q[i + 1 + k];
            name[nl++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
        }
        i += 1 + len;
    }
    if (i + 5 > (size_t)n || q[i] != 0)
        return;
    size_t qend = i + 5;
    name[nl] = '\0';
    unsigned qtype = (unsigned)(q[i + 1] << 8 | q[i + 2]);
    uint8_t r[512];
    memcpy(r, q, qend);
    r[2] = 0x81 | (q[2] & 0x01);
    r[3] = 0x80;
    memset(r + 6, 0, 6); /* no answers, authority or additional yet */
    size_t rl = qend;
    struct zone_entry *z = NULL;
    for (size_t k = 0; k < N_ELEMS(zone); k++)
        if (strcmp(zone[k].name, name) == 0)
            z = &zone[k];
    if (z == NULL) {
        r[3] |= 3;
    } else if (z->a == NULL) {
        z->queries++;
        r[3] |= 2;
    } else if (qtype == DNS_TYPE_A) {
        z->queries++;
        unsigned an = 0;
        for (const char *const *a = z->a; *a; a++, an++) {
            static const uint8_t rrhead[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4};
            memcpy(r + rl, rrhead, sizeof(rrhead));
            rl += sizeof(rrhead);
            assert_int_equal(inet_pton(AF_INET, *a, r + rl), 1);
            rl += 4;
        }
        r[7] = (uint8_t)an;
    }
    (void)sendto(fd, r, rl, 0, (struct sockaddr *)&from, fromlen);
}

static void responder_start(struct responder *rs, struct event_base *base)
{
    rs->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    assert_true(rs->fd >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(rs->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    socklen_t len = sizeof(sin);
    assert_int_equal(getsockname(rs->fd, (struct sockaddr *)&sin, &len), 0);
    rs->port = ntohs(sin.sin_port);
    rs->ev = event_new(base, rs->fd, EV_READ | EV_PERSIST, on_query, rs);
    event_add(rs->ev, NULL);
}

static void responder_stop(struct responder *rs)
{
    event_free(rs->ev);
    close(rs->fd);
}

struct outcome {
    struct event_base *base;
    bool done;
    struct dnsbl_result r;
};

static void on_result(void *arg, const struct dnsbl_result *r)
{
    struct outcome *o = arg;
    o->done = true;
    o->r = *r;
    event_base_loopbreak(o->base);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

/* Run one check to its end (or 10 s). */
/* Run a check to its end; returns whether it went to the DNS (false: all
 * from our cache, answered at once). */
static bool run_check(struct dnsbl *d, struct event_base *base, const char *ip, struct outcome *o)
{
    memset(o, 0, sizeof(*o));
    o->base = base;
    struct dnsbl_check *c = dnsbl_check_start(d, ip, on_result, o);
    bool asked = c != NULL;
    if (c != NULL) {
        struct timeval tv = {10, 0};
        struct event *t = evtimer_new(base, on_timeout, base);
        evtimer_add(t, &tv);
        event_base_dispatch(base);
        event_free(t);
    }
    assert_true(o->done);
    return asked;
}

static void test_lookups(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    struct responder rs;
    responder_start(&rs, base);
    char resolver[64];
    int w = snprintf(resolver, sizeof(resolver), "127.0.0.1:%d", rs.port);
    assert_true(w > 0 && (size_t)w < sizeof(resolver));
    char *error = NULL;
    struct dns *dns = dns_new(base, resolver, &error);
    if (dns == NULL)
        fail_msg("dns_new: %s", error);

    struct dnsbl_sites s;
    parse_ok("zen.example*3 bl.example*2 wl.example=127.0.[0..255].2*-1 fail.example*5 "
             "none.example*7",
             &s);
    fake_now = 5000;
    struct dnsbl *d = dnsbl_new_clock(dns, &s, 300, fake_clock);
    struct outcome o;

    run_check(d, base, "127.0.0.2", &o);
    assert_int_equal(o.r.score, 2); /* 3 - 1; bl refused, fail and none count 0 */
    assert_true(o.r.tempfail);
    assert_string_equal(o.r.listed_by, "zen.example");
    assert_int_equal(zone[0].queries, 1);
    assert_int_equal(zone[3].queries >= 1, 1);

    /* From the cache, except the failed lookup: not in our cache (libunbound
     * may keep the SERVFAIL a moment itself), so still a temporary failure. */
    run_check(d, base, "::ffff:127.0.0.2", &o);
    assert_int_equal(o.r.score, 2);
    assert_true(o.r.tempfail);
    assert_int_equal(zone[0].queries, 1);

    /* Expired: asked again (libunbound may answer from its own cache: the
     * records' TTL is 60 s of real time). */
    fake_now += 300;
    assert_true(run_check(d, base, "127.0.0.2", &o));
    assert_int_equal(o.r.score, 2);

    /* IPv6, and a client listed nowhere. */
    run_check(d, base, "2001:db8::1", &o);
    assert_int_equal(o.r.score, 3);
    assert_string_equal(o.r.listed_by, "zen.example");
    run_check(d, base, "192.0.2.7", &o);
    assert_int_equal(o.r.score, 0);
    assert_string_equal(o.r.listed_by, "");
    assert_int_equal(o.r.listed_site, -1);

    /* Not an address: at once, score 0, tempfail. */
    memset(&o, 0, sizeof(o));
    assert_null(dnsbl_check_start(d, "not-an-ip", on_result, &o));
    assert_true(o.done && o.r.tempfail && o.r.score == 0);

    /* Cancelled: the callback never runs. */
    memset(&o, 0, sizeof(o));
    o.base = base;
    struct dnsbl_check *c = dnsbl_check_start(d, "192.0.2.8", on_result, &o);
    assert_non_null(c);
    dnsbl_check_cancel(c);
    struct timeval tv = {0, 300000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
    assert_false(o.done);

    dnsbl_free(&d);
    assert_null(d);

    /* No sites: at once, score 0. */
    parse_ok("", &s);
    d = dnsbl_new(dns, &s, 300);
    memset(&o, 0, sizeof(o));
    assert_null(dnsbl_check_start(d, "192.0.2.1", on_result, &o));
    assert_true(o.done && !o.r.tempfail && o.r.score == 0);
    dnsbl_free(&d);

    dns_free(&dns);
    responder_stop(&rs);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sites_parse),  cmocka_unit_test(test_sites_errors),
        cmocka_unit_test(test_sites_limits), cmocka_unit_test(test_query_name),
        cmocka_unit_test(test_answers),      cmocka_unit_test(test_scores),
        cmocka_unit_test(test_cache),        cmocka_unit_test(test_lookups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
