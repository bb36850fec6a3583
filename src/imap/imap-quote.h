/* imap-quote: writing IMAP strings (RFC 3501 4.3, 4.5) into a struct buf,
 * the way Dovecot writes them in ENVELOPE and BODYSTRUCTURE:
 *
 * - NIL for an absent nstring;
 * - a quoted string, with \" and \\ escapes, when the text has no CR, LF,
 *   NUL or 8-bit byte and at most IMAP_QUOTE_MAX_ESCAPES characters that
 *   need escaping;
 * - otherwise a literal {n}\r\n followed by the n bytes.
 *
 * Every function returns 0, or -1 if the buffer's maximum was reached
 * (the buffer then holds a partial string). */
#ifndef POSTINO_IMAP_QUOTE_H
#define POSTINO_IMAP_QUOTE_H

#include <stddef.h>

#include "lib/buf.h"

#define IMAP_QUOTE_MAX_ESCAPES 4

/* s[0..len) as a quoted string or a literal. */
int imap_quote_string(struct buf *out, const char *s, size_t len);
/* A NUL-terminated string, or NIL when s is NULL. */
int imap_quote_nstring(struct buf *out, const char *s);
/* Like imap_quote_nstring, with CR and LF removed first (a space put in
 * where a line break was not followed by white space): a value that had
 * line breaks is written as a literal, as Dovecot does. */
int imap_quote_nstring_nolf(struct buf *out, const char *s);
/* An atom when s is a non-empty run of ASTRING-CHARs other than "NIL",
 * otherwise a string. */
int imap_quote_astring(struct buf *out, const char *s);

#endif
