"""The clamd test peer (clamd_peer.py) works: it answers PING, finds the
EICAR test file sent with INSTREAM (by Debian's clamdscan --stream when
installed, and by the peer's own INSTREAM client), passes clean data,
and refuses a stream longer than its StreamMaxLength."""

import os
import shutil
import subprocess
import time

import pytest

from clamd_peer import EICAR, EICAR_NAME, ClamdPeer, clamd  # noqa: F401 (fixture)

CLAMDSCAN = shutil.which("clamdscan")


def test_ping(clamd):
    assert clamd.ping() == "PONG"


def test_instream_eicar(clamd):
    msg = (b"From: <a@example.test>\r\nSubject: eicar\r\n\r\nbefore\r\n" + EICAR +
           b"\r\nafter\r\n")
    r = clamd.instream(msg)
    assert r.startswith("stream: " + EICAR_NAME) and r.endswith(" FOUND"), r


def test_instream_clean(clamd):
    msg = b"From: <a@example.test>\r\nSubject: hello\r\n\r\n" + b"nothing to see\r\n" * 20000
    assert clamd.instream(msg) == "stream: OK"
    # an empty stream is clean too
    assert clamd.instream(b"") == "stream: OK"


def test_instream_chunks_split_eicar(clamd):
    # the signature across a chunk boundary is still found
    msg = b"x" * 100 + EICAR + b"y" * 100
    r = clamd.instream(msg, chunk=120)
    assert r.endswith(" FOUND"), r


@pytest.mark.skipif(CLAMDSCAN is None, reason="clamdscan is not installed")
def test_clamdscan_stream(clamd, tmp_path):
    conf = tmp_path / "clamd.conf"
    conf.write_text("LocalSocket %s\n" % clamd.socket)
    bad = tmp_path / "eicar.txt"
    bad.write_bytes(EICAR)
    good = tmp_path / "good.txt"
    good.write_bytes(b"hello world\n")
    r = subprocess.run([CLAMDSCAN, "--no-summary", "--stream", "--config-file=%s" % conf,
                        str(bad)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert EICAR_NAME in r.stdout and "FOUND" in r.stdout, r.stdout
    r = subprocess.run([CLAMDSCAN, "--no-summary", "--stream", "--config-file=%s" % conf,
                        str(good)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.strip().endswith(": OK"), r.stdout


def test_stream_max_length():
    with ClamdPeer(stream_max="1M") as peer:
        r = peer.instream(b"a" * (2 * 1024 * 1024))
        assert r == "INSTREAM size limit exceeded. ERROR", r
        assert peer.instream(b"a" * 1000) == "stream: OK"


def test_starts_fast_and_stops_by_pid():
    t0 = time.monotonic()
    peer = ClamdPeer()
    try:
        peer.start()
        assert time.monotonic() - t0 < 30
        pid = peer.proc.pid
        with open(peer.pidfile) as f:
            assert int(f.read().strip()) == pid
    finally:
        peer.stop()
        peer.cleanup()
    assert peer.proc.poll() is not None
    assert not os.path.exists("/proc/%d" % pid) or \
        open("/proc/%d/stat" % pid).read().split()[2] == "Z"
