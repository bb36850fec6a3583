/* http-request: one HTTP/1.1 request (RFC 9112) as its octets arrive.
 *
 * Bytes go in, events come out, no I/O. The request line and the header
 * section are gathered in a bounded buffer and checked line by line; then
 * the body is handed out in runs that point into the caller's own input
 * (nothing is copied, so an upload of any size takes constant memory);
 * then the parser stops, so that a pipelined request after it stays in the
 * caller's input until http_request_reset().
 *
 * Strict by design, as request smuggling lives in the leniency of parsers:
 *  - every line ends in CR LF. A bare LF (RFC 9112 2.2 lets a recipient
 *    take it as a line end) and a bare CR are a 400 wherever they are, in
 *    the request line, the header and trailer sections and chunk lines;
 *  - the request line is method SP target SP version with single spaces;
 *    the target is origin-form ("/path?query"), or "*" for OPTIONS only
 *    (absolute-form and authority-form are a 400: this is no proxy);
 *    HTTP/1.1 and HTTP/1.0 are served, another HTTP/x.y gets 505;
 *  - a field line is token ":" OWS value OWS. Whitespace before the colon,
 *    obsolete line folding (a line that starts with SP or HTAB), NUL and
 *    other control characters in a value are a 400;
 *  - HTTP/1.1 needs exactly one Host field (RFC 9112 3.2), HTTP/1.0 at
 *    most one;
 *  - Content-Length is 1*DIGIT; a list or repeated fields must all hold
 *    the same number (RFC 9110 8.6), else 400; over the caller's maximum
 *    it is a 413;
 *  - Transfer-Encoding with Content-Length, or in an HTTP/1.0 request, is
 *    a 400 (RFC 9112 6.1, 6.3). Its codings are bare tokens; when chunked
 *    is not the last one, or comes twice, the body's end cannot be found:
 *    400 (RFC 9112 6.3). When chunked is last but another coding is
 *    applied before it: 501 (RFC 9112 6.1), as no other coding is
 *    implemented. Empty list elements are refused in both fields;
 *  - a chunk size is 1 to HTTP_CHUNK_SIZE_DIGITS_MAX hex digits; chunk
 *    extensions are checked for syntax and ignored; trailer fields are
 *    checked like header fields, within the same limits, and dropped. The
 *    chunks' sizes together must stay within the caller's maximum (413).
 *
 * Errors carry the status to send and a short reason for the log. After an
 * error, send the response and close the connection. */
#ifndef POSTINO_HTTP_REQUEST_H
#define POSTINO_HTTP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The request line, CR LF included; longer is a 414. */
#define HTTP_REQUEST_LINE_MAX 8192
/* The header section after the request line (field lines with their CR LF
 * and the empty line that ends it), and its number of fields; past either
 * is a 431. The trailer section of a chunked body has the same limits. */
#define HTTP_HEADER_SECTION_MAX (16 * 1024)
#define HTTP_HEADER_FIELDS_MAX  100
/* Empty lines (CR LF) tolerated before a request line (RFC 9112 2.2 says
 * to ignore at least one); one more is a 400. */
#define HTTP_EMPTY_LINES_MAX 4
/* A chunk-size line with its extensions and CR LF; longer is a 400. */
#define HTTP_CHUNK_LINE_MAX 4096
/* Hex digits of a chunk size, leading zeros included; more is a 400. */
#define HTTP_CHUNK_SIZE_DIGITS_MAX 16

enum http_request_event {
    HTTP_REQUEST_MORE,  /* all the input was taken: nothing happens without more */
    HTTP_REQUEST_HEAD,  /* the request line and header section are complete */
    HTTP_REQUEST_BODY,  /* a run of body octets: *body_r, *body_len_r */
    HTTP_REQUEST_DONE,  /* the request is complete, body and trailers included */
    HTTP_REQUEST_ERROR, /* http_request_status(), http_request_error() */
};

enum http_body_framing {
    HTTP_BODY_NONE,    /* neither Content-Length nor Transfer-Encoding: no body */
    HTTP_BODY_LENGTH,  /* Content-Length */
    HTTP_BODY_CHUNKED, /* Transfer-Encoding: chunked */
};

struct http_request;

/* A parser for the requests of one connection whose bodies may hold at
 * most body_max octets (a larger Content-Length, or chunks adding up to
 * more, is a 413). Never returns NULL. */
