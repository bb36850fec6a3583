/* Unit tests of src/share/share-key.c: data keys, wrapping by a password
 * (a wrong password told apart from a damaged record), the text record
 * and its strict parser, a record made by an independent implementation
 * (Python's cryptography package), and keys in links. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "lib/base64url.h"
#include "share/share-key.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Cheap parameters for the tests (argon2id's minimum memory). */
static const struct share_kdf_params cheap = {.time = 1, .memory_kib = 8, .parallelism = 1};

/* argon2id(t=1, m=64 KiB, p=1) of "correct horse battery staple" with
 * salt 10..1f wraps the key 00..1f for transfer "T-0001" with IV 60..6b:
 * computed with Python's cryptography (Argon2id, AESGCM, hashlib). */
static const char kat_record[] =
    "$pstn-share-key$v=1$argon2id$m=64,t=1,p=1$EBESExQVFhcYGRobHB0eHw$YGFiY2RlZmdoaWpr$"
    "nbvsHpyI19mhgOXkz_bE_Q0dehd7alJnSZ0brdqUxwDvAF0KuXdZPbf7Rdi0a_wa$hCnMluzYRIs";
static const char kat_password[] = "correct horse battery staple";

static void test_key(unsigned char key[SHARE_KEY_LEN])
{
    for (int i = 0; i < SHARE_KEY_LEN; i++)
        key[i] = (unsigned char)i;
}

/* A record with its check recomputed: body is everything before the
 * check, so edits of the body can test the parser past the check. */
static void with_check(const char *body, char *out, size_t outsize)
{
    unsigned char md[32];
    unsigned int mdlen;
    EVP_Digest(body, strlen(body), md, &mdlen, EVP_sha256(), NULL);
    char chk[16];
    assert_int_equal(base64url_encode(md, 8, chk, sizeof(chk)), 11);
    int n = snprintf(out, outsize, "%s$%s", body, chk);
    assert_true(n > 0 && (size_t)n < outsize);
}

static void test_share_key_generate(void **state)
{
    (void)state;
    const char *err;
    unsigned char a[SHARE_KEY_LEN], b[SHARE_KEY_LEN];
    assert_int_equal(share_key_generate(a, &err), 0);
    assert_int_equal(share_key_generate(b, &err), 0);
    assert_memory_not_equal(a, b, SHARE_KEY_LEN);
}

static void test_share_kdf_params(void **state)
{
    (void)state;
    const char *err;
    static const struct {
        uint32_t t, m, p;
        int ok;
    } cases[] = {
        {1, 8, 1, 0},    {0, 8, 1, -1},      {16, 8, 1, 0},       {17, 8, 1, -1},
        {1, 7, 1, -1},   {1, 1048576, 1, 0}, {1, 1048577, 1, -1}, {1, 64, 0, -1},
        {1, 128, 16, 0}, {1, 128, 17, -1},   {1, 127, 16, -1},    {3, 65536, 1, 0},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct share_kdf_params p = {cases[i].t, cases[i].m, cases[i].p};
        if (share_kdf_params_check(&p, &err) != cases[i].ok)
            fail_msg("case %zu (t=%u m=%u p=%u)", i, cases[i].t, cases[i].m, cases[i].p);
    }
    assert_int_equal(share_kdf_params_check(&share_kdf_default, &err), 0);
    assert_int_equal(share_kdf_default.time, 3);
    assert_int_equal(share_kdf_default.memory_kib, 65536);
    assert_int_equal(share_kdf_default.parallelism, 1);
}

