"""The peers of the probe tests (probe_peers.py) do what they say: checked
with Python's smtplib and ssl, the openssl command and raw DNS queries,
before `postino probe` is judged against them."""

import datetime
import os
import re
import smtplib
import socket
import ssl
import subprocess
import time

import pytest
from cryptography import x509
from dnslib import QTYPE, RCODE, DNSRecord

from probe_peers import (DMARC_SYNTAX_ERROR, SPF_LOOKUP_LIMIT, SPF_OVER_LIMIT,
                         OldSendmailPeer, TestCA, probe_dns, probe_peers)  # noqa: F401 (fixture)


def connect(peer, timeout=10):
    return smtplib.SMTP(peer.host, peer.port, local_hostname="probe.client.test",
                        timeout=timeout)


def timed(f, *args):
    t = time.monotonic()
    r = f(*args)
    return r, time.monotonic() - t


# --- the old Sendmail ---

def test_old_sendmail_greeting_and_ehlo(probe_peers):  # noqa: F811
    p = probe_peers.old_sendmail()
    s = smtplib.SMTP(timeout=10)
    code, banner = s.connect(p.host, p.port)
    assert code == 220
    assert re.fullmatch(r"mail\.oldpeer\.test ESMTP Sendmail 8\.11\.6/8\.11\.6; "
                        r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000", banner.decode()), banner
    code, text = s.ehlo("probe.client.test")
    assert code == 250
    lines = text.decode().split("\n")
    assert lines[0] == ("mail.oldpeer.test Hello probe.client.test [127.0.0.1], "
                        "pleased to meet you")
    assert lines[1:] == ["ENHANCEDSTATUSCODES", "PIPELINING", "8BITMIME", "SIZE", "DSN", "HELP"]
    assert not s.has_extn("starttls")
    assert s.docmd("STARTTLS") == (500, b'5.5.1 Command unrecognized: "STARTTLS"')
    assert s.docmd("NOOP") == (250, b"2.0.0 OK")
    assert s.docmd("HELP")[1].startswith(b"2.0.0 This is sendmail version 8.11.6")
    assert s.quit()[0] == 221
    p.wait_sessions_closed()
    assert p.verbs() == ["EHLO", "STARTTLS", "NOOP", "HELP", "QUIT"]
    assert p.sessions[0].tls is None and p.violations == []


def test_old_sendmail_version_is_an_option(probe_peers):  # noqa: F811
    p = probe_peers.old_sendmail(version="8.18.1", hostname="mx.newer.test")
    with connect(p) as s:
        code, text = s.ehlo()
        assert "ESMTP Sendmail 8.18.1/8.18.1; " in p.sessions[0].banner
        assert text.startswith(b"mx.newer.test Hello")


def test_delay_before_each_reply(probe_peers):  # noqa: F811
    p = probe_peers.old_sendmail(delays={"banner": 1.0, "EHLO": 0.5, "MAIL": 0, "rcpt": 1.5})
    s = smtplib.SMTP(timeout=10)
    (code, _), t_banner = timed(s.connect, p.host, p.port)
    assert code == 220
    (code, _), t_ehlo = timed(s.ehlo, "probe.client.test")
    assert code == 250
    (code, _), t_mail = timed(s.mail, "probe@client.test")
    assert code == 250
    (code, _), t_rcpt = timed(s.rcpt, "bob@oldpeer.test")
    assert code == 250
    (code, _), t_rset = timed(s.rset)
    assert code == 250
    s.quit()
    assert 1.0 <= t_banner < 2.0, t_banner
    assert 0.5 <= t_ehlo < 1.5, t_ehlo
    assert t_mail < 0.5, t_mail
    assert 1.5 <= t_rcpt < 2.5, t_rcpt
    assert t_rset < 0.5, t_rset


def test_delays_may_change_while_it_runs(probe_peers):  # noqa: F811
    p = probe_peers.old_sendmail()
    with connect(p) as s:
        s.ehlo()
        p.delays["NOOP"] = 0.7
        _, t = timed(s.noop)
        assert t >= 0.7


def test_recipients(probe_peers):  # noqa: F811
    p = probe_peers.old_sendmail(users=("bob", "carol@elsewhere.test"))
    with connect(p) as s:
        assert s.mail("x@client.test")[0] == 503          # no EHLO yet
        assert s.docmd("RCPT TO:<bob@a.test>")[0] == 503  # no MAIL yet
        s.ehlo()
        assert s.mail("x@client.test") == (250, b"2.1.0 <x@client.test>... Sender ok")
        assert s.mail("y@client.test")[0] == 503
        assert s.rcpt("bob@a.test") == (250, b"2.1.5 <bob@a.test>... Recipient ok")
        assert s.rcpt("carol@elsewhere.test")[0] == 250
        assert s.rcpt("carol@a.test")[0] == 550
        assert s.rcpt("nobody@a.test") == (550, b"5.1.1 <nobody@a.test>... User unknown")
        assert s.rcpt("postmaster@a.test")[0] == 250
        assert s.rcpt("postmaster")[0] == 250
        assert s.docmd("VRFY", "bob") == (250, b"2.1.5 <bob@mail.oldpeer.test>")
        assert s.docmd("VRFY", "nobody")[0] == 550
        assert s.rset()[0] == 250
        assert s.mail("<>")[0] == 250
    assert p.rcpts == [("bob@a.test", 503), ("bob@a.test", 250), ("carol@elsewhere.test", 250),
                       ("carol@a.test", 550), ("nobody@a.test", 550),
                       ("postmaster@a.test", 250), ("postmaster", 250)]


def test_postmaster_rejected_and_relaying(probe_peers):  # noqa: F811
    p = probe_peers.old_sendmail(reject_postmaster=True, domains=("a.test",))
    with connect(p) as s:
        s.ehlo()
        s.mail("x@client.test")
        assert s.rcpt("postmaster@a.test") == (
            550, b"5.1.1 <postmaster@a.test>... User unknown")
        assert s.rcpt("bob@a.test")[0] == 250
        assert s.rcpt("bob@b.test") == (550, b"5.7.1 <bob@b.test>... Relaying denied")


def test_data_is_refused_and_recorded(probe_peers):  # noqa: F811
    p = probe_peers.old_sendmail()
    with connect(p) as s:
        s.ehlo()
        s.mail("x@client.test")
        s.rcpt("bob@a.test")
        code, text = s.docmd("DATA")
        assert code == 554 and b"DATA refused" in text
        s.rset()
    p.wait_sessions_closed()
    assert p.violations == ["DATA sent (session 1)"]
    assert "DATA" in p.verbs() and "RSET" in p.verbs()
    assert p.commands[:3] == ["ehlo probe.client.test", "mail FROM:<x@client.test>",
                              "rcpt TO:<bob@a.test>"]


def test_replies_of_the_tests_own(probe_peers):  # noqa: F811
    p = probe_peers.old_sendmail(replies={"MAIL": ["451 4.3.0 try later", "250 2.1.0 ok"],
                                          "RCPT": "452 4.5.3 too many"})
    with connect(p) as s:
        s.ehlo()
        assert s.mail("x@client.test") == (451, b"4.3.0 try later")
        assert s.mail("x@client.test") == (250, b"2.1.0 ok")
        assert s.mail("x@client.test") == (250, b"2.1.0 ok")
        assert s.rcpt("bob@a.test") == (452, b"4.5.3 too many")
    assert p.rcpts == [("bob@a.test", 452)]
    q = probe_peers.old_sendmail(replies={"banner": "554 5.3.2 mail.oldpeer.test go away"})
    with pytest.raises(smtplib.SMTPConnectError) as e:
        smtplib.SMTP(q.host, q.port, timeout=10)
    assert e.value.smtp_code == 554


def test_multiline_banner_and_long_line(probe_peers):  # noqa: F811
    p = probe_peers.scripted(banner=["{hostname} ESMTP first", "second line"],
                             hostname="mx.multi.test")
    s = socket.create_connection((p.host, p.port), timeout=10)
    with s, s.makefile("rb") as f:
        assert f.readline() == b"220-mx.multi.test ESMTP first\r\n"
        assert f.readline() == b"220 second line\r\n"
        s.sendall(b"NOOP " + b"x" * 5000 + b"\r\nNOOP\r\n")
        assert f.readline() == b"500 5.5.0 Line too long\r\n"
        assert f.readline() == b"250 2.0.0 OK\r\n"
        s.sendall(b"FROB\r\n")
        assert f.readline() == b'500 5.5.1 Command unrecognized: "FROB"\r\n'


def test_stop_ends_a_delayed_session(probe_peers):  # noqa: F811
    p = OldSendmailPeer(port=0, host="127.0.0.1", delays={"banner": 120}).start()
    s = socket.create_connection((p.host, p.port), timeout=10)
    with s:
        time.sleep(0.2)
        assert p.connections == 1
        _, took = timed(p.stop)
        assert took < 5, took
        assert s.recv(100) == b""  # closed without a greeting
    with pytest.raises(OSError):
        socket.create_connection((p.host, p.port), timeout=2)


def test_several_connections_at_once(probe_peers):  # noqa: F811
    p = probe_peers.old_sendmail(delays={"banner": 0.5})
    socks = [socket.create_connection((p.host, p.port), timeout=10) for _ in range(3)]
    t = time.monotonic()
    for s in socks:
        assert s.recv(512).startswith(b"220 ")
        s.close()
    assert time.monotonic() - t < 1.45  # side by side (one after another: 1.5 s)
    p.wait_sessions_closed()
    assert p.connections == 3


# --- certificates ---

def client_ctx(ca_file):
    return ssl.create_default_context(cafile=ca_file)


def starttls(peer, ctx, server_hostname, ehlo=True):
    s = connect(peer)
    s._host = server_hostname  # smtplib's SNI and name checked
    s.ehlo()
    s.starttls(context=ctx)
    if ehlo:
        s.ehlo()
    return s


def peer_cert(sock):
    return x509.load_der_x509_certificate(sock.getpeercert(binary_form=True))


def now():
    return datetime.datetime.now(datetime.timezone.utc)


@pytest.mark.parametrize("ca", [False, True])
def test_expired_certificate_is_expired_for_ssl(probe_peers, ca):  # noqa: F811
    p = probe_peers.expired_cert(hostname="mx.expired.test", ca=ca or None)
    assert p.expired and p.not_after < now() - datetime.timedelta(days=29)
    with connect(p) as s:
        s._host = "mx.expired.test"
        s.ehlo()
        assert s.has_extn("starttls")
        with pytest.raises(ssl.SSLCertVerificationError) as e:
            s.starttls(context=client_ctx(p.ca_file))
        assert e.value.verify_code == 10, e.value  # X509_V_ERR_CERT_HAS_EXPIRED
    p.wait_sessions_closed()
    assert "expired" in p.sessions[0].tls_error
    assert p.sessions[0].sni == "mx.expired.test"
    # without verification: the handshake works, the certificate is the one made
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with starttls(p, ctx, "mx.expired.test") as s:
        cert = peer_cert(s.sock)
        assert cert.not_valid_after.replace(tzinfo=datetime.timezone.utc) == p.not_after
        assert cert.not_valid_after.replace(tzinfo=datetime.timezone.utc) < now()
        assert cert.not_valid_before < cert.not_valid_after
        issuer = cert.issuer.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value
        assert issuer == ("Postino Test Root CA" if ca else "mx.expired.test")
        s.noop()
    assert p.sessions[1].tls == "TLSv1.3"
    p.wait_sessions_closed()
    assert [c.split()[0].upper() for c in p.sessions[1].commands] == [
        "EHLO", "STARTTLS", "EHLO", "NOOP", "QUIT"]


def test_expired_false_and_days_left(probe_peers):  # noqa: F811
    assert not probe_peers.expired_cert(expired=False).expired
    assert probe_peers.expired_cert(days_left=-2).expired


def test_days_left_and_names(probe_peers):  # noqa: F811
    ca = TestCA()
    p = probe_peers.cert(hostname="mx1.soon.test", names=["mx1.soon.test", "mx.soon.test",
                                                         "127.0.0.1"], days_left=5, ca=ca)
    with starttls(p, client_ctx(ca.ca_file), "mx.soon.test") as s:
        cert = peer_cert(s.sock)
        left = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc) - now()
        assert left.days == 5, left
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert sans.get_values_for_type(x509.DNSName) == ["mx1.soon.test", "mx.soon.test"]
        assert [str(a) for a in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
        cn = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value
        assert cn == "mx1.soon.test"
        assert s.sock.getpeercert(binary_form=False)["subject"] == (
            (("commonName", "mx1.soon.test"),),)
    assert p.sessions[0].sni == "mx.soon.test"
    with pytest.raises(ssl.SSLCertVerificationError) as e:
        starttls(p, client_ctx(ca.ca_file), "other.soon.test")
    assert "mismatch" in str(e.value)


def test_intermediate_is_sent(probe_peers):  # noqa: F811
    ca = TestCA(intermediate=True)
    p = probe_peers.cert(hostname="mx.chain.test", ca=ca)
    with open(p.cert_file) as f:
        assert f.read().count("BEGIN CERTIFICATE") == 2
    with open(p.ca_file) as f:
        assert f.read().count("BEGIN CERTIFICATE") == 1
    # the trust store has only the root: verification needs the intermediate sent
    with starttls(p, client_ctx(p.ca_file), "mx.chain.test") as s:
        issuer = peer_cert(s.sock).issuer.rfc4514_string()
        assert issuer == "CN=Postino Test Intermediate CA"


def openssl_starttls(peer, servername, env_ca=None):
    env = dict(os.environ)
    env.pop("SSL_CERT_DIR", None)
    if env_ca:
        env["SSL_CERT_FILE"] = env_ca
    r = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect", peer.hostport,
                        "-servername", servername, "-showcerts", "-brief"],
                       input=b"QUIT\r\n", capture_output=True, timeout=30, env=env)
    return r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")


