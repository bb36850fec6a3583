"""The rspamd test peer (rspamd_peer.py) works, seen from a minimal MTA
side of the milter protocol written here (no postino): it negotiates,
takes a whole message, rejects GTUBE with a 554 reply code, adds its
X-Spamd-Result / X-Spam-Status headers to a normal message, and takes
the action that the test score header asks for.

The client offers what postino's milter client offers (all actions, the
steps may be declined) and honours the SMFIP_NR_* flags that rspamd sets
in its answer (no reply to that step)."""

import socket
import struct

import pytest

from milter_peer import cstr, packet, read_packet, strings
from postino_testlib import pids_in_group
from rspamd_peer import (GTUBE, GTUBE_REPLY, SCORE_HEADER, RspamdPeer,  # noqa: F401
                         rspamd, rspamd_shared)

# What postino's milter client offers (src/policy/milter.c).
OFFERED_ACTIONS = 0x7F
OFFERED_PROTOCOL = 0x37F
# The "no reply" protocol flags, per command.
NR_FLAGS = {b"C": 0x1000, b"H": 0x2000, b"M": 0x4000, b"R": 0x8000, b"T": 0x10000,
            b"L": 0x80, b"N": 0x40000, b"B": 0x80000}
NR_ALL = 0x000FF080   # NR_CONN..NR_BODY, NR_UNKN and NR_HDR: what rspamd 3.4 asks
SMFIF_ADDHDRS, SMFIF_CHGHDRS = 0x01, 0x10
FINAL = (b"a", b"c", b"r", b"t", b"d", b"y")
BODY_CHUNK = 65535

NORMAL_BODY = b"Hello Bob,\r\n\r\nlunch tomorrow at noon?\r\n\r\nAlice\r\n"


def headers(subject="lunch", extra=()):
    return [("From", "Alice <alice@example.org>"), ("To", "bob@example.net"),
            ("Subject", subject), ("Date", "Sat, 28 Nov 2026 12:00:00 +0000"),
            ("Message-ID", "<lunch.1@example.org>"), ("MIME-Version", "1.0"),
            ("Content-Type", "text/plain; charset=us-ascii")] + list(extra)


class MilterClient:
    """The MTA side of one milter connection."""

    def __init__(self, address, timeout=30):
        host, port = address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.version = self.actions = self.protocol = None

    def close(self):
        try:
            self.sock.sendall(packet(b"Q"))
        except OSError:
            pass
        self.sock.close()

    def _replies(self):
        """Packets up to and including a final verdict."""
        out = []
        while True:
            p = read_packet(self.sock)
            assert p is not None, "rspamd closed the connection after %r" % out
            out.append(p)
            if p[0] in FINAL:
                return out

    def negotiate(self, actions=OFFERED_ACTIONS, protocol=OFFERED_PROTOCOL):
        self.sock.sendall(packet(b"O", struct.pack(">III", 6, actions, protocol)))
        cmd, data = read_packet(self.sock)
        assert cmd == b"O", (cmd, data)
        self.version, self.actions, self.protocol = struct.unpack(">III", data[:12])
        return self.version, self.actions, self.protocol

    def macro(self, stage, **macros):
        data = stage
        for k, v in macros.items():
            data += cstr(k if len(k) == 1 else "{%s}" % k) + cstr(v)
        self.sock.sendall(packet(b"D", data))

    def step(self, cmd, data=b""):
        """Send one command; its replies, or [] when the milter asked for
        no reply to it."""
        self.sock.sendall(packet(cmd, data))
        if self.protocol & NR_FLAGS.get(cmd, 0):
            return []
        return self._replies()

    def eob(self):
        """End of body: the modifications and the verdict."""
        self.sock.sendall(packet(b"E"))
        return self._replies()

    def connect(self, helo="client.example.org", ip="192.0.2.10", port=40000):
        self.macro(b"C", j="mx.example.test", _="postino")
        early = self.step(b"C", cstr(helo) + b"4" + struct.pack(">H", port) + cstr(ip))
        early += self.step(b"H", cstr(helo))
        return early

    def message(self, hdrs, body, sender="<alice@example.org>",
                rcpts=("<bob@example.net>",), queue_id="4F2A1B"):
        """One message; (replies before the end of body, end-of-body packets)."""
        early = []
        self.macro(b"M", i=queue_id)
        early += self.step(b"M", cstr(sender))
        for r in rcpts:
            early += self.step(b"R", cstr(r))
        early += self.step(b"T")
        for name, value in hdrs:
            early += self.step(b"L", cstr(name) + cstr(value))
        early += self.step(b"N")
        for i in range(0, len(body), BODY_CHUNK):
            early += self.step(b"B", body[i:i + BODY_CHUNK])
        return early, self.eob()


def scan(address, hdrs, body, ip="192.0.2.10"):
    c = MilterClient(address)
    try:
        c.negotiate()
        early = c.connect(ip=ip)
        more, final = c.message(hdrs, body)
        return early + more, final
    finally:
        c.close()


def added_headers(packets):
    """SMFIR_ADDHEADER packets as {name: value}."""
    return {strings(d)[0]: strings(d)[1] for c, d in packets if c == b"h"}


def header_changes(packets):
    """SMFIR_CHGHEADER packets as [(index, [name, value])]; value "" deletes."""
    return [(struct.unpack(">I", d[:4])[0], strings(d[4:])) for c, d in packets if c == b"m"]


