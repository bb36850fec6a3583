"""SMTP AUTH on submission (587, 465) and optionally on port 25: PLAIN and
LOGIN under TLS only, sender checks for authenticated users, the failure
delays, the per-connection limit, account lockout, the per-address block,
the log lines and the fail2ban filter, and the import of Dovecot hashes."""

import base64
import json
import os
import re
import smtplib
import sqlite3
import subprocess
import time

import pytest

from postino_testlib import REPO, SMTPConn, client_tls_context, header_values, queued_id

PW = "secret-pw"
BAD = (535, "5.7.8", "Authentication credentials invalid")

# Settings that keep the lockout tests fast: no delays, no per-address block.
FAST_LOCKOUT = dict(lockout_max_failures=3, auth_failure_delay=0, auth_ip_max_failures=100,
                    auth_max_failures_per_connection=100)

FAIL_LINE = re.compile(
    r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ postino/smtpd\[\d+\]: authentication failed: "
    r"service=(?P<service>smtp|submission|submissions) client=(?P<client>[0-9a-f.:]+) "
    r"user=<(?P<user>[^\n]*)> reason=(?P<reason>unknown-user|wrong-password"
    r"(?: \(same password again\))?|account-locked|client-blocked) "
    r"account_failures=\d+ client_failures=\d+ delay=\d+ms$")


# --- helpers ---

def assert_bad(r):
    assert (r.code, r.enh) == BAD[:2] and r.text == "5.7.8 " + BAD[2], r


def tls_session(srv, port=None, source=None):
    """EHLO (and STARTTLS and EHLO again, except on 465) on a new connection;
    the session is ready for AUTH."""
    port = port or srv.submission_port
    if port == srv.submissions_port:
        c = srv.submissions(source=source)
        c.ehlo()
        return c
    c = SMTPConn(port, source=source)
    c.ehlo()
    assert c.starttls().code == 220
    c.ehlo()
    return c


def login(srv, user, password=PW, port=None, source=None):
    """A new authenticated session; returns (connection, AUTH reply)."""
    c = tls_session(srv, port, source)
    return c, c.auth_plain(srv.address(user), password)


def try_login(srv, user, password, port=None, source=None):
    """One AUTH PLAIN on a new connection; returns the reply."""
    c, r = login(srv, user, password, port, source)
    c.close()
    return r


def send_message(c, sender, rcpts, body="Subject: test\n\nhello"):
    r = c.cmd("MAIL FROM:<%s>" % sender)
    assert r.code == 250, r
    for rc in rcpts:
        r = c.cmd("RCPT TO:<%s>" % rc)
        assert r.code == 250, (rc, r)
    assert c.cmd("DATA").code == 354
    return c.cmd(body.replace("\n", "\r\n") + "\r\n.")


def users(srv):
    return {u["address"]: u for u in json.loads(srv.cli("user", "list", "--json").out)}


def fail_lines(srv):
    return [l for l in srv.log().splitlines() if "authentication failed:" in l]


# --- AUTH mechanisms ---

