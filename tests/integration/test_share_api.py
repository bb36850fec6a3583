"""The share portal's API for senders (docs/share-api.md) with Python's
HTTP client: a transfer created, its files uploaded in pieces — one piece
cut off by a dropped connection and resumed from Upload-Offset — then
sent; the recipient's notification, unlock and download; every password
mode and end-to-end mode (encrypted here with share-crypt-tool, the
server sees only ciphertext); the refusals (policy, sizes, quota, order);
a virus found by a real clamd; a secure reply opened with the original
password; the stored data holds no plaintext in any mode."""

import base64
import hashlib
import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import time
import urllib.parse

from clamd_peer import EICAR, clamd  # noqa: F401 (fixture)
from peers import free_port, wait_until
from test_share_cli import MARKER, link_of, stored_bytes
from test_share_crypt_js import share_crypt_tool


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def payload(size, seed=b""):
    block = MARKER + seed + os.urandom(1000)
    return (block * (size // len(block) + 1))[:size]


def tls():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Client:
    """One HTTPS client with a cookie jar of one cookie."""

    def __init__(self, srv):
        self.srv = srv
        self.cookie = None

    def call(self, method, path, body=None, headers=None, form=None):
        c = http.client.HTTPSConnection("127.0.0.1", self.srv.https_port, context=tls(),
                                        timeout=60)
        h = dict(headers or {})
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            h["Content-Type"] = "application/x-www-form-urlencoded"
        elif isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if self.cookie:
            h["Cookie"] = self.cookie
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        sc = r.getheader("Set-Cookie")
        if sc:
            self.cookie = sc.split(";")[0]
        return r, data

    def json(self, method, path, body=None, **kw):
        r, data = self.call(method, path, body, **kw)
        return r.status, (json.loads(data) if data else None), r

    def login(self, user="bob@example.test", password="secret-pw"):
        st, doc, _ = self.json("POST", "/api/login", form={"user": user, "password": password})
        assert st == 200 and doc["user"] == user, doc

    def put(self, url, data, start=None, total=None):
        h = {"Content-Type": "application/octet-stream"}
        if start is not None:
            h["Content-Range"] = "bytes %d-%d/%d" % (start, start + len(data) - 1, total)
        return self.json("PUT", url, data, headers=h)

    def offset(self, url):
        r, _ = self.call("HEAD", url)
        assert r.status == 200
        return int(r.getheader("Upload-Offset")), int(r.getheader("Upload-Length"))


def portal(make_server, **kw):
    port = free_port()
    srv = make_server(https_listen="127.0.0.1:%d" % port,
                      share_url="https://127.0.0.1:%d" % port, **kw)
    srv.https_port = port
    return srv


def dropped_put(srv, url, data, start, total):
    """A PUT that announces the rest of the file but sends only data, then
    the connection drops."""
    raw = socket.create_connection(("127.0.0.1", srv.https_port), timeout=30)
    s = tls().wrap_socket(raw)
    head = ("PUT %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
            "Content-Range: bytes %d-%d/%d\r\n\r\n" % (url, total - start, start, total - 1, total))
    s.sendall(head.encode() + data)
    time.sleep(0.3)
    s.close()


def unlock(cl, token, **form):
    st, doc, _ = cl.json("POST", "/api/r/%s/unlock" % token, form=form)
    return st, doc


def download(cl, token, fid, grant):
    r, data = cl.call("GET", "/api/r/%s/files/%s?grant=%s" % (token, fid, grant))
    assert r.status == 200, data
    return data


def test_upload_resume_send_download(make_server):
    srv = portal(make_server)
    cl = Client(srv)
    st, doc, _ = cl.json("POST", "/api/transfers", {"recipients": ["alice@example.test"],
                                                    "files": [{"name": "x", "size": 1}]})
    assert st == 401, doc
    cl.login()
    st, doc, _ = cl.json("GET", "/api/session")
    assert st == 200 and doc["user"] == "bob@example.test"
    big = payload(300000)
    st, t, _ = cl.json("POST", "/api/transfers", {
        "recipients": ["alice@example.test"], "message": "the board minutes",
        "mode": "generated", "expires_days": 3,
        "files": [{"name": "board-minutes-secret.pdf", "type": "application/pdf",
                   "size": len(big)},
                  {"name": "empty.txt", "size": 0}]})
    assert st == 201, t
    assert re.fullmatch(r"([a-zA-Z2-9]{5}-){4}[a-zA-Z2-9]{5}", t["password"]), t
    assert "token" not in t["recipients"][0]
    f1, f2 = t["files"]
    assert f1["url"] == "/api/uploads/%s/%s" % (t["upload"], f1["id"])
    # sending before the files are complete is refused
    st, doc, _ = cl.json("POST", "/api/uploads/%s/send" % t["upload"])
    assert st == 409 and doc["file"] == f1["id"], doc
    # the first piece; a piece at the wrong place is refused with where it stands
    st, doc, _ = cl.put(f1["url"], big[:100000], 0, len(big))
    assert st == 200 and doc == {"stored": 100000, "size": len(big), "complete": False}, doc
    st, doc, _ = cl.put(f1["url"], big[200000:], 200000, len(big))
    assert st == 409 and doc["stored"] == 100000, doc
    # a piece cut off by a dropped connection: what arrived is kept
    dropped_put(srv, f1["url"], big[100000:170000], 100000, len(big))
    wait_until("the dropped piece", lambda: cl.offset(f1["url"])[0] >= 150000, 10)
    off, total = cl.offset(f1["url"])
    assert 150000 <= off <= 170000 and total == len(big)
    st, doc, _ = cl.put(f1["url"], big[off:], off, len(big))
    assert st == 200 and doc["complete"], doc
    st, doc, _ = cl.put(f2["url"], b"")
    assert st == 200 and doc["complete"], doc
    # the sender's view while unsent
    st, view, _ = cl.json("GET", "/api/transfers/" + t["id"])
    assert view["transfer"]["state"] == "unsent" and all(f["complete"] for f in view["files"])
    st, doc, _ = cl.json("POST", "/api/uploads/%s/send" % t["upload"])
    assert st == 200 and doc["state"] == "active", doc
    assert [f["scan"] for f in doc["files"]] == ["none", "none"]
    # the upload is gone once sent
    st, doc, _ = cl.json("POST", "/api/uploads/%s/send" % t["upload"])
    assert st == 404
    # at rest: no plaintext, no name, no message
    data = stored_bytes(srv)
    assert MARKER not in data and b"board-minutes" not in data and b"board minutes" not in data
    # the recipient
    mail = srv.wait_for_maildir("alice", 1)[0]
    assert b"Subject: Files shared with you by bob@example.test" in mail
    assert b"board" not in mail and t["password"].encode() not in mail
    token, key = link_of(mail)
    assert key is None
    rc = Client(srv)
    st, doc = unlock(rc, token, password="wrong-password")
    assert st == 403 and doc["attempts_left"] == 4
    st, doc = unlock(rc, token, password=t["password"])
    assert st == 200 and doc["message"] == "the board minutes" and doc["can_reply"], doc
    metas = {f["id"]: f["meta"] for f in doc["files"]}
    assert metas[f1["id"]] == {"name": "board-minutes-secret.pdf", "type": "application/pdf",
                               "size": len(big), "sha256": hashlib.sha256(big).hexdigest()}
    assert metas[f2["id"]]["size"] == 0
    assert download(rc, token, f1["id"], doc["grant"]) == big
    assert download(rc, token, f2["id"], doc["grant"]) == b""
    st, log, _ = cl.json("GET", "/api/transfers/%s/log" % t["id"])
    events = [e["event"] for e in log]
    assert events[0] == "sent" and "wrong-password" in events and "download" in events
    # the storage, in the administrator's report
    shares = json.loads(srv.cli("report", "usage", "--json").out)["shares"]
    on_disk = sum(os.path.getsize(os.path.join(srv.dir, "shares", t["id"], f))
                  for f in os.listdir(os.path.join(srv.dir, "shares", t["id"])))
    assert shares["transfers"] == 1 and shares["stored_bytes"] == on_disk > len(big)
    assert shares["reserved_bytes"] == on_disk and shares["quota_bytes"] == 50 * 1024 ** 3
    assert "share portal transfers=1 " in srv.cli("report", "usage").out


def test_modes_and_refusals(make_server, tmp_path):
    srv = portal(make_server, share_max_size="1M", share_quota="3200K", share_max_failures="2")
    cl = Client(srv)
    cl.login()
    one = [{"name": "a.bin", "size": 10}]

    def refused(body, status, words):
        st, doc, _ = cl.json("POST", "/api/transfers", body)
        assert st == status and words in doc["error"], (st, doc)

    refused({"recipients": [], "files": one}, 400, "recipients")
    refused({"recipients": ["not an address"], "files": one}, 400, "not a valid address")
    refused({"recipients": ["alice@example.test"], "files": []}, 400, "files")
    refused({"recipients": ["alice@example.test"], "files": one, "mode": "psychic"}, 400,
            "mode")
    refused({"recipients": ["alice@example.test"], "files": one, "mode": "manual",
             "password": "short"}, 400, "at least 10")
    refused({"recipients": ["alice@example.test"], "files": one, "expires_days": 400}, 400,
            "at most 90 days")
    refused({"recipients": ["alice@example.test"], "files": [{"name": "a/b", "size": 1}]}, 400,
            "without '/'")
    refused({"recipients": ["alice@example.test"],
             "files": [{"name": "big", "size": 2 * 1024 * 1024}]}, 413, "at most")
    r, data = cl.call("POST", "/api/transfers", b"{not json", {"Content-Type": "application/json"})
    assert r.status == 400
    # the quota: three transfers of 1 MiB fit, the fourth does not
    for _ in range(3):
        st, doc, _ = cl.json("POST", "/api/transfers", {
            "recipients": ["carol@example.test"], "files": [{"name": "f", "size": 1024 * 1024}]})
        assert st == 201, doc
    refused({"recipients": ["carol@example.test"], "files": [{"name": "f", "size": 200000}]},
            413, "share_quota")
    # a body larger than the file is refused
    srv2 = portal(make_server, share_max_failures="2")
    cl = Client(srv2)
    cl.login()
    st, t, _ = cl.json("POST", "/api/transfers", {
        "recipients": ["alice@example.test"], "mode": "manual",
        "password": "correct horse battery", "files": [{"name": "n.txt", "size": 5}]})
    assert st == 201 and "password" not in t
    st, doc, _ = cl.put(t["files"][0]["url"], b"123456")
    assert st == 413
    st, doc, _ = cl.put(t["files"][0]["url"], b"hello")
    assert st == 200 and doc["complete"]
    st, doc, _ = cl.put(t["files"][0]["url"], b"again")
    assert st == 409
    assert cl.json("POST", "/api/uploads/%s/send" % t["upload"])[0] == 200
    token, key = link_of(srv2.wait_for_maildir("alice", 1)[0])
    rc = Client(srv2)
    assert unlock(rc, token, password="wrong one!")[0] == 403
    st, doc = unlock(rc, token, password="wrong two!")
    assert st == 403 and "locked" in doc["error"]
    assert unlock(rc, token, password="correct horse battery")[0] == 403
    # the sender unlocks the recipient through the API
    st, _, _ = cl.json("POST", "/api/transfers/%s/unlock" % t["id"],
                       {"recipient": "carol@example.test"})
    assert st == 404
    st, _, _ = cl.json("POST", "/api/transfers/%s/unlock" % t["id"],
                       {"recipient": "alice@example.test"})
    assert st == 204
    st, doc = unlock(rc, token, password="correct horse battery")
    assert st == 200, doc
    assert download(rc, token, t["files"][0]["id"], doc["grant"]) == b"hello"
    # link mode: the key travels in the link
    st, t, _ = cl.json("POST", "/api/transfers", {
        "recipients": ["carol@example.test"], "mode": "link",
        "files": [{"name": "l.txt", "size": 4}]})
    assert st == 201 and "password" not in t
    cl.put(t["files"][0]["url"], b"link")
    assert cl.json("POST", "/api/uploads/%s/send" % t["upload"])[0] == 200
    token, key = link_of(srv2.wait_for_maildir("carol", 1)[0])
    assert key
    assert unlock(rc, token, key="A" * 43)[0] == 403
    st, doc = unlock(rc, token, key=key)
    assert st == 200 and doc["mode"] == "link"
    assert download(rc, token, t["files"][0]["id"], doc["grant"]) == b"link"
    # manual and link modes: nothing readable at rest either
    st, t, _ = cl.json("POST", "/api/transfers", {
        "recipients": ["carol@example.test"], "mode": "link", "message": "link message text",
        "files": [{"name": "link-secret-name.bin", "size": 3000}]})
    assert cl.put(t["files"][0]["url"], payload(3000))[0] == 200
    assert cl.json("POST", "/api/uploads/%s/send" % t["upload"])[0] == 200
    data = stored_bytes(srv2)
    for words in (MARKER, b"hello", b"link message", b"link-secret-name", b"n.txt"):
        assert words not in data, words
    # someone else's transfer is not yours
    other = Client(srv2)
    other.login("carol@example.test")
    assert other.json("GET", "/api/transfers/" + t["id"])[0] == 404


def tool(*args, data=b""):
    r = subprocess.run([share_crypt_tool()] + list(args), input=data, capture_output=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_end_to_end(make_server):
    srv = portal(make_server)
    cl = Client(srv)
    cl.login()
    key = os.urandom(32)
    plain = payload(200000, b"e2e")
    cipher = tool("encrypt", "-m", "3", key.hex(), data=plain)
    meta = tool("encrypt", "-m", "3", key.hex(), data=json.dumps(
        {"name": "e2e-secret.doc", "type": "application/msword", "size": len(plain),
         "sha256": hashlib.sha256(plain).hexdigest()}).encode())
    msg = tool("encrypt", "-m", "3", key.hex(), data=b"end to end message")
    st, t, _ = cl.json("POST", "/api/transfers", {
        "recipients": ["alice@example.test"], "mode": "e2e", "message": b64u(msg),
        "files": [{"size": len(cipher), "meta": b64u(meta)}]})
    assert st == 201, t
    assert "password" not in t and len(t["recipients"][0]["token"]) == 22
    url = t["files"][0]["url"]
    # not our format: refused at the end, to be uploaded again
    junk = os.urandom(len(cipher))
    st, doc, _ = cl.put(url, junk)
    assert st == 422, doc
    assert cl.offset(url)[0] == 0
    st, doc, _ = cl.put(url, cipher[:50000], 0, len(cipher))
    assert st == 200
    st, doc, _ = cl.put(url, cipher[50000:], 50000, len(cipher))
    assert st == 200 and doc["complete"]
    st, doc, _ = cl.json("POST", "/api/uploads/%s/send" % t["upload"])
    assert st == 200 and doc["files"][0]["scan"] == "none", doc
    assert stored_bytes(srv).count(cipher[:4096]) == 1 and MARKER not in stored_bytes(srv)
    mail = srv.wait_for_maildir("alice", 1)[0]
    token, linkkey = link_of(mail)
    assert token == t["recipients"][0]["token"] and linkkey is None
    assert b"end to end" in mail  # the notice says how it is protected
    rc = Client(srv)
    st, doc = unlock(rc, token)
    assert st == 200 and doc["mode"] == "e2e" and not doc["can_reply"], doc
    assert tool("decrypt", key.hex(), data=unb64u(doc["message"])) == b"end to end message"
    f = doc["files"][0]
    assert json.loads(tool("decrypt", key.hex(), data=unb64u(f["meta"])))["name"] == \
        "e2e-secret.doc"
    got = download(rc, token, f["id"], doc["grant"])
    assert got == cipher
    assert tool("decrypt", key.hex(), data=got) == plain


def test_virus_refused(clamd, make_server):  # noqa: F811 (fixture)
    srv = portal(make_server, clamd_socket=clamd.socket)
    cl = Client(srv)
    cl.login()
    clean = payload(5000)
    st, t, _ = cl.json("POST", "/api/transfers", {
        "recipients": ["alice@example.test"],
        "files": [{"name": "invoice.com", "size": len(EICAR)},
                  {"name": "clean.txt", "size": len(clean)}]})
    assert st == 201
    bad, good = t["files"]
    assert cl.put(bad["url"], EICAR)[0] == 200
    assert cl.put(good["url"], clean)[0] == 200
    st, doc, _ = cl.json("POST", "/api/uploads/%s/send" % t["upload"])
    assert st == 422 and doc["file"] == bad["id"] and doc["name"] == "invoice.com", doc
    assert "Eicar" in doc["virus"] or "EICAR" in doc["virus"].upper(), doc
    assert not os.path.exists(os.path.join(srv.dir, "shares", t["id"], bad["id"]))
    notice = srv.wait_for_maildir("bob", 1)[0]
    assert b"virus found" in notice and b"invoice.com" in notice
    # the clean file goes on its own; the recipient is told once
    st, doc, _ = cl.json("POST", "/api/uploads/%s/send" % t["upload"])
    assert st == 200 and [f["id"] for f in doc["files"]] == [good["id"]], doc
    assert doc["files"][0]["scan"] == "clean"
    mails = srv.wait_for_maildir("alice", 1)
    time.sleep(1)
    assert len(srv.wait_for_maildir("alice", 1)) == 1 and b"1 file with you" in mails[0]
    st, view, _ = cl.json("GET", "/api/transfers/" + t["id"])
    assert [f["id"] for f in view["files"]] == [good["id"]]


def test_secure_reply(make_server):
    srv = portal(make_server)
    cl = Client(srv)
    cl.login()
    st, t, _ = cl.json("POST", "/api/transfers", {
        "recipients": ["alice@example.test"], "mode": "manual",
        "password": "our shared secret", "files": [{"name": "q.txt", "size": 8}]})
    cl.put(t["files"][0]["url"], b"question")
    assert cl.json("POST", "/api/uploads/%s/send" % t["upload"])[0] == 200
    token, _ = link_of(srv.wait_for_maildir("alice", 1)[0])
    alice = Client(srv)
    st, doc = unlock(alice, token, password="our shared secret")
    assert st == 200 and doc["can_reply"]
    answer = payload(70000, b"reply")
    st, r, _ = alice.json("POST", "/api/r/%s/reply?grant=%s" % (token, doc["grant"]), {
        "message": "signed and returned",
        "files": [{"name": "answer-secret.pdf", "size": len(answer)}]})
    assert st == 201, r
    assert "password" not in r
    st, _, _ = alice.json("POST", "/api/r/%s/reply?grant=nope" % token, {"message": "x"})
    assert st == 403
    assert alice.put(r["files"][0]["url"], answer)[0] == 200
    st, doc2, _ = alice.json("POST", "/api/uploads/%s/send" % r["upload"])
    assert st == 200, doc2
    assert MARKER not in stored_bytes(srv) and b"answer-secret" not in stored_bytes(srv)
    mail = srv.wait_for_maildir("bob", 1)[0]
    assert b"Subject: A secure reply from alice@example.test" in mail
    assert t["id"].encode() in mail
    rtoken, rkey = link_of(mail)
    assert rkey is None
    bob = Client(srv)
    st, rd = unlock(bob, rtoken, password="wrong secret!")
    assert st == 403
    st, rd = unlock(bob, rtoken, password="our shared secret")
    assert st == 200 and rd["message"] == "signed and returned" and not rd["can_reply"], rd
    assert rd["reply_to"] == t["id"]
    assert download(bob, rtoken, rd["files"][0]["id"], rd["grant"]) == answer
    st, log, _ = cl.json("GET", "/api/transfers/%s/log" % t["id"])
    assert any(e["event"] == "reply" and e["recipient"] == "alice@example.test" for e in log)


def test_domain_policy(make_server):
    srv = portal(make_server, share_domain_policy=(
        "example.test senders=bob@example.test|carol@example.test max_size=1K expires_max=5 "
        "modes=generated|e2e"))
    alice = Client(srv)
    alice.login("alice@example.test")
    body = {"recipients": ["bob@example.test"], "files": [{"name": "f", "size": 500}]}
    st, doc, _ = alice.json("POST", "/api/transfers", body)
    assert st == 403 and "policy" in doc["error"], doc
    bob = Client(srv)
    bob.login()
    st, doc, _ = bob.json("POST", "/api/transfers", dict(body, mode="manual",
                                                         password="long enough password"))
    assert st == 400 and "manual" in doc["error"], doc
    st, doc, _ = bob.json("POST", "/api/transfers",
                          dict(body, files=[{"name": "f", "size": 2000}]))
    assert st == 413 and "1024" in doc["error"], doc
    st, doc, _ = bob.json("POST", "/api/transfers", dict(body, expires_days=6))
    assert st == 400 and "5 days" in doc["error"], doc
    st, doc, _ = bob.json("POST", "/api/transfers", body)
    assert st == 201, doc
    # the default expiry (14 days) is cut to the domain's maximum
    assert 5 * 86400 - 60 < doc["expires"] - int(time.time()) <= 5 * 86400
    # the command line follows the same policy
    r = srv.cli("share", "send", "--from", "alice@example.test", "--to", "bob@example.test",
                "--file", "/etc/hostname", check=False)
    assert r.returncode != 0 and "policy" in r.err
    # a bad policy stops check-config with the entry named
    srv.cli("check-config")
    with open(srv.conf) as fh:
        conf = fh.read()
    with open(srv.conf, "w") as fh:
        fh.write(re.sub(r"(?m)^share_domain_policy *=.*$",
                        "share_domain_policy = example.test colour=blue", conf))
    r = srv.cli("check-config", check=False)
    assert r.returncode != 0 and "colour=blue" in r.err


def spooled_text(srv, words):
    """The queued message holding words (mail to outside addresses waits
    in the queue here: no route out)."""
    for root, _, files in os.walk(os.path.join(srv.dir, "spool")):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                data = fh.read()
            if words in data:
                return data
    return None


def test_external_sender(make_server):
    srv = portal(make_server)
    ext = Client(srv)
    st, doc, _ = ext.json("POST", "/api/verify", {"address": "ann@outside.test"})
    assert st == 403, doc  # off by default
    srv = portal(make_server, share_external_senders="yes",
                 share_domain_policy="other.test external=no")
    ext = Client(srv)
    st, doc, _ = ext.json("POST", "/api/verify", {"address": "bob@example.test"})
    assert st == 403 and "password" in doc["error"]
    st, doc, _ = ext.json("POST", "/api/verify", {"address": "ann@outside.test"})
    assert st == 202, doc
    st, doc, _ = ext.json("POST", "/api/verify", {"address": "ann@outside.test"})
    assert st == 429
    mail = wait_until("the code in the queue",
                      lambda: spooled_text(srv, b"Your verification code: "))
    code = re.search(rb"Your verification code: (\d{8})", mail).group(1).decode()
    wrong = "00000000" if code != "00000000" else "11111111"
    st, doc, _ = ext.json("POST", "/api/verify/code", {"address": "ann@outside.test",
                                                      "code": wrong})
    assert st == 403 and doc["error"] == "wrong code"
    st, doc, _ = ext.json("POST", "/api/verify/code", {"address": "ann@outside.test",
                                                      "code": code})
    assert st == 200 and doc == {"user": "ann@outside.test", "external": True}, doc
    st, doc, _ = ext.json("POST", "/api/transfers", {
        "recipients": ["someone@elsewhere.test"], "files": [{"name": "x", "size": 3}]})
    assert st == 403 and "users of this server" in doc["error"]
    st, t, _ = ext.json("POST", "/api/transfers", {
        "recipients": ["carol@example.test"], "mode": "generated",
        "files": [{"name": "from-outside.txt", "size": 3}]})
    assert st == 201, t
    assert ext.put(t["files"][0]["url"], b"abc")[0] == 200
    assert ext.json("POST", "/api/uploads/%s/send" % t["upload"])[0] == 200
    note = srv.wait_for_maildir("carol", 1)[0]
    assert b"Files shared with you by ann@outside.test" in note
    token, _ = link_of(note)
    rc = Client(srv)
    st, doc = unlock(rc, token, password=t["password"])
    assert st == 200 and download(rc, token, doc["files"][0]["id"], doc["grant"]) == b"abc"
    # the code is spent
    other = Client(srv)
    st, doc, _ = other.json("POST", "/api/verify/code", {"address": "ann@outside.test",
                                                        "code": code})
    assert st == 403
