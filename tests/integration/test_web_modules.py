"""The web pages' own helpers, under Node.js (web_modules_node.mjs): the
incremental SHA-256 the browser computes an end-to-end file's checksum
with (web/sha256.js) against node's, and share-crypt.js's resumable
encryption (encryptBlobFrom) and in-memory helpers. Skipped without
Node.js."""

import os
import shutil
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
WEB = os.path.join(os.path.dirname(os.path.dirname(HERE)), "web")


def test_web_modules(tmp_path):
    node = shutil.which("node")
    if not node:
        pytest.skip("Node.js is not installed")
    for name in ("sha256", "share-crypt"):
        shutil.copy(os.path.join(WEB, name + ".js"), tmp_path / (name + ".mjs"))
    r = subprocess.run([node, os.path.join(HERE, "web_modules_node.mjs"), str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr
