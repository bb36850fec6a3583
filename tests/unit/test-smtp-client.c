/* Unit tests: SMTP replies as a client reads them, and the client session
 * driven by scripted server replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp-client.h"
#include "smtp/smtp-command.h"

static void test_reply_parser(void **state)
{
    (void)state;
    struct smtp_reply_parser p;
    smtp_reply_parser_init(&p);
    struct smtp_client_reply r;
    smtp_client_reply_init(&r);
    size_t used;
    const char *multi = "250-mx.example.org Hello\r\n250-PIPELINING\r\n250 SIZE 1000\r\n221 x";
    /* fed one octet at a time, the result is the same */
    size_t pos = 0;
    enum smtp_reply_parse st = SMTP_REPLY_NEED_MORE;
    size_t fed = 0;
    char acc[256];
    size_t alen = 0;
    while (st != SMTP_REPLY_DONE && fed < strlen(multi)) {
        acc[alen++] = multi[fed++];
        st = smtp_reply_parse(&p, acc + pos, alen - pos, &used, &r);
        pos += used;
    }
    assert_int_equal(st, SMTP_REPLY_DONE);
    assert_int_equal(r.code, 250);
    assert_int_equal(r.lines, 3);
    assert_string_equal(buf_cstr(&r.text), "mx.example.org Hello\nPIPELINING\nSIZE 1000");
    assert_string_equal(r.enh, "");
    /* enhanced codes, bare LF accepted */
    st = smtp_reply_parse(&p, "550 5.1.1 <x@y>: no\n", 20, &used, &r);
    assert_int_equal(st, SMTP_REPLY_DONE);
    assert_int_equal(r.code, 550);
    assert_string_equal(r.enh, "5.1.1");
    struct buf flat;
    buf_init(&flat, BUF_UNLIMITED);
    smtp_client_reply_flat(&r, &flat);
    assert_string_equal(buf_cstr(&flat), "550 5.1.1 <x@y>: no");
    buf_free(&flat);
    /* a code without text, and a class mismatch in the enhanced code */
    st = smtp_reply_parse(&p, "354\r\n", 5, &used, &r);
    assert_int_equal(st, SMTP_REPLY_DONE);
    assert_int_equal(r.code, 354);
    st = smtp_reply_parse(&p, "450 5.1.1 odd\r\n", 15, &used, &r);
    assert_int_equal(r.code, 450);
    assert_string_equal(r.enh, "");
    /* not replies */
    static const char *const bad[] = {"25 short\r\n",       "2500 long\r\n", "abc text\r\n",
                                      "250x\r\n",           "099 low\r\n",   "600 high\r\n",
                                      "250-a\r\n251 b\r\n", "250 nul\0x\r\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct smtp_reply_parser q;
        smtp_reply_parser_init(&q);
        size_t len = i == 7 ? 11 : strlen(bad[i]);
        if (smtp_reply_parse(&q, bad[i], len, &used, &r) != SMTP_REPLY_BAD)
            fail_msg("bad reply %zu accepted", i);
        smtp_reply_parser_free(&q);
    }
    smtp_client_reply_free(&r);
    smtp_reply_parser_free(&p);
}

/* A scripted server: the test plays the replies, the client talks. */
struct t {
    struct smtp_client *c;
    struct buf out;
    int ready, body, done, closed, starttls;
    enum smtp_outcome outcome[8];
    char reply[8][256];
    enum smtp_outcome close_o;
    char close_reason[256];
};

static void o_output(void *ctx, const char *d, size_t n)
{
    buf_append(&((struct t *)ctx)->out, d, n);
}
static void o_starttls(void *ctx)
{
    ((struct t *)ctx)->starttls++;
}
static void o_ready(void *ctx)
{
    ((struct t *)ctx)->ready++;
}
static void o_body(void *ctx)
{
    ((struct t *)ctx)->body++;
}
static void o_rcpt(void *ctx, size_t i, enum smtp_outcome o, const char *reply)
{
    struct t *t = ctx;
    t->outcome[i] = o;
    snprintf(t->reply[i], sizeof(t->reply[i]), "%s", reply);
}
static void o_done(void *ctx)
{
    ((struct t *)ctx)->done++;
}
static void o_close(void *ctx, enum smtp_outcome o, const char *reason)
{
    struct t *t = ctx;
    t->closed++;
    t->close_o = o;
    snprintf(t->close_reason, sizeof(t->close_reason), "%s", reason);
}

static const struct smtp_client_callbacks cbs = {
    .output = o_output,
    .on_starttls = o_starttls,
    .on_ready = o_ready,
    .on_body = o_body,
    .on_rcpt = o_rcpt,
    .on_message_done = o_done,
    .on_close = o_close,
};

