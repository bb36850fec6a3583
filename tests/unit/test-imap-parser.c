/* Unit tests of src/imap/imap-parser.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-parser.h"
#include "lib/buf.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* What the test session does with an announced literal. */
enum policy {
    ACCEPT,
    REFUSE,
    STREAM,
};

/* Write an argument list as text: atoms bare, "quoted", {n}data, (lists),
 * ATOM[section]<partial>. */
static void dump_args(struct buf *out, const struct imap_arg *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_append_char(out, ' ');
        switch (a[i].type) {
        case IMAP_ARG_ATOM:
            buf_append_str(out, a[i].str);
            if (a[i].has_section) {
                buf_append_char(out, '[');
                dump_args(out, a[i].section, a[i].section_count);
                buf_append_char(out, ']');
            }
            if (a[i].partial)
                buf_printf(out, "<%s>", a[i].partial);
            break;
        case IMAP_ARG_NIL:
            buf_printf(out, "NIL:%s", a[i].str);
            break;
        case IMAP_ARG_QUOTED:
            buf_printf(out, "\"%s\"", a[i].str);
            break;
        case IMAP_ARG_LITERAL:
            buf_printf(out, "{%zu%s%s}", a[i].len, a[i].literal_nonsync ? "+" : "",
                       a[i].literal_streamed ? "s" : "");
            if (!a[i].literal_streamed)
                buf_append(out, a[i].str, a[i].len);
            break;
        case IMAP_ARG_LIST:
            buf_append_char(out, '(');
            dump_args(out, a[i].list, a[i].count);
            buf_append_char(out, ')');
            break;
        }
    }
}

struct session {
    struct imap_parser *p;
    enum policy policy;
    struct buf log;
    bool in_data;
    bool dead; /* FATAL was reported: the connection is closed */
};

/* Feed one piece, acting on every event as a session would. */
static void feed_piece(struct session *s, const char *data, size_t len)
{
    while (!s->dead) {
        size_t used = 0;
        enum imap_parse_status st = imap_parser_feed(s->p, data, len, &used);
        assert_true(used <= len);
        data += used;
        len -= used;
        if (st != IMAP_PARSE_LITERAL_DATA && st != IMAP_PARSE_NEED_MORE)
            s->in_data = false;
        switch (st) {
        case IMAP_PARSE_NEED_MORE:
            assert_int_equal(len, 0);
            return;
        case IMAP_PARSE_LITERAL: {
            const struct imap_literal_info *li = imap_parser_literal(s->p);
            buf_printf(&s->log, "LIT %llu%s [%s %s ", (unsigned long long)li->size,
                       li->nonsync ? "+" : "", li->partial.tag, li->partial.name);
            dump_args(&s->log, li->partial.args, li->partial.count);
            buf_append_str(&s->log, "]|");
            if (s->policy == REFUSE)
                imap_parser_literal_refuse(s->p);
            else
                imap_parser_literal_accept(s->p, s->policy == STREAM);
            break;
        }
        case IMAP_PARSE_LITERAL_DATA: {
            size_t n;
            bool last;
            const char *d = imap_parser_literal_data(s->p, &n, &last);
            if (!s->in_data)
                buf_append_str(&s->log, "DATA ");
            s->in_data = !last;
            buf_append(&s->log, d, n);
            if (last)
                buf_append_char(&s->log, '|');
            break;
        }
        case IMAP_PARSE_COMMAND: {
            const struct imap_command *c = imap_parser_command(s->p);
            buf_printf(&s->log, "CMD %s %s ", c->tag, c->name);
            dump_args(&s->log, c->args, c->count);
            buf_append_char(&s->log, '|');
            if (strcmp(c->name, "IDLE") == 0)
                assert_int_equal(imap_parser_read_line(s->p), 0);
            break;
        }
        case IMAP_PARSE_LINE: {
            size_t n;
            const char *l = imap_parser_line(s->p, &n);
            assert_int_equal(strlen(l), n);
            buf_printf(&s->log, "LINE %s|", l);
            break;
        }
        case IMAP_PARSE_ERROR:
            buf_printf(&s->log, "BAD %s %s|", imap_parser_tag(s->p), imap_parser_error(s->p));
            break;
        case IMAP_PARSE_FATAL:
            buf_printf(&s->log, "BYE %s|", imap_parser_error(s->p));
            s->dead = true;
            return;
        }
        if (st == IMAP_PARSE_FATAL)
            return;
    }
}

