"""IMAP STORE, COPY and MOVE against a real server with Python's imaplib
over TLS (RFC 3501 6.4.6/6.4.7, RFC 4315 COPYUID, RFC 6851 MOVE, RFC 7162
UNCHANGEDSINCE/MODIFIED)."""

import imaplib
import re
import ssl

import pytest

from postino_testlib import DOMAIN

PASSWORD = "secret-pw"


def _msg(i, subject=None):
    subject = subject or "message %d" % i
    return ("From: a@example.org\r\nTo: bob@%s\r\nSubject: %s\r\n"
            "Message-ID: <m%d@example.org>\r\n\r\nbody %d\r\n" % (DOMAIN, subject, i, i)
            ).encode()


def connect(srv, user="bob"):
    ctx = ssl._create_unverified_context()
    c = imaplib.IMAP4_SSL("127.0.0.1", srv.port_base + 993, ssl_context=ctx, timeout=30)
    c.login("%s@%s" % (user, DOMAIN), PASSWORD)
    return c


def append(c, folder, n, flags=""):
    """Append n messages; their UIDs (from APPENDUID)."""
    uids = []
    for i in range(n):
        typ, data = c.append(folder, flags, None, _msg(i + 1))
        assert typ == "OK", data
        m = re.search(rb"APPENDUID (\d+) (\d+)", data[0])
        assert m, data
        uids.append(int(m.group(2)))
    return uids


def raw(c, line):
    """Send one command line; (untagged lines, tagged line) as bytes."""
    tag = c._new_tag()
    c.send(tag + b" " + line.encode() + b"\r\n")
    untagged = []
    while True:
        ln = c._get_line()
        if ln.startswith(tag + b" "):
            return untagged, ln[len(tag) + 1:]
        untagged.append(ln)


def folder_info(c, folder):
    """UIDVALIDITY, UIDNEXT and the message count of folder, from EXAMINE
    (the selection is left on it)."""
    untagged, tagged = raw(c, "EXAMINE " + folder)
    assert tagged.startswith(b"OK"), tagged
    text = b"\n".join(untagged).decode()
    return (int(re.search(r"UIDVALIDITY (\d+)", text).group(1)),
            int(re.search(r"UIDNEXT (\d+)", text).group(1)),
            int(re.search(r"\* (\d+) EXISTS", text).group(1)))


def search(c, criteria):
    untagged, tagged = raw(c, "UID SEARCH " + criteria)
    assert tagged.startswith(b"OK"), (tagged, untagged)
    for ln in untagged:
        if ln.startswith(b"* SEARCH"):
            return [int(x) for x in ln[8:].split()]
    raise AssertionError(untagged)


def fetches(untagged):
    """{seq: body-of-FETCH} of the untagged FETCH lines."""
    out = {}
    for ln in untagged:
        m = re.match(rb"\* (\d+) FETCH \((.*)\)$", ln)
        if m:  # \Recent comes and goes with the session: left out
            out[int(m.group(1))] = m.group(2).decode().replace(" \\Recent", "").replace(
                "\\Recent", "")
    return out


@pytest.fixture
def srv(make_server):
    return make_server()


@pytest.fixture
def inbox(srv):
    c = connect(srv)
    uids = append(c, "INBOX", 5)
    typ, _ = c.select("INBOX")
    assert typ == "OK"
    yield c, uids
    try:
        c.logout()
    except Exception:
        pass


