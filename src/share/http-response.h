/* http-response: the head of an HTTP/1.1 response (RFC 9112 4, 6), and the
 * framing lines of a chunked body.
 *
 * The status line and the header fields are written into a struct buf;
 * the body's framing field (Content-Length or Transfer-Encoding: chunked)
 * is this module's, so that a response never carries two. Names and values
 * that could split the response (CR, LF) or corrupt it (NUL, other control
 * characters, a name that is not a token) are refused, as is a framing
 * field among the caller's. */
#ifndef POSTINO_HTTP_RESPONSE_H
#define POSTINO_HTTP_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

enum http_response_framing {
    /* no framing field: 1xx, 204, 304, or a response to HEAD (any other
     * response without one is ended by closing the connection) */
    HTTP_RESPONSE_NO_BODY,
    HTTP_RESPONSE_LENGTH,  /* Content-Length: length */
    HTTP_RESPONSE_CHUNKED, /* Transfer-Encoding: chunked */
};

struct http_header {
    const char *name;
    const char *value;
};

/* The reason phrase of a status code ("Not Found"), or "" for a code this
 * module does not know. Never NULL. */
const char *http_status_reason(int status);

/* Append "HTTP/1.1 STATUS REASON" CR LF, the n header fields "Name: value"
 * CR LF in order, the framing field, and the empty line to out. status is
 * 100 to 599; length is used with HTTP_RESPONSE_LENGTH only. Returns 0, or
 * -1 with out unchanged and a short reason in *error_r (a static string):
 * a bad status, a name that is not a token, a value with CR, LF, NUL or
 * another control character (HTAB aside), a Content-Length or
 * Transfer-Encoding field in headers, a framing for a 1xx or 204 response
 * (RFC 9110 8.6, RFC 9112 6.1), or out's max reached. */
int http_response_head(struct buf *out, int status, const struct http_header *headers, size_t n,
                       enum http_response_framing framing, uint64_t length, const char **error_r);

/* Append the line that starts a chunk of len octets (hex size, CR LF); len
 * 0 is refused, as it would end the body. After the octets, append CR LF
 * with http_response_chunk_end(). Return 0, or -1 (out unchanged) past
 * out's max or for len 0. */
int http_response_chunk_start(struct buf *out, size_t len);
int http_response_chunk_end(struct buf *out);
/* Append the last chunk and an empty trailer section ("0" CR LF CR LF).
 * Returns 0, or -1 (out unchanged) past out's max. */
int http_response_last_chunk(struct buf *out);

#endif
