/* imap-envelope: the ENVELOPE of a message (RFC 3501 7.4.2) from its
 * header section:
 *
 *   (date subject from sender reply-to to cc bcc in-reply-to message-id)
 *
 * Date, Subject, In-Reply-To and Message-ID are the raw field values; the
 * address fields are parsed by mime-addrlist (groups as
 * (NIL NIL "name" NIL) ... (NIL NIL NIL NIL)). When a field occurs more
 * than once the last one counts; Sender and Reply-To default to From; an
 * absent field (or an address field without addresses) is NIL. This is
 * what Dovecot 2.3 sends. */
#ifndef POSTINO_IMAP_ENVELOPE_H
#define POSTINO_IMAP_ENVELOPE_H

#include <stddef.h>

#include "lib/buf.h"

/* Append the parenthesized ENVELOPE of the header section hdr[0..len)
 * (the part of a message before the empty line; the empty line itself
 * may be included). Returns 0, or -1 if out's maximum was reached. */
int imap_envelope_write(struct buf *out, const char *hdr, size_t len);

#endif
