/* Unit tests of src/imap/imap-search-parse.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-parser.h"
#include "imap/imap-search-parse.h"
#include "lib/buf.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const struct imap_command *parse_line(struct imap_parser **p, const char *args)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_printf(&b, "t SEARCH%s%s\r\n", *args ? " " : "", args);
    *p = imap_parser_new(100);
    size_t used;
    if (imap_parser_feed(*p, b.data, b.len, &used) != IMAP_PARSE_COMMAND)
        fail_msg("\"%s\" does not parse: %s", args, imap_parser_error(*p));
    buf_free(&b);
    return imap_parser_command(*p);
}

static const char *const type_names[] = {
    "ALL",     "ANSWERED",  "DELETED",    "DRAFT",     "FLAGGED", "NEW",       "OLD",
    "RECENT",  "SEEN",      "UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN",
    "KEYWORD", "UNKEYWORD", "BCC",        "BODY",      "CC",      "FROM",      "SUBJECT",
    "TEXT",    "TO",        "HEADER",     "BEFORE",    "ON",      "SINCE",     "SENTBEFORE",
    "SENTON",  "SENTSINCE", "LARGER",     "SMALLER",   "SET",     "UID",       "MODSEQ",
    "NOT",     "OR",        "AND",
};

/* A key tree as text: NAME, NAME(str), NAME(y-m-d), NAME(n), SET(1:3),
 * HEADER(name:str), MODSEQ(entry/type/n), NOT{..}, OR{a,b}, AND{...}. */
static void dump_key(const struct imap_search_key *k, struct buf *out)
{
    buf_append_str(out, type_names[k->type]);
    struct buf set;
    switch (k->type) {
    case IMAP_SEARCH_KEYWORD:
    case IMAP_SEARCH_UNKEYWORD:
    case IMAP_SEARCH_BCC:
    case IMAP_SEARCH_BODY:
    case IMAP_SEARCH_CC:
    case IMAP_SEARCH_FROM:
    case IMAP_SEARCH_SUBJECT:
    case IMAP_SEARCH_TEXT:
    case IMAP_SEARCH_TO:
        assert_int_equal(strlen(k->str), k->len);
        buf_printf(out, "(%s)", k->str);
        break;
    case IMAP_SEARCH_HEADER:
        buf_printf(out, "(%s:%s)", k->header, k->str);
        break;
    case IMAP_SEARCH_BEFORE:
    case IMAP_SEARCH_ON:
    case IMAP_SEARCH_SINCE:
    case IMAP_SEARCH_SENTBEFORE:
    case IMAP_SEARCH_SENTON:
    case IMAP_SEARCH_SENTSINCE:
        buf_printf(out, "(%d-%d-%d)", k->date.year, k->date.month, k->date.day);
        break;
    case IMAP_SEARCH_LARGER:
    case IMAP_SEARCH_SMALLER:
        buf_printf(out, "(%llu)", (unsigned long long)k->number);
        break;
    case IMAP_SEARCH_SEQSET:
    case IMAP_SEARCH_UID:
        buf_init(&set, BUF_UNLIMITED);
        imap_seqset_write(&k->set, &set);
        buf_printf(out, "(%s)", buf_cstr(&set));
        buf_free(&set);
        break;
    case IMAP_SEARCH_MODSEQ:
        buf_printf(out, "(%s/%d/%llu)", k->str ? k->str : "-", k->entry_type,
                   (unsigned long long)k->number);
        break;
    case IMAP_SEARCH_NOT:
    case IMAP_SEARCH_OR:
    case IMAP_SEARCH_AND:
        buf_append_char(out, '{');
        for (size_t i = 0; i < k->count; i++) {
            if (i)
                buf_append_char(out, ',');
            dump_key(&k->children[i], out);
        }
        buf_append_char(out, '}');
        break;
    default:
        break;
    }
}

