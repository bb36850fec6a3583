/* Unit tests: quoted-printable, base64, charset conversion and RFC 2047
 * encoded words (src/mime/mime-decode.c, mime-charset.c,
 * mime-encoded-word.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "lib/buf.h"
#include "mime/mime-charset.h"
#include "mime/mime-decode.h"
#include "mime/mime-encoded-word.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct io {
    const char *in;
    const char *out;
};

static void test_qp(void **state)
{
    (void)state;
    static const struct io cases[] = {
        {"", ""},
        {"plain", "plain"},
        {"a=3Db", "a=b"},
        {"caf=C3=A9", "caf\xc3\xa9"},
        {"lower=c3=a9", "lower\xc3\xa9"},
        {"soft=\r\nbreak", "softbreak"},
        {"soft=\nbare LF", "softbare LF"},
        {"line  \r\nnext", "line\r\nnext"},
        {"trailing ws=20  \r\n", "trailing ws \r\n"},
        {"bad=G1 and =", "bad=G1 and "},
        {"bad=4", "bad=4"},
        {"no end=", "no end"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        struct buf b;
        buf_init(&b, 1024);
        assert_int_equal(mime_decode_qp(cases[i].in, strlen(cases[i].in), &b), 0);
        if (strcmp(buf_cstr(&b), cases[i].out) != 0)
            fail_msg("qp %zu '%s': '%s'", i, cases[i].in, buf_cstr(&b));
        buf_free(&b);
    }
    static const struct io q[] = {
        {"a_b=3F", "a b?"}, {"=E9t=E9", "\xe9t\xe9"}, {"x=", "x="}, {"", ""}};
    for (size_t i = 0; i < N(q); i++) {
        struct buf b;
        buf_init(&b, 1024);
        assert_int_equal(mime_decode_q(q[i].in, strlen(q[i].in), &b), 0);
        assert_string_equal(buf_cstr(&b), q[i].out);
        buf_free(&b);
    }
}

static void test_base64(void **state)
{
    (void)state;
    static const struct io cases[] = {
        {"", ""},
        {"aGVsbG8=", "hello"},
        {"aGVs\r\nbG8=", "hello"},
        {"aGVsbA==", "hell"},
        {"aGVsbG8gd29ybGQ", "hello world"},
        {"a G V s !bG8", "hello"},
        {"aGk=garbage", "hi"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        struct buf b;
        buf_init(&b, 1024);
        assert_int_equal(mime_decode_base64(cases[i].in, strlen(cases[i].in), &b), 0);
        if (strcmp(buf_cstr(&b), cases[i].out) != 0)
            fail_msg("base64 %zu '%s': '%s'", i, cases[i].in, buf_cstr(&b));
        buf_free(&b);
    }
    struct buf b;
    buf_init(&b, 1024);
    assert_int_equal(mime_decode_body("BASE64", "aGk=", 4, &b), 0);
    assert_int_equal(mime_decode_body("Quoted-Printable", "=41", 3, &b), 0);
    assert_int_equal(mime_decode_body(NULL, "=41", 3, &b), 0);
    assert_int_equal(mime_decode_body("8bit", "x", 1, &b), 0);
    assert_string_equal(buf_cstr(&b), "hiA=41x");
    buf_free(&b);
}

static void test_decode_limit(void **state)
{
    (void)state;
    /* "hello" is 5 bytes: a maximum of 5 holds it, 4 does not */
    struct buf b;
    buf_init(&b, 5);
    assert_int_equal(mime_decode_base64("aGVsbG8=", 8, &b), 0);
    buf_free(&b);
    buf_init(&b, 4);
    assert_int_equal(mime_decode_base64("aGVsbG8=", 8, &b), -1);
    buf_free(&b);
    buf_init(&b, 4);
    assert_int_equal(mime_decode_qp("hel=6Co", 7, &b), -1);
    buf_free(&b);
}

