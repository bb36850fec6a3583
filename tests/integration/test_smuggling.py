"""SMTP smuggling: a message carrying a fake end of data followed by a
second transaction must never become two messages.

Each case sends, in DATA (or BDAT), a legitimate message for bob, a fake end
mark (bare LF/CR variants, NUL), then MAIL/RCPT/DATA for alice with a body,
then the real CRLF.CRLF. Whatever the server decides (refuse, or accept
one message), alice must get nothing and at most one message may result.
"""

import time

import pytest

from postino_testlib import queued_id

LEGIT = (b"From: <a@b.org>\r\n"
         b"To: <bob@example.test>\r\n"
         b"Subject: legit\r\n"
         b"\r\n"
         b"legitimate body")

SMUGGLED_DATA = (b"MAIL FROM:<evil@attacker.example>\r\n"
                 b"RCPT TO:<alice@example.test>\r\n"
                 b"DATA\r\n"
                 b"From: <ceo@example.test>\r\n"
                 b"Subject: smuggled\r\n"
                 b"\r\n"
                 b"smuggled body\r\n")

SMUGGLED_BODY = (b"From: <ceo@example.test>\r\n"
                 b"Subject: smuggled\r\n"
                 b"\r\n"
                 b"smuggled body\r\n")

SMUGGLED_BDAT = (b"MAIL FROM:<evil@attacker.example>\r\n"
                 b"RCPT TO:<alice@example.test>\r\n"
                 b"BDAT %d LAST\r\n" % len(SMUGGLED_BODY)) + SMUGGLED_BODY

FAKE_ENDS = {
    "LF.LF": b"\n.\n",
    "LF.CRLF": b"\n.\r\n",
    "CR.CRLF": b"\r.\r\n",
    "CRLF.CR": b"\r\n.\r",
    "CRLF.LF": b"\r\n.\n",
    "CR.CR": b"\r.\r",
    "CRLF-LF.CRLF": b"\r\n\n.\r\n",
    "LF-LF.LF-LF": b"\n\n.\n\n",
    "CRLF.NUL-CRLF": b"\r\n.\x00\r\n",
    "CRLF-NUL.CRLF": b"\r\n\x00.\r\n",
    "CRLF.SP-CRLF": b"\r\n. \r\n",
}


def run_session(srv, payload_parts, data_cmd=b"DATA\r\n"):
    """EHLO, MAIL, RCPT bob, DATA (or BDAT via data_cmd), then the parts
    (each its own write, with a pause between), then QUIT. Returns the
    replies received after the DATA command."""
    with srv.smtp() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        assert c.cmd("RCPT TO:<bob@example.test>").code == 250
        if data_cmd == b"DATA\r\n":
            r = c.cmd("DATA")
            assert r.code == 354, r
        else:
            c.send(data_cmd)
        for i, part in enumerate(payload_parts):
            if i:
                time.sleep(0.2)
            c.send(part)
        try:
            c.send(b"QUIT\r\n")
        except OSError:
            pass
        replies = []
        while True:
            try:
                r = c.reply()
            except (ConnectionError, OSError):
                break
            replies.append(r)
            if r.code in (221, 421):
                break
        return replies


def check_outcome(srv, replies):
    accepted = [r for r in replies if r.code == 250 and "queued as" in r.text]
    assert len(accepted) <= 1, "two messages accepted: %r" % (replies,)
    if accepted:
        srv.wait_for_maildir("bob", 1)
    srv.wait_queue_empty()
    time.sleep(0.1)
    bob, alice = srv.messages("bob"), srv.messages("alice")
    assert alice == [], "the smuggled recipient got mail: %r" % alice
    assert len(bob) == len(accepted), (bob, replies)
    assert len(bob) + len(alice) <= 1
    assert not srv.grep_log(r"from=<evil@attacker\.example>")
    return accepted, bob


