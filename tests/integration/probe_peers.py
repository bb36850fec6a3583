"""Loopback SMTP servers and DNS records for the tests of `postino probe`.

- ScriptedSMTPPeer: a small hand-written SMTP server (a socket and a
  thread per connection) whose every reply the test controls: the
  greeting, the EHLO keywords, which recipients exist, a delay before each
  reply, a reply of its own for any command, STARTTLS with a given TLS
  context. It records every command line it receives, and refuses DATA
  (a probe must never send a message: DATA is recorded as a violation).
- OldSendmailPeer: the old-fashioned one: "ESMTP Sendmail 8.11.6", no
  STARTTLS.
- CertPeer / ExpiredCertPeer: STARTTLS with a certificate made at start
  (python3-cryptography): its names, how many days it has left (negative:
  expired that long ago), self-signed or issued by a TestCA (optionally
  through an intermediate), whose file a test points the probe's trust
  store at (SSL_CERT_FILE, or the probe's own option).
- probe_dns(): a test domain's records in the test DNS server (MX, A,
  PTR, SPF, DMARC, MTA-STS, TLS-RPT), with ready-made bad cases: SPF over
  the 10-lookup limit (a chain of includes, all published) and a DMARC
  record with a syntax error.

The peers listen on a fresh loopback address, port 25 (MX delivery goes to
port 25; root may bind any of 127/8), or on the port given. Each is a
context manager; stop() closes every socket and joins every thread. The
`probe_peers` fixture starts them for a test and stops them after it
(showing their transcripts when the test failed).
"""

import atexit
import datetime
import hashlib
import ipaddress
import os
import re
import shutil
import socket
import ssl
import tempfile
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from peers import PostfixPeer, loopback_address, new_domain

LINE_MAX = 2048          # a longer command line is refused (RFC 5321: 512)
IO_TICK = 0.1            # how often blocked socket calls look at the stop flag
HANDSHAKE_TIMEOUT = 10   # seconds for the client's TLS handshake
JOIN_TIMEOUT = 10        # seconds stop() waits for each thread


def _sendmail_date():
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())


class Session:
    """One connection to a peer, as the peer saw it."""

    def __init__(self, number, client):
        self.number = number        # 1, 2, ... in the order of arrival
        self.client = client        # (address, port) of the client
        self.start = time.monotonic()
        self.end = None
        self.banner = None          # the greeting sent (text, CRLF-joined lines)
        self.commands = []          # command lines received (str, no CRLF)
        self.replies = []           # (command line, reply text) in order
        self.tls = None             # "TLSv1.3" once STARTTLS succeeded
        self.cipher = None          # ("TLS_AES_256_GCM_SHA384", "TLSv1.3", 256)
        self.sni = None             # the server name the client asked for
        self.tls_error = None       # why the TLS handshake failed

    def __repr__(self):
        return "Session(%d, %s, tls=%r, %r)" % (self.number, self.client[0], self.tls,
                                                self.commands)


