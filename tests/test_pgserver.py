"""tests/pgserver.py and tests/pgfixtures.py: a database per test, one server per run,
nothing left running after it, and a clear failure without PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from tests import pgserver
from tests.pgfixtures import ENV_SKIP, ENV_URL, PgServer, open_server, unavailable
from tests.pgserver import ENV_BINDIR

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
INSTALL = "apt-get install -y postgresql"


def _tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
    return sorted(row[0] for row in rows)


def _exists(server: PgServer, url_or_name: str) -> bool:
    name = urlsplit(url_or_name).path.lstrip("/") or url_or_name
    with psycopg.connect(server.admin_url) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    return found is not None


def _eventually(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")  # a zombie has stopped; only its parent's wait() is missing


def test_a_database_is_new_empty_and_writable(pg_url: str) -> None:
    assert urlsplit(pg_url).hostname == "127.0.0.1" or ENV_URL in os.environ
    assert _tables(pg_url) == []
    with psycopg.connect(pg_url) as conn:
        conn.execute("CREATE TABLE jobs (id text PRIMARY KEY, n integer)")
        conn.execute("INSERT INTO jobs VALUES ('b', 2), ('a', 1), ('B', 3)")
        # C collation everywhere: text sorts byte-wise, as SQLite sorts it.
        assert conn.execute("SELECT id FROM jobs ORDER BY id").fetchall() == [
            ("B",),
            ("a",),
            ("b",),
        ]
        encoding = conn.execute("SHOW server_encoding").fetchone()
    assert encoding == ("UTF8",)
    assert _tables(pg_url) == ["jobs"]


def test_two_databases_are_apart_and_each_is_dropped(pg_url: str, pg_server: PgServer) -> None:
    with pg_server.database() as other:
        assert other != pg_url
        with psycopg.connect(other) as conn:
            conn.execute("CREATE TABLE only_here (x integer)")
        assert _tables(other) == ["only_here"]
        assert _tables(pg_url) == []
        held = psycopg.connect(other)  # a connection the test forgot: the drop ends it
    try:
        assert not _exists(pg_server, other)
        assert _exists(pg_server, pg_url)
    finally:
        held.close()


@pytest.fixture
def dropped_after(pg_server: PgServer) -> Iterator[list[psycopg.Connection[tuple[object, ...]]]]:
    """Set up before ``pg_url``, so torn down after it: checks that the database of the
    connection the test left open is gone by then."""
    left_open: list[psycopg.Connection[tuple[object, ...]]] = []
    yield left_open
    try:
        assert len(left_open) == 1
        assert not _exists(pg_server, left_open[0].info.dbname)
    finally:
        for conn in left_open:
            conn.close()


def test_the_fixture_drops_its_database(
    dropped_after: list[psycopg.Connection[tuple[object, ...]]], pg_url: str
) -> None:
    conn = psycopg.connect(pg_url)
    dropped_after.append(conn)  # left open: the drop must not wait for it
    conn.execute("CREATE TABLE t (x integer)")
    conn.commit()


def test_another_process_reaches_the_database(pg_url: str) -> None:
    code = (
        "import sys, psycopg\n"
        "with psycopg.connect(sys.argv[1]) as conn:\n"
        "    conn.execute('CREATE TABLE t (x integer)')\n"
        "    conn.execute('INSERT INTO t VALUES (42)')\n"
    )
    subprocess.run([sys.executable, "-c", code, pg_url], check=True, timeout=60)
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT x FROM t").fetchall() == [(42,)]


# --- without PostgreSQL -----------------------------------------------------------


def _outcome(call: Callable[[], object]) -> tuple[str, str]:
    """How ``call`` ended, as a test would: a skip where a failure was due must fail this
    test, not skip it."""
    try:
        call()
    except pytest.skip.Exception as exc:
        return "skip", str(exc)
    except pytest.fail.Exception as exc:
        return "fail", str(exc)
    return "return", ""


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"CI": "true"}, "fail"),
        ({}, "fail"),
        ({ENV_SKIP: "1"}, "skip"),
        ({ENV_SKIP: "1", "CI": "true"}, "fail"),
        ({ENV_SKIP: "1", "CI": "false"}, "skip"),
    ],
    ids=["ci", "developer", "opted-out", "opted-out-in-ci", "ci-false"],
)
def test_missing_binaries_name_the_install_command(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    env: dict[str, str],
    expected: str,
) -> None:
    env = {**env, ENV_BINDIR: str(tmp_path), "PATH": str(tmp_path)}
    outcome, message = _outcome(lambda: open_server(request.config, tmp_path_factory, env))
    assert outcome == expected
    if expected == "fail":
        assert INSTALL in message
        assert ENV_SKIP in message
    else:
        assert ENV_SKIP in message


def test_the_finder_finds_nothing_in_an_empty_place(tmp_path: Path) -> None:
    assert pgserver.find_bindir({"PATH": str(tmp_path)}, str(tmp_path / "*" / "bin")) is None
    assert pgserver.find_bindir({ENV_BINDIR: str(tmp_path)}) is None


def test_opting_out_skips_saying_why_except_in_ci() -> None:
    outcome, message = _outcome(lambda: unavailable("no PostgreSQL", {ENV_SKIP: "1"}))
    assert (outcome, "no PostgreSQL" in message) == ("skip", True)
    outcome, message = _outcome(lambda: unavailable("no PostgreSQL", {ENV_SKIP: "1", "CI": "1"}))
    assert (outcome, "ignored in CI" in message) == ("fail", True)


def _fake_bindir(path: Path, *names: str) -> Path:
    path.mkdir(parents=True)
    for name in names:
        (path / name).write_text("#!/bin/sh\n")
        (path / name).chmod(stat.S_IRWXU)
    return path


def test_the_finder_takes_the_highest_version_with_a_server(tmp_path: Path) -> None:
    versions = tmp_path / "lib" / "postgresql"
    _fake_bindir(versions / "9.6" / "bin", "initdb", "postgres")
    ten = _fake_bindir(versions / "10" / "bin", "initdb", "postgres")
    _fake_bindir(versions / "16" / "bin", "initdb")  # a client's files, no server
    pattern = str(versions / "*" / "bin")
    assert pgserver.find_bindir({"PATH": str(tmp_path / "none")}, pattern) == ten
    # What PATH leads to comes first, followed through a symlink (/usr/local/bin here).
    nine = versions / "9.6" / "bin"
    on_path = tmp_path / "path"
    on_path.mkdir()
    (on_path / "initdb").symlink_to(nine / "initdb")
    assert pgserver.find_bindir({"PATH": str(on_path)}, pattern) == nine
    assert pgserver.find_bindir({ENV_BINDIR: str(ten), "PATH": str(on_path)}, pattern) == ten


# --- other servers ----------------------------------------------------------------


def test_an_external_server_is_used_as_given(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, pg_server: PgServer
) -> None:
    server = open_server(request.config, tmp_path_factory, {ENV_URL: pg_server.admin_url})
    try:
        assert server.admin_url == pg_server.admin_url
        with server.database() as url:
            assert _tables(url) == []
    finally:
        server.close()


def test_an_unreachable_external_server_fails_without_its_password(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        url = f"postgresql://someone:s3cret@127.0.0.1:{port}/postgres"
        with pytest.raises(pytest.fail.Exception) as raised:
            open_server(request.config, tmp_path_factory, {ENV_URL: url})
    assert f"someone:***@127.0.0.1:{port}" in str(raised.value)
    assert "s3cret" not in str(raised.value)
    with pytest.raises(pytest.fail.Exception, match=ENV_URL):
        open_server(request.config, tmp_path_factory, {ENV_URL: "mysql://x@127.0.0.1/db"})


# --- the server's life ------------------------------------------------------------


@pytest.fixture
def bindir() -> Path:
    found = pgserver.find_bindir()
    if found is None:
        unavailable(f"no PostgreSQL server binaries: {INSTALL}", os.environ)
    return found


@pytest.fixture
def run_process() -> Iterator[subprocess.Popen[bytes]]:
    """A process standing for a pytest run."""
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait()


def test_the_server_stops_when_the_run_ends(
    bindir: Path, run_process: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    started = pgserver.start(bindir, run_process.pid, tmp_path / "supervisor.log")
    with psycopg.connect(started.url) as conn:
        settings = {
            name: conn.execute(f"SHOW {name}").fetchone()
            for name in ("max_connections", "listen_addresses", "fsync")
        }
    assert settings == {
        "max_connections": ("300",),
        "listen_addresses": ("127.0.0.1",),
        "fsync": ("off",),
    }
    # Reachable on 127.0.0.1 only, with the run's password.
    assert urlsplit(started.url).hostname == "127.0.0.1"
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(
            started.url.replace(f":{urlsplit(started.url).password}@", ":wrong@")
        ).close()
    run_process.kill()
    assert _eventually(lambda: _gone(started.pid) and _gone(started.supervisor))
    assert _eventually(lambda: not Path(started.directory).exists())


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
def test_a_killed_supervisor_takes_its_server_along(
    bindir: Path, run_process: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    started = pgserver.start(bindir, run_process.pid, tmp_path / "supervisor.log")
    os.kill(started.supervisor, signal.SIGKILL)
    assert _eventually(lambda: _gone(started.pid))
    # Its directory stays until a supervisor sweeps it (another run's may be first).
    pgserver.sweep()
    assert not Path(started.directory).exists()


def test_a_stale_directory_is_swept_and_a_live_one_kept(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f"{pgserver.PREFIX}stale"
    (stale / "data").mkdir(parents=True)
    (stale / "supervisor.pid").write_text(str(dead.pid))
    (stale / "data" / "postmaster.pid").write_text(f"{dead.pid}\n")
    live = tmp_path / f"{pgserver.PREFIX}live"
    live.mkdir()
    (live / "supervisor.pid").write_text(str(os.getpid()))
    server_left = tmp_path / f"{pgserver.PREFIX}server-left"  # no parent-death signal
    (server_left / "data").mkdir(parents=True)
    (server_left / "supervisor.pid").write_text(str(dead.pid))
    (server_left / "data" / "postmaster.pid").write_text(f"{os.getpid()}\n")
    being_made = tmp_path / f"{pgserver.PREFIX}new"
    being_made.mkdir()
    assert pgserver.sweep(tmp_path) == [stale]
    assert live.exists()
    assert server_left.exists()
    assert being_made.exists()


RUN = """
import os
from pathlib import Path

