/* Unit tests of src/lib/json.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <locale.h>
#include <math.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/json.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A heap copy of exactly n bytes: ASan catches any read past n. */
static char *exact_copy(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    assert_non_null(p);
    if (n)
        memcpy(p, s, n);
    return p;
}

/* Parse n bytes of s from an exact copy. */
static struct json_value *parse_exact(const char *s, size_t n, const char **error_r)
{
    char *copy = exact_copy(s, n);
    struct json_value *v = json_parse(copy, n, error_r);
    free(copy);
    return v;
}

/* A string in the dump: quotes and backslashes escaped, control bytes and
 * DEL as \xHH, everything else (UTF-8 included) as is. */
static void dump_string(struct buf *b, const char *s, size_t n)
{
    assert_int_equal(buf_append_char(b, '"'), 0);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            assert_int_equal(buf_append_char(b, '\\'), 0);
            assert_int_equal(buf_append_char(b, (char)c), 0);
        } else if (c < 0x20 || c == 0x7f) {
            assert_int_equal(buf_printf(b, "\\x%02x", c), 0);
        } else {
            assert_int_equal(buf_append_char(b, (char)c), 0);
        }
    }
    assert_int_equal(buf_append_char(b, '"'), 0);
}

/* A compact dump of a tree, through the accessors only: integers as
 * %lld, other numbers as n(%g). */
static void dump(struct buf *b, const struct json_value *v)
{
    long long i;
    double d;
    size_t n;
    const char *s;
    switch (json_type(v)) {
    case JSON_NULL:
        assert_int_equal(buf_append_str(b, "null"), 0);
        break;
    case JSON_TRUE:
        assert_int_equal(buf_append_str(b, "true"), 0);
        break;
    case JSON_FALSE:
        assert_int_equal(buf_append_str(b, "false"), 0);
        break;
    case JSON_NUMBER:
        assert_true(json_number(v, &d));
        if (json_int(v, &i))
            assert_int_equal(buf_printf(b, "%lld", i), 0);
        else
            assert_int_equal(buf_printf(b, "n(%g)", d), 0);
        break;
    case JSON_STRING:
        s = json_string(v, &n);
        assert_non_null(s);
        assert_int_equal(strlen(s), n);
        dump_string(b, s, n);
        break;
    case JSON_ARRAY:
        assert_int_equal(buf_append_char(b, '['), 0);
        for (size_t k = 0; k < json_count(v); k++) {
            if (k)
                assert_int_equal(buf_append_char(b, ','), 0);
            dump(b, json_at(v, k));
        }
        assert_int_equal(buf_append_char(b, ']'), 0);
        break;
    case JSON_OBJECT:
        assert_int_equal(buf_append_char(b, '{'), 0);
        for (size_t k = 0; k < json_count(v); k++) {
            if (k)
                assert_int_equal(buf_append_char(b, ','), 0);
            const char *key = json_key_at(v, k);
            assert_non_null(key);
            dump_string(b, key, strlen(key));
            assert_int_equal(buf_append_char(b, ':'), 0);
            dump(b, json_at(v, k));
        }
        assert_int_equal(buf_append_char(b, '}'), 0);
        break;
    }
}

/* Accepted texts (y_) and the dump of their tree. */
#define Y(text, dumped)                                                                            \
    {                                                                                              \
        text, sizeof(text) - 1, dumped                                                             \
    }
