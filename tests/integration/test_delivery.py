"""Local delivery end to end: what a client sends is what lands in Maildir."""

import os
import re
import smtplib
import subprocess
import time
import uuid

import pytest

from postino_testlib import header_values, queued_id

CLIENT_HELO = "client.example.org"


def token():
    return uuid.uuid4().hex


def sample_message(tok, to="bob@example.test", extra_body=b""):
    return (b"From: Alice Sender <a@b.org>\r\n"
            b"To: <" + to.encode() + b">\r\n"
            b"Subject: delivery " + tok.encode() + b"\r\n"
            b"Message-ID: <" + tok.encode() + b"@b.org>\r\n"
            b"\r\n"
            b"Hello Bob,\r\n"
            b".a line that starts with a dot (stuffed by smtplib)\r\n"
            b"\ttabbed line and trailing space \r\n"
            b"\r\n" + extra_body +
            b"-- \r\nAlice\r\n")


def smtp_client(srv):
    s = smtplib.SMTP("127.0.0.1", srv.port, local_hostname=CLIENT_HELO, timeout=20)
    s.ehlo()
    return s


def send(srv, sender, rcpts, msg, mail_options=(), rcpt_options=()):
    """One transaction with smtplib; returns the queue ID from the 250."""
    with smtp_client(srv) as s:
        code, resp = s.mail(sender, list(mail_options))
        assert code == 250, (code, resp)
        for r in rcpts:
            code, resp = s.rcpt(r, list(rcpt_options))
            assert code == 250, (r, code, resp)
        code, resp = s.data(msg)
        assert code == 250, (code, resp)
        return queued_id(resp.decode())


def test_stored_message_is_exactly_what_was_sent(make_server):
    srv = make_server(hostname="mx.example.test")
    tok = token()
    msg = sample_message(tok)
    qid = send(srv, "a@b.org", ["bob@example.test"], msg)
    [stored] = srv.wait_for_maildir("bob", 1)

    received = re.compile(
        rb"^Return-Path: <a@b\.org>\n"
        rb"Delivered-To: bob@example\.test\n"
        rb"Received: from " + re.escape(CLIENT_HELO.encode()) + rb" \(\[127\.0\.0\.1\]\)\n"
        rb"\tby mx\.example\.test \(postino\) with ESMTP id " + qid.encode() + rb"\n"
        rb"\tfor <bob@example\.test>;\n"
        rb"\t(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [ 0-9]\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\n")
    m = received.match(stored)
    assert m, "added headers not as expected:\n%r" % stored[:400]
    assert stored[m.end():] == msg.replace(b"\r\n", b"\n")
    srv.wait_queue_empty()
    assert srv.grep_log(r"%s: to=<bob@example\.test>, relay=local, status=delivered" % qid)
    assert srv.grep_log(r"%s: removed" % qid)
    assert srv.grep_log(r"smtpd\[\d+\]: %s: from=<a@b\.org>, size=\d+, nrcpt=1, "
                        r"client=\[127\.0\.0\.1\]" % qid)


def test_swaks_delivery(server):
    tok = token()
    r = subprocess.run(
        ["swaks", "--server", "127.0.0.1:%d" % server.port, "--from", "sender@b.org",
         "--to", "alice@example.test", "--helo", "swaks.example.org",
         "--header", "Subject: swaks " + tok, "--body", "body " + tok],
        capture_output=True, timeout=60)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    assert re.search(rb"<-  250 2\.0\.0 Ok: queued as [0-9A-Z]+", r.stdout), r.stdout
    [stored] = server.wait_for_maildir("alice", 1)
    assert header_values(stored, "Subject") == ["swaks " + tok]
    assert b"\nbody " + tok.encode() + b"\n" in stored
    assert stored.startswith(b"Return-Path: <sender@b.org>\nDelivered-To: alice@example.test\n")
    assert b"\r" not in stored
    server.wait_queue_empty()


def test_several_local_recipients_one_copy_each(server):
    tok = token()
    rcpts = ["bob@example.test", "alice@example.test", "carol@example.test",
             "BOB@example.test", "bob+dup@example.test"]  # the last two are bob again
    qid = send(server, "a@b.org", rcpts, sample_message(tok, to="list@example.test"))
    server.wait_queue_empty()
    for user in ("bob", "alice", "carol"):
        msgs = server.messages(user)
        assert len(msgs) == 1, (user, len(msgs))
        assert header_values(msgs[0], "Delivered-To") == ["%s@example.test" % user]
        assert header_values(msgs[0], "Subject") == ["delivery " + tok]
        # several recipients: the Received header names none of them
        [rcv] = header_values(msgs[0], "Received")
        assert "id %s;" % qid in rcv and " for " not in rcv, rcv
    assert len(server.grep_log(r"%s: to=<.*status=delivered" % qid)) == 3


