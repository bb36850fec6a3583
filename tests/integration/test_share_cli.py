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


# --- the recipient's side on the portal (httpd) ---

import http.client  # noqa: E402
import ssl  # noqa: E402
import urllib.parse  # noqa: E402

from peers import free_port  # noqa: E402


def portal(make_server):
    port = free_port()
    srv = make_server(https_listen="127.0.0.1:%d" % port,
                      share_url="https://127.0.0.1:%d" % port)
    srv.https_port = port
    return srv


def request(srv, method, path, form=None):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c = http.client.HTTPSConnection("127.0.0.1", srv.https_port, context=ctx, timeout=30)
    body = urllib.parse.urlencode(form).encode() if form is not None else None
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if form is not None else {}
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data


def test_recipient_unlocks_and_downloads(make_server, tmp_path):
    srv = portal(make_server)
    f, data = make_file(tmp_path, "report 2026 (final).pdf", 1500000)
    out = json.loads(srv.cli("share", "send", "--from", "bob@example.test", "--to",
                             "alice@example.test", "--file", str(f), "--message",
                             "numbers inside", "--json").out)
    token, _ = link_of(srv.wait_for_maildir("alice", 1)[0])
    r, page = request(srv, "GET", "/t/" + token)
    assert r.status == 200 and b"Files shared with you" in page
    assert b'<script type="module" src="/download.js">' in page
    r, js = request(srv, "GET", "/download.js")
    assert r.status == 200 and b"unlockTransfer" in js
    r, js = request(srv, "GET", "/api.js")
    assert r.status == 200 and b"/unlock" in js
    r, _ = request(srv, "GET", "/share.css")
    assert r.status == 200 and r.getheader("Content-Type") == "text/css; charset=utf-8"
    # no download without unlocking
    r, _ = request(srv, "GET", "/api/r/%s/files/%s?grant=x" % (token, "A" * 22))
    assert r.status == 403
    # a wrong password counts
    r, body = request(srv, "POST", "/api/r/%s/unlock" % token, {"password": "wrong"})
    assert r.status == 403 and json.loads(body) == {"error": "wrong password",
                                                    "attempts_left": 4}
    r, body = request(srv, "POST", "/api/r/%s/unlock" % token, {"password": out["password"]})
    assert r.status == 200, body
    doc = json.loads(body)
    assert doc["sender"] == "bob@example.test" and doc["message"] == "numbers inside"
    (fi,) = doc["files"]
    assert fi["meta"]["name"] == "report 2026 (final).pdf" and fi["meta"]["size"] == len(data)
    import hashlib
    assert fi["meta"]["sha256"] == hashlib.sha256(data).hexdigest()
    r, got = request(srv, "GET", "/api/r/%s/files/%s?grant=%s" % (token, fi["id"],
                                                                  doc["grant"]))
    assert r.status == 200 and got == data
    assert r.getheader("Content-Disposition") == \
        "attachment; filename*=UTF-8''report%202026%20%28final%29.pdf"
    events = [e["event"] for e in json.loads(srv.cli("share", "log", out["id"], "--json").out)]
    assert events == ["sent", "wrong-password", "unlock", "download"], events
    shown = json.loads(srv.cli("share", "show", out["id"], "--json").out)
    assert shown["recipients"][0]["first_download"] > 0
    # the sender is told of the first download
    (notice,) = srv.wait_for_maildir("bob", 1)
    assert b"Subject: alice@example.test has downloaded your files" in notice
    assert out["id"].encode() in notice
    # revoked: nothing more
    srv.cli("share", "revoke", out["id"])
    r, _ = request(srv, "GET", "/api/r/%s/files/%s?grant=%s" % (token, fi["id"], doc["grant"]))
    assert r.status == 410


