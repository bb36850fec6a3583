/* imap-utf7: the modified UTF-7 of IMAP mailbox names (RFC 3501 5.1.3).
 *
 * Printable US-ASCII (0x20-0x7e) stands for itself, except '&', written
 * "&-". Everything else is UTF-16 in modified base64 ('+' and ',' as the
 * last two digits, no padding) between '&' and '-'. Decoding is strict:
 * it refuses what RFC 3501 forbids (printable ASCII or an empty run in
 * base64, raw 8-bit or control octets, an unterminated run, leftover
 * bits that are not zero, two runs side by side, broken surrogate pairs),
 * so that each name has exactly one spelling. */
#ifndef POSTINO_IMAP_UTF7_H
#define POSTINO_IMAP_UTF7_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/* Append the modified UTF-7 form of the UTF-8 text s[0..len) to out.
 * Returns 0, or -1 if s is not valid UTF-8, holds NUL or a control
 * character below U+0020 or U+007F, or out reached its maximum (out may
 * then hold part of the result). */
int imap_utf7_encode(const char *s, size_t len, struct buf *out);

/* Append the UTF-8 form of the modified UTF-7 text s[0..len) to out.
 * Returns 0, or -1 if s is not valid modified UTF-7 or out reached its
 * maximum (out may then hold part of the result). */
int imap_utf7_decode(const char *s, size_t len, struct buf *out);

/* True if s[0..len) is valid modified UTF-7. */
bool imap_utf7_valid(const char *s, size_t len);

#endif
