/* json: a strict, bounded JSON parser (RFC 8259) into a read-only tree,
 * for request bodies of the share portal's API.
 *
 * Bytes go in, a tree or a reason comes out; no I/O. Strict: exactly one
 * value with optional whitespace around it; no comments, no trailing
 * commas, no leading zeros, no NaN/Infinity, no single quotes; strings
 * must be valid UTF-8 with escapes decoded (a lone surrogate, an escaped
 * or raw NUL, and raw control characters are refused); a key repeated in
 * one object is refused (RFC 8259 4 leaves it undefined: smuggling lives
 * there). Bounded: at most JSON_DEPTH_MAX nested arrays/objects and
 * JSON_VALUES_MAX values in all; the input's own length bounds the rest.
 * Whitespace is space, tab, CR and LF only; a byte order mark is refused
 * (RFC 8259 8.1 allows either); a number too large for a double (1e400)
 * is refused (RFC 8259 9 allows limits), a too small one reads as 0 or a
 * denormal. Numbers are read in the C locale whatever LC_NUMERIC says.
 * Thread-safe: no state but a C locale object made once. */
#ifndef POSTINO_JSON_H
#define POSTINO_JSON_H

#include <stdbool.h>
#include <stddef.h>

#define JSON_DEPTH_MAX  32
#define JSON_VALUES_MAX 10000

enum json_type {
    JSON_NULL,
    JSON_FALSE,
    JSON_TRUE,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
};

struct json_value;

/* Parse data[0..len). Returns the root (free with json_free), or NULL with
 * a static reason in *error_r ("trailing characters", "nesting too deep",
 * "invalid UTF-8 in a string", ...). */
struct json_value *json_parse(const char *data, size_t len, const char **error_r);

/* Free the tree and everything it returned; *vp becomes NULL. */
void json_free(struct json_value **vp);

/* The accessors below take NULL and values of the wrong type and answer
 * as for a missing value: NULL, 0 or false. Returned pointers live as long
 * as the tree. */
enum json_type json_type(const struct json_value *v); /* JSON_NULL for NULL */

/* Member key of an object, or NULL. */
const struct json_value *json_get(const struct json_value *obj, const char *key);

/* Elements of an array or members of an object. */
size_t json_count(const struct json_value *v);
/* Element i of an array (or the value of member i of an object), or NULL. */
const struct json_value *json_at(const struct json_value *v, size_t i);
/* The key of member i of an object, or NULL. */
const char *json_key_at(const struct json_value *v, size_t i);

/* A string's decoded value, NUL-terminated (no NUL inside: refused at
 * parse), its length in *len_r if not NULL; NULL if not a string. */
const char *json_string(const struct json_value *v, size_t *len_r);

/* A number that is an integer written without fraction or exponent and
 * fits in long long: true and *out; else false. */
bool json_int(const struct json_value *v, long long *out);

/* Any number as a double (may lose precision): true and *out; else false. */
bool json_number(const struct json_value *v, double *out);

/* true/false values: true and *out; else false. */
bool json_bool(const struct json_value *v, bool *out);

/* Append s to b as a JSON string: quoted, with quote, backslash and
 * control characters escaped; other octets as they are (s is UTF-8). */
struct buf;
void json_append_string(struct buf *b, const char *s);

#endif
