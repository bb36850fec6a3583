/* mime-charset: text in a MIME charset converted to UTF-8 with glibc's
 * iconv, for SEARCH (which compares in UTF-8) and decoded header words.
 *
 * us-ascii and utf-8 are checked, not converted. A byte sequence that is
 * invalid in the charset becomes U+FFFD and conversion goes on; an
 * incomplete sequence at the end becomes U+FFFD. The output is bounded by
 * the struct buf's maximum. */
#ifndef POSTINO_MIME_CHARSET_H
#define POSTINO_MIME_CHARSET_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

#define MIME_CHARSET_NAME_MAX 64

/* Append in[0..len), in charset, to out as UTF-8. Returns 0; -1 with
 * *error_r set if the charset is unknown (out unchanged) or out's
 * maximum was reached (out holds a prefix). */
int mime_charset_to_utf8(const char *charset, const char *in, size_t len, struct buf *out,
                         const char **error_r);
/* True if conversion from charset is possible. */
bool mime_charset_known(const char *charset);

#endif
