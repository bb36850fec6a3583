"""The share file format across implementations: postino's C code (through
the test program build-test/tests/unit/share-crypt-tool), the browser's
web/share-crypt.js (under Node.js, through share_crypt_node.mjs) and a
reference written here from docs/share-format.md with Python's
cryptography package.

- known-answer vectors: all three produce the same bytes (the C unit test
  tests/unit/test-share-crypt.c asserts the same vectors);
- C encrypts, JavaScript decrypts (from a Blob, pushed in pieces, from a
  ReadableStream), and the other way round, byte-exact, at sizes 0, 1,
  chunk - 1, chunk, chunk + 1 and several chunks, with two chunk sizes;
- damaged files: both fail the same way (same error code, same chunk) and
  hand out the same verified prefix;
- lengths and keys in links agree.

SHARE_CRYPT_TOOL names the C program; by default it is found next to
POSTINO_BIN (build-test/postino -> build-test/tests/unit/share-crypt-tool).
Node.js (Debian's nodejs, 18 or later) is needed; the test is skipped
without it.
"""

import os
import shutil
import struct
import subprocess

import pytest

aead = pytest.importorskip("cryptography.hazmat.primitives.ciphers.aead")
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.kdf.hkdf import HKDF  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MODULE = os.path.join(REPO, "web", "share-crypt.js")
NODE_SCRIPT = os.path.join(HERE, "share_crypt_node.mjs")

KEY = bytes(range(32))
KEY_HEX = KEY.hex()
SALT = bytes(range(0x40, 0x50))
PREFIX = bytes(range(0xA0, 0xA8))
FOX = b"The quick brown fox jumps over the lazy dog."
# The vectors of tests/unit/test-share-crypt.c.
KAT_FOX = bytes.fromhex(
    "5053544e534852310103000000000010404142434445464748494a4b4c4d4e4fa0a1a2a3a4a5a6a7edb30767cc6"
    "3bd779291ff2cab37411549990e38463a376d01de6c2de0b19f7ce0fa1c1e731f036be5e75c328a75eb02eb50c8"
    "bcfc43a661b68cbfbb6941fd7b4b04d4ebb28c33148052bdea40f9a15dc94f52290a75a6a728fe436498800473"
    "310b820b782703cf3e67f74d")
KAT_EMPTY = bytes.fromhex(
    "5053544e534852310101000000010000404142434445464748494a4b4c4d4e4fa0a1a2a3a4a5a6a7edb30767cc6"
    "3bd779291ff2cab37411503e7b5ce088b018cff5ad5c05164f5f6")

HEADER_LEN = 56
TAG_LEN = 16


# ---- the reference, from docs/share-format.md ----

def ref_file_key(key, salt):
    okm = HKDF(algorithm=hashes.SHA256(), length=48, salt=salt,
               info=b"postino share v1 file key").derive(key)
    return okm[:32], okm[32:]


def ref_encrypt(key, plain, mode=3, chunk=65536, salt=None, prefix=None):
    salt = salt if salt is not None else os.urandom(16)
    prefix = prefix if prefix is not None else os.urandom(8)
    fk, check = ref_file_key(key, salt)
    hdr = b"PSTNSHR1" + bytes([1, mode, 0, 0]) + struct.pack(">I", chunk) + salt + prefix + check
    gcm = aead.AESGCM(fk)
    pieces = [plain[i:i + chunk] for i in range(0, len(plain), chunk)] or [b""]
    out = [hdr]
    for i, p in enumerate(pieces):
        final = i == len(pieces) - 1
        out.append(gcm.encrypt(prefix + struct.pack(">I", i), p,
                               hdr + struct.pack(">I", i) + bytes([final])))
    return b"".join(out)


