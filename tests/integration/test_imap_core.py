"""IMAP core: the greeting and capabilities before and after TLS, logins
(LOGIN, AUTHENTICATE PLAIN with and without SASL-IR, failures, the
fail2ban line), STARTTLS and command injection, SELECT/EXAMINE, APPEND
(flags, date, literals, LITERAL+, size limits), FETCH of every item with
BODYSTRUCTURE checked against Python's own MIME parse, changes seen by a
second session, IDLE woken by a delivery over SMTP, and bad input."""

import email
import email.policy
import imaplib
import re
import smtplib
import time
from email.message import EmailMessage

import pytest

from imap_raw import RawIMAP
from postino_testlib import client_tls_context

PW = "secret-pw"


def crlf(b):
    return b.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def simple_message(subject="hello", body="line one\n.line two\n", frm="a@remote.test"):
    m = EmailMessage()
    m["From"] = frm
    m["To"] = "bob@example.test"
    m["Subject"] = subject
    m["Message-ID"] = "<%s@remote.test>" % subject.replace(" ", ".")
    m["Date"] = "Mon, 02 Nov 2026 10:00:00 +0000"
    m.set_content(body)
    return crlf(m.as_bytes())


def multipart_message():
    m = EmailMessage()
    m["From"] = "Ann Example <ann@remote.test>"
    m["To"] = "bob@example.test, Carol <carol@example.test>"
    m["Cc"] = "team: dave@remote.test, eve@remote.test;"
    m["Subject"] = "report"
    m["Message-ID"] = "<report@remote.test>"
    m.set_content("The text part.\nSecond line.\n")
    m.add_alternative("<p>The <b>html</b> part.</p>\n", subtype="html")
    m.add_attachment(b"\x00\x01binary" * 50, maintype="application", subtype="octet-stream",
                     filename="data.bin")
    inner = EmailMessage()
    inner["From"] = "x@remote.test"
    inner["Subject"] = "inner"
    inner.set_content("forwarded body\n")
    m.add_attachment(inner)
    return crlf(m.as_bytes())


@pytest.fixture
def srv(make_server):
    return make_server(users=("bob", "alice"))


# --- greeting, capabilities, logins ---

def test_plaintext_port_disables_login_until_starttls(srv):
    c = RawIMAP(srv.imap_port, tls=False)
    assert c.greeting.startswith(b"* OK [CAPABILITY IMAP4rev1 ")
    assert b"STARTTLS" in c.greeting and b"LOGINDISABLED" in c.greeting
    assert b"AUTH=PLAIN" not in c.greeting
    tagged, _ = c.cmd('LOGIN "bob@example.test" "%s"' % PW)
    assert tagged.startswith(b"t1 NO [PRIVACYREQUIRED]"), tagged
    tagged, _ = c.cmd("AUTHENTICATE PLAIN")
    assert b" NO [PRIVACYREQUIRED]" in tagged
    tagged, _ = c.cmd("SELECT INBOX")
    assert tagged.startswith(b"t3 BAD"), tagged
    tagged, _ = c.cmd("STARTTLS")
    assert tagged.startswith(b"t4 OK")
    c.starttls()
    tagged, lines = c.cmd("CAPABILITY")
    caps = lines[0].split()
    assert b"AUTH=PLAIN" in caps and b"STARTTLS" not in caps and b"LOGINDISABLED" not in caps
    tagged, _ = c.cmd("STARTTLS")
    assert tagged.startswith(b"t6 BAD"), tagged
    tagged = c.login("bob@example.test")
    assert b"[CAPABILITY IMAP4rev1" in tagged and b"UIDPLUS" in tagged and b"IDLE" in tagged


def test_starttls_command_injection_is_dropped(srv):
    c = RawIMAP(srv.imap_port, tls=False)
    c.send("a STARTTLS\r\nb CAPABILITY\r\n")
    assert c.line().startswith(b"a OK")
    c.starttls()
    # "b CAPABILITY" was sent in plaintext after STARTTLS: it is gone.
    tagged, lines = c.cmd("NOOP", tag="c")
    assert tagged.startswith(b"c OK") and lines == [], (tagged, lines)
    srv.wait_log(r"discarded \d+ octets sent after STARTTLS")


