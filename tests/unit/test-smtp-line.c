/* Unit tests of src/smtp/smtp-line.c. */
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
#include "smtp/smtp-line.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A heap copy of exactly n bytes: ASan catches any read past n. */
static char *exact_copy(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, s, n);
    return p;
}

static const char *status_name(enum smtp_line_status s)
{
    switch (s) {
    case SMTP_LINE_NEED_MORE:
        return "NEED_MORE";
    case SMTP_LINE_OK:
        return "OK";
    case SMTP_LINE_BAD:
        return "BAD";
    case SMTP_LINE_TOO_LONG:
        return "TOO_LONG";
    }
    return "?";
}

static void test_smtp_line_find(void **state)
{
    (void)state;
    static const struct {
        const char *data;
        size_t n;
        size_t max;
        enum smtp_line_status status;
        size_t len, consumed;
    } cases[] = {
        {"", 0, 16, SMTP_LINE_NEED_MORE, 0, 0},
        {"NOOP", 4, 16, SMTP_LINE_NEED_MORE, 0, 0},
        {"NOOP\r", 5, 16, SMTP_LINE_NEED_MORE, 0, 0},
        {"NOOP\r\n", 6, 16, SMTP_LINE_OK, 4, 6},
        {"NOOP\r\nQUIT\r\n", 12, 16, SMTP_LINE_OK, 4, 6},
        {"\r\n", 2, 16, SMTP_LINE_OK, 0, 2},
        /* Only CRLF ends a line: bare LF and bare CR never do. */
        {"NOOP\n", 5, 16, SMTP_LINE_NEED_MORE, 0, 0},
        {"NOOP\nQUIT\n", 10, 16, SMTP_LINE_NEED_MORE, 0, 0},
        {"NO\nOP\r\n", 7, 16, SMTP_LINE_BAD, 5, 7},
        {"NO\rOP\r\n", 7, 16, SMTP_LINE_BAD, 5, 7},
        {"NOOP\r\r\n", 7, 16, SMTP_LINE_BAD, 5, 7},
        {"\r\r\n", 3, 16, SMTP_LINE_BAD, 1, 3},
        {"\n\r\n", 3, 16, SMTP_LINE_BAD, 1, 3},
        {"NO\0OP\r\n", 7, 16, SMTP_LINE_BAD, 5, 7},
        {"\0\r\n", 3, 16, SMTP_LINE_BAD, 1, 3},
        {"NO\nOP", 5, 16, SMTP_LINE_NEED_MORE, 0, 0},
        /* The limit counts the CRLF: max 8 holds 6 octets of text. */
        {"123456\r\n", 8, 8, SMTP_LINE_OK, 6, 8},
        {"12345\r\n", 7, 8, SMTP_LINE_OK, 5, 7},
        {"1234567\r\n", 9, 8, SMTP_LINE_TOO_LONG, 0, 7}, /* the CR stays for the skipper */
        {"1234567\r", 8, 8, SMTP_LINE_TOO_LONG, 0, 7},
        {"1234567", 7, 8, SMTP_LINE_NEED_MORE, 0, 0},
        {"12345678", 8, 8, SMTP_LINE_TOO_LONG, 0, 8},
        {"123456789\r\n", 11, 8, SMTP_LINE_TOO_LONG, 0, 8},
        {"12\n456\r\n", 8, 8, SMTP_LINE_BAD, 6, 8},
        {"12\n4567\r\n", 9, 8, SMTP_LINE_TOO_LONG, 0, 7},
        {"123456\r", 7, 8, SMTP_LINE_NEED_MORE, 0, 0},
        {"123456\rX", 8, 8, SMTP_LINE_TOO_LONG, 0, 8},
        {"\r\n", 2, 2, SMTP_LINE_OK, 0, 2},
        {"x\r\n", 3, 2, SMTP_LINE_TOO_LONG, 0, 1},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        char *data = exact_copy(cases[i].data, cases[i].n);
        struct smtp_line l;
        memset(&l, 0xa5, sizeof(l));
        smtp_line_find(data, cases[i].n, cases[i].max, &l);
        free(data);
        if (l.status != cases[i].status || l.len != cases[i].len || l.consumed != cases[i].consumed)
            fail_msg("case %zu: got %s len %zu consumed %zu, want %s %zu %zu", i,
                     status_name(l.status), l.len, l.consumed, status_name(cases[i].status),
                     cases[i].len, cases[i].consumed);
    }
}

