/* base64url: the URL- and file-name-safe base64 of RFC 4648 section 5,
 * without padding, as tokens and keys appear in URLs (a link's fragment
 * "#k=...", a path segment) and in postino's own text records.
 *
 * Decoding is strict: only the alphabet A-Z a-z 0-9 - _, no padding, no
 * white space, no length that no encoding has (4k+1), and the unused low
 * bits of the last character must be zero, so every byte string has
 * exactly one encoding and a decoded value re-encodes to the same text. */
#ifndef POSTINO_BASE64URL_H
#define POSTINO_BASE64URL_H

#include <stddef.h>

/* The length of the encoding of n bytes (no terminator counted). */
#define BASE64URL_LEN(n) (((n) / 3) * 4 + ((n) % 3 == 0 ? 0 : (n) % 3 + 1))
/* The most bytes n characters can decode to. */
#define BASE64URL_DECODED_MAX(n) (((n) / 4) * 3 + ((n) % 4 == 0 ? 0 : (n) % 4 - 1))

/* Encode n bytes of in into out (outsize bytes), terminated. Returns the
 * length written (BASE64URL_LEN(n)), or -1 (out untouched) if outsize is
 * smaller than BASE64URL_LEN(n) + 1. */
long base64url_encode(const void *in, size_t n, char *out, size_t outsize);

/* Decode the n characters of s (no terminator needed) into out (outsize
 * bytes). Returns the number of bytes written, or -1 if s is not the
 * canonical unpadded base64url of anything, or its value does not fit in
 * outsize bytes; out may then hold garbage. */
long base64url_decode(const char *s, size_t n, void *out, size_t outsize);

#endif
