/* Unit tests of src/policy/milter-edit.c: the header modifications and
 * the new body a milter asks for, applied to a message; and the field
 * values as they are sent to a milter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "policy/milter-edit.h"
#include "policy/milter.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define MODS_MAX   5 /* modifications in one case */

/* A heap copy of exactly n bytes: ASan catches any read past n. */
static char *exact_copy(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, s, n);
    return p;
}

#define ADD(name, value)                                                                           \
    {                                                                                              \
        MILTER_MOD_ADD_HEADER, 0, name, value                                                      \
    }
#define INS(index, name, value)                                                                    \
    {                                                                                              \
        MILTER_MOD_INSERT_HEADER, index, name, value                                               \
    }
#define CHG(index, name, value)                                                                    \
    {                                                                                              \
        MILTER_MOD_CHANGE_HEADER, index, name, value                                               \
    }
#define RCPT_ADD(addr)                                                                             \
    {                                                                                              \
        MILTER_MOD_ADD_RCPT, 0, addr, ""                                                           \
    }
#define RCPT_DEL(addr)                                                                             \
    {                                                                                              \
        MILTER_MOD_DELETE_RCPT, 0, addr, ""                                                        \
    }
#define FROM_CHG(addr, esmtp)                                                                      \
    {                                                                                              \
        MILTER_MOD_CHANGE_FROM, 0, addr, esmtp                                                     \
    }

/* The message most cases start from: two fields named X-A, the second
 * with its name in lower case. */
#define HDR  "From: a@example.org\r\nSubject: hi\r\nX-A: 1\r\nx-a: 2\r\n"
#define BODY "\r\nbody\r\n"
#define MSG  HDR BODY

struct edit_case {
    const char *what;
    const char *msg;
    struct milter_mod mods[MODS_MAX];
    size_t n;
    const char *body; /* NULL: the body is kept */
    const char *out;
    bool changed;
    size_t ignored;
};

