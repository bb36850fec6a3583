/* Unit tests for header-stream (the header section, field by field, as a
 * message streams through) and for recognising and writing
 * Authentication-Results fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth/auth-results.h"
#include "lib/buf.h"
#include "mime/header-stream.h"

struct sink {
    struct buf out;
    struct buf seen;  /* each field the owner saw, then "|" */
    const char *drop; /* drop fields with this name */
};

static bool on_field(void *arg, const char *field, size_t len)
{
    struct sink *s = arg;
    buf_append(&s->seen, field, len);
    buf_append_char(&s->seen, '|');
    return !(s->drop && header_field_is(field, len, s->drop));
}

static void on_out(void *arg, const char *data, size_t len)
{
    struct sink *s = arg;
    buf_append(&s->out, data, len);
}

/* Run msg through a stream fed in pieces of `step` octets. */
static void run(const char *msg, size_t step, const char *drop, struct sink *s)
{
    buf_init(&s->out, BUF_UNLIMITED);
    buf_init(&s->seen, BUF_UNLIMITED);
    s->drop = drop;
    struct header_stream *hs = header_stream_new(on_field, on_out, s);
    size_t len = strlen(msg);
    for (size_t i = 0; i < len; i += step)
        header_stream_feed(hs, msg + i, len - i < step ? len - i : step);
    header_stream_finish(hs);
    header_stream_free(&hs);
    assert_null(hs);
}

static void done(struct sink *s)
{
    buf_free(&s->out);
    buf_free(&s->seen);
}

static const char msg[] = "Received: from a\r\n\tby b; date\r\n"
                          "Authentication-Results: mx.example.test; spf=pass\r\n"
                          "Subject: hello\r\n"
                          "Authentication-Results: (c) other.example; dkim=pass\r\n"
                          "  header.d=x.example\r\n"
                          "\r\n"
                          "Subject: not a header\r\n"
                          "body\r\n";

static void test_fields_whole_at_every_split(void **state)
{
    (void)state;
    for (size_t step = 1; step <= sizeof(msg); step++) {
        struct sink s;
        run(msg, step, NULL, &s);
        assert_string_equal(buf_cstr(&s.out), msg); /* kept: unchanged */
        assert_string_equal(buf_cstr(&s.seen),
                            "Received: from a\r\n\tby b; date\r\n|"
                            "Authentication-Results: mx.example.test; spf=pass\r\n|"
                            "Subject: hello\r\n|"
                            "Authentication-Results: (c) other.example; dkim=pass\r\n"
                            "  header.d=x.example\r\n|");
        done(&s);
        run(msg, step, "Authentication-Results", &s);
        assert_string_equal(buf_cstr(&s.out), "Received: from a\r\n\tby b; date\r\n"
                                              "Subject: hello\r\n"
                                              "\r\n"
                                              "Subject: not a header\r\n"
                                              "body\r\n");
        done(&s);
    }
}

static void test_odd_messages(void **state)
{
    (void)state;
    struct sink s;
    /* no body, no final CRLF */
    run("Subject: x\r\nX-Last: y", 3, "X-Last", &s);
    assert_string_equal(buf_cstr(&s.out), "Subject: x\r\n");
    done(&s);
    /* a continuation before any field is never dropped */
    run("  stray\r\nSubject: x\r\n\r\nb\r\n", 1, "Subject", &s);
    assert_string_equal(buf_cstr(&s.out), "  stray\r\n\r\nb\r\n");
    done(&s);
    /* no header at all */
    run("\r\nbody only\r\n", 2, "Subject", &s);
    assert_string_equal(buf_cstr(&s.out), "\r\nbody only\r\n");
    assert_string_equal(buf_cstr(&s.seen), "");
    done(&s);
    /* a field over the limit goes on unseen, and cannot be dropped */
    struct buf big;
    buf_init(&big, BUF_UNLIMITED);
    buf_append_str(&big, "X-Big: ");
    for (int i = 0; i < 2000; i++)
        buf_append_str(&big, "0123456789012345678901234567890123456789\r\n ");
    buf_append_str(&big, "end\r\nSubject: s\r\n\r\nb\r\n");
    run(buf_cstr(&big), 1000, "X-Big", &s);
    assert_string_equal(buf_cstr(&s.out), buf_cstr(&big));
    assert_string_equal(buf_cstr(&s.seen), "Subject: s\r\n|");
    done(&s);
    buf_free(&big);
}

static void test_field_names(void **state)
{
    (void)state;
    assert_true(header_field_is("Subject: x", 10, "subject"));
    assert_true(header_field_is("SUBJECT : x", 11, "Subject"));
    assert_false(header_field_is("Subjects: x", 11, "Subject"));
    assert_false(header_field_is("Subject", 7, "Subject"));
}

