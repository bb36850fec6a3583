/* mime-parse: a whole message held in memory as a tree of MIME parts
 * (RFC 2045, 2046), for IMAP BODY, BODYSTRUCTURE and BODY[section].
 *
 * Input is the message as stored (CRLF line ends; a bare LF also ends a
 * line, a bare CR is data). Nothing is copied: parts are offsets into the
 * caller's buffer, which must outlive the tree. The parse never fails and
 * never recurses on input: malformed structure is read the way Dovecot
 * reads it (a missing close delimiter ends the parts at the end of the
 * data; a boundary line ends the innermost part whose boundary, or the
 * longest boundary, it starts with; the line break before a boundary line
 * belongs to the boundary). Past MIME_PARSE_MAX_DEPTH nested parts or
 * MIME_PARSE_MAX_PARTS parts in all, a multipart or message part is kept
 * whole as an opaque body (MIME_PART_TRUNCATED).
 *
 * Which Content-* fields count follows Dovecot: a part is MIME if it is
 * inside a multipart or has a MIME-Version or Content-Type field;
 * otherwise its Content-* fields are ignored. Without a Content-Type a
 * part is text/plain (charset us-ascii), or message/rfc822 inside a
 * multipart/digest. */
#ifndef POSTINO_MIME_PARSE_H
#define POSTINO_MIME_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "mime-content.h"

#define MIME_PARSE_MAX_DEPTH    100
#define MIME_PARSE_MAX_PARTS    10000
#define MIME_PARSE_BOUNDARY_MAX 70 /* longer boundary parameters are cut */

enum mime_part_flags {
    MIME_PART_MULTIPART = 1 << 0, /* multipart/ (children, if it had a boundary) */
    MIME_PART_MESSAGE = 1 << 1,   /* message/rfc822 or message/global: one child,
                                     the embedded message */
    MIME_PART_TEXT = 1 << 2,      /* text/ (BODYSTRUCTURE gives its line count) */
    MIME_PART_DIGEST = 1 << 3,    /* multipart/digest */
    MIME_PART_IS_MIME = 1 << 4,   /* its Content-* fields count */
    MIME_PART_TRUNCATED = 1 << 5, /* a multipart or message kept opaque (limits) */
};

struct mime_part {
    struct mime_part *parent;
    struct mime_part *children; /* first child */
    struct mime_part *next;     /* next sibling */
    struct mime_part *last;     /* last child (for appending) */
    size_t n_children;
    unsigned flags;
    unsigned depth; /* the root is 0 */

    size_t hdr_off; /* header section, with the empty line that ends it */
    size_t hdr_len;
    size_t body_off; /* == hdr_off + hdr_len */
    size_t body_len;
    size_t body_lines; /* LFs in the body */

    struct mime_content content; /* zeroed unless MIME_PART_IS_MIME */
};

struct mime_message {
    const char *data; /* the caller's buffer */
    size_t len;
    struct mime_part *root;
    struct mime_part **parts; /* every part, in document order (root first) */
    size_t n_parts;
    bool limited; /* a limit was reached somewhere */
};

/* Parse data[0..len). Never returns NULL (allocation failure aborts).
 * Free with mime_message_free(). */
struct mime_message *mime_message_parse(const char *data, size_t len);
void mime_message_free(struct mime_message **m);

/* The size of the whole part (header and body). */
size_t mime_part_size(const struct mime_part *p);

#endif
