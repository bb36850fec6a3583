"""Receiving servers for the outbound tests: what postino delivers to.

- Peer: an aiosmtpd SMTP (or LMTP) server in a thread, with behaviour set
  per test: replies per recipient (scripted in order: 451 first, then
  accept), replies to the final dot (LMTP: per recipient), a delay before
  the reply to each command, dropping the connection in the middle of the
  DATA, advertising SIZE/8BITMIME/SMTPUTF8/PIPELINING/DSN/STARTTLS or not,
  AUTH PLAIN. It records every message it accepts (envelope, content,
  TLS, login) and every command line it saw.
- PostfixPeer: Debian's Postfix run from a private configuration directory
  (as bench/benchlib.py does), listening on a loopback address, delivering
  to Maildirs under its directory (texthash virtual mailboxes), with or
  without STARTTLS.
- DovecotLMTP: Dovecot's LMTP server from a private configuration
  (passwd-file users, Maildirs, optional quota) on a Unix socket.
- SlowDNS: a DNS server like conftest's whose answers take a while.

The `peers` fixture starts them for a test and stops them after it; the
helpers at the end (sending, the queue and trace in JSON, parsing
delivery status notifications) are shared by test_outbound.py,
test_queue_tools.py and test_trace.py.

MX delivery always goes to port 25, so the SMTP peers listen on their own
loopback address (127.X.Y.Z:25; root may bind any of 127/8): a test points
an MX's A record at it. Every server here is stopped by the fixture that
started it, by pid.
"""

import asyncio
import atexit
import email
import json
import os
import pwd
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import uuid

import pytest
from aiosmtpd.controller import Controller, UnixSocketController
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, AuthResult

from postino_testlib import SMTPConn, queued_id

PEER_HOSTNAME = "mx.peer.test"


# --- addresses, certificates ---

_used_addresses = set()


def _bindable(host, port=25):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def loopback_address(port=25):
    """A loopback address (127.X.Y.Z, not 127.0.0.1) whose port is free and
    that no other peer of this run has used: a fresh MX host."""
    for _ in range(500):
        host = "127.%d.%d.%d" % (random.randrange(1, 255), random.randrange(0, 256),
                                 random.randrange(2, 255))
        if host not in _used_addresses and _bindable(host, port):
            _used_addresses.add(host)
            return host
    raise RuntimeError("no free loopback address for a peer")


def free_port(host="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


_tls_files = None


def tls_files():
    """(certfile, keyfile): a self-signed certificate for the peers, made
    once per run (postino does not verify outbound certificates)."""
    global _tls_files
    if _tls_files is None:
        d = tempfile.mkdtemp(prefix="postino-it-peercert-", dir="/tmp")
        os.chmod(d, 0o755)
        atexit.register(shutil.rmtree, d, True)
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "2",
                        "-subj", "/CN=" + PEER_HOSTNAME],
                       check=True, capture_output=True, timeout=60)
        os.chmod(key, 0o644)  # Postfix and Dovecot read it as themselves too
        _tls_files = (cert, key)
    return _tls_files


def server_tls_context():
    cert, key = tls_files()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


# --- aiosmtpd peer ---

class Received:
    """A message a peer accepted."""

    def __init__(self, mail_from, rcpts, content, mail_options, rcpt_options, tls, login,
                 helo, conn):
        self.mail_from = mail_from
        self.rcpts = rcpts                  # accepted recipients, in order
        self.content = content              # bytes as received (CRLF, unstuffed)
        self.mail_options = mail_options    # ["SIZE=123", "BODY=8BITMIME", ...]
        self.rcpt_options = rcpt_options    # {rcpt: ["NOTIFY=...", ...]}
        self.tls = tls                      # "TLSv1.3" or None
        self.login = login                  # AUTH login or None
        self.helo = helo
        self.conn = conn                    # connection number at the peer

    def header(self, name):
        head = self.content.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
        head = re.sub(r"\r\n[ \t]", " ", head)
        out = []
        for line in head.split("\r\n"):
            k, sep, v = line.partition(":")
            if sep and k.lower() == name.lower():
                out.append(v.strip())
        return out

    def __repr__(self):
        return "Received(from=%r, rcpts=%r, tls=%r, %d octets)" % (
            self.mail_from, self.rcpts, self.tls, len(self.content))


