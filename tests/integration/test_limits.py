"""Every input is bounded: message size, line lengths, recipients, errors,
connections per address, idle time, Received: headers."""

import socket
import time

import pytest

from postino_testlib import queued_id

LIMIT = 10 * 1024  # message_size_limit=10K


def message_of(size, subject="size"):
    """A message of exactly `size` octets (CRLF lines, final CRLF
    included, the end-of-data mark not counted)."""
    head = b"Subject: " + subject.encode() + b"\r\n\r\n"
    left = size - len(head)
    assert left >= 2
    lines = []
    while left > 0:
        n = min(80, left)
        if left - n == 1:  # never leave a single octet for a last line
            n -= 1
        lines.append(b"x" * (n - 2) + b"\r\n")
        left -= n
    msg = head + b"".join(lines)
    assert len(msg) == size
    return msg


def start_transaction(c, rcpt="bob@example.test", mail_params=""):
    c.ehlo()
    r = c.cmd("MAIL FROM:<a@b.org>" + mail_params)
    assert r.code == 250, r
    r = c.cmd("RCPT TO:<%s>" % rcpt)
    assert r.code == 250, r


def send_data(c, msg):
    r = c.cmd("DATA")
    assert r.code == 354, r
    return c.cmd(msg + b".")


def assert_nothing_stored(srv, users=("bob", "alice", "carol")):
    time.sleep(0.3)
    srv.wait_queue_empty(5)
    assert srv.spool("incoming") == []
    for u in users:
        assert srv.messages(u) == [], u


@pytest.fixture
def small(make_server):
    return make_server(message_size_limit="10K")


def test_size_parameter_over_limit_refused_at_mail(small):
    with small.smtp() as c:
        ehlo = c.ehlo()
        assert "SIZE %d" % LIMIT in ehlo.texts, ehlo
        r = c.cmd("MAIL FROM:<a@b.org> SIZE=%d" % (LIMIT + 1))
        assert (r.code, r.enh) == (552, "5.3.4"), r
        r = c.cmd("MAIL FROM:<a@b.org> SIZE=99999999999999999999999")
        assert r.code in (501, 552), r
        r = c.cmd("MAIL FROM:<a@b.org> SIZE=%d" % LIMIT)
        assert r.code == 250, r
    assert_nothing_stored(small)


def test_data_exactly_at_limit_accepted_one_more_refused(small):
    with small.smtp() as c:
        start_transaction(c)
        r = send_data(c, message_of(LIMIT, "at-limit"))
        assert r.code == 250, r
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        assert c.cmd("RCPT TO:<alice@example.test>").code == 250
        r = send_data(c, message_of(LIMIT + 1, "over-limit"))
        assert (r.code, r.enh) == (552, "5.3.4"), r
        assert c.cmd("NOOP").code == 250
    [m] = small.wait_for_maildir("bob", 1)
    assert b"Subject: at-limit\n" in m
    assert_nothing_stored(small, users=("alice",))


def test_oversize_data_refused_nothing_stored(small):
    with small.smtp() as c:
        start_transaction(c)
        r = send_data(c, message_of(3 * LIMIT))
        assert (r.code, r.enh) == (552, "5.3.4"), r
        # the session continues, in step
        assert c.cmd("RCPT TO:<bob@example.test>").code == 503
        assert c.cmd("QUIT").code == 221
    assert_nothing_stored(small)
    assert small.grep_log(r"reject: DATA from \[127\.0\.0\.1\]: 552 5\.3\.4")


def test_oversize_bdat_single_chunk(small):
    msg = message_of(LIMIT + 1)
    with small.smtp() as c:
        start_transaction(c)
        c.send(b"BDAT %d LAST\r\n" % len(msg) + msg)
        r = c.reply()
        assert (r.code, r.enh) == (552, "5.3.4"), r
        assert c.cmd("NOOP").code == 250
    assert_nothing_stored(small)


def test_oversize_bdat_several_chunks(small):
    msg = message_of(2 * LIMIT)
    chunks = [msg[i:i + 4000] for i in range(0, len(msg), 4000)]
    with small.smtp() as c:
        start_transaction(c)
        replies = []
        for i, ch in enumerate(chunks):
            last = b" LAST" if i == len(chunks) - 1 else b""
            c.send(b"BDAT %d%s\r\n" % (len(ch), last) + ch)
            replies.append(c.reply())
        codes = [r.code for r in replies]
        assert 552 in codes, replies
        first_552 = codes.index(552)
        assert all(code == 250 for code in codes[:first_552]), replies
        assert replies[first_552].enh == "5.3.4"
        # no chunk after the refusal may be taken as a message
        assert not any("queued as" in r.text for r in replies), replies
        assert c.cmd("NOOP").code == 250
    assert_nothing_stored(small)


