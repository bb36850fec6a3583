"""The queue survives failures and restarts: deferred deliveries are
retried, and a stopped server picks its queue up again."""

import os
import time
import uuid

from postino_testlib import header_values, queued_id


def send_one(srv, rcpts, subject):
    with srv.smtp() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        for r in rcpts:
            assert c.cmd("RCPT TO:<%s>" % r).code == 250
        assert c.cmd("DATA").code == 354
        r = c.cmd(b"Subject: " + subject.encode() + b"\r\n\r\nbody\r\n.")
        assert r.code == 250, r
        c.cmd("QUIT")
        return queued_id(r)


def lock_mailbox(srv, user):
    """Create user's Maildir (one delivery) and make it unusable for the
    delivery process (which runs as the mail user, not root)."""
    send_one(srv, [srv.address(user)], "first")
    srv.wait_for_maildir(user, 1)
    srv.wait_queue_empty()
    path = srv.maildir(user)
    mode = os.stat(path).st_mode & 0o7777
    os.chmod(path, 0)
    return path, mode


def deferred(fields, rcpts):
    return all(r["status"] == "deferred" for r in rcpts)


def wait_until_due(srv):
    """Sleep until every deferred recipient in the queue is due again, as
    when an administrator takes a moment before restarting."""
    latest = 0
    for qid in srv.queue_ids():
        _, rcpts = srv.read_envelope(qid)
        latest = max([latest] + [int(r["next"]) for r in rcpts])
    while time.time() < latest + 1.1:
        time.sleep(0.1)


def subjects(srv, user):
    return [header_values(m, "Subject")[0] for m in srv.messages(user)]


def test_deferred_delivery_retried(make_server):
    srv = make_server(queue_retry_min="1s", queue_retry_max="2s")
    path, mode = lock_mailbox(srv, "bob")
    qid = send_one(srv, ["bob@example.test"], "second")
    fields, rcpts = srv.wait_envelope(qid, deferred)
    assert rcpts[0]["route"] == "local"
    assert int(rcpts[0]["attempts"]) >= 1
    assert rcpts[0].get("last", "").startswith("4."), rcpts
    srv.wait_log(r"%s: to=<bob@example\.test>, relay=local, status=deferred" % qid)
    time.sleep(2.5)  # a retry or two, still failing
    assert len(srv.messages("bob")) == 1
    assert qid in srv.queue_ids()
    os.chmod(path, mode)
    srv.wait_for_maildir("bob", 2, timeout=20)
    srv.wait_queue_empty()
    assert subjects(srv, "bob") == ["first", "second"]
    srv.wait_log(r"%s: to=<bob@example\.test>, relay=local, status=delivered" % qid)


def test_deferred_delivered_after_restart(make_server):
    srv = make_server(queue_retry_min="2s", queue_retry_max="2s")
    path, mode = lock_mailbox(srv, "bob")
    qid = send_one(srv, ["bob@example.test", "alice@example.test"], "second")
    srv.wait_for_maildir("alice", 1)  # the other recipient is not held up
    srv.wait_envelope(qid, lambda f, r: [x["status"] for x in r] == ["deferred", "delivered"]
                      or [x["status"] for x in r] == ["delivered", "deferred"])
    rc = srv.stop()
    assert rc == 0, rc
    # the queue is on disk while the server is down
    assert qid in srv.queue_ids()
    fields, rcpts = srv.read_envelope(qid)
    st = {r["addr"]: r["status"] for r in rcpts}
    assert st == {"bob@example.test": "deferred", "alice@example.test": "delivered"}
    os.chmod(path, mode)
    wait_until_due(srv)
    srv.start()
    srv.wait_for_maildir("bob", 2, timeout=20)
    srv.wait_queue_empty()
    assert subjects(srv, "bob") == ["first", "second"]
    assert subjects(srv, "alice") == ["second"]  # not delivered twice


def test_sigterm_then_restart_resumes_queue(make_server):
    srv = make_server(queue_retry_min="1s", queue_retry_max="1s")
    path, mode = lock_mailbox(srv, "alice")
    tokens = [uuid.uuid4().hex for _ in range(30)]
    with srv.smtp() as c:
        c.ehlo()
        for t in tokens:
            assert c.cmd("MAIL FROM:<a@b.org>").code == 250
            assert c.cmd("RCPT TO:<alice@example.test>").code == 250
            assert c.cmd("RCPT TO:<bob@example.test>").code == 250
            assert c.cmd("DATA").code == 354
            r = c.cmd(b"Subject: " + t.encode() + b"\r\n\r\nbody\r\n.")
            assert r.code == 250, r
        assert c.cmd("QUIT").code == 221
    rc = srv.stop()
    assert rc == 0, rc
    queued = srv.queue_ids()
    assert len(queued) == len(tokens), queued  # all waiting for alice
    os.chmod(path, mode)
    wait_until_due(srv)
    srv.start()
    srv.wait_for_maildir("alice", len(tokens) + 1, timeout=30)
    srv.wait_for_maildir("bob", len(tokens), timeout=30)
    srv.wait_queue_empty()
    time.sleep(0.5)
    # every message exactly once: a clean stop is no crash
    assert sorted(subjects(srv, "alice")) == sorted(tokens + ["first"])
    assert sorted(subjects(srv, "bob")) == sorted(tokens)


def test_sigterm_during_data_loses_only_the_unacknowledged(make_server):
    srv = make_server()
    c = srv.smtp()
    c.ehlo()
    assert c.cmd("MAIL FROM:<a@b.org>").code == 250
    assert c.cmd("RCPT TO:<bob@example.test>").code == 250
    assert c.cmd("DATA").code == 354
    c.send(b"Subject: interrupted\r\n\r\nhalf")
    idle = srv.smtp()
    idle.ehlo()
    time.sleep(0.2)
    t0 = time.monotonic()
    rc = srv.stop()
    assert rc == 0, rc
    assert time.monotonic() - t0 < 10, "stop waited for idle clients"
    for conn in (c, idle):
        try:
            r = conn.reply()
            assert r.code == 421, r
        except (ConnectionError, OSError):
            pass  # closed without a word is acceptable too
        assert conn.wait_closed(5)
        conn.close()
    assert srv.spool("queue") == []  # nothing was acknowledged
    srv.start()
    time.sleep(0.5)
    srv.wait_queue_empty()
    assert srv.messages("bob") == []
    assert srv.spool("incoming") == []
    # and the restarted server works
    send_one(srv, ["bob@example.test"], "after")
    srv.wait_for_maildir("bob", 1)
    assert subjects(srv, "bob") == ["after"]
