/* header-stream: the header section of a message as it streams through,
 * one whole field at a time (with its continuation lines), so that the
 * owner can look at each field and drop some, before the octets go on.
 * The body passes through untouched.
 *
 * Input is the message with CRLF line ends, in chunks of any size. A
 * field longer than HEADER_STREAM_FIELD_MAX is passed on unseen. */
#ifndef POSTINO_HEADER_STREAM_H
#define POSTINO_HEADER_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#define HEADER_STREAM_FIELD_MAX (64 * 1024)

/* A complete field ("Name: value\r\n\tmore\r\n"): true keeps it. */
typedef bool header_stream_field_fn(void *arg, const char *field, size_t len);
/* Octets that go on. */
typedef void header_stream_out_fn(void *arg, const char *data, size_t len);

struct header_stream;

struct header_stream *header_stream_new(header_stream_field_fn *field, header_stream_out_fn *out,
                                        void *arg);
/* Take the next octets of the message. */
void header_stream_feed(struct header_stream *hs, const char *data, size_t len);
/* The message is over: pass on what is held back (a last field without a
 * body, a last line without CRLF). */
void header_stream_finish(struct header_stream *hs);
/* True once the empty line that ends the header section has gone by. */
bool header_stream_in_body(const struct header_stream *hs);
void header_stream_free(struct header_stream **hs);

/* True if field is named name (case-insensitive), e.g. "Subject". */
bool header_field_is(const char *field, size_t len, const char *name);

#endif
