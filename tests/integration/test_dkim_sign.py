"""Outbound DKIM signing: mail that starts here (a logged-in user,
sendmail, a client of relay_networks) leaves with one signature per active
key of its From: domain, RSA and Ed25519 side by side, which dkimpy
verifies against the records `postino dkim keygen` printed. Mail from the
outside that is forwarded is not signed."""

import re
import smtplib
import subprocess

import dkim
import dnslib

from peers import peers  # noqa: F401 (the fixture)
from peers import mx_domain
from postino_testlib import sanitizer_env

DOMAIN = "example.test"


def keygen(srv, *args):
    """Make a key; returns (selector, TXT value) from what keygen printed."""
    out = srv.cli("dkim", "keygen", DOMAIN, *args).out
    [line] = [l for l in out.splitlines() if "IN TXT" in l]
    [rr] = dnslib.RR.fromZone(line)
    selector = str(rr.rname).split("._domainkey.")[0]
    return selector, b"".join(rr.rdata.data)


def verify_all(content, records):
    """Verify every DKIM-Signature of content with the given {selector: value}."""
    def dnsfunc(name, timeout=5):
        sel = name.decode().split("._domainkey.")[0]
        return records.get(sel, b"")
    d = dkim.DKIM(content)
    sigs = re.findall(rb"^DKIM-Signature:", content, re.M | re.I)
    for i in range(len(sigs)):
        assert d.verify(idx=i, dnsfunc=dnsfunc), (i, content[:2000])
    return len(sigs)


def submit(srv, rcpt, body="hello"):
    with srv.submission() as c:
        c.ehlo()
        assert c.starttls().code == 220
        c.ehlo()
        assert c.auth_plain("bob@example.test", "secret-pw").code == 235
        assert c.cmd("MAIL FROM:<bob@example.test>").code == 250
        assert c.cmd("RCPT TO:<%s>" % rcpt).code == 250
        assert c.cmd("DATA").code == 354
        r = c.cmd("From: Bob <bob@example.test>\r\nTo: <%s>\r\nSubject: signed\r\n"
                  "Date: Sat, 28 Nov 2026 06:00:00 +0000\r\nMessage-ID: <s1@example.test>\r\n"
                  "\r\n%s\r\n." % (rcpt, body))
        assert r.code == 250, r


def test_submission_signed_rsa_and_ed25519(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    srv = make_server(hostname="mx.example.test")
    records = dict([keygen(srv), keygen(srv, "--type", "ed25519")])
    submit(srv, "carol@" + domain, body="line one\r\n.dot line\r\n\r\n")
    [m] = peer.wait_messages(1)
    assert verify_all(m.content, records) == 2
    sigs = re.findall(rb"^DKIM-Signature:.*?(?=^\S)", m.content, re.M | re.S)
    assert any(b"a=rsa-sha256" in s for s in sigs) and any(b"a=ed25519-sha256" in s for s in sigs)
    assert all(b"d=example.test" in s for s in sigs)
    srv.wait_log(r"DKIM-signed d=example\.test s=%s" % re.escape(list(records)[0]))


def test_sendmail_signed(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    srv = make_server(hostname="mx.example.test")
    records = dict([keygen(srv)])
    msg = ("From: <bob@example.test>\nTo: <carol@%s>\nSubject: from sendmail\n\nhi\n" % domain)
    r = subprocess.run([srv.bin, "sendmail", "--config", srv.conf, "-f", "bob@example.test",
                        "carol@" + domain], input=msg.encode(), capture_output=True, timeout=30,
                       env=sanitizer_env())
    assert r.returncode == 0, r.stderr
    [m] = peer.wait_messages(1)
    assert verify_all(m.content, records) == 1


def test_forwarded_mail_from_outside_not_signed(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    srv = make_server(hostname="mx.example.test", aliases={"fwd@example.test": "carol@" + domain})
    keygen(srv)
    with smtplib.SMTP("127.0.0.1", srv.port, local_hostname="client.example.org", timeout=30) as s:
        s.sendmail("someone@elsewhere.example", ["fwd@example.test"],
                   b"From: <bob@example.test>\r\nSubject: not ours\r\n\r\nhi\r\n")
    [m] = peer.wait_messages(1)
    assert b"DKIM-Signature" not in m.content


def test_no_keys_no_signature(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    srv = make_server(hostname="mx.example.test")
    submit(srv, "carol@" + domain)
    [m] = peer.wait_messages(1)
    assert b"DKIM-Signature" not in m.content
