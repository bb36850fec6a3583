/* Unit tests of src/pop3/pop3-server.c: the POP3 state machine, with an
 * owner that records every reply and answers logins and the maildrop
 * from a table, so that the tests assert exact bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "pop3/pop3-server.h"

#define GREETING "+OK mail.test POP3 server ready\r\n"
/* "dXNlcgB1c2VyAHNlY3JldA==" is PLAIN for user "user", password "secret". */
#define PLAIN_OK "dXNlcgB1c2VyAHNlY3JldA=="

static const char *const msg_texts[] = {
    "Subject: one\r\n\r\nline 1\r\n.dot line\r\nline 3\r\n",
    "Subject: two\r\nX: y\r\n\r\nbody\r\n",
    "Subject: three\r\n\r\nno final line end",
};

struct t {
    struct pop3_server *s;
    struct buf out;
    struct buf log;
    int closed;
    int starttls;
    bool auth_pending; /* an auth callback waits for t_auth_answer */
    char auth_user[256];
    char auth_pass[256];
    bool committed;
    bool deleted[3];
    bool fail_commit;
};

static void cb_output(void *ctx, const char *data, size_t len)
{
    struct t *t = ctx;
    assert_int_equal(t->closed, 0); /* nothing is sent after close */
    assert_int_equal(buf_append(&t->out, data, len), 0);
}

static void cb_close(void *ctx)
{
    ((struct t *)ctx)->closed++;
}

static void cb_starttls(void *ctx)
{
    ((struct t *)ctx)->starttls++;
}

static void cb_auth(void *ctx, const char *user, const char *password, size_t len)
{
    struct t *t = ctx;
    assert_false(t->auth_pending);
    t->auth_pending = true;
    snprintf(t->auth_user, sizeof(t->auth_user), "%s", user);
    snprintf(t->auth_pass, sizeof(t->auth_pass), "%.*s", (int)len, password);
}

static void cb_open(void *ctx, const char *user)
{
    struct t *t = ctx;
    assert_string_equal(user, "user@mail.test");
    struct pop3_message m[3];
    for (size_t i = 0; i < 3; i++) {
        m[i].size = strlen(msg_texts[i]);
        snprintf(m[i].uidl, sizeof(m[i].uidl), "uid-%zu", i + 1);
    }
    pop3_server_maildrop_done(t->s, POP3_OK, m, 3);
}

static int cb_message(void *ctx, size_t i, const char **data, size_t *len)
{
    (void)ctx;
    assert_true(i < 3);
    *data = msg_texts[i];
    *len = strlen(msg_texts[i]);
    return 0;
}

static int cb_commit(void *ctx, const bool *deleted, size_t n)
{
    struct t *t = ctx;
    assert_int_equal(n, 3);
    memcpy(t->deleted, deleted, sizeof(t->deleted));
    t->committed = true;
    return t->fail_commit ? -1 : 0;
}

static void cb_log(void *ctx, const char *text)
{
    struct t *t = ctx;
    buf_printf(&t->log, "%s\n", text);
}

static const struct pop3_server_callbacks callbacks = {
    .output = cb_output,
    .close = cb_close,
    .starttls = cb_starttls,
    .auth = cb_auth,
    .open = cb_open,
    .message = cb_message,
    .commit = cb_commit,
    .log = cb_log,
};

static void t_init(struct t *t, bool tls)
{
    memset(t, 0, sizeof(*t));
    buf_init(&t->out, BUF_UNLIMITED);
    buf_init(&t->log, BUF_UNLIMITED);
    struct pop3_settings set = {.hostname = "mail.test", .tls = tls, .starttls = true};
    t->s = pop3_server_new(&set, &callbacks, t);
    assert_string_equal(buf_cstr(&t->out), GREETING);
    buf_reset(&t->out);
}

static void t_free(struct t *t)
{
    pop3_server_free(&t->s);
    assert_null(t->s);
    buf_free(&t->out);
    buf_free(&t->log);
}

/* Feed text whole; everything must be used unless waiting or closing. */
static void t_send(struct t *t, const char *text)
{
    size_t len = strlen(text);
    size_t used = pop3_server_input(t->s, text, len);
    if (!pop3_server_waiting(t->s) && !pop3_server_closing(t->s))
        assert_int_equal(used, len);
}

/* Send and expect exactly this output; then forget it. */
static void t_expect(struct t *t, const char *text, const char *want)
{
    t_send(t, text);
    assert_string_equal(buf_cstr(&t->out), want);
    buf_reset(&t->out);
}

