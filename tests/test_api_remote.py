"""Job inputs on other hosts: fetched only when allowed, never from private addresses."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from mock_api import ManualClock, RemoteFetchPolicy, Settings
from mock_api.media import silence_wav
from tests.helpers import AUTH, SUBMIT, MakeClient, job_input

pytestmark = pytest.mark.anyio

WAV = silence_wav(Decimal(12), sample_rate=8000)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "audio/wav")
        self.send_header("Content-Length", str(len(WAV)))
        self.end_headers()
        self.wfile.write(WAV)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def media_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/left.wav"
    server.shutdown()
    server.server_close()


async def _run(client: httpx.AsyncClient, clock: ManualClock, url: str) -> dict[str, Any]:
    response = await client.post(
        SUBMIT, json={**job_input(right=2), "left_audio": url}, headers=AUTH
    )
    assert response.status_code == 200
    clock.advance(60)
    result = await client.get(
        f"/api/v3/predictions/{response.json()['data']['id']}/result", headers=AUTH
    )
    data: dict[str, Any] = result.json()["data"]
    return data


async def test_remote_input_is_fetched_when_allowed(
    make_client: MakeClient, clock: ManualClock, media_server: str
) -> None:
    # allow_private stands in for a public host: the test server can only live on loopback
    settings = Settings(remote_fetch=RemoteFetchPolicy(enabled=True, allow_private=True))
    async with make_client(settings) as client:
        done = await _run(client, clock, media_server)
        assert done["status"] == "completed"
        balance = (await client.get("/api/v3/balance", headers=AUTH)).json()["data"]["balance"]
        assert balance == 99.82  # 12 s read from the fetched file


async def test_loopback_is_refused_even_when_fetching_is_on(
    make_client: MakeClient, clock: ManualClock, media_server: str
) -> None:
    async with make_client(Settings(remote_fetch=RemoteFetchPolicy(enabled=True))) as client:
        failed = await _run(client, clock, media_server)
        assert (failed["status"], failed["code"]) == ("failed", 1402)
        assert failed["error"].startswith("left_audio: ")
        assert "loopback" in failed["error"]


async def test_remote_fetching_is_off_by_default(
    make_client: MakeClient, clock: ManualClock, media_server: str
) -> None:
    async with make_client(Settings()) as client:
        failed = await _run(client, clock, media_server)
        assert failed["code"] == 1402
        assert "remote fetching is disabled" in failed["error"]
