/* tls-conn: TLS on libevent connections (see tls-conn.h). */
#include "tls-conn.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>

#include "lib/log.h"
#include "lib/str.h"

struct bufferevent *tls_conn_wrap(struct event_base *base, struct tls_server *t, int fd,
                                  struct bufferevent *under, SSL **ssl_r)
{
    SSL *ssl = tls_server_session(t);
    if (!ssl)
        return NULL;
    struct bufferevent *bev;
    if (fd >= 0)
        bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                             BEV_OPT_CLOSE_ON_FREE);
    else
        bev = bufferevent_openssl_filter_new(base, under, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                             BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        SSL_free(ssl);
        return NULL;
    }
    /* Clients that just close the connection are common; not an error. */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    *ssl_r = ssl;
    return bev;
}

const char *tls_conn_error(struct bufferevent *bev, char *out, size_t outsize)
{
    unsigned long e;
    str_copy(out, outsize, "connection closed");
    bool first = true;
    /* The most specific reason comes first; drain the rest. */
    while ((e = bufferevent_get_openssl_error(bev)) != 0) {
        if (first)
            ERR_error_string_n(e, out, outsize);
        first = false;
    }
    return out;
}

size_t tls_conn_output_len(struct bufferevent *bev)
{
    size_t n = evbuffer_get_length(bufferevent_get_output(bev));
    struct bufferevent *under = bufferevent_get_underlying(bev);
    if (under)
        n += evbuffer_get_length(bufferevent_get_output(under));
    return n;
}

void tls_conn_reload(struct tls_server **t, const struct config *cfg)
{
    if (!*t)
        return;
    char *err = NULL;
    struct tls_server *fresh = tls_server_new(cfg, &err);
    if (!fresh) {
        log_error("TLS certificates not reloaded, keeping the old ones: %s", err);
        free(err);
        return;
    }
    tls_server_unref(t);
    *t = fresh;
    log_info("TLS certificates reloaded");
}
