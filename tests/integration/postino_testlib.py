"""Helpers of the integration tests: a real postino server in a temporary
directory, driven through its own CLI, and a small raw SMTP client.

Everything here talks to the real binary (POSTINO_BIN); nothing is mocked.
"""

import atexit
import base64
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

DOMAIN = "example.test"

# Settings every test server gets: argon2 cheap enough for tests.
# "127.0.0.1:PORT" of the session's test DNS server (set by conftest).
DNS_RESOLVER = None

FAST_SETTINGS = {
    "password_argon2_memory": "64K",
    "password_argon2_time": "1",
    # There is no DNS here but the tests' own server: without it, every
    # message would wait for the lookups' time limit. test_spf and
    # test_dmarc turn them on.
    "spf_check": "no",
    "dkim_verify": "no",
}

# Offsets of the services from the port base (see DESIGN.md, Contracts).
SERVICE_OFFSETS = (25, 587, 465, 143, 993, 110, 995, 443)

# Lines that must never appear in a server or CLI log.
BAD_LOG_PATTERNS = ("panic", "AddressSanitizer", "runtime error", "LeakSanitizer")


_bin_copy = None


def _source_bin():
    env = os.environ.get("POSTINO_BIN")
    if env:
        return os.path.abspath(env)
    for rel in ("build-test/postino", "build/postino"):
        path = os.path.join(REPO, rel)
        if os.path.exists(path):
            return path
    raise RuntimeError("no postino binary: set POSTINO_BIN or build build/postino")


def postino_bin():
    """A private copy of the binary under test, made once per run, so that
    a rebuild during the run (ninja relinking it) cannot break tests."""
    global _bin_copy
    if _bin_copy is None:
        src = _source_bin()
        d = tempfile.mkdtemp(prefix="postino-it-bin-", dir="/tmp")
        os.chmod(d, 0o755)
        dst = os.path.join(d, "postino")
        shutil.copy2(src, dst)
        os.chmod(dst, 0o755)
        atexit.register(shutil.rmtree, d, True)
        _bin_copy = (src, dst)
    return _bin_copy[1]


def postino_bin_source():
    postino_bin()
    return _bin_copy[0]


def sanitizer_env():
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    env.pop("POSTINO_CONFIG", None)
    return env


def bad_log_lines(text):
    return [l for l in text.splitlines() if any(p in l for p in BAD_LOG_PATTERNS)]


def port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def pick_port_base():
    """A random port base whose service ports are all free; kept below the
    usual ephemeral range (32768+) so client sockets do not collide."""
    for _ in range(200):
        base = random.randrange(10000, 31000)
        if all(port_free(base + off) for off in SERVICE_OFFSETS):
            return base
    raise RuntimeError("no free port base found")