def test_store_forms(inbox):
    c, uids = inbox
    u, t = raw(c, "STORE 1 FLAGS (\\Seen \\Flagged)")
    assert t.startswith(b"OK"), t
    f = fetches(u)
    assert set(f) == {1}
    assert "FLAGS (" in f[1] and "\\Seen" in f[1] and "\\Flagged" in f[1]
    assert "UID" not in f[1]

    u, t = raw(c, "STORE 1:2 +FLAGS (\\Answered)")
    assert t.startswith(b"OK")
    f = fetches(u)
    assert set(f) == {1, 2}
    assert "\\Answered" in f[2] and "\\Seen" not in f[2]
    assert "\\Seen" in f[1]

    u, t = raw(c, "STORE 1 -FLAGS (\\Seen)")
    assert t.startswith(b"OK")
    f = fetches(u)
    assert "\\Seen" not in f[1] and "\\Flagged" in f[1]

    # .SILENT: no FETCH back
    for item in ("FLAGS.SILENT", "+FLAGS.SILENT", "-FLAGS.SILENT"):
        u, t = raw(c, "STORE 3 %s (\\Draft)" % item)
        assert t.startswith(b"OK"), t
        assert fetches(u) == {}, (item, u)
    assert search(c, "DRAFT") == []
    raw(c, "STORE 3 +FLAGS.SILENT (\\Draft)")
    assert search(c, "DRAFT") == [uids[2]]

    # flags without parentheses, and an empty list
    u, t = raw(c, "STORE 4 +FLAGS \\Deleted \\Seen")
    assert t.startswith(b"OK")
    assert search(c, "DELETED SEEN") == [uids[3]]
    u, t = raw(c, "STORE 4 FLAGS ()")
    assert t.startswith(b"OK")
    f = fetches(u)
    assert f[4] == "FLAGS ()"

    # unchanged flags: no FETCH
    u, t = raw(c, "STORE 2 +FLAGS (\\Answered)")
    assert t.startswith(b"OK") and fetches(u) == {}


def test_uid_store_and_sets(inbox):
    c, uids = inbox
    u, t = raw(c, "UID STORE %d:* +FLAGS (\\Flagged)" % uids[3])
    assert t.startswith(b"OK"), t
    f = fetches(u)
    assert set(f) == {4, 5}
    assert "UID %d" % uids[3] in f[4] and "UID %d" % uids[4] in f[5]
    # UIDs that do not exist are ignored
    u, t = raw(c, "UID STORE 9999 +FLAGS (\\Flagged)")
    assert t.startswith(b"OK") and fetches(u) == {}
    # sequence numbers past the count are BAD
    u, t = raw(c, "STORE 6 +FLAGS (\\Flagged)")
    assert t.startswith(b"BAD") and b"Invalid message number" in t
    u, t = raw(c, "STORE 1:9 +FLAGS (\\Flagged)")
    assert t.startswith(b"BAD")
    # \Recent cannot be stored; a bad item is BAD
    u, t = raw(c, "STORE 1 +FLAGS (\\Recent)")
    assert t.startswith(b"BAD")
    u, t = raw(c, "STORE 1 XFLAGS (\\Seen)")
    assert t.startswith(b"BAD")
    assert search(c, "FLAGGED") == uids[3:]


def test_keywords(inbox):
    c, uids = inbox
    u, t = raw(c, "STORE 1 +FLAGS ($Label1 Work)")
    assert t.startswith(b"OK"), t
    # the new keywords are announced in FLAGS and PERMANENTFLAGS
    flags_line = [ln for ln in u if ln.startswith(b"* FLAGS")]
    assert flags_line and b"$Label1" in flags_line[0] and b"Work" in flags_line[0]
    assert any(b"PERMANENTFLAGS" in ln and b"Work" in ln for ln in u)
    f = fetches(u)
    assert "$Label1" in f[1] and "Work" in f[1]
    assert search(c, "KEYWORD Work") == [uids[0]]
    assert search(c, "UNKEYWORD Work") == uids[1:]
    u, t = raw(c, "STORE 1 -FLAGS (Work)")
    assert t.startswith(b"OK")
    assert search(c, "KEYWORD Work") == []
    assert search(c, "KEYWORD $Label1") == [uids[0]]
    # removing a keyword never defined is fine
    u, t = raw(c, "STORE 1 -FLAGS (NeverSeen)")
    assert t.startswith(b"OK") and fetches(u) == {}
    # FLAGS replaces keywords too
    u, t = raw(c, "STORE 1 FLAGS (\\Seen)")
    f = fetches(u)
    assert f[1] == "FLAGS (\\Seen)"


