/* tls: the TLS server side of every postino service (OpenSSL 3).
 *
 * TLS 1.2 and 1.3 only. TLS 1.2 offers nothing but ECDHE key exchange
 * with AEAD ciphers (forward secrecy), in the server's order; no
 * compression, no renegotiation. Several certificates may be loaded: the
 * first is the default, and a client that names a host (SNI) gets the
 * first certificate that covers that name. Session resumption (tickets and
 * a server cache) is on.
 *
 * A tls_server is immutable once made: a reload makes a new one, and each
 * connection keeps a reference to the one it started with, so reloading
 * never disturbs a connection in progress. */
#ifndef POSTINO_TLS_H
#define POSTINO_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

typedef struct ssl_st SSL;

struct tls_server;

/* Load every certificate of cfg->tls_certificates (paths relative to
 * cfg->data_dir). NULL with a message in *error_r (caller frees). */
struct tls_server *tls_server_new(const struct config *cfg, char **error_r);
/* References: a new server has one; the last unref frees it. */
struct tls_server *tls_server_ref(struct tls_server *t);
void tls_server_unref(struct tls_server **t);

/* A new server-side SSL object for one connection, or NULL. */
SSL *tls_server_session(struct tls_server *t);

/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" for Received:
 * headers and logs. Returns out. */
char *tls_describe(SSL *ssl, char *out, size_t outsize);
/* The reason of the last TLS error of this thread (for logs). */
const char *tls_last_error(char *out, size_t outsize);

/* Create a self-signed EC P-256 certificate for hostname, valid for 825
 * days, and its key (mode 0600 as created). 0, or -1 with *error_r. */
int tls_make_self_signed(const char *cert_path, const char *key_path, const char *hostname,
                         char **error_r);

#endif