def test_smtplib_plain_and_login_after_starttls(server):
    ctx = client_tls_context()
    with smtplib.SMTP("127.0.0.1", server.submission_port, timeout=15) as s:
        s.ehlo("client.example.org")
        assert not s.has_extn("auth")
        s.starttls(context=ctx)
        s.ehlo("client.example.org")
        assert set(s.esmtp_features["auth"].split()) >= {"PLAIN", "LOGIN"}
        code, text = s.login("bob@example.test", PW)  # smtplib picks PLAIN
        assert code == 235, text
        refused = s.sendmail("bob@example.test", ["alice@example.test"],
                             b"Subject: smtplib plain\r\n\r\nhi\r\n")
        assert refused == {}
    with smtplib.SMTP("127.0.0.1", server.submission_port, timeout=15) as s:
        s.starttls(context=ctx)
        s.ehlo("client.example.org")
        s.user, s.password = "carol@example.test", PW
        code, text = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
        assert code == 235, text
        s.sendmail("carol@example.test", ["alice@example.test"],
                   b"Subject: smtplib login\r\n\r\nhi\r\n")
    with smtplib.SMTP_SSL("127.0.0.1", server.submissions_port, timeout=15, context=ctx) as s:
        s.ehlo("client.example.org")
        s.user, s.password = "bob@example.test", PW
        # LOGIN with an initial response (the user name on the AUTH line)
        code, text = s.auth("LOGIN", s.auth_login, initial_response_ok=True)
        assert code == 235, text
        s.sendmail("bob@example.test", ["alice@example.test"],
                   b"Subject: smtplib 465\r\n\r\nhi\r\n")
    msgs = server.wait_for_maildir("alice", 3)
    assert sorted(header_values(m, "Subject")[0] for m in msgs) == \
        ["smtplib 465", "smtplib login", "smtplib plain"]
    for m in msgs:
        assert "ESMTPSA" in header_values(m, "Received")[0]
    assert len(server.grep_log(r"authenticated: service=submission client=127\.0\.0\.1 "
                               r"user=<(bob|carol)@example\.test>$")) == 2
    assert len(server.grep_log(r"authenticated: service=submissions client=127\.0\.0\.1 "
                               r"user=<bob@example\.test>$")) == 1
    assert fail_lines(server) == []


def test_raw_plain_and_login(server):
    for port in (server.submission_port, server.submissions_port):
        c = tls_session(server, port)
        r = c.auth_plain("bob@example.test", PW)
        assert (r.code, r.enh) == (235, "2.7.0"), r
        r = c.cmd("AUTH PLAIN " + base64.b64encode(b"\0bob@example.test\0" + PW.encode()).decode())
        assert (r.code, r.enh) == (503, "5.5.1"), r
        c.close()
        c = tls_session(server, port)
        r = c.cmd("AUTH LOGIN")
        assert r.code == 334 and base64.b64decode(r.texts[0]) == b"Username:", r
        r = c.cmd(base64.b64encode(b"alice@example.test").decode())
        assert r.code == 334 and base64.b64decode(r.texts[0]) == b"Password:", r
        r = c.cmd(base64.b64encode(PW.encode()).decode())
        assert (r.code, r.enh) == (235, "2.7.0"), r
        c.close()
    # PLAIN with the response on its own line, and an authzid equal to the user
    c = tls_session(server)
    assert c.cmd("AUTH PLAIN").code == 334
    r = c.cmd(base64.b64encode(b"carol@example.test\0carol@example.test\0" + PW.encode()).decode())
    assert (r.code, r.enh) == (235, "2.7.0"), r
    c.close()


def test_swaks_plain_and_login(server):
    base = ["swaks", "--server", "127.0.0.1", "--timeout", "20", "--auth-password", PW]
    r = subprocess.run(base + ["--port", str(server.submission_port), "-tls", "--auth", "PLAIN",
                               "--auth-user", "bob@example.test", "--from", "bob@example.test",
                               "--to", "alice@example.test", "--header", "Subject: swaks plain"],
                       capture_output=True, timeout=60)
    out = r.stdout.decode("utf-8", "replace")
    assert re.search(r"<~  235 2\.7\.0", out), out
    assert re.search(r"<~  250 .*queued as", out), out
    r = subprocess.run(base + ["--port", str(server.submissions_port), "--tlsc", "--auth", "LOGIN",
                               "--auth-user", "carol@example.test", "--from", "carol@example.test",
                               "--to", "alice@example.test", "--header", "Subject: swaks login"],
                       capture_output=True, timeout=60)
    out = r.stdout.decode("utf-8", "replace")
    assert re.search(r"<~  235 2\.7\.0", out), out
    assert re.search(r"<~  221 ", out), out
    assert r.returncode == 0, out
    msgs = server.wait_for_maildir("alice", 2)
    assert sorted(header_values(m, "Subject")[0] for m in msgs) == ["swaks login", "swaks plain"]