def test_bdat_exactly_at_limit_accepted(small):
    msg = message_of(LIMIT, "bdat-at-limit")
    with small.smtp() as c:
        start_transaction(c)
        c.send(b"BDAT 5000\r\n" + msg[:5000])
        assert c.reply().code == 250
        c.send(b"BDAT %d LAST\r\n" % (len(msg) - 5000) + msg[5000:])
        r = c.reply()
        assert r.code == 250 and "queued as" in r.text, r
    [m] = small.wait_for_maildir("bob", 1)
    assert m.endswith(msg.replace(b"\r\n", b"\n"))


def test_command_line_512_ok_513_too_long(server):
    with server.smtp() as c:
        c.ehlo()
        line = b"NOOP " + b"x" * (512 - 7)
        assert len(line + b"\r\n") == 512
        r = c.cmd(line)
        assert r.code == 250, r
        line = b"NOOP " + b"x" * (513 - 7)
        assert len(line + b"\r\n") == 513
        r = c.cmd(line)
        assert (r.code, r.enh) == (500, "5.5.2"), r
        # in step afterwards: the next command gets its own reply
        r = c.cmd("NOOP")
        assert (r.code, r.enh) == (250, "2.0.0"), r
        # a very long line is refused once and skipped
        r = c.cmd(b"NOOP " + b"y" * 100000)
        assert (r.code, r.enh) == (500, "5.5.2"), r
        assert c.cmd("NOOP").code == 250
        assert c.cmd("QUIT").code == 221


def test_text_line_998_ok_999_refused(server):
    ok_line = b"a" * 998
    bad_line = b"b" * 999
    with server.smtp() as c:
        start_transaction(c)
        r = send_data(c, b"Subject: long\r\n\r\n" + ok_line + b"\r\nend\r\n")
        assert r.code == 250, r
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        assert c.cmd("RCPT TO:<alice@example.test>").code == 250
        r = send_data(c, b"Subject: too long\r\n\r\n" + bad_line + b"\r\nend\r\n")
        assert r.code == 500 and r.enh == "5.5.2", r
        assert c.cmd("NOOP").code == 250
        # a header line counts too
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        assert c.cmd("RCPT TO:<alice@example.test>").code == 250
        r = send_data(c, b"X-Long: " + b"h" * 991 + b"\r\n\r\nbody\r\n")
        assert r.code == 500, r
    [m] = server.wait_for_maildir("bob", 1)
    assert b"\n" + ok_line + b"\nend\n" in m
    assert_nothing_stored(server, users=("alice",))


def test_recipient_limit(make_server):
    srv = make_server(smtpd_recipient_limit=100)
    with srv.smtp() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        # pipelined: 101 RCPTs in one write
        c.send(b"".join(b"RCPT TO:<bob+%d@example.test>\r\n" % i for i in range(101)))
        replies = c.replies(101)
        assert [r.code for r in replies[:100]] == [250] * 100, replies[:100]
        assert (replies[100].code, replies[100].enh) == (452, "4.5.3"), replies[100]
        r = c.cmd("RCPT TO:<alice@example.test>")
        assert (r.code, r.enh) == (452, "4.5.3"), r
        r = send_data(c, b"Subject: many\r\n\r\nbody\r\n")
        assert r.code == 250, r
    # 100 RCPTs that are all bob: one copy
    srv.wait_queue_empty()
    assert len(srv.messages("bob")) == 1
    assert srv.messages("alice") == []


def test_error_limit_disconnects(make_server):
    srv = make_server(smtpd_error_limit=3)
    with srv.smtp() as c:
        c.ehlo()
        errors = 0
        final = None
        for i in range(10):
            try:
                r = c.cmd("BOGUS%d" % i)
            except (ConnectionError, OSError):
                break
            if r.code == 421:
                final = r
                break
            assert r.code >= 400, r
            errors += 1
        assert final is not None, "no 421 after %d errors" % errors
        assert errors == 3, "421 after %d errors, limit is 3" % errors
        assert final.enh == "4.7.0", final
        assert c.wait_closed(5), "the connection stays open after 421"
    assert srv.grep_log(r"too many errors")


