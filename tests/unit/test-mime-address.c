/* Unit tests: RFC 5322 address lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "lib/buf.h"
#include "mime/mime-address.h"

static void collect(const char *addr, size_t len, void *arg)
{
    struct buf *b = arg;
    if (b->len)
        buf_append_char(b, '|');
    buf_append(b, addr, len);
}

static void test_lists(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int n;
        const char *out;
    } cases[] = {
        {"bob@example.test", 1, "bob@example.test"},
        {" bob@example.test , ann@example.test ", 2, "bob@example.test|ann@example.test"},
        {"Bob <bob@example.test>", 1, "bob@example.test"},
        {"\"Smith, Bob\" <bob@example.test>, ann@x.test", 2, "bob@example.test|ann@x.test"},
        {"bob@example.test (Bob, the builder)", 1, "bob@example.test"},
        {"(comment (nested)) <bob@example.test>", 1, "bob@example.test"},
        {"undisclosed-recipients:;", 0, ""},
        {"team: bob@example.test, Ann <ann@example.test>;, carl@example.test", 3,
         "bob@example.test|ann@example.test|carl@example.test"},
        {"<@route.example:bob@example.test>", 1, "bob@example.test"},
        {"\"odd <name>\"@example.test", 1, "\"odd <name>\"@example.test"},
        {"", 0, ""},
        {" , ,", 0, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        int n = mime_address_list(cases[i].in, strlen(cases[i].in), collect, &b);
        if (n != cases[i].n || strcmp(buf_cstr(&b), cases[i].out) != 0)
            fail_msg("case %zu '%s': %d '%s', want %d '%s'", i, cases[i].in, n, buf_cstr(&b),
                     cases[i].n, cases[i].out);
        buf_free(&b);
    }
    static const char *const bad[] = {"Bob <bob@example.test", "bob", "\"unterminated",
                                      "(open comment bob@x.test", "<nobody>"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        if (mime_address_list(bad[i], strlen(bad[i]), collect, &b) != -1)
            fail_msg("'%s' accepted", bad[i]);
        buf_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
