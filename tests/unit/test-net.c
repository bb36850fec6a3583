/* Unit tests of src/lib/net.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/net.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Build a sockaddr from numeric text (IPv4 or IPv6) and a port. */
static struct sockaddr_storage make_addr(const char *text, int port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, text, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, text, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
    } else {
        fail_msg("bad test address %s", text);
    }
    return ss;
}

static void test_net_parse_listen(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int want_ret;
        int family;
        const char *addr; /* numeric text of the parsed address */
        int port;
        bool any;
    } cases[] = {
        {"127.0.0.1:25", 0, AF_INET, "127.0.0.1", 25, false},
        {"0.0.0.0:2525", 0, AF_INET, "0.0.0.0", 2525, false},
        {"192.0.2.1:65535", 0, AF_INET, "192.0.2.1", 65535, false},
        {"192.0.2.1:1", 0, AF_INET, "192.0.2.1", 1, false},
        {"[::1]:25", 0, AF_INET6, "::1", 25, false},
        {"[2001:db8::1]:587", 0, AF_INET6, "2001:db8::1", 587, false},
        {"[::ffff:192.0.2.1]:25", 0, AF_INET6, "192.0.2.1", 25, false},
        {"*:25", 0, AF_INET6, "::", 25, true},
        {"192.0.2.1:0", -1, 0, NULL, 0, false},     /* port 0 */
        {"192.0.2.1:65536", -1, 0, NULL, 0, false}, /* port one past the last */
        {"192.0.2.1:", -1, 0, NULL, 0, false},
        {"192.0.2.1:-1", -1, 0, NULL, 0, false},
        {"192.0.2.1:25x", -1, 0, NULL, 0, false},
        {"192.0.2.1", -1, 0, NULL, 0, false},
        {":25", -1, 0, NULL, 0, false},
        {"localhost:25", -1, 0, NULL, 0, false}, /* no DNS at start-up */
        {"192.0.2:25", -1, 0, NULL, 0, false},
        {"::1:25", -1, 0, NULL, 0, false},  /* IPv6 needs brackets */
        {"[::1:25", -1, 0, NULL, 0, false}, /* unbalanced */
        {"[::1]", -1, 0, NULL, 0, false},
        {"[]:25", -1, 0, NULL, 0, false},
        {"[192.0.2.1]:25", -1, 0, NULL, 0, false}, /* brackets mean IPv6 */
        {"**:25", -1, 0, NULL, 0, false},
        {"", -1, 0, NULL, 0, false},
        /* A host longer than any numeric address. */
        {"1111111111111111111111111111111111111111111111111111111111111111111:25", -1, 0, NULL, 0,
         false},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct net_listen_addr a;
        const char *err = NULL;
        int r = net_parse_listen(cases[i].text, &a, &err);
        if (r != cases[i].want_ret)
            fail_msg("case %zu \"%s\": got %d", i, cases[i].text, r);
        if (r < 0) {
            if (err == NULL || err[0] == '\0')
                fail_msg("case %zu: no reason", i);
            continue;
        }
        const struct sockaddr *sa = (const struct sockaddr *)&a.ss;
        assert_int_equal(sa->sa_family, cases[i].family);
        assert_int_equal(a.len, cases[i].family == AF_INET ? sizeof(struct sockaddr_in)
                                                           : sizeof(struct sockaddr_in6));
        assert_int_equal(a.any, cases[i].any);
        assert_int_equal(net_addr_port(sa), cases[i].port);
        char text[INET6_ADDRSTRLEN];
        net_addr_text(sa, text, sizeof(text));
        if (strcmp(text, cases[i].addr) != 0)
            fail_msg("case %zu: address %s", i, text);
    }
}

/* Listen on addr with an ephemeral port; returns the fd and the port. */
static int listen_ephemeral(const char *text, int *port)
{
    struct net_listen_addr a;
    const char *err;
    assert_int_equal(net_parse_listen(text, &a, &err), 0);
    /* Port 0 cannot be written in the text: set it here. */
    if (a.ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&a.ss)->sin_port = 0;
    else
        ((struct sockaddr_in6 *)&a.ss)->sin6_port = 0;
    int fd = net_listen(&a, 16);
    if (fd < 0)
        return -1;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    *port = net_addr_port((struct sockaddr *)&ss);
    assert_true(*port > 0);
    return fd;
}

/* Connect to text:port; true if the connection was established. */
static bool can_connect(const char *text, int port)
{
    struct sockaddr_storage ss = make_addr(text, port);
    int fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    socklen_t len =
        ss.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    bool ok = connect(fd, (struct sockaddr *)&ss, len) == 0;
    close(fd);
    return ok;
}

static void check_listen_socket(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    assert_true(fl >= 0 && (fl & O_NONBLOCK));
    int fdfl = fcntl(fd, F_GETFD);
    assert_true(fdfl >= 0 && (fdfl & FD_CLOEXEC));
    int v = 0;
    socklen_t len = sizeof(v);
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len), 0);
    assert_int_equal(v, 1);
    len = sizeof(v);
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, &len), 0);
    assert_int_equal(v, 1);
    len = sizeof(v);
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &v, &len), 0);
    assert_int_equal(v, 1);
}