static void t_auth_answer(struct t *t, enum pop3_result r)
{
    assert_true(t->auth_pending);
    t->auth_pending = false;
    pop3_server_auth_done(t->s, r, "user@mail.test");
}

static void t_login(struct t *t)
{
    t_expect(t, "AUTH PLAIN " PLAIN_OK "\r\n", "");
    assert_string_equal(t->auth_user, "user");
    assert_string_equal(t->auth_pass, "secret");
    t_auth_answer(t, POP3_OK);
    assert_string_equal(buf_cstr(&t->out), "+OK Logged in, 3 messages (106 octets)\r\n");
    buf_reset(&t->out);
}

static void test_capa_before_and_after_tls(void **state)
{
    (void)state;
    struct t t;
    t_init(&t, false);
    t_expect(&t, "CAPA\r\n",
             "+OK Capability list follows\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n"
             "AUTH-RESP-CODE\r\nPIPELINING\r\nSTLS\r\nIMPLEMENTATION postino\r\n.\r\n");
    /* No login in the clear. */
    t_expect(&t, "USER user\r\n",
             "-ERR [AUTH] Plaintext authentication is not allowed without TLS (use STLS)\r\n");
    t_expect(&t, "AUTH PLAIN " PLAIN_OK "\r\n",
             "-ERR [AUTH] Plaintext authentication is not allowed without TLS (use STLS)\r\n");
    assert_false(t.auth_pending);
    /* STLS: what follows the command in the same packet waits. */
    const char *two = "STLS\r\nCAPA\r\n";
    size_t used = pop3_server_input(t.s, two, strlen(two));
    assert_int_equal(used, 6);
    assert_string_equal(buf_cstr(&t.out), "+OK Begin TLS negotiation\r\n");
    assert_int_equal(t.starttls, 1);
    assert_true(pop3_server_waiting(t.s));
    buf_reset(&t.out);
    pop3_server_tls_started(t.s);
    t_expect(&t, "CAPA\r\n",
             "+OK Capability list follows\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n"
             "AUTH-RESP-CODE\r\nPIPELINING\r\nUSER\r\nSASL PLAIN\r\nIMPLEMENTATION "
             "postino\r\n.\r\n");
    t_expect(&t, "STLS\r\n", "-ERR TLS is already active\r\n");
    t_free(&t);
}

static void test_user_pass(void **state)
{
    (void)state;
    struct t t;
    t_init(&t, true);
    t_expect(&t, "PASS secret\r\n", "-ERR Give USER first\r\n");
    t_expect(&t, "USER user\r\n", "+OK\r\n");
    t_expect(&t, "PASS with spaces inside\r\n", "");
    assert_string_equal(t.auth_pass, "with spaces inside");
    /* While the check runs, further input waits. */
    assert_int_equal(pop3_server_input(t.s, "STAT\r\n", 6), 0);
    t_auth_answer(&t, POP3_FAIL);
    assert_string_equal(buf_cstr(&t.out), "-ERR [AUTH] Authentication failed\r\n");
    buf_reset(&t.out);
    t_expect(&t, "STAT\r\n", "-ERR Unknown command, or not allowed before login\r\n");
    t_expect(&t, "USER user\r\n", "+OK\r\n");
    t_expect(&t, "PASS secret\r\n", "");
    t_auth_answer(&t, POP3_TEMPFAIL);
    assert_string_equal(buf_cstr(&t.out),
                        "-ERR [SYS/TEMP] Temporary authentication failure, try again later\r\n");
    buf_reset(&t.out);
    t_expect(&t, "USER user\r\n", "+OK\r\n");
    t_expect(&t, "PASS secret\r\n", "");
    t_auth_answer(&t, POP3_OK);
    assert_string_equal(buf_cstr(&t.out), "+OK Logged in, 3 messages (106 octets)\r\n");
    assert_non_null(pop3_server_user(t.s));
    t_free(&t);
}

static void test_auth_failures_close(void **state)
{
    (void)state;
    struct t t;
    t_init(&t, true);
    for (int i = 0; i < POP3_AUTH_TRIES; i++) {
        buf_reset(&t.out);
        t_expect(&t, "AUTH PLAIN " PLAIN_OK "\r\n", "");
        t_auth_answer(&t, POP3_FAIL);
    }
    assert_int_equal(t.closed, 1);
    assert_non_null(strstr(buf_cstr(&t.out), "too many failures, closing\r\n"));
    t_free(&t);
}

