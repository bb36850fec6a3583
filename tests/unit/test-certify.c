/* Unit tests of src/certify/: the keys, building receipts and verifying
 * them (and, when the openssl command is installed, that `openssl cms
 * -verify` accepts them too). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "certify/certify-data.h"
#include "certify/certify-keys.h"
#include "certify/certify-receipt.h"
#include "certify/certify-verify.h"
#include "lib/buf.h"
#include "lib/config.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const char original[] = "From: Alice <alice@a.example>\r\n"
                               "To: bob@b.example\r\n"
                               "Subject: contract\r\n"
                               "Message-ID: <m1@a.example>\r\n"
                               "MIME-Version: 1.0\r\n"
                               "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
                               "\r\n"
                               "--b1\r\n"
                               "Content-Type: text/plain\r\n"
                               "\r\n"
                               "Please sign.\r\n"
                               "--b1\r\n"
                               "Content-Type: application/pdf\r\n"
                               "Content-Transfer-Encoding: base64\r\n"
                               "\r\n"
                               "JVBERi0xLjQK\r\n"
                               "--b1--\r\n";

struct fixture {
    char dir[64];
    struct config *cfg;   /* certified_domains a.example, keys made */
    struct config *other; /* a second directory: another service's keys */
    char other_dir[64];
};

static struct config *config_in(const char *dir, const char *domains)
{
    struct config *cfg = config_new_default();
    free(cfg->data_dir);
    cfg->data_dir = xstrdup(dir);
    char *err = NULL;
    assert_int_equal(config_set(cfg, "certified_domains", domains, &err), 0);
    return cfg;
}

/* Make the keys of domain under cfg's certified_dir. */
static void keygen(const struct config *cfg, const char *domain)
{
    char dir[CERTIFY_PATH_MAX], crt[CERTIFY_PATH_MAX], key[CERTIFY_PATH_MAX];
    assert_int_equal(certify_keys_dir(cfg, dir, sizeof(dir)), 0);
    char parent[CERTIFY_PATH_MAX];
    snprintf(parent, sizeof(parent), "%s/keys", cfg->data_dir);
    mkdir(parent, 0750);
    mkdir(dir, 0750);
    assert_int_equal(certify_key_paths(cfg, domain, crt, sizeof(crt), key, sizeof(key)), 0);
    char fpr[CERTIFY_FINGERPRINT_LEN];
    char *err = NULL;
    if (certify_keygen(crt, key, domain, fpr, &err) < 0)
        fail_msg("keygen: %s", err);
    assert_int_equal(strlen(fpr), CERTIFY_FINGERPRINT_LEN - 1);
    struct stat st;
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    /* Never replaced. */
    assert_int_equal(certify_keygen(crt, key, domain, fpr, &err), -1);
    free(err);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    str_copy(f->dir, sizeof(f->dir), "/tmp/test-certify-XXXXXX");
    str_copy(f->other_dir, sizeof(f->other_dir), "/tmp/test-certify-XXXXXX");
    if (!mkdtemp(f->dir) || !mkdtemp(f->other_dir))
        return -1;
    f->cfg = config_in(f->dir, "a.example");
    keygen(f->cfg, "a.example");
    f->other = config_in(f->other_dir, "a.example");
    keygen(f->other, "a.example");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf %s %s", f->dir, f->other_dir);
    if (system(cmd) != 0)
        return -1;
    config_free(&f->cfg);
    config_free(&f->other);
    free(f);
    return 0;
}

/* The data of a receipt of type t about the sample original. */
static void sample_data(struct certify_data *d, enum certify_type t)
{
    const char *why;
    certify_data_init(d);
    d->type = t;
    str_copy(d->sender, sizeof(d->sender), "alice@a.example");
    assert_int_equal(certify_data_add_recipient(d, "bob@b.example", true, &why), 0);
    assert_int_equal(certify_data_add_recipient(d, "carol@c.example", false, &why), 0);
    str_copy(d->subject, sizeof(d->subject), "contract \xc3\xa8 & <co>");
    str_copy(d->service, sizeof(d->service), "a.example");
    certify_new_id("a.example", d->id);
    str_copy(d->msgid, sizeof(d->msgid), "<m1@a.example>");
    d->time = time(NULL);
    d->zone_minutes = 60;
    certify_sha256_hex(original, strlen(original), d->original_sha256);
    if (t == CERTIFY_DELIVERY) {
        str_copy(d->delivery, sizeof(d->delivery), "bob@b.example");
        d->has_receipt_kind = true;
        d->receipt = CERTIFY_RECEIPT_COMPLETE;
    }
    if (t == CERTIFY_DELIVERY_FAILURE || t == CERTIFY_NON_ACCEPTANCE) {
        d->error = CERTIFY_ERR_NO_DESTINATION;
        str_copy(d->error_ext, sizeof(d->error_ext), "5.1.1 no such user");
    }
}

