"""Run every benchmark of the fake on this machine and print figures, ratios and targets.

    .venv/bin/python benchmarks/run.py            # the table (about 5 minutes)
    .venv/bin/python benchmarks/run.py --json     # the same figures as JSON
    .venv/bin/python benchmarks/run.py --markdown docs/benchmarks/latest.md  # the docs' figures
    bash benchmarks/run.sh                        # installs Prism, Mockoon (and wrk), then runs

Every ratio compares figures measured in the same run, on the same machine, by
the same load generator. Nothing here asserts a time: targets are marked MET
or MISSED, never failed.

Over HTTP (each server its own process, loopback only, ``concurrency`` keep-alive
connections, a warm-up, then ``duration`` seconds per target, cut into
``rounds`` slices that alternate between targets so that load from elsewhere on
the machine hits every target alike), on each of uvicorn's two stacks
(:data:`STACKS`: h11 + asyncio, the pure-Python fallback, and httptools + uvloop,
what ``pip install wavespeed-mock`` brings where they install):

* bare: a Starlette JSON endpoint on uvicorn, the ceiling of the stack;
* fake: ``GET /api/v3/predictions/{id}/result`` of a job submitted just before,
  state in memory;
* fake_sqlite: the same, state in a SQLite file, as ``serve`` keeps it;
* fake_sqlite_x3: three processes on one SQLite file, each on its own port, one
  load generator spreading its connections over the three;
* fake_pg, fake_pg_x3: the same on the PostgreSQL database ``$WAVESPEED_BENCH_PG``
  names (skipped, with a note, when it is not set);
* prism: Prism 5.14.2 mocking ``openapi.yaml``, the same path and bearer key;
* mockoon: Mockoon CLI 9.9.0 started from ``openapi.yaml``, the same path and key.

The Python servers run under one uvicorn command line per stack (1 worker,
``--log-level warning``, ``--no-access-log``, ``--http``, ``--loop``); Prism with
``-v warn``; Mockoon as :func:`mockoon_command` says. The targets (issue 23), each
ratio within one run: the fake at least 0.5x the bare endpoint on the same stack,
and, on httptools + uvloop, at least 4x the faster of Prism and Mockoon.

The two peers do different work per GET:
Prism checks the bearer key and the request against the spec and answers one
of the spec's examples; Mockoon checks neither (it answers a request without a
key with 200 too) and renders, on every request, the Handlebars template its
OpenAPI import made from the response schema (faker numbers and dates, one of
the status enum), since it does not follow the spec's ``$ref``-ed named
examples. Mockoon also writes one JSON log line per request to its standard
output (it has no switch to turn that off); here that goes to a temporary file.

In-process: job cycles per second, the same on SQLite when a SQLite store
exists, latency with 100,000 stored jobs against an empty store (both stores), memory per
stored job, probe time per media file, ``serve`` start to first 200, and an
in-process fake's set-up plus first request.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # run from anywhere: mock_api is importable from the checkout

import docs_page  # noqa: E402 - after the path set-up above
import inprocess  # noqa: E402
import loadgen  # noqa: E402

from mock_api.serving import Stack, stack  # noqa: E402

PRISM = HERE / "node_modules" / ".bin" / "prism"
PRISM_VERSION = "5.14.2"
MOCKOON = HERE / "node_modules" / ".bin" / "mockoon-cli"
MOCKOON_VERSION = "9.9.0"
API_KEY = inprocess.API_KEY
HOST = "127.0.0.1"
RESULT_PATH = "/api/v3/predictions/{id}/result"


# results


@dataclass
class Row:
    """One line of the table."""

    group: str
    name: str
    value: float | None  # None: not measured (see ``note``)
    unit: str
    versus: str = ""  # the ratio against its baseline, in words
    ratio: float | None = None
    target: str = ""
    status: str = ""  # MET, MISSED, or empty when the figure has no target
    note: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row


def _met(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    base: str
    log: IO[bytes]
    started_s: float = math.nan  # from spawning to the first 200

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-2000:]

    def cpu_s(self) -> float:
        """CPU seconds (user + system, every thread) the server has used so far."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return math.nan
        # utime and stime: fields 14 and 15 of proc(5), counted after the ")" of comm
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return math.nan
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return math.nan

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def spawn(
    name: str,
    command: Sequence[str],
    port: int,
    ready_path: str,
    env: dict[str, str] | None = None,
) -> Server:
    """Start ``command`` and wait until ``ready_path`` answers 200 (with the bench key)."""
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by Server.stop
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 - fixed command lines, loopback ports
        list(command),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    server = Server(name, process, f"http://{HOST}:{port}", log)
    url = f"{server.base}{ready_path}"
    deadline = started + 60
    last = "no answer"
    with httpx.Client(headers={"Authorization": f"Bearer {API_KEY}"}, timeout=2) as client:
        while True:
            if process.poll() is not None:
                output = server.output()
                server.stop()
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{output}")
            try:
                answer = client.get(url)
                if answer.status_code == 200:
                    break
                last = f"{answer.status_code}: {answer.text[:300]}"
            except httpx.TransportError as exc:
                last = repr(exc)
            if time.perf_counter() > deadline:
                output = server.output()
                server.stop()
                raise RuntimeError(
                    f"{name} did not answer 200 on {url} within 60 s (last: {last})\n{output}"
                )
            time.sleep(0.005)
    server.started_s = time.perf_counter() - started
    return server


