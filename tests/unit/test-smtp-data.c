/* Unit tests of src/smtp/smtp-data.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "smtp/smtp-data.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#define LF   SMTP_DATA_BARE_LF
#define CR   SMTP_DATA_BARE_CR
#define NUL  SMTP_DATA_NUL
#define LONG SMTP_DATA_LONG_LINE

/* What one run of the parser over an input gave. */
struct result {
    struct buf out;  /* the message octets handed out */
    size_t consumed; /* octets consumed in total */
    bool done;
    unsigned errors;
    unsigned long long size;
    bool has_8bit;
    unsigned received;
    unsigned header_fields;
    unsigned long long header_size;
    size_t subject_len;
    bool finish_crlf; /* BDAT: smtp_data_finish_chunks() */
    char message_id[256];
};

static void collect(void *ctx, const char *data, size_t len)
{
    struct buf *b = ctx;
    assert_true(len > 0); /* never called with nothing */
    assert_int_equal(buf_append(b, data, len), 0);
}

/* Feed data[0..n) in pieces ending at cuts[]; stop after the end mark as
 * an owner would (the rest is the next command). */
static void run(const char *data, size_t n, bool dots, const size_t *cuts, size_t ncuts,
                struct result *r)
{
    struct smtp_data_parser p;
    smtp_data_init(&p, dots);
    memset(r, 0, sizeof(*r));
    buf_init(&r->out, BUF_UNLIMITED);
    size_t pos = 0;
    for (size_t i = 0; i <= ncuts && !p.done; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        /* An exact-size copy: ASan catches reads past the piece. */
        char *piece = malloc(end - pos + 1);
        assert_non_null(piece);
        memcpy(piece, data + pos, end - pos);
        size_t used = smtp_data_feed(&p, piece, end - pos, collect, &r->out);
        free(piece);
        assert_true(used <= end - pos);
        if (used < end - pos)
            assert_true(p.done); /* only the end mark stops early */
        r->consumed += used;
        pos = end;
    }
    if (p.done) {
        /* Nothing more is taken after the end mark. */
        assert_int_equal(smtp_data_feed(&p, "x\r\n", 3, collect, &r->out), 0);
    }
    if (!dots)
        r->finish_crlf = smtp_data_finish_chunks(&p);
    r->done = p.done;
    r->errors = p.errors;
    r->size = p.size;
    r->has_8bit = p.has_8bit;
    r->received = p.received;
    r->header_fields = p.header_fields;
    r->header_size = p.header_size;
    r->subject_len = p.subject_len;
    memcpy(r->message_id, p.message_id, p.mid_len);
    r->message_id[p.mid_len] = '\0';
    /* The size counts exactly the octets handed out. */
    assert_int_equal(r->size, r->out.len);
}

static bool same(const struct result *a, const struct result *b)
{
    return a->out.len == b->out.len && memcmp(a->out.data, b->out.data, a->out.len) == 0 &&
           a->consumed == b->consumed && a->done == b->done && a->errors == b->errors &&
           a->size == b->size && a->has_8bit == b->has_8bit && a->received == b->received &&
           a->header_fields == b->header_fields && a->header_size == b->header_size &&
           a->subject_len == b->subject_len && a->finish_crlf == b->finish_crlf &&
           strcmp(a->message_id, b->message_id) == 0;
}

