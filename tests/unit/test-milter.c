/* Unit tests of src/policy/milter-packet.c (the encoders, the incremental
 * reader and the reply decoder of the milter protocol) and
 * src/policy/milter.c (the client, against a fake milter served on the
 * test's own event loop over a Unix socket). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "lib/buf.h"
#include "policy/milter-packet.h"
#include "policy/milter.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A heap copy of exactly n bytes: ASan catches any read past n. */
static char *exact_copy(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, s, n);
    return p;
}

/* Compare what an encoder appended with bytes written from the protocol
 * description (length, command, data). */
static void expect_bytes(struct buf *b, const char *want, size_t n)
{
    if (b->len != n || memcmp(b->data, want, n) != 0) {
        fprintf(stderr, "got %zu bytes:", b->len);
        for (size_t i = 0; i < b->len; i++)
            fprintf(stderr, " %02x", (unsigned char)b->data[i]);
        fprintf(stderr, "\n");
        fail_msg("encoding differs (want %zu bytes)", n);
    }
    buf_reset(b);
}

#define EXPECT(b, lit) expect_bytes((b), (lit), sizeof(lit) - 1)

/* --- encoders --- */

static void test_milter_encode(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);

    assert_int_equal(milter_encode_optneg(&b, 6, 0x7f, 0x37f), 0);
    EXPECT(&b, "\0\0\0\x0d"
               "O\0\0\0\x06\0\0\0\x7f\0\0\x03\x7f");

    const char *names[] = {"j", "_"};
    const char *values[] = {"mx.example", "client [192.0.2.1]"};
    assert_int_equal(milter_encode_macro(&b, 'C', names, values, 2), 0);
    EXPECT(&b, "\0\0\0\x24"
               "DCj\0mx.example\0_\0client [192.0.2.1]\0");
    assert_int_equal(milter_encode_macro(&b, 'E', names, values, 0), 0);
    EXPECT(&b, "\0\0\0\x02"
               "DE");

    assert_int_equal(milter_encode_connect(&b, "mx.example", SMFIA_INET, 25, "192.0.2.1"), 0);
    EXPECT(&b, "\0\0\0\x19"
               "Cmx.example\0"
               "4\0\x19"
               "192.0.2.1\0");
    assert_int_equal(milter_encode_connect(&b, "[2001:db8::1]", SMFIA_INET6, 0x1234, "2001:db8::1"),
                     0);
    EXPECT(&b, "\0\0\0\x1e"
               "C[2001:db8::1]\0"
               "6\x12\x34"
               "2001:db8::1\0");
    assert_int_equal(milter_encode_connect(&b, "localhost", SMFIA_UNIX, 0, "/run/sock"), 0);
    EXPECT(&b, "\0\0\0\x18"
               "Clocalhost\0L\0\0/run/sock\0");
    assert_int_equal(milter_encode_connect(&b, "host", SMFIA_UNKNOWN, 25, "ignored"), 0);
    EXPECT(&b, "\0\0\0\x07"
               "Chost\0U");
    assert_int_equal(milter_encode_connect(&b, "host", 'X', 25, "1.2.3.4"), -1);
    assert_int_equal(b.len, 0);

    assert_int_equal(milter_encode_helo(&b, "mail.example"), 0);
    EXPECT(&b, "\0\0\0\x0e"
               "Hmail.example\0");

    const char *mail[] = {"<a@b.example>", "SIZE=100"};
    assert_int_equal(milter_encode_args(&b, SMFIC_MAIL, mail, 2), 0);
    EXPECT(&b, "\0\0\0\x18"
               "M<a@b.example>\0SIZE=100\0");
    const char *rcpt[] = {"<c@d.example>"};
    assert_int_equal(milter_encode_args(&b, SMFIC_RCPT, rcpt, 1), 0);
    EXPECT(&b, "\0\0\0\x0f"
               "R<c@d.example>\0");
    assert_int_equal(milter_encode_args(&b, SMFIC_RCPT, rcpt, 0), -1);

    assert_int_equal(milter_encode_header(&b, "Subject", "hi there"), 0);
    EXPECT(&b, "\0\0\0\x12"
               "LSubject\0hi there\0");

    static const char simple[] = {SMFIC_DATA,  SMFIC_EOH,  SMFIC_BODYEOB,
                                  SMFIC_ABORT, SMFIC_QUIT, SMFIC_QUIT_NC};
    for (size_t i = 0; i < sizeof(simple); i++) {
        assert_int_equal(milter_encode(&b, simple[i], NULL, 0), 0);
        char want[5] = {0, 0, 0, 1, simple[i]};
        expect_bytes(&b, want, sizeof(want));
    }

    assert_int_equal(milter_encode_body(&b, "hello\r\n", 7), 0);
    EXPECT(&b, "\0\0\0\x08"
               "Bhello\r\n");
    /* a body chunk of MILTER_BODY_CHUNK_MAX bytes is one packet; one more
     * byte is refused */
    char *big = calloc(1, MILTER_BODY_CHUNK_MAX + 1);
    assert_non_null(big);
    assert_int_equal(milter_encode_body(&b, big, MILTER_BODY_CHUNK_MAX), 0);
    assert_int_equal(b.len, 5 + MILTER_BODY_CHUNK_MAX);
    /* the length counts the command byte too */
    assert_memory_equal(b.data,
                        "\0\x01\0\0"
                        "B",
                        5);
    buf_reset(&b);
    assert_int_equal(milter_encode_body(&b, big, MILTER_BODY_CHUNK_MAX + 1), -1);
    assert_int_equal(b.len, 0);
    free(big);
    /* the largest packet, and one byte more */
    char *huge = calloc(1, MILTER_PACKET_MAX);
    assert_non_null(huge);
    assert_int_equal(milter_encode(&b, 'B', huge, MILTER_PACKET_MAX - 1), 0);
    assert_memory_equal(b.data, "\0\x10\0\0", 4);
    buf_reset(&b);
    assert_int_equal(milter_encode(&b, 'B', huge, MILTER_PACKET_MAX), -1);
    assert_int_equal(b.len, 0);
    free(huge);
    buf_free(&b);

    /* a full buffer is left unchanged */
    buf_init(&b, 10);
    assert_int_equal(milter_encode_helo(&b, "mail.example"), -1);
    assert_int_equal(b.len, 0);
    assert_int_equal(milter_encode(&b, SMFIC_QUIT, NULL, 0), 0);
    assert_int_equal(milter_encode_header(&b, "A", "b"), -1);
    assert_int_equal(b.len, 5);
    buf_free(&b);
}

