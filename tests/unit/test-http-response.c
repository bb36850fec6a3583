/* Unit tests of src/share/http-response.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "share/http-response.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static void test_http_response_head(void **state)
{
    (void)state;
    struct buf out;
    const char *error = NULL;
    buf_init(&out, 4096);
    const struct http_header h[] = {
        {"Content-Type", "application/json"},
        {"Strict-Transport-Security", "max-age=31536000"},
        {"X-Empty", ""},
        {"X-Tab", "a\tb \xc3\xa9"},
    };
    assert_int_equal(
        http_response_head(&out, 200, h, N_ELEMS(h), HTTP_RESPONSE_LENGTH, 1234, &error), 0);
    assert_string_equal(buf_cstr(&out), "HTTP/1.1 200 OK\r\n"
                                        "Content-Type: application/json\r\n"
                                        "Strict-Transport-Security: max-age=31536000\r\n"
                                        "X-Empty: \r\n"
                                        "X-Tab: a\tb \xc3\xa9\r\n"
                                        "Content-Length: 1234\r\n"
                                        "\r\n");
    /* appended after what is there */
    assert_int_equal(http_response_head(&out, 404, NULL, 0, HTTP_RESPONSE_CHUNKED, 99, &error), 0);
    assert_true(strstr(buf_cstr(&out), "\r\n\r\nHTTP/1.1 404 Not Found\r\n"
                                       "Transfer-Encoding: chunked\r\n\r\n") != NULL);
    buf_reset(&out);
    assert_int_equal(http_response_head(&out, 204, h, 1, HTTP_RESPONSE_NO_BODY, 0, &error), 0);
    assert_string_equal(buf_cstr(&out),
                        "HTTP/1.1 204 No Content\r\nContent-Type: application/json\r\n\r\n");
    buf_reset(&out);
    assert_int_equal(http_response_head(&out, 100, NULL, 0, HTTP_RESPONSE_NO_BODY, 0, &error), 0);
    assert_string_equal(buf_cstr(&out), "HTTP/1.1 100 Continue\r\n\r\n");
    buf_reset(&out);
    assert_int_equal(http_response_head(&out, 599, NULL, 0, HTTP_RESPONSE_LENGTH, 0, &error), 0);
    assert_string_equal(buf_cstr(&out), "HTTP/1.1 599 \r\nContent-Length: 0\r\n\r\n");
    buf_reset(&out);
    assert_int_equal(http_response_head(&out, 304, NULL, 0, HTTP_RESPONSE_LENGTH, 7, &error), 0);
    assert_int_equal(
        http_response_head(&out, 413, NULL, 0, HTTP_RESPONSE_LENGTH, UINT64_MAX, &error), 0);
    assert_true(strstr(buf_cstr(&out), "Content Too Large\r\nContent-Length: "
                                       "18446744073709551615\r\n\r\n") != NULL);
    buf_free(&out);
}