def uvicorn_command(app: str, port: int, on: Stack, *, factory: bool = False) -> list[str]:
    """The one uvicorn command line of every Python server on the stack ``on``.

    ``--http`` names what ``serve`` runs: on httptools, its protocol class
    (:mod:`mock_api.httptools_protocol`), which differs from uvicorn's only in
    how each connection's parser is set up.
    """
    command = [sys.executable, "-m", "uvicorn", "--app-dir", str(HERE), app]
    command += ["--factory"] if factory else []
    command += ["--host", HOST, "--port", str(port), "--workers", "1"]
    command += ["--http", on.protocol, "--loop", on.loop]
    return [*command, "--log-level", "warning", "--no-access-log"]


def serve_command(port: int, data_dir: Path) -> list[str]:
    command = [sys.executable, "-m", "mock_api.cli", "serve", "--port", str(port)]
    return [*command, "--data-dir", str(data_dir), "--log-level", "warning"]


def prism_command(port: int) -> list[str]:
    spec = str(ROOT / "openapi.yaml")
    return [str(PRISM), "mock", spec, "-h", HOST, "-p", str(port), "-v", "warn"]


def mockoon_command(port: int) -> list[str]:
    """Mockoon CLI serving ``openapi.yaml`` on loopback.

    Its options otherwise at their defaults, but for three that keep the run to
    the mock itself: no log file (``-X``; standard output only), no admin API
    under ``/mockoon-admin/``, and no fetching of external ``$ref`` URLs (the
    spec has none; the switch makes sure nothing leaves loopback).
    """
    spec = str(ROOT / "openapi.yaml")
    command = [str(MOCKOON), "start", "--data", spec, "--hostname", HOST, "--port", str(port)]
    return [*command, "--disable-log-to-file", "--disable-admin-api", "--disable-external-refs"]


@contextmanager
def running(servers: list[Server]) -> Iterator[list[Server]]:
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


# HTTP benchmarks


def start_times(
    name: str,
    command: Callable[[int], list[str]],
    ready: str,
    times: int,
    env: dict[str, str] | None = None,
) -> tuple[list[float], Server | None]:
    """Start a server ``times`` times, measuring spawn to first 200; keep the last running."""
    found: list[float] = []
    last: Server | None = None
    for i in range(times):
        port = free_port()
        server = spawn(name, command(port), port, ready, env)
        found.append(server.started_s)
        if i < times - 1:
            server.stop()
        else:
            last = server
    return found, last


def submit_job(base: str) -> str:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        answer = client.post(inprocess.SUBMIT_PATH, json=inprocess.submission(base))
        answer.raise_for_status()
        job_id: str = answer.json()["data"]["id"]
        return job_id


def check_answer(name: str, url: str) -> dict[str, Any]:
    """What the target answers: it must be 200 with a prediction in ``data``."""
    answer = httpx.get(url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=5)
    body = answer.json()
    data = body.get("data") or {}
    seen = {
        "status_code": answer.status_code,
        "content_type": answer.headers.get("content-type"),
        "bytes": len(answer.content),
        "data.status": data.get("status"),
        "data.id": data.get("id"),
        "outputs": len(data.get("outputs") or []),
    }
    if answer.status_code != 200 or "status" not in data:
        raise RuntimeError(f"{name} answered {answer.status_code}: {answer.text[:300]}")
    return seen


