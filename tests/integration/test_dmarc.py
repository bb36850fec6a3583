"""DKIM verification and DMARC in the SMTP service, against records served
by the tests' DNS server and messages signed by dkimpy (with the RFC 8463
Ed25519 key): an aligned signature passes; p=reject without an aligned
pass refuses the message at the end of DATA with 550 5.7.1; p=quarantine,
and p=reject with pct=0, deliver to the Junk folder; a subdomain policy
applies to subdomains; the Organizational Domain is found under a
multi-label public suffix; a message with two From: fields is refused."""

import json
import os
import smtplib
import time
import uuid

import dkim

from postino_testlib import header_values

HERE = os.path.dirname(os.path.abspath(__file__))
RFC = os.path.join(HERE, "..", "testdata", "dkim", "rfc")
ED_PUBLIC = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="


def token():
    return uuid.uuid4().hex[:10]


def seed():
    with open(os.path.join(RFC, "rfc8463-brisbane-ed25519.seed.b64"), "rb") as f:
        return f.read().strip()


def server(make_server, **settings):
    s = {"spf_check": "yes", "dkim_verify": "yes", "hostname": "mx.example.test"}
    s.update(settings)
    return make_server(**s)


def message(from_domain, tok, sign_domain=None, extra=""):
    msg = ("From: Alice <alice@%s>\r\n%sTo: <bob@example.test>\r\nSubject: dmarc %s\r\n"
           "Date: Sat, 28 Nov 2026 06:00:00 +0000\r\nMessage-ID: <%s@%s>\r\n\r\n"
           "Hello.\r\n" % (from_domain, extra, tok, tok, from_domain)).encode()
    if sign_domain:
        sig = dkim.sign(msg, b"ed", sign_domain.encode(), seed(),
                        signature_algorithm=b"ed25519-sha256", linesep=b"\r\n")
        msg = sig + msg
    return msg


def publish(dns, domain, dmarc=None, spf="v=spf1 -all", key=True):
    dns.add(domain, "TXT", spf)
    if key:
        dns.add("ed._domainkey." + domain, "TXT", ED_PUBLIC)
    if dmarc:
        dns.add("_dmarc." + domain, "TXT", dmarc)


def send(srv, sender, msg):
    """(code, reply text) of the end of DATA."""
    with smtplib.SMTP("127.0.0.1", srv.port, local_hostname="client.example.org", timeout=30) as s:
        s.ehlo()
        assert s.mail(sender)[0] == 250
        assert s.rcpt("bob@example.test")[0] == 250
        code, resp = s.data(msg)
        return code, resp.decode()


