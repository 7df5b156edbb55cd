"""``verify`` against Prism mocking ``openapi.yaml``: refused, naming Prism, first.

Prism answers every operation with the spec's examples: shapes right, state none,
so no job it accepts ever runs. Pointed at it, ``verify`` used to count it as the
paid service and lead with a budget plan; with a budget it ran, followed the
examples' URLs (then ``127.0.0.1:8000``: whatever listened there) and failed every
stateful check. Now its first line says it is Prism and why the suite cannot use it,
before anything but the two probes is sent. (That the checks fail a stateless
server is tests/test_contracts_harness.py's, with stand-ins in tests/stand_ins.py.)

Runs where Prism is installed: ``prism`` on the PATH (``npm install -g
@stoplight/prism-cli``), or ``npm ci --prefix benchmarks`` as ``benchmarks/run.sh``
does; skipped, naming those commands, where it is neither. ``scripts/check`` does
not install it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.live import free_port
from tests.test_contracts_by_url import ROOT
from tests.test_verify import verify

#: The version benchmarks/package.json pins.
PRISM_PACKAGE = "@stoplight/prism-cli@5.14.2"


def find_prism(path: str | None = None) -> Path | None:
    """``prism`` on the PATH, else the one ``npm ci --prefix benchmarks`` installs."""
    found = shutil.which("prism", path=path)
    if found is not None:
        return Path(found)
    local = ROOT / "benchmarks" / "node_modules" / ".bin" / "prism"
    return local if local.exists() else None


PRISM = find_prism()
needs_prism = pytest.mark.skipif(
    PRISM is None,
    reason=f"Prism is not installed: npm install -g {PRISM_PACKAGE} "
    "(or npm ci --prefix benchmarks)",
)


@contextmanager
def prism() -> Iterator[str]:
    assert PRISM is not None
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(PRISM), "mock", str(ROOT / "openapi.yaml"), "-h", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{url}/api/v3/balance", headers={"Authorization": "Bearer k"}, timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Prism did not start on {url}") from None
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


@needs_prism
def test_verify_names_prism_first_and_runs_nothing_against_it() -> None:
    with prism() as url:
        result = verify(url, "--budget", "10")
    out = result.stdout
    assert "Traceback" not in out + result.stderr, out[-3000:] + result.stderr[-3000:]
    assert result.returncode == 4, out[-3000:]
    first, advice = out.splitlines()[:2]
    assert first == (
        f"wavespeed-mock verify: NOT RUN: {url} is a Prism mock server, not a WaveSpeed API: "
        "it answers the spec's examples and keeps no state, so no job it accepts ever runs "
        "(GET /openapi.yaml answered Prism's NO_PATH_MATCHED_ERROR)"
    )
    assert "point --base-url at one of them" in advice
    assert "  PASS  " not in out
    assert "  FAIL  " not in out


def test_prism_is_found_on_the_path(tmp_path: Path) -> None:
    # Before: only benchmarks/node_modules/.bin/prism was looked for.
    executable = tmp_path / "prism"
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    assert find_prism(path=f"{tmp_path}{os.pathsep}/nonexistent") == executable