static void session_init(struct session *s, enum policy policy, uint64_t literal_max)
{
    s->p = imap_parser_new(literal_max);
    s->policy = policy;
    buf_init(&s->log, BUF_UNLIMITED);
    s->in_data = false;
    s->dead = false;
}

static void session_free(struct session *s)
{
    imap_parser_free(&s->p);
    assert_null(s->p);
    buf_free(&s->log);
}

/* Run input split at byte `at` (0: whole) and return the log (caller frees). */
static char *run_split(const char *in, size_t len, size_t at, enum policy policy, uint64_t max)
{
    struct session s;
    session_init(&s, policy, max);
    if (at == 0) {
        char *copy = malloc(len ? len : 1);
        memcpy(copy, in, len);
        feed_piece(&s, copy, len);
        free(copy);
    } else {
        char *a = malloc(at), *b = malloc(len - at ? len - at : 1);
        memcpy(a, in, at);
        memcpy(b, in + at, len - at);
        feed_piece(&s, a, at);
        feed_piece(&s, b, len - at);
        free(a);
        free(b);
    }
    char *r = buf_steal(&s.log);
    session_free(&s);
    return r;
}

/* Run input one byte at a time. */
static char *run_bytes(const char *in, size_t len, enum policy policy, uint64_t max)
{
    struct session s;
    session_init(&s, policy, max);
    for (size_t i = 0; i < len; i++) {
        char *c = malloc(1);
        *c = in[i];
        feed_piece(&s, c, 1);
        free(c);
    }
    char *r = buf_steal(&s.log);
    session_free(&s);
    return r;
}

struct parser_case {
    const char *in;
    enum policy policy;
    const char *want;
};

static void check_case(const char *in, size_t len, enum policy policy, uint64_t max,
                       const char *want, size_t i)
{
    for (size_t at = 0; at < len; at++) {
        char *got = run_split(in, len, at, policy, max);
        if (strcmp(got, want) != 0)
            fail_msg("case %zu split at %zu:\n got  %s\n want %s", i, at, got, want);
        free(got);
    }
    char *got = run_bytes(in, len, policy, max);
    if (strcmp(got, want) != 0)
        fail_msg("case %zu byte by byte:\n got  %s\n want %s", i, got, want);
    free(got);
}

