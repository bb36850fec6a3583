/* Unit tests of src/lib/base64url.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/base64url.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* RFC 4648 section 10's vectors, without the padding. */
static void test_base64url_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
        {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}, {"\xfb\xff\xbf", "-_-_"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        char out[32];
        unsigned char back[32];
        size_t n = strlen(cases[i].in);
        assert_int_equal(base64url_encode(cases[i].in, n, out, sizeof(out)),
                         (long)strlen(cases[i].out));
        assert_string_equal(out, cases[i].out);
        assert_int_equal(BASE64URL_LEN(n), strlen(cases[i].out));
        assert_int_equal(base64url_decode(out, strlen(out), back, sizeof(back)), (long)n);
        assert_memory_equal(back, cases[i].in, n);
    }
}

/* Every length up to 64, every byte value: decode(encode(x)) == x, and the
 * output size limit crossed by one. */
static void test_base64url_round_trip(void **state)
{
    (void)state;
    unsigned char in[64], back[64];
    char out[100];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char)(i * 37 + 200);
    for (size_t n = 0; n <= sizeof(in); n++) {
        size_t len = BASE64URL_LEN(n);
        assert_int_equal(base64url_encode(in, n, out, len), -1);
        assert_int_equal(base64url_encode(in, n, out, len + 1), (long)len);
        assert_int_equal(strlen(out), len);
        assert_int_equal(BASE64URL_DECODED_MAX(len), n);
        assert_int_equal(base64url_decode(out, len, back, n), (long)n);
        assert_memory_equal(back, in, n);
        if (n > 0)
            assert_int_equal(base64url_decode(out, len, back, n - 1), -1);
    }
}

static void test_base64url_strict(void **state)
{
    (void)state;
    static const char *bad[] = {
        "Zg==",
        "Zm9=",
        "Z",
        "Zm9vY",
        "Zm+v",
        "Zm/v",
        "Zm v",
        "Zm\nv",
        "Zm.v",
        /* nonzero unused bits: "Zg" and "Zm8" are the encodings */
        "Zh",
        "Zm9",
        "Zm-",
    };
    unsigned char out[16];
    for (size_t i = 0; i < N_ELEMS(bad); i++)
        if (base64url_decode(bad[i], strlen(bad[i]), out, sizeof(out)) != -1)
            fail_msg("\"%s\" accepted", bad[i]);
    assert_int_equal(base64url_decode("Zg", 2, out, sizeof(out)), 1);
    assert_int_equal(base64url_decode("Zm8", 3, out, sizeof(out)), 2);
    /* A NUL is not a digit. */
    assert_int_equal(base64url_decode("Zm\0v", 4, out, sizeof(out)), -1);
    assert_int_equal(base64url_decode("", 0, out, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64url_vectors),
        cmocka_unit_test(test_base64url_round_trip),
        cmocka_unit_test(test_base64url_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
