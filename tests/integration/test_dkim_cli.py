"""postino dkim (keygen, list, show, del) and postino dns-records, run as
the real binary. The public keys printed are checked against the stored
private keys with openssl and by signing with dkimpy (python3-dkim), the
TXT value printed serving as the DNS answer."""

import base64
import grp
import json
import os
import pwd
import re
import subprocess
import time

import pytest

import dnslib

from postino_testlib import DOMAIN

dkim = pytest.importorskip("dkim")

HOSTNAME = "mail.example.test"


@pytest.fixture
def srv(make_server):
    """An initialised (not running) instance for example.test."""
    return make_server(users=("bob",), start=False, hostname=HOSTNAME)


def default_selector(kind):
    return "s%s%s" % (time.strftime("%Y%m", time.gmtime()), kind)


def key_path(srv, selector, domain=DOMAIN):
    return os.path.join(srv.dir, "dkim", domain, selector + ".pem")


def txt_records(text):
    """{name: value} of the TXT records in zone-file text (strings joined),
    parsed by dnslib's zone-file reader."""
    out = {}
    for rr in dnslib.RR.fromZone(text):
        if rr.rtype == dnslib.QTYPE.TXT:
            out[str(rr.rname).rstrip(".")] = b"".join(rr.rdata.data).decode("ascii")
    return out


def record_of(text, selector, domain=DOMAIN):
    recs = txt_records("\n".join(l for l in text.splitlines() if "IN TXT" in l))
    name = "%s._domainkey.%s" % (selector, domain)
    assert name in recs, text
    return recs[name]


def tags(value):
    return dict(t.strip().split("=", 1) for t in value.split(";") if t.strip())


def openssl(*args, input=None):
    return subprocess.run(["openssl"] + list(args), input=input, capture_output=True,
                          check=True, timeout=60).stdout


def public_der(path):
    return openssl("pkey", "-in", path, "-pubout", "-outform", "DER")


MESSAGE = (b"From: Bob <bob@example.test>\r\n"
           b"To: someone@remote.example\r\n"
           b"Subject: signed with the stored key\r\n"
           b"Message-ID: <1@example.test>\r\n"
           b"\r\n"
           b"Hello.\r\n")


def dkimpy_roundtrip(path, selector, value, ed25519):
    """Sign MESSAGE with the key file (dkimpy), verify it with value as the
    answer of the DNS; also with another value, which must fail."""
    with open(path, "rb") as f:
        pem = f.read()
    if ed25519:
        # dkimpy wants the 32-byte seed, base64: the end of the PKCS#8 DER
        der = openssl("pkey", "-in", path, "-outform", "DER")
        priv, alg = base64.b64encode(der[-32:]), b"ed25519-sha256"
    else:
        priv, alg = pem, b"rsa-sha256"
    sig = dkim.sign(MESSAGE, selector.encode(), DOMAIN.encode(), priv,
                    signature_algorithm=alg, include_headers=[b"from", b"to", b"subject"])
    signed = sig + MESSAGE
    asked = []

    def dnsfunc(name, timeout=5):
        asked.append(name)
        return value.encode("ascii")

    assert dkim.verify(signed, dnsfunc=dnsfunc)
    assert asked == [("%s._domainkey.%s." % (selector, DOMAIN)).encode()]
    return signed


def check_owner_and_mode(srv, path, mode):
    st = os.stat(path)
    assert st.st_mode & 0o7777 == mode, (path, oct(st.st_mode))
    if os.getuid() == 0:
        # as root: the service user owns them (it signs)
        assert st.st_uid == pwd.getpwnam("postino").pw_uid, path
        assert st.st_gid == grp.getgrnam("postino").gr_gid, path
    else:
        assert st.st_uid == os.getuid()


def test_keygen_rsa(srv):
    r = srv.cli("dkim", "keygen", DOMAIN)
    sel = default_selector("r")
    path = key_path(srv, sel)
    assert path in r.out
    assert "Publish this TXT record" in r.out
    value = record_of(r.out, sel)
    t = tags(value)
    assert t["v"] == "DKIM1" and t["k"] == "rsa", value
    # the printed key is the public half of the stored one
    assert base64.b64decode(t["p"]) == public_der(path)
    assert "2048" in openssl("pkey", "-in", path, "-noout", "-text").decode()
    # long records are split into strings of at most 255 octets
    line = [l for l in r.out.splitlines() if "IN TXT" in l][0]
    parts = re.findall(r'"([^"]*)"', line)
    assert len(parts) == 2 and all(len(p) <= 255 for p in parts), parts
    assert len(parts[0]) == 255
    check_owner_and_mode(srv, path, 0o640)
    check_owner_and_mode(srv, os.path.dirname(path), 0o750)
    check_owner_and_mode(srv, os.path.dirname(os.path.dirname(path)), 0o750)
    dkimpy_roundtrip(path, sel, value, ed25519=False)
    # a record of another key does not verify a signature of this one
    other = srv.cli("dkim", "keygen", DOMAIN, "--selector", "other")
    with pytest.raises(AssertionError):
        dkimpy_roundtrip(path, sel, record_of(other.out, "other"), ed25519=False)