def delivered(srv, tok, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(tok.encode() in m for m in srv.messages("bob")):
            return True
        time.sleep(0.05)
    return False


def in_junk(srv, tok, timeout=15):
    junk = os.path.join(srv.maildir("bob"), ".Junk", "new")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for n in os.listdir(junk) if os.path.isdir(junk) else []:
            with open(os.path.join(junk, n), "rb") as f:
                if tok.encode() in f.read():
                    return True
        time.sleep(0.05)
    return False


def test_aligned_dkim_passes_dmarc(make_server, dns):
    d = "d%s.example" % token()
    publish(dns, d, dmarc="v=DMARC1; p=reject")
    srv = server(make_server)
    tok = token()
    code, text = send(srv, "alice@" + d, message(d, tok, sign_domain=d))
    assert code == 250, text
    assert delivered(srv, tok)
    [stored] = [m for m in srv.messages("bob") if tok.encode() in m]
    # RFC 8601: what was found, on top of the message
    assert b"\nDelivered-To: bob@example.test\nAuthentication-Results: mx.example.test;\n" in \
        stored, stored[:300]
    [ar] = header_values(stored, "Authentication-Results")
    assert ar.startswith("mx.example.test; spf=fail smtp.mailfrom=alice@%s; dkim=pass" % d), ar
    assert "header.d=%s header.i=@%s header.s=ed header.a=ed25519-sha256" % (d, d) in ar, ar
    assert ar.endswith("; dmarc=pass (p=reject dis=none) header.from=%s" % d), ar
    srv.wait_log(r"dkim=pass d=%s s=ed dmarc=pass \(p=reject\) header\.from=%s client=\[127\.0\.0\.1\]"
                 % (d.replace(".", r"\."), d.replace(".", r"\.")))


def test_reject_without_aligned_pass(make_server, dns):
    d = "d%s.example" % token()
    other = "o%s.example" % token()
    publish(dns, d, dmarc="v=DMARC1; p=reject")
    publish(dns, other)
    srv = server(make_server)
    for signer in (None, other):  # unsigned, and signed by a domain that is not aligned
        tok = token()
        code, text = send(srv, "alice@" + d, message(d, tok, sign_domain=signer))
        assert code == 550 and text.startswith("5.7.1 Message refused: %s does not accept" % d), \
            (code, text)
        assert not delivered(srv, tok, timeout=1)
    srv.wait_log(r"NOQUEUE: reject: DATA from \[127\.0\.0\.1\]: 550 5\.7\.1 ", count=2)
    # both count in the aggregate data of d, as one row: reject, nothing
    # aligned (smtpd writes it just after its reply: wait for the count)
    deadline = time.time() + 15
    while True:
        rows = [r for r in json.loads(srv.cli("dmarc", "stats", "--json").out)
                if r["policy_domain"] == d]
        if (rows and rows[0]["count"] >= 2) or time.time() > deadline:
            break
        time.sleep(0.1)
    assert len(rows) == 1, rows
    r = rows[0]
    assert (r["count"], r["disposition"], r["result"], r["dkim"], r["spf"]) == \
        (2, "reject", "fail", "fail", "fail"), r
    assert r["source_ip"] == "127.0.0.1" and r["from_domain"] == d, r
    assert r["published"].startswith("p=reject "), r
    assert r["day"] == time.strftime("%Y-%m-%d", time.gmtime()), r
    text = srv.cli("dmarc", "stats", r["day"]).out
    assert "%s %s from=%s ip=127.0.0.1 count=2 disposition=reject" % (r["day"], d, d) in text, text


def test_pct_zero_and_subdomain_policy_let_through(make_server, dns):
    d = "d%s.example" % token()
    publish(dns, d, dmarc="v=DMARC1; p=reject; pct=0")
    e = "e%s.example" % token()
    publish(dns, e, dmarc="v=DMARC1; p=reject; sp=none")
    dns.add("mail." + e, "TXT", "v=spf1 -all")
    dns.nxdomain("_dmarc.mail." + e)  # (unknown names get SERVFAIL here)
    srv = server(make_server)
    tok = token()
    code, text = send(srv, "alice@" + d, message(d, tok))
    assert code == 250, text
    tok2 = token()
    code, text = send(srv, "alice@mail." + e, message("mail." + e, tok2))
    assert code == 250, text
    # pct=0 lowers reject to quarantine (RFC 7489 6.6.4): the Junk folder
    assert in_junk(srv, tok)
    assert delivered(srv, tok2)
    srv.wait_log(r"dkim=none dmarc=fail \(p=none\) header\.from=mail\.%s" % e.replace(".", r"\."))


def test_organizational_domain_under_multi_label_suffix(make_server, dns):
    org = "o%s.co.uk" % token()
    publish(dns, org, dmarc="v=DMARC1; p=reject")
    dns.add("mail." + org, "TXT", "v=spf1 -all")
    dns.nxdomain("_dmarc.mail." + org)
    srv = server(make_server)
    tok = token()
    code, text = send(srv, "alice@mail." + org, message("mail." + org, tok))
    assert code == 550 and "mail.%s does not accept" % org in text, (code, text)


def test_two_from_fields_refused(make_server, dns):
    d = "d%s.example" % token()
    publish(dns, d)
    srv = server(make_server)
    tok = token()
    code, text = send(srv, "alice@" + d,
                      message(d, tok, extra="From: <mallory@%s>\r\n" % d))
    assert code == 550 and text.startswith("5.7.1 Message refused: "), (code, text)
    assert "RFC 7489 6.6.1" in text, text


def test_dmarc_reject_off_accepts(make_server, dns):
    d = "d%s.example" % token()
    publish(dns, d, dmarc="v=DMARC1; p=reject")
    srv = server(make_server, dmarc_reject="no")
    tok = token()
    code, text = send(srv, "alice@" + d, message(d, tok))
    assert code == 250, text
    assert delivered(srv, tok)


def test_quarantine_goes_to_junk(make_server, dns):
    d = "d%s.example" % token()
    publish(dns, d, dmarc="v=DMARC1; p=quarantine")
    srv = server(make_server)
    tok = token()
    code, text = send(srv, "alice@" + d, message(d, tok))
    assert code == 250, text
    assert in_junk(srv, tok), "not in Junk"
    assert not any(tok.encode() in m for m in srv.messages("bob"))  # not in the inbox
    srv.wait_log(r"quarantined: %s asks for it" % d.replace(".", r"\."))
    srv.wait_log(r"delivered to maildir as \S+ in Junk \(DMARC quarantine\)")