static void print_result(const char *what, const struct result *r)
{
    print_error("%s: consumed %zu done %d errors 0x%x 8bit %d received %u out (%zu) \"", what,
                r->consumed, r->done, r->errors, r->has_8bit, r->received, r->out.len);
    for (size_t i = 0; i < r->out.len; i++) {
        unsigned char c = (unsigned char)r->out.data[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            print_error("%c", c);
        else
            print_error("\\x%02x", c);
    }
    print_error("\"\n");
}

/* Whole, in 1-byte pieces and split in two at every position: identical. */
static void check_splits(const char *data, size_t n, bool dots, const struct result *whole)
{
    size_t *cuts = malloc((n + 1) * sizeof(size_t));
    assert_non_null(cuts);
    for (size_t i = 0; i + 1 < n; i++)
        cuts[i] = i + 1;
    struct result r;
    run(data, n, dots, cuts, n ? n - 1 : 0, &r);
    if (!same(&r, whole)) {
        print_result("whole", whole);
        print_result("bytes", &r);
        fail_msg("1-byte pieces differ");
    }
    buf_free(&r.out);
    for (size_t cut = 0; cut <= n; cut++) {
        run(data, n, dots, &cut, 1, &r);
        if (!same(&r, whole)) {
            print_result("whole", whole);
            print_result("split", &r);
            fail_msg("split at %zu differs", cut);
        }
        buf_free(&r.out);
    }
    free(cuts);
}

struct data_case {
    const char *in;
    size_t in_len; /* 0: strlen */
    const char *out;
    size_t out_len;  /* 0: strlen */
    size_t consumed; /* (size_t)-1: all of the input */
    bool done;
    unsigned errors;
};

static void check_cases(const struct data_case *cases, size_t ncases, bool dots)
{
    for (size_t i = 0; i < ncases; i++) {
        const struct data_case *c = &cases[i];
        size_t n = c->in_len ? c->in_len : strlen(c->in);
        size_t out_len = c->out_len ? c->out_len : strlen(c->out);
        size_t consumed = c->consumed == (size_t)-1 ? n : c->consumed;
        struct result r;
        run(c->in, n, dots, NULL, 0, &r);
        if (r.out.len != out_len || memcmp(r.out.data ? r.out.data : "", c->out, out_len) != 0 ||
            r.consumed != consumed || r.done != c->done || r.errors != c->errors) {
            print_result("got", &r);
            fail_msg("case %zu: want consumed %zu done %d errors 0x%x out \"%s\"", i, consumed,
                     c->done, c->errors, c->out);
        }
        check_splits(c->in, n, dots, &r);
        buf_free(&r.out);
    }
}

static void test_smtp_data_dot(void **state)
{
    (void)state;
    static const struct data_case cases[] = {
        {"Subject: x\r\n\r\nbody\r\n.\r\n", 0, "Subject: x\r\n\r\nbody\r\n", 0, (size_t)-1, true,
         0},
        {".\r\n", 0, "", 0, 3, true, 0}, /* an empty message */
        {"\r\n.\r\n", 0, "\r\n", 0, (size_t)-1, true, 0},
        /* Not one octet past the end mark: the next command stays. */
        {"a\r\n.\r\nMAIL FROM:<>\r\n", 0, "a\r\n", 0, 6, true, 0},
        {"a\r\n.\r\n.\r\n", 0, "a\r\n", 0, 6, true, 0},
        /* Dot-unstuffing: the first dot of a line goes, nothing else. */
        {"..x\r\n...\r\n..\r\n.\r\n", 0, ".x\r\n..\r\n.\r\n", 0, (size_t)-1, true, 0},
        {"a.\r\n.b\r\nc.d\r\n.\r\n", 0, "a.\r\nb\r\nc.d\r\n", 0, (size_t)-1, true, 0},
        {". \r\n.\r\n", 0, " \r\n", 0, (size_t)-1, true, 0},
        /* No end mark yet. */
        {"a\r\nb", 0, "a\r\nb", 0, (size_t)-1, false, 0},
        {"a\r\n.", 0, "a\r\n", 0, (size_t)-1, false, 0},
        {"a\r\n.\r", 0, "a\r\n", 0, (size_t)-1, false, 0},
        {"a\r\n", 0, "a\r\n", 0, (size_t)-1, false, 0},
        {"", 0, "", 0, 0, false, 0},
        /* SMTP smuggling: none of these ends the data, all are flagged. */
        {"a\n.\nb\r\n.\r\n", 0, "a\n.\nb\r\n", 0, (size_t)-1, true, LF},
        {"a\n.\r\nb\r\n.\r\n", 0, "a\n.\r\nb\r\n", 0, (size_t)-1, true, LF},
        {"a\r.\r\nb\r\n.\r\n", 0, "a\r.\r\nb\r\n", 0, (size_t)-1, true, CR},
        {"a\r\n.\rb\r\n.\r\n", 0, "a\r\n\rb\r\n", 0, (size_t)-1, true, CR},
        {"a\r\n.\r\r\n.\r\n", 0, "a\r\n\r\r\n", 0, (size_t)-1, true, CR},
        {"a\r\n.\nb\r\n.\r\n", 0, "a\r\n\nb\r\n", 0, (size_t)-1, true, LF},
        {"a\n.\n", 0, "a\n.\n", 0, (size_t)-1, false, LF},
        {"a\n.\r\n", 0, "a\n.\r\n", 0, (size_t)-1, false, LF},
        {"a\r.\r\n", 0, "a\r.\r\n", 0, (size_t)-1, false, CR},
        {"a\r\n.\rMAIL FROM:<x@y>\r\n", 0, "a\r\n\rMAIL FROM:<x@y>\r\n", 0, (size_t)-1, false, CR},
        {"\n.\n", 0, "\n.\n", 0, (size_t)-1, false, LF},
        {".\n", 0, "\n", 0, (size_t)-1, false, LF},
        {".\r.\r\n", 0, "\r.\r\n", 0, (size_t)-1, false, CR},
        {"a\r\r\n.\r\n", 0, "a\r\r\n", 0, (size_t)-1, true, CR},
        {"a\rb\nc\r\n.\r\n", 0, "a\rb\nc\r\n", 0, (size_t)-1, true, CR | LF},
        /* NUL and 8-bit octets. */
        {"a\0b\r\n.\r\n", 8, "a\0b\r\n", 5, (size_t)-1, true, NUL},
        {".\0\r\n.\r\n", 7, "\0\r\n", 3, (size_t)-1, true, NUL},
    };
    check_cases(cases, N_ELEMS(cases), true);
}

static void test_smtp_data_bdat(void **state)
{
    (void)state;
    /* Raw chunks: no dot handling, no end mark, the same checks. */
    static const struct data_case cases[] = {
        {"..x\r\n.\r\nrest", 0, "..x\r\n.\r\nrest", 0, (size_t)-1, false, 0},
        {".\r\n", 0, ".\r\n", 0, (size_t)-1, false, 0},
        {"a\nb\r\n", 0, "a\nb\r\n", 0, (size_t)-1, false, LF},
        {"a\rb\r\n", 0, "a\rb\r\n", 0, (size_t)-1, false, CR},
        {"a\r\n.\rb", 0, "a\r\n.\rb", 0, (size_t)-1, false, CR},
        {"a\0", 2, "a\0", 2, (size_t)-1, false, NUL},
    };
    check_cases(cases, N_ELEMS(cases), false);

    static const struct {
        const char *in;
        bool crlf_needed;
        unsigned errors;
    } finish[] = {
        {"", false, 0},        {"abc", true, 0},   {"abc\r\n", false, 0},  {"abc\r", false, CR},
        {"abc\r\nd", true, 0}, {"a\nb", true, LF}, {"\r\n\r\n", false, 0},
    };
    for (size_t i = 0; i < N_ELEMS(finish); i++) {
        struct result r;
        run(finish[i].in, strlen(finish[i].in), false, NULL, 0, &r);
        if (r.finish_crlf != finish[i].crlf_needed || r.errors != finish[i].errors)
            fail_msg("finish case %zu: crlf %d errors 0x%x", i, r.finish_crlf, r.errors);
        check_splits(finish[i].in, strlen(finish[i].in), false, &r);
        buf_free(&r.out);
    }
}

/* Text lines of 998 octets are fine, 999 are flagged (CRLF not counted,
 * nor the dot added by stuffing). */
static void test_smtp_data_line_limit(void **state)
{
    (void)state;
    for (int dots = 0; dots <= 1; dots++) {
        for (size_t len = 996; len <= 1001; len++) {
            for (int stuffed = 0; stuffed <= dots; stuffed++) {
                struct buf in;
                buf_init(&in, BUF_UNLIMITED);
                buf_append_str(&in, "Subject: x\r\n\r\n");
                if (stuffed)
                    buf_append_str(&in, ".");
                for (size_t k = 0; k < len; k++)
                    buf_append_char(&in, stuffed && k == 0 ? '.' : 'x');
                buf_append_str(&in, "\r\nshort\r\n");
                if (dots)
                    buf_append_str(&in, ".\r\n");
                struct result r;
                run(in.data, in.len, dots, NULL, 0, &r);
                unsigned want = len > SMTP_TEXT_LINE_MAX ? LONG : 0;
                if (r.errors != want)
                    fail_msg("line of %zu (dots %d stuffed %d): errors 0x%x", len, dots, stuffed,
                             r.errors);
                assert_int_equal(r.out.len, 14 + len + 2 + 7);
                if (len == 998 || len == 999)
                    check_splits(in.data, in.len, dots, &r);
                buf_free(&r.out);
                buf_free(&in);
            }
        }
    }
}

static void test_smtp_data_received_and_8bit(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        unsigned received;
        bool has_8bit;
    } cases[] = {
        {"Received: a\r\nreceived: b\r\nRECEIVED:c\r\n\r\nbody\r\n.\r\n", 3, false},
        /* Not Received: fields: other names, folded lines, the body. */
        {"X-Received: a\r\n Received: folded\r\nReceived : x\r\nReceive: y\r\n\r\n"
         "Received: in the body\r\n.\r\n",
         0, false},
        {"Received:\r\n\r\n.\r\n", 1, false},
        {".Received: stuffed\r\n\r\n.\r\n", 1, false},
        {"Subject: x\r\n\r\nReceived: no\r\n.\r\n", 0, false},
        {"\r\nReceived: after an empty line\r\n.\r\n", 0, false},
        {"Subject: caf\xc3\xa9\r\n\r\n.\r\n", 0, true},
        {"Subject: x\r\n\r\n\xff\r\n.\r\n", 0, true},
        {"Subject: \x7f\r\n\r\n.\r\n", 0, false},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct result r;
        run(cases[i].in, strlen(cases[i].in), true, NULL, 0, &r);
        if (r.received != cases[i].received || r.has_8bit != cases[i].has_8bit || !r.done)
            fail_msg("case %zu: received %u 8bit %d done %d", i, r.received, r.has_8bit, r.done);
        check_splits(cases[i].in, strlen(cases[i].in), true, &r);
        buf_free(&r.out);
    }
}

