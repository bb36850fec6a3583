"""The content policy at the end of DATA: rule tables in the format of
Postfix's pcre tables (header_checks, mime_header_checks, body_checks) with
every action postino applies, attachment checks (by name, by content,
inside archives, nested, encrypted; RAR from the samples of
tests/testdata/rar), the quarantine tools, and a bad rule file refused with
its file and line. Messages are built with Python's email package and sent
with smtplib."""

import io
import os
import re
import smtplib
import struct
import subprocess
import tarfile
import time
import zipfile
from email import policy as email_policy
from email.message import EmailMessage

import pytest

from peers import events_of, wait_event

RAR_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "rar")

BOB = "bob@example.test"
CAROL = "carol@example.test"

HEADER_CHECKS = r"""
# rules for the tests (Postfix pcre syntax)
/^Subject:.*viagra/        REJECT 5.7.1 No pills here
/^Content-Type: multipart\/report/   DISCARD backscatter: this domain sends no mail
/^Subject: hold me/        HOLD waiting for a look
/^Subject: quarantine me/  QUARANTINE looks suspicious
/^X-Mailer: BadMailer/     WARN an old mailer
/^X-Remove-Me:/            IGNORE
/^Subject: tag (\w+)/      PREPEND X-Tagged: $1
/^Subject: redirect me/    REDIRECT carol@example.test
if /^Subject:/
/forbidden word/           REJECT not that word
endif
"""

BODY_CHECKS = r"""
/cheap watches/            REJECT 5.7.1 Spam body
/^ordinary$/               DUNNO
"""

MIME_HEADER_CHECKS = r"""
/^Content-Disposition:.*filename="?secret/   REJECT no secrets by mail
"""


def write_rules(srv, name, text):
    d = os.path.join(srv.dir, "rules")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    return path


@pytest.fixture
def srv(make_server):
    s = make_server(users=("bob", "carol"), start=False,
                    header_checks="rules/header_checks", body_checks="rules/body_checks",
                    mime_header_checks="rules/mime_header_checks",
                    attachment_encrypted="quarantine")
    write_rules(s, "header_checks", HEADER_CHECKS)
    write_rules(s, "body_checks", BODY_CHECKS)
    write_rules(s, "mime_header_checks", MIME_HEADER_CHECKS)
    s.start()
    return s


def message(subject, body="hello\n", to=BOB, headers=(), attachments=()):
    m = EmailMessage()
    m["From"] = "sender@remote.test"
    m["To"] = to
    m["Subject"] = subject
    for k, v in headers:
        m[k] = v
    m.set_content(body)
    for name, data, ctype in attachments:
        maintype, subtype = ctype.split("/")
        m.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return m


def send(srv, msg, rcpts=(BOB,)):
    """(code, text, queue id or None) of sending msg."""
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=30) as c:
        c.ehlo("client.example.org")
        c.mail("sender@remote.test")
        for r in rcpts:
            code, _ = c.rcpt(r)
            assert code == 250
        code, text = c.data(msg.as_bytes(policy=email_policy.SMTP))
        text = text.decode()
        m = re.search(r"queued as (\w+)", text)
        return code, text, m.group(1) if m else None


def pe_bytes():
    """The start of a Windows executable: MZ, e_lfanew, PE signature."""
    b = bytearray(512)
    b[0:2] = b"MZ"
    struct.pack_into("<I", b, 0x3C, 0x80)
    b[0x80:0x84] = b"PE\0\0"
    return bytes(b)


def zip_of(files):
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files:
            z.writestr(name, data)
    return bio.getvalue()


def tar_gz_of(files):
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w:gz") as t:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return bio.getvalue()


def encrypted_zip(files):
    """A zip whose entries carry the 'encrypted' flag (bit 0 of the
    general purpose flags, in the local and the central headers): what a
    password-protected archive looks like to a reader without the
    password. Python's zipfile cannot encrypt."""
    raw = bytearray(zip_of(files))
    i = 0
    while True:
        i = raw.find(b"PK\x03\x04", i)
        if i < 0:
            break
        raw[i + 6] |= 1
        i += 4
    i = 0
    while True:
        i = raw.find(b"PK\x01\x02", i)
        if i < 0:
            break
        raw[i + 8] |= 1
        i += 4
    return bytes(raw)