def test_imaplib_login_select_logout(srv):
    m = srv.imaps("bob")
    typ, data = m.select("INBOX")
    assert typ == "OK" and data == [b"0"]
    assert m.untagged_responses.get("UIDVALIDITY")
    assert m.untagged_responses["UIDNEXT"] == [b"1"]
    assert m.logout()[0] == "BYE"


def test_failed_logins_are_refused_logged_and_end_the_connection(make_server):
    srv = make_server(users=("bob",), auth_failure_delay=0, auth_ip_max_failures=100)
    c = RawIMAP(srv.imaps_port)
    for i in range(3):
        tagged, _ = c.cmd('LOGIN "bob@example.test" "wrong%d"' % i)
        assert b" NO [AUTHENTICATIONFAILED]" in tagged, tagged
    assert c.line() == b"* BYE Too many failed logins"
    assert c.closed()
    srv.wait_log(r"postino/imapd\[\d+\]: authentication failed: service=imap "
                 r"client=127\.0\.0\.1 user=<bob@example\.test> reason=wrong-password", count=3)
    # The right password still works from a new connection.
    srv.imaps("bob").logout()


def test_authenticate_plain_continuation_ir_and_cancel(srv):
    import base64
    creds = base64.b64encode(b"\0bob@example.test\0" + PW.encode()).decode()
    c = RawIMAP(srv.imaps_port)
    c.send("a AUTHENTICATE PLAIN\r\n")
    assert c.line() == b"+ "
    c.send("*\r\n")
    assert c.line().startswith(b"a BAD")
    c.send("b AUTHENTICATE PLAIN\r\n")
    assert c.line() == b"+ "
    c.send(creds + "\r\n")
    tagged = c.line()
    assert tagged.startswith(b"b OK [CAPABILITY"), tagged
    # SASL-IR in one line, on a new connection.
    d = RawIMAP(srv.imaps_port)
    tagged, _ = d.cmd("AUTHENTICATE PLAIN " + creds)
    assert b" OK " in tagged
    # Another user's authzid is refused unchecked.
    e = RawIMAP(srv.imaps_port)
    other = base64.b64encode(b"alice@example.test\0bob@example.test\0" + PW.encode()).decode()
    tagged, _ = e.cmd("AUTHENTICATE PLAIN " + other)
    assert b" NO [AUTHORIZATIONFAILED]" in tagged
    tagged, _ = e.cmd("AUTHENTICATE CRAM-MD5")
    assert b" NO " in tagged


# --- SELECT, APPEND, FETCH ---

def test_select_examine_and_missing(srv):
    c = RawIMAP(srv.imaps_port)
    c.login("bob@example.test")
    tagged, lines = c.cmd("SELECT INBOX")
    assert tagged == b"t2 OK [READ-WRITE] SELECT completed"
    text = b"\n".join(lines)
    assert b"* 0 EXISTS" in text and b"* 0 RECENT" in text
    assert re.search(rb"\* OK \[UIDVALIDITY \d+\]", text)
    assert b"* OK [UIDNEXT 1]" in text
    assert b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)]" in text
    tagged, lines = c.cmd("EXAMINE Sent")
    assert tagged == b"t3 OK [READ-ONLY] EXAMINE completed"
    tagged, _ = c.cmd("SELECT Nowhere")
    assert tagged.startswith(b"t4 NO [NONEXISTENT]"), tagged
    # The failed SELECT left no mailbox selected.
    tagged, _ = c.cmd("FETCH 1 FLAGS")
    assert tagged.startswith(b"t5 BAD"), tagged
    tagged, lines = c.cmd("SELECT inbox")
    assert b"OK [READ-WRITE]" in tagged
    tagged, _ = c.cmd("EXPUNGE")
    assert tagged.startswith(b"t7 OK")
    tagged, _ = c.cmd("CLOSE")
    assert tagged.startswith(b"t8 OK")