/* The header section's measures behind max_subject_length,
 * max_header_fields and max_header_size: fields counted at their first
 * line, the section's octets with its CRLFs and the empty line, the
 * longest Subject value unfolded (continuation lines with their leading
 * blanks, the CRLFs between them not). */
static void test_smtp_data_header_measures(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        unsigned fields;
        unsigned long long size;
        size_t subject;
    } cases[] = {
        {"Subject: hello\r\n\r\nbody\r\n.\r\n", 1, 18, 6},
        {"From: a\r\nTo: b\r\n folded\r\nSUBJECT:x\r\n\r\n.\r\n", 3, 38, 1},
        /* folded Subject: " part one" + " part two" */
        {"Subject: part one\r\n part two\r\n\r\n.\r\n", 1, 32, 18},
        /* the longest of two Subject fields; X-Subject is not one */
        {"Subject: ab\r\nX-Subject: abcdefgh\r\nsubject: abcd\r\n\r\n.\r\n", 3, 51, 5},
        /* a Subject in the body does not count */
        {"To: x\r\n\r\nSubject: long long long\r\n.\r\n", 1, 9, 0},
        /* no header at all */
        {"\r\nbody\r\n.\r\n", 0, 2, 0},
        {"Subject:\r\n\r\n.\r\n", 1, 12, 0},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct result r;
        run(cases[i].in, strlen(cases[i].in), true, NULL, 0, &r);
        if (r.header_fields != cases[i].fields || r.header_size != cases[i].size ||
            r.subject_len != cases[i].subject || !r.done)
            fail_msg("case %zu: fields %u size %llu subject %zu done %d", i, r.header_fields,
                     r.header_size, r.subject_len, r.done);
        check_splits(cases[i].in, strlen(cases[i].in), true, &r);
        buf_free(&r.out);
    }
    /* a 3,501-octet Subject folded into lines of at most 998 */
    struct buf m;
    buf_init(&m, BUF_UNLIMITED);
    buf_append_str(&m, "Subject:");
    size_t value = 0;
    while (value < 3501) {
        size_t line = 3501 - value < 900 ? 3501 - value : 900;
        if (value)
            buf_append_str(&m, "\r\n");
        buf_append_char(&m, ' ');
        for (size_t k = 1; k < line; k++)
            buf_append_char(&m, 'x');
        value += line;
    }
    buf_append_str(&m, "\r\n\r\nbody\r\n.\r\n");
    struct result r;
    run(m.data, m.len, true, NULL, 0, &r);
    assert_int_equal(r.subject_len, 3501);
    assert_int_equal(r.errors, 0);
    buf_free(&r.out);
    buf_free(&m);
}