def test_keygen_ed25519(srv):
    r = srv.cli("dkim", "keygen", DOMAIN, "--type", "ed25519")
    sel = default_selector("e")
    path = key_path(srv, sel)
    value = record_of(r.out, sel)
    t = tags(value)
    assert t["k"] == "ed25519", value
    raw = base64.b64decode(t["p"])
    # RFC 8463: p= is the raw 32-byte key, the end of the SubjectPublicKeyInfo
    assert len(raw) == 32 and public_der(path)[-32:] == raw
    check_owner_and_mode(srv, path, 0o640)
    dkimpy_roundtrip(path, sel, value, ed25519=True)
    # both types of one domain coexist under their default selectors
    srv.cli("dkim", "keygen", DOMAIN)
    data = json.loads(srv.cli("dkim", "list", "--json").out)
    assert sorted((k["selector"], k["type"]) for k in data) == \
        [(default_selector("e"), "ed25519"), (default_selector("r"), "rsa")]


def test_keygen_options(srv):
    srv.cli("dkim", "keygen", DOMAIN.upper(), "--selector", "Big", "--bits", "3072")
    srv.cli("dkim", "keygen", DOMAIN, "--selector=ed", "--type=ed25519")
    data = json.loads(srv.cli("dkim", "list", "--json").out)
    by = {k["selector"]: k for k in data}
    assert set(by) == {"big", "ed"}
    big = by["big"]
    assert big["domain"] == DOMAIN and big["type"] == "rsa" and big["bits"] == 3072
    assert big["active"] is True and big["ok"] is True and big["problem"] is None
    assert big["dns_name"] == "big._domainkey.example.test"
    assert abs(big["created"] - time.time()) < 300
    assert by["ed"]["type"] == "ed25519"
    # the options of keygen may come after --config FILE
    srv.cli("dkim", "--config", srv.conf, "keygen", DOMAIN, "--selector", "early", config=False)
    assert os.path.exists(key_path(srv, "early"))
    assert "3072" in openssl("pkey", "-in", key_path(srv, "big"), "-noout", "-text").decode()


@pytest.mark.parametrize("args,status,words", [
    (["keygen", "unknown.example"], 1, ["unknown.example", "not one of our domains"]),
    (["keygen", DOMAIN, "--type", "dsa"], 2, ["dsa", "rsa or ed25519"]),
    (["keygen", DOMAIN, "--bits", "1024"], 2, ["2048, 3072 or 4096"]),
    (["keygen", DOMAIN, "--bits", "lots"], 2, ["lots"]),
    (["keygen", DOMAIN, "--type", "ed25519", "--bits", "2048"], 2, ["--bits"]),
    (["keygen", DOMAIN, "--selector", "../evil"], 2, ["../evil", "selector"]),
    (["keygen", DOMAIN, "--selector", "a/b"], 2, ["a/b"]),
    (["keygen", DOMAIN, "--selector"], 2, ["--selector"]),
    (["keygen"], 2, ["usage: postino dkim"]),
    (["keygen", DOMAIN, "extra"], 2, ["usage: postino dkim"]),
    (["keygen", DOMAIN, "--frobnicate"], 2, ["--frobnicate"]),
    (["nonsense"], 2, ["usage: postino dkim"]),
    (["del", DOMAIN], 2, ["usage: postino dkim"]),
    (["del", DOMAIN, "nosuch"], 1, ["nosuch"]),
    (["show", DOMAIN, "nosuch"], 1, ["nosuch"]),
    (["show", DOMAIN], 1, ["postino dkim keygen " + DOMAIN]),
])
def test_errors(srv, args, status, words):
    r = srv.cli("dkim", *args, check=False)
    assert r.returncode == status, (args, r.returncode, r.out, r.err)
    assert r.err.startswith("postino: ") or r.err.startswith("usage: "), r.err
    for w in words:
        assert w in r.err, (args, r.err)
    # nothing was stored
    assert json.loads(srv.cli("dkim", "list", "--json").out) == []
    assert not os.path.exists(os.path.join(srv.dir, "dkim", "unknown.example"))
    assert not os.path.exists(os.path.join(srv.dir, "evil.pem"))