/* Build a receipt of d into out. */
static void build(const struct config *cfg, const struct certify_data *d, struct buf *out)
{
    char *err = NULL;
    struct certify_signer *s = certify_signer_load(cfg, "a.example", &err);
    if (!s)
        fail_msg("signer: %s", err);
    struct certify_build b = {
        .data = d,
        .to = "alice@a.example",
        .original = original,
        .original_len = strlen(original),
        .attach_original = certify_type_encloses(d->type, d->has_receipt_kind, d->receipt),
    };
    if (certify_receipt_build(s, &b, out, &err) < 0)
        fail_msg("build: %s", err);
    certify_signer_free(&s);
}

static enum certify_verdict verify(const struct config *cfg, const char *msg, size_t len,
                                   char *reason, size_t reason_size)
{
    char *err = NULL;
    X509_STORE *store = certify_trust_load(cfg, &err);
    if (!store)
        fail_msg("trust: %s", err);
    char *copy = malloc(len ? len : 1);
    memcpy(copy, msg, len);
    struct certify_verify_result r;
    certify_verify(copy, len, store, &r);
    free(copy);
    if (reason)
        str_copy(reason, reason_size, r.reason);
    certify_data_free(&r.data);
    X509_STORE_free(store);
    return r.verdict;
}

/* Every type builds, verifies as valid, and is untrusted by a store that
 * holds another service's certificate. */
static void test_build_verify(void **state)
{
    struct fixture *f = *state;
    for (int t = 0; t < CERTIFY_TYPE_COUNT; t++) {
        struct certify_data d;
        sample_data(&d, (enum certify_type)t);
        struct buf out;
        buf_init(&out, BUF_UNLIMITED);
        build(f->cfg, &d, &out);
        char reason[256];
        enum certify_verdict v = verify(f->cfg, out.data, out.len, reason, sizeof(reason));
        if (v != CERTIFY_VALID)
            fail_msg("type %s: %s: %s\n%s", certify_type_name(d.type), certify_verdict_name(v),
                     reason, buf_cstr(&out));
        assert_int_equal(verify(f->other, out.data, out.len, NULL, 0), CERTIFY_UNTRUSTED);
        /* As a mailbox stores it (LF line ends), it still verifies. */
        struct buf lf;
        buf_init(&lf, BUF_UNLIMITED);
        for (size_t i = 0; i < out.len; i++)
            if (out.data[i] != '\r')
                buf_append_char(&lf, out.data[i]);
        assert_int_equal(verify(f->cfg, lf.data, lf.len, NULL, 0), CERTIFY_VALID);
        buf_free(&lf);
        assert_non_null(strstr(buf_cstr(&out), "X-Certified-Type: "));
        if (t == CERTIFY_TRANSPORT) {
            assert_non_null(strstr(buf_cstr(&out), "Subject: CERTIFIED: =?UTF-8?B?"));
            assert_non_null(strstr(buf_cstr(&out), "X-Certified-Transport: envelope\r\n"));
            assert_non_null(strstr(buf_cstr(&out), original));
        }
        buf_free(&out);
        certify_data_free(&d);
    }
}

/* Changing any single byte of the signed part (or of the enclosed
 * original), or a header the data part fixes, makes it invalid. */
static void test_tamper(void **state)
{
    struct fixture *f = *state;
    struct certify_data d;
    sample_data(&d, CERTIFY_DELIVERY);
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    build(f->cfg, &d, &out);
    const char *msg = buf_cstr(&out);
    const char *body = strstr(msg, "Please sign.");
    const char *sig_start = strstr(msg, "Content-Type: multipart/mixed");
    const char *sig_part = strstr(msg, "Content-Type: application/pkcs7-signature");
    assert_non_null(body);
    assert_non_null(sig_start);
    assert_non_null(sig_part);
    /* Every 7th byte of the signed part, and the original's body. */
    size_t from = (size_t)(sig_start - msg), to = (size_t)(sig_part - msg) - 40;
    for (size_t i = from; i < to;
         i += (i >= (size_t)(body - msg) && i < (size_t)(body - msg) + 12) ? 1 : 7) {
        char *copy = xstrndup(out.data, out.len);
        copy[i] = copy[i] == 'x' ? 'y' : 'x';
        char reason[256];
        enum certify_verdict v = verify(f->cfg, copy, out.len, reason, sizeof(reason));
        if (v != CERTIFY_INVALID)
            fail_msg("byte %zu: %s", i, certify_verdict_name(v));
        free(copy);
    }
    /* Headers outside the signature that the data part fixes. */
    static const struct {
        const char *from, *to;
    } edits[] = {
        {"X-Certified-Type: delivery", "X-Certified-Type: acceptance"},
        {"X-Certified-Receipt-Type: complete", "X-Certified-Receipt-Type: summary"},
        {"X-Certified-Reference-Message-ID: <m1", "X-Certified-Reference-Message-ID: <m2"},
        {"Message-ID: <", "Message-ID: <x"},
        {"X-Certified-Type: delivery\r\n",
         "X-Certified-Type: delivery\r\nX-Certified-Type: delivery\r\n"},
        {"X-Certified-Type: delivery\r\n",
         "X-Certified-Type: delivery\r\nX-Certified-Transport: envelope\r\n"},
    };
    for (size_t i = 0; i < N_ELEMS(edits); i++) {
        const char *at = strstr(msg, edits[i].from);
        assert_non_null(at);
        struct buf e;
        buf_init(&e, BUF_UNLIMITED);
        buf_append(&e, msg, (size_t)(at - msg));
        buf_append_str(&e, edits[i].to);
        buf_append_str(&e, at + strlen(edits[i].from));
        char reason[256];
        assert_int_equal(verify(f->cfg, e.data, e.len, reason, sizeof(reason)), CERTIFY_INVALID);
        buf_free(&e);
    }
    /* Truncated, and not a receipt at all. */
    assert_int_equal(verify(f->cfg, msg, out.len / 2, NULL, 0), CERTIFY_INVALID);
    assert_int_equal(verify(f->cfg, original, strlen(original), NULL, 0), CERTIFY_INVALID);
    buf_free(&out);
    certify_data_free(&d);
}