/* RFC 5321 4.5.3.1.4: a command line is at most 512 octets with its CRLF. */
static void test_smtp_line_512(void **state)
{
    (void)state;
    for (size_t text = 500; text <= 520; text++) {
        size_t n = text + 2;
        char *data = malloc(n);
        assert_non_null(data);
        memset(data, 'x', text);
        memcpy(data + text, "\r\n", 2);
        struct smtp_line l;
        smtp_line_find(data, n, SMTP_COMMAND_LINE_MAX, &l);
        if (n <= SMTP_COMMAND_LINE_MAX) {
            assert_int_equal(l.status, SMTP_LINE_OK);
            assert_int_equal(l.len, text);
            assert_int_equal(l.consumed, n);
        } else {
            if (l.status != SMTP_LINE_TOO_LONG)
                fail_msg("line of %zu octets with CRLF: %s", n, status_name(l.status));
            /* Whatever was consumed, skipping the rest finds the CRLF. */
            int pcr = 0, done = 0;
            size_t k = smtp_line_skip(data + l.consumed, n - l.consumed, &pcr, &done);
            assert_int_equal(done, 1);
            assert_int_equal(l.consumed + k, n);
        }
        free(data);
    }
}

static void test_smtp_line_skip(void **state)
{
    (void)state;
    static const struct {
        int pending_cr;
        const char *data;
        size_t n;
        size_t want_used;
        int want_done, want_pending;
    } cases[] = {
        {0, "abc\r\nX", 6, 5, 1, 0}, {0, "abc\r", 4, 4, 0, 1},
        {1, "\nX", 2, 1, 1, 0},      {1, "X\r\n", 3, 3, 1, 0},
        {1, "X", 1, 1, 0, 0},        {0, "\n", 1, 1, 0, 0}, /* a bare LF does not end the line */
        {0, "a\nb\n", 4, 4, 0, 0},   {0, "\r\r\n", 3, 3, 1, 0},
        {0, "\r\n\r\n", 4, 2, 1, 0}, {0, "", 0, 0, 0, 0},
        {1, "", 0, 0, 0, 1},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        char *data = exact_copy(cases[i].data, cases[i].n);
        int pcr = cases[i].pending_cr, done = 42;
        size_t used = smtp_line_skip(data, cases[i].n, &pcr, &done);
        free(data);
        if (used != cases[i].want_used || done != cases[i].want_done ||
            pcr != cases[i].want_pending)
            fail_msg("case %zu: used %zu done %d pending %d", i, used, done, pcr);
    }
}

/* A reader like the session's: a buffer of unconsumed input, lines taken
 * off the front, over-long lines skipped up to their CRLF. Every event
 * is written to log as one line so that runs can be compared. */
struct reader {
    struct buf in;
    struct buf log;
    size_t max;
    int skipping, pending_cr;
};

static void reader_feed(struct reader *r, const char *data, size_t n)
{
    assert_int_equal(buf_append(&r->in, data, n), 0);
    for (;;) {
        if (r->skipping) {
            int done;
            size_t k = smtp_line_skip(r->in.data, r->in.len, &r->pending_cr, &done);
            assert_true(k <= r->in.len);
            buf_consume(&r->in, k);
            if (!done)
                return;
            r->skipping = 0;
            buf_append_str(&r->log, "SKIPPED\n");
            continue;
        }
        struct smtp_line l;
        smtp_line_find(buf_cstr(&r->in), r->in.len, r->max, &l);
        if (l.status == SMTP_LINE_NEED_MORE) {
            /* Never waits with a full line's worth of input. */
            assert_true(r->in.len < r->max);
            return;
        }
        assert_true(l.consumed > 0 && l.consumed <= r->in.len && l.consumed <= r->max);
        if (l.status == SMTP_LINE_TOO_LONG) {
            buf_append_str(&r->log, "TOO_LONG\n");
            r->skipping = 1;
            r->pending_cr = 0;
        } else {
            assert_int_equal(l.consumed, l.len + 2);
            assert_memory_equal(r->in.data + l.len, "\r\n", 2);
            buf_printf(&r->log, "%s %zu [", status_name(l.status), l.len);
            for (size_t k = 0; k < l.len; k++) {
                unsigned char c = (unsigned char)r->in.data[k];
                if (c >= 0x20 && c < 0x7f)
                    buf_append_char(&r->log, (char)c);
                else
                    buf_printf(&r->log, "\\x%02x", c);
            }
            buf_append_str(&r->log, "]\n");
        }
        buf_consume(&r->in, l.consumed);
    }
}

/* The log of reading data in the given pieces (sizes summing to n). */
static char *read_pieces(const char *data, size_t n, size_t max, const size_t *cuts, size_t ncuts)
{
    struct reader r;
    memset(&r, 0, sizeof(r));
    buf_init(&r.in, BUF_UNLIMITED);
    buf_init(&r.log, BUF_UNLIMITED);
    r.max = max;
    size_t pos = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        char *piece = exact_copy(data + pos, end - pos);
        reader_feed(&r, piece, end - pos);
        free(piece);
        pos = end;
    }
    buf_printf(&r.log, "left %zu skipping %d\n", r.in.len, r.skipping);
    buf_free(&r.in);
    return buf_steal(&r.log);
}

