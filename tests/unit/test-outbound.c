/* Unit tests: next hops, routing, delivery status notifications, DNS name
 * decoding and the event history. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/dns.h"
#include "queue/dsn.h"
#include "queue/events.h"
#include "queue/route.h"
#include "queue/transport.h"
#include "state/state-db.h"
#include "state/state-domain.h"
#include "state/state-transport.h"

static void test_transport_parse(void **state)
{
    (void)state;
    struct transport t;
    const char *why;
    assert_int_equal(transport_parse("smtp:example.org", &t, &why), 0);
    assert_int_equal(t.kind, TRANSPORT_SMTP);
    assert_true(t.mx);
    assert_int_equal(t.port, 25);
    assert_string_equal(t.host, "example.org");
    assert_int_equal(transport_parse("smtp:[relay.example.org]:587", &t, &why), 0);
    assert_false(t.mx);
    assert_int_equal(t.port, 587);
    assert_string_equal(t.host, "relay.example.org");
    assert_int_equal(transport_parse("smtp:[192.0.2.1]", &t, &why), 0);
    assert_false(t.mx);
    assert_int_equal(t.port, 25);
    assert_int_equal(transport_parse("smtp:[2001:db8::1]:2525", &t, &why), 0);
    assert_string_equal(t.host, "2001:db8::1");
    assert_int_equal(transport_parse("lmtp:unix:/run/dovecot/lmtp", &t, &why), 0);
    assert_int_equal(t.kind, TRANSPORT_LMTP);
    assert_string_equal(t.path, "/run/dovecot/lmtp");
    assert_int_equal(transport_parse("lmtp:[127.0.0.1]:24", &t, &why), 0);
    assert_int_equal(t.port, 24);
    assert_int_equal(transport_parse("error:5.1.1 no such user", &t, &why), 0);
    assert_int_equal(t.kind, TRANSPORT_ERROR);
    assert_string_equal(t.error, "5.1.1 no such user");
    assert_int_equal(transport_parse("local", &t, &why), 0);
    assert_int_equal(transport_parse("discard", &t, &why), 0);
    static const char *const bad[] = {
        "smtp:",          "smtp:[x", "smtp:host:0", "smtp:host:99999", "lmtp:[h]", "lmtp:unix:rel",
        "error:2.0.0 ok", "error:",  "ftp:x",       "smtp:a b",        "smtp:[h]x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (transport_parse(bad[i], &t, &why) != -1)
            fail_msg("'%s' accepted", bad[i]);
}

static char dir[] = "/tmp/postino-test-outbound-XXXXXX";

static void test_route(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(dir));
    char path[300];
    snprintf(path, sizeof(path), "%s/postino.db", dir);
    char *err = NULL;
    struct state_db *db = state_db_open(path, true, &err);
    assert_non_null(db);
    assert_int_equal(state_domain_add(db, "ours.test", &err), 0);
    assert_int_equal(state_transport_set(db, "ours.test", "lmtp:unix:/run/lmtp", &err), 0);
    assert_int_equal(state_transport_set(db, ".corp.test", "smtp:[gw.corp.test]:2525", &err), 0);
    assert_int_equal(state_transport_set(db, "spam.test", "error:5.7.1 no mail to them", &err), 0);
    assert_int_equal(state_transport_set(db, "later.test", "error:4.4.1 wait", &err), 0);
    assert_int_equal(state_transport_set(db, "void.test", "discard", &err), 0);
    assert_int_equal(state_transport_set(db, "bad..test", "local", &err), -1);
    free(err);
    err = NULL;
    assert_int_equal(state_transport_set(db, "x.test", "nonsense", &err), -1);
    free(err);
    err = NULL;
    struct config *cfg = config_new_default();
    struct envelope_rcpt r = {.route = ROUTE_REMOTE};
    struct route rt;
    r.addr = (char *)"bob@ours.test";
    r.route = ROUTE_LOCAL;
    route_rcpt(db, cfg, &r, &rt);
    assert_int_equal(rt.kind, ROUTE_TO_SMTP);
    assert_string_equal(rt.nexthop, "lmtp:unix:/run/lmtp");
    r.route = ROUTE_REMOTE;
    r.addr = (char *)"x@mail.corp.test";
    route_rcpt(db, cfg, &r, &rt);
    assert_string_equal(rt.nexthop, "smtp:[gw.corp.test]:2525");
    r.addr = (char *)"x@spam.test";
    route_rcpt(db, cfg, &r, &rt);
    assert_int_equal(rt.kind, ROUTE_TO_BOUNCE);
    r.addr = (char *)"x@later.test";
    route_rcpt(db, cfg, &r, &rt);
    assert_int_equal(rt.kind, ROUTE_TO_DEFER);
    r.addr = (char *)"x@void.test";
    route_rcpt(db, cfg, &r, &rt);
    assert_int_equal(rt.kind, ROUTE_TO_DISCARD);
    r.addr = (char *)"x@elsewhere.test";
    route_rcpt(db, cfg, &r, &rt);
    assert_int_equal(rt.kind, ROUTE_TO_SMTP);
    assert_string_equal(rt.nexthop, "smtp:elsewhere.test");
    assert_int_equal(config_set(cfg, "relayhost", "[smart.test]:587", &err), 0);
    route_rcpt(db, cfg, &r, &rt);
    assert_string_equal(rt.nexthop, "relayhost");
    config_free(&cfg);
    state_db_close(&db);
}

static void test_dsn(void **state)
{
    (void)state;
    char st[16];
    dsn_status_of("550 5.1.1 no such user", true, st);
    assert_string_equal(st, "5.1.1");
    dsn_status_of("4.3.0 disk full", false, st);
    assert_string_equal(st, "4.3.0");
    dsn_status_of("554 go away", true, st);
    assert_string_equal(st, "5.0.0");
    dsn_status_of("connection refused", false, st);
    assert_string_equal(st, "4.0.0");
    dsn_status_of("250 5.1.1x", true, st);
    assert_string_equal(st, "2.0.0");

    struct dsn_rcpt r[2] = {
        {"bad@remote.test", "rfc822;Bad@remote.test", DSN_FAILED, "550 5.1.1 user unknown",
         "mx.remote.test", 1700000000},
        {"slow@remote.test", NULL, DSN_DELAYED, "451 4.2.0 try later", NULL, 1700000000},
    };
    struct dsn_info info = {.hostname = "mx.me.test",
                            .qid = "0CJQ4VS7H8M2G",
                            .envid = "QQ314",
                            .arrival = 1700000000,
                            .now = 1700000100,
                            .sender = "alice@me.test",
                            .retry_until = 1700432000};
    const char *orig = "Subject: hello\r\nFrom: alice@me.test\r\n";
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    dsn_compose(&info, r, 2, orig, strlen(orig), false, &b);
    const char *t = buf_cstr(&b);
    static const char *const must[] = {
        "From: Mail Delivery System <MAILER-DAEMON@mx.me.test>\r\n",
        "To: <alice@me.test>\r\n",
        "Subject: Undelivered Mail Returned to Sender\r\n",
        "Auto-Submitted: auto-replied\r\n",
        "Content-Type: multipart/report; report-type=delivery-status;",
        "<bad@remote.test>: host mx.remote.test said: 550 5.1.1 user unknown\r\n",
        "Content-Type: message/delivery-status\r\n",
        "Reporting-MTA: dns; mx.me.test\r\n",
        "Original-Envelope-Id: QQ314\r\n",
        "Original-Recipient: rfc822;Bad@remote.test\r\n",
        "Final-Recipient: rfc822; bad@remote.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Remote-MTA: dns; mx.remote.test\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n",
        "Final-Recipient: rfc822; slow@remote.test\r\nAction: delayed\r\nStatus: 4.2.0\r\n",
        "Will-Retry-Until: ",
        "Content-Type: text/rfc822-headers\r\n\r\nSubject: hello\r\n",
    };
    for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++)
        if (!strstr(t, must[i]))
            fail_msg("the DSN lacks: %s\n---\n%s", must[i], t);
    /* every line ends in CRLF, and the closing boundary is there */
    for (const char *p = t; (p = strchr(p, '\n')) != NULL; p++)
        assert_true(p > t && p[-1] == '\r');
    assert_non_null(strstr(t, "--0CJQ4VS7H8M2G.1700000100/mx.me.test--\r\n"));
    buf_free(&b);
}