static void test_share_key_wrap(void **state)
{
    (void)state;
    const char *err = NULL;
    unsigned char key[SHARE_KEY_LEN], back[SHARE_KEY_LEN];
    test_key(key);
    struct share_wrapped_key wk, wk2, parsed;
    assert_int_equal(share_key_wrap(key, "secret", 6, "T1", &cheap, &wk, &err), 0);
    /* Fresh salt and IV each time. */
    assert_int_equal(share_key_wrap(key, "secret", 6, "T1", &cheap, &wk2, &err), 0);
    assert_memory_not_equal(wk.salt, wk2.salt, sizeof(wk.salt));
    assert_memory_not_equal(wk.iv, wk2.iv, sizeof(wk.iv));
    assert_memory_not_equal(wk.wrapped, key, SHARE_KEY_LEN);

    assert_int_equal(share_key_unwrap(&wk, "secret", 6, "T1", back, &err), SHARE_UNWRAP_OK);
    assert_memory_equal(back, key, SHARE_KEY_LEN);
    /* Wrong passwords: close, empty, too long; the wrong transfer. */
    static const unsigned char zero[SHARE_KEY_LEN];
    assert_int_equal(share_key_unwrap(&wk, "secreT", 6, "T1", back, &err),
                     SHARE_UNWRAP_WRONG_PASSWORD);
    assert_memory_equal(back, zero, SHARE_KEY_LEN);
    assert_int_equal(share_key_unwrap(&wk, "secret", 5, "T1", back, &err),
                     SHARE_UNWRAP_WRONG_PASSWORD);
    assert_int_equal(share_key_unwrap(&wk, "", 0, "T1", back, &err), SHARE_UNWRAP_WRONG_PASSWORD);
    char *longpw = malloc(SHARE_PASSWORD_MAX + 1);
    memset(longpw, 'a', SHARE_PASSWORD_MAX + 1);
    assert_int_equal(share_key_unwrap(&wk, longpw, SHARE_PASSWORD_MAX + 1, "T1", back, &err),
                     SHARE_UNWRAP_WRONG_PASSWORD);
    assert_int_equal(share_key_unwrap(&wk, "secret", 6, "T2", back, &err),
                     SHARE_UNWRAP_WRONG_PASSWORD);
    assert_string_equal(err, "wrong password");
    /* Passwords are bytes: NULs and any length up to the limit. */
    assert_int_equal(share_key_wrap(key, longpw, SHARE_PASSWORD_MAX, "T1", &cheap, &wk2, &err), 0);
    assert_int_equal(share_key_unwrap(&wk2, longpw, SHARE_PASSWORD_MAX, "T1", back, &err),
                     SHARE_UNWRAP_OK);
    assert_int_equal(share_key_wrap(key, longpw, SHARE_PASSWORD_MAX + 1, "T1", &cheap, &wk2, &err),
                     -1);
    assert_int_equal(share_key_wrap(key, "a\0b", 3, "T1", &cheap, &wk2, &err), 0);
    assert_int_equal(share_key_unwrap(&wk2, "a\0c", 3, "T1", back, &err),
                     SHARE_UNWRAP_WRONG_PASSWORD);
    assert_int_equal(share_key_unwrap(&wk2, "a\0b", 3, "T1", back, &err), SHARE_UNWRAP_OK);
    free(longpw);
    /* Refused inputs. */
    assert_int_equal(share_key_wrap(key, "", 0, "T1", &cheap, &wk2, &err), -1);
    assert_int_equal(share_key_wrap(key, "x", 1, "", &cheap, &wk2, &err), -1);
    char id[SHARE_TRANSFER_ID_MAX + 2];
    memset(id, 'i', sizeof(id));
    id[SHARE_TRANSFER_ID_MAX + 1] = '\0';
    assert_int_equal(share_key_wrap(key, "x", 1, id, &cheap, &wk2, &err), -1);
    id[SHARE_TRANSFER_ID_MAX] = '\0';
    assert_int_equal(share_key_wrap(key, "x", 1, id, &cheap, &wk2, &err), 0);
    assert_int_equal(share_key_unwrap(&wk2, "x", 1, id, back, &err), SHARE_UNWRAP_OK);
    struct share_kdf_params bad = cheap;
    bad.time = 0;
    assert_int_equal(share_key_wrap(key, "x", 1, "T1", &bad, &wk2, &err), -1);

    /* Through the text record. */
    char text[SHARE_WRAPPED_KEY_TEXT_MAX];
    size_t n = share_wrapped_key_format(&wk, text);
    assert_int_equal(n, strlen(text));
    assert_true(strncmp(text, "$pstn-share-key$v=1$argon2id$m=8,t=1,p=1$", 41) == 0);
    assert_int_equal(share_wrapped_key_parse(text, n, &parsed, &err), 0);
    assert_memory_equal(&parsed, &wk, sizeof(wk));
    assert_int_equal(share_key_unwrap_text(text, n, "secret", 6, "T1", back, &err),
                     SHARE_UNWRAP_OK);
    assert_memory_equal(back, key, SHARE_KEY_LEN);
    assert_int_equal(share_key_unwrap_text(text, n, "wrong", 5, "T1", back, &err),
                     SHARE_UNWRAP_WRONG_PASSWORD);

    /* Any character changed, anywhere: damaged, never a wrong password. */
    char bad_text[SHARE_WRAPPED_KEY_TEXT_MAX];
    static const char repl[] = "A_-0$z=.";
    for (size_t i = 0; i < n; i++) {
        for (size_t r = 0; r < sizeof(repl) - 1; r++) {
            if (text[i] == repl[r])
                continue;
            memcpy(bad_text, text, n + 1);
            bad_text[i] = repl[r];
            err = NULL;
            enum share_unwrap_result res =
                share_key_unwrap_text(bad_text, n, "secret", 6, "T1", back, &err);
            if (res != SHARE_UNWRAP_CORRUPT)
                fail_msg("char %zu -> '%c': result %d", i, repl[r], res);
            assert_non_null(err);
            assert_memory_equal(back, zero, SHARE_KEY_LEN);
        }
    }
    /* Every truncation, and anything appended. */
    for (size_t i = 0; i < n; i++)
        assert_int_equal(share_wrapped_key_parse(text, i, &parsed, &err), -1);
    memcpy(bad_text, text, n);
    bad_text[n] = 'A';
    assert_int_equal(share_wrapped_key_parse(bad_text, n + 1, &parsed, &err), -1);
    bad_text[n] = '\n';
    assert_int_equal(share_wrapped_key_parse(bad_text, n + 1, &parsed, &err), -1);
}

