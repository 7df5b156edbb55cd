"""Generated samples: the same bytes as the media writers, streamed a block at a time.

Sixteen requests for ``silence.wav?seconds=1200`` that never read their answers
held 16 x 38 MB; now a request holds one 64 KiB block at most, however long the
sample and however slow its client.
"""

from __future__ import annotations

import asyncio
import contextlib
import tracemalloc
from decimal import Decimal
from typing import Any

import httpx
import pytest

from mock_api import create_app
from mock_api.media import silence_wav, write_mp4
from mock_api.samples import silence
from tests.helpers import BASE

pytestmark = pytest.mark.anyio

#: (seconds, sample rate): whole, fractional, half-sample ties both ways, the longest.
LENGTHS = [
    ("5", 16000),
    ("0.0000625", 16000),
    ("0.00009375", 16000),
    ("0.00015625", 16000),
    ("1.23456789", 8000),
    ("599.99997", 16000),
    ("1200", 16000),
    ("1200", 8000),
]


@pytest.mark.parametrize(("seconds", "rate"), LENGTHS, ids=[f"{s}s-{r}" for s, r in LENGTHS])
def test_a_streamed_silence_is_the_wav_writers_byte_for_byte(seconds: str, rate: int) -> None:
    sample = silence(Decimal(seconds), sample_rate=rate)
    expected = silence_wav(Decimal(seconds), sample_rate=rate)
    assert sample.read() == expected
    assert b"".join(sample.chunks()) == expected
    assert sample.size == len(expected)
    assert max(len(chunk) for chunk in sample.chunks()) <= 64 * 1024


async def test_sample_answers_are_the_files_with_their_length() -> None:
    app = create_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        wav = await c.get("/media/samples/silence.wav", params={"seconds": "61.5"})
        mp4 = await c.get("/media/samples/video.mp4", params={"seconds": "7.25"})
        tiny = await c.get("/media/samples/silence.wav", params={"seconds": "0.00001"})
        bad = await c.get("/media/samples/silence.wav", params={"seconds": "1201"})
    assert wav.content == silence_wav(Decimal("61.5"))
    assert (wav.headers["content-type"], wav.headers["content-length"]) == (
        "audio/wav",
        str(44 + 61.5 * 16000 * 2).removesuffix(".0"),
    )
    assert mp4.content == write_mp4(7250)
    assert mp4.headers["content-length"] == str(len(mp4.content))
    assert tiny.content == silence_wav(Decimal("0.0000625"))  # under one sample: one sample
    assert bad.status_code == 400
    assert bad.json()["details"][0]["field"] == "seconds"


async def _stalled(app: Any, query: str, stalled: list[int], hang_up: asyncio.Event) -> None:
    """One GET whose client takes the answer's first piece, then reads no more."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/media/samples/silence.wav",
        "raw_path": b"/media/samples/silence.wav",
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await hang_up.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not hang_up.is_set():
            stalled.append(len(message.get("body", b"")))
            await hang_up.wait()  # a full socket: the server's send waits
            raise OSError("the client hung up")

    with contextlib.suppress(OSError):
        await app(scope, receive, send)


async def test_clients_that_never_read_long_samples_hold_almost_nothing() -> None:
    app = create_app()
    stalled: list[int] = []
    hang_up = asyncio.Event()
    query = "seconds=600"  # 19.2 MB each at 16 kHz
    tracemalloc.start()
    try:
        requests = [asyncio.create_task(_stalled(app, query, stalled, hang_up)) for _ in range(8)]
        async with asyncio.timeout(20):
            while len(stalled) < 8:
                await asyncio.sleep(0.01)
        held = tracemalloc.get_traced_memory()[0]
        hang_up.set()
        await asyncio.gather(*requests)
    finally:
        tracemalloc.stop()
    assert held < 2 << 20  # 8 x 19.2 MB when each answer was built whole
    assert max(stalled) <= 64 * 1024
