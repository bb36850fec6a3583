"""IMAP SEARCH and UID SEARCH against a real server with Python's imaplib
over TLS (RFC 3501 6.4.4, RFC 2047 encoded words, MIME bodies)."""

import email.header
import imaplib
import os
import quopri
import re
import sqlite3
import ssl
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.message import EmailMessage

import pytest

from postino_testlib import DOMAIN

PASSWORD = "secret-pw"


def connect(srv, user="bob"):
    ctx = ssl._create_unverified_context()
    c = imaplib.IMAP4_SSL("127.0.0.1", srv.port_base + 993, ssl_context=ctx, timeout=30)
    c.login("%s@%s" % (user, DOMAIN), PASSWORD)
    return c


def raw(c, line):
    """Send one command line; (untagged lines, tagged line) as bytes."""
    tag = c._new_tag()
    c.send(tag + b" " + line + b"\r\n")
    untagged = []
    while True:
        ln = c._get_line()
        if ln.startswith(tag + b" "):
            return untagged, ln[len(tag) + 1:]
        untagged.append(ln)


def as_crlf(msg):
    return msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def plain(subject, body, frm="Alice <alice@example.org>", to="bob@example.test", date=None,
          cc=None, bcc=None, extra=None):
    m = EmailMessage()
    m["From"] = frm
    m["To"] = to
    if cc:
        m["Cc"] = cc
    if bcc:
        m["Bcc"] = bcc
    m["Subject"] = subject
    m["Date"] = date or "Mon, 02 Jan 2023 10:00:00 +0000"
    for k, v in (extra or {}).items():
        m[k] = v
    m.set_content(body)
    return m


def build_messages():
    """The messages of the test mailbox, in order (UIDs 1..n)."""
    msgs = []
    # 1: plain ASCII
    msgs.append(plain("Quarterly budget report", "The numbers look fine.\n",
                      cc="Carol <carol@example.net>", date="Tue, 10 Jan 2023 09:00:00 +0100",
                      extra={"X-Priority": "1", "Message-ID": "<one@example.org>"}))
    # 2: UTF-8 subject (RFC 2047, B), base64 body
    m = plain("Grüße aus Köln", "Schöne Grüße und ein Känguru im Text.\n",
              frm="=?utf-8?q?J=C3=BCrgen?= <juergen@example.de>",
              date="Wed, 1 Feb 2023 12:00:00 +0000")
    m.set_content("Schöne Grüße und ein Känguru im Text.\n", charset="utf-8", cte="base64")
    m.replace_header("Subject", email.header.Header("Grüße aus Köln", "utf-8").encode())
    msgs.append(m)
    # 3: ISO-8859-1 subject (Q), quoted-printable body in ISO-8859-1
    body = ("Voilà un café crème très spécial, with a long line that quoted-printable "
            "will have to fold with soft line breaks somewhere around here.\n").encode("latin-1")
    qp = quopri.encodestring(body)
    assert b"=\n" in qp and b"=E8" in qp
    msgs.append(b"From: Bob <bob@example.test>\nTo: alice@example.org\n"
                b"Subject: " + email.header.Header("Café crème", "iso-8859-1").encode().encode()
                + b"\nDate: 15 Mar 2023 08:30:00 -0500\nMIME-Version: 1.0\n"
                b"Content-Type: text/plain; charset=iso-8859-1\n"
                b"Content-Transfer-Encoding: quoted-printable\n\n" + qp)
    # 4: multipart with an HTML alternative and an attachment; folded subject
    m = MIMEMultipart()
    m["From"] = "Dave <dave@example.com>"
    m["To"] = "bob@example.test, team@example.test"
    m["Bcc"] = "secret@example.com"
    m["Subject"] = "A rather long subject line that is folded\r\n over two lines for zebra"
    m["Date"] = "Sat, 01 Apr 2023 00:00:00 +0000"
    m.attach(MIMEText("The attachment holds the platypus data.\n", "plain", "utf-8"))
    att = MIMEText("hidden-needle-in-attachment", "csv")
    att.add_header("Content-Disposition", "attachment", filename="d.csv")
    m.attach(att)
    msgs.append(m)
    # 5: no Date, a large body
    m = EmailMessage()
    m["From"] = "eve@example.org"
    m["To"] = "bob@example.test"
    m["Subject"] = "big one"
    m.set_content("filler line\n" * 3000 + "the ocelot is at the end\n")
    msgs.append(m)
    return [m.replace(b"\n", b"\r\n") if isinstance(m, bytes) else as_crlf(m) for m in msgs]


DATES = ['"05-Jan-2023 10:00:00 +0000"', '"05-Feb-2023 10:00:00 +0000"',
         '"20-Mar-2023 12:00:00 +0000"', '"01-Apr-2023 12:00:00 +0000"',
         '"10-May-2023 10:00:00 +0000"']


