/* Unit tests: base64 and the SASL PLAIN / LOGIN decoders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sasl.h"

static void test_base64_vectors(void **state)
{
    (void)state;
    /* RFC 4648 section 10 */
    static const char *const vec[][2] = {{"", ""},
                                         {"f", "Zg=="},
                                         {"fo", "Zm8="},
                                         {"foo", "Zm9v"},
                                         {"foob", "Zm9vYg=="},
                                         {"fooba", "Zm9vYmE="},
                                         {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        char enc[64];
        unsigned char dec[64];
        size_t n = sasl_base64_encode((const unsigned char *)vec[i][0], strlen(vec[i][0]), enc,
                                      sizeof(enc));
        assert_int_equal(n, strlen(vec[i][1]));
        assert_string_equal(enc, vec[i][1]);
        long d = sasl_base64_decode(vec[i][1], strlen(vec[i][1]), dec, sizeof(dec));
        assert_int_equal(d, (long)strlen(vec[i][0]));
        assert_memory_equal(dec, vec[i][0], (size_t)d);
    }
    unsigned char out[16];
    static const char *const bad[] = {
        "Zg", "Zg=", "Z===", "Zg==Zg==", "Zh==", "Zm9=", "Zm 9", "Zm9v\r", "====", "Zm9v=", "Zg=a"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (sasl_base64_decode(bad[i], strlen(bad[i]), out, sizeof(out)) != -1)
            fail_msg("'%s' decoded", bad[i]);
    /* output limit */
    assert_int_equal(sasl_base64_decode("Zm9vYmFy", 8, out, 5), -1);
    assert_int_equal(sasl_base64_decode("Zm9vYmFy", 8, out, 6), 6);
    char small[4];
    assert_int_equal(sasl_base64_encode((const unsigned char *)"foo", 3, small, sizeof(small)), 0);
}

static const char *b64(const char *raw, size_t len)
{
    static char out[4096];
    sasl_base64_encode((const unsigned char *)raw, len, out, sizeof(out));
    return out;
}

static void test_plain(void **state)
{
    (void)state;
    struct sasl_creds c;
    const char *r = b64("\0bob@example.test\0s3cret pw", 27);
    assert_int_equal(sasl_plain_decode(r, strlen(r), &c), 0);
    assert_string_equal(c.authzid, "");
    assert_string_equal(c.user, "bob@example.test");
    assert_string_equal(c.password, "s3cret pw");
    r = b64("admin\0bob\0pw", 12);
    assert_int_equal(sasl_plain_decode(r, strlen(r), &c), 0);
    assert_string_equal(c.authzid, "admin");
    r = b64("jörg\0jörg@例え.jp\0pässwörd",
            strlen("jörg") + 1 + strlen("jörg@例え.jp") + 1 + strlen("pässwörd"));
    assert_int_equal(sasl_plain_decode(r, strlen(r), &c), 0);
    assert_string_equal(c.password, "pässwörd");
    struct {
        const char *raw;
        size_t len;
    } bad[] = {
        {"\0bob\0", 5},         /* empty password */
        {"\0\0pw", 4},          /* empty user */
        {"bob\0pw", 6},         /* one NUL only */
        {"\0bob\0pw\0x", 9},    /* a third NUL */
        {"\0bob\0\xff\xfe", 7}, /* not UTF-8 */
        {"", 0},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = b64(bad[i].raw, bad[i].len);
        if (sasl_plain_decode(r, strlen(r), &c) != -1)
            fail_msg("bad PLAIN %zu decoded", i);
    }
    assert_int_equal(sasl_plain_decode("not base64!", 11, &c), -1);
    /* A password at the limit fits; one octet more does not. */
    char big[1 + 3 + 1 + PASSWORD_MAX + 2];
    memcpy(big, "\0bob\0", 5);
    memset(big + 5, 'p', PASSWORD_MAX + 1);
    r = b64(big, 5 + PASSWORD_MAX);
    assert_int_equal(sasl_plain_decode(r, strlen(r), &c), 0);
    assert_int_equal(strlen(c.password), PASSWORD_MAX);
    r = b64(big, 5 + PASSWORD_MAX + 1);
    assert_int_equal(sasl_plain_decode(r, strlen(r), &c), -1);
}

static void test_login(void **state)
{
    (void)state;
    char out[SASL_USER_MAX + 1];
    const char *r = b64("bob@example.test", 16);
    assert_int_equal(sasl_login_decode(r, strlen(r), out, sizeof(out)), 0);
    assert_string_equal(out, "bob@example.test");
    assert_int_equal(sasl_login_decode("", 0, out, sizeof(out)), -1);
    r = b64("a\0b", 3);
    assert_int_equal(sasl_login_decode(r, strlen(r), out, sizeof(out)), -1);
    char tiny[4];
    r = b64("abcd", 4);
    assert_int_equal(sasl_login_decode(r, strlen(r), tiny, sizeof(tiny)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_vectors),
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_login),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
