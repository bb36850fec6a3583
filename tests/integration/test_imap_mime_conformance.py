"""MIME conformance over the wire: each of the 121 messages behind
Dovecot 2.3.19's reference answers (tests/testdata/mime/imap-fixtures/
dovecot-2.3.19-reference) is APPENDed to postino as Dovecot got it (every
bare LF turned into CRLF, bare CR left alone), and postino's answer to
FETCH n (RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE) is compared with
Dovecot's after lowercasing (RFC 3501 leaves the case of atoms and of
parameter names free). The target is 95 % identical; every difference is
listed below with its reason, so a new one fails the test, and so does
one that goes away."""

import os
import re

import pytest

from imap_raw import RawIMAP
from postino_testlib import REPO

FIXTURES = os.path.join(REPO, "tests", "testdata", "mime", "imap-fixtures")
REFERENCE = os.path.join(FIXTURES, "dovecot-2.3.19-reference")
STALWART = os.path.join(REPO, "tests", "testdata", "mime", "stalwart-mail-parser", "resources",
                        "eml")

# Name of the reference -> why postino's answer differs.
EXPECTED_DIFFERENCES = {
    "legacy_049": "the file ends in a bare CR; Dovecot's save path added an LF after it (size "
                  "and line count one more); postino keeps the octets as given",
}


def message_path(name):
    group, _, num = name.rpartition("_")
    if group.startswith("dovecot-"):
        return os.path.join(FIXTURES, group, num + ".eml")
    return os.path.join(STALWART, group, num + ".eml")


def as_dovecot_got_it(data):
    """Every LF not after a CR becomes CRLF."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


def references():
    return sorted(f[:-len(".fetch")] for f in os.listdir(REFERENCE) if f.endswith(".fetch"))


def test_there_are_121_references():
    assert len(references()) == 121


@pytest.mark.timeout(300)
def test_fetch_matches_dovecot(make_server):
    srv = make_server(users=("bob",), message_size_limit="10M")
    c = RawIMAP(srv.imaps_port)
    c.login("bob@example.test")
    names = references()
    for name in names:
        data = as_dovecot_got_it(open(message_path(name), "rb").read())
        c.send(b"a APPEND INBOX {%d+}\r\n" % len(data) + data + b"\r\n")
        tagged, _ = c.until("a")
        assert tagged.startswith(b"a OK"), (name, tagged)
    tagged, _ = c.cmd("SELECT INBOX")
    assert b"OK" in tagged
    same, differ = [], {}
    for i, name in enumerate(names, start=1):
        tagged, lines = c.cmd("FETCH %d (RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE)" % i)
        assert tagged.startswith(b"t") and b" OK " in tagged, (name, tagged)
        got = [ln for ln in lines if ln.startswith(b"* %d FETCH " % i)]
        assert len(got) == 1, (name, lines)
        # "* n FETCH (...)" against the reference's "1 (...)".
        ours = got[0][len(b"* %d FETCH " % i):]
        ref = open(os.path.join(REFERENCE, name + ".fetch"), "rb").read().rstrip(b"\r\n")
        assert ref.startswith(b"1 ("), name
        ref = ref[len(b"1 "):]
        if ours.lower() == ref.lower():
            same.append(name)
        else:
            differ[name] = (ours, ref)
    unexpected = {n: d for n, d in differ.items() if n not in EXPECTED_DIFFERENCES}
    assert not unexpected, "new differences:\n" + "\n".join(
        "%s:\n  postino %r\n  dovecot %r" % (n, o[:400], r[:400])
        for n, (o, r) in unexpected.items())
    gone = [n for n in EXPECTED_DIFFERENCES if n not in differ]
    assert not gone, "listed differences that no longer differ: %r" % gone
    assert len(same) / len(names) >= 0.95, (len(same), len(names))
    print("identical: %d of %d" % (len(same), len(names)))
