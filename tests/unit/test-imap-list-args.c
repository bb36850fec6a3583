/* Unit tests of src/imap/imap-list-args.c and src/imap/imap-list-select.c
 * (the arguments of LIST, LSUB and STATUS, and the names a LIST or LSUB
 * answers with), and of the interval of src/daemon/imapd-expiry.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/imapd-expiry.h"
#include "imap/imap-list-args.h"
#include "imap/imap-list-select.h"
#include "imap/imap-parser.h"
#include "lib/buf.h"
#include "lib/str.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Parse "t CMD " + args + CRLF with a fresh parser; the command. */
static const struct imap_command *parse_line(struct imap_parser **p, const char *args)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_printf(&b, "t CMD%s%s\r\n", *args ? " " : "", args);
    *p = imap_parser_new(100000);
    size_t used;
    enum imap_parse_status st = imap_parser_feed(*p, b.data, b.len, &used);
    if (st == IMAP_PARSE_LITERAL) {
        /* one synchronizing literal at the end of the first line */
        imap_parser_literal_accept(*p, false);
        size_t more;
        st = imap_parser_feed(*p, b.data + used, b.len - used, &more);
    }
    if (st != IMAP_PARSE_COMMAND)
        fail_msg("\"%s\" does not parse: %s", args, imap_parser_error(*p));
    buf_free(&b);
    return imap_parser_command(*p);
}

/* The parsed arguments as text. */
static void dump_args(const struct imap_list_args *a, struct buf *out)
{
    buf_printf(out, "ext=%d sel=%x ret=%x status=%x ref=[%s]", a->extended, a->select, a->ret,
               a->status, a->ref);
    for (size_t i = 0; i < a->n_patterns; i++)
        buf_printf(out, " [%s]", a->patterns[i]);
}

static void test_list_args_table(void **state)
{
    (void)state;
    static const struct {
        bool lsub;
        const char *args;
        const char *want; /* the dump, or NULL for an error */
    } cases[] = {
        {false, "\"\" *", "ext=0 sel=0 ret=0 status=0 ref=[] [*]"},
        {false, "\"\" \"\"", "ext=0 sel=0 ret=0 status=0 ref=[] []"},
        {false, "Work. %", "ext=0 sel=0 ret=0 status=0 ref=[Work.] [%]"},
        {false, "\"\" {3}\r\na*b", "ext=0 sel=0 ret=0 status=0 ref=[] [a*b]"},
        {false, "\"\" [Gmail]/%", "ext=0 sel=0 ret=0 status=0 ref=[] [[Gmail]/%]"},
        {false, "() \"\" *", "ext=1 sel=0 ret=0 status=0 ref=[] [*]"},
        {false, "(subscribed) \"\" *", "ext=1 sel=1 ret=1 status=0 ref=[] [*]"},
        {false, "(SUBSCRIBED RECURSIVEMATCH REMOTE) \"\" %",
         "ext=1 sel=7 ret=1 status=0 ref=[] [%]"},
        {false, "(SPECIAL-USE RECURSIVEMATCH) \"\" %", "ext=1 sel=c ret=4 status=0 ref=[] [%]"},
        {false, "\"\" (INBOX Sent \"a b\")",
         "ext=1 sel=0 ret=0 status=0 ref=[] [INBOX] [Sent] [a b]"},
        {false, "\"\" * RETURN ()", "ext=1 sel=0 ret=0 status=0 ref=[] [*]"},
        {false, "\"\" * RETURN (CHILDREN subscribed SPECIAL-USE)",
         "ext=1 sel=0 ret=7 status=0 ref=[] [*]"},
        {false, "\"\" * RETURN (STATUS (MESSAGES UNSEEN))",
         "ext=1 sel=0 ret=8 status=11 ref=[] [*]"},
        {false,
         "\"\" * return (status (messages recent uidnext uidvalidity unseen deleted "
         "highestmodseq size))",
         "ext=1 sel=0 ret=8 status=ff ref=[] [*]"},
        {true, "\"\" *", "ext=0 sel=0 ret=0 status=0 ref=[] [*]"},
        {true, "News. %", "ext=0 sel=0 ret=0 status=0 ref=[News.] [%]"},
        /* errors */
        {false, "", NULL},
        {false, "\"\"", NULL},
        {false, "() \"\"", NULL},
        {false, "(BOGUS) \"\" *", NULL},
        {false, "(RECURSIVEMATCH) \"\" *", NULL},
        {false, "(RECURSIVEMATCH REMOTE) \"\" *", NULL},
        {false, "(SUBSCRIBED (x)) \"\" *", NULL},
        {false, "\"\" ()", NULL},
        {false, "(\"\" *)", NULL},
        {false, "\"\" * RETURN", NULL},
        {false, "\"\" * RETURN CHILDREN", NULL},
        {false, "\"\" * RETURN (BOGUS)", NULL},
        {false, "\"\" * RETURN (STATUS)", NULL},
        {false, "\"\" * RETURN (STATUS ())", NULL},
        {false, "\"\" * RETURN (STATUS (BOGUS))", NULL},
        {false, "\"\" * extra", NULL},
        {false, "\"\" * RETURN () extra", NULL},
        {true, "\"\"", NULL},
        {true, "() \"\" *", NULL},
        {true, "\"\" (a b)", NULL},
        {true, "\"\" * RETURN ()", NULL},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct imap_parser *p;
        const struct imap_command *c = parse_line(&p, cases[i].args);
        struct imap_list_args a;
        const char *why = NULL;
        int rc = imap_list_args_parse(c->args, c->count, cases[i].lsub, &a, &why);
        if (!cases[i].want) {
            if (rc == 0)
                fail_msg("case %zu \"%s\" should fail", i, cases[i].args);
            assert_non_null(why);
        } else {
            if (rc < 0)
                fail_msg("case %zu \"%s\": %s", i, cases[i].args, why);
            struct buf b;
            buf_init(&b, BUF_UNLIMITED);
            dump_args(&a, &b);
            if (strcmp(b.data, cases[i].want) != 0)
                fail_msg("case %zu \"%s\": got \"%s\", want \"%s\"", i, cases[i].args, b.data,
                         cases[i].want);
            buf_free(&b);
        }
        imap_parser_free(&p);
    }
}