static void test_auth_plain_continuation(void **state)
{
    (void)state;
    struct t t;
    t_init(&t, true);
    t_expect(&t, "AUTH\r\n", "+OK\r\nPLAIN\r\n.\r\n");
    t_expect(&t, "AUTH CRAM-MD5\r\n", "-ERR Unsupported authentication mechanism\r\n");
    t_expect(&t, "AUTH PLAIN\r\n", "+ \r\n");
    t_expect(&t, "*\r\n", "-ERR Authentication cancelled\r\n");
    t_expect(&t, "AUTH PLAIN\r\n", "+ \r\n");
    t_expect(&t, "not base64!\r\n", "-ERR Cannot decode the response\r\n");
    /* An authzid naming someone else is refused unchecked. */
    /* "other\0user\0secret" */
    t_expect(&t, "AUTH PLAIN b3RoZXIAdXNlcgBzZWNyZXQ=\r\n",
             "-ERR [AUTH] Authentication failed\r\n");
    assert_false(t.auth_pending);
    t_expect(&t, "AUTH PLAIN\r\n", "+ \r\n");
    t_expect(&t, PLAIN_OK "\r\n", "");
    t_auth_answer(&t, POP3_OK);
    assert_string_equal(buf_cstr(&t.out), "+OK Logged in, 3 messages (106 octets)\r\n");
    t_free(&t);
}

static void test_transaction(void **state)
{
    (void)state;
    struct t t;
    t_init(&t, true);
    t_login(&t);
    t_expect(&t, "STAT\r\n", "+OK 3 106\r\n");
    t_expect(&t, "LIST\r\n", "+OK Scan listing follows\r\n1 43\r\n2 28\r\n3 35\r\n.\r\n");
    t_expect(&t, "LIST 2\r\n", "+OK 2 28\r\n");
    t_expect(&t, "LIST 4\r\n", "-ERR No such message\r\n");
    t_expect(&t, "LIST 0\r\n", "-ERR Invalid message number\r\n");
    t_expect(&t, "LIST x\r\n", "-ERR Invalid message number\r\n");
    t_expect(&t, "UIDL\r\n",
             "+OK Unique-ID listing follows\r\n1 uid-1\r\n2 uid-2\r\n3 "
             "uid-3\r\n.\r\n");
    t_expect(&t, "uidl 3\r\n", "+OK 3 uid-3\r\n");
    /* Byte-stuffing of a line that starts with a dot. */
    t_expect(&t, "RETR 1\r\n",
             "+OK 43 octets\r\nSubject: one\r\n\r\nline 1\r\n..dot line\r\nline 3\r\n.\r\n");
    /* A message without a final line end gets one before the dot. */
    t_expect(&t, "RETR 3\r\n", "+OK 35 octets\r\nSubject: three\r\n\r\nno final line end\r\n.\r\n");
    t_expect(&t, "TOP 1 0\r\n", "+OK Top of message follows\r\nSubject: one\r\n\r\n.\r\n");
    t_expect(&t, "TOP 1 2\r\n",
             "+OK Top of message follows\r\nSubject: one\r\n\r\nline 1\r\n..dot line\r\n.\r\n");
    t_expect(&t, "TOP 2 100\r\n",
             "+OK Top of message follows\r\nSubject: two\r\nX: y\r\n\r\nbody\r\n.\r\n");
    t_expect(&t, "TOP 1\r\n", "-ERR Usage: TOP msg lines\r\n");
    t_expect(&t, "DELE 2\r\n", "+OK Message deleted\r\n");
    t_expect(&t, "DELE 2\r\n", "-ERR Message already deleted\r\n");
    t_expect(&t, "RETR 2\r\n", "-ERR Message already deleted\r\n");
    t_expect(&t, "STAT\r\n", "+OK 2 78\r\n");
    t_expect(&t, "LIST\r\n", "+OK Scan listing follows\r\n1 43\r\n3 35\r\n.\r\n");
    t_expect(&t, "RSET\r\n", "+OK\r\n");
    t_expect(&t, "STAT\r\n", "+OK 3 106\r\n");
    t_expect(&t, "NOOP\r\n", "+OK\r\n");
    t_expect(&t, "USER x\r\n", "-ERR Unknown command\r\n");
    t_expect(&t, "DELE 1\r\n", "+OK Message deleted\r\n");
    t_expect(&t, "QUIT\r\n", "+OK Bye (2 messages left)\r\n");
    assert_true(t.committed);
    assert_true(t.deleted[0]);
    assert_false(t.deleted[1]);
    assert_int_equal(t.closed, 1);
    assert_non_null(strstr(buf_cstr(&t.log), "logout: deleted=1 left=2"));
    t_free(&t);
}