def test_ssl_cert_file_is_the_trust_store_of_openssl(probe_peers):  # noqa: F811
    ca = TestCA(intermediate=True)
    good = probe_peers.cert(hostname="mx.good.test", ca=ca)
    expired = probe_peers.expired_cert(hostname="mx.old.test", ca=ca)
    out = openssl_starttls(good, "mx.good.test", env_ca=ca.ca_file)
    assert "Verification: OK" in out, out
    out = openssl_starttls(good, "mx.good.test")  # the system store knows no test CA
    assert "Verification error" in out, out
    out = openssl_starttls(expired, "mx.old.test", env_ca=ca.ca_file)
    assert "certificate has expired" in out, out


def test_tls_without_forward_secrecy(probe_peers):  # noqa: F811
    p = probe_peers.cert(hostname="mx.rsa.test", key="rsa", tls_versions=("TLSv1.2", "TLSv1.2"),
                         ciphers="AES128-GCM-SHA256")
    with starttls(p, client_ctx(p.ca_file), "mx.rsa.test") as s:
        assert s.sock.version() == "TLSv1.2"
        assert s.sock.cipher()[0] == "AES128-GCM-SHA256"  # RSA key exchange
    assert p.sessions[0].cipher[0] == "AES128-GCM-SHA256"
    q = probe_peers.cert(hostname="mx.ec.test")
    with starttls(q, client_ctx(q.ca_file), "mx.ec.test") as s:
        assert s.sock.version() == "TLSv1.3"


