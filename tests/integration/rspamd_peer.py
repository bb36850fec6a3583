"""A real rspamd milter for the milter tests: Debian's rspamd (3.4) run in
the foreground from a private configuration in a temporary directory, as
clamd_peer.py runs clamd. Only its proxy worker runs, in milter mode,
scanning the messages itself (an upstream with self_scan), on
127.0.0.1:PORT (a free port, never rspamd's usual 11332-11335).

- The configuration is Debian's /etc/rspamd/common.conf (rules, modules,
  actions) with our own top level and our own LOCAL_CONFDIR: nothing of
  /etc/rspamd/local.d, /etc/rspamd/override.d or the system's workers is
  used, and the system service (if any) is not touched.
- Its db, log and run directories are under the temporary directory.
- Nothing goes to the network: every module that asks DNS or HTTP (RBLs,
  SURBL, fuzzy check, SPF, DKIM, DMARC, ARC, ASN, hfilter, the maps of
  multimap, phishing, whitelist, mime_types, mid) and every module that
  wants redis is disabled; the resolver is `nameserver` (the tests' DNS
  server, or a port where nothing answers).
- URL detection uses a short list of TLDs: with the full public suffix
  list rspamd compiles it with hyperscan for about 20 s before it
  listens; with the short one it listens in about 1.5 s.
- Actions: reject at 15, rewrite subject at 10, add header (X-Spam: Yes)
  at 6, no greylisting. The GTUBE test string gets rspamd's own verdict,
  a 554 5.7.1 reply code. The header X-Postino-Test-Score: N adds the
  symbol POSTINO_TEST_SCORE with N points, so a test can choose the
  action.
- milter_headers adds X-Spamd-Result, X-Rspamd-Action, X-Rspamd-Server,
  X-Rspamd-Queue-Id and X-Spam-Status to every message (local and
  authenticated senders too) and removes an incoming X-Spam header.

rspamd negotiates the protocol flags SMFIP_NR_* for every step (it
answers nothing before the end of the body) whatever the MTA offered.

    with RspamdPeer() as rspamd:
        rspamd.address                  # "127.0.0.1:PORT"

or the `rspamd` fixture, which starts one for a test and stops it (its
process group) after it, printing its log when the test failed
(`rspamd_shared`: one for a whole module). Each skips the test when
rspamd is not installed or does not start in time.
"""

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from postino_testlib import pids_in_group

RSPAMD = "/usr/bin/rspamd"
CONFDIR = "/etc/rspamd"

# The GTUBE test string (public test data); rspamd rejects a message whose
# text contains it.
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
# rspamd's reply to it.
GTUBE_REPLY = "554 5.7.1 Gtube pattern"
# The header whose number becomes the score of POSTINO_TEST_SCORE.
SCORE_HEADER = "X-Postino-Test-Score"

START_TIMEOUT = 60      # seconds to wait for the milter port
STOP_TIMEOUT = 5        # seconds for a SIGTERM before SIGKILL (the hs_helper
                        # compiling regexps after start-up may not stop sooner)
RESERVED_PORTS = range(11330, 11340)  # rspamd's usual ports, the system service's

# Modules that ask DNS or HTTP, want redis or export data: disabled with
# local.d/NAME.conf "enabled = false;".
DISABLED_MODULES = (
    "antivirus", "arc", "asn", "bimi", "clickhouse", "dcc", "dkim", "dkim_signing",
    "dmarc", "elastic", "emails", "external_services", "fuzzy_check", "greylist",
    "hfilter", "history_redis", "metadata_exporter", "metric_exporter", "mid",
    "mime_types", "multimap", "mx_check", "neural", "p0f", "phishing", "ratelimit",
    "rbl", "replies", "reputation", "rspamd_update", "spamassassin", "spamtrap",
    "spf", "surbl", "url_redirector", "whitelist",
)