static const struct {
    const char *text;
    size_t len;
    const char *dump;
} accepted[] = {
    /* structure */
    Y("[]", "[]"),
    Y("{}", "{}"),
    Y(" [ ] ", "[]"),
    Y("\t\r\n[\t\r\n1\t\r\n,\t\r\n2\t\r\n]\t\r\n", "[1,2]"),
    Y("[[[]]]", "[[[]]]"),
    Y("[1,[2,[3]],4]", "[1,[2,[3]],4]"),
    Y("{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}",
      "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}"),
    Y("{ \"a\" : 1 , \"b\" : 2 }", "{\"a\":1,\"b\":2}"),
    Y("[{}, [], \"\", 0]", "[{},[],\"\",0]"),
    /* scalars at the top (RFC 8259 allows any value) */
    Y("null", "null"),
    Y("true", "true"),
    Y("false", "false"),
    Y(" 7 ", "7"),
    Y("\"top\"", "\"top\""),
    /* numbers */
    Y("0", "0"),
    Y("-0", "0"),
    Y("123", "123"),
    Y("-123", "-123"),
    Y("[1.5]", "[n(1.5)]"),
    Y("[-1.5e10]", "[n(-1.5e+10)]"),
    Y("[1E5]", "[n(100000)]"),
    Y("[1e+5]", "[n(100000)]"),
    Y("[1e-5]", "[n(1e-05)]"),
    Y("[0.0]", "[n(0)]"),
    Y("[0e0]", "[n(0)]"),
    Y("[1.0E-0]", "[n(1)]"),
    Y("[123e65]", "[n(1.23e+67)]"),
    Y("[-0.5]", "[n(-0.5)]"),
    Y("[1e-400]", "[n(0)]"),
    Y("[1.7976931348623157e308]", "[n(1.79769e+308)]"),
    /* strings and escapes */
    Y("[\"\"]", "[\"\"]"),
    Y("[\"abc\"]", "[\"abc\"]"),
    Y("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]", "[\"\\\"\\\\/\\x08\\x0c\\x0a\\x0d\\x09\"]"),
    Y("[\"\\u0041\"]", "[\"A\"]"),
    Y("[\"\\u00e9\"]", "[\"\xc3\xa9\"]"),
    Y("[\"\\u20AC\"]", "[\"\xe2\x82\xac\"]"),
    Y("[\"\\uD83D\\uDE00\"]", "[\"\xf0\x9f\x98\x80\"]"),
    Y("[\"\\ud83d\\ude00\"]", "[\"\xf0\x9f\x98\x80\"]"),
    Y("[\"\\uDBFF\\uDFFF\"]", "[\"\xf4\x8f\xbf\xbf\"]"),
    Y("[\"\\u0001\\u001f\"]", "[\"\\x01\\x1f\"]"),
    Y("[\"\\uFFFF\"]", "[\"\xef\xbf\xbf\"]"),
    Y("[\"\\u0080\\u07ff\\u0800\"]", "[\"\xc2\x80\xdf\xbf\xe0\xa0\x80\"]"),
    Y("[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"]", "[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"]"),
    Y("[\"\xf4\x8f\xbf\xbf\"]", "[\"\xf4\x8f\xbf\xbf\"]"),
    Y("[\"\xed\x9f\xbf\xee\x80\x80\"]", "[\"\xed\x9f\xbf\xee\x80\x80\"]"),
    Y("[\"\x7f\"]", "[\"\\x7f\"]"),
    Y("[\"a/b\", \"a\\/b\"]", "[\"a/b\",\"a/b\"]"),
    Y("[\"\\u005C\"]", "[\"\\\\\"]"),
    /* keys */
    Y("{\"\":0}", "{\"\":0}"),
    Y("{\"a\":1,\"A\":2}", "{\"a\":1,\"A\":2}"),
    Y("{\"a\":{\"a\":1}}", "{\"a\":{\"a\":1}}"),
    Y("[{\"a\":1},{\"a\":2}]", "[{\"a\":1},{\"a\":2}]"),
    Y("{\"ab\":1,\"a\":2,\"b\":3}", "{\"ab\":1,\"a\":2,\"b\":3}"),
    Y("{\"\xc3\xa9\":1,\"\\u00e9x\":2}", "{\"\xc3\xa9\":1,\"\xc3\xa9x\":2}"),
    Y("{\"z\":1,\"y\":2,\"x\":3,\"w\":4,\"v\":5}", "{\"z\":1,\"y\":2,\"x\":3,\"w\":4,\"v\":5}"),
};

/* Refused texts (n_) and the reason given. */
#define N(text, why)                                                                               \
    {                                                                                              \
        text, sizeof(text) - 1, why                                                                \
    }
