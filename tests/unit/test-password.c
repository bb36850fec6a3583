/* Unit tests: password hashing, checking and reading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "auth/password.h"

static const struct password_cost cheap = {.memory_kib = 64, .time = 1, .parallelism = 1};

static void test_hash_and_verify(void **state)
{
    (void)state;
    char h1[PASSWORD_HASH_MAX], h2[PASSWORD_HASH_MAX];
    const char *err = NULL;
    assert_int_equal(password_hash("correct horse", 13, &cheap, h1, &err), 0);
    assert_int_equal(password_hash("correct horse", 13, &cheap, h2, &err), 0);
    assert_true(strncmp(h1, "$argon2id$v=19$m=64,t=1,p=1$", 28) == 0);
    assert_string_not_equal(h1, h2); /* a fresh salt each time */
    assert_int_equal(password_verify(h1, "correct horse", 13), 1);
    assert_int_equal(password_verify(h2, "correct horse", 13), 1);
    assert_int_equal(password_verify(h1, "correct horsE", 13), 0);
    assert_int_equal(password_verify(h1, "correct hors", 12), 0);
    assert_int_equal(password_verify("$6$salt$abc", "x", 1), 0); /* a bad $6$ hash never matches */
    assert_int_equal(password_verify("$1$md5$abc", "x", 1), -1);
    assert_false(password_needs_upgrade(h1, &cheap));
    struct password_cost other = cheap;
    other.time = 2;
    assert_true(password_needs_upgrade(h1, &other));
    assert_int_equal(password_verify("$argon2id$garbage", "x", 1), -1);
}

/* SHA512-CRYPT hashes imported from Dovecot (made by openssl passwd -6). */
static void test_sha512_crypt(void **state)
{
    (void)state;
    const char *h = "$6$saltsalt$zM85MwF7wzNFxhHekCkSASe1NaC/xUx1S2eoXlbcx1w6LkHRO4n1DK7q.d/"
                    "HKoYFUjJ10GWDs5jLq2A53OAzU1";
    assert_int_equal(password_verify(h, "secret pw", 9), 1);
    assert_int_equal(password_verify(h, "secret pW", 9), 0);
    assert_int_equal(password_verify(h, "secret p", 8), 0);
    char dovecot[200];
    snprintf(dovecot, sizeof(dovecot), "{SHA512-CRYPT}%s", h);
    assert_int_equal(password_verify(dovecot, "secret pw", 9), 1);
    assert_string_equal(password_import_hash(dovecot), h);
    assert_string_equal(password_import_hash(h), h);
    assert_null(password_import_hash("{PLAIN}secret"));
    assert_null(password_import_hash("$1$abc$def"));
    assert_true(password_needs_upgrade(h, &cheap));
}

static int read_from(const char *text, char out[PASSWORD_MAX + 1])
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_true(write(p[1], text, strlen(text)) == (ssize_t)strlen(text));
    close(p[1]);
    int n = password_read_fd(p[0], out);
    close(p[0]);
    return n;
}

static void test_read_fd(void **state)
{
    (void)state;
    char out[PASSWORD_MAX + 1];
    assert_int_equal(read_from("secret\nignored", out), 6);
    assert_string_equal(out, "secret");
    assert_int_equal(read_from("crlf\r\n", out), 4);
    assert_string_equal(out, "crlf");
    assert_int_equal(read_from("no newline", out), 10);
    assert_int_equal(read_from("\n", out), -1);
    assert_int_equal(read_from("", out), -1);
    assert_int_equal(read_from("tab\there\n", out), -1);
    char longpw[PASSWORD_MAX + 3];
    memset(longpw, 'x', sizeof(longpw) - 2);
    longpw[sizeof(longpw) - 2] = '\n';
    longpw[sizeof(longpw) - 1] = '\0';
    assert_int_equal(read_from(longpw, out), -1);
    longpw[PASSWORD_MAX] = '\n';
    longpw[PASSWORD_MAX + 1] = '\0';
    assert_int_equal(read_from(longpw, out), PASSWORD_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_and_verify),
        cmocka_unit_test(test_sha512_crypt),
        cmocka_unit_test(test_read_fd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