class _PeerMixin:
    """What the peer adds to aiosmtpd's SMTP/LMTP sessions: delays, DSN
    parameters taken off MAIL/RCPT (aiosmtpd knows none), dropping the
    connection in the middle of the DATA, and a record of the commands."""

    peer = None  # set by the factory

    def connection_made(self, transport):
        first = self.transport is None
        super().connection_made(transport)
        if first:
            self._conn_no = self.peer._new_connection()

    def connection_lost(self, error):
        if not getattr(self, "_lost", False):
            self._lost = True
            self.peer._end_connection(self._conn_no)
        super().connection_lost(error)

    async def push(self, status):
        if not getattr(self, "_greeted", False):
            self._greeted = True
            if self.peer.greeting:
                # refuse the session: this greeting instead of 220, then close
                self.peer._log(self._conn_no, "<", self.peer.greeting)
                await super().push(self.peer.greeting)
                self.transport.close()
                return
        self.peer._log(self._conn_no, "<", status)
        await super().push(status)

    async def smtp_MAIL(self, arg):
        self.peer._log(self._conn_no, ">", "MAIL " + (arg or ""))
        if self.peer.size == 0 and re.search(r"(?i)\sSIZE=", arg or ""):
            # a server that does not offer SIZE knows no SIZE parameter
            # (as Dovecot's LMTP)
            await self.push("555 5.5.4 Unsupported parameters")
            return
        if arg and self.peer.dsn:
            arg, self.session.dsn_mail = _take_params(arg, ("RET", "ENVID"))
        await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg):
        self.peer._log(self._conn_no, ">", "RCPT " + (arg or ""))
        if arg and self.peer.dsn:
            arg, self.session.dsn_rcpt = _take_params(arg, ("NOTIFY", "ORCPT"))
        else:
            self.session.dsn_rcpt = []
        await super().smtp_RCPT(arg)

    async def smtp_DATA(self, arg):
        self.peer._log(self._conn_no, ">", "DATA")
        await self.peer._delay("DATA")
        if self.envelope.rcpt_tos and self.peer._take_drop():
            # take the 354 and some of the message, then hang up
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            try:
                await asyncio.wait_for(self._reader.readuntil(b"\r\n"), 10)
            finally:
                self.peer.dropped += 1
                self.transport.abort()
            return
        await super().smtp_DATA(arg)

    async def smtp_QUIT(self, arg):
        self.peer._log(self._conn_no, ">", "QUIT")
        await super().smtp_QUIT(arg)

    async def smtp_RSET(self, arg):
        self.peer._log(self._conn_no, ">", "RSET")
        await super().smtp_RSET(arg)

    async def smtp_STARTTLS(self, arg):
        self.peer._log(self._conn_no, ">", "STARTTLS")
        await super().smtp_STARTTLS(arg)

    async def smtp_AUTH(self, arg):
        self.peer._log(self._conn_no, ">", "AUTH " + (arg or "").split(" ")[0])
        await super().smtp_AUTH(arg)


def _take_params(arg, names):
    """Remove NAME=VALUE parameters from a MAIL/RCPT argument: (rest, taken)."""
    kept, taken = [], []
    for i, word in enumerate(arg.split(" ")):
        if i > 0 and word.split("=", 1)[0].upper() in names:
            taken.append(word)
        else:
            kept.append(word)
    return " ".join(kept), taken


class _PeerSMTP(_PeerMixin, SMTP):
    async def smtp_EHLO(self, hostname):
        self.peer._log(self._conn_no, ">", "EHLO " + (hostname or ""))
        await super().smtp_EHLO(hostname)

    async def smtp_HELO(self, hostname):
        self.peer._log(self._conn_no, ">", "HELO " + (hostname or ""))
        await super().smtp_HELO(hostname)


class _PeerLMTP(_PeerMixin, LMTP):
    async def smtp_LHLO(self, arg):
        self.peer._log(self._conn_no, ">", "LHLO " + (arg or ""))
        await super().smtp_LHLO(arg)


