/* certify-error: the error messages of the certify modules. */
#ifndef POSTINO_CERTIFY_ERROR_H
#define POSTINO_CERTIFY_ERROR_H

/* Set *error_r (the caller frees it) to the formatted message, followed
 * by the last OpenSSL error queued, if any, in parentheses (the queue is
 * then cleared). Returns -1, for `return certify_fail(...)`. */
int certify_fail(char **error_r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
