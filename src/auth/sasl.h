/* sasl: decoding what clients send in SASL exchanges (RFC 4422), for the
 * PLAIN (RFC 4616) and LOGIN mechanisms over SMTP AUTH (RFC 4954), and
 * later IMAP and POP3. Pure functions on bytes: no sockets, no state. */
#ifndef POSTINO_SASL_H
#define POSTINO_SASL_H

#include <stdbool.h>
#include <stddef.h>

#include "password.h"

#define SASL_USER_MAX 255
#define SASL_LINE_MAX 12288 /* RFC 4954 4: at least 12288 octets per line */

/* Strict base64 (RFC 4648 4): the standard alphabet, "=" padding to a
 * multiple of 4, no whitespace, zero pad bits. Writes at most outsize
 * octets; returns the decoded length, or -1. */
long sasl_base64_decode(const char *in, size_t len, unsigned char *out, size_t outsize);
/* Encode; out needs 4 * ((len + 2) / 3) + 1 octets. Returns the length
 * written (terminated), or 0 if out is too small. */
size_t sasl_base64_encode(const unsigned char *in, size_t len, char *out, size_t outsize);

struct sasl_creds {
    char authzid[SASL_USER_MAX + 1]; /* "" when absent */
    char user[SASL_USER_MAX + 1];
    char password[PASSWORD_MAX + 1];
};

/* Decode a PLAIN response: base64 of [authzid] NUL authcid NUL passwd,
 * each part UTF-8 without NUL, authcid and passwd not empty. 0 or -1. */
int sasl_plain_decode(const char *b64, size_t len, struct sasl_creds *out);
/* Decode one LOGIN response (the user name or the password): base64 of
 * UTF-8 text without NUL, not empty. 0 or -1. */
int sasl_login_decode(const char *b64, size_t len, char *out, size_t outsize);

#endif
