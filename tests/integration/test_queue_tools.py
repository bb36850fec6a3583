"""`postino queue list|show|flush|retry|hold|release|delete|delete --from|
bounce` (and --json) while the server runs, on mail deferred by a peer
that says 451 until told otherwise."""

import json
import re
import time

from peers import peers  # noqa: F401 (the fixture)
from peers import (OUTBOUND, dsns, mx_domain, parse_dsn, queue_json,
                   queue_message, rcpt_states, send, wait_dsns, wait_event, wait_states,
                   wait_until)

SENDER = "bob@example.test"


def deferring(make_server, dns, peers, **settings):
    """A server whose remote mail is deferred (no retry for an hour) by a
    peer answering 451 to every RCPT until peer.rcpt_replies is cleared."""
    peer = peers.smtp()
    peer.rcpt_replies["*"] = "451 4.3.0 not now"
    domain = mx_domain(dns, peer.host)
    s = dict(OUTBOUND, queue_retry_min="1h", queue_retry_max="2h")
    s.update(settings)
    srv = make_server(**s)
    return srv, peer, domain


def queue_deferred(srv, domain, local="carol", sender=SENDER):
    rcpt = "%s@%s" % (local, domain)
    qid, _, _ = send(srv, sender, [rcpt])
    wait_states(srv, qid, {rcpt: "deferred"})
    return qid, rcpt


def retry_when_known(srv, qid, timeout=10):
    """`postino queue retry ID` once the queue manager has the message."""
    def attempt():
        r = srv.cli("queue", "retry", qid, check=False)
        return r.returncode == 0 or False
    wait_until("the queue manager to take %s back" % qid, attempt, timeout, interval=0.3)


def test_list_and_show(make_server, dns, peers):
    srv, peer, domain = deferring(make_server, dns, peers)
    q1, r1 = queue_deferred(srv, domain, "carol")
    q2, r2 = queue_deferred(srv, domain, "dave", sender="alice@example.test")
    out = srv.cli("queue", "list").out
    assert out.rstrip().endswith("-- 2 messages in the queue, 0 held"), out
    for qid, rcpt, sender in ((q1, r1, SENDER), (q2, r2, "alice@example.test")):
        assert re.search(r"^%s  +\d+ \w{3} [ \d]\d \d\d:\d\d:\d\d  <%s>$"
                         % (qid, re.escape(sender)), out, re.M), out
        assert re.search(r"^    %s +deferred, next try \w{3} [ \d]\d \d\d:\d\d:\d\d "
                         r"\(451 4\.3\.0 not now\)$" % re.escape(rcpt), out, re.M), out
    doc = queue_json(srv)
    assert sorted(m["id"] for m in doc) == sorted([q1, q2])
    m1 = [m for m in doc if m["id"] == q1][0]
    assert m1["sender"] == SENDER and m1["held"] is False
    assert m1["size"] > 0 and abs(m1["arrival"] - time.time()) < 60
    [r] = m1["recipients"]
    assert r["address"] == r1 and r["status"] == "deferred" and r["route"] == "remote"
    assert r["attempts"] == 1
    assert 3000 < r["next_try"] - time.time() <= 3600
    assert r["last_reply"] == "451 4.3.0 not now"
    assert r["relay"] == "mx1." + domain

    show = srv.cli("queue", "show", q1).out
    assert show.startswith(q1), show
    assert re.search(r"client \S*127\.0\.0\.1\S* helo client\.example\.org proto E?SMTP, "
                     r"body 7BIT", show), show
    js = json.loads(srv.cli("queue", "show", q1, "--json").out)
    assert js["id"] == q1 and js["recipients"] == m1["recipients"]

    r = srv.cli("queue", "show", "1NGMAAAAAAAAA", check=False)
    assert r.returncode == 1 and "no such message" in r.err, (r.out, r.err)
    r = srv.cli("queue", "list", "extra", check=False)
    assert r.returncode == 2