static void test_dns_name_decode(void **state)
{
    (void)state;
    char out[256];
    const unsigned char mx[] = {0,   10,  2,   'm', 'x', 7,   'E', 'x', 'a',
                                'm', 'p', 'l', 'e', 3,   'o', 'r', 'g', 0};
    assert_int_equal(dns_name_decode(mx, sizeof(mx), 2, out, sizeof(out)), 16);
    assert_string_equal(out, "mx.example.org");
    const unsigned char root[] = {0};
    assert_int_equal(dns_name_decode(root, 1, 0, out, sizeof(out)), 1);
    assert_string_equal(out, ".");
    const unsigned char cut[] = {3, 'a', 'b'};
    assert_int_equal(dns_name_decode(cut, sizeof(cut), 0, out, sizeof(out)), -1);
    const unsigned char dot[] = {3, 'a', '.', 'b', 0};
    assert_int_equal(dns_name_decode(dot, sizeof(dot), 0, out, sizeof(out)), -1);
    const unsigned char big[] = {64, 'a'};
    assert_int_equal(dns_name_decode(big, sizeof(big), 0, out, sizeof(out)), -1);
    assert_int_equal(dns_name_decode(mx, sizeof(mx), 2, out, 5), -1);
}

struct seen {
    int n;
    char kinds[256];
};