def test_append_flags_date_and_appenduid(srv):
    m = srv.imaps("bob")
    msg = simple_message()
    typ, data = m.append("INBOX", r"(\Seen \Flagged $Work)",
                         imaplib.Time2Internaldate(1700000000), msg)
    assert typ == "OK"
    code = re.match(rb"\[APPENDUID (\d+) (\d+)\]", data[0])
    assert code and code.group(2) == b"1"
    m.select("INBOX")
    typ, data = m.fetch("1", "(UID FLAGS INTERNALDATE RFC822.SIZE)")
    line = data[0]
    assert b"UID 1 " in line
    assert b"\\Seen" in line and b"\\Flagged" in line and b"$Work" in line
    assert b'INTERNALDATE "14-Nov-2023 22:13:20 +0000"' in line
    assert b"RFC822.SIZE %d" % len(msg) in line
    typ, data = m.fetch("1", "(BODY.PEEK[])")
    assert data[0][1] == msg
    # UIDVALIDITY of APPENDUID is the mailbox's.
    assert m.untagged_responses.get("UIDVALIDITY", [code.group(1)])[-1] == code.group(1)
    typ, data = m.append("Nowhere", None, None, msg)
    assert typ == "NO" and b"[TRYCREATE]" in data[0]


def test_append_literal_plus_and_size_limits(make_server):
    srv = make_server(users=("bob",), message_size_limit="2K")
    c = RawIMAP(srv.imaps_port)
    c.login("bob@example.test")
    body = b"Subject: lp\r\n\r\nnon-synchronizing\r\n"
    c.send(b"a APPEND INBOX {%d+}\r\n" % len(body) + body + b"\r\n")
    tagged, _ = c.until("a")
    assert tagged.startswith(b"a OK [APPENDUID"), tagged
    # A synchronizing literal over the limit is refused before it is sent.
    c.send(b"b APPEND INBOX {5000}\r\n")
    tagged = c.line()
    assert tagged.startswith(b"b NO [TOOBIG]") or tagged.startswith(b"b BAD [TOOBIG]"), tagged
    tagged, _ = c.cmd("NOOP", tag="c")
    assert tagged.startswith(b"c OK")
    # A non-synchronizing one over the limit cannot be skipped: BYE.
    c.send(b"d APPEND INBOX {5000+}\r\n")
    assert c.line().startswith(b"* BYE")
    assert c.closed()


def test_fetch_structure_matches_python(srv):
    m = srv.imaps("bob")
    raw = multipart_message()
    assert m.append("INBOX", None, None, raw)[0] == "OK"
    m.select("INBOX")
    typ, data = m.fetch("1", "(ENVELOPE BODYSTRUCTURE BODY RFC822.SIZE)")
    line = data[0] if isinstance(data[0], bytes) else b"".join(
        x if isinstance(x, bytes) else x[0] + x[1] for x in data)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    # The tree: mixed(alternative(plain, html), octet-stream, rfc822).
    assert b'"alternative"' in line and b'"mixed"' in line
    assert b'("text" "plain" ("charset" "utf-8")' in line
    assert b'"application" "octet-stream"' in line
    assert b'"message" "rfc822"' in line
    leaves = [p for p in parsed.walk() if not p.is_multipart()]
    # (Python counts a message/rfc822 part as a container.)
    assert len(leaves) == 4  # plain, html, binary and the forwarded body
    # Each leaf's size in BODYSTRUCTURE is its encoded body's size.
    for part in (leaves[0], leaves[1]):
        payload = part.get_payload(decode=False).encode()
        assert (b" %d " % len(crlf(payload))) in line
    assert b"RFC822.SIZE %d" % len(raw) in line
    env = re.search(rb"ENVELOPE \((.*?)\) BODY", line).group(1)
    assert b'"report"' in env and b'"<report@remote.test>"' in env
    assert b'(("Ann Example" NIL "ann" "remote.test"))' in env
    assert b'((NIL NIL "team" NIL)(NIL NIL "dave" "remote.test")' in env
    # Sections.
    typ, data = m.fetch("1", "(BODY.PEEK[1.1] BODY.PEEK[3.HEADER] BODY.PEEK[2.MIME])")
    parts = [x for x in data if isinstance(x, tuple)]
    assert parts[0][1] == crlf(leaves[0].get_payload(decode=False).encode())
    assert parts[1][1].startswith(b"From: x@remote.test\r\nSubject: inner\r\n")
    assert parts[2][1].startswith(b"Content-Type: application/octet-stream")
    typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT message-id)]<0.10>)")
    assert data[0][0].endswith(b"BODY[HEADER.FIELDS (SUBJECT message-id)]<0> {10}")
    assert data[0][1] == b"Subject: r"
    # A fetch without PEEK sets \Seen and says so.
    typ, data = m.fetch("1", "(BODY[TEXT])")
    assert b"\\Seen" in data[-1] if isinstance(data[-1], bytes) else data[-1][0]
    typ, data = m.fetch("1", "(FLAGS)")
    assert b"\\Seen" in data[0]


