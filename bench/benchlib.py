"""Shared parts of the benchmarks in bench/ (smtp-accept, tls-handshake, smtp-relay, imap, share).

Running commands, picking free loopback ports, CPU accounting through a
cgroup per server, the private Postfix instance and postino started in a
scratch directory, their queues, and the quiet-machine wait before a run.  Python 3
standard library only.  Not a test: CI does not run the benchmarks.
"""

import os
import pwd
import shutil
import signal
import socket
import statistics
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DOMAIN = "bench.test"

POSTFIX = "/usr/sbin/postfix"
POSTCONF = "/usr/sbin/postconf"
POSTMAP = "/usr/sbin/postmap"
POSTSUPER = "/usr/sbin/postsuper"
SMTP_SOURCE = "/usr/sbin/smtp-source"

# The services `postino init --port-base N` puts at N + these ports.
POSTINO_PORTS = (25, 587, 465, 143, 993, 110, 995, 443)

QUIET_BUSY = 0.25  # a second counts as quiet below this many CPU-seconds busy
QUIET_WAIT = 10  # seconds to wait at most for such a second before a run


class BenchError(Exception):
    """Something that stops the benchmark (setup, start, stop)."""


class RunFailed(Exception):
    """One measurement did not complete; the others may still run."""


def log(msg=""):
    print(msg, flush=True)


def tail(path, lines=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return f"(cannot read {path}: {e})"


def run(cmd, check=True, **kw):
    """Run a command to completion, output captured; raise BenchError on failure."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.STDOUT)
    kw.setdefault("stdin", subprocess.DEVNULL)
    r = subprocess.run(cmd, **kw)
    if check and r.returncode != 0:
        out = r.stdout.decode(errors="replace") if r.stdout else ""
        raise BenchError(f"{' '.join(map(str, cmd))} exited {r.returncode}\n{out}")
    return r


def catch_signals():
    """Make Ctrl-C, SIGTERM and SIGHUP unwind (KeyboardInterrupt) through finally."""
    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)


def ignore_signals():
    """While cleaning up: a second Ctrl-C must not cut the cleanup short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def private_copy(binary, directory):
    """A copy of the binary under test, so that a rebuild during the run
    cannot change or break what is measured."""
    dst = os.path.join(directory, os.path.basename(binary))
    shutil.copy2(binary, dst)
    return dst


def count_files_tree(directory):
    """Files anywhere under directory (0 if it does not exist)."""
    n = 0
    for _dirpath, _dirs, files in os.walk(directory):
        n += len(files)
    return n


def wait_queue_empty(server, timeout):
    """Wait (up to timeout s) for server.queue_count() to be 0; what is left."""
    deadline = time.monotonic() + timeout
    while True:
        n = server.queue_count()
        if n == 0:
            return 0
        if time.monotonic() > deadline:
            return n
        time.sleep(0.05)


def git_rev():
    r = run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], check=False)
    return r.stdout.decode().strip() if r.returncode == 0 else None


# --------------------------------------------------------------------------
# ports


def port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def pick_port(start, avoid=()):
    for port in range(start, start + 1000):
        if port not in avoid and port_free(port):
            return port
    raise BenchError(f"no free port in {start}..{start + 999}")


def pick_port_base(start, avoid=()):
    for base in range(start, 60000, 1000):
        ports = [base + p for p in POSTINO_PORTS]
        if not any(p in avoid for p in ports) and all(port_free(p) for p in ports):
            return base
    raise BenchError("no free port base for postino")


def read_greeting(f):
    """The last line of an SMTP reply read from the file object f."""
    line = f.readline()
    while line[3:4] == b"-":
        line = f.readline()
    return line


