/* Unit tests of src/smtp/smtp-address.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "smtp/smtp-address.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Flags of a parsed path, for the tables. */
#define F_NULL   1u
#define F_PM     2u
#define F_QUOTED 4u
#define F_UTF8   8u
#define F_LIT    16u

#define OK       SMTP_PATH_OK
#define SYNTAX   SMTP_PATH_SYNTAX
#define TOO_LONG SMTP_PATH_TOO_LONG
#define UTF8     SMTP_PATH_UTF8

/* A heap copy of exactly n bytes: ASan catches any read past n. */
static char *exact_copy(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, s, n);
    return p;
}

static unsigned path_flags(const struct smtp_path *p)
{
    return (p->null ? F_NULL : 0) | (p->postmaster ? F_PM : 0) | (p->quoted ? F_QUOTED : 0) |
           (p->utf8 ? F_UTF8 : 0) | (p->literal ? F_LIT : 0);
}

static enum smtp_path_error parse_path(const char *s, size_t n, bool allow_null, bool allow_pm,
                                       struct smtp_path *out, size_t *used)
{
    char *copy = exact_copy(s, n);
    *used = 0;
    enum smtp_path_error e = smtp_path_parse(copy, n, allow_null, allow_pm, out, used);
    free(copy);
    return e;
}

/* The one table entry holding a NUL. */
#define NUL_PATH "<us\0er@example.com>"

struct path_case {
    const char *in;
    bool allow_null, allow_pm;
    enum smtp_path_error want;
    size_t used; /* 0: the whole input */
    const char *mailbox, *local, *domain;
    unsigned flags;
};

