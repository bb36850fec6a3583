"""Mailbox quotas: `postino user quota`, delivery past the quota deferred
with 4.2.2 (kept in the queue, delivered once there is room), APPEND
refused with NO [OVERQUOTA], the message-count limit and the default from
the configuration."""

import os
import smtplib
import time

from imap_raw import RawIMAP


def message(subject, size):
    body = ("x" * 70 + "\r\n") * (size // 72 + 1)
    return ("From: a@remote.test\r\nTo: bob@example.test\r\nSubject: %s\r\n\r\n%s"
            % (subject, body)).encode()


def send(srv, subject, size):
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=15) as s:
        s.sendmail("a@remote.test", ["bob@example.test"], message(subject, size))


def maildir_count(srv, user):
    root = srv.maildir(user)
    return sum(len(os.listdir(os.path.join(root, d))) for d in ("new", "cur"))


def test_quota_cli_shows_and_sets(make_server):
    srv = make_server(users=("bob",), start=False, mail_quota="1M")
    r = srv.cli("user", "quota", "bob@example.test")
    assert "bytes: 1048576 (the default)" in r.out and "messages: none (the default)" in r.out
    srv.cli("user", "quota", "bob@example.test", "20K", "5")
    r = srv.cli("user", "quota", "bob@example.test")
    assert "bytes: 20480\n" in r.out and "messages: 5\n" in r.out
    srv.cli("user", "quota", "bob@example.test", "none", "default")
    r = srv.cli("user", "quota", "bob@example.test")
    assert "bytes: none\n" in r.out and "messages: none (the default)" in r.out
    r = srv.cli("user", "quota", "bob@example.test", "lots", check=False)
    assert r.returncode == 2
    r = srv.cli("user", "quota", "nobody@example.test", "1K", check=False)
    assert r.returncode == 1 and "does not exist" in r.err


def test_delivery_over_quota_is_deferred_then_delivered(make_server):
    srv = make_server(users=("bob",), start=False)
    srv.cli("user", "quota", "bob@example.test", "6K")
    srv.start()
    send(srv, "first", 4000)
    srv.wait_for_maildir("bob", 1)
    send(srv, "second", 4000)
    srv.wait_log(r"to=<bob@example\.test>, relay=local, status=deferred \(4\.2\.2 [^)]*\)")
    time.sleep(0.5)
    assert maildir_count(srv, "bob") == 1
    assert len(srv.queue_ids()) == 1  # kept, not lost, not bounced
    # Room is made: the next attempt delivers it.
    srv.cli("user", "quota", "bob@example.test", "none")
    srv.cli("queue", "flush")
    srv.wait_for_maildir("bob", 2)
    srv.wait_queue_empty()


def test_append_over_quota_is_refused(make_server):
    srv = make_server(users=("bob",), start=False)
    srv.cli("user", "quota", "bob@example.test", "5K")
    srv.start()
    c = RawIMAP(srv.imaps_port)
    c.login("bob@example.test")
    small = message("small", 1000)
    c.send(b"a APPEND INBOX {%d}\r\n" % len(small))
    assert c.line().startswith(b"+")
    c.send(small + b"\r\n")
    assert c.until("a")[0].startswith(b"a OK [APPENDUID")
    big = message("big", 6000)
    c.send(b"b APPEND INBOX {%d}\r\n" % len(big))
    ln = c.line()
    if ln.startswith(b"+"):
        c.send(big + b"\r\n")
        ln = c.until("b")[0]
    assert ln.startswith(b"b NO [OVERQUOTA]"), ln
    c.cmd("SELECT INBOX")
    tagged, lines = c.cmd("FETCH 1:* (RFC822.SIZE)")
    assert len([x for x in lines if b" FETCH " in x]) == 1


def test_message_count_limit_from_the_default(make_server):
    srv = make_server(users=("bob",), mail_quota_messages=2)
    for i in range(2):
        send(srv, "m%d" % i, 100)
    srv.wait_for_maildir("bob", 2)
    send(srv, "third", 100)
    srv.wait_log(r"status=deferred \(4\.2\.2")
    assert maildir_count(srv, "bob") == 2
    assert len(srv.queue_ids()) == 1