/* A receipt signed by a trusted service that names another service in its
 * data part is invalid. */
static void test_wrong_service(void **state)
{
    struct fixture *f = *state;
    struct certify_data d;
    sample_data(&d, CERTIFY_ACCEPTANCE);
    str_copy(d.service, sizeof(d.service), "b.example");
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    build(f->cfg, &d, &out);
    char reason[256];
    assert_int_equal(verify(f->cfg, out.data, out.len, reason, sizeof(reason)), CERTIFY_INVALID);
    assert_non_null(strstr(reason, "b.example"));
    buf_free(&out);
    certify_data_free(&d);
}

/* The short receipt carries the hashes of the original's leaf parts. */
static void test_hash_parts(void **state)
{
    (void)state;
    struct certify_data d;
    certify_data_init(&d);
    const char *why;
    assert_int_equal(certify_hash_parts(original, strlen(original), &d, &why), 0);
    assert_int_equal(d.n_parts, 2);
    assert_string_equal(d.parts[0].path, "1");
    assert_string_equal(d.parts[0].type, "text/plain");
    assert_string_equal(d.parts[1].path, "2");
    assert_string_equal(d.parts[1].type, "application/pdf");
    char hex[CERTIFY_HASH_HEX + 1];
    certify_sha256_hex("Please sign.", 12, hex);
    assert_string_equal(d.parts[0].sha256, hex);
    certify_data_free(&d);
    certify_data_init(&d);
    static const char plain[] = "Subject: x\r\n\r\nbody\r\n";
    assert_int_equal(certify_hash_parts(plain, strlen(plain), &d, &why), 0);
    assert_int_equal(d.n_parts, 1);
    assert_string_equal(d.parts[0].path, "1");
    certify_data_free(&d);
}

/* `openssl cms -verify` accepts what is built (with our certificate as
 * the trust anchor), and refuses it with one byte changed. */
static void test_openssl_cms(void **state)
{
    struct fixture *f = *state;
    if (system("command -v openssl > /dev/null 2>&1") != 0)
        skip();
    struct certify_data d;
    sample_data(&d, CERTIFY_TRANSPORT);
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    build(f->cfg, &d, &out);
    char path[128], cmd[1024];
    snprintf(path, sizeof(path), "%s/receipt.eml", f->dir);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(out.data, 1, out.len, fp), out.len);
    fclose(fp);
    snprintf(cmd, sizeof(cmd),
             "openssl cms -verify -in %s -CAfile %s/keys/certify/a.example.crt -out /dev/null "
             "2>/dev/null",
             path, f->dir);
    assert_int_equal(system(cmd), 0);
    /* One byte of the enclosed original changed. */
    char *at = strstr(out.data, "Please sign.");
    at[0] = 'p';
    fp = fopen(path, "wb");
    assert_int_equal(fwrite(out.data, 1, out.len, fp), out.len);
    fclose(fp);
    assert_int_not_equal(system(cmd), 0);
    buf_free(&out);
    certify_data_free(&d);
}

/* Key paths refuse names that are not plain domains. */
static void test_key_paths(void **state)
{
    struct fixture *f = *state;
    char crt[CERTIFY_PATH_MAX], key[CERTIFY_PATH_MAX];
    assert_int_equal(certify_key_paths(f->cfg, "../x", crt, sizeof(crt), key, sizeof(key)), -1);
    assert_int_equal(certify_key_paths(f->cfg, ".x", crt, sizeof(crt), key, sizeof(key)), -1);
    assert_int_equal(certify_key_paths(f->cfg, "", crt, sizeof(crt), key, sizeof(key)), -1);
    assert_int_equal(certify_key_paths(f->cfg, "a.example", crt, sizeof(crt), key, sizeof(key)), 0);
    assert_non_null(strstr(crt, "/keys/certify/a.example.crt"));
    char *err = NULL;
    struct certify_signer *s = certify_signer_load(f->cfg, "b.example", &err);
    assert_null(s);
    assert_non_null(err);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_verify),  cmocka_unit_test(test_tamper),
        cmocka_unit_test(test_wrong_service), cmocka_unit_test(test_hash_parts),
        cmocka_unit_test(test_openssl_cms),   cmocka_unit_test(test_key_paths),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
