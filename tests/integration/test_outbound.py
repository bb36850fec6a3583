"""Outbound delivery (deliver-smtp): MX lookups, real receiving servers
(Postfix, Dovecot LMTP, aiosmtpd peers with scripted behaviour), STARTTLS,
retries, bounces and their RFC 3464 reports, soft_bounce, relayhost with
AUTH, SMTP extensions (SIZE, 8BITMIME, SMTPUTF8, DSN), timeouts, lost
connections, transports, notifications and a restart with deferred mail.

Peers listen on their own loopback address, port 25 (MX delivery always
uses port 25); the session's DNS server (conftest.dns) points each test's
fresh domain at them. The remote domains are under .example: see
test_dns_resolver_answers_for_test_names for why not .test."""

import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from email.utils import parsedate_to_datetime

import pytest

from peers import peers  # noqa: F401 (the fixture)
from peers import (OUTBOUND, dsns, events_of, free_port, loopback_address, make_message,
                   mx_domain, new_domain, parse_dsn, queue_message,
                   rcpt_states, send, token, trace, trace_json, wait_dsns, wait_event,
                   wait_states, wait_until)
from postino_testlib import SMTPConn, header_values, queued_id, sanitizer_env

SENDER = "bob@example.test"

FAST_RETRY = {"queue_retry_min": "1s", "queue_retry_max": "2s"}


def outbound_server(make_server, **settings):
    s = dict(OUTBOUND)
    s.update(settings)
    return make_server(**s)


def wait_outcome(srv, peer, qid):
    """Wait until the peer has a message or the message is no longer
    in transit (deferred, bounced, gone); returns the peer's messages."""
    def done():
        if peer.received():
            return True
        st = rcpt_states(srv, qid)
        return st is None or all(v not in ("pending",) for v in st.values())
    wait_until("an outcome for %s" % qid, done)
    return peer.received()


def body_after_received(content):
    """The message as the client sent it: what follows postino's
    Received: field (its first header field, folded lines included)."""
    assert content.startswith(b"Received: "), content[:200]
    lines = content.split(b"\r\n")
    i = 1
    while lines[i][:1] in (b" ", b"\t"):
        i += 1
    return b"\r\n".join(lines[i:])


# --- DNS ---


def test_dns_resolver_answers_for_test_names(make_server, dns, peers):
    # dns_resolver: "Send every DNS query ... to this server". Names under
    # .test (RFC 6761) must reach it too: the suite's DNS server serves them.
    peer = peers.smtp()
    domain = "r%s.test" % token()
    mx_domain(dns, peer.host, domain=domain)
    srv = outbound_server(make_server)
    qid, _, _ = send(srv, SENDER, ["someone@" + domain])
    wait_until("an outcome", lambda: peer.received() or queue_message(srv, qid) is None)
    asked = [q for q in dns.queries if q[0].endswith(domain)]
    assert peer.received(), ("mail to %s was not delivered; queries the DNS server saw "
                             "for it: %r; trace:\n%s" % (domain, asked, trace(srv, qid).out))


def test_no_mx_uses_the_address_record(make_server, dns, peers):
    peer = peers.smtp()
    domain = new_domain()
    dns.add(domain, "A", peer.host)          # no MX: RFC 5321 5.1
    dns.add(domain, "TXT", "v=spf1 -all")    # the name exists
    srv = outbound_server(make_server)
    qid, msg, _ = send(srv, SENDER, ["carol@" + domain])
    [m] = peer.wait_messages(1)
    assert m.rcpts == ["carol@" + domain]
    assert m.mail_from == SENDER
    assert body_after_received(m.content) == msg
    srv.wait_queue_empty()
    assert srv.grep_log(r"%s: to=<carol@%s>, relay=%s\[%s\]:25, delay=[\d.]+, status=sent "
                        r"\(250 " % (qid, re.escape(domain), re.escape(domain),
                                     re.escape(peer.host)))


def test_null_mx_bounces_at_once(make_server, dns, peers):
    domain = new_domain()
    dns.add(domain, "MX", ".", pref=0)
    srv = outbound_server(make_server)
    qid, _, _ = send(srv, SENDER, ["x@" + domain])
    [raw] = wait_dsns(srv, 1)
    _, _, [rcpt], _ = parse_dsn(raw)
    assert rcpt["Action"] == "failed"
    assert rcpt["Status"] == "5.1.10"
    assert rcpt["Final-Recipient"] == "rfc822; x@" + domain
    assert "null MX" in rcpt["Diagnostic-Code"]
    srv.wait_queue_empty()
    assert [e[0] for e in events_of(srv, qid) if e[0] == "attempt"] == []


def test_nxdomain_bounces(make_server, dns):
    domain = new_domain()
    dns.nxdomain(domain)
    srv = outbound_server(make_server)
    qid, _, _ = send(srv, SENDER, ["x@" + domain])
    [raw] = wait_dsns(srv, 1)
    _, _, [rcpt], _ = parse_dsn(raw)
    assert (rcpt["Action"], rcpt["Status"]) == ("failed", "5.1.2")
    assert rcpt["Diagnostic-Code"].startswith("smtp; 550 5.1.2")
    srv.wait_queue_empty()


def test_dns_failure_defers(make_server, dns):
    domain = new_domain()            # unknown to the DNS server: SERVFAIL
    srv = outbound_server(make_server)
    qid, _, _ = send(srv, SENDER, ["x@" + domain])
    st = wait_states(srv, qid, {"x@" + domain: "deferred"})
    m = queue_message(srv, qid)
    assert m["recipients"][0]["last_reply"].startswith("451 4.4.3"), m
    time.sleep(0.5)
    assert dsns(srv) == [] and st


def test_mx_preference_first_down_second_used(make_server, dns, peers):
    down = loopback_address()        # nothing listens there
    peer = peers.smtp()
    domain = mx_domain(dns, down, peer.host)
    srv = outbound_server(make_server)
    qid, _, _ = send(srv, SENDER, ["carol@" + domain])
    [m] = peer.wait_messages(1)
    assert m.rcpts == ["carol@" + domain]
    evs = wait_event(srv, qid, "delivered")
    attempts = [e[2] for e in wait_event(srv, qid, "attempt", count=2)]
    assert len(attempts) == 2, attempts
    assert attempts[0].startswith("mx1.%s[%s]:25" % (domain, down)), attempts
    assert "refused" in attempts[0], attempts
    assert attempts[1].startswith("mx2.%s[%s]:25" % (domain, peer.host)), attempts
    assert "(by mx2.%s)" % domain in evs[0][2]
    assert srv.grep_log(r"%s: mx1\.%s\[%s\]:25: connection refused or unreachable"
                        % (qid, re.escape(domain), re.escape(down)))


def test_mx_preference_lowest_first(make_server, dns, peers):
    first, second = peers.smtp(), peers.smtp()
    domain = mx_domain(dns, first.host, second.host)
    srv = outbound_server(make_server, smtp_connection_reuse_time="0")
    for _ in range(3):
        send(srv, SENDER, ["carol@" + domain])
    first.wait_messages(3)
    srv.wait_queue_empty()
    assert second.received() == [] and second.connections == 0


