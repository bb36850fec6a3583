"""No loss under crashes (DESIGN.md, principle 1): every message that got
its 250 after DATA is delivered, even when the whole server is killed with
SIGKILL at random moments and restarted. A duplicate is allowed, a loss
never."""

import os
import random
import smtplib
import threading
import time
import uuid

import pytest

from postino_testlib import Server, header_values

THREADS = 4
MIN_PER_THREAD = 200      # each client sends at least this many messages,
MAX_PER_THREAD = 1000     # and goes on until the server was killed MIN_KILLS times
MESSAGES_PER_SESSION = 8
MIN_KILLS = 12
PACE = 0.02              # most seconds a client waits between messages
RCPT_CHOICES = [["bob@example.test"], ["alice@example.test"],
                ["bob@example.test", "alice@example.test"], ["team@example.test"]]
EXPAND = {"team@example.test": ["carol@example.test", "bob@example.test"]}


class Client(threading.Thread):
    def __init__(self, srv, tid, acked, lock, deadline, stop):
        super().__init__(daemon=True)
        self.stop = stop
        self.srv, self.tid, self.acked, self.lock = srv, tid, acked, lock
        self.deadline = deadline
        self.errors = 0
        self.sent = 0
        self.failure = None
        self.rng = random.Random(tid)

    def connect(self):
        s = smtplib.SMTP("127.0.0.1", self.srv.port, local_hostname="crash.example.org",
                         timeout=15)
        s.ehlo()
        return s

    def run(self):
        try:
            self._run()
        except Exception as e:  # reported by the test
            self.failure = e

    def _run(self):
        conn, in_session = None, 0
        for i in range(MAX_PER_THREAD):
            if i >= MIN_PER_THREAD and self.stop.is_set():
                break
            time.sleep(self.rng.uniform(0, PACE))
            tok = "crash-%d-%d-%s" % (self.tid, i, uuid.uuid4().hex[:12])
            rcpts = self.rng.choice(RCPT_CHOICES)
            msg = ("Message-ID: <%s@crash.example.org>\r\n"
                   "Subject: %s\r\n\r\n" % (tok, tok)).encode() + \
                b"payload line\r\n" * self.rng.randrange(1, 200)
            while True:
                if time.monotonic() > self.deadline:
                    raise AssertionError("client %d could not send %s in time" % (self.tid, tok))
                try:
                    if conn is None:
                        conn, in_session = self.connect(), 0
                    code, resp = conn.mail("sender-%d@crash.example.org" % self.tid)
                    if code != 250:
                        raise smtplib.SMTPResponseException(code, resp)
                    for r in rcpts:
                        code, resp = conn.rcpt(r)
                        if code != 250:
                            raise smtplib.SMTPResponseException(code, resp)
                    code, resp = conn.data(msg)
                    if code == 250:
                        with self.lock:
                            self.acked[tok] = rcpts
                        self.sent += 1
                        in_session += 1
                        if in_session >= MESSAGES_PER_SESSION:
                            try:
                                conn.quit()
                            except (smtplib.SMTPException, OSError):
                                pass
                            conn = None
                        break
                    raise smtplib.SMTPResponseException(code, resp)
                except (smtplib.SMTPException, OSError) as e:
                    if isinstance(e, smtplib.SMTPResponseException) and e.smtp_code >= 500:
                        raise  # a permanent refusal of a valid message is a bug
                    self.errors += 1
                    if conn is not None:
                        try:
                            conn.close()
                        except OSError:
                            pass
                    conn = None
                    time.sleep(0.05)
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                pass