@pytest.fixture(scope="module")
def box():
    """One server and one session for the module (make_server is per test):
    bob's INBOX holds build_messages() with some flags set."""
    from postino_testlib import Server
    srv = Server({})
    c = None
    try:
        srv.init()
        srv.add_user("bob")
        srv.start()
        c = connect(srv)
        for data, date in zip(build_messages(), DATES):
            typ, resp = c.append("INBOX", None, date, data)
            assert typ == "OK", resp
        c.select("INBOX")
        raw(c, b"STORE 1 +FLAGS.SILENT (\\Seen \\Answered)")
        raw(c, b"STORE 2 +FLAGS.SILENT (\\Flagged $Work)")
        raw(c, b"STORE 3 +FLAGS.SILENT (\\Deleted \\Seen)")
        raw(c, b"STORE 4 +FLAGS.SILENT (\\Draft)")
        yield srv, c
    finally:
        if c is not None:
            try:
                c.logout()
            except Exception:
                pass
        problems = srv.teardown_problems() if srv.proc is not None else []
        srv.cleanup()
    assert not problems, problems


def search(c, criteria, uid=False):
    if isinstance(criteria, str):
        criteria = criteria.encode()
    untagged, tagged = raw(c, (b"UID SEARCH " if uid else b"SEARCH ") + criteria)
    assert tagged.startswith(b"OK"), (criteria, tagged)
    lines = [ln for ln in untagged if ln.startswith(b"* SEARCH")]
    assert len(lines) == 1, untagged
    return [int(x) for x in lines[0][8:].split() if x.isdigit()]


CASES = [
    ("ALL", [1, 2, 3, 4, 5]),
    # flags and keywords
    ("SEEN", [1, 3]), ("UNSEEN", [2, 4, 5]), ("ANSWERED", [1]), ("UNANSWERED", [2, 3, 4, 5]),
    ("FLAGGED", [2]), ("UNFLAGGED", [1, 3, 4, 5]), ("DELETED", [3]),
    ("UNDELETED", [1, 2, 4, 5]), ("DRAFT", [4]), ("UNDRAFT", [1, 2, 3, 5]),
    ("KEYWORD $Work", [2]), ("UNKEYWORD $Work", [1, 3, 4, 5]), ("KEYWORD $Nothing", []),
    ("UNKEYWORD $Nothing", [1, 2, 3, 4, 5]),
    # this session saw them arrive
    ("RECENT", [1, 2, 3, 4, 5]), ("OLD", []), ("NEW", [2, 4, 5]),
    # sizes
    ("LARGER 20000", [5]), ("SMALLER 20000", [1, 2, 3, 4]),
    # internal dates
    ("BEFORE 05-Feb-2023", [1]), ("ON 05-Feb-2023", [2]), ("SINCE 20-Mar-2023", [3, 4, 5]),
    ("ON 20-Mar-2023", [3]), ("SINCE 1-Jan-2030", []),
    # Date: header (as written, time and zone disregarded)
    ("SENTBEFORE 1-Feb-2023", [1]), ("SENTON 1-Feb-2023", [2]), ("SENTON 15-Mar-2023", [3]),
    ("SENTSINCE 15-Mar-2023", [3, 4]), ("SENTSINCE 1-Jan-2000", [1, 2, 3, 4]),
    # sets
    ("1:2", [1, 2]), ("2,4:*", [2, 4, 5]), ("*", [5]), ("4:9", [4, 5]),
    ("UID 3:*", [3, 4, 5]), ("UID 2,5", [2, 5]), ("UID 10:*", [5]),
    # header keys
    ("SUBJECT budget", [1]), ("SUBJECT BUDGET", [1]), ("SUBJECT zebra", [4]),
    ("SUBJECT \"folded over\"", [4]), ("FROM alice", [1]),
    ("FROM juergen@example.de", [2]), ("TO team@example.test", [4]), ("CC carol", [1]),
    ("BCC secret@", [4]), ("HEADER X-Priority 1", [1]), ("HEADER X-Priority \"\"", [1]),
    ("HEADER Message-ID one@example", [1]), ("HEADER Message-ID \"\"", [1]),
    ("HEADER Content-Transfer-Encoding base64", [2]), ("HEADER X-Nothing \"\"", []),
    # body and text
    ("BODY platypus", [4]), ("BODY ocelot", [5]), ("BODY PLATYPUS", [4]),
    ("BODY hidden-needle", [4]), ("BODY budget", []), ("TEXT budget", [1]),
    ("TEXT ocelot", [5]), ("TEXT eve@example.org", [5]), ("BODY \"soft line breaks\"", [3]),
    # NOT / OR / AND nesting
    ("NOT SEEN", [2, 4, 5]), ("OR SEEN FLAGGED", [1, 2, 3]),
    ("OR (SEEN ANSWERED) DRAFT", [1, 4]), ("NOT (OR SEEN FLAGGED)", [4, 5]),
    ("OR NOT SEEN DELETED SUBJECT budget", []), ("OR NOT SEEN DELETED LARGER 1", [2, 3, 4, 5]),
    ("SEEN NOT DELETED", [1]), ("OR SUBJECT zebra BODY ocelot", [4, 5]),
    ("NOT OR SUBJECT zebra BODY ocelot", [1, 2, 3]), ("(SUBJECT big) LARGER 100", [5]),
    ("OR OR 1 2 3", [1, 2, 3]), ("NOT NOT 2", [2]),
]


