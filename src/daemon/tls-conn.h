/* tls-conn: the TLS layer of a server connection on libevent, shared by
 * smtpd, imapd and pop3d: putting it on (implicit TLS, or under a live
 * connection after STARTTLS/STLS), the reason a handshake failed, the
 * output still queued, and reloading certificates on SIGHUP. */
#ifndef POSTINO_TLS_CONN_H
#define POSTINO_TLS_CONN_H

#include <stddef.h>

#include "lib/config.h"
#include "lib/tls.h"

struct bufferevent;
struct event_base;

/* A server-side TLS bufferevent over the socket fd (fd >= 0: implicit
 * TLS; it owns fd) or over the live bufferevent under (fd < 0: after
 * STARTTLS; it owns under). *ssl_r gets the SSL object the bufferevent
 * owns. NULL (nothing taken over) if it cannot be made. */
struct bufferevent *tls_conn_wrap(struct event_base *base, struct tls_server *t, int fd,
                                  struct bufferevent *under, SSL **ssl_r);
/* Why a TLS connection failed: the first OpenSSL error queued on bev (the
 * others are drained), or "connection closed". Returns out. */
const char *tls_conn_error(struct bufferevent *bev, char *out, size_t outsize);
/* Octets still queued for the client: on bev and, under a TLS filter, on
 * the connection beneath it. */
size_t tls_conn_output_len(struct bufferevent *bev);
/* SIGHUP: load the certificates again; on success *t is replaced (the
 * connections keep the ones they started with), else the old ones stay.
 * Logs either way. Does nothing while *t is NULL (TLS never worked). */
void tls_conn_reload(struct tls_server **t, const struct config *cfg);

#endif
