"""`postino trace ID|MESSAGE-ID|ADDRESS [--since] [--json]`: the events of
a message (received, queued, attempt, delivered, deferred, bounced,
expired, discarded, notified, held, deleted, done) and the present state
of each recipient, for every final state."""

import re
import time

from peers import peers  # noqa: F401 (the fixture)
from peers import (OUTBOUND, events_of, mx_domain, new_domain, send, trace,
                   trace_json, wait_event, wait_states, wait_until)

SENDER = "bob@example.test"
TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}"


def server(make_server, **settings):
    s = dict(OUTBOUND)
    s.update(settings)
    return make_server(**s)


def state_lines(out, qid):
    """{recipient: state} from the 'now:' section of qid's block."""
    block = out.split(qid + "\n", 1)[1].split("\n\n", 1)[0]
    now = block.split("  now:\n", 1)[1]
    states = {}
    for line in now.splitlines():
        m = re.match(r"^    (\S+) +(.*)$", line)
        if m:
            states[m.group(1)] = m.group(2)
    return states


def event_lines(out, qid):
    block = out.split(qid + "\n", 1)[1].split("  now:\n", 1)[0]
    return [l for l in block.splitlines() if l.strip()]


def test_delivered(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    rcpt = "carol@" + domain
    srv = server(make_server)
    qid, _, mid = send(srv, SENDER, [rcpt])
    peer.wait_messages(1)
    wait_event(srv, qid, "done")
    out = trace(srv, qid).out
    lines = event_lines(out, qid)
    kinds = [re.match(r"^  %s  (\S+)" % TIME, l).group(1) for l in lines]
    assert kinds == ["received", "queued", "attempt", "delivered", "done"], out
    assert re.search(r"received +from <bob@example\.test> by smtp from \[127\.0\.0\.1\] "
                     r"\(helo client\.example\.org\), ESMTP, \d+ octets, 1 recipient, "
                     r"message-id %s" % re.escape(mid), lines[0]), lines[0]
    att = lines[2]
    assert re.search(r"attempt +%s: mx1\.%s\[%s\]:25 no TLS; reply: 250 2\.0\.0 Ok: queued "
                     r"as 1; connect=\d+ms greeting=\d+ms\(220\) hello=\d+ms\(250\) "
                     r"mail=\d+ms\(250\) rcpt=\d+ms\(250\) data=\d+ms\(354\) "
                     r"dot=\d+ms\(250\)$" % (re.escape(rcpt), re.escape(domain),
                                           re.escape(peer.host)), att), att
    assert "slow" not in out
    assert state_lines(out, qid) == {
        rcpt: "delivered (250 2.0.0 Ok: queued as 1 (by mx1.%s))" % domain}

    # the same by Message-ID, with and without <>, and by address
    for what in (mid, mid.strip("<>"), rcpt, SENDER):
        r = trace(srv, what)
        assert r.returncode == 0 and r.out.startswith(qid + "\n"), (what, r.out)
    # JSON
    doc = trace_json(srv, qid)
    [m] = doc["messages"]
    assert m["id"] == qid
    assert [e["kind"] for e in m["events"]] == kinds
    for e in m["events"]:
        assert set(e) == {"time", "kind", "recipient", "text", "slow"}
        assert abs(e["time"] - time.time()) < 120 and e["slow"] is False
    assert m["events"][2]["recipient"] == rcpt
    assert m["state"] == [{"recipient": rcpt, "state": state_lines(out, qid)[rcpt]}]


def test_bounced_follows_the_notification(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    rcpt = "nobody@" + domain
    peer.rcpt_replies[rcpt] = "550 5.1.1 no such user"
    srv = server(make_server)
    qid, _, _ = send(srv, SENDER, [rcpt])
    [note] = wait_event(srv, qid, "notified")
    dsn_id = re.search(r"notification (\w+) sent to <bob@example\.test>", note[2]).group(1)
    wait_event(srv, dsn_id, "done")
    out = trace(srv, qid).out
    assert state_lines(out, qid) == {
        rcpt: "bounced (550 5.1.1 no such user (from mx1.%s))" % domain}, out
    # the report's own history follows
    assert "\n\n%s\n" % dsn_id in out, out
    assert "delivery status notification about %s, to <bob@example.test>" % qid in out
    assert state_lines(out, dsn_id)["bob@example.test"].startswith("delivered (2.0.0 ")
    doc = trace_json(srv, qid)
    assert [m["id"] for m in doc["messages"]] == [qid, dsn_id]


def test_deferred_and_in_transit(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    later, slow = "later@" + domain, "slow@" + domain
    peer.rcpt_replies[later] = "451 4.2.1 mailbox busy"
    srv = server(make_server, queue_retry_min="1h", queue_retry_max="2h")
    qid, _, _ = send(srv, SENDER, [later])
    wait_states(srv, qid, {later: "deferred"})
    wait_event(srv, qid, "deferred")
    out = trace(srv, qid).out
    st = state_lines(out, qid)[later]
    m = re.match(r"^queued \(deferred: 451 4\.2\.1 mailbox busy; next try at "
                 r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\)$", st)
    assert m, st
    next_try = time.mktime(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S"))
    assert 3500 < next_try - time.time() <= 3600, st
    assert re.search(r"deferred +%s: 451 4\.2\.1 mailbox busy; next try at %s"
                     % (re.escape(later), m.group(1)), out), out

    # a message on its way: in transit
    peer.delays["DOT"] = 3
    qid2, _, _ = send(srv, SENDER, [slow])
    wait_until("DATA at the peer", lambda: "DATA" in peer.lines())
    out = trace(srv, qid2).out
    assert state_lines(out, qid2) == {slow: "in transit"}, out
    peer.wait_messages(1)


def test_expired(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    rcpt = "carol@" + domain
    peer.rcpt_replies[rcpt] = "450 4.2.0 try later"
    srv = server(make_server, max_queue_lifetime="2s", queue_retry_min="1s",
                 queue_retry_max="1s")
    qid, _, _ = send(srv, SENDER, [rcpt])
    wait_event(srv, qid, "done", timeout=20)
    out = trace(srv, qid).out
    st = state_lines(out, qid)[rcpt]
    assert re.match(r"^expired \(given up after \d+ s in the queue; last: 450 4\.2\.0 try "
                    r"later\)$", st), st
    kinds = [e[0] for e in events_of(srv, qid)]
    assert kinds.count("expired") == 1 and "notified" in kinds, kinds
    assert kinds.index("expired") > kinds.index("deferred"), kinds


def test_discarded(make_server):
    srv = server(make_server)
    domain = new_domain()
    srv.cli("transport", "add", domain, "discard")
    rcpt = "x@" + domain
    qid, _, _ = send(srv, SENDER, [rcpt])
    wait_event(srv, qid, "done")
    out = trace(srv, qid).out
    assert state_lines(out, qid) == {rcpt: "discarded (2.0.0 discarded by the transport table)"}
    assert "attempt" not in [e[0] for e in events_of(srv, qid)]


def test_held_and_deleted(make_server, dns, peers):
    peer = peers.smtp()
    peer.rcpt_replies["*"] = "451 4.3.0 not now"
    domain = mx_domain(dns, peer.host)
    rcpt = "carol@" + domain
    srv = server(make_server, queue_retry_min="1h", queue_retry_max="2h")
    qid, _, _ = send(srv, SENDER, [rcpt])
    wait_states(srv, qid, {rcpt: "deferred"})
    srv.cli("queue", "hold", qid)
    wait_event(srv, qid, "held")
    out = trace(srv, qid).out
    assert re.match(r"^held \(deferred: 451 4\.3\.0 not now; next try at [\d: -]+\)$",
                    state_lines(out, qid)[rcpt]), out
    assert re.search(r"held +held by the administrator", out), out
    srv.cli("queue", "release", qid)
    wait_until("released", lambda: srv.cli("queue", "delete", qid, check=False)
               .returncode == 0, timeout=10, interval=0.3)
    wait_event(srv, qid, "deleted")
    out = trace(srv, qid).out
    assert state_lines(out, qid) == {rcpt: "deleted by the administrator"}, out


def test_since_and_unknown(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    rcpt = "carol@" + domain
    srv = server(make_server)
    qid, _, _ = send(srv, SENDER, [rcpt])
    wait_event(srv, qid, "done")
    assert trace(srv, rcpt, "--since", "2h").out.startswith(qid + "\n")
    assert trace(srv, rcpt, "--since", time.strftime("%Y-%m-%d")).out.startswith(qid + "\n")
    r = trace(srv, rcpt, "--since", "2099-01-01")
    assert r.returncode == 1 and r.out.strip() == "nothing recorded for %s" % rcpt, r.out
    r = trace(srv, "nobody-%s@nowhere.example" % qid.lower())
    assert r.returncode == 1 and "nothing recorded" in r.out
    r = trace(srv, "1NGMAAAAAAAAA")
    assert r.out.strip().endswith("unknown: no event recorded"), r.out
    r = trace(srv, "not an id")
    assert r.returncode == 2 and "neither a queue ID, a Message-ID nor an address" in r.err
    r = trace(srv, rcpt, "--since", "yesterday-ish")
    assert r.returncode == 2