# A few TLDs for the URL detector (see the module's docstring).
TLDS = ("com", "org", "net", "edu", "gov", "info", "io", "de", "fr", "it", "uk",
        "co.uk", "example", "test", "invalid", "localhost")

TOP_CONF = """\
# rspamd for postino's tests: Debian's rules and modules, our own top level.
.include "$CONFDIR/common.conf"

options {
    pidfile = "$RUNDIR/rspamd.pid";
    .include "$CONFDIR/options.inc"
    .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/options.inc"
}

logging {
    type = "file";
    filename = "$LOGDIR/rspamd.log";
    .include "$CONFDIR/logging.inc"
    level = "info";
}

worker "rspamd_proxy" {
    bind_socket = "127.0.0.1:%(port)d";
    milter = yes;
    timeout = 120s;
    count = 1;
    max_retries = 1;
    upstream "local" {
        default = yes;
        self_scan = yes;
    }
    discard_on_reject = %(discard)s;
    quarantine_on_reject = %(quarantine)s;
    spam_header = "X-Spam";
    reject_message = "%(reject_message)s";
}
"""

OPTIONS_INC = """\
dns {
    nameserver = ["%(nameserver)s"];
    timeout = 0.5s;
    retransmits = 1;
}
url_tld = "%(tld)s";
"""

MILTER_HEADERS_CONF = """\
extended_spam_headers = true;
skip_local = false;
skip_authenticated = false;
use = ["x-spamd-result", "x-rspamd-action", "x-rspamd-server", "x-rspamd-queue-id",
       "x-spam-status", "remove-spam-flag"];
"""

ACTIONS_CONF = """\
reject = 15;
rewrite_subject = 10;
add_header = 6;
greylist = null;
subject = "***SPAM*** %s";
"""

LOCAL_LUA = """\
-- POSTINO_TEST_SCORE: the number in the header %(header)s, as points.
rspamd_config:register_symbol({
  name = 'POSTINO_TEST_SCORE',
  score = 1.0,
  group = 'postino_tests',
  description = 'Test score from the %(header)s header',
  callback = function(task)
    local value = task:get_header('%(header)s')
    local n = value and tonumber(value)
    if n then
      task:insert_result('POSTINO_TEST_SCORE', n)
    end
  end,
})
"""


def _port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _pick_port():
    """A free port below the ephemeral range and away from rspamd's own."""
    for _ in range(200):
        port = random.randrange(10000, 31000)
        if port not in RESERVED_PORTS and _port_free(port):
            return port
    raise RuntimeError("no free port for rspamd")