/* --- the decoder --- */

static void test_milter_decode(void **state)
{
    (void)state;
    static const struct {
        char cmd;
        const char *data;
        size_t len;
        int rc;
        /* expected fields (when rc == 0) */
        unsigned code;
        const char *enh;
        const char *text; /* REPLYCODE text */
        uint32_t index;
        const char *name;
        const char *value;
    } cases[] = {
        {'c', "", 0, 0, 0, "", "", 0, "", ""},
        {'a', "", 0, 0, 0, "", "", 0, "", ""},
        {'r', "", 0, 0, 0, "", "", 0, "", ""},
        {'d', "", 0, 0, 0, "", "", 0, "", ""},
        {'t', "", 0, 0, 0, "", "", 0, "", ""},
        {'p', "", 0, 0, 0, "", "", 0, "", ""},
        {'c', "x", 1, -1, 0, "", "", 0, "", ""},
        {'y', "550 5.7.1 go away\0", 18, 0, 550, "5.7.1", "go away", 0, "", ""},
        {'y', "451 4.7.0 try later\0", 20, 0, 451, "4.7.0", "try later", 0, "", ""},
        {'y', "550 no enhanced code\0", 21, 0, 550, "", "no enhanced code", 0, "", ""},
        {'y', "554\0", 4, 0, 554, "", "", 0, "", ""},
        {'y', "554 5.123.456\0", 14, 0, 554, "5.123.456", "", 0, "", ""},
        {'y', "554 5.1.1 \0", 11, 0, 554, "5.1.1", "", 0, "", ""},
        {'y', "550 4.7.1 mismatch\0", 19, -1, 0, "", "", 0, "", ""},
        {'y', "250 2.0.0 ok\0", 13, -1, 0, "", "", 0, "", ""},
        {'y', "560 5.0.0 x\0", 12, -1, 0, "", "", 0, "", ""},
        {'y', "55\0", 3, -1, 0, "", "", 0, "", ""},
        {'y', "550-5.7.1 multi\0", 16, -1, 0, "", "", 0, "", ""},
        {'y', "5505.7.1\0", 9, -1, 0, "", "", 0, "", ""},
        {'y', "550 5.7 x\0", 10, -1, 0, "", "", 0, "", ""},
        {'y', "550 5.7.1234 x\0", 14, -1, 0, "", "", 0, "", ""},
        {'y', "550 5.7.1x\0", 11, -1, 0, "", "", 0, "", ""},
        {'y', "550 5.7.1 a\r\n550 b\0", 20, -1, 0, "", "", 0, "", ""},
        {'y', "550 5.7.1 caf\xc3\xa9\0", 16, -1, 0, "", "", 0, "", ""},
        {'y', "550 5.7.1 no nul", 16, -1, 0, "", "", 0, "", ""},
        {'y', "550 x\0extra", 11, -1, 0, "", "", 0, "", ""},
        {'q', "spam\0", 5, 0, 0, "", "", 0, "spam", ""},
        {'q', "\0", 1, -1, 0, "", "", 0, "", ""},
        {'q', "a\nb\0", 4, -1, 0, "", "", 0, "", ""},
        {'h', "X-Milter\0seen\0", 14, 0, 0, "", "", 0, "X-Milter", "seen"},
        {'h', "X-Folded\0a\r\n\tb\0", 15, 0, 0, "", "", 0, "X-Folded", "a\r\n\tb"},
        {'h', "X-Folded\0a\n b\0", 14, 0, 0, "", "", 0, "X-Folded", "a\n b"},
        {'h', "X-Empty\0\0", 9, 0, 0, "", "", 0, "X-Empty", ""},
        {'h', "X-Bad\0a\r\nInjected: yes\0", 23, -1, 0, "", "", 0, "", ""},
        {'h', "X-Bad\0a\rb\0", 10, -1, 0, "", "", 0, "", ""},
        {'h', "X-Bad\0a\r\n\0", 10, -1, 0, "", "", 0, "", ""},
        {'h', "X-Bad\0a\x01\0", 9, -1, 0, "", "", 0, "", ""},
        {'h', "X Bad\0v\0", 8, -1, 0, "", "", 0, "", ""},
        {'h', "X:Bad\0v\0", 8, -1, 0, "", "", 0, "", ""},
        {'h', "\0v\0", 3, -1, 0, "", "", 0, "", ""},
        {'h', "X-One\0", 6, -1, 0, "", "", 0, "", ""},
        {'h', "X-One\0v\0z", 9, -1, 0, "", "", 0, "", ""},
        {'i', "\0\0\0\x02X-Ins\0v\0", 12, 0, 0, "", "", 2, "X-Ins", "v"},
        {'m', "\0\0\0\x01Subject\0\0", 13, 0, 0, "", "", 1, "Subject", ""},
        {'m', "\0\0\x01\0Subject\0new\0", 16, 0, 0, "", "", 256, "Subject", "new"},
        {'m', "\0\0\0", 3, -1, 0, "", "", 0, "", ""},
        {'+', "<new@example.org>\0", 18, 0, 0, "", "", 0, "<new@example.org>", ""},
        {'+', "\0", 1, -1, 0, "", "", 0, "", ""},
        {'+', "<a@b>\r\n\0", 8, -1, 0, "", "", 0, "", ""},
        {'-', "<old@example.org>\0", 18, 0, 0, "", "", 0, "<old@example.org>", ""},
        {'e', "<f@example.org>\0", 16, 0, 0, "", "", 0, "<f@example.org>", ""},
        {'e', "<f@example.org>\0SIZE=1\0", 23, 0, 0, "", "", 0, "<f@example.org>", "SIZE=1"},
        {'e', "<f@example.org>\0SIZE=1\0x", 24, -1, 0, "", "", 0, "", ""},
        {'e', "<f@example.org>", 15, -1, 0, "", "", 0, "", ""},
        {'b', "new body\r\n", 10, 0, 0, "", "", 0, "", ""},
        {'b', "", 0, 0, 0, "", "", 0, "", ""},
        {'Z', "", 0, -1, 0, "", "", 0, "", ""},
        {'s', "", 0, -1, 0, "", "", 0, "", ""},
        {'O', "\0\0\0\x06\0\0\0\x01\0\0\0\x10", 12, 0, 0, "", "", 0, "", ""},
        {'O', "\0\0\0\x06\0\0\0\x01\0\0\0\x10\0\0\0\x01j\0", 18, 0, 0, "", "", 0, "", ""},
        {'O', "\0\0\0\x06\0\0\0\x01\0\0\0", 11, -1, 0, "", "", 0, "", ""},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        char *d = exact_copy(cases[i].data, cases[i].len);
        struct milter_reply r;
        const char *error = NULL;
        int rc = milter_reply_decode(cases[i].cmd, d, cases[i].len, &r, &error);
        if (rc != cases[i].rc)
            fail_msg("case %zu '%c': rc %d (%s)", i, cases[i].cmd, rc, error ? error : "-");
        if (rc != 0) {
            assert_non_null(error);
            free(d);
            continue;
        }
        assert_int_equal(r.cmd, cases[i].cmd);
        if (r.code != cases[i].code || strcmp(r.enh, cases[i].enh) != 0 ||
            strcmp(r.text, cases[i].text) != 0 || r.index != cases[i].index ||
            strcmp(r.name, cases[i].name) != 0 || strcmp(r.value, cases[i].value) != 0)
            fail_msg("case %zu '%c': code %u enh \"%s\" text \"%s\" index %u name \"%s\" value "
                     "\"%s\"",
                     i, cases[i].cmd, r.code, r.enh, r.text, (unsigned)r.index, r.name, r.value);
        if (cases[i].cmd == 'y')
            assert_ptr_equal(r.line, d);
        if (cases[i].cmd == 'b') {
            assert_int_equal(r.body_len, cases[i].len);
            if (cases[i].len > 0)
                assert_ptr_equal(r.body, d);
        }
        if (cases[i].cmd == 'O') {
            assert_int_equal(r.version, 6);
            assert_int_equal(r.actions, 1);
            assert_int_equal(r.protocol, 0x10);
        }
        free(d);
    }
}

