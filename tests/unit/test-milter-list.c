/* Unit tests of src/policy/milter-list.c: the `milters` setting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "policy/milter-list.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A heap copy of exactly n bytes: ASan catches any read past n. */
static char *exact_copy(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, s, n);
    return p;
}

/* The defaults of most cases: none of them is a value an option gives. */
static const struct milter_list_defaults defaults = {true, 7000, 9000};

/* Parse len bytes of text (copied so that nothing past them is read). */
static int parse(const char *text, size_t len, const struct milter_list_defaults *d,
                 struct milter_list *out, char **error)
{
    char *t = exact_copy(text, len);
    *error = NULL;
    memset(out, 0xa5, sizeof(*out));
    int rc = milter_list_parse(t, len, d, out, error);
    free(t);
    return rc;
}

struct want {
    const char *address;
    bool default_accept;
    unsigned connect_ms, command_ms;
};

static void test_milter_list_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t n;
        struct want m[3];
    } cases[] = {
        {"", 0, {{0}}},
        {"   ", 0, {{0}}},
        {" , ,\t,\r\n", 0, {{0}}},
        {"/run/rspamd/milter.sock", 1, {{"/run/rspamd/milter.sock", true, 7000, 9000}}},
        {"  /a.sock  ", 1, {{"/a.sock", true, 7000, 9000}}},
        {"/a.sock,", 1, {{"/a.sock", true, 7000, 9000}}},
        {",,/a.sock,,", 1, {{"/a.sock", true, 7000, 9000}}},
        {"127.0.0.1:8891", 1, {{"127.0.0.1:8891", true, 7000, 9000}}},
        {"[::1]:11332", 1, {{"[::1]:11332", true, 7000, 9000}}},
        {"[2001:db8::5]:1", 1, {{"[2001:db8::5]:1", true, 7000, 9000}}},
        {"localhost:8891", 1, {{"localhost:8891", true, 7000, 9000}}},
        {"192.0.2.1:65535", 1, {{"192.0.2.1:65535", true, 7000, 9000}}},
        {"/a.sock, 127.0.0.1:8891 ,[::1]:11332",
         3,
         {{"/a.sock", true, 7000, 9000},
          {"127.0.0.1:8891", true, 7000, 9000},
          {"[::1]:11332", true, 7000, 9000}}},
        {"/a.sock,/b.sock", 2, {{"/a.sock", true, 7000, 9000}, {"/b.sock", true, 7000, 9000}}},
        {"/a.sock default=tempfail", 1, {{"/a.sock", false, 7000, 9000}}},
        {"/a.sock default=accept", 1, {{"/a.sock", true, 7000, 9000}}},
        {"/a.sock DEFAULT=TempFail", 1, {{"/a.sock", false, 7000, 9000}}},
        {"/a.sock connect_timeout=5s", 1, {{"/a.sock", true, 5000, 9000}}},
        {"/a.sock command_timeout=2m", 1, {{"/a.sock", true, 7000, 120000}}},
        {"/a.sock Command_Timeout=30", 1, {{"/a.sock", true, 7000, 30000}}},
        {"/a.sock connect_timeout=1s command_timeout=10m", 1, {{"/a.sock", true, 1000, 600000}}},
        {"/a.sock command_timeout=600", 1, {{"/a.sock", true, 7000, 600000}}},
        {"/a.sock\tdefault=tempfail \t connect_timeout=3s  command_timeout=4s\r\n",
         1,
         {{"/a.sock", false, 3000, 4000}}},
        {"/a.sock connect_timeout=1s connect_timeout=2s", 1, {{"/a.sock", true, 2000, 9000}}},
        {"/a.sock default=tempfail, /b.sock, [::1]:1 command_timeout=1m default=tempfail",
         3,
         {{"/a.sock", false, 7000, 9000},
          {"/b.sock", true, 7000, 9000},
          {"[::1]:1", false, 7000, 60000}}},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct milter_list l;
        char *error;
        int rc = parse(cases[i].text, strlen(cases[i].text), &defaults, &l, &error);
        if (rc != 0 || l.n != cases[i].n)
            fail_msg("case %zu \"%s\": rc %d, %zu milters, %s", i, cases[i].text, rc, l.n,
                     error ? error : "no error");
        assert_null(error);
        for (size_t k = 0; k < l.n; k++) {
            const struct want *w = &cases[i].m[k];
            const struct milter_spec *s = &l.m[k];
            if (strcmp(s->address, w->address) != 0 || s->default_accept != w->default_accept ||
                s->connect_timeout_ms != w->connect_ms || s->command_timeout_ms != w->command_ms)
                fail_msg("case %zu \"%s\", milter %zu: \"%s\" %d %u %u", i, cases[i].text, k,
                         s->address, s->default_accept, s->connect_timeout_ms,
                         s->command_timeout_ms);
        }
    }
}