def test_wrong_password_and_unknown_user_same_reply(make_server):
    srv = make_server(auth_failure_delay=0)
    c = tls_session(srv, srv.submissions_port)
    r1 = c.auth_plain("bob@example.test", "wrong")
    r2 = c.auth_plain("nosuchuser@example.test", PW)
    c.close()
    c = tls_session(srv, srv.submission_port)
    r3 = c.auth_login("nobody@other.example", "x")
    c.close()
    for r in (r1, r2, r3):
        assert_bad(r)
    assert r1.lines == r2.lines == r3.lines
    lines = fail_lines(srv)
    assert len(lines) == 3, lines
    reasons = [FAIL_LINE.match(l).group("reason") for l in lines]
    assert reasons == ["wrong-password", "unknown-user", "unknown-user"], lines
    # and the right password still works (3 failures < the lockout default)
    assert try_login(srv, "bob", PW).code == 235


# --- what needs TLS and AUTH ---

def test_tls_and_auth_required_on_submission(server):
    with server.submission() as c:
        ehlo = c.ehlo()
        assert not any(t.startswith("AUTH") for t in ehlo.texts)
        r = c.cmd("MAIL FROM:<bob@example.test>")
        assert (r.code, r.enh) == (530, "5.7.0") and "Must issue a STARTTLS command first" in r.text
        r = c.cmd("RCPT TO:<alice@example.test>")
        assert r.code in (503, 530), r
        r = c.auth_plain("bob@example.test", PW)
        assert (r.code, r.enh) == (538, "5.7.11"), r
        assert c.starttls().code == 220
        c.ehlo()
        r = c.cmd("MAIL FROM:<bob@example.test>")
        assert (r.code, r.enh) == (530, "5.7.0") and "Authentication required" in r.text, r
        r = c.cmd("DATA")
        assert r.code in (503, 530), r
    with server.submissions() as c:
        c.ehlo()
        r = c.cmd("MAIL FROM:<bob@example.test>")
        assert (r.code, r.enh) == (530, "5.7.0") and "Authentication required" in r.text, r
    # the password sent in plaintext was not even checked
    assert not server.grep_log(r"authenticat(ed|ion failed):")
    time.sleep(0.2)
    assert server.spool("queue") == []


def test_smtp_port_auth_only_when_enabled_and_under_tls(make_server):
    srv = make_server(smtp_auth="yes", auth_failure_delay=0)
    with srv.smtp() as c:
        assert not any(t.startswith("AUTH") for t in c.ehlo().texts)
        r = c.auth_plain("bob@example.test", PW)
        assert (r.code, r.enh) == (538, "5.7.11"), r
        assert c.starttls().code == 220
        assert any(t.startswith("AUTH ") for t in c.ehlo().texts)
        assert_bad(c.auth_plain("bob@example.test", "wrong"))
        r = c.auth_plain("bob@example.test", PW)
        assert (r.code, r.enh) == (235, "2.7.0"), r
        r = send_message(c, "bob@example.test", ["someone@remote.example"])
        assert r.code == 250, r
    assert srv.grep_log(r"authenticated: service=smtp client=127\.0\.0\.1 user=<bob@example\.test>")
    assert srv.grep_log(r"authentication failed: service=smtp client=127\.0\.0\.1 ")
    # without smtp_auth: never offered on 25
    with make_server().smtp() as c:
        c.ehlo()
        c.starttls()
        assert not any(t.startswith("AUTH") for t in c.ehlo().texts)
        r = c.auth_plain("bob@example.test", PW)
        assert r.code == 502, r


# --- senders and recipients of authenticated users ---

