"""Milters (the `milters` setting) through postino's SMTP service, against
the test milter (milter_peer.py: a real milter over a Unix socket or TCP,
written from the protocol description): what the milter is told at every
stage, and every verdict and modification it can give, applied before the
final reply — refusals at MAIL, RCPT and end of message, discard,
quarantine, header and body changes, recipients added and deleted, the
sender changed; and the per-milter default when it is down or too slow."""

import smtplib
import time
from email import policy as email_policy
from email.message import EmailMessage

from milter_peer import MilterPeer, milter  # noqa: F401 (fixture)
from peers import wait_event

BOB = "bob@example.test"
ALICE = "alice@example.test"
CAROL = "carol@example.test"


def message(subject="hello", body="the body\n", extra=()):
    """A message; extra: (name, value) fields put first, as given (folded
    values included)."""
    m = EmailMessage()
    m["From"] = "sender@remote.test"
    m["To"] = BOB
    m["Subject"] = subject
    m.set_content(body)
    raw = m.as_bytes(policy=email_policy.SMTP)
    return b"".join(b"%s: %s\r\n" % (n.encode(), v.encode()) for n, v in extra) + raw


def session(srv, rcpts=(BOB,), raw=None, sender="sender@remote.test"):
    """One transaction; returns (mail reply, [rcpt replies], data reply or None)."""
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=60) as c:
        c.ehlo("client.example.org")
        mail = c.mail(sender)
        if mail[0] != 250:
            return mail, [], None
        rr = [c.rcpt(r) for r in rcpts]
        if not any(code == 250 for code, _ in rr):
            return mail, rr, None
        return mail, rr, c.data(raw if raw is not None else message())


def fields_of(peer, letter):
    return [f for c, f in peer.received if c == letter]


def test_stages_seen_and_clean_mail_passes(milter, make_server):  # noqa: F811
    srv = make_server(milters=milter.socket)
    mail, rr, data = session(srv, raw=message("stages", extra=[("X-Folded", "one\r\n two")]))
    assert mail[0] == 250 and rr[0][0] == 250 and data[0] == 250, (mail, rr, data)
    srv.wait_for_maildir("bob", 1)
    cmds = milter.commands()
    # negotiate, connect, helo, mail, rcpt, data, header fields, eoh, body, eob
    for letter in "OCHMRTLNBE":
        assert letter in cmds, cmds
    assert cmds.index("C") < cmds.index("H") < cmds.index("M") < cmds.index("R") < \
        cmds.index("T") < cmds.index("N") < cmds.index("B") < cmds.index("E"), cmds
    conn = fields_of(milter, "C")[0]
    assert conn[0] == "[127.0.0.1]" and conn[1] == "4" and conn[3] == "127.0.0.1", conn
    assert fields_of(milter, "H")[0] == ["client.example.org"]
    assert fields_of(milter, "M")[0][0] == "<sender@remote.test>"
    assert fields_of(milter, "R")[0] == ["<%s>" % BOB]
    headers = dict((f[0], f[1]) for f in fields_of(milter, "L"))
    assert headers["Subject"] == "stages"
    assert headers["X-Folded"] == "one\n two", headers["X-Folded"]
    assert "Received" in headers  # our own trace field, as stored
    body = b"".join(f[0] for f in fields_of(milter, "B"))
    assert b"the body\r\n" in body
    macros = {f[0]: f[1:] for f in fields_of(milter, "D")}
    assert "j" in macros["C"] and "{client_addr}" in macros["C"], macros
    assert "i" in macros["E"], macros


