"""IMAP mailbox commands (CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE,
LIST with LIST-EXTENDED / LIST-STATUS / SPECIAL-USE, LSUB, STATUS,
NAMESPACE) spoken by Python's imaplib over TLS to the real server; the
`postino report usage` command; the daily expiry of Trash in imapd.
"""

import imaplib
import json
import os
import re
import sqlite3
import ssl
import subprocess
import sys
import time

import pytest

PASSWORD = "secret-pw"


def imap_connect(srv, user="bob"):
    ctx = ssl._create_unverified_context()
    c = imaplib.IMAP4_SSL("127.0.0.1", srv.port_base + 993, ssl_context=ctx, timeout=20)
    typ, _ = c.login(srv.address(user), PASSWORD)
    assert typ == "OK"
    return c


def cmd(c, name, *args):
    """Run a command with raw arguments; (status, untagged lines as str,
    the tagged line's text)."""
    tag = c._new_tag()
    line = tag + b" " + name.encode() + b"".join(b" " + a.encode() for a in args)
    c.send(line + b"\r\n")
    untagged = []
    while True:
        l = c._get_line()
        m = re.match(rb"\{(\d+)\}$", l)
        if m and not l.startswith(tag + b" "):
            # a literal inside an untagged line: read it and the rest
            data = c.read(int(m.group(1)))
            rest = c._get_line()
            untagged.append((l + b"\r\n" + data + rest).decode("utf-8", "replace"))
            continue
        if l.startswith(tag + b" "):
            status, _, text = l[len(tag) + 1:].partition(b" ")
            return status.decode(), untagged, text.decode("utf-8", "replace")
        untagged.append(l.decode("utf-8", "replace"))


def lists(untagged, kind="LIST"):
    """{name: attrs-string} of the LIST/LSUB lines."""
    out = {}
    for l in untagged:
        m = re.match(r'\* %s \(([^)]*)\) "\." (?:"((?:[^"\\]|\\.)*)"|(\S+))(.*)$' % kind, l)
        if m:
            name = m.group(2) if m.group(2) is not None else m.group(3)
            out[name] = m.group(1)
    return out


def status_of(untagged):
    out = {}
    for l in untagged:
        m = re.match(r'\* STATUS (?:"((?:[^"\\]|\\.)*)"|(\S+)) \((.*)\)$', l)
        if m:
            name = m.group(1) if m.group(1) is not None else m.group(2)
            it = m.group(3).split()
            out[name] = {it[i]: int(it[i + 1]) for i in range(0, len(it), 2)}
    return out


def message(subject, body="hello\r\n", size_pad=0):
    return ("From: a@example.test\r\nTo: bob@example.test\r\nSubject: %s\r\n\r\n%s%s"
            % (subject, body, "x" * size_pad + ("\r\n" if size_pad else ""))).encode()


def append(c, folder, msg, flags=None, date=None):
    typ, data = c.append(folder, flags, date, msg)
    assert typ == "OK", data


@pytest.fixture
def srv(make_server):
    return make_server(users=("bob", "alice"))


def test_namespace_and_delimiter(srv):
    c = imap_connect(srv)
    st, u, _ = cmd(c, "CAPABILITY")
    caps = u[0].split()
    for cap in ("NAMESPACE", "CHILDREN", "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE",
                "CREATE-SPECIAL-USE", "STATUS=SIZE"):
        assert cap in caps, cap
    st, u, _ = cmd(c, "NAMESPACE")
    assert st == "OK" and u == ['* NAMESPACE (("" ".")) NIL NIL']
    st, u, _ = cmd(c, "LIST", '""', '""')
    assert st == "OK" and u == ['* LIST (\\Noselect) "." ""']
    st, u, _ = cmd(c, "NAMESPACE", "x")
    assert st == "BAD"
    c.logout()


