/* Unit tests: DKIM key files (generate, write, load) and the key records
 * that publish them, checked by signing with the loaded key and verifying
 * against the record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "auth/dkim-key.h"
#include "auth/dkim-keyfile.h"
#include "auth/dkim-sign.h"
#include "auth/dkim-verify.h"
#include "lib/buf.h"

static char dir[] = "/tmp/postino-test-dkim-keyfile-XXXXXX";

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char msg[] = "From: a@ex.test\r\n"
                          "To: b@remote.test\r\n"
                          "Subject: hello\r\n"
                          "\r\n"
                          "body\r\n";

/* Sign msg with key and verify it with the key record txt. */
static enum dkim_status sign_verify(EVP_PKEY *key, const char *txt)
{
    struct dkim_sign_params p = {.domain = "ex.test", .selector = "sel", .key = key, .now = -1};
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    const char *why;
    if (dkim_sign_message(&p, msg, sizeof(msg) - 1, &out, &why) < 0)
        fail_msg("sign: %s", why);
    buf_append(&out, msg, sizeof(msg) - 1);
    struct dkim_verify_params vp = {.now = 0};
    struct dkim_verify *v = dkim_verify_new(&vp);
    dkim_verify_feed(v, out.data, out.len);
    dkim_verify_end(v);
    const char *const *names;
    assert_int_equal(dkim_verify_key_names(v, &names), 1);
    assert_string_equal(names[0], "sel._domainkey.ex.test");
    dkim_verify_set_key(v, names[0], DKIM_KEY_FOUND, txt, strlen(txt));
    const struct dkim_result *r;
    assert_int_equal(dkim_verify_results(v, &r), 1);
    enum dkim_status st = r[0].status;
    dkim_verify_free(&v);
    buf_free(&out);
    return st;
}

/* Generate, write, load back; the record parses, matches the key and
 * verifies a signature made with the loaded key. */
static void round_trip(enum dkim_key_type type, unsigned bits, const char *k_tag)
{
    const char *why;
    EVP_PKEY *key = dkim_keyfile_generate(type, bits, &why);
    assert_non_null(key);
    char path[512];
    assert_int_equal(dkim_keyfile_path(dir, "ex.test", k_tag, path, sizeof(path)), 0);
    char sub[512];
    snprintf(sub, sizeof(sub), "%s/dkim", dir);
    mkdir(sub, 0750);
    snprintf(sub, sizeof(sub), "%s/dkim/ex.test", dir);
    mkdir(sub, 0750);
    char *err = NULL;
    if (dkim_keyfile_write(path, key, &err) < 0)
        fail_msg("write: %s", err);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    /* never overwritten */
    assert_int_equal(dkim_keyfile_write(path, key, &err), -1);
    assert_non_null(strstr(err, "already exists"));
    free(err);

    EVP_PKEY *loaded = dkim_keyfile_load(path, &err);
    if (!loaded)
        fail_msg("load: %s", err);
    assert_int_equal(EVP_PKEY_eq(key, loaded), 1);
    enum dkim_key_type t;
    unsigned b;
    assert_int_equal(dkim_keyfile_describe(loaded, &t, &b, &why), 0);
    assert_int_equal(t, type);
    assert_int_equal(b, bits);

    struct buf rec;
    buf_init(&rec, BUF_UNLIMITED);
    assert_int_equal(dkim_keyfile_record(loaded, &rec, &why), 0);
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "v=DKIM1; k=%s; p=", k_tag);
    assert_memory_equal(rec.data, prefix, strlen(prefix));
    struct dkim_key parsed;
    assert_int_equal(dkim_key_parse(rec.data, rec.len, &parsed, &why), 0);
    assert_int_equal(parsed.type, type);
    assert_int_equal(parsed.bits, bits);
    assert_int_equal(EVP_PKEY_eq(parsed.pkey, loaded), 1);
    dkim_key_free(&parsed);
    assert_int_equal(sign_verify(loaded, rec.data), DKIM_PASS);

    /* a record of another key does not verify */
    EVP_PKEY *other = dkim_keyfile_generate(type, bits, &why);
    struct buf rec2;
    buf_init(&rec2, BUF_UNLIMITED);
    assert_int_equal(dkim_keyfile_record(other, &rec2, &why), 0);
    assert_int_equal(sign_verify(loaded, rec2.data), DKIM_FAIL);
    buf_free(&rec2);
    EVP_PKEY_free(other);

    buf_free(&rec);
    EVP_PKEY_free(loaded);
    EVP_PKEY_free(key);
}

static void test_ed25519(void **state)
{
    (void)state;
    round_trip(DKIM_KEY_ED25519, 256, "ed25519");
}

