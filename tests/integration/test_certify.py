"""Certified mail (docs/certify.md) between two postino instances.

Each instance serves its own certified domain and listens on its own
loopback address at port 25, where the session's DNS server (conftest.dns)
points that domain's MX; each trusts the other's certification service
(certified_trusted). The first also serves an ordinary, uncertified
domain. Every receipt is checked with `postino certify verify` and with
`openssl cms -verify`."""

import email
import email.header
import json
import os
import re
import smtplib
import subprocess
import time

import pytest

from peers import loopback_address, mx_domain, new_domain, token, wait_until
from postino_testlib import client_tls_context, header_values

PASSWORD = "secret-pw"


def make_certified(make_server, dns, **settings):
    """An instance for a fresh certified domain, not started: (server,
    domain, loopback address)."""
    host = loopback_address()
    domain = mx_domain(dns, host, domain=new_domain())
    s = {"hostname": "mx." + domain, "certified_domains": domain,
         "certified_trusted": "peers.pem", "relay_networks": "127.0.0.1/32",
         "queue_retry_min": "1s", "queue_retry_max": "2s"}
    s.update(settings)
    srv = make_server(domain=domain, users=("alice", "bob"), start=False, **s)
    # Also listen on HOST:25 (MX delivery), besides the test port.
    with open(srv.conf) as f:
        conf = f.read()
    conf = re.sub(r"^smtp_listen = (.*)$", r"smtp_listen = \1, %s:25" % host, conf, flags=re.M)
    with open(srv.conf, "w") as f:
        f.write(conf)
    r = srv.cli("certify", "keygen", domain)
    assert re.search(r"fingerprint SHA256:([0-9A-F]{2}:){31}[0-9A-F]{2}", r.out), r.out
    return srv, domain, host


def cert_path(srv, domain):
    return os.path.join(srv.dir, "keys", "certify", domain + ".crt")


def trust_each_other(a, adom, b, bdom):
    """Each trusts the other's service; a bundle of both for openssl."""
    ca, cb = open(cert_path(a, adom)).read(), open(cert_path(b, bdom)).read()
    for srv, peer in ((a, cb), (b, ca)):
        with open(os.path.join(srv.dir, "peers.pem"), "w") as f:
            f.write(peer)
    bundle = os.path.join(a.top, "both.pem")
    with open(bundle, "w") as f:
        f.write(ca + cb)
    return bundle


@pytest.fixture
def pair(make_server, dns):
    """Two certified instances, started: a dict with a, adom, b, bdom, ca."""
    def factory(a_settings=None, b_settings=None):
        a, adom, ahost = make_certified(make_server, dns, **(a_settings or {}))
        b, bdom, bhost = make_certified(make_server, dns, **(b_settings or {}))
        ca = trust_each_other(a, adom, b, bdom)
        a.start()
        b.start()
        return {"a": a, "adom": adom, "b": b, "bdom": bdom, "ca": ca, "bhost": bhost}
    return factory


def submit(srv, user, rcpts, subject, extra_headers="", body="Please sign the contract.\r\n",
           from_addr=None, expect=250):
    """Send as user over submission (STARTTLS, AUTH); returns (code, text, message-id)."""
    mid = "<%s@%s>" % (token(), user.split("@")[1])
    msg = ("From: Alice <%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: %s\r\n"
           "Date: Sat, 28 Nov 2026 10:00:00 +0100\r\n%s\r\n%s"
           % (from_addr or user, ", ".join(rcpts), subject, mid, extra_headers, body))
    with smtplib.SMTP("127.0.0.1", srv.submission_port, timeout=30) as s:
        s.ehlo()
        s.starttls(context=client_tls_context())
        s.ehlo()
        s.login(user, PASSWORD)
        try:
            s.sendmail(user, rcpts, msg.encode("utf-8"))
            code, text = 250, ""
        except smtplib.SMTPDataError as e:
            code, text = e.smtp_code, e.smtp_error.decode("utf-8", "replace")
    assert code == expect, (code, text)
    return code, text, mid


def certified_type(msg):
    v = header_values(msg, "X-Certified-Type")
    return v[0] if v else None


