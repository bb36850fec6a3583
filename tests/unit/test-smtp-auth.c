/* Unit tests: the STARTTLS and AUTH parts of the SMTP session. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "smtp/smtp-server.h"

struct t {
    struct smtp_server_session *s;
    struct buf out;
    int starttls_calls;
    int auth_calls;
    bool auth_pending;
    char last_resp[2][256];
    enum smtp_auth_mech last_mech;
    bool closed;
    int mails;
};

static void cb_output(void *ctx, const char *data, size_t len)
{
    buf_append(&((struct t *)ctx)->out, data, len);
}

static void cb_close(void *ctx)
{
    ((struct t *)ctx)->closed = true;
}

static enum smtp_decision cb_mail(void *ctx, const struct smtp_mail_args *a, struct smtp_reply *r)
{
    (void)a;
    (void)r;
    ((struct t *)ctx)->mails++;
    return SMTP_DECIDED;
}

static enum smtp_decision cb_rcpt(void *ctx, const struct smtp_rcpt_args *a, struct smtp_reply *r)
{
    (void)ctx;
    (void)a;
    (void)r;
    return SMTP_DECIDED;
}

static enum smtp_decision cb_data_start(void *ctx, struct smtp_reply *r)
{
    (void)ctx;
    (void)r;
    return SMTP_DECIDED;
}

static void cb_data_write(void *ctx, const char *d, size_t n)
{
    (void)ctx;
    (void)d;
    (void)n;
}

static enum smtp_decision cb_data_end(void *ctx, const struct smtp_data_result *res,
                                      struct smtp_reply *r)
{
    (void)ctx;
    (void)res;
    smtp_reply_set(r, 250, "2.0.0", "Ok");
    return SMTP_DECIDED;
}

static void cb_starttls(void *ctx)
{
    ((struct t *)ctx)->starttls_calls++;
}

static enum smtp_decision cb_auth(void *ctx, const struct smtp_auth_request *a,
                                  struct smtp_reply *r)
{
    struct t *t = ctx;
    t->auth_calls++;
    t->last_mech = a->mech;
    for (int i = 0; i < 2; i++) {
        size_t n = a->resp_len[i] < 255 ? a->resp_len[i] : 255;
        memcpy(t->last_resp[i], a->resp[i] ? a->resp[i] : "", n);
        t->last_resp[i][n] = '\0';
    }
    if (t->auth_pending)
        return SMTP_PENDING;
    /* The only good credentials here: PLAIN "\0bob\0secret", LOGIN
     * password "secret" (base64 "c2VjcmV0"). */
    bool ok = a->mech == SMTP_AUTH_LOGIN ? strcmp(t->last_resp[1], "c2VjcmV0") == 0
                                         : strcmp(t->last_resp[0], "AGJvYgBzZWNyZXQ=") == 0;
    if (ok)
        smtp_reply_set(r, 235, "2.7.0", "Authentication successful");
    else
        smtp_reply_set(r, 535, "5.7.8", "Authentication credentials invalid");
    return SMTP_DECIDED;
}

static const struct smtp_server_callbacks callbacks = {
    .output = cb_output,
    .close = cb_close,
    .on_mail = cb_mail,
    .on_rcpt = cb_rcpt,
    .on_data_start = cb_data_start,
    .on_data_write = cb_data_write,
    .on_data_end = cb_data_end,
    .on_starttls = cb_starttls,
    .on_auth = cb_auth,
};

static void start(struct t *t, bool submission, bool implicit)
{
    memset(t, 0, sizeof(*t));
    buf_init(&t->out, BUF_UNLIMITED);
    struct smtp_server_settings set = {
        .hostname = "mx.test",
        .max_message_size = 1000000,
        .max_recipients = 100,
        .max_errors = 50,
        .max_received = 100,
        .starttls = true,
        .auth = true,
        .tls = implicit,
        .require_tls = submission,
        .require_auth = submission,
    };
    t->s = smtp_server_session_new(&set, &callbacks, t);
    buf_reset(&t->out);
}

