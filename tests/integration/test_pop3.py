"""POP3 (RFC 1939, 2449, 2595, 5034) against the real server, mostly with
Python's poplib: CAPA before and after STLS, logins only over TLS (USER/PASS
and AUTH PLAIN), failures and their fail2ban line, every TRANSACTION command
(STAT, LIST, RETR with byte-stuffing, TOP, UIDL, DELE, RSET, NOOP, QUIT),
UIDLs that survive a new session and an index rebuild, messages delivered
over SMTP, bad input (unknown commands, long lines, bare LF, too many
errors) and curl as a second client."""

import base64
import os
import poplib
import re
import smtplib
import socket
import subprocess
import time

import pytest

from postino_testlib import REPO, client_tls_context

PW = "secret-pw"
BOB = "bob@example.test"


# --- helpers ---

class RawPOP3:
    """A line-level POP3 client that sends exact bytes and returns the raw
    lines of the answers."""

    def __init__(self, port, tls=True, timeout=15):
        deadline = time.time() + timeout
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
                break
            except ConnectionRefusedError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        if tls:
            sock = client_tls_context().wrap_socket(sock)
        self.sock = sock
        self.buf = b""
        self.greeting = self.line()

    def starttls(self):
        self.sock = client_tls_context().wrap_socket(self.sock)

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; buffered %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def cmd(self, text):
        """Send a command line; return the first line of the answer."""
        self.send((text.encode() if isinstance(text, str) else text) + b"\r\n")
        return self.line()

    def multiline(self):
        """The lines of a multi-line answer up to (not with) the ".", still
        byte-stuffed."""
        out = []
        while True:
            ln = self.line()
            if ln == b".":
                return out
            out.append(ln)

    def closed(self, timeout=5):
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except ConnectionResetError:
            return True
        except (socket.timeout, TimeoutError):
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def plain_token(user, password, authzid=""):
    return base64.b64encode(authzid.encode() + b"\0" + user.encode() + b"\0" +
                            password.encode()).decode()


def message(n, body=None):
    body = body if body is not None else \
        "Message number %d.\n.a line that starts with a dot\n..two dots\nlast line\n" % n
    return ("From: sender%d@remote.test\r\nTo: %s\r\nSubject: pop test %d\r\n"
            "Message-ID: <pop%d@remote.test>\r\n\r\n" % (n, BOB, n, n) +
            body.replace("\n", "\r\n"))


def deliver(srv, count, user="bob", first=1):
    """Send count messages over SMTP (port 25) and wait until they are in
    the Maildir."""
    before = len(all_files(srv, user))
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=15) as s:
        for i in range(first, first + count):
            s.sendmail("sender%d@remote.test" % i, [srv.address(user)], message(i))
    deadline = time.monotonic() + 20
    while len(all_files(srv, user)) < before + count:
        assert time.monotonic() < deadline, srv.log()
        time.sleep(0.05)


def all_files(srv, user="bob"):
    return srv.message_files(user, "new") + srv.message_files(user, "cur")


def caps(lines):
    return [l.decode() if isinstance(l, bytes) else l for l in lines]


def capa_of(conn):
    """CAPA as a dict through poplib."""
    return conn.capa()


@pytest.fixture
def srv(make_server):
    return make_server(users=("bob", "alice"), auth_failure_delay=0, auth_ip_max_failures=100)


# --- CAPA, STLS and logins ---

def test_greeting_and_capa_on_the_tls_port(srv):
    p = srv.pop3s()
    assert p.getwelcome().startswith(b"+OK ")
    c = p.capa()
    for cap in ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "USER"):
        assert cap in c, c
    assert c["SASL"] == ["PLAIN"], c
    assert "STLS" not in c
    p.user(BOB)
    p.pass_(PW)
    # In TRANSACTION no login capability is announced any more.
    c = p.capa()
    assert "TOP" in c and "UIDL" in c
    assert "USER" not in c and "SASL" not in c and "STLS" not in c
    assert p.quit().startswith(b"+OK")


def test_capa_on_the_plaintext_port_offers_stls_only(srv):
    p = srv.pop3()
    assert p.getwelcome().startswith(b"+OK ")
    c = p.capa()
    assert "STLS" in c and "USER" not in c and "SASL" not in c, c
    assert "TOP" in c and "UIDL" in c
    p.quit()
    # no STLS where TLS is on already
    d = RawPOP3(srv.pop3s_port)
    assert d.cmd("STLS") == b"-ERR TLS is already active"