def test_error_limit_counts_different_errors(make_server):
    """Out-of-order command, unknown user, relay refusal: three errors of
    different kinds reach the limit of 3 as well."""
    srv = make_server(smtpd_error_limit=3)
    with srv.smtp() as c:
        c.ehlo()
        assert c.cmd("RCPT TO:<bob@example.test>").code == 503
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        assert c.cmd("RCPT TO:<nobody@example.test>").code == 550
        r = c.cmd("RCPT TO:<x@other.example>")
        assert r.code == 554, r
        # a fourth error is not answered as such: 421 instead (or already)
        try:
            r = c.cmd("RCPT TO:<y@other.example>")
        except (ConnectionError, OSError):
            r = None
        assert r is not None and (r.code, r.enh) == (421, "4.7.0"), r
        assert c.wait_closed(5)


def test_connections_per_ip(make_server):
    srv = make_server(smtpd_max_connections_per_ip=2)
    a = srv.smtp()
    b = srv.smtp()
    assert a.greeting.code == 220 and b.greeting.code == 220
    try:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            s.settimeout(10)
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        assert data.startswith(b"421 4.7.0 "), data
        # the two first sessions still work
        assert a.cmd("NOOP").code == 250
        assert b.cmd("NOOP").code == 250
    finally:
        a.cmd("QUIT")
        a.close()
    # one slot freed: a new connection is served
    deadline = time.monotonic() + 5
    while True:
        c = srv.smtp()
        if c.greeting.code == 220:
            break
        c.close()
        assert time.monotonic() < deadline, "freed slot never reusable"
        time.sleep(0.1)
    assert c.cmd("NOOP").code == 250
    c.close()
    b.close()
    assert srv.grep_log(r"reject: connect from \[127\.0\.0\.1\]: 421 4\.7\.0")


def test_idle_timeout(make_server):
    srv = make_server(smtpd_timeout="2s")
    with srv.smtp(timeout=15) as c:
        c.ehlo()
        t0 = time.monotonic()
        r = c.reply()  # nothing sent: wait for the server to give up
        waited = time.monotonic() - t0
        assert (r.code, r.enh) == (421, "4.4.2"), r
        assert 1.5 <= waited <= 6, waited
        assert c.wait_closed(5)


def test_timeout_during_data(make_server):
    srv = make_server(smtpd_timeout="2s")
    with srv.smtp(timeout=15) as c:
        start_transaction(c)
        assert c.cmd("DATA").code == 354
        c.send(b"Subject: slow\r\n\r\nhalf a mess")
        r = c.reply()
        assert (r.code, r.enh) == (421, "4.4.2"), r
        assert c.wait_closed(5)
    assert_nothing_stored(srv)


def received_headers(n):
    return b"".join(b"Received: from hop%d.example ([192.0.2.%d]) by hop; "
                    b"Sat, 1 Jan 2000 00:00:00 +0000\r\n" % (i, i) for i in range(n))


def test_too_many_received_headers(make_server):
    srv = make_server(max_received_headers=10)
    with srv.smtp() as c:
        start_transaction(c)
        r = send_data(c, received_headers(10) + b"Subject: ten hops\r\n\r\nbody\r\n")
        assert r.code == 250, r
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        assert c.cmd("RCPT TO:<alice@example.test>").code == 250
        r = send_data(c, received_headers(11) + b"Subject: eleven hops\r\n\r\nbody\r\n")
        assert (r.code, r.enh) == (554, "5.4.6"), r
        # "Received:" in the body is not a header
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        assert c.cmd("RCPT TO:<carol@example.test>").code == 250
        r = send_data(c, b"Subject: body\r\n\r\n" + received_headers(20))
        assert r.code == 250, r
    srv.wait_for_maildir("bob", 1)
    srv.wait_for_maildir("carol", 1)
    assert_nothing_stored(srv, users=("alice",))


def test_too_many_received_headers_default_limit(server):
    with server.smtp() as c:
        start_transaction(c)
        r = send_data(c, received_headers(101) + b"Subject: loop\r\n\r\nbody\r\n")
        assert (r.code, r.enh) == (554, "5.4.6"), r
    assert_nothing_stored(server)


def folded_subject(octets):
    """A Subject field whose unfolded value is `octets` long, in lines of
    at most 900 octets (each continuation line starts with a space)."""
    parts, left = [], octets
    while left > 0:
        n = min(900, left)
        parts.append(b" " + b"x" * (n - 1))
        left -= n
    return b"Subject:" + b"\r\n".join(parts) + b"\r\n"


