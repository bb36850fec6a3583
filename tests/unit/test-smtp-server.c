/* Unit tests of src/smtp/smtp-server.c: the SMTP state machine, fed
 * through callbacks that record everything (replies, message octets,
 * decisions asked for) so that the tests assert exact bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "smtp/smtp-server.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#define GREETING "220 mx.test ESMTP postino\r\n"
#define EHLO_REPLY(name, size)                                                                     \
    "250-mx.test Hello " name "\r\n250-PIPELINING\r\n250-SIZE " size "\r\n250-8BITMIME\r\n"        \
    "250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250-DSN\r\n250 CHUNKING\r\n"
#define EHLO_OK   EHLO_REPLY("client.example", "1000")
#define MAIL_OK   "250 2.1.0 Ok\r\n"
#define RCPT_OK   "250 2.1.5 Ok\r\n"
#define DATA_GO   "354 End data with <CR><LF>.<CR><LF>\r\n"
#define NOOP_OK   "250 2.0.0 Ok\r\n"
#define RSET_OK   "250 2.0.0 Ok\r\n"
#define QUIT_OK   "221 2.0.0 mx.test closing connection\r\n"
#define NEED_MAIL "503 5.5.1 Need MAIL command first\r\n"
#define BARE_REFUSED                                                                               \
    "554 5.6.0 Message refused: bare CR or LF in the message; only CRLF ends a line\r\n"
#define TOO_LONG    "500 5.5.2 Line too long\r\n"
#define UNKNOWN_CMD "500 5.5.1 Command unrecognized\r\n"

/* The recording owner of a session. */
struct t {
    struct smtp_server_session *s;
    struct smtp_server_settings set;
    struct buf in;     /* received, not yet consumed */
    struct buf out;    /* everything sent to the client */
    struct buf events; /* one line per callback */
    struct buf msg;    /* octets of the message being received */
    struct buf stored; /* the last message handed to on_data_end */
    struct smtp_data_result res;
    unsigned queued;
    int closed;
    /* Decisions: answer later (SMTP_PENDING) instead of at once. */
    bool pend_helo, pend_mail, pend_rcpt, pend_data_start, pend_data_end;
    /* Resume pending decisions by itself after each input. */
    bool auto_resume;
    struct smtp_reply pending_reply; /* what a pending decision will answer */
    bool has_pending_reply;
    bool refuse_data; /* on_data_start says 451 */
};

static void cb_output(void *ctx, const char *data, size_t len)
{
    struct t *t = ctx;
    assert_true(len > 0);
    assert_int_equal(t->closed, 0); /* nothing is sent after close */
    assert_int_equal(buf_append(&t->out, data, len), 0);
}

static void cb_close(void *ctx)
{
    struct t *t = ctx;
    t->closed++;
    buf_append_str(&t->events, "close\n");
}

/* Answer now, or remember the answer and say PENDING. */
static enum smtp_decision decide(struct t *t, bool pend, struct smtp_reply *r)
{
    if (!pend)
        return SMTP_DECIDED;
    assert_false(t->has_pending_reply);
    t->pending_reply = *r;
    t->has_pending_reply = true;
    return SMTP_PENDING;
}

static enum smtp_decision cb_helo(void *ctx, const char *name, bool ehlo, struct smtp_reply *r)
{
    struct t *t = ctx;
    buf_printf(&t->events, "%s %s\n", ehlo ? "ehlo" : "helo", name);
    if (strcmp(name, "refuse.example") == 0)
        smtp_reply_set(r, 550, "5.7.1", "Go away");
    return decide(t, t->pend_helo, r);
}

static enum smtp_decision cb_mail(void *ctx, const struct smtp_mail_args *a, struct smtp_reply *r)
{
    struct t *t = ctx;
    buf_printf(&t->events, "mail <%s>", a->path.mailbox);
    if (a->has_size)
        buf_printf(&t->events, " size=%llu", a->size);
    if (a->body)
        buf_printf(&t->events, " body=%d", (int)a->body);
    if (a->smtputf8)
        buf_printf(&t->events, " smtputf8");
    if (a->ret)
        buf_printf(&t->events, " ret=%d", (int)a->ret);
    if (a->envid[0])
        buf_printf(&t->events, " envid=%s", a->envid);
    buf_append_str(&t->events, "\n");
    if (strncmp(a->path.local, "refuse", 6) == 0)
        smtp_reply_set(r, 550, "5.7.1", "Sender refused");
    return decide(t, t->pend_mail, r);
}

static enum smtp_decision cb_rcpt(void *ctx, const struct smtp_rcpt_args *a, struct smtp_reply *r)
{
    struct t *t = ctx;
    buf_printf(&t->events, "rcpt <%s>", a->path.mailbox);
    if (a->notify)
        buf_printf(&t->events, " notify=%u", a->notify);
    if (a->orcpt[0])
        buf_printf(&t->events, " orcpt=%s", a->orcpt);
    buf_append_str(&t->events, "\n");
    if (strncmp(a->path.local, "unknown", 7) == 0)
        smtp_reply_set(r, 550, "5.1.1", "User unknown");
    else if (strncmp(a->path.local, "temp", 4) == 0)
        smtp_reply_set(r, 450, "4.2.0", "Try later");
    else if (strncmp(a->path.local, "multi", 5) == 0)
        smtp_reply_set(r, 550, "5.1.1", "first line\nsecond line");
    return decide(t, t->pend_rcpt, r);
}

static enum smtp_decision cb_data_start(void *ctx, struct smtp_reply *r)
{
    struct t *t = ctx;
    buf_append_str(&t->events, "data_start\n");
    assert_int_equal(t->msg.len, 0); /* the previous message was ended or dropped */
    if (t->refuse_data)
        smtp_reply_set(r, 451, "4.3.0", "Cannot store now");
    return decide(t, t->pend_data_start, r);
}

static void cb_data_write(void *ctx, const char *data, size_t len)
{
    struct t *t = ctx;
    assert_true(len > 0);
    assert_int_equal(buf_append(&t->msg, data, len), 0);
}

static enum smtp_decision cb_data_end(void *ctx, const struct smtp_data_result *res,
                                      struct smtp_reply *r)
{
    struct t *t = ctx;
    buf_printf(&t->events, "data_end size=%llu bdat=%d 8bit=%d\n", res->size, res->bdat,
               res->has_8bit);
    /* The size reported is what was written. */
    assert_int_equal(res->size, t->msg.len);
    t->res = *res;
    buf_reset(&t->stored);
    buf_append(&t->stored, t->msg.data, t->msg.len);
    buf_reset(&t->msg);
    smtp_reply_set(r, 250, "2.0.0", "Ok: queued as Q%u", ++t->queued);
    return decide(t, t->pend_data_end, r);
}

static void cb_data_abort(void *ctx)
{
    struct t *t = ctx;
    buf_append_str(&t->events, "abort\n");
    buf_reset(&t->msg);
}

static void cb_reset(void *ctx)
{
    struct t *t = ctx;
    buf_append_str(&t->events, "reset\n");
}

static void cb_log(void *ctx, const char *text)
{
    struct t *t = ctx;
    buf_printf(&t->events, "log %s\n", text);
}

static const struct smtp_server_callbacks callbacks = {
    .output = cb_output,
    .close = cb_close,
    .on_helo = cb_helo,
    .on_mail = cb_mail,
    .on_rcpt = cb_rcpt,
    .on_data_start = cb_data_start,
    .on_data_write = cb_data_write,
    .on_data_end = cb_data_end,
    .on_data_abort = cb_data_abort,
    .on_reset = cb_reset,
    .on_log = cb_log,
};

