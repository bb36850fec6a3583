"""POP3 STLS (RFC 2595 4) on the plaintext port: CAPA before and after,
a second STLS, plaintext injected behind STLS, curl with --ssl-reqd.
(Written against a pop3d that read no command after the handshake.)
"""

import subprocess

from postino_testlib import client_tls_context
from test_pop3 import BOB, PW, RawPOP3, deliver, srv  # noqa: F401


def test_capa_before_and_after_stls(srv):
    p = srv.pop3()
    c = p.capa()
    assert "STLS" in c and "USER" not in c and "SASL" not in c, c
    p.stls(context=client_tls_context())
    c = p.capa()
    assert "STLS" not in c, c
    assert "USER" in c and c["SASL"] == ["PLAIN"], c
    p.user(BOB)
    assert p.pass_(PW).startswith(b"+OK")
    assert p.stat() == (0, 0)
    p.quit()


def test_stls_twice_is_refused(srv):
    d = RawPOP3(srv.pop3_port, tls=False)
    assert d.cmd("STLS").startswith(b"+OK")
    d.starttls()
    assert d.cmd("STLS").startswith(b"-ERR")
    assert d.cmd("USER " + BOB) == b"+OK"
    assert d.cmd("PASS " + PW).startswith(b"+OK")


def test_stls_command_injection_is_dropped(srv):
    c = RawPOP3(srv.pop3_port, tls=False)
    # "USER" sent in the clear right behind STLS must not survive the
    # switch to TLS.
    c.send("STLS\r\nUSER %s\r\n" % BOB)
    assert c.line().startswith(b"+OK")
    c.starttls()
    assert c.cmd("PASS " + PW) == b"-ERR Give USER first"
    srv.wait_log(r"discarded \d+ octets sent after STARTTLS")


def test_curl_stls_on_the_plaintext_port(srv):
    deliver(srv, 1)
    # STLS on the plaintext port, with --ssl-reqd
    r = subprocess.run(["curl", "-sSk", "--ssl-reqd", "--max-time", "30", "--user",
                        "%s:%s" % (BOB, PW), "pop3://127.0.0.1:%d/1" % srv.pop3_port],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert b"Subject: pop test 1" in r.stdout