static void test_imap_search_parse_table(void **state)
{
    (void)state;
    static const struct {
        const char *args;
        int result;
        const char *want; /* the tree (with charset) or the error */
    } cases[] = {
        {"ALL", 0, "0 AND{ALL}"},
        {"answered deleted draft flagged new old recent seen", 0,
         "0 AND{ANSWERED,DELETED,DRAFT,FLAGGED,NEW,OLD,RECENT,SEEN}"},
        {"UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN", 0,
         "0 AND{UNANSWERED,UNDELETED,UNDRAFT,UNFLAGGED,UNSEEN}"},
        {"KEYWORD $Junk UNKEYWORD work", 0, "0 AND{KEYWORD($Junk),UNKEYWORD(work)}"},
        {"FROM joe TO \"a b\" CC {3}\r\nx y BCC NIL", 0,
         "0 AND{FROM(joe),TO(a b),CC(x y),BCC(NIL)}"},
        {"SUBJECT \"\" BODY x TEXT y", 0, "0 AND{SUBJECT(),BODY(x),TEXT(y)}"},
        {"HEADER X-Spam yes HEADER Message-ID \"\"", 0,
         "0 AND{HEADER(X-Spam:yes),HEADER(Message-ID:)}"},
        {"BEFORE 1-Feb-1994 ON 29-feb-2000 SINCE \"01-JAN-2024\"", 0,
         "0 AND{BEFORE(1994-2-1),ON(2000-2-29),SINCE(2024-1-1)}"},
        {"SENTBEFORE 31-Dec-1999 SENTON 9-Sep-2009 SENTSINCE 29-Feb-2024", 0,
         "0 AND{SENTBEFORE(1999-12-31),SENTON(2009-9-9),SENTSINCE(2024-2-29)}"},
        {"LARGER 1000 SMALLER 4294967295", 0, "0 AND{LARGER(1000),SMALLER(4294967295)}"},
        {"1:3,5 UID 10:* *", 0, "0 AND{SET(1:3,5),UID(10:*),SET(*)}"},
        {"NOT SEEN", 0, "0 AND{NOT{SEEN}}"},
        {"OR SEEN FLAGGED", 0, "0 AND{OR{SEEN,FLAGGED}}"},
        {"OR (SEEN FROM a) NOT (DELETED)", 0, "0 AND{OR{AND{SEEN,FROM(a)},NOT{AND{DELETED}}}}"},
        {"NOT NOT OR OR A1 ALL ALL ALL", -1, "Unknown search key"},
        {"NOT NOT OR OR 1 ALL ALL ALL", 0, "0 AND{NOT{NOT{OR{OR{SET(1),ALL},ALL}}},ALL}"},
        {"MODSEQ 5", 0, "0 AND{MODSEQ(-/0/5)}"},
        {"MODSEQ \"/flags/\\\\draft\" all 620162338", 0,
         "0 AND{MODSEQ(/flags/\\draft/3/620162338)}"},
        {"MODSEQ \"/flags/$Junk\" priv 0", 0, "0 AND{MODSEQ(/flags/$Junk/1/0)}"},
        {"CHARSET UTF-8 SUBJECT \"caf\xc3\xa9\"", 0, "2 AND{SUBJECT(caf\xc3\xa9)}"},
        {"charset us-ascii ALL", 0, "1 AND{ALL}"},
        {"CHARSET \"UTF-8\" ALL", 0, "2 AND{ALL}"},
        {"CHARSET ISO-8859-1 ALL", -2, "[BADCHARSET (US-ASCII UTF-8)] Unsupported charset"},
        {"CHARSET UTF-7 ALL", -2, "[BADCHARSET (US-ASCII UTF-8)] Unsupported charset"},
        {"CHARSET", -1, "Missing charset"},
        {"CHARSET UTF-8", -1, "Missing search key"},
        {"", -1, "Missing search key"},
        {"()", -1, "Missing search key"},
        {"FOO", -1, "Unknown search key"},
        {"\"ALL\"", -1, "Invalid search key"},
        {"NIL", -1, "Invalid search key"},
        {"FROM", -1, "Missing search key argument"},
        {"FROM (a)", -1, "Invalid search string"},
        {"FROM {2}\r\n\xc3(", -1, "Search string is not valid UTF-8"},
        {"NOT", -1, "Missing search key argument"},
        {"OR SEEN", -1, "Missing search key argument"},
        {"BEFORE 1-Feb-94", -1, "Invalid date"},
        {"BEFORE 30-Feb-2000", -1, "Invalid date"},
        {"BEFORE 29-Feb-1900", -1, "Invalid date"},
        {"BEFORE 0-Jan-2000", -1, "Invalid date"},
        {"BEFORE 32-Jan-2000", -1, "Invalid date"},
        {"BEFORE 001-Jan-2000", -1, "Invalid date"},
        {"BEFORE 1-Foo-2000", -1, "Invalid date"},
        {"BEFORE 1 Jan 2000", -1, "Invalid date"},
        {"BEFORE (1-Jan-2000)", -1, "Invalid date"},
        {"LARGER -1", -1, "Invalid number"},
        {"LARGER 4294967296", -1, "Invalid number"},
        {"LARGER x", -1, "Invalid number"},
        {"UID", -1, "Missing search key argument"},
        {"UID x", -1, "Invalid sequence set"},
        {"UID \"1\"", -1, "Invalid sequence set"},
        {"1:0", -1, "Unknown search key"},
        {"KEYWORD \\Seen", -1, "Invalid keyword"},
        {"KEYWORD a]", -1, "Invalid keyword"},
        {"HEADER a:b c", -1, "Invalid header name"},
        {"HEADER \"\" c", -1, "Invalid header name"},
        {"HEADER X", -1, "Missing search key argument"},
        {"MODSEQ", -1, "Missing search key argument"},
        {"MODSEQ x", -1, "Invalid number"},
        {"MODSEQ 9223372036854775808", -1, "Invalid number"},
        {"MODSEQ \"/flags/x\"", -1, "Missing MODSEQ entry type"},
        {"MODSEQ \"/flags/x\" mine 5", -1, "Invalid MODSEQ entry type"},
        {"MODSEQ \"/other\" all 5", -1, "Invalid MODSEQ entry name"},
        {"MODSEQ \"/flags/x\" all", -1, "Missing MODSEQ value"},
    };
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct imap_parser *p;
        const char *args = cases[i].args;
        /* Literals in the table: feed with the parser accepting them. */
        struct buf line;
        buf_init(&line, BUF_UNLIMITED);
        buf_printf(&line, "t SEARCH%s%s\r\n", *args ? " " : "", args);
        p = imap_parser_new(100);
        size_t used, off = 0;
        enum imap_parse_status st;
        while ((st = imap_parser_feed(p, line.data + off, line.len - off, &used)) ==
               IMAP_PARSE_LITERAL) {
            off += used;
            imap_parser_literal_accept(p, false);
        }
        if (st != IMAP_PARSE_COMMAND)
            fail_msg("case %zu does not parse: %s", i, imap_parser_error(p));
        buf_free(&line);
        const struct imap_command *c = imap_parser_command(p);
        struct imap_search s;
        const char *err = NULL;
        int r = imap_search_parse(c->args, c->count, &s, &err);
        imap_parser_free(&p);
        buf_reset(&out);
        if (r == 0) {
            buf_printf(&out, "%d ", s.charset);
            dump_key(&s.root, &out);
            assert_int_equal(s.uses_modseq, strstr(args, "MODSEQ") != NULL);
        } else {
            buf_append_str(&out, err);
        }
        if (r != cases[i].result || strcmp(buf_cstr(&out), cases[i].want) != 0)
            fail_msg("case %zu \"%s\": %d %s", i, args, r, buf_cstr(&out));
        imap_search_free(&s);
    }
    buf_free(&out);
}

