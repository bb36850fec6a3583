/* Unit tests of src/lib/str.c. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/str.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A heap copy of exactly n bytes, no terminator: ASan catches any read past n. */
static char *exact_copy(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, s, n);
    return p;
}

static void test_str_copy(void **state)
{
    (void)state;
    static const struct {
        size_t dstsize;
        const char *src;
        int want_ret;
        const char *want;
    } cases[] = {
        {8, "", 0, ""},
        {8, "abc", 0, "abc"},
        {8, "1234567", 0, "1234567"},   /* exactly fills dst with its terminator */
        {8, "12345678", -1, "1234567"}, /* one too many: truncated */
        {1, "", 0, ""},
        {1, "a", -1, ""},
        {2, "ab", -1, "a"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        char dst[16];
        memset(dst, 'X', sizeof(dst));
        int r = str_copy(dst, cases[i].dstsize, cases[i].src);
        if (r != cases[i].want_ret || strcmp(dst, cases[i].want) != 0)
            fail_msg("case %zu: got %d \"%s\"", i, r, dst);
        /* Nothing written past dstsize. */
        for (size_t k = cases[i].dstsize; k < sizeof(dst); k++)
            assert_int_equal(dst[k], 'X');
    }
}

static void test_str_copyn(void **state)
{
    (void)state;
    char dst[8];
    /* The source need not be terminated. */
    char *src = exact_copy("abcdef", 6);
    assert_int_equal(str_copyn(dst, sizeof(dst), src, 6), 0);
    assert_string_equal(dst, "abcdef");
    assert_int_equal(str_copyn(dst, sizeof(dst), src, 3), 0);
    assert_string_equal(dst, "abc");
    assert_int_equal(str_copyn(dst, 4, src, 6), -1);
    assert_string_equal(dst, "abc");
    assert_int_equal(str_copyn(dst, sizeof(dst), src, 0), 0);
    assert_string_equal(dst, "");
    free(src);
    /* A zero-sized destination cannot even hold the terminator. */
    dst[0] = 'Q';
    assert_int_equal(str_copyn(dst, 0, "a", 1), -1);
    assert_int_equal(dst[0], 'Q');
}

static void test_str_compare_ci(void **state)
{
    (void)state;
    static const struct {
        const char *a, *b;
        bool eq;
    } eq_cases[] = {
        {"", "", true},
        {"HELO", "helo", true},
        {"MaIl", "mAiL", true},
        {"mail", "mail ", false},
        {"mail", "mai", false},
        {"", "a", false},
        {"a", "", false},
        /* ASCII only: no folding of non-ASCII or of neighbouring punctuation. */
        {"\xc3\x89", "\xc3\xa9", false},
        {"@", "`", false},
        {"[", "{", false},
        {"Z", "z", true},
        {"A", "a", true},
    };
    for (size_t i = 0; i < N_ELEMS(eq_cases); i++) {
        if (str_eq_ci(eq_cases[i].a, eq_cases[i].b) != eq_cases[i].eq)
            fail_msg("str_eq_ci case %zu (\"%s\", \"%s\")", i, eq_cases[i].a, eq_cases[i].b);
    }

    static const struct {
        const char *a, *b;
        size_t n;
        bool eq;
    } eqn_cases[] = {
        {"MAIL FROM", "mail", 4, true},
        {"MAIL", "mail FROM", 4, true},
        {"MAIL", "mail FROM", 5, false},
        {"abc", "abd", 2, true},
        {"abc", "abd", 3, false},
        {"abc", "ABC", 10, true}, /* stops at the terminators */
        {"ab", "abc", 10, false},
        {"", "", 0, true},
        {"x", "y", 0, true},
    };
    for (size_t i = 0; i < N_ELEMS(eqn_cases); i++) {
        if (str_eqn_ci(eqn_cases[i].a, eqn_cases[i].b, eqn_cases[i].n) != eqn_cases[i].eq)
            fail_msg("str_eqn_ci case %zu", i);
    }

    static const struct {
        const char *s, *prefix;
        bool want;
    } prefix_cases[] = {
        {"IPv6:::1", "ipv6:", true}, {"ipv6:", "IPV6:", true},
        {"ipv6", "IPv6:", false},    {"", "", true},
        {"abc", "", true},           {"", "a", false},
        {"xbc", "abc", false},
    };
    for (size_t i = 0; i < N_ELEMS(prefix_cases); i++) {
        if (str_prefix_ci(prefix_cases[i].s, prefix_cases[i].prefix) != prefix_cases[i].want)
            fail_msg("str_prefix_ci case %zu", i);
    }
}

static void test_str_lower(void **state)
{
    (void)state;
    char s[] = "MiXeD.Example-ORG_09@[IPv6:::1]\xc3\x89";
    str_lower(s);
    assert_string_equal(s, "mixed.example-org_09@[ipv6:::1]\xc3\x89");
    for (int c = 0; c < 256; c++) {
        char lc = str_lower_char((char)c);
        char want = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : (char)c;
        if (lc != want)
            fail_msg("str_lower_char(0x%02x)", c);
    }
}

static void test_str_to_u64(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t n; /* (size_t)-1: strlen */
        unsigned long long max;
        int want_ret;
        unsigned long long want;
    } cases[] = {
        {"0", (size_t)-1, 10, 0, 0},
        {"123", (size_t)-1, 1000, 0, 123},
        {"007", (size_t)-1, 1000, 0, 7},
        {"", (size_t)-1, 1000, -1, 0},
        {"-1", (size_t)-1, 1000, -1, 0},
        {"+1", (size_t)-1, 1000, -1, 0},
        {" 1", (size_t)-1, 1000, -1, 0},
        {"1 ", (size_t)-1, 1000, -1, 0},
        {"1x", (size_t)-1, 1000, -1, 0},
        {"12345", 2, 1000, 0, 12}, /* only n bytes count */
        {"12345", 0, 1000, -1, 0},
        /* The maximum is inclusive, and crossing it by one fails. */
        {"65535", (size_t)-1, 65535, 0, 65535},
        {"65536", (size_t)-1, 65535, -1, 0},
        {"655350", (size_t)-1, 65535, -1, 0},
        {"32", (size_t)-1, 32, 0, 32},
        {"33", (size_t)-1, 32, -1, 0},
        {"128", (size_t)-1, 128, 0, 128},
        {"129", (size_t)-1, 128, -1, 0},
        /* Maxima below 9: a single digit above max must fail too. */
        {"5", (size_t)-1, 5, 0, 5},
        {"6", (size_t)-1, 5, -1, 0},
        {"9", (size_t)-1, 0, -1, 0},
        {"0", (size_t)-1, 0, 0, 0},
        {"1", (size_t)-1, 0, -1, 0},
        {"10", (size_t)-1, 5, -1, 0},
        /* The whole unsigned range. */
        {"18446744073709551615", (size_t)-1, ULLONG_MAX, 0, ULLONG_MAX},
        {"18446744073709551616", (size_t)-1, ULLONG_MAX, -1, 0},
        {"99999999999999999999", (size_t)-1, ULLONG_MAX, -1, 0},
        {"9223372036854775807", (size_t)-1, LLONG_MAX, 0, LLONG_MAX},
        {"9223372036854775808", (size_t)-1, LLONG_MAX, -1, 0},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        size_t n = cases[i].n == (size_t)-1 ? strlen(cases[i].s) : cases[i].n;
        char *s = exact_copy(cases[i].s, n);
        unsigned long long v = 4242;
        int r = str_to_u64(s, n, cases[i].max, &v);
        free(s);
        if (r != cases[i].want_ret)
            fail_msg("case %zu \"%s\" max %llu: got %d (value %llu)", i, cases[i].s, cases[i].max,
                     r, v);
        if (r == 0 && v != cases[i].want)
            fail_msg("case %zu \"%s\": value %llu", i, cases[i].s, v);
        if (r < 0 && v != 4242)
            fail_msg("case %zu \"%s\": output written on failure", i, cases[i].s);
    }
}