def test_reject_by_header_and_body(srv):
    code, text, _ = send(srv, message("cheap viagra"))
    assert (code, text[:5]) == (550, "5.7.1"), text
    assert "No pills here" in text
    # if/endif: only in the Subject
    code, text, _ = send(srv, message("a forbidden word here"))
    assert code == 550 and "not that word" in text, text
    code, _, _ = send(srv, message("fine", headers=[("X-Note", "forbidden word")]))
    assert code == 250
    code, text, _ = send(srv, message("watch offer", body="buy\ncheap watches now\n"))
    assert code == 550 and "Spam body" in text, text
    srv.wait_for_maildir("bob", 1)
    assert srv.grep_log(r"reject: .*header_checks line \d+: REJECT 5\.7\.1 No pills here|"
                        r"NOQUEUE: reject: DATA from \[127\.0\.0\.1\]: 550 5\.7\.1 No pills here")
    assert len(srv.messages("bob")) == 1


def test_discard_backscatter(srv):
    """The documented example: a domain that sends no mail discards the
    delivery reports (backscatter) sent to it."""
    raw = (b"From: MAILER-DAEMON@remote.test\r\nTo: bob@example.test\r\n"
           b"Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n"
           b"\r\n--b1\r\nContent-Type: text/plain\r\n\r\nreport\r\n--b1--\r\n")
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=30) as c:
        c.ehlo("client.example.org")
        c.mail("MAILER-DAEMON@remote.test")
        assert c.rcpt(BOB)[0] == 250
        code, text = c.data(raw)
    text = text.decode()
    qid = re.search(r"queued as (\w+)", text).group(1)
    assert code == 250, text
    evs = wait_event(srv, qid, "discarded")
    assert "backscatter" in evs[0][2], evs
    out = srv.cli("trace", qid).out
    assert "discarded (discarded by the content policy" in out, out
    assert srv.grep_log(r"%s: discard: .*DISCARD backscatter" % qid)
    time.sleep(0.5)
    assert srv.messages("bob") == []
    assert srv.queue_ids() == []


def test_hold_and_quarantine(srv):
    code, _, held = send(srv, message("hold me please"))
    assert code == 250 and held
    assert any(n.startswith(held) for n in srv.spool("hold"))
    wait_event(srv, held, "held")
    out = srv.cli("trace", held).out
    assert "held by the content policy" in out and "HOLD waiting for a look" in out, out
    code, _, q = send(srv, message("quarantine me now"))
    assert code == 250 and q
    wait_event(srv, q, "quarantined")
    out = srv.cli("quarantine", "list").out
    assert q in out and "1 message in quarantine" in out, out
    out = srv.cli("quarantine", "show", q).out
    assert "QUARANTINE looks suspicious" in out, out
    time.sleep(0.5)
    assert srv.messages("bob") == []
    # released: it goes on to delivery
    out = srv.cli("quarantine", "release", q).out
    assert "released" in out
    srv.cli("queue", "flush")
    msgs = srv.wait_for_maildir("bob", 1, timeout=30)
    assert b"quarantine me now" in msgs[0]
    assert "0 messages in quarantine" in srv.cli("quarantine", "list").out
    r = srv.cli("quarantine", "delete", q, check=False)
    assert r.returncode == 1 and "not in quarantine" in r.err


