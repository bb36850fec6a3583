"""The share portal's web UI in a real browser: headless Chromium (Debian's
/usr/bin/chromium) driven by playwright-core (tests/browser, installed by
scripts/install-deps with `npm ci`) through tests/browser/share-flow.mjs.

The whole flow through the pages: the sender logs in and sends files (a
dropped connection in the middle of an upload is resumed), the recipient
opens the link of the notification in her Maildir, unlocks the transfer,
downloads every file, and the bytes are compared with the originals
(SHA-256); in generated-password mode, with a secure reply the sender
opens with the same password, and in end-to-end mode, where the browser
encrypts and decrypts and the stored files hold no plaintext. The sender
then sees the evidence in the UI and revokes the transfer.

Skipped, saying why, only when Node.js, playwright-core or Chromium is
missing or Chromium cannot start here."""

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess

import pytest

from peers import free_port
from test_share_cli import MARKER, make_file, stored_bytes

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BROWSER_DIR = os.path.join(REPO, "tests", "browser")
FLOW = os.path.join(BROWSER_DIR, "share-flow.mjs")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
USER_PASSWORD = "secret-pw"  # postino_testlib's password of every user


@functools.lru_cache(maxsize=None)
def browser_missing():
    """Why the browser test cannot run here, or None."""
    node = shutil.which("node")
    if not node:
        return "Node.js is not installed (scripts/install-deps installs it)"
    if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        return "playwright-core is not installed (scripts/install-deps runs npm ci in tests/browser)"
    if not os.access(CHROMIUM, os.X_OK):
        return "%s is not installed (Debian's chromium; scripts/install-deps installs it)" % CHROMIUM
    probe = ("import { chromium } from 'playwright-core';"
             "const b = await chromium.launch({executablePath: process.env.CHROMIUM});"
             "const p = await b.newPage(); await p.setContent('<p>x</p>'); await b.close();")
    try:
        r = subprocess.run([node, "--input-type=module", "-e", probe], cwd=BROWSER_DIR,
                           env=dict(os.environ, CHROMIUM=CHROMIUM), capture_output=True,
                           text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return "Chromium did not start within 120 s"
    if r.returncode != 0:
        return "Chromium cannot start here: " + (r.stderr.strip().splitlines() or ["?"])[-1]
    return None


@pytest.fixture
def browser():
    why = browser_missing()
    if why:  # make test installs both (scripts/install-deps): a failure, not a skip
        pytest.fail(why)

    def run(step, **args):
        r = subprocess.run(["node", FLOW, step, json.dumps(args)], cwd=BROWSER_DIR,
                           env=dict(os.environ, CHROMIUM=CHROMIUM), capture_output=True,
                           text=True, timeout=600)
        assert r.returncode == 0, "%s failed:\n%s%s" % (step, r.stdout, r.stderr)
        return json.loads(r.stdout.strip().splitlines()[-1])
    return run


def portal(make_server, **settings):
    port = free_port()
    srv = make_server(https_listen="127.0.0.1:%d" % port,
                      share_url="https://127.0.0.1:%d" % port, **settings)
    srv.https_port = port
    srv.base = "https://127.0.0.1:%d" % port
    return srv


def revoked_in_store(srv, tid):
    """The transfer is revoked in the portal's database (read there: postino
    share show would take an id that starts with "-" for an option)."""
    import sqlite3
    db = sqlite3.connect(os.path.join(srv.dir, "state", "shares.db"), timeout=10)
    try:
        cols = [r[1] for r in db.execute("PRAGMA table_info(transfers)")]
        row = db.execute("SELECT * FROM transfers WHERE id = ?", (tid,)).fetchone()
    finally:
        db.close()
    return row is not None and bool(dict(zip(cols, row)).get("revoked"))


def links_in(mail):
    return [m.decode() for m in re.findall(rb"https://[^/\s]+/t/[A-Za-z0-9_-]{22}(?:#[^\s]*)?",
                                          mail)]


def mail_with_link(srv, user, count):
    """The link of the one mail among user's first count that has one."""
    found = [links_in(m) for m in srv.wait_for_maildir(user, count)]
    found = [x for x in found if x]
    assert len(found) == 1, found
    return found[0][0]


def sha(path_or_bytes):
    if isinstance(path_or_bytes, bytes):
        return hashlib.sha256(path_or_bytes).hexdigest()
    with open(path_or_bytes, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_transfers_of_the_command_line(make_server, browser, tmp_path):
    """Transfers sent with postino share send, received in the browser (a
    password, a key in the link), the sender's evidence seen in the UI and
    the transfer revoked there."""
    srv = portal(make_server)
    f, data = make_file(tmp_path, "report (1).bin", 300000)
    out = json.loads(srv.cli("share", "send", "--from", "bob@example.test", "--to",
                             "alice@example.test", "--file", str(f), "--message", "hi there",
                             "--json").out)
    link = mail_with_link(srv, "alice", 1)
    (tmp_path / "a").mkdir()
    got = browser("receive", url=link, password=out["password"], out=str(tmp_path / "a"))
    assert got["sender"] == "bob@example.test" and got["message"] == "hi there"
    assert [x["name"] for x in got["files"]] == ["report (1).bin"]
    assert sha(got["files"][0]["path"]) == sha(data)
    srv.cli("share", "send", "--from", "bob@example.test", "--to", "carol@example.test",
            "--file", str(f), "--password-mode", "link")
    link = mail_with_link(srv, "carol", 1)
    assert "#k=" in link
    (tmp_path / "c").mkdir()
    got = browser("receive", url=link, out=str(tmp_path / "c"))
    assert sha(got["files"][0]["path"]) == sha(data)
    seen = browser("transfers", base=srv.base, user="bob@example.test", password=USER_PASSWORD,
                   id=out["id"], revoke=True)
    assert len(seen["ids"]) == 2 and out["id"] in seen["ids"]
    assert seen["events"] == ["sent", "unlock", "download", "revoke"], seen
    assert seen["state"] == "revoked"
    assert revoked_in_store(srv, out["id"])


def test_generated_password_with_reply(make_server, browser, tmp_path):
    srv = portal(make_server)
    big, big_data = make_file(tmp_path, "board minutes.bin", 9 * 1024 * 1024 + 12345)
    small, small_data = make_file(tmp_path, "notes.txt", 1000)
    sent = browser("send", base=srv.base, user="bob@example.test", password=USER_PASSWORD,
                   recipients=["alice@example.test"], message="the minutes, as promised",
                   files=[str(big), str(small)], mode="generated", drop_put=1)
    assert sent["id"] and re.fullmatch(r"([a-zA-Z2-9]{5}-){4}[a-zA-Z2-9]{5}", sent["password"])
    assert sent["links"] == []
    # the second PUT was cut: the page asked where the server stood and went on
    assert sent["puts"] == 4  # 2 segments of the big file, the second again, the small one
    assert MARKER not in stored_bytes(srv)

    link = mail_with_link(srv, "alice", 1)
    assert "#" not in link
    out = tmp_path / "alice"
    out.mkdir()
    reply_file, reply_data = make_file(tmp_path, "signed.pdf", 70000)
    got = browser("receive", url=link, password=sent["password"], out=str(out),
                  wrong_password="not-the-password",
                  reply={"message": "signed, see attached", "files": [str(reply_file)]})
    assert "4 attempt(s) left" in got["wrong"], got["wrong"]
    assert got["sender"] == "bob@example.test" and got["message"] == "the minutes, as promised"
    assert sorted(f["name"] for f in got["files"]) == ["board minutes.bin", "notes.txt"]
    by_name = {f["name"]: f["path"] for f in got["files"]}
    assert sha(by_name["board minutes.bin"]) == sha(big_data)
    assert sha(by_name["notes.txt"]) == sha(small_data)
    assert "sent" in got["reply"]

    # bob: the first-download notice and the reply's link; he opens the
    # reply with the transfer's password
    mails = srv.wait_for_maildir("bob", 2)
    reply_link = mail_with_link(srv, "bob", len(mails))
    back = tmp_path / "bob"
    back.mkdir()
    got = browser("receive", url=reply_link, password=sent["password"], out=str(back))
    assert got["sender"] == "alice@example.test" and got["message"] == "signed, see attached"
    assert [f["name"] for f in got["files"]] == ["signed.pdf"]
    assert sha(got["files"][0]["path"]) == sha(reply_data)

    # the sender's view: the evidence, then revoking
    seen = browser("transfers", base=srv.base, user="bob@example.test", password=USER_PASSWORD,
                   id=sent["id"], revoke=True)
    assert sent["id"] in seen["ids"]
    assert seen["events"][0] == "sent" and "wrong-password" in seen["events"]
    assert "unlock" in seen["events"] and "reply" in seen["events"]
    assert seen["events"].count("download") == 2
    assert seen["state"] == "revoked"
    assert revoked_in_store(srv, sent["id"])


def test_end_to_end(make_server, browser, tmp_path):
    srv = portal(make_server)
    f1, d1 = make_file(tmp_path, "design (v2).bin", 200003)
    f2, d2 = make_file(tmp_path, "empty.txt", 0)
    sent = browser("send", base=srv.base, user="bob@example.test", password=USER_PASSWORD,
                   recipients=["alice@example.test", "carol@example.test"],
                   message="end to end: only you can read this", files=[str(f1), str(f2)],
                   mode="e2e")
    assert sent["password"] is None and len(sent["links"]) == 2
    links = {x["address"]: x["link"] for x in sent["links"]}
    assert sorted(links) == ["alice@example.test", "carol@example.test"]
    keys = {re.search(r"#(?:.*&)?k=([A-Za-z0-9_-]{43})$", x).group(1) for x in links.values()}
    assert len(keys) == 1
    (key,) = keys
    # the server has only ciphertext: no plaintext, name or message, no key
    data = stored_bytes(srv)
    assert MARKER not in data and b"design (v2)" not in data and b"only you can" not in data
    assert key.encode() not in data
    # the notification carries no key; alice pastes the one the sender gave her
    link = mail_with_link(srv, "alice", 1)
    mail = srv.wait_for_maildir("alice", 1)[0]
    assert key.encode() not in mail and "#" not in link
    out = tmp_path / "alice"
    out.mkdir()
    got = browser("receive", url=link, key=key, out=str(out), wrong_password="a password")
    assert "enter the key" in got["wrong"], got["wrong"]
    assert got["message"] == "end to end: only you can read this"
    by_name = {f["name"]: f["path"] for f in got["files"]}
    assert sha(by_name["design (v2).bin"]) == sha(d1) and sha(by_name["empty.txt"]) == sha(d2)
    # carol opens the link the sender's page made, key in its fragment
    out = tmp_path / "carol"
    out.mkdir()
    got = browser("receive", url=links["carol@example.test"], out=str(out))
    assert sorted(f["name"] for f in got["files"]) == ["design (v2).bin", "empty.txt"]
    by_name = {f["name"]: f["path"] for f in got["files"]}
    assert sha(by_name["design (v2).bin"]) == sha(d1)


def test_virus_refused_in_the_ui(make_server, browser, tmp_path):
    """A file with a virus (EICAR, a real clamd) is refused on the page,
    named with the signature; the sender sends the other file, which
    arrives."""
    from clamd_peer import EICAR, EICAR_NAME, ClamdPeer
    with ClamdPeer() as clamd:
        srv = portal(make_server, clamd_socket=clamd.socket)
        bad = tmp_path / "invoice.txt"
        bad.write_bytes(EICAR)
        good, data = make_file(tmp_path, "good.bin", 5000)
        sent = browser("send", base=srv.base, user="bob@example.test", password=USER_PASSWORD,
                       recipients=["alice@example.test"], files=[str(good), str(bad)],
                       mode="generated", send_the_rest=True)
        assert '"invoice.txt" was refused' in sent["refused"] and EICAR_NAME in sent["refused"]
        assert sent["id"] and sent["password"]
        link = mail_with_link(srv, "alice", 1)
        (tmp_path / "a").mkdir()
        got = browser("receive", url=link, password=sent["password"], out=str(tmp_path / "a"))
        assert [f["name"] for f in got["files"]] == ["good.bin"]
        assert sha(got["files"][0]["path"]) == sha(data)