static void start(struct t *t, bool lmtp)
{
    memset(t, 0, sizeof(*t));
    buf_init(&t->out, BUF_UNLIMITED);
    struct smtp_client_settings set = {.helo_name = "me.test", .lmtp = lmtp, .starttls = true};
    t->c = smtp_client_new(&set, &cbs, t);
}

static void finish(struct t *t)
{
    smtp_client_free(&t->c);
    buf_free(&t->out);
}

/* Play server text; return what the client said (and forget it). */
static const char *server(struct t *t, const char *text)
{
    static char last[4096];
    size_t used = smtp_client_input(t->c, text, strlen(text));
    assert_int_equal(used, strlen(text));
    snprintf(last, sizeof(last), "%s", buf_cstr(&t->out));
    buf_reset(&t->out);
    return last;
}

static const struct smtp_client_rcpt rcpts[] = {
    {"a@x.test", "rfc822;A@x.test", SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE},
    {"b@x.test", NULL, 0},
    {"c@x.test", NULL, 0},
};

static void test_pipelined_partial(void **state)
{
    (void)state;
    struct t t;
    start(&t, false);
    assert_string_equal(server(&t, "220 mx.x.test ESMTP\r\n"), "EHLO me.test\r\n");
    assert_string_equal(server(&t, "250-mx.x.test\r\n250-PIPELINING\r\n250-DSN\r\n250-8BITMIME\r\n"
                                   "250 SIZE 100000\r\n"),
                        "");
    assert_int_equal(t.ready, 1);
    assert_string_equal(smtp_client_peer_name(t.c), "mx.x.test");
    struct smtp_client_message m = {.sender = "s@me.test",
                                    .size = 1234,
                                    .body_8bit = true,
                                    .has_8bit = true,
                                    .ret = SMTP_RET_HDRS,
                                    .envid = "QQ314",
                                    .rcpts = rcpts,
                                    .n = 3};
    smtp_client_send(t.c, &m);
    assert_string_equal(buf_cstr(&t.out),
                        "MAIL FROM:<s@me.test> SIZE=1234 BODY=8BITMIME RET=HDRS ENVID=QQ314\r\n"
                        "RCPT TO:<a@x.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;A@x.test\r\n"
                        "RCPT TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\nDATA\r\n");
    buf_reset(&t.out);
    server(&t, "250 ok\r\n250 ok\r\n550 5.1.1 no such user\r\n451 4.2.0 busy\r\n354 go\r\n");
    assert_int_equal(t.body, 1);
    assert_int_equal(t.outcome[1], SMTP_OUTCOME_PERM);
    assert_string_equal(t.reply[1], "550 5.1.1 no such user");
    assert_int_equal(t.outcome[2], SMTP_OUTCOME_TEMP);
    /* dot-stuffing, and a missing final CRLF */
    static const char body[] = "Subject: x\r\n\r\n.hidden\r\n..two\r\nlast";
    smtp_client_body(t.c, body, sizeof body - 1);
    smtp_client_body_end(t.c);
    assert_string_equal(buf_cstr(&t.out), "Subject: x\r\n\r\n..hidden\r\n...two\r\nlast\r\n.\r\n");
    buf_reset(&t.out);
    server(&t, "250 2.0.0 queued as X\r\n");
    assert_int_equal(t.outcome[0], SMTP_OUTCOME_OK);
    assert_string_equal(t.reply[0], "250 2.0.0 queued as X");
    assert_int_equal(t.done, 1);
    assert_int_equal(t.ready, 2); /* ready for the next message */
    smtp_client_quit(t.c);
    assert_string_equal(buf_cstr(&t.out), "QUIT\r\n");
    buf_reset(&t.out);
    server(&t, "221 bye\r\n");
    assert_int_equal(t.closed, 1);
    assert_int_equal(t.close_o, SMTP_OUTCOME_OK);
    finish(&t);
}

static void test_checks_before_sending(void **state)
{
    (void)state;
    struct t t;
    start(&t, false);
    server(&t, "220 x\r\n");
    server(&t, "250-x\r\n250 SIZE 1000\r\n"); /* no 8BITMIME, no SMTPUTF8 */
    struct smtp_client_message m = {.sender = "", .size = 2000, .rcpts = rcpts, .n = 1};
    smtp_client_send(t.c, &m);
    assert_int_equal(t.outcome[0], SMTP_OUTCOME_PERM);
    assert_non_null(strstr(t.reply[0], "5.3.4"));
    assert_string_equal(buf_cstr(&t.out), ""); /* nothing sent */
    m.size = 10;
    m.has_8bit = true;
    smtp_client_send(t.c, &m);
    assert_non_null(strstr(t.reply[0], "5.6.3"));
    m.has_8bit = false;
    m.body_8bit = true; /* declared, but really 7-bit: sent without BODY= */
    m.smtputf8 = true;
    smtp_client_send(t.c, &m);
    assert_non_null(strstr(t.reply[0], "5.6.7"));
    m.smtputf8 = false;
    smtp_client_send(t.c, &m);
    assert_string_equal(buf_cstr(&t.out), "MAIL FROM:<> SIZE=10\r\n"); /* no pipelining */
    buf_reset(&t.out);
    assert_string_equal(server(&t, "250 ok\r\n"), "RCPT TO:<a@x.test>\r\n");
    assert_string_equal(server(&t, "250 ok\r\n"), "DATA\r\n");
    assert_string_equal(server(&t, "451 4.3.0 no\r\n"), "RSET\r\n");
    assert_int_equal(t.outcome[0], SMTP_OUTCOME_TEMP);
    finish(&t);

    /* RFC 1870: no SIZE= to a server that does not offer SIZE */
    start(&t, false);
    server(&t, "220 x\r\n");
    server(&t, "250-x\r\n250 8BITMIME\r\n");
    m.size = 10;
    smtp_client_send(t.c, &m);
    assert_string_equal(buf_cstr(&t.out), "MAIL FROM:<>\r\n");
    finish(&t);
}