def test_plaintext_logins_are_refused(srv):
    c = RawPOP3(srv.pop3_port, tls=False)
    for line in ("USER " + BOB, "PASS " + PW, "AUTH PLAIN " + plain_token(BOB, PW), "AUTH PLAIN"):
        r = c.cmd(line)
        assert r.startswith(b"-ERR [AUTH] "), (line, r)
    # poplib sees the same refusal.
    p = srv.pop3()
    with pytest.raises(poplib.error_proto) as e:
        p.user(BOB)
    assert b"[AUTH]" in e.value.args[0]
    assert not srv.grep_log(r"authenticated: service=pop3")


def test_apop_is_refused(srv):
    c = RawPOP3(srv.pop3s_port)
    assert c.cmd("APOP bob 0123456789abcdef0123456789abcdef").startswith(b"-ERR")


def test_user_pass_over_tls(srv):
    c = RawPOP3(srv.pop3s_port)
    assert c.cmd("PASS " + PW) == b"-ERR Give USER first"
    assert c.cmd("USER " + BOB) == b"+OK"
    r = c.cmd("PASS " + PW)
    assert r.startswith(b"+OK Logged in, 0 messages"), r
    srv.wait_log(r"authenticated: service=pop3 client=127\.0\.0\.1 user=<bob@example\.test>")
    # No second login in TRANSACTION.
    assert c.cmd("USER " + BOB).startswith(b"-ERR")
    assert c.cmd("QUIT").startswith(b"+OK")
    assert c.closed()


def test_auth_plain_initial_response_and_continuation(srv):
    c = RawPOP3(srv.pop3s_port)
    r = c.cmd("AUTH")
    assert r == b"+OK"
    assert c.multiline() == [b"PLAIN"]
    assert c.cmd("AUTH PLAIN " + plain_token(BOB, PW)).startswith(b"+OK")
    assert c.cmd("STAT") == b"+OK 0 0"

    d = RawPOP3(srv.pop3s_port)
    assert d.cmd("AUTH PLAIN") == b"+ "
    assert d.cmd(plain_token(BOB, PW)).startswith(b"+OK")

    # cancelled with "*", then an unknown mechanism, then another user's
    # authzid
    e = RawPOP3(srv.pop3s_port)
    assert e.cmd("AUTH PLAIN") == b"+ "
    assert e.cmd("*").startswith(b"-ERR")
    assert e.cmd("AUTH CRAM-MD5").startswith(b"-ERR")
    r = e.cmd("AUTH PLAIN " + plain_token(BOB, PW, authzid="alice@example.test"))
    assert r.startswith(b"-ERR [AUTH]"), r
    assert e.cmd("AUTH PLAIN !!!notbase64").startswith(b"-ERR")
    # Still usable afterwards.
    assert e.cmd("AUTH PLAIN " + plain_token("alice@example.test", PW)).startswith(b"+OK")