def test_equal_preference_spread(make_server, dns, peers):
    a, b = peers.smtp(), peers.smtp()
    domain = new_domain()
    for name, host in (("mxa", a.host), ("mxb", b.host)):
        dns.add(domain, "MX", "%s.%s" % (name, domain), pref=10)
        dns.add("%s.%s" % (name, domain), "A", host)
    srv = outbound_server(make_server, smtp_connection_reuse_time="0")
    n = 20
    for _ in range(n):
        send(srv, SENDER, ["carol@" + domain])
    wait_until("20 deliveries", lambda: len(a.received()) + len(b.received()) >= n)
    # random order among equal preferences: both get some (a miss has
    # probability 2^-19)
    assert a.received() and b.received(), (len(a.received()), len(b.received()))


def test_aaaa_only_mx(make_server, dns, peers):
    peer = peers.smtp(host="::1")
    domain = new_domain()
    dns.add(domain, "MX", "mx6." + domain, pref=10)
    dns.add("mx6." + domain, "AAAA", "::1")
    srv = outbound_server(make_server)
    qid, _, _ = send(srv, SENDER, ["carol@" + domain])
    [m] = peer.wait_messages(1)
    assert m.rcpts == ["carol@" + domain]
    [d] = wait_event(srv, qid, "attempt")
    assert d[2].startswith("mx6.%s[::1]:25 " % domain), d


def test_recipients_of_two_domains(make_server, dns, peers):
    p1, p2 = peers.smtp(), peers.smtp()
    d1, d2 = mx_domain(dns, p1.host), mx_domain(dns, p2.host)
    srv = outbound_server(make_server)
    qid, msg, _ = send(srv, SENDER, ["a@" + d1, "b@" + d2, "c@" + d1, "bob@example.test"])
    [m1] = p1.wait_messages(1)
    [m2] = p2.wait_messages(1)
    assert m1.rcpts == ["a@" + d1, "c@" + d1] and m2.rcpts == ["b@" + d2]
    assert body_after_received(m1.content) == msg == body_after_received(m2.content)
    srv.wait_for_maildir("bob", 1)
    srv.wait_queue_empty()


# --- real receivers: Postfix ---


def test_starttls_to_postfix(make_server, dns, peers):
    pf = peers.postfix([new_domain()], tls=True)
    domain = pf.domains[0]
    mx_domain(dns, pf.host, domain=domain)
    srv = outbound_server(make_server)
    msg, mid = make_message(subject="over TLS", to="bob@" + domain)
    qid, _, _ = send(srv, SENDER, ["bob@" + domain], msg)
    [stored] = pf.wait_maildir("bob", 1)
    assert header_values(stored, "Message-ID") == [mid]
    wait_event(srv, qid, "delivered")
    # The attempt's event comes from deliver-smtp, the delivery's from the
    # queue manager: either may reach the history first.
    attempts = wait_event(srv, qid, "attempt")
    assert len(attempts) == 1, attempts
    assert re.search(r"tls=TLSv1\.[23] cipher=\S+ bits=\d+", attempts[0][2]), attempts
    assert srv.grep_log(r"deliver-smtp\[\d+\]: TLS established with mx1\.%s\[%s\]:25: "
                        r"TLSv1\.[23] with cipher" % (re.escape(domain), re.escape(pf.host)))
    assert "TLS connection established from" in pf.log(), pf.log()
    assert re.search(r"with ESMTPS", stored.decode("utf-8", "replace")), stored[:600]


def test_plaintext_to_postfix_without_tls(make_server, dns, peers):
    pf = peers.postfix([new_domain()], tls=False)
    domain = pf.domains[0]
    mx_domain(dns, pf.host, domain=domain)
    srv = outbound_server(make_server)
    msg, mid = make_message(subject="plain", to="bob@" + domain,
                            body=b"line one\r\n.dot line\r\n..two dots\r\n\r\nend\r\n")
    qid, _, _ = send(srv, SENDER, ["bob@" + domain, "alice@" + domain], msg)
    [b] = pf.wait_maildir("bob", 1)
    [a] = pf.wait_maildir("alice", 1)
    # one transaction for both recipients, content intact (dot-stuffing undone)
    for got in (a, b):
        head, _, body = got.partition(b"\n\n")
        assert body == b"line one\n.dot line\n..two dots\n\nend\n", got
        assert header_values(got, "Message-ID") == [mid]
        assert header_values(got, "Subject") == ["plain"]
    pf.wait_log(r"from=<bob@example\.test>, size=\d+, nrcpt=2")
    wait_event(srv, qid, "delivered", count=2)
    for kind, rcpt, text in wait_event(srv, qid, "attempt"):
        assert "no TLS" in text, text


def test_postfix_rejects_unknown_user(make_server, dns, peers):
    pf = peers.postfix([new_domain()], tls=False)
    domain = pf.domains[0]
    mx_domain(dns, pf.host, domain=domain)
    srv = outbound_server(make_server)
    qid, _, _ = send(srv, SENDER, ["bob@" + domain, "nobody@" + domain])
    pf.wait_maildir("bob", 1)
    [raw] = wait_dsns(srv, 1)
    _, _, [rcpt], _ = parse_dsn(raw)
    assert rcpt["Final-Recipient"] == "rfc822; nobody@" + domain
    assert rcpt["Status"] == "5.1.1"
    assert "User unknown in virtual mailbox table" in rcpt["Diagnostic-Code"]
    srv.wait_queue_empty()


def test_client_starttls_off(make_server, dns, peers):
    peer = peers.smtp(tls=True)
    domain = mx_domain(dns, peer.host)
    srv = outbound_server(make_server, smtp_client_starttls="no")
    send(srv, SENDER, ["carol@" + domain])
    [m] = peer.wait_messages(1)
    assert m.tls is None
    assert "STARTTLS" not in peer.lines()


def test_starttls_to_aiosmtpd(make_server, dns, peers):
    peer = peers.smtp(tls=True)
    domain = mx_domain(dns, peer.host)
    srv = outbound_server(make_server)
    qid, _, _ = send(srv, SENDER, ["carol@" + domain])
    [m] = peer.wait_messages(1)
    assert m.tls in ("TLSv1.2", "TLSv1.3"), (m.tls, peer.commands)
    # after STARTTLS the client says EHLO again (RFC 3207 4.2)
    assert [l.split(" ")[0] for l in peer.lines()][:3] == ["EHLO", "STARTTLS", "EHLO"]


# --- retries, bounces, reports ---


