/* Unit tests of src/imap/imap-utf7.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-utf7.h"
#include "lib/buf.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static void test_imap_utf7_roundtrip(void **state)
{
    (void)state;
    static const struct {
        const char *utf8;
        const char *utf7;
    } cases[] = {
        {"", ""},
        {"INBOX", "INBOX"},
        {"a&b", "a&-b"},
        {"&", "&-"},
        {"&&", "&-&-"},
        {"Entw\xc3\xbcrfe", "Entw&APw-rfe"},
        {"~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
         "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
        {"\xc3\xa9\xc3\xa9\xc3\xa9", "&AOkA6QDp-"},
        {"\xf0\x9f\x98\x80", "&2D3eAA-"},
        {"a\xf0\x9f\x98\x80"
         "b\xc3\xa9",
         "a&2D3eAA-b&AOk-"},
        {"Gel\xc3\xb6scht & Papierkorb", "Gel&APY-scht &- Papierkorb"},
    };
    struct buf b;
    buf_init(&b, 1024);
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        buf_reset(&b);
        assert_int_equal(imap_utf7_encode(cases[i].utf8, strlen(cases[i].utf8), &b), 0);
        if (strcmp(buf_cstr(&b), cases[i].utf7) != 0)
            fail_msg("case %zu encodes to \"%s\"", i, buf_cstr(&b));
        buf_reset(&b);
        assert_int_equal(imap_utf7_decode(cases[i].utf7, strlen(cases[i].utf7), &b), 0);
        assert_string_equal(buf_cstr(&b), cases[i].utf8);
        assert_true(imap_utf7_valid(cases[i].utf7, strlen(cases[i].utf7)));
    }
    buf_free(&b);
}

static void test_imap_utf7_invalid(void **state)
{
    (void)state;
    static const char *const bad7[] = {
        "&",             /* unterminated */
        "&AOk",          /* unterminated run */
        "&AGE-",         /* "a" encoded: printable ASCII must be plain */
        "&ACY-",         /* "&" encoded */
        "&AAA-",         /* NUL */
        "&AOkA6Q-&AOk-", /* two runs side by side */
        "&AOl-",         /* leftover bits not zero */
        "&AOkA-",        /* a stray digit */
        "&2D0-",         /* lone high surrogate */
        "&3gA-",         /* lone low surrogate */
        "&2D3YPQ-",      /* high surrogate then high surrogate */
        "&AO!-",         /* not base64 */
        "&AO/-",         /* '/' is not modified base64 */
        "caf\xc3\xa9",   /* raw 8-bit */
        "a\tb",          /* control */
        "a\x7f",
    };
    struct buf b;
    buf_init(&b, 1024);
    for (size_t i = 0; i < N_ELEMS(bad7); i++) {
        buf_reset(&b);
        if (imap_utf7_decode(bad7[i], strlen(bad7[i]), &b) != -1)
            fail_msg("case %zu \"%s\" decoded to \"%s\"", i, bad7[i], buf_cstr(&b));
        assert_false(imap_utf7_valid(bad7[i], strlen(bad7[i])));
    }
    static const char *const bad8[] = {
        "caf\xc3",                  /* truncated UTF-8 */
        "\xc0\xaf",                 /* overlong */
        "\xed\xa0\x80",             /* surrogate */
        "a\tb",                     /* control */
        "a\x7f",        "\xc2\x80", /* U+0080 is fine... */
    };
    for (size_t i = 0; i < N_ELEMS(bad8) - 1; i++) {
        buf_reset(&b);
        assert_int_equal(imap_utf7_encode(bad8[i], strlen(bad8[i]), &b), -1);
    }
    buf_reset(&b);
    assert_int_equal(imap_utf7_encode(bad8[5], 2, &b), 0);
    assert_string_equal(buf_cstr(&b), "&AIA-");
    assert_int_equal(imap_utf7_encode("a\0b", 3, &b), -1);
    buf_free(&b);
}

/* Output limits: both directions fail cleanly at the buffer's maximum. */
static void test_imap_utf7_limits(void **state)
{
    (void)state;
    struct buf b;
    const char *u8 = "\xc3\xa9\xc3\xa9";
    const char *u7 = "&AOkA6Q-";
    for (size_t max = 0; max < strlen(u7); max++) {
        buf_init(&b, max);
        assert_int_equal(imap_utf7_encode(u8, strlen(u8), &b), -1);
        buf_free(&b);
    }
    buf_init(&b, strlen(u7));
    assert_int_equal(imap_utf7_encode(u8, strlen(u8), &b), 0);
    buf_free(&b);
    for (size_t max = 0; max < strlen(u8); max++) {
        buf_init(&b, max);
        assert_int_equal(imap_utf7_decode(u7, strlen(u7), &b), -1);
        buf_free(&b);
    }
    buf_init(&b, strlen(u8));
    assert_int_equal(imap_utf7_decode(u7, strlen(u7), &b), 0);
    buf_free(&b);
}

/* Every BMP code point (and some astral ones) survives a round trip. */
static void test_imap_utf7_all(void **state)
{
    (void)state;
    struct buf in, mid, out;
    buf_init(&in, BUF_UNLIMITED);
    buf_init(&mid, BUF_UNLIMITED);
    buf_init(&out, BUF_UNLIMITED);
    for (uint32_t c = 0x20; c < 0x110000; c += (c < 0x10000 ? 1 : 997)) {
        if (c == 0x7f || (c >= 0xd800 && c <= 0xdfff))
            continue;
        char u[4];
        size_t n;
        if (c < 0x80) {
            u[0] = (char)c;
            n = 1;
        } else if (c < 0x800) {
            u[0] = (char)(0xc0 | (c >> 6));
            u[1] = (char)(0x80 | (c & 0x3f));
            n = 2;
        } else if (c < 0x10000) {
            u[0] = (char)(0xe0 | (c >> 12));
            u[1] = (char)(0x80 | ((c >> 6) & 0x3f));
            u[2] = (char)(0x80 | (c & 0x3f));
            n = 3;
        } else {
            u[0] = (char)(0xf0 | (c >> 18));
            u[1] = (char)(0x80 | ((c >> 12) & 0x3f));
            u[2] = (char)(0x80 | ((c >> 6) & 0x3f));
            u[3] = (char)(0x80 | (c & 0x3f));
            n = 4;
        }
        buf_reset(&in);
        buf_append(&in, u, n);
        buf_append(&in, "x", 1);
        buf_append(&in, u, n);
        buf_append(&in, u, n);
        buf_reset(&mid);
        buf_reset(&out);
        assert_int_equal(imap_utf7_encode(in.data, in.len, &mid), 0);
        if (imap_utf7_decode(mid.data, mid.len, &out) != 0 || out.len != in.len ||
            memcmp(out.data, in.data, in.len) != 0)
            fail_msg("U+%04X: \"%s\" does not decode back", c, buf_cstr(&mid));
    }
    buf_free(&in);
    buf_free(&mid);
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_imap_utf7_roundtrip),
        cmocka_unit_test(test_imap_utf7_invalid),
        cmocka_unit_test(test_imap_utf7_limits),
        cmocka_unit_test(test_imap_utf7_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
