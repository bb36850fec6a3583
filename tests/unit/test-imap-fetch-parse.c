/* Unit tests of src/imap/imap-fetch-parse.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-fetch-parse.h"
#include "imap/imap-parser.h"
#include "lib/buf.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Parse "t CMD " + args + CRLF with a fresh parser; the command's args. */
static const struct imap_command *parse_line(struct imap_parser **p, const char *args)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_printf(&b, "t CMD%s%s\r\n", *args ? " " : "", args);
    *p = imap_parser_new(100);
    size_t used;
    enum imap_parse_status st = imap_parser_feed(*p, b.data, b.len, &used);
    if (st != IMAP_PARSE_COMMAND)
        fail_msg("\"%s\" does not parse: %s", args, imap_parser_error(*p));
    buf_free(&b);
    return imap_parser_command(*p);
}

/* The parsed FETCH as text: the response names of the items, with "PEEK:"
 * and "/length" where they apply, then CHANGEDSINCE and SEEN marks. */
static void dump_fetch(const struct imap_fetch *f, struct buf *out)
{
    for (size_t i = 0; i < f->count; i++) {
        if (i)
            buf_append_char(out, ' ');
        if (f->items[i].peek)
            buf_append_str(out, "PEEK:");
        assert_int_equal(imap_fetch_item_write_name(&f->items[i], out), 0);
        if (f->items[i].has_partial)
            buf_printf(out, "/%u", f->items[i].partial_length);
    }
    if (f->has_changedsince)
        buf_printf(out, " CHANGEDSINCE=%llu", (unsigned long long)f->changedsince);
    if (f->sets_seen)
        buf_append_str(out, " +SEEN");
}

