"""SMTP protocol behaviour: pipelining, CHUNKING, EHLO/HELO, the small
commands, sequencing errors and enhanced status codes."""

import re

import pytest

from postino_testlib import header_values, queued_id

ENH = re.compile(r"^[245]\.\d{1,3}\.\d{1,3} ")


def test_pipelined_session(server):
    with server.smtp() as c:
        c.ehlo()
        c.send(b"MAIL FROM:<a@b.org>\r\n"
               b"RCPT TO:<bob@example.test>\r\n"
               b"RCPT TO:<nobody@example.test>\r\n"
               b"RCPT TO:<alice@example.test>\r\n"
               b"DATA\r\n")
        r = c.replies(5)
        assert [x.code for x in r] == [250, 250, 550, 250, 354], r
        assert r[2].enh == "5.1.1"
        # the message, the next transaction and QUIT in one write
        c.send(b"Subject: first\r\n\r\none\r\n.\r\n"
               b"MAIL FROM:<c@d.org>\r\n"
               b"RCPT TO:<carol@example.test>\r\n"
               b"DATA\r\n")
        r = c.replies(4)
        assert [x.code for x in r] == [250, 250, 250, 354], r
        q1 = queued_id(r[0])
        c.send(b"Subject: second\r\n\r\ntwo\r\n.\r\n"
               b"RSET\r\nNOOP\r\n"
               b"MAIL FROM:<e@f.org>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
               b"Subject: third\r\n\r\nthree\r\n.\r\n"
               b"QUIT\r\n")
        r = c.replies(7)
        assert [x.code for x in r] == [250, 250, 250, 250, 250, 354, 250], r
        assert r[6].code == 250 and "queued as" in r[6].text
        q2, q3 = queued_id(r[0]), queued_id(r[6])
        assert len({q1, q2, q3}) == 3
        assert c.reply().code == 221
        assert c.wait_closed(5)
    server.wait_queue_empty()
    subjects = lambda u: sorted(header_values(m, "Subject")[0] for m in server.messages(u))
    assert subjects("bob") == ["first", "third"]
    assert subjects("alice") == ["first"]
    assert subjects("carol") == ["second"]


def test_pipelined_in_single_bytes(server):
    """Commands arriving one octet at a time are still understood."""
    with server.smtp() as c:
        c.ehlo()
        for b in b"MAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n":
            c.send(bytes([b]))
        assert [x.code for x in c.replies(3)] == [250, 250, 354]
        for b in b"Subject: slow\r\n\r\nbyte by byte\r\n.\r\n":
            c.send(bytes([b]))
        assert c.reply().code == 250
    [m] = server.wait_for_maildir("bob", 1)
    assert m.endswith(b"Subject: slow\n\nbyte by byte\n")


def test_bdat_several_chunks_and_zero_last(server):
    parts = [b"Subject: chunks\r\n", b"\r\n", b"first part, ", b"second part\r\n",
             b".a dot line is not special in BDAT\r\n"]
    with server.smtp() as c:
        ehlo = c.ehlo()
        assert "CHUNKING" in ehlo.texts
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        assert c.cmd("RCPT TO:<bob@example.test>").code == 250
        for p in parts:
            c.send(b"BDAT %d\r\n" % len(p) + p)
            r = c.reply()
            assert (r.code, r.enh) == (250, "2.0.0"), r
        c.send(b"BDAT 0 LAST\r\n")
        r = c.reply()
        assert r.code == 250 and "queued as" in r.text, r
        # BDAT pipelined with its data and the next transaction in one write
        body = b"Subject: one write\r\n\r\nall at once\r\n"
        c.send(b"MAIL FROM:<a@b.org>\r\nRCPT TO:<alice@example.test>\r\n"
               b"BDAT %d LAST\r\n" % len(body) + body + b"QUIT\r\n")
        r = c.replies(4)
        assert [x.code for x in r] == [250, 250, 250, 221], r
        assert "queued as" in r[2].text
    [m] = server.wait_for_maildir("bob", 1)
    assert m.split(b"\n\n", 1)[1] == b"first part, second part\n.a dot line is not special in BDAT\n"
    [m] = server.wait_for_maildir("alice", 1)
    assert m.endswith(b"Subject: one write\n\nall at once\n")


def test_bdat_sequencing(server):
    with server.smtp() as c:
        c.ehlo()
        # BDAT without a transaction: the chunk is consumed, then refused
        c.send(b"BDAT 5\r\nhello")
        r = c.reply()
        assert (r.code, r.enh) == (503, "5.5.1"), r
        assert c.cmd("NOOP").code == 250  # in step: "hello" was not a command
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        assert c.cmd("RCPT TO:<bob@example.test>").code == 250
        c.send(b"BDAT 7\r\nSubj: x")
        assert c.reply().code == 250
        r = c.cmd("DATA")  # no DATA in a BDAT transaction
        assert (r.code, r.enh) == (503, "5.5.1"), r
        r = c.cmd("RCPT TO:<alice@example.test>")
        assert r.code == 503, r
        r = c.cmd("BDAT abc")
        assert (r.code, r.enh) == (501, "5.5.4"), r


