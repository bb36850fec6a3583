"""SPF in the SMTP service: the sender's record, served by the tests' DNS
server, decides the Received-SPF header of the stored message, and with
spf_reject_fail a fail refuses the recipients with 550 5.7.23. Mail from
logged-in users and from relay_networks is not checked."""

import smtplib
import time
import uuid

from peers import peers  # noqa: F401 (the fixture)
from postino_testlib import header_values

HELO = "client.example.org"


def token():
    return uuid.uuid4().hex[:12]


def message(tok):
    return ("From: <someone@example.net>\r\nTo: <bob@example.test>\r\n"
            "Subject: spf %s\r\nMessage-ID: <%s@example.net>\r\n\r\nhello\r\n" % (tok, tok)).encode()


def spf_server(make_server, **settings):
    s = {"spf_check": "yes", "hostname": "mx.example.test"}
    s.update(settings)
    return make_server(**s)


def deliver(srv, sender, helo=HELO):
    """Send one message to bob; returns its Received-SPF field(s)."""
    tok = token()
    with smtplib.SMTP("127.0.0.1", srv.port, local_hostname=helo, timeout=30) as s:
        s.sendmail(sender, ["bob@example.test"], message(tok))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for m in srv.messages("bob"):
            if tok.encode() in m:
                return header_values(m, "Received-SPF")
        time.sleep(0.05)
    raise AssertionError("message %s not delivered" % tok)


def domain(dns, record):
    d = "s%s.example" % token()
    if record is not None:
        dns.add(d, "TXT", record)
    dns.add(d, "TXT", "unrelated text record")
    return d


def test_pass_is_recorded(make_server, dns):
    d = domain(dns, "v=spf1 ip4:192.0.2.0/24 ip4:127.0.0.1 -all")
    srv = spf_server(make_server)
    [h] = deliver(srv, "alice@" + d)
    assert h.startswith("pass (mx.example.test: domain of alice@%s designates 127.0.0.1 as "
                        "permitted sender)" % d), h
    assert "client-ip=127.0.0.1;" in h and 'envelope-from="alice@%s"' % d in h, h
    assert 'helo="%s"' % HELO in h and "identity=mailfrom" in h, h
    assert 'mechanism="ip4:127.0.0.1"' in h, h
    srv.wait_log(r"spf=pass client=\[127\.0\.0\.1\] from=<alice@%s> domain=%s mechanism=ip4:127.0.0.1"
                 % (d.replace(".", r"\."), d.replace(".", r"\.")))


def test_include_and_mx(make_server, dns):
    d = domain(dns, "v=spf1 include:_spf.%s -all")
    d2 = domain(dns, None)
    dns.add("_spf." + d2, "TXT", "v=spf1 mx:%s ~all" % d2)  # mx alone: _spf.d2's own
    dns.add(d2, "TXT", "v=spf1 include:_spf.%s -all" % d2)
    dns.add(d2, "MX", "mx." + d2)
    dns.add("mx." + d2, "A", "127.0.0.1")
    srv = spf_server(make_server)
    [h] = deliver(srv, "alice@" + d2)
    assert h.startswith("pass ") and 'mechanism="include:_spf.%s"' % d2 in h, h
    # the first domain's record is broken (a literal %s): permerror, still delivered
    [h] = deliver(srv, "alice@" + d)
    assert h.startswith("permerror (mx.example.test: "), h


def test_fail_recorded_by_default(make_server, dns):
    d = domain(dns, "v=spf1 ip4:192.0.2.1 -all")
    srv = spf_server(make_server)
    [h] = deliver(srv, "mallory@" + d)
    assert h.startswith("fail (mx.example.test: domain of mallory@%s does not designate "
                        "127.0.0.1 as permitted sender)" % d), h
    assert 'mechanism="-all"' in h, h