#: uvicorn's two stacks, by key: the pure-Python fallback and the one ``pip install
#: wavespeed-mock`` brings where httptools and uvloop install.
STACKS = {"pure": ("h11", "asyncio"), "fast": ("httptools", "uvloop")}
#: What each Python target is, per stack (the peers run on Node, once for both).
KINDS = ("bare", "fake", "fake_sqlite", "fake_sqlite_x3", "fake_pg", "fake_pg_x3")
FAKE_KINDS = ("fake", "fake_sqlite", "fake_pg")  # one instance: the targets apply
PEERS = ("prism", "mockoon")
LABELS = {
    "bare": "bare Starlette",
    "fake": "fake, memory",
    "fake_sqlite": "fake, SQLite",
    "fake_sqlite_x3": "fake, SQLite, 3 instances",
    "fake_pg": "fake, PostgreSQL",
    "fake_pg_x3": "fake, PostgreSQL, 3 instances",
    "prism": f"Prism {PRISM_VERSION}",
    "mockoon": f"Mockoon CLI {MOCKOON_VERSION}",
}
PEER_NOTES = {
    "prism": "checks the key and the request against the spec; answers a spec example",
    "mockoon": "checks neither key nor request; renders a faker template per GET; "
    "logs each request to stdout",
}
#: The environment variable naming the PostgreSQL database the fake_pg rows use.
PG_ENV = "WAVESPEED_BENCH_PG"
#: Instances sharing one database in the _x3 rows.
INSTANCES = 3
# Issue 23's bar for the fake on GET result, each ratio taken within one run: against the
# bare endpoint on the same stack (both stacks), against the faster peer on httptools +
# uvloop (the stack `pip install wavespeed-mock` brings).
MIN_VS_BARE = 0.5
MIN_VS_PEERS = 4.0
#: Warm-up of the Python servers: enough for their caches; Node's JIT needs --warmup.
PYTHON_WARMUP_S = 2.0


@dataclass
class Target:
    """One thing loaded: a peer, or a kind of Python server on one stack (1 or 3 processes)."""

    key: str  # "fast/fake_sqlite", "prism"
    kind: str  # a member of KINDS or PEERS
    stack: str | None  # a key of STACKS; None for the peers
    servers: list[Server]
    urls: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def label(self) -> str:
        return LABELS[self.kind]

    def cpu_s(self) -> float:
        return sum(server.cpu_s() for server in self.servers)


@dataclass
class HttpFigures:
    loads: dict[str, loadgen.Load]  # by Target.key
    targets: dict[str, Target]
    stacks: dict[str, Stack]  # the stacks measured, by key
    skipped: dict[str, str]  # Target.key: why it was not measured
    serve_starts: list[float]
    peer_starts: dict[str, list[float]]  # by peer, for the peers that ran
    # CPU time each server used per answered GET over the measured slices: it moves
    # much less than throughput with what else runs on the machine (see cpu_rows)
    cpu_us: dict[str, float]


def _load_function(args: argparse.Namespace, report: Report) -> Callable[..., loadgen.Load]:
    use_wrk = args.loadgen == "wrk" or (args.loadgen == "auto" and loadgen.wrk_path())
    report.environment["load_generator"] = (
        f"wrk ({loadgen.wrk_path()}), 1 thread per server" if use_wrk else "python asyncio"
    )
    return loadgen.run_wrk if use_wrk else loadgen.run_python


def start_peers(
    args: argparse.Namespace, scratch: Path
) -> tuple[list[Server], dict[str, list[float]]]:
    """Time each installed peer's start to first 200; return the last start of each, running."""
    wanted = [
        ("prism", f"Prism {PRISM_VERSION}", PRISM, prism_command, args.no_prism),
        ("mockoon", f"Mockoon CLI {MOCKOON_VERSION}", MOCKOON, mockoon_command, args.no_mockoon),
    ]
    running_peers: list[Server] = []
    starts: dict[str, list[float]] = {}
    try:
        for name, label, binary, command, skipped in wanted:
            if skipped:
                continue
            if not binary.exists():
                _log(f"{label} is not installed: `npm ci --prefix benchmarks` (or run.sh) does it")
                continue
            _log(f"{label}: start to first 200, {args.starts} times")
            # Mockoon's CLI makes ~/.mockoon-cli/logs at every start, log file or not:
            # a scratch HOME keeps the run from leaving that behind.
            env = {"HOME": tempfile.mkdtemp(dir=scratch)} if name == "mockoon" else None
            found, last = start_times(name, command, "/api/v3/balance", args.starts, env)
            assert last is not None
            starts[name] = found
            running_peers.append(last)
    except BaseException:
        for server in running_peers:
            server.stop()
        raise
    return running_peers, starts


def chosen_stacks(args: argparse.Namespace) -> tuple[dict[str, Stack], dict[str, str]]:
    """The stacks to measure that this machine has; the others, with why not."""
    found: dict[str, Stack] = {}
    missing: dict[str, str] = {}
    for key in args.stacks:
        http, loop = STACKS[key]
        try:
            found[key] = stack(http, loop)
        except ValueError as exc:
            missing[key] = str(exc)
    return found, missing


def _app(kind: str, db: str) -> tuple[str, dict[str, str], str]:
    """The app of a kind of Python target (uvicorn's argument), its environment, and the
    path that answers 200 once it is up."""
    if kind == "bare":
        return "servers:bare_app", {}, RESULT_PATH.format(id="ready")
    if kind == "fake":
        return "servers:fake_app", {}, "/api/v3/balance"
    return "servers:fake_db_app", {"BENCH_DB": db}, "/api/v3/balance"


