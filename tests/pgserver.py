"""A throwaway PostgreSQL server for the test suite, never left running after the run.

PostgreSQL refuses to run as root, CI runs as root, and a run killed half-way must not
leave a server holding memory and a port. So a small supervisor process (this file, run
as a script) owns the server: it makes a data directory in the system's temporary folder
(the suite's own are private to the user running it, and the server may run as another),
runs ``initdb`` and ``postgres`` as an unprivileged user when it is root, reports where
the server listens, and stops the server and removes the directory as soon as the process
it watches (the pytest run) is gone, however that run ended. It sits in a session of its
own, so a Ctrl-C or a signal to the run's process group does not reach it; the server dies
with it (Linux's parent-death signal) if it is killed itself, and a directory so left
behind is removed by the next supervisor.

The server listens on 127.0.0.1 only, on a free port, with a password drawn per run: with
"trust", any local user could have connected as superuser and run programs as the server's
user (``COPY ... TO PROGRAM``) for as long as the tests run.

Standard library only, for two callers that have no venv's packages or want none: the
supervisor starts in 20 ms rather than pytest's 120, and ``.ci/run`` asks this file whether
PostgreSQL must be installed (``python3 tests/pgserver.py bindir``) before any venv exists.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pwd

#: How to get the server's binaries on Debian and Ubuntu (CI's machines).
INSTALL = "apt-get install -y postgresql"
#: Where Debian and Ubuntu put each major version's binaries (not on PATH).
DEBIAN_BINDIRS = "/usr/lib/postgresql/*/bin"
#: A directory of its own, holding only the server's binaries to use.
ENV_BINDIR = "WAVESPEED_TEST_PG_BINDIR"
#: What a server needs from a binary directory.
REQUIRED = ("initdb", "postgres")
#: The prefix of every run's directory in the temporary folder.
PREFIX = "wavespeed-pg-"
#: The run's end is noticed within this (the watch loop's period), in seconds.
POLL = 0.1
#: From the supervisor's start to a server accepting connections, at most (a loaded
#: 2-core machine takes 0.5 s); then the start fails with the server's log.
START_TIMEOUT = 60.0
#: Three of the mock's server processes and every xdist worker's connections, and
#: then some: a test that leaks connections fails on its own, not its neighbours.
MAX_CONNECTIONS = 300
#: Settings for a server whose data is thrown away: nothing is synced (a crash loses a
#: run that is over anyway), no autovacuum working on databases that live a second.
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",  # TCP only: no socket in a directory that may not exist
    "max_connections": str(MAX_CONNECTIONS),
    "shared_buffers": "32MB",  # test databases are tiny: the default 128 MB is wasted memory
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "autovacuum": "off",
    "jit": "off",  # compiling a plan costs more than running a test's query
}


class ServerError(Exception):
    """The server could not be started; the message says why, with its log."""


@dataclass(frozen=True)
class Started:
    """What the supervisor reports once the server accepts connections."""

    url: str  #: the superuser's URL, to the ``postgres`` database
    port: int
    pid: int  #: the postmaster
    supervisor: int
    directory: str  #: the run's directory, data and log; removed when the server stops


def find_bindir(
    env: Mapping[str, str] | None = None, versioned: str = DEBIAN_BINDIRS
) -> Path | None:
    """The directory of PostgreSQL's server binaries, or None when there is none.

    ``WAVESPEED_TEST_PG_BINDIR`` alone when set; otherwise the first of ``pg_config
    --bindir``, the directory ``initdb`` on PATH really lives in, and ``versioned``'s
    highest version, that holds both ``initdb`` and ``postgres`` (libpq-dev's pg_config
    names a directory without them).
    """
    env = os.environ if env is None else env
    if explicit := env.get(ENV_BINDIR):
        return Path(explicit) if _has_server(Path(explicit)) else None
    path = env.get("PATH", os.defpath)
    candidates: list[Path] = []
    if pg_config := shutil.which("pg_config", path=path):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            answer = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if answer:
                candidates.append(Path(answer))
    if initdb := shutil.which("initdb", path=path):
        candidates.append(Path(initdb).resolve().parent)
    candidates += sorted(map(Path, glob.glob(versioned)), key=_version, reverse=True)
    return next((found for found in candidates if _has_server(found)), None)


def _has_server(bindir: Path) -> bool:
    return all((bindir / name).is_file() and os.access(bindir / name, os.X_OK) for name in REQUIRED)


def _version(bindir: Path) -> tuple[int, ...]:
    """``/usr/lib/postgresql/9.6/bin`` is (9, 6): 10 comes after it, as text it would not."""
    try:
        return tuple(int(part) for part in bindir.parent.name.split("."))
    except ValueError:
        return (-1,)


def start(bindir: Path, watch: int, log: Path, timeout: float = START_TIMEOUT) -> Started:
    """Start a supervised server that stops when process ``watch`` is gone.

    Returns once the server accepts connections. The supervisor is not a child of the
    caller (it detaches), so nothing here waits for it, and its messages after the start
    go to ``log``.
    """
    try:
        done = subprocess.run(
            [sys.executable, __file__, "supervise", str(bindir), str(watch), str(log)],
            capture_output=True,
            text=True,
            timeout=timeout + 10,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ServerError(
            f"the PostgreSQL supervisor did not answer within {timeout + 10:.0f} s"
        ) from exc
    if done.returncode != 0:
        raise ServerError(done.stderr.strip() or f"the supervisor exited {done.returncode}")
    return Started(**json.loads(done.stdout))


# --- the supervisor -----------------------------------------------------------------


def _launch(bindir: Path, watch: int, log: Path) -> int:
    """Fork the supervisor, and answer with its report: its start or why it failed.

    The report comes through a pipe the supervisor closes once the server is up (or on
    its way out); the supervisor writes nothing else to this process's output, so the
    caller's ``subprocess.run`` returns then, not when the run is over.
    """
    read_end, write_end = os.pipe()
    if os.fork() == 0:  # the supervisor
        os.close(read_end)
        os.setsid()
        with log.open("ab") as out:
            os.dup2(out.fileno(), 1)
            os.dup2(out.fileno(), 2)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        code = 1
        try:
            code = _supervise(bindir, watch, _Report(write_end))
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)  # never back into the launcher's code below
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        report = pipe.read().decode("utf-8", "replace")
    if report.startswith("{"):
        print(report)
        return 0
    print(report or "the PostgreSQL supervisor died before reporting", file=sys.stderr)
    return 1


class _Report:
    """The pipe to the launcher: one message, then closed, whatever happens."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def send(self, message: str) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.write(self._fd, message.encode())
            os.close(self._fd)
            self._fd = None


