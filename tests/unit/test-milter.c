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

/*@CLIENT_TESTS@*/

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_milter_encode),        cmocka_unit_test(test_milter_decode),
        cmocka_unit_test(test_milter_decode_limits), cmocka_unit_test(test_milter_reader_split),
        cmocka_unit_test(test_milter_reader_limits),
        /*@CLIENT_LIST@*/
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