def test_fail_rejected_with_spf_reject_fail(make_server, dns):
    d = domain(dns, "v=spf1 ip4:192.0.2.1 -all exp=why.%{d}")
    dns.add("why." + d, "TXT", "%{i} may not send for %{d}")
    srv = spf_server(make_server, spf_reject_fail="yes")
    with smtplib.SMTP("127.0.0.1", srv.port, local_hostname=HELO, timeout=30) as s:
        s.ehlo()
        assert s.mail("mallory@" + d)[0] == 250
        code, resp = s.rcpt("bob@example.test")
        assert code == 550, (code, resp)
        text = resp.decode()
        assert text.startswith("5.7.23 "), text
        assert "127.0.0.1 may not send for %s" % d in text, text
        # a softfail passes
        d2 = domain(dns, "v=spf1 ~all")
        s.rset()
        assert s.mail("mallory@" + d2)[0] == 250
        assert s.rcpt("bob@example.test")[0] == 250
    srv.wait_log(r"reject: RCPT from \[127\.0\.0\.1\]: 550 5\.7\.23 ")
    assert srv.messages("bob") == []


def test_null_sender_checks_helo(make_server, dns):
    helo = "h%s.example" % token()
    dns.add(helo, "TXT", "v=spf1 a -all")
    dns.add(helo, "A", "127.0.0.1")
    srv = spf_server(make_server)
    [h] = deliver(srv, "", helo=helo)
    assert h.startswith("pass (mx.example.test: domain of %s designates 127.0.0.1" % helo), h
    assert "identity=helo" in h and 'envelope-from=""' in h, h


def test_dns_failure_is_temperror_and_mail_is_accepted(make_server, dns):
    # names the test DNS server does not know get SERVFAIL
    srv = spf_server(make_server, spf_reject_fail="yes")
    [h] = deliver(srv, "alice@unknown-%s.example" % token())
    assert h.startswith("temperror (mx.example.test: DNS failure looking up the SPF record"), h


def test_no_record_is_none(make_server, dns):
    d = domain(dns, None)
    srv = spf_server(make_server)
    [h] = deliver(srv, "alice@" + d)
    assert h.startswith("none (mx.example.test: %s has no SPF record)" % d), h


def test_slow_dns_times_out(make_server, peers):
    slow = peers.slow_dns(3)
    srv = spf_server(make_server, dns_resolver=slow.address, spf_timeout="1s")
    [h] = deliver(srv, "alice@slow-%s.example" % token())
    assert h.startswith("temperror (mx.example.test: the DNS lookups took too long)"), h


def test_relay_networks_not_checked(make_server, dns):
    d = domain(dns, "v=spf1 -all")
    srv = spf_server(make_server, relay_networks="127.0.0.0/8", spf_reject_fail="yes")
    assert deliver(srv, "alice@" + d) == []


def test_authentication_results(make_server, dns):
    """RFC 8601: our Authentication-Results field says what SPF found; one
    that arrives claiming our name is a forgery and goes; others stay."""
    d = domain(dns, "v=spf1 ip4:127.0.0.1 -all")
    srv = spf_server(make_server)
    tok = token()
    msg = ("Authentication-Results: mx.example.test; spf=pass smtp.mailfrom=forged@x\r\n"
           "Authentication-Results: other.example;\r\n dkim=pass header.d=x.example\r\n"
           "authentication-results: (forged) MX.EXAMPLE.TEST; dmarc=pass\r\n"
           "From: <alice@%s>\r\nTo: <bob@example.test>\r\nSubject: ar %s\r\n\r\n"
           "Authentication-Results: mx.example.test; in the body, left alone\r\n" % (d, tok))
    with smtplib.SMTP("127.0.0.1", srv.port, local_hostname=HELO, timeout=30) as s:
        s.sendmail("alice@" + d, ["bob@example.test"], msg.encode())
    deadline = time.monotonic() + 30
    stored = None
    while stored is None and time.monotonic() < deadline:
        stored = next((m for m in srv.messages("bob") if tok.encode() in m), None)
        time.sleep(0.05)
    assert stored is not None
    ars = header_values(stored, "Authentication-Results")
    assert ars[0] == "mx.example.test; spf=pass smtp.mailfrom=alice@%s" % d, ars
    assert ars[1:] == ["other.example; dkim=pass header.d=x.example"], ars
    assert b"Authentication-Results: mx.example.test; in the body, left alone" in stored
    srv.wait_log(r"removed an Authentication-Results field that claims to be ours, from "
                 r"\[127\.0\.0\.1\]", count=2)
