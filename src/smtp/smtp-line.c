#include "smtp-line.h"

#include <string.h>

void smtp_line_find(const char *data, size_t n, size_t max, struct smtp_line *out)
{
    int bad = 0;
    size_t limit = n < max ? n : max;
    for (size_t i = 0; i < limit; i++) {
        char c = data[i];
        if (c == '\r') {
            if (i + 2 > max) {
                /* A CRLF starting in the last octet allowed would make the
                 * line max + 1 octets: too long (it used to be accepted).
                 * Leave the CR in the input so that smtp_line_skip() sees
                 * the CRLF ending the over-long line; max < 2 cannot hold
                 * any line, so then the CR goes too (progress). */
                out->status = SMTP_LINE_TOO_LONG;
                out->len = 0;
                out->consumed = i > 0 ? i : 1;
                return;
            }
            if (i + 1 >= n) {
                out->status = SMTP_LINE_NEED_MORE;
                out->len = out->consumed = 0;
                return;
            }
            if (data[i + 1] == '\n') {
                out->status = bad ? SMTP_LINE_BAD : SMTP_LINE_OK;
                out->len = i;
                out->consumed = i + 2;
                return;
            }
            bad = 1; /* bare CR */
        } else if (c == '\n' || c == '\0') {
            bad = 1; /* bare LF or NUL */
        }
    }
    if (n >= max) {
        out->status = SMTP_LINE_TOO_LONG;
        out->len = 0;
        out->consumed = limit;
        return;
    }
    out->status = SMTP_LINE_NEED_MORE;
    out->len = out->consumed = 0;
}

size_t smtp_line_skip(const char *data, size_t n, int *pending_cr, int *done)
{
    *done = 0;
    for (size_t i = 0; i < n; i++) {
        if (*pending_cr && data[i] == '\n') {
            *pending_cr = 0;
            *done = 1;
            return i + 1;
        }
        *pending_cr = data[i] == '\r';
    }
    return n;
}