/* Each bound crossed by one byte. */
static void test_milter_decode_limits(void **state)
{
    (void)state;
    struct milter_reply r;
    const char *error;
    char buf[MILTER_ADDRESS_MAX + 8];

    /* a reply line of MILTER_REPLY_LINE_MAX bytes, and one more */
    memset(buf, 'x', sizeof(buf));
    memcpy(buf, "550 5.7.1 ", 10);
    buf[MILTER_REPLY_LINE_MAX] = '\0';
    assert_int_equal(milter_reply_decode('y', buf, MILTER_REPLY_LINE_MAX + 1, &r, &error), 0);
    buf[MILTER_REPLY_LINE_MAX] = 'x';
    buf[MILTER_REPLY_LINE_MAX + 1] = '\0';
    assert_int_equal(milter_reply_decode('y', buf, MILTER_REPLY_LINE_MAX + 2, &r, &error), -1);

    /* an address of MILTER_ADDRESS_MAX bytes, and one more */
    memset(buf, 'a', sizeof(buf));
    buf[MILTER_ADDRESS_MAX] = '\0';
    assert_int_equal(milter_reply_decode('+', buf, MILTER_ADDRESS_MAX + 1, &r, &error), 0);
    buf[MILTER_ADDRESS_MAX] = 'a';
    buf[MILTER_ADDRESS_MAX + 1] = '\0';
    assert_int_equal(milter_reply_decode('+', buf, MILTER_ADDRESS_MAX + 2, &r, &error), -1);

    /* a field name of MILTER_FIELD_NAME_MAX bytes, and one more */
    memset(buf, 'N', sizeof(buf));
    buf[MILTER_FIELD_NAME_MAX] = '\0';
    buf[MILTER_FIELD_NAME_MAX + 1] = '\0';
    assert_int_equal(milter_reply_decode('h', buf, MILTER_FIELD_NAME_MAX + 2, &r, &error), 0);
    buf[MILTER_FIELD_NAME_MAX] = 'N';
    buf[MILTER_FIELD_NAME_MAX + 1] = '\0';
    buf[MILTER_FIELD_NAME_MAX + 2] = '\0';
    assert_int_equal(milter_reply_decode('h', buf, MILTER_FIELD_NAME_MAX + 3, &r, &error), -1);
}

/* --- the reader --- */

/* Three packets in a row. */
static const char stream[] = "\0\0\0\x01"
                             "c"
                             "\0\0\0\x0f"
                             "hX-Milter\0seen\0"
                             "\0\0\0\x01"
                             "a";

static void check_packets(char cmds[3], char *datas[3], size_t lens[3])
{
    assert_int_equal(cmds[0], 'c');
    assert_int_equal(lens[0], 0);
    assert_int_equal(cmds[1], 'h');
    assert_int_equal(lens[1], 14);
    assert_memory_equal(datas[1], "X-Milter\0seen\0", 15); /* and the NUL after */
    assert_int_equal(cmds[2], 'a');
    assert_int_equal(lens[2], 0);
}