def test_wrong_password_is_refused_logged_and_closes_after_three(srv):
    p = srv.pop3s()
    p.user(BOB)
    with pytest.raises(poplib.error_proto) as e:
        p.pass_("wrong-1")
    assert e.value.args[0] == b"-ERR [AUTH] Authentication failed"
    c = RawPOP3(srv.pop3s_port)
    assert c.cmd("AUTH PLAIN " + plain_token(BOB, "wrong-2")) == \
        b"-ERR [AUTH] Authentication failed"
    assert c.cmd("USER " + BOB) == b"+OK"
    assert c.cmd("PASS wrong-3") == b"-ERR [AUTH] Authentication failed"
    assert c.cmd("USER ghost@example.test") == b"+OK"
    r = c.cmd("PASS whatever")
    assert r.startswith(b"-ERR [AUTH] Authentication failed; too many failures"), r
    assert c.closed()
    lines = srv.wait_log(r"postino/pop3d\[\d+\]: authentication failed: service=pop3 "
                         r"client=127\.0\.0\.1 user=<[^>]*> reason=", count=4)
    reasons = [re.search(r"reason=(\S+)", l).group(1) for l in lines]
    assert reasons == ["wrong-password"] * 3 + ["unknown-user"], lines
    # The fail2ban filter shipped in contrib/ matches every one.
    r = subprocess.run(["fail2ban-regex", srv.log_path,
                        os.path.join(REPO, "contrib/fail2ban/filter.d/postino.conf")],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    m = re.search(r"^Lines: (\d+) lines, (\d+) ignored, (\d+) matched", out, re.M)
    assert m and int(m.group(3)) == 4, out
    # The right password still works.
    srv.pop3s("bob").quit()


# --- TRANSACTION ---

def test_stat_list_and_list_n(srv):
    deliver(srv, 3)
    p = srv.pop3s("bob")
    count, size = p.stat()
    assert count == 3
    resp, lines, _ = p.list()
    assert resp.startswith(b"+OK")
    listing = [tuple(int(x) for x in l.split()) for l in lines]
    assert [n for n, _ in listing] == [1, 2, 3]
    assert sum(s for _, s in listing) == size
    for n, s in listing:
        assert p.list(n) == b"+OK %d %d" % (n, s)
        # The size is the one RETR sends (CRLF lines, before stuffing).
        _, body, _ = p.retr(n)
        assert sum(len(l) + 2 for l in body) == s, n
    for bad in ("0", "4", "x", "-1", "99999999999"):
        with pytest.raises(poplib.error_proto):
            p._shortcmd("LIST " + bad)
    p.quit()


def test_retr_byte_stuffs_lines_that_start_with_a_dot(srv):
    deliver(srv, 1)
    c = RawPOP3(srv.pop3s_port)
    c.cmd("USER " + BOB)
    c.cmd("PASS " + PW)
    r = c.cmd("RETR 1")
    assert re.match(rb"^\+OK \d+ octets$", r), r
    lines = c.multiline()
    # on the wire: every line starting with "." gets another one
    assert b"..a line that starts with a dot" in lines, lines
    assert b"...two dots" in lines
    assert b"last line" in lines
    assert b"Subject: pop test 1" in lines
    # poplib removes the stuffing again: the stored text comes back
    q = srv.pop3s("bob")
    _, body, octets = q.retr(1)
    assert b".a line that starts with a dot" in body and b"..two dots" in body
    files = all_files(srv)
    assert len(files) == 1
    with open(files[0], "rb") as f:
        stored = f.read()
    assert stored.replace(b"\n", b"\r\n") == b"\r\n".join(body) + b"\r\n"
    q.quit()


def test_message_without_final_newline_still_ends_in_crlf_dot_crlf(srv):
    # Put one straight into the Maildir (an SMTP delivery always ends in
    # a newline).
    srv.put_messages("bob", [b"Subject: no eol\n\nbody without newline"], sub="new")
    p = srv.pop3s("bob")
    _, body, _ = p.retr(1)
    assert body == [b"Subject: no eol", b"", b"body without newline"]
    p.quit()


def test_top(srv):
    body = "".join("body line %d\n" % i for i in range(1, 11))
    body += ".dot line\n"
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=15) as s:
        s.sendmail("x@remote.test", [BOB], message(1, body=body))
    srv.wait_for_maildir("bob", 1)
    p = srv.pop3s("bob")
    resp, full, _ = p.retr(1)
    blank = full.index(b"")
    head = full[:blank]
    resp, lines, _ = p.top(1, 0)
    assert resp.startswith(b"+OK")
    assert lines == head + [b""]
    _, lines, _ = p.top(1, 3)
    assert lines == head + [b"", b"body line 1", b"body line 2", b"body line 3"]
    # more lines than the body has: the whole message, the dot line
    # stuffed and unstuffed on the way
    _, lines, _ = p.top(1, 1000)
    assert lines == full and lines[-1] == b".dot line"
    c = RawPOP3(srv.pop3s_port)
    c.cmd("USER " + BOB)
    c.cmd("PASS " + PW)
    assert c.cmd("TOP 1 11").startswith(b"+OK")
    assert c.multiline()[-1] == b"..dot line"
    for bad in ("TOP", "TOP 1", "TOP 1 x", "TOP 2 1", "TOP 1 1 1", "TOP 0 1"):
        assert c.cmd(bad).startswith(b"-ERR"), bad
    p.quit()


def uidl_map(p):
    _, lines, _ = p.uidl()
    out = {}
    for l in lines:
        n, u = l.split()
        out[int(n)] = u
    return out


