"""A real milter for the milter tests, written for them from the
description of the Sendmail milter protocol, version 6 (no libmilter, no
PyPI): a threaded server on a Unix socket in a temporary directory.

Packets are a 4-byte big-endian length, a command byte and its data
(strings end with NUL). The peer negotiates (it asks for the actions in
`actions` and declines the steps in `protocol`), answers every command
that wants an answer, and does what the test set:

    peer = MilterPeer()
    peer.rcpt_reply["<bad@example.org>"] = "550 5.7.1 no such user"
    peer.tempfail_at.add("mail")            # SMFIR_TEMPFAIL at MAIL
    peer.eob_verdict = "discard"            # or accept/continue/reject/tempfail
    peer.quarantine = "looks like spam"
    peer.add_headers.append(("X-Milter", "seen"))
    peer.change_headers.append((1, "Subject", ""))   # delete the first Subject
    peer.add_rcpts.append("<copy@example.org>")
    with peer:
        ...                                 # peer.socket is the address
    peer.received   # [(command letter, [fields...]), ...] of every connection

or the `milter` fixture, which starts one for a test and stops it after.
"""

import os
import shutil
import socket
import socketserver
import struct
import tempfile
import threading
import time

import pytest

VERSION = 6
SMFIF_ADDHDRS, SMFIF_CHGBODY, SMFIF_ADDRCPT, SMFIF_DELRCPT = 0x01, 0x02, 0x04, 0x08
SMFIF_CHGHDRS, SMFIF_QUARANTINE, SMFIF_CHGFROM = 0x10, 0x20, 0x40
ALL_ACTIONS = 0x7F
PACKET_MAX = 1 << 20
STAGES = {b"C": "connect", b"H": "helo", b"M": "mail", b"R": "rcpt", b"T": "data",
          b"L": "header", b"N": "eoh", b"B": "body", b"E": "eob"}
VERDICTS = {"continue": b"c", "accept": b"a", "reject": b"r", "tempfail": b"t",
            "discard": b"d"}


def packet(cmd, data=b""):
    """One packet: length, command, data."""
    return struct.pack(">I", len(data) + 1) + cmd + data


def read_packet(sock):
    """Read one packet; None at the end of the stream."""
    head = _read_exact(sock, 4)
    if head is None:
        return None
    (n,) = struct.unpack(">I", head)
    if n == 0 or n > PACKET_MAX:
        raise ValueError("bad packet length %d" % n)
    body = _read_exact(sock, n)
    if body is None:
        raise ValueError("connection closed inside a packet")
    return body[:1], body[1:]


def _read_exact(sock, n):
    out = b""
    while len(out) < n:
        d = sock.recv(n - len(out))
        if not d:
            if out:
                raise ValueError("connection closed inside a packet")
            return None
        out += d
    return out


def strings(data):
    """The NUL-terminated strings of a packet's data."""
    if not data:
        return []
    if not data.endswith(b"\0"):
        raise ValueError("string without its NUL: %r" % data)
    return [s.decode("utf-8", "replace") for s in data[:-1].split(b"\0")]