/* Feed the stream in pieces of `step` bytes (and, for step 0, split once
 * at `cut`); collect the packets. */
static void read_stream(size_t cut, size_t step)
{
    struct milter_reader rd;
    milter_reader_init(&rd);
    size_t n = sizeof(stream) - 1;
    char cmds[3];
    char *datas[3] = {NULL, NULL, NULL};
    size_t lens[3];
    size_t got = 0, pos = 0;
    while (pos < n) {
        size_t end = step ? pos + step : (pos < cut ? cut : n);
        if (end > n)
            end = n;
        char *piece = exact_copy(stream + pos, end - pos);
        size_t off = 0;
        while (off < end - pos) {
            size_t used;
            int rc = milter_reader_push(&rd, piece + off, end - pos - off, &used);
            assert_true(rc >= 0);
            off += used;
            if (rc == 1) {
                assert_true(got < 3);
                const char *d;
                milter_reader_packet(&rd, &cmds[got], &d, &lens[got]);
                datas[got] = exact_copy(d, lens[got] + 1);
                got++;
            } else {
                assert_int_equal(off, end - pos);
            }
        }
        free(piece);
        pos = end;
    }
    assert_int_equal(got, 3);
    check_packets(cmds, datas, lens);
    for (size_t i = 0; i < 3; i++)
        free(datas[i]);
    milter_reader_free(&rd);
}

static void test_milter_reader_split(void **state)
{
    (void)state;
    size_t n = sizeof(stream) - 1;
    for (size_t cut = 0; cut <= n; cut++)
        read_stream(cut, 0);
    for (size_t step = 1; step <= n; step++)
        read_stream(0, step);
}

static void test_milter_reader_limits(void **state)
{
    (void)state;
    struct milter_reader rd;
    size_t used;
    /* a zero length */
    milter_reader_init(&rd);
    assert_int_equal(milter_reader_push(&rd, "\0\0\0\0c", 5, &used), -1);
    milter_reader_free(&rd);
    /* one byte over the maximum, refused as soon as the length is read */
    milter_reader_init(&rd);
    assert_int_equal(milter_reader_push(&rd, "\0\x10\0\x01", 4, &used), -1);
    assert_int_equal(used, 4);
    milter_reader_free(&rd);
    milter_reader_init(&rd);
    assert_int_equal(milter_reader_push(&rd, "\xff\xff\xff\xff", 4, &used), -1);
    milter_reader_free(&rd);
    /* exactly the maximum */
    milter_reader_init(&rd);
    char *p = calloc(1, 4 + MILTER_PACKET_MAX);
    assert_non_null(p);
    memcpy(p, "\0\x10\0\0b", 5);
    assert_int_equal(milter_reader_push(&rd, p, 4 + MILTER_PACKET_MAX, &used), 1);
    assert_int_equal(used, 4 + MILTER_PACKET_MAX);
    char cmd;
    const char *d;
    size_t len;
    milter_reader_packet(&rd, &cmd, &d, &len);
    assert_int_equal(cmd, 'b');
    assert_int_equal(len, MILTER_PACKET_MAX - 1);
    free(p);
    milter_reader_free(&rd);
}

/* --- a fake milter on the test's event loop --- */

#define FAKE_LOG_MAX 64

struct fake {
    struct event_base *base;
    char dir[64];
    char path[128];
    int lfd;
    struct event *lev;
    struct bufferevent *conn;
    struct milter_reader rd;
    /* behaviour */
    uint32_t actions, protocol, version;
    char silent_at;    /* never answer this command */
    char close_at;     /* close the connection on this command */
    char rcpt_verdict; /* for a recipient starting "<bad": 'r', 't' or 'y' */
    bool eob_mods;     /* send every modification at end of body */
    char eob_verdict;  /* final reply at end of body */
    char mail_verdict; /* reply to MAIL */
    bool no_reply;     /* answer only OPTNEG and end of body (the SMFIP_NR_* it asked) */
    /* what it saw */
    char log[FAKE_LOG_MAX + 1];
    size_t n_log;
    size_t body_bytes, body_chunks, max_chunk;
    char helo[64];
    bool closed_by_client;
    int connections;
};

static void fake_send(struct fake *f, char cmd, const void *data, size_t len)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    assert_int_equal(milter_encode(&b, cmd, data, len), 0);
    bufferevent_write(f->conn, b.data, b.len);
    buf_free(&b);
}

static void fake_close_conn(struct fake *f)
{
    if (f->conn != NULL) {
        bufferevent_free(f->conn);
        f->conn = NULL;
    }
}