static void t_init(struct t *t)
{
    memset(t, 0, sizeof(*t));
    t->set.hostname = "mx.test";
    t->set.max_message_size = 1000;
    t->set.max_recipients = 3;
    t->set.max_errors = 100;
    t->set.max_received = 5;
    buf_init(&t->in, BUF_UNLIMITED);
    buf_init(&t->out, BUF_UNLIMITED);
    buf_init(&t->events, BUF_UNLIMITED);
    buf_init(&t->msg, BUF_UNLIMITED);
    buf_init(&t->stored, BUF_UNLIMITED);
}

static void t_start(struct t *t)
{
    t->s = smtp_server_session_new(&t->set, &callbacks, t);
    assert_non_null(t->s);
}

static void t_free(struct t *t)
{
    smtp_server_session_free(&t->s);
    assert_null(t->s);
    buf_free(&t->in);
    buf_free(&t->out);
    buf_free(&t->events);
    buf_free(&t->msg);
    buf_free(&t->stored);
}

/* Hand the session what it has not consumed yet plus n new octets, as an
 * owner reading from the network does; with auto_resume, answer pending
 * decisions and go on. */
static void feedn(struct t *t, const char *data, size_t n)
{
    assert_int_equal(buf_append(&t->in, data, n), 0);
    for (;;) {
        size_t used = smtp_server_input(t->s, buf_cstr(&t->in), t->in.len);
        assert_true(used <= t->in.len);
        buf_consume(&t->in, used);
        if (smtp_server_pending(t->s)) {
            assert_true(t->has_pending_reply);
            /* Pending: nothing more is consumed. */
            if (t->in.len)
                assert_int_equal(smtp_server_input(t->s, t->in.data, t->in.len), 0);
            if (!t->auto_resume)
                return;
            t->has_pending_reply = false;
            smtp_server_resume(t->s, &t->pending_reply);
            continue;
        }
        assert_false(t->has_pending_reply);
        return;
    }
}

static void feed(struct t *t, const char *text)
{
    feedn(t, text, strlen(text));
}

/* Resume the pending decision with the answer the callback prepared,
 * or with r if given. */
static void resume(struct t *t, const struct smtp_reply *r)
{
    assert_true(smtp_server_pending(t->s));
    assert_true(t->has_pending_reply);
    t->has_pending_reply = false;
    smtp_server_resume(t->s, r ? r : &t->pending_reply);
    feed(t, "");
}

static void print_escaped(const char *label, const char *s, size_t n)
{
    print_error("%s (%zu): \"", label, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n' && i + 1 < n)
            print_error("\\n\"\n    \"");
        else if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"')
            print_error("%c", c);
        else
            print_error("\\x%02x", c);
    }
    print_error("\"\n");
}

/* The buffer must hold exactly want; then it is emptied. */
static void expect_buf(struct buf *b, const char *want, size_t want_len, const char *what, int line)
{
    if (b->len != want_len || memcmp(buf_cstr(b), want, want_len) != 0) {
        print_escaped("got ", buf_cstr(b), b->len);
        print_escaped("want", want, want_len);
        fail_msg("%s differs (test line %d)", what, line);
    }
    buf_reset(b);
}

#define expect_out(t, want)       expect_buf(&(t)->out, want, strlen(want), "output", __LINE__)
#define expect_events(t, want)    expect_buf(&(t)->events, want, strlen(want), "events", __LINE__)
#define expect_stored(t, want, n) expect_buf(&(t)->stored, want, n, "stored message", __LINE__)

/* A session past the greeting and EHLO. */
static void t_ehlo(struct t *t)
{
    t_start(t);
    expect_out(t, GREETING);
    feed(t, "EHLO client.example\r\n");
    expect_out(t, EHLO_OK);
    expect_events(t, "ehlo client.example\n");
}

static void test_greeting_and_ehlo(void **state)
{
    (void)state;
    struct t t;
    t_init(&t);
    t_start(&t);
    expect_out(&t, GREETING);
    expect_events(&t, "");
    assert_string_equal(smtp_server_helo(t.s), "");
    assert_false(smtp_server_esmtp(t.s));
    feed(&t, "EHLO client.example\r\n");
    /* Every extension we implement is announced. */
    expect_out(&t, EHLO_OK);
    assert_string_equal(smtp_server_helo(t.s), "client.example");
    assert_true(smtp_server_esmtp(t.s));
    /* HELO after EHLO switches back to plain SMTP. */
    feed(&t, "HELO other.example\r\n");
    expect_out(&t, "250 mx.test\r\n");
    assert_string_equal(smtp_server_helo(t.s), "other.example");
    assert_false(smtp_server_esmtp(t.s));
    expect_events(&t, "ehlo client.example\nhelo other.example\n");
    /* Address literals, and tolerated names. */
    feed(&t, "EHLO [192.0.2.1]\r\nEHLO [IPv6:::1]\r\nEHLO my_host.example.\r\n");
    expect_out(&t, EHLO_REPLY("[192.0.2.1]", "1000") EHLO_REPLY("[IPv6:::1]", "1000")
                       EHLO_REPLY("my_host.example.", "1000"));
    assert_false(smtp_server_closed(t.s));
    t_free(&t);
}

