"""Reading the reports of `postino probe` and `postino selfcheck`
(probe/probe-report.h) in the tests: the JSON form, and the text form
checked against it."""

import json
import re


def run_report(srv, command, *args):
    """Run the command in JSON and in text (two runs); (exit status,
    report, text). Every check of the JSON is asserted to be a line of the
    text."""
    r = srv.cli(command, "--json", *args, check=False)
    assert r.returncode in (0, 1), (r.returncode, r.out, r.err)
    doc = json.loads(r.out)
    t = srv.cli(command, *args, check=False)
    print(t.out)  # shown when the test fails
    same_in_text(doc, t.out)
    assert t.returncode == r.returncode, (t.out, r.out)
    return r.returncode, doc, t.out


def same_in_text(doc, text):
    """Every check of the JSON report is a line of the text report (a run
    of its own), with its verdict and why, in the same order; the summary
    line agrees."""
    lines = [ln for ln in text.splitlines() if re.match(r"^   (ok|warn|fail|info) ", ln)]
    want = ["   %-5s %-18s %s" % (c["verdict"], c["id"], c["why"])
            for s in doc["sections"] for c in s["checks"]]
    # two runs: times and counts of days may differ
    num = re.compile(r"\d+(\.\d+)?")
    assert [num.sub("N", x) for x in lines] == [num.sub("N", x) for x in want], (lines, want)
    sm = doc["summary"]
    assert "Result: %d ok, %d warning%s, %d failure%s" % (
        sm["ok"], sm["warn"], "" if sm["warn"] == 1 else "s", sm["fail"],
        "" if sm["fail"] == 1 else "s") in text


def checks(doc, section=None):
    """{check id: [(verdict, why)]} of one section (by id prefix) or all."""
    out = {}
    for s in doc["sections"]:
        if section and not s["id"].startswith(section):
            continue
        for c in s["checks"]:
            out.setdefault(c["id"], []).append((c["verdict"], c["why"]))
    return out


def verdict(doc, check, section=None):
    vs = checks(doc, section).get(check)
    assert vs, "no %s check in %s" % (check, json.dumps(doc, indent=1))
    return vs[0]


def in_text(text, level, check, why_part):
    """The text report has the line `level check ... why_part`."""
    pat = r"^\s+%s\s+%s\s+.*%s" % (re.escape(level), re.escape(check), re.escape(why_part))
    assert re.search(pat, text, re.M), "%r not in\n%s" % ((level, check, why_part), text)