def test_negotiation(rspamd):
    c = MilterClient(rspamd.address)
    try:
        version, actions, protocol = c.negotiate()
    finally:
        c.close()
    assert version == 6
    assert actions & SMFIF_ADDHDRS and actions & SMFIF_CHGHDRS
    assert actions & ~OFFERED_ACTIONS == 0
    # rspamd asks for no reply to any step, whatever was offered: an MTA
    # that does not accept SMFIP_NR_* cannot talk to it.
    assert protocol == NR_ALL, hex(protocol)


def test_gtube_rejected(rspamd_shared):
    body = b"This is the GTUBE test.\r\n" + GTUBE.encode() + b"\r\n"
    early, final = scan(rspamd_shared.address, headers(subject="gtube"), body)
    assert early == []
    cmd, data = final[-1]
    assert cmd in (b"r", b"y"), final
    if cmd == b"y":
        reply = strings(data)[0]
        assert reply.startswith("5"), reply
        assert reply == GTUBE_REPLY
    print("GTUBE verdict:", final)


def test_normal_message_gets_headers(rspamd_shared):
    early, final = scan(rspamd_shared.address, headers(), NORMAL_BODY)
    assert early == []
    assert final[-1][0] in (b"a", b"c"), final
    added = added_headers(final)
    print("normal message:", final)
    assert "X-Spamd-Result" in added, added
    assert added["X-Spamd-Result"].startswith("default: False ["), added
    assert added["X-Spam-Status"].startswith("No, score="), added
    assert added["X-Rspamd-Action"] == "no action"
    assert added["X-Rspamd-Queue-Id"] == "4F2A1B"
    assert "X-Spam" not in added


def test_local_client_gets_headers_too(rspamd_shared):
    _, final = scan(rspamd_shared.address, headers(), NORMAL_BODY, ip="127.0.0.1")
    assert final[-1][0] in (b"a", b"c"), final
    assert "X-Spamd-Result" in added_headers(final)


def test_score_add_header(rspamd_shared):
    _, final = scan(rspamd_shared.address, headers(extra=[(SCORE_HEADER, "7")]), NORMAL_BODY)
    print("add header:", final)
    assert final[-1][0] in (b"a", b"c"), final
    added = added_headers(final)
    # X-Spam: Yes comes as a change of the first X-Spam header (SMFIR_CHGHEADER,
    # index 1), which adds it when the message has none
    assert (1, ["X-Spam", "Yes"]) in header_changes(final), final
    assert "X-Spam" not in added
    assert added["X-Rspamd-Action"] == "add header"
    assert "POSTINO_TEST_SCORE(7.00)" in added["X-Spamd-Result"]


def test_score_rewrite_subject(rspamd_shared):
    _, final = scan(rspamd_shared.address, headers(subject="offer", extra=[(SCORE_HEADER, "11")]),
                    NORMAL_BODY)
    print("rewrite subject:", final)
    assert final[-1][0] in (b"a", b"c"), final
    assert (1, ["Subject", "***SPAM*** offer"]) in header_changes(final), final


def test_score_reject(rspamd_shared):
    _, final = scan(rspamd_shared.address, headers(extra=[(SCORE_HEADER, "20")]), NORMAL_BODY)
    print("reject:", final)
    assert final[-1] == (b"y", cstr("554 5.7.1 Spam message rejected")), final


def test_incoming_spam_flag_removed(rspamd_shared):
    _, final = scan(rspamd_shared.address, headers(extra=[("X-Spam", "yes")]), NORMAL_BODY)
    print("X-Spam removed:", final)
    assert (1, ["X-Spam", ""]) in header_changes(final), final


def test_two_messages_on_one_connection(rspamd_shared):
    c = MilterClient(rspamd_shared.address)
    try:
        c.negotiate()
        c.connect()
        _, first = c.message(headers(), NORMAL_BODY, queue_id="AAA1")
        _, second = c.message(headers(subject="gtube"),
                              GTUBE.encode() + b"\r\n", queue_id="AAA2")
        _, third = c.message(headers(), NORMAL_BODY, queue_id="AAA3")
    finally:
        c.close()
    assert first[-1][0] in (b"a", b"c") and added_headers(first)["X-Rspamd-Queue-Id"] == "AAA1"
    assert second[-1][0] in (b"r", b"y"), second
    assert third[-1][0] in (b"a", b"c") and added_headers(third)["X-Rspamd-Queue-Id"] == "AAA3"


def test_large_body_in_chunks(rspamd_shared):
    body = b"".join(b"line %06d of a long and boring message\r\n" % i for i in range(5000))
    assert len(body) > 3 * BODY_CHUNK
    _, final = scan(rspamd_shared.address, headers(), body)
    assert final[-1][0] in (b"a", b"c"), final
    assert "X-Spamd-Result" in added_headers(final)


def test_starts_and_stops():
    peer = RspamdPeer()
    try:
        peer.start()
        print("rspamd answered after %.2f s" % peer.startup_seconds)
        assert peer.startup_seconds < 30
        pgid = peer.proc.pid
    finally:
        peer.stop()
        peer.cleanup()
    assert pids_in_group(pgid) == []
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", peer.port), timeout=2).close()