static const struct edit_case edit_cases[] = {
    {"nothing to do", MSG, {{0}}, 0, NULL, MSG, false, 0},
    /* ADD_HEADER */
    {"add at the end", MSG, {ADD("X-New", "v")}, 1, NULL, HDR "X-New: v\r\n" BODY, true, 0},
    {"add an empty value", MSG, {ADD("X-New", "")}, 1, NULL, HDR "X-New:\r\n" BODY, true, 0},
    {"add a value starting with a space",
     MSG,
     {ADD("X-New", " v")},
     1,
     NULL,
     HDR "X-New: v\r\n" BODY,
     true,
     0},
    {"add a value starting with a tab",
     MSG,
     {ADD("X-New", "\tv")},
     1,
     NULL,
     HDR "X-New:\tv\r\n" BODY,
     true,
     0},
    {"add twice keeps the order",
     MSG,
     {ADD("X-1", "a"), ADD("X-2", "b")},
     2,
     NULL,
     HDR "X-1: a\r\nX-2: b\r\n" BODY,
     true,
     0},
    /* INSERT_HEADER */
    {"insert at 0", MSG, {INS(0, "X-New", "v")}, 1, NULL, "X-New: v\r\n" MSG, true, 0},
    {"insert at 1",
     MSG,
     {INS(1, "X-New", "v")},
     1,
     NULL,
     "From: a@example.org\r\nX-New: v\r\nSubject: hi\r\nX-A: 1\r\nx-a: 2\r\n" BODY,
     true,
     0},
    {"insert in the middle",
     MSG,
     {INS(2, "X-New", "v")},
     1,
     NULL,
     "From: a@example.org\r\nSubject: hi\r\nX-New: v\r\nX-A: 1\r\nx-a: 2\r\n" BODY,
     true,
     0},
    {"insert at the end", MSG, {INS(4, "X-New", "v")}, 1, NULL, HDR "X-New: v\r\n" BODY, true, 0},
    {"insert past the end", MSG, {INS(5, "X-New", "v")}, 1, NULL, HDR "X-New: v\r\n" BODY, true, 0},
    {"insert far past the end",
     MSG,
     {INS(UINT32_MAX, "X-New", "v")},
     1,
     NULL,
     HDR "X-New: v\r\n" BODY,
     true,
     0},
    /* CHANGE_HEADER */
    {"change the 1st",
     MSG,
     {CHG(1, "X-A", "one")},
     1,
     NULL,
     "From: a@example.org\r\nSubject: hi\r\nX-A: one\r\nx-a: 2\r\n" BODY,
     true,
     0},
    {"change the 2nd, name in another case",
     MSG,
     {CHG(2, "X-A", "two")},
     1,
     NULL,
     "From: a@example.org\r\nSubject: hi\r\nX-A: 1\r\nX-A: two\r\n" BODY,
     true,
     0},
    {"change: the field takes the milter's name",
     MSG,
     {CHG(1, "x-A", "one")},
     1,
     NULL,
     "From: a@example.org\r\nSubject: hi\r\nx-A: one\r\nx-a: 2\r\n" BODY,
     true,
     0},
    {"change: index 0 counts as 1",
     MSG,
     {CHG(0, "x-a", "one")},
     1,
     NULL,
     "From: a@example.org\r\nSubject: hi\r\nx-a: one\r\nx-a: 2\r\n" BODY,
     true,
     0},
    {"delete the 1st",
     MSG,
     {CHG(1, "subject", "")},
     1,
     NULL,
     "From: a@example.org\r\nX-A: 1\r\nx-a: 2\r\n" BODY,
     true,
     0},
    {"delete the 2nd",
     MSG,
     {CHG(2, "X-A", "")},
     1,
     NULL,
     "From: a@example.org\r\nSubject: hi\r\nX-A: 1\r\n" BODY,
     true,
     0},
    {"delete both in turn",
     MSG,
     {CHG(1, "X-A", ""), CHG(1, "X-A", "")},
     2,
     NULL,
     "From: a@example.org\r\nSubject: hi\r\n" BODY,
     true,
     0},
    {"change of a missing field appends it",
     MSG,
     {CHG(1, "X-Missing", "v")},
     1,
     NULL,
     HDR "X-Missing: v\r\n" BODY,
     true,
     0},
    {"change of a missing occurrence appends it",
     MSG,
     {CHG(3, "X-A", "3")},
     1,
     NULL,
     HDR "X-A: 3\r\n" BODY,
     true,
     0},
    {"delete of a missing field: no change",
     MSG,
     {CHG(1, "X-Missing", "")},
     1,
     NULL,
     MSG,
     false,
     0},
    {"delete of a missing occurrence: no change", MSG, {CHG(3, "X-A", "")}, 1, NULL, MSG, false, 0},
    {"a prefix of a name is another name",
     MSG,
     {CHG(1, "X", ""), CHG(1, "X-A-B", "")},
     2,
     NULL,
     MSG,
     false,
     0},
    {"change a folded field",
     "Subject: a\r\n b\r\n\tc\r\nTo: t\r\n\r\nx\r\n",
     {CHG(1, "Subject", "new")},
     1,
     NULL,
     "Subject: new\r\nTo: t\r\n\r\nx\r\n",
     true,
     0},
    {"change: white space before the colon",
     "Subject : a\r\n\r\n",
     {CHG(1, "Subject", "b")},
     1,
     NULL,
     "Subject: b\r\n\r\n",
     true,
     0},
    /* Values: folding and line breaks */
    {"value folded with LF",
     MSG,
     {ADD("X-F", "a\n\tb")},
     1,
     NULL,
     HDR "X-F: a\r\n\tb\r\n" BODY,
     true,
     0},
    {"value folded with CRLF",
     MSG,
     {ADD("X-F", "a\r\n b")},
     1,
     NULL,
     HDR "X-F: a\r\n b\r\n" BODY,
     true,
     0},
    {"continuation without white space gets a tab",
     MSG,
     {ADD("X-F", "a\nb")},
     1,
     NULL,
     HDR "X-F: a\r\n\tb\r\n" BODY,
     true,
     0},
    {"a value cannot start a field",
     MSG,
     {ADD("X-F", "a\r\nBcc: evil@example.org")},
     1,
     NULL,
     HDR "X-F: a\r\n\tBcc: evil@example.org\r\n" BODY,
     true,
     0},
    {"a lone CR is a line break",
     MSG,
     {ADD("X-F", "a\rb")},
     1,
     NULL,
     HDR "X-F: a\r\n\tb\r\n" BODY,
     true,
     0},
    {"empty lines inside are dropped (CRLF)",
     MSG,
     {ADD("X-F", "a\r\n\r\nb")},
     1,
     NULL,
     HDR "X-F: a\r\n\tb\r\n" BODY,
     true,
     0},
    {"empty lines inside are dropped (LF)",
     MSG,
     {ADD("X-F", "a\n\n\n b")},
     1,
     NULL,
     HDR "X-F: a\r\n b\r\n" BODY,
     true,
     0},
    {"a value cannot end the header",
     MSG,
     {ADD("X-F", "a\r\n\r\nevil body")},
     1,
     NULL,
     HDR "X-F: a\r\n\tevil body\r\n" BODY,
     true,
     0},
    {"line breaks at the end are dropped (CRLF)",
     MSG,
     {ADD("X-F", "a\r\n\r\n")},
     1,
     NULL,
     HDR "X-F: a\r\n" BODY,
     true,
     0},
    {"line breaks at the end are dropped (LF)",
     MSG,
     {ADD("X-F", "a\n")},
     1,
     NULL,
     HDR "X-F: a\r\n" BODY,
     true,
     0},
    {"a value of line breaks only",
     MSG,
     {ADD("X-F", "\r\n\n\r\n")},
     1,
     NULL,
     HDR "X-F: \r\n" BODY,
     true,
     0},
    {"a value starting with a line break",
     MSG,
     {ADD("X-F", "\nb")},
     1,
     NULL,
     HDR "X-F: \r\n\tb\r\n" BODY,
     true,
     0},
    {"a folded value in a change",
     MSG,
     {CHG(1, "Subject", "x\ny\r\n z\n")},
     1,
     NULL,
     "From: a@example.org\r\nSubject: x\r\n\ty\r\n z\r\nX-A: 1\r\nx-a: 2\r\n" BODY,
     true,
     0},
    {"a folded value in an insert",
     MSG,
     {INS(0, "X-F", "a\r\n\r\n\r\nb\r\n")},
     1,
     NULL,
     "X-F: a\r\n\tb\r\n" MSG,
     true,
     0},
    /* Names */
    {"an empty name is ignored", MSG, {ADD("", "v")}, 1, NULL, MSG, false, 1},
    {"a name with a colon is ignored",
     MSG,
     {ADD("X:Y", "v"), ADD(":", "v")},
     2,
     NULL,
     MSG,
     false,
     2},
    {"a name with a space or a tab is ignored",
     MSG,
     {ADD("X Y", "v"), INS(0, "X\tY", "v")},
     2,
     NULL,
     MSG,
     false,
     2},
    {"a name with a control char is ignored",
     MSG,
     {ADD("X\r\nY", "v"), ADD("X\x01", "v"), ADD("X\x7f", "v"), CHG(1, "Subject\n", "")},
     4,
     NULL,
     MSG,
     false,
     4},
    {"an 8-bit name is ignored", MSG, {ADD("X-\xc3\xa9", "v")}, 1, NULL, MSG, false, 1},
    {"a change with a bad name is ignored",
     MSG,
     {CHG(1, "Sub ject", "v"), CHG(1, "", "")},
     2,
     NULL,
     MSG,
     false,
     2},
    {"the good are applied, the bad counted",
     MSG,
     {ADD("X Y", "v"), ADD("X-Ok", "v"), CHG(1, "X:A", ""), CHG(1, "X-A", "")},
     4,
     NULL,
     "From: a@example.org\r\nSubject: hi\r\nx-a: 2\r\nX-Ok: v\r\n" BODY,
     true,
     2},
    {"every printable but the colon is allowed",
     "\r\n",
     {ADD("!#$%&'*+-.^_`|~09AZaz\"(),;<>@[]", "v")},
     1,
     NULL,
     "!#$%&'*+-.^_`|~09AZaz\"(),;<>@[]: v\r\n\r\n",
     true,
     0},
    /* Other types are the caller's */
    {"envelope changes are skipped",
     MSG,
     {RCPT_ADD("<b@example.org>"), RCPT_DEL("<a@example.org>"), FROM_CHG("<c@example.org>", "")},
     3,
     NULL,
     MSG,
     false,
     0},
    {"envelope changes are skipped, bad names not counted",
     MSG,
     {RCPT_ADD(""), RCPT_DEL("a b"), FROM_CHG("<c:d>", "SIZE=1"), ADD("X", "y")},
     4,
     NULL,
     HDR "X: y\r\n" BODY,
     true,
     0},
    /* Several in order, each on the header the previous ones made */
    {"several in order",
     MSG,
     {INS(0, "X-1", "a"), CHG(1, "x-1", "b"), INS(1, "X-2", "c"), ADD("X-3", "d"),
      CHG(2, "X-A", "")},
     5,
     NULL,
     "x-1: b\r\nX-2: c\r\nFrom: a@example.org\r\nSubject: hi\r\nX-A: 1\r\nX-3: d\r\n" BODY,
     true,
     0},
    {"add then delete", MSG, {ADD("X-T", "1"), CHG(1, "X-T", "")}, 2, NULL, MSG, true, 0},
    {"changes count the fields added",
     MSG,
     {ADD("X-A", "3"), CHG(3, "X-A", "three")},
     2,
     NULL,
     HDR "X-A: three\r\n" BODY,
     true,
     0},
    /* Messages of odd shapes */
    {"no body separator",
     "A: 1\r\nB: 2\r\n",
     {ADD("C", "3")},
     1,
     NULL,
     "A: 1\r\nB: 2\r\nC: 3\r\n",
     true,
     0},
    {"no line end on the last field",
     "A: 1\r\nB: 2",
     {ADD("C", "3")},
     1,
     NULL,
     "A: 1\r\nB: 2\r\nC: 3\r\n",
     true,
     0},
    {"no line end on the last field, nothing to do",
     "A: 1\r\nB: 2",
     {{0}},
     0,
     NULL,
     "A: 1\r\nB: 2\r\n",
     false,
     0},
    {"no line end on the last field, changed",
     "A: 1\r\nB: 2",
     {CHG(1, "b", "3")},
     1,
     NULL,
     "A: 1\r\nb: 3\r\n",
     true,
     0},
    {"no header",
     "\r\nbody\r\n",
     {CHG(1, "X", "v"), INS(3, "Y", "w")},
     2,
     NULL,
     "X: v\r\nY: w\r\n\r\nbody\r\n",
     true,
     0},
    {"an empty message", "", {ADD("X", "v")}, 1, NULL, "X: v\r\n", true, 0},
    {"bare LF line ends are kept",
     "A: 1\nB: 2\n\nbody\n",
     {INS(1, "C", "3")},
     1,
     NULL,
     "A: 1\nC: 3\r\nB: 2\n\nbody\n",
     true,
     0},
    {"a field after the header is not one: the change adds",
     "A: 1\r\n\r\nB: 2\r\n\r\nx",
     {CHG(1, "B", "3")},
     1,
     NULL,
     "A: 1\r\nB: 3\r\n\r\nB: 2\r\n\r\nx",
     true,
     0},
    /* A new body */
    {"new body with CRLF", MSG, {{0}}, 0, "new\r\nbody\r\n", HDR "\r\nnew\r\nbody\r\n", true, 0},
    {"new body with LF", MSG, {{0}}, 0, "a\nb\n", HDR "\r\na\r\nb\r\n", true, 0},
    {"new body with CR", MSG, {{0}}, 0, "a\rb\r", HDR "\r\na\r\nb\r\n", true, 0},
    {"new body with mixed line ends",
     MSG,
     {{0}},
     0,
     "a\r\r\nb\n\rc\n\nd",
     HDR "\r\na\r\n\r\nb\r\n\r\nc\r\n\r\nd",
     true,
     0},
    {"new body of line ends only", MSG, {{0}}, 0, "\n\r\r\n", HDR "\r\n\r\n\r\n\r\n", true, 0},
    {"new empty body", MSG, {{0}}, 0, "", HDR "\r\n", true, 0},
    {"new body and header changes",
     MSG,
     {CHG(1, "Subject", ""), ADD("X", "y")},
     2,
     "b\n",
     "From: a@example.org\r\nX-A: 1\r\nx-a: 2\r\nX: y\r\n\r\nb\r\n",
     true,
     0},
    {"new body, no body separator", "A: 1\r\n", {{0}}, 0, "b", "A: 1\r\n\r\nb", true, 0},
    {"new body, no line end on the last field", "A: 1", {{0}}, 0, "b", "A: 1\r\n\r\nb", true, 0},
    {"new body, empty message", "", {{0}}, 0, "b\n", "\r\nb\r\n", true, 0},
    {"new body, no header", "\r\nold\r\n", {{0}}, 0, "new", "\r\nnew", true, 0},
};