def test_sender_must_belong_to_the_user(make_server):
    srv = make_server(aliases={"sales": "bob@example.test",
                               "team": ["bob@example.test", "alice@example.test"],
                               "support": "alice@example.test"})
    c, r = login(srv, "bob")
    assert r.code == 235
    for sender in ("alice@example.test", "someone@other.example", "support@example.test",
                   "bob@other.example", "bobby@example.test", "bob-x@example.test"):
        r = c.cmd("MAIL FROM:<%s>" % sender)
        assert (r.code, r.enh) == (553, "5.7.1"), (sender, r)
    for sender in ("bob@example.test", "bob+tag@example.test", "bob+a+b@example.test",
                   "sales@example.test", "team@example.test"):
        r = c.cmd("MAIL FROM:<%s>" % sender)
        assert r.code == 250, (sender, r)
        assert c.cmd("RSET").code == 250
    r = send_message(c, "bob+lists@example.test", ["alice@example.test"],
                     "Subject: tagged\n\nx")
    assert r.code == 250, r
    c.close()
    [m] = srv.wait_for_maildir("alice", 1)
    assert header_values(m, "Return-Path") == ["<bob+lists@example.test>"]
    assert srv.grep_log(r"NOQUEUE: reject: MAIL from \[127\.0\.0\.1\]: 553 5\.7\.1 ")


def test_user_sender_add(server):
    server.cli("user", "sender", "add", "bob@example.test", "boss@example.test")
    server.cli("user", "sender", "add", "bob@example.test", "@partner.example")
    c, r = login(server, "bob")
    assert r.code == 235
    for sender, ok in (("boss@example.test", True), ("anyone@partner.example", True),
                       ("x@sub.partner.example", False), ("carol@example.test", False),
                       ("boss@other.example", False)):
        r = c.cmd("MAIL FROM:<%s>" % sender)
        if ok:
            assert r.code == 250, (sender, r)
            assert c.cmd("RSET").code == 250
        else:
            assert (r.code, r.enh) == (553, "5.7.1"), (sender, r)
    c.close()
    # only for bob
    c, r = login(server, "carol")
    r = c.cmd("MAIL FROM:<boss@example.test>")
    assert (r.code, r.enh) == (553, "5.7.1"), r
    c.close()
    # and it can be taken back
    server.cli("user", "sender", "del", "bob@example.test", "boss@example.test")
    c, r = login(server, "bob")
    r = c.cmd("MAIL FROM:<boss@example.test>")
    assert (r.code, r.enh) == (553, "5.7.1"), r
    c.close()
    out = server.cli("user", "sender", "list", "bob@example.test").out
    assert "@partner.example" in out and "boss@example.test" not in out


def test_authenticated_user_may_send_anywhere(server):
    c, r = login(server, "bob", port=server.submissions_port)
    r = send_message(c, "bob@example.test", ["someone@remote.example", "alice@example.test"],
                     "Subject: out\n\nx")
    assert r.code == 250, r
    qid = queued_id(r)
    c.close()
    server.wait_for_maildir("alice", 1)
    fields, rcpts = server.wait_envelope(
        qid, lambda f, r: [x["status"] for x in r if x["route"] == "remote"] == ["deferred"])
    assert [x["addr"] for x in rcpts if x["route"] == "remote"] == ["someone@remote.example"]
    # unauthenticated on port 25 the same recipient is refused (no open relay)
    with server.smtp() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<bob@example.test>").code == 250
        r = c.cmd("RCPT TO:<someone@remote.example>")
        assert (r.code, r.enh) == (554, "5.7.1"), r


# --- per-connection limit and delays ---

def read_reply_or_eof(c):
    try:
        return c.reply()
    except ConnectionError:
        return None


