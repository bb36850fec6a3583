/* mime-encoded-word: a header value with RFC 2047 encoded words
 * (=?charset?B?...?= / =?charset?Q?...?=, charset*language allowed, RFC
 * 2231 5) decoded to UTF-8, for SEARCH SUBJECT/FROM/HEADER and display.
 *
 * Folding line breaks are removed; white space between two encoded words
 * is dropped; adjacent words in the same charset are decoded together, so
 * a character split across them survives. Text outside encoded words is
 * taken as UTF-8 (invalid bytes become U+FFFD). A word in an unknown
 * charset or with a bad encoding letter is kept as written. Output is
 * bounded by the buffer's maximum. */
#ifndef POSTINO_MIME_ENCODED_WORD_H
#define POSTINO_MIME_ENCODED_WORD_H

#include <stddef.h>

#include "lib/buf.h"

/* Longest encoded word looked at (RFC 2047 says 75; mail in the wild
 * has longer ones). */
#define MIME_ENCODED_WORD_MAX 1024

/* Append the decoded value of in[0..len) to out. Returns 0, or -1 if out's
 * maximum was reached (out then holds a prefix). */
int mime_encoded_words_decode(const char *in, size_t len, struct buf *out);

#endif