class _Handler:
    def __init__(self, peer):
        self.peer = peer

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        await self.peer._delay("EHLO")
        session.host_name = hostname
        p = self.peer
        out = [responses[0]]
        for r in responses[1:-1]:
            kw = r[4:].split(" ")[0].upper()
            if kw == "8BITMIME" and not p.eightbit:
                continue
            out.append(r)
        if p.pipelining:
            out.append("250-PIPELINING")
        if p.dsn:
            out.append("250-DSN")
        out.append(responses[-1])
        return out

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        await self.peer._delay("MAIL")
        # what the client sent after MAIL without waiting for its reply
        self.peer.after_mail.append(bytes(server._reader._buffer))
        reply = self.peer._next_reply(self.peer.mail_replies, address)
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        envelope.mail_options.extend(getattr(session, "dsn_mail", []))
        envelope.rcpt_params = {}
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        await self.peer._delay("RCPT")
        reply = self.peer._next_reply(self.peer.rcpt_replies, address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_params[address] = list(rcpt_options) + list(
            getattr(session, "dsn_rcpt", []))
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        p = self.peer
        await p._delay("DOT")
        ssl_obj = server.transport.get_extra_info("ssl_object") if server.transport else None
        login = getattr(session.auth_data, "login", None)
        if isinstance(login, bytes):
            login = login.decode("utf-8", "replace")
        mail_from = "" if envelope.mail_from == "<>" else envelope.mail_from
        msg = Received(mail_from, list(envelope.rcpt_tos),
                       bytes(envelope.original_content), list(envelope.mail_options),
                       dict(getattr(envelope, "rcpt_params", {})),
                       ssl_obj.version() if ssl_obj else None, login, session.host_name,
                       server._conn_no)
        if p.lmtp:
            replies, accepted = [], []
            for rcpt in envelope.rcpt_tos:
                r = p._next_reply(p.data_replies, rcpt) or "250 2.0.0 <%s> delivered" % rcpt
                replies.append(r)
                if r.startswith("2"):
                    accepted.append(rcpt)
            if accepted:
                msg.rcpts = accepted
                p._store(msg)
            return "\r\n".join(replies)
        reply = p._next_reply(p.data_replies, "*")
        if reply and not reply.startswith("2"):
            return reply
        p._store(msg)
        return reply or "250 2.0.0 Ok: queued as %d" % len(p.messages)


class Peer:
    """An aiosmtpd SMTP server (lmtp=True: LMTP) on host:port (default: a
    fresh loopback address, port 25), or on a Unix socket (unix=PATH).

    Behaviour (change it at any time, also while postino delivers):
      rcpt_replies[addr] = [reply, ...]  replies to the next RCPTs to addr, in
          order; None in the list accepts; the last entry stays once the
          others are used. mail_replies[addr] likewise for MAIL FROM.
      data_replies["*"] = [...]  replies to the final dot (LMTP: per
          recipient, data_replies[addr]).
      delays = {"EHLO": s, "MAIL": s, "RCPT": s, "DATA": s, "DOT": s}
      drop_data = n  the next n DATA commands get a 354, then the
          connection is cut after the first line of the message.
    greeting: a reply instead of the 220 greeting (then the peer hangs up).
    Extensions: eightbit (8BITMIME), smtputf8, pipelining, dsn, size
    (SIZE limit, enforced; None: aiosmtpd's default; 0: no SIZE offered,
    and MAIL with a SIZE parameter refused as Dovecot does), tls (STARTTLS),
    auth={"user": "password"} (AUTH PLAIN/LOGIN after STARTTLS, required
    before MAIL)."""

    def __init__(self, host=None, port=25, unix=None, lmtp=False, tls=False, auth=None,
                 size=None, eightbit=True, smtputf8=True, pipelining=True, dsn=False,
                 hostname=PEER_HOSTNAME):
        self.unix = unix
        self.host = None if unix else (host or loopback_address(port))
        self.port = port
        self.lmtp = lmtp
        self.tls = tls
        self.auth = auth
        self.size = size
        self.eightbit = eightbit
        self.smtputf8 = smtputf8
        self.pipelining = pipelining
        self.dsn = dsn
        self.hostname = hostname
        self.rcpt_replies = {}
        self.mail_replies = {}
        self.data_replies = {}
        self.delays = {}
        self.drop_data = 0
        self.dropped = 0
        self.greeting = None
        self.after_mail = []  # per MAIL: input already there when it was answered
        self.messages = []
        self.connections = 0
        self.active = 0        # connections open now
        self.max_active = 0    # most at once
        self.sessions = []     # [start, end] (monotonic) of each connection
        self.commands = []  # (connection number, ">" or "<", line)
        self.auth_attempts = []
        self.lock = threading.Lock()
        self.controller = None

    # --- behaviour ---

    def _next_reply(self, table, key):
        with self.lock:
            for k in (key.lower() if key else key, "*"):
                if k in table:
                    seq = table[k]
                    if isinstance(seq, str) or seq is None:
                        return seq
                    if len(seq) > 1:
                        return seq.pop(0)
                    return seq[0] if seq else None
        return None

    async def _delay(self, what):
        d = self.delays.get(what)
        if d:
            await asyncio.sleep(d)

    def _take_drop(self):
        with self.lock:
            if self.drop_data > 0:
                self.drop_data -= 1
                return True
            return False

    def _new_connection(self):
        with self.lock:
            self.connections += 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.sessions.append([time.monotonic(), None])
            return len(self.sessions)

    def _end_connection(self, conn_no):
        with self.lock:
            self.active -= 1
            self.sessions[conn_no - 1][1] = time.monotonic()

    def _log(self, conn, direction, line):
        if isinstance(line, bytes):
            line = line.decode("utf-8", "replace")
        with self.lock:
            self.commands.append((conn, direction, line))

    def _store(self, msg):
        with self.lock:
            self.messages.append(msg)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        ok = self.auth.get(login) == password
        with self.lock:
            self.auth_attempts.append((mechanism, login, password, ok))
        return AuthResult(success=ok, auth_data=auth_data)

    # --- running ---

    def _factory(self, cls):
        peer = self

        class Bound(cls):
            pass
        Bound.peer = peer

        def factory():
            kw = dict(hostname=peer.hostname, enable_SMTPUTF8=peer.smtputf8,
                      data_size_limit=peer.size if peer.size is not None else 2 ** 25)
            if peer.tls:
                kw["tls_context"] = server_tls_context()
            if peer.auth is not None:
                kw.update(authenticator=peer._authenticate, auth_required=True,
                          auth_require_tls=True)
            return Bound(_Handler(peer), **kw)
        return factory

    def start(self):
        cls = _PeerLMTP if self.lmtp else _PeerSMTP
        if self.unix:
            self.controller = UnixSocketController(_Handler(self), unix_socket=self.unix)
        else:
            self.controller = Controller(_Handler(self), hostname=self.host, port=self.port)
        self.controller.factory = self._factory(cls)
        self.controller.start()
        if self.unix:
            os.chmod(self.unix, 0o666)
        # the controller's own readiness check is no client of interest
        deadline = time.monotonic() + 5
        while self.connections < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        deadline = time.monotonic() + 5
        while self.active > 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        with self.lock:
            self.connections = self.max_active = 0
            self.commands.clear()
            self.sessions.clear()
        return self

    def stop(self):
        if self.controller is not None:
            try:
                self.controller.stop()
            except Exception:
                pass
            self.controller = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- what happened ---

    def received(self):
        with self.lock:
            return list(self.messages)

    def wait_messages(self, count, timeout=20, what=""):
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.received()
            if len(msgs) >= count:
                return msgs
            if time.monotonic() > deadline:
                raise AssertionError("peer %s got %d message(s) after %ss, want %d %s\n"
                                     "commands: %r" % (self.host or self.unix, len(msgs),
                                                       timeout, count, what,
                                                       self.commands[-40:]))
            time.sleep(0.05)

    def lines(self, direction=">"):
        with self.lock:
            return [l for (_, d, l) in self.commands if d == direction]

    def deliveries_to(self, rcpt):
        return [m for m in self.received() if rcpt in m.rcpts]


# --- a slow DNS server ---

class SlowDNS:
    """A DNS server like the session's (dnsserver.DNSServer: add(),
    nxdomain()) that answers every query after `delay` seconds, each in
    its own thread (so they overlap, as a slow resolver's do). A server
    uses it with make_server(dns_resolver=slow.address)."""

    def __init__(self, delay):
        from dnsserver import DNSServer
        self.delay = delay
        outer = self

        class _Slow(DNSServer):
            def _serve(self):
                while self.running:
                    try:
                        data, addr = self.sock.recvfrom(4096)
                    except OSError:
                        return
                    threading.Thread(target=self._later, args=(data, addr),
                                     daemon=True).start()

            def _later(self, data, addr):
                time.sleep(outer.delay)
                try:
                    self.sock.sendto(self._answer(data), addr)
                except Exception:
                    pass
        self.server = _Slow()
        self.address = self.server.address
        self.add = self.server.add
        self.nxdomain = self.server.nxdomain

    def close(self):
        self.server.close()


# --- Postfix ---

POSTFIX = "/usr/sbin/postfix"


class _ScratchServer:
    """A real server run from a scratch directory (self.root), logging to
    self.logfile and delivering to Maildirs under self.mail."""

    MAILDIR_SUBDIR = ""

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def maildir_messages(self, user):
        d = os.path.join(self.mail, user, self.MAILDIR_SUBDIR, "new")
        try:
            names = sorted(os.listdir(d))
        except FileNotFoundError:
            return []
        out = []
        for n in names:
            with open(os.path.join(d, n), "rb") as f:
                out.append(f.read())
        return out


class PostfixPeer(_ScratchServer):
    """A private Postfix instance: its own config directory, queue and log
    under root/, smtpd on host:25 (a fresh loopback address), accepting
    mail for `domains` and delivering it to the Maildir root/mail/<local>/
    of each user listed (others: 550 5.1.1 User unknown), or discarding it
    all (discard=True). tls=True offers STARTTLS with the peers' certificate."""

    def __init__(self, domains, users=("bob", "alice"), tls=True, discard=False,
                 message_size_limit=None, host=None):
        self.root = tempfile.mkdtemp(prefix="postino-it-postfix-", dir="/tmp")
        os.chmod(self.root, 0o755)
        self.host = host or loopback_address(25)
        self.port = 25
        self.domains = list(domains)
        self.users = list(users)
        self.tls = tls
        self.discard = discard
        self.message_size_limit = message_size_limit
        self.conf = os.path.join(self.root, "conf")
        self.queue = os.path.join(self.root, "queue")
        self.data = os.path.join(self.root, "data")
        self.mail = os.path.join(self.root, "mail")
        self.logfile = os.path.join(self.root, "maillog")
        self.started = False

    def _params(self):
        vmail = pwd.getpwnam("vmail")
        p = {
            "compatibility_level": "3.6",
            "config_directory": self.conf,
            "queue_directory": self.queue,
            "data_directory": self.data,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "maillog_file": self.logfile,
            "maillog_file_prefixes": self.root,
            "myhostname": "mx.postfix-peer.test",
            "mydomain": "postfix-peer.test",
            "myorigin": "$myhostname",
            "mydestination": "",
            "relay_domains": "",
            # Postfix wants configured interface addresses here; the
            # listener's own address is in master.cf
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "alias_maps": "",
            "alias_database": "",
            "biff": "no",
            "smtp_host_lookup": "native",
            "disable_dns_lookups": "yes",
            "smtpd_peername_lookup": "no",
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "virtual_mailbox_domains": ", ".join(self.domains),
            "virtual_mailbox_base": self.mail,
            "virtual_mailbox_maps": "texthash:%s/vmailbox" % self.conf,
            "virtual_uid_maps": "static:%d" % vmail.pw_uid,
            "virtual_gid_maps": "static:%d" % vmail.pw_gid,
            "virtual_minimum_uid": "100",
            "smtpd_tls_loglevel": "1",
            "smtpd_tls_received_header": "yes",
            "in_flow_delay": "0",
        }
        if self.discard:
            p["virtual_transport"] = "discard:"
        if self.message_size_limit:
            p["message_size_limit"] = str(self.message_size_limit)
        if self.tls:
            cert, key = tls_files()
            p.update({"smtpd_tls_security_level": "may", "smtpd_tls_cert_file": cert,
                      "smtpd_tls_key_file": key})
        else:
            p["smtpd_tls_security_level"] = "none"
        return p

    def _master_cf(self):
        return ("%s:25 inet n - n - - smtpd\n" % self.host) + """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

    def start(self):
        os.makedirs(self.conf, mode=0o755)
        os.makedirs(self.queue, mode=0o755)
        os.makedirs(self.data, mode=0o700)
        os.makedirs(self.mail, mode=0o755)
        pf = pwd.getpwnam("postfix")
        os.chown(self.data, pf.pw_uid, pf.pw_gid)
        vmail = pwd.getpwnam("vmail")
        os.chown(self.mail, vmail.pw_uid, vmail.pw_gid)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            for k, v in self._params().items():
                f.write("%s = %s\n" % (k, v))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(self._master_cf())
        with open(os.path.join(self.conf, "vmailbox"), "w") as f:
            for d in self.domains:
                for u in self.users:
                    f.write("%s@%s %s/\n" % (u, d, u))
        self._run("check")
        self._run("start")
        self.started = True
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection((self.host, 25), timeout=2) as s:
                    s.settimeout(5)
                    if s.recv(512).startswith(b"220"):
                        s.sendall(b"QUIT\r\n")
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("Postfix did not greet on %s:25:\n%s" % (self.host, self.log()))
            time.sleep(0.1)

    def _run(self, what):
        # through script(1): postfix says why it fails only to a terminal
        r = subprocess.run(["script", "-qec", "%s -c %s %s" % (POSTFIX, self.conf, what),
                            "/dev/null"], capture_output=True, timeout=60)
        assert r.returncode == 0, "postfix %s: %s%s\n%s" % (what, r.stdout.decode(),
                                                            r.stderr.decode(), self.log())

    def master_pid(self):
        try:
            with open(os.path.join(self.queue, "pid", "master.pid")) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self):
        if not self.started:
            return
        self.started = False
        pid = self.master_pid()
        subprocess.run([POSTFIX, "-c", self.conf, "stop"], capture_output=True, timeout=60)
        deadline = time.monotonic() + 20
        while pid and os.path.exists("/proc/%d" % pid):
            if time.monotonic() > deadline:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                break
            time.sleep(0.1)

    def wait_maildir(self, user, count, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.maildir_messages(user)
            if len(msgs) >= count:
                return msgs
            if time.monotonic() > deadline:
                raise AssertionError("Postfix Maildir of %s has %d message(s) after %ss, "
                                     "want %d\n%s" % (user, len(msgs), timeout, count, self.log()))
            time.sleep(0.05)

    def wait_log(self, pattern, timeout=20):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            lines = [l for l in self.log().splitlines() if rx.search(l)]
            if lines:
                return lines
            if time.monotonic() > deadline:
                raise AssertionError("no Postfix log line matches %r:\n%s" % (pattern, self.log()))
            time.sleep(0.05)


# --- Dovecot LMTP ---

DOVECOT = "/usr/sbin/dovecot"


class DovecotLMTP(_ScratchServer):
    """Dovecot's LMTP server from a private configuration under root/:
    passwd-file users (name@domain), Maildirs root/mail/<name@domain>/,
    LMTP on the Unix socket root/lmtp.sock. quota={"user@dom": "1K"} gives
    those users a storage quota (over it: 552 5.2.2 at the final dot)."""

    def __init__(self, users, quota=None):
        self.root = tempfile.mkdtemp(prefix="postino-it-dovecot-", dir="/tmp")
        os.chmod(self.root, 0o755)
        self.users = list(users)
        self.quota = dict(quota or {})
        self.conf = os.path.join(self.root, "dovecot.conf")
        self.socket = os.path.join(self.root, "lmtp.sock")
        self.mail = os.path.join(self.root, "mail")
        self.logfile = os.path.join(self.root, "dovecot.log")
        self.base = os.path.join(self.root, "run")
        self.proc = None

    def start(self):
        vmail = pwd.getpwnam("vmail")
        os.makedirs(self.mail)
        os.chown(self.mail, vmail.pw_uid, vmail.pw_gid)
        passwd = os.path.join(self.root, "passwd")
        with open(passwd, "w") as f:
            for u in self.users:
                extra = ""
                if u in self.quota:
                    extra = "userdb_quota_rule=*:storage=%s" % self.quota[u]
                f.write("%s:{PLAIN}unused:%d:%d::%s/%s::%s\n"
                        % (u, vmail.pw_uid, vmail.pw_gid, self.mail, u, extra))
        os.chmod(passwd, 0o644)
        with open(self.conf, "w") as f:
            f.write("""\
base_dir = %(base)s
state_dir = %(root)s/state
log_path = %(log)s
info_log_path = %(log)s
protocols = lmtp
ssl = no
mail_location = maildir:~/Maildir
mail_plugins = quota
first_valid_uid = 100
auth_mechanisms = plain
passdb {
  driver = passwd-file
  args = %(passwd)s
}
userdb {
  driver = passwd-file
  args = %(passwd)s
}
plugin {
  quota = maildir:User quota
}
service lmtp {
  unix_listener %(sock)s {
    mode = 0666
  }
}
service anvil {
  chroot =
}
""" % {"base": self.base, "root": self.root, "log": self.logfile, "passwd": passwd,
                "sock": self.socket})
        os.makedirs(os.path.join(self.root, "state"))
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.root, "stderr"), "wb"),
                                     start_new_session=True)
        deadline = time.monotonic() + 20
        while True:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(5)
                s.connect(self.socket)
                greeting = s.recv(512)
                s.sendall(b"QUIT\r\n")
                s.close()
                if greeting.startswith(b"220"):
                    return self
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("Dovecot LMTP not ready (%r):\n%s\n%s" % (
                    self.proc.poll(), self.log(), self._stderr()))
            time.sleep(0.1)

    def _stderr(self):
        try:
            with open(os.path.join(self.root, "stderr"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    MAILDIR_SUBDIR = "Maildir"


# --- fixtures and helpers shared by the outbound test files ---
# (test modules import them: `from peers import peers, ...`)

OUTBOUND = {"relay_networks": "127.0.0.0/8", "hostname": "mx.example.test"}


class PeerSet:
    """What a test started: stopped (by pid) at teardown, and shown when
    the test failed."""

    def __init__(self):
        self.items = []

    def smtp(self, **kw):
        p = Peer(**kw).start()
        self.items.append(p)
        return p

    def postfix(self, domains, **kw):
        p = PostfixPeer(domains, **kw)
        self.items.append(p)
        return p.start()

    def dovecot(self, users, **kw):
        d = DovecotLMTP(users, **kw)
        self.items.append(d)
        return d.start()

    def slow_dns(self, delay):
        d = SlowDNS(delay)
        self.items.append(d)
        return d

    def close(self, failed):
        for p in reversed(self.items):
            if isinstance(p, SlowDNS):
                p.close()
                continue
            if failed:
                if isinstance(p, Peer):
                    print("==== peer %s: commands" % (p.host or p.unix))
                    for c in p.commands:
                        print("  %d %s %s" % c)
                else:
                    print("==== %s log (%s)" % (type(p).__name__, p.root))
                    print(p.log())
            try:
                p.stop()
            finally:
                if not isinstance(p, Peer) and not failed:
                    p.cleanup()


@pytest.fixture
def peers(request):
    ps = PeerSet()
    yield ps
    rep = getattr(request.node, "rep_call", None)
    ps.close(rep is not None and rep.failed)


def new_domain():
    return "d%s.example" % uuid.uuid4().hex[:10]


def mx_domain(dns, *hosts, domain=None):
    """A fresh domain whose MX hosts (preference 10, 20, ... in the order
    given) have the A records given: mx_domain(dns, "127.1.2.3")."""
    domain = domain or new_domain()
    for i, host in enumerate(hosts):
        name = "mx%d.%s" % (i + 1, domain)
        dns.add(domain, "MX", name, pref=10 * (i + 1))
        dns.add(name, "A", host)
    return domain


def token():
    return uuid.uuid4().hex[:12]


def make_message(subject="outbound", body=b"Hello,\r\n.a line with a dot\r\nbye\r\n",
                 sender="bob@example.test", to="someone@remote.example", extra=b""):
    """(message bytes with CRLF, Message-ID)."""
    mid = "<%s@example.test>" % token()
    head = ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: %s\r\n"
            % (sender, to, subject, mid)).encode("utf-8")
    return head + extra + b"\r\n" + body, mid


def dot_stuff(data):
    out = []
    for line in data.split(b"\r\n"):
        out.append(b"." + line if line.startswith(b".") else line)
    return b"\r\n".join(out)


def send(srv, sender, rcpts, msg=None, mail_params="", rcpt_params="", port=None,
         subject="outbound"):
    """One SMTP transaction to srv (port 25 service unless port); returns
    (queue ID, message bytes, Message-ID)."""
    mid = None
    if msg is None:
        msg, mid = make_message(subject=subject, sender=sender or "nobody@example.test",
                                to=rcpts[0])
    with SMTPConn(port or srv.port) as c:
        c.ehlo()
        r = c.cmd("MAIL FROM:<%s>%s" % (sender, " " + mail_params if mail_params else ""))
        assert r.code == 250, r
        for rc in rcpts:
            r = c.cmd("RCPT TO:<%s>%s" % (rc, " " + rcpt_params if rcpt_params else ""))
            assert r.code == 250, (rc, r)
        r = c.cmd("DATA")
        assert r.code == 354, r
        data = msg if msg.endswith(b"\r\n") else msg + b"\r\n"
        r = c.cmd(dot_stuff(data[:-2]) + b"\r\n.")
        assert r.code == 250, r
        c.cmd("QUIT")
    return queued_id(r), msg, mid


def queue_json(srv):
    return json.loads(srv.cli("queue", "list", "--json").out)


def queue_message(srv, qid):
    """`postino queue show ID --json`, or None if it is not queued."""
    r = srv.cli("queue", "show", qid, "--json", check=False)
    if r.returncode != 0:
        return None
    return json.loads(r.out)


def rcpt_states(srv, qid):
    m = queue_message(srv, qid)
    return None if m is None else {r["address"]: r["status"] for r in m["recipients"]}


def wait_until(what, predicate, timeout=20, interval=0.1):
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s (last: %r)"
                                 % (timeout, what, last))
        time.sleep(interval)


def wait_states(srv, qid, want, timeout=20):
    """Wait until the queued message's recipients have these states
    ({addr: "delivered"|"deferred"|...}; a subset)."""
    def check():
        st = rcpt_states(srv, qid)
        if st is not None and all(st.get(a) == s for a, s in want.items()):
            return st
        return False
    try:
        return wait_until("states %r of %s" % (want, qid), check, timeout)
    except AssertionError as e:
        raise AssertionError("%s\nqueue: %s\n%s" % (e, srv.cli("queue", "list").out, srv.log()))


def trace(srv, what, *args):
    return srv.cli("trace", what, *args, check=False)


def trace_json(srv, what, *args):
    r = srv.cli("trace", what, "--json", *args, check=False)
    return json.loads(r.out)


def events_of(srv, qid):
    """The events of qid from `postino trace ID --json`: [(kind, rcpt, text)]."""
    doc = trace_json(srv, qid)
    for m in doc["messages"]:
        if m["id"] == qid:
            return [(e["kind"], e["recipient"], e["text"]) for e in m["events"]]
    return []


def wait_event(srv, qid, kind, rcpt=None, text=None, count=1, timeout=20):
    """Wait until the trace of qid has count events of this kind (and
    recipient, and with text in it); returns them."""
    def check():
        evs = [e for e in events_of(srv, qid) if e[0] == kind and
               (rcpt is None or e[1] == rcpt) and (text is None or text in e[2])]
        return evs if len(evs) >= count else False
    try:
        return wait_until("%d %s event(s) of %s" % (count, kind, qid), check, timeout)
    except AssertionError as e:
        raise AssertionError("%s\n%s" % (e, trace(srv, qid).out))


def parse_dsn(raw):
    """A delivery status notification (bytes) -> (message, per-message
    fields, [per-recipient fields], third part). Fails unless it is an RFC
    3464 multipart/report with a message/delivery-status part."""
    msg = email.message_from_bytes(raw)
    assert msg.get_content_type() == "multipart/report", msg.get_content_type()
    assert msg.get_param("report-type") == "delivery-status", msg["Content-Type"]
    parts = msg.get_payload()
    assert len(parts) == 3, [p.get_content_type() for p in parts]
    assert parts[0].get_content_type() == "text/plain"
    assert parts[1].get_content_type() == "message/delivery-status"
    blocks = parts[1].get_payload()
    assert len(blocks) >= 2, blocks
    return msg, blocks[0], blocks[1:], parts[2]


def dsns(srv, user="bob"):
    """The notifications in a local Maildir (Return-Path <> and a report)."""
    return [m for m in srv.messages(user) if m.startswith(b"Return-Path: <>\n")]


def wait_dsns(srv, count, user="bob", timeout=20):
    def check():
        d = dsns(srv, user)
        return d if len(d) >= count else False
    try:
        return wait_until("%d notification(s) for %s" % (count, user), check, timeout)
    except AssertionError as e:
        raise AssertionError("%s\n%s" % (e, srv.log()))