def test_unchangedsince(inbox):
    c, uids = inbox
    u, t = raw(c, "UID STORE 1:* (UNCHANGEDSINCE 1000000) +FLAGS (\\Seen)")
    assert t.startswith(b"OK"), t
    f = fetches(u)
    assert len(f) == 5
    modseqs = {}
    for seq, body in f.items():
        m = re.search(r"MODSEQ \((\d+)\)", body)
        assert m, body  # CONDSTORE is on now
        assert "UID" in body and "FLAGS" in body
        modseqs[seq] = int(m.group(1))
    ms = modseqs[1]
    # message 2 changes again: its modseq is above ms now
    u, t = raw(c, "STORE 2 +FLAGS.SILENT (\\Flagged)")
    f = fetches(u)
    assert "MODSEQ" in f[2] and "FLAGS" not in f[2]  # CONDSTORE: MODSEQ even when silent
    new2 = int(re.search(r"MODSEQ \((\d+)\)", f[2]).group(1))
    assert new2 > max(modseqs.values())
    u, t = raw(c, "STORE 1:3 (UNCHANGEDSINCE %d) +FLAGS (\\Answered)" % max(modseqs.values()))
    assert t.startswith(b"OK [MODIFIED 2]"), t
    f = fetches(u)
    assert set(f) == {1, 3}
    # UID STORE: the MODIFIED set holds UIDs
    u, t = raw(c, "UID STORE %d (UNCHANGEDSINCE 1) +FLAGS (\\Draft)" % uids[4])
    assert t.startswith(b"OK [MODIFIED %d]" % uids[4]), t
    assert search(c, "DRAFT") == []
    # UNCHANGEDSINCE 0 always fails
    u, t = raw(c, "STORE 1:2 (UNCHANGEDSINCE 0) +FLAGS (\\Deleted)")
    assert t.startswith(b"OK [MODIFIED 1:2]"), t
    assert search(c, "DELETED") == []
    # SEARCH MODSEQ answers with the highest modseq of the matches
    u, t = raw(c, "SEARCH MODSEQ %d" % new2)
    line = [ln for ln in u if ln.startswith(b"* SEARCH")][0]
    # 2, and 1 and 3 changed after it (\Answered); 4 and 5 before
    assert re.match(rb"\* SEARCH 1 2 3 \(MODSEQ \d+\)$", line), line
    u, t = raw(c, "SEARCH MODSEQ 999999")
    assert b"* SEARCH" in u and not any(b"MODSEQ" in ln for ln in u), u


def test_store_read_only(srv):
    c = connect(srv)
    append(c, "INBOX", 2)
    c.select("INBOX", readonly=True)
    u, t = raw(c, "STORE 1 +FLAGS (\\Seen)")
    assert t.startswith(b"NO"), t
    u, t = raw(c, "MOVE 1 Trash")
    assert t.startswith(b"NO"), t
    # COPY from a read-only mailbox is fine
    u, t = raw(c, "COPY 1 Trash")
    assert t.startswith(b"OK"), t
    c.logout()


def test_copy_copyuid(srv):
    c = connect(srv)
    src = append(c, "INBOX", 4)
    dst0 = append(c, "Drafts", 1)  # Dest's next UIDs follow this one
    uidvalidity, uidnext, _ = folder_info(c, "Drafts")
    assert uidnext == dst0[0] + 1
    c.select("INBOX")
    raw(c, "STORE 2 +FLAGS.SILENT (\\Flagged Important)")
    u, t = raw(c, "COPY 2:4 Drafts")
    m = re.match(rb"OK \[COPYUID (\d+) (\S+) (\S+)\]", t)
    assert m, t
    assert int(m.group(1)) == uidvalidity
    assert m.group(2).decode() == "%d:%d" % (src[1], src[3])
    assert m.group(3).decode() == "%d:%d" % (uidnext, uidnext + 2)
    # UID COPY of a list out of order keeps the pairing
    u, t = raw(c, "UID COPY %d,%d Drafts" % (src[3], src[0]))
    m = re.match(rb"OK \[COPYUID (\d+) (\S+) (\S+)\]", t)
    assert m, t
    assert m.group(2).decode() in ("%d,%d" % (src[0], src[3]), "%d,%d" % (src[3], src[0]))
    # the source is unchanged
    assert search(c, "ALL") == src
    # in the destination: the copies, with flags and keywords kept
    c.select("Drafts")
    assert search(c, "ALL") == [dst0[0]] + list(range(uidnext, uidnext + 5))
    assert search(c, "FLAGGED KEYWORD Important") == [uidnext]
    # COPYUID's destination UIDs are those UID FETCH finds, with the message
    u, t = raw(c, "UID FETCH %d:%d (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])"
               % (uidnext, uidnext + 2))
    assert t.startswith(b"OK"), t
    joined = b"\n".join(u)
    got = sorted(int(x) for x in re.findall(rb"UID (\d+)", joined))
    assert got == [uidnext, uidnext + 1, uidnext + 2], u
    assert b"Important" in joined and b"message 2" in joined
    assert search(c, "SUBJECT \"message 2\"") == [uidnext]
    assert folder_info(c, "Drafts")[2] == 6
    c.select("INBOX")
    # a missing destination: TRYCREATE
    u, t = raw(c, "COPY 1 Nowhere")
    assert t.startswith(b"NO [TRYCREATE]"), t
    u, t = raw(c, "UID MOVE %d Nowhere" % src[0])
    assert t.startswith(b"NO [TRYCREATE]"), t
    # an empty UID set copies nothing
    u, t = raw(c, "UID COPY 9999 Drafts")
    assert t.startswith(b"OK") and b"COPYUID" not in t
    u, t = raw(c, "COPY 7 Drafts")
    assert t.startswith(b"BAD")
    c.logout()


