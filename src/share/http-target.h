/* http-target: the path and the query of an origin-form request target
 * (RFC 9112 3.2.1, RFC 3986 3.3 and 3.4).
 *
 * The path is percent-decoded once, here, for routing and for finding
 * files; whatever decoding could turn into a way out of a directory or
 * into a different path for another component is refused rather than
 * cleaned up: a "." or ".." segment (also written %2E), an encoded "/"
 * (%2F, which would cut a segment in two), NUL and other control
 * characters, a backslash, and bytes that are not UTF-8. */
#ifndef POSTINO_HTTP_TARGET_H
#define POSTINO_HTTP_TARGET_H

#include <stddef.h>

#include "lib/buf.h"

/* Split target[0..len) ("/path?query", as http_request_target() gives it)
 * into its decoded path, written to path (reset first; its max bounds it),
 * and its query: *query_r points into target just after the first "?", for
 * *query_len_r octets, not decoded (NULL and 0 without a "?"). Returns 0, or
 * -1 with path reset and a short reason in *error_r (a static string):
 * not an absolute path ("*" included), a character outside RFC 3986's
 * pchar, a bad percent escape, one of the refusals above, or a path
 * longer than path->max. */
int http_target_parse(const char *target, size_t len, struct buf *path, const char **query_r,
                      size_t *query_len_r, const char **error_r);

/* Find the parameter named name (compared octet for octet after decoding)
 * in a query of name=value pairs separated by "&", form style: "+" is a
 * space and %XX an octet, in names and values. A pair without "=" has an
 * empty value; empty pairs are skipped; the first pair with the name wins.
 * Its decoded value goes to value (reset first). Returns 1 when found, 0
 * when not, -1 when the query is malformed anywhere (a character outside
 * RFC 3986's query, a bad percent escape, %00) or the value is longer than
 * value->max. */
int http_query_get(const char *query, size_t len, const char *name, struct buf *value);

/* A Content-Range field value of a request (RFC 9110 14.4), as the
 * portal's resumable uploads send it: "bytes FIRST-LAST/COMPLETE" with
 * FIRST <= LAST < COMPLETE, each 1 to HTTP_RANGE_DIGITS_MAX digits, no
 * sign, no space but the one after "bytes", nothing else ("*" forms are
 * for responses). Returns 0 and the three numbers, or -1. */
#define HTTP_RANGE_DIGITS_MAX 18
int http_content_range_parse(const char *v, size_t len, unsigned long long *first_r,
                             unsigned long long *last_r, unsigned long long *complete_r);

#endif