static void fake_packet(struct fake *f, char cmd, const char *data, size_t len)
{
    if (f->n_log < FAKE_LOG_MAX)
        f->log[f->n_log++] = cmd;
    if (cmd == f->close_at) {
        fake_close_conn(f);
        return;
    }
    if (cmd == f->silent_at)
        return;
    if (f->no_reply && cmd != SMFIC_OPTNEG && cmd != SMFIC_BODYEOB && cmd != SMFIC_QUIT) {
        if (cmd == SMFIC_BODY) {
            f->body_bytes += len;
            f->body_chunks++;
        }
        return;
    }
    switch (cmd) {
    case SMFIC_OPTNEG: {
        assert_int_equal(len, 12);
        unsigned char d[12] = {0, 0, 0, (unsigned char)f->version};
        d[4] = (unsigned char)(f->actions >> 24);
        d[5] = (unsigned char)(f->actions >> 16);
        d[6] = (unsigned char)(f->actions >> 8);
        d[7] = (unsigned char)f->actions;
        d[8] = (unsigned char)(f->protocol >> 24);
        d[9] = (unsigned char)(f->protocol >> 16);
        d[10] = (unsigned char)(f->protocol >> 8);
        d[11] = (unsigned char)f->protocol;
        fake_send(f, SMFIR_OPTNEG, d, sizeof(d));
        return;
    }
    case SMFIC_MACRO:
    case SMFIC_ABORT:
        return;
    case SMFIC_QUIT:
        fake_close_conn(f);
        return;
    case SMFIC_HELO:
        snprintf(f->helo, sizeof(f->helo), "%s", data) < 0 ? abort() : (void)0;
        break;
    case SMFIC_MAIL:
        if (f->mail_verdict) {
            fake_send(f, f->mail_verdict, NULL, 0);
            return;
        }
        break;
    case SMFIC_RCPT:
        if (strncmp(data, "<bad", 4) == 0 && f->rcpt_verdict) {
            if (f->rcpt_verdict == SMFIR_REPLYCODE)
                fake_send(f, SMFIR_REPLYCODE, "550 5.7.1 no such user\0", 23);
            else
                fake_send(f, f->rcpt_verdict, NULL, 0);
            return;
        }
        break;
    case SMFIC_BODY:
        f->body_bytes += len;
        f->body_chunks++;
        if (len > f->max_chunk)
            f->max_chunk = len;
        break;
    case SMFIC_BODYEOB:
        if (f->eob_mods) {
            fake_send(f, SMFIR_PROGRESS, NULL, 0);
            fake_send(f, SMFIR_ADDHEADER, "X-Milter\0seen\0", 14);
            fake_send(f, SMFIR_INSHEADER, "\0\0\0\0X-First\0one\0", 16);
            fake_send(f, SMFIR_CHGHEADER, "\0\0\0\x01Subject\0\0", 13);
            fake_send(f, SMFIR_ADDRCPT, "<new@example.org>\0", 18);
            fake_send(f, SMFIR_DELRCPT, "<old@example.org>\0", 18);
            fake_send(f, SMFIR_CHGFROM, "<f@example.org>\0", 16);
            fake_send(f, SMFIR_REPLBODY, "new ", 4);
            fake_send(f, SMFIR_REPLBODY, "body\r\n", 6);
            fake_send(f, SMFIR_QUARANTINE, "looks bad\0", 10);
        }
        fake_send(f, f->eob_verdict ? f->eob_verdict : SMFIR_CONTINUE, NULL, 0);
        return;
    default:
        break;
    }
    fake_send(f, SMFIR_CONTINUE, NULL, 0);
}

static void fake_on_read(struct bufferevent *bev, void *arg)
{
    struct fake *f = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    while (f->conn != NULL && evbuffer_get_length(in) > 0) {
        unsigned char piece[1000];
        ev_ssize_t got = evbuffer_copyout(in, piece, sizeof(piece));
        size_t used;
        int rc = milter_reader_push(&f->rd, piece, (size_t)got, &used);
        assert_true(rc >= 0);
        evbuffer_drain(in, used);
        if (rc == 1) {
            char cmd;
            const char *d;
            size_t len;
            milter_reader_packet(&f->rd, &cmd, &d, &len);
            fake_packet(f, cmd, d, len);
        }
    }
}

static void fake_on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct fake *f = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        f->closed_by_client = true;
        fake_close_conn(f);
    }
}

static void fake_on_accept(evutil_socket_t lfd, short what, void *arg)
{
    (void)what;
    struct fake *f = arg;
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    f->connections++;
    assert_null(f->conn);
    f->conn = bufferevent_socket_new(f->base, fd, BEV_OPT_CLOSE_ON_FREE);
    assert_non_null(f->conn);
    bufferevent_setcb(f->conn, fake_on_read, NULL, fake_on_event, f);
    bufferevent_enable(f->conn, EV_READ | EV_WRITE);
}