static void test_auth_results_claims(void **state)
{
    (void)state;
    static const struct {
        const char *field;
        bool ours;
    } cases[] = {
        {"Authentication-Results: mx.example.test; spf=pass\r\n", true},
        {"authentication-results:MX.Example.Test;none\r\n", true},
        {"Authentication-Results: (forged) (nested (x)) mx.example.test; dkim=pass\r\n", true},
        {"Authentication-Results:\r\n mx.example.test 1; none\r\n", true},
        {"Authentication-Results: \"mx.example.test\"; none\r\n", true},
        {"Authentication-Results: mx.example.test.evil; none\r\n", false},
        {"Authentication-Results: other.example; spf=pass smtp.mailfrom=mx.example.test\r\n",
         false},
        {"X-Authentication-Results: mx.example.test; none\r\n", false},
        {"Authentication-Results: (unclosed mx.example.test; none\r\n", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (auth_results_claims(cases[i].field, strlen(cases[i].field), "mx.example.test") !=
            cases[i].ours)
            fail_msg("wrong for: %s", cases[i].field);
}

static void copy_text(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src);
}

static void test_auth_results_header(void **state)
{
    (void)state;
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    struct spf_outcome spf = {
        .result = SPF_SOFTFAIL, .domain = "", .mechanism = "", .reason = "", .explanation = ""};
    struct auth_results r = {.spf = &spf, .mailfrom = "alice@b.example", .helo = "h.b.example"};
    auth_results_header(&out, "mx.example.test", &r);
    assert_string_equal(buf_cstr(&out), "Authentication-Results: mx.example.test;\r\n"
                                        "\tspf=softfail smtp.mailfrom=alice@b.example\r\n");
    buf_reset(&out);
    r.mailfrom = ""; /* the null sender: the HELO identity */
    auth_results_header(&out, "mx.example.test", &r);
    assert_string_equal(buf_cstr(&out), "Authentication-Results: mx.example.test;\r\n"
                                        "\tspf=softfail smtp.helo=h.b.example\r\n");
    buf_reset(&out);
    r.mailfrom = "\"odd; local\"@b.example"; /* not a dot-atom: the domain only */
    auth_results_header(&out, "mx.example.test", &r);
    assert_string_equal(buf_cstr(&out), "Authentication-Results: mx.example.test;\r\n"
                                        "\tspf=softfail smtp.mailfrom=b.example\r\n");
    buf_reset(&out);
    /* DKIM and DMARC results follow, one method per line */
    struct dkim_result dk = {.status = DKIM_PASS,
                             .reason = "verified",
                             .domain = "b.example",
                             .selector = "sel",
                             .algorithm = "ed25519-sha256",
                             .header_b = "abcdEFGH",
                             .identity = "@b.example"};
    struct dmarc_verdict dm;
    memset(&dm, 0, sizeof(dm));
    dm.result = DMARC_RESULT_PASS;
    dm.record_found = true;
    dm.policy = DMARC_POLICY_REJECT;
    dm.disposition = DMARC_POLICY_NONE;
    copy_text(dm.from_domain, sizeof(dm.from_domain), "b.example");
    r.mailfrom = "alice@b.example";
    r.dkim_checked = true;
    r.dkim = &dk;
    r.ndkim = 1;
    r.dmarc = &dm;
    auth_results_header(&out, "mx.example.test", &r);
    assert_non_null(strstr(buf_cstr(&out), "Authentication-Results: mx.example.test;\r\n"
                                           "\tspf=softfail smtp.mailfrom=alice@b.example;\r\n"
                                           "\tdkim=pass"));
    assert_non_null(strstr(buf_cstr(&out), " header.d=b.example "));
    assert_non_null(
        strstr(buf_cstr(&out), ";\r\n\tdmarc=pass (p=reject dis=none) header.from=b.example\r\n"));
    buf_reset(&out);
    r.ndkim = 0; /* checked, no signature */
    r.dmarc = NULL;
    r.spf = NULL;
    auth_results_header(&out, "mx.example.test", &r);
    assert_string_equal(buf_cstr(&out), "Authentication-Results: mx.example.test;\r\n"
                                        "\tdkim=none\r\n");
    buf_reset(&out);
    r.dkim_checked = false;
    auth_results_header(&out, "mx.example.test", &r);
    assert_string_equal(buf_cstr(&out), "Authentication-Results: mx.example.test; none\r\n");
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_whole_at_every_split),
        cmocka_unit_test(test_odd_messages),
        cmocka_unit_test(test_field_names),
        cmocka_unit_test(test_auth_results_claims),
        cmocka_unit_test(test_auth_results_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