def ref_decrypt(key, data):
    """The whole plaintext, or an exception."""
    hdr = data[:HEADER_LEN]
    assert len(hdr) == HEADER_LEN and hdr[:8] == b"PSTNSHR1" and hdr[8] == 1
    assert hdr[9] in (1, 2, 3) and hdr[10:12] == b"\0\0"
    chunk = struct.unpack(">I", hdr[12:16])[0]
    assert 16 <= chunk <= 1 << 20
    fk, check = ref_file_key(key, hdr[16:32])
    assert check == hdr[40:56], "wrong key"
    gcm = aead.AESGCM(fk)
    body = data[HEADER_LEN:]
    full = chunk + TAG_LEN
    out = []
    i = 0
    while True:
        piece = body[i * full:(i + 1) * full]
        final = (i + 1) * full >= len(body)
        assert len(piece) >= TAG_LEN
        p = gcm.decrypt(hdr[32:40] + struct.pack(">I", i), piece,
                        hdr + struct.pack(">I", i) + bytes([final]))
        assert not (final and not p and i > 0)
        out.append(p)
        if final:
            return b"".join(out)
        i += 1


# ---- the two programs ----

def share_crypt_tool():
    env = os.environ.get("SHARE_CRYPT_TOOL")
    if env:
        return env
    pb = os.environ.get("POSTINO_BIN")
    candidates = []
    if pb:
        candidates.append(os.path.join(os.path.dirname(os.path.abspath(pb)), "tests", "unit",
                                       "share-crypt-tool"))
    candidates.append(os.path.join(REPO, "build-test", "tests", "unit", "share-crypt-tool"))
    for c in candidates:
        if os.access(c, os.X_OK):
            return c
    pytest.skip("share-crypt-tool not built (ninja -C build-test)")


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """Run the Node.js driver: returns a function of its arguments."""
    exe = shutil.which("node") or shutil.which("nodejs")
    if not exe:
        pytest.skip("Node.js is not installed (apt-get install nodejs)")
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    if int(version.lstrip("v").split(".")[0]) < 18:
        pytest.skip("Node.js 18 or later is needed for WebCrypto, not " + version)
    d = tmp_path_factory.mktemp("node")
    mod = d / "share-crypt.mjs"
    shutil.copyfile(MODULE, mod)

    def run(*args, check=True):
        p = subprocess.run([exe, NODE_SCRIPT, str(mod), *map(str, args)],
                           capture_output=True, timeout=120)
        if check:
            assert p.returncode == 0, p.stderr.decode()
        return p
    return run


