"""Outgoing requests share one TLS context instead of building one each time.

Before :mod:`mock_api.tls`, every webhook pump and every remote fetch built a
context and loaded the CA bundle into it (about 30 ms of CPU each): in one
``verify`` run against ``serve``, 493 pumps cost the fake 16 of its 28 CPU
seconds. These tests count the contexts built while the fake sends webhooks
and fetches media for real.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx
import pytest

from mock_api import ManualClock, MockService
from mock_api.fetch import RemoteFetchPolicy, fetch_remote
from mock_api.tls import tls_context
from tests.helpers import AUTH, SUBMIT, job_input
from tests.receiver import running_receiver
from tests.test_fetch import LocalServer, running

pytestmark = pytest.mark.anyio


@pytest.fixture
def contexts_built(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every TLS context built from now on (httpx builds its own through this)."""
    tls_context()  # the shared one is built once, before counting starts
    built: list[object] = []
    original = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        built.append(args or kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    return built


async def test_webhook_pumps_build_no_context_of_their_own(
    client: httpx.AsyncClient,
    clock: ManualClock,
    service: MockService,
    contexts_built: list[object],
) -> None:
    with running_receiver("/hooks") as receiver:
        for _ in range(3):
            await client.post(
                SUBMIT, params={"webhook": receiver.url}, json=job_input(), headers=AUTH
            )
            clock.advance(60)
            assert await service.webhooks.pump() == 1
        assert len(receiver.received) == 3
    assert contexts_built == []


async def test_remote_fetches_build_no_context_of_their_own(contexts_built: list[object]) -> None:
    policy = RemoteFetchPolicy(enabled=True, allow_private=True, timeout_seconds=10)
    with running(LocalServer()) as server:
        for _ in range(3):
            body = await fetch_remote(f"http://127.0.0.1:{server.port}/clip.mp4", policy)
            assert body == b"real bytes over a real socket"
    assert contexts_built == []