def test_recipient_locked_after_wrong_passwords(make_server, tmp_path):
    srv = portal(make_server)
    f, _ = make_file(tmp_path, "x.bin", 100)
    out = json.loads(srv.cli("share", "send", "--from", "bob@example.test", "--to",
                             "alice@example.test", "--file", str(f), "--json").out)
    token, _ = link_of(srv.wait_for_maildir("alice", 1)[0])
    for left in (4, 3, 2, 1):
        r, body = request(srv, "POST", "/api/r/%s/unlock" % token, {"password": "nope"})
        assert json.loads(body)["attempts_left"] == left
    r, body = request(srv, "POST", "/api/r/%s/unlock" % token, {"password": "nope"})
    assert r.status == 403 and b"locked" in body
    # even the right password fails now
    r, body = request(srv, "POST", "/api/r/%s/unlock" % token, {"password": out["password"]})
    assert r.status == 403 and b"locked" in body
    shown = json.loads(srv.cli("share", "show", out["id"], "--json").out)
    assert shown["recipients"][0]["locked"] is True
    events = [e["event"] for e in json.loads(srv.cli("share", "log", out["id"], "--json").out)]
    assert events.count("wrong-password") == 5 and "locked" in events
    assert events[-1] == "locked-attempt"
    assert srv.grep_log(r"share %s: <alice@example.test> is locked after 5 wrong passwords"
                        % out["id"])
    # the sender is told, and may unlock
    (notice,) = srv.wait_for_maildir("bob", 1)
    assert b"Subject: Your transfer is locked for alice@example.test" in notice
    srv.cli("share", "unlock", out["id"], "alice@example.test")
    r, body = request(srv, "POST", "/api/r/%s/unlock" % token, {"password": out["password"]})
    assert r.status == 200, body
    events = [e["event"] for e in json.loads(srv.cli("share", "log", out["id"], "--json").out)]
    assert events[-2:] == ["unlocked", "unlock"], events


def test_link_mode_on_the_portal(make_server, tmp_path):
    srv = portal(make_server)
    f, data = make_file(tmp_path, "l.bin", 70000)
    srv.cli("share", "send", "--from", "bob@example.test", "--to", "alice@example.test",
            "--file", str(f), "--password-mode", "link")
    token, key = link_of(srv.wait_for_maildir("alice", 1)[0])
    r, body = request(srv, "POST", "/api/r/%s/unlock" % token, {"key": "A" * 43})
    assert r.status == 403
    r, body = request(srv, "POST", "/api/r/%s/unlock" % token, {"key": key})
    assert r.status == 200, body
    doc = json.loads(body)
    r, got = request(srv, "GET", "/api/r/%s/files/%s?grant=%s" % (token, doc["files"][0]["id"],
                                                                  doc["grant"]))
    assert got == data