static void test_imap_parser_table(void **state)
{
    (void)state;
    static const struct parser_case cases[] = {
        /* Plain commands. */
        {"a1 NOOP\r\n", ACCEPT, "CMD a1 NOOP |"},
        {"a1 noop\r\n", ACCEPT, "CMD a1 NOOP |"},
        {"A001 LOGIN user pass\r\n", ACCEPT, "CMD A001 LOGIN user pass|"},
        {"x LOGIN \"us\\\"er\" \"p\\\\s\"\r\n", ACCEPT, "CMD x LOGIN \"us\"er\" \"p\\s\"|"},
        {"x SELECT \"\"\r\n", ACCEPT, "CMD x SELECT \"\"|"},
        {"x UID FETCH 1:* (FLAGS UID)\r\n", ACCEPT, "CMD x UID FETCH 1:* (FLAGS UID)|"},
        {"x STORE 1 +FLAGS (\\Seen \\Deleted)\r\n", ACCEPT,
         "CMD x STORE 1 +FLAGS (\\Seen \\Deleted)|"},
        {"x LIST \"\" %\r\n", ACCEPT, "CMD x LIST \"\" %|"},
        {"x LIST \"\" [Gmail]/*\r\n", ACCEPT, "CMD x LIST \"\" [Gmail]/*|"},
        {"x LOGIN ]a] b[\r\n", ACCEPT, "CMD x LOGIN ]a] b[|"},
        {"x ID NIL\r\n", ACCEPT, "CMD x ID NIL:NIL|"},
        {"x ID nil\r\n", ACCEPT, "CMD x ID NIL:nil|"},
        {"x ID (\"name\" \"mutt\" \"x\" NIL)\r\n", ACCEPT,
         "CMD x ID (\"name\" \"mutt\" \"x\" NIL:NIL)|"},
        {"x A () (()) ((a) b)\r\n", ACCEPT, "CMD x A () (()) ((a) b)|"},
        {"x SEARCH CHARSET UTF-8 SUBJECT \"caf\xc3\xa9\"\r\n", ACCEPT,
         "CMD x SEARCH CHARSET UTF-8 SUBJECT \"caf\xc3\xa9\"|"},
        {"x SELECT \"a\tb\"\r\n", ACCEPT, "CMD x SELECT \"a\tb\"|"},
        {"a] NOOP\r\n", ACCEPT, "CMD a] NOOP |"},
        /* Fetch sections. */
        {"x FETCH 1 BODY[]\r\n", ACCEPT, "CMD x FETCH 1 BODY[]|"},
        {"x FETCH 1 (BODY.PEEK[HEADER.FIELDS (Date From)]<0.100> BODY[1.2.MIME])\r\n", ACCEPT,
         "CMD x FETCH 1 (BODY.PEEK[HEADER.FIELDS (Date From)]<0.100> BODY[1.2.MIME])|"},
        {"x FETCH 1 body[text]<5.10>\r\n", ACCEPT, "CMD x FETCH 1 body[text]<5.10>|"},
        {"x FETCH 1 BINARY.PEEK[1]\r\n", ACCEPT, "CMD x FETCH 1 BINARY.PEEK[1]|"},
        {"x FETCH 1 (BODY[HEADER.FIELDS (\"Date\" {4}\r\nFrom)])\r\n", ACCEPT,
         "LIT 4 [x FETCH 1 (BODY[HEADER.FIELDS (\"Date\")])]|CMD x FETCH 1 "
         "(BODY[HEADER.FIELDS (\"Date\" {4}From)])|"},
        {"x FETCH 1 BODY[\r\n", ACCEPT, "BAD x Missing ']'|"},
        {"x FETCH 1 BODY[(]\r\n", ACCEPT, "BAD x Unexpected ']'|"},
        {"x FETCH 1 BODY[]x\r\n", ACCEPT, "BAD x Missing space between arguments|"},
        {"x FETCH 1 BODY[]<1.2\r\n", ACCEPT, "BAD x Invalid partial range|"},
        {"x FETCH 1 BODY[]<>\r\n", ACCEPT, "BAD x Invalid partial range|"},
        {"x FETCH 1 BODY[]<a>\r\n", ACCEPT, "BAD x Invalid partial range|"},
        {"x FETCH 1 X[]\r\n", ACCEPT, "CMD x FETCH 1 X[]|"},
        {"x FETCH 1 (BODY[1])]\r\n", ACCEPT, "BAD x Missing space between arguments|"},
        /* Literals. */
        {"x LOGIN {4}\r\nuser {4+}\r\npass\r\n", ACCEPT,
         "LIT 4 [x LOGIN ]|LIT 4+ [x LOGIN {4}user]|CMD x LOGIN {4}user {4+}pass|"},
        {"x LOGIN {0}\r\n {0}\r\n\r\n", ACCEPT,
         "LIT 0 [x LOGIN ]|LIT 0 [x LOGIN {0}]|CMD x LOGIN {0} {0}|"},
        {"x APPEND box {5}\r\nhello\r\ny NOOP\r\n", STREAM,
         "LIT 5 [x APPEND box]|DATA hello|CMD x APPEND box {5s}|CMD y NOOP |"},
        {"x APPEND box {0}\r\n\r\n", STREAM, "LIT 0 [x APPEND box]|DATA |CMD x APPEND box {0s}|"},
        {"x APPEND box {5}\r\ny NOOP\r\n", REFUSE, "LIT 5 [x APPEND box]|CMD y NOOP |"},
        {"x APPEND box {5+}\r\nhello (junk {3+}\r\nabc more\r\ny NOOP\r\n", REFUSE,
         "LIT 5+ [x APPEND box]|CMD y NOOP |"},
        {"x APPEND box {5+}\r\nhello {3}\r\ny NOOP\r\n", REFUSE,
         "LIT 5+ [x APPEND box]|CMD y NOOP |"},
        {"x LOGIN {4}user\r\n", ACCEPT, "BAD x Literal must end the line|"},
        {"x LOGIN {}\r\n", ACCEPT, "BAD x Invalid literal|"},
        {"x LOGIN {4x}\r\n", ACCEPT, "BAD x Invalid literal|"},
        {"x LOGIN a{4}\r\n", ACCEPT, "BAD x Missing space between arguments|"},
        {"x LOGIN {4}\r\nuser pass\r\n", ACCEPT, "LIT 4 [x LOGIN ]|CMD x LOGIN {4}user pass|"},
        {"x LOGIN {4}\r\nuserpass\r\n", ACCEPT,
         "LIT 4 [x LOGIN ]|BAD x Missing space between arguments|"},
        /* A bad line announcing a literal: a synchronizing one ends it (the
         * client waits), a non-synchronizing one is skipped. */
        {"x LOGIN \"a {3}\r\ny NOOP\r\n", ACCEPT, "BAD x Unterminated quoted string|CMD y NOOP |"},
        {"x LOGIN \"a {3+}\r\nz N\r\ny NOOP\r\n", ACCEPT,
         "BAD x Unterminated quoted string|CMD y NOOP |"},
        {"x LOGIN \"a {3+}\r\nabc {2+}\r\nxy rest\r\ny NOOP\r\n", ACCEPT,
         "BAD x Unterminated quoted string|CMD y NOOP |"},
        {"x LOGIN ({3+}\r\nabc\r\ny NOOP\r\n", ACCEPT,
         "LIT 3+ [x LOGIN ()]|BAD x Missing ')'|CMD y NOOP |"},
        {"x LOGIN \"a {99999999999999999999+}\r\ny NOOP\r\n", ACCEPT,
         "BYE [TOOBIG] Literal too large|"},
        /* Errors, each followed by a good command to show the resync. */
        {"\r\ny NOOP\r\n", ACCEPT, "BAD * Empty command line|CMD y NOOP |"},
        {"x\r\ny NOOP\r\n", ACCEPT, "BAD x Missing command name|CMD y NOOP |"},
        {"x \r\ny NOOP\r\n", ACCEPT, "BAD x Missing command name|CMD y NOOP |"},
        {"x+ NOOP\r\ny NOOP\r\n", ACCEPT, "BAD * Invalid tag|CMD y NOOP |"},
        {"(x NOOP\r\ny NOOP\r\n", ACCEPT, "BAD * Invalid tag|CMD y NOOP |"},
        {" NOOP\r\ny NOOP\r\n", ACCEPT, "BAD * Invalid tag|CMD y NOOP |"},
        {"x NO(OP\r\ny NOOP\r\n", ACCEPT, "BAD x Invalid command name|CMD y NOOP |"},
        {"x NOOP \r\ny NOOP\r\n", ACCEPT, "BAD x Missing argument|CMD y NOOP |"},
        {"x A  b\r\n", ACCEPT, "BAD x Missing argument|"},
        {"x A ( b)\r\n", ACCEPT, "BAD x Unexpected space|"},
        {"x A (b )\r\n", ACCEPT, "BAD x Missing argument|"},
        {"x A (b\r\n", ACCEPT, "BAD x Missing ')'|"},
        {"x A b)\r\n", ACCEPT, "BAD x Unexpected ')'|"},
        {"x A (b)(c)\r\n", ACCEPT, "BAD x Missing space between arguments|"},
        {"x A \"b\"c\r\n", ACCEPT, "BAD x Missing space between arguments|"},
        {"x A \"b\r\n", ACCEPT, "BAD x Unterminated quoted string|"},
        {"x A \"b\\n\"\r\n", ACCEPT, "BAD x Invalid escape in quoted string|"},
        {"x A \"\xc3\"\r\n", ACCEPT, "BAD x Quoted string is not valid UTF-8|"},
        {"x A caf\xc3\xa9\r\n", ACCEPT, "BAD x 8-bit characters are not allowed in atoms|"},
        {"x A \xc3\xa9\r\n", ACCEPT, "BAD x 8-bit characters are not allowed in atoms|"},
        {"x A a\x01\r\n", ACCEPT, "BAD x Control characters are not allowed in atoms|"},
        {"x A \x7f\r\n", ACCEPT, "BAD x Control characters are not allowed in atoms|"},
        {"x A b\nc\r\ny NOOP\r\n", ACCEPT,
         "BAD x Command line holds a bare CR, LF or NUL|CMD y NOOP |"},
        {"x A b\rc\r\ny NOOP\r\n", ACCEPT,
         "BAD x Command line holds a bare CR, LF or NUL|CMD y NOOP |"},
        {"x NOOP\n", ACCEPT, ""},
        /* IDLE: the next line is read raw. */
        {"x IDLE\r\nDONE\r\ny NOOP\r\n", ACCEPT, "CMD x IDLE |LINE DONE|CMD y NOOP |"},
        {"x IDLE\r\n(not a \"command\r\ny NOOP\r\n", ACCEPT,
         "CMD x IDLE |LINE (not a \"command|CMD y NOOP |"},
        {"x IDLE\r\nDO\nNE\r\ny NOOP\r\n", ACCEPT,
         "CMD x IDLE |BAD * Line holds a bare CR, LF or NUL|CMD y NOOP |"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        const char *in = cases[i].in;
        size_t len = strlen(in);
        check_case(in, len, cases[i].policy, 1000, cases[i].want, i);
    }
}

/* Inputs with a NUL byte, given with their length. */
static void test_imap_parser_nul(void **state)
{
    (void)state;
    static const char in1[] = "x APPEND box (\\Seen) {5+}\r\na\0b\r\n\r\n";
    check_case(in1, sizeof(in1) - 1, ACCEPT, 1000,
               "LIT 5+ [x APPEND box (\\Seen)]|CMD x APPEND box (\\Seen) {5+}a", 0);
    static const char in2[] = "x A \"b\0c\"\r\ny NOOP\r\n";
    check_case(in2, sizeof(in2) - 1, ACCEPT, 1000,
               "BAD x Command line holds a bare CR, LF or NUL|CMD y NOOP |", 1);
}

/* A literal as large as literal_max is taken; one octet more is refused,
 * and so is one that would make the literals of a command exceed it. */
static void test_imap_parser_literal_max(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *want;
    } cases[] = {
        {"x A {10}\r\n0123456789\r\n", "LIT 10 [x A ]|CMD x A {10}0123456789|"},
        {"x A {11}\r\ny NOOP\r\n", "BAD x [TOOBIG] Literal too large|CMD y NOOP |"},
        {"x A {11+}\r\n01234567890\r\n", "BYE [TOOBIG] Literal too large|"},
        {"x A {5}\r\n01234 {5}\r\n01234\r\n", "LIT 5 [x A ]|LIT 5 [x A {5}01234]|"
                                              "CMD x A {5}01234 {5}01234|"},
        {"x A {5}\r\n01234 {6}\r\ny NOOP\r\n",
         "LIT 5 [x A ]|BAD x [TOOBIG] Literal too large|CMD y NOOP |"},
        {"x A \"{10+}\r\n0123456789\r\ny NOOP\r\n",
         "BAD x Unterminated quoted string|CMD y NOOP |"},
        {"x A \"{11+}\r\n01234567890\r\ny NOOP\r\n", "BYE [TOOBIG] Literal too large|"},
        {"x A {4294967296}\r\ny NOOP\r\n", "BAD x [TOOBIG] Literal too large|CMD y NOOP |"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++)
        check_case(cases[i].in, strlen(cases[i].in), ACCEPT, 10, cases[i].want, i);
    /* After FATAL everything is FATAL. */
    struct imap_parser *p = imap_parser_new(10);
    size_t used;
    const char *in = "x A {11+}\r\n";
    assert_int_equal(imap_parser_feed(p, in, strlen(in), &used), IMAP_PARSE_FATAL);
    assert_int_equal(imap_parser_feed(p, "y NOOP\r\n", 8, &used), IMAP_PARSE_FATAL);
    assert_int_equal(used, 0);
    imap_parser_free(&p);
    /* literal_max above the limit is lowered to it. */
    p = imap_parser_new(UINT64_MAX);
    char big[64];
    snprintf(big, sizeof(big), "x A {%llu}\r\n", (unsigned long long)IMAP_LITERAL_LIMIT);
    assert_int_equal(imap_parser_feed(p, big, strlen(big), &used), IMAP_PARSE_LITERAL);
    imap_parser_literal_refuse(p);
    snprintf(big, sizeof(big), "x A {%llu}\r\n", (unsigned long long)IMAP_LITERAL_LIMIT + 1);
    assert_int_equal(imap_parser_feed(p, big, strlen(big), &used), IMAP_PARSE_ERROR);
    imap_parser_free(&p);
}

/* Build "x A " + filler so that the line with CRLF is exactly len octets. */
static void make_line(struct buf *b, const char *head, char fill, size_t len, const char *end)
{
    buf_reset(b);
    buf_append_str(b, head);
    while (b->len + strlen(end) + 2 < len)
        buf_append_char(b, fill);
    buf_append_str(b, end);
    buf_append_str(b, "\r\n");
    assert_int_equal(b->len, len);
}

static char *run_whole(const char *in, size_t len, uint64_t max)
{
    char *r = run_split(in, len, 0, ACCEPT, max);
    return r;
}

static void test_imap_parser_line_max(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    make_line(&b, "x A ", 'a', IMAP_LINE_MAX, "");
    buf_append_str(&b, "y NOOP\r\n");
    char *got = run_whole(b.data, b.len, 10);
    assert_true(strncmp(got, "CMD x A aaaa", 12) == 0);
    assert_non_null(strstr(got, "|CMD y NOOP |"));
    free(got);
    make_line(&b, "x A ", 'a', IMAP_LINE_MAX + 1, "");
    buf_append_str(&b, "y NOOP\r\n");
    got = run_whole(b.data, b.len, 10);
    assert_string_equal(got, "BAD x Line too long|CMD y NOOP |");
    free(got);
    /* Split everywhere near the limit too. */
    for (size_t at = IMAP_LINE_MAX - 4; at < IMAP_LINE_MAX + 4; at++) {
        got = run_split(b.data, b.len, at, ACCEPT, 10);
        assert_string_equal(got, "BAD x Line too long|CMD y NOOP |");
        free(got);
    }
    /* An over-long line ending with a non-synchronizing literal: skipped. */
    make_line(&b, "x A ", 'a', IMAP_LINE_MAX + 100, " {3+}");
    buf_append_str(&b, "abc\r\ny NOOP\r\n");
    got = run_whole(b.data, b.len, 10);
    assert_string_equal(got, "BAD x Line too long|CMD y NOOP |");
    free(got);
    got = run_bytes(b.data, b.len, ACCEPT, 10);
    assert_string_equal(got, "BAD x Line too long|CMD y NOOP |");
    free(got);
    /* ... with an absurd one: disconnect. */
    make_line(&b, "x A ", 'a', IMAP_LINE_MAX + 100, " {999999999999999999999999999999999+}");
    got = run_whole(b.data, b.len, 10);
    assert_string_equal(got, "BYE [TOOBIG] Literal too large|");
    free(got);
    /* Raw lines have the same limit. */
    make_line(&b, "x IDLE\r\n", 'a', IMAP_LINE_MAX + 8 + 1, "");
    buf_append_str(&b, "y NOOP\r\n");
    got = run_whole(b.data, b.len, 10);
    assert_string_equal(got, "CMD x IDLE |BAD * Line too long|CMD y NOOP |");
    free(got);
    make_line(&b, "x IDLE\r\n", 'a', IMAP_LINE_MAX + 8, "");
    got = run_whole(b.data, b.len, 10);
    assert_true(strncmp(got, "CMD x IDLE |LINE aaa", 20) == 0);
    free(got);
    buf_free(&b);
}

static void test_imap_parser_command_max(void **state)
{
    (void)state;
    struct buf b, line;
    buf_init(&b, BUF_UNLIMITED);
    buf_init(&line, BUF_UNLIMITED);
    for (int extra = 0; extra <= 1; extra++) {
        buf_reset(&b);
        size_t total = IMAP_COMMAND_MAX + (size_t)extra;
        buf_append_str(&b, "x A {0}\r\n");
        size_t lines = 9;
        while (lines + IMAP_LINE_MAX < total) {
            make_line(&line, " ", 'b', IMAP_LINE_MAX - 8, " {0}");
            buf_append(&b, line.data, line.len);
            lines += line.len;
        }
        make_line(&line, " ", 'c', total - lines, "");
        buf_append(&b, line.data, line.len);
        buf_append_str(&b, "y NOOP\r\n");
        char *got = run_whole(b.data, b.len, 10);
        if (extra)
            assert_non_null(strstr(got, "|BAD x Command too long|CMD y NOOP |"));
        else
            assert_non_null(strstr(got, "cc|CMD y NOOP |"));
        free(got);
    }
    buf_free(&b);
    buf_free(&line);
}

static void test_imap_parser_depth_args(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    for (int extra = 0; extra <= 1; extra++) {
        buf_reset(&b);
        buf_append_str(&b, "x A ");
        for (int i = 0; i < IMAP_LIST_DEPTH_MAX + extra; i++)
            buf_append_char(&b, '(');
        for (int i = 0; i < IMAP_LIST_DEPTH_MAX + extra; i++)
            buf_append_char(&b, ')');
        buf_append_str(&b, "\r\n");
        char *got = run_whole(b.data, b.len, 10);
        if (extra)
            assert_string_equal(got, "BAD x Too deeply nested|");
        else
            assert_true(strncmp(got, "CMD x A ((((", 12) == 0);
        free(got);
    }
    /* A section counts as a level. */
    buf_reset(&b);
    buf_append_str(&b, "x A ");
    for (int i = 0; i < IMAP_LIST_DEPTH_MAX; i++)
        buf_append_char(&b, '(');
    buf_append_str(&b, "BODY[]");
    for (int i = 0; i < IMAP_LIST_DEPTH_MAX; i++)
        buf_append_char(&b, ')');
    buf_append_str(&b, "\r\n");
    char *got = run_whole(b.data, b.len, 10);
    assert_string_equal(got, "BAD x Too deeply nested|");
    free(got);
    for (int extra = 0; extra <= 1; extra++) {
        buf_reset(&b);
        buf_append_str(&b, "x A");
        for (int i = 0; i < IMAP_ARGS_MAX + extra; i++)
            buf_append_str(&b, " a");
        buf_append_str(&b, "\r\n");
        got = run_whole(b.data, b.len, 10);
        if (extra)
            assert_string_equal(got, "BAD x Too many arguments|");
        else
            assert_true(strncmp(got, "CMD x A a a", 11) == 0);
        free(got);
    }
    /* The literal that would be one argument too many. */
    buf_reset(&b);
    buf_append_str(&b, "x A");
    for (int i = 0; i < IMAP_ARGS_MAX; i++)
        buf_append_str(&b, " a");
    buf_append_str(&b, " {1}\r\n");
    got = run_whole(b.data, b.len, 10);
    assert_string_equal(got, "BAD x Too many arguments|");
    free(got);
    buf_free(&b);
}

static void test_imap_parser_names(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    for (int extra = 0; extra <= 1; extra++) {
        buf_reset(&b);
        for (int i = 0; i < IMAP_TAG_MAX + extra; i++)
            buf_append_char(&b, 't');
        buf_append_str(&b, " NOOP\r\n");
        char *got = run_whole(b.data, b.len, 10);
        assert_true(strstr(got, extra ? "BAD * Tag too long|" : " NOOP |") != NULL);
        free(got);
        buf_reset(&b);
        buf_append_str(&b, "x ");
        for (int i = 0; i < IMAP_COMMAND_NAME_MAX + extra; i++)
            buf_append_char(&b, 'N');
        buf_append_str(&b, "\r\n");
        got = run_whole(b.data, b.len, 10);
        assert_true(strncmp(got, extra ? "BAD x Command name too long|" : "CMD x NNN",
                            extra ? 28 : 9) == 0);
        free(got);
        buf_reset(&b);
        buf_append_str(&b, "x F BODY[]<");
        for (int i = 0; i < IMAP_PARTIAL_MAX + extra; i++)
            buf_append_char(&b, '1');
        buf_append_str(&b, ">\r\n");
        got = run_whole(b.data, b.len, 10);
        assert_true(strncmp(got, extra ? "BAD x Partial range too long|" : "CMD x F BODY[]<11",
                            extra ? 29 : 17) == 0);
        free(got);
    }
    buf_free(&b);
}

/* The API around the events: busy, read_line refused mid-command, the
 * arg helpers, a feed without a literal decision. */
static void test_imap_parser_api(void **state)
{
    (void)state;
    struct imap_parser *p = imap_parser_new(100);
    size_t used;
    assert_false(imap_parser_busy(p));
    assert_string_equal(imap_parser_tag(p), "*");
    assert_int_equal(imap_parser_feed(p, "x LOG", 5, &used), IMAP_PARSE_NEED_MORE);
    assert_true(imap_parser_busy(p));
    assert_int_equal(imap_parser_read_line(p), -1);
    const char *rest = "IN \"u\" {3}\r\n";
    assert_int_equal(imap_parser_feed(p, rest, strlen(rest), &used), IMAP_PARSE_LITERAL);
    assert_int_equal(used, strlen(rest));
    assert_string_equal(imap_parser_tag(p), "x");
    /* Feeding without deciding is a bug of the caller: FATAL. */
    assert_int_equal(imap_parser_feed(p, "abc", 3, &used), IMAP_PARSE_FATAL);
    imap_parser_free(&p);

    p = imap_parser_new(100);
    const char *in = "x LOGIN \"u\" {3}\r\n";
    assert_int_equal(imap_parser_feed(p, in, strlen(in), &used), IMAP_PARSE_LITERAL);
    imap_parser_literal_accept(p, false);
    assert_int_equal(imap_parser_feed(p, "p\0s\r\nrest", 9, &used), IMAP_PARSE_COMMAND);
    assert_int_equal(used, 5);
    assert_false(imap_parser_busy(p));
    const struct imap_command *c = imap_parser_command(p);
    assert_int_equal(c->count, 2);
    size_t len;
    assert_string_equal(imap_arg_astring(&c->args[0], &len), "u");
    assert_non_null(imap_arg_string(&c->args[0], &len));
    assert_null(imap_arg_atom(&c->args[0]));
    assert_memory_equal(imap_arg_astring(&c->args[1], &len), "p\0s", 3);
    assert_int_equal(len, 3);
    assert_false(imap_arg_atom_is(&c->args[1], "p"));
    assert_int_equal(imap_parser_read_line(p), 0);
    assert_int_equal(imap_parser_feed(p, "rest\r\n", 6, &used), IMAP_PARSE_LINE);
    assert_string_equal(imap_parser_line(p, &len), "rest");
    imap_parser_free(&p);
    imap_parser_free(&p); /* twice is harmless */

    p = imap_parser_new(100);
    in = "x F 1 (body.peek[1] NIL (a) atom)\r\n";
    assert_int_equal(imap_parser_feed(p, in, strlen(in), &used), IMAP_PARSE_COMMAND);
    c = imap_parser_command(p);
    const struct imap_arg *l = &c->args[1];
    assert_int_equal(l->type, IMAP_ARG_LIST);
    assert_int_equal(l->count, 4);
    assert_null(imap_arg_astring(&l->list[0], NULL));
    assert_null(imap_arg_atom(&l->list[0]));
    assert_true(imap_arg_atom_is(&l->list[1], "nil"));
    assert_string_equal(imap_arg_astring(&l->list[1], NULL), "NIL");
    assert_null(imap_arg_string(&l->list[1], NULL));
    assert_null(imap_arg_astring(&l->list[2], NULL));
    assert_true(imap_arg_atom_is(&l->list[3], "ATOM"));
    imap_parser_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_imap_parser_table),
        cmocka_unit_test(test_imap_parser_nul),
        cmocka_unit_test(test_imap_parser_literal_max),
        cmocka_unit_test(test_imap_parser_line_max),
        cmocka_unit_test(test_imap_parser_command_max),
        cmocka_unit_test(test_imap_parser_depth_args),
        cmocka_unit_test(test_imap_parser_names),
        cmocka_unit_test(test_imap_parser_api),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
