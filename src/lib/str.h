/* str: small helpers for NUL-terminated and length-delimited text.
 *
 * Everything here is ASCII-only by intent: mail protocols compare keywords
 * and domain names case-insensitively in ASCII, never by locale. */
#ifndef POSTINO_STR_H
#define POSTINO_STR_H

#include <stdbool.h>
#include <stddef.h>

/* Copy src into dst of size dstsize, always terminating. Returns 0, or -1 if
 * src did not fit (dst then holds a truncated copy). */
int str_copy(char *dst, size_t dstsize, const char *src);
/* Like str_copy for n bytes of src (which need not be terminated). */
int str_copyn(char *dst, size_t dstsize, const char *src, size_t n);

/* ASCII case-insensitive comparisons. */
bool str_eq_ci(const char *a, const char *b);
bool str_eqn_ci(const char *a, const char *b, size_t n);
bool str_prefix_ci(const char *s, const char *prefix);
/* Lowercase ASCII letters in place. */
void str_lower(char *s);
char str_lower_char(char c);

/* Parse a decimal unsigned number occupying all of s[0..n). Returns 0 and
 * sets *out, or -1 on empty input, a non-digit or overflow past max. */
int str_to_u64(const char *s, size_t n, unsigned long long max, unsigned long long *out);

/* Format into dst (dstsize octets, terminated); a result too long is
 * cut, ending in "...". For texts meant to be read, where a cut one is
 * better than none. */
void str_format(char *dst, size_t dstsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Write a printable copy of n bytes into dst (size dstsize, terminated):
 * control characters, bytes >= 0x7f and backslash become \xHH. Used for
 * every piece of client input that reaches a log line. Returns dst. */
char *str_printable(char *dst, size_t dstsize, const char *src, size_t n);

/* True if the n bytes at s are well-formed UTF-8 (no overlongs, no
 * surrogates, nothing past U+10FFFF). */
bool str_utf8_valid(const char *s, size_t n);
/* The value of a base64 digit (RFC 4648: A-Z a-z 0-9 + and c63, which is
 * '/' in base64 and ',' in IMAP's modified base64), or -1. */
int str_base64_value(char c, char c63);
/* True if all n bytes are ASCII (< 0x80). */
bool str_is_ascii(const char *s, size_t n);

#endif
