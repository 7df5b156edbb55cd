"""The contract suite by URL: against a second fake on a loopback port, never the internet.

What the by-URL tests share: :func:`serving` starts a fake as a
:class:`~mock_api.server.LiveServer` in this process, and :func:`run` starts
``pytest contracts/...`` in a subprocess pointed at it, so the by-URL path
(identification, sleeps instead of a clock, ``X-Mock-Outcome``) is exercised for
real. A fake that hides its ``/openapi.yaml`` looks like a paid endpoint, which
is how the paid path and the budget's refusal are tested for free (through
``verify``, in ``test_verify.py``).

Where the whole suite runs by URL: ``tests/test_wheel.py`` (``verify`` from the
installed wheel against ``serve``, every check, two accounts, nothing skipped)
and ``tests/test_verify.py`` (against a paid-looking fake). Parts of it run here
and in ``tests/test_contracts_harness.py`` against servers that misbehave.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from mock_api import MockService, Settings, create_app
from mock_api.planning import Pace
from mock_api.server import LiveServer

ROOT = Path(__file__).resolve().parent.parent
KEY = "by-url-key"
SECOND_KEY = "by-url-key-2"
SUBMIT = "/api/v3/wavespeed-ai/infinitetalk-fast/video-to-video-multi"
#: Jobs finish in about 50 ms of wall time, so a run over HTTP stays short.
BRISK = Pace("brisk", queue_ms=20, base_ms=20, per_output_second_ms=(1, 1))


def hide_spec(app: ASGIApp) -> ASGIApp:
    """The fake, minus ``/openapi.yaml``: to the suite, a paid endpoint."""

    async def disguised(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/openapi.yaml":
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await app(scope, receive, send)

    return disguised


@contextmanager
def serving(*, paid_looking: bool = False, pace: Pace = BRISK) -> Iterator[tuple[str, MockService]]:
    """A second fake on a free loopback port; yields its URL and its service."""
    app = create_app(Settings(random_seed=7, pace=pace, api_keys=frozenset({KEY, SECOND_KEY})))
    with LiveServer(hide_spec(app) if paid_looking else app) as server:
        yield server.url, app.state.service


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any WAVESPEED_* a developer may have exported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAVESPEED_")}
    return {**env, **extra}


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def submissions(service: MockService) -> list[str]:
    return [e.headers.get("x-mock-outcome", "") for e in service.journal.entries(path=SUBMIT)]


def test_the_options_are_registered_for_a_plain_pytest_at_the_root() -> None:
    result = run("--help")
    assert result.returncode == 0, result.stderr
    for flag in ("--wavespeed-base-url", "--wavespeed-api-key", "--wavespeed-budget"):
        assert flag in result.stdout
