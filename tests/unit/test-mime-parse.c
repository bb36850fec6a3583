/* Unit tests: the MIME part tree (src/mime/mime-parse.c), section ranges
 * (mime-section.c), header fields and their filter (mime-header.c),
 * Content-* fields and parameters (mime-content.c, mime-param.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "mime/mime-header.h"
#include "mime/mime-parse.h"
#include "mime/mime-section.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The tree as text: (kind hdr_len body_len body_lines children...), kind
 * m multipart, r message, t text, o other, x kept opaque. */
static void describe(const struct mime_part *p, struct buf *out)
{
    char kind = p->flags & MIME_PART_TRUNCATED   ? 'x'
                : p->flags & MIME_PART_MULTIPART ? 'm'
                : p->flags & MIME_PART_MESSAGE   ? 'r'
                : p->flags & MIME_PART_TEXT      ? 't'
                                                 : 'o';
    buf_printf(out, "(%c %zu %zu %zu", kind, p->hdr_len, p->body_len, p->body_lines);
    for (const struct mime_part *c = p->children; c; c = c->next) {
        buf_append_char(out, ' ');
        describe(c, out);
    }
    buf_append_char(out, ')');
}

/* Offsets nest and stay inside the data; counts agree with the list. */
static void check_invariants(const struct mime_message *m)
{
    assert_true(m->n_parts >= 1 && m->n_parts <= MIME_PARSE_MAX_PARTS);
    assert_ptr_equal(m->parts[0], m->root);
    for (size_t i = 0; i < m->n_parts; i++) {
        const struct mime_part *p = m->parts[i];
        assert_int_equal(p->hdr_off + p->hdr_len, p->body_off);
        assert_true(p->body_off + p->body_len <= m->len);
        assert_true(p->depth <= MIME_PARSE_MAX_DEPTH);
        size_t lf = 0;
        for (size_t j = p->body_off; j < p->body_off + p->body_len; j++)
            lf += m->data[j] == '\n';
        assert_int_equal(lf, p->body_lines);
        size_t n = 0;
        for (const struct mime_part *c = p->children; c; c = c->next) {
            n++;
            assert_ptr_equal(c->parent, p);
            assert_true(c->hdr_off >= p->body_off);
            assert_true(c->body_off + c->body_len <= p->body_off + p->body_len);
        }
        assert_int_equal(n, p->n_children);
    }
}

static const struct {
    const char *name;
    const char *msg;
    const char *tree;
} cases[] = {
    {"simple", "Subject: x\r\n\r\nbody\r\n", "(t 14 6 1)"},
    {"bare LF", "Subject: x\n\nbody\n", "(t 12 5 1)"},
    {"bare CR is data", "Subject: x\r\n\r\na\rb\r\n", "(t 14 5 1)"},
    {"no body", "Subject: x\r\n", "(t 12 0 0)"},
    {"empty", "", "(t 0 0 0)"},
    {"no header", "\r\nbody", "(t 2 4 0)"},
    {"multipart",
     "Content-Type: multipart/mixed; boundary=b\r\n\r\npre\r\n--b\r\n\r\none\r\n--b\r\n"
     "Content-Type: text/html\r\n\r\ntwo\r\n--b--\r\nepi\r\n",
     "(m 45 66 10 (t 2 3 0) (t 27 3 0))"},
    {"missing close delimiter",
     "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n",
     "(m 45 12 3 (t 2 5 1))"},
    {"boundary at body start",
     "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n--b--\r\n",
     "(m 45 14 3 (t 2 0 0))"},
    {"multipart without parts", "Content-Type: multipart/mixed; boundary=b\r\n\r\n", "(m 45 0 0)"},
    {"multipart without boundary", "Content-Type: multipart/mixed\r\n\r\n--b\r\nx\r\n",
     "(m 33 8 2)"},
    {"nested prefix boundaries",
     "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
     "Content-Type: multipart/alternative; boundary=bb\r\n\r\n--bb\r\n\r\ninner\r\n"
     "--b\r\n\r\nouter\r\n--b--\r\n",
     "(m 45 93 10 (m 52 13 2 (t 2 5 0)) (t 2 5 0))"},
    {"same boundary nested",
     "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
     "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n--b--\r\n",
     "(m 45 74 8 (m 45 17 4 (t 2 1 0)))"},
    {"message/rfc822", "Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nhello\r\n",
     "(r 32 25 3 (t 18 7 1))"},
    {"digest default",
     "Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: a\r\n\r\nA\r\n"
     "--d--\r\n",
     "(m 46 31 6 (r 2 15 2 (t 14 1 0)))"},
    {"not MIME: content fields ignored", "Content-Transfer-Encoding: base64\r\n\r\naGk=\r\n",
     "(t 37 6 1)"},
    {"boundary line inside a header",
     "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nX-A: 1\r\n--b\r\n\r\ntwo\r\n",
     "(m 45 25 5 (t 6 0 0) (t 2 5 1))"},
    {"close delimiter with trailing text",
     "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--junk\r\nepi",
     "(m 45 24 4 (t 2 1 0))"},
    {"text/plain never split", "Content-Type: text/plain; boundary=b\r\n\r\n--b\r\nx\r\n",
     "(t 40 8 2)"},
};

