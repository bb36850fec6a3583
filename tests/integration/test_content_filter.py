"""The FILTER action of the content rules, as Postfix's header_checks
FILTER: a message a rule matches is accepted and queued as usual, but
every one of its recipients (local, aliased and remote alike) goes to the
rule's next hop, a content filter, which hands it back to postino's port
25; from filter_return_networks FILTER is ignored, so the message handed
back is delivered normally instead of going round again.

The content filter here is an aiosmtpd server (tests/integration/peers.py)
on 127.0.0.1:<free port>; the test plays its re-injection with smtplib
from 127.0.0.1. The original messages come from 127.0.0.2, outside
filter_return_networks (127.0.0.1/32 here), inside relay_networks (so they
may go to a remote domain, whose MX is another peer)."""

import json
import os
import re
import smtplib
import time

from peers import peers  # noqa: F401 (the fixture)
from peers import dot_stuff, events_of, free_port, make_message, mx_domain, wait_event
from postino_testlib import SMTPConn, queued_id

SENDER = "sender@remote.test"
BOB = "bob@example.test"
CAROL = "carol@example.test"
ALIAS = "sales@example.test"  # an alias of carol: resolved at RCPT


def write_rules(srv, name, text):
    d = os.path.join(srv.dir, "rules")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    return path


def filter_setup(make_server, dns, peers):
    """(server, content filter peer, remote MX peer, remote domain)."""
    port = free_port()
    filt = peers.smtp(host="127.0.0.1", port=port)
    remote = peers.smtp()
    domain = mx_domain(dns, remote.host)
    srv = make_server(users=("bob", "carol"), aliases={ALIAS: CAROL}, start=False,
                      header_checks="rules/header_checks", relay_networks="127.0.0.0/8",
                      filter_return_networks="127.0.0.1/32", hostname="mx.example.test")
    write_rules(srv, "header_checks",
                "/^Subject:.*invoice/ FILTER smtp:[127.0.0.1]:%d\n"
                "/^X-Hold:/ HOLD waiting for a look\n" % port)
    srv.start()
    return srv, filt, remote, domain, port


def send_from(srv, source, rcpts, subject, extra=b""):
    """One message from the client address source; (queue ID, bytes)."""
    msg, _ = make_message(subject=subject, sender=SENDER, to=rcpts[0], extra=extra)
    with SMTPConn(srv.port, source=source) as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
        for r in rcpts:
            reply = c.cmd("RCPT TO:<%s>" % r)
            assert reply.code == 250, (r, reply)
        assert c.cmd("DATA").code == 354
        reply = c.cmd(dot_stuff(msg[:-2]) + b"\r\n.")
        assert reply.code == 250, reply
        c.cmd("QUIT")
    return queued_id(reply), msg


def reinject(srv, received):
    """What a content filter does with a message it passed: hand it back
    to port 25, from 127.0.0.1, with the envelope it was given."""
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=30,
                      source_address=("127.0.0.1", 0)) as c:
        c.ehlo("filter.example.test")
        refused = c.sendmail(received.mail_from, received.rcpts, received.content)
        assert refused == {}, refused


def test_filter_sends_every_recipient_to_the_filter(make_server, dns, peers):
    srv, filt, remote, domain, port = filter_setup(make_server, dns, peers)
    dave = "dave@" + domain
    qid, _ = send_from(srv, "127.0.0.2", [BOB, ALIAS, dave], "your invoice 42")

    # every recipient went to the content filter, in one transaction; the
    # alias as it was resolved at RCPT
    [got] = filt.wait_messages(1)
    assert got.mail_from == SENDER
    assert sorted(got.rcpts) == sorted([BOB, CAROL, dave])
    assert b"Subject: your invoice 42" in got.content
    srv.wait_queue_empty()
    time.sleep(0.5)
    assert srv.messages("bob") == [] and srv.messages("carol") == []
    assert remote.received() == []

    # the log and the trace say where it went, and why
    hop = "smtp:[127.0.0.1]:%d" % port
    assert srv.grep_log(r"%s: filter: \S*header_checks line 1: FILTER %s for the header "
                        r"\"Subject: your invoice 42\"" % (qid, re.escape(hop)))
    assert srv.grep_log(r"%s: filter=%s, 3 recipients to the content filter"
                        % (qid, re.escape(hop)))
    evs = wait_event(srv, qid, "delivered", count=3)
    assert all(e[2].startswith("to the content filter %s: 2" % hop) for e in evs), evs
    assert [e for e in events_of(srv, qid) if e[0] == "filter" and hop in e[2]]

    # handed back from 127.0.0.1 (filter_return_networks): delivered to
    # each recipient's own route, not filtered again
    reinject(srv, got)
    assert b"your invoice 42" in srv.wait_for_maildir("bob", 1)[0]
    assert b"your invoice 42" in srv.wait_for_maildir("carol", 1)[0]
    [out] = remote.wait_messages(1)
    assert out.rcpts == [dave]
    srv.wait_queue_empty()
    lines = srv.wait_log(r"FILTER ignored: client in filter_return_networks")
    assert len(lines) == 1, lines
    time.sleep(0.5)
    assert len(filt.received()) == 1
    assert len(srv.messages("bob")) == 1 and len(srv.messages("carol")) == 1


def test_message_not_matching_goes_the_normal_way(make_server, dns, peers):
    srv, filt, remote, domain, _ = filter_setup(make_server, dns, peers)
    dave = "dave@" + domain
    qid, _ = send_from(srv, "127.0.0.2", [BOB, dave], "lunch on friday")
    assert b"lunch on friday" in srv.wait_for_maildir("bob", 1)[0]
    [out] = remote.wait_messages(1)
    assert out.rcpts == [dave]
    srv.wait_queue_empty()
    assert filt.received() == []
    assert not srv.grep_log(r"%s: filter" % qid)
    assert not [e for e in events_of(srv, qid) if e[0] == "filter"]


def test_held_message_keeps_its_filter(make_server, dns, peers):
    """HOLD (or QUARANTINE) with FILTER: the envelope keeps the next hop,
    and the released message goes to the filter."""
    srv, filt, _, _, port = filter_setup(make_server, dns, peers)
    qid, _ = send_from(srv, "127.0.0.2", [BOB], "invoice to hold", extra=b"X-Hold: yes\r\n")
    wait_event(srv, qid, "held")
    shown = json.loads(srv.cli("queue", "show", qid, "--json").out)
    assert shown["held"] is True and shown["filter"] == "smtp:[127.0.0.1]:%d" % port, shown
    assert "every recipient to the content filter smtp:[127.0.0.1]:%d" % port in \
        srv.cli("queue", "show", qid).out
    time.sleep(0.3)
    assert filt.received() == []
    srv.cli("queue", "release", qid)
    srv.cli("queue", "flush")
    [got] = filt.wait_messages(1, timeout=30)
    assert got.rcpts == [BOB]
    time.sleep(0.3)
    assert srv.messages("bob") == []


def test_filter_from_return_networks_is_ignored(make_server, dns, peers):
    """A message from filter_return_networks that matches the rule: FILTER
    ignored (logged once), delivered at once."""
    srv, filt, _, _, _ = filter_setup(make_server, dns, peers)
    qid, _ = send_from(srv, "127.0.0.1", [BOB, ALIAS], "invoice from inside")
    srv.wait_for_maildir("bob", 1)
    srv.wait_for_maildir("carol", 1)
    lines = srv.grep_log(r"%s: FILTER ignored: client in filter_return_networks" % qid)
    assert len(lines) == 1, lines
    assert filt.received() == []
