/* Unit tests: IMAP string quoting, ENVELOPE, BODY and BODYSTRUCTURE
 * (src/imap/imap-quote.c, imap-envelope.c, imap-bodystructure.c) and the
 * address lists behind ENVELOPE (src/mime/mime-addrlist.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "imap/imap-bodystructure.h"
#include "imap/imap-envelope.h"
#include "imap/imap-quote.h"
#include "lib/buf.h"
#include "mime/mime-parse.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_quote(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"plain", "\"plain\""},
        {"", "\"\""},
        {"say \"hi\"", "\"say \\\"hi\\\"\""},
        {"a\\b", "\"a\\\\b\""},
        {"\"\"\"\"", "\"\\\"\\\"\\\"\\\"\""},
        {"\"\"\"\"\"", "{5}\r\n\"\"\"\"\""},
        {"caf\xc3\xa9", "{5}\r\ncaf\xc3\xa9"},
        {"two\r\nlines", "{10}\r\ntwo\r\nlines"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        assert_int_equal(imap_quote_nstring(&b, cases[i].in), 0);
        if (strcmp(buf_cstr(&b), cases[i].out) != 0)
            fail_msg("quote %zu: %s", i, buf_cstr(&b));
        buf_free(&b);
    }
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    assert_int_equal(imap_quote_nstring(&b, NULL), 0);
    assert_int_equal(imap_quote_string(&b, "a\0b", 3), 0);
    assert_string_equal(buf_cstr(&b), "NIL{3}\r\na");
    buf_reset(&b);
    /* folded values lose their line breaks and go as a literal */
    assert_int_equal(imap_quote_nstring_nolf(&b, "one\r\n two\nthree"), 0);
    assert_string_equal(buf_cstr(&b), "{13}\r\none two three");
    buf_reset(&b);
    assert_int_equal(imap_quote_astring(&b, "INBOX"), 0);
    assert_int_equal(imap_quote_astring(&b, "nil"), 0);
    assert_int_equal(imap_quote_astring(&b, "a b"), 0);
    assert_int_equal(imap_quote_astring(&b, ""), 0);
    assert_string_equal(buf_cstr(&b), "INBOX\"nil\"\"a b\"\"\"");
    buf_free(&b);
    /* the maximum is a hard stop */
    buf_init(&b, 4);
    assert_int_equal(imap_quote_nstring(&b, "abc"), -1);
    buf_free(&b);
}