/* The Message-ID: field's value, for the trace: the first such field of
 * the header section, unfolded, wherever the input is cut. */
static void test_smtp_data_message_id(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *mid;
    } cases[] = {
        {"Message-ID: <a@b.test>\r\nSubject: x\r\n\r\n.\r\n", "<a@b.test>"},
        {"Subject: x\r\nmessage-id:<c@d>\r\n\r\n.\r\n", "<c@d>"},
        /* folded onto the next line */
        {"Message-Id:\r\n \t<f@g>\r\nTo: y\r\n\r\n.\r\n", "<f@g>"},
        {"Message-ID: <h@\r\n i>\r\n\r\n.\r\n", "<h@ i>"},
        /* only the first one counts */
        {"Message-ID: <1@x>\r\nMessage-ID: <2@x>\r\n\r\n.\r\n", "<1@x>"},
        /* not in the body, not another field's name */
        {"Subject: x\r\n\r\nMessage-ID: <body@x>\r\n.\r\n", ""},
        {"X-Message-ID: <x@x>\r\nMessage-IDs: <y@y>\r\n\r\n.\r\n", ""},
        {".Message-ID: <stuffed@x>\r\n\r\n.\r\n", "<stuffed@x>"},
        /* an empty value */
        {"Message-ID:\r\nSubject: x\r\n\r\n.\r\n", ""},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct result r;
        run(cases[i].in, strlen(cases[i].in), true, NULL, 0, &r);
        if (strcmp(r.message_id, cases[i].mid) != 0 || !r.done)
            fail_msg("case %zu: message-id \"%s\", want \"%s\"", i, r.message_id, cases[i].mid);
        check_splits(cases[i].in, strlen(cases[i].in), true, &r);
        buf_free(&r.out);
    }
    /* A value longer than the buffer is cut, not overrun. */
    struct buf in;
    buf_init(&in, BUF_UNLIMITED);
    buf_printf(&in, "Message-ID: <");
    for (int i = 0; i < 400; i++)
        buf_append_char(&in, 'x');
    buf_printf(&in, "@y>\r\n\r\n.\r\n");
    struct result r;
    run(in.data, in.len, true, NULL, 0, &r);
    assert_int_equal(strlen(r.message_id), 255);
    assert_memory_equal(r.message_id, "<xxx", 4);
    buf_free(&r.out);
    buf_free(&in);
}

