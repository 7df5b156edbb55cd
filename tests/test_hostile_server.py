"""Hostile traffic against a real ``serve`` process: memory and shutdown stay bounded.

These need the process itself: its resident memory (read from ``/proc``) and
how it ends on SIGTERM with requests still in flight.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mock_api.serving import SHUTDOWN_GRACE_SECONDS
from tests.helpers import AUTH, SUBMIT, job_input
from tests.live import ServerProcess

MB = 1024 * 1024


def _rss(process: subprocess.Popen[bytes]) -> int:
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS line")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    started = ServerProcess("--db", str(tmp_path / "state.db"), "--journal-max-mb", "4")
    try:
        yield started.start()
    finally:
        started.close()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_refused_submissions_do_not_grow_the_server_past_its_journal(
    server: ServerProcess,
) -> None:
    # Before: every refused 60 KB body was kept (30,000 grew a server by 1.7 GB), and
    # the only bound was 100,000 entries: about 6 GB per worker.
    body = json.dumps({"prompt": "x" * 60_000}).encode()
    headers = {**AUTH, "Content-Type": "application/json"}
    assert server.process is not None
    with httpx.Client(base_url=server.url, timeout=30) as client:

        def send(count: int) -> None:
            for _ in range(count):
                assert client.post(SUBMIT, content=body, headers=headers).status_code == 400

        send(300)  # warm up: the journal fills its 4 MB, the allocator its arenas
        before = _rss(server.process)
        send(2_000)  # 120 MB of bodies, twice (each refusal is kept with its answer)
        grown = _rss(server.process) - before
        journal = client.get("/_mock/journal", params={"limit": 100_000}).json()["data"]
    assert grown < 24 * MB, f"RSS grew {grown / MB:.1f} MB"
    kept = journal["entries"]
    assert 50 <= len(kept) <= 4 * MB // 60_000  # only the newest fit in 4 MB
    assert kept[-1]["request"] == {"prompt": "x" * 60_000}


def test_sigterm_ends_requests_asleep_in_a_latency_fault_or_sync_mode(
    server: ServerProcess,
) -> None:
    # Before: uvicorn waited for every request in flight, so one latency fault of
    # 1e12 ms (or a sync-mode wait) kept the process alive forever after SIGTERM.
    with httpx.Client(base_url=server.url, timeout=30) as client:
        fault = {"id": "slow", "kind": "latency", "latency_ms": 300_000, "path": "/api/v3/balance"}
        assert client.post("/_mock/faults", json=fault).status_code == 200
        stuck = {"id": "stuck", "then": "stuck-processing"}
        assert client.post("/_mock/scenarios", json=stuck).status_code == 200
    outcomes: list[tuple[int, str]] = []

    def call(method: str, path: str, **kwargs: object) -> None:
        response = httpx.request(method, server.url + path, headers=AUTH, timeout=60, **kwargs)  # type: ignore[arg-type]
        outcomes.append((response.status_code, response.json()["message"]))

    sync = {**job_input(), "enable_sync_mode": True}
    threads = [
        threading.Thread(target=call, args=("GET", "/api/v3/balance")),
        threading.Thread(target=call, args=("POST", SUBMIT), kwargs={"json": sync}),
    ]
    for thread in threads:
        thread.start()
    time.sleep(1)  # both are in flight: one asleep in the fault, one waiting in sync mode
    assert server.process is not None
    process = server.process
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=SHUTDOWN_GRACE_SECONDS + 7)  # raises if it hangs
    took = time.monotonic() - started
    for thread in threads:
        thread.join(timeout=10)
    assert code == -signal.SIGTERM  # uvicorn stops cleanly, then re-raises the signal
    assert took < SHUTDOWN_GRACE_SECONDS + 2  # the documented bound: within 5 s
    ended = (503, "the mock is shutting down; this request was ended: retry elsewhere")
    assert outcomes == [ended, ended]
    assert "Cancel 2 running task(s)" in server.output
