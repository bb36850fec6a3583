/* smtp-line: find one command line in received bytes.
 *
 * Only CRLF ends a line. A bare LF or a bare CR inside a command is an
 * error the session answers with 500 (it never ends or splits a command),
 * and so is a NUL byte. */
#ifndef POSTINO_SMTP_LINE_H
#define POSTINO_SMTP_LINE_H

#include <stddef.h>

enum smtp_line_status {
    SMTP_LINE_NEED_MORE, /* no CRLF yet and under the limit: wait for more */
    SMTP_LINE_OK,        /* a clean line: len octets, consumed = len + 2 */
    SMTP_LINE_BAD,       /* a complete line holding bare CR, bare LF or NUL */
    SMTP_LINE_TOO_LONG,  /* max octets without CRLF: consumed them all */
};

struct smtp_line {
    enum smtp_line_status status;
    size_t len;      /* octets of the line, CRLF excluded */
    size_t consumed; /* octets the caller must drop from its input */
};

/* Look at data[0..n) for a line of at most max octets including CRLF. A line
 * with bare CR/LF or NUL ends at the next CRLF (status BAD). */
void smtp_line_find(const char *data, size_t n, size_t max, struct smtp_line *out);

/* After TOO_LONG: skip input up to and including the next CRLF. Returns the
 * octets to drop; *done says whether the CRLF was found. */
size_t smtp_line_skip(const char *data, size_t n, int *pending_cr, int *done);

#endif
