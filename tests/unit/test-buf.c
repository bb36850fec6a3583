/* Unit tests of src/lib/buf.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* The invariants every operation keeps: len within max and cap, and the
 * data terminated right after len. */
static void check_invariants(const struct buf *b)
{
    assert_true(b->len <= b->max);
    if (b->data) {
        assert_true(b->len < b->cap);
        assert_int_equal(b->data[b->len], '\0');
    } else {
        assert_int_equal(b->len, 0);
    }
    assert_int_equal(strlen(buf_cstr(b)) <= b->len, true);
}

static void test_buf_init_empty(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 10);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.max, 10);
    assert_string_equal(buf_cstr(&b), "");
    check_invariants(&b);
    buf_free(&b);
    /* A huge maximum is clamped to BUF_UNLIMITED. */
    buf_init(&b, SIZE_MAX);
    assert_int_equal(b.max, BUF_UNLIMITED);
    buf_free(&b);
}

/* Append sequences against a maximum: each append succeeds or leaves the
 * buffer exactly as it was. */
static void test_buf_append_limits(void **state)
{
    (void)state;
    static const struct {
        size_t max;
        const char *pieces[4];
        int want_ret[4];
        const char *want;
    } cases[] = {
        {5, {"abc", "de"}, {0, 0}, "abcde"}, /* exactly max */
        {5, {"abc", "def"}, {0, -1}, "abc"}, /* max + 1 refused */
        {5, {"abcdef"}, {-1}, ""},           /* first append over */
        {5, {"abcde", ""}, {0, 0}, "abcde"}, /* empty append at max */
        {5, {"abcde", "f"}, {0, -1}, "abcde"},
        {0, {"", "a"}, {0, -1}, ""}, /* max 0 */
        {1, {"a", "b", ""}, {0, -1, 0}, "a"},
        {100, {"one ", "two ", "three"}, {0, 0, 0}, "one two three"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct buf b;
        buf_init(&b, cases[i].max);
        for (size_t k = 0; k < 4 && cases[i].pieces[k]; k++) {
            int r = buf_append_str(&b, cases[i].pieces[k]);
            if (r != cases[i].want_ret[k])
                fail_msg("case %zu piece %zu: got %d", i, k, r);
            check_invariants(&b);
        }
        if (strcmp(buf_cstr(&b), cases[i].want) != 0 || b.len != strlen(cases[i].want))
            fail_msg("case %zu: got \"%s\"", i, buf_cstr(&b));
        buf_free(&b);
    }
}

static void test_buf_append_binary_and_char(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 4);
    assert_int_equal(buf_append(&b, "a\0b", 3), 0);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "a\0b\0", 4);
    assert_int_equal(buf_append_char(&b, '\0'), 0);
    assert_int_equal(b.len, 4);
    assert_int_equal(buf_append_char(&b, 'x'), -1);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.data, "a\0b\0\0", 5);
    /* n == 0 with a NULL pointer is allowed and changes nothing. */
    assert_int_equal(buf_append(&b, NULL, 0), 0);
    assert_int_equal(b.len, 4);
    buf_free(&b);
}

static void test_buf_growth(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    /* Many small appends across several reallocations keep every byte. */
    for (size_t i = 0; i < 10000; i++) {
        assert_int_equal(buf_append_char(&b, (char)('a' + i % 26)), 0);
        if (i % 997 == 0)
            check_invariants(&b);
    }
    assert_int_equal(b.len, 10000);
    for (size_t i = 0; i < 10000; i++)
        if (b.data[i] != (char)('a' + i % 26))
            fail_msg("byte %zu", i);
    check_invariants(&b);
    buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    /* Usable again after buf_free. */
    assert_int_equal(buf_append_str(&b, "again"), 0);
    assert_string_equal(buf_cstr(&b), "again");
    buf_free(&b);
}

static void test_buf_printf(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 12);
    assert_int_equal(buf_printf(&b, "%d-%s", 42, "ab"), 0);
    assert_string_equal(buf_cstr(&b), "42-ab");
    /* Exactly up to the maximum, then one more refused and nothing added. */
    assert_int_equal(buf_printf(&b, "%07d", 1234567), 0);
    assert_string_equal(buf_cstr(&b), "42-ab1234567");
    assert_int_equal(b.len, 12);
    assert_int_equal(buf_printf(&b, "%c", 'x'), -1);
    assert_string_equal(buf_cstr(&b), "42-ab1234567");
    assert_int_equal(buf_printf(&b, "%s", ""), 0);
    check_invariants(&b);
    buf_free(&b);

    /* Output longer than the internal 256-byte scratch takes the second path. */
    char big[1000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    static const struct {
        size_t max;
        size_t prefix; /* bytes appended before */
        int want_ret;
    } cases[] = {
        {2000, 0, 0},   {999, 0, 0},  {998, 0, -1}, {1009, 10, 0},
        {1008, 10, -1}, {256, 0, -1}, {255, 0, -1},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        buf_init(&b, cases[i].max);
        for (size_t k = 0; k < cases[i].prefix; k++)
            assert_int_equal(buf_append_char(&b, 'p'), 0);
        int r = buf_printf(&b, "%s", big);
        if (r != cases[i].want_ret)
            fail_msg("case %zu: got %d", i, r);
        check_invariants(&b);
        if (r == 0) {
            assert_int_equal(b.len, cases[i].prefix + 999);
            assert_memory_equal(b.data + cases[i].prefix, big, 999);
        } else {
            assert_int_equal(b.len, cases[i].prefix);
        }
        buf_free(&b);
    }
    /* Exactly 255 and 256 bytes of output around the scratch size. */
    for (size_t n = 254; n <= 258; n++) {
        buf_init(&b, n);
        assert_int_equal(buf_printf(&b, "%.*s", (int)n, big), 0);
        assert_int_equal(b.len, n);
        assert_int_equal(buf_printf(&b, "%s", "y"), -1);
        check_invariants(&b);
        buf_free(&b);
    }
}