def test_refusals_at_each_stage(make_server):
    with MilterPeer() as peer:
        srv = make_server(milters=peer.socket)
        peer.rcpt_reply["<%s>" % ALICE] = "550 5.7.1 alice does not want it"
        mail, rr, data = session(srv, rcpts=(BOB, ALICE))
        assert rr[0][0] == 250
        assert rr[1][0] == 550 and b"alice does not want it" in rr[1][1], rr
        assert data[0] == 250
        msgs = srv.wait_for_maildir("bob", 1)
        assert srv.messages("alice") == []
        assert srv.grep_log(r"NOQUEUE: reject: RCPT from \[127\.0\.0\.1\]: 550 5\.7\.1 alice "
                            r"does not want it; milter=")
        # the refused recipient is not in the envelope: one delivery only
        assert len(msgs) == 1
        peer.rcpt_reply.clear()
        peer.reject_at.add("mail")
        mail, _, _ = session(srv)
        assert mail[0] == 550 and mail[1].startswith(b"5.7.1"), mail
        assert srv.grep_log(r"reject: MAIL from \[127\.0\.0\.1\]: 550 5\.7\.1 .*milter=")
        peer.reject_at.clear()
        peer.tempfail_at.add("rcpt")
        _, rr, _ = session(srv)
        assert rr[0][0] == 451 and rr[0][1].startswith(b"4.7.1"), rr
        peer.tempfail_at.clear()
        peer.eob_verdict = "reject"
        _, _, data = session(srv, raw=message("refused at the end"))
        assert data[0] == 550 and data[1].startswith(b"5.7.1"), data
        assert srv.grep_log(r"NOQUEUE: reject: DATA from \[127\.0\.0\.1\]: 550 5\.7\.1")
        peer.eob_verdict = "tempfail"
        _, _, data = session(srv, raw=message("deferred at the end"))
        assert data[0] == 451, data
        peer.eob_verdict = "continue"
        peer.reject_at.add("header")
        _, _, data = session(srv, raw=message("refused at a header"))
        assert data[0] == 550, data
        peer.reject_at.clear()
        # nothing refused was queued: bob has his one message still
        time.sleep(0.5)
        assert len(srv.messages("bob")) == 1
        assert srv.queue_ids() == []


def test_connect_refusal_refuses_every_mail(make_server):
    with MilterPeer() as peer:
        peer.reject_at.add("connect")
        srv = make_server(milters=peer.socket)
        with smtplib.SMTP("127.0.0.1", srv.port, timeout=60) as c:
            c.ehlo("client.example.org")
            assert c.mail("sender@remote.test")[0] == 550
            c.rset()
            assert c.mail("other@remote.test")[0] == 550


def test_discard_and_quarantine(milter, make_server):  # noqa: F811
    srv = make_server(milters=milter.socket)
    milter.eob_verdict = "discard"
    _, _, data = session(srv, raw=message("dropped"))
    assert data[0] == 250, data  # the client is told it was queued
    qid = data[1].decode().split()[-1]
    (ev,) = wait_event(srv, qid, "discarded")
    assert "milter %s: discard" % milter.socket in ev[2], ev
    milter.eob_verdict = "continue"
    milter.quarantine = "looks like spam to the milter"
    _, _, data = session(srv, raw=message("set aside"))
    assert data[0] == 250, data
    qid = data[1].decode().split()[-1]
    assert srv.spool("quarantine") == [qid + ".msg"]
    (ev,) = wait_event(srv, qid, "quarantined")
    assert "milter %s: looks like spam to the milter" % milter.socket in ev[2], ev
    time.sleep(0.5)
    assert srv.messages("bob") == []


def test_header_body_and_envelope_changes(milter, make_server):  # noqa: F811
    srv = make_server(milters=milter.socket)
    milter.add_headers.append(("X-Spam-Score", "1.5\n\t(low)"))
    milter.insert_headers.append((0, "X-First", "on top"))
    milter.change_headers.append((1, "Subject", "[milter] changed"))
    milter.change_headers.append((1, "X-Remove-Me", ""))
    milter.add_rcpts.append("<%s>" % CAROL)
    milter.del_rcpts.append("<%s>" % ALICE)
    milter.new_body = b"a body\nfrom the milter\n"
    _, rr, data = session(srv, rcpts=(BOB, ALICE),
                          raw=message("original", extra=[("X-Remove-Me", "yes")]))
    assert data[0] == 250, data
    bob = srv.wait_for_maildir("bob", 1)[0]
    carol = srv.wait_for_maildir("carol", 1)[0]
    time.sleep(0.5)
    assert srv.messages("alice") == []
    for msg in (bob, carol):  # Maildir files have LF line ends
        head, _, body = msg.partition(b"\n\n")
        lines = head.split(b"\n")
        assert lines[0].startswith(b"Return-Path:") and lines[1].startswith(b"Delivered-To:")
        assert lines[2] == b"X-First: on top", lines[:4]  # index 0: before our Received
        assert lines[3].startswith(b"Received: from client.example.org"), lines[:4]
        assert b"\nX-Spam-Score: 1.5\n\t(low)\n" in head + b"\n", head
        assert b"\nSubject: [milter] changed\n" in head + b"\n"
        assert b"Subject: original" not in head
        assert b"X-Remove-Me" not in head
        assert body == b"a body\nfrom the milter\n", body
    assert srv.grep_log(r"the milters changed the message \(\d+ modifications, new body\)")
    assert srv.grep_log(r"milter .* deleted the recipient <%s>" % ALICE)
    assert srv.grep_log(r"milter .* added the recipient <%s>" % CAROL)