def test_duplicate_selector(srv):
    srv.cli("dkim", "keygen", DOMAIN, "--selector", "one")
    path = key_path(srv, "one")
    with open(path, "rb") as f:
        before = f.read()
    for args in (["--selector", "one"], ["--selector", "ONE", "--type", "ed25519"]):
        r = srv.cli("dkim", "keygen", DOMAIN, *args, check=False)
        assert r.returncode == 1, r.err
        assert "already has a DKIM key with selector one" in r.err
    with open(path, "rb") as f:
        assert f.read() == before
    srv.cli("dkim", "keygen", DOMAIN, check=True)
    r = srv.cli("dkim", "keygen", DOMAIN, check=False)
    assert r.returncode == 1 and "--selector" in r.err, r.err
    # another domain may use the same selector
    srv.add_domain("other.test")
    srv.cli("dkim", "keygen", "other.test", "--selector", "one")
    assert os.path.exists(key_path(srv, "one", "other.test"))


def test_list_show_del(srv):
    rsa = srv.cli("dkim", "keygen", DOMAIN, "--selector", "r1")
    ed = srv.cli("dkim", "keygen", DOMAIN, "--selector", "e1", "--type", "ed25519")
    srv.add_domain("other.test")
    srv.cli("dkim", "keygen", "other.test", "--selector", "x", "--type", "ed25519")

    lines = srv.cli("dkim", "list").out.splitlines()
    assert len(lines) == 3, lines
    day = time.strftime("%Y-%m-%d", time.gmtime())
    assert "example.test e1 ed25519 256 %s active e1._domainkey.example.test" % day in lines
    assert "example.test r1 rsa 2048 %s active r1._domainkey.example.test" % day in lines
    assert [k["selector"] for k in json.loads(srv.cli("dkim", "list", "other.test",
                                                      "--json").out)] == ["x"]

    # show prints the records keygen printed
    r = srv.cli("dkim", "show", DOMAIN, "r1")
    assert record_of(r.out, "r1") == record_of(rsa.out, "r1")
    r = srv.cli("dkim", "show", "EXAMPLE.test")
    assert record_of(r.out, "r1") == record_of(rsa.out, "r1")
    assert record_of(r.out, "e1") == record_of(ed.out, "e1")
    assert "x._domainkey" not in r.out

    # a domain with keys cannot be deleted
    r = srv.cli("domain", "del", "other.test", check=False)
    assert r.returncode == 1 and "DKIM" in r.err, r.err

    r = srv.cli("dkim", "del", DOMAIN, "r1")
    assert "r1._domainkey.example.test" in r.out
    assert not os.path.exists(key_path(srv, "r1"))
    assert os.path.exists(key_path(srv, "e1"))
    assert [k["selector"] for k in json.loads(srv.cli("dkim", "list", "--json").out)] == \
        ["e1", "x"]
    r = srv.cli("dkim", "del", DOMAIN, "r1", check=False)
    assert r.returncode == 1 and "r1" in r.err
    srv.cli("dkim", "del", "other.test", "X")
    assert not os.path.exists(os.path.join(srv.dir, "dkim", "other.test"))
    srv.cli("domain", "del", "other.test")


def test_activate_deactivate(srv):
    srv.cli("dkim", "keygen", DOMAIN, "--selector", "a")
    srv.cli("dkim", "deactivate", DOMAIN, "a")
    [k] = json.loads(srv.cli("dkim", "list", "--json").out)
    assert k["active"] is False
    assert "inactive" in srv.cli("dkim", "list").out
    # dns-records lists the active keys only
    assert "a._domainkey" not in srv.cli("dns-records", DOMAIN).out
    srv.cli("dkim", "activate", DOMAIN, "a")
    [k] = json.loads(srv.cli("dkim", "list", "--json").out)
    assert k["active"] is True
    assert "a._domainkey" in srv.cli("dns-records", DOMAIN).out
    r = srv.cli("dkim", "activate", DOMAIN, "nosuch", check=False)
    assert r.returncode == 1