/* Apply one case into out (which may hold bytes already). */
static int run_case(const struct edit_case *c, struct buf *out, bool *changed, size_t *ignored)
{
    size_t len = strlen(c->msg);
    char *msg = exact_copy(c->msg, len);
    size_t body_len = c->body ? strlen(c->body) : 0;
    char *body = c->body ? exact_copy(c->body, body_len) : NULL;
    int rc = milter_edit_message(msg, len, c->mods, c->n, body, body_len, out, changed, ignored);
    free(body);
    free(msg);
    return rc;
}

static void test_milter_edit_message(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ELEMS(edit_cases); i++) {
        const struct edit_case *c = &edit_cases[i];
        struct buf out;
        buf_init(&out, BUF_UNLIMITED);
        buf_append_str(&out, "KEPT");
        bool changed = !c->changed;
        size_t ignored = 99;
        int rc = run_case(c, &out, &changed, &ignored);
        size_t n = strlen(c->out);
        if (rc != 0 || out.len != 4 + n || memcmp(out.data, "KEPT", 4) != 0 ||
            memcmp(out.data + 4, c->out, n) != 0 || changed != c->changed || ignored != c->ignored)
            fail_msg("case %zu (%s): rc %d changed %d ignored %zu\n got \"%s\"\nwant \"KEPT%s\"", i,
                     c->what, rc, changed, ignored, buf_cstr(&out), c->out);
        /* ignored_r may be NULL */
        buf_reset(&out);
        assert_int_equal(run_case(c, &out, &changed, NULL), 0);
        assert_int_equal(out.len, n);
        buf_free(&out);
    }
}