static void test_net_listen_ipv4(void **state)
{
    (void)state;
    int port;
    int fd = listen_ephemeral("127.0.0.1:1", &port);
    assert_true(fd >= 0);
    check_listen_socket(fd);
    assert_true(can_connect("127.0.0.1", port));
    /* SO_REUSEPORT: a second process (here a second socket) may share it. */
    struct net_listen_addr a;
    const char *err;
    char text[32];
    int n = snprintf(text, sizeof(text), "127.0.0.1:%d", port);
    assert_true(n > 0 && (size_t)n < sizeof(text));
    assert_int_equal(net_parse_listen(text, &a, &err), 0);
    int fd2 = net_listen(&a, 16);
    assert_true(fd2 >= 0);
    close(fd2);
    close(fd);
}

static void test_net_listen_any_and_ipv6(void **state)
{
    (void)state;
    int port;
    int fd = listen_ephemeral("[::1]:1", &port);
    if (fd < 0 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL))
        skip(); /* no IPv6 loopback here */
    assert_true(fd >= 0);
    check_listen_socket(fd);
    assert_true(can_connect("::1", port));
    close(fd);

    /* "*" is dual-stack: IPv4 and IPv6 clients both reach it. */
    fd = listen_ephemeral("*:1", &port);
    assert_true(fd >= 0);
    check_listen_socket(fd);
    assert_true(can_connect("127.0.0.1", port));
    assert_true(can_connect("::1", port));
    close(fd);
}

static void test_net_listen_errors(void **state)
{
    (void)state;
    /* An address this machine does not have (unless the system lets
     * anyone bind foreign addresses). */
    FILE *f = fopen("/proc/sys/net/ipv4/ip_nonlocal_bind", "r");
    if (f) {
        int c = fgetc(f);
        fclose(f);
        if (c == '1')
            skip();
    }
    struct net_listen_addr a;
    const char *err;
    assert_int_equal(net_parse_listen("192.0.2.123:2525", &a, &err), 0);
    errno = 0;
    assert_int_equal(net_listen(&a, 16), -1);
    assert_int_equal(errno, EADDRNOTAVAIL);
}

static void test_net_parse_cidr(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int want_ret;
        int family;
        unsigned prefix;
    } cases[] = {
        {"192.0.2.0/24", 0, AF_INET, 24},
        {"10.0.0.0/8", 0, AF_INET, 8},
        {"0.0.0.0/0", 0, AF_INET, 0},
        {"127.0.0.1", 0, AF_INET, 32},
        {"192.0.2.1/32", 0, AF_INET, 32},
        {"192.0.2.1/33", -1, 0, 0}, /* one past the IPv4 maximum */
        {"2001:db8::/32", 0, AF_INET6, 32},
        {"::1", 0, AF_INET6, 128},
        {"::/0", 0, AF_INET6, 0},
        {"2001:db8::1/128", 0, AF_INET6, 128},
        {"2001:db8::1/129", -1, 0, 0}, /* one past the IPv6 maximum */
        {"10.0.0.0/", -1, 0, 0},
        {"10.0.0.0/x", -1, 0, 0},
        {"10.0.0.0/-1", -1, 0, 0},
        {"10.0.0.0/8/8", -1, 0, 0},
        {"10.0.0/8", -1, 0, 0},
        {"example.org/8", -1, 0, 0},
        {"", -1, 0, 0},
        {"/8", -1, 0, 0},
        {"[::1]/128", -1, 0, 0},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct net_cidr c;
        int r = net_parse_cidr(cases[i].text, &c);
        if (r != cases[i].want_ret)
            fail_msg("case %zu \"%s\": got %d", i, cases[i].text, r);
        if (r == 0 && (c.family != cases[i].family || c.prefix != cases[i].prefix))
            fail_msg("case %zu \"%s\": family %d prefix %u", i, cases[i].text, c.family, c.prefix);
    }
}