def test_sender_changed(make_server):
    with MilterPeer() as peer:
        srv = make_server(milters=peer.socket)
        orig = peer._end_of_body

        def with_chgfrom():
            from milter_peer import cstr, packet
            return packet(b"e", cstr("<bounces@example.test>")) + orig()
        peer._end_of_body = with_chgfrom
        _, _, data = session(srv)
        assert data[0] == 250
        msg = srv.wait_for_maildir("bob", 1)[0]
        assert msg.startswith(b"Return-Path: <bounces@example.test>"), msg[:200]


def test_milter_down_tempfail_or_accept(make_server):
    missing = "/tmp/postino-no-such-milter.sock"
    srv = make_server(milters=missing)
    mail, _, _ = session(srv)
    assert mail[0] == 451 and mail[1].startswith(b"4.7.1"), mail
    assert srv.grep_log(r"milter %s: connect at open: .*\(default tempfail\)" % missing)
    srv2 = make_server(milters="%s default=accept" % missing)
    mail, rr, data = session(srv2)
    assert data is not None and data[0] == 250, (mail, rr, data)
    srv2.wait_for_maildir("bob", 1)
    # the global default
    srv3 = make_server(milters=missing, milter_default_action="accept")
    _, _, data = session(srv3)
    assert data[0] == 250


def test_milter_too_slow(make_server):
    with MilterPeer(tcp=True) as peer:
        peer.delay_at["eob"] = 4
        srv = make_server(milters="%s command_timeout=1s" % peer.socket)
        t0 = time.monotonic()
        _, _, data = session(srv)
        assert data[0] == 451 and data[1].startswith(b"4.7.1"), data
        assert time.monotonic() - t0 < 4
        assert srv.grep_log(r"timeout at eob")
        srv2 = make_server(milters="%s command_timeout=1s default=accept" % peer.socket)
        _, _, data = session(srv2)
        assert data[0] == 250, data


def test_two_milters_in_order(make_server):
    with MilterPeer() as first, MilterPeer(tcp=True) as second:
        first.add_headers.append(("X-First-Milter", "yes"))
        second.add_headers.append(("X-Second-Milter", "yes"))
        srv = make_server(milters="%s, %s" % (first.socket, second.socket))
        _, _, data = session(srv)
        assert data[0] == 250
        head = srv.wait_for_maildir("bob", 1)[0].partition(b"\r\n\r\n")[0]
        assert head.index(b"X-First-Milter") < head.index(b"X-Second-Milter"), head
        second.eob_verdict = "reject"
        _, _, data = session(srv)
        assert data[0] == 550
        assert srv.grep_log(r"milter=%s" % second.socket)


def test_bad_setting_refused(make_server):
    srv = make_server(start=False, milters="/tmp/x.sock default=maybe")
    r = srv.cli("check-config", check=False)
    assert r.returncode != 0
    assert "milters" in r.out + r.err and "default=" in r.out + r.err


def test_pipelined_transaction(milter, make_server):  # noqa: F811
    """MAIL, RCPT and DATA sent at once wait for the milters in turn."""
    import socket
    srv = make_server(milters=milter.socket)
    milter.rcpt_reply["<%s>" % ALICE] = "550 5.7.1 not alice"
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    f = s.makefile("rb")
    assert f.readline().startswith(b"220")
    s.sendall(b"EHLO client.example.org\r\n")
    while not f.readline().startswith(b"250 "):
        pass
    s.sendall(b"MAIL FROM:<sender@remote.test>\r\nRCPT TO:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n"
              % (BOB.encode(), ALICE.encode()))
    replies = [f.readline() for _ in range(4)]
    assert replies[0].startswith(b"250") and replies[1].startswith(b"250"), replies
    assert replies[2].startswith(b"550 5.7.1 not alice"), replies
    assert replies[3].startswith(b"354"), replies
    s.sendall(message("pipelined") + b".\r\nQUIT\r\n")
    assert f.readline().startswith(b"250")
    s.close()
    srv.wait_for_maildir("bob", 1)