class ScriptedSMTPPeer:
    """A hand-written SMTP server on host:port (default: a fresh loopback
    address, port 25; port=0: any free port).

    hostname: the name it gives itself. banner: the greeting's text after
    "220 " (a string with {hostname}/{date} fields, or a callable taking
    the peer; a list: a multi-line greeting). extensions: the EHLO
    keywords after the hello line ("STARTTLS" is added when tls_context is
    set and TLS is not active yet). users: local parts (or whole
    addresses) that exist; postmaster exists unless reject_postmaster;
    domains: if given, RCPT to other domains is refused as relaying.
    delays: seconds to wait before the reply, by "banner" or command verb
    ({"banner": 2, "EHLO": 0.5, "RCPT": 3}; case does not matter; may be
    changed while it runs). replies: a reply of the test's own instead of
    the usual one, by verb ({"MAIL": "451 4.3.0 try later"}; "banner": the
    whole greeting, e.g. "554 5.3.2 go away"; a list gives the replies for
    successive uses, the last one repeating; multi-line: CRLF-joined).

    What happened: .sessions (Session objects), .commands (every command
    line, all sessions), .violations (DATA and other things a probe must
    not do), .rcpts ((address, reply code) of each RCPT)."""

    HELLO = "{hostname}"
    HELP = "214 2.0.0 See RFC 5321"

    def __init__(self, host=None, port=25, hostname="mx.scripted.test",
                 banner="{hostname} ESMTP ready", extensions=("PIPELINING", "SIZE 10240000",
                                                              "8BITMIME",
                                                              "ENHANCEDSTATUSCODES"),
                 users=("alice", "bob"), domains=None, reject_postmaster=False, delays=None,
                 replies=None, tls_context=None):
        self.host = host or loopback_address(port if port else 25)
        self.port = port
        self.hostname = hostname
        self.banner = banner
        self.extensions = list(extensions)
        self.users = {u.lower() for u in users}
        self.domains = None if domains is None else {d.lower() for d in domains}
        self.reject_postmaster = reject_postmaster
        self.delays = dict(delays or {})
        self.replies = dict(replies or {})
        self.tls_context = tls_context
        self._sni_seen = {}  # file descriptor -> server name asked for
        if tls_context is not None:
            tls_context.sni_callback = self._sni
        self.sessions = []
        self.commands = []
        self.violations = []
        self.rcpts = []
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = None
        self._accept_thread = None
        self._threads = []
        self._socks = set()

    # --- what happened ---

    @property
    def hostport(self):
        """"HOST:PORT", as `postino probe` takes it."""
        return "%s:%d" % (self.host, self.port)

    @property
    def connections(self):
        with self.lock:
            return len(self.sessions)

    def verbs(self):
        """The verbs of every command received, upper case, in order."""
        with self.lock:
            return [c.split(" ", 1)[0].upper() for c in self.commands]

    def wait_sessions_closed(self, timeout=10):
        """Wait until every connection so far has ended (the client hung up)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if all(s.end is not None for s in self.sessions):
                    return
            if time.monotonic() > deadline:
                raise AssertionError("peer %s: a connection is still open after %ss"
                                     % (self.hostport, timeout))
            time.sleep(0.02)

    def transcript(self):
        """What each session saw, for a failed test's output."""
        out = []
        with self.lock:
            for s in self.sessions:
                out.append("-- session %d from %s tls=%s sni=%s%s" % (
                    s.number, s.client[0], s.tls, s.sni,
                    " tls_error=%s" % s.tls_error if s.tls_error else ""))
                out.append("   < %r" % s.banner)
                for cmd, reply in s.replies:
                    out.append("   > %r" % cmd)
                    out.append("   < %r" % reply)
            if self.violations:
                out.append("-- violations: %r" % self.violations)
        return "\n".join(out)

    # --- running ---

    def start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, self.port))
        s.listen(16)
        s.settimeout(IO_TICK)
        self.port = s.getsockname()[1]
        self._listener = s
        self._accept_thread = threading.Thread(target=self._accept_loop, daemon=True,
                                               name="peer-accept-%s" % self.host)
        self._accept_thread.start()
        return self

    def stop(self):
        """Close the listening socket and every connection, join every thread."""
        self._stop.set()
        if self._accept_thread is not None:
            self._accept_thread.join(JOIN_TIMEOUT)
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self.lock:
            socks = list(self._socks)
            threads = list(self._threads)
        for c in socks:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        stuck = []
        for t in threads:
            t.join(JOIN_TIMEOUT)
            if t.is_alive():
                stuck.append(t.name)
        if self._accept_thread is not None and self._accept_thread.is_alive():
            stuck.append(self._accept_thread.name)
        self._accept_thread = None
        if stuck:
            raise AssertionError("peer %s: threads did not end: %r" % (self.hostport, stuck))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, addr = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                session = Session(len(self.sessions) + 1, addr)
                self.sessions.append(session)
                self._socks.add(conn)
                t = threading.Thread(target=self._serve, args=(conn, session), daemon=True,
                                     name="peer-%s-%d" % (self.host, session.number))
                self._threads.append(t)
            t.start()

    # --- one connection ---

    def _serve(self, conn, session):
        io = _LineIO(conn, self._stop)
        try:
            self._session(io, session)
        except (OSError, ssl.SSLError, _Stopped):
            pass
        finally:
            with self.lock:
                session.end = time.monotonic()
                self._socks.discard(conn)
                self._socks.discard(io.sock)
            io.close()

    def _delay(self, what):
        d = None
        for k, v in list(self.delays.items()):
            if k.upper() == what.upper():
                d = v
        if d:
            self._stop.wait(d)
        if self._stop.is_set():
            raise _Stopped()

    def _own_reply(self, verb):
        with self.lock:
            r = self.replies.get(verb, self.replies.get(verb.lower()))
            if isinstance(r, list):
                r = r.pop(0) if len(r) > 1 else (r[0] if r else None)
        return r

    def banner_text(self):
        b = self.banner(self) if callable(self.banner) else self.banner
        lines = b if isinstance(b, (list, tuple)) else [b]
        lines = [line.format(hostname=self.hostname, date=_sendmail_date()) for line in lines]
        return "\r\n".join("220%s%s" % ("-" if i < len(lines) - 1 else " ", line)
                           for i, line in enumerate(lines))

    def _session(self, io, session):
        self._delay("banner")
        greeting = self._own_reply("banner") or self.banner_text()
        session.banner = greeting
        io.send(greeting)
        state = {"helo": None, "mail": None, "rcpts": []}
        while True:
            line = io.readline()
            if line is None:
                return
            if line is _LineIO.TOO_LONG:
                io.send("500 5.5.0 Line too long")
                continue
            with self.lock:
                session.commands.append(line)
                self.commands.append(line)
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            arg = arg.strip()
            if verb == "DATA":
                with self.lock:
                    self.violations.append("DATA sent (session %d)" % session.number)
            self._delay(verb)
            reply = self._own_reply(verb)
            if reply is None:
                reply = self._reply(verb, arg, state, session, io)
            elif verb == "MAIL" and reply.startswith("2"):
                state["mail"] = arg
            if isinstance(reply, (list, tuple)):
                reply = "\r\n".join(reply)
            if verb == "RCPT":
                with self.lock:
                    self.rcpts.append((_address(arg, "TO"), int(reply[:3])))
            with self.lock:
                session.replies.append((line, reply))
            io.send(reply)
            if verb == "QUIT":
                return
            if verb == "STARTTLS" and reply.startswith("220") and self._tls_offered(session):
                if io.pending():
                    with self.lock:
                        self.violations.append(
                            "commands pipelined after STARTTLS (session %d)" % session.number)
                if not self._handshake(io, session):
                    return
                state.update(helo=None, mail=None, rcpts=[])

    def _tls_offered(self, session):
        return self.tls_context is not None and session.tls is None

    def _sni(self, sslsock, name, ctx):
        with self.lock:
            self._sni_seen[sslsock.fileno()] = name

    def _handshake(self, io, session):
        ctx = self.tls_context
        raw = io.sock
        fd = raw.fileno()
        try:
            raw.settimeout(HANDSHAKE_TIMEOUT)
            tls = ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError) as e:
            with self.lock:
                session.sni = self._sni_seen.pop(fd, None)
            session.tls_error = str(e)
            return False
        with self.lock:
            self._socks.add(tls)
        tls.settimeout(IO_TICK)
        io.sock = tls
        io.buf = b""
        with self.lock:
            session.sni = self._sni_seen.pop(fd, None)
        session.tls = tls.version()
        session.cipher = tls.cipher()
        return True

    def _reply(self, verb, arg, state, session, io):
        h = self.hostname
        if verb in ("EHLO", "HELO"):
            if not arg:
                return "501 5.0.0 %s requires domain address" % verb
            state.update(helo=arg, mail=None, rcpts=[])
            hello = (self.HELLO + "").format(hostname=h, client=arg, ip=session.client[0])
            if verb == "HELO":
                return "250 " + hello
            exts = [e for e in self.extensions if e.upper() != "STARTTLS"]
            if self._tls_offered(session):
                exts.append("STARTTLS")
            lines = [hello] + exts
            return "\r\n".join("250%s%s" % ("-" if i < len(lines) - 1 else " ", x)
                               for i, x in enumerate(lines))
        if verb == "MAIL":
            if state["helo"] is None:
                return "503 5.0.0 Polite people say HELO first"
            if state["mail"] is not None:
                return "503 5.5.0 Sender already specified"
            addr = _address(arg, "FROM")
            if addr is None:
                return '501 5.5.2 Syntax error in parameters scanning "from"'
            state["mail"] = addr
            return "250 2.1.0 <%s>... Sender ok" % addr
        if verb == "RCPT":
            if state["mail"] is None:
                return "503 5.0.0 Need MAIL before RCPT"
            addr = _address(arg, "TO")
            if not addr:
                return '501 5.5.2 Syntax error in parameters scanning "to"'
            code = self.recipient_code(addr)
            if code == 250:
                state["rcpts"].append(addr)
                return "250 2.1.5 <%s>... Recipient ok" % addr
            if code == 554:
                return "550 5.7.1 <%s>... Relaying denied" % addr
            return "550 5.1.1 <%s>... User unknown" % addr
        if verb == "DATA":
            return "554 5.7.0 DATA refused: this test peer takes no message"
        if verb == "RSET":
            state.update(mail=None, rcpts=[])
            return "250 2.0.0 Reset state"
        if verb == "NOOP":
            return "250 2.0.0 OK"
        if verb == "QUIT":
            return "221 2.0.0 %s closing connection" % h
        if verb == "VRFY":
            if not arg:
                return "501 5.5.2 Argument required"
            name = arg.strip("<>")
            if self.recipient_code(name) == 250:
                return "250 2.1.5 <%s@%s>" % (name.split("@")[0], h)
            return "550 5.1.1 %s... User unknown" % arg
        if verb == "EXPN":
            return "502 5.7.0 Sorry, we do not allow this operation"
        if verb == "HELP":
            return self.HELP
        if verb == "STARTTLS":
            if self.tls_context is None:
                return '500 5.5.1 Command unrecognized: "STARTTLS"'
            if session.tls is not None:
                return "503 5.5.1 TLS already active"
            if arg:
                return "501 5.5.4 Syntax error (no parameters allowed)"
            return "220 2.0.0 Ready to start TLS"
        if verb == "AUTH":
            return "503 5.3.3 AUTH mechanism not available"
        return '500 5.5.1 Command unrecognized: "%s"' % verb

    def recipient_code(self, addr):
        """250 if the address exists here, 550 if not, 554 when its domain
        is not ours (only with domains=)."""
        local, _, domain = addr.lower().rpartition("@")
        if not local:
            local, domain = domain, ""
        if domain and self.domains is not None and domain not in self.domains:
            return 554
        if local == "postmaster":
            return 550 if self.reject_postmaster else 250
        if local in self.users or addr.lower() in self.users:
            return 250
        return 550


