"""The postino command line: init, check-config, user, domain, alias, and
the migration of an old state database."""

import json
import os
import re
import sqlite3
import subprocess

import pytest

from postino_testlib import Server, bad_log_lines, postino_bin, sanitizer_env


def run(*args, input=None, env=None):
    r = subprocess.run([postino_bin()] + list(args), input=input, capture_output=True,
                       env=env or sanitizer_env(), timeout=60)
    r.out = r.stdout.decode("utf-8", "replace")
    r.err = r.stderr.decode("utf-8", "replace")
    assert not bad_log_lines(r.out + r.err), r.err
    return r


@pytest.fixture
def srv(make_server):
    """An initialised (not running) instance with user bob."""
    return make_server(users=("bob",), start=False)


def conf_lines(path):
    with open(path) as f:
        return f.read().splitlines()


def test_init_writes_config_check_config_accepts(srv):
    r = srv.cli("check-config")
    assert r.returncode == 0
    assert srv.conf in r.out + r.err
    text = "\n".join(conf_lines(srv.conf))
    assert re.search(r"^smtp_listen = 127\.0\.0\.1:%d$" % srv.port, text, re.M), text
    assert re.search(r"^password_argon2_memory = 64K$", text, re.M)
    for sub in ("state/postino.db", "spool/queue", "spool/incoming", "mail"):
        assert os.path.exists(os.path.join(srv.dir, sub)), sub
    # init refuses to overwrite an existing configuration
    r = run("init", "--dir", srv.dir, "--domain", "example.test")
    assert r.returncode != 0
    assert "already exists" in r.err


def test_init_set_unknown_key_or_bad_value_fails(tmp_path_factory):
    top = tmp_path_factory.mktemp("init")
    for setting, words in [("no_such_key=1", ["no_such_key"]),
                           ("message_size_limit=abc", ["message_size_limit", "abc"]),
                           ("smtpd_recipient_limit=5", ["smtpd_recipient_limit"]),
                           ("log_level=chatty", ["log_level", "chatty"]),
                           ("relay_networks=10.0.0.0/99", ["relay_networks"]),
                           ("smtpd_timeout=soon", ["smtpd_timeout"]),
                           ("novalue", ["novalue"])]:
        d = str(top / setting.split("=")[0])
        r = run("init", "--dir", d, "--domain", "example.test", "--port-base", "20000",
                "--set", setting)
        assert r.returncode != 0, setting
        msg = r.err + r.out
        for w in words:
            assert w in msg, (setting, msg)
        assert not os.path.exists(os.path.join(d, "postino.conf")), setting


@pytest.mark.parametrize("line,words", [
    ("bogus_key = 1", ["unknown key", "bogus_key"]),
    ("message_size_limit = lots", ["message_size_limit", "lots"]),
    ("smtpd_error_limit = 0", ["smtpd_error_limit"]),
    ("this line has no equals sign", []),
    ("hostname = twice.example\nhostname = again.example", ["hostname"]),
])
def test_check_config_names_file_and_line(srv, line, words):
    lines = conf_lines(srv.conf)
    bad_path = os.path.join(srv.top, "bad.conf")
    with open(bad_path, "w") as f:
        f.write("\n".join(lines) + "\n" + line + "\n")
    bad_lineno = len(lines) + line.count("\n") + 1
    r = run("check-config", "--config", bad_path)
    assert r.returncode == 1, (r.returncode, r.out, r.err)
    msg = r.out + r.err
    assert "%s:%d" % (bad_path, bad_lineno) in msg, msg
    for w in words:
        assert w in msg, msg
    # serve refuses it too, with the same message, and exits at once
    r = run("serve", "--config", bad_path)
    assert r.returncode != 0
    assert "%s:%d" % (bad_path, bad_lineno) in r.out + r.err


def test_check_config_missing_file(srv):
    r = run("check-config", "--config", os.path.join(srv.top, "missing.conf"))
    assert r.returncode != 0
    assert "missing.conf" in r.out + r.err


def user_rows(srv):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(srv.dir, "state", "postino.db"),
                         uri=True)
    try:
        return {a: p for a, p in db.execute("SELECT address, password FROM users")}
    finally:
        db.close()


