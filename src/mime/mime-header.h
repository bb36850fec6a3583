/* mime-header: the fields of one header section held in memory, and the
 * HEADER.FIELDS / HEADER.FIELDS.NOT filter of IMAP FETCH.
 *
 * A line ends at LF (CRLF normally; a bare LF is accepted, a bare CR is
 * data). A field is its first line plus every following line that starts
 * with SP or HTAB. The section ends at an empty line or at the end of the
 * data. */
#ifndef POSTINO_MIME_HEADER_H
#define POSTINO_MIME_HEADER_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

struct mime_field {
    const char *name; /* up to ':' with trailing white space removed */
    size_t name_len;
    const char *value; /* after ':' and leading SP/HTAB, up to the final line
                          break; inner line breaks of folding are kept */
    size_t value_len;
    size_t off; /* the whole field, final line break included, relative to */
    size_t len; /* the start of the data given to mime_header_next() */
};

/* The field at *pos in hdr[0..len): returns 1 and fills *f (advancing *pos
 * past the field), or 0 at the end of the header section (*pos is then at
 * the empty line, or len). A line without ':' is a field whose name is the
 * whole line and whose value is empty. Never fails. */
int mime_header_next(const char *hdr, size_t len, size_t *pos, struct mime_field *f);

/* True if the field is named name (ASCII case-insensitive). */
bool mime_field_is(const struct mime_field *f, const char *name);

/* Append to out the fields of hdr[0..len) whose names are (keep=true) or
 * are not (keep=false) among names[0..n) (case-insensitive), byte for
 * byte with their folding, then the empty line "\r\n" that ends a header
 * (RFC 3501 6.4.5: BODY[HEADER.FIELDS ...] includes it). A last field
 * without a line break gets "\r\n". Returns 0, or -1 if out's maximum was
 * reached (out then holds a prefix). */
int mime_header_filter(const char *hdr, size_t len, const char *const *names, size_t n, bool keep,
                       struct buf *out);

#endif