static const struct {
    const char *text;
    size_t len;
    const char *error;
} refused[] = {
    /* no value, trailing and missing pieces */
    N("", "expected a value"),
    N("   ", "expected a value"),
    N("\0", "expected a value"),
    N("[", "expected a value"),
    N("]", "expected a value"),
    N("[1", "unterminated array"),
    N("[1,", "expected a value"),
    N("[[]", "unterminated array"),
    N("{", "unterminated object"),
    N("{\"a\":1", "unterminated object"),
    N("{\"a\":[}", "expected a value"),
    N("[1]]", "trailing characters"),
    N("[1] x", "trailing characters"),
    N("1 2", "trailing characters"),
    N("{\"a\":1}{}", "trailing characters"),
    N("[1]\0", "trailing characters"),
    /* commas and colons */
    N("[1,]", "expected a value"),
    N("[,1]", "expected a value"),
    N("[1,,2]", "expected a value"),
    N("[1 2]", "expected ',' or ']'"),
    N("[1:2]", "expected ',' or ']'"),
    N("{\"a\":1,}", "expected a string as key"),
    N("{\"a\" 1}", "expected ':'"),
    N("{\"a\"}", "expected ':'"),
    N("{\"a\":}", "expected a value"),
    N("{\"a\":1 \"b\":2}", "expected ',' or '}'"),
    N("{\"a\",1}", "expected ':'"),
    /* keys */
    N("{a:1}", "expected a string as key"),
    N("{'a':1}", "expected a string as key"),
    N("{1:1}", "expected a string as key"),
    N("{null:1}", "expected a string as key"),
    /* no comments, no single quotes, no other literals */
    N("/* c */ 1", "expected a value"),
    N("[1] // c", "trailing characters"),
    N("['a']", "expected a value"),
    N("tru", "invalid literal"),
    N("True", "expected a value"),
    N("nul", "invalid literal"),
    N("nulL", "invalid literal"),
    N("[falsey]", "expected ',' or ']'"),
    N("NaN", "expected a value"),
    N("[Infinity]", "expected a value"),
    N("[-Infinity]", "invalid number"),
    N("undefined", "expected a value"),
    /* numbers */
    N("01", "invalid number"),
    N("[-01]", "invalid number"),
    N("[00]", "invalid number"),
    N("[1.]", "invalid number"),
    N("[.5]", "expected a value"),
    N("[-]", "invalid number"),
    N("[+1]", "expected a value"),
    N("[1e]", "invalid number"),
    N("[1e+]", "invalid number"),
    N("[1.e5]", "invalid number"),
    N("[1.5.3]", "invalid number"),
    N("[1e5e5]", "invalid number"),
    N("[- 1]", "invalid number"),
    N("[--1]", "invalid number"),
    N("[1-2]", "invalid number"),
    N("[0x10]", "expected ',' or ']'"),
    N("[1e400]", "number out of range"),
    N("[-1e400]", "number out of range"),
    N("[1\xd9\xa3]", "expected ',' or ']'"),
    /* strings */
    N("\"abc", "unterminated string"),
    N("[\"abc]", "unterminated string"),
    N("\"\\", "unterminated string"),
    N("[\"\\x41\"]", "invalid escape in a string"),
    N("[\"\\U0041\"]", "invalid escape in a string"),
    N("[\"\\'\"]", "invalid escape in a string"),
    N("[\"\\0\"]", "invalid escape in a string"),
    N("[\"\\a\"]", "invalid escape in a string"),
    N("[\"\\u12\"]", "invalid escape in a string"),
    N("[\"\\u12G4\"]", "invalid escape in a string"),
    N("\"\\u004", "invalid escape in a string"),
    N("[\"\\u+041\"]", "invalid escape in a string"),
    N("[\"a\tb\"]", "control character in a string"),
    N("[\"a\nb\"]", "control character in a string"),
    N("[\"\x1f\"]", "control character in a string"),
    N("[\"a\0b\"]", "NUL in a string"),
    N("[\"\\u0000\"]", "NUL in a string"),
    N("{\"a\\u0000\":1}", "NUL in a string"),
    /* surrogates */
    N("[\"\\uD800\"]", "lone surrogate in a string"),
    N("[\"\\uD800x\"]", "lone surrogate in a string"),
    N("[\"\\uD800\\u0041\"]", "lone surrogate in a string"),
    N("[\"\\uD800\\n\"]", "lone surrogate in a string"),
    N("[\"\\uDBFF\\uDBFF\"]", "lone surrogate in a string"),
    N("[\"\\uDC00\"]", "lone surrogate in a string"),
    N("[\"\\uDFFF\\uD800\"]", "lone surrogate in a string"),
    N("[\"\\uD800\\uDC0", "invalid escape in a string"),
    N("[\"\\uD800\\uDCxx\"]", "invalid escape in a string"),
    /* UTF-8 in strings */
    N("[\"\x80\"]", "invalid UTF-8 in a string"),
    N("[\"\xbf\"]", "invalid UTF-8 in a string"),
    N("[\"\xc0\xaf\"]", "invalid UTF-8 in a string"),
    N("[\"\xc1\xbf\"]", "invalid UTF-8 in a string"),
    N("[\"\xe0\x80\xaf\"]", "invalid UTF-8 in a string"),
    N("[\"\xe0\x9f\xbf\"]", "invalid UTF-8 in a string"),
    N("[\"\xf0\x80\x80\xaf\"]", "invalid UTF-8 in a string"),
    N("[\"\xf0\x8f\xbf\xbf\"]", "invalid UTF-8 in a string"),
    N("[\"\xed\xa0\x80\"]", "invalid UTF-8 in a string"),
    N("[\"\xed\xbf\xbf\"]", "invalid UTF-8 in a string"),
    N("[\"\xf4\x90\x80\x80\"]", "invalid UTF-8 in a string"),
    N("[\"\xf5\x80\x80\x80\"]", "invalid UTF-8 in a string"),
    N("[\"\xff\"]", "invalid UTF-8 in a string"),
    N("[\"\xfe\"]", "invalid UTF-8 in a string"),
    N("[\"\xe2\x82\"]", "invalid UTF-8 in a string"),
    N("[\"\xc3\"]", "invalid UTF-8 in a string"),
    N("\"\xc3", "invalid UTF-8 in a string"),
    N("\"\xf0\x9f\x98", "invalid UTF-8 in a string"),
    N("{\"\xc3\x28\":1}", "invalid UTF-8 in a string"),
    /* whitespace is four bytes only; no byte order mark */
    N("\xef\xbb\xbf[]", "expected a value"),
    N("\x0c[]", "expected a value"),
    N("[\x0b"
      "1]",
      "expected a value"),
    N("\xc2\xa0[]", "expected a value"),
    N("[1]\x0c", "trailing characters"),
    N("[1\xc2\xa0]", "expected ',' or ']'"),
    /* repeated keys, compared decoded */
    N("{\"a\":1,\"a\":2}", "duplicate key"),
    N("{\"a\":1,\"b\":2,\"a\":3}", "duplicate key"),
    N("{\"a\":1,\"\\u0061\":2}", "duplicate key"),
    N("{\"\xc3\xa9\":1,\"\\u00e9\":2}", "duplicate key"),
    N("{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}", "duplicate key"),
    N("{\"\":1,\"\":2}", "duplicate key"),
    N("{\"a\":1,\"b\":{\"c\":1,\"c\":2}}", "duplicate key"),
    N("[{\"x\":[],\"x\":{}}]", "duplicate key"),
    N("{\"a/b\":1,\"a\\/b\":2}", "duplicate key"),
};

