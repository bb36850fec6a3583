/* Unit tests of src/imap/imap-list-match.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "imap/imap-list-match.h"
#include "lib/buf.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static void test_imap_list_match_table(void **state)
{
    (void)state;
    static const struct {
        const char *pattern;
        const char *name;
        char sep;
        bool match;
    } cases[] = {
        {"*", "INBOX", '/', true},
        {"*", "a/b/c", '/', true},
        {"%", "INBOX", '/', true},
        {"%", "a/b", '/', false},
        {"a/%", "a/b", '/', true},
        {"a/%", "a/b/c", '/', false},
        {"a/*", "a/b/c", '/', true},
        {"a/*", "a", '/', false},
        {"a*", "a", '/', true},
        {"a%", "abc", '/', true},
        {"%/%", "a/b", '/', true},
        {"%/%", "a/b/c", '/', false},
        {"%", "a/b", '\0', true},
        {"%", "a.b", '.', false},
        {"%.%", "a.b", '.', true},
        {"Sent", "Sent", '/', true},
        {"sent", "Sent", '/', false},
        {"inbox", "INBOX", '/', true},
        {"InBoX", "INBOX", '/', true},
        {"inbox/%", "INBOX/x", '/', true},
        {"INBOX", "inbox", '/', false},
        {"inboxes", "INBOXES", '/', false},
        {"inb*", "INBOX", '/', false},
        {"", "", '/', true},
        {"", "a", '/', false},
        {"a", "", '/', false},
        {"*%*", "x/y", '/', true},
        {"**", "", '/', true},
        {"%", "", '/', true},
        {"*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", '/', true},
        {"*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", '/', false},
        {"%a%a%a%b", "aaaaaaaaaaaaaaaaa/aaaab", '/', false},
        {"[Gmail]/%", "[Gmail]/Sent Mail", '/', true},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++)
        if (imap_list_match(cases[i].pattern, cases[i].name, cases[i].sep) != cases[i].match)
            fail_msg("case %zu: \"%s\" vs \"%s\" should %smatch", i, cases[i].pattern,
                     cases[i].name, cases[i].match ? "" : "not ");
}

/* Lengths up to the maximum are matched; one more never matches. A
 * pattern built to make backtracking explode finishes quickly. */
static void test_imap_list_match_limits(void **state)
{
    (void)state;
    struct buf pat, name;
    buf_init(&pat, BUF_UNLIMITED);
    buf_init(&name, BUF_UNLIMITED);
    for (int i = 0; i < IMAP_LIST_MATCH_MAX; i++)
        buf_append_char(&name, 'a');
    assert_true(imap_list_match("*", name.data, '/'));
    assert_true(imap_list_match(name.data, name.data, '/'));
    buf_append_char(&name, 'a');
    assert_false(imap_list_match("*", name.data, '/'));
    buf_truncate(&name, IMAP_LIST_MATCH_MAX - 1);
    buf_append_char(&name, 'b');
    while (pat.len + 2 <= IMAP_LIST_MATCH_MAX - 1)
        buf_append_str(&pat, "*a");
    buf_append_char(&pat, 'c');
    clock_t t0 = clock();
    assert_false(imap_list_match(pat.data, name.data, '/'));
    pat.data[pat.len - 1] = 'b';
    assert_true(imap_list_match(pat.data, name.data, '/'));
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0);
    /* A pattern of exactly the maximum, then one longer. */
    buf_append_str(&pat, "*");
    assert_int_equal(pat.len, IMAP_LIST_MATCH_MAX);
    assert_true(imap_list_match(pat.data, name.data, '/'));
    buf_append_str(&pat, "*");
    assert_false(imap_list_match(pat.data, name.data, '/'));
    buf_free(&pat);
    buf_free(&name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_imap_list_match_table),
        cmocka_unit_test(test_imap_list_match_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
