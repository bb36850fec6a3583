"""postino with a real spam filter as its milter: Debian's rspamd in milter
mode (rspamd_peer.py, offline, private configuration). rspamd answers
nothing before the end of the message (it negotiates every "no reply"
flag), then gives its verdict and header changes: the GTUBE test message
is refused with rspamd's own reply, a clean one is delivered with
rspamd's fields, and the score (set by a test header) picks the action:
add header, rewrite subject, reject."""

import smtplib
from email import policy as email_policy
from email.utils import formatdate
from email.message import EmailMessage

from rspamd_peer import GTUBE, GTUBE_REPLY, SCORE_HEADER, rspamd_shared  # noqa: F401

BOB = "bob@example.test"


def message(subject, body="a plain message\n", score=None, extra=()):
    m = EmailMessage()
    m["From"] = "sender@remote.test"
    m["To"] = BOB
    m["Subject"] = subject
    m["Date"] = formatdate()
    m["Message-ID"] = "<%s@remote.test>" % subject.replace(" ", ".")
    if score is not None:
        m[SCORE_HEADER] = str(score)
    for name, value in extra:
        m[name] = value
    m.set_content(body)
    return m.as_bytes(policy=email_policy.SMTP)


def send(srv, raw):
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=60) as c:
        c.ehlo("client.example.org")
        assert c.mail("sender@remote.test")[0] == 250
        assert c.rcpt(BOB)[0] == 250
        code, text = c.data(raw)
        return code, text.decode()


def head_of(msg):
    return msg.replace(b"\r\n", b"\n").partition(b"\n\n")[0].decode()


def delivered(srv, count, message_id):
    """The header of the message with that Message-ID, once bob has count
    messages (file names do not keep the order of one second)."""
    heads = [head_of(m) for m in srv.wait_for_maildir("bob", count)]
    found = [h for h in heads if "\nMessage-ID: <%s@remote.test>" % message_id in h]
    assert len(found) == 1, heads
    return found[0]


def test_rspamd_verdicts(rspamd_shared, make_server):  # noqa: F811
    srv = make_server(milters=rspamd_shared.address)
    # GTUBE: refused with rspamd's reply, never queued
    code, text = send(srv, message("gtube", body="test %s\n" % GTUBE))
    assert "%d %s" % (code, text) == GTUBE_REPLY, (code, text)
    assert srv.grep_log(r"NOQUEUE: reject: DATA from \[127\.0\.0\.1\]: 554 5\.7\.1 Gtube "
                        r"pattern; milter=%s" % rspamd_shared.address)
    # clean: delivered with rspamd's fields
    code, text = send(srv, message("clean one"))
    assert code == 250, text
    head = delivered(srv, 1, "clean.one")
    assert "\nX-Spamd-Result: default: False [" in head, head
    assert "\nX-Rspamd-Action: no action" in head, head
    assert "\nX-Spam-Status: No, score=" in head, head
    # the queue ID rspamd was given (macro i) is postino's own
    qid = text.split()[-1]
    assert "\nX-Rspamd-Queue-Id: %s" % qid in head, head
    # score 7: add header
    code, text = send(srv, message("score seven", score=7))
    assert code == 250, text
    head = delivered(srv, 2, "score.seven")
    assert "\nX-Spam: Yes" in head, head
    # score 11: the Subject rewritten
    code, text = send(srv, message("score eleven", score=11))
    assert code == 250, text
    head = delivered(srv, 3, "score.eleven")
    assert "\nSubject: ***SPAM*** score eleven" in head, head
    assert head.count("\nSubject:") == 1, head
    # score 20: rejected with the configured text
    code, text = send(srv, message("score twenty", score=20))
    assert (code, text) == (554, "5.7.1 Spam message rejected"), (code, text)
    # a forged X-Spam of the sender is removed (it scores 5: no action)
    code, text = send(srv, message("forged flag", extra=[("X-Spam", "Yes")]))
    assert code == 250, text
    head = delivered(srv, 4, "forged.flag")
    assert "Subject: forged flag" in head and "\nX-Spam:" not in head, head
    assert len(srv.messages("bob")) == 4