static void test_json_accepted(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ELEMS(accepted); i++) {
        const char *error = "unset";
        struct json_value *v = parse_exact(accepted[i].text, accepted[i].len, &error);
        if (!v)
            fail_msg("accepted[%zu] %s: refused: %s", i, accepted[i].text, error);
        struct buf b;
        buf_init(&b, 4096);
        dump(&b, v);
        if (strcmp(buf_cstr(&b), accepted[i].dump) != 0)
            fail_msg("accepted[%zu] %s: dump %s, not %s", i, accepted[i].text, buf_cstr(&b),
                     accepted[i].dump);
        buf_free(&b);
        json_free(&v);
        assert_null(v);
    }
}

static void test_json_refused(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ELEMS(refused); i++) {
        const char *error = NULL;
        struct json_value *v = parse_exact(refused[i].text, refused[i].len, &error);
        if (v)
            fail_msg("refused[%zu] %.*s: accepted", i, (int)refused[i].len, refused[i].text);
        if (!error || strcmp(error, refused[i].error) != 0)
            fail_msg("refused[%zu] %.*s: \"%s\", not \"%s\"", i, (int)refused[i].len,
                     refused[i].text, error ? error : "(null)", refused[i].error);
    }
    /* error_r may be NULL. */
    assert_null(json_parse("[", 1, NULL));
}

