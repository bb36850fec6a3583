"""`postino sendmail`: local submission straight into the spool, with the
server running or stopped; -t, -i, -f; exit statuses; the headers it adds
and the line endings it fixes."""

import os
import pwd
import re
import subprocess
import time

import pytest

from postino_testlib import bad_log_lines, header_values, sanitizer_env, split_message


def sendmail(srv, *args, input=b"", config_first=True, config=None, check_clean=True):
    """Run `postino sendmail` (--config first, as its usage shows, unless
    config_first is False); returns the CompletedProcess with .out/.err and
    .bad (sanitizer or panic lines, asserted empty when check_clean)."""
    cfg = ["--config", config or srv.conf]
    cmd = [srv.bin, "sendmail"] + (cfg + list(args) if config_first else list(args) + cfg)
    if isinstance(input, str):
        input = input.encode("utf-8")
    r = subprocess.run(cmd, input=input, capture_output=True, env=sanitizer_env(), timeout=60)
    r.out = r.stdout.decode("utf-8", "replace")
    r.err = r.stderr.decode("utf-8", "replace")
    r.bad = bad_log_lines(r.out + r.err)
    if check_clean:
        assert not r.bad, "sanitizer/panic output from %r:\n%s" % (cmd, r.err)
    return r


def spool_empty(srv):
    return srv.spool("queue") == [] and srv.spool("incoming") == []


def queued_messages(srv):
    """(envelope fields, rcpts, message bytes) of every queued message."""
    out = []
    for qid in srv.queue_ids():
        fields, rcpts = srv.read_envelope(qid)
        with open(os.path.join(srv.dir, "spool", "queue", qid + ".msg"), "rb") as f:
            data = f.read()
        out.append((fields, rcpts, data[:int(fields["size"])]))
    return out


def body(msg):
    return split_message(msg)[1]


def test_delivers_to_local_user_with_server_running(server):
    r = sendmail(server, "bob@example.test", input="Subject: local mail\n\nhello bob\n")
    assert r.returncode == 0, r.err
    [m] = server.wait_for_maildir("bob", 1, timeout=10)
    assert header_values(m, "Subject") == ["local mail"]
    assert header_values(m, "Delivered-To") == ["bob@example.test"]
    assert re.search(r"by \S+ \(postino sendmail, uid %d\) id [0-9A-Z]+;" % os.getuid(),
                     header_values(m, "Received")[0]), m
    assert body(m) == b"hello bob\n"
    server.wait_queue_empty()
    assert server.messages("alice") == []
    assert server.wait_log(r"[0-9A-Z]+: to=<bob@example\.test>, relay=local, status=delivered")


def test_queues_while_server_stopped(make_server):
    srv = make_server(start=False)
    r = sendmail(srv, "alice@example.test", "carol@example.test",
                 input="Subject: while down\n\nqueued\n")
    assert r.returncode == 0, r.err
    [(fields, rcpts, data)] = queued_messages(srv)
    assert sorted(x["addr"] for x in rcpts) == ["alice@example.test", "carol@example.test"]
    assert all(x["route"] == "local" and x["status"] == "pending" for x in rcpts), rcpts
    assert fields["proto"] == "local"
    assert b"\r\nSubject: while down\r\n\r\nqueued\r\n" in b"\r\n" + data
    assert srv.messages("alice") == []
    srv.start()
    for u in ("alice", "carol"):
        [m] = srv.wait_for_maildir(u, 1)
        assert header_values(m, "Subject") == ["while down"]
    srv.wait_queue_empty()


def test_t_reads_recipients_and_removes_bcc(server):
    msg = ("From: Sender <sender@example.test>\n"
           "To: Bob <bob@example.test>, \"Doe, A.\" <alice@example.test>\n"
           "Cc: carol@example.test\n"
           "Bcc: alice@example.test,\n"
           "  hidden@remote.example\n"
           "Subject: with -t\n"
           "\n"
           "Bcc: in the body stays\n")
    r = sendmail(server, "-t", input=msg)
    assert r.returncode == 0, r.err
    msgs = {u: server.wait_for_maildir(u, 1) for u in ("bob", "alice", "carol")}
    for u, [m] in msgs.items():
        head, b = split_message(m)
        assert header_values(m, "Bcc") == [], (u, m)
        assert b"hidden@remote.example" not in head, m
        assert header_values(m, "To") == ['Bob <bob@example.test>, "Doe, A." <alice@example.test>']
        assert header_values(m, "Cc") == ["carol@example.test"]
        assert b == b"Bcc: in the body stays\n"
    # alice (To and Bcc) gets one copy; the Bcc'd remote address is queued
    time.sleep(0.3)
    assert len(server.messages("alice")) == 1
    [qid] = server.queue_ids()
    fields, rcpts = server.read_envelope(qid)
    assert [(x["addr"], x["route"]) for x in rcpts if x["route"] == "remote"] == \
        [("hidden@remote.example", "remote")]


def test_t_without_recipients_is_a_usage_error(make_server):
    srv = make_server(start=False)
    r = sendmail(srv, "-t", input="Subject: nobody\n\nx\n")
    assert r.returncode == 64, (r.returncode, r.err)
    r = sendmail(srv, input="Subject: nobody\n\nx\n")
    assert r.returncode == 64, (r.returncode, r.err)
    r = sendmail(srv, "--no-such-option", "bob@example.test", input="Subject: x\n\nx\n")
    assert r.returncode == 64, (r.returncode, r.err)
    assert spool_empty(srv)