def _address(arg, word):
    """The address of "FROM:<a@b> SIZE=1" / "TO:<a@b>" ("" for <>), or None."""
    m = re.match(r"(?i)%s:\s*<([^<>]*)>" % word, arg)
    return m.group(1) if m else None


class _Stopped(Exception):
    pass


class _LineIO:
    """CRLF lines in, replies out, on a socket that may become TLS."""

    TOO_LONG = object()

    def __init__(self, sock, stop):
        self.sock = sock
        self.stop = stop
        self.buf = b""
        sock.settimeout(IO_TICK)

    def pending(self):
        return bool(self.buf)

    def readline(self):
        """A line without its end (str), TOO_LONG, or None at the end."""
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 1:]
                if len(line) > LINE_MAX:
                    return self.TOO_LONG
                return line.rstrip(b"\r").decode("utf-8", "replace")
            if len(self.buf) > LINE_MAX:
                # skip to the end of the line, then say so
                self.buf = b""
                while b"\n" not in self.buf:
                    if not self._fill():
                        return None
                    if b"\n" not in self.buf:
                        self.buf = b""
                self.buf = self.buf[self.buf.find(b"\n") + 1:]
                return self.TOO_LONG
            if not self._fill():
                return None

    def _fill(self):
        while not self.stop.is_set():
            try:
                data = self.sock.recv(4096)
            except (socket.timeout, ssl.SSLWantReadError):
                continue
            except (OSError, ssl.SSLError):
                return False
            if not data:
                return False
            self.buf += data
            return True
        raise _Stopped()

    def send(self, text):
        self.sock.sendall(text.encode("utf-8") + b"\r\n")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# --- the old-fashioned peer ---