def test_ehlo_keywords(make_server):
    srv = make_server(hostname="mx.example.test", message_size_limit="20M")
    with srv.smtp() as c:
        assert c.greeting.code == 220
        assert c.greeting.texts[0].startswith("mx.example.test ")
        assert "ESMTP" in c.greeting.text
        r = c.cmd("EHLO client.example.org")
        assert r.code == 250
        assert r.texts[0].startswith("mx.example.test")
        kw = {t.split(" ")[0].upper(): t for t in r.texts[1:]}
        for k in ("PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8",
                  "DSN", "CHUNKING"):
            assert k in kw, (k, r.texts)
        assert kw["SIZE"] == "SIZE %d" % (20 * 1024 * 1024)
        # no AUTH without TLS, and STARTTLS only when it works
        assert "AUTH" not in kw
        r2 = c.cmd("EHLO again.example.org")  # a second EHLO is allowed
        assert r2.code == 250 and r2.texts[1:] == r.texts[1:]
        for bad in ("EHLO", "EHLO bad_name!", "EHLO a..b"):
            r = c.cmd(bad)
            assert (r.code, r.enh) == (501, "5.5.4"), (bad, r)
        assert c.cmd("EHLO [127.0.0.1]").code == 250
        assert c.cmd("EHLO [IPv6:::1]").code == 250


def test_helo_no_esmtp(server):
    with server.smtp() as c:
        r = c.cmd("HELO client.example.org")
        assert r.code == 250 and len(r.lines) == 1, r
        r = c.cmd("MAIL FROM:<a@b.org> SIZE=100")
        assert (r.code, r.enh) == (555, "5.5.4"), r
        r = c.cmd("MAIL FROM:<a@b.org> BODY=8BITMIME")
        assert r.code == 555, r
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        r = c.cmd("RCPT TO:<bob@example.test> NOTIFY=NEVER")
        assert r.code == 555, r
        assert c.cmd("RCPT TO:<bob@example.test>").code == 250
        assert c.cmd("DATA").code == 354
        r = c.cmd(b"Subject: helo\r\n\r\nplain SMTP\r\n.")
        assert r.code == 250, r
        qid = queued_id(r)
    [m] = server.wait_for_maildir("bob", 1)
    assert "with SMTP id %s" % qid in header_values(m, "Received")[0]
    assert "from client.example.org ([127.0.0.1])" in header_values(m, "Received")[0]


def test_small_commands(server):
    with server.smtp() as c:
        c.ehlo()
        r = c.cmd("VRFY bob@example.test")
        assert (r.code, r.enh) == (252, "2.5.0"), r
        r = c.cmd("VRFY nobody@example.test")  # no user enumeration
        assert (r.code, r.enh) == (252, "2.5.0"), r
        r = c.cmd("VRFY")
        assert (r.code, r.enh) == (501, "5.5.4"), r
        r = c.cmd("EXPN staff@example.test")
        assert (r.code, r.enh) == (502, "5.5.1"), r
        r = c.cmd("HELP")
        assert (r.code, r.enh) == (214, "2.0.0"), r
        r = c.cmd("NOOP")
        assert (r.code, r.enh) == (250, "2.0.0"), r
        r = c.cmd("NOOP with an argument")
        assert r.code == 250, r
        r = c.cmd("noop")  # verbs are case-insensitive
        assert r.code == 250, r
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        assert c.cmd("RCPT TO:<bob@example.test>").code == 250
        r = c.cmd("RSET")
        assert (r.code, r.enh) == (250, "2.0.0"), r
        r = c.cmd("RCPT TO:<bob@example.test>")  # RSET forgot MAIL
        assert (r.code, r.enh) == (503, "5.5.1"), r
        r = c.cmd("RSET now")
        assert r.code == 501, r
        r = c.cmd("QUIT")
        assert (r.code, r.enh) == (221, "2.0.0"), r
        assert c.wait_closed(5)
    assert server.spool("queue") == []


def test_commands_out_of_order(server):
    with server.smtp() as c:
        r = c.cmd("MAIL FROM:<a@b.org>")
        assert (r.code, r.enh) == (503, "5.5.1"), r  # before EHLO
        c.ehlo()
        r = c.cmd("RCPT TO:<bob@example.test>")
        assert (r.code, r.enh) == (503, "5.5.1"), r
        r = c.cmd("DATA")
        assert (r.code, r.enh) == (503, "5.5.1"), r
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        r = c.cmd("MAIL FROM:<a@b.org>")
        assert (r.code, r.enh) == (503, "5.5.1"), r  # nested MAIL
        r = c.cmd("DATA")
        assert r.code in (503, 554) and r.enh.startswith("5.5."), r  # no recipient
        r = c.cmd("DATA extra")
        assert (r.code, r.enh) == (501, "5.5.4"), r
        assert c.cmd("RCPT TO:<bob@example.test>").code == 250
        assert c.cmd("DATA").code == 354
        assert c.cmd(b"Subject: ok\r\n\r\nx\r\n.").code == 250
        r = c.cmd("RCPT TO:<bob@example.test>")  # the transaction is over
        assert (r.code, r.enh) == (503, "5.5.1"), r