static void finish(struct t *t)
{
    smtp_server_session_free(&t->s);
    buf_free(&t->out);
}

/* Feed text and return (then forget) the output. */
static const char *feed(struct t *t, const char *text)
{
    static char last[8192];
    size_t used = smtp_server_input(t->s, text, strlen(text));
    (void)used;
    snprintf(last, sizeof(last), "%s", buf_cstr(&t->out));
    buf_reset(&t->out);
    return last;
}

static void test_starttls_and_injection(void **state)
{
    (void)state;
    struct t t;
    start(&t, false, false);
    const char *out = feed(&t, "EHLO c.test\r\n");
    assert_non_null(strstr(out, "250-STARTTLS\r\n") ? strstr(out, "STARTTLS")
                                                    : strstr(out, "STARTTLS"));
    assert_null(strstr(out, "AUTH")); /* never before TLS */
    /* STARTTLS with a command injected behind it in the same packet */
    const char *probe = "STARTTLS\r\nMAIL FROM:<evil@x.test>\r\n";
    size_t used = smtp_server_input(t.s, probe, strlen(probe));
    assert_int_equal(used, strlen("STARTTLS\r\n")); /* not one octet further */
    assert_string_equal(buf_cstr(&t.out), "220 2.0.0 Ready to start TLS\r\n");
    buf_reset(&t.out);
    assert_int_equal(t.starttls_calls, 1);
    assert_true(smtp_server_pending(t.s));
    /* the owner dropped the rest; TLS comes up; the session starts over */
    smtp_server_tls_started(t.s);
    assert_true(smtp_server_tls(t.s));
    assert_int_equal(t.mails, 0);
    out = feed(&t, "MAIL FROM:<a@b.test>\r\n");
    assert_string_equal(out, "503 5.5.1 Send EHLO or HELO first\r\n");
    out = feed(&t, "EHLO c.test\r\n");
    assert_null(strstr(out, "STARTTLS"));
    assert_non_null(strstr(out, "250 AUTH PLAIN LOGIN\r\n"));
    out = feed(&t, "STARTTLS\r\n");
    assert_string_equal(out, "503 5.5.1 TLS is already active\r\n");
    finish(&t);
}

static void test_submission_requires_tls_and_auth(void **state)
{
    (void)state;
    struct t t;
    start(&t, true, false);
    feed(&t, "EHLO c.test\r\n");
    const char *out = feed(&t, "MAIL FROM:<a@b.test>\r\n");
    assert_string_equal(out, "530 5.7.0 Must issue a STARTTLS command first\r\n");
    out = feed(&t, "AUTH PLAIN AGJvYgBzZWNyZXQ=\r\n");
    assert_string_equal(out, "538 5.7.11 Encryption required: issue STARTTLS first\r\n");
    assert_int_equal(t.auth_calls, 0);
    feed(&t, "STARTTLS\r\n");
    smtp_server_tls_started(t.s);
    feed(&t, "EHLO c.test\r\n");
    out = feed(&t, "MAIL FROM:<a@b.test>\r\n");
    assert_string_equal(out, "530 5.7.0 Authentication required\r\n");
    out = feed(&t, "AUTH PLAIN AGJvYgBzZWNyZXQ=\r\n");
    assert_string_equal(out, "235 2.7.0 Authentication successful\r\n");
    assert_true(smtp_server_authenticated(t.s));
    out = feed(&t, "AUTH PLAIN AGJvYgBzZWNyZXQ=\r\n");
    assert_string_equal(out, "503 5.5.1 Already authenticated\r\n");
    out = feed(&t, "MAIL FROM:<a@b.test>\r\n");
    assert_string_equal(out, "250 2.1.0 Ok\r\n");
    finish(&t);
}

