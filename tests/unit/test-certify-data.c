/* Unit tests of src/certify/certify-data.c: the data part (daticert.xml). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "certify/certify-data.h"
#include "lib/buf.h"
#include "lib/str.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A heap copy of exactly n bytes: ASan catches any read past n. */
static char *exact_copy(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, s, n);
    return p;
}

/* A delivery receipt with every optional field. */
static void sample(struct certify_data *d)
{
    const char *why;
    certify_data_init(d);
    d->type = CERTIFY_DELIVERY;
    d->error = CERTIFY_ERR_NONE;
    str_copy(d->sender, sizeof(d->sender), "alice@a.example");
    assert_int_equal(certify_data_add_recipient(d, "bob@b.example", true, &why), 0);
    assert_int_equal(certify_data_add_recipient(d, "carol@c.example", false, &why), 0);
    str_copy(d->subject, sizeof(d->subject), "Q&A <today> \"quoted\" 'single' \xc3\xa8");
    str_copy(d->service, sizeof(d->service), "a.example");
    str_copy(d->id, sizeof(d->id), "0123456789abcdef@a.example");
    str_copy(d->msgid, sizeof(d->msgid), "<m1@a.example>");
    d->time = 1795000000;
    d->zone_minutes = 60;
    str_copy(d->delivery, sizeof(d->delivery), "bob@b.example");
    d->has_receipt_kind = true;
    d->receipt = CERTIFY_RECEIPT_SHORT;
    memset(d->original_sha256, 'a', CERTIFY_HASH_HEX);
    char hex[CERTIFY_HASH_HEX + 1];
    memset(hex, '0', CERTIFY_HASH_HEX);
    hex[CERTIFY_HASH_HEX] = '\0';
    assert_int_equal(certify_data_add_part(d, "1", "text/plain", hex, &why), 0);
    assert_int_equal(certify_data_add_part(d, "2", "application/pdf", hex, &why), 0);
    str_copy(d->error_ext, sizeof(d->error_ext), "5.1.1 <x> unknown & gone");
}

static void assert_same(const struct certify_data *a, const struct certify_data *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->error, b->error);
    assert_string_equal(a->sender, b->sender);
    assert_int_equal(a->n_rcpts, b->n_rcpts);
    for (size_t i = 0; i < a->n_rcpts; i++) {
        assert_string_equal(a->rcpts[i].addr, b->rcpts[i].addr);
        assert_int_equal(a->rcpts[i].certified, b->rcpts[i].certified);
    }
    assert_string_equal(a->subject, b->subject);
    assert_string_equal(a->service, b->service);
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->msgid, b->msgid);
    assert_int_equal(a->time, b->time);
    assert_int_equal(a->zone_minutes, b->zone_minutes);
    assert_string_equal(a->delivery, b->delivery);
    assert_int_equal(a->has_receipt_kind, b->has_receipt_kind);
    if (a->has_receipt_kind)
        assert_int_equal(a->receipt, b->receipt);
    assert_string_equal(a->original_sha256, b->original_sha256);
    assert_int_equal(a->n_parts, b->n_parts);
    for (size_t i = 0; i < a->n_parts; i++) {
        assert_string_equal(a->parts[i].path, b->parts[i].path);
        assert_string_equal(a->parts[i].type, b->parts[i].type);
        assert_string_equal(a->parts[i].sha256, b->parts[i].sha256);
    }
    assert_string_equal(a->error_ext, b->error_ext);
}

/* What is written parses back to the same data, for every type. */
static void test_round_trip(void **state)
{
    (void)state;
    for (int t = 0; t < CERTIFY_TYPE_COUNT; t++) {
        struct certify_data d, back;
        sample(&d);
        d.type = (enum certify_type)t;
        d.error = (enum certify_error)(t % CERTIFY_ERR_COUNT);
        d.zone_minutes = t % 2 ? -330 : 0;
        struct buf out;
        buf_init(&out, CERTIFY_DATA_MAX);
        const char *why = NULL;
        assert_int_equal(certify_data_write(&d, &out, &why), 0);
        assert_non_null(strstr(buf_cstr(&out), "Q&amp;A &lt;today&gt; &quot;quoted&quot;"));
        char *copy = exact_copy(out.data, out.len);
        if (certify_data_parse(copy, out.len, &back, &why) < 0)
            fail_msg("parse: %s\n%s", why, buf_cstr(&out));
        assert_same(&d, &back);
        certify_data_free(&back);
        free(copy);
        buf_free(&out);
        certify_data_free(&d);
    }
}

/* A minimal one (no optional fields) too; and split at every byte, no
 * prefix parses. */