static void test_imap_fetch_parse_table(void **state)
{
    (void)state;
    static const struct {
        const char *args;
        const char *want;  /* the dump, or NULL */
        const char *error; /* when want is NULL */
    } cases[] = {
        {"FLAGS", "FLAGS", NULL},
        {"(FLAGS UID)", "FLAGS UID", NULL},
        {"(flags uid rfc822.size internaldate envelope body bodystructure modseq)",
         "FLAGS UID RFC822.SIZE INTERNALDATE ENVELOPE BODY BODYSTRUCTURE MODSEQ", NULL},
        {"ALL", "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE", NULL},
        {"fast", "FLAGS INTERNALDATE RFC822.SIZE", NULL},
        {"FULL", "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY", NULL},
        {"RFC822", "RFC822 +SEEN", NULL},
        {"RFC822.HEADER", "RFC822.HEADER", NULL},
        {"RFC822.TEXT", "RFC822.TEXT +SEEN", NULL},
        {"BODY[]", "BODY[] +SEEN", NULL},
        {"BODY.PEEK[]", "PEEK:BODY[]", NULL},
        {"BODY.PEEK[]<0.1024>", "PEEK:BODY[]<0>/1024", NULL},
        {"BODY[]<4294967295.4294967295>", "BODY[]<4294967295>/4294967295 +SEEN", NULL},
        {"BODY.PEEK[HEADER]", "PEEK:BODY[HEADER]", NULL},
        {"BODY.PEEK[TEXT]", "PEEK:BODY[TEXT]", NULL},
        {"BODY.PEEK[1]", "PEEK:BODY[1]", NULL},
        {"BODY.PEEK[1.2.3]", "PEEK:BODY[1.2.3]", NULL},
        {"BODY.PEEK[1.2.MIME]", "PEEK:BODY[1.2.MIME]", NULL},
        {"BODY.PEEK[1.HEADER]", "PEEK:BODY[1.HEADER]", NULL},
        {"BODY.PEEK[3.text]", "PEEK:BODY[3.TEXT]", NULL},
        {"BODY.PEEK[header.fields (Date From)]", "PEEK:BODY[HEADER.FIELDS (Date From)]", NULL},
        {"BODY.PEEK[2.HEADER.FIELDS.NOT (\"X-A\" x-b)]<5.6>",
         "PEEK:BODY[2.HEADER.FIELDS.NOT (X-A x-b)]<5>/6", NULL},
        {"(UID BODY.PEEK[HEADER.FIELDS (DATE)]) (CHANGEDSINCE 12345)",
         "UID PEEK:BODY[HEADER.FIELDS (DATE)] CHANGEDSINCE=12345", NULL},
        {"FLAGS (changedsince 9223372036854775807)", "FLAGS CHANGEDSINCE=9223372036854775807",
         NULL},
        {"", NULL, "Missing FETCH items"},
        {"()", NULL, "Empty FETCH item list"},
        {"FOO", NULL, "Unknown FETCH item"},
        {"(ALL)", NULL, "Unknown FETCH item"},
        {"(FLAGS (UID))", NULL, "Invalid FETCH item"},
        {"\"FLAGS\"", NULL, "Invalid FETCH item"},
        {"BINARY[1]", NULL, "Unknown FETCH item"},
        {"BODY[MIME]", NULL, "MIME needs a part number"},
        {"BODY[0]", NULL, "Invalid section part number"},
        {"BODY[01]", NULL, "Invalid section part number"},
        {"BODY[1.]", NULL, "Invalid section"},
        {"BODY[1..2]", NULL, "Invalid section"},
        {"BODY[4294967296]", NULL, "Invalid section part number"},
        {"BODY[HEADERS]", NULL, "Invalid section"},
        {"BODY[TEXT TEXT]", NULL, "Invalid section"},
        {"BODY[\"TEXT\"]", NULL, "Invalid section"},
        {"BODY[HEADER.FIELDS]", NULL, "HEADER.FIELDS needs a list of header names"},
        {"BODY[HEADER.FIELDS ()]", NULL, "HEADER.FIELDS needs a list of header names"},
        {"BODY[HEADER.FIELDS (a:b)]", NULL, "Invalid header name"},
        {"BODY[HEADER.FIELDS (\"\")]", NULL, "Invalid header name"},
        {"BODY[HEADER.FIELDS (\"a b\")]", NULL, "Invalid header name"},
        {"BODY[HEADER.FIELDS ((a))]", NULL, "Invalid header name"},
        {"BODY[HEADER (a)]", NULL, "Invalid section"},
        {"BODY[]<0>", NULL, "Invalid partial range"},
        {"BODY[]<0.0>", NULL, "Invalid partial range"},
        {"BODY[]<1.4294967296>", NULL, "Invalid partial range"},
        {"BODY[]<.5>", NULL, "Invalid partial range"},
        {"BODY[]<1.2.3>", NULL, "Invalid partial range"},
        {"FLAGS UID", NULL, "Invalid FETCH modifiers"},
        {"FLAGS ()", NULL, "Invalid FETCH modifiers"},
        {"FLAGS (CHANGEDSINCE)", NULL, "Invalid CHANGEDSINCE value"},
        {"FLAGS (CHANGEDSINCE 0)", NULL, "Invalid CHANGEDSINCE value"},
        {"FLAGS (CHANGEDSINCE x)", NULL, "Invalid CHANGEDSINCE value"},
        {"FLAGS (CHANGEDSINCE 9223372036854775808)", NULL, "Invalid CHANGEDSINCE value"},
        {"FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)", NULL, "CHANGEDSINCE given twice"},
        {"FLAGS (VANISHED)", NULL, "Unknown FETCH modifier"},
        {"FLAGS (CHANGEDSINCE 1) x", NULL, "Too many FETCH arguments"},
    };
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct imap_parser *p;
        const struct imap_command *c = parse_line(&p, cases[i].args);
        struct imap_fetch f;
        const char *err = NULL;
        int r = imap_fetch_parse(c->args, c->count, &f, &err);
        if (cases[i].want) {
            if (r != 0)
                fail_msg("case %zu \"%s\" refused: %s", i, cases[i].args, err);
            buf_reset(&out);
            dump_fetch(&f, &out);
            if (strcmp(buf_cstr(&out), cases[i].want) != 0)
                fail_msg("case %zu \"%s\": %s", i, cases[i].args, buf_cstr(&out));
        } else {
            if (r != -1 || strcmp(err, cases[i].error) != 0)
                fail_msg("case %zu \"%s\": %d %s", i, cases[i].args, r, r ? err : "accepted");
            assert_null(f.items);
        }
        imap_fetch_free(&f);
        imap_parser_free(&p);
    }
    buf_free(&out);
}

