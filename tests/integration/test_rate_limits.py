"""Rate limits per authenticated user and per client address (messages and
recipients in the last hour, 450 4.7.1 beyond, counted across smtpd
processes) and greylisting (off by default: a new triplet is deferred, a
retry after the delay passes and the client's network passes at once
afterwards)."""

import smtplib
import time

import pytest

BOB = "bob@example.test"


def msg(subject):
    return ("From: a@remote.test\r\nTo: bob@example.test\r\nSubject: %s\r\n\r\nbody\r\n"
            % subject).encode()


def test_messages_per_client(make_server):
    srv = make_server(rate_limit_messages=3, smtpd_processes=2)
    for i in range(3):
        with smtplib.SMTP("127.0.0.1", srv.port, timeout=30) as c:
            c.sendmail("a@remote.test", [BOB], msg("m%d" % i))
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=30) as c:
        c.ehlo("client.example.org")
        code, text = c.mail("a@remote.test")
        assert code == 450, text
        assert text.decode().startswith("4.7.1 Rate limit reached: 3 messages"), text
    # another client address is counted apart
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=30,
                      source_address=("127.0.0.2", 0)) as c:
        c.sendmail("a@remote.test", [BOB], msg("other client"))
    srv.wait_for_maildir("bob", 4)
    assert srv.grep_log(r"NOQUEUE: reject: MAIL from \[127\.0\.0\.1\]: 450 4\.7\.1 rate limit: "
                        r"3 messages in the last hour \(limit 3\) for ip:127\.0\.0\.1")


def test_recipients_per_client(make_server):
    srv = make_server(users=("bob", "alice", "carol"), rate_limit_recipients=4)
    with srv.smtp() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@remote.test>").code == 250
        for u in ("bob", "alice", "carol"):
            assert c.cmd("RCPT TO:<%s@example.test>" % u).code == 250
        r = c.cmd("DATA")
        assert r.code == 354
        assert c.cmd(msg("three") + b".").code == 250
        assert c.cmd("MAIL FROM:<a@remote.test>").code == 250
        assert c.cmd("RCPT TO:<bob@example.test>").code == 250
        r = c.cmd("RCPT TO:<alice@example.test>")
        assert (r.code, r.enh) == (450, "4.7.1"), r
        assert "recipients" in r.text


def test_authenticated_user_counted_by_name(make_server):
    srv = make_server(rate_limit_messages=1)
    for expect in (250, 450):
        with srv.submissions() as c:
            c.ehlo()
            assert c.auth_plain(BOB, "secret-pw").code == 235
            r = c.cmd("MAIL FROM:<%s>" % BOB)
            assert r.code == expect, r
            if expect == 250:
                assert c.cmd("RCPT TO:<alice@example.test>").code == 250
                assert c.cmd("DATA").code == 354
                assert c.cmd(msg("from bob") + b".").code == 250
            else:
                assert "from bob@example.test" in r.text, r
    assert srv.grep_log(r"rate limit: 1 messages in the last hour \(limit 1\) for "
                        r"user:bob@example\.test")


def test_greylisting(make_server):
    srv = make_server(greylisting="yes", greylist_delay="2s")

    def rcpt(sender, rcpt_to=BOB):
        with smtplib.SMTP("127.0.0.1", srv.port, timeout=30) as c:
            c.ehlo("client.example.org")
            assert c.mail(sender)[0] == 250
            code, text = c.rcpt(rcpt_to)
            return code, text.decode()

    code, text = rcpt("first@remote.test")
    assert code == 450 and text.startswith("4.7.1") and "Greylisted" in text, text
    code, text = rcpt("first@remote.test")  # too soon
    assert code == 450, text
    time.sleep(2.2)
    code, text = rcpt("first@remote.test")
    assert code == 250, text
    # the client's network now passes at once, whatever the triplet
    code, text = rcpt("second@elsewhere.test", "alice@example.test")
    assert code == 250, text
    # authenticated submission is never greylisted
    srv2 = make_server(greylisting="yes", greylist_delay="1h")
    with srv2.submissions() as c:
        c.ehlo()
        assert c.auth_plain(BOB, "secret-pw").code == 235
        assert c.cmd("MAIL FROM:<%s>" % BOB).code == 250
        assert c.cmd("RCPT TO:<alice@example.test>").code == 250
