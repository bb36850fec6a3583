/* net: socket addresses, listening sockets and address matching. */
#ifndef POSTINO_NET_H
#define POSTINO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A parsed "host:port" listen address: "127.0.0.1:25", "[::1]:25",
 * "*:25" (every address, IPv6 and IPv4). */
struct net_listen_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    bool any; /* "*": dual-stack [::] falling back to 0.0.0.0 */
};

/* Parse a listen address; numeric hosts only (no DNS at start-up).
 * Returns 0, or -1 with a static reason in *error_r. */
int net_parse_listen(const char *text, struct net_listen_addr *out, const char **error_r);

/* Bind and listen, non-blocking, close-on-exec, SO_REUSEADDR (and
 * SO_REUSEPORT so several processes may share the port). Returns the fd or
 * -1 with errno set. */
int net_listen(const struct net_listen_addr *addr, int backlog);

/* An IPv4 or IPv6 network: "192.0.2.0/24", "2001:db8::/32", "127.0.0.1". */
struct net_cidr {
    int family;
    uint8_t addr[16];
    unsigned prefix;
};
int net_parse_cidr(const char *text, struct net_cidr *out);
/* True if sa (IPv4, IPv6 or IPv4-mapped IPv6) lies in the network. */
bool net_cidr_match(const struct net_cidr *cidr, const struct sockaddr *sa);

/* A peer to connect to: "/unix/socket/path", "host:port" or
 * "[v6]:port", the host numeric or "localhost" (no DNS on the path of a
 * message). Text longer than NET_PEER_ADDRESS_MAX is refused. Returns 0,
 * or -1 with a static reason in *error_r. */
#define NET_PEER_ADDRESS_MAX 256
#define NET_PORT_MAX         65535
struct net_peer {
    struct sockaddr_storage ss;
    socklen_t len;
};
int net_parse_peer(const char *text, struct net_peer *out, const char **error_r);

/* Numeric text of an address ("192.0.2.1", "2001:db8::1"); IPv4-mapped
 * IPv6 addresses print as IPv4. Returns out. */
char *net_addr_text(const struct sockaddr *sa, char *out, size_t outsize);
/* The port of an AF_INET/AF_INET6 address. */
int net_addr_port(const struct sockaddr *sa);

#endif