def test_list_special_use_and_children(srv):
    c = imap_connect(srv)
    st, u, _ = cmd(c, "LIST", '""', "*")
    assert st == "OK"
    l = lists(u)
    assert set(l) == {"INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"}
    assert u[0].endswith('"INBOX"')
    assert l["Sent"] == "\\HasNoChildren \\Sent"
    assert l["Drafts"] == "\\HasNoChildren \\Drafts"
    assert l["Trash"] == "\\HasNoChildren \\Trash"
    assert l["Junk"] == "\\HasNoChildren \\Junk"
    assert l["Archive"] == "\\HasNoChildren \\Archive"
    assert l["INBOX"] == "\\HasNoChildren"
    # only special-use mailboxes (RFC 6154 selection option)
    st, u, _ = cmd(c, "LIST", "(SPECIAL-USE)", '""', "*")
    assert st == "OK" and set(lists(u)) == {"Sent", "Drafts", "Trash", "Junk", "Archive"}
    st, u, _ = cmd(c, "LIST", '""', "*", "RETURN", "(SPECIAL-USE)")
    assert st == "OK" and lists(u)["Sent"].endswith("\\Sent")
    c.logout()


def test_create_delete_rename_patterns(srv):
    c = imap_connect(srv)
    for name in ("Work", "Work.Projects.A", "Work.Projects.B", "Lists.dev"):
        st, _, text = cmd(c, "CREATE", name)
        assert st == "OK", text
    # a trailing separator declares a parent: the folder is made
    st, _, _ = cmd(c, "CREATE", "Later.")
    assert st == "OK"
    st, _, text = cmd(c, "CREATE", "Work")
    assert st == "NO" and text.startswith("[ALREADYEXISTS]")
    st, _, text = cmd(c, "CREATE", "inbox")
    assert st == "NO" and text.startswith("[ALREADYEXISTS]")
    st, _, text = cmd(c, "CREATE", '"a..b"')
    assert st == "NO" and text.startswith("[CANNOT]")
    st, _, text = cmd(c, "CREATE", '"Bad*Name"')
    assert st == "NO"

    st, u, _ = cmd(c, "LIST", '""', "%")
    l = lists(u)
    assert {"INBOX", "Work", "Lists", "Later", "Sent"} <= set(l)
    assert "Work.Projects" not in l
    assert l["Work"] == "\\HasChildren"
    assert l["Lists"] == "\\HasChildren"  # parents are made as folders too
    assert l["Later"] == "\\HasNoChildren"
    st, u, _ = cmd(c, "LIST", '""', "Work.*")
    assert set(lists(u)) == {"Work.Projects", "Work.Projects.A", "Work.Projects.B"}
    st, u, _ = cmd(c, "LIST", '""', "Work.%")
    assert lists(u) == {"Work.Projects": "\\HasChildren"}
    # the reference is prepended to the pattern
    st, u, _ = cmd(c, "LIST", "Work.Projects.", "%")
    assert set(lists(u)) == {"Work.Projects.A", "Work.Projects.B"}
    # INBOX in any case
    st, u, _ = cmd(c, "LIST", '""', "iNbOx")
    assert set(lists(u)) == {"INBOX"}
    st, u, _ = cmd(c, "LIST", '""', "NoSuch*")
    assert st == "OK" and u == []

    # DELETE
    st, _, text = cmd(c, "DELETE", "INBOX")
    assert st == "NO" and text.startswith("[CANNOT]")
    st, _, text = cmd(c, "DELETE", "Nope")
    assert st == "NO" and text.startswith("[NONEXISTENT]")
    st, _, _ = cmd(c, "DELETE", "Work.Projects.B")
    assert st == "OK"
    # a folder with children: deleted, its name stays as a \Noselect parent
    st, _, _ = cmd(c, "DELETE", "Work")
    assert st == "OK"
    st, u, _ = cmd(c, "LIST", '""', "Work*")
    l = lists(u)
    assert "Work.Projects.B" not in l
    assert l["Work"] == "\\Noselect \\HasChildren"
    st, _, text = cmd(c, "SELECT", "Work")
    assert st == "NO"
    # a name that is only a parent cannot be deleted
    st, _, text = cmd(c, "DELETE", "Work")
    assert st == "NO" and text.startswith("[CANNOT]"), text

    # RENAME moves children too
    st, _, _ = cmd(c, "RENAME", "Work.Projects", "Old")
    assert st == "OK"
    st, u, _ = cmd(c, "LIST", '""', "*")
    l = lists(u)
    assert "Old.A" in l and "Work.Projects.A" not in l
    st, _, text = cmd(c, "RENAME", "Nope", "Other")
    assert st == "NO" and text.startswith("[NONEXISTENT]")
    st, _, text = cmd(c, "RENAME", "Old", "Sent")
    assert st == "NO" and text.startswith("[ALREADYEXISTS]")
    st, _, text = cmd(c, "RENAME", "Old", "INBOX")
    assert st == "NO"
    c.logout()