static void test_net_cidr_match(void **state)
{
    (void)state;
    static const struct {
        const char *net;
        const char *addr;
        bool match;
    } cases[] = {
        {"192.0.2.0/24", "192.0.2.0", true},
        {"192.0.2.0/24", "192.0.2.255", true},
        {"192.0.2.0/24", "192.0.3.0", false},
        {"192.0.2.0/24", "192.0.1.255", false},
        {"192.0.2.0/23", "192.0.3.7", true}, /* prefix not on a byte boundary */
        {"192.0.2.0/23", "192.0.4.0", false},
        {"192.0.2.128/25", "192.0.2.128", true},
        {"192.0.2.128/25", "192.0.2.127", false},
        {"192.0.2.2/31", "192.0.2.3", true},
        {"192.0.2.2/31", "192.0.2.4", false},
        {"192.0.2.1", "192.0.2.1", true},
        {"192.0.2.1", "192.0.2.2", false},
        {"0.0.0.0/0", "203.0.113.9", true},
        {"0.0.0.0/0", "2001:db8::1", false}, /* families never mix */
        /* IPv4-mapped IPv6 clients count as IPv4. */
        {"192.0.2.0/24", "::ffff:192.0.2.77", true},
        {"192.0.2.0/24", "::ffff:192.0.3.77", false},
        {"2001:db8::/32", "2001:db8:ffff::1", true},
        {"2001:db8::/32", "2001:db9::1", false},
        {"2001:db8::/33", "2001:db8:7fff::1", true},
        {"2001:db8::/33", "2001:db8:8000::1", false},
        {"::1", "::1", true},
        {"::1", "::2", false},
        {"::/0", "2001:db8::1", true},
        {"::/0", "192.0.2.1", false},
        {"2001:db8::/32", "192.0.2.1", false},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct net_cidr c;
        assert_int_equal(net_parse_cidr(cases[i].net, &c), 0);
        struct sockaddr_storage ss = make_addr(cases[i].addr, 25);
        if (net_cidr_match(&c, (struct sockaddr *)&ss) != cases[i].match)
            fail_msg("case %zu: %s in %s", i, cases[i].addr, cases[i].net);
    }
    /* Other address families never match. */
    struct net_cidr c;
    assert_int_equal(net_parse_cidr("0.0.0.0/0", &c), 0);
    struct sockaddr_un un;
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    assert_false(net_cidr_match(&c, (struct sockaddr *)&un));
}

static void test_net_addr_text_port(void **state)
{
    (void)state;
    static const struct {
        const char *addr;
        int port;
        const char *want;
    } cases[] = {
        {"192.0.2.1", 25, "192.0.2.1"},
        {"2001:db8::1", 587, "2001:db8::1"},
        {"::ffff:192.0.2.1", 2525, "192.0.2.1"},
        {"::1", 65535, "::1"},
        {"0.0.0.0", 1, "0.0.0.0"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct sockaddr_storage ss = make_addr(cases[i].addr, cases[i].port);
        char out[INET6_ADDRSTRLEN];
        char *r = net_addr_text((struct sockaddr *)&ss, out, sizeof(out));
        assert_ptr_equal(r, out);
        assert_string_equal(out, cases[i].want);
        assert_int_equal(net_addr_port((struct sockaddr *)&ss), cases[i].port);
    }
    struct sockaddr_un un;
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    char out[INET6_ADDRSTRLEN];
    assert_string_equal(net_addr_text((struct sockaddr *)&un, out, sizeof(out)), "local");
    assert_int_equal(net_addr_port((struct sockaddr *)&un), 0);
    struct sockaddr other;
    memset(&other, 0, sizeof(other));
    other.sa_family = AF_UNSPEC;
    assert_string_equal(net_addr_text(&other, out, sizeof(out)), "unknown");
    /* A small output buffer is never overrun. */
    char small[4];
    net_addr_text((struct sockaddr *)&un, small, sizeof(small));
    assert_string_equal(small, "loc");
}

static void test_parse_peer(void **state)
{
    (void)state;
    struct net_peer peer;
    const char *err = NULL;
    assert_int_equal(net_parse_peer("/run/clamav/clamd.ctl", &peer, &err), 0);
    assert_int_equal(peer.ss.ss_family, AF_UNIX);
    assert_int_equal(net_parse_peer("127.0.0.1:3310", &peer, &err), 0);
    assert_int_equal(peer.ss.ss_family, AF_INET);
    assert_int_equal(net_addr_port((struct sockaddr *)&peer.ss), 3310);
    assert_int_equal(net_parse_peer("localhost:11332", &peer, &err), 0);
    assert_int_equal(peer.ss.ss_family, AF_INET);
    assert_int_equal(net_parse_peer("[::1]:8891", &peer, &err), 0);
    assert_int_equal(peer.ss.ss_family, AF_INET6);
    assert_int_equal(net_addr_port((struct sockaddr *)&peer.ss), 8891);
    const char *bad[] = {"",
                         "host-without-port",
                         "mail.example.org:25",
                         "127.0.0.1:0",
                         "127.0.0.1:65536",
                         "[::1]8891",
                         "[not-v6]:1",
                         "1:2:3",
                         "127.0.0.1:x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = NULL;
        if (net_parse_peer(bad[i], &peer, &err) != -1 || err == NULL)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    char longpath[300];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(net_parse_peer(longpath, &peer, &err), -1);
    assert_int_equal(net_parse_peer(NULL, &peer, &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_net_parse_listen),        cmocka_unit_test(test_net_listen_ipv4),
        cmocka_unit_test(test_net_listen_any_and_ipv6), cmocka_unit_test(test_net_listen_errors),
        cmocka_unit_test(test_net_parse_cidr),          cmocka_unit_test(test_net_cidr_match),
        cmocka_unit_test(test_net_addr_text_port),      cmocka_unit_test(test_parse_peer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