def test_empty_queue(make_server):
    srv = make_server(**OUTBOUND)
    assert srv.cli("queue", "list").out.strip() == "-- 0 messages in the queue, 0 held"
    assert queue_json(srv) == []


def test_flush(make_server, dns, peers):
    srv, peer, domain = deferring(make_server, dns, peers)
    q1, r1 = queue_deferred(srv, domain, "carol")
    q2, r2 = queue_deferred(srv, domain, "dave")
    time.sleep(1.2)
    assert len([l for l in peer.lines() if l.startswith("RCPT")]) == 2   # no retry by itself
    peer.rcpt_replies.clear()
    out = srv.cli("queue", "flush").out
    assert out.strip() == "2 messages to be tried now", out
    msgs = peer.wait_messages(2)
    assert sorted(m.rcpts[0] for m in msgs) == sorted([r1, r2])
    srv.wait_queue_empty()
    for q in (q1, q2):
        wait_event(srv, q, "retry", text="administrator")
        wait_event(srv, q, "delivered")
    assert srv.grep_log(r"queue flushed by the administrator \(2 messages\)")


def test_flush_while_still_failing_tries_again(make_server, dns, peers):
    srv, peer, domain = deferring(make_server, dns, peers)
    qid, rcpt = queue_deferred(srv, domain)
    srv.cli("queue", "flush")
    wait_event(srv, qid, "deferred", count=2)
    m = queue_message(srv, qid)
    assert m["recipients"][0]["attempts"] == 2
    # the next try backs off again (2 attempts: 2 h, the maximum)
    assert m["recipients"][0]["next_try"] - time.time() > 3600


def test_retry_one(make_server, dns, peers):
    srv, peer, domain = deferring(make_server, dns, peers)
    q1, r1 = queue_deferred(srv, domain, "carol")
    q2, r2 = queue_deferred(srv, domain, "dave")
    peer.rcpt_replies.clear()
    out = srv.cli("queue", "retry", q1).out
    assert out.strip() == "%s to be tried now" % q1, out
    [m] = peer.wait_messages(1)
    assert m.rcpts == [r1]
    wait_until("%s removed" % q1, lambda: queue_message(srv, q1) is None)
    time.sleep(1)
    assert rcpt_states(srv, q2) == {r2: "deferred"}
    assert len(peer.received()) == 1
    r = srv.cli("queue", "retry", "1NGMAAAAAAAAA", check=False)
    assert r.returncode == 1 and "no message 1NGMAAAAAAAAA in the queue" in r.err, r.err


def test_hold_and_release(make_server, dns, peers):
    srv, peer, domain = deferring(make_server, dns, peers)
    qid, rcpt = queue_deferred(srv, domain)
    out = srv.cli("queue", "hold", qid).out
    assert out.strip() == "%s held" % qid, out
    lst = srv.cli("queue", "list").out
    assert re.search(r"^%s +! " % qid, lst, re.M), lst
    assert lst.rstrip().endswith("-- 0 messages in the queue, 1 held"), lst
    [m] = queue_json(srv)
    assert m["id"] == qid and m["held"] is True
    assert queue_message(srv, qid)["held"] is True
    # held: not tried, even by a flush
    peer.rcpt_replies.clear()
    assert srv.cli("queue", "flush").out.strip() == "0 messages to be tried now"
    r = srv.cli("queue", "retry", qid, check=False)
    assert r.returncode == 1
    time.sleep(1.5)
    assert peer.received() == []
    wait_event(srv, qid, "held")
    out = srv.cli("queue", "release", qid).out
    assert out.strip() == "%s released" % qid, out
    wait_event(srv, qid, "released", text="released by the administrator")
    # back in the queue, on its schedule (next try in an hour): the
    # queue manager knows it again and tries it when asked
    retry_when_known(srv, qid)
    [got] = peer.wait_messages(1)
    assert got.rcpts == [rcpt]
    srv.wait_queue_empty()
    assert srv.cli("queue", "list").out.strip() == "-- 0 messages in the queue, 0 held"
    r = srv.cli("queue", "release", qid, check=False)
    assert r.returncode == 1 and "not held" in r.err, r.err


