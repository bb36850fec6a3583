/* Unit tests of src/policy/rule-parse.c and src/policy/rules.c. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/xalloc.h"
#include "policy/rules.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A table from text, failing the test (with the message) if it does not parse. */
static struct rule_table *parse_ok(const char *text)
{
    char *error = NULL;
    struct rule_table *t = rule_table_parse("header_checks", text, strlen(text), &error);
    if (t == NULL)
        fail_msg("parse failed: %s\n--\n%s", error, text);
    return t;
}

/* Match a C string subject. */
static int match(const struct rule_table *t, const char *subject, struct rule_match *m)
{
    return rule_table_match(t, subject, strlen(subject), m);
}

static void test_rules_actions(void **state)
{
    (void)state;
    static const struct {
        const char *rule;
        enum rule_action action;
        const char *code;
        const char *text;
    } cases[] = {
        {"/^Subject:/ REJECT", RULE_REJECT, "", ""},
        {"/^Subject:/ REJECT no thanks", RULE_REJECT, "", "no thanks"},
        {"/^Subject:/ REJECT 5.7.1 no thanks", RULE_REJECT, "5.7.1", "no thanks"},
        {"/^Subject:/ REJECT 5.7.1", RULE_REJECT, "5.7.1", ""},
        {"/^Subject:/ REJECT 5.123.456   spaced  ", RULE_REJECT, "5.123.456", "spaced"},
        {"/^Subject:/ REJECT 5.7.1x not a code", RULE_REJECT, "", "5.7.1x not a code"},
        {"/^Subject:/ REJECT 550 not a code", RULE_REJECT, "", "550 not a code"},
        {"/^Subject:/ reject lower case", RULE_REJECT, "", "lower case"},
        {"/^Subject:/ DISCARD", RULE_DISCARD, "", ""},
        {"/^Subject:/ DISCARD gone", RULE_DISCARD, "", "gone"},
        {"/^Subject:/ HOLD look at it", RULE_HOLD, "", "look at it"},
        {"/^Subject:/ QUARANTINE suspicious", RULE_QUARANTINE, "", "suspicious"},
        {"/^Subject:/ WARN", RULE_WARN, "", ""},
        {"/^Subject:/ Warn\twith a tab", RULE_WARN, "", "with a tab"},
        {"/^Subject:/ PREPEND X-Checked: yes", RULE_PREPEND, "", "X-Checked: yes"},
        {"/^Subject:/ PREPEND X-Empty:", RULE_PREPEND, "", "X-Empty:"},
        {"/^Subject:/ REDIRECT spam@example.org", RULE_REDIRECT, "", "spam@example.org"},
        {"/^Subject:/ REDIRECT \"odd user\"@[192.0.2.1]", RULE_REDIRECT, "",
         "\"odd user\"@[192.0.2.1]"},
        {"/^Subject:/ IGNORE", RULE_IGNORE, "", ""},
        {"/^Subject:/ FILTER smtp:[127.0.0.1]:10025", RULE_FILTER, "", "smtp:[127.0.0.1]:10025"},
        {"/^Subject:/ DUNNO", RULE_DUNNO, "", ""},
        {"/^Subject:/ OK", RULE_OK, "", ""},
        {"/^Subject:/ REJECT costs $$5", RULE_REJECT, "", "costs $5"},
        {"|^Subject:| WARN other delimiter", RULE_WARN, "", "other delimiter"},
        {"%^Subject:% WARN percent delimiter", RULE_WARN, "", "percent delimiter"},
        /* '#' starts a comment, but may delimit a negated regex. */
        {"!!#^Subject:# WARN hash delimiter", RULE_WARN, "", "hash delimiter"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct rule_table *t = parse_ok(cases[i].rule);
        assert_int_equal(rule_table_count(t), 1);
        struct rule_match m;
        int rc = match(t, "Subject: hello world", &m);
        if (rc != 1 || m.action != cases[i].action || strcmp(m.code, cases[i].code) != 0 ||
            strcmp(m.text, cases[i].text) != 0)
            fail_msg("case %zu \"%s\": rc %d action %s code \"%s\" text \"%s\"", i, cases[i].rule,
                     rc, rule_action_name(m.action), m.code, m.text);
        assert_int_equal(m.text_len, strlen(m.text));
        assert_string_equal(m.file, "header_checks");
        assert_int_equal(m.line, 1);
        assert_int_equal(match(t, "From: someone", &m), 0);
        rule_table_free(&t);
        assert_null(t);
    }
}

static void test_rules_flags(void **state)
{
    (void)state;
    static const struct {
        const char *rule;
        const char *subject;
        int expect;
    } cases[] = {
        /* Case-insensitive unless 'i' toggles it off. */
        {"/^subject: viagra/ DISCARD", "SUBJECT: VIAGRA now", 1},
        {"/^subject: viagra/i DISCARD", "SUBJECT: VIAGRA now", 0},
        {"/^subject: viagra/i DISCARD", "subject: viagra now", 1},
        {"/^subject: viagra/ii DISCARD", "SUBJECT: VIAGRA now", 1},
        /* 'x' ignores whitespace and comments in the regex. */
        {"/^sub ject \\: \\s free/x DISCARD", "Subject: free", 1},
        {"/^sub ject/ DISCARD", "Subject: free", 0},
        /* '.' matches a newline unless 's' toggles it off. */
        {"/^Subject:.*second/ DISCARD", "Subject: first\n\tsecond", 1},
        {"/^Subject:.*second/s DISCARD", "Subject: first\n\tsecond", 0},
        /* 'm': ^ after every newline. */
        {"/^\\tsecond/ DISCARD", "Subject: first\n\tsecond", 0},
        {"/^\\tsecond/m DISCARD", "Subject: first\n\tsecond", 1},
        /* 'U' makes quantifiers lazy: a{2,} then a literal end. */
        {"/^(a+)b/U DISCARD", "aab", 1},
        /* 'A' anchors, 'E' keeps $ from matching before a final newline. */
        {"/world/A DISCARD", "hello world", 0},
        {"/hello/A DISCARD", "hello world", 1},
        {"/world$/ DISCARD", "hello world\n", 1},
        {"/world$/E DISCARD", "hello world\n", 0},
        {"/abc/X DISCARD", "xabcx", 1},
        /* Subjects are bytes: 8-bit and NUL-free binary is fine. */
        {"/\\xff\\xfe/ DISCARD", "a\xff\xfe", 1},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct rule_table *t = parse_ok(cases[i].rule);
        struct rule_match m;
        int rc = match(t, cases[i].subject, &m);
        if (rc != cases[i].expect)
            fail_msg("case %zu \"%s\": rc %d, expected %d", i, cases[i].rule, rc, cases[i].expect);
        rule_table_free(&t);
    }
}

static void test_rules_negation_and_order(void **state)
{
    (void)state;
    struct rule_table *t = parse_ok("!/^Subject: /i WARN not a subject\n"
                                    "/^Subject: a/ REJECT first\n"
                                    "/^Subject: ab/ REJECT second\n"
                                    "! ! /never/ HOLD double negation\n");
    assert_int_equal(rule_table_count(t), 4);
    struct rule_match m;
    assert_int_equal(match(t, "From: x", &m), 1);
    assert_int_equal(m.action, RULE_WARN);
    assert_string_equal(m.text, "not a subject");
    assert_int_equal(m.line, 1);
    /* The first matching rule wins. */
    assert_int_equal(match(t, "Subject: abc", &m), 1);
    assert_string_equal(m.text, "first");
    assert_int_equal(m.line, 2);
    assert_int_equal(match(t, "Subject: xyz", &m), 0);
    assert_int_equal(match(t, "Subject: never", &m), 1);
    assert_int_equal(m.action, RULE_HOLD);
    assert_int_equal(m.line, 4);
    rule_table_free(&t);
    rule_table_free(&t); /* NULL: no effect */
}

static void test_rules_if_endif(void **state)
{
    (void)state;
    static const char text[] = "if /^Subject:/\n"          /* 1 */
                               "if !/free/\n"              /* 2 */
                               "/money/ REJECT money\n"    /* 3 */
                               "endif\n"                   /* 4 */
                               "/free/ WARN free\n"        /* 5 */
                               "IF /lottery/\n"            /* 6 */
                               "/win/ DISCARD lottery\n"   /* 7 */
                               "ENDIF   \n"                /* 8 */
                               "endif\n"                   /* 9 */
                               "/money|win/ HOLD other\n"; /* 10 */
    struct rule_table *t = parse_ok(text);
    assert_int_equal(rule_table_count(t), 4);
    static const struct {
        const char *subject;
        int rc;
        const char *text;
        unsigned line;
    } cases[] = {
        {"Subject: money", 1, "money", 3},
        {"Subject: free money", 1, "free", 5},
        {"Subject: lottery win", 1, "lottery", 7},
        {"Subject: win", 1, "other", 10},
        {"From: money", 1, "other", 10},
        {"From: free", 0, "", 0},
        {"Subject: nothing", 0, "", 0},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct rule_match m;
        int rc = match(t, cases[i].subject, &m);
        if (rc != cases[i].rc || strcmp(m.text, cases[i].text) != 0 || m.line != cases[i].line)
            fail_msg("case %zu \"%s\": rc %d text \"%s\" line %u", i, cases[i].subject, rc, m.text,
                     m.line);
    }
    rule_table_free(&t);
}

static void test_rules_lines(void **state)
{
    (void)state;
    /* Comments, blank lines, continuation lines and CRLF endings. */
    static const char text[] = "# header_checks\n"
                               "\n"
                               "   \t \n"
                               "   # an indented comment\n"
                               "/^Subject: spam/\n"
                               "    REJECT 5.7.1 we do not\n"
                               "# a comment inside does not end the rule\n"
                               "\tlike spam\r\n"
                               "/^X-Mailer: bulk/ WARN bulk\r\n"
                               "/#/ WARN a hash in a regex";
    struct rule_table *t = parse_ok(text);
    assert_int_equal(rule_table_count(t), 3);
    struct rule_match m;
    assert_int_equal(match(t, "Subject: spam", &m), 1);
    assert_string_equal(m.code, "5.7.1");
    assert_string_equal(m.text, "we do not\tlike spam");
    assert_int_equal(m.line, 5);
    assert_int_equal(match(t, "X-Mailer: bulk", &m), 1);
    assert_string_equal(m.text, "bulk");
    assert_int_equal(m.line, 9);
    assert_int_equal(match(t, "Subject: #1", &m), 1);
    assert_int_equal(m.line, 10);
    rule_table_free(&t);

    /* Empty and comment-only files are empty tables. */
    t = parse_ok("");
    assert_int_equal(rule_table_count(t), 0);
    assert_int_equal(match(t, "anything", &m), 0);
    rule_table_free(&t);
    t = parse_ok("# nothing\n\n");
    assert_int_equal(rule_table_count(t), 0);
    rule_table_free(&t);
}

static void test_rules_substitution(void **state)
{
    (void)state;
    static const struct {
        const char *rule;
        const char *subject;
        const char *text;
    } cases[] = {
        {"/^Subject: (\\S+) (\\S+)/ REJECT $2 then $1", "Subject: one two", "two then one"},
        {"/^Subject: (\\S+)/ REJECT [${1}] [$(1)]x", "Subject: one", "[one] [one]x"},
        {"/^Subject: (a)|(b)/ WARN <$1><$2>", "Subject: b", "<><b>"},
        {"/^Subject: (.*)/ WARN got $1", "Subject: a\r\n\tb\x01", "got a   b "},
        {"/^Subject: (.*)/ PREPEND X-Subject: $1", "Subject: hi", "X-Subject: hi"},
        {"/^To: <?(\\w+)@/ REDIRECT $1@quarantine.example", "To: <bob@x>",
         "bob@quarantine.example"},
        {"/^X-Route: (\\w+)/ FILTER $1:[127.0.0.1]:10025", "X-Route: scan",
         "scan:[127.0.0.1]:10025"},
        {"/^(((((((((((x)))))))))))/ WARN $9", "x", "x"},
        {"/^Subject: (x)/ WARN $$1 is $1", "Subject: x", "$1 is x"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct rule_table *t = parse_ok(cases[i].rule);
        struct rule_match m;
        int rc = match(t, cases[i].subject, &m);
        if (rc != 1 || strcmp(m.text, cases[i].text) != 0)
            fail_msg("case %zu \"%s\": rc %d text \"%s\" error \"%s\"", i, cases[i].rule, rc,
                     m.text, m.error);
        assert_false(m.truncated);
        rule_table_free(&t);
    }

    /* An expanded argument that is no longer valid is an error at match time. */
    static const struct {
        const char *rule;
        const char *subject;
    } bad[] = {
        {"/^X: (.*)/ FILTER smtp:$1", "X: a b"},
        {"/^To: (.*)/ REDIRECT $1", "To: not an address"},
        {"/^X: (.*)/ FILTER $1", "X: nocolon"},
    };
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        struct rule_table *t = parse_ok(bad[i].rule);
        struct rule_match m;
        int rc = match(t, bad[i].subject, &m);
        if (rc != -1 || m.error[0] == '\0' || m.line != 1)
            fail_msg("bad case %zu \"%s\": rc %d", i, bad[i].rule, rc);
        rule_table_free(&t);
    }
}

static void test_rules_text_limit(void **state)
{
    (void)state;
    /* The expanded text is cut at RULE_TEXT_MAX for REJECT ... */
    struct rule_table *t = parse_ok("/^Subject: (.*)/ REJECT 5.7.1 $1$1");
    struct buf subject;
    buf_init(&subject, BUF_UNLIMITED);
    assert_int_equal(buf_append_str(&subject, "Subject: "), 0);
    for (int i = 0; i < RULE_TEXT_MAX; i++)
        assert_int_equal(buf_append_char(&subject, 'a'), 0);
    struct rule_match m;
    assert_int_equal(rule_table_match(t, subject.data, subject.len, &m), 1);
    assert_true(m.truncated);
    assert_int_equal(m.text_len, RULE_TEXT_MAX);
    assert_int_equal(strlen(m.text), RULE_TEXT_MAX);
    assert_string_equal(m.code, "5.7.1");
    rule_table_free(&t);
    /* ... and makes PREPEND fail. */
    t = parse_ok("/^Subject: (.*)/ PREPEND X-S: $1");
    assert_int_equal(rule_table_match(t, subject.data, subject.len, &m), -1);
    rule_table_free(&t);
    buf_free(&subject);
}

/* Backscatter of Postfix's BACKSCATTER_README: bounces of mail we never sent. */
static void test_rules_backscatter(void **state)
{
    (void)state;
    struct rule_table *t = parse_ok("/^Content-Type: multipart\\/report/ DISCARD\n"
                                    "/^Received: +from +(mail\\.example\\.com) / "
                                    "REJECT forged client name in Received: header: $1\n");
    struct rule_match m;
    assert_int_equal(match(t,
                           "Content-Type: multipart/report; report-type=delivery-status;\n"
                           "\tboundary=\"x\"",
                           &m),
                     1);
    assert_int_equal(m.action, RULE_DISCARD);
    assert_string_equal(m.text, "");
    assert_int_equal(m.line, 1);
    assert_int_equal(match(t, "content-type: MULTIPART/REPORT", &m), 1);
    assert_int_equal(match(t, "Content-Type: multipart/mixed", &m), 0);
    assert_int_equal(match(t, "Received: from mail.example.com (x [192.0.2.1])", &m), 1);
    assert_string_equal(m.text, "forged client name in Received: header: mail.example.com");
    rule_table_free(&t);
}

static void test_rules_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *error; /* the start of the message */
    } cases[] = {
        {"/a/ FROB", "t:1: unknown action \"FROB\""},
        {"/a/ REJECTX", "t:1: unknown action \"REJECTX\""},
        {"\n\n/a/", "t:3: missing action"},
        {"/a/ \t ", "t:1: missing action"},
        {"/abc DISCARD", "t:1: unterminated regex (no closing '/')"},
        {"/ab\\/ DISCARD", "t:1: unterminated regex"},
        {"#comment\n|abc DISCARD", "t:2: unterminated regex (no closing '|')"},
        {"/a(/ DISCARD", "t:1: bad regex at offset 2: missing closing parenthesis"},
        {"/(*UTF)a/ DISCARD", "t:1: bad regex at offset"},
        {"/a/q DISCARD", "t:1: unknown regex flag 'q'"},
        {"/a/ PREPEND", "t:1: PREPEND needs an argument"},
        {"/a/ PREPEND no colon here", "t:1: PREPEND needs a header line"},
        {"/a/ PREPEND : empty name", "t:1: PREPEND needs a header line"},
        {"/a/ PREPEND Bad Name: x", "t:1: PREPEND needs a header line"},
        {"/(a)/ PREPEND X$1: y", "t:1: PREPEND needs a header line"},
        {"/a/ REDIRECT", "t:1: REDIRECT needs an argument"},
        {"/a/ REDIRECT nobody", "t:1: REDIRECT needs an address"},
        {"/a/ REDIRECT a..b@example.org", "t:1: REDIRECT needs an address"},
        {"/a/ REDIRECT a@-example.org", "t:1: REDIRECT needs an address"},
        {"/a/ REDIRECT a@b c", "t:1: REDIRECT needs an address"},
        {"/a/ FILTER", "t:1: FILTER needs an argument"},
        {"/a/ FILTER smtp", "t:1: FILTER needs transport:destination"},
        {"/a/ FILTER :dest", "t:1: FILTER needs transport:destination"},
        {"/a/ FILTER smtp:", "t:1: FILTER needs transport:destination"},
        {"/a/ IGNORE now", "t:1: IGNORE takes no argument"},
        {"/a/ DUNNO x", "t:1: DUNNO takes no argument"},
        {"/a/ OK x", "t:1: OK takes no argument"},
        {"/a/ REJECT 4.7.1 try later", "t:1: a REJECT status code must be 5.x.y"},
        {"/a/ REJECT 2.0.0 fine", "t:1: a REJECT status code must be 5.x.y"},
        {"/a/ REJECT $1", "t:1: $1 but the regex has 0 capture groups"},
        {"/(a)/ REJECT $2", "t:1: $2 but the regex has 1 capture group"},
        {"/(a)/ REJECT $x", "t:1: bad $ in text"},
        {"/(a)/ REJECT ${1", "t:1: bad $ in text"},
        {"/(a)/ REJECT $0", "t:1: bad $ in text"},
        {"/(a)/ REJECT $", "t:1: bad $ in text"},
        {"!/(a)/ REJECT $1", "t:1: $1 in the text of a negated regex"},
        {"/a/ REJECT bell\x07", "t:1: control character in the text of REJECT"},
        {"abc REJECT", "t:1: expected /regex/ ACTION, if or endif, not \"abc\""},
        {"\\a\\ REJECT", "t:1: a regex must start with a delimiter"},
        {"!", "t:1: missing regex"},
        {"  /a/ REJECT", "t:1: a line that starts with whitespace must continue a rule"},
        {"if /a/\n/b/ REJECT\n", "t:1: if without endif"},
        {"if /a/\nendif\nif /b/\nif /c/\nendif\n", "t:3: if without endif"},
        {"/a/ REJECT\nendif\n", "t:2: endif without if"},
        {"if /a/\nendif now\n", "t:2: text after endif"},
        {"if /a/ REJECT\nendif\n", "t:1: text after the regex of if"},
        {"if\nendif\n", "t:1: missing regex"},
        {"/a/ REJECT\nif /(/\nendif", "t:2: bad regex at offset 1"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        char *error = NULL;
        struct rule_table *t = rule_table_parse("t", cases[i].text, strlen(cases[i].text), &error);
        if (t != NULL || error == NULL ||
            strncmp(error, cases[i].error, strlen(cases[i].error)) != 0)
            fail_msg("case %zu \"%s\": error \"%s\", expected \"%s\"", i, cases[i].text,
                     error ? error : "(none)", cases[i].error);
        free(error);
    }

    /* A NUL byte, which a C string cannot show in the table above. */
    static const char nul[] = "/a/ REJECT\n/b/ REJECT x\0y\n";
    char *error = NULL;
    assert_null(rule_table_parse("t", nul, sizeof(nul) - 1, &error));
    assert_string_equal(error, "t:2: NUL byte in the line");
    free(error);
}

