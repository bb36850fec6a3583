/* buf: the one growable byte buffer of postino.
 *
 * Every buffer has a maximum size chosen by its owner; an append that would
 * cross it fails and leaves the buffer unchanged, so input limits are
 * enforced where bytes arrive. The data is always NUL-terminated (the
 * terminator is not counted in len), so a buffer holding text can be passed
 * to functions that want a C string. Appending may move data: never keep a
 * pointer into a buffer across an append. */
#ifndef POSTINO_BUF_H
#define POSTINO_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
    char *data; /* NULL until the first append; buf_cstr() never is */
    size_t len; /* bytes in use, terminator not counted */
    size_t cap; /* bytes allocated */
    size_t max; /* largest len allowed */
};

#define BUF_UNLIMITED ((size_t)-1 / 2)

/* Set up an empty buffer that may grow to max bytes. Allocates nothing. */
void buf_init(struct buf *b, size_t max);
/* Release the memory; the buffer is empty and may be used again. */
void buf_free(struct buf *b);
/* Make the buffer empty, keeping its memory. */
void buf_reset(struct buf *b);

/* Append n bytes. Returns 0, or -1 (buffer unchanged) if len would exceed max. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_append_char(struct buf *b, char c);
/* Append v in decimal (no printf: it is on the path of every line of a big
 * FETCH). Returns 0, or -1 (buffer unchanged) past max. */
int buf_append_u64(struct buf *b, uint64_t v);
/* Append formatted text. Returns 0, or -1 (buffer unchanged) past max. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Remove the first n bytes (n is clamped to len). */
void buf_consume(struct buf *b, size_t n);
/* Shorten to n bytes (no effect if n >= len). */
void buf_truncate(struct buf *b, size_t n);
/* Ensure room for n more bytes; returns a pointer to write them, or NULL past
 * max. Call buf_commit() with the number actually written. */
char *buf_reserve(struct buf *b, size_t n);
void buf_commit(struct buf *b, size_t n);

/* The contents as a C string (an empty buffer gives ""). */
const char *buf_cstr(const struct buf *b);
/* Hand the allocated string to the caller (who frees it); the buffer is reset
 * to empty. Never returns NULL. */
char *buf_steal(struct buf *b);

#endif