def test_bad_syntax(srv):
    c = imap_connect(srv)
    for name, args in (("CREATE", ()), ("CREATE", ("a", "b", "c")), ("DELETE", ()),
                       ("RENAME", ("a",)), ("SUBSCRIBE", ()), ("UNSUBSCRIBE", ("a", "b")),
                       ("LIST", ('""',)), ("LSUB", ("(SUBSCRIBED)", '""', "*")),
                       ("LIST", ("(BOGUS)", '""', "*")), ("LIST", ("(RECURSIVEMATCH)", '""', "*")),
                       ("LIST", ('""', "*", "RETURN", "(BOGUS)")), ("LIST", ('""', "()")),
                       ("STATUS", ("INBOX",)), ("STATUS", ("INBOX", "(BOGUS)")),
                       ("STATUS", ("INBOX", "()")), ("CREATE", ("x", "(USE)"))):
        st, _, text = cmd(c, name, *args)
        assert st == "BAD", (name, args, text)
    c.logout()
    # not before login
    ctx = ssl._create_unverified_context()
    c = imaplib.IMAP4_SSL("127.0.0.1", srv.port_base + 993, ssl_context=ctx, timeout=20)
    st, _, _ = cmd(c, "LIST", '""', "*")
    assert st == "BAD"
    c.logout()


def test_create_special_use(srv):
    c = imap_connect(srv)
    st, _, text = cmd(c, "CREATE", "Mine", "(USE (\\Sent))")
    assert st == "NO" and text.startswith("[USEATTR]")
    st, _, text = cmd(c, "CREATE", "Mine", "(USE (\\Important))")
    assert st == "NO" and text.startswith("[USEATTR]")
    st, u, _ = cmd(c, "LIST", '""', "Mine")
    assert u == []
    st, _, _ = cmd(c, "CREATE", "Mine", "(USE ())")
    assert st == "OK"
    # Sent can be made again with its use
    assert cmd(c, "DELETE", "Sent")[0] == "OK"
    st, _, text = cmd(c, "CREATE", "Sent", "(USE (\\Sent))")
    assert st == "OK", text
    st, u, _ = cmd(c, "LIST", '""', "Sent")
    assert lists(u)["Sent"].endswith("\\Sent")
    c.logout()


def test_utf7_names(srv):
    c = imap_connect(srv)
    st, _, _ = cmd(c, "CREATE", '"Entw&APw-rfe"')
    assert st == "OK"
    st, u, _ = cmd(c, "LIST", '""', '"Entw*"')
    assert lists(u) == {"Entw&APw-rfe": "\\HasNoChildren"}
    append(c, '"Entw&APw-rfe"', message("draft"))
    st, u, _ = cmd(c, "STATUS", '"Entw&APw-rfe"', "(MESSAGES)")
    assert status_of(u) == {"Entw&APw-rfe": {"MESSAGES": 1}}
    # the folder on disk has the IMAP name
    assert os.path.isdir(os.path.join(srv.maildir("bob"), ".Entw&APw-rfe"))
    # invalid modified UTF-7 (raw 8-bit, a bad base64 run) names nothing
    st, _, text = cmd(c, "CREATE", '"Entw&Jjo"')
    assert st == "NO" and text.startswith("[CANNOT]")
    st, _, _ = cmd(c, "RENAME", '"Entw&APw-rfe"', '"&AMk-t&AOk-"')
    assert st == "OK"
    st, u, _ = cmd(c, "LIST", '""', '"&AMk-*"')
    assert set(lists(u)) == {"&AMk-t&AOk-"}
    # a quoted name with a quote and a backslash comes back escaped
    st, _, text = cmd(c, "CREATE", r'"say \"hi\" \\o"')
    assert st == "OK", text
    st, u, _ = cmd(c, "LIST", '""', '"say*"')
    assert u == [r'* LIST (\HasNoChildren) "." "say \"hi\" \\o"']
    st, _, text = cmd(c, "CREATE", '"a/b"')  # '/' is never in a folder name
    assert st == "NO" and text.startswith("[CANNOT]")
    c.logout()