/* The keyword lines survive a long host name and a long client name. */
static void test_ehlo_long_names(void **state)
{
    (void)state;
    char host[101], name[256];
    memset(host, 'h', sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    for (size_t i = 0; i < sizeof(name) - 1; i++)
        name[i] = i % 50 == 49 ? '.' : 'n';
    name[sizeof(name) - 1] = '\0';
    struct t t;
    t_init(&t);
    t.set.hostname = host;
    t.set.max_message_size = 52428800;
    t_start(&t);
    buf_reset(&t.out);
    feed(&t, "EHLO ");
    feed(&t, name);
    feed(&t, "\r\n");
    const char *tail = "\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n"
                       "250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250-DSN\r\n250 CHUNKING\r\n";
    assert_true(t.out.len > strlen(tail));
    if (strcmp(t.out.data + t.out.len - strlen(tail), tail) != 0) {
        print_escaped("got", t.out.data, t.out.len);
        fail_msg("EHLO keywords lost");
    }
    assert_memory_equal(t.out.data, "250-", 4);
    /* One greeting line, then the keywords. */
    const char *first_end = strstr(t.out.data, "\r\n");
    assert_ptr_equal(first_end, t.out.data + t.out.len - strlen(tail));
    t_free(&t);
}

static void test_helo_errors(void **state)
{
    (void)state;
    struct t t;
    t_init(&t);
    t_start(&t);
    buf_reset(&t.out);
    feed(&t, "EHLO\r\nHELO\r\nEHLO bad..name\r\nHELO -x\r\nEHLO [1.2.3]\r\nEHLO a b\r\n");
    expect_out(&t, "501 5.5.4 Syntax: EHLO hostname\r\n"
                   "501 5.5.4 Syntax: HELO hostname\r\n"
                   "501 5.5.4 Syntax: EHLO hostname\r\n"
                   "501 5.5.4 Syntax: HELO hostname\r\n"
                   "501 5.5.4 Syntax: EHLO hostname\r\n"
                   "501 5.5.4 Syntax: EHLO hostname\r\n");
    expect_events(&t, "log reject: EHLO: 501 5.5.4 Syntax: EHLO hostname\n"
                      "log reject: HELO: 501 5.5.4 Syntax: HELO hostname\n"
                      "log reject: EHLO: 501 5.5.4 Syntax: EHLO hostname\n"
                      "log reject: HELO: 501 5.5.4 Syntax: HELO hostname\n"
                      "log reject: EHLO: 501 5.5.4 Syntax: EHLO hostname\n"
                      "log reject: EHLO: 501 5.5.4 Syntax: EHLO hostname\n");
    /* The owner may refuse a name; then the session is still without one. */
    feed(&t, "EHLO refuse.example\r\nMAIL FROM:<a@example.org>\r\n");
    expect_out(&t, "550 5.7.1 Go away\r\n503 5.5.1 Send EHLO or HELO first\r\n");
    expect_events(&t, "ehlo refuse.example\n"
                      "log reject: MAIL: 503 5.5.1 Send EHLO or HELO first\n");
    assert_string_equal(smtp_server_helo(t.s), "");
    t_free(&t);
}

static void test_sequence_errors(void **state)
{
    (void)state;
    struct t t;
    t_init(&t);
    t_start(&t);
    buf_reset(&t.out);
    feed(&t, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nBDAT 0 LAST\r\n");
    expect_out(&t, "503 5.5.1 Send EHLO or HELO first\r\n" NEED_MAIL NEED_MAIL NEED_MAIL);
    feed(&t, "EHLO client.example\r\n");
    expect_out(&t, EHLO_OK);
    feed(&t, "RCPT TO:<b@example.com>\r\nDATA\r\n");
    expect_out(&t, NEED_MAIL NEED_MAIL);
    feed(&t, "MAIL FROM:<a@example.org>\r\nDATA\r\nMAIL FROM:<a@example.org>\r\n");
    expect_out(&t, MAIL_OK "554 5.5.1 No valid recipients\r\n503 5.5.1 Nested MAIL command\r\n");
    /* A refused recipient does not count. */
    feed(&t, "RCPT TO:<unknown@example.com>\r\nDATA\r\nBDAT 3 LAST\r\nabcNOOP\r\n");
    expect_out(&t, "550 5.1.1 User unknown\r\n554 5.5.1 No valid recipients\r\n"
                   "554 5.5.1 No valid recipients\r\n" NOOP_OK);
    assert_int_equal(smtp_server_rcpt_count(t.s), 0);
    feed(&t, "DATA x\r\nRSET x\r\nRSET\r\n");
    expect_out(&t, "501 5.5.4 Syntax: DATA\r\n501 5.5.4 Syntax: RSET\r\n" RSET_OK);
    assert_null(smtp_server_mail(t.s));
    expect_events(&t, "log reject: MAIL: 503 5.5.1 Send EHLO or HELO first\n"
                      "log reject: RCPT: 503 5.5.1 Need MAIL command first\n"
                      "log reject: DATA: 503 5.5.1 Need MAIL command first\n"
                      "log reject: BDAT: 503 5.5.1 Need MAIL command first\n"
                      "ehlo client.example\n"
                      "log reject: RCPT: 503 5.5.1 Need MAIL command first\n"
                      "log reject: DATA: 503 5.5.1 Need MAIL command first\n"
                      "mail <a@example.org>\n"
                      "log reject: DATA: 554 5.5.1 No valid recipients\n"
                      "log reject: MAIL: 503 5.5.1 Nested MAIL command\n"
                      "rcpt <unknown@example.com>\n"
                      "log reject: DATA: 554 5.5.1 No valid recipients\n"
                      "log reject: BDAT: 554 5.5.1 No valid recipients\n"
                      "log reject: DATA: 501 5.5.4 Syntax: DATA\n"
                      "log reject: RSET: 501 5.5.4 Syntax: RSET\n"
                      "reset\n");
    t_free(&t);
}

/* MAIL, RCPT and DATA pipelined in one chunk, message and QUIT too. */
static void test_pipelined_transaction(void **state)
{
    (void)state;
    struct t t;
    t_init(&t);
    t_ehlo(&t);
    feed(&t, "MAIL FROM:<a@example.org> SIZE=200 BODY=8BITMIME\r\n"
             "RCPT TO:<b@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.com\r\n"
             "RCPT TO:<unknown@example.com>\r\n"
             "RCPT TO:<Postmaster>\r\n"
             "DATA\r\n"
             "Received: from x\r\n"
             "Subject: caf\xc3\xa9\r\n"
             "\r\n"
             "..leading dot\r\n"
             ".\r\n"
             "QUIT\r\n"
             "NOOP\r\n");
    expect_out(&t, MAIL_OK RCPT_OK "550 5.1.1 User unknown\r\n" RCPT_OK DATA_GO
                                   "250 2.0.0 Ok: queued as Q1\r\n" QUIT_OK);
    expect_events(&t, "mail <a@example.org> size=200 body=2\n"
                      "rcpt <b@example.com> notify=6 orcpt=rfc822;b@example.com\n"
                      "rcpt <unknown@example.com>\n"
                      "rcpt <postmaster>\n"
                      "data_start\n"
                      "data_end size=50 bdat=0 8bit=1\n"
                      "reset\n"
                      "close\n");
    const char *msg = "Received: from x\r\nSubject: caf\xc3\xa9\r\n\r\n.leading dot\r\n";
    expect_stored(&t, msg, strlen(msg));
    assert_int_equal(t.res.size, strlen(msg));
    assert_true(smtp_server_closed(t.s));
    /* After QUIT nothing more is consumed. */
    assert_string_equal(buf_cstr(&t.in), "NOOP\r\n");
    assert_int_equal(smtp_server_input(t.s, "NOOP\r\n", 6), 0);
    assert_int_equal(t.closed, 1);
    t_free(&t);
}

static void test_two_messages(void **state)
{
    (void)state;
    struct t t;
    t_init(&t);
    t_start(&t);
    feed(&t, "HELO client.example\r\n");
    buf_reset(&t.out);
    buf_reset(&t.events);
    for (int i = 1; i <= 2; i++) {
        feed(&t, "MAIL FROM:<>\r\n");
        assert_non_null(smtp_server_mail(t.s));
        assert_true(smtp_server_mail(t.s)->path.null);
        feed(&t, "RCPT TO:<b@example.com>\r\nRCPT TO:<c@example.com>\r\n");
        assert_int_equal(smtp_server_rcpt_count(t.s), 2);
        feed(&t, "DATA\r\n");
        feed(&t, "Subject: ");
        feed(&t, i == 1 ? "one\r\n\r\nx\r\n" : "two\r\n\r\n");
        feed(&t, ".\r\n");
        assert_null(smtp_server_mail(t.s));
        assert_int_equal(smtp_server_rcpt_count(t.s), 0);
        if (i == 1) {
            expect_out(&t, MAIL_OK RCPT_OK RCPT_OK DATA_GO "250 2.0.0 Ok: queued as Q1\r\n");
            expect_stored(&t, "Subject: one\r\n\r\nx\r\n", 19);
        } else {
            expect_out(&t, MAIL_OK RCPT_OK RCPT_OK DATA_GO "250 2.0.0 Ok: queued as Q2\r\n");
            expect_stored(&t, "Subject: two\r\n\r\n", 16);
        }
    }
    expect_events(&t, "mail <>\nrcpt <b@example.com>\nrcpt <c@example.com>\ndata_start\n"
                      "data_end size=19 bdat=0 8bit=0\nreset\n"
                      "mail <>\nrcpt <b@example.com>\nrcpt <c@example.com>\ndata_start\n"
                      "data_end size=16 bdat=0 8bit=0\nreset\n");
    t_free(&t);
}

static void test_plain_smtp_parameters(void **state)
{
    (void)state;
    struct t t;
    t_init(&t);
    t_start(&t);
    feed(&t, "HELO client.example\r\n");
    buf_reset(&t.out);
    buf_reset(&t.events);
    /* Extensions need EHLO. */
    feed(&t, "MAIL FROM:<a@example.org> SIZE=10\r\nMAIL FROM:<a@example.org> BODY=7BIT\r\n"
             "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com> NOTIFY=NEVER\r\n"
             "RCPT TO:<b@example.com>\r\n");
    expect_out(&t, "555 5.5.4 MAIL parameters need EHLO\r\n"
                   "555 5.5.4 MAIL parameters need EHLO\r\n" MAIL_OK
                   "555 5.5.4 RCPT parameters need EHLO\r\n" RCPT_OK);
    t_free(&t);
}

static void test_mail_rcpt_refusals(void **state)
{
    (void)state;
    struct t t;
    t_init(&t);
    t_ehlo(&t);
    feed(&t, "MAIL FROM:<a@example.org> FOO=bar\r\n"
             "MAIL FROM:<a@example.org> SIZE=1 SIZE=2\r\n"
             "MAIL FROM:a@example.org\r\n"
             "MAIL FROM:<jos\xc3\xa9@example.org>\r\n"
             "MAIL FROM:<refuse@example.org>\r\n"
             "MAIL FROM:<jos\xc3\xa9@example.org> SMTPUTF8\r\n"
             "RCPT TO:<b@example.com> FOO=bar\r\n"
             "RCPT TO:<b@example.com> NOTIFY=NEVER,DELAY\r\n"
             "RCPT TO:<>\r\n"
             "RCPT TO:<temp@example.com>\r\n"
             "RCPT TO:<multi@example.com>\r\n"
             "RCPT TO:<b\xc3\xa9@example.com>\r\n");
    expect_out(&t, "555 5.5.4 Unsupported MAIL parameter\r\n"
                   "501 5.5.4 Bad SIZE parameter\r\n"
                   "501 5.1.7 Bad sender address syntax\r\n"
                   "553 5.6.7 Non-ASCII sender address needs SMTPUTF8\r\n"
                   "550 5.7.1 Sender refused\r\n" MAIL_OK "555 5.5.4 Unsupported RCPT parameter\r\n"
                   "501 5.5.4 NOTIFY=NEVER cannot be combined\r\n"
                   "501 5.1.3 Bad recipient address syntax\r\n"
                   "450 4.2.0 Try later\r\n"
                   "550-5.1.1 first line\r\n550 5.1.1 second line\r\n" RCPT_OK);
    assert_int_equal(smtp_server_rcpt_count(t.s), 1);
    buf_reset(&t.events);
    /* Without SMTPUTF8 on MAIL, a UTF-8 recipient is refused. */
    feed(&t, "RSET\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b\xc3\xa9@example.com>\r\n");
    expect_out(&t, RSET_OK MAIL_OK "553 5.6.7 Non-ASCII recipient address needs SMTPUTF8\r\n");
    expect_events(&t, "reset\nmail <a@example.org>\n"
                      "log reject: RCPT: 553 5.6.7 Non-ASCII recipient address needs SMTPUTF8\n");
    t_free(&t);
}

static void test_too_many_recipients(void **state)
{
    (void)state;
    struct t t;
    t_init(&t);
    t_ehlo(&t);
    feed(&t, "MAIL FROM:<a@example.org>\r\n"
             "RCPT TO:<unknown1@example.com>\r\n"
             "RCPT TO:<b1@example.com>\r\nRCPT TO:<b2@example.com>\r\nRCPT TO:<b3@example.com>\r\n"
             "RCPT TO:<b4@example.com>\r\nRCPT TO:<unknown2@example.com>\r\n");
    /* Refused recipients do not count; the fourth accepted one is too many. */
    expect_out(&t, MAIL_OK "550 5.1.1 User unknown\r\n" RCPT_OK RCPT_OK RCPT_OK
                           "452 4.5.3 Too many recipients\r\n452 4.5.3 Too many recipients\r\n");
    assert_int_equal(smtp_server_rcpt_count(t.s), 3);
    expect_events(&t, "mail <a@example.org>\nrcpt <unknown1@example.com>\n"
                      "rcpt <b1@example.com>\nrcpt <b2@example.com>\nrcpt <b3@example.com>\n"
                      "log reject: RCPT: 452 4.5.3 Too many recipients\n"
                      "log reject: RCPT: 452 4.5.3 Too many recipients\n");
    t_free(&t);
}

static void test_error_limit(void **state)
{
    (void)state;
    struct t t;
    t_init(&t);
    t.set.max_errors = 3;
    t_start(&t);
    buf_reset(&t.out);
    feed(&t, "FOO\r\nNOOP\r\nBAR x\r\nRCPT TO:<b@example.com>\r\nNOOP\r\nQUIT\r\n");
    expect_out(&t, UNKNOWN_CMD NOOP_OK UNKNOWN_CMD NEED_MAIL
               "421 4.7.0 mx.test Too many errors, closing connection\r\n");
    expect_events(&t, "log reject: unknown: 500 5.5.1 Command unrecognized\n"
                      "log reject: unknown: 500 5.5.1 Command unrecognized\n"
                      "log reject: RCPT: 503 5.5.1 Need MAIL command first\n"
                      "log too many errors, disconnecting\n"
                      "close\n");
    assert_true(smtp_server_closed(t.s));
    assert_string_equal(buf_cstr(&t.in), "NOOP\r\nQUIT\r\n");
    t_free(&t);
}

static void test_vrfy_expn_help_noop(void **state)
{
    (void)state;
    struct t t;
    t_init(&t);
    t_start(&t);
    buf_reset(&t.out);
    feed(&t, "VRFY user\r\nVRFY\r\nEXPN staff\r\nHELP\r\nNOOP\r\nnoop x\r\nSTARTTLS\r\n"
             "AUTH PLAIN AGFAAGI=\r\n");
    expect_out(&t, "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery\r\n"
                   "501 5.5.4 Syntax: VRFY address\r\n"
                   "502 5.5.1 EXPN is not available\r\n"
                   "214-2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP VRFY\r\n"
                   "214 2.0.0 See RFC 5321\r\n" NOOP_OK NOOP_OK
                   "502 5.5.1 STARTTLS is not available\r\n"
                   "502 5.5.1 AUTH is not available\r\n");
    t_free(&t);
}

static void test_rset_and_helo_reset(void **state)
{
    (void)state;
    struct t t;
    t_init(&t);
    t_ehlo(&t);
    feed(&t, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nRSET\r\n"
             "RCPT TO:<b@example.com>\r\nDATA\r\n");
    expect_out(&t, MAIL_OK RCPT_OK RSET_OK NEED_MAIL NEED_MAIL);
    assert_null(smtp_server_mail(t.s));
    assert_int_equal(smtp_server_rcpt_count(t.s), 0);
    expect_events(&t, "mail <a@example.org>\nrcpt <b@example.com>\nreset\n"
                      "log reject: RCPT: 503 5.5.1 Need MAIL command first\n"
                      "log reject: DATA: 503 5.5.1 Need MAIL command first\n");
    /* RSET outside a transaction: no reset event. */
    feed(&t, "RSET\r\n");
    expect_out(&t, RSET_OK);
    expect_events(&t, "");
    /* EHLO in a transaction ends it. */
    feed(&t, "MAIL FROM:<a@example.org>\r\nEHLO client.example\r\nRCPT TO:<b@example.com>\r\n");
    expect_out(&t, MAIL_OK EHLO_OK NEED_MAIL);
    expect_events(&t, "mail <a@example.org>\nreset\nehlo client.example\n"
                      "log reject: RCPT: 503 5.5.1 Need MAIL command first\n");
    t_free(&t);
}

static void test_quit(void **state)
{
    (void)state;
    struct t t;
    t_init(&t);
    t_start(&t);
    buf_reset(&t.out);
    feed(&t, "quit\r\nNOOP\r\n");
    expect_out(&t, QUIT_OK);
    expect_events(&t, "close\n");
    assert_true(smtp_server_closed(t.s));
    assert_int_equal(smtp_server_input(t.s, "NOOP\r\n", 6), 0);
    smtp_server_timeout(t.s);
    smtp_server_shutdown(t.s);
    expect_out(&t, "");
    assert_int_equal(t.closed, 1);
    t_free(&t);
}

static void test_timeout_shutdown(void **state)
{
    (void)state;
    struct t t;
    t_init(&t);
    t_start(&t);
    buf_reset(&t.out);
    smtp_server_timeout(t.s);
    expect_out(&t, "421 4.4.2 mx.test Timeout, closing connection\r\n");
    expect_events(&t, "log timeout\nclose\n");
    t_free(&t);

    t_init(&t);
    t_start(&t);
    buf_reset(&t.out);
    smtp_server_shutdown(t.s);
    expect_out(&t, "421 4.3.2 mx.test Service shutting down, closing connection\r\n");
    expect_events(&t, "close\n");
    t_free(&t);
}

/* MAIL, RCPT, DATA, then the body (len 0: strlen); the final reply is
 * left in out, the events after DATA in events. */
static void send_data(struct t *t, const char *body, size_t len)
{
    if (len == 0)
        len = strlen(body);
    feed(t, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n");
    expect_out(t, MAIL_OK RCPT_OK DATA_GO);
    buf_reset(&t->events);
    feedn(t, body, len);
}

static void test_dot_stuffing(void **state)
{
    (void)state;
    struct t t;
    t_init(&t);
    t_ehlo(&t);
    send_data(&t, "..\r\n...\r\n..x\r\n.y\r\nz.\r\n. \r\n.\r\n", 0);
    expect_out(&t, "250 2.0.0 Ok: queued as Q1\r\n");
    const char *unstuffed = ".\r\n..\r\n.x\r\ny\r\nz.\r\n \r\n";
    expect_stored(&t, unstuffed, strlen(unstuffed));
    /* An empty message. */
    send_data(&t, ".\r\n", 3);
    expect_out(&t, "250 2.0.0 Ok: queued as Q2\r\n");
    expect_stored(&t, "", 0);
    expect_events(&t, "data_end size=0 bdat=0 8bit=0\nreset\n");
    t_free(&t);
}

/* The smuggling sequences never end DATA; the message is refused at the
 * real end and what followed them is never read as commands. */
static void test_smuggling(void **state)
{
    (void)state;
    static const char *const smuggle[] = {
        "\n.\n",
        "\n.\r\n",
        "\r.\r\n",
        "\r\n.\r",
    };
    for (size_t i = 0; i < N_ELEMS(smuggle); i++) {
        struct t t;
        t_init(&t);
        t_ehlo(&t);
        struct buf body;
        buf_init(&body, BUF_UNLIMITED);
        buf_append_str(&body, "Subject: x\r\n\r\nhello");
        buf_append_str(&body, smuggle[i]);
        buf_append_str(&body, "MAIL FROM:<evil@example.net>\r\nRCPT TO:<victim@example.com>\r\n"
                              "DATA\r\nevil\r\n.\r\n");
        send_data(&t, body.data, body.len);
        expect_out(&t, BARE_REFUSED);
        expect_events(&t, "abort\nreset\nlog reject: DATA: 554 5.6.0 Message refused: bare CR "
                          "or LF in the message; only CRLF ends a line\n");
        assert_int_equal(t.queued, 0);
        assert_int_equal(t.in.len, 0);
        /* The session goes on normally. */
        feed(&t, "NOOP\r\n");
        expect_out(&t, NOOP_OK);
        buf_free(&body);
        t_free(&t);
    }
}

static void test_data_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        size_t len;
        const char *reply;
    } cases[] = {
        {"a\0b\r\n.\r\n", 8, "554 5.6.0 Message refused: NUL characters in the message\r\n"},
        {"Received: 1\r\nReceived: 2\r\nReceived: 3\r\nReceived: 4\r\nReceived: 5\r\n"
         "Received: 6\r\n\r\n.\r\n",
         0, "554 5.4.6 Too many Received: headers, a mail loop\r\n"},
        {"a\rb\r\n.\r\n", 0, BARE_REFUSED},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct t t;
        t_init(&t);
        t_ehlo(&t);
        send_data(&t, cases[i].body, cases[i].len ? cases[i].len : strlen(cases[i].body));
        expect_out(&t, cases[i].reply);
        assert_int_equal(t.queued, 0);
        assert_int_equal(t.msg.len, 0);
        t_free(&t);
    }
    /* Five Received: fields are still fine. */
    struct t t;
    t_init(&t);
    t_ehlo(&t);
    const char *five = "Received: 1\r\nReceived: 2\r\nReceived: 3\r\nReceived: 4\r\n"
                       "Received: 5\r\n\r\n.\r\n";
    send_data(&t, five, strlen(five));
    expect_out(&t, "250 2.0.0 Ok: queued as Q1\r\n");
    /* The owner may refuse to take a message at all. */
    t.refuse_data = true;
    feed(&t, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nNOOP\r\n");
    expect_out(&t, MAIL_OK RCPT_OK "451 4.3.0 Cannot store now\r\n" NOOP_OK);
    t_free(&t);
}

/* 998 octets of text per line are fine, 999 are refused. */
static void test_data_line_limit(void **state)
{
    (void)state;
    for (size_t len = 997; len <= 1000; len++) {
        struct t t;
        t_init(&t);
        t.set.max_message_size = 10000;
        t_start(&t);
        feed(&t, "EHLO client.example\r\n");
        buf_reset(&t.out);
        struct buf body;
        buf_init(&body, BUF_UNLIMITED);
        for (size_t k = 0; k < len; k++)
            buf_append_char(&body, 'x');
        buf_append_str(&body, "\r\n.\r\n");
        send_data(&t, body.data, body.len);
        if (len <= 998) {
            expect_out(&t, "250 2.0.0 Ok: queued as Q1\r\n");
            expect_stored(&t, body.data, len + 2);
        } else {
            expect_out(&t, "500 5.5.2 Line too long: a message line is limited to 998 "
                           "characters\r\n");
        }
        buf_free(&body);
        t_free(&t);
    }
}

/* The message size limit, crossed by one: in MAIL SIZE, DATA and BDAT. */
static void test_size_limit(void **state)
{
    (void)state;
    struct t t;
    t_init(&t);
    t_ehlo(&t);
    feed(&t, "MAIL FROM:<a@example.org> SIZE=1001\r\nMAIL FROM:<a@example.org> SIZE=1000\r\n");
    expect_out(&t, "552 5.3.4 Message size exceeds fixed limit of 1000 octets\r\n" MAIL_OK);
    feed(&t, "RSET\r\n");
    expect_out(&t, RSET_OK);
    for (size_t size = 999; size <= 1002; size++) {
        /* DATA: lines of 98 octets + CRLF, then a last line to make size. */
        struct buf body;
        buf_init(&body, BUF_UNLIMITED);
        while (body.len + 100 + 2 <= size) {
            for (int k = 0; k < 98; k++)
                buf_append_char(&body, 'd');
            buf_append_str(&body, "\r\n");
        }
        while (body.len + 2 < size)
            buf_append_char(&body, 'e');
        buf_append_str(&body, "\r\n");
        assert_int_equal(body.len, size);
        buf_append_str(&body, ".\r\n");
        send_data(&t, body.data, body.len);
        if (size <= 1000) {
            assert_int_equal(t.res.size, size);
            expect_stored(&t, body.data, size);
            assert_true(t.out.len > 0 && strncmp(t.out.data, "250 2.0.0 Ok", 12) == 0);
            buf_reset(&t.out);
        } else {
            expect_out(&t, "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
            expect_events(&t, "abort\nreset\nlog reject: DATA: 552 5.3.4 Message size exceeds "
                              "fixed maximum message size\n");
        }
        /* BDAT: the same octets in two chunks, the second LAST. */
        feed(&t, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\n");
        expect_out(&t, MAIL_OK RCPT_OK);
        buf_reset(&t.events);
        char cmd[64];
        int n = snprintf(cmd, sizeof(cmd), "BDAT 500\r\n");
        assert_true(n > 0 && (size_t)n < sizeof(cmd));
        feed(&t, cmd);
        feedn(&t, body.data, 500);
        expect_out(&t, "250 2.0.0 500 octets received\r\n");
        n = snprintf(cmd, sizeof(cmd), "BDAT %zu LAST\r\n", size - 500);
        assert_true(n > 0 && (size_t)n < sizeof(cmd));
        feed(&t, cmd);
        feedn(&t, body.data + 500, size - 500);
        if (size <= 1000) {
            expect_out(&t, size == 999 ? "250 2.0.0 Ok: queued as Q2\r\n"
                                       : "250 2.0.0 Ok: queued as Q4\r\n");
            expect_stored(&t, body.data, size);
            assert_true(t.res.bdat);
        } else {
            expect_out(&t, "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
            expect_events(&t, "data_start\nabort\nreset\nlog reject: BDAT: 552 5.3.4 Message "
                              "size exceeds fixed maximum message size\n");
        }
        buf_reset(&t.events);
        buf_free(&body);
    }
    /* A non-last BDAT chunk crossing the limit is refused at once, and the
     * chunks that follow are refused too (their octets read). */
    feed(&t, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nBDAT 1001\r\n");
    expect_out(&t, MAIL_OK RCPT_OK);
    char big[1001];
    for (size_t k = 0; k < sizeof(big); k++)
        big[k] = k % 100 == 98 ? '\r' : k % 100 == 99 ? '\n' : 'b';
    feedn(&t, big, sizeof(big));
    feed(&t, "BDAT 2 LAST\r\nxxNOOP\r\n");
    expect_out(&t,
               "552 5.3.4 Message size exceeds fixed maximum message size\r\n" NEED_MAIL NOOP_OK);
    t_free(&t);
}

static void test_bdat(void **state)
{
    (void)state;
    struct t t;
    t_init(&t);
    t_ehlo(&t);
    /* Two chunks, the second LAST; dots mean nothing in BDAT. */
    feed(&t, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\n"
             "BDAT 12\r\nSubject: x\r\nBDAT 11 LAST\r\n\r\n.\r\nbody\r\nNOOP\r\n");
    expect_out(&t, MAIL_OK RCPT_OK "250 2.0.0 12 octets received\r\n"
                                   "250 2.0.0 Ok: queued as Q1\r\n" NOOP_OK);
    expect_stored(&t, "Subject: x\r\n\r\n.\r\nbody\r\n", 23);
    assert_true(t.res.bdat);
    expect_events(&t, "mail <a@example.org>\nrcpt <b@example.com>\ndata_start\n"
                      "data_end size=23 bdat=1 8bit=0\nreset\n");
    /* BDAT 0 LAST ends a message; a last line without CRLF gets one. */
    feed(&t, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\n"
             "BDAT 4\r\nbodyBDAT 0\r\nBDAT 0 LAST\r\n");
    expect_out(&t, MAIL_OK RCPT_OK "250 2.0.0 4 octets received\r\n"
                                   "250 2.0.0 4 octets received\r\n250 2.0.0 Ok: queued as Q2\r\n");
    expect_stored(&t, "body\r\n", 6);
    assert_int_equal(t.res.size, 6);
    /* A message that is BDAT 0 LAST alone. */
    feed(&t, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nBDAT 0 LAST\r\n");
    expect_out(&t, MAIL_OK RCPT_OK "250 2.0.0 Ok: queued as Q3\r\n");
    expect_stored(&t, "", 0);
    buf_reset(&t.events);
    /* DATA and RCPT are not allowed between chunks; RSET drops the message. */
    feed(&t, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nBDAT 3\r\nabc"
             "DATA\r\nRCPT TO:<c@example.com>\r\nRSET\r\n");
    expect_out(&t, MAIL_OK RCPT_OK
               "250 2.0.0 3 octets received\r\n"
               "503 5.5.1 DATA after BDAT\r\n503 5.5.1 RCPT after BDAT\r\n" RSET_OK);
    expect_events(&t, "mail <a@example.org>\nrcpt <b@example.com>\ndata_start\n"
                      "log reject: DATA: 503 5.5.1 DATA after BDAT\n"
                      "log reject: RCPT: 503 5.5.1 RCPT after BDAT\n"
                      "abort\nreset\n");
    /* Refused chunks are still read to their end. */
    t.refuse_data = true;
    feed(&t, "BDAT 5\r\nabcdeMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\n"
             "BDAT 6 LAST\r\nQUIT\r\nNOOP\r\n");
    expect_out(&t, NEED_MAIL MAIL_OK RCPT_OK "451 4.3.0 Cannot store now\r\n" NOOP_OK);
    t.refuse_data = false;
    /* A bare LF in a chunk refuses the message at the end of that chunk. */
    buf_reset(&t.events);
    feed(&t, "BDAT 5\r\na\nb\r\nBDAT 2 LAST\r\n\r\n");
    expect_out(&t, BARE_REFUSED NEED_MAIL);
    expect_events(&t, "data_start\nabort\nreset\nlog reject: BDAT: 554 5.6.0 Message refused: "
                      "bare CR or LF in the message; only CRLF ends a line\n"
                      "log reject: BDAT: 503 5.5.1 Need MAIL command first\n");
    /* A bare CR at the end of the last chunk. */
    feed(&t, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nBDAT 2 LAST\r\na\r");
    expect_out(&t, MAIL_OK RCPT_OK BARE_REFUSED);
    /* A chunk size that cannot be parsed ends the session. */
    buf_reset(&t.events);
    feed(&t, "BDAT ten\r\nNOOP\r\n");
    expect_out(&t, "501 5.5.4 Syntax: BDAT size [LAST]\r\n");
    expect_events(&t, "log reject: BDAT: 501 5.5.4 Syntax: BDAT size [LAST]\nclose\n");
    assert_true(smtp_server_closed(t.s));
    t_free(&t);
}

/* Command lines: 512 octets with CRLF (MAIL 1162, RCPT 1042), one more
 * refused; far longer lines are skipped to their CRLF. */
static void test_command_line_limits(void **state)
{
    (void)state;
    static const struct {
        const char *prefix, *suffix;
        size_t max;
        const char *ok;
    } cases[] = {
        {"NOOP ", "", 512, NOOP_OK},
        {"MAIL FROM:<a@example.org>", " SIZE=10", 1162, MAIL_OK},
        {"RCPT TO:<b@example.com>", " NOTIFY=NEVER", 1042, RCPT_OK},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        for (size_t total = cases[i].max - 1; total <= cases[i].max + 2; total++) {
            struct t t;
            t_init(&t);
            t_ehlo(&t);
            if (i == 2) {
                feed(&t, "MAIL FROM:<a@example.org>\r\n");
                expect_out(&t, MAIL_OK);
            }
            struct buf line;
            buf_init(&line, BUF_UNLIMITED);
            buf_append_str(&line, cases[i].prefix);
            /* Pad with spaces, which the parameter syntax allows. */
            while (line.len + strlen(cases[i].suffix) + 2 < total)
                buf_append_char(&line, i == 0 ? 'x' : ' ');
            buf_append_str(&line, cases[i].suffix);
            buf_append_str(&line, "\r\n");
            assert_int_equal(line.len, total);
            feedn(&t, line.data, line.len);
            feed(&t, "NOOP\r\n");
            if (total <= cases[i].max) {
                struct buf want;
                buf_init(&want, BUF_UNLIMITED);
                buf_append_str(&want, cases[i].ok);
                buf_append_str(&want, NOOP_OK);
                expect_out(&t, buf_cstr(&want));
                buf_free(&want);
            } else {
                expect_out(&t, TOO_LONG NOOP_OK);
            }
            buf_free(&line);
            t_free(&t);
        }
    }
    /* Much longer than any command: skipped to the CRLF, split anywhere. */
    struct t t;
    t_init(&t);
    t_start(&t);
    buf_reset(&t.out);
    char junk[SMTP_ANY_LINE_MAX + 1000];
    memset(junk, 'j', sizeof(junk));
    junk[1500] = '\r'; /* bare CR and LF inside do not end it */
    junk[1600] = '\n';
    feedn(&t, junk, sizeof(junk));
    expect_out(&t, TOO_LONG);
    feed(&t, "jjj\r");
    feed(&t, "\nNOOP\r\n");
    expect_out(&t, NOOP_OK);
    t_free(&t);
}

static void test_bad_command_lines(void **state)
{
    (void)state;
    struct t t;
    t_init(&t);
    t_start(&t);
    buf_reset(&t.out);
    /* Only CRLF ends a command: "QUIT\n" does not quit. */
    feed(&t, "QUIT\nNOOP\r\nNO\rOP\r\nNO");
    feedn(&t, "\0OP\r\n", 5);
    feed(&t, "\r\n");
    const char *bad = "500 5.5.2 Bad command: bare CR, bare LF or NUL; only CRLF ends a line\r\n";
    struct buf want;
    buf_init(&want, BUF_UNLIMITED);
    buf_append_str(&want, bad);
    buf_append_str(&want, bad);
    buf_append_str(&want, bad);
    buf_append_str(&want, UNKNOWN_CMD);
    expect_out(&t, buf_cstr(&want));
    buf_free(&want);
    assert_false(smtp_server_closed(t.s));
    t_free(&t);
}

/* Every decision answered later gives what answering at once gives. */
static void test_pending_decisions(void **state)
{
    (void)state;
    struct t t;
    t_init(&t);
    t.pend_helo = t.pend_mail = t.pend_rcpt = t.pend_data_start = t.pend_data_end = true;
    t_start(&t);
    buf_reset(&t.out);
    feed(&t, "EHLO client.example\r\nMAIL FROM:<a@example.org>\r\n");
    expect_out(&t, "");
    assert_true(smtp_server_pending(t.s));
    assert_string_equal(buf_cstr(&t.in), "MAIL FROM:<a@example.org>\r\n");
    /* A resume while pending answers; another one is ignored. */
    resume(&t, NULL);
    expect_out(&t, EHLO_OK);
    assert_true(smtp_server_pending(t.s)); /* now waiting for MAIL */
    struct smtp_reply refuse;
    smtp_reply_set(&refuse, 550, "5.7.1", "Not you");
    resume(&t, &refuse);
    expect_out(&t, "550 5.7.1 Not you\r\n");
    assert_false(smtp_server_pending(t.s));
    smtp_server_resume(t.s, &refuse); /* not pending: ignored */
    expect_out(&t, "");
    assert_null(smtp_server_mail(t.s));
    feed(&t, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n");
    assert_string_equal(buf_cstr(&t.in), "RCPT TO:<b@example.com>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n");
    resume(&t, NULL);
    expect_out(&t, MAIL_OK);
    assert_non_null(smtp_server_mail(t.s));
    assert_string_equal(buf_cstr(&t.in), "DATA\r\nx\r\n.\r\nQUIT\r\n");
    resume(&t, NULL);
    expect_out(&t, RCPT_OK);
    assert_int_equal(smtp_server_rcpt_count(t.s), 1);
    /* DATA waits for on_data_start before the 354. */
    assert_true(smtp_server_pending(t.s));
    assert_string_equal(buf_cstr(&t.in), "x\r\n.\r\nQUIT\r\n");
    resume(&t, NULL);
    expect_out(&t, DATA_GO);
    /* The message is in; its reply waits for on_data_end. */
    assert_true(smtp_server_pending(t.s));
    assert_string_equal(buf_cstr(&t.in), "QUIT\r\n");
    expect_stored(&t, "x\r\n", 3);
    resume(&t, NULL);
    expect_out(&t, "250 2.0.0 Ok: queued as Q1\r\n" QUIT_OK);
    expect_events(&t, "ehlo client.example\nmail <a@example.org>\nmail <a@example.org>\n"
                      "rcpt <b@example.com>\ndata_start\ndata_end size=3 bdat=0 8bit=0\n"
                      "reset\nclose\n");
    t_free(&t);
}

static void test_pending_data_start_refused(void **state)
{
    (void)state;
    struct t t;
    t_init(&t);
    t_ehlo(&t);
    feed(&t, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\n");
    expect_out(&t, MAIL_OK RCPT_OK);
    t.pend_data_start = true;
    /* DATA refused later: what follows is read as commands again. */
    feed(&t, "DATA\r\nNOOP\r\n");
    assert_true(smtp_server_pending(t.s));
    struct smtp_reply r;
    smtp_reply_set(&r, 451, "4.3.0", "Disk full");
    resume(&t, &r);
    expect_out(&t, "451 4.3.0 Disk full\r\n" NOOP_OK);
    /* BDAT refused later: the chunk is still consumed. */
    feed(&t, "BDAT 6\r\nNOOP\r\nNOOP\r\n");
    assert_true(smtp_server_pending(t.s));
    assert_string_equal(buf_cstr(&t.in), "NOOP\r\nNOOP\r\n");
    resume(&t, &r);
    expect_out(&t, "451 4.3.0 Disk full\r\n" NOOP_OK);
    /* BDAT 0 LAST accepted later completes at once. */
    feed(&t, "BDAT 0 LAST\r\n");
    assert_true(smtp_server_pending(t.s));
    resume(&t, NULL);
    expect_out(&t, "250 2.0.0 Ok: queued as Q1\r\n");
    expect_stored(&t, "", 0);
    t_free(&t);
}

static void test_pending_then_timeout_and_free(void **state)
{
    (void)state;
    struct t t;
    t_init(&t);
    t_ehlo(&t);
    t.pend_data_end = true;
    feed(&t, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nx\r\n.\r\n");
    expect_out(&t, MAIL_OK RCPT_OK DATA_GO);
    assert_true(smtp_server_pending(t.s));
    buf_reset(&t.events);
    smtp_server_timeout(t.s);
    expect_out(&t, "421 4.4.2 mx.test Timeout, closing connection\r\n");
    expect_events(&t, "log timeout\nclose\n");
    assert_false(smtp_server_pending(t.s));
    smtp_server_resume(t.s, &t.pending_reply); /* too late: ignored */
    expect_out(&t, "");
    t.has_pending_reply = false;
    /* The owner has the message: freeing does not abort it. */
    smtp_server_session_free(&t.s);
    expect_events(&t, "");
    t_free(&t);

    /* Freeing the session in the middle of DATA drops the message. */
    t_init(&t);
    t_ehlo(&t);
    send_data(&t, "partial", 7);
    expect_events(&t, "");
    smtp_server_session_free(&t.s);
    expect_events(&t, "abort\n");
    t_free(&t);
}

/* Whole, byte by byte, split in two anywhere, and with every decision
 * pending and resumed: exactly the same conversation. */
struct run_result {
    char *out, *events, *stored;
    size_t stored_len, left;
};

static void run_script(const char *script, size_t n, const size_t *cuts, size_t ncuts, bool pend,
                       struct run_result *rr)
{
    struct t t;
    t_init(&t);
    t.set.max_errors = 5;
    if (pend) {
        t.pend_helo = t.pend_mail = t.pend_rcpt = t.pend_data_start = t.pend_data_end = true;
        t.auto_resume = true;
    }
    t_start(&t);
    size_t pos = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        feedn(&t, script + pos, end - pos);
        pos = end;
    }
    rr->left = t.in.len;
    rr->stored_len = t.stored.len;
    rr->stored = buf_steal(&t.stored);
    smtp_server_session_free(&t.s);
    rr->out = buf_steal(&t.out);
    rr->events = buf_steal(&t.events);
    t_free(&t);
}

static void free_result(struct run_result *rr)
{
    free(rr->out);
    free(rr->events);
    free(rr->stored);
}

static void check_same(const struct run_result *a, const struct run_result *b, const char *what,
                       size_t cut)
{
    if (strcmp(a->out, b->out) != 0 || strcmp(a->events, b->events) != 0 ||
        a->stored_len != b->stored_len || memcmp(a->stored, b->stored, a->stored_len) != 0 ||
        a->left != b->left) {
        print_escaped("whole out", a->out, strlen(a->out));
        print_escaped("other out", b->out, strlen(b->out));
        print_escaped("whole events", a->events, strlen(a->events));
        print_escaped("other events", b->events, strlen(b->events));
        fail_msg("%s %zu differs", what, cut);
    }
}

static void test_every_split(void **state)
{
    (void)state;
    static const struct {
        const char *script;
        const char *want_out;
    } scripts[] = {
        {"EHLO client.example\r\nMAIL FROM:<a@example.org> SIZE=100\r\n"
         "RCPT TO:<b@example.com>\r\nRCPT TO:<unknown@example.com>\r\nDATA\r\n"
         "Subject: hi\r\n\r\n..dot\r\nbody\r\n.\r\nQUIT\r\nNOOP\r\n",
         GREETING EHLO_OK MAIL_OK RCPT_OK "550 5.1.1 User unknown\r\n" DATA_GO
                                          "250 2.0.0 Ok: queued as Q1\r\n" QUIT_OK},
        {"EHLO c.example\r\nMAIL FROM:<>\r\nRCPT TO:<b@example.com>\r\nBDAT 12\r\n"
         "Subject: x\r\nBDAT 6 LAST\r\n\r\nbodyRSET\r\nQUIT\r\n",
         GREETING EHLO_REPLY("c.example", "1000") MAIL_OK RCPT_OK "250 2.0.0 12 octets received\r\n"
                                                                  "250 2.0.0 Ok: queued as "
                                                                  "Q1\r\n" RSET_OK QUIT_OK},
        {"EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"
         "hello\n.\nMAIL FROM:<evil@example.net>\r\n.\r\nNOOP\r\n",
         GREETING EHLO_REPLY("c.example", "1000") MAIL_OK RCPT_OK DATA_GO BARE_REFUSED NOOP_OK},
        {"NOOP\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "\r\nQUIT\nRSET\r\nBDAT 5\r\nabcdeNOOP\r\nHELO h.example\r\nMAIL FROM:<a@example.org>\r\n"
         "RCPT TO:<b@example.com>\r\nDATA\r\nSubject: x\r\n\r\n.\r\nQUIT\r\n",
         GREETING NOOP_OK TOO_LONG
         "500 5.5.2 Bad command: bare CR, bare LF or NUL; only CRLF ends a line\r\n" NEED_MAIL
             NOOP_OK "250 mx.test\r\n" MAIL_OK RCPT_OK DATA_GO
         "250 2.0.0 Ok: queued as Q1\r\n" QUIT_OK},
        {"FOO\r\nBAR\r\nBAZ\r\nMAIL FROM:<a@example.org>\r\nVRFY x\r\nQUX\r\nNOOP\r\n",
         GREETING UNKNOWN_CMD UNKNOWN_CMD UNKNOWN_CMD
         "503 5.5.1 Send EHLO or HELO first\r\n"
         "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery\r\n" UNKNOWN_CMD
         "421 4.7.0 mx.test Too many errors, closing connection\r\n"},
        {"EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nBDAT 0\r\n"
         "BDAT 3\r\nabcBDAT 0 LAST\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\n"
         "BDAT 4 LAST\r\na\rb\r",
         GREETING EHLO_REPLY("c.example", "1000") MAIL_OK RCPT_OK
         "250 2.0.0 0 octets received\r\n250 2.0.0 3 octets received\r\n"
         "250 2.0.0 Ok: queued as Q1\r\n" MAIL_OK RCPT_OK BARE_REFUSED},
    };
    for (size_t i = 0; i < N_ELEMS(scripts); i++) {
        const char *script = scripts[i].script;
        size_t n = strlen(script);
        struct run_result whole;
        run_script(script, n, NULL, 0, false, &whole);
        if (strcmp(whole.out, scripts[i].want_out) != 0) {
            print_escaped("got ", whole.out, strlen(whole.out));
            print_escaped("want", scripts[i].want_out, strlen(scripts[i].want_out));
            fail_msg("script %zu", i);
        }
        struct run_result other;
        run_script(script, n, NULL, 0, true, &other);
        check_same(&whole, &other, "pending decisions, script", i);
        free_result(&other);
        size_t *cuts = malloc(n * sizeof(size_t));
        assert_non_null(cuts);
        for (size_t k = 0; k + 1 < n; k++)
            cuts[k] = k + 1;
        for (int pend = 0; pend <= 1; pend++) {
            run_script(script, n, cuts, n - 1, pend, &other);
            check_same(&whole, &other, "1-byte pieces, script", i);
            free_result(&other);
        }
        free(cuts);
        for (size_t cut = 0; cut <= n; cut++) {
            run_script(script, n, &cut, 1, cut % 2 == 1, &other);
            check_same(&whole, &other, "2-way split at", cut);
            free_result(&other);
        }
        free_result(&whole);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greeting_and_ehlo),
        cmocka_unit_test(test_ehlo_long_names),
        cmocka_unit_test(test_helo_errors),
        cmocka_unit_test(test_sequence_errors),
        cmocka_unit_test(test_pipelined_transaction),
        cmocka_unit_test(test_two_messages),
        cmocka_unit_test(test_plain_smtp_parameters),
        cmocka_unit_test(test_mail_rcpt_refusals),
        cmocka_unit_test(test_too_many_recipients),
        cmocka_unit_test(test_error_limit),
        cmocka_unit_test(test_vrfy_expn_help_noop),
        cmocka_unit_test(test_rset_and_helo_reset),
        cmocka_unit_test(test_quit),
        cmocka_unit_test(test_timeout_shutdown),
        cmocka_unit_test(test_dot_stuffing),
        cmocka_unit_test(test_smuggling),
        cmocka_unit_test(test_data_refusals),
        cmocka_unit_test(test_data_line_limit),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_bdat),
        cmocka_unit_test(test_command_line_limits),
        cmocka_unit_test(test_bad_command_lines),
        cmocka_unit_test(test_pending_decisions),
        cmocka_unit_test(test_pending_data_start_refused),
        cmocka_unit_test(test_pending_then_timeout_and_free),
        cmocka_unit_test(test_every_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