def wait_smtp_ready(port, timeout, alive=None, what="server"):
    """Wait until 127.0.0.1:port answers with an SMTP 220 greeting."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise BenchError(f"{what} exited before it listened on port {port}")
        try:
            # The file object holds the socket open until it is closed itself.
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s, \
                    s.makefile("rb") as f:
                line = read_greeting(f)
                if line.startswith(b"220"):
                    s.sendall(b"QUIT\r\n")
                    f.readline()
                    return
                last = line
        except OSError as e:
            last = e
        time.sleep(0.1)
    raise BenchError(f"{what} did not greet on port {port} within {timeout}s (last: {last!r})")


# --------------------------------------------------------------------------
# the machine


def machine_busy_ns():
    """CPU time the whole machine spent busy, from /proc/stat (all CPUs)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    busy = v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)
    return busy * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def wait_quiet(limit=QUIET_WAIT):
    """Wait (up to limit s) for a second in which the machine is nearly idle.

    Deleting thousands of files leaves the kernel work to do for a while,
    and other jobs on a shared machine come and go; starting a run in the
    middle of either makes it slower than the others.  True if quiet.
    """
    deadline = time.monotonic() + limit
    while True:
        b0 = machine_busy_ns()
        time.sleep(1)
        if machine_busy_ns() - b0 < QUIET_BUSY * 1e9:
            return True
        if time.monotonic() > deadline:
            return False


# --------------------------------------------------------------------------
# cgroups: CPU of a whole process tree, including children that have exited


class CpuCgroup:
    """A cgroup of our own that a server's start command is put into.

    cgroup v1 cpuacct (cpuacct.usage, ns) when mounted, else cgroup v2
    (cpu.stat usage_usec).  Both count the CPU of processes that have
    already exited, which getrusage() of a daemon tree cannot.
    """

    def __init__(self, name):
        v1 = "/sys/fs/cgroup/cpuacct"
        v2 = None
        for cand in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
            if os.path.exists(os.path.join(cand, "cgroup.controllers")):
                v2 = cand
                break
        if os.path.exists(os.path.join(v1, "cpuacct.usage")):
            self.kind, base = "v1", v1
        elif v2:
            self.kind, base = "v2", v2
        else:
            raise BenchError("no cgroup v1 cpuacct or cgroup v2 hierarchy is mounted")
        self.path = os.path.join(base, name)
        try:
            os.mkdir(self.path)
        except FileExistsError:
            pass
        except OSError as e:
            raise BenchError(f"cannot create cgroup {self.path}: {e}")

    def enter(self):
        """preexec_fn: move the calling (child) process into this cgroup."""
        with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))

    def usage(self):
        """(total, user, system) CPU in nanoseconds."""
        if self.kind == "v1":
            vals = []
            for name in ("cpuacct.usage", "cpuacct.usage_user", "cpuacct.usage_sys"):
                try:
                    with open(os.path.join(self.path, name)) as f:
                        vals.append(int(f.read().split()[0]))
                except (OSError, ValueError, IndexError):
                    vals.append(None)
            return tuple(vals)
        stat = {}
        with open(os.path.join(self.path, "cpu.stat")) as f:
            for line in f:
                k, _, v = line.partition(" ")
                stat[k] = int(v)
        return (stat["usage_usec"] * 1000, stat.get("user_usec", 0) * 1000,
                stat.get("system_usec", 0) * 1000)

    def pids(self):
        try:
            with open(os.path.join(self.path, "cgroup.procs")) as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    def kill_all(self, sig):
        for pid in self.pids():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def wait_empty(self, timeout):
        deadline = time.monotonic() + timeout
        while self.pids():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def remove(self):
        """Stop what is left in the cgroup (by pid) and remove it."""
        if not self.wait_empty(2):
            self.kill_all(signal.SIGTERM)
            if not self.wait_empty(10):
                self.kill_all(signal.SIGKILL)
                self.wait_empty(10)
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)
        log(f"warning: could not remove cgroup {self.path}")


# --------------------------------------------------------------------------
# Postfix


def ensure_postfix(needed=(POSTFIX, POSTCONF, POSTMAP, POSTSUPER, SMTP_SOURCE)):
    """Install Debian's postfix ("No configuration": no system instance)."""
    if all(os.access(p, os.X_OK) for p in needed):
        return
    log("Installing Debian's postfix package (No configuration) ...")
    run(["debconf-set-selections"],
        input=b"postfix postfix/main_mailer_type select No configuration\n",
        stdin=None)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "postfix"]
    r = run(cmd, check=False, env=env)
    if r.returncode != 0:
        run(["apt-get", "update"], env=env)
        run(cmd, env=env)
    missing = [p for p in needed if not os.access(p, os.X_OK)]
    if missing:
        raise BenchError(f"postfix installed but missing: {', '.join(missing)}")