/* A long realistic message with every feature, split everywhere. */
static void test_smtp_data_long_message(void **state)
{
    (void)state;
    struct buf in, want;
    buf_init(&in, BUF_UNLIMITED);
    buf_init(&want, BUF_UNLIMITED);
    const char *head = "Received: from a by b\r\nReceived: from c by d\r\nFrom: <a@example.org>\r\n"
                       "Subject: test\r\n\r\n";
    buf_append_str(&in, head);
    buf_append_str(&want, head);
    for (int i = 0; i < 40; i++) {
        buf_printf(&in, "%sline %d of the body\r\n", i % 3 == 0 ? ".." : "", i);
        buf_printf(&want, "%sline %d of the body\r\n", i % 3 == 0 ? "." : "", i);
    }
    buf_append_str(&in, ".\r\nQUIT\r\n");
    struct result r;
    run(in.data, in.len, true, NULL, 0, &r);
    assert_true(r.done);
    assert_int_equal(r.errors, 0);
    assert_int_equal(r.received, 2);
    assert_int_equal(r.consumed, in.len - 6);
    assert_int_equal(r.out.len, want.len);
    assert_memory_equal(r.out.data, want.data, want.len);
    check_splits(in.data, in.len, true, &r);
    buf_free(&r.out);
    buf_free(&in);
    buf_free(&want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smtp_data_dot),
        cmocka_unit_test(test_smtp_data_bdat),
        cmocka_unit_test(test_smtp_data_line_limit),
        cmocka_unit_test(test_smtp_data_received_and_8bit),
        cmocka_unit_test(test_smtp_data_header_measures),
        cmocka_unit_test(test_smtp_data_message_id),
        cmocka_unit_test(test_smtp_data_long_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