def test_f_sets_return_path(server):
    r = sendmail(server, "-f", "bounces@other.example", "bob@example.test",
                 input="From: Real Author <author@example.test>\nSubject: f\n\nx\n")
    assert r.returncode == 0, r.err
    r = sendmail(server, "-fnoreply@example.test", "alice@example.test",
                 input="Subject: f2\n\nx\n")
    assert r.returncode == 0, r.err
    [m] = server.wait_for_maildir("bob", 1)
    assert header_values(m, "Return-Path") == ["<bounces@other.example>"]
    assert header_values(m, "From") == ["Real Author <author@example.test>"]
    [m] = server.wait_for_maildir("alice", 1)
    assert header_values(m, "Return-Path") == ["<noreply@example.test>"]


def test_default_sender_is_the_calling_user(server):
    r = sendmail(server, "bob@example.test", input="Subject: who\n\nx\n")
    assert r.returncode == 0, r.err
    [m] = server.wait_for_maildir("bob", 1)
    me = pwd.getpwuid(os.getuid()).pw_name
    [rp] = header_values(m, "Return-Path")
    assert re.fullmatch(r"<%s@[^>]+>" % re.escape(me), rp), rp


def test_lone_dot_ends_message_unless_i(server):
    text = "Subject: dots\n\nfirst\n.hidden stays\n..two dots stay\n.\nafter the dot\n"
    assert sendmail(server, "bob@example.test", input=text).returncode == 0
    [m] = server.wait_for_maildir("bob", 1)
    assert body(m) == b"first\n.hidden stays\n..two dots stay\n"
    for opt in ("-i", "-oi"):
        assert sendmail(server, opt, "alice@example.test", input=text).returncode == 0
    msgs = server.wait_for_maildir("alice", 2)
    for m in msgs:
        assert body(m) == b"first\n.hidden stays\n..two dots stay\n.\nafter the dot\n", m


def test_unknown_local_recipient_exits_67_and_queues_nothing(make_server):
    srv = make_server()
    for rcpts in (["nobody@example.test"], ["bob@example.test", "nobody@example.test"]):
        r = sendmail(srv, *rcpts, input="Subject: x\n\nx\n")
        assert r.returncode == 67, (rcpts, r.returncode, r.err)
        assert "nobody@example.test" in r.err
    r = sendmail(srv, "-t", input="To: bob@example.test\nCc: ghost@example.test\n\nx\n")
    assert r.returncode == 67, (r.returncode, r.err)
    time.sleep(0.5)
    assert spool_empty(srv)
    assert srv.messages("bob") == []


def test_missing_headers_added(server):
    r = sendmail(server, "bob@example.test", input="Subject: bare\n\nno From, Date or ID\n")
    assert r.returncode == 0, r.err
    [m] = server.wait_for_maildir("bob", 1)
    [frm] = header_values(m, "From")
    assert re.search(r"<?[^@\s]+@[^>\s]+>?", frm), frm
    [date] = header_values(m, "Date")
    assert re.fullmatch(r"\w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}", date), date
    [mid] = header_values(m, "Message-ID")
    assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", mid), mid
    # present ones are kept, not doubled
    given = ("From: Author <author@example.test>\n"
             "Date: Mon, 02 Jan 2023 10:00:00 +0100\n"
             "Message-ID: <given.1@example.test>\n"
             "Subject: complete\n\nx\n")
    assert sendmail(server, "alice@example.test", input=given).returncode == 0
    [m] = server.wait_for_maildir("alice", 1)
    assert header_values(m, "From") == ["Author <author@example.test>"]
    assert header_values(m, "Date") == ["Mon, 02 Jan 2023 10:00:00 +0100"]
    assert header_values(m, "Message-ID") == ["<given.1@example.test>"]


def test_lf_input_becomes_a_proper_message(make_server):
    srv = make_server(start=False)
    cases = {
        "bob@example.test": b"Subject: lf\n\nline one\nline two",       # no final newline
        "alice@example.test": b"Subject: crlf\r\n\r\nline one\r\nline two\r\n",
        "carol@example.test": b"Subject: mixed\r\n\nline one\nline two\r\n",
    }
    for rcpt, data in cases.items():
        r = sendmail(srv, rcpt, input=data)
        assert r.returncode == 0, (rcpt, r.err)
    queued = queued_messages(srv)
    assert len(queued) == 3
    for fields, rcpts, data in queued:
        # CRLF everywhere in the spool, no bare LF or CR, ends with CRLF
        assert re.search(rb"(?<!\r)\n", data) is None, data
        assert re.search(rb"\r(?!\n)", data) is None, data
        assert data.endswith(b"\r\nline one\r\nline two\r\n"), data
        assert int(fields["size"]) == len(data)
    srv.start()
    for u in ("bob", "alice", "carol"):
        [m] = srv.wait_for_maildir(u, 1)
        assert body(m) == b"line one\nline two\n", m
        assert b"\r" not in m


def test_config_after_recipients(server):
    """`--config FILE` is accepted after the recipients, as by every other
    postino command."""
    r = sendmail(server, "bob@example.test", input="Subject: order\n\nx\n", config_first=False,
                 check_clean=False)
    assert r.returncode == 0, (r.returncode, r.err)
    assert not r.bad, r.err
    server.wait_for_maildir("bob", 1)


def test_unreadable_config_fails_cleanly(make_server):
    srv = make_server(start=False)
    r = sendmail(srv, "bob@example.test", input="Subject: x\n\nx\n",
                 config=os.path.join(srv.top, "no-such.conf"), check_clean=False)
    assert r.returncode not in (0, 67), (r.returncode, r.err)
    assert "no-such.conf" in r.err, r.err
    assert not r.bad, "sanitizer report on the error path:\n" + r.err
    assert spool_empty(srv)