@pytest.mark.parametrize("damage", ["missing", "garbage", "ec-key"])
def test_unreadable_key_reported(srv, damage):
    srv.cli("dkim", "keygen", DOMAIN, "--selector", "good")
    srv.cli("dkim", "keygen", DOMAIN, "--selector", "bad", "--type", "ed25519")
    assert srv.cli("check-config").returncode == 0
    path = key_path(srv, "bad")
    if damage == "missing":
        os.unlink(path)
    elif damage == "garbage":
        with open(path, "w") as f:
            f.write("not a key\n")
    else:
        with open(path, "wb") as f:
            f.write(openssl("genpkey", "-algorithm", "EC", "-pkeyopt",
                            "ec_paramgen_curve:P-256"))
    r = srv.cli("dkim", "list")
    assert r.returncode == 0
    bad = [l for l in r.out.splitlines() if " bad " in l]
    assert len(bad) == 1 and "BROKEN" in bad[0] and path in bad[0], r.out
    assert "bad" in r.err
    data = {k["selector"]: k for k in json.loads(srv.cli("dkim", "list", "--json").out)}
    assert data["good"]["ok"] is True and data["good"]["problem"] is None
    assert data["bad"]["ok"] is False and path in data["bad"]["problem"]

    r = srv.cli("check-config", check=False)
    assert r.returncode == 1, (r.out, r.err)
    assert "DKIM key bad of example.test" in r.err and path in r.err, r.err
    assert "DKIM key good" not in r.err
    r = srv.cli("dkim", "show", DOMAIN, "bad", check=False)
    assert r.returncode == 1 and path in r.err

    # dns-records leaves it out and says so
    r = srv.cli("dns-records", DOMAIN)
    assert "good._domainkey" in r.out and "bad._domainkey" not in r.out
    assert "bad" in r.err

    srv.cli("dkim", "del", DOMAIN, "bad")
    assert srv.cli("check-config").returncode == 0


def test_dns_records(srv):
    r = srv.cli("dns-records", DOMAIN)
    text = r.out
    # without keys: a line saying how to make one
    assert "postino dkim keygen %s" % DOMAIN in text
    for line in text.splitlines():
        assert line.startswith(";") or " IN " in line, line
    srv.cli("dkim", "keygen", DOMAIN)
    srv.cli("dkim", "keygen", DOMAIN, "--type", "ed25519")
    text = srv.cli("dns-records", DOMAIN).out
    assert "postino dkim keygen" not in text
    # every record follows a comment line saying why
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith(";"):
            assert lines[i - 1].startswith(";"), (line, lines[i - 1])

    rrs = dnslib.RR.fromZone(text)  # valid zone-file syntax
    mx = [rr for rr in rrs if rr.rtype == dnslib.QTYPE.MX]
    assert len(mx) == 1 and str(mx[0].rname) == DOMAIN + "."
    assert str(mx[0].rdata.label) == HOSTNAME + "." and mx[0].rdata.preference == 10
    txt = txt_records(text)
    assert txt[DOMAIN] == "v=spf1 mx -all"
    assert txt["_dmarc." + DOMAIN] == "v=DMARC1; p=none; rua=mailto:postmaster@" + DOMAIN
    assert re.fullmatch(r"v=STSv1; id=[A-Za-z0-9]{1,32}", txt["_mta-sts." + DOMAIN])
    assert txt["_smtp._tls." + DOMAIN] == "v=TLSRPTv1; rua=mailto:postmaster@" + DOMAIN
    shown = srv.cli("dkim", "show", DOMAIN).out
    for kind in "re":
        name = "%s._domainkey.%s" % (default_selector(kind), DOMAIN)
        assert txt[name] == record_of(shown, default_selector(kind))
    # notes: other senders in SPF, moving DMARC on, the MTA-STS policy file
    assert "include:" in text
    assert "quarantine" in text and "reject" in text
    assert "https://mta-sts.%s/.well-known/mta-sts.txt" % DOMAIN in text
    assert ";   mode: testing" in text and ";   mx: %s" % HOSTNAME in text
    # the id is stable while the policy is
    assert srv.cli("dns-records", DOMAIN).out == text

    data = json.loads(srv.cli("dns-records", DOMAIN, "--json").out)
    assert all(set(d) == {"name", "type", "value", "why"} for d in data), data
    assert all(d["why"] for d in data)
    got = {(d["name"], d["type"]): d["value"] for d in data}
    assert got[(DOMAIN, "MX")] == "10 " + HOSTNAME
    for name, value in txt.items():
        assert got[(name, "TXT")] == value, name
    policy = got[("https://mta-sts.%s/.well-known/mta-sts.txt" % DOMAIN, "file")]
    assert policy.splitlines()[:3] == ["version: STSv1", "mode: testing", "mx: " + HOSTNAME]
    assert re.search(r"^max_age: \d+$", policy, re.M)


def test_dns_records_errors(srv):
    r = srv.cli("dns-records", "unknown.example", check=False)
    assert r.returncode == 1 and "unknown.example" in r.err
    r = srv.cli("dns-records", check=False)
    assert r.returncode == 2 and "usage: postino dns-records" in r.err
    r = srv.cli("dns-records", DOMAIN, "--bogus", check=False)
    assert r.returncode == 2


@pytest.mark.parametrize("sub", ["keygen", "list", "show", "del", "activate"])
def test_help(srv, sub):
    r = srv.cli("dkim", sub, "--help")
    assert r.returncode == 0 and "usage: postino dkim %s" % sub in r.out, r.out