/* Each length limit crossed by one. */
static void test_list_args_limits(void **state)
{
    (void)state;
    for (int over = 0; over <= 1; over++) {
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        buf_append_str(&b, "\"\" (");
        for (int i = 0; i < IMAP_LIST_PATTERNS_MAX + over; i++)
            buf_printf(&b, "%sp%d", i ? " " : "", i);
        buf_append_char(&b, ')');
        struct imap_parser *p;
        const struct imap_command *c = parse_line(&p, b.data);
        struct imap_list_args a;
        const char *why;
        assert_int_equal(imap_list_args_parse(c->args, c->count, false, &a, &why), over ? -1 : 0);
        imap_parser_free(&p);

        buf_reset(&b);
        buf_append_str(&b, "\"\" ");
        for (int i = 0; i < IMAP_LIST_PATTERN_MAX + over; i++)
            buf_append_char(&b, 'x');
        c = parse_line(&p, b.data);
        assert_int_equal(imap_list_args_parse(c->args, c->count, false, &a, &why), over ? -1 : 0);
        imap_parser_free(&p);
        buf_free(&b);
    }
    char out[8];
    assert_int_equal(imap_list_args_join("abc", "defg", out, sizeof(out)), 0);
    assert_string_equal(out, "abcdefg");
    assert_int_equal(imap_list_args_join("abc", "defgh", out, sizeof(out)), -1);
}

static void test_status_items(void **state)
{
    (void)state;
    static const struct {
        const char *args;
        int rc;
        unsigned want;
    } cases[] = {
        {"(MESSAGES)", 0, IMAP_STATUS_MESSAGES},
        {"(unseen Messages unseen)", 0, IMAP_STATUS_MESSAGES | IMAP_STATUS_UNSEEN},
        {"(SIZE HIGHESTMODSEQ DELETED)", 0,
         IMAP_STATUS_SIZE | IMAP_STATUS_HIGHESTMODSEQ | IMAP_STATUS_DELETED},
        {"(RECENT UIDNEXT UIDVALIDITY)", 0,
         IMAP_STATUS_RECENT | IMAP_STATUS_UIDNEXT | IMAP_STATUS_UIDVALIDITY},
        {"()", -1, 0},
        {"MESSAGES", -1, 0},
        {"(MESSAGES BOGUS)", -1, 0},
        {"((MESSAGES))", -1, 0},
        {"(\"MESSAGES\")", -1, 0},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct imap_parser *p;
        const struct imap_command *c = parse_line(&p, cases[i].args);
        unsigned items = 0;
        const char *why;
        int rc = imap_list_args_status(&c->args[0], &items, &why);
        if (rc != cases[i].rc)
            fail_msg("case %zu \"%s\": rc %d", i, cases[i].args, rc);
        if (rc == 0)
            assert_int_equal(items, cases[i].want);
        imap_parser_free(&p);
    }
}

/* An account: folders a, a.b, c.d (c only a parent), Sent, Trash;
 * subscribed: a.b, c.d, Sent, x.y (nothing). As store_folder_list()
 * gives it. */