static void test_imap_fetch_parse_limits(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    for (int extra = 0; extra <= 1; extra++) {
        /* Items. */
        buf_reset(&b);
        buf_append_char(&b, '(');
        for (int i = 0; i < IMAP_FETCH_ITEMS_MAX + extra; i++)
            buf_append_str(&b, i ? " UID" : "UID");
        buf_append_char(&b, ')');
        struct imap_parser *p;
        const struct imap_command *c = parse_line(&p, b.data);
        struct imap_fetch f;
        const char *err = NULL;
        int r = imap_fetch_parse(c->args, c->count, &f, &err);
        assert_int_equal(r, extra ? -1 : 0);
        if (extra)
            assert_string_equal(err, "Too many FETCH items");
        else
            assert_int_equal(f.count, IMAP_FETCH_ITEMS_MAX);
        imap_fetch_free(&f);
        imap_parser_free(&p);
        /* Part path depth. */
        buf_reset(&b);
        buf_append_str(&b, "BODY[");
        for (int i = 0; i < IMAP_SECTION_DEPTH_MAX + extra; i++)
            buf_append_str(&b, i ? ".1" : "1");
        buf_append_str(&b, "]");
        c = parse_line(&p, b.data);
        r = imap_fetch_parse(c->args, c->count, &f, &err);
        assert_int_equal(r, extra ? -1 : 0);
        if (extra)
            assert_string_equal(err, "Section part path too deep");
        imap_fetch_free(&f);
        imap_parser_free(&p);
        /* Header names, and the length of one. */
        buf_reset(&b);
        buf_append_str(&b, "BODY[HEADER.FIELDS (");
        for (int i = 0; i < IMAP_FETCH_FIELDS_MAX + extra; i++)
            buf_append_str(&b, i ? " X" : "X");
        buf_append_str(&b, ")]");
        c = parse_line(&p, b.data);
        r = imap_fetch_parse(c->args, c->count, &f, &err);
        assert_int_equal(r, extra ? -1 : 0);
        if (extra)
            assert_string_equal(err, "Too many header names");
        else
            assert_int_equal(f.items[0].field_count, IMAP_FETCH_FIELDS_MAX);
        imap_fetch_free(&f);
        imap_parser_free(&p);
        buf_reset(&b);
        buf_append_str(&b, "BODY[HEADER.FIELDS (");
        for (int i = 0; i < IMAP_FIELD_NAME_MAX + extra; i++)
            buf_append_char(&b, 'h');
        buf_append_str(&b, ")]");
        c = parse_line(&p, b.data);
        r = imap_fetch_parse(c->args, c->count, &f, &err);
        assert_int_equal(r, extra ? -1 : 0);
        imap_fetch_free(&f);
        imap_parser_free(&p);
    }
    buf_free(&b);
}

/* The result outlives the parser: names are copies. */
static void test_imap_fetch_parse_copies(void **state)
{
    (void)state;
    struct imap_parser *p;
    const struct imap_command *c = parse_line(&p, "BODY.PEEK[HEADER.FIELDS (Subject)]");
    struct imap_fetch f;
    const char *err;
    assert_int_equal(imap_fetch_parse(c->args, c->count, &f, &err), 0);
    imap_parser_free(&p);
    assert_string_equal(f.items[0].fields[0], "Subject");
    assert_int_equal(f.items[0].kind, IMAP_SECTION_HEADER_FIELDS);
    assert_true(f.items[0].peek);
    assert_int_equal(f.items[0].part_count, 0);
    struct buf b;
    buf_init(&b, 8);
    assert_int_equal(imap_fetch_item_write_name(&f.items[0], &b), -1);
    buf_free(&b);
    imap_fetch_free(&f);
}