def pids_in_group(pgid):
    """Processes (not zombies) whose process group is pgid."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...; comm may contain spaces
        rest = stat[stat.rfind(")") + 2:].split()
        if len(rest) >= 3 and int(rest[2]) == pgid and rest[0] != "Z":
            out.append(int(name))
    return out


def unescape_env(value):
    """Decode a %-escaped envelope value."""
    return re.sub(rb"%([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]),
                  value.encode("utf-8")).decode("utf-8")


def parse_envelope(text):
    """Parse a spool .env file into (fields dict, list of rcpt dicts)."""
    fields, rcpts = {}, []
    for line in text.splitlines():
        if line.startswith("rcpt "):
            r = {}
            for attr in line[5:].split(" "):
                k, _, v = attr.partition("=")
                r[k] = unescape_env(v)
            rcpts.append(r)
        elif " " in line:
            k, _, v = line.partition(" ")
            fields[k] = unescape_env(v)
        else:
            fields[line] = ""
    return fields, rcpts


class Server:
    """A postino instance in its own temporary directory."""

    def __init__(self, settings=None, domain=DOMAIN):
        self.bin = postino_bin()
        self.domain = domain
        self.top = tempfile.mkdtemp(prefix="postino-it-", dir="/tmp")
        os.chmod(self.top, 0o755)
        self.dir = os.path.join(self.top, "data")
        self.conf = os.path.join(self.dir, "postino.conf")
        self.log_path = os.path.join(self.top, "serve.log")
        self.settings = dict(FAST_SETTINGS)
        if DNS_RESOLVER:
            # every server asks the tests' DNS server (conftest.dns)
            self.settings["dns_resolver"] = DNS_RESOLVER
        self.settings.update({k: str(v) for k, v in (settings or {}).items()})
        if "https_listen" in self.settings and "share_web_dir" not in self.settings:
            # httpd runs as the service user, who may not read the source
            # tree (a clone in a private directory): a copy it can read
            web = os.path.join(self.top, "web")
            shutil.copytree(os.path.join(REPO, "web"), web)
            self.settings["share_web_dir"] = web
        self.proc = None
        self.exit_codes = []
        self.port_base = None
        self.port = None
        self.cli_problems = []

    # --- setup through the real CLI ---

    def init(self):
        last = None
        for _ in range(5):
            self.port_base = pick_port_base()
            args = [self.bin, "init", "--dir", self.dir, "--domain", self.domain,
                    "--port-base", str(self.port_base)]
            for k, v in self.settings.items():
                args += ["--set", "%s=%s" % (k, v)]
            last = subprocess.run(args, capture_output=True, env=sanitizer_env(), timeout=60)
            if last.returncode == 0:
                self.port = self.port_base + 25
                return self
            shutil.rmtree(self.dir, ignore_errors=True)
        raise AssertionError("postino init failed: %r %r" % (last.stdout, last.stderr))

    def cli(self, *args, input=None, check=True, config=True):
        cmd = [self.bin] + list(args)
        if config:
            cmd += ["--config", self.conf]
        r = subprocess.run(cmd, input=input, capture_output=True, env=sanitizer_env(),
                           timeout=60)
        out = r.stdout.decode("utf-8", "replace")
        err = r.stderr.decode("utf-8", "replace")
        bad = bad_log_lines(out + err)
        if bad:
            self.cli_problems.append((cmd, bad))
        assert not bad, "sanitizer/panic output from %r:\n%s" % (cmd, err)
        if check:
            assert r.returncode == 0, "%r failed (%d):\n%s%s" % (cmd, r.returncode, out, err)
        r.out, r.err = out, err
        return r

    def add_user(self, local, password="secret-pw"):
        addr = local if "@" in local else "%s@%s" % (local, self.domain)
        self.cli("user", "add", addr, "--password-stdin",
                 input=(password + "\n").encode("utf-8"))
        return addr

    def add_alias(self, address, *targets):
        address = address if "@" in address else "%s@%s" % (address, self.domain)
        self.cli("alias", "add", address, *targets)
        return address

    def add_domain(self, domain):
        self.cli("domain", "add", domain)

    # --- running ---

    def start(self, timeout=30):
        assert self.proc is None or self.proc.poll() is not None
        with open(self.log_path, "ab") as log:
            log.write(b"==== test harness: postino serve starting\n")
            log.flush()
            self.proc = subprocess.Popen([self.bin, "serve", "--config", self.conf],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True, env=sanitizer_env())
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=30):
        """Wait until the SMTP port answers with a 220 greeting."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("postino serve exited with %d while starting:\n%s"
                                     % (self.proc.returncode, self.log()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    s.settimeout(5)
                    greeting = s.recv(512)
                    if greeting.startswith(b"220"):
                        s.sendall(b"QUIT\r\n")
                        try:
                            s.recv(512)
                        except OSError:
                            pass
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("postino serve not ready on port %d after %ds:\n%s"
                             % (self.port, timeout, self.log()))

    def stop(self, timeout=30):
        """SIGTERM by pid; SIGKILL the group if it does not stop in time.
        Returns the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill_group()
            rc = "killed (did not stop within %ds of SIGTERM)" % timeout
        self.exit_codes.append(rc)
        return rc

    def kill_group(self):
        """SIGKILL the server's whole process group, reap it and wait until
        none of its processes is left."""
        pgid = self.proc.pid
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(30)
        deadline = time.monotonic() + 30
        while pids_in_group(pgid):
            if time.monotonic() > deadline:
                raise AssertionError("processes of group %d survive SIGKILL" % pgid)
            time.sleep(0.02)

    def restart(self):
        rc = self.stop()
        assert rc == 0, "postino serve exited with %r on SIGTERM\n%s" % (rc, self.log())
        self.start()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def grep_log(self, pattern):
        rx = re.compile(pattern)
        return [l for l in self.log().splitlines() if rx.search(l)]

    def wait_log(self, pattern, timeout=15, count=1):
        deadline = time.monotonic() + timeout
        while True:
            lines = self.grep_log(pattern)
            if len(lines) >= count:
                return lines
            if time.monotonic() > deadline:
                raise AssertionError("log has %d line(s) matching %r after %ss, want %d:\n%s"
                                     % (len(lines), pattern, timeout, count, self.log()))
            time.sleep(0.05)

    def teardown_problems(self):
        """Stop the server; return a list of problems (empty if clean)."""
        problems = []
        if self.proc is not None and self.proc.poll() is None:
            rc = self.stop()
            if rc != 0:
                problems.append("postino serve exited with %r after SIGTERM" % (rc,))
        bad = bad_log_lines(self.log())
        if bad:
            problems.append("bad lines in the server log:\n  " + "\n  ".join(bad))
        return problems

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.kill_group()
        shutil.rmtree(self.top, ignore_errors=True)

    # --- mailboxes ---

    def address(self, local):
        return local if "@" in local else "%s@%s" % (local, self.domain)

    def maildir(self, user):
        addr = self.address(user)
        local, _, domain = addr.rpartition("@")
        return os.path.join(self.dir, "mail", domain.lower(), local.lower())

    def make_maildir(self, user):
        """Create the user's Maildir (cur, new, tmp) as the server would:
        owned by the owner of data/mail (the mail user), mode 0700.
        Returns its path."""
        st = os.stat(os.path.join(self.dir, "mail"))
        root = self.maildir(user)
        domain_dir = os.path.dirname(root)
        for d in (domain_dir, root) + tuple(os.path.join(root, s) for s in ("cur", "new", "tmp")):
            if not os.path.isdir(d):
                os.mkdir(d, 0o700)
            os.chown(d, st.st_uid, st.st_gid)
        return root

    def put_messages(self, user, messages, sub="cur", info="2,", start_time=1700000000):
        """Write messages (bytes with LF line ends) straight into the
        user's Maildir sub ("cur" or "new") under names like the store's:
        "SECS.MUSECSP1Qn.test,S=size,W=vsize" plus ":INFO" in cur/. Files
        are owned by the mail user. Returns the file names in order."""
        root = self.make_maildir(user)
        st = os.stat(os.path.join(self.dir, "mail"))
        d = os.path.join(root, sub)
        names = []
        for i, data in enumerate(messages):
            name = "%d.M%dP1Q%d.test,S=%d,W=%d" % (start_time + i, i, i + 1, len(data),
                                                     len(data) + data.count(b"\n"))
            if sub == "cur" and info is not None:
                name += ":" + info
            path = os.path.join(d, name)
            with open(path, "wb") as f:
                f.write(data)
            os.chown(path, st.st_uid, st.st_gid)
            names.append(name)
        return names

    def message_files(self, user, sub="new"):
        d = os.path.join(self.maildir(user), sub)
        try:
            names = sorted(n for n in os.listdir(d) if not n.startswith("."))
        except FileNotFoundError:
            return []
        return [os.path.join(d, n) for n in names]

    def messages(self, user, sub="new"):
        """Contents (bytes) of the messages in a Maildir's new/, sorted by
        file name (which starts with the delivery time)."""
        out = []
        for p in self.message_files(user, sub):
            with open(p, "rb") as f:
                out.append(f.read())
        return out

    def wait_for_maildir(self, user, count, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.messages(user)
            if len(msgs) >= count:
                return msgs
            if time.monotonic() > deadline:
                raise AssertionError("%s has %d message(s) after %ss, want %d\n%s"
                                     % (user, len(msgs), timeout, count, self.log()))
            time.sleep(0.05)

    # --- spool ---

    def spool(self, sub="queue"):
        d = os.path.join(self.dir, "spool", sub)
        return sorted(os.listdir(d))

    def queue_ids(self):
        return [n[:-4] for n in self.spool("queue") if n.endswith(".msg")]

    def read_envelope(self, qid):
        """The current envelope of a queued message: ID.env once it has
        changed, else the copy after the message in ID.msg (located by the
        trailer line "postino-env OFFSET [START]")."""
        q = os.path.join(self.dir, "spool", "queue")
        try:
            with open(os.path.join(q, qid + ".env"), "rb") as f:
                return parse_envelope(f.read().decode("utf-8"))
        except FileNotFoundError:
            pass
        with open(os.path.join(q, qid + ".msg"), "rb") as f:
            data = f.read()
        # "\npostino-env OFFSET\n", or with the message's START after it
        m = re.search(rb"\npostino-env ([0-9a-f]{16})(?: [0-9a-f]{8})?\n\Z", data)
        assert m, data[-40:]
        offset = int(m.group(1), 16)
        return parse_envelope(data[offset:m.start()].decode("utf-8"))

    def wait_queue_empty(self, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            files = self.spool("queue")
            if not files:
                return
            if time.monotonic() > deadline:
                raise AssertionError("queue not empty after %ss: %r\n%s"
                                     % (timeout, files, self.log()))
            time.sleep(0.05)

    def wait_envelope(self, qid, predicate, timeout=20):
        """Wait until qid's envelope satisfies predicate(fields, rcpts)."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                last = self.read_envelope(qid)
                if predicate(*last):
                    return last
            except FileNotFoundError:
                last = None
            if time.monotonic() > deadline:
                raise AssertionError("envelope of %s never matched; last: %r\n%s"
                                     % (qid, last, self.log()))
            time.sleep(0.05)

    def smtp(self, timeout=15, **kw):
        return SMTPConn(self.port, timeout=timeout, **kw)

    @property
    def submission_port(self):
        return self.port_base + 587

    @property
    def submissions_port(self):
        return self.port_base + 465

    def submission(self, timeout=15, **kw):
        """A plaintext connection to the submission port (587)."""
        return SMTPConn(self.submission_port, timeout=timeout, **kw)

    def submissions(self, timeout=15, **kw):
        """A TLS connection to the submissions port (465)."""
        kw.setdefault("tls", True)
        return SMTPConn(self.submissions_port, timeout=timeout, **kw)

    @property
    def imap_port(self):
        return self.port_base + 143

    @property
    def imaps_port(self):
        return self.port_base + 993

    @property
    def pop3_port(self):
        return self.port_base + 110

    @property
    def pop3s_port(self):
        return self.port_base + 995

    def _retry_connect(self, make, timeout):
        """imapd and pop3d start beside smtpd: wait until they answer."""
        deadline = time.time() + timeout
        while True:
            try:
                return make()
            except (ConnectionRefusedError, ConnectionResetError):
                if time.time() > deadline:
                    raise
                time.sleep(0.05)

    def imaps(self, user=None, password="secret-pw", timeout=15):
        """An IMAP connection over implicit TLS (993), logged in as user
        (a local part or an address) unless user is None."""
        import imaplib
        conn = self._retry_connect(lambda: imaplib.IMAP4_SSL(
            "127.0.0.1", self.imaps_port, ssl_context=client_tls_context(), timeout=timeout),
            timeout)
        if user is not None:
            conn.login(user if "@" in user else self.address(user), password)
        return conn

    def imap(self, timeout=15):
        """A plaintext IMAP connection (143), not logged in."""
        import imaplib
        return self._retry_connect(lambda: imaplib.IMAP4("127.0.0.1", self.imap_port,
                                                         timeout=timeout), timeout)

    def pop3s(self, user=None, password="secret-pw", timeout=15):
        """A POP3 connection over implicit TLS (995), logged in unless user
        is None."""
        import poplib
        conn = self._retry_connect(lambda: poplib.POP3_SSL(
            "127.0.0.1", self.pop3s_port, context=client_tls_context(), timeout=timeout),
            timeout)
        if user is not None:
            conn.user(user if "@" in user else self.address(user))
            conn.pass_(password)
        return conn

    def pop3(self, timeout=15):
        import poplib
        return self._retry_connect(lambda: poplib.POP3("127.0.0.1", self.pop3_port,
                                                       timeout=timeout), timeout)

    def pid(self):
        return self.proc.pid


def client_tls_context(minimum=None, maximum=None, ciphers=None):
    """A TLS client context that does not verify the (self-signed) server
    certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    return ctx


# --- a raw SMTP client ---

class Reply:
    def __init__(self, lines):
        self.lines = lines                      # raw lines, CRLF stripped
        self.code = int(lines[-1][:3])
        self.texts = [l[4:] for l in lines]
        m = re.match(r"^([245])\.(\d{1,3})\.(\d{1,3}) ", self.texts[0] + " ")
        self.enh = m.group(0).strip() if m else None

    @property
    def text(self):
        return "\n".join(self.texts)

    def __repr__(self):
        return "Reply(%r)" % (self.lines,)


class SMTPConn:
    """A line-level SMTP client that sends exactly the octets it is given.
    tls=True starts TLS at once (implicit TLS, port 465); source binds the
    client end to another local address (e.g. "127.0.0.2")."""

    def __init__(self, port, host="127.0.0.1", timeout=15, tls=False, source=None,
                 context=None, server_hostname=None):
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.buf = b""
        self.transcript = []
        if tls:
            self.sock = (context or client_tls_context()).wrap_socket(
                self.sock, server_hostname=server_hostname)
        self.greeting = self.reply()

    def starttls(self, context=None, server_hostname=None):
        """STARTTLS and, on 220, the TLS handshake; returns the reply."""
        r = self.cmd("STARTTLS")
        if r.code == 220:
            assert self.buf == b"", "octets after the 220 to STARTTLS: %r" % self.buf
            self.sock = (context or client_tls_context()).wrap_socket(
                self.sock, server_hostname=server_hostname)
        return r

    @property
    def tls_version(self):
        return self.sock.version() if isinstance(self.sock, ssl.SSLSocket) else None

    def auth_plain(self, user, password):
        """AUTH PLAIN with an initial response; returns the final reply."""
        token = base64.b64encode(b"\0" + user.encode("utf-8") + b"\0" +
                                 password.encode("utf-8")).decode("ascii")
        return self.cmd("AUTH PLAIN " + token)

    def auth_login(self, user, password):
        """AUTH LOGIN in three steps; returns the final (or first failing) reply."""
        r = self.cmd("AUTH LOGIN")
        if r.code != 334:
            return r
        r = self.cmd(base64.b64encode(user.encode("utf-8")).decode("ascii"))
        if r.code != 334:
            return r
        return self.cmd(base64.b64encode(password.encode("utf-8")).decode("ascii"))

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by the server; pending %r" % self.buf)
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line.decode("utf-8", "replace")

    def reply(self):
        lines = []
        while True:
            line = self._line()
            if not re.match(r"^\d{3}[ -]", line + " ") or len(line) < 3:
                raise AssertionError("malformed reply line %r" % line)
            lines.append(line)
            if len(line) == 3 or line[3] == " ":
                break
        r = Reply(lines)
        self.transcript.append(r)
        return r

    def cmd(self, line):
        self.send(line + "\r\n" if isinstance(line, str) else line + b"\r\n")
        return self.reply()

    def ehlo(self, name="client.example.org"):
        r = self.cmd("EHLO " + name)
        assert r.code == 250, r
        return r

    def replies(self, n):
        return [self.reply() for _ in range(n)]

    def wait_closed(self, timeout=10):
        """True if the server closes the connection (EOF) within timeout;
        replies arriving meanwhile are parsed and kept in the transcript."""
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (socket.timeout, TimeoutError):
            return False
        except (ConnectionResetError, ssl.SSLEOFError):
            return True
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def queued_id(reply):
    """The queue ID of a '250 2.0.0 Ok: queued as ID' reply."""
    m = re.search(r"queued as ([0-9A-Z]+)", reply.text if isinstance(reply, Reply) else reply)
    assert m, "no queue ID in %r" % (reply,)
    return m.group(1)


def split_message(raw):
    """(header bytes, body bytes) of an LF message."""
    head, sep, body = raw.partition(b"\n\n")
    return head + b"\n", body


def header_values(raw, name):
    head, _ = split_message(raw)
    # unfold
    text = re.sub(rb"\n[ \t]", b" ", head).decode("utf-8", "replace")
    out = []
    for line in text.split("\n"):
        k, sep, v = line.partition(":")
        if sep and k.lower() == name.lower():
            out.append(v.strip())
    return out