static const struct store_folder_info account[] = {
    {"INBOX", STORE_ATTR_HASNOCHILD},
    {"Sent", STORE_ATTR_SENT | STORE_ATTR_HASNOCHILD | STORE_ATTR_SUBSCRIBED},
    {"Trash", STORE_ATTR_TRASH | STORE_ATTR_HASNOCHILD},
    {"a", STORE_ATTR_HASCHILDREN},
    {"a.b", STORE_ATTR_HASNOCHILD | STORE_ATTR_SUBSCRIBED},
    {"c", STORE_ATTR_NOSELECT | STORE_ATTR_HASCHILDREN},
    {"c.d", STORE_ATTR_HASNOCHILD | STORE_ATTR_SUBSCRIBED},
    {"x.y", STORE_ATTR_NONEXISTENT | STORE_ATTR_NOSELECT | STORE_ATTR_SUBSCRIBED},
};

static void test_list_select_table(void **state)
{
    (void)state;
    static const struct {
        bool lsub;
        const char *args;
        const char *want; /* the response lines, joined with '|' */
    } cases[] = {
        {false, "\"\" *",
         "LIST (\\HasNoChildren) \".\" \"INBOX\"|LIST (\\HasNoChildren \\Sent) \".\" \"Sent\"|"
         "LIST (\\HasNoChildren \\Trash) \".\" \"Trash\"|LIST (\\HasChildren) \".\" \"a\"|"
         "LIST (\\HasNoChildren) \".\" \"a.b\"|LIST (\\Noselect \\HasChildren) \".\" \"c\"|"
         "LIST (\\HasNoChildren) \".\" \"c.d\""},
        {false, "\"\" %",
         "LIST (\\HasNoChildren) \".\" \"INBOX\"|LIST (\\HasNoChildren \\Sent) \".\" \"Sent\"|"
         "LIST (\\HasNoChildren \\Trash) \".\" \"Trash\"|LIST (\\HasChildren) \".\" \"a\"|"
         "LIST (\\Noselect \\HasChildren) \".\" \"c\""},
        {false, "a. %", "LIST (\\HasNoChildren) \".\" \"a.b\""},
        {false, "\"\" inbox", "LIST (\\HasNoChildren) \".\" \"INBOX\""},
        {false, "\"\" (Trash c)",
         "LIST (\\HasNoChildren \\Trash) \".\" \"Trash\"|"
         "LIST (\\Noselect \\HasChildren) \".\" \"c\""},
        {false, "\"\" x*", ""},
        {false, "(SUBSCRIBED) \"\" *",
         "LIST (\\HasNoChildren \\Subscribed \\Sent) \".\" \"Sent\"|"
         "LIST (\\HasNoChildren \\Subscribed) \".\" \"a.b\"|"
         "LIST (\\HasNoChildren \\Subscribed) \".\" \"c.d\"|"
         "LIST (\\NonExistent \\Subscribed) \".\" \"x.y\""},
        {false, "(SUBSCRIBED) \"\" %", "LIST (\\HasNoChildren \\Subscribed \\Sent) \".\" \"Sent\""},
        {false, "(SUBSCRIBED RECURSIVEMATCH) \"\" %",
         "LIST (\\HasNoChildren \\Subscribed \\Sent) \".\" \"Sent\"|"
         "LIST (\\HasChildren) \".\" \"a\" (\"CHILDINFO\" (\"SUBSCRIBED\"))|"
         "LIST (\\Noselect \\HasChildren) \".\" \"c\" (\"CHILDINFO\" (\"SUBSCRIBED\"))|"
         "LIST (\\NonExistent) \".\" \"x\" (\"CHILDINFO\" (\"SUBSCRIBED\"))"},
        {false, "\"\" * RETURN (SUBSCRIBED)",
         "LIST (\\HasNoChildren) \".\" \"INBOX\"|"
         "LIST (\\HasNoChildren \\Subscribed \\Sent) \".\" \"Sent\"|"
         "LIST (\\HasNoChildren \\Trash) \".\" \"Trash\"|LIST (\\HasChildren) \".\" \"a\"|"
         "LIST (\\HasNoChildren \\Subscribed) \".\" \"a.b\"|"
         "LIST (\\Noselect \\HasChildren) \".\" \"c\"|"
         "LIST (\\HasNoChildren \\Subscribed) \".\" \"c.d\""},
        {false, "(SPECIAL-USE) \"\" *",
         "LIST (\\HasNoChildren \\Sent) \".\" \"Sent\"|"
         "LIST (\\HasNoChildren \\Trash) \".\" \"Trash\""},
        {false, "(SPECIAL-USE SUBSCRIBED) \"\" *",
         "LIST (\\HasNoChildren \\Subscribed \\Sent) \".\" \"Sent\""},
        {true, "\"\" *",
         "LSUB () \".\" \"Sent\"|LSUB () \".\" \"a.b\"|LSUB () \".\" \"c.d\"|"
         "LSUB (\\Noselect) \".\" \"x.y\""},
        /* the "%" rule: a, c and x are not subscribed, each has a
         * subscribed child that "%" does not reach */
        {true, "\"\" %",
         "LSUB () \".\" \"Sent\"|LSUB (\\Noselect) \".\" \"a\"|LSUB (\\Noselect) \".\" \"c\"|"
         "LSUB (\\Noselect) \".\" \"x\""},
        {true, "a. %", "LSUB () \".\" \"a.b\""},
        {true, "\"\" a*", "LSUB () \".\" \"a.b\""},
        {true, "\"\" Trash", ""},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct imap_parser *p;
        const struct imap_command *c = parse_line(&p, cases[i].args);
        struct imap_list_args a;
        const char *why = NULL;
        if (imap_list_args_parse(c->args, c->count, cases[i].lsub, &a, &why) < 0)
            fail_msg("case %zu: %s", i, why);
        struct imap_list_entry *e;
        size_t n;
        assert_int_equal(imap_list_select(account, N_ELEMS(account), &a, cases[i].lsub, &e, &n), 0);
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        buf_append_str(&b, "");
        for (size_t k = 0; k < n; k++) {
            if (k)
                buf_append_char(&b, '|');
            assert_int_equal(imap_list_format(&e[k], &a, cases[i].lsub, &b), 0);
        }
        if (strcmp(buf_cstr(&b), cases[i].want) != 0)
            fail_msg("case %zu \"%s\":\n got  %s\n want %s", i, cases[i].args, buf_cstr(&b),
                     cases[i].want);
        buf_free(&b);
        free(e);
        imap_parser_free(&p);
    }
}

