"""`postino selfcheck`: a running postino checks itself. Its domain's
records are published in the test DNS from `postino dns-records` (then
broken one at a time: an MX elsewhere, an SPF record without us, another
DKIM key), its certificate is replaced by one about to expire, relay_networks
opened to everyone, and a message left deferred in the queue. Every
verdict is asserted in JSON and in the text form."""

import json
import shutil

from peers import loopback_address, wait_until
from probe_peers import CertPeer
from report_checks import checks, in_text, run_report, verdict

HOST = "mx.selfcheck.test"


def selfcheck(srv, *args):
    return run_report(srv, "selfcheck", *args)


def publish(srv, dns, domain):
    """The records postino dns-records asks for, in the test DNS; the
    server's name on 127.0.0.1 with its reverse name."""
    records = json.loads(srv.cli("dns-records", domain, "--json").out)
    for r in records:
        if r["type"] == "MX":
            pref, name = r["value"].split()
            dns.add(r["name"], "MX", name, pref=int(pref))
        elif r["type"] == "TXT":  # in strings of at most 255 octets
            v = r["value"]
            dns.add(r["name"], "TXT", [v[i:i + 255] for i in range(0, len(v), 255)])
    dns.add(HOST, "A", "127.0.0.1")
    dns.add("127.0.0.1", "PTR", HOST)
    return records


def new_server(make_server, domain, **settings):
    srv = make_server(domain=domain, hostname=HOST, start=False, **settings)
    srv.cli("dkim", "keygen", domain)
    srv.start()
    return srv


def test_healthy_server(make_server, dns):
    domain = "selfcheck-ok.test"
    srv = new_server(make_server, domain)
    publish(srv, dns, domain)
    rc, doc, text = selfcheck(srv)
    sec = "domain:" + domain
    assert verdict(doc, "hostname", "host")[0] == "ok"
    assert verdict(doc, "reverse-dns", "host")[0] == "ok"
    assert verdict(doc, "mx", sec) == ("ok", "an MX record names this server (%s)" % HOST)
    assert verdict(doc, "spf", sec)[0] == "ok"
    assert verdict(doc, "spf-ours", sec)[0] == "ok"
    v, why = verdict(doc, "dkim", sec)
    assert v == "ok" and "publishes our rsa key" in why, why
    # dns-records proposes p=none to start with: a warning
    assert verdict(doc, "dmarc", sec)[0] == "warn"
    assert verdict(doc, "certificate-name", "certificate")[0] == "ok"
    assert verdict(doc, "certificate-issuer", "certificate")[0] == "warn"  # self-signed
    assert verdict(doc, "certificate-expiry", "certificate")[0] == "ok"
    v, why = verdict(doc, "relay", "smtp")
    assert v == "ok" and why.startswith("not an open relay: all 11 relay tricks refused"), why
    assert verdict(doc, "starttls", "smtp")[0] == "ok"
    assert verdict(doc, "forward-secrecy", "smtp")[0] == "ok"
    assert verdict(doc, "tls-versions", "smtp") == ("ok", "TLS 1.1 and older are refused")
    assert verdict(doc, "queue", "queue") == ("ok", "0 messages, none deferred")
    assert verdict(doc, "disk", "disk")[0] in ("ok", "warn")
    assert doc["summary"]["fail"] == 0 and rc == 0, text
    in_text(text, "ok", "relay", "not an open relay")