def test_user_add_list_passwd_del(srv):
    srv.add_user("alice", "pw-one")
    r = srv.cli("user", "list")
    assert sorted(r.out.split()) == ["alice@example.test", "bob@example.test"]
    r = srv.cli("user", "list", "--json")
    data = json.loads(r.out)
    assert sorted(u["address"] for u in data) == ["alice@example.test", "bob@example.test"]
    for u in data:
        assert u["domain"] == "example.test" and u["locked"] is False
        assert isinstance(u["created"], int)

    before = user_rows(srv)["alice@example.test"]
    assert before.startswith("$argon2id$"), before
    assert "m=64," in before and "t=1," in before, before  # the --set values
    r = srv.cli("user", "passwd", "alice@example.test", "--password-stdin", input=b"pw-two\n")
    after = user_rows(srv)["alice@example.test"]
    assert after.startswith("$argon2id$") and after != before

    # duplicates, unknown domains and bad addresses are refused
    for addr in ("alice@example.test", "ALICE@Example.Test", "x@unknown.example", "no-at-sign",
                 "a b@example.test", "@example.test"):
        r = srv.cli("user", "add", addr, "--password-stdin", input=b"pw\n", check=False)
        assert r.returncode != 0, addr
        assert r.err.startswith("postino: "), (addr, r.err)

    r = srv.cli("user", "del", "alice@example.test")
    assert "alice@example.test" in r.out
    assert srv.cli("user", "list").out.split() == ["bob@example.test"]
    r = srv.cli("user", "del", "alice@example.test", check=False)
    assert r.returncode != 0 and "alice@example.test" in r.err
    r = srv.cli("user", "passwd", "nobody@example.test", "--password-stdin", input=b"x\n",
                check=False)
    assert r.returncode != 0


def test_user_lock_unlock(srv):
    srv.cli("user", "lock", "bob@example.test")
    [u] = json.loads(srv.cli("user", "list", "--json").out)
    assert u["locked"] is True
    assert "(locked by the administrator)" in srv.cli("user", "list").out
    srv.cli("user", "unlock", "bob@example.test")
    [u] = json.loads(srv.cli("user", "list", "--json").out)
    assert u["locked"] is False
    assert srv.cli("user", "lock", "nobody@example.test", check=False).returncode != 0


def test_user_list_by_domain(srv):
    srv.add_domain("other.test")
    srv.add_user("zed@other.test")
    assert srv.cli("user", "list", "other.test").out.split() == ["zed@other.test"]
    assert srv.cli("user", "list", "example.test").out.split() == ["bob@example.test"]


def test_domain_add_list_del(srv):
    srv.cli("domain", "add", "other.test")
    assert sorted(srv.cli("domain", "list").out.split()) == ["example.test", "other.test"]
    assert sorted(json.loads(srv.cli("domain", "list", "--json").out)) == \
        ["example.test", "other.test"]
    r = srv.cli("domain", "add", "OTHER.test", check=False)
    assert r.returncode != 0
    r = srv.cli("domain", "add", "not a domain", check=False)
    assert r.returncode != 0

    # refused while users or aliases exist
    r = srv.cli("domain", "del", "example.test", check=False)
    assert r.returncode != 0 and "example.test" in r.err
    srv.add_alias("info@other.test", "bob@example.test")
    r = srv.cli("domain", "del", "other.test", check=False)
    assert r.returncode != 0
    srv.cli("alias", "del", "info@other.test")
    srv.cli("domain", "del", "other.test")
    assert srv.cli("domain", "list").out.split() == ["example.test"]
    srv.cli("user", "del", "bob@example.test")
    srv.cli("domain", "del", "example.test")
    assert srv.cli("domain", "list").out.split() == []
    assert json.loads(srv.cli("domain", "list", "--json").out) == []


def test_alias_add_list_del(srv):
    srv.add_user("alice")
    srv.cli("alias", "add", "team@example.test", "bob@example.test", "alice@example.test",
            "friend@remote.example")
    srv.cli("alias", "add", "@example.test", "bob@example.test")
    data = json.loads(srv.cli("alias", "list", "--json").out)
    pairs = sorted((a["address"], a["target"]) for a in data)
    assert pairs == [("@example.test", "bob@example.test"),
                     ("team@example.test", "alice@example.test"),
                     ("team@example.test", "bob@example.test"),
                     ("team@example.test", "friend@remote.example")]
    text = srv.cli("alias", "list").out
    assert "team@example.test -> friend@remote.example" in text
    # only our domains can have aliases
    r = srv.cli("alias", "add", "x@remote.example", "bob@example.test", check=False)
    assert r.returncode != 0
    r = srv.cli("alias", "add", "y@example.test", check=False)  # no target
    assert r.returncode != 0
    srv.cli("alias", "del", "team@example.test", "friend@remote.example")
    data = json.loads(srv.cli("alias", "list", "--json").out)
    assert ("team@example.test", "friend@remote.example") not in \
        [(a["address"], a["target"]) for a in data]
    srv.cli("alias", "del", "team@example.test")
    srv.cli("alias", "del", "@example.test")
    assert json.loads(srv.cli("alias", "list", "--json").out) == []
    r = srv.cli("alias", "del", "team@example.test", check=False)
    assert r.returncode != 0