static void test_imap_store_parse_table(void **state)
{
    (void)state;
    static const struct {
        const char *args;
        const char *want; /* "op silent unchangedsince: flags", or the error */
        bool ok;
    } cases[] = {
        {"FLAGS (\\Seen)", "= 0 -: \\Seen", true},
        {"+FLAGS (\\seen \\DELETED)", "+ 0 -: \\Seen \\Deleted", true},
        {"-flags.silent (\\Flagged $Junk)", "- 1 -: \\Flagged $Junk", true},
        {"FLAGS.SILENT ()", "= 1 -:", true},
        {"+FLAGS \\Answered \\Draft work", "+ 0 -: \\Answered \\Draft work", true},
        {"(UNCHANGEDSINCE 12345) +FLAGS.SILENT (\\Deleted)", "+ 1 12345: \\Deleted", true},
        {"(UNCHANGEDSINCE 0) FLAGS ()", "= 0 0:", true},
        {"", "Missing STORE item", false},
        {"FLAGS", "Missing flags", false},
        {"(UNCHANGEDSINCE 5)", "Missing STORE item", false},
        {"FLAG (\\Seen)", "Invalid STORE item", false},
        {"+FLAGS.LOUD (\\Seen)", "Invalid STORE item", false},
        {"\"FLAGS\" (\\Seen)", "Invalid STORE item", false},
        {"FLAGS (\\Recent)", "\\Recent cannot be set", false},
        {"FLAGS (\\Junk)", "Invalid system flag", false},
        {"FLAGS (\\)", "Invalid system flag", false},
        {"FLAGS (a]b)", "Invalid keyword", false},
        {"FLAGS (a%)", "Invalid keyword", false},
        {"FLAGS (NIL)", "Invalid flag", false},
        {"FLAGS (\"quoted\")", "Invalid flag", false},
        {"FLAGS ((\\Seen))", "Invalid flag", false},
        {"FLAGS (\\Seen) x", "Too many STORE arguments", false},
        {"(UNCHANGEDSINCE) FLAGS ()", "Invalid STORE modifier", false},
        {"(UNCHANGEDSINCE x) FLAGS ()", "Invalid UNCHANGEDSINCE value", false},
        {"(UNCHANGEDSINCE 9223372036854775808) FLAGS ()", "Invalid UNCHANGEDSINCE value", false},
        {"(FOO 1) FLAGS ()", "Invalid STORE modifier", false},
    };
    static const char ops[] = {'=', '+', '-'};
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct imap_parser *p;
        const struct imap_command *c = parse_line(&p, cases[i].args);
        struct imap_store s;
        const char *err = NULL;
        int r = imap_store_parse(c->args, c->count, &s, &err);
        imap_parser_free(&p);
        buf_reset(&out);
        if (r == 0) {
            buf_printf(&out, "%c %d ", ops[s.op], s.silent);
            if (s.has_unchangedsince)
                buf_printf(&out, "%llu:", (unsigned long long)s.unchangedsince);
            else
                buf_append_str(&out, "-:");
            for (size_t k = 0; k < s.flag_count; k++)
                buf_printf(&out, " %s", s.flags[k]);
        } else {
            buf_append_str(&out, err);
        }
        if ((r == 0) != cases[i].ok || strcmp(buf_cstr(&out), cases[i].want) != 0)
            fail_msg("case %zu \"%s\": %s", i, cases[i].args, buf_cstr(&out));
        imap_store_free(&s);
    }
    buf_free(&out);
}

static void test_imap_store_parse_limits(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    for (int extra = 0; extra <= 1; extra++) {
        buf_reset(&b);
        buf_append_str(&b, "+FLAGS (");
        for (int i = 0; i < IMAP_STORE_FLAGS_MAX + extra; i++)
            buf_append_str(&b, i ? " k" : "k");
        buf_append_str(&b, ")");
        struct imap_parser *p;
        const struct imap_command *c = parse_line(&p, b.data);
        struct imap_store s;
        const char *err = NULL;
        assert_int_equal(imap_store_parse(c->args, c->count, &s, &err), extra ? -1 : 0);
        imap_store_free(&s);
        imap_parser_free(&p);
        buf_reset(&b);
        buf_append_str(&b, "+FLAGS ");
        for (int i = 0; i < IMAP_FLAG_MAX + extra; i++)
            buf_append_char(&b, 'k');
        c = parse_line(&p, b.data);
        assert_int_equal(imap_store_parse(c->args, c->count, &s, &err), extra ? -1 : 0);
        imap_store_free(&s);
        imap_parser_free(&p);
    }
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_imap_fetch_parse_table),
        cmocka_unit_test(test_imap_fetch_parse_limits),
        cmocka_unit_test(test_imap_fetch_parse_copies),
        cmocka_unit_test(test_imap_store_parse_table),
        cmocka_unit_test(test_imap_store_parse_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
