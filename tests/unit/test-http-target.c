/* Unit tests of src/share/http-target.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "share/http-target.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static char *exact_copy(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, s, n);
    return p;
}

static void test_http_target_parse(void **state)
{
    (void)state;
    static const struct {
        const char *target;
        const char *path;  /* NULL: refused */
        const char *query; /* NULL: no "?" */
        const char *error;
    } cases[] = {
        {"/", "/", NULL, NULL},
        {"/share/abc", "/share/abc", NULL, NULL},
        {"/share/abc/", "/share/abc/", NULL, NULL},
        {"/a//b", "/a//b", NULL, NULL},
        {"/a?", "/a", "", NULL},
        {"/a?x=1&y=2", "/a", "x=1&y=2", NULL},
        {"/a?b?c/d", "/a", "b?c/d", NULL},
        {"/%41%62c", "/Abc", NULL, NULL},
        {"/caf%C3%A9", "/caf\xc3\xa9", NULL, NULL},
        {"/a%20b+c", "/a b+c", NULL, NULL},
        {"/a:b@c!$&'()*+,;=-._~", "/a:b@c!$&'()*+,;=-._~", NULL, NULL},
        {"/...", "/...", NULL, NULL},
        {"/.a/a./..b", "/.a/a./..b", NULL, NULL},
        {"/a/%2e%2e%2e", "/a/...", NULL, NULL},
        /* the query is not decoded, nor checked here */
        {"/a?%zz", "/a", "%zz", NULL},
        {"", NULL, NULL, "not an absolute path"},
        {"*", NULL, NULL, "not an absolute path"},
        {"a/b", NULL, NULL, "not an absolute path"},
        {"?x", NULL, NULL, "not an absolute path"},
        {"http://example.org/", NULL, NULL, "not an absolute path"},
        {"/a/../b", NULL, NULL, "dot segment in the path"},
        {"/..", NULL, NULL, "dot segment in the path"},
        {"/a/..", NULL, NULL, "dot segment in the path"},
        {"/a/.", NULL, NULL, "dot segment in the path"},
        {"/./a", NULL, NULL, "dot segment in the path"},
        {"/a/%2e%2E/b", NULL, NULL, "dot segment in the path"},
        {"/a/.%2e", NULL, NULL, "dot segment in the path"},
        {"/a/%2e", NULL, NULL, "dot segment in the path"},
        {"/a/..?x", NULL, NULL, "dot segment in the path"},
        {"/a%2Fb", NULL, NULL, "encoded slash in the path"},
        {"/a%2fb", NULL, NULL, "encoded slash in the path"},
        {"/..%2f..%2fetc", NULL, NULL, "encoded slash in the path"},
        {"/a%00b", NULL, NULL, "NUL in the path"},
        {"/a%0ab", NULL, NULL, "control character in the path"},
        {"/a%0D%0ASet-Cookie:x", NULL, NULL, "control character in the path"},
        {"/a%7f", NULL, NULL, "control character in the path"},
        {"/a%5c..%5cb", NULL, NULL, "backslash in the path"},
        {"/a%", NULL, NULL, "bad percent escape in the path"},
        {"/a%4", NULL, NULL, "bad percent escape in the path"},
        {"/a%4g", NULL, NULL, "bad percent escape in the path"},
        {"/a%%41", NULL, NULL, "bad percent escape in the path"},
        {"/a b", NULL, NULL, "bad character in the path"},
        {"/a\"b", NULL, NULL, "bad character in the path"},
        {"/a\\b", NULL, NULL, "bad character in the path"},
        {"/caf\xc3\xa9", NULL, NULL, "bad character in the path"},
        {"/a#b", NULL, NULL, "bad character in the path"},
        {"/caf%E9", NULL, NULL, "path is not UTF-8"},
        {"/%C0%AF", NULL, NULL, "path is not UTF-8"},
        {"/%ED%A0%80", NULL, NULL, "path is not UTF-8"},
    };
    struct buf path;
    buf_init(&path, 64);
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        size_t n = strlen(cases[i].target);
        char *t = exact_copy(cases[i].target, n);
        const char *q = t, *error = NULL;
        size_t qlen = 99;
        int r = http_target_parse(t, n, &path, &q, &qlen, &error);
        if (cases[i].path == NULL) {
            if (r != -1 || error == NULL || strcmp(error, cases[i].error) != 0 || path.len != 0)
                fail_msg("case %zu \"%s\": %d \"%s\" path \"%s\", want \"%s\"", i, cases[i].target,
                         r, error ? error : "", buf_cstr(&path), cases[i].error);
        } else {
            if (r != 0 || strcmp(buf_cstr(&path), cases[i].path) != 0)
                fail_msg("case %zu \"%s\": %d \"%s\" path \"%s\"", i, cases[i].target, r,
                         error ? error : "", buf_cstr(&path));
            if (cases[i].query == NULL) {
                assert_null(q);
                assert_int_equal(qlen, 0);
            } else {
                /* a pointer into the target */
                assert_true(q > t && q + qlen == t + n);
                assert_int_equal(qlen, strlen(cases[i].query));
                assert_memory_equal(q, cases[i].query, qlen);
            }
        }
        free(t);
    }
    buf_free(&path);
}

/* The path's maximum, met and crossed by one. */
static void test_http_target_path_max(void **state)
{
    (void)state;
    struct buf path;
    const char *q, *error;
    size_t qlen;
    buf_init(&path, 4);
    assert_int_equal(http_target_parse("/abc", 4, &path, &q, &qlen, &error), 0);
    assert_string_equal(buf_cstr(&path), "/abc");
    assert_int_equal(http_target_parse("/%61bc", 6, &path, &q, &qlen, &error), 0);
    assert_int_equal(http_target_parse("/abcd", 5, &path, &q, &qlen, &error), -1);
    assert_string_equal(error, "path too long");
    assert_int_equal(path.len, 0);
    assert_int_equal(http_target_parse("/ab/", 4, &path, &q, &qlen, &error), 0);
    assert_int_equal(http_target_parse("/ab//", 5, &path, &q, &qlen, &error), -1);
    assert_string_equal(error, "path too long");
    buf_free(&path);
}

