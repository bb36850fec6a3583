"""Real IMAP clients against the server: mbsync (isync) syncing a mailbox
both ways (new messages, flags, deletions), mutt reading, copying and
deleting through its own IMAP code (driven without a terminal of ours by
running it under script(1) with keys pushed by -e), and a 20,000-message
INBOX made straight on disk: SELECT, UID FETCH 1:* (FLAGS RFC822.SIZE) and
the last message's body, each timed."""

import imaplib
import os
import re
import shlex
import shutil
import subprocess
import time

import pytest

from imap_raw import RawIMAP

PW = "secret-pw"
BOB = "bob@example.test"


def msg(subject, body="body of %s\n", frm="sender@remote.test"):
    body = body % subject if "%s" in body else body
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@remote.test>\r\n"
            "Date: Mon, 02 Nov 2026 10:00:00 +0000\r\n\r\n%s" %
            (frm, BOB, subject, subject.replace(" ", "."), body.replace("\n", "\r\n"))
            ).encode()


def server_state(srv, folder="INBOX"):
    """{subject: (uid, set of flags)} of a folder, read with imaplib."""
    m = srv.imaps("bob")
    typ, _ = m.select(folder, readonly=True)
    assert typ == "OK"
    typ, data = m.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK", data
    out = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        meta, hdr = item
        uid = int(re.search(rb"UID (\d+)", meta).group(1))
        flags = set(re.search(rb"FLAGS \(([^)]*)\)", meta).group(1).decode().split())
        flags.discard("\\Recent")
        subject = hdr.decode().split(":", 1)[1].strip()
        out[subject] = (uid, flags)
    m.logout()
    return out


def server_body(srv, uid, folder="INBOX"):
    m = srv.imaps("bob")
    m.select(folder, readonly=True)
    typ, data = m.uid("FETCH", str(uid), "(BODY.PEEK[])")
    assert typ == "OK", data
    m.logout()
    return data[0][1]


# --- mbsync ---

def mbsync_version():
    r = subprocess.run(["mbsync", "--version"], capture_output=True, timeout=30)
    m = re.search(rb"(\d+)\.(\d+)", r.stdout + r.stderr)
    assert m, r
    return int(m.group(1)), int(m.group(2))


def write_mbsyncrc(srv, tmp_path):
    """A minimal configuration: the server's INBOX against a local Maildir.
    isync 1.5 renamed SSLType to TLSType; CertificateFile holding the
    server's own (self-signed) certificate makes mbsync trust exactly it."""
    near = tmp_path / "near"
    near.mkdir(exist_ok=True)
    tls_kw = "TLSType" if mbsync_version() >= (1, 5) else "SSLType"
    cert = tmp_path / "server-cert.pem"
    shutil.copy(os.path.join(srv.dir, "tls", "cert.pem"), cert)
    rc = tmp_path / "mbsyncrc"
    rc.write_text("""IMAPAccount far
Host 127.0.0.1
Port %d
User %s
Pass %s
%s IMAPS
CertificateFile %s
AuthMechs PLAIN

IMAPStore far
Account far

MaildirStore near
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel ch
Far :far:INBOX
Near :near:INBOX
Create Near
Sync All
Expunge Both
SyncState *
""" % (srv.imaps_port, BOB, PW, tls_kw, cert, near, near))
    return rc, near / "INBOX"


def no_tuid(data):
    """The text without the X-TUID field mbsync adds to the copies it makes
    (to find them again), in LF form."""
    return re.sub(rb"(?m)^X-TUID: [^\n]*\n", b"", data.replace(b"\r\n", b"\n"))


def mbsync(rc):
    r = subprocess.run(["mbsync", "-c", str(rc), "ch"], capture_output=True, timeout=120)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r


def local_state(inbox):
    """{subject: (path, flag letters)} of the local Maildir."""
    out = {}
    for sub in ("cur", "new"):
        d = inbox / sub
        if not d.is_dir():
            continue
        for name in os.listdir(d):
            path = d / name
            with open(path, "rb") as f:
                data = f.read()
            subject = re.search(rb"^Subject: (.*)$", data, re.M).group(1).decode().strip()
            info = name.split(":2,", 1)[1] if ":2," in name else ""
            out[subject] = (path, info)
    return out


def set_local_flags(path, letters):
    """Rename a Maildir file to carry exactly these flag letters (cur/)."""
    base = path.name.split(":2,", 1)[0]
    new = path.parent.parent / "cur" / (base + ":2," + "".join(sorted(letters)))
    os.rename(path, new)
    return new


@pytest.fixture
def srv(make_server):
    return make_server(users=("bob",))