/* The record's syntax, past the check: each case has a valid check. */
static void test_share_key_record_syntax(void **state)
{
    (void)state;
    const char *err;
    static const char salt[] = "EBESExQVFhcYGRobHB0eHw";
    static const char iv[] = "YGFiY2RlZmdoaWpr";
    static const char wrapped[] =
        "nbvsHpyI19mhgOXkz_bE_Q0dehd7alJnSZ0brdqUxwDvAF0KuXdZPbf7Rdi0a_wa";
    static const struct {
        const char *params;
        int ok;
    } cases[] = {
        {"m=64,t=1,p=1", 0},          {"m=8,t=1,p=1", 0},        {"m=1048576,t=16,p=16", 0},
        {"m=7,t=1,p=1", -1},          {"m=1048577,t=1,p=1", -1}, {"m=64,t=17,p=1", -1},
        {"m=64,t=1,p=17", -1},        {"m=64,t=0,p=1", -1},      {"m=064,t=1,p=1", -1},
        {"m=64,t=01,p=1", -1},        {"m=+64,t=1,p=1", -1},     {"m=,t=1,p=1", -1},
        {"t=1,m=64,p=1", -1},         {"m=64,t=1", -1},          {"m=64,t=1,p=1,x=2", -1},
        {"m=64, t=1,p=1", -1},        {"M=64,t=1,p=1", -1},      {"m=99999999999,t=1,p=1", -1},
        {"m=4294967296,t=1,p=1", -1},
    };
    char body[256], rec[300];
    struct share_wrapped_key wk;
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        snprintf(body, sizeof(body), "$pstn-share-key$v=1$argon2id$%s$%s$%s$%s", cases[i].params,
                 salt, iv, wrapped);
        with_check(body, rec, sizeof(rec));
        if (share_wrapped_key_parse(rec, strlen(rec), &wk, &err) != cases[i].ok)
            fail_msg("case %zu \"%s\"", i, cases[i].params);
    }
    /* The other fields. */
    static const char *bodies[] = {
        "$pstn-share-key$v=2$argon2id$m=64,t=1,p=1$EBESExQVFhcYGRobHB0eHw$YGFiY2RlZmdoaWpr$"
        "nbvsHpyI19mhgOXkz_bE_Q0dehd7alJnSZ0brdqUxwDvAF0KuXdZPbf7Rdi0a_wa",
        "$pstn-share-key$v=1$argon2i$m=64,t=1,p=1$EBESExQVFhcYGRobHB0eHw$YGFiY2RlZmdoaWpr$"
        "nbvsHpyI19mhgOXkz_bE_Q0dehd7alJnSZ0brdqUxwDvAF0KuXdZPbf7Rdi0a_wa",
        /* salt one character short, one too long, padded, not canonical */
        "$pstn-share-key$v=1$argon2id$m=64,t=1,p=1$EBESExQVFhcYGRobHB0eH$YGFiY2RlZmdoaWpr$"
        "nbvsHpyI19mhgOXkz_bE_Q0dehd7alJnSZ0brdqUxwDvAF0KuXdZPbf7Rdi0a_wa",
        "$pstn-share-key$v=1$argon2id$m=64,t=1,p=1$EBESExQVFhcYGRobHB0eHwA$YGFiY2RlZmdoaWpr$"
        "nbvsHpyI19mhgOXkz_bE_Q0dehd7alJnSZ0brdqUxwDvAF0KuXdZPbf7Rdi0a_wa",
        "$pstn-share-key$v=1$argon2id$m=64,t=1,p=1$EBESExQVFhcYGRobHB0eHw==$YGFiY2RlZmdoaWpr$"
        "nbvsHpyI19mhgOXkz_bE_Q0dehd7alJnSZ0brdqUxwDvAF0KuXdZPbf7Rdi0a_wa",
        "$pstn-share-key$v=1$argon2id$m=64,t=1,p=1$EBESExQVFhcYGRobHB0eHx$YGFiY2RlZmdoaWpr$"
        "nbvsHpyI19mhgOXkz_bE_Q0dehd7alJnSZ0brdqUxwDvAF0KuXdZPbf7Rdi0a_wa",
        /* standard base64 characters */
        "$pstn-share-key$v=1$argon2id$m=64,t=1,p=1$EBESExQVFhcYGRobHB0eHw$YGFiY2RlZmdoaWpr$"
        "nbvsHpyI19mhgOXkz/bE+Q0dehd7alJnSZ0brdqUxwDvAF0KuXdZPbf7Rdi0a_wa",
        /* IV short; wrapped key short */
        "$pstn-share-key$v=1$argon2id$m=64,t=1,p=1$EBESExQVFhcYGRobHB0eHw$YGFiY2RlZmdoaWp$"
        "nbvsHpyI19mhgOXkz_bE_Q0dehd7alJnSZ0brdqUxwDvAF0KuXdZPbf7Rdi0a_wa",
        "$pstn-share-key$v=1$argon2id$m=64,t=1,p=1$EBESExQVFhcYGRobHB0eHw$YGFiY2RlZmdoaWpr$"
        "nbvsHpyI19mhgOXkz_bE_Q0dehd7alJnSZ0brdqUxwDvAF0KuXdZPbf7Rdi0a_w",
        /* an extra field */
        "$pstn-share-key$v=1$argon2id$m=64,t=1,p=1$EBESExQVFhcYGRobHB0eHw$YGFiY2RlZmdoaWpr$"
        "nbvsHpyI19mhgOXkz_bE_Q0dehd7alJnSZ0brdqUxwDvAF0KuXdZPbf7Rdi0a_wa$x",
    };
    for (size_t i = 0; i < N_ELEMS(bodies); i++) {
        with_check(bodies[i], rec, sizeof(rec));
        if (share_wrapped_key_parse(rec, strlen(rec), &wk, &err) != -1)
            fail_msg("body %zu accepted", i);
    }
    /* Too long to be a record at all. */
    char big[SHARE_WRAPPED_KEY_TEXT_MAX + 10];
    memset(big, 'A', sizeof(big));
    assert_int_equal(share_wrapped_key_parse(big, sizeof(big), &wk, &err), -1);
    assert_int_equal(share_wrapped_key_parse("", 0, &wk, &err), -1);
    /* The largest record fits the limit. */
    struct share_wrapped_key most = {
        .kdf = {SHARE_KDF_TIME_MAX, SHARE_KDF_MEMORY_MAX, SHARE_KDF_PARALLELISM_MAX}};
    char text[SHARE_WRAPPED_KEY_TEXT_MAX];
    size_t n = share_wrapped_key_format(&most, text);
    assert_true(n < SHARE_WRAPPED_KEY_TEXT_MAX);
    assert_int_equal(share_wrapped_key_parse(text, n, &wk, &err), 0);
}