class OldSendmailPeer(ScriptedSMTPPeer):
    """A peer that looks like a Sendmail of 2001: greeting "220 NAME ESMTP
    Sendmail 8.11.6/8.11.6; DATE", EHLO keywords without STARTTLS
    (ENHANCEDSTATUSCODES, PIPELINING, 8BITMIME, SIZE, DSN, HELP), Sendmail's
    reply texts. Every option of ScriptedSMTPPeer applies (delays={"banner":
    2.0, "RCPT": 3.0}, replies=..., users=..., reject_postmaster=True)."""

    HELLO = "{hostname} Hello {client} [{ip}], pleased to meet you"
    HELP = ("214-2.0.0 This is sendmail version 8.11.6\r\n"
            "214-2.0.0 Topics:\r\n"
            "214-2.0.0 \tHELO\tEHLO\tMAIL\tRCPT\tDATA\r\n"
            "214-2.0.0 \tRSET\tNOOP\tQUIT\tHELP\tVRFY\r\n"
            "214 2.0.0 End of HELP info")

    def __init__(self, host=None, port=25, hostname="mail.oldpeer.test", version="8.11.6",
                 **kw):
        kw.setdefault("banner", "{hostname} ESMTP Sendmail %s/%s; {date}" % (version, version))
        kw.setdefault("extensions", ("ENHANCEDSTATUSCODES", "PIPELINING", "8BITMIME", "SIZE",
                                     "DSN", "HELP"))
        if kw.get("tls_context") is not None:
            raise ValueError("OldSendmailPeer offers no STARTTLS")
        self.version = version
        super().__init__(host=host, port=port, hostname=hostname, **kw)
        self.HELP = self.HELP.replace("8.11.6", version)