static void on_ev(const struct event *ev, void *arg)
{
    struct seen *s = arg;
    s->n++;
    strcat(s->kinds, ev->kind);
    strcat(s->kinds, " ");
}

static void test_events(void **state)
{
    (void)state;
    char sdir[400];
    snprintf(sdir, sizeof(sdir), "%s/state", dir);
    mkdir(sdir, 0700);
    char *err = NULL;
    struct events *e = events_open(dir, &err);
    assert_non_null(e);
    events_add(e, "0CJQ4VS7H8M2G", "received", NULL, "from <%s>", "a@b.test");
    events_add(e, "0CJQ4VS7H8M2G", "delivered", "c@d.test", "250 ok");
    events_add(e, "0CJQ4VS7H8M2H", "received", NULL, "other");
    const char *addrs[] = {"a@b.test", "c@d.test"};
    events_index(e, "0CJQ4VS7H8M2G", "<m1@b.test>", addrs, 2);
    assert_true(events_pending(e) > 0);
    events_flush(e);
    assert_int_equal(events_pending(e), 0);
    struct seen s = {0, ""};
    assert_int_equal(events_of(e, "0CJQ4VS7H8M2G", 0, on_ev, &s), 2);
    assert_string_equal(s.kinds, "received delivered ");
    char q[4][16];
    assert_int_equal(events_find_by_message_id(e, "<m1@b.test>", q, 4), 1);
    assert_string_equal(q[0], "0CJQ4VS7H8M2G");
    assert_int_equal(events_find_by_address(e, "C@D.test", 0, q, 4), 1);
    assert_int_equal(events_find_by_address(e, "nobody@x", 0, q, 4), 0);
    events_prune(e, 4102444800LL); /* everything is older than 2100 */
    s.n = 0;
    assert_int_equal(events_of(e, "0CJQ4VS7H8M2G", 0, on_ev, &s), 0);
    events_close(&e);
    char cmd[500];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}
/* A FILTERed message: every recipient to the filter's next hop, whatever
 * its own route; a next hop the queue cannot use defers with the reason. */
static void test_route_filter(void **state)
{
    (void)state;
    static const struct {
        const char *spec;
        enum route_kind kind;
        const char *text; /* the start of rt.text, or the next hop */
    } cases[] = {
        {"smtp:[127.0.0.1]:10025", ROUTE_TO_SMTP, "smtp:[127.0.0.1]:10025"},
        {"lmtp:unix:/run/filter", ROUTE_TO_SMTP, "lmtp:unix:/run/filter"},
        {"smtp:[127.0.0.1]:0", ROUTE_TO_DEFER,
         "4.3.5 bad content filter next hop 'smtp:[127.0.0.1]:0': bad port"},
        {"local", ROUTE_TO_DEFER, "4.3.5 bad content filter next hop 'local': not smtp: or lmtp:"},
        {"discard", ROUTE_TO_DEFER, "4.3.5 bad content filter next hop 'discard': not smtp:"},
        {"error:5.7.1 no", ROUTE_TO_DEFER, "4.3.5 bad content filter next hop 'error:5.7.1 no'"},
        {"", ROUTE_TO_DEFER, "4.3.5 bad content filter next hop '': expected smtp:"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct route rt;
        route_filter(cases[i].spec, &rt);
        const char *got = rt.kind == ROUTE_TO_SMTP ? rt.nexthop : rt.text;
        if (rt.kind != cases[i].kind || strncmp(got, cases[i].text, strlen(cases[i].text)) != 0)
            fail_msg("case %zu \"%s\": kind %d \"%s\"", i, cases[i].spec, (int)rt.kind, got);
    }
    /* longer than a route's next hop */
    char spec[400];
    memset(spec, 'a', sizeof(spec) - 1);
    spec[sizeof(spec) - 1] = '\0';
    memcpy(spec, "smtp:", 5);
    struct route rt;
    route_filter(spec, &rt);
    assert_int_equal(rt.kind, ROUTE_TO_DEFER);
    assert_non_null(strstr(rt.text, ": next hop too long"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transport_parse), cmocka_unit_test(test_route),
        cmocka_unit_test(test_route_filter),    cmocka_unit_test(test_dsn),
        cmocka_unit_test(test_dns_name_decode), cmocka_unit_test(test_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