/* Whole, byte by byte, and at every 2-way split: the same lines. */
static void check_every_split(const char *data, size_t n, size_t max, const char *want)
{
    char *whole = read_pieces(data, n, max, NULL, 0);
    if (strcmp(whole, want) != 0)
        fail_msg("whole input:\n%s\nwant:\n%s", whole, want);
    size_t *cuts = malloc(n * sizeof(size_t) + 1);
    assert_non_null(cuts);
    for (size_t i = 0; i + 1 < n; i++)
        cuts[i] = i + 1;
    char *bytes = read_pieces(data, n, max, cuts, n ? n - 1 : 0);
    if (strcmp(bytes, want) != 0)
        fail_msg("byte by byte:\n%s\nwant:\n%s", bytes, want);
    free(bytes);
    for (size_t cut = 0; cut <= n; cut++) {
        char *two = read_pieces(data, n, max, &cut, 1);
        if (strcmp(two, want) != 0)
            fail_msg("split at %zu:\n%s\nwant:\n%s", cut, two, want);
        free(two);
    }
    free(cuts);
    free(whole);
}

static void test_smtp_line_every_split(void **state)
{
    (void)state;
    static const struct {
        const char *data;
        size_t n; /* 0: strlen(data) */
        size_t max;
        const char *want;
    } cases[] = {
        {"EHLO a.example\r\nMAIL FROM:<>\r\n", 0, 16,
         "OK 14 [EHLO a.example]\nOK 12 [MAIL FROM:<>]\nleft 0 skipping 0\n"},
        {"NO\nOP\r\nQUIT\n\r\nRSET\r\r\nx", 0, 16,
         "BAD 5 [NO\\x0aOP]\nBAD 5 [QUIT\\x0a]\nBAD 5 [RSET\\x0d]\nleft 1 skipping 0\n"},
        {"N\0OP\r\n\r\n", 8, 16, "BAD 4 [N\\x00OP]\nOK 0 []\nleft 0 skipping 0\n"},
        /* At the limit, one over, far over, then life goes on. */
        {"123456\r\n1234567\r\nNOOP\r\n123456789012345\r\nQUIT\r\n", 0, 8,
         "OK 6 [123456]\nTOO_LONG\nSKIPPED\nOK 4 [NOOP]\nTOO_LONG\nSKIPPED\nOK 4 [QUIT]\n"
         "left 0 skipping 0\n"},
        /* An over-long line with bare CR/LF inside is skipped to its CRLF. */
        {"12\r34\n5678\r\n\r\nQUIT\r\n", 0, 8,
         "TOO_LONG\nSKIPPED\nOK 0 []\nOK 4 [QUIT]\nleft 0 skipping 0\n"},
        {"1234567\r\r\nQUIT\r\n", 0, 8, "TOO_LONG\nSKIPPED\nOK 4 [QUIT]\nleft 0 skipping 0\n"},
        {"123456789", 0, 8, "TOO_LONG\nleft 0 skipping 1\n"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        size_t n = cases[i].n ? cases[i].n : strlen(cases[i].data);
        check_every_split(cases[i].data, n, cases[i].max, cases[i].want);
    }

    /* A long stream at the real limit: 512 octets, 513, and more. */
    struct buf s;
    buf_init(&s, BUF_UNLIMITED);
    struct buf want;
    buf_init(&want, BUF_UNLIMITED);
    static const size_t texts[] = {510, 511, 512, 600, 0, 4};
    for (size_t i = 0; i < N_ELEMS(texts); i++) {
        for (size_t k = 0; k < texts[i]; k++)
            buf_append_char(&s, (char)('a' + k % 26));
        buf_append_str(&s, "\r\n");
        if (texts[i] + 2 <= SMTP_COMMAND_LINE_MAX) {
            buf_printf(&want, "OK %zu [", texts[i]);
            for (size_t k = 0; k < texts[i]; k++)
                buf_append_char(&want, (char)('a' + k % 26));
            buf_append_str(&want, "]\n");
        } else {
            buf_append_str(&want, "TOO_LONG\nSKIPPED\n");
        }
    }
    buf_append_str(&want, "left 0 skipping 0\n");
    check_every_split(s.data, s.len, SMTP_COMMAND_LINE_MAX, buf_cstr(&want));
    buf_free(&s);
    buf_free(&want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smtp_line_find),
        cmocka_unit_test(test_smtp_line_512),
        cmocka_unit_test(test_smtp_line_skip),
        cmocka_unit_test(test_smtp_line_every_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
