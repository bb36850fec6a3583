#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/un.h>

#include "str.h"

int net_parse_listen(const char *text, struct net_listen_addr *out, const char **error_r)
{
    memset(out, 0, sizeof(*out));
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text) {
        *error_r = "expected HOST:PORT";
        return -1;
    }
    unsigned long long port;
    if (str_to_u64(colon + 1, strlen(colon + 1), 65535, &port) < 0 || port == 0) {
        *error_r = "bad port number";
        return -1;
    }
    char host[64];
    size_t hlen = (size_t)(colon - text);
    if (text[0] == '[') {
        if (hlen < 2 || text[hlen - 1] != ']') {
            *error_r = "IPv6 address must be written [ADDRESS]:PORT";
            return -1;
        }
        if (str_copyn(host, sizeof(host), text + 1, hlen - 2) < 0) {
            *error_r = "bad host";
            return -1;
        }
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->ss;
        if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1) {
            *error_r = "bad IPv6 address";
            return -1;
        }
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        out->len = sizeof(*s6);
        return 0;
    }
    if (str_copyn(host, sizeof(host), text, hlen) < 0) {
        *error_r = "bad host";
        return -1;
    }
    if (strcmp(host, "*") == 0) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_addr = in6addr_any;
        s6->sin6_port = htons((uint16_t)port);
        out->len = sizeof(*s6);
        out->any = true;
        return 0;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)&out->ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) != 1) {
        *error_r = "bad IPv4 address (host names are not allowed here)";
        return -1;
    }
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    out->len = sizeof(*s4);
    return 0;
}

/* Create, bind and listen one socket of the given address. */
static int net_listen_one(const struct sockaddr *sa, socklen_t len, int backlog, bool dual)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (sa->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual ? &zero : &one, sizeof(int));
    if (bind(fd, sa, len) < 0 || listen(fd, backlog) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int net_listen(const struct net_listen_addr *addr, int backlog)
{
    int fd = net_listen_one((const struct sockaddr *)&addr->ss, addr->len, backlog, addr->any);
    if (fd >= 0 || !addr->any || (errno != EAFNOSUPPORT && errno != EADDRNOTAVAIL))
        return fd;
    /* No IPv6 on this machine: "*" means every IPv4 address. */
    struct sockaddr_in s4;
    memset(&s4, 0, sizeof(s4));
    s4.sin_family = AF_INET;
    s4.sin_addr.s_addr = htonl(INADDR_ANY);
    s4.sin_port = ((const struct sockaddr_in6 *)&addr->ss)->sin6_port;
    return net_listen_one((struct sockaddr *)&s4, sizeof(s4), backlog, false);
}

int net_parse_cidr(const char *text, struct net_cidr *out)
{
    memset(out, 0, sizeof(*out));
    char host[64];
    const char *slash = strchr(text, '/');
    size_t hlen = slash ? (size_t)(slash - text) : strlen(text);
    if (str_copyn(host, sizeof(host), text, hlen) < 0)
        return -1;
    unsigned maxbits;
    if (inet_pton(AF_INET, host, out->addr) == 1) {
        out->family = AF_INET;
        maxbits = 32;
    } else if (inet_pton(AF_INET6, host, out->addr) == 1) {
        out->family = AF_INET6;
        maxbits = 128;
    } else {
        return -1;
    }
    out->prefix = maxbits;
    if (slash) {
        unsigned long long p;
        if (str_to_u64(slash + 1, strlen(slash + 1), maxbits, &p) < 0)
            return -1;
        out->prefix = (unsigned)p;
    }
    return 0;
}

/* The sockaddr a caller passes really is a sockaddr_in / sockaddr_in6
 * (it comes from a sockaddr_storage or from the kernel), so it is aligned
 * for one. Converting through const void * states that; the direct casts
 * failed clang's -Wcast-align, so the project (and the fuzz targets) did
 * not build with clang at all. */
static const struct sockaddr_in *as_in(const struct sockaddr *sa)
{
    return (const void *)sa;
}

static const struct sockaddr_in6 *as_in6(const struct sockaddr *sa)
{
    return (const void *)sa;
}

bool net_cidr_match(const struct net_cidr *cidr, const struct sockaddr *sa)
{
    const uint8_t *a;
    int family = sa->sa_family;
    if (family == AF_INET) {
        a = (const uint8_t *)&as_in(sa)->sin_addr;
    } else if (family == AF_INET6) {
        const struct sockaddr_in6 *s6 = as_in6(sa);
        a = s6->sin6_addr.s6_addr;
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
            a += 12;
            family = AF_INET;
        }
    } else {
        return false;
    }
    if (family != cidr->family)
        return false;
    unsigned bits = cidr->prefix;
    size_t full = bits / 8;
    if (memcmp(a, cidr->addr, full) != 0)
        return false;
    if (bits % 8) {
        uint8_t mask = (uint8_t)(0xff << (8 - bits % 8));
        if ((a[full] & mask) != (cidr->addr[full] & mask))
            return false;
    }
    return true;
}