static void test_str_printable(void **state)
{
    (void)state;
    static const struct {
        const char *src;
        size_t n;
        size_t dstsize;
        const char *want;
    } cases[] = {
        {"hello", 5, 64, "hello"},
        {"a\r\nb", 4, 64, "a\\x0d\\x0ab"},
        {"back\\slash", 10, 64, "back\\x5cslash"},
        {"\x7f\x80\xff", 3, 64, "\\x7f\\x80\\xff"},
        {"nul\0x", 5, 64, "nul\\x00x"},
        {"\x1b[31m", 5, 64, "\\x1b[31m"},
        {" ~", 2, 64, " ~"},
        /* Truncation never splits an escape and always terminates. */
        {"abcdef", 6, 4, "abc"},
        {"ab\x01", 3, 6, "ab"},
        {"ab\x01", 3, 7, "ab\\x01"},
        {"\x01", 1, 4, ""},
        {"\x01", 1, 5, "\\x01"},
        {"abc", 3, 1, ""},
        {"", 0, 8, ""},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        char dst[64];
        memset(dst, 'X', sizeof(dst));
        char *src = exact_copy(cases[i].src, cases[i].n);
        char *r = str_printable(dst, cases[i].dstsize, src, cases[i].n);
        free(src);
        assert_ptr_equal(r, dst);
        if (strcmp(dst, cases[i].want) != 0)
            fail_msg("case %zu: got \"%s\" want \"%s\"", i, dst, cases[i].want);
        for (size_t k = cases[i].dstsize; k < sizeof(dst); k++)
            assert_int_equal(dst[k], 'X');
    }
    /* dstsize 0 writes nothing at all. */
    char one = 'Q';
    str_printable(&one, 0, "abc", 3);
    assert_int_equal(one, 'Q');
    /* No output byte is ever a control character, whatever the input. */
    char all[256];
    for (int c = 0; c < 256; c++)
        all[c] = (char)c;
    char out[256 * 4 + 1];
    str_printable(out, sizeof(out), all, sizeof(all));
    for (size_t k = 0; out[k]; k++)
        assert_true((unsigned char)out[k] >= 0x20 && (unsigned char)out[k] < 0x7f);
    /* 94 printable bytes as they are (not the backslash), 162 escaped. */
    assert_int_equal(strlen(out), 94 + 162 * 4);
}

