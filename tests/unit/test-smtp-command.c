/* Unit tests of src/smtp/smtp-command.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "smtp/smtp-command.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A heap copy of exactly n bytes: ASan catches any read past n. */
static char *exact_copy(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, s, n);
    return p;
}

static void test_smtp_command_parse(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        enum smtp_verb verb;
        const char *args;
    } cases[] = {
        {"EHLO client.example", SMTP_VERB_EHLO, "client.example"},
        {"ehlo client.example", SMTP_VERB_EHLO, "client.example"},
        {"HeLo x", SMTP_VERB_HELO, "x"},
        {"MAIL FROM:<a@b>", SMTP_VERB_MAIL, "FROM:<a@b>"},
        {"RCPT TO:<a@b> NOTIFY=NEVER", SMTP_VERB_RCPT, "TO:<a@b> NOTIFY=NEVER"},
        {"DATA", SMTP_VERB_DATA, ""},
        {"bdat 10 LAST", SMTP_VERB_BDAT, "10 LAST"},
        {"RSET", SMTP_VERB_RSET, ""},
        {"NOOP", SMTP_VERB_NOOP, ""},
        {"QUIT", SMTP_VERB_QUIT, ""},
        {"QUIT ", SMTP_VERB_QUIT, ""},
        {"HELP me", SMTP_VERB_HELP, "me"},
        {"VRFY user", SMTP_VERB_VRFY, "user"},
        {"EXPN list", SMTP_VERB_EXPN, "list"},
        {"STARTTLS", SMTP_VERB_STARTTLS, ""},
        {"AUTH PLAIN AGFAAGI=", SMTP_VERB_AUTH, "PLAIN AGFAAGI="},
        {"NOOP  two spaces", SMTP_VERB_NOOP, " two spaces"},
        {"MAILX FROM:<>", SMTP_VERB_UNKNOWN, "FROM:<>"},
        {"MAI", SMTP_VERB_UNKNOWN, ""},
        {"MAIL:FROM", SMTP_VERB_UNKNOWN, ""},
        {"", SMTP_VERB_UNKNOWN, ""},
        {" MAIL FROM:<>", SMTP_VERB_UNKNOWN, "MAIL FROM:<>"},
        {"HELO\tx", SMTP_VERB_UNKNOWN, ""},
        {"STARTTLSX", SMTP_VERB_UNKNOWN, ""},
        {"GET / HTTP/1.1", SMTP_VERB_UNKNOWN, "/ HTTP/1.1"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        size_t n = strlen(cases[i].line);
        char *line = exact_copy(cases[i].line, n);
        struct smtp_command c;
        smtp_command_parse(line, n, &c);
        if (c.verb != cases[i].verb || c.args_len != strlen(cases[i].args) ||
            memcmp(c.args, cases[i].args, c.args_len) != 0)
            fail_msg("case %zu \"%s\": verb %d args \"%.*s\"", i, cases[i].line, c.verb,
                     (int)c.args_len, c.args);
        /* args always points into the line (or just past it). */
        assert_true(c.args >= line && c.args + c.args_len <= line + n);
        free(line);
    }
}

static void test_smtp_command_names_and_limits(void **state)
{
    (void)state;
    static const struct {
        enum smtp_verb verb;
        const char *name;
        size_t max;
    } cases[] = {
        {SMTP_VERB_HELO, "HELO", 512},         {SMTP_VERB_EHLO, "EHLO", 512},
        {SMTP_VERB_MAIL, "MAIL", 1162},        {SMTP_VERB_RCPT, "RCPT", 1042},
        {SMTP_VERB_DATA, "DATA", 512},         {SMTP_VERB_BDAT, "BDAT", 512},
        {SMTP_VERB_RSET, "RSET", 512},         {SMTP_VERB_NOOP, "NOOP", 512},
        {SMTP_VERB_QUIT, "QUIT", 512},         {SMTP_VERB_HELP, "HELP", 512},
        {SMTP_VERB_VRFY, "VRFY", 512},         {SMTP_VERB_EXPN, "EXPN", 512},
        {SMTP_VERB_STARTTLS, "STARTTLS", 512}, {SMTP_VERB_AUTH, "AUTH", 12290},
        {SMTP_VERB_UNKNOWN, "UNKNOWN", 512},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        assert_string_equal(smtp_verb_name(cases[i].verb), cases[i].name);
        assert_int_equal(smtp_command_line_max(cases[i].verb), cases[i].max);
        /* The name parses back to the verb. */
        if (cases[i].verb != SMTP_VERB_UNKNOWN) {
            struct smtp_command c;
            smtp_command_parse(cases[i].name, strlen(cases[i].name), &c);
            assert_int_equal(c.verb, cases[i].verb);
        }
    }
    assert_int_equal(SMTP_ANY_LINE_MAX, 12290);
}