/* The values of the defaults struct are taken, whatever they are. */
static void test_milter_list_defaults(void **state)
{
    (void)state;
    const struct milter_list_defaults d[] = {{false, 1000, 2000}, {true, 123, 456789}};
    for (size_t i = 0; i < N_ELEMS(d); i++) {
        struct milter_list l;
        char *error;
        const char *text = "/a.sock, /b.sock default=accept, /c.sock default=tempfail "
                           "connect_timeout=3s, /d.sock command_timeout=4s";
        assert_int_equal(parse(text, strlen(text), &d[i], &l, &error), 0);
        assert_int_equal(l.n, 4);
        assert_int_equal(l.m[0].default_accept, d[i].default_accept);
        assert_int_equal(l.m[0].connect_timeout_ms, d[i].connect_timeout_ms);
        assert_int_equal(l.m[0].command_timeout_ms, d[i].command_timeout_ms);
        assert_true(l.m[1].default_accept);
        assert_int_equal(l.m[1].connect_timeout_ms, d[i].connect_timeout_ms);
        assert_int_equal(l.m[1].command_timeout_ms, d[i].command_timeout_ms);
        assert_false(l.m[2].default_accept);
        assert_int_equal(l.m[2].connect_timeout_ms, 3000);
        assert_int_equal(l.m[2].command_timeout_ms, d[i].command_timeout_ms);
        assert_int_equal(l.m[3].default_accept, d[i].default_accept);
        assert_int_equal(l.m[3].connect_timeout_ms, d[i].connect_timeout_ms);
        assert_int_equal(l.m[3].command_timeout_ms, 4000);
    }
}

/* Only len bytes are read: what follows them is not part of the setting. */
static void test_milter_list_length(void **state)
{
    (void)state;
    struct milter_list l;
    char *error;
    const char *text = "/a.sock, /b.sock bad=1";
    assert_int_equal(parse(text, 7, &defaults, &l, &error), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.m[0].address, "/a.sock");
    assert_int_equal(parse(text, 3, &defaults, &l, &error), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.m[0].address, "/a.");
}