struct http_request *http_request_new(uint64_t body_max);
/* Free the parser and everything it returned; *r becomes NULL. */
void http_request_free(struct http_request **r);
/* Forget the request (after DONE, for the next one on the connection, or
 * after an error); the memory is kept for the next. */
void http_request_reset(struct http_request *r);

/* Take input data[0..len) and say what happened. *used_r is the number of
 * octets taken, which the caller drops from its input before the next call
 * (the rest is offered again). Call in a loop until MORE:
 *   MORE  all len octets were taken (*used_r == len);
 *   HEAD  once per request, when the header section's last CR LF was taken:
 *         the accessors below now answer;
 *   BODY  body octets data[*used_r - *body_len_r .. *used_r), a run inside
 *         this input (never copied; *body_len_r > 0): the run is valid as
 *         long as the caller's input is;
 *   DONE  once per request, when its last octet was taken (on the call
 *         after HEAD or the last BODY, with or without new input); octets
 *         after it (a pipelined request) are not taken, and every later
 *         call returns DONE again with *used_r == 0 until a reset;
 *   ERROR the request is refused: every later call returns ERROR again
 *         with *used_r == 0 until a reset.
 * len may be 0. *body_r and *body_len_r are set (to NULL and 0) on every
 * event but BODY. */
enum http_request_event http_request_feed(struct http_request *r, const char *data, size_t len,
                                          size_t *used_r, const char **body_r, size_t *body_len_r);

/* True until the first octet of a request line is taken (the empty lines
 * tolerated before it do not count): a connection closed there ended
 * cleanly, elsewhere in the middle of a request. */
bool http_request_idle(const struct http_request *r);
/* After ERROR: the status to answer (400, 413, 414, 431, 501 or 505) and a
 * short reason for the log (a static string). 0 and NULL before. */
int http_request_status(const struct http_request *r);
const char *http_request_error(const struct http_request *r);

/* From HEAD until the reset (or free), the parts of the request, as
 * NUL-terminated strings owned by the parser; before HEAD, NULL or 0. */
const char *http_request_method(const struct http_request *r); /* case-sensitive, e.g. "GET" */
const char *http_request_target(const struct http_request *r); /* as received */
/* The minor version: 1 for HTTP/1.1, 0 for HTTP/1.0. */
unsigned http_request_version_minor(const struct http_request *r);

/* The header fields in the order received: name and value (without the
 * surrounding whitespace; may be empty). Returns false past the last. */
size_t http_request_field_count(const struct http_request *r);
bool http_request_field(const struct http_request *r, size_t i, const char **name_r,
                        const char **value_r);
/* The value of the first field named name (case-insensitive), or NULL. */
const char *http_request_header(const struct http_request *r, const char *name);
/* The next field named name at index *pos or after: its value, with *pos
 * moved past it; NULL when there is none more. Start with *pos = 0. */
const char *http_request_header_next(const struct http_request *r, const char *name, size_t *pos);
/* True if the comma-separated lists of every field named name hold the
 * token (both case-insensitive), such as "close" in Connection. */
bool http_request_header_has_token(const struct http_request *r, const char *name,
                                   const char *token);

/* Whether the connection may carry another request after this one:
 * HTTP/1.1 unless Connection: close, HTTP/1.0 only with Connection:
 * keep-alive (and no close). False before HEAD and after an error. */
bool http_request_keep_alive(const struct http_request *r);
/* True if an HTTP/1.1 client waits for "100 Continue" before its body
 * (Expect: 100-continue; RFC 9110 10.1.1 says to ignore it in HTTP/1.0).
 * Another expectation makes http_request_expect_other() true: the caller
 * may answer 417. */
bool http_request_expect_continue(const struct http_request *r);
bool http_request_expect_other(const struct http_request *r);

/* How the body is delimited, its Content-Length (0 unless LENGTH), and the
 * body octets handed out so far. */
enum http_body_framing http_request_framing(const struct http_request *r);
uint64_t http_request_content_length(const struct http_request *r);
uint64_t http_request_body_received(const struct http_request *r);

/* RFC 9110 5.6.2: n octets of tchar (n > 0). */
bool http_token_valid(const char *s, size_t n);
/* RFC 9110 5.5: n octets of VCHAR, obs-text, SP or HTAB (no NUL, CR, LF or
 * other control character). */
bool http_field_value_valid(const char *s, size_t n);

#endif