static void test_quit_without_deletions_commits_nothing(void **state)
{
    (void)state;
    struct t t;
    t_init(&t, true);
    t_login(&t);
    t_expect(&t, "QUIT\r\n", "+OK Bye (3 messages left)\r\n");
    assert_false(t.committed);
    t_free(&t);
}

static void test_commit_failure(void **state)
{
    (void)state;
    struct t t;
    t_init(&t, true);
    t_login(&t);
    t.fail_commit = true;
    t_expect(&t, "DELE 3\r\n", "+OK Message deleted\r\n");
    t_expect(&t, "QUIT\r\n", "-ERR [SYS/TEMP] Some deleted messages were not removed\r\n");
    assert_int_equal(t.closed, 1);
    t_free(&t);
}

static void test_lines(void **state)
{
    (void)state;
    struct t t;
    t_init(&t, true);
    t_expect(&t, "NOOP\n", "-ERR Lines must end with CRLF\r\n");
    char longline[POP3_LINE_MAX + 10];
    memset(longline, 'A', sizeof(longline));
    memcpy(longline + sizeof(longline) - 3, "\r\n", 3);
    t_expect(&t, longline, "-ERR Line too long\r\n");
    /* Exactly at the limit is a command like any other. */
    char atmax[POP3_LINE_MAX + 3];
    memset(atmax, 'A', POP3_LINE_MAX);
    memcpy(atmax + POP3_LINE_MAX, "\r\n", 3);
    t_expect(&t, atmax, "-ERR Unknown command\r\n");
    /* Far past the buffer: discarded up to the line end, one error. */
    size_t huge = 100000;
    char *h = malloc(huge + 3);
    memset(h, 'B', huge);
    memcpy(h + huge, "\r\n", 3);
    t_expect(&t, h, "-ERR Line too long\r\n");
    free(h);
    /* A NUL inside a command. */
    assert_int_equal(pop3_server_input(t.s, "US\0R x\r\n", 8), 8);
    assert_string_equal(buf_cstr(&t.out), "-ERR Invalid characters in the command\r\n");
    t_free(&t);
}

static void test_split_at_every_byte(void **state)
{
    (void)state;
    const char *script = "AUTH PLAIN " PLAIN_OK "\r\n";
    const char *rest = "STAT\r\nLIST 1\r\nRETR 1\r\nQUIT\r\n";
    const char *want = "+OK 3 106\r\n+OK 1 43\r\n+OK 43 octets\r\nSubject: one\r\n\r\nline "
                       "1\r\n..dot line\r\nline 3\r\n.\r\n+OK Bye (3 messages left)\r\n";
    for (size_t cut = 1; cut < strlen(rest); cut++) {
        struct t t;
        t_init(&t, true);
        t_expect(&t, script, "");
        t_auth_answer(&t, POP3_OK);
        buf_reset(&t.out);
        size_t used = pop3_server_input(t.s, rest, cut);
        assert_int_equal(used, cut);
        pop3_server_input(t.s, rest + cut, strlen(rest) - cut);
        assert_string_equal(buf_cstr(&t.out), want);
        t_free(&t);
    }
}

static void test_too_many_errors(void **state)
{
    (void)state;
    struct t t;
    t_init(&t, true);
    for (int i = 0; i < POP3_ERRORS_MAX - 1; i++)
        t_expect(&t, "BOGUS\r\n", "-ERR Unknown command\r\n");
    t_expect(&t, "BOGUS\r\n", "-ERR Unknown command; too many errors, closing\r\n");
    assert_int_equal(t.closed, 1);
    t_free(&t);
}

static void test_timeout_and_shutdown(void **state)
{
    (void)state;
    struct t t;
    t_init(&t, true);
    pop3_server_timeout(t.s);
    assert_string_equal(buf_cstr(&t.out), "-ERR Disconnected for inactivity\r\n");
    assert_int_equal(t.closed, 1);
    pop3_server_shutdown(t.s); /* already closing: nothing more */
    assert_int_equal(t.closed, 1);
    t_free(&t);
    t_init(&t, true);
    pop3_server_shutdown(t.s);
    assert_string_equal(buf_cstr(&t.out), "-ERR [SYS/TEMP] Server shutting down\r\n");
    t_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capa_before_and_after_tls),
        cmocka_unit_test(test_user_pass),
        cmocka_unit_test(test_auth_failures_close),
        cmocka_unit_test(test_auth_plain_continuation),
        cmocka_unit_test(test_transaction),
        cmocka_unit_test(test_quit_without_deletions_commits_nothing),
        cmocka_unit_test(test_commit_failure),
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_split_at_every_byte),
        cmocka_unit_test(test_too_many_errors),
        cmocka_unit_test(test_timeout_and_shutdown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
