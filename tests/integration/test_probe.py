"""`postino probe` against loopback peers whose behaviour the test sets
(probe_peers.py): Debian's Postfix with STARTTLS on and off, an
old-fashioned Sendmail 8.11.6 without STARTTLS that answers slowly,
servers with an expired, a nearly expired and a self-signed certificate,
and the domain's records in the test DNS (SPF over the lookup limit, a
DMARC record with a syntax error, MTA-STS, TLS-RPT, reverse DNS). Every
verdict is asserted in the JSON report and its text form."""

import re

from peers import loopback_address
from report_checks import checks, in_text, run_report, verdict
from probe_peers import (DMARC_SYNTAX_ERROR, SPF_OVER_LIMIT, probe_dns,  # noqa: F401
                         probe_peers)


def probe(srv, target, *args):
    """Run the probe in JSON and in text; (exit status, report, text)."""
    return run_report(srv, "probe", target, *args)


def facts(doc, section):
    for s in doc["sections"]:
        if s["id"].startswith(section):
            return {f["key"]: f["value"] for f in s["facts"]}
    raise AssertionError("no section %s" % section)


def test_postfix_with_starttls(probe_peers, make_server, dns):  # noqa: F811
    pf = probe_peers.postfix(["probe-pf.test"], users=("bob", "postmaster"), tls=True)
    d = probe_dns(dns, "probe-pf.test", [("mx1.probe-pf.test", pf.host)])
    srv = make_server(start=False)
    rc, doc, text = probe(srv, d.domain, "--rcpt", "bob@probe-pf.test")
    assert verdict(doc, "mx", "dns")[0] == "ok"
    assert verdict(doc, "reverse-dns", "dns")[0] == "ok"
    smtp = "smtp:" + pf.host
    assert verdict(doc, "connect", smtp)[0] == "ok"
    assert verdict(doc, "banner", smtp)[0] == "ok"
    assert facts(doc, smtp)["software"].startswith("Postfix")
    assert verdict(doc, "ehlo", smtp)[0] == "ok"
    assert verdict(doc, "starttls", smtp) == ("ok", "STARTTLS works")
    v, why = verdict(doc, "tls-version", smtp)
    assert v == "ok" and why in ("TLSv1.2", "TLSv1.3"), why
    assert verdict(doc, "forward-secrecy", smtp)[0] == "ok"
    # the peers' certificate: self-signed, for another name, two days
    assert verdict(doc, "certificate", smtp)[0] == "warn"
    assert verdict(doc, "certificate-name", smtp)[0] == "warn"
    v, why = verdict(doc, "certificate-expiry", smtp)
    assert v == "warn" and "expires in 1 day" in why, why
    assert verdict(doc, "rcpt", smtp)[0] == "ok"
    v, why = verdict(doc, "postmaster", smtp)
    assert v == "ok" and "postmaster@probe-pf.test" in why, why
    assert verdict(doc, "spf", "records")[0] == "ok"
    assert verdict(doc, "dmarc", "records")[0] == "ok"
    assert verdict(doc, "mta-sts", "records")[0] == "ok"
    assert verdict(doc, "tls-rpt", "records")[0] == "ok"
    assert rc == 0 and doc["summary"]["fail"] == 0, text
    in_text(text, "ok", "starttls", "STARTTLS works")
    in_text(text, "warn", "certificate-expiry", "expires in 1 day")
    assert "Result: " in text and ", 0 failures" in text
    # a probe never sends DATA
    assert "DATA" not in pf.log()


def test_postfix_without_starttls(probe_peers, make_server, dns):  # noqa: F811
    pf = probe_peers.postfix(["probe-pf2.test"], users=("bob",), tls=False)
    d = probe_dns(dns, "probe-pf2.test", [("mx1.probe-pf2.test", pf.host)])
    srv = make_server(start=False)
    rc, doc, text = probe(srv, d.domain)
    smtp = "smtp:" + pf.host
    v, why = verdict(doc, "starttls", smtp)
    assert v == "fail" and "unencrypted" in why, why
    assert "tls-version" not in checks(doc, smtp)
    # postmaster is not a user there: RFC 5321 is broken
    v, why = verdict(doc, "postmaster", smtp)
    assert v == "fail" and "RFC 5321 4.5.1" in why, why
    assert rc == 1
    in_text(text, "fail", "starttls", "STARTTLS is not offered")