def test_move(srv):
    c = connect(srv)
    src = append(c, "INBOX", 5)
    c.select("INBOX")
    u, t = raw(c, "MOVE 2:3 Archive")
    assert t.startswith(b"OK"), t
    # untagged OK [COPYUID ...] first, then the EXPUNGEs
    assert u[0].startswith(b"* OK [COPYUID "), u
    m = re.match(rb"\* OK \[COPYUID (\d+) (\S+) (\S+)\]", u[0])
    assert m.group(2).decode() == "%d:%d" % (src[1], src[2])
    exp = [ln for ln in u if ln.endswith(b"EXPUNGE")]
    assert exp == [b"* 2 EXPUNGE", b"* 2 EXPUNGE"], u
    assert search(c, "ALL") == [src[0], src[3], src[4]]
    # UID MOVE
    u, t = raw(c, "UID MOVE %d Archive" % src[4])
    assert t.startswith(b"OK"), t
    assert u[0].startswith(b"* OK [COPYUID ")
    assert b"* 3 EXPUNGE" in u
    assert search(c, "ALL") == [src[0], src[3]]
    assert folder_info(c, "Archive")[2] == 3
    c.select("Archive")
    assert len(search(c, "ALL")) == 3
    c.logout()


def test_two_sessions(srv):
    a = connect(srv)
    uids = append(a, "INBOX", 3)
    a.select("INBOX")
    b = connect(srv)
    b.select("INBOX")
    u, t = raw(a, "STORE 2 +FLAGS (\\Seen NewKw)")
    assert t.startswith(b"OK")
    u, t = raw(b, "NOOP")
    f = fetches(u)
    assert 2 in f and "\\Seen" in f[2] and "NewKw" in f[2], u
    assert any(ln.startswith(b"* FLAGS") and b"NewKw" in ln for ln in u), u
    # an expunge in one session is told to the other after its next command
    raw(a, "STORE 1 +FLAGS.SILENT (\\Deleted)")
    u, t = raw(a, "EXPUNGE")
    assert b"* 1 EXPUNGE" in u
    u, t = raw(b, "NOOP")
    assert b"* 1 EXPUNGE" in u, u
    # a MOVE in one shows up as EXPUNGE in the other
    u, t = raw(a, "UID MOVE %d Trash" % uids[2])
    assert t.startswith(b"OK")
    u, t = raw(b, "NOOP")
    assert b"* 2 EXPUNGE" in u, u
    # STORE by sequence number in b does not announce expunges
    raw(a, "UID STORE %d +FLAGS.SILENT (\\Deleted)" % uids[1])
    raw(a, "EXPUNGE")
    u, t = raw(b, "STORE 1 +FLAGS (\\Flagged)")
    assert t.startswith(b"OK") and not any(ln.endswith(b"EXPUNGE") for ln in u), u
    u, t = raw(b, "NOOP")
    assert b"* 1 EXPUNGE" in u, u
    a.logout()
    b.logout()