/* Past the output's maximum: -1 and a prefix of the whole result, for
 * every maximum short of its length. */
static void test_milter_edit_message_max(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ELEMS(edit_cases); i++) {
        const struct edit_case *c = &edit_cases[i];
        size_t n = strlen(c->out);
        for (size_t max = 0; max <= n; max++) {
            struct buf out;
            buf_init(&out, max);
            bool changed;
            size_t ignored;
            int rc = run_case(c, &out, &changed, &ignored);
            if (rc != (max < n ? -1 : 0) || out.len > max ||
                (out.len && memcmp(out.data, c->out, out.len) != 0))
                fail_msg("case %zu (%s), max %zu: rc %d, \"%s\"", i, c->what, max, rc,
                         buf_cstr(&out));
            buf_free(&out);
        }
    }
}

/* Many fields, so that the field table grows, and every position of an
 * insert among them. */
static void test_milter_edit_message_many(void **state)
{
    (void)state;
    enum { FIELDS = 100 };
    struct buf msg, want;
    buf_init(&msg, BUF_UNLIMITED);
    for (unsigned i = 0; i < FIELDS; i++)
        buf_printf(&msg, "F%u: %u\r\n", i, i);
    buf_append_str(&msg, "\r\nbody");
    for (uint32_t at = 0; at <= FIELDS + 1; at++) {
        buf_init(&want, BUF_UNLIMITED);
        for (unsigned i = 0; i <= FIELDS; i++) {
            if (i == at || (i == FIELDS && at > FIELDS))
                buf_append_str(&want, "X: new\r\n");
            if (i < FIELDS)
                buf_printf(&want, "F%u: %u\r\n", i, i);
        }
        buf_append_str(&want, "\r\nbody");
        struct milter_mod mods[] = {INS(at, "X", "new")};
        struct buf out;
        buf_init(&out, BUF_UNLIMITED);
        bool changed = false;
        assert_int_equal(
            milter_edit_message(msg.data, msg.len, mods, 1, NULL, 0, &out, &changed, NULL), 0);
        assert_true(changed);
        assert_string_equal(buf_cstr(&out), buf_cstr(&want));
        buf_free(&out);
        buf_free(&want);
    }
    /* 200 adds, then every other one deleted by name */
    struct milter_mod mods[300];
    char names[200][8];
    for (unsigned i = 0; i < 200; i++) {
        assert_int_equal(snprintf(names[i], sizeof(names[i]), "N%u", i % 2), 2);
        mods[i] = (struct milter_mod)ADD(names[i], "v");
    }
    for (unsigned i = 0; i < 100; i++)
        mods[200 + i] = (struct milter_mod)CHG(1, "n1", "");
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    bool changed = false;
    assert_int_equal(
        milter_edit_message("A: 1\r\n\r\n", 8, mods, 300, NULL, 0, &out, &changed, NULL), 0);
    buf_init(&want, BUF_UNLIMITED);
    buf_append_str(&want, "A: 1\r\n");
    for (unsigned i = 0; i < 100; i++)
        buf_append_str(&want, "N0: v\r\n");
    buf_append_str(&want, "\r\n");
    assert_string_equal(buf_cstr(&out), buf_cstr(&want));
    buf_free(&out);
    buf_free(&want);
    buf_free(&msg);
}