def start_python_targets(
    args: argparse.Namespace, on: dict[str, Stack], scratch: Path, started: list[Server]
) -> tuple[list[Target], dict[str, str]]:
    """Every Python target of every stack, started (each server also put in ``started``)."""
    pg = os.environ.get(PG_ENV, "").strip()
    targets: list[Target] = []
    skipped: dict[str, str] = {}
    for key, runs_on in on.items():
        for kind in KINDS:
            name = f"{key}/{kind}"
            if "sqlite" in kind and args.no_sqlite:
                continue
            if "_pg" in kind and not pg:
                skipped[name] = f"not measured: set {PG_ENV} to a PostgreSQL URL to measure it"
                continue
            # Each SQLite target its own file; the PostgreSQL ones share the database given.
            sqlite = str(Path(tempfile.mkdtemp(dir=scratch)) / "state.db")
            app, env, ready = _app(kind, pg if "_pg" in kind else sqlite)
            count = INSTANCES if kind.endswith("_x3") else 1
            _log(f"starting {name} ({runs_on}){f', {count} processes' if count > 1 else ''}")
            servers: list[Server] = []
            for _ in range(count):
                port = free_port()
                command = uvicorn_command(app, port, runs_on, factory=kind != "bare")
                server = spawn(name, command, port, ready, env)
                started.append(server)
                servers.append(server)
            note = ""
            if count > 1:
                connections = loadgen.connections(count, args.concurrency)
                note = (
                    f"{count} processes on one database, each on its own port; one load "
                    f"generator, {connections // count} connections to each"
                )
            targets.append(Target(name, kind, key, servers, note=note))
    return targets, skipped


def measure_http(args: argparse.Namespace, report: Report, scratch: Path) -> HttpFigures:
    """Start-up times, then GET load on every target, interleaved."""
    load = _load_function(args, report)
    on, missing = chosen_stacks(args)
    for key, why in missing.items():
        _log(f"stack {'+'.join(STACKS[key])} is not measured: {why}")
    report.environment["stacks"] = {key: str(runs_on) for key, runs_on in on.items()}
    _log(f"`wavespeed-mock serve`: start to first 200, {args.starts} times")

    def serve_fresh(port: int) -> list[str]:  # a new, empty state database each time
        return serve_command(port, Path(tempfile.mkdtemp(dir=scratch)))

    serve_starts, serve_last = start_times("serve", serve_fresh, "/api/v3/balance", args.starts)
    if serve_last is not None:
        serve_last.stop()
    peers, peer_starts = start_peers(args, scratch)
    skipped = {
        f"{key}/{kind}": f"not measured: {why}" for key, why in missing.items() for kind in KINDS
    }
    with running(list(peers)) as servers:
        targets = [Target(p.name, p.name, None, [p]) for p in peers]
        python, not_run = start_python_targets(args, on, scratch, servers)
        targets += python
        skipped.update(not_run)
        # A job on each fake (through the first of its instances: they share it); the
        # bare endpoint and the peers answer any id, and are asked for one of those.
        job_ids = {
            t.key: submit_job(t.servers[0].base) for t in targets if t.kind not in ("bare", *PEERS)
        }
        any_job = next(iter(job_ids.values()), "ready")
        for target in targets:
            job_id = job_ids.get(target.key, any_job)
            target.urls = [s.base + RESULT_PATH.format(id=job_id) for s in target.servers]
        report.details["answers"] = {
            t.key: check_answer(t.key, url) for t in targets for url in t.urls
        }

        loads = {t.key: loadgen.Load() for t in targets}
        slice_s = args.duration / args.rounds
        _log(
            f"GET at concurrency {args.concurrency}: warm-up ({args.warmup:g} s for the Node "
            f"peers, {PYTHON_WARMUP_S:g} s for the rest), then {args.rounds} x {slice_s:g} s "
            f"per target, interleaved, {len(targets)} targets"
        )
        for target in targets:
            warmup = args.warmup if target.stack is None else min(args.warmup, PYTHON_WARMUP_S)
            load(target.urls, seconds=warmup, concurrency=args.concurrency, api_key=API_KEY)
        cpu = {t.key: 0.0 for t in targets}
        for _ in range(args.rounds):
            for target in targets:
                before = target.cpu_s()
                part = load(
                    target.urls, seconds=slice_s, concurrency=args.concurrency, api_key=API_KEY
                )
                cpu[target.key] += target.cpu_s() - before
                loads[target.key].add(part)
        report.details["rss_mb_after_load"] = {
            t.key: [round(s.rss_mb(), 1) for s in t.servers] for t in targets
        }
    for key, result in loads.items():
        report.details[f"get {key}"] = {
            "requests": result.requests,
            "seconds": round(result.seconds, 3),
            "errors": result.errors,
            "rps": round(result.rps, 1),
            "p50_ms": round(result.percentile_ms(50), 3),
            "p90_ms": round(result.percentile_ms(90), 3),
            "p99_ms": round(result.percentile_ms(99), 3),
            "cpu_s": round(cpu[key], 2),
        }
    cpu_us = {k: cpu[k] / loads[k].requests * 1e6 for k in loads if loads[k].requests}
    by_key = {t.key: t for t in targets}
    return HttpFigures(loads, by_key, on, skipped, serve_starts, peer_starts, cpu_us)