/* "/a/ REJECT", then a rule "/b(?# ... )/ REJECT x" whose logical line,
 * spread over continuation lines, is total bytes long. */
static void long_rule(struct buf *b, size_t total)
{
    buf_reset(b);
    assert_int_equal(buf_append_str(b, "/a/ REJECT\n/b(?#"), 0);
    static const char tail[] = " )/ REJECT x\n";
    size_t mid = total - 5 - (sizeof(tail) - 2);
    while (mid > 0) {
        size_t k = mid > 79 ? 79 : mid;
        if (mid - k == 1)
            k--;
        assert_int_equal(buf_append_char(b, ' '), 0);
        for (size_t i = 1; i < k; i++)
            assert_int_equal(buf_append_char(b, 'y'), 0);
        assert_int_equal(buf_append_char(b, '\n'), 0);
        mid -= k;
    }
    assert_int_equal(buf_append_str(b, tail), 0);
}

/* Text of n copies of the line, and one more line. */
static char *repeat(const char *line, size_t n, const char *last)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(buf_append_str(&b, line), 0);
    assert_int_equal(buf_append_str(&b, last), 0);
    return buf_steal(&b);
}

/* Every limit: reached it parses, crossed by one it fails. */
static void test_rules_limits(void **state)
{
    (void)state;
    char *error = NULL;
    struct rule_table *t;

    /* Nesting. */
    char *text = repeat("if /a/\n", RULE_NEST_MAX, "/a/ REJECT\n");
    char *full = repeat("endif\n", RULE_NEST_MAX, "");
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    assert_int_equal(buf_printf(&b, "%s%s", text, full), 0);
    t = parse_ok(b.data);
    struct rule_match m;
    assert_int_equal(match(t, "a", &m), 1);
    assert_int_equal(m.line, RULE_NEST_MAX + 1);
    rule_table_free(&t);
    buf_reset(&b);
    assert_int_equal(buf_printf(&b, "if /a/\n%s%sendif\n", text, full), 0);
    t = rule_table_parse("t", b.data, b.len, &error);
    assert_null(t);
    assert_string_equal(error, "t:33: if nested too deep (max 32)");
    x_free(&error);
    free(text);
    free(full);

    /* Line length (a logical line, continuation included). */
    long_rule(&b, RULE_LINE_MAX);
    t = rule_table_parse("t", b.data, b.len, &error);
    if (t == NULL)
        fail_msg("%s", error);
    assert_int_equal(match(t, "b", &m), 1);
    assert_string_equal(m.text, "x");
    rule_table_free(&t);
    long_rule(&b, RULE_LINE_MAX + 1);
    t = rule_table_parse("t", b.data, b.len, &error);
    assert_null(t);
    assert_string_equal(error, "t:2: line too long (max 8192 bytes)");
    x_free(&error);

    /* Text. */
    buf_reset(&b);
    assert_int_equal(buf_append_str(&b, "/a/ REJECT 5.7.1 "), 0);
    for (int i = 0; i < RULE_TEXT_MAX; i++)
        assert_int_equal(buf_append_char(&b, 'x'), 0);
    t = parse_ok(b.data);
    assert_int_equal(match(t, "a", &m), 1);
    assert_int_equal(m.text_len, RULE_TEXT_MAX);
    assert_false(m.truncated);
    rule_table_free(&t);
    assert_int_equal(buf_append_char(&b, 'x'), 0);
    t = rule_table_parse("t", b.data, b.len, &error);
    assert_null(t);
    assert_string_equal(error, "t:1: text of REJECT too long (max 998 bytes)");
    x_free(&error);

    /* Rule count (if lines count, endif lines do not). */
    text = repeat("/a/ DUNNO\n", RULE_COUNT_MAX - 2, "if /b/\n/c/ REJECT c\nendif\n");
    t = parse_ok(text);
    assert_int_equal(rule_table_count(t), RULE_COUNT_MAX - 1);
    assert_int_equal(match(t, "bc", &m), 1);
    assert_int_equal(m.line, RULE_COUNT_MAX);
    rule_table_free(&t);
    free(text);
    text = repeat("/a/ DUNNO\n", RULE_COUNT_MAX, "/b/ DUNNO\n");
    t = rule_table_parse("t", text, strlen(text), &error);
    assert_null(t);
    assert_string_equal(error, "t:10001: too many rules (max 10000)");
    x_free(&error);
    free(text);

    /* File size. */
    buf_reset(&b);
    while (b.len < RULE_FILE_MAX - 80)
        assert_int_equal(buf_append_str(&b, "# padding padding padding padding\n"), 0);
    while (b.len < RULE_FILE_MAX)
        assert_int_equal(buf_append_char(&b, '\n'), 0);
    t = parse_ok(b.data);
    rule_table_free(&t);
    assert_int_equal(buf_append_char(&b, '\n'), 0);
    t = rule_table_parse("t", b.data, b.len, &error);
    assert_null(t);
    assert_string_equal(error, "t: file too large (max 4194304 bytes)");
    x_free(&error);
    buf_free(&b);
}

