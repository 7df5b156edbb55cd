"""How long ``wavespeed-mock verify`` takes against the fake by URL, and where the time goes.

    .venv/bin/python benchmarks/verify_speed.py              # one run of each, under a minute
    .venv/bin/python benchmarks/verify_speed.py --runs 3     # medians of three
    .venv/bin/python benchmarks/verify_speed.py --json

Starts ``wavespeed-mock serve --pace instant --api-key ...`` on a free loopback
port (a fresh server for each run, so every run sees an empty store), then:

* ``verify``: ``wavespeed-mock verify --base-url ...``, wall time from the
  command's start to its exit, and the per-check durations it prints;
* the baseline, in the same session against the same kind of server: the
  by-URL pytest run of the same suite, ``pytest contracts/
  --wavespeed-base-url ...`` with pytest's usual plugin loading, which is
  what ``verify`` ran before it learned to load only the plugins it needs.

CPU seconds of the client and of the server are printed beside the wall
time: the machine has 2 cores shared with others, so wall time moves with
their load and CPU time much less. The target (under 30 s) is marked MET or
MISSED, never asserted: performance is measured here, not in a test.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
KEY = "bench-key"
TARGET_SECONDS = 30.0
_CHECK = re.compile(r"^  (PASS|FAIL|SKIP)  (.*?)  (\d+\.\d+) s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def fake() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``wavespeed-mock serve --pace instant`` on a free loopback port, fresh state."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data_dir:
        command = [
            *(PYTHON, "-m", "mock_api.cli", "serve", "--port", str(port)),
            *("--pace", "instant", "--api-key", KEY, "--log-level", "warning"),
            *("--data-dir", data_dir),
        ]
        server = subprocess.Popen(  # noqa: S603 - our own command line
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{url}/openapi.yaml", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the fake did not start on {url}")
                time.sleep(0.05)
            yield url, server
        finally:
            server.terminate()
            server.wait(timeout=10)


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of a live process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def timed(command: list[str], server: subprocess.Popen[bytes]) -> dict[str, object]:
    """Run ``command``; its wall time, its CPU time and the server's, and its output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAVESPEED_")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before = _cpu_of(server.pid)
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own command line
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "wall_s": round(wall, 2),
        "client_cpu_s": round(client_cpu, 2),
        "server_cpu_s": round(_cpu_of(server.pid) - server_before, 2),
        "exit": done.returncode,
        "stdout": done.stdout,
    }


def verify_run() -> dict[str, object]:
    with fake() as (url, server):
        result = timed(
            [PYTHON, "-m", "mock_api.cli", "verify", "--base-url", url, "--api-key", KEY], server
        )
    checks = [
        (match.group(2), float(match.group(3)), match.group(1))
        for line in str(result["stdout"]).splitlines()
        if (match := _CHECK.match(line))
    ]
    result["checks"] = checks
    return result


def pytest_run() -> dict[str, object]:
    with fake() as (url, server):
        return timed(
            [
                *(PYTHON, "-m", "pytest", "contracts", "-q", "-p", "no:cacheprovider"),
                *("--wavespeed-base-url", url, "--wavespeed-api-key", KEY),
            ],
            server,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1, help="runs of each (medians are shown)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    verifies: list[dict[str, object]] = []
    baselines: list[dict[str, object]] = []
    for _ in range(args.runs):  # interleaved, so load from elsewhere hits both alike
        verifies.append(verify_run())
        baselines.append(pytest_run())

    def median(runs: list[dict[str, object]], key: str) -> float:
        return statistics.median(float(str(run[key])) for run in runs)

    figures = {
        "load_average_1m": os.getloadavg()[0],
        "verify": {k: median(verifies, k) for k in ("wall_s", "client_cpu_s", "server_cpu_s")},
        "pytest_by_url": {
            k: median(baselines, k) for k in ("wall_s", "client_cpu_s", "server_cpu_s")
        },
        "verify_exit": [run["exit"] for run in verifies],
        "pytest_exit": [run["exit"] for run in baselines],
        "checks": verifies[-1]["checks"],
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    checks: list[tuple[str, float, str]] = verifies[-1]["checks"]  # type: ignore[assignment]
    print(f"per-check durations of the last verify run ({len(checks)} checks):")
    for title, seconds, mark in sorted(checks, key=lambda check: -check[1]):
        print(f"  {seconds:6.2f} s  {mark}  {title}")
    in_checks = sum(seconds for _title, seconds, _mark in checks)
    v, p = figures["verify"], figures["pytest_by_url"]
    assert isinstance(v, dict)
    assert isinstance(p, dict)
    print(f"  {in_checks:6.2f} s  in checks; the rest is start-up, collection and the session")
    print()
    print(f"runs: {args.runs}; load average (1 min) at the end: {figures['load_average_1m']:.2f}")
    print(f"{'':24}{'wall s':>8}{'client CPU s':>14}{'server CPU s':>14}  exit")
    for name, row, runs in (
        ("verify", v, verifies),
        ("pytest contracts by URL", p, baselines),
    ):
        exits = ",".join(str(run["exit"]) for run in runs)
        print(
            f"{name:24}{row['wall_s']:>8.1f}{row['client_cpu_s']:>14.1f}"
            f"{row['server_cpu_s']:>14.1f}  {exits}"
        )
    verdict = "MET" if v["wall_s"] < TARGET_SECONDS else "MISSED"
    print(f"target: verify under {TARGET_SECONDS:.0f} s wall: {verdict}")


if __name__ == "__main__":
    main()