static void test_milter_list_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *error; /* the whole message */
    } cases[] = {
        /* addresses */
        {"127.0.0.1", "\"127.0.0.1\": expected a socket path, host:port or [IPv6]:port"},
        {"milter.sock", "\"milter.sock\": expected a socket path, host:port or [IPv6]:port"},
        {"127.0.0.1:0", "\"127.0.0.1:0\": bad port"},
        {"127.0.0.1:65536", "\"127.0.0.1:65536\": bad port"},
        {"127.0.0.1:port", "\"127.0.0.1:port\": bad port"},
        {"300.0.0.1:25", "\"300.0.0.1:25\": the host must be a numeric IPv4 address or localhost"},
        {"mx.example.org:25",
         "\"mx.example.org:25\": the host must be a numeric IPv4 address or localhost"},
        {"[::1]", "\"[::1]\": expected [IPv6]:port"},
        {"[::1]:", "\"[::1]:\": bad port"},
        {"[::g]:1", "\"[::g]:1\": bad IPv6 address"},
        {"::1:25", "\"::1:25\": expected a socket path, host:port or [IPv6]:port"},
        {"default=accept", "\"default=accept\": expected a socket path, host:port or [IPv6]:port"},
        {"/a.sock, ,x default=accept",
         "\"x default=accept\": expected a socket path, host:port or [IPv6]:port"},
        /* options */
        {"/a.sock foo=1",
         "\"/a.sock foo=1\": unknown option (default=, connect_timeout=, command_timeout=)"},
        {"/a.sock timeout=1s",
         "\"/a.sock timeout=1s\": unknown option (default=, connect_timeout=, command_timeout=)"},
        {"/a.sock =1",
         "\"/a.sock =1\": unknown option (default=, connect_timeout=, command_timeout=)"},
        {"/a.sock default", "\"/a.sock default\": an option is NAME=VALUE"},
        {"/a.sock default=reject", "\"/a.sock default=reject\": default= is accept or tempfail"},
        {"/a.sock default=", "\"/a.sock default=\": default= is accept or tempfail"},
        {"/a.sock default=accepted",
         "\"/a.sock default=accepted\": default= is accept or tempfail"},
        {"/a.sock connect_timeout=0",
         "\"/a.sock connect_timeout=0\": connect_timeout= is a duration from 1s to 10m"},
        {"/a.sock connect_timeout=0s",
         "\"/a.sock connect_timeout=0s\": connect_timeout= is a duration from 1s to 10m"},
        {"/a.sock connect_timeout=601",
         "\"/a.sock connect_timeout=601\": connect_timeout= is a duration from 1s to 10m"},
        {"/a.sock connect_timeout=11m",
         "\"/a.sock connect_timeout=11m\": connect_timeout= is a duration from 1s to 10m"},
        {"/a.sock connect_timeout=1h",
         "\"/a.sock connect_timeout=1h\": connect_timeout= is a duration from 1s to 10m"},
        {"/a.sock connect_timeout=fast",
         "\"/a.sock connect_timeout=fast\": connect_timeout= is a duration from 1s to 10m"},
        {"/a.sock connect_timeout=",
         "\"/a.sock connect_timeout=\": connect_timeout= is a duration from 1s to 10m"},
        {"/a.sock connect_timeout=-1s",
         "\"/a.sock connect_timeout=-1s\": connect_timeout= is a duration from 1s to 10m"},
        {"/a.sock connect_timeout=1.5s",
         "\"/a.sock connect_timeout=1.5s\": connect_timeout= is a duration from 1s to 10m"},
        {"/a.sock command_timeout=0",
         "\"/a.sock command_timeout=0\": command_timeout= is a duration from 1s to 10m"},
        {"/a.sock command_timeout=99999999999999999999",
         "\"/a.sock command_timeout=99999999999999999999\": command_timeout= is a duration from 1s "
         "to 10m"},
        {"/a.sock command_timeout=s",
         "\"/a.sock command_timeout=s\": command_timeout= is a duration from 1s to 10m"},
        /* the entry at fault is quoted, and only it */
        {"/a.sock, /b.sock default=maybe, /c.sock",
         "\"/b.sock default=maybe\": default= is accept or tempfail"},
        /* made printable */
        {"/a.sock bad\x01=1\\",
         "\"/a.sock bad\\x01=1\\x5c\": unknown option (default=, connect_timeout=, "
         "command_timeout=)"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct milter_list l;
        char *error;
        int rc = parse(cases[i].text, strlen(cases[i].text), &defaults, &l, &error);
        if (rc != -1 || l.n != 0 || error == NULL)
            fail_msg("case %zu \"%s\": rc %d, %zu milters", i, cases[i].text, rc, l.n);
        if (strcmp(error, cases[i].error) != 0)
            fail_msg("case %zu: \"%s\"", i, error);
        free(error);
    }
}