static void test_trees(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < N(cases); i++) {
        struct mime_message *m = mime_message_parse(cases[i].msg, strlen(cases[i].msg));
        check_invariants(m);
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        describe(m->root, &b);
        if (strcmp(buf_cstr(&b), cases[i].tree) != 0) {
            print_error("%s: %s, want %s\n", cases[i].name, buf_cstr(&b), cases[i].tree);
            bad++;
        }
        buf_free(&b);
        mime_message_free(&m);
    }
    assert_int_equal(bad, 0);
}

/* Every prefix of every case parses, with consistent offsets. */
static void test_truncated_everywhere(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        size_t len = strlen(cases[i].msg);
        for (size_t n = 0; n <= len; n++) {
            char *copy = malloc(n ? n : 1);
            memcpy(copy, cases[i].msg, n);
            struct mime_message *m = mime_message_parse(copy, n);
            check_invariants(m);
            mime_message_free(&m);
            free(copy);
        }
    }
}

static void test_content_fields(void **state)
{
    (void)state;
    const char *msg = "MIME-Version: 1.0\r\n"
                      "Content-Type: Text/Plain; charset=\"utf-8\" (comment); format=flowed;\r\n"
                      " title*0*=us-ascii'en'This%20is; title*1*=%20fun; title*2=\" 100%\"\r\n"
                      "Content-Type: image/png\r\n"
                      "Content-Transfer-Encoding: (c) Quoted-Printable \r\n"
                      "Content-ID: <id@x>\r\n"
                      "Content-Disposition: inline\r\n"
                      "Content-Disposition: attachment; filename*=utf-8''a%20b.txt\r\n"
                      "Content-Language: en, de-CH\r\n"
                      "Content-Location: http://x/y\r\n"
                      "Content-MD5: Q2hlY2s=\r\n"
                      "\r\nbody";
    struct mime_message *m = mime_message_parse(msg, strlen(msg));
    const struct mime_content *c = &m->root->content;
    assert_string_equal(c->type, "Text");
    assert_string_equal(c->subtype, "Plain");
    assert_int_equal(c->type_params.n, 3);
    assert_string_equal(mime_params_get(&c->type_params, "charset"), "utf-8");
    assert_string_equal(mime_params_get(&c->type_params, "format"), "flowed");
    assert_string_equal(mime_params_get(&c->type_params, "title*"),
                        "us-ascii'en'This%20is%20fun 100%25");
    assert_string_equal(c->encoding, "Quoted-Printable");
    assert_string_equal(c->id, "<id@x>");
    assert_string_equal(c->disposition, "attachment");
    assert_string_equal(mime_params_get(&c->disposition_params, "filename*"), "utf-8''a%20b.txt");
    assert_int_equal(c->n_language, 2);
    assert_string_equal(c->language[1], "de-CH");
    assert_string_equal(c->location, "http://x/y");
    assert_string_equal(c->md5, "Q2hlY2s=");
    assert_true(m->root->flags & MIME_PART_TEXT);
    mime_message_free(&m);

    /* continuations: plain ones merged in order, a gap leaves them apart */
    msg = "Content-Type: application/x; name*1=\"b\"; name*0=\"a\"; z*0=1; z*2=3\r\n\r\n";
    m = mime_message_parse(msg, strlen(msg));
    c = &m->root->content;
    assert_int_equal(c->type_params.n, 3);
    assert_string_equal(c->type_params.v[0].name, "name");
    assert_string_equal(c->type_params.v[0].value, "ab");
    assert_string_equal(c->type_params.v[1].name, "z*0");
    assert_string_equal(c->type_params.v[2].name, "z*2");
    mime_message_free(&m);

    /* a broken Content-Type keeps nothing */
    msg = "Content-Type: multipart/mixed\r\n\tboundary=\"b\"\r\n\r\n--b\r\n";
    m = mime_message_parse(msg, strlen(msg));
    assert_string_equal(m->root->content.type, "");
    assert_int_equal(m->root->n_children, 0);
    mime_message_free(&m);
}

