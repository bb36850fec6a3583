"""The RFC 7208 SPF test suite (tests/testdata/spf/rfc7208-tests.yml, from pyspf)
against postino's SPF evaluation.

Each scenario's zone is handed to build-test/tests/unit/spf-tool, which
runs the same evaluation the server does, answering its DNS queries from
the zone. Served as pyspf's driver serves it: an SPF record is also a TXT
record unless the name has TXT data of its own ("TXT: NONE" means none),
TIMEOUT makes a name (or one type of it) time out, a name not in the zone
does not exist, and the explanation is compared with "DEFAULT" standing
for the default one."""

import os
import subprocess

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
SUITE = os.path.join(HERE, "..", "testdata", "spf", "rfc7208-tests.yml")

# Cases not run, each with the reason.
SKIPPED = {}


def tool_path():
    binary = os.environ.get("POSTINO_BIN", os.path.join(HERE, "..", "..", "build-test", "postino"))
    return os.path.join(os.path.dirname(os.path.abspath(binary)), "tests", "unit", "spf-tool")


def load_scenarios():
    with open(SUITE, encoding="latin-1") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


def as_text(v):
    if isinstance(v, list):
        return "".join(str(x) for x in v)
    return str(v)


def zone_lines(zonedata):
    lines = []
    for name, records in (zonedata or {}).items():
        records = records or []
        has_txt = any(isinstance(r, dict) and "TXT" in r for r in records)
        for r in records:
            if r == "TIMEOUT":
                lines.append("TIMEOUT\t%s" % name)
                continue
            for rtype, value in r.items():
                if rtype == "SPF":
                    if has_txt:
                        continue  # SPF type records themselves are not used (RFC 7208 3.1)
                    rtype = "TXT"
                if rtype == "TXT" and value == "NONE":
                    continue
                if rtype == "MX":
                    value = "%s %s" % (value[0], value[1])
                value = as_text(value)
                if rtype == "TXT" and value != "TIMEOUT":
                    value = value.encode("latin-1").hex()
                lines.append("ZONE\t%s\t%s\t%s" % (name, rtype, value))
    return lines


def run_scenario(scenario):
    lines = zone_lines(scenario.get("zonedata"))
    for name, case in scenario["tests"].items():
        lines.append("CASE\t%s\t%s\t%s\t%s" % (name, case.get("helo", ""), case["host"],
                                              case.get("mailfrom", "")))
    p = subprocess.run([tool_path()], input=("\n".join(lines) + "\n").encode("latin-1"),
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    out = {}
    for line in p.stdout.decode("latin-1").splitlines():
        name, result, expl, queries, reason = line.split("\t", 4)
        out[name] = (result, expl, int(queries), reason)
    return out


SCENARIOS = load_scenarios() if os.path.exists(SUITE) else []
CASES = [(i, name) for i, sc in enumerate(SCENARIOS) for name in sc["tests"]]
_results = {}


def results_of(i):
    if i not in _results:
        _results[i] = run_scenario(SCENARIOS[i])
    return _results[i]


def test_suite_present():
    assert len(CASES) == 203, "the RFC 7208 suite has 203 cases; found %d" % len(CASES)


@pytest.mark.parametrize("index,name", CASES, ids=[name for _, name in CASES])
def test_rfc7208_case(index, name):
    if name in SKIPPED:
        pytest.skip(SKIPPED[name])
    case = SCENARIOS[index]["tests"][name]
    expected = case["result"]
    expected = expected if isinstance(expected, list) else [expected]
    result, expl, queries, reason = results_of(index)[name]
    assert result in expected, ("%s (%s): got %s (%s), want %s" %
                                (name, SCENARIOS[index]["description"], result, reason,
                                 " or ".join(expected)))
    if "explanation" in case and result == "fail":
        assert expl == case["explanation"], (name, expl, case["explanation"])
