/* http-response: response heads and chunk framing, with no way to split a
 * response. */
#include "http-response.h"

#include <stdbool.h>
#include <string.h>

#include "http-request.h"
#include "lib/str.h"

/* The reason phrases of the codes the portal may send (RFC 9110 15). */
static const struct {
    int status;
    const char *reason;
} reasons[] = {
    {100, "Continue"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {206, "Partial Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"},
    {417, "Expectation Failed"},
    {422, "Unprocessable Content"},
    {423, "Locked"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
    {507, "Insufficient Storage"},
};

const char *http_status_reason(int status)
{
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (reasons[i].status == status)
            return reasons[i].reason;
    return "";
}

/* Check the caller's fields. Returns NULL or the reason to refuse them. */
static const char *headers_error(const struct http_header *headers, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *name = headers[i].name, *value = headers[i].value;
        if (!name || !http_token_valid(name, strlen(name)))
            return "bad header name";
        if (!value || !http_field_value_valid(value, strlen(value)))
            return "bad header value";
        if (str_eq_ci(name, "Content-Length") || str_eq_ci(name, "Transfer-Encoding"))
            return "framing field among the headers";
    }
    return NULL;
}

int http_response_head(struct buf *out, int status, const struct http_header *headers, size_t n,
                       enum http_response_framing framing, uint64_t length, const char **error_r)
{
    if (status < 100 || status > 599) {
        *error_r = "bad status";
        return -1;
    }
    if (framing != HTTP_RESPONSE_NO_BODY && (status < 200 || status == 204)) {
        *error_r = "framing for a response without a body";
        return -1;
    }
    const char *why = headers_error(headers, n);
    if (why) {
        *error_r = why;
        return -1;
    }
    size_t start = out->len;
    int ret = buf_append_str(out, "HTTP/1.1 ");
    ret |= buf_append_u64(out, (uint64_t)status);
    ret |= buf_append_char(out, ' ');
    ret |= buf_append_str(out, http_status_reason(status));
    ret |= buf_append_str(out, "\r\n");
    for (size_t i = 0; i < n && ret == 0; i++) {
        ret |= buf_append_str(out, headers[i].name);
        ret |= buf_append_str(out, ": ");
        ret |= buf_append_str(out, headers[i].value);
        ret |= buf_append_str(out, "\r\n");
    }
    if (framing == HTTP_RESPONSE_LENGTH) {
        ret |= buf_append_str(out, "Content-Length: ");
        ret |= buf_append_u64(out, length);
        ret |= buf_append_str(out, "\r\n");
    } else if (framing == HTTP_RESPONSE_CHUNKED) {
        ret |= buf_append_str(out, "Transfer-Encoding: chunked\r\n");
    }
    ret |= buf_append_str(out, "\r\n");
    if (ret != 0) {
        buf_truncate(out, start);
        *error_r = "response head too large";
        return -1;
    }
    return 0;
}

int http_response_chunk_start(struct buf *out, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    char line[2 * sizeof(size_t) + 2];
    size_t k = sizeof(line);
    if (len == 0)
        return -1;
    line[--k] = '\n';
    line[--k] = '\r';
    for (; len > 0; len >>= 4)
        line[--k] = hex[len & 15];
    return buf_append(out, line + k, sizeof(line) - k);
}

int http_response_chunk_end(struct buf *out)
{
    return buf_append(out, "\r\n", 2);
}

int http_response_last_chunk(struct buf *out)
{
    return buf_append(out, "0\r\n\r\n", 5);
}