def test_subject_length_default_998(server):
    """The default refuses the 3,501-octet Subject of pure spam, folded so
    that no line is too long; 998 octets pass."""
    with server.smtp() as c:
        start_transaction(c)
        r = send_data(c, folded_subject(3501) + b"\r\nbuy now\r\n")
        assert (r.code, r.enh) == (554, "5.6.0"), r
        assert b"3501" in r.text.encode() and b"998" in r.text.encode(), r
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        assert c.cmd("RCPT TO:<alice@example.test>").code == 250
        r = send_data(c, folded_subject(998) + b"\r\nfine\r\n")
        assert r.code == 250, r
    server.wait_for_maildir("alice", 1)
    assert server.grep_log(r"NOQUEUE: reject: DATA from \[127\.0\.0\.1\]: 554 5\.6\.0 Message "
                           r"refused: its Subject is 3501 octets long")
    assert_nothing_stored(server, users=("bob", "carol"))


def test_header_field_count_and_size(make_server):
    srv = make_server(max_header_fields=20, max_header_size="2K", max_subject_length=0)
    fields = lambda n: b"".join(b"X-Field-%d: value\r\n" % i for i in range(n))
    with srv.smtp() as c:
        start_transaction(c)
        r = send_data(c, fields(20) + b"\r\nbody\r\n")
        assert r.code == 250, r
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        assert c.cmd("RCPT TO:<alice@example.test>").code == 250
        r = send_data(c, fields(21) + b"\r\nbody\r\n")
        assert (r.code, r.enh) == (554, "5.6.0"), r
        # few fields, but a header section over 2 KiB (folded lines)
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        assert c.cmd("RCPT TO:<carol@example.test>").code == 250
        r = send_data(c, b"X-Big: a\r\n" + b" " + b"y" * 900 + b"\r\n" + b" " + b"y" * 900 +
                      b"\r\n" + b" " + b"y" * 300 + b"\r\n\r\nbody\r\n")
        assert (r.code, r.enh) == (552, "5.3.4"), r
        # with max_subject_length=0 a long Subject is no longer refused
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        assert c.cmd("RCPT TO:<carol@example.test>").code == 250
        r = send_data(c, folded_subject(1500) + b"\r\nbody\r\n")
        assert r.code == 250, r
    srv.wait_for_maildir("bob", 1)
    srv.wait_for_maildir("carol", 1)
    assert_nothing_stored(srv, users=("alice",))


def nested_mime(depth, extra_parts=0):
    """A message (bytes, CRLF) built by Python's email package: `depth`
    multipart/mixed levels, each with a text part, the innermost text at
    depth `depth`; `extra_parts` more attachments at the top level."""
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText
    from email.mime.application import MIMEApplication
    top = MIMEMultipart()
    top["Subject"] = "nested %d" % depth
    top["From"] = "a@b.org"
    level = top
    for i in range(depth - 1):
        level.attach(MIMEText("level %d" % i))
        inner = MIMEMultipart()
        level.attach(inner)
        level = inner
    level.attach(MIMEText("innermost"))
    for k in range(extra_parts):
        top.attach(MIMEApplication(b"data %d" % k, Name="f%d.bin" % k))
    return top.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def test_mime_depth_and_parts(make_server):
    srv = make_server(mime_max_depth=3, mime_max_parts=12)
    with srv.smtp() as c:
        start_transaction(c)
        r = send_data(c, nested_mime(3))
        assert r.code == 250, r
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        assert c.cmd("RCPT TO:<alice@example.test>").code == 250
        r = send_data(c, nested_mime(4))
        assert (r.code, r.enh) == (554, "5.6.0"), r
        assert "nested 4 deep, more than the 3" in r.text, r
        # depth 1 (the message, its text part) plus 10 attachments: 12 parts
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        assert c.cmd("RCPT TO:<carol@example.test>").code == 250
        r = send_data(c, nested_mime(1, extra_parts=10))
        assert r.code == 250, r
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        assert c.cmd("RCPT TO:<alice@example.test>").code == 250
        r = send_data(c, nested_mime(1, extra_parts=11))
        assert (r.code, r.enh) == (554, "5.6.0"), r
        assert "13 MIME parts, more than the 12" in r.text, r
    srv.wait_for_maildir("bob", 1)
    srv.wait_for_maildir("carol", 1)
    assert_nothing_stored(srv, users=("alice",))
    assert srv.grep_log(r"NOQUEUE: reject: DATA from \[127\.0\.0\.1\]: 554 5\.6\.0 Message refused: "
                        r"MIME parts nested 4 deep")