def test_subscribe_lsub(srv):
    c = imap_connect(srv)
    for n in ("News", "News.comp", "News.comp.mail", "News.rec"):
        assert cmd(c, "CREATE", n)[0] == "OK"
    assert cmd(c, "SUBSCRIBE", "News.comp.mail")[0] == "OK"
    assert cmd(c, "SUBSCRIBE", "News.rec")[0] == "OK"
    assert cmd(c, "SUBSCRIBE", "Ghost")[0] == "OK"  # need not exist
    assert cmd(c, "SUBSCRIBE", "Ghost")[0] == "OK"  # idempotent
    st, u, _ = cmd(c, "LSUB", '""', "*")
    l = lists(u, "LSUB")
    # special-use folders are subscribed when the account is made
    assert {"Sent", "Drafts", "Trash", "Junk", "Archive", "News.comp.mail", "News.rec",
            "Ghost"} <= set(l)
    assert "News" not in l and "News.comp" not in l
    assert l["News.rec"] == ""
    assert l["Ghost"] == "\\Noselect"
    # the "%" rule: News.comp is not subscribed but has a subscribed child
    st, u, _ = cmd(c, "LSUB", '""', "News.%")
    assert lists(u, "LSUB") == {"News.comp": "\\Noselect", "News.rec": ""}
    st, u, _ = cmd(c, "LSUB", '""', "%")
    l = lists(u, "LSUB")
    assert l["News"] == "\\Noselect"
    assert cmd(c, "UNSUBSCRIBE", "News.rec")[0] == "OK"
    assert cmd(c, "UNSUBSCRIBE", "News.rec")[0] == "OK"
    st, u, _ = cmd(c, "LSUB", '""', "News.*")
    assert lists(u, "LSUB") == {"News.comp.mail": ""}

    # LIST-EXTENDED: SUBSCRIBED selection, \NonExistent, RECURSIVEMATCH
    st, u, _ = cmd(c, "LIST", "(SUBSCRIBED)", '""', "*")
    l = lists(u)
    assert l["Ghost"] == "\\NonExistent \\Subscribed"
    assert l["News.comp.mail"] == "\\HasNoChildren \\Subscribed"
    assert "News" not in l
    st, u, _ = cmd(c, "LIST", "(SUBSCRIBED RECURSIVEMATCH)", '""', "%")
    news = [x for x in u if '"News"' in x]
    assert news == ['* LIST (\\HasChildren) "." "News" ("CHILDINFO" ("SUBSCRIBED"))']
    st, u, _ = cmd(c, "LIST", '""', "News*", "RETURN", "(SUBSCRIBED CHILDREN)")
    l = lists(u)
    assert l["News"] == "\\HasChildren"
    assert l["News.comp.mail"] == "\\HasNoChildren \\Subscribed"
    # REMOTE changes nothing here; several patterns at once
    st, u, _ = cmd(c, "LIST", "(REMOTE)", '""', "(INBOX News.rec Sent)")
    assert set(lists(u)) == {"INBOX", "News.rec", "Sent"}
    c.logout()