def faster_peer(figures: HttpFigures) -> str | None:
    """The peer that answered more GETs a second, if any ran."""
    ran = [p for p in PEERS if p in figures.loads and figures.loads[p].requests]
    return max(ran, key=lambda p: figures.loads[p].rps, default=None)


def get_rows(figures: HttpFigures, concurrency: int, report: Report) -> None:
    """Per stack: throughput against the bare endpoint and the faster peer, CPU, latency."""
    loads = figures.loads
    peer = faster_peer(figures)
    for key, runs_on in figures.stacks.items():
        group = f"GET result over HTTP on {runs_on}, concurrency {concurrency}"
        bare = loads.get(f"{key}/bare")
        for kind in KINDS:
            name = f"{key}/{kind}"
            label = f"{LABELS[kind]}: throughput"
            if name in figures.skipped:
                report.add(Row(group, label, None, "req/s", note=figures.skipped[name]))
                continue
            if name not in loads:
                continue
            result = loads[name]
            row = report.add(Row(group, label, result.rps, "req/s"))
            notes = [figures.targets[name].note, f"{result.errors} errors" if result.errors else ""]
            row.note = "; ".join(filter(None, notes))
            if kind != "bare" and bare is not None and bare.rps:
                row.ratio = result.rps / bare.rps
                row.versus = f"{row.ratio:.2f}x bare"
            if kind in FAKE_KINDS:
                row.target = f">= {MIN_VS_BARE:g}x bare"
                ok = row.ratio is not None and row.ratio >= MIN_VS_BARE and not result.errors
                row.status = _met(ok)
        for kind in KINDS:
            name = f"{key}/{kind}"
            if kind == "bare" or name not in loads:
                continue
            label = f"{LABELS[kind]} vs the faster of Prism and Mockoon"
            if peer is None:
                report.add(Row(group, label, None, "x", note="neither Prism nor Mockoon ran"))
                continue
            ratio = loads[name].rps / loads[peer].rps
            row = Row(group, label, ratio, "x", f"{ratio:.2f}x {LABELS[peer]}", ratio)
            # The bar is the default stack's (what `pip install wavespeed-mock` runs on):
            # on h11, even the bare endpoint does not reach 4x Prism in every run.
            if kind in FAKE_KINDS and runs_on.fast:
                row.target = f">= {MIN_VS_PEERS:g}x faster peer"
                row.status = _met(ratio >= MIN_VS_PEERS)
            report.add(row)
        cpu_rows(figures, key, group, report)
        latency_rows(figures, key, group, report)
    peer_group_rows(figures, concurrency, report)


def latency_rows(figures: HttpFigures, key: str, group: str, report: Report) -> None:
    bare = figures.loads.get(f"{key}/bare")
    for pct in (50, 99):
        for kind in KINDS:
            result = figures.loads.get(f"{key}/{kind}")
            if result is None:
                continue
            value = result.percentile_ms(pct)
            row = report.add(Row(group, f"{LABELS[kind]}: latency p{pct}", value, "ms"))
            if kind != "bare" and bare is not None:
                row.ratio = value / bare.percentile_ms(pct)
                row.versus = f"{row.ratio:.2f}x bare"
            if kind in FAKE_KINDS and pct == 99:
                row.target = "< 10 ms"
                row.status = _met(value < 10)


def peer_group_rows(figures: HttpFigures, concurrency: int, report: Report) -> None:
    group = f"GET result over HTTP, the peers (Node), concurrency {concurrency}"
    for peer in PEERS:
        result = figures.loads.get(peer)
        if result is None:
            report.add(Row(group, f"{LABELS[peer]}: throughput", None, "req/s", note="not run"))
            continue
        note = "; ".join(
            filter(None, (f"{result.errors} errors" if result.errors else "", PEER_NOTES[peer]))
        )
        report.add(Row(group, f"{LABELS[peer]}: throughput", result.rps, "req/s", note=note))
        if peer in figures.cpu_us:
            report.add(Row(group, f"{LABELS[peer]}: CPU per request", figures.cpu_us[peer], "us"))
        for pct in (50, 99):
            value = result.percentile_ms(pct)
            report.add(Row(group, f"{LABELS[peer]}: latency p{pct}", value, "ms"))