def test_unknown_recipient_refused_nothing_stored(server):
    with smtp_client(server) as s:
        assert s.mail("a@b.org")[0] == 250
        code, resp = s.rcpt("nobody@example.test")
        assert code == 550 and resp.startswith(b"5.1.1 "), (code, resp)
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.data(sample_message(token()))
        assert e.value.smtp_code == 554, e.value  # no valid recipients
    time.sleep(0.5)
    assert server.spool("queue") == [] and server.spool("incoming") == []
    for user in ("bob", "alice", "carol", "nobody"):
        assert server.messages(user) == []
    assert server.grep_log(r"NOQUEUE: reject: RCPT from \[127\.0\.0\.1\]: 550 5\.1\.1 "
                           r"<nobody@example\.test>")


def test_plus_address_goes_to_user(server):
    tok = token()
    send(server, "a@b.org", ["bob+shopping@example.test"], sample_message(tok))
    [stored] = server.wait_for_maildir("bob", 1)
    assert header_values(stored, "Delivered-To") == ["bob@example.test"]
    assert "for <bob+shopping@example.test>" in header_values(stored, "Received")[0]
    assert header_values(stored, "Subject") == ["delivery " + tok]
    server.wait_queue_empty()
    assert not server.messages("bob+shopping")


def test_plus_address_of_unknown_user_refused(server):
    with smtp_client(server) as s:
        s.mail("a@b.org")
        code, resp = s.rcpt("nobody+tag@example.test")
        assert code == 550 and resp.startswith(b"5.1.1"), (code, resp)


def test_alias_to_several_local_users(make_server):
    srv = make_server(aliases={"team": ["bob@example.test", "alice@example.test"]})
    tok = token()
    qid = send(srv, "a@b.org", ["team@example.test"], sample_message(tok))
    srv.wait_queue_empty()
    for user in ("bob", "alice"):
        [m] = srv.messages(user)
        assert header_values(m, "Delivered-To") == ["%s@example.test" % user]
        assert header_values(m, "Subject") == ["delivery " + tok]
    assert srv.messages("carol") == []
    assert srv.messages("team") == []
    assert len(srv.grep_log(r"%s: to=<.*status=delivered" % qid)) == 2


def test_alias_to_remote_address_is_queued_not_delivered(make_server):
    srv = make_server(aliases={"fwd": ["someone@remote.example"],
                               "both": ["carol@example.test", "friend@remote.example"]})
    qid = send(srv, "a@b.org", ["fwd@example.test"], sample_message(token()))
    fields, rcpts = srv.read_envelope(qid)
    assert len(rcpts) == 1
    assert rcpts[0]["addr"] == "someone@remote.example"
    assert rcpts[0]["route"] == "remote"
    assert rcpts[0].get("orig") == "fwd@example.test"
    # outbound delivery does not exist yet: it stays queued, deferred
    srv.wait_envelope(qid, lambda f, r: r[0]["status"] == "deferred")
    assert qid in srv.queue_ids()
    for user in ("bob", "alice", "carol", "fwd", "someone"):
        assert srv.messages(user) == []

    # an alias to a local and a remote address: local copy now, remote kept
    qid2 = send(srv, "a@b.org", ["both@example.test"], sample_message(token()))
    srv.wait_for_maildir("carol", 1)
    f, r = srv.wait_envelope(qid2, lambda f, r: any(x["status"] == "delivered" for x in r))
    routes = {x["addr"]: (x["route"], x["status"]) for x in r}
    assert routes["carol@example.test"] == ("local", "delivered")
    assert routes["friend@remote.example"][0] == "remote"
    assert routes["friend@remote.example"][1] in ("pending", "deferred")


