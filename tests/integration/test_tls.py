"""TLS: STARTTLS on the SMTP and submission ports, implicit TLS on
submissions, the protocol and cipher policy, the STARTTLS command
injection defence, SNI, certificate reload on SIGHUP and session
resumption. Clients: openssl s_client, swaks and Python's ssl."""

import base64
import os
import re
import signal
import ssl
import subprocess
import threading
import time
import warnings

import pytest

from postino_testlib import client_tls_context, header_values, queued_id

PW = "secret-pw"


# --- helpers ---

def s_client(port, *args, input="", starttls=False, timeout=20):
    """Run openssl s_client against 127.0.0.1:port; returns (rc, output).
    input is sent line by line (CRLF on the wire) once the handshake is
    done, a moment apart, so that each reply arrives before the next line
    is sent. -ign_eof keeps it reading until the server closes (so input
    should end with QUIT); -nocommands keeps lines such as RCPT from being
    taken as s_client commands."""
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-crlf",
           "-ign_eof", "-nocommands"]
    if starttls:
        cmd += ["-starttls", "smtp"]
    cmd += list(args)
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    out = []
    reader = threading.Thread(target=lambda: out.extend(iter(lambda: p.stdout.read1(65536), b"")),
                              daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    try:
        # the handshake is over (or failed) once the session summary is out
        while p.poll() is None and b"Cipher is" not in b"".join(out):
            if time.monotonic() > deadline:
                raise AssertionError("s_client handshake not done: %r" % b"".join(out))
            time.sleep(0.02)
        for line in input.splitlines():
            if p.poll() is not None:
                break
            p.stdin.write(line.encode("utf-8") + b"\n")
            p.stdin.flush()
            time.sleep(0.2)
        p.stdin.close()
    except BrokenPipeError:
        pass
    try:
        rc = p.wait(max(1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        reader.join(5)
        raise AssertionError("s_client did not finish: %s" % b"".join(out).decode("utf-8", "replace"))
    reader.join(5)
    p.stdout.close()
    return rc, b"".join(out).decode("utf-8", "replace")


def handshake_ok(out):
    m = re.search(r"^(New|Reused), (\S+), Cipher is (\S+)", out, re.M)
    return bool(m) and m.group(3) != "(NONE)"


def negotiated(out):
    m = re.search(r"^(New|Reused), (\S+), Cipher is (\S+)", out, re.M)
    assert m, out
    return m.group(1), m.group(2).rstrip(","), m.group(3)


def peer_subject(out):
    m = re.search(r"^subject=(.*)$", out, re.M)
    assert m, out
    return m.group(1).strip()


def tls_dir_owner(srv):
    """(uid, gid) the server's TLS files get: root and the service group when
    the suite runs as root (as `postino init` does), else the caller."""
    st = os.stat(os.path.join(srv.dir, "state"))
    return (0, st.st_gid) if os.geteuid() == 0 else (os.geteuid(), os.getegid())


def make_cert(srv, cert_rel, key_rel, cn, names=None, key="ec"):
    """A self-signed certificate for cn (and names as subjectAltName DNS
    entries) written to cert_rel/key_rel under the data directory with the
    modes `postino init` gives its own; returns the certificate's DER."""
    names = names or [cn]
    cert = os.path.join(srv.dir, cert_rel)
    keyf = os.path.join(srv.dir, key_rel)
    d = os.path.dirname(cert)
    uid, gid = tls_dir_owner(srv)
    if not os.path.isdir(d):
        os.makedirs(d)
        os.chown(d, uid, gid)
        os.chmod(d, 0o750)
    # write next to the target and rename: a reload never sees half a file
    tmp_cert, tmp_key = cert + ".new", keyf + ".new"
    newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"] if key == "ec" \
        else ["-newkey", "rsa:2048"]
    subprocess.run(["openssl", "req", "-x509", "-nodes", "-days", "30", "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=" + ",".join("DNS:" + n for n in names),
                    "-keyout", tmp_key, "-out", tmp_cert] + newkey,
                   check=True, capture_output=True, timeout=60)
    os.chown(tmp_key, uid, gid)
    os.chmod(tmp_key, 0o640)
    os.chown(tmp_cert, uid, gid)
    os.chmod(tmp_cert, 0o644)
    os.replace(tmp_key, keyf)
    os.replace(tmp_cert, cert)
    with open(cert) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def file_der(srv, rel="tls/cert.pem"):
    with open(os.path.join(srv.dir, rel)) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def send_message(c, sender, rcpts, body):
    """MAIL, RCPT, DATA on an open session; returns the final reply."""
    r = c.cmd("MAIL FROM:<%s>" % sender)
    assert r.code == 250, r
    for rc in rcpts:
        r = c.cmd("RCPT TO:<%s>" % rc)
        assert r.code == 250, (rc, r)
    r = c.cmd("DATA")
    assert r.code == 354, r
    return c.cmd(body.replace("\n", "\r\n") + "\r\n.")


def submission_session(srv, user="bob", password=PW):
    """A submission connection after STARTTLS, EHLO and AUTH."""
    c = srv.submission()
    c.ehlo()
    assert c.starttls().code == 220
    c.ehlo()
    r = c.auth_plain(srv.address(user), password)
    assert (r.code, r.enh) == (235, "2.7.0"), r
    return c


# --- STARTTLS and implicit TLS ---

@pytest.mark.parametrize("service", ["smtp", "submission"])
def test_starttls_with_openssl(server, service):
    port = server.port if service == "smtp" else server.submission_port
    rc, out = s_client(port, starttls=True, input="EHLO tls.example.org\r\nQUIT\r\n")
    assert handshake_ok(out), out
    proto = negotiated(out)[1]
    assert proto == "TLSv1.3", out
    # The EHLO answered under TLS: no STARTTLS any more. (s_client shows
    # the last line of its own EHLO before TLS, "250 STARTTLS"; skip it.)
    m = re.search(r"^250-\S+ Hello tls\.example\.org", out, re.M)
    assert m, out
    ehlo = [l.strip() for l in re.findall(r"^250[- ](.*)$", out[m.start():], re.M)]
    assert not any(l == "STARTTLS" for l in ehlo), out
    if service == "submission":
        assert any(l.startswith("AUTH ") and "PLAIN" in l and "LOGIN" in l for l in ehlo), out
    else:
        assert not any(l.startswith("AUTH") for l in ehlo), out
    server.wait_log(r"connect from \[127\.0\.0\.1\]:\d+ to %s$" % service)
    server.wait_log(r"TLS established with \[127\.0\.0\.1\]: TLSv1\.3 with cipher TLS_")


def test_implicit_tls_with_openssl(server):
    rc, out = s_client(server.submissions_port, input="EHLO tls.example.org\r\nQUIT\r\n")
    assert handshake_ok(out), out
    assert re.search(r"^220 \S+ ESMTP", out, re.M), out
    ehlo = re.findall(r"^250[- ](.*)$", out, re.M)
    assert any(l.startswith("AUTH ") and "PLAIN" in l for l in ehlo), out
    assert not any(l.strip() == "STARTTLS" for l in ehlo), out
    assert re.search(r"^221 ", out, re.M), out
    server.wait_log(r"connect from \[127\.0\.0\.1\]:\d+ to submissions$")


def test_starttls_smtp_port_delivers_with_esmtps(server):
    with server.smtp() as c:
        ehlo = c.ehlo()
        assert "STARTTLS" in ehlo.texts
        assert not any(t.startswith("AUTH") for t in ehlo.texts)
        r = c.starttls()
        assert (r.code, r.enh) == (220, "2.0.0"), r
        assert c.tls_version == "TLSv1.3"
        ehlo = c.ehlo()
        assert "STARTTLS" not in ehlo.texts
        # smtp_auth=no: no AUTH even under TLS
        assert not any(t.startswith("AUTH") for t in ehlo.texts)
        r = c.cmd("STARTTLS")
        assert (r.code, r.enh) == (503, "5.5.1"), r
        r = send_message(c, "someone@other.example", ["bob@example.test"],
                         "Subject: over tls\n\nsecret")
        assert r.code == 250, r
    [m] = server.wait_for_maildir("bob", 1)
    rcv = header_values(m, "Received")[0]
    assert re.search(r"\bwith ESMTPS\b", rcv), rcv
    assert re.search(r"\(using TLSv1\.3 with cipher TLS_\w+", rcv), rcv
    assert m.endswith(b"\n\nsecret\n")


def test_plaintext_received_header_has_no_tls(server):
    with server.smtp() as c:
        c.ehlo()
        assert send_message(c, "a@other.example", ["bob@example.test"],
                            "Subject: plain\n\nx").code == 250
    [m] = server.wait_for_maildir("bob", 1)
    rcv = header_values(m, "Received")[0]
    assert re.search(r"\bwith ESMTP\b", rcv) and "using TLS" not in rcv, rcv


def test_smtp_starttls_can_be_turned_off(make_server):
    srv = make_server(smtp_starttls="no")
    with srv.smtp() as c:
        assert "STARTTLS" not in c.ehlo().texts
        r = c.cmd("STARTTLS")
        assert r.code in (502, 503), r
    # submission always offers it
    with srv.submission() as c:
        assert "STARTTLS" in c.ehlo().texts


def test_swaks_starttls_and_implicit_tls(server):
    common = ["swaks", "--server", "127.0.0.1", "--from", "someone@other.example",
              "--timeout", "20", "--header", "Subject: via swaks"]
    r = subprocess.run(common + ["--port", str(server.port), "--to", "bob@example.test",
                                 "-tls"], capture_output=True, timeout=60)
    out = r.stdout.decode("utf-8", "replace")
    assert "TLS started" in out, out
    assert re.search(r"<~  250 .*queued as", out), out
    r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(server.submissions_port),
                        "--tlsc", "--auth", "PLAIN", "--auth-user", "alice@example.test",
                        "--auth-password", PW, "--from", "alice@example.test",
                        "--to", "carol@example.test", "--timeout", "20"],
                       capture_output=True, timeout=60)
    out2 = r.stdout.decode("utf-8", "replace")
    assert "TLS started" in out2, out2
    assert re.search(r"<~  235 2\.7\.0", out2), out2
    assert re.search(r"<~  250 .*queued as", out2), out2
    assert r.returncode == 0, out2
    [m] = server.wait_for_maildir("bob", 1)
    assert "ESMTPS" in header_values(m, "Received")[0]
    [m] = server.wait_for_maildir("carol", 1)
    assert "ESMTPSA" in header_values(m, "Received")[0]


def test_quit_under_starttls_gets_221(server):
    """The reply that precedes a close must reach the client on a STARTTLS
    connection as it does on plaintext and implicit-TLS ones."""
    for port in (server.port, server.submission_port):
        with server.smtp() if port == server.port else server.submission() as c:
            c.ehlo()
            assert c.starttls().code == 220
            c.ehlo()
            c.send("QUIT\r\n")
            try:
                r = c.reply()
            except ConnectionError as e:
                pytest.fail("no reply to QUIT after STARTTLS on port %d: %s" % (port, e))
            assert (r.code, r.enh) == (221, "2.0.0"), r
    with server.submissions() as c:
        c.ehlo()
        assert c.cmd("QUIT").code == 221


def test_pipelined_end_of_data_and_quit_under_starttls(server):
    """A client that sends the end of the message and QUIT in one write
    (PIPELINING) must get the 250 for the message: without it, it will send
    the message again."""
    with server.smtp() as c:
        c.ehlo()
        assert c.starttls().code == 220
        c.ehlo()
        c.send(b"MAIL FROM:<a@other.example>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
        assert [r.code for r in c.replies(3)] == [250, 250, 354]
        c.send(b"Subject: pipelined\r\n\r\nbody\r\n.\r\nQUIT\r\n")
        try:
            r = c.reply()
        except ConnectionError as e:
            r = e
        # the message is taken either way ...
        server.wait_for_maildir("bob", 1)
        # ... but the client must be told
        assert not isinstance(r, Exception), "no reply to the end of data: %s" % r
        assert r.code == 250 and "queued as" in r.text, r
        assert c.reply().code == 221


# --- protocol versions and ciphers ---

@pytest.mark.parametrize("version", ["-tls1", "-tls1_1"])
def test_old_tls_versions_refused(server, version):
    for port, starttls in ((server.submissions_port, False), (server.submission_port, True),
                           (server.port, True)):
        rc, out = s_client(port, version, "-cipher", "DEFAULT@SECLEVEL=0",
                           starttls=starttls, input="QUIT\r\n")
        assert rc != 0 and not handshake_ok(out), (port, out)
        if not starttls:
            assert "alert protocol version" in out, out
    server.wait_log(r"TLS handshake failed with \[127\.0\.0\.1\]", count=3)
    # the server is fine afterwards
    rc, out = s_client(server.submissions_port, "-tls1_2", input="QUIT\r\n")
    assert handshake_ok(out) and negotiated(out)[1] == "TLSv1.2", out


def test_old_tls_versions_refused_python(server):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = client_tls_context(minimum=ssl.TLSVersion.TLSv1, maximum=ssl.TLSVersion.TLSv1_1,
                                 ciphers="DEFAULT@SECLEVEL=0")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        server.submissions(context=ctx).close()
    ctx = client_tls_context(maximum=ssl.TLSVersion.TLSv1_2)
    with server.submissions(context=ctx) as c:
        assert c.tls_version == "TLSv1.2"
        c.ehlo()


EC_CIPHERS = [
    ("ECDHE-ECDSA-AES128-GCM-SHA256", True),
    ("ECDHE-ECDSA-AES256-GCM-SHA384", True),
    ("ECDHE-ECDSA-CHACHA20-POLY1305", True),
    ("AES128-GCM-SHA256", False),           # RSA key exchange: no forward secrecy
    ("AES128-SHA256", False),
    ("ECDHE-ECDSA-AES128-SHA256", False),   # CBC
    ("ECDHE-ECDSA-AES256-SHA384", False),   # CBC
    ("ECDHE-ECDSA-AES128-SHA", False),      # CBC, SHA-1
]


def test_tls12_cipher_policy_ec_certificate(server):
    bad = []
    for cipher, ok in EC_CIPHERS:
        rc, out = s_client(server.submissions_port, "-tls1_2", "-cipher", cipher,
                           input="QUIT\r\n")
        got = handshake_ok(out)
        if got:
            assert negotiated(out)[1:] == ("TLSv1.2", cipher), out
        if got != ok:
            bad.append((cipher, "accepted" if got else "refused"))
    assert not bad, bad


def test_tls12_cipher_policy_rsa_certificate(make_server):
    """With an RSA certificate, RSA key exchange and DHE would be possible
    for the client: the server must still insist on ECDHE with AEAD."""
    srv = make_server(start=False, tls_certificates="tls/rsa-cert.pem:tls/rsa-key.pem")
    make_cert(srv, "tls/rsa-cert.pem", "tls/rsa-key.pem", "rsa.example.test", key="rsa")
    srv.start()
    cases = [
        ("ECDHE-RSA-AES128-GCM-SHA256", True),
        ("ECDHE-RSA-CHACHA20-POLY1305", True),
        ("AES128-GCM-SHA256", False),
        ("AES256-GCM-SHA384", False),
        ("AES128-SHA256", False),
        ("DHE-RSA-AES128-GCM-SHA256", False),
        ("ECDHE-RSA-AES128-SHA256", False),
        ("ECDHE-RSA-AES128-SHA", False),
    ]
    bad = []
    for cipher, ok in cases:
        rc, out = s_client(srv.submissions_port, "-tls1_2", "-cipher", cipher, input="QUIT\r\n")
        got = handshake_ok(out)
        if got:
            assert negotiated(out)[1:] == ("TLSv1.2", cipher), out
        if got != ok:
            bad.append((cipher, "accepted" if got else "refused"))
    assert not bad, bad
    rc, out = s_client(srv.submissions_port, input="QUIT\r\n")
    assert negotiated(out)[1] == "TLSv1.3" and "rsa.example.test" in peer_subject(out), out


def test_handshake_failure_reason_logged(server):
    """The log line of a failed handshake names the cause."""
    rc, out = s_client(server.submissions_port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0",
                       input="QUIT\r\n")
    assert not handshake_ok(out)
    rc, out = s_client(server.submissions_port, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA",
                       input="QUIT\r\n")
    assert not handshake_ok(out)
    lines = server.wait_log(r"TLS handshake failed with \[127\.0\.0\.1\]: ", count=2)
    assert re.search(r"unsupported protocol|version", lines[0]), lines
    assert re.search(r"no shared cipher", lines[1]), lines


# --- STARTTLS command injection (CVE-2011-0411 class) ---

def test_starttls_injection_discarded_smtp(server):
    injected = b"MAIL FROM:<evil@x.example>\r\nRCPT TO:<bob@example.test>\r\n"
    with server.smtp() as c:
        c.ehlo()
        c.send(b"STARTTLS\r\n" + injected)
        r = c.reply()
        assert (r.code, r.enh) == (220, "2.0.0"), r
        assert c.buf == b"", "replies to the injected commands: %r" % c.buf
        c.sock = client_tls_context().wrap_socket(c.sock)
        c.ehlo()
        # Had the MAIL run, RCPT would be accepted here.
        r = c.cmd("RCPT TO:<bob@example.test>")
        assert (r.code, r.enh) == (503, "5.5.1"), r
        # and a MAIL is a first MAIL, not a nested one
        r = send_message(c, "good@other.example", ["alice@example.test"],
                         "Subject: after injection\n\nok")
        assert r.code == 250, r
    server.wait_log(r"discarded %d octets sent after STARTTLS" % len(injected))
    [m] = server.wait_for_maildir("alice", 1)
    assert header_values(m, "Return-Path") == ["<good@other.example>"]
    time.sleep(0.2)
    assert server.messages("bob") == []
    assert not server.grep_log(r"evil@x\.example>, size")


def test_starttls_injection_discarded_submission(server):
    injected = b"AUTH PLAIN " + base64.b64encode(
        b"\0bob@example.test\0" + PW.encode()) + b"\r\nMAIL FROM:<bob@example.test>\r\n"
    with server.submission() as c:
        c.ehlo()
        c.send(b"STARTTLS\r\n" + injected)
        assert c.reply().code == 220
        assert c.buf == b""
        c.sock = client_tls_context().wrap_socket(c.sock)
        c.ehlo()
        # the injected AUTH did not authenticate the session
        r = c.cmd("MAIL FROM:<bob@example.test>")
        assert (r.code, r.enh) == (530, "5.7.0"), r
        assert c.auth_plain("bob@example.test", PW).code == 235
        r = c.cmd("RCPT TO:<alice@example.test>")
        assert (r.code, r.enh) == (503, "5.5.1"), r
        assert c.cmd("MAIL FROM:<bob@example.test>").code == 250
    server.wait_log(r"discarded %d octets sent after STARTTLS" % len(injected))
    # one login only: the one made under TLS
    assert len(server.grep_log(r"authenticated: service=submission ")) == 1


def test_session_restarts_after_starttls(server):
    with server.smtp() as c:
        c.cmd("EHLO before.example.org")
        assert c.starttls().code == 220
        r = c.cmd("MAIL FROM:<a@other.example>")
        assert (r.code, r.enh) == (503, "5.5.1"), r
        c.ehlo("after.example.org")
        assert send_message(c, "a@other.example", ["bob@example.test"], "Subject: x\n\ny").code \
            == 250
    [m] = server.wait_for_maildir("bob", 1)
    rcv = header_values(m, "Received")[0]
    assert "after.example.org" in rcv and "before.example.org" not in rcv, rcv
    with server.submission() as c:
        c.ehlo()
        assert c.starttls().code == 220
        r = c.auth_plain("bob@example.test", PW)
        assert (r.code, r.enh) == (503, "5.5.1"), r


def test_auth_advertised_only_under_tls_on_submission(server):
    with server.submission() as c:
        ehlo = c.ehlo()
        assert "STARTTLS" in ehlo.texts
        assert not any(t.startswith("AUTH") for t in ehlo.texts), ehlo
        r = c.cmd("MAIL FROM:<bob@example.test>")
        assert (r.code, r.enh) == (530, "5.7.0") and "STARTTLS" in r.text, r
        assert c.starttls().code == 220
        ehlo = c.ehlo()
        assert "AUTH PLAIN LOGIN" in ehlo.texts or \
            any(t.startswith("AUTH ") and {"PLAIN", "LOGIN"} <= set(t.split()[1:])
                for t in ehlo.texts), ehlo
        assert "STARTTLS" not in ehlo.texts


def test_received_header_esmtpsa_and_tls_line(server):
    with submission_session(server) as c:
        r = send_message(c, "bob@example.test", ["alice@example.test"],
                         "Subject: submitted\n\nhello")
        assert r.code == 250, r
        qid = queued_id(r)
    [m] = server.wait_for_maildir("alice", 1)
    rcv = header_values(m, "Received")[0]
    assert re.search(r"\bwith ESMTPSA\b", rcv), rcv
    assert re.search(r"\(using TLSv1\.3 with cipher TLS_\w+", rcv), rcv
    assert qid in rcv, rcv
    server.wait_log(r"%s: from=<bob@example\.test>" % qid)


# --- SNI ---

def test_sni_selects_certificate(make_server):
    srv = make_server(start=False, hostname="mx.example.test",
                      tls_certificates="tls/main.pem:tls/main.key,tls/other.pem:tls/other.key")
    main_der = make_cert(srv, "tls/main.pem", "tls/main.key", "mx.example.test")
    other_der = make_cert(srv, "tls/other.pem", "tls/other.key", "mail.other.test",
                          names=["mail.other.test", "*.wild.other.test"])
    srv.start()

    def subject(name, port=srv.submissions_port, starttls=False):
        args = ["-servername", name] if name else ["-noservername"]
        rc, out = s_client(port, *args, starttls=starttls, input="QUIT\r\n")
        assert handshake_ok(out), out
        return peer_subject(out)

    assert "CN = mail.other.test" in subject("mail.other.test")
    assert "CN = mail.other.test" in subject("MAIL.Other.Test")
    assert "CN = mail.other.test" in subject("imap.wild.other.test")
    assert "CN = mx.example.test" in subject("mx.example.test")
    assert "CN = mx.example.test" in subject(None)
    assert "CN = mx.example.test" in subject("unknown.example.net")
    # a wildcard covers one label only
    assert "CN = mx.example.test" in subject("a.b.wild.other.test")
    # the same with STARTTLS
    assert "CN = mail.other.test" in subject("mail.other.test", srv.submission_port, True)
    assert "CN = mx.example.test" in subject("mx.example.test", srv.port, True)
    # and with Python's client, comparing the whole certificate
    for name, der in (("mail.other.test", other_der), ("mx.example.test", main_der)):
        with srv.submissions(server_hostname=name) as c:
            assert c.sock.getpeercert(binary_form=True) == der


def test_init_certificate_names_the_host(make_server):
    srv = make_server(hostname="mx.example.test")
    rc, out = s_client(srv.submissions_port, input="QUIT\r\n")
    assert "CN = mx.example.test" in peer_subject(out), out
    with srv.submissions() as c:
        assert c.sock.getpeercert(binary_form=True) == file_der(srv)
        c.ehlo()


# --- SIGHUP reload ---

def test_sighup_reloads_certificate_without_dropping_connections(server):
    old_der = file_der(server)
    # an open TLS connection of each kind, authenticated
    kept = [server.submissions(), submission_session(server, "alice")]
    kept[0].ehlo()
    assert kept[0].auth_plain("carol@example.test", PW).code == 235
    for c in kept:
        assert c.sock.getpeercert(binary_form=True) == old_der

    new_der = make_cert(server, "tls/cert.pem", "tls/key.pem", "reloaded.example.test")
    assert new_der != old_der
    os.kill(server.pid(), signal.SIGHUP)
    server.wait_log(r"TLS certificates reloaded")
    deadline = time.monotonic() + 10
    while True:
        with server.submissions() as c:
            got = c.sock.getpeercert(binary_form=True)
        if got == new_der or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert got == new_der, "new connections still get the old certificate"
    rc, out = s_client(server.submission_port, starttls=True, input="QUIT\r\n")
    assert "CN = reloaded.example.test" in peer_subject(out), out
    rc, out = s_client(server.port, starttls=True, input="QUIT\r\n")
    assert "CN = reloaded.example.test" in peer_subject(out), out

    # the connections opened before the reload still work
    for c, sender in zip(kept, ("carol@example.test", "alice@example.test")):
        r = send_message(c, sender, ["bob@example.test"], "Subject: from %s\n\nx" % sender)
        assert r.code == 250, r
        c.close()
    msgs = server.wait_for_maildir("bob", 2)
    assert sorted(header_values(m, "Subject")[0] for m in msgs) == \
        ["from alice@example.test", "from carol@example.test"]
    assert server.proc.poll() is None


def test_sighup_with_broken_certificate_keeps_the_old_one(server):
    old_der = file_der(server)
    cert = os.path.join(server.dir, "tls", "cert.pem")
    st = os.stat(cert)
    with open(cert + ".new", "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n")
    os.chmod(cert + ".new", st.st_mode)
    os.chown(cert + ".new", st.st_uid, st.st_gid)
    os.replace(cert + ".new", cert)
    os.kill(server.pid(), signal.SIGHUP)
    server.wait_log(r"TLS certificates not reloaded, keeping the old ones")
    with server.submissions() as c:
        assert c.sock.getpeercert(binary_form=True) == old_der
        c.ehlo()
        assert c.auth_plain("bob@example.test", PW).code == 235
    assert server.proc.poll() is None


# --- session resumption ---

@pytest.mark.parametrize("version", ["-tls1_3", "-tls1_2"])
def test_session_resumption(server, version, tmp_path):
    sess = str(tmp_path / "session.pem")
    for port, starttls in ((server.submissions_port, False), (server.submission_port, True)):
        rc, out = s_client(port, version, "-sess_out", sess, starttls=starttls,
                           input="EHLO a.example\r\nQUIT\r\n")
        assert negotiated(out)[0] == "New", out
        assert os.path.getsize(sess) > 0
        rc, out = s_client(port, version, "-sess_in", sess, starttls=starttls,
                           input="EHLO a.example\r\nQUIT\r\n")
        assert negotiated(out)[0] == "Reused", out
        assert re.search(r"^250[- ]", out, re.M), out
    server.wait_log(r"TLS established with \[127\.0\.0\.1\]: .*\(resumed\)$", count=2)