/* Write a string of n copies of c followed by suffix into b. */
static const char *repeat(struct buf *b, const char *prefix, char c, size_t n, const char *suffix)
{
    buf_reset(b);
    buf_append_str(b, prefix);
    for (size_t i = 0; i < n; i++)
        buf_append_char(b, c);
    buf_append_str(b, suffix);
    return buf_cstr(b);
}

struct mail_case {
    const char *args;
    const char *reply; /* NULL: accepted */
    const char *mailbox;
    long long size; /* -1: no SIZE */
    enum smtp_body body;
    bool smtputf8;
    enum smtp_ret ret;
    const char *envid;
};

static void check_mail(const struct mail_case *c, size_t i)
{
    size_t n = strlen(c->args);
    char *args = exact_copy(c->args, n);
    struct smtp_mail_args a;
    const char *reply = NULL;
    int r = smtp_mail_parse(args, n, &a, &reply);
    free(args);
    if (c->reply) {
        if (r != -1 || reply == NULL || strcmp(reply, c->reply) != 0)
            fail_msg("MAIL case %zu \"%s\": got %d \"%s\", want \"%s\"", i, c->args, r,
                     reply ? reply : "", c->reply);
        return;
    }
    if (r != 0)
        fail_msg("MAIL case %zu \"%s\": refused: %s", i, c->args, reply);
    if (strcmp(a.path.mailbox, c->mailbox) != 0 || a.has_size != (c->size >= 0) ||
        (c->size >= 0 && a.size != (unsigned long long)c->size) || a.body != c->body ||
        a.smtputf8 != c->smtputf8 || a.ret != c->ret || strcmp(a.envid, c->envid) != 0)
        fail_msg("MAIL case %zu \"%s\": mailbox \"%s\" size %d/%llu body %d utf8 %d ret %d "
                 "envid \"%s\"",
                 i, c->args, a.path.mailbox, a.has_size, a.size, a.body, a.smtputf8, a.ret,
                 a.envid);
}

#define SYNTAX_PARAMS "501 5.5.4 Syntax error in parameters"