def test_starttls_twice_and_pipelined_after_starttls(probe_peers):  # noqa: F811
    p = probe_peers.cert(hostname="mx.tls.test")
    with starttls(p, client_ctx(p.ca_file), "mx.tls.test") as s:
        assert "starttls" not in s.esmtp_features
        assert s.docmd("STARTTLS")[0] == 503
    s = socket.create_connection((p.host, p.port), timeout=10)
    with s, s.makefile("rb") as f:
        f.readline()
        s.sendall(b"EHLO c\r\n")
        while not f.readline().startswith(b"250 "):
            pass
        s.sendall(b"STARTTLS\r\nNOOP\r\n")
        assert f.readline().startswith(b"220 ")
    p.wait_sessions_closed()
    assert p.violations == ["commands pipelined after STARTTLS (session 2)"]


# --- DNS ---

def query(dns, name, qtype):
    """(rcode name, [answers as text]) straight from the test DNS server."""
    q = DNSRecord.question(name, qtype)
    r = DNSRecord.parse(q.send("127.0.0.1", dns.port, timeout=5))
    return RCODE[r.header.rcode], [(QTYPE[rr.rtype], str(rr.rdata)) for rr in r.rr]


def txt(dns, name):
    rcode, rrs = query(dns, name, "TXT")
    assert rcode == "NOERROR", (name, rcode)
    return [v[1:-1] if v.startswith('"') else v for t, v in rrs if t == "TXT"]


