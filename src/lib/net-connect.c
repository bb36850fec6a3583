#include "net-connect.h"

#include <errno.h>
#include <event2/bufferevent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct bufferevent *net_connect_start(struct event_base *base, const struct net_peer *peer,
                                      char *why, size_t whysize)
{
    int fd = socket(peer->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(why, whysize, "socket: %s", strerror(errno));
        return NULL;
    }
    /* started here rather than by bufferevent_socket_connect(), so that a
     * refusal known at once (no such Unix socket) is told at once */
    if (connect(fd, (const struct sockaddr *)&peer->ss, peer->len) != 0 && errno != EINPROGRESS) {
        snprintf(why, whysize, "%s", strerror(errno));
        close(fd);
        return NULL;
    }
    struct bufferevent *bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        close(fd);
        snprintf(why, whysize, "cannot create a bufferevent");
        return NULL;
    }
    if (bufferevent_socket_connect(bev, NULL, 0) != 0) {
        bufferevent_free(bev);
        snprintf(why, whysize, "cannot wait for the connection");
        return NULL;
    }
    return bev;
}