@pytest.mark.parametrize("service", ["submissions", "submission"])
def test_connection_closed_after_three_failures(make_server, service):
    srv = make_server(auth_failure_delay=0, auth_ip_max_failures=100)
    port = srv.submissions_port if service == "submissions" else srv.submission_port
    c = tls_session(srv, port)
    assert_bad(c.auth_plain("bob@example.test", "w1"))
    assert_bad(c.auth_login("bob@example.test", "w2"))
    c.send("AUTH PLAIN " + base64.b64encode(b"\0bob@example.test\0w3").decode() + "\r\n")
    replies = []
    while True:
        r = read_reply_or_eof(c)
        if r is None:
            break
        replies.append(r)
    assert c.wait_closed(5)
    c.close()
    assert [(r.code, r.enh) for r in replies] in ([(535, "5.7.8"), (421, "4.7.0")],
                                                   [(421, "4.7.0")]), \
        "after the third failure on %s: %r" % (service, replies)
    assert len(fail_lines(srv)) == 3


def test_failure_delay_doubles_per_client_and_success_is_not_delayed(make_server):
    srv = make_server(auth_ip_max_failures=100)  # default delays: 1s, doubling
    c = tls_session(srv, srv.submissions_port)
    times = []
    for pw in ("w1", "w2", "w3"):
        t = time.monotonic()
        if pw == "w3":
            c.send("AUTH PLAIN " + base64.b64encode(b"\0bob@example.test\0w3").decode() + "\r\n")
            r = c.reply()
        else:
            r = c.auth_plain("bob@example.test", pw)
        times.append(time.monotonic() - t)
        assert_bad(r)
    r = read_reply_or_eof(c)
    assert r is not None and (r.code, r.enh) == (421, "4.7.0"), r
    assert c.wait_closed(5)
    c.close()
    for got, want in zip(times, (1.0, 2.0, 4.0)):
        assert want - 0.05 <= got <= want + 0.8, times
    delays = [re.search(r"delay=(\d+)ms", l).group(1) for l in fail_lines(srv)]
    assert delays == ["1000", "2000", "4000"], delays
    # a success from the same address is answered at once
    c = tls_session(srv, srv.submission_port)
    t = time.monotonic()
    r = c.auth_plain("bob@example.test", PW)
    elapsed = time.monotonic() - t
    c.close()
    assert r.code == 235, r
    assert elapsed < 0.5, elapsed


def test_failure_delay_capped(make_server):
    """The delay belongs to the client address, not the connection, and
    stops doubling at auth_failure_delay_max."""
    srv = make_server(auth_failure_delay="1s", auth_failure_delay_max="2s",
                      auth_ip_max_failures=100)
    times = []
    for pw in ("w1", "w2", "w3"):
        c = tls_session(srv, srv.submissions_port)  # a new connection each time
        t = time.monotonic()
        assert_bad(c.auth_plain("alice@example.test", pw))
        times.append(time.monotonic() - t)
        c.close()
    for got, want in zip(times, (1.0, 2.0, 2.0)):
        assert want - 0.05 <= got <= want + 0.8, times
    delays = [re.search(r"delay=(\d+)ms", l).group(1) for l in fail_lines(srv)]
    assert delays == ["1000", "2000", "2000"], delays


# --- account lockout ---

def test_lockout_then_unlock(make_server):
    srv = make_server(**FAST_LOCKOUT)
    c = tls_session(srv)
    for pw in ("w1", "w2", "w3"):
        assert_bad(c.auth_plain("bob@example.test", pw))
    srv.wait_log(r"account locked: user=<bob@example\.test> after 3 failures "
                 r"\(last from 127\.0\.0\.1\)")
    # the right password gets the very same reply now
    r = c.auth_plain("bob@example.test", PW)
    assert_bad(r)
    c.close()
    assert FAIL_LINE.match(fail_lines(srv)[-1]).group("reason") == "account-locked"
    assert_bad(try_login(srv, "bob", PW, port=srv.submissions_port))
    u = users(srv)["bob@example.test"]
    assert u["locked"] is True and u["admin_locked"] is False, u
    assert u["failures"] == 3, u
    assert 3500 < u["locked_until"] - time.time() <= 3601, u
    # others are not affected
    assert try_login(srv, "alice", PW).code == 235
    assert users(srv)["alice@example.test"]["locked"] is False
    text = srv.cli("user", "list").out
    assert re.search(r"bob@example\.test .*locked", text), text

    srv.cli("user", "unlock", "bob@example.test")
    u = users(srv)["bob@example.test"]
    assert (u["locked"], u["failures"], u["locked_until"]) == (False, 0, 0), u
    c, r = login(srv, "bob")
    assert (r.code, r.enh) == (235, "2.7.0"), r
    assert send_message(c, "bob@example.test", ["alice@example.test"]).code == 250
    c.close()