def postfix_supports(param):
    r = run([POSTCONF, "-d", param], check=False)
    return r.returncode == 0 and r.stdout.decode().startswith(param + " =")


def postfix_version():
    r = run([POSTCONF, "-d", "-h", "mail_version"], check=False)
    return r.stdout.decode().strip() or "?"


class PostfixInstance:
    """A private Postfix instance in root/.

    Its own config directory (conf/), queue_directory, data_directory and
    log file, started and stopped with `postfix -c DIR start|stop`, the
    start command inside a cgroup; the system's Postfix is never touched.
    smtpd listens on 127.0.0.1:port.  Subclasses add main.cf parameters
    (params()), master.cf services (services()) and files (setup_files()).
    """

    name = "postfix"
    bench = "bench"  # named in the header of the generated files

    # Parameters left out (with a comment) where this Postfix lacks them.
    OPTIONAL = ("smtpd_peername_lookup", "disable_dns_lookups",
                "smtpd_client_auth_rate_limit")

    def __init__(self, root, port, cgroup):
        self.root = root
        self.port = port
        self.cg = cgroup
        self.conf = os.path.join(root, "conf")
        self.queue = os.path.join(root, "queue")
        self.data = os.path.join(root, "data")
        self.logfile = os.path.join(root, "maillog")
        self.started = False

    def version(self):
        return postfix_version()

    def params(self):
        return {
            "compatibility_level": "3.6",
            "config_directory": self.conf,
            "queue_directory": self.queue,
            "data_directory": self.data,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "maillog_file": self.logfile,
            "myhostname": "mx.postfix-bench.test",
            "mydomain": "postfix-bench.test",
            "myorigin": "$myhostname",
            "mydestination": "",
            "relay_domains": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "biff": "no",
            # No DNS, no reverse lookups.
            "smtp_host_lookup": "native",
            "disable_dns_lookups": "yes",
            "smtpd_peername_lookup": "no",
            # Never throttle many sessions from one client.
            "smtpd_client_connection_count_limit": "1000",
            "smtpd_client_connection_rate_limit": "0",
            "smtpd_client_message_rate_limit": "0",
            "smtpd_client_recipient_rate_limit": "0",
            "smtpd_client_new_tls_session_rate_limit": "0",
            "smtpd_client_auth_rate_limit": "0",
            "in_flow_delay": "0",
            # Processes; master also uses max(maxproc, this) as listen backlog.
            "default_process_limit": "256",
        }

    def main_cf(self):
        lines = [f"# {self.bench} benchmark: private Postfix instance (generated)"]
        for k, v in self.params().items():
            if k in self.OPTIONAL and not postfix_supports(k):
                lines.append(f"# {k} not supported by this Postfix")
                continue
            lines.append(f"{k} = {v}")
        return "\n".join(lines) + "\n"

    def services(self):
        """master.cf lines of the listening services."""
        return f"127.0.0.1:{self.port} inet n   -       n       -       -       smtpd\n"

    def master_cf(self):
        # Debian's services with chroot off; smtpd on our loopback port(s).
        return f"""\
# {self.bench} benchmark: private Postfix instance (generated)
# service type  private unpriv  chroot  wakeup  maxproc command + args
{self.services()}\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

    def setup_files(self):
        """Hook: files the configuration refers to (main.cf is written)."""

    def setup(self):
        os.makedirs(self.conf, mode=0o755)
        os.makedirs(self.queue, mode=0o755)
        os.makedirs(self.data, mode=0o700)
        os.chown(self.data, *self.postfix_ids())
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(self.main_cf())
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(self.master_cf())
        self.setup_files()
        # Creates the queue's subdirectories with Postfix's ownerships.
        run([POSTFIX, "-c", self.conf, "check"])

    def queue_count(self):
        """Messages in the queue (files in its queue subdirectories)."""
        n = 0
        for sub in ("maildrop", "incoming", "active", "deferred", "hold", "corrupt"):
            n += count_files_tree(os.path.join(self.queue, sub))
        return n

    def flush_queue(self):
        """Delete whatever a failed run left in the queue; True if done."""
        run([POSTSUPER, "-c", self.conf, "-d", "ALL"], check=False)
        return True

    @staticmethod
    def postfix_ids():
        pw = pwd.getpwnam("postfix")
        return pw.pw_uid, pw.pw_gid

    def wait_ready(self):
        wait_smtp_ready(self.port, 30, what="Postfix")

    def start(self):
        run([POSTFIX, "-c", self.conf, "start"], preexec_fn=self.cg.enter,
            start_new_session=True)
        self.started = True
        self.wait_ready()

    def stop(self):
        if self.started:
            r = run([POSTFIX, "-c", self.conf, "stop"], check=False, timeout=60)
            if r.returncode != 0:
                log(f"warning: postfix stop exited {r.returncode}: "
                    f"{r.stdout.decode(errors='replace').strip()}")
            self.started = False
            if not self.cg.wait_empty(30):
                log("warning: Postfix processes left after stop; killing them by pid")


# --------------------------------------------------------------------------
# postino


class PostinoInstance:
    """postino initialised in root/state and served from there.

    `postino init --dir root/state --domain bench.test --port-base N` with
    the settings of init_settings(), then `postino serve` in the background
    (stderr to root/serve.log), inside a cgroup.  Subclasses say what is
    set up after init (setup_more()) and what "ready" means (wait_ready()).
    """

    name = "postino"

    def __init__(self, binary, root, port_base, cgroup):
        self.bin = binary
        self.dir = os.path.join(root, "state")
        self.config = os.path.join(self.dir, "postino.conf")
        self.port_base = port_base
        self.cg = cgroup
        self.logfile = os.path.join(root, "serve.log")
        self.proc = None

    def init_settings(self):
        """KEY=VALUE settings for `postino init --set`."""
        return []

    def init(self):
        cmd = [self.bin, "init", "--dir", self.dir, "--domain", DOMAIN,
               "--port-base", str(self.port_base)]
        for kv in self.init_settings():
            cmd += ["--set", kv]
        run(cmd)

    def setup_more(self):
        """Hook: what is set up after init."""

    def setup(self):
        self.init()
        self.setup_more()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def queue_count(self):
        """Messages in the spool: the ID.msg files of spool/incoming and
        spool/queue (not an ID.env beside one, nor spool/free, which holds
        emptied files kept for reuse)."""
        n = 0
        for sub in ("incoming", "queue"):
            try:
                with os.scandir(os.path.join(self.dir, "spool", sub)) as it:
                    n += sum(1 for e in it if e.name.endswith(".msg"))
            except FileNotFoundError:
                pass
        return n

    def flush_queue(self):
        """Left as is: a run with a non-empty queue is reported as failed."""
        return False

    def wait_ready(self):
        raise NotImplementedError

    def start(self):
        logf = open(self.logfile, "ab")
        try:
            self.proc = subprocess.Popen(
                [self.bin, "serve", "--config", self.config],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                preexec_fn=self.cg.enter, start_new_session=True)
        finally:
            logf.close()
        try:
            self.wait_ready()
        except BenchError as e:
            raise BenchError(f"{e}\n--- {self.logfile} (last lines) ---\n{tail(self.logfile)}")

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                log("warning: postino serve ignored SIGTERM for 30 s; killing it")
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        if rc not in (0, -signal.SIGTERM):
            log(f"warning: postino serve exited with status {rc} on SIGTERM")
        if not self.cg.wait_empty(30):
            log("warning: postino processes left after stop; killing them by pid")


# --------------------------------------------------------------------------
# figures


def median_of(runs, key):
    vals = [r[key] for r in runs if r.get("ok") and r.get(key) is not None]
    return statistics.median(vals) if vals else None


def fnum(v, digits):
    return "-" if v is None else f"{v:.{digits}f}"


def print_table(cols, rows, left=1):
    """Columns padded to width; the first `left` columns left-aligned."""
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c)
              for i, c in enumerate(cols)]
    log(" | ".join(c.ljust(w) for c, w in zip(cols, widths)))
    log("-+-".join("-" * w for w in widths))
    for r in rows:
        log(" | ".join(v.ljust(w) if i < left else v.rjust(w)
                       for i, (v, w) in enumerate(zip(r, widths))))