def wait_types(srv, user, want, timeout=40):
    """Wait until user's mailbox holds messages of the certified types in
    want (a list, with repeats); returns {type: [messages]}."""
    def ready():
        got = {}
        for m in srv.messages(user):
            got.setdefault(certified_type(m), []).append(m)
        for t in set(want):
            if len(got.get(t, [])) < want.count(t):
                return None
        return got
    return wait_until("%s in %s's mailbox" % (want, user), ready, timeout=timeout)


def save(srv, name, content):
    path = os.path.join(srv.top, name)
    with open(path, "wb") as f:
        f.write(content)
    return path


def verify(srv, path):
    """Exit status and output of postino certify verify."""
    r = srv.cli("certify", "verify", path, check=False)
    return r.returncode, r.out + r.err


def openssl_verify(path, ca):
    r = subprocess.run(["openssl", "cms", "-verify", "-in", path, "-CAfile", ca, "-out",
                        "/dev/null"], capture_output=True, timeout=60)
    return r.returncode


def check_valid(srv, msg, ca, name):
    path = save(srv, name, msg)
    rc, out = verify(srv, path)
    assert rc == 0, out
    assert out.startswith("valid"), out
    assert openssl_verify(path, ca) == 0
    return path


def alter(msg, needle, replacement):
    i = msg.index(needle)
    return msg[:i] + replacement + msg[i + len(needle):]


def test_certified_message_gets_every_receipt(pair):
    p = pair()
    a, adom, b, bdom, ca = p["a"], p["adom"], p["b"], p["bdom"], p["ca"]
    alice, bob = "alice@" + adom, "bob@" + bdom
    _, _, mid = submit(a, alice, [bob], "contract 1")

    got = wait_types(a, "alice", ["acceptance", "taking-in-charge", "delivery"])
    [envelope] = b.wait_for_maildir("bob", 1)
    assert certified_type(envelope) == "transport"
    assert header_values(envelope, "Subject") == ["CERTIFIED: contract 1"]
    assert header_values(envelope, "X-Certified-Transport") == ["envelope"]
    assert b"Please sign the contract." in envelope
    check_valid(b, envelope, ca, "envelope.eml")

    for t in ("acceptance", "taking-in-charge", "delivery"):
        [m] = got[t]
        assert header_values(m, "X-Certified-Reference-Message-ID") == [mid], t
        assert b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"' in m
        assert b"daticert.xml" in m
        check_valid(a, m, ca, t + ".eml")
    delivery = got["delivery"][0]
    assert header_values(delivery, "X-Certified-Receipt-Type") == ["complete"]
    assert header_values(got["acceptance"][0], "Subject") == ["ACCEPTANCE: contract 1"]
    # the complete receipt encloses the original, unaltered
    assert b"Content-Type: message/rfc822" in delivery
    assert b"Subject: contract 1\n" in delivery

    # One byte changed: in the enclosed original, in the signed text, in the
    # envelope's original.
    for name, bad, srv in (
            ("bad-original.eml", alter(delivery, b"Please sign", b"Please sigh"), a),
            ("bad-text.eml", alter(got["acceptance"][0], b"was accepted", b"was accepteD"), a),
            ("bad-envelope.eml", alter(envelope, b"Please sign", b"Please sigN"), b)):
        path = save(srv, name, bad)
        rc, out = verify(srv, path)
        assert rc == 1 and out.startswith("invalid"), (name, rc, out)
        assert openssl_verify(path, ca) != 0, name

    # Trusted only by the peers that are told: a receipt of b verified with
    # a configuration that does not trust b is untrusted (exit 3).
    os.unlink(os.path.join(a.dir, "peers.pem"))
    with open(os.path.join(a.dir, "peers.pem"), "w") as f:
        f.write(open(cert_path(a, adom)).read())
    rc, out = verify(a, os.path.join(a.top, "delivery.eml"))
    assert rc == 3 and out.startswith("untrusted"), out

    # The evidence logs: both chains hold; the message's records are there.
    for srv in (a, b):
        r = srv.cli("certify", "log", "--verify")
        assert r.out.startswith("ok:"), r.out
    r = a.cli("certify", "log", "--message-id", mid)
    events = [line.split()[2] for line in r.out.splitlines()]
    assert "transport" in events and "acceptance" in events, r.out
    r = b.cli("certify", "log", "--message-id", mid, "--json")
    assert '"event":"taking-in-charge"' in r.out and '"event":"delivery"' in r.out, r.out
    assert "Please sign" not in open(os.path.join(a.dir, "state", "certify-evidence.log")).read()

    # A hand-edited record is detected.
    log = os.path.join(a.dir, "state", "certify-evidence.log")
    text = open(log).read()
    open(log, "w").write(text.replace("event=acceptance", "event=delivery", 1))
    r = a.cli("certify", "log", "--verify", check=False)
    assert r.returncode == 1 and "BROKEN" in r.out, r.out
    open(log, "w").write(text)
    assert a.cli("certify", "log", "--verify").out.startswith("ok:")