static void test_buf_consume_truncate(void **state)
{
    (void)state;
    static const struct {
        const char *start;
        char op; /* 'c' consume, 't' truncate */
        size_t n;
        const char *want;
    } cases[] = {
        {"abcdef", 'c', 0, "abcdef"},   {"abcdef", 'c', 2, "cdef"},    {"abcdef", 'c', 6, ""},
        {"abcdef", 'c', 7, ""},         {"abcdef", 'c', SIZE_MAX, ""}, {"", 'c', 1, ""},
        {"abcdef", 't', 0, ""},         {"abcdef", 't', 3, "abc"},     {"abcdef", 't', 6, "abcdef"},
        {"abcdef", 't', 100, "abcdef"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct buf b;
        buf_init(&b, 64);
        assert_int_equal(buf_append_str(&b, cases[i].start), 0);
        if (cases[i].op == 'c')
            buf_consume(&b, cases[i].n);
        else
            buf_truncate(&b, cases[i].n);
        check_invariants(&b);
        if (strcmp(buf_cstr(&b), cases[i].want) != 0 || b.len != strlen(cases[i].want))
            fail_msg("case %zu: got \"%s\"", i, buf_cstr(&b));
        buf_free(&b);
    }
    /* buf_consume and buf_truncate on a never-used buffer. */
    struct buf b;
    buf_init(&b, 8);
    buf_consume(&b, 3);
    buf_truncate(&b, 0);
    assert_int_equal(b.len, 0);
    assert_string_equal(buf_cstr(&b), "");
    buf_free(&b);
}

static void test_buf_reset_keeps_memory(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 64);
    assert_int_equal(buf_append_str(&b, "hello"), 0);
    char *before = b.data;
    size_t cap = b.cap;
    buf_reset(&b);
    assert_ptr_equal(b.data, before);
    assert_int_equal(b.cap, cap);
    assert_int_equal(b.len, 0);
    assert_string_equal(buf_cstr(&b), "");
    buf_free(&b);
    /* Resetting an unused buffer is harmless. */
    buf_init(&b, 64);
    buf_reset(&b);
    assert_null(b.data);
    buf_free(&b);
}

static void test_buf_reserve_commit(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 10);
    char *p = buf_reserve(&b, 6);
    assert_non_null(p);
    memcpy(p, "abcd", 4);
    buf_commit(&b, 4);
    assert_string_equal(buf_cstr(&b), "abcd");
    check_invariants(&b);
    /* Reserving exactly what is left under max works, one more does not. */
    assert_non_null(buf_reserve(&b, 6));
    assert_null(buf_reserve(&b, 7));
    assert_int_equal(b.len, 4);
    p = buf_reserve(&b, 6);
    memcpy(p, "efghij", 6);
    buf_commit(&b, 6);
    assert_string_equal(buf_cstr(&b), "abcdefghij");
    assert_null(buf_reserve(&b, 1));
    assert_non_null(buf_reserve(&b, 0));
    buf_commit(&b, 0);
    assert_int_equal(b.len, 10);
    check_invariants(&b);
    buf_free(&b);
}

static void test_buf_steal(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 64);
    /* Stealing an empty, never-allocated buffer still gives a string. */
    char *s = buf_steal(&b);
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
    assert_int_equal(buf_printf(&b, "x=%d", 5), 0);
    s = buf_steal(&b);
    assert_string_equal(s, "x=5");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    /* The buffer is usable again and independent of the stolen string. */
    assert_int_equal(buf_append_str(&b, "new"), 0);
    assert_string_equal(s, "x=5");
    assert_string_equal(buf_cstr(&b), "new");
    free(s);
    buf_free(&b);
}

static void test_buf_append_u64(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 64);
    const uint64_t values[] = {0, 7, 10, 99, 4294967295u, 18446744073709551615u};
    const char *const texts[] = {"0", "7", "10", "99", "4294967295", "18446744073709551615"};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        buf_reset(&b);
        assert_int_equal(buf_append_u64(&b, values[i]), 0);
        assert_string_equal(buf_cstr(&b), texts[i]);
    }
    /* past max: refused, buffer unchanged */
    struct buf small;
    buf_init(&small, 4);
    assert_int_equal(buf_append_str(&small, "ab"), 0);
    assert_int_equal(buf_append_u64(&small, 123), -1);
    assert_string_equal(buf_cstr(&small), "ab");
    assert_int_equal(buf_append_u64(&small, 12), 0);
    assert_string_equal(buf_cstr(&small), "ab12");
    buf_free(&small);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_init_empty),
        cmocka_unit_test(test_buf_append_limits),
        cmocka_unit_test(test_buf_append_binary_and_char),
        cmocka_unit_test(test_buf_growth),
        cmocka_unit_test(test_buf_printf),
        cmocka_unit_test(test_buf_consume_truncate),
        cmocka_unit_test(test_buf_reset_keeps_memory),
        cmocka_unit_test(test_buf_reserve_commit),
        cmocka_unit_test(test_buf_steal),
        cmocka_unit_test(test_buf_append_u64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