def test_mbsync_syncs_both_ways(srv, tmp_path):
    m = srv.imaps("bob")
    assert m.append("INBOX", None, None, msg("one"))[0] == "OK"
    assert m.append("INBOX", r"(\Flagged)", None, msg("two"))[0] == "OK"
    assert m.append("INBOX", r"(\Seen)", None, msg("three", ".dotted line\nend\n"))[0] == "OK"
    m.logout()
    rc, inbox = write_mbsyncrc(srv, tmp_path)

    # pull: the server's messages, their text and flags, land locally
    mbsync(rc)
    local = local_state(inbox)
    assert sorted(local) == ["one", "three", "two"], local
    assert local["one"][1] == "" and local["two"][1] == "F" and local["three"][1] == "S"
    far = server_state(srv)
    for subject, (path, _) in local.items():
        with open(path, "rb") as f:
            data = f.read()
        assert no_tuid(data) == no_tuid(server_body(srv, far[subject][0])), subject

    # push: a new local message, local flag changes; meanwhile the server
    # changes a flag of its own
    pushed = b"From: bob@example.test\nTo: x@remote.test\nSubject: pushed\n\nwritten here\n"
    with open(inbox / "cur" / "1700000000.M1P1.localhost:2,S", "wb") as f:
        f.write(pushed)
    set_local_flags(local["one"][0], "S")
    set_local_flags(local["two"][0], "")  # \Flagged removed locally
    m = srv.imaps("bob")
    m.select("INBOX")
    assert m.uid("STORE", str(far["three"][0]), "+FLAGS", r"(\Answered)")[0] == "OK"
    m.logout()
    mbsync(rc)
    far = server_state(srv)
    assert sorted(far) == ["one", "pushed", "three", "two"], far
    assert far["pushed"][1] == {"\\Seen"}
    assert far["one"][1] == {"\\Seen"}
    assert far["two"][1] == set()
    assert far["three"][1] == {"\\Seen", "\\Answered"}
    assert no_tuid(server_body(srv, far["pushed"][0])) == pushed
    local = local_state(inbox)
    assert local["three"][1] == "RS", local

    # deletions: one expunged on the server, one deleted locally
    m = srv.imaps("bob")
    m.select("INBOX")
    m.uid("STORE", str(far["one"][0]), "+FLAGS", r"(\Deleted)")
    assert m.expunge()[0] == "OK"
    m.logout()
    os.unlink(local["two"][0])
    mbsync(rc)
    assert sorted(local_state(inbox)) == ["pushed", "three"]
    assert sorted(server_state(srv)) == ["pushed", "three"]

    # a run with nothing to do changes nothing
    before = (server_state(srv), {k: v[1] for k, v in local_state(inbox).items()})
    mbsync(rc)
    assert (server_state(srv), {k: v[1] for k, v in local_state(inbox).items()}) == before
    assert not srv.grep_log(r"imapd.*(BAD|error)")


# --- mutt ---

def write_muttrc(srv, tmp_path):
    """mutt trusts the certificates in certificate_file without asking (its
    GnuTLS and OpenSSL code both check it before prompting): store the
    server's self-signed certificate there. ssl_verify_host=no because
    the certificate does not name 127.0.0.1."""
    cert = tmp_path / "mutt-certs.pem"
    shutil.copy(os.path.join(srv.dir, "tls", "cert.pem"), cert)
    rc = tmp_path / "muttrc"
    rc.write_text("""set certificate_file="%s"
set ssl_verify_host=no
set ssl_force_tls=yes
set imap_user="%s"
set imap_pass="%s"
set folder="imaps://127.0.0.1:%d/"
set spoolfile="+INBOX"
set header_cache=""
set message_cachedir=""
set timeout=5
set wait_key=no
set pipe_decode=no
set quit=yes
set delete=yes
set move=no
set confirmappend=no
set confirmcreate=no
set sort=mailbox-order
set record=""
""" % (cert, BOB, PW, srv.imaps_port))
    return rc


def run_mutt(srv, tmp_path, keys):
    """Run mutt on the server's INBOX with keys pushed at start-up. mutt
    needs a terminal: script(1) gives it a pseudo-terminal and reads
    nothing from ours (stdin is /dev/null). Returns the screen output."""
    rc = write_muttrc(srv, tmp_path)
    cmd = "mutt -n -F %s -f %s -e %s" % (
        shlex.quote(str(rc)), shlex.quote("imaps://127.0.0.1:%d/INBOX" % srv.imaps_port),
        shlex.quote('push "%s"' % keys))
    env = dict(os.environ, TERM="vt100", HOME=str(tmp_path), LINES="24", COLUMNS="80")
    r = subprocess.run(["script", "-qfec", cmd, "/dev/null"], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=90, env=env)
    screen = r.stdout.decode("utf-8", "replace")
    assert r.returncode == 0, (r.returncode, screen[-2000:], r.stderr)
    return screen