/* A temporary directory for rule files. */
static char tmpdir[] = "/tmp/test-rules-XXXXXX";

static char *write_file(const char *name, const char *text, size_t len)
{
    struct buf path;
    buf_init(&path, 4096);
    assert_int_equal(buf_printf(&path, "%s/%s", tmpdir, name), 0);
    FILE *f = fopen(path.data, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return buf_steal(&path);
}

static void test_rules_load(void **state)
{
    (void)state;
    /* 200 rules, each matching its own header. */
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    assert_int_equal(buf_append_str(&b, "# 200 rules\n"), 0);
    for (int i = 0; i < 200; i++)
        assert_int_equal(
            buf_printf(&b, "/^X-Rule-%d: (.*)/ REJECT 5.7.%d rule %d: $1\n", i, i % 10, i), 0);
    char *path = write_file("header_checks", b.data, b.len);
    char *error = NULL;
    struct rule_table *t = rule_table_load(path, &error);
    if (t == NULL)
        fail_msg("%s", error);
    assert_int_equal(rule_table_count(t), 200);
    assert_string_equal(rule_table_name(t), path);
    struct rule_match m;
    assert_int_equal(match(t, "X-Rule-137: hello", &m), 1);
    assert_string_equal(m.code, "5.7.7");
    assert_string_equal(m.text, "rule 137: hello");
    assert_int_equal(m.line, 139);
    assert_string_equal(m.file, path);
    assert_int_equal(match(t, "X-Rule-200: hello", &m), 0);
    rule_table_free(&t);
    unlink(path);
    free(path);

    /* A bad file names the path and the line. */
    static const char bad[] = "/a/ REJECT\n\n/b/ FROB\n";
    path = write_file("body_checks", bad, sizeof(bad) - 1);
    assert_null(rule_table_load(path, &error));
    buf_reset(&b);
    assert_int_equal(buf_printf(&b, "%s:3: unknown action \"FROB\"", path), 0);
    assert_string_equal(error, b.data);
    x_free(&error);
    unlink(path);
    free(path);

    /* A missing file, a directory, and a file one byte too large. */
    assert_null(rule_table_load("/nonexistent/header_checks", &error));
    assert_string_equal(error, "/nonexistent/header_checks: No such file or directory");
    x_free(&error);
    assert_null(rule_table_load(tmpdir, &error));
    assert_non_null(strstr(error, "not a regular file"));
    x_free(&error);
    buf_reset(&b);
    while (b.len <= RULE_FILE_MAX)
        assert_int_equal(buf_append_str(&b, "#\n"), 0);
    path = write_file("big", b.data, RULE_FILE_MAX + 1);
    assert_null(rule_table_load(path, &error));
    assert_non_null(strstr(error, "file too large"));
    x_free(&error);
    unlink(path);
    free(path);
    buf_free(&b);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Catastrophic backtracking stops at the match limit instead of hanging. */
static void test_rules_backtracking(void **state)
{
    (void)state;
    struct rule_table *t = parse_ok("/(a+)+$/ REJECT\n/(x+x+)+y/ REJECT\n");
    char subject[64];
    memset(subject, 'a', sizeof(subject) - 1);
    subject[sizeof(subject) - 2] = 'b';
    subject[sizeof(subject) - 1] = '\0';
    struct rule_match m;
    double start = now();
    int rc = match(t, subject, &m);
    double took = now() - start;
    assert_int_equal(rc, -1);
    assert_int_equal(m.line, 1);
    assert_non_null(strstr(m.error, "limit"));
    assert_true(took < 10.0);
    rule_table_free(&t);
}

/* Several threads match against one table at the same time. */
struct thread_arg {
    const struct rule_table *t;
    const char *failure; /* NULL if every match was right */
};

static void *match_thread(void *p)
{
    struct thread_arg *arg = p;
    char subject[64];
    for (int i = 0; i < 2000 && arg->failure == NULL; i++) {
        int n = snprintf(subject, sizeof(subject), "Subject: item %d", i);
        if (n < 0 || (size_t)n >= sizeof(subject)) {
            arg->failure = "snprintf";
            break;
        }
        struct rule_match m;
        if (rule_table_match(arg->t, subject, (size_t)n, &m) != 1)
            arg->failure = "no match";
        /* The expanded text is the number just written. */
        else if (strcmp(m.text, subject + 14) != 0)
            arg->failure = "wrong text";
    }
    return NULL;
}

static void test_rules_threads(void **state)
{
    (void)state;
    struct rule_table *t = parse_ok("/^Subject: item (\\d+)/ WARN $1\n");
    pthread_t threads[4];
    struct thread_arg args[4];
    for (size_t i = 0; i < N_ELEMS(threads); i++) {
        args[i].t = t;
        args[i].failure = NULL;
        assert_int_equal(pthread_create(&threads[i], NULL, match_thread, &args[i]), 0);
    }
    for (size_t i = 0; i < N_ELEMS(threads); i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        if (args[i].failure != NULL)
            fail_msg("thread %zu: %s", i, args[i].failure);
    }
    rule_table_free(&t);
}

static void test_rules_action_names(void **state)
{
    (void)state;
    assert_string_equal(rule_action_name(RULE_REJECT), "REJECT");
    assert_string_equal(rule_action_name(RULE_QUARANTINE), "QUARANTINE");
    assert_string_equal(rule_action_name(RULE_OK), "OK");
}

/* What rule_table_each() saw: "LINE:TEXT:REFS;" per rule. */
static int each_record(unsigned line, const char *text, bool has_refs, void *arg)
{
    struct buf *b = arg;
    assert_int_equal(buf_printf(b, "%u:%s:%d;", line, text, has_refs), 0);
    return strstr(text, "stop") ? 7 : 0;
}

static void test_rules_each(void **state)
{
    (void)state;
    struct rule_table *t = parse_ok("/a/ FILTER smtp:[127.0.0.1]:10025\n"
                                    "if /b/\n"
                                    "/(c)/ FILTER lmtp:[$1.example]:24\n"
                                    "endif\n"
                                    "/d/ WARN not a filter\n"
                                    "# comment\n"
                                    "/e/ FILTER smtp:stop.example\n"
                                    "/f/ FILTER smtp:after.example\n");
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(rule_table_each(t, RULE_FILTER, each_record, &b), 7);
    assert_string_equal(buf_cstr(&b), "1:smtp:[127.0.0.1]:10025:0;3:lmtp:[$1.example]:24:1;"
                                      "7:smtp:stop.example:0;");
    buf_reset(&b);
    assert_int_equal(rule_table_each(t, RULE_WARN, each_record, &b), 0);
    assert_string_equal(buf_cstr(&b), "5:not a filter:0;");
    buf_reset(&b);
    assert_int_equal(rule_table_each(t, RULE_REJECT, each_record, &b), 0);
    assert_int_equal(b.len, 0);
    buf_free(&b);
    rule_table_free(&t);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    return rmdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_actions),
        cmocka_unit_test(test_rules_flags),
        cmocka_unit_test(test_rules_negation_and_order),
        cmocka_unit_test(test_rules_if_endif),
        cmocka_unit_test(test_rules_lines),
        cmocka_unit_test(test_rules_substitution),
        cmocka_unit_test(test_rules_text_limit),
        cmocka_unit_test(test_rules_backscatter),
        cmocka_unit_test(test_rules_errors),
        cmocka_unit_test(test_rules_limits),
        cmocka_unit_test(test_rules_load),
        cmocka_unit_test(test_rules_backtracking),
        cmocka_unit_test(test_rules_threads),
        cmocka_unit_test(test_rules_action_names),
        cmocka_unit_test(test_rules_each),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