static void test_smtp_mail_parse(void **state)
{
    (void)state;
    static const struct mail_case cases[] = {
        {"FROM:<a@example.com>", NULL, "a@example.com", -1, SMTP_BODY_NONE, false, SMTP_RET_NONE,
         ""},
        {"from:<a@example.com>", NULL, "a@example.com", -1, 0, false, 0, ""},
        {"FROM: <a@example.com>", NULL, "a@example.com", -1, 0, false, 0, ""},
        {"FROM:<>", NULL, "", -1, 0, false, 0, ""},
        {"FROM:<> ", NULL, "", -1, 0, false, 0, ""},
        {"FROM:<@relay.example:a@example.com>", NULL, "a@example.com", -1, 0, false, 0, ""},
        {"FROM:<a@example.com> SIZE=1000 BODY=8BITMIME", NULL, "a@example.com", 1000,
         SMTP_BODY_8BITMIME, false, 0, ""},
        {"FROM:<a@example.com>  size=0   body=7bit", NULL, "a@example.com", 0, SMTP_BODY_7BIT,
         false, 0, ""},
        {"FROM:<a@example.com> SIZE=999999999999999", NULL, "a@example.com", 999999999999999LL, 0,
         false, 0, ""},
        {"FROM:<jos\xc3\xa9@example.com> SMTPUTF8", NULL, "jos\xc3\xa9@example.com", -1, 0, true, 0,
         ""},
        {"FROM:<a@example.com> RET=FULL ENVID=QQ314159", NULL, "a@example.com", -1, 0, false,
         SMTP_RET_FULL, "QQ314159"},
        {"FROM:<a@example.com> ret=hdrs envid=a+2Bb+3D", NULL, "a@example.com", -1, 0, false,
         SMTP_RET_HDRS, "a+2Bb+3D"},
        {"FROM:<> SIZE=5 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=x", NULL, "", 5, SMTP_BODY_8BITMIME,
         true, SMTP_RET_HDRS, "x"},

        {.args = "", .reply = "501 5.5.4 Syntax: MAIL FROM:<address>"},
        {.args = "FROM", .reply = "501 5.5.4 Syntax: MAIL FROM:<address>"},
        {.args = "TO:<a@example.com>", .reply = "501 5.5.4 Syntax: MAIL FROM:<address>"},
        {.args = "FROM <a@example.com>", .reply = "501 5.5.4 Syntax: MAIL FROM:<address>"},
        {.args = "FROM:", .reply = "501 5.1.7 Bad sender address syntax"},
        {.args = "FROM:a@example.com", .reply = "501 5.1.7 Bad sender address syntax"},
        {.args = "FROM:  <a@example.com>", .reply = "501 5.1.7 Bad sender address syntax"},
        {.args = "FROM:<postmaster>", .reply = "501 5.1.7 Bad sender address syntax"},
        {.args = "FROM:<a@@example.com>", .reply = "501 5.1.7 Bad sender address syntax"},
        {.args = "FROM:<jos\xe9@example.com>", .reply = "501 5.6.7 Address is not valid UTF-8"},
        {.args = "FROM:<a@example.com>SIZE=10", .reply = SYNTAX_PARAMS},
        {.args = "FROM:<a@example.com> SIZE=", .reply = SYNTAX_PARAMS},
        {.args = "FROM:<a@example.com> =10", .reply = SYNTAX_PARAMS},
        {.args = "FROM:<a@example.com> -X=1", .reply = SYNTAX_PARAMS},
        {.args = "FROM:<a@example.com> X_Y=1", .reply = SYNTAX_PARAMS},
        {.args = "FROM:<a@example.com> X=a=b", .reply = SYNTAX_PARAMS},
        {.args = "FROM:<a@example.com> X=\xff", .reply = SYNTAX_PARAMS},
        {.args = "FROM:<a@example.com> X=\x7f", .reply = SYNTAX_PARAMS},
        {.args = "FROM:<a@example.com> SIZE", .reply = "501 5.5.4 Bad SIZE parameter"},
        {.args = "FROM:<a@example.com> SIZE=-1", .reply = "501 5.5.4 Bad SIZE parameter"},
        {.args = "FROM:<a@example.com> SIZE=1k", .reply = "501 5.5.4 Bad SIZE parameter"},
        {.args = "FROM:<a@example.com> SIZE=1000000000000000",
         .reply = "501 5.5.4 Bad SIZE parameter"},
        {.args = "FROM:<a@example.com> SIZE=1 SIZE=1", .reply = "501 5.5.4 Bad SIZE parameter"},
        {.args = "FROM:<a@example.com> BODY=BINARYMIME",
         .reply = "501 5.5.4 Unsupported BODY type"},
        {.args = "FROM:<a@example.com> BODY", .reply = "501 5.5.4 Unsupported BODY type"},
        {.args = "FROM:<a@example.com> BODY=7BIT BODY=7BIT", .reply = "501 5.5.4 BODY given twice"},
        {.args = "FROM:<a@example.com> SMTPUTF8=yes", .reply = "501 5.5.4 SMTPUTF8 takes no value"},
        {.args = "FROM:<a@example.com> SMTPUTF8 SMTPUTF8",
         .reply = "501 5.5.4 SMTPUTF8 takes no value"},
        {.args = "FROM:<a@example.com> RET=ALL", .reply = "501 5.5.4 RET must be FULL or HDRS"},
        {.args = "FROM:<a@example.com> RET", .reply = "501 5.5.4 RET must be FULL or HDRS"},
        {.args = "FROM:<a@example.com> RET=FULL RET=HDRS", .reply = "501 5.5.4 RET given twice"},
        {.args = "FROM:<a@example.com> ENVID", .reply = "501 5.5.4 Bad ENVID parameter"},
        {.args = "FROM:<a@example.com> ENVID=a+2b", .reply = "501 5.5.4 Bad ENVID parameter"},
        {.args = "FROM:<a@example.com> ENVID=a+", .reply = "501 5.5.4 Bad ENVID parameter"},
        {.args = "FROM:<a@example.com> ENVID=\xc3\xa9", .reply = "501 5.5.4 Bad ENVID parameter"},
        {.args = "FROM:<a@example.com> ENVID=a ENVID=a", .reply = "501 5.5.4 Bad ENVID parameter"},
        {.args = "FROM:<a@example.com> AUTH=<>", .reply = "555 5.5.4 Unsupported MAIL parameter"},
        {.args = "FROM:<a@example.com> XFOO", .reply = "555 5.5.4 Unsupported MAIL parameter"},
        {.args = "FROM:<a@example.com> X-FOO=\xc3\xa9",
         .reply = "555 5.5.4 Unsupported MAIL parameter"},
        {.args = "FROM:<a@example.com> NOTIFY=NEVER",
         .reply = "555 5.5.4 Unsupported MAIL parameter"},
        {.args = "FROM:<a@example.com> SIZE=10 XFOO",
         .reply = "555 5.5.4 Unsupported MAIL parameter"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++)
        check_mail(&cases[i], i);

    /* ENVID: 100 octets of xtext, 101 too many. Paths: 256 octets. */
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    for (size_t len = 99; len <= 102; len++) {
        struct mail_case c = {repeat(&b, "FROM:<a@b> ENVID=", 'e', len, ""),
                              len <= SMTP_ENVID_MAX ? NULL : "501 5.5.4 Bad ENVID parameter",
                              "a@b",
                              -1,
                              0,
                              false,
                              0,
                              NULL};
        char want[128];
        memset(want, 'e', len);
        want[len] = '\0';
        c.envid = want;
        check_mail(&c, len);
    }
    for (size_t local = 63; local <= 66; local++) {
        struct mail_case c = {repeat(&b, "FROM:<", 'l', local, "@example.com> SIZE=1"),
                              local <= SMTP_LOCAL_MAX ? NULL
                                                      : "501 5.1.7 Sender address is too long",
                              NULL,
                              1,
                              0,
                              false,
                              0,
                              ""};
        char want[128];
        memset(want, 'l', local);
        memcpy(want + local, "@example.com", 13);
        c.mailbox = want;
        check_mail(&c, local);
    }
    buf_free(&b);
}

struct rcpt_case {
    const char *args;
    const char *reply;
    const char *mailbox;
    unsigned notify;
    const char *orcpt;
    bool postmaster;
};

static void check_rcpt(const struct rcpt_case *c, size_t i)
{
    size_t n = strlen(c->args);
    char *args = exact_copy(c->args, n);
    struct smtp_rcpt_args a;
    const char *reply = NULL;
    int r = smtp_rcpt_parse(args, n, &a, &reply);
    free(args);
    if (c->reply) {
        if (r != -1 || reply == NULL || strcmp(reply, c->reply) != 0)
            fail_msg("RCPT case %zu \"%s\": got %d \"%s\", want \"%s\"", i, c->args, r,
                     reply ? reply : "", c->reply);
        return;
    }
    if (r != 0)
        fail_msg("RCPT case %zu \"%s\": refused: %s", i, c->args, reply);
    if (strcmp(a.path.mailbox, c->mailbox) != 0 || a.notify != c->notify ||
        strcmp(a.orcpt, c->orcpt) != 0 || a.path.postmaster != c->postmaster)
        fail_msg("RCPT case %zu \"%s\": mailbox \"%s\" notify %u orcpt \"%s\" pm %d", i, c->args,
                 a.path.mailbox, a.notify, a.orcpt, a.path.postmaster);
}

#define N_NEVER   SMTP_NOTIFY_NEVER
#define N_SUCCESS SMTP_NOTIFY_SUCCESS
#define N_FAILURE SMTP_NOTIFY_FAILURE
#define N_DELAY   SMTP_NOTIFY_DELAY

static void test_smtp_rcpt_parse(void **state)
{
    (void)state;
    static const struct rcpt_case cases[] = {
        {"TO:<b@example.com>", NULL, "b@example.com", 0, "", false},
        {"to: <b@example.com>", NULL, "b@example.com", 0, "", false},
        {"TO:<postmaster>", NULL, "postmaster", 0, "", true},
        {"TO:<Postmaster>", NULL, "postmaster", 0, "", true},
        {"TO:<@hop.example:b@example.com>", NULL, "b@example.com", 0, "", false},
        {"TO:<b@example.com> NOTIFY=NEVER", NULL, "b@example.com", N_NEVER, "", false},
        {"TO:<b@example.com> NOTIFY=SUCCESS,FAILURE,DELAY", NULL, "b@example.com",
         N_SUCCESS | N_FAILURE | N_DELAY, "", false},
        {"TO:<b@example.com> notify=delay,success", NULL, "b@example.com", N_SUCCESS | N_DELAY, "",
         false},
        {"TO:<b@example.com> ORCPT=rfc822;b@example.com", NULL, "b@example.com", 0,
         "rfc822;b@example.com", false},
        {"TO:<b@example.com> ORCPT=rfc822;b+2Bx@example.com NOTIFY=FAILURE", NULL, "b@example.com",
         N_FAILURE, "rfc822;b+2Bx@example.com", false},
        {"TO:<b@example.com> ORCPT=utf-8;jos\xc3\xa9@example.com", NULL, "b@example.com", 0,
         "utf-8;jos\xc3\xa9@example.com", false},

        {.args = "", .reply = "501 5.5.4 Syntax: RCPT TO:<address>"},
        {.args = "FROM:<b@example.com>", .reply = "501 5.5.4 Syntax: RCPT TO:<address>"},
        {.args = "TO <b@example.com>", .reply = "501 5.5.4 Syntax: RCPT TO:<address>"},
        {.args = "TO:<>", .reply = "501 5.1.3 Bad recipient address syntax"},
        {.args = "TO:b@example.com", .reply = "501 5.1.3 Bad recipient address syntax"},
        {.args = "TO:<b@example..com>", .reply = "501 5.1.3 Bad recipient address syntax"},
        {.args = "TO:<jos\xe9@example.com>", .reply = "501 5.6.7 Address is not valid UTF-8"},
        {.args = "TO:<b@example.com>NOTIFY=NEVER", .reply = SYNTAX_PARAMS},
        {.args = "TO:<b@example.com> NOTIFY=", .reply = SYNTAX_PARAMS},
        {.args = "TO:<b@example.com> NOTIFY", .reply = "501 5.5.4 Bad NOTIFY parameter"},
        {.args = "TO:<b@example.com> NOTIFY=SOMETIMES", .reply = "501 5.5.4 Bad NOTIFY parameter"},
        {.args = "TO:<b@example.com> NOTIFY=SUCCESS,", .reply = "501 5.5.4 Bad NOTIFY parameter"},
        {.args = "TO:<b@example.com> NOTIFY=,SUCCESS", .reply = "501 5.5.4 Bad NOTIFY parameter"},
        {.args = "TO:<b@example.com> NOTIFY=SUCCESS,,DELAY",
         .reply = "501 5.5.4 Bad NOTIFY parameter"},
        {.args = "TO:<b@example.com> NOTIFY=SUCCESS,SUCCESS",
         .reply = "501 5.5.4 Bad NOTIFY parameter"},
        {.args = "TO:<b@example.com> NOTIFY=DELAY NOTIFY=DELAY",
         .reply = "501 5.5.4 Bad NOTIFY parameter"},
        {.args = "TO:<b@example.com> NOTIFY=NEVER,SUCCESS",
         .reply = "501 5.5.4 NOTIFY=NEVER cannot be combined"},
        {.args = "TO:<b@example.com> NOTIFY=DELAY,NEVER",
         .reply = "501 5.5.4 NOTIFY=NEVER cannot be combined"},
        {.args = "TO:<b@example.com> NOTIFY=NEVER,NEVER",
         .reply = "501 5.5.4 Bad NOTIFY parameter"},
        {.args = "TO:<b@example.com> ORCPT", .reply = "501 5.5.4 Bad ORCPT parameter"},
        {.args = "TO:<b@example.com> ORCPT=rfc822", .reply = "501 5.5.4 Bad ORCPT parameter"},
        {.args = "TO:<b@example.com> ORCPT=rfc822;", .reply = "501 5.5.4 Bad ORCPT parameter"},
        {.args = "TO:<b@example.com> ORCPT=;b@example.com",
         .reply = "501 5.5.4 Bad ORCPT parameter"},
        {.args = "TO:<b@example.com> ORCPT=rfc822;b+2bx", .reply = "501 5.5.4 Bad ORCPT parameter"},
        {.args = "TO:<b@example.com> ORCPT=-x;b", .reply = "501 5.5.4 Bad ORCPT parameter"},
        {.args = "TO:<b@example.com> ORCPT=rfc822;\xc3\xa9",
         .reply = "501 5.5.4 Bad ORCPT parameter"},
        {.args = "TO:<b@example.com> ORCPT=utf-8;\xff", .reply = SYNTAX_PARAMS},
        {.args = "TO:<b@example.com> ORCPT=rfc822;a ORCPT=rfc822;a",
         .reply = "501 5.5.4 Bad ORCPT parameter"},
        {.args = "TO:<b@example.com> SIZE=10", .reply = "555 5.5.4 Unsupported RCPT parameter"},
        {.args = "TO:<b@example.com> XFOO=bar", .reply = "555 5.5.4 Unsupported RCPT parameter"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++)
        check_rcpt(&cases[i], i);

    /* ORCPT: 500 octets, 501 too many. */
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    for (size_t len = 499; len <= 502; len++) {
        /* "rfc822;" is 7 of them. */
        const char *args = repeat(&b, "TO:<b@example.com> ORCPT=rfc822;", 'o', len - 7, "");
        char *want = malloc(len + 1);
        assert_non_null(want);
        memcpy(want, "rfc822;", 7);
        memset(want + 7, 'o', len - 7);
        want[len] = '\0';
        struct rcpt_case c = {args,
                              len <= SMTP_ORCPT_MAX ? NULL : "501 5.5.4 Bad ORCPT parameter",
                              "b@example.com",
                              0,
                              want,
                              false};
        check_rcpt(&c, len);
        free(want);
    }
    /* Recipient local part: 64 octets, 65 too many. */
    for (size_t local = 64; local <= 65; local++) {
        const char *args = repeat(&b, "TO:<", 'r', local, "@example.com>");
        char want[128];
        memset(want, 'r', local);
        memcpy(want + local, "@example.com", 13);
        struct rcpt_case c = {.args = args, .mailbox = want, .orcpt = ""};
        if (local > SMTP_LOCAL_MAX)
            c.reply = "501 5.1.3 Recipient address is too long";
        check_rcpt(&c, local);
    }
    buf_free(&b);
}

static void test_smtp_bdat_parse(void **state)
{
    (void)state;
    static const struct {
        const char *args;
        int want_ret;
        unsigned long long size;
        bool last;
    } cases[] = {
        {"0", 0, 0, false},
        {"0 LAST", 0, 0, true},
        {"10", 0, 10, false},
        {"1000 last", 0, 1000, true},
        {"1000 LaSt", 0, 1000, true},
        {"007 LAST", 0, 7, true},
        {"9007199254740992", 0, 9007199254740992ULL, false}, /* 2^53 */
        {"9007199254740993", -1, 0, false},
        {"99999999999999999999999", -1, 0, false},
        {"", -1, 0, false},
        {"LAST", -1, 0, false},
        {" 10", -1, 0, false},
        {"10 ", -1, 0, false},
        {"10  LAST", -1, 0, false},
        {"10 LASTX", -1, 0, false},
        {"10 LAS", -1, 0, false},
        {"10LAST", -1, 0, false},
        {"10 LAST ", -1, 0, false},
        {"-1", -1, 0, false},
        {"+1", -1, 0, false},
        {"1e3", -1, 0, false},
        {"0x10", -1, 0, false},
        {"10\tLAST", -1, 0, false},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        size_t n = strlen(cases[i].args);
        char *args = exact_copy(cases[i].args, n);
        unsigned long long size = 12345;
        bool last = false;
        int r = smtp_bdat_parse(args, n, &size, &last);
        free(args);
        if (r != cases[i].want_ret || (r == 0 && (size != cases[i].size || last != cases[i].last)))
            fail_msg("case %zu \"%s\": got %d size %llu last %d", i, cases[i].args, r, size, last);
    }
}

static void test_smtp_helo_valid(void **state)
{
    (void)state;
    static const struct {
        const char *args;
        bool valid;
    } cases[] = {
        {"client.example", true},
        {"localhost", true},
        {"192.0.2.1", true},
        {"[192.0.2.1]", true},
        {"[IPv6:::1]", true},
        {"[IPv6:2001:db8::1]", true},
        {"my_host.example", true}, /* tolerated */
        {"host.example.", true},   /* tolerated */
        {"b\xc3\xbc"
         "cher.example",
         true},
        {"", false},
        {".", false},
        {"host..example", false},
        {"host.example..", false},
        {"-host.example", false},
        {"host example", false},
        {"[192.0.2.1", false},
        {"[1.2.3]", false},
        {"[::1]", false},
        {"\xff", false},
        {"b\xfc"
         "cher.example",
         false},
        {"host\r", false},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        size_t n = strlen(cases[i].args);
        char *args = exact_copy(cases[i].args, n);
        bool v = smtp_helo_valid(args, n);
        free(args);
        if (v != cases[i].valid)
            fail_msg("case %zu \"%s\": got %d", i, cases[i].args, v);
    }
    /* A NUL ends nothing: it is refused, also inside a literal. */
    assert_false(smtp_helo_valid("[192.0.2.1\0]", 12));
    assert_false(smtp_helo_valid("host\0.example", 13));
    /* 255 octets at most. */
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    for (size_t len = 254; len <= 257; len++) {
        /* Labels of 49 octets: no dot lands at the end for these lengths. */
        buf_reset(&b);
        for (size_t k = 0; k < len; k++)
            buf_append_char(&b, k % 50 == 49 ? '.' : 'h');
        assert_int_equal(b.len, len);
        char *args = exact_copy(b.data, b.len);
        if (smtp_helo_valid(args, len) != (len <= SMTP_DOMAIN_MAX))
            fail_msg("HELO name of %zu", len);
        free(args);
    }
    buf_free(&b);
}

static void test_smtp_xtext_valid(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        bool valid;
    } cases[] = {
        {"", true},       {"abc", true},   {"a+2Bb", true},       {"+2B", true},
        {"+41+42", true}, {"!~", true},    {"a@b.example", true}, {"+2b", false},
        {"+2", false},    {"+", false},    {"a+", false},         {"++41", false},
        {"a=b", false},   {"a b", false},  {"\x7f", false},       {"\xc3\xa9", false},
        {"+G0", false},   {"\x01", false},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        size_t n = strlen(cases[i].s);
        char *s = exact_copy(cases[i].s, n);
        bool v = smtp_xtext_valid(s, n);
        free(s);
        if (v != cases[i].valid)
            fail_msg("case %zu \"%s\": got %d", i, cases[i].s, v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smtp_command_parse),
        cmocka_unit_test(test_smtp_command_names_and_limits),
        cmocka_unit_test(test_smtp_mail_parse),
        cmocka_unit_test(test_smtp_rcpt_parse),
        cmocka_unit_test(test_smtp_bdat_parse),
        cmocka_unit_test(test_smtp_helo_valid),
        cmocka_unit_test(test_smtp_xtext_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