/* A name with a character that needs a literal, and one with quotes. */
static void test_list_format_quoting(void **state)
{
    (void)state;
    struct imap_list_args a;
    memset(&a, 0, sizeof(a));
    struct imap_list_entry e;
    memset(&e, 0, sizeof(e));
    str_copy(e.name, sizeof(e.name), "caf\xc3\xa9"); /* made on disk by another tool */
    e.attrs = STORE_ATTR_HASNOCHILD;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    assert_int_equal(imap_list_format(&e, &a, false, &b), 0);
    assert_string_equal(buf_cstr(&b), "LIST (\\HasNoChildren) \".\" {5}\r\ncaf\xc3\xa9");
    buf_reset(&b);
    str_copy(e.name, sizeof(e.name), "a \"b\" \\c");
    assert_int_equal(imap_list_format(&e, &a, false, &b), 0);
    assert_string_equal(buf_cstr(&b), "LIST (\\HasNoChildren) \".\" \"a \\\"b\\\" \\\\c\"");
    buf_free(&b);
}

/* More names than IMAP_LIST_NAMES_MAX are refused, not truncated. */
static void test_list_select_limit(void **state)
{
    (void)state;
    for (size_t over = 0; over <= 1; over++) {
        size_t n = IMAP_LIST_NAMES_MAX + over;
        struct store_folder_info *f = calloc(n, sizeof(*f));
        assert_non_null(f);
        for (size_t i = 0; i < n; i++) {
            int w = snprintf(f[i].name, sizeof(f[i].name), "f%06zu", i);
            assert_true(w > 0 && (size_t)w < sizeof(f[i].name));
            f[i].attrs = STORE_ATTR_HASNOCHILD;
        }
        struct imap_list_args a;
        memset(&a, 0, sizeof(a));
        a.ref = "";
        a.patterns[0] = "*";
        a.n_patterns = 1;
        struct imap_list_entry *e = NULL;
        size_t ne = 0;
        assert_int_equal(imap_list_select(f, n, &a, false, &e, &ne), over ? -1 : 0);
        if (!over)
            assert_int_equal(ne, n);
        free(e);
        free(f);
    }
}

static void test_expiry_interval(void **state)
{
    (void)state;
    assert_int_equal(imapd_expiry_interval(NULL), IMAPD_EXPIRY_INTERVAL);
    assert_int_equal(imapd_expiry_interval(""), IMAPD_EXPIRY_INTERVAL);
    assert_int_equal(imapd_expiry_interval("1"), 1);
    assert_int_equal(imapd_expiry_interval("3600"), 3600);
    assert_int_equal(imapd_expiry_interval("31536000"), IMAPD_EXPIRY_INTERVAL_MAX);
    assert_int_equal(imapd_expiry_interval("31536001"), -1);
    assert_int_equal(imapd_expiry_interval("0"), -1);
    assert_int_equal(imapd_expiry_interval("-5"), -1);
    assert_int_equal(imapd_expiry_interval("10s"), -1);
    assert_int_equal(imapd_expiry_interval(" 10"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_args_table),     cmocka_unit_test(test_list_args_limits),
        cmocka_unit_test(test_status_items),        cmocka_unit_test(test_list_select_table),
        cmocka_unit_test(test_list_format_quoting), cmocka_unit_test(test_list_select_limit),
        cmocka_unit_test(test_expiry_interval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