static void test_milter_edit_header_value(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", ""},
        {"a", "a"},
        {"a b", "a b"},
        {"a\r\n b", "a\n b"},
        {"a\r\n\tb\r\n c", "a\n\tb\n c"},
        {"a\n b", "a\n b"},
        {"a\r\n", "a"},
        {"a\n", "a"},
        {"a\r", "a"},
        {"a\r\n\r\n\n\r", "a"},
        {"\r\n", ""},
        {"a\rb", "a\rb"},         /* a bare CR is data */
        {"a\r\r\n b", "a\r\n b"}, /* only the CR of a CRLF goes */
        {"\r\n b", "\n b"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        size_t n = strlen(cases[i].in);
        char *in = exact_copy(cases[i].in, n);
        struct buf out;
        buf_init(&out, BUF_UNLIMITED);
        buf_append_str(&out, "<");
        milter_edit_header_value(in, n, &out);
        buf_append_str(&out, ">");
        char want[64];
        assert_true(snprintf(want, sizeof(want), "<%s>", cases[i].out) < (int)sizeof(want));
        if (strcmp(buf_cstr(&out), want) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, buf_cstr(&out), want);
        buf_free(&out);
        free(in);
    }
    /* A prefix when the maximum is reached. */
    struct buf out;
    buf_init(&out, 3);
    milter_edit_header_value("a\r\n bcd", 7, &out);
    assert_string_equal(buf_cstr(&out), "a\n ");
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_milter_edit_message),
        cmocka_unit_test(test_milter_edit_message_max),
        cmocka_unit_test(test_milter_edit_message_many),
        cmocka_unit_test(test_milter_edit_header_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