/* A boundary longer than the limit is cut to it: the lines still start a
 * part, but the close delimiter is no longer seen as one (as in Dovecot). */
static void test_long_boundary(void **state)
{
    (void)state;
    char b[200];
    memset(b, 'q', sizeof(b) - 1);
    b[sizeof(b) - 1] = '\0';
    struct buf msg;
    buf_init(&msg, BUF_UNLIMITED);
    buf_printf(&msg,
               "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n--%s\r\n\r\nx\r\n--%s--\r\n",
               b, b, b);
    struct mime_message *m = mime_message_parse(msg.data, msg.len);
    check_invariants(m);
    assert_int_equal(m->root->n_children, 2);
    mime_message_free(&m);
    buf_free(&msg);
}

/* MIME_PARSE_MAX_DEPTH nested parts are read; one more is kept opaque. */
static void test_depth_limit(void **state)
{
    (void)state;
    for (int extra = 0; extra <= 1; extra++) {
        struct buf msg;
        buf_init(&msg, BUF_UNLIMITED);
        int levels = MIME_PARSE_MAX_DEPTH + extra;
        for (int i = 0; i < levels; i++)
            buf_append_str(&msg, "Content-Type: message/rfc822\r\n\r\n");
        buf_append_str(&msg, "Subject: deepest\r\n\r\nbody\r\n");
        struct mime_message *m = mime_message_parse(msg.data, msg.len);
        check_invariants(m);
        const struct mime_part *p = m->root;
        while (p->children)
            p = p->children;
        assert_int_equal(p->depth, MIME_PARSE_MAX_DEPTH);
        assert_int_equal(m->limited, extra == 1);
        assert_int_equal((p->flags & MIME_PART_TRUNCATED) != 0, extra == 1);
        mime_message_free(&m);
        buf_free(&msg);
    }
    /* deep multiparts too: each level its own boundary */
    struct buf msg;
    buf_init(&msg, BUF_UNLIMITED);
    for (int i = 0; i < 3 * MIME_PARSE_MAX_DEPTH; i++)
        buf_printf(&msg, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
    struct mime_message *m = mime_message_parse(msg.data, msg.len);
    check_invariants(m);
    assert_true(m->limited);
    mime_message_free(&m);
    buf_free(&msg);
}

/* MIME_PARSE_MAX_PARTS parts at most; the rest is the last part's body. */
static void test_parts_limit(void **state)
{
    (void)state;
    struct buf msg;
    buf_init(&msg, BUF_UNLIMITED);
    buf_append_str(&msg, "Content-Type: multipart/mixed; boundary=b\r\n\r\n");
    for (int i = 0; i < MIME_PARSE_MAX_PARTS + 10; i++)
        buf_append_str(&msg, "--b\r\n\r\nx\r\n");
    buf_append_str(&msg, "--b--\r\n");
    struct mime_message *m = mime_message_parse(msg.data, msg.len);
    check_invariants(m);
    assert_int_equal(m->n_parts, MIME_PARSE_MAX_PARTS);
    assert_int_equal(m->root->n_children, MIME_PARSE_MAX_PARTS - 1);
    mime_message_free(&m);
    buf_free(&msg);
}

static void range(const struct mime_message *m, const char *path, enum mime_section_kind kind,
                  const char *want)
{
    struct mime_section s;
    memset(&s, 0, sizeof(s));
    s.kind = kind;
    for (const char *p = path; *p;) {
        s.path[s.n_path++] = (unsigned)strtoul(p, (char **)&p, 10);
        if (*p == '.')
            p++;
    }
    size_t off, len;
    int ret = mime_section_range(m, &s, &off, &len);
    if (!want) {
        if (ret == 0)
            fail_msg("[%s %d] found '%.*s'", path, kind, (int)len, m->data + off);
        return;
    }
    if (ret != 0)
        fail_msg("[%s %d] not found", path, kind);
    if (len != strlen(want) || memcmp(m->data + off, want, len) != 0)
        fail_msg("[%s %d] '%.*s', want '%s'", path, kind, (int)len, m->data + off, want);
}

static void test_sections(void **state)
{
    (void)state;
    const char *msg =
        "Subject: top\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\none\r\n"
        "--b\r\nContent-Type: message/rfc822\r\n\r\n"
        "Subject: inner\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n"
        "--c\r\n\r\nalt1\r\n--c\r\n\r\nalt2\r\n--c--\r\n"
        "--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: flat\r\n\r\nflat body\r\n"
        "--b--\r\n";
    struct mime_message *m = mime_message_parse(msg, strlen(msg));
    check_invariants(m);
    range(m, "", MIME_SECTION_BODY, msg);
    range(m, "", MIME_SECTION_HEADER,
          "Subject: top\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n");
    range(m, "1", MIME_SECTION_BODY, "one");
    range(m, "1", MIME_SECTION_MIME, "Content-Type: text/plain\r\n\r\n");
    range(m, "1", MIME_SECTION_HEADER, NULL);
    range(m, "1.1", MIME_SECTION_BODY, "one");
    range(m, "1.2", MIME_SECTION_BODY, NULL);
    range(m, "2", MIME_SECTION_HEADER,
          "Subject: inner\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n");
    /* after a close delimiter the line break before the next boundary is
       part of the epilogue, as Dovecot counts it */
    range(m, "2", MIME_SECTION_TEXT, "--c\r\n\r\nalt1\r\n--c\r\n\r\nalt2\r\n--c--\r\n");
    range(m, "2.1", MIME_SECTION_BODY, "alt1");
    range(m, "2.2", MIME_SECTION_BODY, "alt2");
    range(m, "2.2", MIME_SECTION_MIME, "\r\n");
    range(m, "2.3", MIME_SECTION_BODY, NULL);
    range(m, "3", MIME_SECTION_BODY, "Subject: flat\r\n\r\nflat body");
    range(m, "3", MIME_SECTION_TEXT, "flat body");
    range(m, "3.1", MIME_SECTION_BODY, "flat body");
    range(m, "3.2", MIME_SECTION_BODY, NULL);
    range(m, "4", MIME_SECTION_BODY, NULL);
    range(m, "0", MIME_SECTION_BODY, NULL);
    range(m, "", MIME_SECTION_MIME, NULL);
    mime_message_free(&m);

    /* a non-multipart message's part 1 is its body */
    msg = "Subject: x\r\n\r\nonly";
    m = mime_message_parse(msg, strlen(msg));
    range(m, "1", MIME_SECTION_BODY, "only");
    range(m, "2", MIME_SECTION_BODY, NULL);
    range(m, "", MIME_SECTION_TEXT, "only");
    mime_message_free(&m);
}

static void test_section_parse(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int ret;
        size_t n;
        enum mime_section_kind kind;
    } specs[] = {
        {"", 0, 0, MIME_SECTION_BODY},
        {"1", 0, 1, MIME_SECTION_BODY},
        {"1.2.3", 0, 3, MIME_SECTION_BODY},
        {"header", 0, 0, MIME_SECTION_HEADER},
        {"1.2.TEXT", 0, 2, MIME_SECTION_TEXT},
        {"3.MIME", 0, 1, MIME_SECTION_MIME},
        {"MIME", -1, 0, MIME_SECTION_BODY},
        {"HEADER.FIELDS", 0, 0, MIME_SECTION_HEADER_FIELDS},
        {"2.header.fields.not", 0, 1, MIME_SECTION_HEADER_FIELDS_NOT},
        {"1.", -1, 0, MIME_SECTION_BODY},
        {".1", -1, 0, MIME_SECTION_BODY},
        {"0", -1, 0, MIME_SECTION_BODY},
        {"01", -1, 0, MIME_SECTION_BODY},
        {"1000000", 0, 1, MIME_SECTION_BODY},
        {"1000001", -1, 0, MIME_SECTION_BODY},
        {"1..2", -1, 0, MIME_SECTION_BODY},
        {"1x", -1, 0, MIME_SECTION_BODY},
        {"HEADERS", -1, 0, MIME_SECTION_BODY},
    };
    for (size_t i = 0; i < N(specs); i++) {
        struct mime_section s;
        int ret = mime_section_parse(specs[i].in, strlen(specs[i].in), &s);
        if (ret != specs[i].ret ||
            (ret == 0 && (s.n_path != specs[i].n || s.kind != specs[i].kind)))
            fail_msg("section '%s': %d", specs[i].in, ret);
    }
    /* MIME_SECTION_MAX_PATH numbers, then one more */
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    for (int i = 0; i < MIME_SECTION_MAX_PATH; i++)
        buf_append_str(&b, i ? ".1" : "1");
    struct mime_section s;
    assert_int_equal(mime_section_parse(b.data, b.len, &s), 0);
    buf_append_str(&b, ".1");
    assert_int_equal(mime_section_parse(b.data, b.len, &s), -1);
    buf_free(&b);
}