static void test_share_key_known_answer(void **state)
{
    (void)state;
    const char *err = NULL;
    unsigned char key[SHARE_KEY_LEN], want[SHARE_KEY_LEN];
    test_key(want);
    size_t n = strlen(kat_record);
    assert_int_equal(share_key_unwrap_text(kat_record, n, kat_password, strlen(kat_password),
                                           "T-0001", key, &err),
                     SHARE_UNWRAP_OK);
    assert_memory_equal(key, want, SHARE_KEY_LEN);
    /* It is in canonical form: formatting what was parsed gives it back. */
    struct share_wrapped_key wk;
    assert_int_equal(share_wrapped_key_parse(kat_record, n, &wk, &err), 0);
    char text[SHARE_WRAPPED_KEY_TEXT_MAX];
    assert_int_equal(share_wrapped_key_format(&wk, text), n);
    assert_string_equal(text, kat_record);
    assert_int_equal(share_key_unwrap_text(kat_record, n, "correct horse battery stapler", 29,
                                           "T-0001", key, &err),
                     SHARE_UNWRAP_WRONG_PASSWORD);
}

/* Once with the server's default cost (64 MiB). */
static void test_share_key_default_cost(void **state)
{
    (void)state;
    const char *err = NULL;
    unsigned char key[SHARE_KEY_LEN], back[SHARE_KEY_LEN];
    assert_int_equal(share_key_generate(key, &err), 0);
    struct share_wrapped_key wk;
    assert_int_equal(share_key_wrap(key, "pw", 2, "X", &share_kdf_default, &wk, &err), 0);
    char text[SHARE_WRAPPED_KEY_TEXT_MAX];
    size_t n = share_wrapped_key_format(&wk, text);
    assert_true(strstr(text, "$m=65536,t=3,p=1$") != NULL);
    assert_int_equal(share_key_unwrap_text(text, n, "pw", 2, "X", back, &err), SHARE_UNWRAP_OK);
    assert_memory_equal(back, key, SHARE_KEY_LEN);
}