def test_failures_while_locked_are_not_counted(make_server):
    srv = make_server(**FAST_LOCKOUT)
    for pw in ("w1", "w2", "w3", "w4", "w5", PW):
        assert_bad(try_login(srv, "bob", pw))
    assert users(srv)["bob@example.test"]["failures"] == 3
    reasons = [FAIL_LINE.match(l).group("reason") for l in fail_lines(srv)]
    assert reasons == ["wrong-password"] * 3 + ["account-locked"] * 3, reasons
    assert len(srv.grep_log(r"account locked: user=<bob@example\.test>")) == 1


def test_lockout_duration_expires(make_server):
    srv = make_server(lockout_duration="2s", **FAST_LOCKOUT)
    for pw in ("w1", "w2", "w3"):
        assert_bad(try_login(srv, "bob", pw))
    u = users(srv)["bob@example.test"]
    assert u["locked"] is True and 0 < u["locked_until"] - time.time() <= 3, u
    assert_bad(try_login(srv, "bob", PW))
    time.sleep(max(0, u["locked_until"] - time.time()) + 1.1)
    assert users(srv)["bob@example.test"]["locked"] is False
    r = try_login(srv, "bob", PW)
    assert (r.code, r.enh) == (235, "2.7.0"), r


def test_same_wrong_password_counts_once(make_server):
    srv = make_server(**FAST_LOCKOUT)
    c = tls_session(srv)
    for _ in range(6):
        assert_bad(c.auth_plain("bob@example.test", "the-same-guess"))
    c.close()
    u = users(srv)["bob@example.test"]
    assert u["locked"] is False and u["failures"] == 1, u
    lines = fail_lines(srv)
    assert len(lines) == 6
    assert sum("reason=wrong-password (same password again)" in l for l in lines) == 5, lines
    r = try_login(srv, "bob", PW)
    assert r.code == 235, r
    # two different guesses after it still count
    for pw in ("g1", "g2", "g3"):
        assert_bad(try_login(srv, "bob", pw))
    assert users(srv)["bob@example.test"]["locked"] is True


def test_lock_survives_restart(make_server):
    srv = make_server(lockout_duration=0, **FAST_LOCKOUT)
    for pw in ("w1", "w2", "w3"):
        assert_bad(try_login(srv, "bob", pw))
    srv.cli("user", "lock", "carol@example.test")
    srv.restart()
    assert_bad(try_login(srv, "bob", PW))
    assert_bad(try_login(srv, "carol", PW))
    u = users(srv)
    # locked until unlocked: no end time
    assert u["bob@example.test"]["locked"] is True, u
    assert u["bob@example.test"]["locked_until"] in (-1, 0), u
    assert u["carol@example.test"]["admin_locked"] is True
    srv.cli("user", "unlock", "bob@example.test")
    assert try_login(srv, "bob", PW).code == 235
    srv.cli("user", "unlock", "carol@example.test")
    assert try_login(srv, "carol", PW).code == 235


# --- one address cannot lock an account out ---