/* Every prefix of every case, each in an exact copy: no read past the
 * end, no leak, and always a tree or a reason. */
static void test_json_prefixes(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ELEMS(accepted) + N_ELEMS(refused); i++) {
        const char *text =
            i < N_ELEMS(accepted) ? accepted[i].text : refused[i - N_ELEMS(accepted)].text;
        size_t len = i < N_ELEMS(accepted) ? accepted[i].len : refused[i - N_ELEMS(accepted)].len;
        for (size_t n = 0; n <= len; n++) {
            const char *error = NULL;
            struct json_value *v = parse_exact(text, n, &error);
            if (v)
                json_free(&v);
            else
                assert_non_null(error);
        }
    }
}

static void test_json_accessors(void **state)
{
    (void)state;
    const char text[] = "{\"z\":1,\"a\":\"x\\u0000\",\"m\":[true,false,null,1.5,\"s\"],"
                        "\"ab\":{},\"\":-7}";
    /* (\u0000 is refused: use a legal string instead.) */
    const char good[] = "{\"z\":1,\"a\":\"x\\ny\",\"m\":[true,false,null,1.5,\"s\"],"
                        "\"ab\":{},\"\":-7}";
    const char *error = NULL;
    assert_null(json_parse(text, sizeof(text) - 1, &error));
    assert_string_equal(error, "NUL in a string");

    struct json_value *root = json_parse(good, sizeof(good) - 1, &error);
    assert_non_null(root);
    assert_int_equal(json_type(root), JSON_OBJECT);
    assert_int_equal(json_count(root), 5);

    /* Members in input order, by index and by key. */
    static const char *const keys[] = {"z", "a", "m", "ab", ""};
    for (size_t i = 0; i < N_ELEMS(keys); i++) {
        assert_string_equal(json_key_at(root, i), keys[i]);
        assert_ptr_equal(json_get(root, keys[i]), json_at(root, i));
    }
    assert_null(json_key_at(root, 5));
    assert_null(json_at(root, 5));
    assert_null(json_at(root, (size_t)-1));

    /* Missing keys: none is a prefix match or a case-insensitive one. */
    assert_null(json_get(root, "zz"));
    assert_null(json_get(root, "Z"));
    assert_null(json_get(root, "b"));
    assert_null(json_get(root, NULL));

    long long i;
    double d;
    bool b;
    size_t len = 99;
    assert_true(json_int(json_get(root, "z"), &i));
    assert_int_equal(i, 1);
    assert_true(json_int(json_get(root, ""), &i));
    assert_int_equal(i, -7);
    const char *s = json_string(json_get(root, "a"), &len);
    assert_string_equal(s, "x\ny");
    assert_int_equal(len, 3);
    assert_non_null(json_string(json_get(root, "a"), NULL));

    const struct json_value *m = json_get(root, "m");
    assert_int_equal(json_type(m), JSON_ARRAY);
    assert_int_equal(json_count(m), 5);
    assert_true(json_bool(json_at(m, 0), &b));
    assert_true(b);
    assert_true(json_bool(json_at(m, 1), &b));
    assert_false(b);
    assert_int_equal(json_type(json_at(m, 2)), JSON_NULL);
    assert_non_null(json_at(m, 2));
    assert_false(json_int(json_at(m, 3), &i));
    assert_true(json_number(json_at(m, 3), &d));
    assert_true(d == 1.5);
    assert_null(json_at(m, 5));

    /* Wrong types answer as missing values. */
    assert_null(json_key_at(m, 0)); /* an array has no keys */
    assert_null(json_get(m, "0"));
    len = 99;
    assert_null(json_string(m, &len));
    assert_int_equal(len, 0);
    assert_null(json_string(json_get(root, "z"), NULL));
    assert_false(json_int(root, &i));
    assert_false(json_int(json_at(m, 4), &i)); /* "s" */
    assert_false(json_number(json_at(m, 4), &d));
    assert_false(json_number(json_at(m, 0), &d));
    assert_false(json_bool(json_at(m, 2), &b)); /* null is not false */
    assert_false(json_bool(json_get(root, "z"), &b));
    assert_int_equal(json_count(json_get(root, "z")), 0);
    assert_int_equal(json_count(json_at(m, 4)), 0);
    assert_null(json_at(json_at(m, 4), 0));
    assert_int_equal(json_count(json_get(root, "ab")), 0);
    assert_null(json_key_at(json_get(root, "ab"), 0));

    /* NULL answers as a missing value. */
    assert_int_equal(json_type(NULL), JSON_NULL);
    assert_null(json_get(NULL, "a"));
    assert_int_equal(json_count(NULL), 0);
    assert_null(json_at(NULL, 0));
    assert_null(json_key_at(NULL, 0));
    len = 99;
    assert_null(json_string(NULL, &len));
    assert_int_equal(len, 0);
    assert_false(json_int(NULL, &i));
    assert_false(json_number(NULL, &d));
    assert_false(json_bool(NULL, &b));

    json_free(&root);
    assert_null(root);
    json_free(&root); /* freeing NULL is harmless */
}