static void test_auth_exchanges(void **state)
{
    (void)state;
    struct t t;
    start(&t, true, true); /* implicit TLS */
    feed(&t, "EHLO c.test\r\n");
    /* PLAIN with an empty challenge */
    const char *out = feed(&t, "AUTH PLAIN\r\n");
    assert_string_equal(out, "334 \r\n");
    out = feed(&t, "AGJvYgB3cm9uZw==\r\n");
    assert_string_equal(out, "535 5.7.8 Authentication credentials invalid\r\n");
    assert_int_equal(t.last_mech, SMTP_AUTH_PLAIN);
    assert_string_equal(t.last_resp[0], "AGJvYgB3cm9uZw==");
    /* cancelled */
    feed(&t, "AUTH LOGIN\r\n");
    out = feed(&t, "*\r\n");
    assert_string_equal(out, "501 5.0.0 Authentication canceled\r\n");
    /* unknown mechanism */
    out = feed(&t, "AUTH CRAM-MD5\r\n");
    assert_string_equal(out, "504 5.5.4 Unrecognized authentication type\r\n");
    /* LOGIN: user then password, prompts in base64 */
    out = feed(&t, "AUTH LOGIN\r\n");
    assert_string_equal(out, "334 VXNlcm5hbWU6\r\n");
    out = feed(&t, "Ym9i\r\n");
    assert_string_equal(out, "334 UGFzc3dvcmQ6\r\n");
    int calls = t.auth_calls;
    out = feed(&t, "c2VjcmV0\r\n");
    assert_string_equal(out, "235 2.7.0 Authentication successful\r\n");
    assert_int_equal(t.auth_calls, calls + 1);
    assert_string_equal(t.last_resp[0], "Ym9i");
    assert_string_equal(t.last_resp[1], "c2VjcmV0");
    finish(&t);

    /* LOGIN with the user name as initial response; a pending decision */
    start(&t, true, true);
    feed(&t, "EHLO c.test\r\n");
    t.auth_pending = true;
    out = feed(&t, "AUTH LOGIN Ym9i\r\n");
    assert_string_equal(out, "334 UGFzc3dvcmQ6\r\n");
    /* the password and a pipelined command: the latter waits */
    const char *in = "c2VjcmV0\r\nNOOP\r\n";
    size_t used = smtp_server_input(t.s, in, strlen(in));
    assert_int_equal(used, strlen("c2VjcmV0\r\n"));
    assert_true(smtp_server_pending(t.s));
    struct smtp_reply r;
    smtp_reply_set(&r, 235, "2.7.0", "Authentication successful");
    smtp_server_resume(t.s, &r);
    assert_true(smtp_server_authenticated(t.s));
    out = feed(&t, "NOOP\r\n");
    assert_string_equal(out, "235 2.7.0 Authentication successful\r\n250 2.0.0 Ok\r\n");
    finish(&t);
}

static void test_auth_line_limits(void **state)
{
    (void)state;
    struct t t;
    start(&t, true, true);
    feed(&t, "EHLO c.test\r\n");
    /* an initial response of 12288 octets (the RFC 4954 minimum) is taken */
    size_t n = SMTP_AUTH_LINE_MAX - 2 - strlen("AUTH PLAIN ");
    char *line = malloc(SMTP_AUTH_LINE_MAX + 10);
    memcpy(line, "AUTH PLAIN ", 11);
    memset(line + 11, 'A', n);
    memcpy(line + 11 + n, "\r\n", 3);
    feed(&t, line);
    assert_int_equal(t.auth_calls, 1);
    /* one more octet is too long */
    memset(line + 11, 'A', n + 1);
    memcpy(line + 12 + n, "\r\n", 3);
    const char *out = feed(&t, line);
    assert_string_equal(out, "500 5.5.2 Line too long\r\n");
    assert_int_equal(t.auth_calls, 1);
    free(line);
    finish(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_starttls_and_injection),
        cmocka_unit_test(test_submission_requires_tls_and_auth),
        cmocka_unit_test(test_auth_exchanges),
        cmocka_unit_test(test_auth_line_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
