/* mime-decode: Content-Transfer-Encoding decoding of body octets
 * (RFC 2045 6.7 quoted-printable, 6.8 base64), for SEARCH BODY/TEXT.
 *
 * Decoding is lenient, as readers must be with real mail: a '=' not
 * followed by two hex digits or a line break is kept as it is, white space
 * at the end of a quoted-printable line is dropped, base64 skips
 * characters outside its alphabet and stops at the padding. Output goes to
 * a struct buf whose maximum bounds it; every function returns 0, or -1
 * when that maximum was reached (out then holds a prefix). */
#ifndef POSTINO_MIME_DECODE_H
#define POSTINO_MIME_DECODE_H

#include <stddef.h>

#include "lib/buf.h"

int mime_decode_qp(const char *in, size_t len, struct buf *out);
/* The "Q" encoding of RFC 2047 4.2: quoted-printable where '_' is a space
 * and there are no line breaks. */
int mime_decode_q(const char *in, size_t len, struct buf *out);
int mime_decode_base64(const char *in, size_t len, struct buf *out);
/* Decode by the Content-Transfer-Encoding value (case-insensitive):
 * "quoted-printable" and "base64" are decoded, anything else (7bit, 8bit,
 * binary, unknown, NULL) is copied. */
int mime_decode_body(const char *encoding, const char *in, size_t len, struct buf *out);

#endif