def test_uidl_is_stable_across_sessions_and_an_index_rebuild(srv):
    deliver(srv, 4)
    p = srv.pop3s("bob")
    first = uidl_map(p)
    assert sorted(first) == [1, 2, 3, 4]
    assert len(set(first.values())) == 4
    for n, u in first.items():
        # RFC 1939 7: 1 to 70 characters in the range 0x21 to 0x7E
        assert 1 <= len(u) <= 70 and all(0x21 <= b <= 0x7E for b in u), u
        assert p.uidl(n) == b"+OK %d %s" % (n, u)
    p.quit()

    p = srv.pop3s("bob")
    assert uidl_map(p) == first
    p.quit()

    # Rebuild the index from the files: stop, delete it, start again.
    assert srv.stop() == 0
    root = srv.maildir("bob")
    removed = []
    for name in os.listdir(root):
        if name.startswith("index.db"):
            os.unlink(os.path.join(root, name))
            removed.append(name)
    assert "index.db" in removed, os.listdir(root)
    srv.start()
    p = srv.pop3s("bob")
    assert uidl_map(p) == first
    p.quit()

    # Deleting a message keeps the others' UIDLs; a new one gets a new UIDL.
    p = srv.pop3s("bob")
    p.dele(2)
    p.quit()
    deliver(srv, 1, first=5)
    p = srv.pop3s("bob")
    now = uidl_map(p)
    assert [now[1], now[2], now[3]] == [first[1], first[3], first[4]]
    assert now[4] not in first.values()
    p.quit()


def test_dele_and_rset(srv):
    deliver(srv, 3)
    p = srv.pop3s("bob")
    _, total = p.stat()
    size2 = int(p.list(2).split()[2])
    assert p.dele(2).startswith(b"+OK")
    assert p.stat() == (2, total - size2)
    _, lines, _ = p.list()
    assert [int(l.split()[0]) for l in lines] == [1, 3]
    _, lines, _ = p.uidl()
    assert [int(l.split()[0]) for l in lines] == [1, 3]
    for cmd in ("DELE 2", "LIST 2", "RETR 2", "TOP 2 0", "UIDL 2"):
        with pytest.raises(poplib.error_proto) as e:
            p._shortcmd(cmd)
        assert b"deleted" in e.value.args[0], cmd
    assert p.rset().startswith(b"+OK")
    assert p.stat() == (3, total)
    assert p.retr(2)[0].startswith(b"+OK")
    p.quit()
    assert len(all_files(srv)) == 3


def test_dele_then_quit_removes_the_files(srv):
    deliver(srv, 3)
    p = srv.pop3s("bob")
    uid = uidl_map(p)
    p.dele(1)
    p.dele(3)
    r = p.quit()
    assert r.startswith(b"+OK") and b"1 message left" in r, r
    files = all_files(srv)
    assert len(files) == 1
    assert os.path.basename(files[0]).startswith(uid[2].decode())
    p = srv.pop3s("bob")
    assert p.stat()[0] == 1
    assert uidl_map(p) == {1: uid[2]}
    p.quit()
    srv.wait_log(r"pop3: user=<bob@example\.test>: expunged 2 messages")


def test_dele_without_quit_removes_nothing(srv):
    deliver(srv, 2)
    c = RawPOP3(srv.pop3s_port)
    c.cmd("USER " + BOB)
    c.cmd("PASS " + PW)
    assert c.cmd("DELE 1").startswith(b"+OK")
    assert c.cmd("DELE 2").startswith(b"+OK")
    c.close()  # no QUIT: no UPDATE state (RFC 1939 6)
    time.sleep(0.5)
    assert len(all_files(srv)) == 2
    p = srv.pop3s("bob")
    assert p.stat()[0] == 2
    p.quit()


def test_smtp_delivery_appears_in_a_new_session(srv):
    p = srv.pop3s("bob")
    assert p.stat() == (0, 0)
    deliver(srv, 1)
    # A session sees the maildrop as it was at login.
    assert p.stat() == (0, 0)
    p.quit()
    p = srv.pop3s("bob")
    assert p.stat()[0] == 1
    _, body, _ = p.retr(1)
    assert b"Subject: pop test 1" in body
    assert any(l.startswith(b"Received: ") for l in body)
    p.quit()
    # another user's mailbox is empty
    q = srv.pop3s("alice")
    assert q.stat() == (0, 0)
    q.quit()