def spf_lookups(dns, name, seen=None):
    """The DNS-querying terms of name's SPF record and its includes (RFC 7208 4.6.4)."""
    seen = seen if seen is not None else set()
    assert name not in seen, "include loop at %s" % name
    seen.add(name)
    (record,) = [t for t in txt(dns, name) if t.startswith("v=spf1 ")]
    n = 0
    for term in record.split()[1:]:
        mech = re.sub(r"^[-+~?]", "", term).split(":")[0].split("/")[0].split("=")[0].lower()
        if mech in ("a", "mx", "ptr", "exists", "include", "redirect"):
            n += 1
        if mech == "include":
            n += spf_lookups(dns, term.split(":", 1)[1], seen)
    return n


def test_probe_dns_records(dns, probe_peers):  # noqa: F811
    old = probe_peers.old_sendmail()
    tls = probe_peers.cert()
    pd = probe_dns(dns, None, [old, tls])
    d = pd.domain
    assert query(dns, d, "MX") == ("NOERROR", [("MX", "10 mx1.%s." % d),
                                               ("MX", "20 mx2.%s." % d)])
    assert query(dns, "mx1." + d, "A") == ("NOERROR", [("A", old.host)])
    assert query(dns, "mx2." + d, "A") == ("NOERROR", [("A", tls.host)])
    assert query(dns, "mx1." + d, "AAAA") == ("NOERROR", [])
    rev = ".".join(reversed(old.host.split("."))) + ".in-addr.arpa"
    assert query(dns, rev, "PTR") == ("NOERROR", [("PTR", "mx1.%s." % d)])
    assert pd.ptr == {old.host: "mx1." + d, tls.host: "mx2." + d}
    assert pd.addresses == [old.host, tls.host]
    assert txt(dns, d) == ["v=spf1 mx -all"] and pd.spf_lookups == 1
    assert txt(dns, "_dmarc." + d) == ["v=DMARC1; p=reject; rua=mailto:dmarc@%s" % d]
    assert txt(dns, "_mta-sts." + d) == ["v=STSv1; id=20261128T000000;"]
    assert txt(dns, "_smtp._tls." + d) == ["v=TLSRPTv1; rua=mailto:tlsrpt@%s" % d]


