/* Unit tests: IPC frames and the delivery messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/deliver-ipc.h"
#include "lib/ipc.h"

static void test_request_roundtrip_and_truncation(void **state)
{
    (void)state;
    struct deliver_job j;
    memset(&j, 0, sizeof(j));
    j.job = 77;
    j.qid = strdup("0CJQ4VS7H8M2G");
    j.sender = strdup("a@b.example");
    deliver_job_add(&j, 0, "x@y.example");
    deliver_job_add(&j, 5, "jörg@y.example");
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    assert_int_equal(deliver_encode_request(&j, &b), 0);
    size_t flen;
    assert_int_equal(ipc_frame_peek(b.data, b.len, &flen), 1);
    assert_int_equal(flen, b.len);
    struct deliver_job back;
    assert_int_equal(deliver_decode_request(b.data, b.len, &back), 0);
    assert_int_equal(back.job, 77);
    assert_string_equal(back.qid, j.qid);
    assert_string_equal(back.sender, j.sender);
    assert_int_equal(back.n, 2);
    assert_int_equal(back.rcpts[1].index, 5);
    assert_string_equal(back.rcpts[1].addr, "jörg@y.example");
    deliver_job_free(&back);
    /* a result frame is not a request */
    assert_int_equal(deliver_decode_result(b.data, b.len, &back), -1);

    /* Every shorter frame is incomplete; with its length patched to look
     * complete it is refused, never misread. */
    for (size_t n = 0; n < b.len; n++) {
        assert_int_equal(ipc_frame_peek(b.data, n, &flen), 0);
        if (n < 5)
            continue;
        char *copy = malloc(n);
        memcpy(copy, b.data, n);
        size_t body = n - 4;
        copy[0] = (char)(body >> 24);
        copy[1] = (char)(body >> 16);
        copy[2] = (char)(body >> 8);
        copy[3] = (char)body;
        assert_int_equal(deliver_decode_request(copy, n, &back), -1);
        free(copy);
    }
    /* octets left over are refused too */
    struct buf longer;
    buf_init(&longer, BUF_UNLIMITED);
    buf_append(&longer, b.data, b.len);
    buf_append(&longer, "x", 1);
    size_t body = longer.len - 4;
    longer.data[0] = (char)(body >> 24);
    longer.data[1] = (char)(body >> 16);
    longer.data[2] = (char)(body >> 8);
    longer.data[3] = (char)body;
    assert_int_equal(deliver_decode_request(longer.data, longer.len, &back), -1);
    buf_free(&longer);
    buf_free(&b);
    deliver_job_free(&j);
}

static void test_result_roundtrip(void **state)
{
    (void)state;
    struct deliver_job j;
    memset(&j, 0, sizeof(j));
    j.job = 9;
    deliver_rcpt_set(deliver_job_add(&j, 3, "a@b"), DELIVER_TEMPFAIL, "4.3.0 disk full");
    deliver_rcpt_set(deliver_job_add(&j, 4, "c@d"), DELIVER_OK, "2.0.0 ok");
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    assert_int_equal(deliver_encode_result(&j, &b), 0);
    struct deliver_job back;
    assert_int_equal(deliver_decode_result(b.data, b.len, &back), 0);
    assert_int_equal(back.job, 9);
    assert_int_equal(back.n, 2);
    assert_int_equal(back.rcpts[0].index, 3);
    assert_int_equal(back.rcpts[0].outcome, DELIVER_TEMPFAIL);
    assert_string_equal(back.rcpts[0].text, "4.3.0 disk full");
    assert_int_equal(back.rcpts[1].outcome, DELIVER_OK);
    deliver_job_free(&back);
    /* an impossible outcome is refused */
    b.data[b.len - strlen("2.0.0 ok") - 5] = 7;
    assert_int_equal(deliver_decode_result(b.data, b.len, &back), -1);
    buf_free(&b);
    deliver_job_free(&j);
}

static void test_frame_limits(void **state)
{
    (void)state;
    size_t flen;
    const unsigned char zero[4] = {0, 0, 0, 0};
    assert_int_equal(ipc_frame_peek(zero, 4, &flen), -1);
    const unsigned char huge[4] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(ipc_frame_peek(huge, 4, &flen), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_roundtrip_and_truncation),
        cmocka_unit_test(test_result_roundtrip),
        cmocka_unit_test(test_frame_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