def test_status_items_and_selected(srv):
    c = imap_connect(srv)
    append(c, "Archive", message("one"), flags="(\\Seen)")
    append(c, "Archive", message("two", size_pad=100))
    append(c, "Archive", message("three"), flags="(\\Deleted)")
    sizes = [len(message("one")), len(message("two", size_pad=100)), len(message("three"))]
    st, u, _ = cmd(c, "STATUS", "Archive",
                   "(MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN DELETED HIGHESTMODSEQ SIZE)")
    assert st == "OK"
    s = status_of(u)["Archive"]
    assert s["MESSAGES"] == 3 and s["UNSEEN"] == 2 and s["DELETED"] == 1
    assert s["RECENT"] == 3 and s["UIDNEXT"] == 4 and s["UIDVALIDITY"] > 0
    assert s["HIGHESTMODSEQ"] > 0 and s["SIZE"] == sum(sizes)
    st, _, text = cmd(c, "STATUS", "Nope", "(MESSAGES)")
    assert st == "NO" and text.startswith("[NONEXISTENT]")
    st, u, _ = cmd(c, "STATUS", "archive", "(MESSAGES)")  # names are case-sensitive
    assert st == "NO"
    st, u, _ = cmd(c, "STATUS", "inbox", "(messages unseen)")
    assert status_of(u) == {"INBOX": {"MESSAGES": 0, "UNSEEN": 0}}

    # selected: STATUS agrees with what the session was told
    typ, data = c.select("Archive")
    assert typ == "OK" and data == [b"3"]
    other = imap_connect(srv)
    append(other, "Archive", message("four"))
    st, u, _ = cmd(c, "STATUS", "Archive", "(MESSAGES RECENT UNSEEN UIDNEXT SIZE)")
    assert st == "OK"
    assert "* 4 EXISTS" in u
    assert u.index("* 4 EXISTS") < [i for i, x in enumerate(u) if x.startswith("* STATUS")][0]
    s = status_of(u)["Archive"]
    assert s["MESSAGES"] == 4 and s["UIDNEXT"] == 5 and s["UNSEEN"] == 3
    assert s["RECENT"] == 4  # the selected session sees every one as \Recent
    assert s["SIZE"] == sum(sizes) + len(message("four"))
    # none is left \Recent for anyone else
    st, u, _ = cmd(other, "STATUS", "Archive", "(RECENT MESSAGES)")
    assert status_of(u)["Archive"] == {"MESSAGES": 4, "RECENT": 0}
    other.logout()
    c.logout()


def test_list_status(srv):
    c = imap_connect(srv)
    append(c, "Trash", message("t1"))
    append(c, "Trash", message("t2"), flags="(\\Seen)")
    assert cmd(c, "CREATE", "P.Q")[0] == "OK"
    assert cmd(c, "DELETE", "P")[0] == "OK"  # P stays as a \Noselect parent
    st, u, _ = cmd(c, "LIST", '""', "*", "RETURN", "(STATUS (MESSAGES UNSEEN))")
    assert st == "OK"
    # a STATUS right after each selectable mailbox's LIST line
    for i, line in enumerate(u):
        if line.startswith("* LIST") and "\\Noselect" not in line:
            name = lists([line]).popitem()[0]
            assert status_of([u[i + 1]]).keys() == {name}, (line, u[i + 1])
    assert not any(x.startswith("* STATUS") and '"P"' in x for x in u)
    s = status_of(u)
    assert s["Trash"] == {"MESSAGES": 2, "UNSEEN": 1}
    assert s["INBOX"] == {"MESSAGES": 0, "UNSEEN": 0}
    assert "P" not in s and "P.Q" in s
    st, u, _ = cmd(c, "LIST", "(SPECIAL-USE)", '""', "*", "RETURN", "(STATUS (SIZE))")
    assert set(status_of(u)) == {"Sent", "Drafts", "Trash", "Junk", "Archive"}
    c.logout()


def test_rename_inbox_and_selected(srv):
    c = imap_connect(srv)
    append(c, "INBOX", message("a"))
    append(c, "INBOX", message("b"))
    st, _, _ = cmd(c, "RENAME", "INBOX", "Saved")
    assert st == "OK"
    st, u, _ = cmd(c, "STATUS", "Saved", "(MESSAGES)")
    assert status_of(u)["Saved"]["MESSAGES"] == 2
    st, u, _ = cmd(c, "STATUS", "INBOX", "(MESSAGES)")
    assert status_of(u)["INBOX"]["MESSAGES"] == 0

    # renaming the selected mailbox: the session goes on with it
    typ, data = c.select("Saved")
    assert data == [b"2"]
    st, _, _ = cmd(c, "RENAME", "Saved", "Kept")
    assert st == "OK"
    assert cmd(c, "NOOP")[0] == "OK"
    st, u, _ = cmd(c, "STATUS", "Kept", "(MESSAGES)")
    assert status_of(u)["Kept"]["MESSAGES"] == 2

    # another session on the folder being deleted is told and closed
    other = imap_connect(srv)
    typ, _ = other.select("Kept")
    assert typ == "OK"
    # deleting the selected mailbox closes it ([CLOSED]), the session lives
    st, u, _ = cmd(c, "DELETE", "Kept")
    assert st == "OK"
    assert any("[CLOSED]" in x for x in u)
    st, _, _ = cmd(c, "CHECK")
    assert st == "BAD"  # no mailbox selected any more
    assert cmd(c, "LIST", '""', "Kept")[1] == []
    try:
        st, u, _ = cmd(other, "NOOP")
        assert any(x.startswith("* BYE") for x in u) or st == "OK"
    except (imaplib.IMAP4.abort, OSError):
        pass
    c.logout()
    # the server survived it all
    c = imap_connect(srv)
    assert cmd(c, "NOOP")[0] == "OK"
    c.logout()