import pytest
import psycopg

LOG = Path({log!r})


def parent(pid):
    return int(Path(f"/proc/{{pid}}/stat").read_text().rpartition(")")[2].split()[1])


@pytest.mark.parametrize("n", range(6))
def test_uses_the_server(pg_url, pg_server, n):
    with psycopg.connect(pg_server.admin_url) as conn:
        data = conn.execute("SHOW data_directory").fetchone()[0]
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        # backend -> postmaster -> supervisor, whose command line names the pid it
        # watches (read while the connection, and so its backend, is still there)
        supervisor = parent(parent(backend))
    argv = Path(f"/proc/{{supervisor}}/cmdline").read_bytes().split(b"\\0")
    watched = int(argv[-3])
    with LOG.open("a") as log:
        log.write(f"{{os.environ['PYTEST_XDIST_WORKER']}} {{data}} {{watched}} {{os.getppid()}}\\n")
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes in /proc")
def test_one_server_serves_a_whole_xdist_run_and_stops_with_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, bindir: Path
) -> None:
    log = pytester.path / "used.log"
    pytester.makeconftest("from tests.pgfixtures import pg_server, pg_url  # noqa: F401\n")
    pytester.makepyfile(test_run=RUN.format(log=str(log)))
    monkeypatch.delenv(ENV_URL, raising=False)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = pytester.runpytest_subprocess(
        *("-p", "xdist", "-n", "2", "-p", "no:cacheprovider"),
        *("-o", f"pythonpath={ROOT}"),
    )
    result.assert_outcomes(passed=6)
    used = [line.split() for line in log.read_text().splitlines()]
    assert {worker for worker, *_ in used} == {"gw0", "gw1"}
    # One server, watching the run's controller (the workers' parent), not a worker.
    (data,) = {data for _, data, *_ in used}
    assert all(watched == controller for *_, watched, controller in used)
    assert _eventually(lambda: not Path(data).exists(), 2.0)