def test_warn_ignore_prepend_redirect(srv):
    code, _, qid = send(srv, message("tag blue", headers=[("X-Mailer", "BadMailer 1.0"),
                                                         ("X-Remove-Me", "secret")]))
    assert code == 250
    msg = srv.wait_for_maildir("bob", 1)[0]
    assert b"X-Remove-Me" not in msg
    hdr = msg.split(b"\n\n", 1)[0]
    assert re.search(rb"X-Tagged: blue\r?\nSubject: tag blue", hdr), hdr
    assert srv.grep_log(r"%s: warning: .*WARN an old mailer for the header \"X-Mailer: BadMailer"
                        % qid)
    code, _, _ = send(srv, message("redirect me"))
    assert code == 250
    msgs = srv.wait_for_maildir("carol", 1)
    assert b"redirect me" in msgs[0]
    time.sleep(0.3)
    assert len(srv.messages("bob")) == 1


def test_mime_header_checks(srv):
    code, text, _ = send(srv, message("report", attachments=[("secret-plan.txt", b"x",
                                                               "text/plain")]))
    assert code == 550 and "no secrets by mail" in text, text
    code, _, _ = send(srv, message("report", attachments=[("plan.txt", b"x", "text/plain")]))
    assert code == 250


def test_attachments_refused(srv):
    cases = [
        ("invoice.pdf.exe", b"%PDF-1.4 not really", "application/pdf",
         "invoice.pdf.exe", "double extension"),
        ("run.js", b"alert(1)", "application/octet-stream", "run.js", ".js"),
        ("invoice.zip", zip_of([("invoice.pdf", pe_bytes())]), "application/zip",
         "invoice.zip/invoice.pdf", "executable"),
        ("outer.zip", zip_of([("inner.zip", zip_of([("payload.vbs", b"x")]))]),
         "application/zip", "outer.zip/inner.zip/payload.vbs", ".vbs"),
        ("report.docm", b"PK not really", "application/octet-stream", "report.docm", "docm"),
        # two archives in one: tar tools see the tarball, zip tools the zip
        ("files.zip", tar_gz_of([("notes.txt", b"a")]) + zip_of([("payload.vbs", b"x")]),
         "application/zip", "files.zip/payload.vbs", ".vbs"),
    ]
    for name, data, ctype, path, reason in cases:
        code, text, _ = send(srv, message("files", attachments=[(name, data, ctype)]))
        assert (code, text[:5]) == (554, "5.7.1"), (name, text)
        assert path in text and reason in text, (name, text)
    # a harmless attachment passes, a zip of text files too
    code, _, _ = send(srv, message("files", attachments=[
        ("notes.pdf", b"%PDF-1.4\n", "application/pdf"),
        ("texts.zip", zip_of([("a.txt", b"a"), ("b.csv", b"1,2")]), "application/zip")]))
    assert code == 250
    srv.wait_for_maildir("bob", 1)
    assert srv.grep_log(r"NOQUEUE: reject: DATA from \[127\.0\.0\.1\]: 554 5\.7\.1 Message "
                        r"refused: attachment invoice\.zip/invoice\.pdf")


def test_encrypted_archive_quarantined(srv):
    """attachment_encrypted=quarantine here (the default rejects)."""
    code, _, qid = send(srv, message("locked", attachments=[
        ("locked.zip", encrypted_zip([("doc.txt", b"text")]), "application/zip")]))
    assert code == 250 and qid
    wait_event(srv, qid, "quarantined")
    out = srv.cli("quarantine", "show", qid).out
    assert "encrypted" in out, out


def rar_sample(rel):
    """A RAR sample of tests/testdata/rar (written by its make_rar.py:
    nothing free writes RAR)."""
    with open(os.path.join(RAR_DIR, rel), "rb") as f:
        return f.read()