def c_encrypt(plain, mode=3, chunk=65536, salt=None, prefix=None):
    args = [share_crypt_tool(), "encrypt", "-m", str(mode), "-c", str(chunk)]
    if salt is not None:
        args += ["-s", salt.hex(), "-n", prefix.hex()]
    p = subprocess.run(args + [KEY_HEX], input=plain, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout


def c_decrypt(data, key_hex=KEY_HEX):
    """(plaintext written, None) or (plaintext written, 'CODE CHUNK')."""
    p = subprocess.run([share_crypt_tool(), "decrypt", key_hex], input=data,
                       capture_output=True, timeout=60)
    assert p.returncode in (0, 1), p.stderr.decode()
    if p.returncode == 0:
        return p.stdout, None
    return p.stdout, p.stderr.decode().split(":")[0]


def js_encrypt(node, tmp_path, plains, how, mode=3, chunk=65536, salt=None, prefix=None):
    """The JavaScript encryption of each of plains (one Node.js run)."""
    files = []
    for i, plain in enumerate(plains):
        src, dst = tmp_path / ("enc-%d.in" % i), tmp_path / ("enc-%d.out" % i)
        src.write_bytes(plain)
        files += [src, dst]
    extra = ["-s", salt.hex(), prefix.hex()] if salt is not None else []
    node("encrypt", how, KEY_HEX, mode, chunk, *extra, *files)
    return [files[2 * i + 1].read_bytes() for i in range(len(plains))]


def js_decrypt(node, tmp_path, datas, how, key_hex=KEY_HEX):
    """For each of datas, (plaintext written, None) or (plaintext written,
    'CODE CHUNK'), as c_decrypt (one Node.js run)."""
    files = []
    for i, data in enumerate(datas):
        src, dst = tmp_path / ("dec-%d.in" % i), tmp_path / ("dec-%d.out" % i)
        src.write_bytes(data)
        files += [src, dst]
    node("decrypt", how, key_hex, *files)
    results = []
    for i in range(len(datas)):
        dst = files[2 * i + 1]
        err = dst.parent / (dst.name + ".err")
        results.append((dst.read_bytes(),
                        err.read_text().split(":")[0] if err.exists() else None))
    return results


def payload(n, seed=1):
    return bytes((i * 131 + seed * 7 + (i >> 8)) & 0xFF for i in range(n))


# ---- the tests ----

def test_known_answers(node, tmp_path):
    assert ref_encrypt(KEY, FOX, 3, 16, SALT, PREFIX) == KAT_FOX
    assert ref_encrypt(KEY, b"", 1, 65536, SALT, PREFIX) == KAT_EMPTY
    assert c_encrypt(FOX, 3, 16, SALT, PREFIX) == KAT_FOX
    assert c_encrypt(b"", 1, 65536, SALT, PREFIX) == KAT_EMPTY
    for how in ("blob", "push"):
        assert js_encrypt(node, tmp_path, [FOX], how, 3, 16, SALT, PREFIX) == [KAT_FOX]
        assert js_encrypt(node, tmp_path, [b""], how, 1, 65536, SALT, PREFIX) == [KAT_EMPTY]
    for how in ("blob", "push", "stream"):
        assert js_decrypt(node, tmp_path, [KAT_FOX, KAT_EMPTY], how) == [(FOX, None),
                                                                         (b"", None)]
    assert c_decrypt(KAT_FOX) == (FOX, None)
    assert c_decrypt(KAT_EMPTY) == (b"", None)


def sizes(chunk):
    return sorted({0, 1, chunk - 1, chunk, chunk + 1, 5 * chunk + 3})


@pytest.mark.parametrize("chunk", [16, 65536])
def test_c_to_js(node, tmp_path, chunk):
    plains = [payload(n, chunk) for n in sizes(chunk)]
    datas = [c_encrypt(plain, 2, chunk) for plain in plains]
    want = node("length", chunk, *sizes(chunk)).stdout.split()
    assert [len(d) for d in datas] == [int(w) for w in want]
    for plain, data in zip(plains, datas):
        assert ref_decrypt(KEY, data) == plain
    for how in ("blob", "push", "stream"):
        got = js_decrypt(node, tmp_path, datas, how)
        for n, plain, (out, err) in zip(sizes(chunk), plains, got):
            assert err is None, (n, how, err)
            assert out == plain, (n, how)


@pytest.mark.parametrize("chunk", [16, 65536])
def test_js_to_c(node, tmp_path, chunk):
    plains = [payload(n, chunk + 1) for n in sizes(chunk)]
    want = subprocess.run([share_crypt_tool(), "length", str(chunk), *map(str, sizes(chunk))],
                          capture_output=True, text=True).stdout.split()
    for how in ("blob", "push"):
        datas = js_encrypt(node, tmp_path, plains, how, 3, chunk)
        for n, plain, data, w in zip(sizes(chunk), plains, datas, want):
            assert len(data) == int(w)
            assert data[9] == 3 and struct.unpack(">I", data[12:16])[0] == chunk
            assert ref_decrypt(KEY, data) == plain
            assert c_decrypt(data) == (plain, None), (n, how)


def damaged_files():
    """(name, bytes, expected 'CODE CHUNK') for a 40-byte file in 16-byte
    chunks (16 + 16 + 8) and a 48-byte one (three whole chunks)."""
    plain = payload(48, 9)
    a = c_encrypt(plain[:40], 1, 16)
    b = c_encrypt(plain, 1, 16)
    other = c_encrypt(plain[:40], 1, 16)
    c0, c1, c2 = 56, 88, 120

    def flip(data, i):
        return data[:i] + bytes([data[i] ^ 0x10]) + data[i + 1:]
    return [
        ("magic", flip(a, 3), "bad-header 0"),
        ("version", flip(a, 8), "bad-header 0"),
        ("reserved", flip(a, 11), "bad-header 0"),
        ("salt", flip(a, 20), "wrong-key 0"),
        ("key check", flip(a, 50), "wrong-key 0"),
        ("nonce prefix", flip(a, 33), "auth 0"),
        ("mode", a[:9] + b"\x02" + a[10:], "auth 0"),
        ("chunk 0", flip(a, c0 + 3), "auth 0"),
        ("chunk 1 tag", flip(a, c1 + 20), "auth 1"),
        ("chunk 2", flip(a, c2), "auth 2"),
        ("last tag", flip(a, len(a) - 1), "auth 2"),
        ("last chunk dropped", a[:c2], "truncated 1"),
        ("cut in a tag", a[:c1 + 20], "auth 1"),
        ("cut in chunk 1", a[:c1 + 5], "truncated 1"),
        ("header only", a[:c0], "truncated 0"),
        ("half a header", a[:30], "truncated 0"),
        ("empty", b"", "truncated 0"),
        ("chunks swapped", a[:c0] + a[c1:c2] + a[c0:c1] + a[c2:], "auth 0"),
        ("chunk repeated", a[:c1] + a[c0:], "auth 1"),
        ("chunk from another file", a[:c1] + other[c1:c2] + a[c2:], "auth 1"),
        ("another header", other[:c0] + a[c0:], "auth 0"),
        ("byte appended to a short final chunk", a + b"x", "auth 2"),
        ("bytes after a whole final chunk", b + b"xyz", "trailing 2"),
        ("a chunk after the final one", b + b[c0:c1], "trailing 2"),
    ]


def test_damaged_files(node, tmp_path):
    plain = payload(48, 9)
    cases = damaged_files()
    c_results = []
    for name, data, want in cases:
        out, err = c_decrypt(data)
        assert err == want, (name, "C", err)
        k = int(want.split()[1])
        assert out == plain[:16 * k], name
        c_results.append((out, err))
    for how in ("blob", "push", "stream"):
        got = js_decrypt(node, tmp_path, [data for _, data, _ in cases], how)
        for (name, _, _), c, js in zip(cases, c_results, got):
            assert js == c, (name, how)
    # A wrong key: nothing decrypted by either.
    data = c_encrypt(plain, 3, 16)
    wrong = "ff" + KEY_HEX[2:]
    assert c_decrypt(data, wrong) == (b"", "wrong-key 0")
    assert js_decrypt(node, tmp_path, [data], "push", wrong) == [(b"", "wrong-key 0")]


def test_lengths_agree(node):
    tool = share_crypt_tool()
    for chunk in (16, 17, 65536):
        plain = [0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk, 10 ** 9, 2 ** 32 * chunk,
                 2 ** 32 * chunk + 1]
        cipher = list(range(0, 56 + 3 * (chunk + 16) + 2, 1 if chunk < 100 else 997)) + [
            55, 71, 72, 73, 56 + chunk + 32, 56 + chunk + 33, 2 ** 40]
        for which, lens in (("length", plain), ("plain-length", cipher)):
            args = [which, str(chunk)] + [str(n) for n in lens]
            c = subprocess.run([tool] + args, capture_output=True, text=True).stdout.split()
            assert len(c) == len(lens)
            assert node(*args).stdout.decode().split() == c, (which, chunk)


def test_link_keys(node):
    tool = share_crypt_tool()
    for key in (KEY, bytes(32), b"\xff" * 32, os.urandom(32)):
        c = subprocess.run([tool, "link", key.hex()], capture_output=True,
                           text=True).stdout.strip()
        assert len(c) == 43
        assert node("link", key.hex()).stdout.decode().strip() == c
        assert node("unlink", c).stdout.decode().strip() == key.hex()
        assert node("fragment", "#k=" + c).stdout.decode().strip() == key.hex()
        assert node("fragment", "#x=1&k=" + c + "&y=2").stdout.decode().strip() == key.hex()
    link = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
    for bad in (link[:-1], link + "A", link[:-1] + "9", link + "=", link[:-2] + "+8"):
        c = subprocess.run([tool, "unlink", bad], capture_output=True, text=True)
        assert c.stdout.strip() == "invalid"
        p = node("unlink", bad, check=False)
        assert p.stdout.decode().strip() == "invalid" and p.returncode == 1
    assert node("fragment", "#x=1", check=False).stdout.decode().strip() == "invalid"