static void test_rsa(void **state)
{
    (void)state;
    round_trip(DKIM_KEY_RSA, 2048, "rsa");
}

static void test_generate_sizes(void **state)
{
    (void)state;
    const char *why = NULL;
    assert_null(dkim_keyfile_generate(DKIM_KEY_RSA, 1024, &why));
    assert_non_null(strstr(why, "2048"));
    assert_null(dkim_keyfile_generate(DKIM_KEY_RSA, 2047, &why));
    assert_null(dkim_keyfile_generate(DKIM_KEY_RSA, 8192, &why));
}

/* Write a file with the given text, then try to load it. */
static void expect_load_fails(const char *name, const char *text, const char *needle)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (text) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
    }
    char *err = NULL;
    EVP_PKEY *k = dkim_keyfile_load(path, &err);
    assert_null(k);
    if (!strstr(err, needle))
        fail_msg("'%s' lacks '%s'", err, needle);
    free(err);
}

static void test_load_errors(void **state)
{
    (void)state;
    expect_load_fails("missing.pem", NULL, "No such file");
    expect_load_fails("garbage.pem", "not a key\n", "no private key");
    expect_load_fails("empty.pem", "", "no private key");
    /* a key of another kind (EC) cannot sign DKIM */
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    assert_non_null(ec);
    char path[512];
    snprintf(path, sizeof(path), "%s/ec.pem", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, ec, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    EVP_PKEY_free(ec);
    expect_load_fails("ec.pem", NULL, "neither an RSA nor an Ed25519 key");
    /* a directory */
    char *err = NULL;
    assert_null(dkim_keyfile_load(dir, &err));
    free(err);
}

static void test_names(void **state)
{
    (void)state;
    assert_true(dkim_selector_valid("s202611r"));
    assert_true(dkim_selector_valid("a.b-c_d"));
    char sel[DKIM_SELECTOR_MAX + 2];
    memset(sel, 'a', sizeof(sel));
    sel[DKIM_SELECTOR_MAX] = '\0';
    assert_true(dkim_selector_valid(sel));
    sel[DKIM_SELECTOR_MAX] = 'a';
    sel[DKIM_SELECTOR_MAX + 1] = '\0';
    assert_false(dkim_selector_valid(sel));
    const char *bad[] = {"", ".", "..", "../x", "a/b", ".a", "a.", "a..b", "a b", "a;b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (dkim_selector_valid(bad[i]))
            fail_msg("'%s' accepted", bad[i]);
    char path[64];
    assert_int_equal(dkim_keyfile_path("/d", "ex.test", "s1", path, sizeof(path)), 0);
    assert_string_equal(path, "/d/dkim/ex.test/s1.pem");
    assert_int_equal(dkim_keyfile_path("/d", "../etc", "s1", path, sizeof(path)), -1);
    assert_int_equal(dkim_keyfile_path("/d", "ex.test", "../s1", path, sizeof(path)), -1);
    assert_int_equal(dkim_keyfile_path("/d", "ex.test", "s1", path, 22), -1); /* one short */
    assert_int_equal(dkim_keyfile_path("/d", "ex.test", "s1", path, 23), 0);
}

/* The zone-file strings of value, as text. */
static void expect_zone(const char *value, const char *want)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    dkim_keyfile_zone_strings(value, &b);
    assert_string_equal(b.data, want);
    buf_free(&b);
}

static void test_zone_strings(void **state)
{
    (void)state;
    expect_zone("", "\"\"");
    expect_zone("v=spf1 mx -all", "\"v=spf1 mx -all\"");
    expect_zone("a\"b\\c", "\"a\\\"b\\\\c\"");
    /* 255 octets are one string; 256 are two, the split by octets of
     * data (an escape counts as one) */
    char v[600];
    memset(v, 'x', 256);
    v[255] = '\0';
    struct buf want;
    buf_init(&want, BUF_UNLIMITED);
    buf_printf(&want, "\"%s\"", v);
    expect_zone(v, want.data);
    v[255] = '"';
    v[256] = '\0';
    buf_reset(&want);
    v[255] = '\0';
    buf_printf(&want, "\"%s\" \"\\\"\"", v);
    v[255] = '"';
    expect_zone(v, want.data);
    memset(v, 'y', 511);
    v[510] = '\0';
    buf_reset(&want);
    buf_printf(&want, "\"%.255s\" \"%.255s\"", v, v);
    expect_zone(v, want.data);
    buf_free(&want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ed25519),        cmocka_unit_test(test_rsa),
        cmocka_unit_test(test_generate_sizes), cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_names),          cmocka_unit_test(test_zone_strings),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