def cpu_rows(figures: HttpFigures, key: str, group: str, report: Report) -> None:
    """CPU per GET, each server's own (user + system time of all its threads).

    On a machine shared with other work, throughput ratios also measure how the
    scheduler shares the cores between the servers and everything else (a Node
    server runs its garbage collector on helper threads; uvicorn is one thread).
    CPU per request is what an answer costs the server itself, its system calls
    included, so it tells a slow server from a starved one; the load generator's
    time is not in it. Three instances: the three processes' time together.
    """
    base = figures.cpu_us.get(f"{key}/bare")
    for kind in KINDS:
        value = figures.cpu_us.get(f"{key}/{kind}")
        if value is None:
            continue
        row = report.add(Row(group, f"{LABELS[kind]}: CPU per request", value, "us"))
        if kind != "bare" and base:
            row.ratio = value / base
            row.versus = f"{row.ratio:.2f}x bare"


def side_by_side(figures: HttpFigures) -> list[list[str]]:
    """Every target's GET throughput, one column per stack: what the README's table shows."""
    keys = list(figures.stacks)
    header = ["GET result, req/s", *(str(figures.stacks[k]) for k in keys)]
    lines = [header]
    for kind in KINDS:
        cells = [LABELS[kind]]
        for key in keys:
            name = f"{key}/{kind}"
            result = figures.loads.get(name)
            bare = figures.loads.get(f"{key}/bare")
            if result is None:
                cells.append("-")
            elif kind == "bare" or bare is None:
                cells.append(f"{result.rps:,.0f}")
            else:
                cells.append(f"{result.rps:,.0f} ({result.rps / bare.rps:.2f}x bare)")
        if any(cell != "-" for cell in cells[1:]):
            lines.append(cells)
    for peer in PEERS:
        result = figures.loads.get(peer)
        if result is not None:
            lines.append([LABELS[peer], *[f"{result.rps:,.0f}"] * len(keys)])
    return lines


def startup_rows(figures: HttpFigures, report: Report) -> None:
    group = "start-up"
    serve_s = statistics.median(figures.serve_starts)
    listed = ", ".join(f"{s * 1000:.0f}" for s in figures.serve_starts)
    row = report.add(Row(group, "`wavespeed-mock serve`: start to first 200", serve_s * 1000, "ms"))
    row.note = f"median of {len(figures.serve_starts)} ({listed} ms)"
    versus: list[str] = []
    for peer, starts in figures.peer_starts.items():
        peer_s = statistics.median(starts)
        if row.ratio is None:
            row.ratio = serve_s / peer_s
        versus.append(f"{serve_s / peer_s:.2f}x {peer.capitalize()}")
        listed = ", ".join(f"{s * 1000:.0f}" for s in starts)
        name = f"{LABELS[peer]}: start to first 200"
        note = f"median of {len(starts)} ({listed} ms)"
        report.add(Row(group, name, peer_s * 1000, "ms", note=note))
    row.versus = ", ".join(versus)


def http_benchmarks(args: argparse.Namespace, report: Report) -> None:
    with tempfile.TemporaryDirectory(prefix="wavespeed-bench-") as scratch:
        figures = measure_http(args, report, Path(scratch))
    report.details["side_by_side"] = side_by_side(figures)
    get_rows(figures, args.concurrency, report)
    startup_rows(figures, report)


# in-process benchmarks


def inprocess_benchmarks(args: argparse.Namespace, report: Report) -> None:
    group = "job cycles (in-process, instant pace)"
    _log(f"job cycles: submit + poll to completion for {args.cycle_seconds:g} s")
    cycles = inprocess.job_cycles(args.cycle_seconds)
    report.add(
        Row(
            group,
            "memory store: full cycles",
            cycles.per_second,
            "cycles/s",
            note=f"{cycles.cycles} cycles in {cycles.seconds:.2f} s",
        )
    )
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = inprocess.job_cycles_sqlite(args.cycle_seconds, Path(tmp) / "bench.db")
    ratio = sqlite.per_second / cycles.per_second
    report.add(
        Row(
            group,
            "SQLite store (serve's default): full cycles",
            sqlite.per_second,
            "cycles/s",
            f"{ratio:.2f}x memory",
            ratio,
            note=f"{sqlite.cycles} cycles in {sqlite.seconds:.2f} s",
        )
    )

    stored_rows(args, report)
    probe_rows(report)
    setup_rows(args, report)