static void test_imap_search_parse_limits(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    for (int extra = 0; extra <= 1; extra++) {
        /* Depth: NOT chains, and parentheses. */
        buf_reset(&b);
        for (int i = 0; i < IMAP_SEARCH_DEPTH_MAX - 1 + extra; i++)
            buf_append_str(&b, "NOT ");
        buf_append_str(&b, "ALL");
        struct imap_parser *p;
        const struct imap_command *c = parse_line(&p, b.data);
        struct imap_search s;
        const char *err = NULL;
        int r = imap_search_parse(c->args, c->count, &s, &err);
        if (extra) {
            assert_int_equal(r, IMAP_SEARCH_PARSE_BAD);
            assert_string_equal(err, "Search keys nested too deeply");
        } else {
            assert_int_equal(r, IMAP_SEARCH_PARSE_OK);
        }
        imap_search_free(&s);
        imap_parser_free(&p);
        buf_reset(&b);
        for (int i = 0; i < IMAP_SEARCH_DEPTH_MAX - 1 + extra; i++)
            buf_append_str(&b, "OR ALL ");
        buf_append_str(&b, "ALL");
        c = parse_line(&p, b.data);
        r = imap_search_parse(c->args, c->count, &s, &err);
        assert_int_equal(r, extra ? IMAP_SEARCH_PARSE_BAD : IMAP_SEARCH_PARSE_OK);
        imap_search_free(&s);
        imap_parser_free(&p);
        /* Number of keys. */
        buf_reset(&b);
        for (int i = 0; i < IMAP_SEARCH_KEYS_MAX + extra; i++)
            buf_append_str(&b, i ? " ALL" : "ALL");
        c = parse_line(&p, b.data);
        r = imap_search_parse(c->args, c->count, &s, &err);
        if (extra) {
            assert_int_equal(r, IMAP_SEARCH_PARSE_BAD);
            assert_string_equal(err, "Too many search keys");
        } else {
            assert_int_equal(r, IMAP_SEARCH_PARSE_OK);
            assert_int_equal(s.root.count, IMAP_SEARCH_KEYS_MAX);
        }
        imap_search_free(&s);
        imap_parser_free(&p);
    }
    buf_free(&b);
}

static void test_imap_date_parse(void **state)
{
    (void)state;
    struct imap_date d;
    assert_int_equal(imap_date_parse("1-Jan-2000", 10, &d), 0);
    assert_int_equal(d.year, 2000);
    assert_int_equal(imap_date_parse("31-DEC-9999", 11, &d), 0);
    assert_int_equal(imap_date_parse("31-Apr-2000", 11, &d), -1);
    assert_int_equal(imap_date_parse("29-Feb-2400", 11, &d), 0);
    assert_int_equal(imap_date_parse("29-Feb-2100", 11, &d), -1);
    assert_int_equal(imap_date_parse("1-Jan-200x", 10, &d), -1);
    assert_int_equal(imap_date_parse("1-Jan-2000", 9, &d), -1);
    assert_int_equal(imap_date_parse("", 0, &d), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_imap_search_parse_table),
        cmocka_unit_test(test_imap_search_parse_limits),
        cmocka_unit_test(test_imap_date_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