static void test_str_utf8_valid(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t n;
        bool valid;
    } cases[] = {
        {"", 0, true},
        {"plain ascii", 11, true},
        {"nul\0inside", 10, true},
        {"\xc3\xa9", 2, true},                 /* U+00E9 */
        {"\xc2\x80", 2, true},                 /* U+0080, smallest 2-byte */
        {"\xdf\xbf", 2, true},                 /* U+07FF */
        {"\xe0\xa0\x80", 3, true},             /* U+0800, smallest 3-byte */
        {"\xed\x9f\xbf", 3, true},             /* U+D7FF, just below the surrogates */
        {"\xee\x80\x80", 3, true},             /* U+E000, just above */
        {"\xef\xbf\xbf", 3, true},             /* U+FFFF */
        {"\xf0\x90\x80\x80", 4, true},         /* U+10000 */
        {"\xf4\x8f\xbf\xbf", 4, true},         /* U+10FFFF, the last code point */
        {"\xe7\x94\xa8\xe6\x88\xb7", 6, true}, /* CJK */
        {"\xc0\x80", 2, false},                /* overlong NUL */
        {"\xc1\xbf", 2, false},                /* overlong */
        {"\xe0\x9f\xbf", 3, false},            /* overlong U+07FF */
        {"\xf0\x8f\xbf\xbf", 4, false},        /* overlong U+FFFF */
        {"\xed\xa0\x80", 3, false},            /* U+D800 surrogate */
        {"\xed\xbf\xbf", 3, false},            /* U+DFFF surrogate */
        {"\xf4\x90\x80\x80", 4, false},        /* U+110000 */
        {"\xf5\x80\x80\x80", 4, false},        /* lead byte past F4 */
        {"\xff", 1, false},
        {"\x80", 1, false}, /* lone continuation */
        {"a\xbf", 2, false},
        {"\xc3", 1, false}, /* truncated at the end */
        {"\xe7\x94", 2, false},
        {"\xf0\x90\x80", 3, false},
        {"\xc3\x28", 2, false}, /* continuation missing */
        {"\xe7\x94\x28", 3, false},
        {"\xc3\xa9\xc3", 3, false},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        char *s = exact_copy(cases[i].s, cases[i].n);
        bool v = str_utf8_valid(s, cases[i].n);
        free(s);
        if (v != cases[i].valid)
            fail_msg("case %zu: got %d", i, v);
    }
    /* Cut at every byte of a valid multi-byte string: valid exactly at
     * code point boundaries. */
    const char *mixed = "a\xc3\xa9\xe7\x94\xa8\xf0\x9f\x98\x80z";
    const size_t bounds[] = {0, 1, 3, 6, 10, 11};
    size_t len = strlen(mixed);
    for (size_t cut = 0; cut <= len; cut++) {
        bool at_bound = false;
        for (size_t b = 0; b < N_ELEMS(bounds); b++)
            at_bound |= bounds[b] == cut;
        char *s = exact_copy(mixed, cut);
        if (str_utf8_valid(s, cut) != at_bound)
            fail_msg("cut at %zu", cut);
        free(s);
    }
}

static void test_str_is_ascii(void **state)
{
    (void)state;
    assert_true(str_is_ascii("", 0));
    assert_true(str_is_ascii("abc\x7f\x01", 5));
    assert_false(str_is_ascii("abc\x80", 4));
    assert_false(str_is_ascii("\xc3\xa9", 2));
    /* Only n bytes are looked at. */
    assert_true(str_is_ascii("ab\xff", 2));
}

static void test_base64_value(void **state)
{
    (void)state;
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; i++)
        assert_int_equal(str_base64_value(alphabet[i], '/'), i);
    assert_int_equal(str_base64_value(',', ','), 63);
    assert_int_equal(str_base64_value('/', ','), -1);
    assert_int_equal(str_base64_value(',', '/'), -1);
    const char *bad = "=@[`{ -.\n";
    for (const char *p = bad; *p; p++)
        assert_int_equal(str_base64_value(*p, '/'), -1);
    assert_int_equal(str_base64_value((char)0xc3, '/'), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_value),  cmocka_unit_test(test_str_copy),
        cmocka_unit_test(test_str_copyn),     cmocka_unit_test(test_str_compare_ci),
        cmocka_unit_test(test_str_lower),     cmocka_unit_test(test_str_to_u64),
        cmocka_unit_test(test_str_printable), cmocka_unit_test(test_str_utf8_valid),
        cmocka_unit_test(test_str_is_ascii),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