static void test_http_response_refused(void **state)
{
    (void)state;
    static const struct {
        int status;
        struct http_header h;
        enum http_response_framing framing;
        const char *error;
    } cases[] = {
        {200, {"X", "a\r\nSet-Cookie: x=1"}, HTTP_RESPONSE_LENGTH, "bad header value"},
        {200, {"X", "a\nb"}, HTTP_RESPONSE_LENGTH, "bad header value"},
        {200, {"X", "a\rb"}, HTTP_RESPONSE_LENGTH, "bad header value"},
        {200, {"X", "a\x01"}, HTTP_RESPONSE_LENGTH, "bad header value"},
        {200, {"X", "a\x7f"}, HTTP_RESPONSE_LENGTH, "bad header value"},
        {200, {"X", NULL}, HTTP_RESPONSE_LENGTH, "bad header value"},
        {200, {"X\r\nY", "1"}, HTTP_RESPONSE_LENGTH, "bad header name"},
        {200, {"X Y", "1"}, HTTP_RESPONSE_LENGTH, "bad header name"},
        {200, {"X:", "1"}, HTTP_RESPONSE_LENGTH, "bad header name"},
        {200, {"", "1"}, HTTP_RESPONSE_LENGTH, "bad header name"},
        {200, {NULL, "1"}, HTTP_RESPONSE_LENGTH, "bad header name"},
        {200, {"content-length", "1"}, HTTP_RESPONSE_NO_BODY, "framing field among the headers"},
        {200,
         {"Transfer-Encoding", "chunked"},
         HTTP_RESPONSE_NO_BODY,
         "framing field among the headers"},
        {99, {"X", "1"}, HTTP_RESPONSE_LENGTH, "bad status"},
        {600, {"X", "1"}, HTTP_RESPONSE_LENGTH, "bad status"},
        {-200, {"X", "1"}, HTTP_RESPONSE_LENGTH, "bad status"},
        {204, {"X", "1"}, HTTP_RESPONSE_LENGTH, "framing for a response without a body"},
        {100, {"X", "1"}, HTTP_RESPONSE_CHUNKED, "framing for a response without a body"},
    };
    struct buf out;
    buf_init(&out, 4096);
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        buf_reset(&out);
        buf_append_str(&out, "before");
        const char *error = NULL;
        int r =
            http_response_head(&out, cases[i].status, &cases[i].h, 1, cases[i].framing, 1, &error);
        if (r != -1 || !error || strcmp(error, cases[i].error) != 0 ||
            strcmp(buf_cstr(&out), "before") != 0)
            fail_msg("case %zu: %d \"%s\" out \"%s\"", i, r, error ? error : "", buf_cstr(&out));
    }
    buf_free(&out);

    /* the buffer's maximum: out is left as it was */
    const char *error = NULL;
    static const char want[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
    buf_init(&out, sizeof(want) - 1 + 2);
    buf_append_str(&out, "ab");
    assert_int_equal(http_response_head(&out, 200, NULL, 0, HTTP_RESPONSE_LENGTH, 5, &error), 0);
    assert_int_equal(out.len, sizeof(want) - 1 + 2);
    buf_reset(&out);
    buf_append_str(&out, "abc");
    assert_int_equal(http_response_head(&out, 200, NULL, 0, HTTP_RESPONSE_LENGTH, 5, &error), -1);
    assert_string_equal(error, "response head too large");
    assert_string_equal(buf_cstr(&out), "abc");
    buf_free(&out);
}

static void test_http_response_chunks(void **state)
{
    (void)state;
    struct buf out;
    buf_init(&out, 64);
    assert_int_equal(http_response_chunk_start(&out, 1), 0);
    assert_int_equal(http_response_chunk_end(&out), 0);
    assert_int_equal(http_response_chunk_start(&out, 0x1a2b), 0);
    assert_int_equal(http_response_chunk_start(&out, 16), 0);
    assert_int_equal(http_response_chunk_start(&out, SIZE_MAX), 0);
    assert_int_equal(http_response_last_chunk(&out), 0);
    assert_string_equal(buf_cstr(&out), "1\r\n\r\n1a2b\r\n10\r\nffffffffffffffff\r\n0\r\n\r\n");
    assert_int_equal(http_response_chunk_start(&out, 0), -1);
    buf_free(&out);
    buf_init(&out, 4);
    assert_int_equal(http_response_last_chunk(&out), -1);
    assert_int_equal(http_response_chunk_start(&out, 0xfff), -1);
    assert_int_equal(http_response_chunk_start(&out, 0xff), 0);
    assert_int_equal(out.len, 4);
    assert_int_equal(http_response_chunk_end(&out), -1);
    buf_free(&out);
}

static void test_http_status_reason(void **state)
{
    (void)state;
    assert_string_equal(http_status_reason(200), "OK");
    assert_string_equal(http_status_reason(413), "Content Too Large");
    assert_string_equal(http_status_reason(431), "Request Header Fields Too Large");
    assert_string_equal(http_status_reason(505), "HTTP Version Not Supported");
    assert_string_equal(http_status_reason(299), "");
    assert_string_equal(http_status_reason(-1), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_response_head),
        cmocka_unit_test(test_http_response_refused),
        cmocka_unit_test(test_http_response_chunks),
        cmocka_unit_test(test_http_status_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
