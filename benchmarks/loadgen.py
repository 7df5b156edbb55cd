"""Load generators for the GET benchmark: wrk when installed, else a small asyncio client.

Both hold ``concurrency`` keep-alive connections to one loopback URL, send the
same GET with a bearer key on each as fast as answers come back, for a fixed
time, and report the same :class:`Load`: requests, seconds, errors and the
latency distribution as 1,000 quantile points (0.1 %, 0.2 %, … 100 %), so that
several slices of one target can be merged.

Given several URLs (the same path on several servers: instances sharing one
database), one load generator spreads its connections evenly over them: wrk
runs one thread per server (``report.lua`` points each at its own port), the
Python fallback opens its connections to each in turn. ``concurrency`` is then
rounded down to a multiple of the number of servers.

wrk (Debian package ``wrk``, C, epoll) is what the figures are meant for: one
wrk thread needs a fraction of a core at these rates. The Python fallback
(``--loadgen python``) is a bounded asyncio loop over raw sockets (no HTTP
library, so it costs as little Python as possible per request), but on a
2-core machine it competes with the server for CPU: its absolute figures are
lower than wrk's, and only ratios between targets measured with it compare.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
WRK_SCRIPT = HERE / "report.lua"
QUANTILES = 1000


@dataclass
class Load:
    """What one or more slices of load against one URL measured."""

    requests: int = 0
    seconds: float = 0.0
    errors: int = 0  # non-2xx answers, connect/read/write errors, timeouts
    # (latency in µs, weight in requests) pairs from every slice, for merging
    points: list[tuple[float, float]] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def add(self, other: Load) -> None:
        self.requests += other.requests
        self.seconds += other.seconds
        self.errors += other.errors
        self.points.extend(other.points)

    def percentile_ms(self, pct: float) -> float:
        """The ``pct`` percentile of latency over all slices, in milliseconds."""
        if not self.points:
            return math.nan
        ordered = sorted(self.points)
        total = sum(weight for _, weight in ordered)
        wanted = total * pct / 100
        running = 0.0
        for latency, weight in ordered:
            running += weight
            if running >= wanted:
                return latency / 1000
        return ordered[-1][0] / 1000


def _from_quantiles(requests: int, seconds: float, errors: int, quantiles: Sequence[float]) -> Load:
    weight = requests / len(quantiles) if quantiles else 0.0
    return Load(requests, seconds, errors, [(float(q), weight) for q in quantiles])


def wrk_path() -> str | None:
    return shutil.which("wrk")


def connections(servers: int, concurrency: int) -> int:
    """The connections held against ``servers`` servers: as many to each, ``concurrency``
    at most (but one to each)."""
    return max(1, concurrency // servers) * servers


def _ports(urls: Sequence[str]) -> list[int]:
    """The ports of ``urls``, which must differ in nothing else."""
    parts = [urlsplit(url) for url in urls]
    if len({(p.scheme, p.hostname, p.path, p.query) for p in parts}) != 1:
        raise ValueError(f"spread load over the same URL on other ports only: {list(urls)}")
    return [p.port or 80 for p in parts]


def run_wrk(urls: Sequence[str], *, seconds: float, concurrency: int, api_key: str) -> Load:
    """One slice of wrk: 1 thread per server (one server: the other core is its own)."""
    wrk = wrk_path()
    if wrk is None:
        raise RuntimeError("wrk is not installed")
    ports = _ports(urls)
    command = [
        wrk,
        f"-t{len(urls)}",
        f"-c{connections(len(urls), concurrency)}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "5s",
        "-s",
        str(WRK_SCRIPT),
        urls[0],
    ]
    env = {**os.environ, "BENCH_API_KEY": api_key}
    env["BENCH_PORTS"] = ",".join(map(str, ports)) if len(ports) > 1 else ""
    done = subprocess.run(  # noqa: S603 - a fixed command line on a loopback URL
        command, capture_output=True, text=True, env=env, timeout=seconds + 30, check=False
    )
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    report = json.loads(line.removeprefix("WRK_JSON "))
    errors = sum(
        report[k] for k in ("non2xx", "connect_errors", "read_errors", "write_errors", "timeouts")
    )
    return _from_quantiles(
        report["requests"], report["duration_us"] / 1e6, errors, report["quantiles"]
    )


async def _connection(
    host: str, port: int, request: bytes, deadline: float, latencies: list[float]
) -> int:
    """Send ``request`` back to back on one keep-alive connection; returns error count."""
    errors = 0
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            chunked = False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
            if chunked:  # none of the three targets chunks a JSON answer; read it anyway
                while True:
                    size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                    await reader.readexactly(size + 2)
                    if size == 0:
                        break
            else:
                await reader.readexactly(length)
            latencies.append((time.perf_counter() - started) * 1e6)
            if not 200 <= status < 400:
                errors += 1
    finally:
        writer.close()
    return errors


async def _python_load(urls: Sequence[str], seconds: float, concurrency: int, api_key: str) -> Load:
    ports = _ports(urls)
    parts = urlsplit(urls[0])
    host = parts.hostname or "127.0.0.1"
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {api_key}\r\nAccept: */*\r\n\r\n"
    ).encode()
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + seconds
    results = await asyncio.wait_for(  # bounded even if the server stops answering
        asyncio.gather(
            *(
                _connection(host, ports[i % len(ports)], request, deadline, latencies)
                for i in range(connections(len(urls), concurrency))
            ),
            return_exceptions=True,
        ),
        timeout=seconds + 10,
    )
    elapsed = time.perf_counter() - started
    errors = sum(r if isinstance(r, int) else 1 for r in results)
    latencies.sort()
    n = len(latencies)
    quantiles = [latencies[min(n - 1, math.ceil(n * i / QUANTILES) - 1)] for i in range(1, 1001)]
    return _from_quantiles(n, elapsed, errors, quantiles if n else [])


def run_python(urls: Sequence[str], *, seconds: float, concurrency: int, api_key: str) -> Load:
    """One slice of the asyncio fallback (bounded by ``seconds``)."""
    return asyncio.run(_python_load(urls, seconds, concurrency, api_key))
