/* Fuzz target: the DATA / BDAT stream splitter smtp_data_feed().
 *
 * The input is one stream, run in both modes (DATA with dot handling and
 * the end mark, BDAT raw). It is fed whole, one octet at a time, and in
 * pieces whose sizes are drawn from a generator seeded with the input; all
 * three must give the same message, flags and consumption. The result is
 * also checked against a small independent model of RFC 5321 4.5.2:
 * only CR LF ends a line, a leading dot is removed, "." alone on a line
 * ends DATA, and nothing past the end mark is consumed. */
#include <stdbool.h>

#include "fuzz-util.h"
#include "lib/buf.h"
#include "smtp/smtp-data.h"

struct run {
    struct buf out;
    size_t consumed;
    bool done;
    unsigned errors;
    unsigned long long size;
    bool has_8bit;
    unsigned received;
    bool finish_crlf;
};

static void collect(void *ctx, const char *data, size_t len)
{
    struct buf *b = ctx;
    CHECK(len > 0);
    CHECK(buf_append(b, data, len) == 0);
}

/* Feed data whole (how 0), octet by octet (1) or in pieces sized by rng (2). */
static void run(const char *data, size_t n, bool dots, int how, struct fuzz_rng *rng, struct run *r)
{
    struct smtp_data_parser p;
    smtp_data_init(&p, dots);
    memset(r, 0, sizeof(*r));
    buf_init(&r->out, BUF_UNLIMITED);
    size_t pos = 0;
    size_t max_piece = rng ? 1 + (size_t)(fuzz_rng_next(rng) % 64) : 1;
    /* Pieces are exact-size copies (ASan sees reads past a piece), except
     * octet by octet, which reads from one copy of the whole, for speed. */
    char *whole = how == 1 ? fuzz_copy(data, n) : NULL;
    while (pos < n && !p.done) {
        size_t len = how == 0 ? n : how == 1 ? 1 : fuzz_rng_piece(rng, max_piece);
        if (len > n - pos)
            len = n - pos;
        char *piece = whole ? whole + pos : fuzz_copy(data + pos, len);
        size_t used = smtp_data_feed(&p, piece, len, collect, &r->out);
        if (!whole)
            free(piece);
        CHECK(used <= len);
        CHECK(used == len || p.done); /* only the end mark stops early */
        r->consumed += used;
        pos += len;
    }
    free(whole);
    if (p.done)
        CHECK(smtp_data_feed(&p, "x", 1, collect, &r->out) == 0);
    if (!dots)
        r->finish_crlf = smtp_data_finish_chunks(&p);
    r->done = p.done;
    r->errors = p.errors;
    r->size = p.size;
    r->has_8bit = p.has_8bit;
    r->received = p.received;
    CHECK(r->size == r->out.len);
}

static bool same(const struct run *a, const struct run *b)
{
    return a->out.len == b->out.len &&
           memcmp(buf_cstr(&a->out), buf_cstr(&b->out), a->out.len) == 0 &&
           a->consumed == b->consumed && a->done == b->done && a->errors == b->errors &&
           a->size == b->size && a->has_8bit == b->has_8bit && a->received == b->received &&
           a->finish_crlf == b->finish_crlf;
}

/* The independent model: what the message octets, the consumption and the
 * smuggling/NUL flags must be. */
static void check_model(const char *d, size_t n, bool dots, const struct run *r)
{
    struct buf want;
    buf_init(&want, BUF_UNLIMITED);
    size_t i = 0;
    bool bol = true, done = false;
    unsigned errors = 0;
    while (i < n) {
        if (dots && bol && d[i] == '.') {
            if (i + 2 < n && d[i + 1] == '\r' && d[i + 2] == '\n') {
                done = true;
                i += 3;
                break;
            }
            /* A leading dot goes; "." CR at the very end waits for more. */
            if (i + 1 == n || (i + 2 == n && d[i + 1] == '\r')) {
                i = n;
                break;
            }
            i++;
            bol = false;
            continue;
        }
        char c = d[i];
        if (c == '\n' && (i == 0 || d[i - 1] != '\r'))
            errors |= SMTP_DATA_BARE_LF;
        if (c == '\r' && i + 1 < n && d[i + 1] != '\n')
            errors |= SMTP_DATA_BARE_CR;
        if (c == '\0')
            errors |= SMTP_DATA_NUL;
        buf_append_char(&want, c);
        bol = c == '\n' && i > 0 && d[i - 1] == '\r';
        i++;
    }
    /* BDAT: smtp_data_finish_chunks() flags a CR left at the very end. */
    if (!dots && n > 0 && d[n - 1] == '\r')
        errors |= SMTP_DATA_BARE_CR;
    CHECK(r->done == done);
    CHECK(r->consumed == (done ? i : n));
    if (done) {
        /* The end mark: CR LF "." CR LF, or "." CR LF first thing. */
        CHECK(i == 3 ? memcmp(d, ".\r\n", 3) == 0 : memcmp(d + i - 5, "\r\n.\r\n", 5) == 0);
    }
    CHECK(r->out.len == want.len && memcmp(buf_cstr(&r->out), buf_cstr(&want), want.len) == 0);
    CHECK((r->errors & (SMTP_DATA_BARE_LF | SMTP_DATA_BARE_CR | SMTP_DATA_NUL)) == errors);
    /* 8-bit: some octet of the message is >= 0x80. */
    bool has_8bit = false;
    for (size_t k = 0; k < want.len; k++)
        has_8bit |= (unsigned char)want.data[k] >= 0x80;
    CHECK(r->has_8bit == has_8bit);
    /* Long lines: more than 998 octets of text between two CRLF. The
     * parser also counts a bare CR right after a removed dot, so allow
     * one octet of slack in the other direction. */
    size_t longest = 0, cur = 0;
    for (size_t k = 0; k < want.len; k++) {
        char c = want.data[k];
        if (c == '\n' && k > 0 && want.data[k - 1] == '\r') {
            cur = 0;
            continue;
        }
        if (c != '\r' && c != '\n' && ++cur > longest)
            longest = cur;
    }
    if (longest > SMTP_TEXT_LINE_MAX)
        CHECK(r->errors & SMTP_DATA_LONG_LINE);
    if (r->errors & SMTP_DATA_LONG_LINE)
        CHECK(longest >= SMTP_TEXT_LINE_MAX);
    /* BDAT: a CRLF is to be added exactly when the message ends inside a
     * line (not after CRLF, not on a CR that may start one). */
    if (!dots) {
        bool open = want.len > 0 && want.data[want.len - 1] != '\r' &&
                    !(want.len >= 2 && memcmp(want.data + want.len - 2, "\r\n", 2) == 0);
        CHECK(r->finish_crlf == open);
    }
    buf_free(&want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *d = (const char *)data;
    for (int dots = 0; dots <= 1; dots++) {
        struct run whole, other;
        run(d, size, dots, 0, NULL, &whole);
        check_model(d, size, dots, &whole);
        run(d, size, dots, 1, NULL, &other);
        CHECK(same(&whole, &other));
        buf_free(&other.out);
        struct fuzz_rng rng;
        fuzz_rng_init(&rng, data, size);
        for (int k = 0; k < 2; k++) {
            run(d, size, dots, 2, &rng, &other);
            CHECK(same(&whole, &other));
            buf_free(&other.out);
        }
        buf_free(&whole.out);
    }
    return 0;
}