def test_short_and_summary_delivery_receipts(pair):
    p = pair()
    a, adom, bdom, ca = p["a"], p["adom"], p["bdom"], p["ca"]
    alice, bob = "alice@" + adom, "bob@" + bdom
    submit(a, alice, [bob], "short one", "X-Certified-Receipt-Type: short\r\n")
    # an encoded subject (RFC 2047): the data part carries it decoded
    submit(a, alice, [bob], "=?UTF-8?B?c3VtbWFyeSDDqA==?=\r\n =?ISO-8859-1?Q?_caf=E9?=",
           "X-Certified-Receipt-Type: summary\r\n")
    got = wait_types(a, "alice", ["delivery", "delivery"])
    kinds = {}
    for m in got["delivery"]:
        kinds[header_values(m, "X-Certified-Receipt-Type")[0]] = m
    assert set(kinds) == {"short", "summary"}
    for kind, m in kinds.items():
        assert b"message/rfc822" not in m, kind
        check_valid(a, m, ca, kind + ".eml")
    # the short one carries the hashes of the original's parts
    xml = None
    for part in email.message_from_bytes(kinds["short"]).walk():
        if part.get_content_type() == "application/xml":
            xml = part.get_payload(decode=True)
    assert xml and b'<part sha256="' in xml and b'path="1"' in xml, xml
    summary = email.message_from_bytes(kinds["summary"])
    for part in summary.walk():
        if part.get_content_type() == "application/xml":
            xml = part.get_payload(decode=True)
    assert "<subject>summary \u00e8 caf\u00e9</subject>".encode() in xml, xml
    subject = str(email.header.make_header(email.header.decode_header(summary["Subject"])))
    assert subject.endswith(": summary \u00e8 caf\u00e9"), subject


def test_non_acceptance_when_from_is_not_the_sender(pair):
    p = pair()
    a, adom, bdom, ca = p["a"], p["adom"], p["bdom"], p["ca"]
    alice = "alice@" + adom
    _, text, _ = submit(a, alice, ["bob@" + bdom], "forged", from_addr="boss@" + adom,
                        expect=550)
    assert "not accepted" in text
    got = wait_types(a, "alice", ["non-acceptance"])
    m = got["non-acceptance"][0]
    assert b"From address is not the sender" in m
    check_valid(a, m, ca, "non-acceptance.eml")


def test_unknown_recipient_gets_a_failure_notice(pair):
    p = pair()
    a, adom, bdom, ca = p["a"], p["adom"], p["bdom"], p["ca"]
    submit(a, "alice@" + adom, ["nobody@" + bdom], "to nobody")
    got = wait_types(a, "alice", ["acceptance", "delivery-failure"])
    m = got["delivery-failure"][0]
    path = check_valid(a, m, ca, "failure.eml")
    rc, out = verify(a, path)
    assert "error       no-destination" in out, out
    r = a.cli("certify", "verify", path, "--json")
    j = json.loads(r.out)
    assert j["verdict"] == "valid" and j["type"] == "delivery-failure", j
    assert j["error"] == "no-destination" and j["delivery"] == "nobody@" + bdom, j
    assert not [x for x in a.messages("alice") if b"Delivery Status Notification" in x]


def test_warning_and_final_notice_with_the_receiver_down(pair):
    p = pair(a_settings={"certified_warning_after": "3s", "certified_failure_after": "8s"})
    a, adom, b, bdom, ca = p["a"], p["adom"], p["b"], p["bdom"], p["ca"]
    b.stop()
    submit(a, "alice@" + adom, ["bob@" + bdom], "while down")
    got = wait_types(a, "alice", ["acceptance", "warning", "final-failure"], timeout=60)
    assert len(got["warning"]) == 1 and len(got["final-failure"]) == 1
    check_valid(a, got["warning"][0], ca, "warning.eml")
    check_valid(a, got["final-failure"][0], ca, "final.eml")
    assert header_values(got["final-failure"][0], "Subject")[0].startswith(
        "FINAL NOTICE: NOT DELIVERED:")
    a.wait_queue_empty(timeout=30)


