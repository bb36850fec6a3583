/* Unit test: docs/configuration.md is exactly what the key table says, so
 * every key is documented with its real default. (Regenerate the file
 * with `build/postino config-reference > docs/configuration.md`.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config.h"

static void test_reference_is_current(void **state)
{
    (void)state;
    struct buf want;
    buf_init(&want, BUF_UNLIMITED);
    config_write_reference(&want);
    FILE *f = fopen("docs/configuration.md", "rb");
    assert_non_null(f);
    char *have = malloc(want.len + 2);
    size_t n = fread(have, 1, want.len + 1, f);
    fclose(f);
    if (n != want.len || memcmp(have, want.data, n) != 0)
        fail_msg("docs/configuration.md is out of date: regenerate it with "
                 "build/postino config-reference > docs/configuration.md");
    free(have);
    buf_free(&want);
}

/* The file init writes is accepted as it is, and comes back identical. */
static void test_written_file_parses(void **state)
{
    (void)state;
    struct config *cfg = config_new_default();
    char *err = NULL;
    assert_int_equal(config_set(cfg, "smtp_listen", "127.0.0.1:2525, [::1]:2525", &err), 0);
    assert_int_equal(config_set(cfg, "message_size_limit", "10M", &err), 0);
    assert_int_equal(config_set(cfg, "queue_retry_min", "90s", &err), 0);
    const char *keys[] = {"smtp_listen", "message_size_limit", "queue_retry_min"};
    struct buf text;
    buf_init(&text, BUF_UNLIMITED);
    config_write_file(cfg, keys, 3, &text);
    struct config *back = config_new_default();
    if (config_parse_text(back, "written", text.data, text.len, &err) != 0)
        fail_msg("%s", err);
    assert_int_equal(back->message_size_limit, 10 * 1024 * 1024);
    assert_int_equal(back->queue_retry_min, 90);
    assert_int_equal(back->smtp_listen.n, 2);
    assert_string_equal(back->smtp_listen.items[1], "[::1]:2525");
    buf_free(&text);
    config_free(&cfg);
    config_free(&back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_is_current),
        cmocka_unit_test(test_written_file_parses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