/* Each limit, and the value just inside it. */
static void test_milter_list_limits(void **state)
{
    (void)state;
    struct milter_list l;
    char *error;
    struct buf b;

    /* MILTER_LIST_MAX entries */
    buf_init(&b, BUF_UNLIMITED);
    for (unsigned i = 0; i < MILTER_LIST_MAX; i++)
        buf_printf(&b, "/m%u.sock, ", i);
    assert_int_equal(parse(b.data, b.len, &defaults, &l, &error), 0);
    assert_int_equal(l.n, MILTER_LIST_MAX);
    assert_string_equal(l.m[MILTER_LIST_MAX - 1].address, "/m7.sock");
    buf_append_str(&b, "/one-more.sock default=tempfail");
    assert_int_equal(parse(b.data, b.len, &defaults, &l, &error), -1);
    assert_int_equal(l.n, 0);
    assert_string_equal(error, "\"/one-more.sock default=tempfail\": too many milters (at most 8)");
    free(error);
    buf_free(&b);

    /* MILTER_LIST_SETTING_MAX bytes */
    buf_init(&b, BUF_UNLIMITED);
    buf_append_str(&b, "/a.sock");
    while (b.len < MILTER_LIST_SETTING_MAX)
        buf_append_char(&b, b.len % 2 ? ' ' : ',');
    assert_int_equal(parse(b.data, b.len, &defaults, &l, &error), 0);
    assert_int_equal(l.n, 1);
    buf_append_char(&b, ' ');
    assert_int_equal(parse(b.data, b.len, &defaults, &l, &error), -1);
    assert_int_equal(l.n, 0);
    char want[128];
    assert_true(snprintf(want, sizeof(want), "\"%.40s\": the setting is too long", b.data) <
                (int)sizeof(want));
    assert_string_equal(error, want);
    free(error);
    buf_free(&b);

    /* MILTER_ADDRESS_TEXT_MAX bytes of an address */
    char path[MILTER_ADDRESS_TEXT_MAX + 1];
    memset(path, 'p', sizeof(path));
    path[0] = '/';
    assert_int_equal(parse(path, 100, &defaults, &l, &error), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(strlen(l.m[0].address), 100);
    assert_int_equal(parse(path, MILTER_ADDRESS_TEXT_MAX + 1, &defaults, &l, &error), -1);
    assert_int_equal(l.n, 0);
    assert_int_equal(error[0], '"');
    assert_non_null(strstr(error, "\": the address is too long"));
    free(error);
    /* that long, or longer than a Unix socket's path, net_parse_peer says no */
    assert_int_equal(parse(path, MILTER_ADDRESS_TEXT_MAX, &defaults, &l, &error), -1);
    assert_int_equal(l.n, 0);
    assert_non_null(strstr(error, "\": address too long"));
    free(error);
    assert_int_equal(parse(path, 200, &defaults, &l, &error), -1);
    assert_int_equal(l.n, 0);
    assert_non_null(strstr(error, "\": socket path too long"));
    free(error);

    /* an option of OPTION_MAX - 1 (63) bytes, then 64 */
    for (size_t len = 63; len <= 64; len++) {
        buf_init(&b, BUF_UNLIMITED);
        buf_append_str(&b, "/a.sock connect_timeout=");
        while (b.len < 8 + len - 2)
            buf_append_char(&b, '0');
        buf_append_str(&b, "5s");
        assert_int_equal(b.len, 8 + len);
        int rc = parse(b.data, b.len, &defaults, &l, &error);
        if (len == 63) {
            assert_int_equal(rc, 0);
            assert_int_equal(l.m[0].connect_timeout_ms, 5000);
        } else {
            assert_int_equal(rc, -1);
            assert_int_equal(l.n, 0);
            assert_int_equal(strncmp(error, "\"/a.sock connect_timeout=000", 28), 0);
            assert_non_null(strstr(error, "5s\": an option is too long"));
            free(error);
        }
        buf_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_milter_list_parse),  cmocka_unit_test(test_milter_list_defaults),
        cmocka_unit_test(test_milter_list_length), cmocka_unit_test(test_milter_list_errors),
        cmocka_unit_test(test_milter_list_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