def cstr(s):
    return s.encode() + b"\0"


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        self.server.peer._serve(self.request)


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class _TcpServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class MilterPeer:
    def __init__(self, actions=ALL_ACTIONS, protocol=0, tcp=False):
        self.actions = actions
        self.protocol = protocol
        self.tcp = tcp              # listen on 127.0.0.1:<free port> instead
        self.delay_at = {}          # stage name -> seconds to wait before answering
        self.rcpt_reply = {}        # address -> "550 5.7.1 text"
        self.tempfail_at = set()    # stage names answered SMFIR_TEMPFAIL
        self.reject_at = set()      # stage names answered SMFIR_REJECT
        self.eob_verdict = "continue"
        self.quarantine = None
        self.add_headers = []       # (name, value)
        self.insert_headers = []    # (index, name, value)
        self.change_headers = []    # (index, name, value); value "" deletes
        self.add_rcpts = []
        self.del_rcpts = []
        self.new_body = None        # bytes
        self.received = []
        self.errors = []
        self.lock = threading.Lock()
        self.root = None
        self.socket = None
        self.server = None
        self.thread = None

    # --- the protocol ---

    def _record(self, cmd, fields):
        with self.lock:
            self.received.append((cmd.decode(), fields))

    def commands(self):
        """The command letters received, in order, as one string."""
        with self.lock:
            return "".join(c for c, _ in self.received)

    def _serve(self, sock):
        try:
            while True:
                p = read_packet(sock)
                if p is None:
                    return
                cmd, data = p
                reply = self._answer(cmd, data)
                if reply is None and cmd in (b"Q",):
                    return
                if reply:
                    sock.sendall(reply)
        except (ValueError, OSError) as e:
            with self.lock:
                self.errors.append(str(e))
        finally:
            sock.close()

    def _answer(self, cmd, data):
        """The bytes to send back for one command (b"" for none)."""
        if cmd == b"O":
            version, actions, protocol = struct.unpack(">III", data[:12])
            self._record(cmd, [version, actions, protocol])
            if version < 2 or (self.actions & ~actions) or (self.protocol & ~protocol):
                raise ValueError("cannot negotiate with %r" % ((version, actions, protocol),))
            return packet(b"O", struct.pack(">III", VERSION, self.actions, self.protocol))
        if cmd == b"C":
            host, rest = data.split(b"\0", 1)
            fields = [host.decode(), rest[:1].decode()]
            if rest[:1] != b"U":
                fields += [struct.unpack(">H", rest[1:3])[0]] + strings(rest[3:])
            self._record(cmd, fields)
        elif cmd == b"D":
            self._record(cmd, [data[:1].decode()] + strings(data[1:]))
            return b""
        elif cmd == b"B":
            self._record(cmd, [data])
        elif cmd in (b"A", b"Q", b"K"):
            self._record(cmd, [])
            return None if cmd == b"Q" else b""
        else:
            self._record(cmd, strings(data))
        stage = STAGES.get(cmd)
        if stage is None:
            raise ValueError("unknown command %r" % cmd)
        if stage in self.delay_at:
            time.sleep(self.delay_at[stage])
        if stage in self.tempfail_at:
            return packet(b"t")
        if stage in self.reject_at:
            return packet(b"r")
        if cmd == b"R":
            reply = self.rcpt_reply.get(strings(data)[0])
            if reply is not None:
                return packet(b"y", cstr(reply))
        if cmd == b"E":
            return self._end_of_body()
        return packet(b"c")

    def _end_of_body(self):
        out = b""
        for name, value in self.add_headers:
            out += packet(b"h", cstr(name) + cstr(value))
        for index, name, value in self.insert_headers:
            out += packet(b"i", struct.pack(">I", index) + cstr(name) + cstr(value))
        for index, name, value in self.change_headers:
            out += packet(b"m", struct.pack(">I", index) + cstr(name) + cstr(value))
        for rcpt in self.add_rcpts:
            out += packet(b"+", cstr(rcpt))
        for rcpt in self.del_rcpts:
            out += packet(b"-", cstr(rcpt))
        if self.new_body is not None:
            for i in range(0, max(len(self.new_body), 1), 65535):
                out += packet(b"b", self.new_body[i:i + 65535])
        if self.quarantine is not None:
            out += packet(b"q", cstr(self.quarantine))
        return out + packet(VERDICTS[self.eob_verdict])

    # --- starting and stopping ---

    def start(self):
        self.root = tempfile.mkdtemp(prefix="postino-it-milter-", dir="/tmp")
        os.chmod(self.root, 0o755)  # postino's processes may run as another user
        if self.tcp:
            self.server = _TcpServer(("127.0.0.1", 0), _Handler)
            self.socket = "127.0.0.1:%d" % self.server.server_address[1]
        else:
            self.socket = os.path.join(self.root, "milter.sock")
            self.server = _Server(self.socket, _Handler)
            os.chmod(self.socket, 0o666)
        self.server.peer = self
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(10)
            self.server = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


@pytest.fixture
def milter():
    """A running MilterPeer for one test (continue to everything until
    told otherwise), stopped after it."""
    peer = MilterPeer()
    try:
        yield peer.start()
    finally:
        peer.stop()
