"""The test milter (milter_peer.py) speaks the protocol: a tiny client
written here from the protocol description drives one session through
every stage, and checks the replies and what the milter recorded."""

import socket
import struct

from milter_peer import milter, packet, read_packet  # noqa: F401 (fixture)

# What postino offers: every action, every step may be declined.
ACTIONS = 0x7F
PROTOCOL = 0x37F


def ask(sock, cmd, data=b""):
    """Send one command and read the replies up to the final one."""
    sock.sendall(packet(cmd, data))
    replies = []
    while True:
        r = read_packet(sock)
        assert r is not None, "milter closed the connection"
        replies.append(r)
        if r[0] in (b"O", b"c", b"a", b"r", b"t", b"d", b"y"):
            return replies


def test_session(milter):  # noqa: F811
    milter.rcpt_reply["<bad@example.org>"] = "550 5.7.1 no such user"
    milter.add_headers.append(("X-Milter", "seen"))
    milter.change_headers.append((1, "Subject", ""))
    milter.add_rcpts.append("<copy@example.org>")
    milter.quarantine = "looks odd"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(milter.socket)
    with s:
        (r,) = ask(s, b"O", struct.pack(">III", 6, ACTIONS, PROTOCOL))
        assert r[0] == b"O" and struct.unpack(">III", r[1][:12]) == (6, ACTIONS, 0)
        s.sendall(packet(b"D", b"Cj\0mx.example\0"))
        assert ask(s, b"C", b"client.example\0" + b"4" + struct.pack(">H", 4242) +
                   b"192.0.2.1\0") == [(b"c", b"")]
        assert ask(s, b"H", b"client.example\0") == [(b"c", b"")]
        assert ask(s, b"M", b"<a@example.com>\0SIZE=10\0") == [(b"c", b"")]
        assert ask(s, b"R", b"<bad@example.org>\0") == [(b"y", b"550 5.7.1 no such user\0")]
        assert ask(s, b"R", b"<b@example.org>\0") == [(b"c", b"")]
        assert ask(s, b"T") == [(b"c", b"")]
        assert ask(s, b"L", b"Subject\0hi\0") == [(b"c", b"")]
        assert ask(s, b"N") == [(b"c", b"")]
        assert ask(s, b"B", b"hello\r\n") == [(b"c", b"")]
        assert ask(s, b"E") == [
            (b"h", b"X-Milter\0seen\0"),
            (b"m", b"\0\0\0\x01Subject\0\0"),
            (b"+", b"<copy@example.org>\0"),
            (b"q", b"looks odd\0"),
            (b"c", b""),
        ]
        s.sendall(packet(b"Q"))
        assert s.recv(1) == b""  # the milter closes after QUIT
    assert milter.commands() == "ODCHMRRTLNBEQ"
    assert milter.received[2] == ("C", ["client.example", "4", 4242, "192.0.2.1"])
    assert milter.received[4] == ("M", ["<a@example.com>", "SIZE=10"])
    assert milter.received[8] == ("L", ["Subject", "hi"])
    assert milter.errors == []


def test_tempfail_and_discard(milter):  # noqa: F811
    milter.tempfail_at.add("mail")
    milter.eob_verdict = "discard"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(milter.socket)
    with s:
        ask(s, b"O", struct.pack(">III", 6, ACTIONS, PROTOCOL))
        assert ask(s, b"M", b"<a@example.com>\0") == [(b"t", b"")]
        s.sendall(packet(b"A"))
        assert ask(s, b"E") == [(b"d", b"")]
    assert milter.commands() == "OMAE"