def test_client_blocked_after_ip_failures(make_server):
    srv = make_server(auth_ip_max_failures=2, auth_failure_delay=0, lockout_max_failures=3,
                      auth_max_failures_per_connection=100)
    c = tls_session(srv)
    assert_bad(c.auth_plain("bob@example.test", "w1"))
    assert_bad(c.auth_plain("bob@example.test", "w2"))
    # the third attempt, with the right password, is refused unchecked
    assert_bad(c.auth_plain("bob@example.test", PW))
    assert_bad(c.auth_plain("bob@example.test", "w3"))
    assert_bad(c.auth_plain("alice@example.test", PW))
    c.close()
    reasons = [FAIL_LINE.match(l).group("reason") for l in fail_lines(srv)]
    assert reasons == ["wrong-password"] * 2 + ["client-blocked"] * 3, reasons
    u = users(srv)["bob@example.test"]
    assert u["failures"] == 2 and u["locked"] is False, u
    # another address is not blocked, and the account is not locked
    r = try_login(srv, "bob", PW, source="127.0.0.2")
    assert (r.code, r.enh) == (235, "2.7.0"), r
    assert srv.grep_log(r"authenticated: service=submission client=127\.0\.0\.2 "
                        r"user=<bob@example\.test>")


# --- log lines and fail2ban ---

def test_every_failure_is_one_log_line(make_server):
    srv = make_server(smtp_auth="yes", auth_failure_delay=0, auth_ip_max_failures=100,
                      lockout_max_failures=100)
    expected = []
    for port, service in ((srv.port, "smtp"), (srv.submission_port, "submission"),
                          (srv.submissions_port, "submissions")):
        c = tls_session(srv, port)
        assert_bad(c.auth_plain("bob@example.test", "wrong-" + service))
        expected.append((service, "bob@example.test", "wrong-password"))
        assert_bad(c.auth_login("ghost@example.test", "x"))
        expected.append((service, "ghost@example.test", "unknown-user"))
        c.close()
    # a user name with a line break and a fake log line in it stays on one line
    evil = "a\nNov 28 04:14:42 vm postino/smtpd[1]: authentication failed: service=smtp " \
           "client=192.0.2.99 user=<x> reason=wrong-password"
    c = tls_session(srv)
    assert_bad(c.auth_plain(evil, "x"))
    c.close()
    expected.append(("submission", None, "unknown-user"))
    lines = fail_lines(srv)
    assert len(lines) == len(expected), lines
    for line, (service, user, reason) in zip(lines, expected):
        m = FAIL_LINE.match(line)
        assert m, line
        assert (m.group("service"), m.group("client"), m.group("reason")) == \
            (service, "127.0.0.1", reason), line
        if user:
            assert m.group("user") == user, line
    assert "192.0.2.99" in lines[-1] and "\\x0a" in lines[-1], lines[-1]
    assert not any(l.startswith("Nov 28 04:14:42 vm postino/smtpd[1]") for l in
                   srv.log().splitlines())


