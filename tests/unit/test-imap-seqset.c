/* Unit tests of src/imap/imap-seqset.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-seqset.h"
#include "lib/buf.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* The set written out, as a static string. */
static const char *written(const struct imap_seqset *set)
{
    static char out[4096];
    struct buf b;
    buf_init(&b, sizeof(out) - 1);
    assert_int_equal(imap_seqset_write(set, &b), 0);
    snprintf(out, sizeof(out), "%s", buf_cstr(&b));
    buf_free(&b);
    return out;
}

static void test_imap_seqset_parse(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *parsed; /* NULL: refused */
        uint32_t max;
        const char *resolved;
    } cases[] = {
        {"1", "1", 10, "1"},
        {"1:3", "1:3", 10, "1:3"},
        {"3:1", "1:3", 10, "1:3"},
        {"*", "*", 10, "10"},
        {"*", "*", 0, ""},
        {"1:*", "1:*", 10, "1:10"},
        {"*:1", "1:*", 10, "1:10"},
        {"559:*", "559:*", 10, "10:559"},
        {"3:*", "3:*", 0, "3"},
        {"2,4:7,9,12:*", "2,4:7,9,12:*", 15, "2,4:7,9,12:15"},
        {"5,1,3,2,4", "5,1,3,2,4", 10, "1:5"},
        {"1:5,3:8,10", "1:5,3:8,10", 20, "1:8,10"},
        {"4294967295", "4294967295", 3, "4294967295"},
        {"1:4294967295", "1:4294967295", 3, "1:4294967295"},
        {"*:*", "*", 4, "4"},
        {"", NULL, 0, NULL},
        {"0", NULL, 0, NULL},
        {"01", NULL, 0, NULL},
        {"1:0", NULL, 0, NULL},
        {"4294967296", NULL, 0, NULL},
        {"1,", NULL, 0, NULL},
        {",1", NULL, 0, NULL},
        {"1::2", NULL, 0, NULL},
        {"1:2:3", NULL, 0, NULL},
        {"$", NULL, 0, NULL},
        {"1 2", NULL, 0, NULL},
        {"-1", NULL, 0, NULL},
        {"a", NULL, 0, NULL},
        {"**", NULL, 0, NULL},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct imap_seqset set;
        imap_seqset_init(&set);
        const char *err = NULL;
        size_t n = strlen(cases[i].in);
        char *copy = malloc(n ? n : 1);
        memcpy(copy, cases[i].in, n);
        int r = imap_seqset_parse(copy, n, &set, &err);
        assert_int_equal(imap_seqset_valid(copy, n), r == 0);
        free(copy);
        if (!cases[i].parsed) {
            if (r != -1 || err == NULL)
                fail_msg("case %zu \"%s\" accepted", i, cases[i].in);
            assert_int_equal(set.count, 0);
        } else {
            if (r != 0)
                fail_msg("case %zu \"%s\" refused: %s", i, cases[i].in, err);
            assert_string_equal(written(&set), cases[i].parsed);
            imap_seqset_resolve(&set, cases[i].max);
            if (strcmp(written(&set), cases[i].resolved) != 0)
                fail_msg("case %zu resolved to \"%s\"", i, written(&set));
        }
        imap_seqset_free(&set);
    }
}