/* n arrays (or objects) nested, with 1 inside the innermost. */
static char *nested(size_t n, bool objects, size_t *len_r)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(buf_append_str(&b, objects ? "{\"k\":" : "["), 0);
    assert_int_equal(buf_append_char(&b, '1'), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(buf_append_char(&b, objects ? '}' : ']'), 0);
    *len_r = b.len;
    return buf_steal(&b);
}

static void test_json_depth(void **state)
{
    (void)state;
    for (int objects = 0; objects <= 1; objects++) {
        size_t len;
        const char *error = NULL;
        char *s = nested(JSON_DEPTH_MAX, objects, &len);
        struct json_value *v = json_parse(s, len, &error);
        assert_non_null(v);
        const struct json_value *p = v;
        for (size_t i = 0; i < JSON_DEPTH_MAX; i++) {
            assert_int_equal(json_type(p), objects ? JSON_OBJECT : JSON_ARRAY);
            p = objects ? json_get(p, "k") : json_at(p, 0);
        }
        long long one;
        assert_true(json_int(p, &one));
        assert_int_equal(one, 1);
        json_free(&v);
        free(s);

        s = nested(JSON_DEPTH_MAX + 1, objects, &len);
        assert_null(json_parse(s, len, &error));
        assert_string_equal(error, "nesting too deep");
        free(s);
    }
    /* Mixed, with an empty array innermost: empty containers count too. */
    for (size_t n = JSON_DEPTH_MAX; n <= JSON_DEPTH_MAX + 1; n++) {
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        for (size_t i = 0; i + 1 < n; i++)
            assert_int_equal(buf_append_str(&b, i % 2 ? "{\"k\":" : "["), 0);
        assert_int_equal(buf_append_str(&b, "[]"), 0);
        for (size_t i = n - 1; i-- > 0;)
            assert_int_equal(buf_append_str(&b, i % 2 ? "}" : "]"), 0);
        const char *error = NULL;
        struct json_value *v = json_parse(b.data, b.len, &error);
        if (n == JSON_DEPTH_MAX) {
            assert_non_null(v);
            json_free(&v);
        } else {
            assert_null(v);
            assert_string_equal(error, "nesting too deep");
        }
        buf_free(&b);
    }
}

/* An array of n zeros (n + 1 values), or an object of n members. */
static char *wide(size_t n, bool objects, size_t *len_r)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    assert_int_equal(buf_append_char(&b, objects ? '{' : '['), 0);
    for (size_t i = 0; i < n; i++) {
        if (i)
            assert_int_equal(buf_append_char(&b, ','), 0);
        if (objects)
            assert_int_equal(buf_printf(&b, "\"%zu\":0", i), 0);
        else
            assert_int_equal(buf_append_char(&b, '0'), 0);
    }
    assert_int_equal(buf_append_char(&b, objects ? '}' : ']'), 0);
    *len_r = b.len;
    return buf_steal(&b);
}

