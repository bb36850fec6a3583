/* queue-id: queue IDs, unique and sortable by time.
 *
 * An ID is 13 characters of Crockford base32 (0-9, A-Z without I L O U, in
 * ASCII order) encoding 64 bits: seconds since 1970 (34 bits), the
 * microsecond (20 bits) and a 10-bit sequence that separates IDs made in the
 * same microsecond. Sorting IDs as strings sorts them by creation time.
 * Uniqueness across processes is enforced by the spool, which creates
 * each file with O_EXCL and asks for a new ID on a collision. */
#ifndef POSTINO_QUEUE_ID_H
#define POSTINO_QUEUE_ID_H

#include <stdbool.h>
#include <stddef.h>

#define QUEUE_ID_LEN 13

/* Write a new ID (QUEUE_ID_LEN characters and a NUL) into out. */
void queue_id_new(char out[QUEUE_ID_LEN + 1]);
/* True if s is exactly a well-formed queue ID. */
bool queue_id_valid(const char *s, size_t len);
/* The creation time encoded in a valid ID (seconds since 1970). */
long long queue_id_time(const char *id);

#endif