def _dead_nameserver():
    """A loopback UDP address where no DNS server answers."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return "127.0.0.1:%d" % port


class RspamdPeer:
    """rspamd's milter proxy from a private configuration under root/ (a
    temporary directory): config in root/, db root/db, log root/log/rspamd.log."""

    def __init__(self, nameserver=None, reject_message="Spam message rejected",
                 discard_on_reject=False, quarantine_on_reject=False,
                 timeout=START_TIMEOUT):
        self.root = None  # made by start()
        self.nameserver = nameserver or _dead_nameserver()
        self.reject_message = reject_message
        self.discard_on_reject = discard_on_reject
        self.quarantine_on_reject = quarantine_on_reject
        self.timeout = timeout
        self.port = None
        self.proc = None
        self.startup_seconds = None

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    @property
    def logfile(self):
        return os.path.join(self.root, "log", "rspamd.log")

    # --- configuration ---

    def _write(self, rel, text):
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    def write_config(self):
        for d in ("db", "log", "run", "local.d", "override.d"):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        self._write("rspamd.conf", TOP_CONF % {
            "port": self.port,
            "discard": "true" if self.discard_on_reject else "false",
            "quarantine": "true" if self.quarantine_on_reject else "false",
            "reject_message": self.reject_message.replace('"', "'"),
        })
        tld = os.path.join(self.root, "tld.dat")
        self._write("tld.dat", "".join(t + "\n" for t in TLDS))
        self._write("local.d/options.inc", OPTIONS_INC % {
            "nameserver": self.nameserver, "tld": tld})
        self._write("local.d/milter_headers.conf", MILTER_HEADERS_CONF)
        self._write("override.d/actions.conf", ACTIONS_CONF)
        self._write("rspamd.local.lua", LOCAL_LUA % {"header": SCORE_HEADER})
        for name in DISABLED_MODULES:
            self._write("local.d/%s.conf" % name, "enabled = false;\n")

    def command(self):
        cmd = [RSPAMD, "-f", "-c", os.path.join(self.root, "rspamd.conf"),
               "--var", "LOCAL_CONFDIR=" + self.root,
               "--var", "DBDIR=" + os.path.join(self.root, "db"),
               "--var", "RUNDIR=" + os.path.join(self.root, "run"),
               "--var", "LOGDIR=" + os.path.join(self.root, "log")]
        if os.geteuid() == 0:
            # rspamd refuses to run its workers as root without it
            cmd.append("-i")
        return cmd

    # --- starting ---

    def _answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def start(self):
        if not os.access(RSPAMD, os.X_OK) or not os.path.isfile(
                os.path.join(CONFDIR, "common.conf")):
            pytest.skip("%s is not installed (Debian package rspamd)" % RSPAMD)
        self.root = tempfile.mkdtemp(prefix="postino-it-rspamd-", dir="/tmp")
        self.port = _pick_port()
        self.write_config()
        began = time.monotonic()
        with open(os.path.join(self.root, "output"), "wb") as out:
            # rspamd writes its configuration errors to stdout
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = began + self.timeout
        while not self._answers():
            code = self.proc.poll()
            if code is not None or time.monotonic() > deadline:
                self.stop()
                why = ("exited with %r" % code if code is not None
                       else "not answering on %s after %g s" % (self.address, self.timeout))
                print("==== rspamd log (%s)\n%s\n%s" % (self.root, self.log()[-4000:],
                                                       self._output()))
                self.cleanup()
                pytest.skip("rspamd did not start: " + why)
            time.sleep(0.05)
        self.startup_seconds = time.monotonic() - began
        return self

    # --- what happened ---

    def log(self):
        if self.root is None:
            return ""
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def _output(self):
        try:
            with open(os.path.join(self.root, "output"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # --- stopping ---

    def stop(self):
        """SIGTERM to rspamd's process group (the main process and the
        workers it forked), SIGKILL to what is left of it after
        STOP_TIMEOUT."""
        if self.proc is None:
            return
        pgid = self.proc.pid  # start_new_session: the group is the main process's
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            self.proc.poll()  # reap the main process once it exits
            if not pids_in_group(pgid):
                break
            time.sleep(0.05)
        else:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(10)
        self.proc = None

    def cleanup(self):
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        self.cleanup()


def _run_peer(failed, dns):
    peer = RspamdPeer(nameserver=dns.address)
    try:
        yield peer.start()
    finally:
        peer.stop()
        if peer.root is not None and failed():
            print("==== rspamd log (%s)" % peer.root)
            print(peer.log())
        if peer.root is not None and (failed() or os.environ.get("POSTINO_KEEP")):
            print("==== kept: %s" % peer.root)
        else:
            peer.cleanup()


@pytest.fixture
def rspamd(request, dns):
    """A running rspamd milter (RspamdPeer) for one test, resolving through
    the session's test DNS server; its log is printed when the test
    failed, and its directory kept with POSTINO_KEEP=1."""
    def failed():
        rep = getattr(request.node, "rep_call", None)
        return rep is not None and rep.failed
    yield from _run_peer(failed, dns)


@pytest.fixture(scope="module")
def rspamd_shared(request, dns):
    """Like `rspamd`, one for all the tests of a module (rspamd keeps no
    state between messages here: no redis, no statistics); its log is
    printed when a test of the session failed meanwhile."""
    failed_before = request.session.testsfailed
    yield from _run_peer(lambda: request.session.testsfailed > failed_before, dns)