def test_fetch_many_messages_in_one_response(srv):
    m = srv.imaps("bob")
    for i in range(300):
        m.append("INBOX", None, None, simple_message("m%d" % i, body="x" * 2000 + "\n"))
    m.select("INBOX")
    typ, data = m.fetch("1:*", "(UID RFC822.SIZE BODY.PEEK[])")
    bodies = [x for x in data if isinstance(x, tuple)]
    assert len(bodies) == 300
    assert all(b"m%d" % i in bodies[i][1] for i in (0, 150, 299))
    typ, data = m.uid("FETCH", "1:*", "(FLAGS)")
    assert len(data) == 300 and b"UID 300 " in data[-1]


# --- several sessions, delivery, IDLE ---

def test_second_session_sees_appends_and_expunges(srv):
    a = RawIMAP(srv.imaps_port)
    a.login("bob@example.test")
    a.cmd("SELECT INBOX")
    b = srv.imaps("bob")
    b.append("INBOX", None, None, simple_message("one"))
    b.append("INBOX", r"(\Deleted)", None, simple_message("two"))
    tagged, lines = a.cmd("NOOP")
    assert tagged.startswith(b"t3 OK"), tagged
    assert b"* 2 EXISTS" in lines, lines
    b.select("INBOX")
    b.expunge()
    tagged, lines = a.cmd("NOOP")
    assert b"* 2 EXPUNGE" in lines, lines
    tagged, lines = a.cmd("FETCH 1:* (FLAGS)")
    assert len([ln for ln in lines if b" FETCH " in ln]) == 1


def test_idle_reports_smtp_delivery_within_a_second(srv):
    c = RawIMAP(srv.imaps_port)
    c.login("bob@example.test")
    c.cmd("SELECT INBOX")
    c.send("i IDLE\r\n")
    assert c.line() == b"+ idling"
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=15) as s:
        s.sendmail("a@remote.test", ["bob@example.test"], simple_message("pushed"))
        sent = time.time()
    # Delivery runs through the queue (timed apart below); once the file
    # is there IDLE takes at most one poll (0.5 s) to tell.
    c.sock.settimeout(30)
    line = c.line()
    assert line == b"* 1 EXISTS", (line, time.time() - sent)
    c.send("DONE\r\n")
    tagged, lines = c.until("i")
    assert tagged == b"i OK Idle completed", (tagged, lines)
    tagged, lines = c.cmd("FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)])")
    assert b"Subject: pushed" in lines[0]


def test_idle_latency_after_the_file_lands(srv):
    """The delivery itself is timed apart: from the file appearing in new/
    to the EXISTS, under a second."""
    import os
    c = RawIMAP(srv.imaps_port)
    c.login("bob@example.test")
    c.cmd("SELECT INBOX")
    c.send("i IDLE\r\n")
    assert c.line() == b"+ idling"
    new = os.path.join(srv.maildir("bob"), "new")
    path = os.path.join(new, "1800000000.M1P1Q1.test")
    with open(path + ".tmp", "wb") as f:
        f.write(b"Subject: dropped\n\nbody\n")
    os.rename(path + ".tmp", path)
    t0 = time.time()
    c.sock.settimeout(5)
    assert c.line() == b"* 1 EXISTS"
    assert time.time() - t0 < 1.0
    c.send("DONE\r\n")
    assert c.until("i")[0].startswith(b"i OK")