def fail2ban_regex(srv, *opts):
    r = subprocess.run(["fail2ban-regex"] + list(opts) +
                       [srv.log_path, os.path.join(REPO, "contrib/fail2ban/filter.d/postino.conf")],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode("utf-8", "replace")


def test_fail2ban_filter_matches_every_failure(make_server):
    srv = make_server(auth_failure_delay=0, auth_ip_max_failures=3, lockout_max_failures=100)
    n = {"127.0.0.1": 0, "127.0.0.2": 0}
    # wrong-password, unknown-user, client-blocked from 127.0.0.1
    c = tls_session(srv, srv.submissions_port)
    for user, pw in (("bob", "w1"), ("ghost", "x")):
        assert_bad(c.auth_plain(srv.address(user), pw))
        n["127.0.0.1"] += 1
    c.close()
    for user, pw in (("bob", "w2"), ("alice", PW)):
        assert_bad(try_login(srv, user, pw))
        n["127.0.0.1"] += 1
    # and from 127.0.0.2, with a success in between that must not match
    assert_bad(try_login(srv, "carol", "w", source="127.0.0.2"))
    n["127.0.0.2"] += 1
    assert try_login(srv, "carol", PW, source="127.0.0.2").code == 235
    # a user name trying to smuggle another address into the line
    assert_bad(try_login(srv, "x\nNov 28 04:14:42 vm postino/smtpd[1]: authentication failed: "
                         "service=smtp client=192.0.2.99 user=<x> reason=wrong-password", "p",
                         source="127.0.0.2"))
    n["127.0.0.2"] += 1
    assert len(fail_lines(srv)) == sum(n.values())
    reasons = {FAIL_LINE.match(l).group("reason") for l in fail_lines(srv)}
    assert reasons == {"wrong-password", "unknown-user", "client-blocked"}, reasons

    out = fail2ban_regex(srv)
    m = re.search(r"^Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed", out, re.M)
    assert m, out
    assert int(m.group(3)) == sum(n.values()), out
    ips = fail2ban_regex(srv, "-o", "ip").split()
    assert sorted(ips) == sorted(["127.0.0.1"] * n["127.0.0.1"] + ["127.0.0.2"] * n["127.0.0.2"]), \
        ips


# --- Dovecot passwd-file import ---

def db_password(srv, address):
    db = os.path.join(srv.dir, "state", "postino.db")
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        row = con.execute("SELECT password FROM users WHERE address = ?", (address,)).fetchone()
    finally:
        con.close()
    return row[0] if row else None


def test_import_dovecot_sha512_crypt_upgraded_at_login(make_server):
    srv = make_server(users=[], auth_failure_delay=0)
    h1 = subprocess.run(["openssl", "passwd", "-6", "dove-pw-1"], capture_output=True,
                        check=True, text=True).stdout.strip()
    h2 = subprocess.run(["openssl", "passwd", "-6", "dove-pw-2"], capture_output=True,
                        check=True, text=True).stdout.strip()
    assert h1.startswith("$6$")
    f = os.path.join(srv.top, "users.passwd")
    with open(f, "w") as fh:
        fh.write("# Dovecot passwd-file\n"
                 "dana@example.test:{SHA512-CRYPT}%s:1000:1000::/home/dana::\n"
                 "erik@example.test:%s\n" % (h1, h2))
    r = srv.cli("user", "import", f)
    assert "2 users imported" in r.out + r.err, r.out + r.err
    assert set(users(srv)) == {"dana@example.test", "erik@example.test"}
    assert not db_password(srv, "dana@example.test").startswith("$argon2id$")
    assert not db_password(srv, "erik@example.test").startswith("$argon2id$")

    # a wrong password leaves the old hash alone
    assert_bad(try_login(srv, "dana", "dove-pw-2"))
    assert "$6$" in db_password(srv, "dana@example.test")

    c, r = login(srv, "dana", "dove-pw-1")
    assert (r.code, r.enh) == (235, "2.7.0"), r
    assert send_message(c, "dana@example.test", ["erik@example.test"]).code == 250
    c.close()
    srv.wait_log(r"authenticated: service=submission client=127\.0\.0\.1 "
                 r"user=<dana@example\.test> \(password hash upgraded to argon2id\)$")
    assert db_password(srv, "dana@example.test").startswith("$argon2id$")
    assert "$6$" in db_password(srv, "erik@example.test")
    # the new hash works, and is not upgraded again
    r = try_login(srv, "dana", "dove-pw-1", port=srv.submissions_port)
    assert r.code == 235, r
    assert len(srv.grep_log(r"upgraded to argon2id")) == 1
    assert_bad(try_login(srv, "dana", "wrong"))

    r = try_login(srv, "erik", "dove-pw-2", port=srv.submissions_port)
    assert r.code == 235, r
    assert db_password(srv, "erik@example.test").startswith("$argon2id$")
    srv.wait_for_maildir("erik", 1)
