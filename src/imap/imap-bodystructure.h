/* imap-bodystructure: the BODY and BODYSTRUCTURE of a parsed message
 * (RFC 3501 7.4.2), as Dovecot 2.3 writes them:
 *
 * - sizes are octets of the stored message, line counts its LFs;
 * - a text part without a charset parameter gets ("charset" "us-ascii");
 *   a part without Content-Type is text/plain (message/rfc822 in a
 *   multipart/digest); no Content-Transfer-Encoding is "7bit";
 * - a multipart without parts gets one empty text/plain part;
 * - a multipart or message part kept opaque by the parser's limits (or
 *   that claimed to be one but could not be read as one) is written as
 *   application/octet-stream;
 * - message/global is written like message/rfc822 (envelope, body, lines).
 *
 * The writer walks the tree without recursion. */
#ifndef POSTINO_IMAP_BODYSTRUCTURE_H
#define POSTINO_IMAP_BODYSTRUCTURE_H

#include <stdbool.h>

#include "lib/buf.h"
#include "mime/mime-parse.h"

/* Append the parenthesized BODY (extended=false) or BODYSTRUCTURE
 * (extended=true) of part (usually m->root). Returns 0, or -1 if out's
 * maximum was reached. */
int imap_bodystructure_write(struct buf *out, const struct mime_message *m,
                             const struct mime_part *part, bool extended);

#endif