char *net_addr_text(const struct sockaddr *sa, char *out, size_t outsize)
{
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &as_in(sa)->sin_addr, out, (socklen_t)outsize);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = as_in6(sa);
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
            inet_ntop(AF_INET, s6->sin6_addr.s6_addr + 12, out, (socklen_t)outsize);
        else
            inet_ntop(AF_INET6, &s6->sin6_addr, out, (socklen_t)outsize);
    } else if (sa->sa_family == AF_UNIX) {
        str_copy(out, outsize, "local");
    } else {
        str_copy(out, outsize, "unknown");
    }
    return out;
}

int net_addr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(as_in(sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(as_in6(sa)->sin6_port);
    return 0;
}

int net_parse_peer(const char *text, struct net_peer *out, const char **error_r)
{
    struct sockaddr_storage *ss = &out->ss;
    socklen_t *len = &out->len;
    memset(out, 0, sizeof(*out));
    if (text == NULL || text[0] == '\0') {
        *error_r = "empty address";
        return -1;
    }
    size_t n = strnlen(text, NET_PEER_ADDRESS_MAX);
    if (n >= NET_PEER_ADDRESS_MAX) {
        *error_r = "address too long";
        return -1;
    }
    if (text[0] == '/') {
        struct sockaddr_un *sun = (struct sockaddr_un *)ss;
        if (n >= sizeof(sun->sun_path)) {
            *error_r = "socket path too long";
            return -1;
        }
        sun->sun_family = AF_UNIX;
        memcpy(sun->sun_path, text, n + 1);
        *len = (socklen_t)sizeof(*sun);
        return 0;
    }
    char host[INET6_ADDRSTRLEN + 1];
    const char *port;
    bool v6 = false;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':' ||
            str_copyn(host, sizeof(host), text + 1, (size_t)(close - text - 1)) != 0) {
            *error_r = "expected [IPv6]:port";
            return -1;
        }
        port = close + 2;
        v6 = true;
    } else {
        const char *colon = strchr(text, ':');
        if (colon == NULL || strchr(colon + 1, ':') != NULL ||
            str_copyn(host, sizeof(host), text, (size_t)(colon - text)) != 0) {
            *error_r = "expected a socket path, host:port or [IPv6]:port";
            return -1;
        }
        port = colon + 1;
    }
    unsigned long long p;
    if (str_to_u64(port, strlen(port), NET_PORT_MAX, &p) != 0 || p == 0) {
        *error_r = "bad port";
        return -1;
    }
    if (v6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
            *error_r = "bad IPv6 address";
            return -1;
        }
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)p);
        *len = (socklen_t)sizeof(*sin6);
        return 0;
    }
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    if (str_eq_ci(host, "localhost")) {
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
        *error_r = "the host must be a numeric IPv4 address or localhost";
        return -1;
    }
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)p);
    *len = (socklen_t)sizeof(*sin);
    return 0;
}
