"""DKIM interoperability: postino's signer and verifier (through the test
program build-test/tests/unit/dkim-tool) against independent
implementations.

- postino signs (RSA and Ed25519), dkimpy verifies;
- dkimpy signs (RSA and Ed25519, simple and relaxed, with and without l=),
  postino verifies;
- postino signs (RSA and Ed25519), OpenDKIM's opendkim-testmsg verifies;
- opendkim-testmsg signs, dkimpy and postino check the result.

Key records are given to dkimpy and postino directly (dkimpy's dnsfunc,
dkim-tool's -T). opendkim-testmsg can only look keys up in the DNS, so it
runs under `unshare -mn` (root only, else skipped) with its own loopback,
a DNS server on it and its own resolv.conf: see opendkim_verify.py.
opendkim-testmsg signs only with rsa-sha1, which postino refuses (RFC
8301); that refusal is tested, and dkimpy checks the signature itself.

DKIM_TOOL names the program; by default it is found next to POSTINO_BIN
(build-test/postino -> build-test/tests/unit/dkim-tool).
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

dkim = pytest.importorskip("dkim")

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TESTDATA = os.environ.get("TESTDATA") or os.path.join(REPO, "tests", "testdata")
RFC = os.path.join(TESTDATA, "dkim", "rfc")

RSA_KEY = os.path.join(RFC, "rfc8463-test-rsa.private.pem")
ED_KEY = os.path.join(RFC, "rfc8463-brisbane-ed25519.private.pem")
ED_SEED = os.path.join(RFC, "rfc8463-brisbane-ed25519.seed.b64")
ED_TXT = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="

MESSAGE = (
    b"Received: from client.example.com by mx.example.com; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
    b"From: Joe SixPack <joe@example.com>\r\n"
    b"To: Suzie Q <suzie@example.net>,\r\n"
    b"    other@example.net\r\n"
    b"Cc: third@example.net\r\n"
    b"Subject:   Is dinner\r\n"
    b"\tready?  \r\n"
    b"Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n"
    b"Message-ID: <20240101.1@example.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Hi.\r\n"
    b"\r\n"
    b"We lost the game.   Are you hungry yet?  \r\n"
    b"\t tabs and spaces\t\r\n"
    b"\r\n"
    b"Joe.\r\n"
    b"\r\n"
    b"\r\n"
)


def rsa_txt():
    """The key record of the RSA test key (RFC 8463 A.2's test._domainkey)."""
    with open(os.path.join(RFC, "rfc8463.dns")) as f:
        for line in f:
            name, txt = line.rstrip("\n").split(" ", 1)
            if name.startswith("test._domainkey."):
                return txt
    raise AssertionError("no RSA key record in rfc8463.dns")


def dkim_tool():
    env = os.environ.get("DKIM_TOOL")
    if env:
        return env
    pb = os.environ.get("POSTINO_BIN")
    candidates = []
    if pb:
        candidates.append(os.path.join(os.path.dirname(os.path.abspath(pb)), "tests", "unit",
                                       "dkim-tool"))
    candidates.append(os.path.join(REPO, "build-test", "tests", "unit", "dkim-tool"))
    for c in candidates:
        if os.access(c, os.X_OK):
            return c
    pytest.skip("dkim-tool not built (ninja -C build-test)")


def tool_sign(msg, selector, key, domain="example.com", extra=()):
    p = subprocess.run([dkim_tool(), "sign", "-d", domain, "-s", selector, "-k", key, *extra],
                       input=msg, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout


def tool_verify(msg, records, extra=()):
    args = [dkim_tool(), "verify"]
    for name, txt in records.items():
        args += ["-T", "%s=%s" % (name, txt)]
    p = subprocess.run(args + list(extra), input=msg, capture_output=True, timeout=60)
    assert p.returncode in (0, 1), p.stderr.decode()
    return p.returncode, p.stdout.decode().splitlines()


def dnsfunc_for(records):
    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        return records.get(name.rstrip(".").lower(), "").encode() or None
    return dnsfunc


def dkimpy_verify(msg, idx=0):
    """dkimpy's verdict on signature idx (its DKIM.verify raises on some
    failures instead of returning False)."""
    try:
        return bool(dkim.DKIM(msg).verify(idx=idx, dnsfunc=dnsfunc_for(RECORDS)))
    except dkim.DKIMException:
        return False


RECORDS = {
    "rsa._domainkey.example.com": rsa_txt(),
    "ed._domainkey.example.com": ED_TXT,
}


@pytest.mark.parametrize("selector,key", [("rsa", RSA_KEY), ("ed", ED_KEY)])
def test_postino_signs_dkimpy_verifies(selector, key):
    signed = tool_sign(MESSAGE, selector, key)
    assert signed.endswith(MESSAGE)
    field = signed[:len(signed) - len(MESSAGE)]
    assert field.startswith(b"DKIM-Signature:") and field.endswith(b"\r\n")
    assert all(len(line) <= 78 for line in field.split(b"\r\n"))
    assert dkimpy_verify(signed), "dkimpy rejects postino's signature"
    # and our own verifier agrees
    rc, lines = tool_verify(signed, RECORDS)
    assert rc == 0 and lines[0].startswith("pass "), lines
    # an altered body fails in both
    altered = signed.replace(b"hungry yet", b"hungry now")
    assert not dkimpy_verify(altered)
    rc, lines = tool_verify(altered, RECORDS)
    assert rc == 1 and "body hash did not verify" in lines[0], lines


def test_postino_signs_twice_dkimpy_verifies_both():
    once = tool_sign(MESSAGE, "rsa", RSA_KEY)
    twice = tool_sign(once, "ed", ED_KEY)
    # dkimpy verifies the signature at the index asked for
    assert dkimpy_verify(twice, 0) and dkimpy_verify(twice, 1)
    rc, lines = tool_verify(twice, RECORDS)
    assert rc == 0 and len(lines) == 2, lines
    # a From added on top breaks both (From is oversigned)
    forged = b"From: Eve <eve@evil.example>\r\n" + twice
    assert not dkimpy_verify(forged, 0)
    rc, lines = tool_verify(forged, RECORDS)
    assert rc == 1 and all(l.startswith("fail ") for l in lines), lines


def dkimpy_key(selector):
    if selector == b"ed":
        with open(ED_SEED, "rb") as f:
            return f.read().strip()
    with open(RSA_KEY, "rb") as f:
        return f.read()


@pytest.mark.parametrize("selector", [b"rsa", b"ed"])
@pytest.mark.parametrize("canon", [(b"simple", b"simple"), (b"relaxed", b"relaxed"),
                                   (b"simple", b"relaxed"), (b"relaxed", b"simple")])
def test_dkimpy_signs_postino_verifies(selector, canon):
    alg = b"ed25519-sha256" if selector == b"ed" else b"rsa-sha256"
    sig = dkim.sign(MESSAGE, selector, b"example.com", dkimpy_key(selector), canonicalize=canon,
                    signature_algorithm=alg, linesep=b"\r\n",
                    include_headers=[b"from", b"to", b"cc", b"subject", b"date",
                                     b"message-id", b"mime-version", b"x-missing"])
    signed = sig + MESSAGE
    rc, lines = tool_verify(signed, RECORDS)
    assert rc == 0, lines
    assert lines[0].startswith("pass d=example.com s=%s a=%s" % (selector.decode(),
                                                                  alg.decode())), lines
    # LF line ends on disk are taken as CRLF by the tool
    rc, lines = tool_verify(signed.replace(b"\r\n", b"\n"), RECORDS)
    assert rc == 0, lines
    # a changed signed header fails
    rc, lines = tool_verify(signed.replace(b"Cc: third", b"Cc: fourth"), RECORDS)
    assert rc == 1 and "signature did not verify" in lines[0], lines


def test_dkimpy_body_length():
    """l=: refused by default (policy), accepted with -l, and what follows
    the signed length is not covered."""
    sig = dkim.sign(MESSAGE, b"rsa", b"example.com", dkimpy_key(b"rsa"), length=True,
                    linesep=b"\r\n")
    signed = sig + MESSAGE + b"Appended by a list.\r\n"
    rc, lines = tool_verify(signed, RECORDS)
    assert rc == 1 and lines[0].startswith("policy "), lines
    rc, lines = tool_verify(signed, RECORDS, ["-l"])
    assert rc == 0 and "body only up to l=" in lines[0], lines
    # but a change inside the signed length still fails
    rc, lines = tool_verify(signed.replace(b"Hi.", b"Ho."), RECORDS, ["-l"])
    assert rc == 1 and "body hash did not verify" in lines[0], lines


def test_dkimpy_revoked_and_missing_keys():
    sig = dkim.sign(MESSAGE, b"rsa", b"example.com", dkimpy_key(b"rsa"), linesep=b"\r\n")
    signed = sig + MESSAGE
    rc, lines = tool_verify(signed, {"rsa._domainkey.example.com": "v=DKIM1; p="})
    assert rc == 1 and lines[0].startswith("fail ") and "key revoked" in lines[0], lines
    rc, lines = tool_verify(signed, {})
    assert rc == 1 and lines[0].startswith("permerror "), lines


def test_opendkim_signs():
    testmsg = shutil.which("opendkim-testmsg") or "/usr/sbin/opendkim-testmsg"
    if not os.access(testmsg, os.X_OK):
        pytest.skip("opendkim-testmsg is not installed")
    p = subprocess.run([testmsg, "-d", "example.com", "-s", "rsa", "-k", RSA_KEY, "-C"],
                       input=MESSAGE.replace(b"\r\n", b"\n"), capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    signed = p.stdout.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert signed.startswith(b"DKIM-Signature:")
    # OpenDKIM's signature is valid (dkimpy still accepts rsa-sha1) ...
    assert dkimpy_verify(signed)
    # ... and postino refuses rsa-sha1 per RFC 8301, before any crypto
    rc, lines = tool_verify(signed, RECORDS)
    assert b"a=rsa-sha1" in signed
    assert rc == 1 and lines[0].startswith("fail ") and "rsa-sha1" in lines[0], lines
    # Signed again by postino, both signatures are there and postino's passes.
    resigned = tool_sign(signed, "ed", ED_KEY)
    rc, lines = tool_verify(resigned, RECORDS)
    assert lines[0].startswith("pass ") and lines[1].startswith("fail "), lines
    assert dkimpy_verify(resigned, 0)


def opendkim_verify(msg, records, tmp_path):
    """opendkim-testmsg's verdict (exit status, stderr) on msg, with the
    key records served by a private DNS server in its own namespaces."""
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        pytest.skip("opendkim-testmsg needs DNS: this test needs root, unshare and ip")
    if not os.access("/usr/sbin/opendkim-testmsg", os.X_OK):
        pytest.skip("opendkim-testmsg is not installed")
    probe = subprocess.run(["unshare", "-mn", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot make namespaces here: %s" % probe.stderr.decode().strip())
    (tmp_path / "msg").write_bytes(msg)
    (tmp_path / "records").write_text("".join("%s %s\n" % kv for kv in records.items()))
    p = subprocess.run(["unshare", "-mn", sys.executable, os.path.join(HERE, "opendkim_verify.py"),
                        str(tmp_path / "msg"), str(tmp_path / "records")],
                       capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    out = json.loads(p.stdout)
    return out["rc"], out["stderr"]


@pytest.mark.parametrize("selector,key", [("rsa", RSA_KEY), ("ed", ED_KEY)])
def test_postino_signs_opendkim_verifies(selector, key, tmp_path):
    signed = tool_sign(MESSAGE, selector, key)
    rc, err = opendkim_verify(signed, RECORDS, tmp_path)
    assert rc == 0, err
    # the same signature over a changed body or header is refused
    rc, err = opendkim_verify(signed.replace(b"hungry yet", b"hungry now"), RECORDS, tmp_path)
    assert rc != 0 and "Bad signature" in err, err
    rc, err = opendkim_verify(signed.replace(b"Cc: third", b"Cc: fourth"), RECORDS, tmp_path)
    assert rc != 0 and "Bad signature" in err, err
    # and without its key record it cannot verify
    rc, err = opendkim_verify(signed, {}, tmp_path)
    assert rc != 0, err