def test_warning_and_final_notice_without_a_delivery_receipt(pair):
    """Handed over and taken in charge, but never delivered: bob's mailbox
    at the peer is over its quota, so the peer keeps the envelope in its
    queue (4.2.2) and no delivery receipt comes back. The sender's service,
    whose queue is empty by then, warns and then gives the final notice. A
    recipient whose receipt does come back is not warned about."""
    p = pair(a_settings={"certified_warning_after": "4s", "certified_failure_after": "10s"})
    a, adom, b, bdom, ca = p["a"], p["adom"], p["b"], p["bdom"], p["ca"]
    alice, bob = "alice@" + adom, "bob@" + bdom
    b.cli("user", "quota", bob, "1K")
    _, _, mid_full = submit(a, alice, [bob], "mailbox full")
    _, _, mid_ok = submit(a, alice, ["alice@" + bdom], "delivered")
    got = wait_types(a, "alice", ["acceptance", "acceptance", "taking-in-charge",
                                  "taking-in-charge", "delivery"])
    a.wait_queue_empty(timeout=30)
    [delivery] = got["delivery"]
    assert header_values(delivery, "X-Certified-Reference-Message-ID") == [mid_ok]

    got = wait_types(a, "alice", ["warning", "final-failure"], timeout=60)
    assert len(got["warning"]) == 1 and len(got["final-failure"]) == 1, got.keys()
    for t, name in (("warning", "warning.eml"), ("final-failure", "final.eml")):
        m = got[t][0]
        assert header_values(m, "X-Certified-Reference-Message-ID") == [mid_full], t
        assert b"no delivery receipt from the certification service of " + bdom.encode() in m
        path = check_valid(a, m, ca, name)
        j = json.loads(a.cli("certify", "verify", path, "--json").out)
        assert j["type"] == t and j["error"] == "timeout" and j["delivery"] == bob, j
    assert header_values(got["final-failure"][0], "Subject")[0].startswith(
        "FINAL NOTICE: NOT DELIVERED:")
    # still waiting at the peer, not delivered, not lost
    assert len(b.queue_ids()) == 1
    assert not b.messages("bob")

    r = a.cli("certify", "log", "--message-id", mid_full)
    assert " handover " in r.out and " warning " in r.out and " final-failure " in r.out, r.out
    r = a.cli("certify", "log", "--message-id", mid_ok)
    assert " handover " in r.out and "no longer awaited" in r.out, r.out
    assert " warning " not in r.out and " final-failure " not in r.out, r.out

    # Room is made at the peer: the late receipt still arrives, and is
    # only recorded (the wait ended with the final notice).
    b.cli("user", "quota", bob, "none")
    b.cli("queue", "flush")
    got = wait_types(a, "alice", ["delivery", "delivery"], timeout=40)
    r = a.cli("certify", "log", "--message-id", mid_full)
    assert " received " in r.out and "no longer awaited" not in r.out, r.out
    assert len(wait_types(a, "alice", ["warning"])["warning"]) == 1


def test_uncertified_mail_arrives_in_an_anomaly_envelope(pair):
    p = pair()
    a, b, bdom, ca = p["a"], p["b"], p["bdom"], p["ca"]
    # the third, uncertified domain, served by the first instance
    cdom = new_domain()
    a.add_domain(cdom)
    carol = a.add_user("carol@" + cdom)
    _, _, mid = submit(a, carol, ["bob@" + bdom], "plain mail")
    [m] = b.wait_for_maildir("bob", 1)
    assert certified_type(m) == "anomaly"
    assert header_values(m, "X-Certified-Transport") == ["anomaly"]
    assert header_values(m, "Subject") == ["ANOMALY: plain mail"]
    assert b"message/rfc822" in m and b"Please sign the contract." in m
    check_valid(b, m, ca, "anomaly.eml")
    # nothing certified goes back to the uncertified sender
    time.sleep(1)
    assert not [x for x in a.messages("carol") if certified_type(x)]
    r = b.cli("certify", "log", "--message-id", mid)
    assert " anomaly " in r.out, r.out