@pytest.mark.parametrize("split", [False, True], ids=["one-write", "split-at-fake-end"])
@pytest.mark.parametrize("fake_end", list(FAKE_ENDS), ids=list(FAKE_ENDS))
def test_data_smuggling(server, fake_end, split):
    end = FAKE_ENDS[fake_end]
    first = LEGIT + end
    rest = SMUGGLED_DATA + b".\r\n"
    payload = first + rest
    # only the very end is a real CRLF.CRLF
    assert payload.find(b"\r\n.\r\n") == len(payload) - 5
    parts = [first, rest] if split else [payload]
    replies = run_session(server, parts)
    accepted, bob = check_outcome(server, replies)
    if accepted:
        # accepted as one message: the smuggled lines are message text
        assert b"smuggled body" in bob[0]


@pytest.mark.parametrize("fake_end", ["LF.LF", "CRLF.CR", "CR.CRLF", "LF.CRLF"])
def test_data_smuggling_with_bdat_inside(server, fake_end):
    payload = LEGIT + FAKE_ENDS[fake_end] + SMUGGLED_BDAT + b"\r\n.\r\n"
    assert payload.find(b"\r\n.\r\n") == len(payload) - 5
    replies = run_session(server, [payload])
    check_outcome(server, replies)


@pytest.mark.parametrize("fake_end", list(FAKE_ENDS), ids=list(FAKE_ENDS))
def test_bdat_smuggling(server, fake_end):
    """BDAT counts octets: a fake end inside a chunk is message text."""
    chunk = LEGIT + FAKE_ENDS[fake_end] + SMUGGLED_DATA + b".\r\n"
    replies = run_session(server, [chunk], data_cmd=b"BDAT %d LAST\r\n" % len(chunk))
    check_outcome(server, replies)


def test_bdat_with_real_end_mark_inside_is_one_message(server):
    """A CRLF.CRLF inside a BDAT chunk ends nothing: all of it is one
    message for bob (it is valid CRLF text, so it must be accepted)."""
    chunk = LEGIT + b"\r\n.\r\n" + SMUGGLED_DATA + b".\r\n"
    replies = run_session(server, [chunk], data_cmd=b"BDAT %d LAST\r\n" % len(chunk))
    accepted, bob = check_outcome(server, replies)
    assert len(accepted) == 1, replies
    body = bob[0].split(b"\n\n", 1)[1]
    assert b"\n.\nMAIL FROM:<evil@attacker.example>\nRCPT TO:<alice@example.test>\nDATA\n" \
        in body, body


def test_bdat_chunks_split_at_fake_end(server):
    first = LEGIT + b"\n.\n"
    second = SMUGGLED_DATA + b".\r\n"
    with server.smtp() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        assert c.cmd("RCPT TO:<bob@example.test>").code == 250
        c.send(b"BDAT %d\r\n" % len(first) + first)
        r1 = c.reply()
        replies = [r1]
        if r1.code == 250:
            c.send(b"BDAT %d LAST\r\n" % len(second) + second)
            replies.append(c.reply())
        c.send(b"QUIT\r\n")
        try:
            replies.append(c.reply())
        except (ConnectionError, OSError):
            pass
    check_outcome(server, replies)


def test_clean_message_after_refused_smuggling_attempt(server):
    """The session stays usable and in step after a refused message."""
    with server.smtp() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        assert c.cmd("RCPT TO:<bob@example.test>").code == 250
        assert c.cmd("DATA").code == 354
        c.send(LEGIT + b"\n.\n" + SMUGGLED_DATA + b".\r\n")
        r = c.reply()
        assert r.code != 354, r
        # whatever happened, exactly one reply for the message; now a clean one
        assert c.cmd("RSET").code == 250
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        assert c.cmd("RCPT TO:<carol@example.test>").code == 250
        assert c.cmd("DATA").code == 354
        r2 = c.cmd(b"Subject: clean\r\n\r\nclean\r\n.")
        assert r2.code == 250, r2
        queued_id(r2)
        assert c.cmd("QUIT").code == 221
    server.wait_for_maildir("carol", 1)
    server.wait_queue_empty()
    assert server.messages("alice") == []
    assert len(server.messages("bob")) == (1 if "queued as" in r.text else 0)
