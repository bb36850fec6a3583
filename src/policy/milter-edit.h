/* milter-edit: a message as the milters asked for it at end of body.
 *
 * The header modifications (add, insert, change, delete) and a new body
 * are applied to the message as received (CRLF), giving the message to
 * store. Recipient and sender changes concern the envelope: the caller
 * applies those.
 *
 *   ADD_HEADER      the field goes after the last one
 *   INSERT_HEADER   before the field at `index` (0 = the first; past the
 *                   end: after the last)
 *   CHANGE_HEADER   the index-th field (1 = the first; 0 counts as 1) of
 *                   that name, case-insensitive, gets the value; an
 *                   empty value deletes it; when there is no such field a
 *                   non-empty value is added as by ADD_HEADER (Sendmail's
 *                   behaviour)
 *
 * A value is written "Name: value"; its line breaks (LF or CRLF, as
 * milters send folded values) become CRLF, and a continuation line that
 * does not start with white space gets a tab in front, so a value can
 * never end the header section or start a field of its own. A name that
 * is empty or holds a character not allowed in a field name (RFC 5322
 * 3.6.8: printable ASCII but ':') is ignored, and counted in *ignored_r.
 * A new body gets CRLF line ends (bare LF and bare CR become CRLF).
 *
 * Pure: no I/O. */
#ifndef POSTINO_POLICY_MILTER_EDIT_H
#define POSTINO_POLICY_MILTER_EDIT_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"
#include "policy/milter.h"

/* Apply the header modifications among mods[0..n) (other types are
 * skipped) to msg[0..len), and the new body if body is not NULL; append
 * the result to out. Returns 0, or -1 if out's maximum was reached (out
 * then holds a prefix). *changed_r says whether any modification took
 * effect. */
int milter_edit_message(const char *msg, size_t len, const struct milter_mod *mods, size_t n,
                        const char *body, size_t body_len, struct buf *out, bool *changed_r,
                        size_t *ignored_r);

/* Append a field value as the milter protocol carries it: the value of a
 * field as received (after the colon and the white space that follows
 * it), with CRLF of folding turned into LF and no final line break. */
void milter_edit_header_value(const char *value, size_t len, struct buf *out);

#endif
