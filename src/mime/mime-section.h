/* mime-section: the bytes an IMAP section specifier (RFC 3501 6.4.5)
 * names in a parsed message: BODY[1.2], BODY[1.2.HEADER],
 * BODY[1.2.TEXT], BODY[1.2.MIME] (HEADER.FIELDS take the HEADER range and
 * filter it with mime_header_filter()).
 *
 * Part numbers: the parts of a multipart are numbered from 1; a
 * message/rfc822 part's number followed by ".N" names part N of the
 * embedded message; a part that is neither has only part 1, itself (so a
 * non-multipart message's part 1 is its body). HEADER and TEXT after a
 * part number need that part to be a message/rfc822 and refer to the
 * embedded message; MIME needs a part number. */
#ifndef POSTINO_MIME_SECTION_H
#define POSTINO_MIME_SECTION_H

#include <stddef.h>

#include "mime-parse.h"

#define MIME_SECTION_MAX_PATH   MIME_PARSE_MAX_DEPTH
#define MIME_SECTION_NUMBER_MAX 1000000

enum mime_section_kind {
    MIME_SECTION_BODY,              /* BODY[] or BODY[1.2]: the whole message / the part's body */
    MIME_SECTION_HEADER,            /* the header section, with its empty line */
    MIME_SECTION_TEXT,              /* the body of the message */
    MIME_SECTION_MIME,              /* the part's MIME header */
    MIME_SECTION_HEADER_FIELDS,     /* HEADER.FIELDS: the HEADER range, to filter */
    MIME_SECTION_HEADER_FIELDS_NOT, /* HEADER.FIELDS.NOT: likewise */
};

struct mime_section {
    unsigned path[MIME_SECTION_MAX_PATH];
    size_t n_path;
    enum mime_section_kind kind;
};

/* Parse the text of a section specifier as it appears between the
 * brackets, up to the field list: "", "1.2", "HEADER", "1.2.TEXT",
 * "3.MIME", "HEADER.FIELDS", "2.HEADER.FIELDS.NOT" (keywords
 * case-insensitive). Part numbers are 1..MIME_SECTION_NUMBER_MAX, at most
 * MIME_SECTION_MAX_PATH of them; MIME needs one. Returns 0, or -1 on a
 * syntax error. */
int mime_section_parse(const char *s, size_t len, struct mime_section *out);

/* The part that path[0..n) names, or NULL if there is none (n == 0 names
 * the root). */
const struct mime_part *mime_section_part(const struct mime_message *m, const unsigned *path,
                                          size_t n);
/* The byte range of the section: returns 0 and sets *off and *len (within
 * m->data), or -1 if the section names nothing (no such part, HEADER/TEXT
 * of a part that is not a message, MIME without a part number). */
int mime_section_range(const struct mime_message *m, const struct mime_section *s, size_t *off,
                       size_t *len);

#endif
