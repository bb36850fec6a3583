"""`postino share` from the command line: a transfer is sent (files
encrypted at rest, the recipients notified by mail through the queue),
the stored data holds no plaintext of the files, their names or the
message; the notification leaks nothing of the content; a link-mode key
from the mail decrypts the stored file byte for byte; list, show, revoke
and log tell the sender what happened."""

import json
import os
import re
import subprocess

from test_share_crypt_js import share_crypt_tool

MARKER = b"PLAINTEXT-MARKER-8f3a1c"


def make_file(tmp_path, name, size):
    data = (MARKER + os.urandom(997)) * (size // (len(MARKER) + 997) + 1)
    p = tmp_path / name
    p.write_bytes(data[:size])
    return p, data[:size]


def stored_bytes(srv):
    """Every octet under shares/ and of shares.db."""
    out = b""
    for root, _, files in os.walk(os.path.join(srv.dir, "shares")):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                out += fh.read()
    for f in os.listdir(os.path.join(srv.dir, "state")):
        if f.startswith("shares.db"):
            with open(os.path.join(srv.dir, "state", f), "rb") as fh:
                out += fh.read()
    return out


def link_of(mail):
    m = re.search(rb"https://[^/\s]+/t/([A-Za-z0-9_-]{22})(#k=([A-Za-z0-9_-]{43}))?", mail)
    assert m, mail
    return m.group(1).decode(), m.group(3).decode() if m.group(3) else None


def test_send_generated_password(make_server, tmp_path):
    srv = make_server(share_url="https://share.example.test:8443")
    f1, _ = make_file(tmp_path, "quarterly-results-secret.pdf", 300000)
    f2, _ = make_file(tmp_path, "empty.txt", 0)
    r = srv.cli("share", "send", "--from", "bob@example.test", "--to", "alice@example.test",
                "--to", "carol@example.test", "--file", str(f1), "--file", str(f2),
                "--message", "the merger numbers", "--json")
    out = json.loads(r.out)
    assert out["mode"] == "generated" and out["files"] == 2 and out["recipients"] == 2
    assert re.fullmatch(r"([a-zA-Z2-9]{5}-){4}[a-zA-Z2-9]{5}", out["password"]), out
    tid = out["id"]
    # at rest: no plaintext, no name, no message
    data = stored_bytes(srv)
    assert MARKER not in data
    assert b"quarterly-results-secret" not in data and b"merger numbers" not in data
    files = os.listdir(os.path.join(srv.dir, "shares", tid))
    assert len(files) == 2
    # each recipient gets a link of its own, and nothing of the content
    a = srv.wait_for_maildir("alice", 1)[0]
    c = srv.wait_for_maildir("carol", 1)[0]
    assert b"Subject: Files shared with you by bob@example.test" in a
    assert b"https://share.example.test:8443/t/" in a
    assert b"quarterly" not in a and b"merger" not in a and out["password"].encode() not in a
    ta, ka = link_of(a)
    tc, _ = link_of(c)
    assert ta != tc and ka is None
    # the sender's view
    shown = json.loads(srv.cli("share", "show", tid, "--json").out)
    assert shown["state"] == "active" and shown["mode"] == "generated"
    assert [x["address"] for x in shown["recipients"]] == ["alice@example.test",
                                                          "carol@example.test"]
    assert sorted(f["size"] for f in shown["files"]) == [0, 300000]
    assert all(f["complete"] for f in shown["files"])
    listed = json.loads(srv.cli("share", "list", "--json").out)
    assert [t["id"] for t in listed] == [tid]
    text = srv.cli("share", "list").out
    assert tid in text and "active" in text and "bob@example.test" in text
    log = json.loads(srv.cli("share", "log", tid, "--json").out)
    assert [e["event"] for e in log] == ["sent"]
    # revoke, once
    r = srv.cli("share", "revoke", tid)
    assert "revoked" in r.out
    assert srv.cli("share", "revoke", tid, check=False).returncode == 1
    assert json.loads(srv.cli("share", "show", tid, "--json").out)["state"] == "revoked"
    assert [e["event"] for e in json.loads(srv.cli("share", "log", tid, "--json").out)] == \
        ["sent", "revoke"]


def test_send_link_mode_decrypts(make_server, tmp_path):
    srv = make_server()
    f, data = make_file(tmp_path, "plan.bin", 200003)
    r = srv.cli("share", "send", "--from", "bob@example.test", "--to", "alice@example.test",
                "--file", str(f), "--password-mode", "link", "--expires", "3", "--json")
    tid = json.loads(r.out)["id"]
    mail = srv.wait_for_maildir("alice", 1)[0]
    token, key = link_of(mail)
    assert key, mail
    tool = share_crypt_tool()
    hexkey = subprocess.run([tool, "unlink", key], capture_output=True, check=True,
                            text=True).stdout.strip()
    (stored,) = os.listdir(os.path.join(srv.dir, "shares", tid))
    with open(os.path.join(srv.dir, "shares", tid, stored), "rb") as fh:
        cipher = fh.read()
    assert MARKER not in cipher
    plain = subprocess.run([tool, "decrypt", hexkey], input=cipher, capture_output=True,
                           check=True).stdout
    assert plain == data
    # the wrong key does not open it
    bad = subprocess.run([tool, "decrypt", "00" * 32], input=cipher, capture_output=True)
    assert bad.returncode == 1 and bad.stdout == b""


def test_manual_password_and_refusals(make_server, tmp_path):
    srv = make_server()
    f, _ = make_file(tmp_path, "a.txt", 10)
    r = srv.cli("share", "send", "--from", "bob@example.test", "--to", "alice@example.test",
                "--file", str(f), "--password-mode", "manual", "--password-stdin",
                input=b"correct horse battery\n")
    assert "password:" not in r.out and "transfer " in r.out
    # too short a password, a sender who is no user, a missing file: nothing is sent
    r = srv.cli("share", "send", "--from", "bob@example.test", "--to", "alice@example.test",
                "--file", str(f), "--password-mode", "manual", "--password-stdin",
                input=b"short\n", check=False)
    assert r.returncode == 2 and "at least 10" in r.err
    r = srv.cli("share", "send", "--from", "mallory@example.test", "--to", "alice@example.test",
                "--file", str(f), check=False)
    assert r.returncode == 1 and "not a user" in r.err
    r = srv.cli("share", "send", "--from", "bob@example.test", "--to", "alice@example.test",
                "--file", str(tmp_path / "missing"), check=False)
    assert r.returncode == 1 and "not a readable file" in r.err
    assert len(json.loads(srv.cli("share", "list", "--json").out)) == 1
    r = srv.cli("share", "send", "--from", "bob@example.test", "--to", "alice@example.test",
                "--file", str(f), "--password-mode", "e2e", check=False)
    assert r.returncode == 2
    assert srv.cli("share", "show", "nosuchid", check=False).returncode == 1