static const struct path_case path_cases[] = {
    {"<user@example.com>", false, false, OK, 0, "user@example.com", "user", "example.com", 0},
    {"<User.Name+tag@Example.COM>", false, false, OK, 0, "User.Name+tag@example.com",
     "User.Name+tag", "example.com", 0},
    {"<a@b>", false, false, OK, 0, "a@b", "a", "b", 0},
    {"<!#$%&'*+-/=?^_`{|}~@x.example>", false, false, OK, 0, "!#$%&'*+-/=?^_`{|}~@x.example",
     "!#$%&'*+-/=?^_`{|}~", "x.example", 0},
    {"<user@sub-domain.1example.org>", false, false, OK, 0, "user@sub-domain.1example.org", "user",
     "sub-domain.1example.org", 0},
    /* Parameters may follow; used says where the path ends. */
    {"<user@example.com> SIZE=10", false, false, OK, 18, "user@example.com", "user", "example.com",
     0},
    {"<a@b>>", false, false, OK, 5, "a@b", "a", "b", 0},
    /* The null path and postmaster, only where allowed. */
    {"<>", true, false, OK, 0, "", "", "", F_NULL},
    {"<> BODY=8BITMIME", true, false, OK, 2, "", "", "", F_NULL},
    {"<>", false, true, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<postmaster>", false, true, OK, 0, "postmaster", "postmaster", "", F_PM},
    {"<PostMaster>", false, true, OK, 0, "postmaster", "postmaster", "", F_PM},
    {"<postmaster>", true, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<postmasters>", false, true, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<postmaster@example.com>", false, true, OK, 0, "postmaster@example.com", "postmaster",
     "example.com", 0},
    /* Quoted local parts: quotes kept in the mailbox, removed in local. */
    {"<\"john doe\"@example.com>", false, false, OK, 0, "\"john doe\"@example.com", "john doe",
     "example.com", F_QUOTED},
    {"<\"a\\\"b\\\\c\"@example.com>", false, false, OK, 0, "\"a\\\"b\\\\c\"@example.com", "a\"b\\c",
     "example.com", F_QUOTED},
    {"<\"\"@example.com>", false, false, OK, 0, "\"\"@example.com", "", "example.com", F_QUOTED},
    {"<\"a>b\"@example.com>", false, false, OK, 0, "\"a>b\"@example.com", "a>b", "example.com",
     F_QUOTED},
    {"<\"@\"@example.com>", false, false, OK, 0, "\"@\"@example.com", "@", "example.com", F_QUOTED},
    {"<\"unterminated@example.com>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<\"a\"b@example.com>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<\"a\x01\"@example.com>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<\"a\\\x01\"@example.com>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<\"a\\\"@example.com>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<\"a\tb\"@example.com>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    /* Address literals. */
    {"<user@[192.0.2.1]>", false, false, OK, 0, "user@[192.0.2.1]", "user", "[192.0.2.1]", F_LIT},
    {"<user@[1.2.3.4]>", false, false, OK, 0, "user@[1.2.3.4]", "user", "[1.2.3.4]", F_LIT},
    {"<user@[IPv6:::1]>", false, false, OK, 0, "user@[ipv6:::1]", "user", "[ipv6:::1]", F_LIT},
    {"<user@[IPv6:2001:DB8::1]>", false, false, OK, 0, "user@[ipv6:2001:db8::1]", "user",
     "[ipv6:2001:db8::1]", F_LIT},
    {"<user@[IPv6:::ffff:192.0.2.1]>", false, false, OK, 0, "user@[ipv6:::ffff:192.0.2.1]", "user",
     "[ipv6:::ffff:192.0.2.1]", F_LIT},
    {"<\"a b\"@[IPv6:::1]>", false, false, OK, 0, "\"a b\"@[ipv6:::1]", "a b", "[ipv6:::1]",
     F_QUOTED | F_LIT},
    {"<user@[1.2.3]>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<user@[1.2.3.4.5]>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<user@[256.1.1.1]>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<user@[IPv6:1.2.3.4]>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<user@[IPv6:::1::]>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<user@[::1]>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<user@[x400:foo]>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<user@[]>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<user@[1.2.3.4>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<user@[1.2.3.4]x>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<user@[ 1.2.3.4]>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<user@1.2.3.4>", false, false, OK, 0, "user@1.2.3.4", "user", "1.2.3.4", 0},
    /* Source routes are accepted and dropped. */
    {"<@a.example,@b.example:user@c.example>", false, false, OK, 0, "user@c.example", "user",
     "c.example", 0},
    {"<@a.example:user@c.example>", false, false, OK, 0, "user@c.example", "user", "c.example", 0},
    {"<@[192.0.2.1]:user@c.example>", false, false, OK, 0, "user@c.example", "user", "c.example",
     0},
    {"<@a.example:>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<@a..example:user@c.example>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<@a.example user@c.example>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<@a.example,user@c.example>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<@:user@c.example>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<@a.example,:user@c.example>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<@example.com>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<@a.example:@b.example:u@c.example>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    /* UTF-8 (RFC 6531), well-formed and not. */
    {"<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a>", false, false,
     OK, 0, "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a",
     "\xe7\x94\xa8\xe6\x88\xb7", "\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a", F_UTF8},
    {"<jos\xc3\xa9@example.com>", false, false, OK, 0, "jos\xc3\xa9@example.com", "jos\xc3\xa9",
     "example.com", F_UTF8},
    {"<user@b\xc3\xbc"
     "cher.example>",
     false, false, OK, 0,
     "user@b\xc3\xbc"
     "cher.example",
     "user",
     "b\xc3\xbc"
     "cher.example",
     F_UTF8},
    {"<\"jos\xc3\xa9 q\"@example.com>", false, false, OK, 0, "\"jos\xc3\xa9 q\"@example.com",
     "jos\xc3\xa9 q", "example.com", F_UTF8 | F_QUOTED},
    {"<\xc3@example.com>", false, false, UTF8, 0, NULL, NULL, NULL, 0},
    {"<jos\xe9@example.com>", false, false, UTF8, 0, NULL, NULL, NULL, 0},
    {"<\xc0\x80@example.com>", false, false, UTF8, 0, NULL, NULL, NULL, 0},
    {"<\xed\xa0\x80x@example.com>", false, false, UTF8, 0, NULL, NULL, NULL, 0},
    {"<\"\xff\"@example.com>", false, false, UTF8, 0, NULL, NULL, NULL, 0},
    {"<user@\xff.example>", false, false, UTF8, 0, NULL, NULL, NULL, 0},
    {"<user@b\xfc"
     "cher.example>",
     false, false, UTF8, 0, NULL, NULL, NULL, 0},
    {"<user@\xf4\x90\x80\x80.example>", false, false, UTF8, 0, NULL, NULL, NULL, 0},
    /* Plain syntax errors. */
    {"", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {">", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"user@example.com", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {" <user@example.com>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<user@example.com", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"< user@example.com>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<user@example.com >", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<user>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<user@>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<@>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<user@@example.com>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<user@exa@mple.com>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<.user@example.com>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<user.@example.com>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<us..er@example.com>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<us er@example.com>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<us(er@example.com>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<us\\er@example.com>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<user@-example.com>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<user@example-.com>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<user@example..com>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<user@.example.com>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<user@example.com.>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<user@exa_mple.com>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<user@exa mple.com>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {"<user@example.com\r\n>", false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
    {NUL_PATH, false, false, SYNTAX, 0, NULL, NULL, NULL, 0},
};

static size_t case_len(const struct path_case *c)
{
    if (strcmp(c->in, "<us") == 0) /* NUL_PATH, cut at its NUL by strlen */
        return sizeof(NUL_PATH) - 1;
    return strlen(c->in);
}

static void check_path(const struct path_case *c, size_t i)
{
    size_t n = case_len(c);
    struct smtp_path p;
    size_t used;
    enum smtp_path_error e = parse_path(c->in, n, c->allow_null, c->allow_pm, &p, &used);
    if (e != c->want)
        fail_msg("case %zu \"%s\": got error %d, want %d", i, c->in, e, c->want);
    if (e != OK)
        return;
    size_t want_used = c->used ? c->used : n;
    if (used != want_used)
        fail_msg("case %zu: used %zu want %zu", i, used, want_used);
    if (strcmp(p.mailbox, c->mailbox) != 0 || strcmp(p.local, c->local) != 0 ||
        strcmp(p.domain, c->domain) != 0 || path_flags(&p) != c->flags)
        fail_msg("case %zu: mailbox \"%s\" local \"%s\" domain \"%s\" flags 0x%x", i, p.mailbox,
                 p.local, p.domain, path_flags(&p));
    /* The path alone gives the same; any prefix of it is refused. */
    struct smtp_path q;
    size_t used2;
    assert_int_equal(parse_path(c->in, used, c->allow_null, c->allow_pm, &q, &used2), OK);
    assert_int_equal(used2, used);
    assert_memory_equal(&p, &q, sizeof(p));
    for (size_t k = 0; k < used; k++) {
        if (parse_path(c->in, k, c->allow_null, c->allow_pm, &q, &used2) == OK)
            fail_msg("case %zu: prefix of %zu octets accepted", i, k);
    }
}

static void test_smtp_path_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ELEMS(path_cases); i++)
        check_path(&path_cases[i], i);
}

/* n copies of c. */
static void fill(struct buf *b, char c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_int_equal(buf_append_char(b, c), 0);
}

/* A domain of exactly n octets in labels of at most 63. */
static void add_domain(struct buf *b, size_t n)
{
    size_t left = n;
    while (left > 0) {
        size_t label = left > 63 ? 63 : left;
        if (label == left - 1)
            label--; /* never leave a lone dot at the end */
        fill(b, 'd', label);
        left -= label;
        if (left > 0) {
            buf_append_char(b, '.');
            left--;
        }
    }
}

static void test_smtp_path_limits(void **state)
{
    (void)state;
    /* Local part: 64 octets as sent, 65 too many (also quoted). */
    for (size_t len = 62; len <= 66; len++) {
        for (int quoted = 0; quoted <= 1; quoted++) {
            struct buf b;
            buf_init(&b, BUF_UNLIMITED);
            buf_append_char(&b, '<');
            if (quoted) {
                buf_append_char(&b, '"');
                fill(&b, 'q', len - 2);
                buf_append_char(&b, '"');
            } else {
                fill(&b, 'l', len);
            }
            buf_append_str(&b, "@example.com>");
            struct smtp_path p;
            size_t used;
            enum smtp_path_error e = parse_path(b.data, b.len, false, false, &p, &used);
            enum smtp_path_error want = len <= SMTP_LOCAL_MAX ? OK : TOO_LONG;
            if (e != want)
                fail_msg("local part of %zu (quoted %d): %d", len, quoted, e);
            if (e == OK)
                assert_int_equal(strlen(p.local), quoted ? len - 2 : len);
            /* The same as a bare mailbox. */
            e = smtp_mailbox_parse(b.data + 1, b.len - 2, &p);
            if (e != want)
                fail_msg("mailbox, local part of %zu (quoted %d): %d", len, quoted, e);
            buf_free(&b);
        }
    }
    /* A quoted local part whose decoded form is short but whose text is
     * long is still too long: the limit is on what was sent. */
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_append_str(&b, "<\"");
    for (int i = 0; i < 32; i++)
        buf_append_str(&b, "\\a");
    buf_append_str(&b, "\"@example.com>");
    struct smtp_path p;
    size_t used;
    assert_int_equal(parse_path(b.data, b.len, false, false, &p, &used), TOO_LONG);
    buf_free(&b);

    /* Path: 256 octets with the angle brackets, 257 too many. */
    for (size_t total = 250; total <= 260; total++) {
        buf_init(&b, BUF_UNLIMITED);
        buf_append_char(&b, '<');
        fill(&b, 'l', 64);
        buf_append_char(&b, '@');
        add_domain(&b, total - 67);
        buf_append_char(&b, '>');
        assert_int_equal(b.len, total);
        enum smtp_path_error e = parse_path(b.data, b.len, false, false, &p, &used);
        enum smtp_path_error want = total <= SMTP_PATH_MAX ? OK : TOO_LONG;
        if (e != want)
            fail_msg("path of %zu: %d", total, e);
        if (e == OK) {
            assert_int_equal(strlen(p.mailbox), total - 2);
            assert_int_equal(used, total);
        }
        /* The bare mailbox has the same limit, brackets not counted. */
        e = smtp_mailbox_parse(b.data + 1, b.len - 2, &p);
        if (e != want)
            fail_msg("mailbox of %zu: %d", total - 2, e);
        /* A source route counts towards the path length too. */
        struct buf r;
        buf_init(&r, BUF_UNLIMITED);
        buf_append_str(&r, "<@a.example:");
        buf_append(&r, b.data + 1, b.len - 1);
        e = parse_path(r.data, r.len, false, false, &p, &used);
        if (e != (r.len <= SMTP_PATH_MAX ? OK : TOO_LONG))
            fail_msg("routed path of %zu: %d", r.len, e);
        buf_free(&r);
        buf_free(&b);
    }
}

static void test_smtp_domain_valid(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        bool utf8_ok, valid;
    } cases[] = {
        {"example.com", false, true},
        {"a", false, true},
        {"1.2.3.4", false, true},
        {"a-b.c-d", false, true},
        {"a--b.example", false, true},
        {"EXAMPLE.COM", false, true},
        {"", false, false},
        {".", false, false},
        {"-a.example", false, false},
        {"a-.example", false, false},
        {"a.-b", false, false},
        {"a.b-", false, false},
        {"a..b", false, false},
        {".a", false, false},
        {"a.", false, false},
        {"a_b", false, false},
        {"a b", false, false},
        {"[1.2.3.4]", false, false},
        {"b\xc3\xbc"
         "cher.example",
         true, true},
        {"b\xc3\xbc"
         "cher.example",
         false, false},
        {"\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a", true, true},
        {"b\xfc"
         "cher.example",
         true, false},
        {"\xc3", true, false},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        size_t n = strlen(cases[i].s);
        char *s = exact_copy(cases[i].s, n);
        bool v = smtp_domain_valid(s, n, cases[i].utf8_ok);
        free(s);
        if (v != cases[i].valid)
            fail_msg("case %zu \"%s\": got %d", i, cases[i].s, v);
    }
    /* A NUL is not part of any domain. */
    assert_false(smtp_domain_valid("a\0b", 3, true));
    /* Only len octets count. */
    assert_true(smtp_domain_valid("example.com-", 11, false));
    /* 255 octets is the most; labels 63. */
    for (size_t len = 250; len <= 260; len++) {
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        add_domain(&b, len);
        assert_int_equal(b.len, len);
        char *s = exact_copy(b.data, b.len);
        if (smtp_domain_valid(s, len, false) != (len <= SMTP_DOMAIN_MAX))
            fail_msg("domain of %zu", len);
        free(s);
        buf_free(&b);
    }
    for (size_t label = 62; label <= 65; label++) {
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        fill(&b, 'x', label);
        buf_append_str(&b, ".example");
        if (smtp_domain_valid(b.data, b.len, false) != (label <= 63))
            fail_msg("label of %zu", label);
        buf_reset(&b);
        buf_append_str(&b, "example.");
        fill(&b, 'x', label);
        if (smtp_domain_valid(b.data, b.len, false) != (label <= 63))
            fail_msg("last label of %zu", label);
        buf_free(&b);
    }
}

static void test_smtp_address_literal_valid(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        bool valid;
    } cases[] = {
        {"[192.0.2.1]", true},
        {"[0.0.0.0]", true},
        {"[255.255.255.255]", true},
        {"[IPv6:::1]", true},
        {"[ipv6:::1]", true},
        {"[IPv6:2001:db8::1]", true},
        {"[IPv6:::]", true},
        {"[IPv6:0000:0000:0000:0000:0000:ffff:255.255.255.255]", true},
        {"[IPv6:1:2:3:4:5:6:7:8]", true},
        {"[IPv6:1:2:3:4:5:6:7:8:9]", false},
        {"[IPv6:1.2.3.4]", false},
        {"[IPv6:]", false},
        {"[IPv6 ::1]", false},
        {"[::1]", false},
        {"[256.0.0.1]", false},
        {"[1.2.3]", false},
        {"[1.2.3.4 ]", false},
        {"[1.2.3.4", false},
        {"1.2.3.4]", false},
        {"1.2.3.4", false},
        {"[]", false},
        {"[", false},
        {"", false},
        {"[example.com]", false},
        {"[IPv6:00000000000000000000000000000000000000000000000000000000000001]", false},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        size_t n = strlen(cases[i].s);
        char *s = exact_copy(cases[i].s, n);
        bool v = smtp_address_literal_valid(s, n);
        free(s);
        if (v != cases[i].valid)
            fail_msg("case %zu \"%s\": got %d", i, cases[i].s, v);
    }
    /* A NUL inside the brackets must not hide what follows it. */
    static const char nul4[] = "[192.0.2.1\0junk]";
    static const char nul6[] = "[IPv6:::\0"
                               "1]";
    assert_false(smtp_address_literal_valid(nul4, sizeof(nul4) - 1));
    assert_false(smtp_address_literal_valid(nul6, sizeof(nul6) - 1));
    static const char nulpath[] = "<user@[192.0.2.1\0\0]>";
    struct smtp_path p;
    size_t used;
    assert_int_equal(parse_path(nulpath, sizeof(nulpath) - 1, false, false, &p, &used), SYNTAX);
    assert_int_equal(smtp_mailbox_parse(nulpath + 1, sizeof(nulpath) - 3, &p), SYNTAX);
}

static void test_smtp_mailbox_parse(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        enum smtp_path_error want;
        const char *mailbox, *local, *domain;
        unsigned flags;
    } cases[] = {
        {"user@example.com", OK, "user@example.com", "user", "example.com", 0},
        {"User@EXAMPLE.com", OK, "User@example.com", "User", "example.com", 0},
        {"\"a b\"@example.com", OK, "\"a b\"@example.com", "a b", "example.com", F_QUOTED},
        {"user@[192.0.2.1]", OK, "user@[192.0.2.1]", "user", "[192.0.2.1]", F_LIT},
        {"jos\xc3\xa9@example.com", OK, "jos\xc3\xa9@example.com", "jos\xc3\xa9", "example.com",
         F_UTF8},
        {"jos\xe9@example.com", UTF8, NULL, NULL, NULL, 0},
        {"<user@example.com>", SYNTAX, NULL, NULL, NULL, 0},
        {"postmaster", SYNTAX, NULL, NULL, NULL, 0},
        {"", SYNTAX, NULL, NULL, NULL, 0},
        {"user@", SYNTAX, NULL, NULL, NULL, 0},
        {"@example.com", SYNTAX, NULL, NULL, NULL, 0},
        {"user@example.com ", SYNTAX, NULL, NULL, NULL, 0},
        {"@a.example:user@example.com", SYNTAX, NULL, NULL, NULL, 0},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        size_t n = strlen(cases[i].in);
        char *s = exact_copy(cases[i].in, n);
        struct smtp_path p;
        enum smtp_path_error e = smtp_mailbox_parse(s, n, &p);
        free(s);
        if (e != cases[i].want)
            fail_msg("case %zu \"%s\": got %d", i, cases[i].in, e);
        if (e == OK &&
            (strcmp(p.mailbox, cases[i].mailbox) != 0 || strcmp(p.local, cases[i].local) != 0 ||
             strcmp(p.domain, cases[i].domain) != 0 || path_flags(&p) != cases[i].flags))
            fail_msg("case %zu: \"%s\" \"%s\" \"%s\" 0x%x", i, p.mailbox, p.local, p.domain,
                     path_flags(&p));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smtp_path_parse),
        cmocka_unit_test(test_smtp_path_limits),
        cmocka_unit_test(test_smtp_domain_valid),
        cmocka_unit_test(test_smtp_address_literal_valid),
        cmocka_unit_test(test_smtp_mailbox_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