# --- certificates ---

def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _new_key(kind):
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError("key kind %r: 'ec' or 'rsa'" % kind)


def _pem(obj):
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    return obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _scratch_dir(prefix):
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(d, 0o755)
    atexit.register(shutil.rmtree, d, True)
    return d


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o644)  # the probe may run as another user
    return path


def _issue(subject_cn, key, not_before, not_after, issuer=None, issuer_key=None, ca=False,
           names=()):
    """A certificate for key: self-signed unless issuer/issuer_key."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)])
    b = (x509.CertificateBuilder()
         .subject_name(subject)
         .issuer_name(issuer.subject if issuer is not None else subject)
         .public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(not_before)
         .not_valid_after(not_after)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                        critical=False))
    if issuer is not None:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer_key.public_key()), critical=False)
    if ca:
        b = (b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
             .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                          key_encipherment=False, data_encipherment=False,
                                          key_agreement=False, key_cert_sign=True,
                                          crl_sign=True, encipher_only=False,
                                          decipher_only=False), critical=True))
    else:
        sans = []
        for n in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                sans.append(x509.DNSName(n))
        b = b.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                            critical=False)
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(issuer_key if issuer is not None else key, hashes.SHA256())


class TestCA:
    """A test certificate authority (valid from a year ago for ten years),
    optionally with an intermediate CA under it that issues the leaves.
    .ca_file: the root's PEM (the trust store a test gives the probe);
    .chain: the intermediates a server sends after its leaf."""

    __test__ = False  # not a pytest test class

    def __init__(self, name="Postino Test Root CA", intermediate=False, key="ec"):
        self.dir = _scratch_dir("postino-it-testca-")
        now = _utcnow()
        self.key = _new_key(key)
        self.cert = _issue(name, self.key, now - datetime.timedelta(days=365),
                           now + datetime.timedelta(days=3650), ca=True)
        self.ca_file = _write(os.path.join(self.dir, "ca.pem"), _pem(self.cert))
        self.chain = []
        self.issuer, self.issuer_key = self.cert, self.key
        if intermediate:
            ikey = _new_key(key)
            icert = _issue(name.replace("Root", "Intermediate") if "Root" in name
                           else name + " Intermediate", ikey,
                           now - datetime.timedelta(days=300),
                           now + datetime.timedelta(days=1800), issuer=self.cert,
                           issuer_key=self.key, ca=True)
            self.chain = [icert]
            self.issuer, self.issuer_key = icert, ikey


def _days_to_after(now, days_left):
    """notAfter for a certificate with days_left whole days left: now +
    days_left days + 1 hour (so floor((notAfter - now) / 1 day) is
    days_left both now and for the next hour). Negative: expired."""
    return now + datetime.timedelta(days=days_left, hours=1)


class CertPeer(ScriptedSMTPPeer):
    """A peer that offers STARTTLS with a certificate made when it is
    created.

    names: the certificate's names (the first is the CN; all are SANs;
    an IP address becomes an IP SAN), default (hostname,). days_left:
    whole days until notAfter (negative: expired that many days ago; the
    certificate's notBefore is 30 days before the earlier of now and
    notAfter). ca: None (self-signed; .ca_file is then the certificate
    itself, so a test that trusts it sees only the other faults), True (a
    fresh TestCA), or a TestCA (shared by several peers). key: "ec"
    (P-256) or "rsa" (2048 bits: allows TLS 1.2 cipher suites without
    forward secrecy). tls_versions: (minimum, maximum) as "TLSv1.2" /
    "TLSv1.3" (None: OpenSSL's default); ciphers: an OpenSSL cipher list for
    TLS 1.2 and below (e.g. "AES128-GCM-SHA256" for RSA key exchange, no
    forward secrecy; add ":@SECLEVEL=0" to allow TLS 1.0/1.1).

    .cert_file (the leaf and its intermediates, as the server sends
    them), .key_file, .ca_file, .not_before, .not_after (aware UTC
    datetimes), .names, .fingerprint (SHA-256 of the leaf's DER, lower
    case hex without colons), .leaf (the cryptography Certificate)."""

    def __init__(self, host=None, port=25, hostname="mx.certpeer.test", names=None,
                 days_left=365, ca=None, key="ec", tls_versions=(None, None), ciphers=None,
                 **kw):
        kw.setdefault("banner", "{hostname} ESMTP ready")
        self.names = list(names or (hostname,))
        self.days_left = days_left
        self.ca = TestCA() if ca is True else ca
        self.dir = _scratch_dir("postino-it-certpeer-")
        now = _utcnow()
        self.not_after = _days_to_after(now, days_left)
        self.not_before = min(now, self.not_after) - datetime.timedelta(days=30)
        leaf_key = _new_key(key)
        if self.ca is None:
            self.leaf = _issue(self.names[0], leaf_key, self.not_before, self.not_after,
                               names=self.names)
            chain = []
        else:
            self.leaf = _issue(self.names[0], leaf_key, self.not_before, self.not_after,
                               issuer=self.ca.issuer, issuer_key=self.ca.issuer_key,
                               names=self.names)
            chain = self.ca.chain
        self.fingerprint = hashlib.sha256(
            self.leaf.public_bytes(serialization.Encoding.DER)).hexdigest()
        self.cert_file = _write(os.path.join(self.dir, "cert.pem"),
                                b"".join(_pem(c) for c in [self.leaf] + chain))
        self.key_file = _write(os.path.join(self.dir, "key.pem"), _pem(leaf_key))
        self.ca_file = self.ca.ca_file if self.ca is not None else self.cert_file
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        lo, hi = tls_versions
        if ciphers:
            ctx.set_ciphers(ciphers)
        if lo:
            ctx.minimum_version = ssl.TLSVersion[lo.replace(".", "_")]
        if hi:
            ctx.maximum_version = ssl.TLSVersion[hi.replace(".", "_")]
        super().__init__(host=host, port=port, hostname=hostname, tls_context=ctx, **kw)

    @property
    def expired(self):
        return self.not_after <= _utcnow()


class ExpiredCertPeer(CertPeer):
    """A CertPeer whose certificate has expired (by default 30 days ago:
    days_left=-30); expired=False keeps CertPeer's days_left (365) unless
    days_left is given. Everything else as CertPeer."""

    def __init__(self, host=None, port=25, expired=True, days_left=None, **kw):
        if days_left is None:
            days_left = -30 if expired else 365
        super().__init__(host=host, port=port, days_left=days_left, **kw)


# --- DNS records of a test domain ---

class _Special:
    def __init__(self, what):
        self.what = what

    def __repr__(self):
        return self.what


DEFAULT = _Special("DEFAULT")
SPF_OVER_LIMIT = _Special("SPF_OVER_LIMIT")
SPF_LOOKUP_LIMIT = 10                         # RFC 7208 4.6.4
DMARC_SYNTAX_ERROR = "v=DMARC1; p=maybe"      # p= has three legal values
MTA_STS_BAD = "v=STSv1; id=not-alnum!"        # id is 1*32(ALPHA / DIGIT)
TLSRPT_BAD = "v=TLSRPTv1;"                    # rua= is required


class ProbeDomain:
    """What probe_dns published: .domain; .mx [(pref, host name, [addresses])];
    .addresses (all MX addresses); .ptr {address: name or None};
    .spf/.dmarc/.mta_sts/.tlsrpt (the text, or None); .spf_lookups (the
    DNS-querying terms of the SPF record with its includes, when known);
    .spf_records {name: text} (the record and its include chain)."""

    def __init__(self, domain):
        self.domain = domain
        self.mx = []
        self.ptr = {}
        self.spf = self.dmarc = self.mta_sts = self.tlsrpt = None
        self.spf_lookups = None
        self.spf_records = {}

    @property
    def addresses(self):
        return [a for _, _, addrs in self.mx for a in addrs]

    def __repr__(self):
        return "ProbeDomain(%s, mx=%r)" % (self.domain, self.mx)


def _addresses_of(x):
    if hasattr(x, "host"):
        return [x.host]
    if isinstance(x, (list, tuple)):
        return [a for y in x for a in _addresses_of(y)]
    return [x]


def _known(dns, name):
    key = dns._key(name)
    with dns.lock:
        return any(k[0] == key for k in dns.records)


def spf_over_limit(dns, domain, lookups=13):
    """Publish at domain an SPF record whose DNS-querying terms, with its
    chain of includes (_spf1.DOMAIN, _spf2.DOMAIN, ..., each with a:/mx:
    terms, all published, the a: names with A records in 192.0.2.0/24),
    number `lookups` (> 10). Returns ({name: record}, lookups)."""
    if lookups <= SPF_LOOKUP_LIMIT:
        raise ValueError("an SPF record over the limit needs more than %d lookups"
                         % SPF_LOOKUP_LIMIT)
    records = {}
    count = 0
    level = 0
    while True:
        name = domain if level == 0 else "_spf%d.%s" % (level, domain)
        terms = []
        for t in ("a:h%d.%s" % (level, domain), "mx:%s" % domain):
            if count < lookups:
                terms.append(t)
                count += 1
                if t.startswith("a:"):
                    dns.add(t[2:], "A", "192.0.2.%d" % (level % 250 + 1))
        more = count < lookups
        if more:
            terms.append("include:_spf%d.%s" % (level + 1, domain))
            count += 1
        records[name] = "v=spf1 " + " ".join(terms + ["-all"])
        dns.add(name, "TXT", records[name])
        if not more:
            break
        level += 1
    return records, count


def probe_dns(dns, domain, mx_hosts, spf=DEFAULT, dmarc=DEFAULT, mta_sts=DEFAULT,
              tlsrpt=DEFAULT, ptr=True, null_mx=False, fallback=None, spf_lookups=13):
    """Publish the records of a test domain (domain None: a fresh one) in
    the test DNS server `dns` and return a ProbeDomain.

    mx_hosts: the MX hosts, preference 10, 20, ... in the order given; each
    a peer (its .host), an address, a list of them (a host with several
    addresses), or (name, those) / (name, those, preference); unnamed hosts
    are mxN.DOMAIN. [] with null_mx=True: the null MX ("0 ."); None: no MX
    at all (with fallback=peer/address: an A record for the domain itself).
    ptr: True (each address's PTR names its MX host: forward-confirmed),
    False (no PTR: NXDOMAIN for every address's reverse name), or
    {address: name or None} for those addresses (others as True; a name
    the DNS does not know yet answers NXDOMAIN: the PTR is not confirmed).
    spf: the TXT record (DEFAULT "v=spf1 mx -all"; SPF_OVER_LIMIT: a chain
    with spf_lookups DNS-querying terms; None: none). dmarc (DEFAULT
    "v=DMARC1; p=reject; rua=mailto:dmarc@DOMAIN"; DMARC_SYNTAX_ERROR),
    mta_sts (DEFAULT "v=STSv1; id=20261128T000000;"; MTA_STS_BAD), tlsrpt
    (DEFAULT "v=TLSRPTv1; rua=mailto:tlsrpt@DOMAIN"; TLSRPT_BAD): the text,
    or None (the name then answers NXDOMAIN, as an unpublished record does)."""
    domain = domain or new_domain()
    pd = ProbeDomain(domain)
    if null_mx:
        dns.add(domain, "MX", ".", pref=0)
    for i, h in enumerate(mx_hosts or []):
        name, pref = "mx%d.%s" % (i + 1, domain), 10 * (i + 1)
        if isinstance(h, tuple):
            name, h, pref = (h + (pref,))[:3]
        addrs = _addresses_of(h)
        dns.add(domain, "MX", name, pref=pref)
        for a in addrs:
            dns.add(name, "AAAA" if ":" in a else "A", a)
        pd.mx.append((pref, name, addrs))
    if mx_hosts is None and fallback is not None:
        for a in _addresses_of(fallback):
            dns.add(domain, "AAAA" if ":" in a else "A", a)
            pd.mx.append((None, domain, [a]))
    for _, name, addrs in pd.mx:
        for a in addrs:
            if ptr is False:
                target = None
            elif isinstance(ptr, dict) and a in ptr:
                target = ptr[a]
            else:
                target = name
            if target is None:
                dns.nxdomain(dns.reverse_name(a))
            else:
                dns.add(a, "PTR", target)
                if not _known(dns, target):
                    dns.nxdomain(target)  # the PTR names nothing: not confirmed
            pd.ptr[a] = target
    if spf is SPF_OVER_LIMIT:
        pd.spf_records, pd.spf_lookups = spf_over_limit(dns, domain, spf_lookups)
        pd.spf = pd.spf_records[domain]
    else:
        if spf is DEFAULT:
            spf, pd.spf_lookups = "v=spf1 mx -all", 1
        if spf is not None:
            dns.add(domain, "TXT", spf)
            pd.spf_records = {domain: spf}
        pd.spf = spf
    defaults = {
        "dmarc": ("_dmarc", "v=DMARC1; p=reject; rua=mailto:dmarc@%s" % domain),
        "mta_sts": ("_mta-sts", "v=STSv1; id=20261128T000000;"),
        "tlsrpt": ("_smtp._tls", "v=TLSRPTv1; rua=mailto:tlsrpt@%s" % domain),
    }
    for attr, value in (("dmarc", dmarc), ("mta_sts", mta_sts), ("tlsrpt", tlsrpt)):
        prefix, default = defaults[attr]
        name = "%s.%s" % (prefix, domain)
        if value is DEFAULT:
            value = default
        if value is None:
            dns.nxdomain(name)
        else:
            dns.add(name, "TXT", value)
        setattr(pd, attr, value)
    if spf is None and not pd.mx and not null_mx:
        dns.nxdomain(domain)
    return pd


# --- the fixture ---

class ProbePeers:
    """What a test started (stopped at teardown, transcripts shown when the
    test failed): .old_sendmail(**kw), .cert(**kw), .expired_cert(**kw),
    .scripted(**kw), .postfix(domains, **kw) (peers.PostfixPeer)."""

    def __init__(self):
        self.items = []

    def _add(self, p):
        self.items.append(p)
        return p.start()

    def scripted(self, **kw):
        return self._add(ScriptedSMTPPeer(**kw))

    def old_sendmail(self, **kw):
        return self._add(OldSendmailPeer(**kw))

    def cert(self, **kw):
        return self._add(CertPeer(**kw))

    def expired_cert(self, **kw):
        return self._add(ExpiredCertPeer(**kw))

    def postfix(self, domains, **kw):
        p = PostfixPeer(domains, **kw)
        self.items.append(p)
        return p.start()

    def close(self, failed):
        errors = []
        for p in reversed(self.items):
            if failed:
                if isinstance(p, ScriptedSMTPPeer):
                    print("==== %s %s" % (type(p).__name__, p.hostport))
                    print(p.transcript())
                else:
                    print("==== %s log (%s)" % (type(p).__name__, p.root))
                    print(p.log())
            try:
                p.stop()
            except AssertionError as e:
                errors.append(str(e))
            if isinstance(p, PostfixPeer) and not failed:
                p.cleanup()
        assert not errors, errors


@pytest.fixture
def probe_peers(request):
    ps = ProbePeers()
    yield ps
    rep = getattr(request.node, "rep_call", None)
    ps.close(rep is not None and rep.failed)