def test_report_usage(make_server):
    srv = make_server(users=("bob", "alice", "carol"))
    srv.add_domain("other.test")
    srv.add_user("dave@other.test")
    b = imap_connect(srv, "bob")
    big = message("big", size_pad=5000)
    append(b, "INBOX", big)
    append(b, "INBOX", message("small"))
    append(b, "Trash", message("gone", size_pad=300))
    append(b, "Sent", message("sent", size_pad=200))
    assert cmd(b, "CREATE", "Projects")[0] == "OK"
    append(b, "Projects", message("p"))
    b.logout()
    a = imap_connect(srv, "alice")
    append(a, "Junk", message("spam", size_pad=50))
    append(a, "INBOX", message("hi"))
    a.logout()
    d = imap_connect(srv, "dave@other.test")
    append(d, "INBOX", message("far", size_pad=9000))
    d.logout()

    r = srv.cli("report", "usage", "--json")
    rep = json.loads(r.out)
    doms = rep["domains"]
    # largest domain first
    assert [x["domain"] for x in doms] == ["other.test", "example.test"]
    ex = doms[1]
    # carol never got mail: her mailbox is not made by the report
    assert [u["address"] for u in ex["accounts"]] == [
        "bob@example.test", "alice@example.test", "carol@example.test"]
    assert not os.path.exists(srv.maildir("carol"))
    bob = ex["accounts"][0]
    bob_bytes = sum(len(m) for m in (big, message("small"), message("gone", size_pad=300),
                                     message("sent", size_pad=200), message("p")))
    assert bob["messages"] == 5 and bob["bytes"] == bob_bytes
    assert bob["trash_bytes"] == len(message("gone", size_pad=300))
    assert bob["sent_bytes"] == len(message("sent", size_pad=200))
    assert bob["junk_bytes"] == 0 and bob["error"] is False
    folders = {f["name"]: f for f in bob["folders"]}
    assert folders["Projects"] == {"name": "Projects", "messages": 1, "bytes": len(message("p"))}
    alice = ex["accounts"][1]
    assert alice["junk_bytes"] == len(message("spam", size_pad=50)) and alice["messages"] == 2
    assert ex["accounts"][2]["messages"] == 0 and ex["accounts"][2]["bytes"] == 0
    assert ex["users"] == 3 and ex["messages"] == 7
    assert ex["bytes"] == bob_bytes + alice["bytes"]
    assert doms[0]["accounts"][0]["bytes"] == len(message("far", size_pad=9000))

    # one domain, as text
    r = srv.cli("report", "usage", "--domain", "EXAMPLE.test")
    lines = r.out.splitlines()
    assert lines[0] == ("example.test users=3 messages=7 bytes=%d trash=%d junk=%d sent=%d"
                        % (ex["bytes"], ex["trash_bytes"], ex["junk_bytes"], ex["sent_bytes"]))
    assert lines[1].startswith("  bob@example.test messages=5 bytes=%d " % bob_bytes)
    assert lines[2].startswith("  alice@example.test ")
    assert lines[3] == ("  carol@example.test messages=0 bytes=0 trash=0 junk=0 sent=0")
    assert len(lines) == 4
    # the mailboxes stay the mail user's
    st = os.stat(os.path.join(srv.maildir("bob"), "index.db"))
    assert st.st_uid != 0
    r = srv.cli("report", "usage", "--bogus", check=False)
    assert r.returncode == 2
    r = srv.cli("report", "nothing", check=False)
    assert r.returncode == 2


