"""No open relay: mail for other domains is refused unless the client is in
relay_networks, including the classic local-part routing tricks."""

import time

import pytest

from postino_testlib import queued_id

TRICKS = [
    "bob%other.example@example.test",
    '"bob@other.example"@example.test',
    "other.example!bob@example.test",
    "@example.test:bob@other.example",
    "@example.test,@mx.example.test:bob@other.example",
    "nobody%other.example@example.test",
    '"bob%other.example"@example.test',
]


def assert_nothing_queued(srv):
    time.sleep(0.3)
    assert srv.spool("queue") == [], srv.spool("queue")
    assert srv.spool("incoming") == [], srv.spool("incoming")


def test_other_domain_refused(server):
    with server.smtp() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        for rcpt in ("someone@other.example", "bob@example.test.other.example",
                     "bob@sub.example.test", "bob@[127.0.0.1]", "postmaster@other.example"):
            r = c.cmd("RCPT TO:<%s>" % rcpt)
            assert (r.code, r.enh) == (554, "5.7.1"), (rcpt, r)
        r = c.cmd("DATA")
        assert r.code in (503, 554), r
        assert c.cmd("QUIT").code == 221
    assert_nothing_queued(server)
    assert server.grep_log(r"NOQUEUE: reject: RCPT from \[127\.0\.0\.1\]: 554 5\.7\.1 "
                           r"<someone@other\.example>")


@pytest.mark.parametrize("rcpt", TRICKS)
def test_routing_tricks_refused(server, rcpt):
    with server.smtp() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        r = c.cmd("RCPT TO:<%s>" % rcpt)
        assert (r.code, r.enh) == (554, "5.7.1"), (rcpt, r)
        # the session goes on, and a real recipient still works
        r = c.cmd("DATA")
        assert r.code in (503, 554), r
        c.cmd("QUIT")
    assert_nothing_queued(server)
    for user in ("bob", "alice", "carol"):
        assert server.messages(user) == []


def test_relay_tricks_refused_even_for_relay_networks_local_domain(make_server):
    # A trusted client may relay, but the tricks aimed at our own domain
    # must not turn into deliveries elsewhere nor into local mail.
    srv = make_server(relay_networks="127.0.0.0/8")
    with srv.smtp() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        for rcpt in TRICKS[:3]:
            r = c.cmd("RCPT TO:<%s>" % rcpt)
            assert (r.code, r.enh) == (554, "5.7.1"), (rcpt, r)
    assert_nothing_queued(srv)


def test_relay_allowed_from_relay_networks(make_server):
    srv = make_server(relay_networks="10.0.0.0/8, 127.0.0.0/8")
    with srv.smtp() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        r = c.cmd("RCPT TO:<someone@other.example>")
        assert (r.code, r.enh) == (250, "2.1.5"), r
        r = c.cmd("RCPT TO:<bob@example.test>")
        assert r.code == 250, r
        assert c.cmd("DATA").code == 354
        r = c.cmd("Subject: relayed\r\n\r\nhello\r\n.")
        assert r.code == 250, r
        qid = queued_id(r)
        c.cmd("QUIT")
    fields, rcpts = srv.read_envelope(qid)
    routes = {x["addr"]: x["route"] for x in rcpts}
    assert routes == {"someone@other.example": "remote", "bob@example.test": "local"}
    srv.wait_for_maildir("bob", 1)
    # the remote copy stays queued (no outbound delivery yet), not delivered locally
    srv.wait_envelope(qid, lambda f, r: [x["status"] for x in r if x["route"] == "remote"]
                      == ["deferred"])
    assert qid in srv.queue_ids()


def test_relay_networks_not_matching_client(make_server):
    srv = make_server(relay_networks="192.0.2.0/24")
    with srv.smtp() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        r = c.cmd("RCPT TO:<someone@other.example>")
        assert (r.code, r.enh) == (554, "5.7.1"), r
    assert_nothing_queued(srv)
