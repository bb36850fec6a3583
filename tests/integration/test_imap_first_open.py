"""The first open of a big folder: the view is answered from the directory
scan while the index rows are committed in the background (store-bg.c).
Other sessions of the same process, POP3 in another process and the
server after a restart must all see the same UIDs, flags and \\Recent
claims as the first session was given, and no marker may be left behind."""

import os
import re

import pytest

N = 3000  # over the store's threshold for a background commit (1000)


def message(i):
    return ("From: sender@remote.test\nTo: bob@example.test\nSubject: message %d\n"
            "Message-ID: <first-open-%d@remote.test>\n\nbody %d\n" % (i, i, i)).encode()


def untagged_number(m, name):
    typ, data = m.response(name)
    assert data and data[0] is not None, (name, data)
    return int(data[0])


def uid_to_message_id(m):
    """{uid: Message-ID} of the selected folder."""
    typ, data = m.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    assert typ == "OK", data
    out = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
        mid = re.search(rb"<([^>]+)>", item[1]).group(1).decode()
        out[uid] = mid
    return out


@pytest.fixture
def big(make_server):
    srv = make_server(users=("bob",), start=False)
    srv.put_messages("bob", [message(i) for i in range(1, N + 1)])
    srv.start()
    return srv


def test_first_open_seen_alike_everywhere(big):
    srv = big
    a = srv.imaps("bob")
    typ, data = a.select("INBOX")
    assert typ == "OK" and int(data[0]) == N
    assert untagged_number(a, "RECENT") == N
    typ, data = a.response("UIDVALIDITY")
    uidvalidity = int(data[0])

    # at once, while the rows may still be going in: another session of
    # the same process sees the same folder, with \Recent already claimed
    b = srv.imaps("bob")
    typ, data = b.select("INBOX")
    assert typ == "OK" and int(data[0]) == N
    assert untagged_number(b, "RECENT") == 0
    typ, data = b.response("UIDVALIDITY")
    assert int(data[0]) == uidvalidity
    typ, data = b.uid("STORE", "5", "+FLAGS", r"(\Flagged)")
    assert typ == "OK", data

    # POP3 runs in another process: it waits for the index's write lock
    p = srv.pop3s("bob")
    count, _ = p.stat()
    assert count == N
    p.quit()

    # the first session learns of the other's change
    typ, _ = a.noop()
    assert typ == "OK"
    typ, data = a.uid("FETCH", "5", "(FLAGS)")
    assert typ == "OK" and b"\\Flagged" in data[0], data
    mapping = uid_to_message_id(a)
    assert len(mapping) == N
    assert sorted(mapping) == list(range(1, N + 1))
    a.logout()
    b.logout()
    assert not os.path.exists(os.path.join(srv.maildir("bob"), "index.db-bulk"))

    # after a restart the index alone gives the same UIDs
    srv.restart()
    c = srv.imaps("bob")
    typ, data = c.select("INBOX", readonly=True)
    assert typ == "OK" and int(data[0]) == N
    typ, data = c.response("UIDVALIDITY")
    assert int(data[0]) == uidvalidity
    assert uid_to_message_id(c) == mapping
    typ, data = c.uid("FETCH", "5", "(FLAGS)")
    assert b"\\Flagged" in data[0], data
    c.logout()
    assert "never committed" not in srv.log()


def test_first_open_examine_claims_nothing(big):
    srv = big
    a = srv.imaps("bob")
    typ, data = a.select("INBOX", readonly=True)
    assert typ == "OK" and int(data[0]) == N
    a.logout()
    # EXAMINE claims no \Recent: the first SELECT still gets them all
    b = srv.imaps("bob")
    typ, data = b.select("INBOX")
    assert typ == "OK"
    assert untagged_number(b, "RECENT") == N
    b.logout()