def test_old_sendmail_slow(probe_peers, make_server, dns):  # noqa: F811
    old = probe_peers.old_sendmail(delays={"banner": 1.2, "RCPT": 1.2})
    d = probe_dns(dns, None, [old], ptr={old.host: None}, spf=SPF_OVER_LIMIT,
                  dmarc=DMARC_SYNTAX_ERROR, mta_sts=None, tlsrpt=None)
    srv = make_server(start=False)
    rc, doc, text = probe(srv, d.domain, "--warn-after", "1", "--rcpt", "alice@" + d.domain)
    smtp = "smtp:" + old.host
    assert facts(doc, smtp)["software"] == "Sendmail 8.11.6"
    v, why = verdict(doc, "software", smtp)
    assert v == "warn" and "obsolete" in why and "8.15" in why, why
    assert verdict(doc, "starttls", smtp)[0] == "fail"
    lat = checks(doc, smtp)["latency"]
    assert ("warn", "banner took 1.2 s (over 1 s)") in [(a, re.sub(r"1\.\d s \(", "1.2 s (", b))
                                                        for a, b in lat], lat
    assert any(v == "warn" and w.startswith("RCPT took") for v, w in lat), lat
    assert verdict(doc, "reverse-dns", "dns")[0] == "warn"
    v, why = verdict(doc, "spf", "records")
    assert v == "fail" and "over the limit of 10" in why, why
    v, why = verdict(doc, "dmarc", "records")
    assert v == "fail" and "invalid" in why, why
    assert verdict(doc, "mta-sts", "records")[0] == "info"
    assert verdict(doc, "tls-rpt", "records")[0] == "info"
    assert rc == 1
    # MAIL, RCPT, postmaster, RSET; never DATA
    verbs = old.verbs()
    assert "RSET" in verbs and "DATA" not in verbs and not old.violations, verbs
    in_text(text, "warn", "software", "Sendmail 8.11.6 is obsolete")
    in_text(text, "fail", "spf", "over the limit of 10")


def test_timeout_is_a_failure(probe_peers, make_server, dns):  # noqa: F811
    slow = probe_peers.scripted(delays={"MAIL": 4})
    srv = make_server(start=False)
    rc, doc, _ = probe(srv, slow.hostport, "--timeout", "1")
    lat = checks(doc, "smtp")["latency"]
    assert ("fail", "MAIL: no answer within 1 s (--timeout)") in lat, lat
    assert rc == 1


def test_certificates(probe_peers, make_server, dns):  # noqa: F811
    expired = probe_peers.expired_cert(names=["mx1.certs.test"])
    soon = probe_peers.cert(names=["mx2.certs.test"], days_left=5, ca=True)
    good = probe_peers.cert(names=["mx3.certs.test"], days_left=200, ca=soon.ca)
    d = probe_dns(dns, "certs.test", [("mx1.certs.test", expired), ("mx2.certs.test", soon),
                                      ("mx3.certs.test", good)])
    srv = make_server(start=False)
    rc, doc, text = probe(srv, d.domain, "--ca-file", soon.ca_file)
    v, why = verdict(doc, "certificate-expiry", "smtp:" + expired.host)
    assert v == "fail" and why.startswith("it expired on"), why
    v, why = verdict(doc, "certificate-expiry", "smtp:" + soon.host)
    assert (v, why.split(" (")[0]) == ("warn", "it expires in 5 days"), why
    assert verdict(doc, "certificate", "smtp:" + soon.host)[0] == "ok"
    assert verdict(doc, "certificate-name", "smtp:" + soon.host)[0] == "ok"
    assert verdict(doc, "certificate-expiry", "smtp:" + good.host)[0] == "ok"
    assert verdict(doc, "certificate", "smtp:" + expired.host)[0] == "warn"
    assert rc == 1
    in_text(text, "fail", "certificate-expiry", "it expired on")


def test_no_forward_secrecy(probe_peers, make_server, dns):  # noqa: F811
    rsa = probe_peers.cert(key="rsa", tls_versions=("TLSv1.2", "TLSv1.2"),
                           ciphers="AES128-GCM-SHA256")
    srv = make_server(start=False)
    _, doc, _ = probe(srv, rsa.hostport)
    v, why = verdict(doc, "forward-secrecy", "smtp")
    assert v == "warn" and "AES128-GCM-SHA256" in why, why


def test_dns_failures(make_server, dns):
    srv = make_server(start=False)
    dns.add("nullmx.test", "MX", ".", pref=0)
    rc, doc, _ = probe(srv, "nullmx.test")
    v, why = verdict(doc, "mx", "dns")
    assert v == "fail" and "null MX" in why, why
    assert rc == 1
    rc, doc, _ = probe(srv, "no-such-domain.test")
    assert verdict(doc, "mx", "dns")[0] == "fail"
    # nothing listens there
    port = loopback_address(25)
    rc, doc, _ = probe(srv, "%s:25" % port, "--timeout", "2")
    assert verdict(doc, "connect", "smtp")[0] == "fail"
    assert rc == 1


def test_dnsbl_listing(probe_peers, make_server, dns):  # noqa: F811
    old = probe_peers.old_sendmail()
    d = probe_dns(dns, None, [old])
    rev = ".".join(reversed(old.host.split(".")))
    dns.add("%s.bl.probe.test" % rev, "A", "127.0.0.2")
    srv = make_server(start=False)
    _, doc, text = probe(srv, d.domain, "--dnsbl", "bl.probe.test, other.probe.test")
    v, why = verdict(doc, "dnsbl", "dnsbl")
    assert v == "fail" and why == "%s is listed by bl.probe.test" % old.host, why
    in_text(text, "fail", "dnsbl", "listed by bl.probe.test")
