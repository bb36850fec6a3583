"""DNS block and allow lists (dnsbl_sites), answered by the tests' DNS
server: clients connect from different loopback addresses (127.0.0.N) so
that each is listed differently. Weights add up to the threshold, filters
select answers, 127.255.255.x answers (the list refuses to answer) and DNS
failures count nothing, allow lists subtract, allowed networks and sender
domains are never refused, and the reply names the list."""

import smtplib

import pytest

BOB = "bob@example.test"


def rcpt_reply(srv, source_ip, sender="someone@remote.test"):
    """(code, text) of RCPT TO:<bob> from source_ip."""
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=30,
                      source_address=(source_ip, 0)) as c:
        c.ehlo("client.example.org")
        code, _ = c.mail(sender)
        assert code == 250
        code, text = c.rcpt(BOB)
        return code, text.decode()


@pytest.fixture
def listed(dns, make_server):
    zone = {
        "5": [("bl.test", "127.0.0.2")],                        # weight 2: refused
        "6": [("other.test", "127.0.0.4")],                     # filter misses
        "7": [("refused.test", "127.255.255.254")],             # list refuses: ignored
        "8": [("bl.test", "127.0.0.2"), ("wl.test", "127.0.0.1")],  # 2 - 2 = 0
        "9": [("bl.test", "127.0.0.2")],                        # allowed network
        "10": [("other.test", "127.0.0.3"), ("third.test", "127.0.0.2")],  # 1 + 1
        "11": [("bl.test", "127.0.0.2")],                       # allowed sender domain
    }
    for last, entries in zone.items():
        for list_domain, answer in entries:
            name = "%s.0.0.127.%s" % (last, list_domain)
            if (name, "A") not in dns.records:
                dns.add(name, "A", answer)
    for name in ("bl.test", "other.test", "refused.test", "wl.test", "third.test"):
        for last in range(1, 13):
            if not any(d == name for d, _ in zone.get(str(last), [])):
                dns.nxdomain("%d.0.0.127.%s" % (last, name))
    srv = make_server(dnsbl_sites="bl.test*2, other.test=127.0.0.[2..3], refused.test*2, "
                                  "wl.test=127.0.0.1*-2, third.test",
                      dnsbl_threshold=2, dnsbl_allow_networks="127.0.0.9/32",
                      dnsbl_allow_sender_domains="trusted.test", spf_check="yes")
    if ("trusted.test", "TXT") not in dns.records:  # one SPF record, whatever ran before
        dns.add("trusted.test", "TXT", "v=spf1 ip4:127.0.0.11 -all")
    return srv


def test_listed_client_refused_naming_the_list(listed):
    code, text = rcpt_reply(listed, "127.0.0.5")
    assert code == 554, text
    assert text.startswith("5.7.1") and "client [127.0.0.5] blocked using bl.test" in text, text
    assert listed.grep_log(r"NOQUEUE: reject: RCPT from \[127\.0\.0\.5\]: 554 5\.7\.1 .*"
                           r"blocked using bl\.test")
    assert listed.grep_log(r"NOQUEUE: dnsbl client=\[127\.0\.0\.5\] score=2 threshold=2 "
                           r"listed_by=bl\.test")


def test_weights_add_up(listed):
    code, text = rcpt_reply(listed, "127.0.0.10")
    assert code == 554, text
    assert "blocked using other.test" in text or "blocked using third.test" in text, text


@pytest.mark.parametrize("ip", ["127.0.0.6", "127.0.0.7", "127.0.0.8", "127.0.0.9",
                                "127.0.0.12", "127.0.0.1"])
def test_not_refused(listed, ip):
    """Filter not matched, list refusing to answer, allow list, allowed
    network, not listed anywhere, and the DNS failing (127.0.0.1 is asked
    about names the DNS server does not know: SERVFAIL)."""
    code, text = rcpt_reply(listed, ip)
    assert code == 250, (ip, text)


def test_allowed_sender_domain_needs_spf_pass(listed):
    code, text = rcpt_reply(listed, "127.0.0.11", sender="news@trusted.test")
    assert code == 250, text
    # the same client with another sender, or a forged trusted.test from
    # elsewhere, is refused
    code, text = rcpt_reply(listed, "127.0.0.11", sender="news@elsewhere.test")
    assert code == 554, text
    code, text = rcpt_reply(listed, "127.0.0.5", sender="news@trusted.test")
    assert code == 554, text
