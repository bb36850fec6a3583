"""Fixtures of the integration suite.

make_server(users=..., aliases=..., start=True, domain=None, **settings) builds a postino
instance with `postino init` (plus --set for every setting), adds users and
aliases with the real CLI and starts `postino serve`. At teardown every
server is stopped with SIGTERM and must exit with status 0 and leave no
panic or sanitizer report in its log.

POSTINO_BIN names the binary (default build-test/postino, else
build/postino). POSTINO_KEEP=1 keeps the temporary directories.
"""

import os

import pytest

from postino_testlib import Server, postino_bin, postino_bin_source

DEFAULT_USERS = ("bob", "alice", "carol")


def pytest_configure(config):
    # Harmless if pytest-timeout is installed; avoids a warning if not.
    config.addinivalue_line("markers", "timeout(seconds): per-test time limit")
    config.addinivalue_line("markers", "slow: minutes of real time; runs with POSTINO_SLOW=1")


def pytest_report_header(config):
    return "postino binary: %s (run from the copy %s)" % (postino_bin_source(), postino_bin())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(scope="session", autouse=True)
def dns():
    """The tests' DNS server: every postino of the session queries it.
    Unknown names get SERVFAIL (mail to them stays deferred)."""
    import postino_testlib
    from dnsserver import DNSServer
    server = DNSServer()
    postino_testlib.DNS_RESOLVER = server.address
    yield server
    postino_testlib.DNS_RESOLVER = None
    server.close()


@pytest.fixture
def make_server(request):
    servers = []

    def factory(users=DEFAULT_USERS, aliases=None, start=True, domain=None, **settings):
        srv = Server(settings, domain=domain) if domain else Server(settings)
        servers.append(srv)
        srv.init()
        for u in users:
            srv.add_user(u)
        for addr, targets in (aliases or {}).items():
            if isinstance(targets, str):
                targets = [targets]
            srv.add_alias(addr, *targets)
        if start:
            srv.start()
        return srv

    yield factory

    problems = []
    for srv in servers:
        try:
            p = srv.teardown_problems()
        except Exception as e:  # a stuck server must not leak
            p = ["teardown error: %r" % (e,)]
        problems += p
        call_failed = getattr(request.node, "rep_call", None) is not None and \
            request.node.rep_call.failed
        if p or call_failed:
            print("==== server log (%s) ====" % srv.top)
            print(srv.log())
        if os.environ.get("POSTINO_KEEP") or p or call_failed:
            print("==== kept: %s" % srv.top)
            if srv.proc is not None and srv.proc.poll() is None:
                srv.kill_group()
        else:
            srv.cleanup()
    assert not problems, "\n".join(problems)


@pytest.fixture
def server(make_server):
    """A running server for example.test with users bob, alice and carol."""
    return make_server()
