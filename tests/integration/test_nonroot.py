"""The same tree runs entirely as a normal user: init, the CLI and serve,
with every process of the service as that user and no privilege change.

When the suite itself runs as a normal user every test already shows it;
run as root (CI), this test becomes the user nobody with setpriv."""

import os
import shutil
import smtplib
import stat

import pytest

from postino_testlib import Server

NOBODY = 65534


def _wrapper(top, real_bin):
    """A script that runs the real binary as nobody; exec keeps the pid."""
    setpriv = shutil.which("setpriv")
    path = os.path.join(top, "postino-as-nobody")
    with open(path, "w") as f:
        f.write("#!/bin/sh\nexec %s --reuid=%d --regid=%d --clear-groups %s \"$@\"\n"
                % (setpriv, NOBODY, NOBODY, real_bin))
    os.chmod(path, 0o755)
    return path


@pytest.fixture
def nobody_server():
    srv = Server()
    if os.geteuid() == 0:
        os.chown(srv.top, NOBODY, NOBODY)
        # The private copy of the binary must be runnable by nobody.
        mode = os.stat(srv.bin).st_mode
        assert mode & stat.S_IXOTH, "binary copy %s not executable by others" % srv.bin
        srv.bin = _wrapper(srv.top, srv.bin)
    yield srv
    problems = srv.teardown_problems()
    srv.cleanup()
    assert not problems, problems


def test_everything_as_a_normal_user(nobody_server):
    srv = nobody_server
    srv.init()
    srv.add_user("bob")
    srv.start()
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=15) as s:
        s.sendmail("alice@example.org", ["bob@example.test"],
                   b"Subject: plain user\r\n\r\nno root needed\r\n")
    msgs = srv.wait_for_maildir("bob", 1)
    assert b"no root needed" in msgs[0]
    assert srv.grep_log(r"postino started as a normal user")
    uid = os.geteuid() if os.geteuid() != 0 else NOBODY
    # Every process of the tree runs as that user.
    pids = [p for p in os.listdir("/proc") if p.isdigit()]
    tree = []
    for p in pids:
        try:
            with open("/proc/%s/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == srv.proc.pid or int(p) == srv.proc.pid:
                tree.append(int(p))
        except (OSError, IndexError, ValueError):
            continue
    assert len(tree) >= 4, tree  # supervisor, smtpd, queue, deliver-local
    for p in tree:
        assert os.stat("/proc/%d" % p).st_uid == uid, "pid %d not running as %d" % (p, uid)
    # and everything it wrote belongs to that user
    for root, dirs, files in os.walk(srv.dir):
        for name in dirs + files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                assert os.lstat(path).st_uid == uid, path
    assert srv.stop() == 0