static void test_imap_seqset_membership(void **state)
{
    (void)state;
    struct imap_seqset set;
    imap_seqset_init(&set);
    const char *err;
    const char *in = "2,4:7,9,12:*";
    assert_int_equal(imap_seqset_parse(in, strlen(in), &set, &err), 0);
    /* Unresolved, against max 15. */
    static const uint32_t yes[] = {2, 4, 5, 7, 9, 12, 15};
    static const uint32_t no[] = {0, 1, 3, 8, 10, 11, 16, 100};
    for (size_t i = 0; i < N_ELEMS(yes); i++)
        assert_true(imap_seqset_contains_max(&set, yes[i], 15));
    for (size_t i = 0; i < N_ELEMS(no); i++)
        assert_false(imap_seqset_contains_max(&set, no[i], 15));
    assert_true(imap_seqset_contains_max(&set, 12, 0));
    assert_false(imap_seqset_contains_max(&set, 13, 0));
    struct imap_seqset star;
    imap_seqset_init(&star);
    assert_int_equal(imap_seqset_parse("*", 1, &star, &err), 0);
    assert_true(imap_seqset_contains_max(&star, 7, 7));
    assert_false(imap_seqset_contains_max(&star, 6, 7));
    assert_false(imap_seqset_contains_max(&star, 0, 0));
    imap_seqset_free(&star);
    imap_seqset_resolve(&set, 15);
    for (size_t i = 0; i < N_ELEMS(yes); i++)
        assert_true(imap_seqset_contains(&set, yes[i]));
    for (size_t i = 0; i < N_ELEMS(no); i++)
        assert_false(imap_seqset_contains(&set, no[i]));
    assert_int_equal(imap_seqset_size(&set), 1 + 4 + 1 + 4);
    assert_int_equal(imap_seqset_last(&set), 15);
    /* Iteration. */
    struct imap_seqset_iter it = {0};
    uint32_t n, seen[16];
    size_t k = 0;
    while (imap_seqset_next(&set, &it, &n)) {
        assert_true(k < N_ELEMS(seen));
        seen[k++] = n;
    }
    static const uint32_t want[] = {2, 4, 5, 6, 7, 9, 12, 13, 14, 15};
    assert_int_equal(k, N_ELEMS(want));
    assert_memory_equal(seen, want, sizeof(want));
    /* Clamp (UIDs above UIDNEXT-1 are ignored). */
    imap_seqset_clamp(&set, 5);
    assert_string_equal(written(&set), "2,4:5");
    imap_seqset_clamp(&set, 0);
    assert_string_equal(written(&set), "");
    assert_int_equal(imap_seqset_last(&set), 0);
    /* The top of the number range iterates and ends. */
    in = "4294967294:4294967295";
    assert_int_equal(imap_seqset_parse(in, strlen(in), &set, &err), 0);
    imap_seqset_resolve(&set, 1);
    it = (struct imap_seqset_iter){0};
    k = 0;
    while (imap_seqset_next(&set, &it, &n))
        k++;
    assert_int_equal(k, 2);
    imap_seqset_free(&set);
}

static void test_imap_seqset_build(void **state)
{
    (void)state;
    struct imap_seqset set;
    imap_seqset_init(&set);
    /* COPYUID style: appended in order, runs joined, order kept. */
    static const uint32_t uids[] = {5, 6, 7, 3, 4, 10, 11, 4294967295u};
    for (size_t i = 0; i < N_ELEMS(uids); i++)
        assert_int_equal(imap_seqset_append(&set, uids[i]), 0);
    assert_string_equal(written(&set), "5:7,3:4,10:11,4294967295");
    assert_int_equal(imap_seqset_append(&set, 0), -1);
    imap_seqset_normalize(&set);
    assert_string_equal(written(&set), "3:7,10:11,4294967295");
    imap_seqset_clear(&set);
    assert_int_equal(imap_seqset_add(&set, 9, 2), 0);
    assert_int_equal(imap_seqset_add(&set, 20, IMAP_SEQ_STAR), 0);
    assert_int_equal(imap_seqset_add(&set, 1, 1), 0);
    imap_seqset_normalize(&set);
    assert_string_equal(written(&set), "1:9,20:*");
    /* A full output buffer is reported. */
    struct buf b;
    buf_init(&b, 4);
    assert_int_equal(imap_seqset_write(&set, &b), -1);
    buf_free(&b);
    imap_seqset_free(&set);
}

static void test_imap_seqset_limit(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    for (int extra = 0; extra <= 1; extra++) {
        buf_reset(&b);
        for (int i = 0; i < IMAP_SEQSET_RANGES_MAX + extra; i++)
            buf_printf(&b, "%s%d", i ? "," : "", 2 * i + 1);
        struct imap_seqset set;
        imap_seqset_init(&set);
        const char *err = NULL;
        int r = imap_seqset_parse(b.data, b.len, &set, &err);
        if (extra) {
            assert_int_equal(r, -1);
            assert_string_equal(err, "Too many ranges in sequence set");
            assert_true(imap_seqset_valid(b.data, b.len));
        } else {
            assert_int_equal(r, 0);
            assert_int_equal(set.count, IMAP_SEQSET_RANGES_MAX);
            assert_int_equal(imap_seqset_add(&set, 1, 1), -1);
            assert_int_equal(imap_seqset_append(&set, 1), -1);
            imap_seqset_resolve(&set, 100000);
            assert_int_equal(set.count, IMAP_SEQSET_RANGES_MAX);
            assert_true(imap_seqset_contains(&set, 2 * (IMAP_SEQSET_RANGES_MAX - 1) + 1));
            assert_false(imap_seqset_contains(&set, 2));
        }
        imap_seqset_free(&set);
    }
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_imap_seqset_parse),
        cmocka_unit_test(test_imap_seqset_membership),
        cmocka_unit_test(test_imap_seqset_build),
        cmocka_unit_test(test_imap_seqset_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
