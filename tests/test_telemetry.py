"""The fake adds no spans to the traces of the process it runs in.

FastAPI 0.162 and later trace every request for whatever OpenTelemetry
provider the process has set up; a client's test that traces its own calls
would find the fake's spans among them. The fake switches that off
(``mock_api.app._NO_TELEMETRY``). A tracer provider is process-wide and set
once, so each case runs in a fresh interpreter.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap

import pytest
from fastapi import FastAPI

pytestmark = pytest.mark.skipif(
    "telemetry" not in inspect.signature(FastAPI).parameters,
    reason="this FastAPI has no native telemetry to switch off",
)

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    import httpx
    from opentelemetry import trace

    started = []

    class Tracer(trace.NoOpTracer):
        def start_span(self, name, *args, **kwargs):
            started.append(name)
            return super().start_span(name, *args, **kwargs)

    class Provider(trace.TracerProvider):  # not a NoOp one: FastAPI skips those
        def get_tracer(self, *args, **kwargs):
            return Tracer()

    trace.set_tracer_provider(Provider())

    if sys.argv[1] == "fake":
        from mock_api.app import create_app
        app = create_app()
    else:  # the control: a plain FastAPI app in the same set-up
        from fastapi import FastAPI
        app = FastAPI()
        app.get("/api/v3/balance")(lambda: {"code": 200})

    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://mock") as client:
            answer = await client.get("/api/v3/balance", headers={"Authorization": "Bearer k"})
            assert answer.status_code == 200, answer.text

    asyncio.run(main())
    print(len(started))
    """
)


def _spans_started(app: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, app], check=False, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


def test_a_plain_fastapi_app_traces_the_request() -> None:
    """The control: the set-up does record FastAPI's spans."""
    assert _spans_started("plain") >= 1


def test_the_fake_starts_no_span() -> None:
    assert _spans_started("fake") == 0