static void test_json_values_max(void **state)
{
    (void)state;
    for (int objects = 0; objects <= 1; objects++) {
        size_t len;
        const char *error = NULL;
        char *s = wide(JSON_VALUES_MAX - 1, objects, &len);
        struct json_value *v = json_parse(s, len, &error);
        assert_non_null(v);
        assert_int_equal(json_count(v), JSON_VALUES_MAX - 1);
        if (objects) {
            assert_string_equal(json_key_at(v, JSON_VALUES_MAX - 2), "9998");
            assert_non_null(json_get(v, "4321"));
        }
        json_free(&v);
        free(s);

        s = wide(JSON_VALUES_MAX, objects, &len);
        assert_null(json_parse(s, len, &error));
        assert_string_equal(error, "too many values");
        free(s);
    }
    /* A repeated key among many is found (the last two). */
    size_t len;
    char *s = wide(5000, true, &len);
    assert_true(len > 10);
    memcpy(s + len - 18, "\"4999\"", 6);
    const char *error = NULL;
    struct json_value *v = json_parse(s, len, &error);
    assert_null(v);
    assert_string_equal(error, "duplicate key");
    free(s);
}

static void test_json_numbers(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool is_int;
        long long i;
        double d;
    } cases[] = {
        {"9223372036854775807", true, LLONG_MAX, 9223372036854775807.0},
        {"9223372036854775808", false, 0, 9223372036854775808.0},
        {"-9223372036854775808", true, LLONG_MIN, -9223372036854775808.0},
        {"-9223372036854775809", false, 0, -9223372036854775809.0},
        {"18446744073709551616", false, 0, 18446744073709551616.0},
        {"99999999999999999999999", false, 0, 99999999999999999999999.0},
        {"100", true, 100, 100.0},
        {"1e2", false, 0, 100.0},
        {"1.0", false, 0, 1.0},
        {"100E-2", false, 0, 1.0},
        {"0", true, 0, 0.0},
        {"-0", true, 0, -0.0},
        {"0.1", false, 0, 0.1},
        {"1.7976931348623157e308", false, 0, 1.7976931348623157e308},
        {"4.9e-324", false, 0, 4.9e-324},
        /* longer than the stack copy: read from a heap copy */
        {"0.0000000000000000000000000000000000000000000000000000000000000000000000000001", false, 0,
         1e-76},
        {"100000000000000000000000000000000000000000000000000000000000000000000000000000", false, 0,
         1e77},
    };
    for (size_t k = 0; k < N_ELEMS(cases); k++) {
        const char *error = NULL;
        struct json_value *v = parse_exact(cases[k].text, strlen(cases[k].text), &error);
        if (!v)
            fail_msg("%s: %s", cases[k].text, error);
        assert_int_equal(json_type(v), JSON_NUMBER);
        long long i = 12345;
        double d;
        if (json_int(v, &i) != cases[k].is_int || (cases[k].is_int && i != cases[k].i))
            fail_msg("%s: json_int %lld", cases[k].text, i);
        assert_true(json_number(v, &d));
        if (d != cases[k].d)
            fail_msg("%s: json_number %.17g", cases[k].text, d);
        json_free(&v);
    }
    struct json_value *v = json_parse("-0", 2, NULL);
    double d;
    assert_true(json_number(v, &d));
    assert_true(signbit(d));
    json_free(&v);
}

/* A number's meaning does not follow LC_NUMERIC (checked when a locale
 * with a decimal comma is installed; the C locale otherwise). */
static void test_json_locale(void **state)
{
    (void)state;
    static const char *const locales[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8",
                                          "nl_NL.UTF-8"};
    const char *set = NULL;
    for (size_t k = 0; k < N_ELEMS(locales) && !set; k++)
        set = setlocale(LC_NUMERIC, locales[k]);
    if (set)
        assert_string_equal(localeconv()->decimal_point, ",");
    const char *error = NULL;
    struct json_value *v = json_parse("[1.5,2e-1]", 10, &error);
    assert_non_null(v);
    double d;
    assert_true(json_number(json_at(v, 0), &d));
    assert_true(d == 1.5);
    assert_true(json_number(json_at(v, 1), &d));
    assert_true(d == 0.2);
    json_free(&v);
    v = json_parse("[1,5]", 5, &error);
    assert_int_equal(json_count(v), 2);
    json_free(&v);
    setlocale(LC_NUMERIC, "C");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_accepted), cmocka_unit_test(test_json_refused),
        cmocka_unit_test(test_json_prefixes), cmocka_unit_test(test_json_accessors),
        cmocka_unit_test(test_json_depth),    cmocka_unit_test(test_json_values_max),
        cmocka_unit_test(test_json_numbers),  cmocka_unit_test(test_json_locale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