static void test_http_query_get(void **state)
{
    (void)state;
    static const struct {
        const char *query;
        const char *name;
        int ret;
        const char *value;
    } cases[] = {
        {"x=1&y=2", "x", 1, "1"},
        {"x=1&y=2", "y", 1, "2"},
        {"x=1&y=2", "z", 0, ""},
        {"", "x", 0, ""},
        {"x=1&x=2", "x", 1, "1"},
        {"xx=1&x=2", "x", 1, "2"},
        {"x", "x", 1, ""},
        {"x=", "x", 1, ""},
        {"=v", "", 1, "v"},
        {"&&x=1&", "x", 1, "1"},
        {"x=a+b%20c%2Bd", "x", 1, "a b c+d"},
        {"x=a=b", "x", 1, "a=b"},
        {"my+name=1", "my name", 1, "1"},
        {"my%20name=1", "my name", 1, "1"},
        {"%78=1", "x", 1, "1"},
        {"x=%E2%82%AC", "x", 1, "\xe2\x82\xac"},
        {"x=%ff", "x", 1, "\xff"},
        {"next=/share/a?b", "next", 1, "/share/a?b"},
        {"email=a%40example.org", "email", 1, "a@example.org"},
        /* a malformed query is refused whichever parameter is asked for */
        {"x=1&y=%zz", "x", -1, ""},
        {"x=1&y=%2", "x", -1, ""},
        {"x=%00", "x", -1, ""},
        {"x=1&%00=1", "x", -1, ""},
        {"x=a b", "x", -1, ""},
        {"x=a#b", "x", -1, ""},
        {"x=\xc3\xa9", "x", -1, ""},
        {"x=a\"b", "x", -1, ""},
        {"x=a\rb", "x", -1, ""},
    };
    struct buf value;
    buf_init(&value, 64);
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        size_t n = strlen(cases[i].query);
        char *q = exact_copy(cases[i].query, n);
        buf_append_str(&value, "stale");
        int r = http_query_get(q, n, cases[i].name, &value);
        if (r != cases[i].ret || strcmp(buf_cstr(&value), cases[i].value) != 0)
            fail_msg("case %zu \"%s\" %s: %d \"%s\"", i, cases[i].query, cases[i].name, r,
                     buf_cstr(&value));
        free(q);
    }
    buf_free(&value);

    /* the value's maximum, met and crossed by one */
    buf_init(&value, 3);
    assert_int_equal(http_query_get("a=%41bc&b=abcd", 14, "a", &value), 1);
    assert_string_equal(buf_cstr(&value), "Abc");
    assert_int_equal(http_query_get("a=%41bc&b=abcd", 14, "b", &value), -1);
    assert_int_equal(value.len, 0);
    buf_free(&value);
}

static void test_http_content_range(void **state)
{
    (void)state;
    static const struct {
        const char *v;
        int rc;
        unsigned long long a, b, c;
    } cases[] = {
        {"bytes 0-0/1", 0, 0, 0, 1},
        {"bytes 0-99/300000", 0, 0, 99, 300000},
        {"bytes 100000-299999/300000", 0, 100000, 299999, 300000},
        {"bytes 0-999999999999999998/999999999999999999", 0, 0, 999999999999999998ULL,
         999999999999999999ULL},
        {"bytes 0-1/1000000000000000000", -1, 0, 0, 0}, /* 19 digits */
        {"bytes 5-4/10", -1, 0, 0, 0},
        {"bytes 0-10/10", -1, 0, 0, 0},
        {"bytes 0-9/10 ", -1, 0, 0, 0},
        {"bytes  0-9/10", -1, 0, 0, 0},
        {"Bytes 0-9/10", -1, 0, 0, 0},
        {"bytes=0-9/10", -1, 0, 0, 0},
        {"bytes 0-9/*", -1, 0, 0, 0},
        {"bytes */10", -1, 0, 0, 0},
        {"bytes +0-9/10", -1, 0, 0, 0},
        {"bytes 0--9/10", -1, 0, 0, 0},
        {"bytes 0-9", -1, 0, 0, 0},
        {"bytes 0-9/", -1, 0, 0, 0},
        {"bytes -9/10", -1, 0, 0, 0},
        {"bytes ", -1, 0, 0, 0},
        {"", -1, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned long long a = 7, b = 7, c = 7;
        int rc = http_content_range_parse(cases[i].v, strlen(cases[i].v), &a, &b, &c);
        if (rc != cases[i].rc)
            fail_msg("'%s': %d", cases[i].v, rc);
        if (rc == 0) {
            assert_int_equal(a, cases[i].a);
            assert_int_equal(b, cases[i].b);
            assert_int_equal(c, cases[i].c);
        }
    }
    /* the length given is the end: nothing past it is read */
    unsigned long long a, b, c;
    assert_int_equal(http_content_range_parse("bytes 0-9/100x", 13, &a, &b, &c), 0);
    assert_int_equal(c, 100);
    assert_int_equal(http_content_range_parse("bytes 0-9/100", 12, &a, &b, &c), 0);
    assert_int_equal(c, 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_target_parse),
        cmocka_unit_test(test_http_target_path_max),
        cmocka_unit_test(test_http_query_get),
        cmocka_unit_test(test_http_content_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