def test_unknown_and_bad_commands(make_server):
    server = make_server(smtpd_error_limit=100)
    with server.smtp() as c:
        c.ehlo()
        for line in ("FOO", "MAILFROM:<a@b.org>", "X" * 20, "MAIL TO:<a@b.org>",
                     "MAIL FROM:a@b.org", "MAIL FROM:<a@@b.org>", "RCPT"):
            r = c.cmd(line)
            assert 500 <= r.code <= 555 and r.enh and r.enh.startswith("5."), (line, r)
        r = c.cmd("FOO")
        assert (r.code, r.enh) == (500, "5.5.1"), r
        r = c.cmd(b"NOOP\x00")
        assert (r.code, r.enh) == (500, "5.5.2"), r
        r = c.cmd(b"NOOP\nNOOP")
        assert (r.code, r.enh) == (500, "5.5.2"), r
        assert c.cmd("NOOP").code == 250


def test_every_reply_has_enhanced_status_code(make_server):
    # Without STARTTLS on port 25, so that the command gets its 502 here.
    srv = make_server(smtpd_error_limit=100, smtp_starttls="no",
                      aliases={"postmaster": "bob@example.test"})
    with srv.smtp() as c:
        for line in ["HELP", "NOOP", "MAIL FROM:<a@b.org>", "EHLO client.example.org",
                     "VRFY bob", "EXPN bob", "HELP", "RCPT TO:<bob@example.test>",
                     "MAIL FROM:<a@b.org> SIZE=999999999999", "MAIL FROM:<a@b.org>",
                     "MAIL FROM:<a@b.org>", "RCPT TO:<nobody@example.test>",
                     "RCPT TO:<x@other.example>", "RCPT TO:<postmaster>",
                     "RCPT TO:<bob@example.test> NOTIFY=WRONG", "RCPT TO:<bob@example.test>",
                     "DATA"]:
            c.cmd(line)
        c.cmd(b"Subject: enh\r\n\r\nbody\r\n.")
        for line in ["RSET", "BOGUS", "STARTTLS", "AUTH PLAIN AGFAAGI=", "DATA",
                     "MAIL FROM:<a@b.org>", "RCPT TO:<alice@example.test>",
                     "BDAT 3 LAST\r\na", "NOOP " + "x" * 600, "QUIT"]:
            c.cmd(line)
        c.wait_closed(5)
        transcript = c.transcript
    checked = 0
    for r in transcript:
        if r is transcript[0]:
            continue  # the greeting
        if r.code == 250 and " Hello " in r.texts[0]:
            continue  # EHLO
        if r.code == 354:
            continue  # 3xx has no enhanced code class (RFC 3463)
        for line in r.lines:
            assert ENH.match(line[4:]), "reply line without enhanced code: %r" % line
            assert line[4] == line[0], "class mismatch in %r" % line
        checked += 1
    assert checked >= 25, transcript


def test_postmaster_without_domain(make_server):
    """RCPT TO:<postmaster> is the postmaster of our first domain. With a
    postmaster alias it is delivered there; without one it is refused like
    any unknown recipient (the server never accepts what it cannot
    deliver), so `postino init` users should add the alias."""
    srv = make_server(aliases={"postmaster": "alice@example.test"})
    with srv.smtp() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        r = c.cmd("RCPT TO:<postmaster>")
        assert (r.code, r.enh) == (250, "2.1.5"), r
        r = c.cmd("RCPT TO:<PostMaster>")
        assert r.code == 250, r
        assert c.cmd("DATA").code == 354
        r = c.cmd(b"Subject: to postmaster\r\n\r\nhello\r\n.")
        assert r.code == 250, r
    [m] = srv.wait_for_maildir("alice", 1)
    assert header_values(m, "Delivered-To") == ["alice@example.test"]
    srv.wait_queue_empty()


def test_postmaster_without_alias_is_refused(server):
    with server.smtp() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        r = c.cmd("RCPT TO:<postmaster>")
        assert (r.code, r.enh) == (550, "5.1.1"), r
        r = c.cmd("RCPT TO:<postmaster@example.test>")
        assert (r.code, r.enh) == (550, "5.1.1"), r


def test_null_sender_accepted(server):
    with server.smtp() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<>").code == 250
        assert c.cmd("RCPT TO:<bob@example.test>").code == 250
        assert c.cmd("DATA").code == 354
        assert c.cmd(b"Subject: bounce\r\n\r\nDSN\r\n.").code == 250
    [m] = server.wait_for_maildir("bob", 1)
    assert m.startswith(b"Return-Path: <>\n")