def test_accounts_changes_seen_by_running_server(make_server):
    srv = make_server(users=("bob", "carol"))
    with srv.smtp() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        assert c.cmd("RCPT TO:<dave@example.test>").code == 550
        srv.add_user("dave")
        srv.cli("user", "del", "carol@example.test")
        srv.add_alias("sales", "bob@example.test")
        assert c.cmd("RCPT TO:<dave@example.test>").code == 250
        assert c.cmd("RCPT TO:<sales@example.test>").code == 250
        assert c.cmd("RCPT TO:<carol@example.test>").code == 550


def subcommands():
    r = run("--help")
    return re.findall(r"^  ([a-z][a-z-]+)\s", r.out + r.err, re.M)


def test_main_help():
    r = run("--help")
    assert r.returncode == 0
    assert "usage: postino" in r.out
    names = subcommands()
    for n in ("init", "serve", "check-config", "user", "alias", "domain"):
        assert n in names, names
    r = run("no-such-command")
    assert r.returncode != 0 and r.err


@pytest.mark.parametrize("sub", subcommands())
def test_subcommand_help(sub):
    r = run(sub, "--help")
    assert r.returncode == 0, (sub, r.returncode, r.out, r.err)
    assert "usage: postino %s" % sub in r.out, (sub, r.out, r.err)


V1_SCHEMA = """
CREATE TABLE domains (name TEXT PRIMARY KEY COLLATE NOCASE, created INTEGER NOT NULL);
CREATE TABLE users (address TEXT PRIMARY KEY COLLATE NOCASE,
  domain TEXT NOT NULL COLLATE NOCASE REFERENCES domains(name),
  password TEXT NOT NULL, created INTEGER NOT NULL);
CREATE INDEX users_domain ON users(domain);
CREATE TABLE aliases (address TEXT NOT NULL COLLATE NOCASE,
  target TEXT NOT NULL COLLATE NOCASE, PRIMARY KEY (address, target));
PRAGMA user_version = 1;
"""


def test_state_db_migration_from_version_1(srv):
    state = os.path.join(srv.dir, "state")
    path = os.path.join(state, "postino.db")
    hash_ = user_rows(srv)["bob@example.test"]
    st = os.stat(path)
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.unlink(path + suffix)
        except FileNotFoundError:
            pass
    db = sqlite3.connect(path)
    db.executescript(V1_SCHEMA)
    db.execute("INSERT INTO domains VALUES ('example.test', 1700000000)")
    db.execute("INSERT INTO users VALUES ('bob@example.test', 'example.test', ?, 1700000001)",
               (hash_,))
    db.execute("INSERT INTO aliases VALUES ('team@example.test', 'bob@example.test')")
    db.commit()
    db.close()
    os.chown(path, st.st_uid, st.st_gid)
    os.chmod(path, st.st_mode & 0o7777)

    r = srv.cli("user", "list", "--json")
    [u] = json.loads(r.out)
    assert u["address"] == "bob@example.test"
    assert u["created"] == 1700000001
    assert u["locked"] is False

    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 7
        cols = [row[1] for row in db.execute("PRAGMA table_info(users)")]
        assert "locked" in cols, cols
        assert "failure_window_start" in cols, cols
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        assert {"auth_clients", "send_as", "meta"} <= tables, tables
        assert db.execute("SELECT password FROM users").fetchone()[0] == hash_
    finally:
        db.close()
    srv.cli("user", "lock", "bob@example.test")
    [u] = json.loads(srv.cli("user", "list", "--json").out)
    assert u["locked"] is True
    assert json.loads(srv.cli("alias", "list", "--json").out) == \
        [{"address": "team@example.test", "target": "bob@example.test"}]
    assert srv.cli("check-config").returncode == 0
    # the migrated database still belongs to the service user
    st2 = os.stat(path)
    assert (st2.st_uid, st2.st_gid) == (st.st_uid, st.st_gid)
    # and the server runs on it
    srv.start()
    with srv.smtp() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@b.org>").code == 250
        assert c.cmd("RCPT TO:<team@example.test>").code == 250


def test_newer_schema_refused(srv):
    path = os.path.join(srv.dir, "state", "postino.db")
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    r = srv.cli("user", "list", check=False)
    assert r.returncode != 0
    assert "99" in r.err or "version" in r.err, r.err


def test_postino_config_environment_variable(srv):
    env = sanitizer_env()
    env["POSTINO_CONFIG"] = srv.conf
    r = run("user", "list", env=env)
    assert r.returncode == 0 and r.out.split() == ["bob@example.test"], r.err


def test_config_reference(srv):
    r = run("config-reference")
    assert r.returncode == 0
    assert r.out.startswith("# postino configuration reference")
    for key in ("message_size_limit", "smtpd_timeout", "relay_networks"):
        assert "## `%s`" % key in r.out
    # "Every command takes --config FILE" (postino --help)
    r = run("config-reference", "--config", srv.conf)
    assert r.returncode == 0, (r.returncode, r.err)
    assert r.out.startswith("# postino configuration reference")
