/* net-connect: a non-blocking connection to a peer as a libevent
 * bufferevent, for the clients of local services (clamd, milters). */
#ifndef POSTINO_NET_CONNECT_H
#define POSTINO_NET_CONNECT_H

#include <stddef.h>
#include <sys/socket.h>

#include "lib/net.h"

struct event_base;
struct bufferevent;

/* Start connecting to peer (a Unix socket or an IP address: net_parse_peer()): returns a
 * bufferevent (BEV_OPT_CLOSE_ON_FREE) whose event callback will see
 * BEV_EVENT_CONNECTED or an error, or NULL with the reason in why (a
 * line naming what failed, errno text included). */
struct bufferevent *net_connect_start(struct event_base *base, const struct net_peer *peer,
                                      char *why, size_t whysize);

#endif