static void fake_start(struct fake *f, struct event_base *base)
{
    memset(f, 0, sizeof(*f));
    f->base = base;
    f->version = 6;
    f->actions = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_ADDRCPT | SMFIF_DELRCPT | SMFIF_CHGFROM |
                 SMFIF_CHGBODY | SMFIF_QUARANTINE;
    milter_reader_init(&f->rd);
    int n = snprintf(f->dir, sizeof(f->dir), "/tmp/postino-milter-XXXXXX");
    assert_true(n > 0 && (size_t)n < sizeof(f->dir));
    assert_non_null(mkdtemp(f->dir));
    n = snprintf(f->path, sizeof(f->path), "%s/milter.sock", f->dir);
    assert_true(n > 0 && (size_t)n < sizeof(f->path));
    f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(f->lfd >= 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    memcpy(sun.sun_path, f->path, strlen(f->path) + 1);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    assert_int_equal(listen(f->lfd, 8), 0);
    f->lev = event_new(base, f->lfd, EV_READ | EV_PERSIST, fake_on_accept, f);
    event_add(f->lev, NULL);
}

static void fake_stop(struct fake *f)
{
    fake_close_conn(f);
    event_free(f->lev);
    close(f->lfd);
    unlink(f->path);
    rmdir(f->dir);
    milter_reader_free(&f->rd);
}

/* --- driving the client --- */

struct outcome {
    struct event_base *base;
    int calls;
    struct milter_result r;
    /* copies of the EOB results */
    size_t n_mods;
    enum milter_mod_type types[8];
    char names[8][64];
    char values[8][64];
    uint32_t indexes[8];
    char body[64];
};

static void on_done(const struct milter_result *r, void *arg)
{
    struct outcome *o = arg;
    o->calls++;
    o->r = *r;
    o->n_mods = r->n_mods;
    for (size_t i = 0; i < r->n_mods && i < 8; i++) {
        o->types[i] = r->mods[i].type;
        o->indexes[i] = r->mods[i].index;
        snprintf(o->names[i], sizeof(o->names[i]), "%s", r->mods[i].name) < 0 ? abort() : (void)0;
        snprintf(o->values[i], sizeof(o->values[i]), "%s", r->mods[i].value) < 0 ? abort()
                                                                                 : (void)0;
    }
    o->body[0] = '\0';
    if (r->body_replaced && r->body_len < sizeof(o->body)) {
        memcpy(o->body, r->body, r->body_len);
        o->body[r->body_len] = '\0';
    }
    o->r.mods = NULL;
    o->r.body = NULL;
    event_base_loopbreak(o->base);
}

static void on_guard(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

/* Run the loop for at most ms milliseconds (or until a callback). */
static void run_for(struct event_base *base, unsigned ms)
{
    struct event *guard = evtimer_new(base, on_guard, base);
    const struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(guard, &tv);
    event_base_dispatch(base);
    event_free(guard);
}

/* Wait for exactly one more callback; returns its verdict. */
static enum milter_verdict wait_one(struct outcome *o)
{
    int before = o->calls;
    run_for(o->base, 5000);
    if (o->calls != before + 1)
        fail_msg("expected a callback (calls %d before %d)", o->calls, before);
    return o->r.verdict;
}

struct session {
    struct event_base *base;
    struct fake f;
    struct outcome o;
    struct milter *m;
};

static void session_start(struct session *s)
{
    s->base = event_base_new();
    assert_non_null(s->base);
    fake_start(&s->f, s->base);
    memset(&s->o, 0, sizeof(s->o));
    s->o.base = s->base;
}

static void session_open(struct session *s, unsigned command_timeout_ms)
{
    struct milter_options opts = {.address = s->f.path,
                                  .connect_timeout_ms = 2000,
                                  .command_timeout_ms = command_timeout_ms,
                                  .body_max = 1024};
    const char *error = NULL;
    int before = s->o.calls;
    s->m = milter_open(s->base, &opts, on_done, &s->o, &error);
    assert_non_null(s->m);
    assert_int_equal(s->o.calls, before); /* never from within the call */
}

static void session_end(struct session *s)
{
    milter_cancel(&s->m);
    run_for(s->base, 20);
    fake_stop(&s->f);
    event_base_free(s->base);
}

static const char *const mail_argv[] = {"<alice@example.com>", "SIZE=100"};
static const char *const good_rcpt[] = {"<bob@example.org>"};
static const char *const bad_rcpt[] = {"<bad@example.org>"};

static void test_milter_client_stages(void **state)
{
    (void)state;
    struct session s;
    session_start(&s);
    session_open(&s, 2000);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_int_equal(s.o.r.stage, MILTER_STAGE_OPEN);
    assert_int_equal(milter_protocol(s.m), 0);
    const char *names[] = {"j"};
    const char *values[] = {"mx.example"};
    assert_int_equal(milter_macros(s.m, 'C', names, values, 1), 0);
    assert_int_equal(milter_connect(s.m, "client.example", SMFIA_INET, 4242, "192.0.2.1"), 0);
    assert_int_equal(milter_helo(s.m, "x"), -1); /* one call at a time */
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_int_equal(s.o.r.stage, MILTER_STAGE_CONNECT);
    assert_false(s.o.r.skipped);
    assert_int_equal(milter_helo(s.m, "client.example"), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_string_equal(s.f.helo, "client.example");
    assert_int_equal(milter_mail(s.m, mail_argv, 2), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_int_equal(milter_rcpt(s.m, good_rcpt, 1), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_int_equal(milter_data(s.m), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_int_equal(milter_header(s.m, "Subject", "hello"), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_int_equal(milter_eoh(s.m), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    /* a body over several chunks, each answered */
    size_t len = 3 * MILTER_BODY_CHUNK_MAX + 10;
    char *body = calloc(1, len);
    assert_non_null(body);
    assert_int_equal(milter_body(s.m, body, len), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_int_equal(s.o.r.stage, MILTER_STAGE_BODY);
    free(body);
    assert_int_equal(s.f.body_bytes, len);
    assert_int_equal(s.f.body_chunks, 4);
    assert_int_equal(s.f.max_chunk, MILTER_BODY_CHUNK_MAX);
    assert_int_equal(milter_eob(s.m), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_int_equal(s.o.n_mods, 0);
    assert_false(s.o.r.body_replaced);
    /* a second message, abandoned */
    assert_int_equal(milter_mail(s.m, mail_argv, 1), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_int_equal(milter_abort(s.m), 0);
    milter_quit(&s.m);
    assert_null(s.m);
    run_for(s.base, 100);
    assert_string_equal(s.f.log, "ODCHMRTLNBBBBEMAQ");
    assert_true(s.f.closed_by_client || s.f.conn == NULL);
    assert_int_equal(s.o.calls, 11);
    session_end(&s);
}

static void test_milter_client_rcpt_reject(void **state)
{
    (void)state;
    static const char verdicts[] = {SMFIR_REJECT, SMFIR_TEMPFAIL, SMFIR_REPLYCODE};
    static const enum milter_verdict want[] = {MILTER_REJECT, MILTER_TEMPFAIL, MILTER_REPLY};
    for (size_t i = 0; i < sizeof(verdicts); i++) {
        struct session s;
        session_start(&s);
        s.f.rcpt_verdict = verdicts[i];
        session_open(&s, 2000);
        assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
        assert_int_equal(milter_mail(s.m, mail_argv, 1), 0);
        assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
        assert_int_equal(milter_rcpt(s.m, bad_rcpt, 1), 0);
        assert_int_equal(wait_one(&s.o), want[i]);
        assert_int_equal(s.o.r.stage, MILTER_STAGE_RCPT);
        if (want[i] == MILTER_REPLY) {
            assert_int_equal(s.o.r.code, 550);
            assert_string_equal(s.o.r.enh, "5.7.1");
            assert_string_equal(s.o.r.text, "no such user");
        }
        /* that recipient only: the next one is still asked */
        assert_int_equal(milter_rcpt(s.m, good_rcpt, 1), 0);
        assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
        assert_false(s.o.r.skipped);
        session_end(&s);
    }
}

/* A decision on the message: the rest of it is not sent. */
static void test_milter_client_message_decided(void **state)
{
    (void)state;
    struct session s;
    session_start(&s);
    s.f.mail_verdict = SMFIR_ACCEPT;
    session_open(&s, 2000);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_int_equal(milter_mail(s.m, mail_argv, 1), 0);
    assert_int_equal(wait_one(&s.o), MILTER_ACCEPT);
    assert_int_equal(milter_rcpt(s.m, good_rcpt, 1), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_true(s.o.r.skipped);
    assert_int_equal(milter_eob(s.m), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_true(s.o.r.skipped);
    run_for(s.base, 20);
    assert_string_equal(s.f.log, "OM");
    session_end(&s);
}

/* Steps the milter declined are not sent, and answered CONTINUE. */
static void test_milter_client_declined(void **state)
{
    (void)state;
    struct session s;
    session_start(&s);
    s.f.protocol = SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOHDRS | SMFIP_NOBODY | SMFIP_NODATA;
    session_open(&s, 2000);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_int_equal(milter_connect(s.m, "h", SMFIA_UNKNOWN, 0, ""), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_true(s.o.r.skipped);
    assert_int_equal(milter_helo(s.m, "h"), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_true(s.o.r.skipped);
    assert_int_equal(milter_mail(s.m, mail_argv, 1), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_false(s.o.r.skipped);
    assert_int_equal(milter_data(s.m), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_int_equal(milter_header(s.m, "A", "b"), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_true(s.o.r.skipped);
    assert_int_equal(milter_eoh(s.m), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_int_equal(milter_body(s.m, "x\r\n", 3), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_true(s.o.r.skipped);
    assert_int_equal(milter_eob(s.m), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_string_equal(s.f.log, "OMNE");
    session_end(&s);
}

/* A milter that answers nothing before the end of the body (rspamd asks
 * for every SMFIP_NR_* flag): each call is answered CONTINUE at once, a
 * large body goes out in chunks without waiting, and the end of the body
 * gets the real verdict. */
static void test_milter_client_no_reply(void **state)
{
    (void)state;
    struct session s;
    session_start(&s);
    s.f.protocol = SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_DATA |
                   SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY | SMFIP_NR_UNKN;
    s.f.no_reply = true;
    s.f.eob_verdict = SMFIR_REJECT;
    session_open(&s, 2000);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_int_equal(milter_protocol(s.m), s.f.protocol);
    assert_int_equal(milter_connect(s.m, "h", SMFIA_INET, 25, "192.0.2.1"), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_false(s.o.r.skipped);
    assert_int_equal(milter_helo(s.m, "h"), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_int_equal(milter_mail(s.m, mail_argv, 1), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_int_equal(milter_rcpt(s.m, good_rcpt, 1), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_int_equal(milter_data(s.m), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_int_equal(milter_header(s.m, "Subject", "x"), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_int_equal(milter_eoh(s.m), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    size_t big = 3 * MILTER_BODY_CHUNK_MAX + 10;
    char *body = malloc(big);
    assert_non_null(body);
    memset(body, 'b', big);
    assert_int_equal(milter_body(s.m, body, big), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_int_equal(milter_eob(s.m), 0);
    assert_int_equal(wait_one(&s.o), MILTER_REJECT);
    free(body);
    assert_int_equal(s.f.body_bytes, big);
    assert_int_equal(s.f.body_chunks, 4);
    assert_string_equal(s.f.log, "OCHMRTLNBBBBE");
    session_end(&s);
}

static void test_milter_client_eob_mods(void **state)
{
    (void)state;
    struct session s;
    session_start(&s);
    s.f.eob_mods = true;
    s.f.eob_verdict = SMFIR_ACCEPT;
    session_open(&s, 2000);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_int_equal(milter_mail(s.m, mail_argv, 1), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_int_equal(milter_eob(s.m), 0);
    /* QUARANTINE with an accepting final reply */
    assert_int_equal(wait_one(&s.o), MILTER_QUARANTINE);
    assert_string_equal(s.o.r.reason, "looks bad");
    assert_int_equal(s.o.n_mods, 6);
    assert_int_equal(s.o.types[0], MILTER_MOD_ADD_HEADER);
    assert_string_equal(s.o.names[0], "X-Milter");
    assert_string_equal(s.o.values[0], "seen");
    assert_int_equal(s.o.types[1], MILTER_MOD_INSERT_HEADER);
    assert_int_equal(s.o.indexes[1], 0);
    assert_int_equal(s.o.types[2], MILTER_MOD_CHANGE_HEADER);
    assert_int_equal(s.o.indexes[2], 1);
    assert_string_equal(s.o.names[2], "Subject");
    assert_string_equal(s.o.values[2], "");
    assert_int_equal(s.o.types[3], MILTER_MOD_ADD_RCPT);
    assert_string_equal(s.o.names[3], "<new@example.org>");
    assert_int_equal(s.o.types[4], MILTER_MOD_DELETE_RCPT);
    assert_int_equal(s.o.types[5], MILTER_MOD_CHANGE_FROM);
    assert_string_equal(s.o.names[5], "<f@example.org>");
    assert_true(s.o.r.body_replaced);
    assert_string_equal(s.o.body, "new body\r\n");
    session_end(&s);

    /* the same, not negotiated: a protocol error */
    session_start(&s);
    s.f.eob_mods = true;
    s.f.actions = SMFIF_QUARANTINE;
    session_open(&s, 2000);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_int_equal(milter_eob(s.m), 0);
    assert_int_equal(wait_one(&s.o), MILTER_FAILED);
    assert_int_equal(s.o.r.failure, MILTER_FAIL_PROTOCOL);
    assert_int_equal(milter_eob(s.m), -1); /* dead */
    session_end(&s);
}

static void test_milter_client_timeout(void **state)
{
    (void)state;
    struct session s;
    session_start(&s);
    s.f.silent_at = SMFIC_MAIL;
    session_open(&s, 200);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_int_equal(milter_mail(s.m, mail_argv, 1), 0);
    assert_int_equal(wait_one(&s.o), MILTER_FAILED);
    assert_int_equal(s.o.r.failure, MILTER_FAIL_TIMEOUT);
    assert_int_equal(s.o.r.stage, MILTER_STAGE_MAIL);
    assert_non_null(strstr(s.o.r.detail, "mail"));
    session_end(&s);
    /* no answer to the negotiation */
    session_start(&s);
    s.f.silent_at = SMFIC_OPTNEG;
    session_open(&s, 200);
    assert_int_equal(wait_one(&s.o), MILTER_FAILED);
    assert_int_equal(s.o.r.failure, MILTER_FAIL_TIMEOUT);
    session_end(&s);
}

static void test_milter_client_closed(void **state)
{
    (void)state;
    struct session s;
    session_start(&s);
    s.f.close_at = SMFIC_RCPT;
    session_open(&s, 2000);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_int_equal(milter_mail(s.m, mail_argv, 1), 0);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_int_equal(milter_rcpt(s.m, good_rcpt, 1), 0);
    assert_int_equal(wait_one(&s.o), MILTER_FAILED);
    assert_int_equal(s.o.r.failure, MILTER_FAIL_IO);
    assert_int_equal(milter_rcpt(s.m, good_rcpt, 1), -1);
    session_end(&s);
}

static void test_milter_client_negotiation(void **state)
{
    (void)state;
    static const struct {
        uint32_t version, actions, protocol;
    } bad[] = {
        {6, 0, 0x400}, /* SKIP, not offered */
        {6, 0x100, 0}, /* SETSYMLIST, not offered */
        {1, 0, 0},     /* too old */
        {7, 0, 0},     /* too new */
    };
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        struct session s;
        session_start(&s);
        s.f.version = bad[i].version;
        s.f.actions = bad[i].actions;
        s.f.protocol = bad[i].protocol;
        session_open(&s, 2000);
        assert_int_equal(wait_one(&s.o), MILTER_FAILED);
        assert_int_equal(s.o.r.failure, MILTER_FAIL_NEGOTIATE);
        session_end(&s);
    }
}

static void test_milter_client_refused(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    struct outcome o = {.base = base};
    struct milter_options opts = {.address = "/nonexistent/milter.sock",
                                  .connect_timeout_ms = 1000,
                                  .command_timeout_ms = 1000,
                                  .body_max = 100};
    const char *error = NULL;
    struct milter *m = milter_open(base, &opts, on_done, &o, &error);
    assert_non_null(m);
    assert_int_equal(o.calls, 0);
    assert_int_equal(wait_one(&o), MILTER_FAILED);
    assert_int_equal(o.r.failure, MILTER_FAIL_CONNECT);
    assert_non_null(strstr(o.r.detail, "/nonexistent/milter.sock"));
    milter_cancel(&m);
    /* a TCP port bound but not listening */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    socklen_t sl = sizeof(sin);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
    char address[32];
    int n = snprintf(address, sizeof(address), "127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));
    assert_true(n > 0 && (size_t)n < sizeof(address));
    opts.address = address;
    m = milter_open(base, &opts, on_done, &o, &error);
    assert_non_null(m);
    assert_int_equal(wait_one(&o), MILTER_FAILED);
    assert_int_equal(o.r.failure, MILTER_FAIL_CONNECT);
    milter_cancel(&m);
    close(fd);
    /* an invalid address: NULL, no callback */
    opts.address = "milter.example:8891";
    assert_null(milter_open(base, &opts, on_done, &o, &error));
    assert_non_null(error);
    assert_int_equal(milter_address_check("[::1]:8891", &error), 0);
    assert_int_equal(milter_address_check("127.0.0.1:0", &error), -1);
    event_base_free(base);
}

static void test_milter_client_cancel(void **state)
{
    (void)state;
    struct session s;
    session_start(&s);
    s.f.silent_at = SMFIC_HELO;
    session_open(&s, 300);
    assert_int_equal(wait_one(&s.o), MILTER_CONTINUE);
    assert_int_equal(milter_helo(s.m, "h"), 0);
    run_for(s.base, 50);
    milter_cancel(&s.m);
    assert_null(s.m);
    milter_cancel(&s.m);  /* no effect on NULL */
    run_for(s.base, 400); /* past the timeout */
    assert_int_equal(s.o.calls, 1);
    assert_true(s.f.closed_by_client);
    /* cancelled before the connection, and with a deferred answer */
    session_open(&s, 300);
    milter_cancel(&s.m);
    run_for(s.base, 50);
    assert_int_equal(s.o.calls, 1);
    session_end(&s);
}

static void test_milter_names(void **state)
{
    (void)state;
    assert_string_equal(milter_verdict_name(MILTER_REPLY), "reply");
    assert_string_equal(milter_failure_name(MILTER_FAIL_NEGOTIATE), "negotiate");
    assert_string_equal(milter_stage_name(MILTER_STAGE_EOB), "eob");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_milter_encode),
        cmocka_unit_test(test_milter_decode),
        cmocka_unit_test(test_milter_decode_limits),
        cmocka_unit_test(test_milter_reader_split),
        cmocka_unit_test(test_milter_reader_limits),
        cmocka_unit_test(test_milter_client_stages),
        cmocka_unit_test(test_milter_client_rcpt_reject),
        cmocka_unit_test(test_milter_client_message_decided),
        cmocka_unit_test(test_milter_client_declined),
        cmocka_unit_test(test_milter_client_no_reply),
        cmocka_unit_test(test_milter_client_eob_mods),
        cmocka_unit_test(test_milter_client_timeout),
        cmocka_unit_test(test_milter_client_closed),
        cmocka_unit_test(test_milter_client_negotiation),
        cmocka_unit_test(test_milter_client_refused),
        cmocka_unit_test(test_milter_client_cancel),
        cmocka_unit_test(test_milter_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