def test_rar_attachments(srv):
    cases = [
        ("rar4/invoice-exe.rar", "documents.rar", "documents.rar/invoice.pdf.exe",
         "double extension .pdf.exe"),
        ("rar5/invoice-exe.rar", "documents.rar", "documents.rar/invoice.pdf.exe",
         "double extension .pdf.exe"),
        ("rar5/scan-pe.rar", "documents.rar", "documents.rar/scan.pdf", "executable content (PE)"),
        ("rar4/nested-zip.rar", "documents.rar", "documents.rar/docs.zip/run.js", ".js"),
        # known by its content whatever its name
        ("rar4/invoice-exe.rar", "scan.dat", "scan.dat/invoice.pdf.exe", "double extension"),
        # a zip after the RAR does not hide it
        ("rar4/zip-polyglot.rar", "documents.rar", "documents.rar/invoice.pdf.exe",
         "double extension"),
    ]
    for rel, name, path, reason in cases:
        code, text, _ = send(srv, message("files", attachments=[
            (name, rar_sample(rel), "application/vnd.rar")]))
        assert (code, text[:5]) == (554, "5.7.1"), (rel, text)
        assert ("Message refused: attachment %s: " % path) in text and reason in text, (rel, text)
    code, _, _ = send(srv, message("files", attachments=[
        ("notes.rar", rar_sample("rar4/notes.rar"), "application/vnd.rar"),
        ("notes5.rar", rar_sample("rar5/notes.rar"), "application/x-rar-compressed")]))
    assert code == 250
    srv.wait_for_maildir("bob", 1)
    assert srv.grep_log(r"NOQUEUE: reject: DATA from \[127\.0\.0\.1\]: 554 5\.7\.1 Message "
                        r"refused: attachment documents\.rar/docs\.zip/run\.js")


def test_encrypted_rar_quarantined(srv):
    """attachment_encrypted=quarantine here: RAR 4.x entries (flagged by
    libarchive) and RAR 5.0 ones (found from the archive's headers)."""
    for rel in ("rar4/encrypted.rar", "rar5/encrypted.rar", "rar5/encrypted-headers.rar"):
        code, text, qid = send(srv, message("locked", attachments=[
            ("statement.rar", rar_sample(rel), "application/vnd.rar")]))
        assert code == 250 and qid, (rel, text)
        wait_event(srv, qid, "quarantined")
        out = srv.cli("quarantine", "show", qid).out
        assert "attachment statement.rar" in out and "encrypted archive" in out, (rel, out)
    # a blocked name in an encrypted archive is still refused
    code, text, _ = send(srv, message("locked", attachments=[
        ("statement.rar", rar_sample("rar4/encrypted-exe.rar"), "application/vnd.rar")]))
    assert code == 554 and "statement.rar/statement.pdf.exe" in text, text


def test_bad_rule_file_names_file_and_line(make_server):
    srv = make_server(start=False, header_checks="rules/bad")
    path = write_rules(srv, "bad", "/ok/ WARN fine\n/unterminated REJECT\n")
    r = srv.cli("check-config", check=False)
    assert r.returncode != 0
    assert "%s:2:" % path in r.err, r.err
    # the server refuses to start with it, and says why
    with open(srv.log_path, "ab") as log:
        p = subprocess.run([srv.bin, "serve", "--config", srv.conf], stdout=log, stderr=log,
                           timeout=60)
    assert p.returncode != 0
    assert "%s:2:" % path in srv.log()
    # a FILTER whose next hop the queue could not use
    write_rules(srv, "bad", "/x/ WARN fine\n/y/ FILTER smtp:[127.0.0.1]:99999\n")
    r = srv.cli("check-config", check=False)
    assert r.returncode != 0, r.err
    assert '%s:2: bad FILTER next hop "smtp:[127.0.0.1]:99999": bad port' % path in r.err, r.err
    write_rules(srv, "bad", "/x/ FILTER smtp:[127.0.0.1]:10025\n")
    srv.cli("check-config")


def test_quarantine_expires(make_server):
    srv = make_server(start=False, header_checks="rules/header_checks",
                      quarantine_retention="1h", queue_scan_interval="1s")
    write_rules(srv, "header_checks", HEADER_CHECKS)
    srv.start()
    code, _, qid = send(srv, message("quarantine me later"))
    assert code == 250 and qid
    path = os.path.join(srv.dir, "spool", "quarantine", qid + ".msg")
    assert os.path.exists(path)
    old = time.time() - 2 * 3600
    os.utime(path, (old, old))
    srv.wait_log(r"removed 1 quarantined message older than 1 hours \(quarantine_retention\)",
                 timeout=20)
    assert not os.path.exists(path)
