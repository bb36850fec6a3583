/* Unit tests: the content policy's whole-message checks (policy.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "lib/buf.h"
#include "policy/policy.h"

/* A message whose parts nest `depth` multiparts deep, each holding one
 * text part and the next level; `extra` more text parts at the top. */
static void nested(struct buf *b, unsigned depth, unsigned extra)
{
    buf_reset(b);
    buf_append_str(b, "From: a@example.org\r\nMIME-Version: 1.0\r\n");
    for (unsigned i = 0; i < depth; i++) {
        buf_printf(b, "Content-Type: multipart/mixed; boundary=\"b%u\"\r\n\r\n", i);
        buf_printf(b, "--b%u\r\nContent-Type: text/plain\r\n\r\nlevel %u\r\n", i, i);
        if (i == 0)
            for (unsigned k = 0; k < extra; k++)
                buf_printf(b, "--b0\r\nContent-Type: text/plain\r\n\r\nextra %u\r\n", k);
        buf_printf(b, "--b%u\r\n", i);
    }
    buf_append_str(b, "Content-Type: text/plain\r\n\r\ninnermost\r\n");
    for (unsigned i = depth; i > 0; i--)
        buf_printf(b, "--b%u--\r\n", i - 1);
}

static void check(const struct policy_config *pc, const struct buf *b, enum policy_action want,
                  const char *text_has)
{
    struct policy_verdict v;
    policy_verdict_init(&v);
    policy_check_message(pc, b->data, b->len, &v);
    if (v.action != want || (text_has && !strstr(v.text, text_has)))
        fail_msg("got %s \"%s\", want %s with \"%s\"", policy_action_name(v.action), v.text,
                 policy_action_name(want), text_has ? text_has : "");
    if (want == POLICY_REJECT) {
        assert_int_equal(v.code, 554);
        assert_string_equal(v.enh, "5.6.0");
        assert_true(v.why[0] != '\0');
    }
    policy_verdict_free(&v);
}

static void test_mime_depth(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1 << 20);
    struct policy_config pc = {.mime_max_depth = 3, .mime_max_parts = 0};
    nested(&b, 3, 0); /* the innermost text part is at depth 3 */
    check(&pc, &b, POLICY_ACCEPT, NULL);
    nested(&b, 4, 0);
    check(&pc, &b, POLICY_REJECT, "nested 4 deep, more than the 3");
    /* beyond the parser's own limit: still refused, and said so */
    nested(&b, 150, 0);
    check(&pc, &b, POLICY_REJECT, "or more deep");
    pc.mime_max_depth = 0; /* no limit */
    check(&pc, &b, POLICY_ACCEPT, NULL);
    buf_free(&b);
}

static void test_mime_parts(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 4 << 20);
    struct policy_config pc = {.mime_max_depth = 0, .mime_max_parts = 10};
    /* depth 1: the message, the multipart's text part, the innermost: 3 */
    nested(&b, 1, 7); /* 3 + 7 = 10 parts */
    check(&pc, &b, POLICY_ACCEPT, NULL);
    nested(&b, 1, 8);
    check(&pc, &b, POLICY_REJECT, "11 MIME parts, more than the 10");
    /* a plain message is one part */
    buf_reset(&b);
    buf_append_str(&b, "Subject: plain\r\n\r\nbody\r\n");
    pc.mime_max_parts = 1;
    check(&pc, &b, POLICY_ACCEPT, NULL);
    /* past the parser's limit on parts */
    pc.mime_max_parts = 100;
    nested(&b, 1, 12000);
    check(&pc, &b, POLICY_REJECT, "or more MIME parts");
    buf_free(&b);
}

static void test_empty_and_no_limits(void **state)
{
    (void)state;
    struct policy_config none = {0};
    struct policy_verdict v;
    policy_verdict_init(&v);
    policy_check_message(&none, NULL, 0, &v);
    assert_int_equal(v.action, POLICY_ACCEPT);
    struct policy_config pc = {.mime_max_depth = 1, .mime_max_parts = 1};
    policy_check_message(&pc, NULL, 0, &v);
    assert_int_equal(v.action, POLICY_ACCEPT);
    policy_verdict_free(&v);
    assert_string_equal(policy_action_name(POLICY_QUARANTINE), "quarantine");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mime_depth),
        cmocka_unit_test(test_mime_parts),
        cmocka_unit_test(test_empty_and_no_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