def test_noop_and_quit(srv):
    c = RawPOP3(srv.pop3s_port)
    # NOOP is a TRANSACTION command (RFC 1939 5)
    assert c.cmd("NOOP").startswith(b"-ERR")
    c.cmd("USER " + BOB)
    c.cmd("PASS " + PW)
    assert c.cmd("NOOP") == b"+OK"
    assert c.cmd("noop") == b"+OK"
    assert c.cmd("QUIT") == b"+OK Bye (0 messages left)"
    assert c.closed()
    # QUIT in AUTHORIZATION
    d = RawPOP3(srv.pop3s_port)
    assert d.cmd("QUIT").startswith(b"+OK")
    assert d.closed()


def test_pipelining(srv):
    deliver(srv, 2)
    c = RawPOP3(srv.pop3s_port)
    c.send("USER %s\r\nPASS %s\r\nSTAT\r\nLIST 1\r\nUIDL 2\r\nNOOP\r\nQUIT\r\n" % (BOB, PW))
    got = [c.line() for _ in range(7)]
    assert got[0] == b"+OK" and got[1].startswith(b"+OK Logged in, 2 messages")
    assert got[2].startswith(b"+OK 2 ") and got[3].startswith(b"+OK 1 ")
    assert got[4].startswith(b"+OK 2 ") and got[5] == b"+OK"
    assert got[6].startswith(b"+OK Bye")
    assert c.closed()


# --- bad input ---

@pytest.mark.parametrize("line", ["FOO", "LISTX", "XTND XMIT", "", " STAT", "STAT\x01"])
def test_unknown_commands(srv, line):
    c = RawPOP3(srv.pop3s_port)
    assert c.cmd(line).startswith(b"-ERR"), line
    c.cmd("USER " + BOB)
    c.cmd("PASS " + PW)
    assert c.cmd(line).startswith(b"-ERR"), line
    assert c.cmd("STAT") == b"+OK 0 0"


def test_over_long_lines_bare_lf_and_bad_utf8(srv):
    c = RawPOP3(srv.pop3s_port)
    c.cmd("USER " + BOB)
    c.cmd("PASS " + PW)
    assert c.cmd("NOOP " + "x" * 600) == b"-ERR Line too long"
    # longer than any buffer: discarded up to its end
    assert c.cmd("NOOP " + "y" * 100000) == b"-ERR Line too long"
    assert c.cmd("NOOP") == b"+OK"
    # bare LF ends the line and is refused
    c.send(b"STAT\nNOOP\r\n")
    got = [c.line(), c.line()]
    assert got[1] == b"+OK" and got[0].startswith(b"-ERR"), got
    assert c.cmd(b"NOOP \xff\xfe").startswith(b"-ERR")
    assert c.cmd(b"NOOP \x00").startswith(b"-ERR")
    assert c.cmd("STAT") == b"+OK 0 0"


def test_too_many_errors_close_the_session(srv):
    c = RawPOP3(srv.pop3s_port)
    for i in range(9):
        assert c.cmd("BOGUS%d" % i).startswith(b"-ERR"), i
    r = c.cmd("BOGUS")
    assert r.startswith(b"-ERR") and b"too many errors" in r, r
    assert c.closed()
    # in TRANSACTION too, and the deletions are not committed
    deliver(srv, 1)
    d = RawPOP3(srv.pop3s_port)
    d.cmd("USER " + BOB)
    d.cmd("PASS " + PW)
    assert d.cmd("DELE 1").startswith(b"+OK")
    for i in range(10):
        r = d.cmd("LIST 99")
    assert b"too many errors" in r, r
    assert d.closed()
    assert len(all_files(srv)) == 1


# --- curl ---

def curl(srv, path, user=BOB, password=PW):
    return subprocess.run(["curl", "-sSk", "--max-time", "30", "--user", "%s:%s" % (user, password),
                           "pop3s://127.0.0.1:%d/%s" % (srv.pop3s_port, path)],
                          capture_output=True, timeout=60)


def test_curl_lists_and_retrieves(srv):
    deliver(srv, 2)
    r = curl(srv, "")
    assert r.returncode == 0, r.stderr
    p = srv.pop3s("bob")
    _, lines, _ = p.list()
    _, body, _ = p.retr(2)
    p.quit()
    assert r.stdout.decode().split("\r\n")[:-1] == [l.decode() for l in lines]
    r = curl(srv, "2")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"\r\n".join(body) + b"\r\n"
    # a wrong password: curl fails with its login error (67)
    r = curl(srv, "", password="wrong")
    assert r.returncode == 67, (r.returncode, r.stderr)