def test_utf8_local_part_with_smtputf8(make_server):
    srv = make_server(users=("bob", "jos\u00e9"))
    tok = token()
    msg = ("From: Ren\u00e9 <ren\u00e9@b\u00fccher.example>\r\n"
           "To: <jos\u00e9@example.test>\r\n"
           "Subject: =?utf-8?q?caf=C3=A9?= " + tok + "\r\n"
           "\r\n"
           "Gr\u00fc\u00dfe aus K\u00f6ln\r\n").encode("utf-8")
    qid = send(srv, "ren\u00e9@b\u00fccher.example", ["jos\u00e9@example.test"], msg,
               mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    [stored] = srv.wait_for_maildir("jos\u00e9", 1)
    head = "Return-Path: <ren\u00e9@b\u00fccher.example>\nDelivered-To: jos\u00e9@example.test\n"
    assert stored.startswith(head.encode("utf-8")), stored[:200]
    assert "with UTF8SMTP id %s" % qid in header_values(stored, "Received")[0]
    assert stored.endswith(msg.replace(b"\r\n", b"\n"))
    srv.wait_queue_empty()


def test_utf8_sender_to_ascii_user(server):
    tok = token()
    msg = ("Subject: " + tok + "\r\n\r\nhej\r\n").encode()
    send(server, "\u00e5sa@sm\u00f6rg\u00e5s.example", ["bob@example.test"], msg,
         mail_options=["SMTPUTF8"])
    [stored] = server.wait_for_maildir("bob", 1)
    assert stored.startswith("Return-Path: <\u00e5sa@sm\u00f6rg\u00e5s.example>\n".encode())


def test_utf8_addresses_refused_without_smtputf8(make_server):
    srv = make_server(users=("bob", "jos\u00e9"))
    with srv.smtp() as c:
        c.ehlo()
        r = c.cmd("MAIL FROM:<ren\u00e9@example.org>".encode("utf-8"))
        assert (r.code, r.enh) == (553, "5.6.7"), r
        r = c.cmd("MAIL FROM:<rene@example.org>")
        assert r.code == 250, r
        r = c.cmd("RCPT TO:<jos\u00e9@example.test>".encode("utf-8"))
        assert (r.code, r.enh) == (553, "5.6.7"), r
        r = c.cmd("RCPT TO:<bob@b\u00fccher.example>".encode("utf-8"))
        assert (r.code, r.enh) == (553, "5.6.7"), r
        r = c.cmd("DATA")
        assert r.code in (503, 554), r
    time.sleep(0.3)
    assert srv.spool("queue") == []
    assert srv.messages("jos\u00e9") == []


def test_8bitmime_body_stored_unchanged(server):
    tok = token()
    body = ("Subject: 8bit " + tok + "\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
            "\u00e6\u00f8\u00e5 \u20ac \u4e2d\u6587 \U0001F600\r\n"
            "Latin-1 octets: ").encode("utf-8") + bytes(range(0xa0, 0x100)) + b"\r\n"
    qid = send(server, "a@b.org", ["bob@example.test"], body, mail_options=["BODY=8BITMIME"])
    [stored] = server.wait_for_maildir("bob", 1)
    assert stored.endswith(body.replace(b"\r\n", b"\n"))
    server.wait_queue_empty()


def test_queue_empty_after_delivery(server):
    qids = [send(server, "a@b.org", ["bob@example.test", "alice@example.test"],
                 sample_message(token())) for _ in range(5)]
    server.wait_for_maildir("bob", 5)
    server.wait_for_maildir("alice", 5)
    server.wait_queue_empty()
    assert server.spool("incoming") == []
    for q in qids:
        assert server.grep_log(r"%s: removed" % q)


def test_dsn_parameters_kept_in_envelope(make_server):
    srv = make_server(aliases={"fwd": ["someone@remote.example"]})
    with srv.smtp() as c:
        ehlo = c.ehlo()
        assert "DSN" in ehlo.texts
        r = c.cmd("MAIL FROM:<a@b.org> RET=HDRS ENVID=QQ314159+2B1")
        assert r.code == 250, r
        r = c.cmd("RCPT TO:<fwd@example.test> NOTIFY=SUCCESS,FAILURE "
                  "ORCPT=rfc822;fwd+2Bx@example.test")
        assert r.code == 250, r
        r = c.cmd("DATA")
        assert r.code == 354, r
        r = c.cmd("Subject: dsn\r\n\r\nbody\r\n.")
        assert r.code == 250, r
        qid = queued_id(r)
        c.cmd("QUIT")
    fields, rcpts = srv.read_envelope(qid)
    assert fields["ret"] == "HDRS"
    assert fields["envid"] == "QQ314159+2B1"
    assert fields["sender"] == "a@b.org"
    [r] = rcpts
    assert r["addr"] == "someone@remote.example"
    assert r["orcpt"] == "rfc822;fwd+2Bx@example.test"
    assert int(r["notify"]) == 2 | 4  # SUCCESS | FAILURE
    assert r["route"] == "remote"

    # NOTIFY=NEVER and RET=FULL on a second message
    with srv.smtp() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@b.org> RET=FULL").code == 250
        assert c.cmd("RCPT TO:<fwd@example.test> NOTIFY=NEVER").code == 250
        assert c.cmd("DATA").code == 354
        r = c.cmd("Subject: dsn2\r\n\r\nbody\r\n.")
        assert r.code == 250, r
        qid2 = queued_id(r)
    fields, [r] = srv.read_envelope(qid2)
    assert fields["ret"] == "FULL"
    assert "envid" not in fields
    assert int(r["notify"]) == 1
    assert "orcpt" not in r


@pytest.mark.parametrize("params", [
    "RET=SOMETIMES", "ENVID=", "RET=HDRS RET=FULL",
])
def test_bad_dsn_mail_parameters_refused(server, params):
    with server.smtp() as c:
        c.ehlo()
        r = c.cmd("MAIL FROM:<a@b.org> " + params)
        assert r.code in (501, 555), r
        assert r.enh and r.enh.startswith("5."), r


@pytest.mark.parametrize("params", [
    "NOTIFY=SOMETIMES", "NOTIFY=NEVER,SUCCESS", "ORCPT=nosemicolon",
])
def test_bad_dsn_rcpt_parameters_refused(server, params):
    with server.smtp() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        r = c.cmd("RCPT TO:<bob@example.test> " + params)
        assert r.code in (501, 555), r


def test_maildir_file_name_sizes_and_owner(server):
    """Maildir++: S= is the file size, W= the size with CRLF line ends
    (what IMAP reports as RFC822.SIZE); files belong to the mail user."""
    import pwd
    send(server, "a@b.org", ["bob@example.test"], sample_message(token()))
    server.wait_for_maildir("bob", 1)
    [path] = server.message_files("bob")
    with open(path, "rb") as f:
        data = f.read()
    m = re.search(r",S=(\d+),W=(\d+)(:2,.*)?$", os.path.basename(path))
    assert m, path
    assert int(m.group(1)) == len(data) == os.path.getsize(path)
    assert int(m.group(2)) == len(data) + data.count(b"\n")
    vmail = pwd.getpwnam("vmail")
    st = os.stat(path)
    assert (st.st_uid, st.st_gid) == (vmail.pw_uid, vmail.pw_gid)
    assert st.st_mode & 0o077 == 0, oct(st.st_mode)  # not readable by others
    for sub in ("cur", "tmp"):
        assert os.path.isdir(os.path.join(server.maildir("bob"), sub))
    assert server.message_files("bob", "tmp") == []


def test_second_domain_and_mixed_case(server):
    server.add_domain("other.test")
    server.add_user("zed@other.test")
    tok = token()
    send(server, "a@b.org", ["Zed@Other.TEST", "Bob@EXAMPLE.test"], sample_message(tok))
    [z] = server.wait_for_maildir("zed@other.test", 1)
    assert header_values(z, "Delivered-To") == ["zed@other.test"]
    assert os.path.isdir(os.path.join(server.dir, "mail", "other.test", "zed", "new"))
    [b] = server.wait_for_maildir("bob", 1)
    assert header_values(b, "Delivered-To") == ["bob@example.test"]
    server.wait_queue_empty()


def test_catch_all_alias(make_server):
    srv = make_server(aliases={"@example.test": "carol@example.test"})
    tok = token()
    send(srv, "a@b.org", ["anything@example.test", "bob@example.test"], sample_message(tok))
    [c] = srv.wait_for_maildir("carol", 1)
    assert header_values(c, "Delivered-To") == ["carol@example.test"]
    [b] = srv.wait_for_maildir("bob", 1)  # a real user is not caught
    srv.wait_queue_empty()
    assert len(srv.messages("carol")) == 1


def test_alias_keeping_a_copy_and_alias_loop(make_server):
    srv = make_server(aliases={"bob": ["bob@example.test", "alice@example.test"],
                               "ping": "pong@example.test", "pong": "ping@example.test"})
    send(srv, "a@b.org", ["bob@example.test"], sample_message(token()))
    srv.wait_for_maildir("bob", 1)
    srv.wait_for_maildir("alice", 1)
    with smtp_client(srv) as s:
        s.mail("a@b.org")
        code, resp = s.rcpt("ping@example.test")
        assert 500 <= code < 600, (code, resp)
    srv.wait_queue_empty()
    assert len(srv.messages("bob")) == 1 and len(srv.messages("alice")) == 1


def test_bdat_message_without_final_crlf(server):
    body = b"Subject: no final newline\r\n\r\nlast line without CRLF"
    with server.smtp() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        assert c.cmd("RCPT TO:<bob@example.test>").code == 250
        c.send(b"BDAT %d LAST\r\n" % len(body) + body)
        r = c.reply()
        assert r.code == 250, r
    [m] = server.wait_for_maildir("bob", 1)
    assert m.endswith(b"\n\nlast line without CRLF\n"), m[-60:]