static void test_charset(void **state)
{
    (void)state;
    static const struct {
        const char *cs;
        const char *in;
        const char *out;
    } cases[] = {
        {"iso-8859-1", "caf\xe9", "caf\xc3\xa9"},
        {"ISO-8859-15", "\xa4", "\xe2\x82\xac"},
        {"windows-1252", "\x80", "\xe2\x82\xac"},
        {"utf-8", "caf\xc3\xa9", "caf\xc3\xa9"},
        {"UTF-8", "bad\xff!", "bad\xef\xbf\xbd!"},
        {"us-ascii", "ok", "ok"},
        {"utf-8", "cut\xc3", "cut\xef\xbf\xbd"},
        {"shift_jis", "\x82\xa0", "\xe3\x81\x82"},
        {"utf-8", "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        struct buf b;
        const char *err = NULL;
        buf_init(&b, 1024);
        if (mime_charset_to_utf8(cases[i].cs, cases[i].in, strlen(cases[i].in), &b, &err) != 0)
            fail_msg("charset %zu: %s", i, err);
        if (strcmp(buf_cstr(&b), cases[i].out) != 0)
            fail_msg("charset %zu (%s): '%s'", i, cases[i].cs, buf_cstr(&b));
        buf_free(&b);
    }
    struct buf b;
    const char *err = NULL;
    buf_init(&b, 1024);
    assert_int_equal(mime_charset_to_utf8("x-no-such-charset", "a", 1, &b, &err), -1);
    assert_non_null(err);
    assert_false(mime_charset_known("x-no-such-charset"));
    assert_true(mime_charset_known("koi8-r"));
    buf_free(&b);
    /* bounded output: 3 bytes of UTF-8 for one Latin-1 e-acute and two letters */
    buf_init(&b, 4);
    assert_int_equal(mime_charset_to_utf8("iso-8859-1",
                                          "\xe9"
                                          "ab",
                                          3, &b, &err),
                     0);
    buf_free(&b);
    buf_init(&b, 3);
    assert_int_equal(mime_charset_to_utf8("iso-8859-1",
                                          "\xe9"
                                          "ab",
                                          3, &b, &err),
                     -1);
    buf_free(&b);
}

static void test_encoded_words(void **state)
{
    (void)state;
    static const struct io cases[] = {
        {"plain text", "plain text"},
        {"=?utf-8?q?caf=C3=A9?=", "caf\xc3\xa9"},
        {"=?ISO-8859-1?Q?Die_Hasen_und_die_Fr=F6sche?=", "Die Hasen und die Fr\xc3\xb6sche"},
        {"=?iso-8859-1?Q?J=FCrgen?= =?iso-8859-1?Q?_Schm=FCrgen?=",
         "J\xc3\xbcrgen Schm\xc3\xbcrgen"},
        {"a =?utf-8?b?w6k=?= b", "a \xc3\xa9 b"},
        {"=?utf-8?b?w6k=?=\r\n =?utf-8?b?w6k=?=", "\xc3\xa9\xc3\xa9"},
        /* one character split over two words */
        {"=?utf-8?b?ww==?= =?utf-8?b?qQ==?=", "\xc3\xa9"},
        {"=?utf-8*en?q?hi?=", "hi"},
        {"=?x-unknown?q?hi?=", "=?x-unknown?q?hi?="},
        {"=?utf-8?x?hi?=", "=?utf-8?x?hi?="},
        {"=?utf-8?q?open", "=?utf-8?q?open"},
        {"folded\r\n line", "folded line"},
        {"x=?utf-8?q?y?=z", "xyz"},
        {"raw \xff byte", "raw \xef\xbf\xbd byte"},
        {"", ""},
    };
    for (size_t i = 0; i < N(cases); i++) {
        struct buf b;
        buf_init(&b, 1024);
        assert_int_equal(mime_encoded_words_decode(cases[i].in, strlen(cases[i].in), &b), 0);
        if (strcmp(buf_cstr(&b), cases[i].out) != 0)
            fail_msg("ew %zu '%s': '%s'", i, cases[i].in, buf_cstr(&b));
        buf_free(&b);
    }
    /* every prefix of an encoded word decodes without harm */
    const char *w = "=?utf-8?q?caf=C3=A9?= =?iso-8859-1?b?6Q==?=";
    for (size_t n = 0; n <= strlen(w); n++) {
        struct buf b;
        buf_init(&b, 1024);
        assert_int_equal(mime_encoded_words_decode(w, n, &b), 0);
        buf_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qp),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_decode_limit),
        cmocka_unit_test(test_charset),
        cmocka_unit_test(test_encoded_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