@pytest.mark.parametrize("criteria,expect", CASES, ids=[c[0] for c in CASES])
def test_search_keys(box, criteria, expect):
    srv, c = box
    assert search(c, criteria) == expect


def test_uid_search_gives_uids(box):
    srv, c = box
    u, t = raw(c, b"EXAMINE INBOX")
    uids = search(c, "ALL", uid=True)
    assert len(uids) == 5
    assert search(c, "SUBJECT zebra", uid=True) == [uids[3]]
    assert search(c, "UID %d:*" % uids[2], uid=True) == uids[2:]
    assert search(c, "2:3", uid=True) == uids[1:3]
    c.select("INBOX")


def search_literal(c, prefix, data):
    """SEARCH with data sent as a synchronizing literal after prefix."""
    tag = c._new_tag()
    c.send(tag + b" " + prefix + b" {%d}\r\n" % len(data))
    ln = c._get_line()
    assert ln.startswith(b"+"), ln
    c.send(data + b"\r\n")
    got = None
    while True:
        ln = c._get_line()
        if ln.startswith(b"* SEARCH"):
            got = [int(x) for x in ln[8:].split()]
        elif ln.startswith(tag):
            assert ln.startswith(tag + b" OK"), ln
            return got


def test_encoded_words(box):
    srv, c = box
    # RFC 2047 subjects and From (UTF-8 B, ISO-8859-1 Q), UTF-8 in literals
    for key, word, expect in ((b"SUBJECT", "Grüße", [2]), (b"SUBJECT", "KÖLN", [2]),
                              (b"SUBJECT", "café", [3]), (b"SUBJECT", "CRÈME", [3]),
                              (b"FROM", "Jürgen", [2]), (b"TEXT", "grüße aus", [2])):
        assert search_literal(c, b"SEARCH CHARSET UTF-8 " + key, word.encode()) == expect, word
    # decoded bodies: base64 in UTF-8, quoted-printable in ISO-8859-1
    for word, expect in (("Känguru", [2]), ("crème très", [3]), ("SPÉCIAL", [3])):
        assert search_literal(c, b"UID SEARCH CHARSET UTF-8 BODY", word.encode()) == expect, word


def test_charsets(box):
    srv, c = box
    assert search(c, "CHARSET US-ASCII SUBJECT budget") == [1]
    assert search(c, "CHARSET utf-8 SUBJECT budget") == [1]
    u, t = raw(c, b"SEARCH CHARSET KOI8-R SUBJECT budget")
    assert t.startswith(b"NO [BADCHARSET"), t
    assert b"UTF-8" in t and b"US-ASCII" in t


def test_bad_searches(box):
    srv, c = box
    for bad in (b"SEARCH", b"SEARCH FOO", b"SEARCH SUBJECT", b"SEARCH BEFORE 32-Jan-2023",
                b"SEARCH OR SEEN", b"SEARCH LARGER x", b"SEARCH (SEEN"):
        u, t = raw(c, bad)
        assert t.startswith(b"BAD"), (bad, t)


def test_header_cache(box):
    """The header fields a search reads are cached in the index: one "hdr"
    entry a message, and the answers stay the same when read from it."""
    srv, c = box
    assert search(c, "SUBJECT budget") == [1]
    db = os.path.join(srv.maildir("bob"), "index.db")
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        n = con.execute("SELECT count(*) FROM cache WHERE key = 'hdr'").fetchone()[0]
    finally:
        con.close()
    assert n == 5
    assert search(c, "OR FROM dave SUBJECT budget") == [1, 4]
    assert search(c, "SENTON 15-Mar-2023") == [3]


def test_new_messages_and_expunge(make_server):
    srv = make_server()
    c = connect(srv)
    for i in range(3):
        c.append("INBOX", None, None, as_crlf(plain("note %d" % i, "text %d\n" % i)))
    c.select("INBOX")
    assert search(c, "RECENT") == [1, 2, 3]
    assert search(c, "NEW") == [1, 2, 3]
    raw(c, b"STORE 2 +FLAGS.SILENT (\\Seen)")
    assert search(c, "NEW") == [1, 3]
    raw(c, b"STORE 1 +FLAGS.SILENT (\\Deleted)")
    raw(c, b"EXPUNGE")
    assert search(c, "SUBJECT note") == [1, 2]
    assert search(c, "SUBJECT \"note 2\"") == [2]
    assert search(c, "SUBJECT note", uid=True) == [2, 3]
    c.logout()