static void test_helo_fallback_and_starttls(void **state)
{
    (void)state;
    struct t t;
    start(&t, false);
    server(&t, "220 old\r\n");
    assert_string_equal(server(&t, "502 what?\r\n"), "HELO me.test\r\n");
    server(&t, "250 old\r\n");
    assert_int_equal(t.ready, 1);
    finish(&t);

    start(&t, false);
    server(&t, "220 x\r\n");
    assert_string_equal(server(&t, "250-x\r\n250 STARTTLS\r\n"), "STARTTLS\r\n");
    server(&t, "220 go ahead\r\n");
    assert_int_equal(t.starttls, 1);
    assert_false(smtp_client_tls(t.c));
    smtp_client_tls_started(t.c);
    assert_true(smtp_client_tls(t.c));
    assert_string_equal(buf_cstr(&t.out), "EHLO me.test\r\n");
    buf_reset(&t.out);
    server(&t, "250-x\r\n250 STARTTLS\r\n"); /* not again under TLS */
    assert_int_equal(t.ready, 1);
    finish(&t);

    /* STARTTLS refused: go on in plaintext */
    start(&t, false);
    server(&t, "220 x\r\n");
    server(&t, "250-x\r\n250 STARTTLS\r\n");
    server(&t, "454 4.7.0 TLS not available\r\n");
    assert_int_equal(t.ready, 1);
    finish(&t);

    /* a greeting that refuses: the session closes, temporary */
    start(&t, false);
    server(&t, "554 go away\r\n");
    assert_int_equal(t.closed, 1);
    assert_int_equal(t.close_o, SMTP_OUTCOME_TEMP);
    assert_string_equal(t.close_reason, "554 go away");
    finish(&t);
}

static void test_lmtp_and_abort(void **state)
{
    (void)state;
    struct t t;
    start(&t, true);
    assert_string_equal(server(&t, "220 lmtp\r\n"), "LHLO me.test\r\n");
    server(&t, "250-lmtp\r\n250 PIPELINING\r\n");
    struct smtp_client_message m = {.sender = "s@x", .size = 5, .rcpts = rcpts, .n = 3};
    smtp_client_send(t.c, &m);
    buf_reset(&t.out);
    server(&t, "250 ok\r\n250 ok\r\n550 no\r\n250 ok\r\n354 go\r\n");
    smtp_client_body(t.c, "hi\r\n", 4);
    smtp_client_body_end(t.c);
    /* one reply per accepted recipient (a and c), in order */
    server(&t, "250 2.0.0 a stored\r\n");
    assert_int_equal(t.done, 0);
    server(&t, "452 4.2.2 c over quota\r\n");
    assert_int_equal(t.done, 1);
    assert_int_equal(t.outcome[0], SMTP_OUTCOME_OK);
    assert_int_equal(t.outcome[1], SMTP_OUTCOME_PERM);
    assert_int_equal(t.outcome[2], SMTP_OUTCOME_TEMP);
    assert_string_equal(t.reply[2], "452 4.2.2 c over quota");
    finish(&t);

    /* the connection dies mid-message: every recipient gets the outcome */
    start(&t, false);
    server(&t, "220 x\r\n");
    server(&t, "250 x\r\n");
    smtp_client_send(t.c, &m);
    server(&t, "250 ok\r\n");
    smtp_client_abort(t.c, SMTP_OUTCOME_TEMP, "lost connection");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(t.outcome[i], SMTP_OUTCOME_TEMP);
        assert_string_equal(t.reply[i], "lost connection");
    }
    assert_int_equal(t.done, 1);
    assert_int_equal(t.closed, 1);
    finish(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_parser),
        cmocka_unit_test(test_pipelined_partial),
        cmocka_unit_test(test_checks_before_sending),
        cmocka_unit_test(test_helo_fallback_and_starttls),
        cmocka_unit_test(test_lmtp_and_abort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
