"""Virus scanning with Debian's clamd (clamd_peer.py: a private clamd with
the EICAR test signature only) before the final reply to DATA: the EICAR
file attached (also zipped) is refused naming the signature; clean mail
passes; clamd gone gives 451 by default, or acceptance with a warning
field with clamd_unavailable=accept; a message over clamd_max_size is
accepted unscanned, with a field saying so."""

import io
import os
import re
import smtplib
import zipfile
from email import policy as email_policy
from email.message import EmailMessage

import pytest

from clamd_peer import EICAR, EICAR_NAME, clamd  # noqa: F401 (fixture)

BOB = "bob@example.test"


def message(subject, attachments=(), body="hello\n"):
    m = EmailMessage()
    m["From"] = "sender@remote.test"
    m["To"] = BOB
    m["Subject"] = subject
    m.set_content(body)
    for name, data in attachments:
        m.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return m.as_bytes(policy=email_policy.SMTP)


def send(srv, raw):
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=60) as c:
        c.ehlo("client.example.org")
        c.mail("sender@remote.test")
        assert c.rcpt(BOB)[0] == 250
        code, text = c.data(raw)
        return code, text.decode()


def zipped(name, data):
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, data)
    return bio.getvalue()


def test_infected_refused_clean_passes(clamd, make_server):
    srv = make_server(clamd_socket=clamd.socket)
    code, text = send(srv, message("eicar", [("eicar.com.txt", EICAR)]))
    assert code == 554 and text.startswith("5.7.1"), text
    assert "virus found: %s" % EICAR_NAME in text, text
    # zipped: clamd opens the archive (postino's own checks see only a text file)
    code, text = send(srv, message("eicar zipped", [("readme.zip", zipped("readme.txt", EICAR))]))
    assert code == 554 and EICAR_NAME in text, text
    code, text = send(srv, message("clean", [("notes.txt", b"nothing here\n" * 1000)]))
    assert code == 250, text
    msgs = srv.wait_for_maildir("bob", 1)
    assert len(msgs) == 1 and b"X-Postino-Virus-Scan" not in msgs[0]
    assert srv.grep_log(r"NOQUEUE: reject: DATA from \[127\.0\.0\.1\]: 554 5\.7\.1 Message "
                        r"refused: virus found: %s" % EICAR_NAME)


def test_clamd_unreachable(make_server, tmp_path):
    missing = "/tmp/postino-no-such-clamd-%d.sock" % os.getpid()
    srv = make_server(clamd_socket=missing)
    code, text = send(srv, message("no scanner"))
    assert (code, text[:5]) == (451, "4.7.1"), text
    assert srv.grep_log(r"virus scan failed \(connect: .*\); tempfail")
    srv2 = make_server(clamd_socket=missing, clamd_unavailable="accept")
    code, text = send(srv2, message("accepted anyway"))
    assert code == 250, text
    msg = srv2.wait_for_maildir("bob", 1)[0]
    assert b"X-Postino-Virus-Scan: not scanned (scanner unavailable)" in msg


def test_too_large_not_scanned(clamd, make_server):
    srv = make_server(clamd_socket=clamd.socket, clamd_max_size="2K")
    code, text = send(srv, message("big", body="line of text\n" * 400))
    assert code == 250, text
    msg = srv.wait_for_maildir("bob", 1)[0]
    assert b"X-Postino-Virus-Scan: not scanned (too large)" in msg