def test_broken_records(make_server, dns):
    domain = "selfcheck-bad.test"
    srv = new_server(make_server, domain)
    dns.add(HOST, "A", "127.0.0.1")
    dns.add(domain, "MX", "mx.elsewhere.test", pref=10)
    dns.add(domain, "TXT", "v=spf1 ip4:192.0.2.0/24 -all")
    sel = json.loads(srv.cli("dkim", "list", "--json").out)[0]["selector"]
    dns.add("%s._domainkey.%s" % (sel, domain), "TXT",
            "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAnotourkey")
    rc, doc, text = selfcheck(srv)
    sec = "domain:" + domain
    v, why = verdict(doc, "mx", sec)
    assert v == "fail" and "names this server" in why, why
    v, why = verdict(doc, "spf-ours", sec)
    assert v == "fail" and "fail for our address 127.0.0.1" in why, why
    v, why = verdict(doc, "dkim", sec)
    assert v == "fail" and "another key than ours" in why, why
    assert verdict(doc, "dmarc", sec)[0] == "warn"  # none published
    assert rc == 1
    in_text(text, "fail", "dkim", "another key than ours")


def test_expiring_certificate_and_open_relay(make_server, dns, tmp_path):
    domain = "selfcheck-relay.test"
    srv = new_server(make_server, domain, relay_networks="0.0.0.0/0")
    publish(srv, dns, domain)
    # a certificate for the hostname that expires in 5 days
    soon = CertPeer(names=[HOST], days_left=5)  # its files only: never started
    shutil.copy(soon.cert_file, srv.dir + "/tls/cert.pem")
    shutil.copy(soon.key_file, srv.dir + "/tls/key.pem")
    rc, doc, text = selfcheck(srv)
    v, why = verdict(doc, "certificate-expiry", "certificate")
    assert v == "fail" and why.startswith("it expires in 5 days"), why
    relay = checks(doc, "smtp")["relay"]
    assert ("fail", "OPEN RELAY: relay_networks trusts the whole Internet (192.0.2.1 included)") \
        in relay, relay
    assert any(v == "fail" and w.startswith("OPEN RELAY: MAIL FROM:<selfcheck@relay-test.invalid>"
                                            " RCPT TO:<user@relay-test.invalid> was accepted")
               for v, w in relay), relay
    assert rc == 1
    in_text(text, "fail", "relay", "OPEN RELAY")


def test_relay_tested_from_an_untrusted_address(make_server, dns):
    """relay_networks trusts 127.0.0.1 only: the test comes from 127.0.0.2."""
    domain = "selfcheck-lo.test"
    srv = new_server(make_server, domain, relay_networks="127.0.0.1/32")
    rc, doc, text = selfcheck(srv, "--no-dns")
    v, why = verdict(doc, "relay", "smtp")
    assert v == "ok" and "relay tricks refused" in why, why
    assert "relay test from         127.0.0.2" in text or "127.0.0.2" in text
    assert "host" not in [s["id"] for s in doc["sections"]]  # --no-dns
    srv2 = new_server(make_server, "selfcheck-lo2.test", relay_networks="127.0.0.0/8")
    _, doc, _ = selfcheck(srv2, "--no-dns")
    v, why = verdict(doc, "relay", "smtp")
    assert v == "info" and why.startswith("not tested"), why


def test_deferred_message_in_queue(make_server, dns):
    domain = "selfcheck-q.test"
    srv = new_server(make_server, domain)
    dns.add("unreachable-q.test", "MX", "mx.unreachable-q.test", pref=10)
    dns.add("mx.unreachable-q.test", "A", loopback_address(25))  # nothing listens there
    srv.cli("sendmail", "-f", "bob@" + domain, "someone@unreachable-q.test",
            input=b"Subject: stuck\r\n\r\nbody\r\n")

    def deferred():
        r = srv.cli("selfcheck", "--json", "--no-dns", check=False)
        why = verdict(json.loads(r.out), "queue", "queue")[1]
        return why if why.startswith("1 deferred") else None
    wait_until("a deferred message", deferred, timeout=60, interval=1)
    _, doc, text = selfcheck(srv, "--no-dns")
    v, why = verdict(doc, "queue", "queue")
    assert v == "info" and why.startswith("1 deferred; the oldest,"), why
    assert "someone@unreachable-q.test" in why, why
    in_text(text, "info", "queue", "1 deferred")