AGE_SCRIPT = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
with db:
    n = db.execute("UPDATE messages SET saved = saved - ? WHERE uid = ? AND folder = "
                   "(SELECT id FROM folders WHERE name = ?)",
                   (int(sys.argv[4]), int(sys.argv[3]), sys.argv[2])).rowcount
assert n == 1, n
"""


def age_message(srv, user, folder, uid, seconds):
    """Make a message look as if it entered folder `seconds` earlier: the
    store expires by the time a message was saved into its folder, kept in
    the index (not by its internal date or the file's mtime). Done as the
    owner of the mailbox, so that no file of the index becomes root's."""
    path = os.path.join(srv.maildir(user), "index.db")
    st = os.stat(path)
    subprocess.run([sys.executable, "-c", AGE_SCRIPT, path, folder, str(uid), str(seconds)],
                   check=True, user=st.st_uid, group=st.st_gid, timeout=30)


def test_trash_expiry(make_server, monkeypatch):
    srv = make_server(users=("bob", "alice", "carol"), start=False, trash_retention_days=1)
    monkeypatch.setenv("POSTINO_TRASH_EXPIRY_INTERVAL", "2")
    srv.start()
    c = imap_connect(srv, "bob")
    append(c, "Trash", message("old 1"))
    append(c, "Trash", message("old 2"))
    # an old internal date, but it entered Trash just now: kept
    append(c, "Trash", message("fresh"), date=imaplib.Time2Internaldate(time.time() - 10 * 86400))
    append(c, "Junk", message("old spam"))
    append(c, "INBOX", message("inbox, never expired"))
    a = imap_connect(srv, "alice")
    append(a, "Trash", message("alice fresh"))
    a.logout()
    typ, data = c.select("Trash")
    assert data == [b"3"]
    day = 86400
    age_message(srv, "bob", "Trash", 1, 2 * day)
    age_message(srv, "bob", "Trash", 2, day + 60)
    age_message(srv, "bob", "Junk", 1, 3 * day)
    age_message(srv, "bob", "INBOX", 1, 30 * day)
    line = srv.wait_log(r"imap: expire: account=<bob@example\.test> expunged=3 days=1", timeout=30)
    assert len(line) == 1
    # the selected session is told
    deadline = time.monotonic() + 10
    expunges = []
    while len(expunges) < 2 and time.monotonic() < deadline:
        st, u, _ = cmd(c, "NOOP")
        expunges += [x for x in u if x.endswith(" EXPUNGE")]
        time.sleep(0.2)
    assert expunges == ["* 1 EXPUNGE", "* 1 EXPUNGE"]
    st, u, _ = cmd(c, "LIST", '""', "*", "RETURN", "(STATUS (MESSAGES))")
    s = status_of(u)
    assert s["Trash"] == {"MESSAGES": 1} and s["Junk"] == {"MESSAGES": 0}
    assert s["INBOX"] == {"MESSAGES": 1}
    c.logout()
    # nothing else was expunged, by later runs either
    time.sleep(4.5)
    assert srv.grep_log(r"imap: expire:") == line
    a = imap_connect(srv, "alice")
    st, u, _ = cmd(a, "STATUS", "Trash", "(MESSAGES)")
    assert status_of(u)["Trash"] == {"MESSAGES": 1}
    a.logout()


def test_trash_expiry_off(make_server, monkeypatch):
    srv = make_server(users=("bob",), start=False, trash_retention_days=0)
    monkeypatch.setenv("POSTINO_TRASH_EXPIRY_INTERVAL", "1")
    srv.start()
    c = imap_connect(srv, "bob")
    append(c, "Trash", message("old"))
    age_message(srv, "bob", "Trash", 1, 400 * 86400)
    time.sleep(3)
    st, u, _ = cmd(c, "STATUS", "Trash", "(MESSAGES)")
    assert status_of(u)["Trash"] == {"MESSAGES": 1}
    assert srv.grep_log(r"imap: expire:") == []
    c.logout()