def test_mutt_reads_copies_and_deletes(srv, tmp_path):
    m = srv.imaps("bob")
    for subject in ("first", "second", "third"):
        assert m.append("INBOX", None, None, msg(subject, "text of %s\n.dot line\n"))[0] == "OK"
    m.logout()

    # read: pipe the first message to a file
    out = tmp_path / "piped.eml"
    screen = run_mutt(srv, tmp_path, "<first-entry><pipe-message>cat > %s<enter>"
                      "<display-message><exit><quit>" % out)
    assert "Msgs:3" in screen, screen[-2000:]
    with open(out, "rb") as f:
        piped = f.read()
    far = server_state(srv)
    stored = server_body(srv, far["first"][0])
    assert piped.replace(b"\r\n", b"\n") == stored.replace(b"\r\n", b"\n")
    assert b"\n.dot line\n" in piped
    # displaying it set \Seen on the server; the others are untouched
    assert "\\Seen" in far["first"][1]
    assert "\\Seen" not in far["second"][1] and "\\Seen" not in far["third"][1]

    # copy the last one to Archive, delete the second and purge it
    run_mutt(srv, tmp_path, "<last-entry><copy-message>=Archive<enter>"
             "<first-entry><next-entry><delete-message><sync-mailbox><quit>")
    assert sorted(server_state(srv)) == ["first", "third"]
    archive = server_state(srv, "Archive")
    assert sorted(archive) == ["third"]
    assert server_body(srv, archive["third"][0], "Archive") == server_body(srv, far["third"][0])


# --- a large mailbox ---

N_LARGE = 20000
LARGE_LIMIT_S = 60.0


def large_message(i):
    body = "body of message %d\n" % i
    if i == N_LARGE:
        body = "".join("line %d of the last message\n" % k for k in range(200))
    return ("From: sender%d@remote.test\nTo: %s\nSubject: message %d\n"
            "Message-ID: <m%d@remote.test>\nDate: Mon, 02 Nov 2026 10:00:00 +0000\n\n%s" %
            (i % 97, BOB, i, i, body)).encode()


def test_twenty_thousand_messages(make_server):
    srv = make_server(users=("bob",), start=False)
    msgs = [large_message(i) for i in range(1, N_LARGE + 1)]
    # every 3rd seen, every 7th flagged; in name order = delivery order
    seen = {i for i in range(1, N_LARGE + 1) if i % 3 == 0}
    flagged = {i for i in range(1, N_LARGE + 1) if i % 7 == 0}
    root = srv.make_maildir("bob")
    st = os.stat(os.path.join(srv.dir, "mail"))
    for i, data in enumerate(msgs, 1):
        info = "".join(l for l, s in (("F", flagged), ("S", seen)) if i in s)
        name = "%d.M%dP1Q%d.test,S=%d,W=%d:2,%s" % (1700000000 + i, i, i, len(data),
                                                   len(data) + data.count(b"\n"), info)
        path = os.path.join(root, "cur", name)
        with open(path, "wb") as f:
            f.write(data)
        os.chown(path, st.st_uid, st.st_gid)
    srv.start()

    c = RawIMAP(srv.imaps_port)
    c.login(BOB)
    times = {}
    t = time.monotonic()
    tagged, lines = c.cmd("SELECT INBOX")
    times["SELECT (first, index built)"] = time.monotonic() - t
    assert b" OK " in tagged, tagged
    assert b"* %d EXISTS" % N_LARGE in lines, lines

    t = time.monotonic()
    tagged, lines = c.cmd("UID FETCH 1:* (FLAGS RFC822.SIZE)")
    times["UID FETCH 1:* (FLAGS RFC822.SIZE)"] = time.monotonic() - t
    assert b" OK " in tagged, tagged
    rx = re.compile(rb"^\* (\d+) FETCH \((.*)\)$")
    got = {}
    for ln in lines:
        mm = rx.match(ln)
        assert mm, ln
        seq = int(mm.group(1))
        items = mm.group(2)
        uid = int(re.search(rb"UID (\d+)", items).group(1))
        size = int(re.search(rb"RFC822\.SIZE (\d+)", items).group(1))
        flags = set(re.search(rb"FLAGS \(([^)]*)\)", items).group(1).split())
        got[seq] = (uid, size, flags)
    assert len(lines) == N_LARGE and sorted(got) == list(range(1, N_LARGE + 1))
    uids = [got[s][0] for s in range(1, N_LARGE + 1)]
    assert uids == sorted(uids) and len(set(uids)) == N_LARGE
    for s in range(1, N_LARGE + 1):
        data = msgs[s - 1]
        uid, size, flags = got[s]
        assert size == len(data) + data.count(b"\n"), s
        assert (b"\\Seen" in flags) == (s in seen), (s, flags)
        assert (b"\\Flagged" in flags) == (s in flagged), (s, flags)

    t = time.monotonic()
    tagged, lines = c.cmd("FETCH %d BODY[]" % N_LARGE)
    times["FETCH %d BODY[]" % N_LARGE] = time.monotonic() - t
    assert b" OK " in tagged, tagged
    want = msgs[-1].replace(b"\n", b"\r\n")
    assert len(lines) == 1 and lines[0].startswith(b"* %d FETCH (" % N_LARGE), lines[:1]
    assert want in lines[0]

    # a second session: the index is there now
    d = RawIMAP(srv.imaps_port)
    d.login(BOB)
    t = time.monotonic()
    tagged, lines = d.cmd("EXAMINE INBOX")
    times["EXAMINE (second session)"] = time.monotonic() - t
    assert b"* %d EXISTS" % N_LARGE in lines
    d.close()
    c.close()

    for what, secs in times.items():
        print("%d messages: %s: %.2f s" % (N_LARGE, what, secs))
    for what, secs in times.items():
        assert secs < LARGE_LIMIT_S, (what, secs, times)