def test_retry_then_success(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    rcpt = "carol@" + domain
    peer.rcpt_replies[rcpt] = ["451 4.2.0 try again later", None]
    srv = outbound_server(make_server, **FAST_RETRY)
    qid, msg, _ = send(srv, SENDER, [rcpt])
    [m] = peer.wait_messages(1, timeout=20)
    assert body_after_received(m.content) == msg
    wait_event(srv, qid, "delivered")
    srv.wait_queue_empty()
    kinds = [(e[0], e[2][:20]) for e in events_of(srv, qid) if e[0] in ("deferred", "delivered")]
    assert [k for k, _ in kinds] == ["deferred", "delivered"], kinds
    assert kinds[0][1].startswith("451 4.2.0 try again"), kinds
    time.sleep(1.5)
    assert len(peer.received()) == 1
    assert dsns(srv) == []


def test_backoff_doubles_up_to_the_maximum(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    rcpt = "carol@" + domain
    peer.rcpt_replies[rcpt] = ["451 4.2.0 not now"]
    srv = outbound_server(make_server, queue_retry_min="1s", queue_retry_max="4s")
    qid, _, _ = send(srv, SENDER, [rcpt])
    wait_event(srv, qid, "deferred", count=4, timeout=20)
    m = queue_message(srv, qid)
    assert m["recipients"][0]["attempts"] >= 4
    times = [e["time"] for e in trace_json(srv, qid)["messages"][0]["events"]
             if e["kind"] == "deferred"]
    gaps = [round(b - a) for a, b in zip(times, times[1:])]
    # 1 s, 2 s, 4 s, then 4 s (whole-second scheduling: +-1)
    for got, want in zip(gaps, (1, 2, 4, 4)):
        assert abs(got - want) <= 1, gaps


def test_permanent_failure_report(make_server, dns, peers):
    peer = peers.smtp(dsn=True)
    domain = mx_domain(dns, peer.host)
    rcpt = "nobody@" + domain
    peer.rcpt_replies[rcpt] = "550 5.1.1 <%s>: no such mailbox here" % rcpt
    srv = outbound_server(make_server)
    msg, mid = make_message(subject="will bounce", to=rcpt)
    qid, _, _ = send(srv, SENDER, [rcpt], msg, mail_params="ENVID=env-%s" % token(),
                     rcpt_params="ORCPT=rfc822;orig@example.test")
    [raw] = wait_dsns(srv, 1)
    dsn, per_msg, [r], third = parse_dsn(raw)
    assert header_values(raw, "Return-Path") == ["<>"]
    assert dsn["To"] == "<bob@example.test>"
    assert dsn["From"].endswith("<MAILER-DAEMON@mx.example.test>")
    assert dsn["Auto-Submitted"] == "auto-replied"
    assert "Undelivered" in dsn["Subject"]
    # the text part quotes the remote reply
    text = dsn.get_payload()[0].get_payload(decode=True).decode()
    assert "550 5.1.1 <%s>: no such mailbox here" % rcpt in text
    # per-message fields
    assert per_msg["Reporting-MTA"] == "dns; mx.example.test"
    assert per_msg["X-Postino-Queue-ID"] == qid
    assert per_msg["Original-Envelope-Id"].startswith("env-")
    assert abs(parsedate_to_datetime(per_msg["Arrival-Date"]).timestamp() - time.time()) < 60
    # per-recipient fields
    assert r["Final-Recipient"] == "rfc822; " + rcpt
    assert r["Original-Recipient"] == "rfc822;orig@example.test"
    assert r["Action"] == "failed"
    assert r["Status"] == "5.1.1"
    assert r["Remote-MTA"] == "dns; mx1." + domain
    assert r["Diagnostic-Code"] == "smtp; 550 5.1.1 <%s>: no such mailbox here" % rcpt
    assert abs(parsedate_to_datetime(r["Last-Attempt-Date"]).timestamp() - time.time()) < 60
    assert r["Will-Retry-Until"] is None
    # the original's header section, not its body
    assert third.get_content_type() == "text/rfc822-headers"
    orig = third.get_payload()
    assert "Subject: will bounce" in orig and "Message-ID: %s" % mid in orig
    assert "Hello," not in orig
    srv.wait_queue_empty()
    # the peer passed the DSN parameters on (it offers DSN)
    mails = [l for l in peer.lines() if l.startswith("MAIL ")]
    assert "ENVID=env-" in mails[0], mails
    rcpts = [l for l in peer.lines() if l.startswith("RCPT ")]
    assert "ORCPT=rfc822;orig@example.test" in rcpts[0], rcpts


def test_ret_full_returns_the_whole_message(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    rcpt = "nobody@" + domain
    peer.rcpt_replies[rcpt] = "550 5.7.1 go away"
    srv = outbound_server(make_server)
    msg, mid = make_message(subject="full return", to=rcpt, body=b"the body text\r\n")
    send(srv, SENDER, [rcpt], msg, mail_params="RET=FULL")
    [raw] = wait_dsns(srv, 1)
    _, _, [r], third = parse_dsn(raw)
    assert r["Status"] == "5.7.1"
    assert third.get_content_type() == "message/rfc822"
    inner = third.get_payload()[0]
    assert inner["Message-ID"] == mid
    assert "the body text" in inner.get_payload()


def test_partial_success_in_one_message(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    ok, bad, later = ("ok@" + domain, "bad@" + domain, "later@" + domain)
    peer.rcpt_replies[bad] = "550 5.1.1 unknown user"
    peer.rcpt_replies[later] = ["452 4.2.2 mailbox full", None]
    srv = outbound_server(make_server, queue_retry_min="1h", queue_retry_max="2h")
    qid, msg, _ = send(srv, SENDER, [ok, bad, later])
    st = wait_states(srv, qid, {ok: "delivered", bad: "bounced", later: "deferred"})
    assert len(st) == 3
    [first] = peer.received()
    assert first.rcpts == [ok]
    # one report: the failure only (delivered and delayed are not asked for)
    [raw] = wait_dsns(srv, 1)
    _, _, rs, _ = parse_dsn(raw)
    assert [(r["Final-Recipient"], r["Action"]) for r in rs] == [("rfc822; " + bad, "failed")]
    # the deferred one goes later, to itself alone
    srv.cli("queue", "retry", qid)
    msgs = peer.wait_messages(2)
    assert msgs[1].rcpts == [later]
    assert body_after_received(msgs[1].content) == msg
    srv.wait_queue_empty()
    time.sleep(0.5)
    assert len(peer.received()) == 2
    assert len(dsns(srv)) == 1
    rcpt_lines = [l for l in peer.lines() if l.startswith("RCPT")]
    assert sum(ok in l for l in rcpt_lines) == 1   # never sent twice


def test_soft_bounce_keeps_the_message(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    rcpt = "nobody@" + domain
    peer.rcpt_replies[rcpt] = "550 5.1.1 unknown user"
    srv = outbound_server(make_server, soft_bounce="yes", queue_retry_min="1h",
                          queue_retry_max="2h")
    qid, _, _ = send(srv, SENDER, [rcpt])
    wait_states(srv, qid, {rcpt: "deferred"})
    m = queue_message(srv, qid)
    assert m["recipients"][0]["last_reply"] == "soft bounce: 550 5.1.1 unknown user", m
    time.sleep(0.5)
    assert dsns(srv) == []
    assert qid in srv.queue_ids()
    # once the cause is fixed, it goes
    peer.rcpt_replies.clear()
    srv.cli("queue", "retry", qid)
    peer.wait_messages(1)
    srv.wait_queue_empty()


def test_no_report_to_the_null_sender(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    rcpt = "nobody@" + domain
    peer.rcpt_replies[rcpt] = "550 5.1.1 unknown user"
    srv = outbound_server(make_server)
    qid, _, _ = send(srv, "", [rcpt])
    srv.wait_queue_empty()
    srv.wait_log(r"%s: no notification for the null sender" % qid)
    time.sleep(0.5)
    for u in ("bob", "alice", "carol"):
        assert srv.messages(u) == []
    assert [e for e in events_of(srv, qid) if e[0] == "notified"] == []
    # nothing went out for it either: one MAIL at the peer, the original
    mails = [l for l in peer.lines() if l.startswith("MAIL")]
    assert len(mails) == 1 and mails[0].startswith("MAIL FROM:<> "), mails


def test_report_to_a_remote_sender_goes_out_with_null_sender(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    sender, rcpt = "writer@" + domain, "nobody@" + domain
    peer.rcpt_replies[rcpt] = "550 5.1.1 unknown user"
    srv = outbound_server(make_server)
    qid, _, _ = send(srv, sender, [rcpt])
    [report] = peer.wait_messages(1)
    assert report.mail_from == "" and report.rcpts == [sender]
    _, per_msg, [r], _ = parse_dsn(report.content)
    assert per_msg["X-Postino-Queue-ID"] == qid
    assert r["Final-Recipient"] == "rfc822; " + rcpt


def test_notify_success_report(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    rcpt = "carol@" + domain
    srv = outbound_server(make_server)
    qid, _, _ = send(srv, SENDER, [rcpt], rcpt_params="NOTIFY=SUCCESS")
    peer.wait_messages(1)
    [raw] = wait_dsns(srv, 1)
    dsn, _, [r], _ = parse_dsn(raw)
    assert r["Action"] == "delivered"
    assert r["Status"] == "2.0.0"
    assert r["Remote-MTA"] == "dns; mx1." + domain
    assert "Successful" in dsn["Subject"]
    srv.wait_queue_empty()


def test_notify_never_no_report(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    rcpt = "nobody@" + domain
    peer.rcpt_replies[rcpt] = "550 5.1.1 unknown user"
    srv = outbound_server(make_server)
    qid, _, _ = send(srv, SENDER, [rcpt], rcpt_params="NOTIFY=NEVER")
    srv.wait_queue_empty()
    wait_event(srv, qid, "bounced")
    time.sleep(0.5)
    assert dsns(srv) == []
    assert [e for e in events_of(srv, qid) if e[0] == "notified"] == []


def test_delay_warning(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    rcpt = "carol@" + domain
    peer.rcpt_replies[rcpt] = ["451 4.3.0 busy"]
    srv = outbound_server(make_server, delay_warning_time="2s", max_queue_lifetime="1h",
                          **FAST_RETRY)
    qid, _, _ = send(srv, SENDER, [rcpt])
    [raw] = wait_dsns(srv, 1, timeout=15)
    dsn, per_msg, [r], _ = parse_dsn(raw)
    assert r["Action"] == "delayed"
    assert r["Status"] == "4.3.0"
    assert r["Diagnostic-Code"] == "smtp; 451 4.3.0 busy"
    # until the arrival plus max_queue_lifetime (1 h)
    arrival = parsedate_to_datetime(per_msg["Arrival-Date"]).timestamp()
    until = parsedate_to_datetime(r["Will-Retry-Until"]).timestamp()
    assert until - arrival == 3600, (per_msg["Arrival-Date"], r["Will-Retry-Until"])
    assert abs(arrival - time.time()) < 60
    assert "Delayed" in dsn["Subject"]
    # one warning, however many more tries
    wait_event(srv, qid, "deferred", count=4, timeout=15)
    assert len(dsns(srv)) == 1
    assert rcpt_states(srv, qid) == {rcpt: "deferred"}
    # then it is delivered: no success report (not asked for)
    peer.rcpt_replies.clear()
    srv.cli("queue", "retry", qid)
    peer.wait_messages(1)
    srv.wait_queue_empty()
    time.sleep(0.3)
    assert len(dsns(srv)) == 1


def test_notify_per_recipient(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    fail_only, delay_only = "f@" + domain, "d@" + domain
    peer.rcpt_replies["*"] = "451 4.3.0 busy"
    srv = outbound_server(make_server, delay_warning_time="2s", **FAST_RETRY)
    with SMTPConn(srv.port) as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
        assert c.cmd("RCPT TO:<%s> NOTIFY=FAILURE" % fail_only).code == 250
        assert c.cmd("RCPT TO:<%s> NOTIFY=DELAY" % delay_only).code == 250
        assert c.cmd("DATA").code == 354
        r = c.cmd("Subject: notify\r\n\r\nhi\r\n.")
        qid = queued_id(r)
    # the delay warning: for the one that asked for it only
    [raw] = wait_dsns(srv, 1, timeout=15)
    first = raw
    _, _, rs, _ = parse_dsn(raw)
    assert [(r["Final-Recipient"], r["Action"]) for r in rs] == [
        ("rfc822; " + delay_only, "delayed")]
    # the failure: likewise
    peer.rcpt_replies["*"] = "550 5.1.1 gone"
    srv.cli("queue", "retry", qid)
    srv.wait_queue_empty()
    # The second notification is the one that is not the delay warning
    # (both may carry the same second in their file names).
    [raw] = [m for m in wait_dsns(srv, 2) if m != first]
    _, _, rs, _ = parse_dsn(raw)
    assert [(r["Final-Recipient"], r["Action"]) for r in rs] == [
        ("rfc822; " + fail_only, "failed")]
    time.sleep(0.5)
    assert len(dsns(srv)) == 2


def test_expiry_report(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    rcpt = "carol@" + domain
    peer.rcpt_replies[rcpt] = ["421 4.4.2 overloaded"]
    srv = outbound_server(make_server, max_queue_lifetime="3s", **FAST_RETRY)
    qid, _, _ = send(srv, SENDER, [rcpt])
    [raw] = wait_dsns(srv, 1, timeout=20)
    _, _, [r], _ = parse_dsn(raw)
    assert r["Action"] == "failed"
    assert r["Status"] == "4.4.7"
    assert "421 4.4.2 overloaded" in r["Diagnostic-Code"]
    srv.wait_queue_empty()
    wait_event(srv, qid, "expired", rcpt)


def test_data_refused_after_the_dot(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    peer.data_replies["*"] = "554 5.6.0 content refused"
    srv = outbound_server(make_server)
    qid, _, _ = send(srv, SENDER, ["a@" + domain, "b@" + domain])
    [raw] = wait_dsns(srv, 1)
    _, _, rs, _ = parse_dsn(raw)
    assert sorted((r["Final-Recipient"], r["Status"]) for r in rs) == [
        ("rfc822; a@" + domain, "5.6.0"), ("rfc822; b@" + domain, "5.6.0")]
    assert peer.received() == []
    srv.wait_queue_empty()


def test_data_deferred_after_the_dot_sent_once(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    peer.data_replies["*"] = ["451 4.3.0 queue full", None]
    srv = outbound_server(make_server, **FAST_RETRY)
    qid, msg, _ = send(srv, SENDER, ["a@" + domain, "b@" + domain])
    [m] = peer.wait_messages(1)
    assert m.rcpts == ["a@" + domain, "b@" + domain]
    srv.wait_queue_empty()
    time.sleep(1)
    assert len(peer.received()) == 1
    assert len([l for l in peer.lines() if l == "DATA"]) == 2


def test_mail_loop_bounced(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    rcpt = "carol@" + domain
    srv = outbound_server(make_server)
    received = b"".join(b"Received: from hop%d.example by hop%d.example; "
                        b"Mon, 1 Jan 2024 00:00:00 +0000\r\n" % (i, i + 1) for i in range(50))
    msg, _ = make_message(subject="loop", to=rcpt)
    # postino adds one more: 51
    send(srv, SENDER, [rcpt], received + msg)
    [raw] = wait_dsns(srv, 1)
    _, _, [r], _ = parse_dsn(raw)
    assert r["Status"] == "5.4.6"
    assert peer.connections == 0
    # 49 + postino's own = 50 is no loop
    send(srv, SENDER, [rcpt], received.split(b"\r\n", 1)[1] + msg)
    peer.wait_messages(1)


# --- relayhost ---


@pytest.fixture
def auth_file(request):
    """auth_file(text): a relayhost_auth_file readable by the service user
    only, as the documentation asks."""
    d = tempfile.mkdtemp(prefix="postino-it-auth-", dir="/tmp")
    os.chmod(d, 0o755)
    request.addfinalizer(lambda: shutil.rmtree(d, True))

    def make(text):
        path = os.path.join(d, "relay-auth")
        with open(path, "w") as f:
            f.write(text)
        pw = pwd.getpwnam("postino")
        os.chown(path, pw.pw_uid, pw.pw_gid)
        os.chmod(path, 0o600)
        return path
    return make


def relay_server(make_server, peer, **settings):
    return outbound_server(make_server, relayhost="[%s]:%d" % (peer.host, peer.port),
                           **settings)


def test_relayhost_with_auth_over_starttls(make_server, dns, peers, auth_file):
    peer = peers.smtp(host="127.0.0.1", port=free_port(), tls=True,
                      auth={"relayuser": "s3cret:pw"})
    srv = relay_server(make_server, peer, relayhost_auth_file=auth_file("relayuser:s3cret:pw\n"))
    domain = new_domain()             # no DNS at all: everything goes to the relay
    qid, msg, _ = send(srv, SENDER, ["carol@" + domain])
    got = wait_outcome(srv, peer, qid)
    assert got, (queue_message(srv, qid), peer.commands)
    [m] = got
    assert m.rcpts == ["carol@" + domain]
    assert m.login == "relayuser"
    assert m.tls in ("TLSv1.2", "TLSv1.3")
    assert peer.auth_attempts == [("PLAIN", "relayuser", "s3cret:pw", True)]
    assert not [q for q in dns.queries if q[0].endswith(domain)]
    assert body_after_received(m.content) == msg


def test_relayhost_by_mx(make_server, dns, peers):
    peer = peers.smtp()
    relay = mx_domain(dns, peer.host)
    srv = outbound_server(make_server, relayhost=relay, relayhost_require_tls="no")
    rcpt = "carol@" + new_domain()
    send(srv, SENDER, [rcpt])
    [m] = peer.wait_messages(1)
    assert m.rcpts == [rcpt]


def test_relayhost_require_tls_refuses_plaintext_relay(make_server, peers, auth_file):
    peer = peers.smtp(host="127.0.0.1", port=free_port(), tls=False,
                      auth={"relayuser": "pw"})
    srv = relay_server(make_server, peer, relayhost_auth_file=auth_file("relayuser:pw\n"))
    rcpt = "carol@" + new_domain()
    qid, _, _ = send(srv, SENDER, [rcpt])
    wait_states(srv, qid, {rcpt: "deferred"})
    m = queue_message(srv, qid)
    assert "TLS is required" in m["recipients"][0]["last_reply"], m
    # neither the password nor the message went out
    assert not [l for l in peer.lines() if l.startswith(("AUTH", "MAIL"))], peer.commands
    assert peer.auth_attempts == []


def test_relayhost_without_tls_requirement(make_server, peers):
    peer = peers.smtp(host="127.0.0.1", port=free_port())
    srv = relay_server(make_server, peer, relayhost_require_tls="no")
    rcpt = "carol@" + new_domain()
    qid, _, _ = send(srv, SENDER, [rcpt])
    [m] = peer.wait_messages(1)
    assert m.rcpts == [rcpt] and m.login is None


def test_relayhost_password_never_in_plaintext(make_server, peers, auth_file):
    # TLS not required, but AUTH is configured and the relay has no STARTTLS
    peer = peers.smtp(host="127.0.0.1", port=free_port(), auth={"relayuser": "pw"})
    srv = relay_server(make_server, peer, relayhost_auth_file=auth_file("relayuser:pw\n"),
                       relayhost_require_tls="no")
    rcpt = "carol@" + new_domain()
    qid, _, _ = send(srv, SENDER, [rcpt])
    wait_states(srv, qid, {rcpt: "deferred"})
    m = queue_message(srv, qid)
    assert "password without TLS" in m["recipients"][0]["last_reply"], m
    assert peer.auth_attempts == [] and not [l for l in peer.lines() if l.startswith("AUTH")]


# --- LMTP ---


def test_lmtp_to_dovecot(make_server, dns, peers):
    domain = new_domain()
    u1, u2, full = "u1@" + domain, "u2@" + domain, "full@" + domain
    dove = peers.dovecot([u1, u2, full], quota={full: "1K"})
    srv = outbound_server(make_server)
    srv.cli("transport", "add", domain, "lmtp:unix:" + dove.socket)
    big = b"".join(b"line %04d of a message too big for a 1K quota\r\n" % i for i in range(60))
    msg, mid = make_message(subject="to dovecot", to=u1, body=big)
    qid, _, _ = send(srv, SENDER, [u1, u2, full, "ghost@" + domain], msg)
    def settled():
        if dove.maildir_messages(u1) and dove.maildir_messages(u2):
            return True
        states = rcpt_states(srv, qid)  # None once the message left the queue
        return states is None or "pending" not in states.values()
    wait_until("an outcome", settled)
    assert dove.maildir_messages(u1) and dove.maildir_messages(u2), "\n".join(srv.grep_log(qid))
    [m1] = dove.maildir_messages(u1)
    assert header_values(m1, "Message-ID") == [mid]
    assert dove.maildir_messages(full) == []
    # per-recipient LMTP replies: the quota one after the data, the
    # unknown one at RCPT; both bounce, in one report
    [raw] = wait_dsns(srv, 1)
    _, _, rs, _ = parse_dsn(raw)
    by = {r["Final-Recipient"]: r for r in rs}
    assert set(by) == {"rfc822; " + full, "rfc822; ghost@" + domain}, by
    assert by["rfc822; " + full]["Status"].startswith("5.2.2")
    assert by["rfc822; ghost@" + domain]["Status"].startswith("5.1.1")
    srv.wait_queue_empty()
    attempts = [e[2] for e in wait_event(srv, qid, "attempt")]
    assert attempts and all("(LMTP)" in a for a in attempts), attempts


def test_lmtp_per_recipient_replies(make_server, peers):
    port = free_port()
    peer = peers.smtp(host="127.0.0.1", port=port, lmtp=True)
    domain = new_domain()
    a, b, c = "a@" + domain, "b@" + domain, "c@" + domain
    peer.data_replies[b] = ["452 4.2.2 <b> mailbox full", None]
    peer.data_replies[c] = "550 5.7.1 <c> refused"
    srv = outbound_server(make_server, queue_retry_min="1h", queue_retry_max="2h")
    srv.cli("transport", "add", domain, "lmtp:[127.0.0.1]:%d" % port)
    qid, msg, _ = send(srv, SENDER, [a, b, c])
    st = wait_states(srv, qid, {a: "delivered", b: "deferred", c: "bounced"})
    assert st
    [m] = peer.received()
    assert m.rcpts == [a]
    assert "LHLO mx.example.test" in peer.lines()
    srv.cli("queue", "retry", qid)
    msgs = peer.wait_messages(2)
    assert msgs[1].rcpts == [b]
    srv.wait_queue_empty()
    [raw] = wait_dsns(srv, 1)
    _, _, [r], _ = parse_dsn(raw)
    assert (r["Final-Recipient"], r["Status"]) == ("rfc822; " + c, "5.7.1")


# --- SMTP extensions ---


def test_size_refused_before_sending(make_server, dns, peers):
    peer = peers.smtp(size=1000)
    domain = mx_domain(dns, peer.host)
    rcpt = "carol@" + domain
    srv = outbound_server(make_server)
    msg, _ = make_message(to=rcpt, body=b"x" * 70 + b"\r\n" * 1 + (b"y" * 70 + b"\r\n") * 40)
    send(srv, SENDER, [rcpt], msg)
    [raw] = wait_dsns(srv, 1)
    _, _, [r], _ = parse_dsn(raw)
    assert r["Status"] == "5.3.4"
    assert "1000" in r["Diagnostic-Code"]
    assert not [l for l in peer.lines() if l.startswith("MAIL")]
    # a small one goes, with SIZE=
    send(srv, SENDER, [rcpt])
    [m] = peer.wait_messages(1)
    assert [o for o in m.mail_options if o.startswith("SIZE=")], m.mail_options


def test_8bit_to_a_peer_without_8bitmime(make_server, dns, peers):
    peer = peers.smtp(eightbit=False)
    domain = mx_domain(dns, peer.host)
    rcpt = "carol@" + domain
    srv = outbound_server(make_server)
    msg, _ = make_message(to=rcpt, body="Grüße aus Köln\r\n".encode("utf-8"),
                          extra=b"Content-Type: text/plain; charset=utf-8\r\n"
                                b"Content-Transfer-Encoding: 8bit\r\n")
    send(srv, SENDER, [rcpt], msg, mail_params="BODY=8BITMIME")
    [raw] = wait_dsns(srv, 1)
    _, _, [r], _ = parse_dsn(raw)
    assert r["Status"] == "5.6.3"
    assert not [l for l in peer.lines() if l.startswith("MAIL")]


def test_8bit_to_a_peer_with_8bitmime(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    rcpt = "carol@" + domain
    srv = outbound_server(make_server)
    msg, _ = make_message(to=rcpt, body="Grüße aus Köln\r\n".encode("utf-8"),
                          extra=b"Content-Type: text/plain; charset=utf-8\r\n"
                                b"Content-Transfer-Encoding: 8bit\r\n")
    send(srv, SENDER, [rcpt], msg, mail_params="BODY=8BITMIME")
    [m] = peer.wait_messages(1)
    assert "BODY=8BITMIME" in m.mail_options
    assert body_after_received(m.content) == msg


def test_smtputf8(make_server, dns, peers):
    with_utf8, without = peers.smtp(), peers.smtp(smtputf8=False)
    d1, d2 = mx_domain(dns, with_utf8.host), mx_domain(dns, without.host)
    srv = outbound_server(make_server)
    for d in (d1, d2):
        rcpt = "jürgen@" + d
        msg = ("From: <bob@example.test>\r\nTo: <%s>\r\nSubject: ünïcödé\r\n\r\nhallo\r\n"
               % rcpt).encode("utf-8")
        send(srv, SENDER, [rcpt], msg, mail_params="SMTPUTF8 BODY=8BITMIME")
    [m] = with_utf8.wait_messages(1)
    assert "SMTPUTF8" in m.mail_options
    assert m.rcpts == ["jürgen@" + d1]
    [raw] = wait_dsns(srv, 1)
    _, _, [r], _ = parse_dsn(raw)
    assert r["Status"] == "5.6.7"
    assert not [l for l in without.lines() if l.startswith("MAIL")]


def test_no_size_parameter_to_a_peer_without_size(make_server, dns, peers):
    # RFC 1870: SIZE= only to a server that offers SIZE (Dovecot's LMTP
    # does not, and refuses the parameter)
    peer = peers.smtp(size=0)
    domain = mx_domain(dns, peer.host)
    rcpt = "carol@" + domain
    srv = outbound_server(make_server)
    qid, _, _ = send(srv, SENDER, [rcpt])
    wait_outcome(srv, peer, qid)
    mails = [l for l in peer.lines() if l.startswith("MAIL")]
    assert mails and "SIZE=" not in mails[0].upper(), (mails, trace(srv, qid).out)
    peer.wait_messages(1)


def test_dsn_parameters_not_sent_to_a_peer_without_dsn(make_server, dns, peers):
    peer = peers.smtp(dsn=False)
    domain = mx_domain(dns, peer.host)
    rcpt = "carol@" + domain
    srv = outbound_server(make_server)
    send(srv, SENDER, [rcpt], mail_params="RET=HDRS ENVID=abc",
         rcpt_params="NOTIFY=FAILURE ORCPT=rfc822;x@example.test")
    [m] = peer.wait_messages(1)
    assert not any(o.startswith(("RET=", "ENVID=")) for o in m.mail_options)
    assert m.rcpt_options[rcpt] == []


def test_dsn_parameters_passed_on(make_server, dns, peers):
    peer = peers.smtp(dsn=True)
    domain = mx_domain(dns, peer.host)
    rcpt = "carol@" + domain
    srv = outbound_server(make_server)
    send(srv, SENDER, [rcpt], mail_params="RET=HDRS ENVID=abc123",
         rcpt_params="NOTIFY=FAILURE,DELAY ORCPT=rfc822;x@example.test")
    [m] = peer.wait_messages(1)
    assert "RET=HDRS" in m.mail_options and "ENVID=abc123" in m.mail_options, m.mail_options
    opts = m.rcpt_options[rcpt]
    assert "ORCPT=rfc822;x@example.test" in opts, opts
    notify = [o for o in opts if o.startswith("NOTIFY=")]
    assert notify and set(notify[0][7:].split(",")) == {"FAILURE", "DELAY"}, opts


def test_pipelining_used_when_offered(make_server, dns, peers):
    piped, plain = peers.smtp(pipelining=True), peers.smtp(pipelining=False)
    for p in (piped, plain):
        p.delays["MAIL"] = 0.3      # time for pipelined commands to arrive
    d1, d2 = mx_domain(dns, piped.host), mx_domain(dns, plain.host)
    srv = outbound_server(make_server)
    send(srv, SENDER, ["a@" + d1, "b@" + d1])
    send(srv, SENDER, ["a@" + d2, "b@" + d2])
    piped.wait_messages(1)
    plain.wait_messages(1)
    # with PIPELINING, both RCPTs and DATA went out before the reply to MAIL
    assert piped.after_mail == [b"RCPT TO:<a@%s>\r\nRCPT TO:<b@%s>\r\nDATA\r\n"
                                % (d1.encode(), d1.encode())], piped.after_mail
    # without it, each command waits for the reply to the one before
    assert plain.after_mail == [b""], plain.after_mail


def test_destination_concurrency_while_resolving(make_server, peers):
    # the limit holds for jobs still looking up the MX, too: a burst of
    # mail to a destination must not open a connection per message
    slow = peers.slow_dns(0.5)
    peer = peers.smtp()
    peer.delays["DOT"] = 1
    domain = mx_domain(slow, peer.host)
    srv = outbound_server(make_server, dns_resolver=slow.address,
                          smtp_destination_concurrency="2", smtp_connection_reuse_time="0")
    for i in range(5):
        send(srv, SENDER, ["r%d@%s" % (i, domain)])
    peer.wait_messages(5, timeout=30)
    assert peer.max_active <= 2, (peer.max_active, peer.sessions)


def test_max_connections(make_server, peers):
    slow = peers.slow_dns(0.5)
    a, b = peers.smtp(), peers.smtp()
    for p in (a, b):
        p.delays["DOT"] = 1
    d1, d2 = mx_domain(slow, a.host), mx_domain(slow, b.host)
    srv = outbound_server(make_server, dns_resolver=slow.address, smtp_max_connections="1",
                          smtp_connection_reuse_time="0")
    for i in range(2):
        send(srv, SENDER, ["r%d@%s" % (i, d1)])
        send(srv, SENDER, ["r%d@%s" % (i, d2)])
    wait_until("4 deliveries", lambda: len(a.received()) + len(b.received()) == 4, timeout=30)
    # one connection at a time, over both destinations
    t = sorted(tuple(x) for p in (a, b) for x in p.sessions)
    for (s1, e1), (s2, e2) in zip(t, t[1:]):
        assert s2 >= e1 - 0.05, t


def test_large_message_with_dot_lines_intact(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    rcpt = "carol@" + domain
    srv = outbound_server(make_server)
    # lines that start with a dot, of every length mod 4, across the
    # client's 64 KiB reads and writes
    body = b"".join(b".%d%s\r\n" % (i, b"x" * (i % 7)) for i in range(150000))
    msg, _ = make_message(to=rcpt, body=body)
    send(srv, SENDER, [rcpt], msg)
    [m] = peer.wait_messages(1, timeout=30)
    got = body_after_received(m.content)
    assert len(got) == len(msg) and got == msg


def test_mail_from_refused(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    peer.mail_replies[SENDER] = "553 5.7.1 <bob@example.test>: sender refused"
    srv = outbound_server(make_server)
    qid, _, _ = send(srv, SENDER, ["a@" + domain, "b@" + domain])
    [raw] = wait_dsns(srv, 1)
    _, _, rs, _ = parse_dsn(raw)
    assert sorted(r["Final-Recipient"] for r in rs) == ["rfc822; a@" + domain,
                                                       "rfc822; b@" + domain]
    for r in rs:
        assert r["Status"] == "5.7.1"
        assert r["Diagnostic-Code"] == "smtp; 553 5.7.1 <bob@example.test>: sender refused"
    srv.wait_queue_empty()


def test_mail_from_deferred(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    peer.mail_replies[SENDER] = ["451 4.7.1 greylisted", None]
    srv = outbound_server(make_server, **FAST_RETRY)
    qid, _, _ = send(srv, SENDER, ["a@" + domain, "b@" + domain])
    [m] = peer.wait_messages(1)
    assert m.rcpts == ["a@" + domain, "b@" + domain]
    srv.wait_queue_empty()
    deferred = [e for e in events_of(srv, qid) if e[0] == "deferred"]
    assert len(deferred) == 2 and all("451 4.7.1 greylisted" in e[2] for e in deferred)


def test_multiline_reply_in_report(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    rcpt = "nobody@" + domain
    peer.rcpt_replies[rcpt] = ("550-5.1.1 The email account that you tried to reach does\r\n"
                               "550-5.1.1 not exist. Please check the address.\r\n"
                               "550 5.1.1 See https://help.example/nouser")
    srv = outbound_server(make_server)
    send(srv, SENDER, [rcpt])
    [raw] = wait_dsns(srv, 1)
    _, _, [r], _ = parse_dsn(raw)
    assert r["Status"] == "5.1.1"
    diag = r["Diagnostic-Code"]
    assert diag.startswith("smtp; 550"), diag
    for part in ("does", "not exist", "help.example/nouser"):
        assert part in diag, diag


def test_connection_reuse(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    srv = outbound_server(make_server, smtp_connection_reuse_time="5s")
    send(srv, SENDER, ["a@" + domain])
    peer.wait_messages(1)
    send(srv, SENDER, ["b@" + domain])
    peer.wait_messages(2)
    assert peer.connections == 1
    assert len([l for l in peer.lines() if l.startswith("MAIL")]) == 2
    assert [l for l in peer.lines() if l.startswith("EHLO")] == ["EHLO mx.example.test"]


def test_no_connection_reuse_when_off(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    srv = outbound_server(make_server, smtp_connection_reuse_time="0")
    send(srv, SENDER, ["a@" + domain])
    peer.wait_messages(1)
    wait_until("QUIT", lambda: "QUIT" in peer.lines())
    send(srv, SENDER, ["b@" + domain])
    peer.wait_messages(2)
    assert peer.connections == 2


# --- slow and broken peers ---


def test_timeout_defers_then_delivered(make_server, dns, peers):
    peer = peers.smtp()
    peer.delays["MAIL"] = 5
    domain = mx_domain(dns, peer.host)
    rcpt = "carol@" + domain
    srv = outbound_server(make_server, smtp_mail_timeout="2s", queue_retry_min="1h",
                          queue_retry_max="2h")
    qid, msg, _ = send(srv, SENDER, [rcpt])
    wait_states(srv, qid, {rcpt: "deferred"}, timeout=15)
    m = queue_message(srv, qid)
    assert "timeout" in m["recipients"][0]["last_reply"], m
    [att] = wait_event(srv, qid, "attempt")
    assert "timeout" in att[2], att
    peer.delays.clear()
    srv.cli("queue", "retry", qid)
    [got] = peer.wait_messages(1)
    assert body_after_received(got.content) == msg
    srv.wait_queue_empty()
    time.sleep(3)    # the first connection's late 250 to MAIL changed nothing
    assert len(peer.received()) == 1


def test_slow_peer_within_timeouts(make_server, dns, peers):
    peer = peers.smtp(pipelining=False)
    peer.delays.update({"EHLO": 1, "MAIL": 1, "RCPT": 1, "DATA": 1, "DOT": 1})
    domain = mx_domain(dns, peer.host)
    rcpt = "carol@" + domain
    srv = outbound_server(make_server, smtp_greeting_timeout="2s", smtp_mail_timeout="2s",
                          smtp_rcpt_timeout="2s", smtp_data_init_timeout="2s",
                          smtp_data_done_timeout="2s")
    qid, _, _ = send(srv, SENDER, [rcpt])
    peer.wait_messages(1, timeout=20)
    wait_event(srv, qid, "delivered")
    [att] = [e for e in trace_json(srv, qid)["messages"][0]["events"] if e["kind"] == "attempt"]
    steps = dict(re.findall(r"\b(hello|mail|rcpt|data|dot)=(\d+)ms\(\d+\)", att["text"]))
    for step in ("hello", "mail", "rcpt", "data", "dot"):
        assert 900 <= int(steps[step]) < 2000, (step, att["text"])
    assert att["slow"] is False and "SLOW" not in att["text"]


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("POSTINO_SLOW") != "1", reason="real-time 45 s replies: "
                    "POSTINO_SLOW=1")
@pytest.mark.timeout(600)
def test_slow_peer_45s_per_command_marked_slow(make_server, dns, peers):
    peer = peers.smtp(pipelining=False)
    peer.delays.update({"MAIL": 45, "RCPT": 45, "DOT": 45})
    domain = mx_domain(dns, peer.host)
    rcpt = "carol@" + domain
    srv = outbound_server(make_server)    # default (RFC 5321) timeouts
    qid, _, _ = send(srv, SENDER, [rcpt])
    peer.wait_messages(1, timeout=200)
    wait_event(srv, qid, "delivered")
    [att] = [e for e in trace_json(srv, qid)["messages"][0]["events"] if e["kind"] == "attempt"]
    assert att["slow"] is True, att
    assert re.search(r"mail=4\d{4}ms\(250\)!", att["text"]), att
    text = trace(srv, qid).out
    assert "<-- slow server" in text, text


def test_connection_dropped_in_data(make_server, dns, peers):
    peer = peers.smtp()
    peer.drop_data = 1
    domain = mx_domain(dns, peer.host)
    rcpt = "carol@" + domain
    srv = outbound_server(make_server, **FAST_RETRY)
    qid, msg, _ = send(srv, SENDER, [rcpt])
    [m] = peer.wait_messages(1, timeout=20)
    assert peer.dropped == 1
    assert body_after_received(m.content) == msg
    srv.wait_queue_empty()
    evs = wait_event(srv, qid, "deferred")
    deferred = [e for e in evs if e[0] == "deferred"]
    assert len(deferred) == 1 and "lost connection" in deferred[0][2], evs
    time.sleep(1)
    assert len(peer.received()) == 1
    assert dsns(srv) == []


def test_greeting_refused_tries_next_mx(make_server, dns, peers):
    busy, good = peers.smtp(), peers.smtp()
    busy.greeting = "421 4.3.2 too busy, try later"
    domain = mx_domain(dns, busy.host, good.host)
    srv = outbound_server(make_server)
    qid, _, _ = send(srv, SENDER, ["carol@" + domain])
    [m] = good.wait_messages(1)
    assert busy.received() == [] and busy.connections == 1
    wait_event(srv, qid, "delivered")
    attempts = [e[2] for e in wait_event(srv, qid, "attempt", count=2)]
    assert len(attempts) == 2 and "421 4.3.2 too busy" in attempts[0], attempts


# --- transports ---


def test_transport_error_and_discard(make_server, dns):
    srv = outbound_server(make_server, queue_retry_min="1h", queue_retry_max="2h")
    bad, later, gone = new_domain(), new_domain(), new_domain()
    srv.cli("transport", "add", bad, "error:5.7.1 mail for this domain is not accepted here")
    srv.cli("transport", "add", later, "error:4.3.2 mail for this domain waits")
    srv.cli("transport", "add", gone, "discard")
    qid, _, _ = send(srv, SENDER, ["x@" + bad, "y@" + later, "z@" + gone])
    wait_states(srv, qid, {"x@" + bad: "bounced", "y@" + later: "deferred",
                           "z@" + gone: "delivered"})
    [raw] = wait_dsns(srv, 1)
    _, _, [r], _ = parse_dsn(raw)
    assert r["Final-Recipient"] == "rfc822; x@" + bad
    assert r["Status"] == "5.7.1"
    assert "not accepted here" in r["Diagnostic-Code"]
    wait_event(srv, qid, "discarded", "z@" + gone)
    m = queue_message(srv, qid)
    by = {x["address"]: x for x in m["recipients"]}
    assert by["y@" + later]["last_reply"].startswith("4.3.2 mail for this domain waits")


def test_transport_smtp_host_port(make_server, dns, peers):
    port = free_port()
    peer = peers.smtp(host="127.0.0.1", port=port)
    domain = new_domain()      # no DNS records: [host] means no lookup
    srv = outbound_server(make_server)
    srv.cli("transport", "add", domain, "smtp:[127.0.0.1]:%d" % port)
    qid, _, _ = send(srv, SENDER, ["carol@" + domain])
    [m] = peer.wait_messages(1)
    assert m.rcpts == ["carol@" + domain]
    assert not [q for q in dns.queries if q[0].endswith(domain)]


def test_transport_smtp_domain_port(make_server, dns, peers):
    port = free_port()
    peer = peers.smtp(host="127.0.0.1", port=port)
    hub = mx_domain(dns, "127.0.0.1")
    domain = new_domain()
    srv = outbound_server(make_server)
    srv.cli("transport", "add", "." + domain, "smtp:%s:%d" % (hub, port))
    send(srv, SENDER, ["carol@sub." + domain])
    [m] = peer.wait_messages(1)
    assert m.rcpts == ["carol@sub." + domain]


# --- other ways to the outside ---


def test_alias_to_remote_address(make_server, dns, peers):
    peer = peers.smtp(dsn=True)
    domain = mx_domain(dns, peer.host)
    srv = outbound_server(make_server, aliases={"fwd": ["carol@" + domain]})
    qid, _, _ = send(srv, "someone@elsewhere.example", ["fwd@example.test"])
    [m] = peer.wait_messages(1)
    assert m.rcpts == ["carol@" + domain]
    assert m.mail_from == "someone@elsewhere.example"


def test_sendmail_to_remote(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    srv = outbound_server(make_server)
    r = subprocess.run([srv.bin, "sendmail", "--config", srv.conf, "-f", SENDER,
                        "carol@" + domain], input=b"Subject: from sendmail\n\nhi\n",
                       capture_output=True, env=sanitizer_env(), timeout=60)
    assert r.returncode == 0, r.stderr
    [m] = peer.wait_messages(1)
    assert m.mail_from == SENDER and m.rcpts == ["carol@" + domain]
    assert m.header("Subject") == ["from sendmail"]
    assert m.content.endswith(b"\r\n\r\nhi\r\n")


def test_authenticated_submission_relays(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    srv = make_server(hostname="mx.example.test")      # no relay_networks
    with srv.submission() as c:
        c.ehlo()
        assert c.starttls().code == 220
        c.ehlo()
        assert c.auth_plain("bob@example.test", "secret-pw").code == 235
        assert c.cmd("MAIL FROM:<bob@example.test>").code == 250
        assert c.cmd("RCPT TO:<carol@%s>" % domain).code == 250
        assert c.cmd("DATA").code == 354
        r = c.cmd("Subject: submitted\r\n\r\nhi\r\n.")
        assert r.code == 250, r
    [m] = peer.wait_messages(1)
    assert m.rcpts == ["carol@" + domain]


# --- restart ---


def test_restart_with_deferred_mail_loses_and_repeats_nothing(make_server, dns, peers):
    peer = peers.smtp()
    domain = mx_domain(dns, peer.host)
    srv = outbound_server(make_server, queue_retry_min="1h", queue_retry_max="2h")
    rcpts = ["r%d@%s" % (i, domain) for i in range(6)]
    # r0 is accepted at once; the others are deferred
    for r in rcpts[1:]:
        peer.rcpt_replies[r] = ["451 4.3.0 later", None]
    qids = []
    qid, _, _ = send(srv, SENDER, rcpts[:3])          # r0 delivered, r1 r2 deferred
    qids.append(qid)
    for r in rcpts[3:]:
        qids.append(send(srv, SENDER, [r])[0])
    wait_states(srv, qids[0], {rcpts[0]: "delivered", rcpts[1]: "deferred",
                               rcpts[2]: "deferred"})
    for q, r in zip(qids[1:], rcpts[3:]):
        wait_states(srv, q, {r: "deferred"})
    assert len(peer.received()) == 1
    srv.restart()
    assert sorted(srv.queue_ids()) == sorted(qids)
    r = srv.cli("queue", "flush")
    assert "4 messages" in r.out, r.out
    peer.wait_messages(5)
    for q in qids:
        wait_until("%s removed" % q, lambda: queue_message(srv, q) is None)
    time.sleep(1)
    got = [x for m in peer.received() for x in m.rcpts]
    assert sorted(got) == sorted(rcpts), got
    assert dsns(srv) == []


def test_restart_while_a_delivery_is_in_flight(make_server, dns, peers):
    peer = peers.smtp()
    peer.delays["DOT"] = 3
    domain = mx_domain(dns, peer.host)
    rcpt = "carol@" + domain
    srv = outbound_server(make_server, **FAST_RETRY)
    qid, _, _ = send(srv, SENDER, [rcpt])
    wait_until("the message sent", lambda: "DATA" in peer.lines())
    srv.restart()             # SIGTERM while the peer holds the reply to the dot
    peer.delays.clear()
    peer.wait_messages(1, timeout=20)
    srv.wait_queue_empty()
    time.sleep(2)
    assert len(peer.received()) == 1, peer.received()