def _supervise(bindir: Path, watch: int, report: _Report) -> int:
    stopping: list[int] = []

    def stop(signum: int, frame: object) -> None:
        stopping.append(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)
    server: subprocess.Popen[bytes] | None = None
    run_dir: Path | None = None
    try:
        sweep()
        watched = _process_start(watch)
        if watched is None:
            raise ServerError(f"process {watch}, whose end would stop the server, is gone")
        run_dir = Path(tempfile.mkdtemp(prefix=PREFIX))
        (run_dir / "supervisor.pid").write_text(str(os.getpid()))
        started, server = _start_server(bindir, run_dir)
        report.send(json.dumps(asdict(started)))
        while not stopping and server.poll() is None and _process_start(watch) == watched:
            time.sleep(POLL)
        return 0
    except ServerError as exc:
        report.send(str(exc))
        return 1
    except BaseException:
        report.send(traceback.format_exc())
        raise
    finally:
        if server is not None:
            _stop_server(server)
        if run_dir is not None:
            shutil.rmtree(run_dir, ignore_errors=True)


def _start_server(bindir: Path, run_dir: Path) -> tuple[Started, subprocess.Popen[bytes]]:
    account = _account()
    if account is not None:
        os.chown(run_dir, account.pw_uid, account.pw_gid)
    password = secrets.token_urlsafe(24)  # URL-safe: goes in the URL as it is
    pwfile = run_dir / "password"
    pwfile.write_text(password)
    if account is not None:
        os.chown(pwfile, account.pw_uid, account.pw_gid)
    data = run_dir / "data"
    initdb = subprocess.run(
        [
            str(bindir / "initdb"),
            *("-D", str(data), "-U", "postgres", "--pwfile", str(pwfile)),
            *("--auth", "scram-sha-256", "-E", "UTF8", "--locale", "C"),
            *("--no-sync", "--no-instructions"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=START_TIMEOUT,
        **_as(account),
    )
    pwfile.unlink()
    if initdb.returncode != 0:
        runs_as = "" if account is None else f" as user {account.pw_name}, who must reach {data}"
        raise ServerError(f"initdb failed ({bindir}{runs_as}):\n{initdb.stdout}{initdb.stderr}")
    die_with_parent = _die_with_parent()
    for _attempt in range(5):  # another process may take the free port before the server
        port = _free_port()
        settings = [f"-c{name}={value}" for name, value in SETTINGS.items()]
        with (run_dir / "server.log").open("wb") as log:
            server = subprocess.Popen(
                [str(bindir / "postgres"), "-D", str(data), "-p", str(port), *settings],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,  # noqa: PLW1509 - one thread here, see there
                **_as(account),
            )
        if _ready(server, data):
            url = f"postgresql://postgres:{password}@127.0.0.1:{port}/postgres"
            return Started(url, port, server.pid, os.getpid(), str(run_dir)), server
        _stop_server(server)
        log_text = (run_dir / "server.log").read_text(errors="replace")
        if "could not create any TCP/IP sockets" not in log_text:
            raise ServerError(f"postgres did not start ({bindir}):\n{log_text[-3000:]}")
    raise ServerError(f"postgres found no free port in 5 attempts:\n{log_text[-3000:]}")


def _account() -> pwd.struct_passwd | None:
    """The unprivileged user to run the server as when this is root, or None to run as
    this user. PostgreSQL refuses root; Debian's package makes the ``postgres`` user."""
    if os.geteuid() != 0:
        return None
    import pwd

    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise ServerError("running as root, with no user postgres or nobody to run the server as")


def _as(account: pwd.struct_passwd | None) -> dict[str, Any]:
    """``subprocess`` arguments that run a server's program: as ``account`` (without
    root's groups) when there is one, and always with the C locale, whose messages
    ``_start_server`` reads, and none of this process's PG* variables."""
    home = os.environ.get("HOME", "/") if account is None else account.pw_dir
    env = {"PATH": os.defpath, "LC_ALL": "C", "HOME": home}
    if account is None:
        return {"env": env}
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": [], "env": env}


def _die_with_parent() -> Callable[[], None] | None:
    """What the server's process runs just before it starts: die when the supervisor dies.

    It runs after the switch to the server's user (which would clear the setting), and
    so may not import anything (root's Python may be unreadable to that user): the
    function is looked up here. Linux sends the signal when the thread that started the
    process ends: the supervisor has one thread. SIGQUIT is PostgreSQL's immediate
    shutdown: it takes its backends along.
    """
    if sys.platform != "linux":
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    return lambda: prctl(1, signal.SIGQUIT)  # PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _ready(server: subprocess.Popen[bytes], data: Path) -> bool:
    """Whether the server came up: its pid file says ``ready`` (what ``pg_ctl -w`` reads)
    before it exits or the start's time is up."""
    deadline = time.monotonic() + START_TIMEOUT
    while server.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            lines = (data / "postmaster.pid").read_text().splitlines()
            if len(lines) >= 8 and lines[7].strip() == "ready":
                return True
        time.sleep(0.01)
    return False


def _stop_server(server: subprocess.Popen[bytes]) -> None:
    """Fast shutdown (SIGINT): clients are cut off, nothing waits on them."""
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
    try:
        server.wait(5)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _process_start(pid: int) -> str | None:
    """An identity of process ``pid`` (its start time, where /proc tells it), or None
    once it is gone: a new process given the same pid is not the one watched, and a
    zombie is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:  # no /proc (macOS): only whether the pid is taken
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return "alive"
    fields = stat.rpartition(")")[2].split()
    return None if fields[0] in ("Z", "X") else fields[19]


def sweep(tmp: Path | None = None) -> list[Path]:
    """Remove the run directories whose supervisor and server are both gone (a run
    killed with its supervisor); answer which. A directory of another user is left."""
    removed = []
    owners = (os.geteuid(), _owner_uid())
    for found in _run_dirs(tmp):
        try:
            supervisor = int((found / "supervisor.pid").read_text())
            if found.stat().st_uid not in owners:
                continue
        except (OSError, ValueError):
            continue  # being made, or not ours
        if _process_start(supervisor) is not None or _postmaster_alive(found / "data"):
            continue
        shutil.rmtree(found, ignore_errors=True)
        removed.append(found)
    return removed


def _run_dirs(tmp: Path | None) -> Iterator[Path]:
    base = Path(tempfile.gettempdir()) if tmp is None else tmp
    for found in base.glob(f"{PREFIX}*"):
        if found.is_dir() and not found.is_symlink():
            yield found


def _owner_uid() -> int:
    try:
        account = _account()
    except ServerError:
        return os.geteuid()
    return os.geteuid() if account is None else int(account.pw_uid)


def _postmaster_alive(data: Path) -> bool:
    try:
        pid = int((data / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return False
    return _process_start(pid) is not None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("bindir", help="print the server binaries' directory; exit 1 if none")
    supervise = commands.add_parser("supervise", help="start a server; print its JSON report")
    supervise.add_argument("bin", type=Path)
    supervise.add_argument("watch", type=int, help="stop the server when this pid is gone")
    supervise.add_argument("log", type=Path, help="the supervisor's messages after the start")
    args = parser.parse_args(argv)
    if args.command == "bindir":
        found = find_bindir()
        if found is None:
            print(f"no PostgreSQL server binaries: {INSTALL}", file=sys.stderr)
            return 1
        print(found)
        return 0
    return _launch(args.bin, args.watch, args.log)


if __name__ == "__main__":
    sys.exit(main())
