"""A real clamd for the antivirus tests: Debian's clamd (package
clamav-daemon) run in the foreground from a private configuration in a
temporary directory, as peers.py runs Postfix and Dovecot.

- It listens only on the Unix socket ROOT/clamd.sock (no TCP).
- Its database directory holds only a tiny signature file written here,
  with the EICAR test signature (public test data): nothing is
  downloaded, and it starts in about a second.
- StreamMaxLength is 25M unless told otherwise.

    with ClamdPeer() as clamd:
        clamd.ping()                    # "PONG"
        clamd.instream(b"...")          # "stream: OK", "stream: Eicar-... FOUND"

or the `clamd` fixture, which starts one for a test and stops it (by pid)
after it, printing its log when the test failed.
"""

import os
import pwd
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import pytest

CLAMD = "/usr/sbin/clamd"

# The EICAR anti-virus test file (https://www.eicar.org), 68 bytes.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
# The name clamd reports for it (clamd adds ".UNOFFICIAL" to signatures
# that do not come from its official databases).
EICAR_NAME = "Eicar-Test-Signature"

CHUNK = 64 * 1024


def _signature_db():
    """An extended signature database (.ndb: name:target:offset:hex) with
    the EICAR signature anywhere in any file type."""
    return "%s:0:*:%s\n" % (EICAR_NAME, EICAR.hex())


class ClamdPeer:
    """clamd from a private configuration under root/ (a temporary
    directory): socket root/clamd.sock, database root/db, log root/clamd.log."""

    def __init__(self, stream_max="25M", timeout=60):
        self.root = tempfile.mkdtemp(prefix="postino-it-clamd-", dir="/tmp")
        os.chmod(self.root, 0o755)
        self.socket = os.path.join(self.root, "clamd.sock")
        self.db = os.path.join(self.root, "db")
        self.conf = os.path.join(self.root, "clamd.conf")
        self.logfile = os.path.join(self.root, "clamd.log")
        self.pidfile = os.path.join(self.root, "clamd.pid")
        self.stream_max = stream_max
        self.timeout = timeout
        self.proc = None

    def start(self):
        if not os.access(CLAMD, os.X_OK):
            pytest.skip("%s is not installed (Debian package clamav-daemon)" % CLAMD)
        os.makedirs(self.db)
        os.makedirs(os.path.join(self.root, "tmp"))
        with open(os.path.join(self.db, "postino-test.ndb"), "w") as f:
            f.write(_signature_db())
        user = pwd.getpwuid(os.getuid()).pw_name
        with open(self.conf, "w") as f:
            f.write("""\
Foreground yes
LocalSocket %(sock)s
LocalSocketMode 666
DatabaseDirectory %(db)s
TemporaryDirectory %(root)s/tmp
LogFile %(log)s
LogTime yes
PidFile %(pid)s
User %(user)s
StreamMaxLength %(max)s
MaxThreads 4
Bytecode no
SelfCheck 3600
""" % {"sock": self.socket, "db": self.db, "root": self.root, "log": self.logfile,
                "pid": self.pidfile, "user": user, "max": self.stream_max})
        self.proc = subprocess.Popen([CLAMD, "--foreground", "--config-file=" + self.conf],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.root, "stderr"), "wb"),
                                     start_new_session=True)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                if self.ping(timeout=2) == "PONG":
                    return self
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                code = self.proc.poll()
                self.stop()
                raise AssertionError("clamd not ready (%r):\n%s\n%s" % (
                    code, self.log(), self._stderr()))
            time.sleep(0.1)

    # --- talking to it ---

    def _connect(self, timeout):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(self.socket)
        return s

    @staticmethod
    def _reply(s):
        """Read up to the NUL that ends a reply to a z command."""
        out = b""
        while not out.endswith(b"\0"):
            d = s.recv(4096)
            if not d:
                break
            out += d
        return out.rstrip(b"\0").decode("utf-8", "replace")

    def ping(self, timeout=10):
        s = self._connect(timeout)
        try:
            s.sendall(b"zPING\0")
            return self._reply(s)
        finally:
            s.close()

    def instream(self, data, chunk=CHUNK, timeout=30):
        """Scan data as postino does (zINSTREAM, chunks, zero length);
        returns clamd's reply without its NUL ("stream: OK"; past
        StreamMaxLength "INSTREAM size limit exceeded. ERROR")."""
        s = self._connect(timeout)
        try:
            try:
                s.sendall(b"zINSTREAM\0")
                for i in range(0, len(data), chunk):
                    piece = data[i:i + chunk]
                    s.sendall(struct.pack(">I", len(piece)) + piece)
                s.sendall(struct.pack(">I", 0))
            except (BrokenPipeError, ConnectionResetError):
                # clamd answered (StreamMaxLength) and closed while we sent
                pass
            return self._reply(s)
        finally:
            s.close()

    # --- what happened ---

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def _stderr(self):
        try:
            with open(os.path.join(self.root, "stderr"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # --- stopping ---

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        self.cleanup()


@pytest.fixture
def clamd(request):
    """A running clamd (ClamdPeer) for one test; its log is printed when
    the test failed, and its directory kept with POSTINO_KEEP=1."""
    peer = ClamdPeer()
    try:
        yield peer.start()
    finally:
        peer.stop()
        rep = getattr(request.node, "rep_call", None)
        failed = rep is not None and rep.failed
        if failed:
            print("==== clamd log (%s)" % peer.root)
            print(peer.log())
        if failed or os.environ.get("POSTINO_KEEP"):
            print("==== kept: %s" % peer.root)
        else:
            peer.cleanup()