def test_expired_transfer_is_removed(make_server, tmp_path):
    """Expiry with a shortened clock: the transfer's expiry is moved into
    the past in its database; the portal removes its files and rows within
    share_expiry_interval, and the evidence log keeps the story."""
    import sqlite3
    import time
    port = free_port()
    srv = make_server(https_listen="127.0.0.1:%d" % port, share_expiry_interval="1s")
    srv.https_port = port
    f, _ = make_file(tmp_path, "old.bin", 1000)
    out = json.loads(srv.cli("share", "send", "--from", "bob@example.test", "--to",
                             "alice@example.test", "--file", str(f), "--json").out)
    tid = out["id"]
    assert os.path.isdir(os.path.join(srv.dir, "shares", tid))
    db = sqlite3.connect(os.path.join(srv.dir, "state", "shares.db"), timeout=10)
    with db:
        db.execute("UPDATE transfers SET expires = ? WHERE id = ?", (int(time.time()) - 1, tid))
    db.close()
    deadline = time.monotonic() + 20
    while os.path.exists(os.path.join(srv.dir, "shares", tid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not os.path.exists(os.path.join(srv.dir, "shares", tid))
    assert srv.cli("share", "show", tid, check=False).returncode == 1
    assert srv.wait_log(r"share %s: expired; its files are deleted" % tid)
    events = [e["event"] for e in json.loads(srv.cli("share", "log", tid, "--json").out)]
    assert events == ["sent", "expire"], events


def test_files_scanned_with_clamd(make_server, tmp_path):
    """Every file is scanned by a real clamd before it is stored: an
    infected one stops the transfer, naming it and the signature, and
    nothing is stored or mailed; clean ones are marked clean."""
    from clamd_peer import EICAR, EICAR_NAME, ClamdPeer
    with ClamdPeer() as clamd:
        srv = make_server(clamd_socket=clamd.socket)
        bad = tmp_path / "invoice.txt"
        bad.write_bytes(EICAR)
        good, _ = make_file(tmp_path, "good.bin", 5000)
        r = srv.cli("share", "send", "--from", "bob@example.test", "--to", "alice@example.test",
                    "--file", str(good), "--file", str(bad), check=False)
        assert r.returncode == 1 and "invoice.txt: virus found: %s" % EICAR_NAME in r.err, r.err
        assert json.loads(srv.cli("share", "list", "--json").out) == []
        assert os.listdir(os.path.join(srv.dir, "shares")) == []
        out = json.loads(srv.cli("share", "send", "--from", "bob@example.test", "--to",
                                 "alice@example.test", "--file", str(good), "--json").out)
        shown = json.loads(srv.cli("share", "show", out["id"], "--json").out)
        assert [f["scan"] for f in shown["files"]] == ["clean"]
        assert len(srv.wait_for_maildir("alice", 1)) == 1


def test_sender_logs_in_and_sees_the_evidence(make_server, tmp_path):
    srv = portal(make_server)
    f, _ = make_file(tmp_path, "x.bin", 100)
    out = json.loads(srv.cli("share", "send", "--from", "bob@example.test", "--to",
                             "alice@example.test", "--file", str(f), "--json").out)
    tid = out["id"]
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE

    def call(method, path, form=None, cookie=None):
        c = http.client.HTTPSConnection("127.0.0.1", srv.https_port, context=ctx, timeout=30)
        headers = {}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if cookie:
            headers["Cookie"] = cookie
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r, data

    r, _ = call("GET", "/api/transfers")
    assert r.status == 401
    r, body = call("POST", "/api/login", {"user": "bob@example.test", "password": "wrong"})
    assert r.status == 401 and json.loads(body) == {"error": "login failed"}
    r, body = call("POST", "/api/login", {"user": "bob@example.test", "password": "secret-pw"})
    assert r.status == 200 and json.loads(body) == {"user": "bob@example.test", "external": False}
    set_cookie = r.getheader("Set-Cookie")
    assert "HttpOnly" in set_cookie and "Secure" in set_cookie and "SameSite=Strict" in set_cookie
    cookie = set_cookie.split(";")[0]
    r, body = call("GET", "/api/transfers", cookie=cookie)
    assert r.status == 200 and [t["id"] for t in json.loads(body)] == [tid]
    r, body = call("GET", "/api/transfers/" + tid, cookie=cookie)
    doc = json.loads(body)
    assert doc["transfer"]["state"] == "active"
    assert doc["recipients"] == [{"address": "alice@example.test", "locked": False,
                                  "failures": 0, "first_download": 0}]
    r, body = call("GET", "/api/transfers/%s/log" % tid, cookie=cookie)
    assert [e["event"] for e in json.loads(body)] == ["sent"]
    # another user sees nothing of it
    r, body = call("POST", "/api/login", {"user": "carol@example.test", "password": "secret-pw"})
    other = r.getheader("Set-Cookie").split(";")[0]
    r, _ = call("GET", "/api/transfers/" + tid, cookie=other)
    assert r.status == 404
    r, body = call("GET", "/api/transfers", cookie=other)
    assert json.loads(body) == []
    # revoke
    r, _ = call("DELETE", "/api/transfers/" + tid, cookie=cookie)
    assert r.status == 204
    assert json.loads(srv.cli("share", "show", tid, "--json").out)["state"] == "revoked"
    r, _ = call("POST", "/api/logout", cookie=cookie)
    assert r.status == 204
    r, _ = call("GET", "/api/transfers", cookie=cookie)
    assert r.status == 401


def test_policy_settings(make_server, tmp_path):
    """share_max_failures, share_expires_default and share_expires_max."""
    srv = portal(make_server)  # the defaults: 5 failures, 14 days, at most 90
    f, _ = make_file(tmp_path, "p.bin", 10)
    r = srv.cli("share", "send", "--from", "bob@example.test", "--to", "alice@example.test",
                "--file", str(f), "--expires", "91", check=False)
    assert r.returncode == 2 and "at most 90 days" in r.err
    out = json.loads(srv.cli("share", "send", "--from", "bob@example.test", "--to",
                             "alice@example.test", "--file", str(f), "--json").out)
    assert 14 * 86400 - 60 < out["expires"] - int(__import__("time").time()) <= 14 * 86400
    port = free_port()
    srv2 = make_server(https_listen="127.0.0.1:%d" % port, share_max_failures="2",
                       share_expires_default="3")
    srv2.https_port = port
    out = json.loads(srv2.cli("share", "send", "--from", "bob@example.test", "--to",
                              "alice@example.test", "--file", str(f), "--json").out)
    assert 3 * 86400 - 60 < out["expires"] - int(__import__("time").time()) <= 3 * 86400
    token, _ = link_of(srv2.wait_for_maildir("alice", 1)[0])
    r, body = request(srv2, "POST", "/api/r/%s/unlock" % token, {"password": "nope"})
    assert json.loads(body)["attempts_left"] == 1
    r, body = request(srv2, "POST", "/api/r/%s/unlock" % token, {"password": "nope"})
    assert r.status == 403 and b"locked" in body