def run_scenario(srv):
    acked, lock = {}, threading.Lock()
    deadline = time.monotonic() + 150
    stop = threading.Event()
    clients = [Client(srv, t, acked, lock, deadline, stop) for t in range(THREADS)]
    for c in clients:
        c.start()

    kills = kills_under_load = 0
    rng = random.Random(4242)
    while True:
        time.sleep(rng.uniform(0.05, 0.8))
        if not any(c.is_alive() for c in clients):
            break
        kills_under_load += 1
        srv.kill_group()
        kills += 1
        if rng.random() < 0.5:
            time.sleep(rng.uniform(0, 0.5))  # clients meet a closed port
        srv.start()
        if kills >= MIN_KILLS:
            stop.set()
    for c in clients:
        c.join(10)
    for c in clients:
        assert c.failure is None, "client %d: %r" % (c.tid, c.failure)
        assert c.sent >= MIN_PER_THREAD
    # the kills must have hit the clients, or this test proves nothing
    assert kills_under_load >= MIN_KILLS, kills_under_load
    retries = sum(c.errors for c in clients)
    assert retries > 0
    assert len(acked) == sum(c.sent for c in clients)

    # One more kill right after the load, while the queue is still busy:
    # the restarted server must finish the work alone.
    srv.kill_group()
    kills += 1
    srv.start()
    stalled = not wait_drained(srv, 20)
    if stalled:
        # Wake the queue manager with a new message, so that the checks of
        # loss and leftovers can still run; the stall is reported apart.
        with smtplib.SMTP("127.0.0.1", srv.port, timeout=15) as s:
            s.sendmail("kick@crash.example.org", ["carol@example.test"],
                       b"Subject: crash-kick\r\n\r\nwake up\r\n")
        assert wait_drained(srv, 40), "queue not drained: %r" % srv.spool("queue")
    time.sleep(0.5)
    print("kills=%d under-load=%d acked=%d client-retries=%d stalled=%s"
          % (kills, kills_under_load, len(acked), retries, stalled))
    return acked, stalled


def wait_drained(srv, timeout):
    deadline = time.monotonic() + timeout
    while [n for n in srv.spool("queue") if n.endswith(".msg")]:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.fixture(scope="module")
def crashed():
    """One run of the scenario, shared by the checks below."""
    srv = Server({"queue_retry_min": "1s", "queue_retry_max": "2s"})
    problems = []
    try:
        srv.init()
        for u in ("bob", "alice", "carol"):
            srv.add_user(u)
        srv.add_alias("team", *EXPAND["team@example.test"])
        srv.start()
        acked, stalled = run_scenario(srv)
        yield srv, acked, stalled
    finally:
        problems = srv.teardown_problems()
        if problems or os.environ.get("POSTINO_KEEP"):
            print(srv.log())
            print("==== kept: %s" % srv.top)
        else:
            srv.cleanup()
    assert not problems, "\n".join(problems)


@pytest.mark.timeout(300)
def test_no_acknowledged_message_lost(crashed):
    srv, acked, _ = crashed
    seen = {}
    for user in ("bob", "alice", "carol"):
        for m in srv.messages(user):
            [subject] = header_values(m, "Subject")
            seen.setdefault(user, {}).setdefault(subject, 0)
            seen[user][subject] += 1
    lost, dups = [], 0
    for tok, rcpts in acked.items():
        users = set()
        for r in rcpts:
            for a in EXPAND.get(r, [r]):
                users.add(a.split("@")[0])
        for u in users:
            n = seen.get(u, {}).get(tok, 0)
            if n == 0:
                lost.append((tok, u))
            dups += max(0, n - 1)
    strays = [(u, s) for u, d in seen.items() for s in d if not s.startswith("crash-")]
    print("duplicates=%d" % dups)
    assert not lost, "%d acknowledged deliveries lost, e.g. %r" % (len(lost), lost[:10])
    assert not strays, strays


@pytest.mark.timeout(60)
def test_spool_clean_after_drain(crashed):
    """Once the queue is drained nothing may stay in the spool: no orphan
    ID.env without its ID.msg, no ID.env.tmp, nothing in incoming/ or
    corrupt/ (Maildir tmp/ files of killed deliveries are allowed)."""
    srv, _, _ = crashed
    leftovers = {sub: srv.spool(sub) for sub in ("incoming", "queue", "corrupt", "hold")}
    detail = []
    for name in leftovers["queue"]:
        qid = name.split(".")[0]
        detail.append("%s: %s" % (name, "; ".join(
            l.split(": ", 1)[-1] for l in srv.grep_log(qid)) or "never logged"))
    assert all(not v for v in leftovers.values()), \
        "spool leftovers after the drain: %r\n%s" % (leftovers, "\n".join(detail))


@pytest.mark.timeout(60)
def test_queue_drains_after_restart_without_new_mail(crashed):
    """After the last kill and restart nothing new arrives: the messages
    left in the queue must be delivered anyway."""
    srv, _, stalled = crashed
    assert not stalled, "the restarted queue manager delivered nothing until a new " \
        "message arrived"