def test_delete(make_server, dns, peers):
    srv, peer, domain = deferring(make_server, dns, peers)
    qid, rcpt = queue_deferred(srv, domain)
    out = srv.cli("queue", "delete", qid).out
    assert out.strip() == "%s deleted" % qid, out
    assert qid not in srv.queue_ids()
    assert queue_json(srv) == []
    srv.wait_log(r"%s: deleted by the administrator" % qid)
    wait_event(srv, qid, "deleted")
    peer.rcpt_replies.clear()
    srv.cli("queue", "flush")
    time.sleep(1)
    assert peer.received() == []
    assert dsns(srv) == []        # deleting is silent
    r = srv.cli("queue", "delete", qid, check=False)
    assert r.returncode == 1


def test_delete_from(make_server, dns, peers):
    srv, peer, domain = deferring(make_server, dns, peers)
    spam = "spammer@elsewhere.example"
    a, _ = queue_deferred(srv, domain, "c1", sender=spam)
    b, _ = queue_deferred(srv, domain, "c2", sender=spam.upper())
    keep, keep_rcpt = queue_deferred(srv, domain, "c3")
    out = srv.cli("queue", "delete", "--from", spam).out
    assert out.strip() == "2 deleted", out
    assert [m["id"] for m in queue_json(srv)] == [keep]
    assert srv.cli("queue", "delete", "--from", spam).out.strip() == "0 deleted"
    peer.rcpt_replies.clear()
    srv.cli("queue", "flush")
    [m] = peer.wait_messages(1)
    assert m.rcpts == [keep_rcpt]


def test_bounce(make_server, dns, peers):
    srv, peer, domain = deferring(make_server, dns, peers)
    qid, rcpt = queue_deferred(srv, domain)
    out = srv.cli("queue", "bounce", qid).out
    assert out.strip() == "%s returned to its sender" % qid, out
    [raw] = wait_dsns(srv, 1)
    _, per_msg, [r], third = parse_dsn(raw)
    assert per_msg["X-Postino-Queue-ID"] == qid
    assert r["Final-Recipient"] == "rfc822; " + rcpt
    assert (r["Action"], r["Status"]) == ("failed", "5.0.0")
    assert "returned to the sender by the administrator" in r["Diagnostic-Code"]
    srv.wait_queue_empty()
    wait_event(srv, qid, "bounced", rcpt, text="administrator")
    time.sleep(0.5)
    assert peer.received() == []


def test_commands_refused_while_delivering(make_server, dns, peers):
    peer = peers.smtp()
    peer.delays["DOT"] = 3
    domain = mx_domain(dns, peer.host)
    srv = make_server(**OUTBOUND)
    qid, _, _ = send(srv, SENDER, ["carol@" + domain])
    wait_until("DATA at the peer", lambda: "DATA" in peer.lines())
    for cmd in ("hold", "delete", "bounce", "retry"):
        r = srv.cli("queue", cmd, qid, check=False)
        assert r.returncode == 1, (cmd, r.out)
        assert "being delivered right now" in r.err, (cmd, r.err)
    peer.wait_messages(1)
    srv.wait_queue_empty()
    assert len(peer.received()) == 1 and dsns(srv) == []


def test_hold_while_stopped_then_start(make_server, dns, peers):
    srv, peer, domain = deferring(make_server, dns, peers)
    qid, rcpt = queue_deferred(srv, domain)
    assert srv.stop() == 0
    assert srv.cli("queue", "hold", qid).out.strip() == "%s held" % qid
    peer.rcpt_replies.clear()
    srv.start()
    time.sleep(1.5)
    assert peer.received() == []
    assert queue_message(srv, qid)["held"] is True
    # held while stopped: the trace says so all the same
    wait_event(srv, qid, "held", text="held by the administrator")
    srv.cli("queue", "release", qid)
    retry_when_known(srv, qid)
    peer.wait_messages(1)
    srv.wait_queue_empty()