static void test_minimal_and_prefixes(void **state)
{
    (void)state;
    struct certify_data d, back;
    certify_data_init(&d);
    d.type = CERTIFY_ACCEPTANCE;
    str_copy(d.sender, sizeof(d.sender), "a@x");
    str_copy(d.service, sizeof(d.service), "x");
    str_copy(d.id, sizeof(d.id), "1@x");
    struct buf out;
    buf_init(&out, CERTIFY_DATA_MAX);
    const char *why = NULL;
    assert_int_equal(certify_data_write(&d, &out, &why), 0);
    assert_int_equal(certify_data_parse(out.data, out.len, &back, &why), 0);
    assert_same(&d, &back);
    certify_data_free(&back);
    /* Every proper prefix but the one that only lacks the final line
     * break is refused. */
    for (size_t n = 0; n + 1 < out.len; n++) {
        char *copy = exact_copy(out.data, n);
        assert_int_equal(certify_data_parse(copy, n, &back, &why), -1);
        assert_non_null(why);
        certify_data_free(&back);
        free(copy);
    }
    buf_free(&out);
    certify_data_free(&d);
}

/* Edits of a valid document: each must be refused (or, for the harmless
 * ones, accepted). */
static void test_strict(void **state)
{
    (void)state;
    static const struct {
        const char *from, *to;
        bool ok;
    } edits[] = {
        {"<subject>", "<subject><!-- c -->", false},
        {"<subject>", "<subject><![CDATA[x]]>", false},
        {"<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "<?xml version=\"1.1\"?>", false},
        {"<header>", "<!DOCTYPE x><header>", false},
        {"<header>", "<header x=\"1\">", false},
        {"type=\"delivery\"", "type=\"deliverx\"", false},
        {"error=\"none\"", "error=\"nope\"", false},
        {"version=\"1\"", "version=\"2\"", false},
        {"&amp;A", "&#38;A", false},
        {"&amp;A", "&A", false},
        {"&amp;A", "&ampA", false},
        {"<sender>alice", "<sender>al\x01ice", false},
        {"<sender>alice", "<sender>al\xffice", false},
        {"<recipient type=\"certified\">", "<recipient type=\"other\">", false},
        {"<recipient type=\"certified\">", "<recipient type='certified'>", true},
        {"<recipient type=\"certified\">", "<recipient  type=\"certified\" >", true},
        {"<recipient type=\"certified\">", "<recipient type=\"certified\"type=\"x\">", false},
        {"<recipient type=\"certified\">", "<recipient type=\"certified\" type=\"x\">", false},
        {"</certdata>", "</certdata><x/>", false},
        {"</certdata>", "</certdata>x", false},
        {"</data>", "</datum>", false},
        {"<date zone=\"+0100\">", "<date zone=\"+2400\">", false},
        {"<time zone=\"+0100\">", "<time zone=\"+0200\">", false},
        {"<receipt type=\"short\"/>", "<receipt type=\"long\"/>", false},
        {"<receipt type=\"short\"/>", "<receipt type=\"short\"></receipt>", false},
        {"<original sha256=\"aaaa", "<original sha256=\"Aaaa", false},
        {"<service>", "<identifier>", false},
        {"<part sha256=", "<part path=\"0\" sha256=", false},
        {"<subject>", "<subject>>", false},
    };
    struct certify_data d;
    sample(&d);
    struct buf out;
    buf_init(&out, CERTIFY_DATA_MAX);
    const char *why = NULL;
    assert_int_equal(certify_data_write(&d, &out, &why), 0);
    certify_data_free(&d);
    const char *doc = buf_cstr(&out);
    for (size_t i = 0; i < N_ELEMS(edits); i++) {
        const char *at = strstr(doc, edits[i].from);
        if (!at)
            fail_msg("edit %zu: '%s' not in the document", i, edits[i].from);
        struct buf e;
        buf_init(&e, BUF_UNLIMITED);
        buf_append(&e, doc, (size_t)(at - doc));
        buf_append_str(&e, edits[i].to);
        buf_append_str(&e, at + strlen(edits[i].from));
        char *copy = exact_copy(e.data, e.len);
        struct certify_data back;
        int rc = certify_data_parse(copy, e.len, &back, &why);
        if ((rc == 0) != edits[i].ok)
            fail_msg("edit %zu (%s): rc %d (%s)", i, edits[i].to, rc, rc ? why : "");
        certify_data_free(&back);
        free(copy);
        buf_free(&e);
    }
    buf_free(&out);
}

/* The limits: a field one octet too long, one recipient too many, a
 * document past CERTIFY_DATA_MAX. */