# --- bad input ---

@pytest.mark.parametrize("command", [
    "FETCH 1 (FLAGS",              # unbalanced parenthesis
    "FETCH 1:x FLAGS",             # bad sequence set
    "FETCH 0 FLAGS",               # no message 0
    "FETCH 1 (FLAGS) extra",       # trailing garbage
    "FETCH 1 " + "(" * 100 + ")" * 100,  # nesting past the limit
    "SELECT",                      # missing argument
    "BOGUS",                       # unknown command
    "UID BOGUS 1",                 # unknown UID command
    "FETCH 1 BODY[1.HEADER.FIELDS]",  # fields without a list
])
def test_bad_commands_get_bad(srv, command):
    c = RawIMAP(srv.imaps_port)
    c.login("bob@example.test")
    c.cmd("SELECT INBOX")
    tagged, _ = c.cmd(command, tag="x")
    assert tagged.startswith(b"x BAD") or tagged.startswith(b"x NO"), tagged
    # The session goes on.
    tagged, _ = c.cmd("NOOP", tag="y")
    assert tagged.startswith(b"y OK")


def test_eight_bit_garbage_and_bare_lf(srv):
    c = RawIMAP(srv.imaps_port)
    c.send(b"a \xff\xfe\x80 NOOP\r\n")
    assert c.line().startswith(b"a BAD")
    # A bare LF does not end a command: the line runs on to the CRLF and
    # the whole of it is bad.
    c.send(b"b NOOP\nc NOOP\r\n")
    assert c.line().startswith(b"b BAD")
    c.send(b"d NOOP\r\n")
    assert c.line().startswith(b"d OK")


def test_too_many_bad_commands_end_the_session(srv):
    c = RawIMAP(srv.imaps_port)
    got_bye = False
    for i in range(25):
        c.send("x%d BOGUS\r\n" % i)
    for i in range(25):
        try:
            ln = c.line()
        except EOFError:
            break
        if ln.startswith(b"* BYE"):
            got_bye = True
            break
    assert got_bye
    assert c.closed()


def test_huge_literal_announcement_is_refused(srv):
    c = RawIMAP(srv.imaps_port)
    c.login("bob@example.test")
    c.send("a LOGIN {99999999999}\r\n")
    ln = c.line()
    assert ln.startswith(b"a BAD") or ln.startswith(b"a NO") or ln.startswith(b"* BYE"), ln


def test_curl_imaps_lists_and_fetches(srv):
    import subprocess
    m = srv.imaps("bob")
    m.append("INBOX", None, None, simple_message("for curl"))
    m.logout()
    url = "imaps://127.0.0.1:%d/INBOX;UID=1" % srv.imaps_port
    r = subprocess.run(["curl", "-sk", "--user", "bob@example.test:" + PW, url],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert b"Subject: for curl" in r.stdout


def test_plaintext_login_networks_allow_login_without_tls(make_server):
    srv = make_server(users=("bob",), plaintext_login_networks="127.0.0.1/32")
    c = RawIMAP(srv.imap_port, tls=False)
    assert b"AUTH=PLAIN" in c.greeting and b"LOGINDISABLED" not in c.greeting
    assert b"STARTTLS" in c.greeting
    c.login("bob@example.test")
    p = srv.pop3()
    assert "USER" in p.capa()
    p.user("bob@example.test")
    assert p.pass_(PW).startswith(b"+OK")
    p.quit()
    # Another network is still refused.
    other = make_server(users=("bob",), plaintext_login_networks="192.0.2.0/24")
    d = RawIMAP(other.imap_port, tls=False)
    assert b"LOGINDISABLED" in d.greeting
    tagged, _ = d.cmd('LOGIN "bob@example.test" "%s"' % PW)
    assert b" NO [PRIVACYREQUIRED]" in tagged