def stored_rows(args: argparse.Namespace, report: Report) -> None:
    group = f"{args.jobs:,} stored jobs, full journal (in-process)"
    _log(f"storing {args.jobs:,} jobs (memory, SQLite); GET and submit against empty stores")
    with tempfile.TemporaryDirectory() as tmp:
        stored = inprocess.stored_jobs(args.jobs, Path(tmp))
    journal_note = "the journal holding its limit of 100,000 entries, as after 100,000 requests"
    own_note = "all on the polling account, on silver quotas: the worst case for per-account reads"
    others_note = (
        f"{args.jobs:,} jobs on {inprocess.OTHER_ACCOUNTS:,} other accounts; "
        "this account on silver quotas"
    )
    for what, figures, ratio_of in (
        ("GET result", stored.get_us, stored.get_ratio),
        ("submit", stored.submit_us, stored.submit_ratio),
    ):
        for state, label, note in (
            ("empty", "memory, empty store", ""),
            ("jobs", f"memory, {args.jobs:,} jobs stored", own_note),
            ("others", "memory, jobs on other accounts", others_note),
            ("journal", "memory, journal full", journal_note),
            ("sqlite empty", "SQLite, empty store", ""),
            ("sqlite jobs", f"SQLite, {args.jobs:,} jobs stored", own_note),
        ):
            row = Row(group, f"{what}, {label} (median)", figures[state] / 1000, "ms", note=note)
            if "empty" not in state:
                ratio = ratio_of(state)
                row.versus, row.ratio = f"{ratio:.2f}x empty", ratio
                row.target, row.status = "< 1.2x empty", _met(ratio < 1.2)
            report.add(row)
    report.details["stored_jobs_populate_s"] = round(stored.populate_s, 2)
    report.details["stored_jobs_get_p99_ms"] = {
        k: round(v / 1000, 3) for k, v in stored.get_p99_us.items()
    }
    _log("memory per stored job and per journal entry (tracemalloc)")
    per_job = inprocess.bytes_per_job()
    note = "tracemalloc over 5,000 jobs, each with its own quote, plan, inputs and ledger entry"
    report.add(Row(group, "memory per stored job", per_job, "bytes", note=note))
    per_entry = inprocess.bytes_per_journal_entry()
    note = "tracemalloc over 2,000 GETs of a result; the journal keeps the last 100,000"
    report.add(Row(group, "memory per journal entry (GET result)", per_entry, "bytes", note=note))


def probe_rows(report: Report) -> None:
    group = "media probe (per file)"
    _log("probing fixtures/media")
    for probe in inprocess.probe_times():
        report.add(
            Row(
                group,
                f"{probe.kind} {probe.file} ({probe.container}, {probe.size:,} B)",
                probe.per_call_us,
                "us",
            )
        )


def setup_rows(args: argparse.Namespace, report: Report) -> None:
    group = "in-process fake"
    _log("in-process set-up + first request")
    cold = _cold_setup_ms()
    warm = inprocess.setup_first_request(args.setups)
    median = statistics.median(warm)
    report.add(
        Row(
            group,
            "create_app + ASGI client + first GET",
            median,
            "ms",
            target="< 20 ms",
            status=_met(median < 20),
            note=f"median of {len(warm)}, fake's modules and spec already loaded",
        )
    )
    report.add(
        Row(
            group,
            "the same, first in a fresh process",
            cold,
            "ms",
            note="imports excluded; includes loading openapi.yaml once",
        )
    )
    plugin = inprocess.plugin_setup_first_request(args.setups)
    report.add(
        Row(
            group,
            "pytest plugin: WavespeedMock + sync client + first GET + close",
            statistics.median(plugin),
            "ms",
            note=f"median of {len(plugin)}",
        )
    )