static void test_share_key_link(void **state)
{
    (void)state;
    unsigned char key[SHARE_KEY_LEN], back[SHARE_KEY_LEN];
    char link[SHARE_LINK_KEY_LEN + 1];
    test_key(key);
    share_key_to_link(key, link);
    assert_string_equal(link, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8");
    assert_int_equal(share_key_from_link(link, strlen(link), back), 0);
    assert_memory_equal(back, key, SHARE_KEY_LEN);
    memset(key, 0xff, sizeof(key));
    share_key_to_link(key, link);
    assert_string_equal(link, "__________________________________________8");
    assert_int_equal(share_key_from_link(link, strlen(link), back), 0);
    assert_memory_equal(back, key, SHARE_KEY_LEN);

    static const unsigned char zero[SHARE_KEY_LEN];
    static const char *bad[] = {
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh",   /* 42 */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A", /* 44 */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9",  /* low bits set */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", /* padding */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd+h8",  /* '+' */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd/h8",  /* '/' */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd h8",  /* space */
        "",
    };
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        memset(back, 1, sizeof(back));
        if (share_key_from_link(bad[i], strlen(bad[i]), back) != -1)
            fail_msg("link key %zu accepted", i);
        assert_memory_equal(back, zero, SHARE_KEY_LEN);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_share_key_generate),
        cmocka_unit_test(test_share_kdf_params),
        cmocka_unit_test(test_share_key_wrap),
        cmocka_unit_test(test_share_key_record_syntax),
        cmocka_unit_test(test_share_key_known_answer),
        cmocka_unit_test(test_share_key_default_cost),
        cmocka_unit_test(test_share_key_link),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