static void test_envelope(void **state)
{
    (void)state;
    static const struct {
        const char *hdr;
        const char *env;
    } cases[] = {
        {"", "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"},
        {"Subject: \r\n", "(NIL \"\" NIL NIL NIL NIL NIL NIL NIL NIL)"},
        {"From: Ann <ann@x.org>\r\nSender: s@y\r\n",
         "(NIL NIL ((\"Ann\" NIL \"ann\" \"x.org\")) ((NIL NIL \"s\" \"y\")) "
         "((\"Ann\" NIL \"ann\" \"x.org\")) NIL NIL NIL NIL NIL)"},
        {"To: group: a@b, \"Q, R\" <c@d>;, e@f\r\n",
         "(NIL NIL NIL NIL NIL ((NIL NIL \"group\" NIL)(NIL NIL \"a\" \"b\")"
         "(\"Q, R\" NIL \"c\" \"d\")(NIL NIL NIL NIL)(NIL NIL \"e\" \"f\")) NIL NIL NIL NIL)"},
        {"Cc: undisclosed-recipients:;\r\n",
         "(NIL NIL NIL NIL NIL NIL ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) "
         "NIL NIL NIL)"},
        {"From: a@b\r\nFrom: c@d\r\n",
         "(NIL NIL ((NIL NIL \"c\" \"d\")) ((NIL NIL \"c\" \"d\")) ((NIL NIL \"c\" \"d\")) NIL "
         "NIL NIL NIL NIL)"},
        {"Bcc: Just A Name\r\nTo: user\r\n",
         "(NIL NIL NIL NIL NIL ((NIL NIL \"user\" \"MISSING_DOMAIN\")) NIL "
         "((\"Just A Name\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) NIL NIL)"},
        {"To: <@r1,@r2:u@d>, Broken <u@\r\n",
         "(NIL NIL NIL NIL NIL ((NIL \"@r1,@r2\" \"u\" \"d\")(\"Broken\" NIL \"u\" "
         "\"SYNTAX_ERROR\")) NIL NIL NIL NIL)"},
        {"Subject: folded\r\n line\r\nMessage-ID: <m@x>\r\nIn-Reply-To: <r@x>\r\n",
         "(NIL {11}\r\nfolded line NIL NIL NIL NIL NIL NIL \"<r@x>\" \"<m@x>\")"},
        {"Subject: =?utf-8?q?caf=C3=A9?=\r\nDate: today\r\n",
         "(\"today\" \"=?utf-8?q?caf=C3=A9?=\" NIL NIL NIL NIL NIL NIL NIL NIL)"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        assert_int_equal(imap_envelope_write(&b, cases[i].hdr, strlen(cases[i].hdr)), 0);
        if (strcmp(buf_cstr(&b), cases[i].env) != 0)
            fail_msg("envelope %zu:\n got  %s\n want %s", i, buf_cstr(&b), cases[i].env);
        buf_free(&b);
    }
}

static void test_bodystructure(void **state)
{
    (void)state;
    static const struct {
        const char *msg;
        const char *body;
        const char *bodystructure;
    } cases[] = {
        {"Subject: x\r\n\r\nhi\r\n",
         "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 1)",
         "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 1 NIL NIL NIL NIL)"},
        {"MIME-Version: 1.0\r\nContent-Type: image/gif; name=a.gif\r\n"
         "Content-Transfer-Encoding: base64\r\nContent-Disposition: inline\r\n\r\nR0lG\r\n",
         "(\"image\" \"gif\" (\"name\" \"a.gif\") NIL NIL \"base64\" 6)",
         "(\"image\" \"gif\" (\"name\" \"a.gif\") NIL NIL \"base64\" 6 NIL (\"inline\" NIL) NIL "
         "NIL)"},
        {"Content-Type: multipart/mixed; boundary=b\r\n\r\n",
         "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")",
         "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) "
         "\"mixed\" (\"boundary\" \"b\") NIL NIL NIL)"},
        {"Content-Type: message/global\r\n\r\nSubject: s\r\n\r\nb\r\n",
         "(\"message\" \"global\" NIL NIL NIL \"7bit\" 17 (NIL \"s\" NIL NIL NIL NIL NIL NIL NIL "
         "NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1) 3)",
         NULL},
        {"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: a\r\n\r\nA\r\n"
         "--d--\r\n",
         "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 15 (NIL \"a\" NIL NIL NIL NIL NIL NIL NIL "
         "NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0) 2) \"digest\")",
         NULL},
        /* a Content-Type without '/' is broken: written as Dovecot does */
        {"Content-Type: multipart\r\n\r\nx", "(\"\" \"\" NIL NIL NIL \"7bit\" 1)", NULL},
    };
    for (size_t i = 0; i < N(cases); i++) {
        struct mime_message *m = mime_message_parse(cases[i].msg, strlen(cases[i].msg));
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        assert_int_equal(imap_bodystructure_write(&b, m, m->root, false), 0);
        if (strcmp(buf_cstr(&b), cases[i].body) != 0)
            fail_msg("body %zu:\n got  %s\n want %s", i, buf_cstr(&b), cases[i].body);
        if (cases[i].bodystructure) {
            buf_reset(&b);
            assert_int_equal(imap_bodystructure_write(&b, m, m->root, true), 0);
            if (strcmp(buf_cstr(&b), cases[i].bodystructure) != 0)
                fail_msg("bodystructure %zu:\n got  %s\n want %s", i, buf_cstr(&b),
                         cases[i].bodystructure);
        }
        buf_free(&b);
        mime_message_free(&m);
    }
}

/* Parts past the depth limit are written as application/octet-stream,
 * and a deep tree is written without recursion. */
static void test_limits(void **state)
{
    (void)state;
    struct buf msg, b;
    buf_init(&msg, BUF_UNLIMITED);
    for (int i = 0; i <= MIME_PARSE_MAX_DEPTH; i++)
        buf_append_str(&msg, "Content-Type: message/rfc822\r\n\r\n");
    struct mime_message *m = mime_message_parse(msg.data, msg.len);
    buf_init(&b, BUF_UNLIMITED);
    assert_int_equal(imap_bodystructure_write(&b, m, m->root, true), 0);
    assert_non_null(strstr(buf_cstr(&b), "(\"application\" \"octet-stream\" NIL NIL NIL"));
    mime_message_free(&m);
    /* a bounded output buffer fails cleanly */
    m = mime_message_parse(msg.data, msg.len);
    struct buf small;
    buf_init(&small, 100);
    assert_int_equal(imap_bodystructure_write(&small, m, m->root, true), -1);
    buf_free(&small);
    mime_message_free(&m);
    buf_free(&b);
    buf_free(&msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quote),
        cmocka_unit_test(test_envelope),
        cmocka_unit_test(test_bodystructure),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