static void test_header_fields(void **state)
{
    (void)state;
    const char *hdr = "From: a@x\r\nSubject: one\r\n two\r\nX-Empty:\r\nsubject : again\r\n"
                      "no colon line\r\nTo: b@y\n\r\nbody";
    size_t pos = 0;
    struct mime_field f;
    const char *names[8];
    size_t n = 0;
    char store[8][32];
    while (mime_header_next(hdr, strlen(hdr), &pos, &f) > 0) {
        snprintf(store[n], sizeof(store[n]), "%.*s=%.*s", (int)f.name_len, f.name, (int)f.value_len,
                 f.value);
        names[n] = store[n];
        n++;
    }
    assert_int_equal(n, 6);
    assert_string_equal(names[0], "From=a@x");
    assert_string_equal(names[1], "Subject=one\r\n two");
    assert_string_equal(names[2], "X-Empty=");
    assert_string_equal(names[3], "subject=again");
    assert_string_equal(names[4], "no colon line=");
    assert_string_equal(names[5], "To=b@y");

    static const char *const want[] = {"SUBJECT", "to"};
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    assert_int_equal(mime_header_filter(hdr, strlen(hdr), want, 2, true, &b), 0);
    assert_string_equal(buf_cstr(&b), "Subject: one\r\n two\r\nsubject : again\r\nTo: b@y\n\r\n");
    buf_reset(&b);
    assert_int_equal(mime_header_filter(hdr, strlen(hdr), want, 2, false, &b), 0);
    assert_string_equal(buf_cstr(&b), "From: a@x\r\nX-Empty:\r\nno colon line\r\n\r\n");
    buf_reset(&b);
    /* a last field without a line break, nothing matching */
    assert_int_equal(mime_header_filter("A: 1", 4, want, 2, false, &b), 0);
    assert_string_equal(buf_cstr(&b), "A: 1\r\n\r\n");
    buf_reset(&b);
    assert_int_equal(mime_header_filter("A: 1", 4, want, 2, true, &b), 0);
    assert_string_equal(buf_cstr(&b), "\r\n");
    buf_free(&b);
    /* bounded output */
    buf_init(&b, 5);
    assert_int_equal(mime_header_filter(hdr, strlen(hdr), want, 2, true, &b), -1);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trees),          cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_content_fields), cmocka_unit_test(test_long_boundary),
        cmocka_unit_test(test_depth_limit),    cmocka_unit_test(test_parts_limit),
        cmocka_unit_test(test_sections),       cmocka_unit_test(test_section_parse),
        cmocka_unit_test(test_header_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