def test_probe_dns_bad_cases(dns):
    pd = probe_dns(dns, None, ["127.0.0.1", ("mail.elsewhere.test", ["127.0.0.2"], 5)],
                   spf=SPF_OVER_LIMIT, dmarc=DMARC_SYNTAX_ERROR, mta_sts=None, tlsrpt=None,
                   ptr={"127.0.0.2": None})
    d = pd.domain
    assert pd.spf_lookups == 13 > SPF_LOOKUP_LIMIT
    assert spf_lookups(dns, d) == 13
    assert len(pd.spf_records) == 5 and pd.spf == pd.spf_records[d]
    for name in pd.spf_records:
        for term in pd.spf_records[name].split():
            if term.startswith("a:"):
                assert query(dns, term[2:], "A")[0] == "NOERROR"
    assert txt(dns, "_dmarc." + d) == ["v=DMARC1; p=maybe"]
    assert query(dns, "_mta-sts." + d, "TXT") == ("NXDOMAIN", [])
    assert query(dns, "_smtp._tls." + d, "TXT") == ("NXDOMAIN", [])
    assert query(dns, d, "MX")[1] == [("MX", "10 mx1.%s." % d), ("MX", "5 mail.elsewhere.test.")]
    assert query(dns, "2.0.0.127.in-addr.arpa", "PTR") == ("NXDOMAIN", [])
    assert probe_dns(dns, None, ["127.0.0.3"], spf_lookups=11,
                     spf=SPF_OVER_LIMIT).spf_lookups == 11


def test_probe_dns_ptr_not_confirmed_null_mx_fallback(dns):
    pd = probe_dns(dns, None, ["127.0.0.4"], ptr={"127.0.0.4": "unknown.nowhere.test"})
    assert query(dns, "4.0.0.127.in-addr.arpa", "PTR")[1] == [("PTR", "unknown.nowhere.test.")]
    assert query(dns, "unknown.nowhere.test", "A") == ("NXDOMAIN", [])
    assert pd.ptr == {"127.0.0.4": "unknown.nowhere.test"}
    pd = probe_dns(dns, None, [], null_mx=True, spf=None, dmarc=None, mta_sts=None, tlsrpt=None)
    assert query(dns, pd.domain, "MX") == ("NOERROR", [("MX", "0 .")])
    assert query(dns, pd.domain, "TXT") == ("NOERROR", [])
    pd = probe_dns(dns, None, None, fallback="127.0.0.5", ptr=False)
    assert query(dns, pd.domain, "MX") == ("NOERROR", [])
    assert query(dns, pd.domain, "A") == ("NOERROR", [("A", "127.0.0.5")])
    assert query(dns, "5.0.0.127.in-addr.arpa", "PTR") == ("NXDOMAIN", [])
    assert pd.mx == [(None, pd.domain, ["127.0.0.5"])]