def _cold_setup_ms() -> float:
    done = subprocess.run(  # noqa: S603 - this interpreter on a fixed snippet
        [sys.executable, "-c", inprocess.COLD_SNIPPET],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


# output


def _value(row: Row) -> str:
    if row.value is None:
        return "-"
    if row.unit == "x":
        return f"{row.value:.2f}x"
    if row.unit in ("req/s", "cycles/s", "bytes", "us"):
        return f"{row.value:,.0f} {row.unit}"
    return f"{row.value:.2f} {row.unit}"


def print_table(report: Report) -> None:
    env = report.environment
    print(
        f"wavespeed-mock benchmarks: {env['cpus']} CPUs, Python {env['python']}, "
        f"load average {env['loadavg_start']} at start"
    )
    print(f"load generator: {env.get('load_generator', '-')}")
    idle = env.get("cpu_idle_before")
    if isinstance(idle, float) and idle < 0.8:
        print(
            f"warning: the CPUs were only {idle:.0%} idle before the run: other processes "
            "compete with the benchmark, so absolute figures are low and tail latencies "
            "high; targets are ratios of interleaved slices, which suffer less"
        )
    matrix = report.details.get("side_by_side")
    if matrix:
        print()
        print_matrix(matrix)
    headers = ("figure", "value", "vs baseline", "target", "")
    widths = [
        max(len(headers[0]), *(len(r.name) for r in report.rows)),
        max(len(headers[1]), *(len(_value(r)) for r in report.rows)),
        max(len(headers[2]), *(len(r.versus) for r in report.rows)),
        max(len(headers[3]), *(len(r.target) for r in report.rows)),
    ]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cells[0].ljust(widths[0]),
            cells[1].rjust(widths[1]),
            cells[2].ljust(widths[2]),
            cells[3].ljust(widths[3]),
            cells[4],
        ]
        return "  ".join(parts).rstrip()

    group = None
    for row in report.rows:
        if row.group != group:
            group = row.group
            print(f"\n== {group}")
            print(line(headers))
        print(line([row.name, _value(row), row.versus, row.target, row.status]))
        if row.note:
            print(f"   {row.note}")
    met = [r for r in report.rows if r.status == "MET"]
    missed = [r for r in report.rows if r.status == "MISSED"]
    print(f"\ntargets: {len(met)} met, {len(missed)} missed")
    for row in missed:
        print(f"  MISSED {row.name}: {_value(row)} (target {row.target})")


def print_matrix(lines: list[list[str]]) -> None:
    """Rows of cells, the first the header, in aligned columns."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    for n, line in enumerate(lines):
        cells = [
            line[0].ljust(widths[0]),
            *(c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)),
        ]
        print("  ".join(cells).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def cpu_idle(seconds: float = 1.0) -> float | None:
    """The share of all CPUs' time spent idle over ``seconds`` (Linux /proc/stat)."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return fields[3] + fields[4], sum(fields)  # idle + iowait, total

    try:
        idle0, total0 = sample()
        time.sleep(seconds)
        idle1, total1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return (idle1 - idle0) / max(1, total1 - total0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument(
        "--markdown",
        type=Path,
        metavar="FILE",
        help="also write the figures as the docs site's page fragment "
        "(docs/benchmarks/latest.md), with the commit and machine they were measured on",
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of GET per target")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved slices per target")
    parser.add_argument(
        "--warmup", type=float, default=8.0, help="seconds of warm-up per target (Prism: JIT)"
    )
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument(
        "--stacks",
        type=lambda text: [part for part in text.split(",") if part],
        default=list(STACKS),
        help="uvicorn stacks to load the Python servers on, comma-separated: "
        "pure (h11 + asyncio), fast (httptools + uvloop); default both",
    )
    parser.add_argument("--no-prism", action="store_true", help="skip Prism even if installed")
    parser.add_argument(
        "--no-mockoon", action="store_true", help="skip Mockoon CLI even if installed"
    )
    parser.add_argument(
        "--no-sqlite",
        action="store_true",
        help="skip the fake on SQLite (one and three instances) in the GET benchmark",
    )
    parser.add_argument("--no-http", action="store_true", help="skip the benchmarks over HTTP")
    parser.add_argument(
        "--no-inprocess", action="store_true", help="skip the in-process benchmarks"
    )
    parser.add_argument("--starts", type=int, default=3, help="server starts to take a median of")
    parser.add_argument("--cycle-seconds", type=float, default=3.0)
    parser.add_argument("--jobs", type=int, default=100_000, help="jobs to store")
    parser.add_argument("--setups", type=int, default=15, help="in-process set-ups to time")
    args = parser.parse_args(argv)
    if not args.stacks or set(args.stacks) - set(STACKS):
        parser.error(f"--stacks: a comma-separated list of {', '.join(STACKS)}")
    if args.rounds < 1 or args.duration < args.rounds:
        parser.error("--duration must be at least --rounds seconds (wrk slices are whole seconds)")

    report = Report()
    report.environment = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "cpu_idle_before": cpu_idle(),
        "concurrency": args.concurrency,
        "duration_s_per_target": args.duration,
        "rounds": args.rounds,
        "node": shutil.which("node"),
    }
    started = time.perf_counter()
    if not args.no_http:
        http_benchmarks(args, report)
    if not args.no_inprocess:
        inprocess_benchmarks(args, report)
    report.environment["loadavg_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    report.environment["wall_s"] = round(time.perf_counter() - started, 1)
    if args.markdown is not None:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        docs_page.write(args.markdown, asdict(report), when=when)
    if args.json:
        print(json.dumps(asdict(report), indent=2, default=str))
    else:
        print_table(report)
        print(f"(whole run: {report.environment['wall_s']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