static void test_limits(void **state)
{
    (void)state;
    struct certify_data d;
    certify_data_init(&d);
    const char *why;
    char addr[CERTIFY_ADDR_MAX + 1];
    memset(addr, 'a', sizeof(addr));
    addr[CERTIFY_ADDR_MAX] = '\0';
    assert_int_equal(certify_data_add_recipient(&d, addr, true, &why), -1);
    addr[CERTIFY_ADDR_MAX - 1] = '\0';
    assert_int_equal(certify_data_add_recipient(&d, addr, true, &why), 0);
    for (size_t i = 1; i < CERTIFY_MAX_RECIPIENTS; i++)
        assert_int_equal(certify_data_add_recipient(&d, "r@x", false, &why), 0);
    assert_int_equal(certify_data_add_recipient(&d, "r@x", false, &why), -1);
    str_copy(d.sender, sizeof(d.sender), "a@x");
    struct buf out;
    buf_init(&out, CERTIFY_DATA_MAX);
    assert_int_equal(certify_data_write(&d, &out, &why), 0);
    struct certify_data back;
    assert_int_equal(certify_data_parse(out.data, out.len, &back, &why), 0);
    assert_int_equal(back.n_rcpts, CERTIFY_MAX_RECIPIENTS);
    certify_data_free(&back);
    /* One recipient more in the text is refused. */
    const char *end = strstr(buf_cstr(&out), "<subject>");
    struct buf e;
    buf_init(&e, BUF_UNLIMITED);
    buf_append(&e, out.data, (size_t)(end - out.data));
    buf_append_str(&e, "<recipient type=\"external\">z@x</recipient>\n");
    buf_append_str(&e, end);
    assert_int_equal(certify_data_parse(e.data, e.len, &back, &why), -1);
    certify_data_free(&back);
    buf_free(&e);
    /* A subject of CERTIFY_TEXT_MAX - 1 octets parses; one more does not. */
    certify_data_free(&d);
    certify_data_init(&d);
    str_copy(d.sender, sizeof(d.sender), "a@x");
    memset(d.subject, 's', CERTIFY_TEXT_MAX - 1);
    d.subject[CERTIFY_TEXT_MAX - 1] = '\0';
    buf_reset(&out);
    assert_int_equal(certify_data_write(&d, &out, &why), 0);
    assert_int_equal(certify_data_parse(out.data, out.len, &back, &why), 0);
    certify_data_free(&back);
    end = strstr(buf_cstr(&out), "</subject>");
    buf_init(&e, BUF_UNLIMITED);
    buf_append(&e, out.data, (size_t)(end - out.data));
    buf_append_str(&e, "s");
    buf_append_str(&e, end);
    assert_int_equal(certify_data_parse(e.data, e.len, &back, &why), -1);
    certify_data_free(&back);
    buf_free(&e);
    /* Past the whole-document limit. */
    char *big = calloc(1, CERTIFY_DATA_MAX + 1);
    assert_non_null(big);
    assert_int_equal(certify_data_parse(big, CERTIFY_DATA_MAX + 1, &back, &why), -1);
    certify_data_free(&back);
    free(big);
    buf_free(&out);
    certify_data_free(&d);
}

/* The writer refuses what it cannot write faithfully; certify_text_clean
 * makes any header text writable. */
static void test_clean(void **state)
{
    (void)state;
    struct certify_data d;
    certify_data_init(&d);
    const char *why;
    struct buf out;
    buf_init(&out, CERTIFY_DATA_MAX);
    str_copy(d.subject, sizeof(d.subject), "a\tb");
    assert_int_equal(certify_data_write(&d, &out, &why), -1);
    str_copy(d.subject, sizeof(d.subject), "caf\xe9");
    assert_int_equal(certify_data_write(&d, &out, &why), -1);
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"folded\r\n line", "folded line"},
        {"tab\there", "tab here"},
        {"caf\xe9", "caf?"},
        {"caf\xc3\xa9", "caf\xc3\xa9"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        certify_text_clean(d.subject, sizeof(d.subject), cases[i].in, strlen(cases[i].in));
        assert_string_equal(d.subject, cases[i].out);
        buf_reset(&out);
        assert_int_equal(certify_data_write(&d, &out, &why), 0);
    }
    /* Cut at a character boundary. */
    char small[5];
    certify_text_clean(small, sizeof(small), "ab\xc3\xa9\xc3\xa9", 6);
    assert_string_equal(small, "ab\xc3\xa9");
    certify_text_clean(small, sizeof(small), "abc\xc3\xa9", 5);
    assert_string_equal(small, "abc");
    buf_free(&out);
    certify_data_free(&d);
}

static void test_names(void **state)
{
    (void)state;
    for (int t = 0; t < CERTIFY_TYPE_COUNT; t++)
        assert_int_equal(certify_type_from_name(certify_type_name((enum certify_type)t)), t);
    assert_int_equal(certify_type_from_name("nope"), -1);
    assert_null(certify_type_name(CERTIFY_TYPE_COUNT));
    for (int k = 0; k < CERTIFY_RECEIPT_COUNT; k++)
        assert_int_equal(
            certify_receipt_kind_from_name(certify_receipt_kind_name((enum certify_receipt_kind)k)),
            k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_minimal_and_prefixes),
        cmocka_unit_test(test_strict),     cmocka_unit_test(test_limits),
        cmocka_unit_test(test_clean),      cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
