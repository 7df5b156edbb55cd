"""Hostile and heavy input: oversized uploads, thousands of concurrent submissions."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from mock_api import ManualClock, MockService, Settings, create_app
from mock_api.media import silence_wav
from tests.helpers import AUTH, BASE, SUBMIT, job_input

pytestmark = pytest.mark.anyio

MB = 1_000_000


async def _multipart(head: bytes, total: int, boundary: str = "hostile") -> AsyncIterator[bytes]:
    """A multipart body with one file part of ``total`` bytes, streamed 64 KiB at a time."""
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    yield head
    chunk = bytes(64 * 1024)
    sent = len(head)
    while sent < total:
        piece = chunk[: min(len(chunk), total - sent)]
        sent += len(piece)
        yield piece
    yield f"\r\n--{boundary}--\r\n".encode()


@pytest.mark.parametrize("path", ["/api/v3/media/upload/binary", "/api/v3/upload"])
async def test_an_oversized_upload_is_refused_without_holding_the_body(path: str) -> None:
    limits = {"image": 1 * MB, "video": 1 * MB, "audio": 1 * MB, "other": 1 * MB}
    app = create_app(Settings(upload_limits=limits))
    head = silence_wav(Decimal(1), sample_rate=8000)[:64]  # a WAV header: sniffed as audio
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        async for piece in _multipart(head, 40 * MB):
            sent += len(piece)
            yield piece

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        tracemalloc.start()
        try:
            response = await client.post(
                path,
                content=body(),
                headers={**AUTH, "Content-Type": "multipart/form-data; boundary=hostile"},
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert response.status_code == 413
    assert (
        response.json()["message"]
        == "file is more than 1000000 bytes; the limit for audio is 1000000 bytes"
    )
    assert peak < 8 * MB  # the limit plus a few chunks, not the 40 MB sent
    assert sent < 40 * MB  # it stopped reading early


async def test_two_thousand_concurrent_submissions_across_ten_accounts() -> None:
    clock = ManualClock()
    service = MockService(Settings(random_seed=5), clock)
    app = create_app(service=service)
    keys = [f"key-{n}" for n in range(10)]
    limits = httpx.Limits(max_connections=None)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE, limits=limits
    ) as client:

        async def submit(n: int) -> tuple[str, str]:
            key = keys[n % 10]
            outcome = "fail" if n % 7 == 0 else "complete"
            response = await client.post(
                SUBMIT,
                json=job_input(left=1 + n % 9, right=2, order="left_right"),
                headers={"Authorization": f"Bearer {key}", "X-Mock-Outcome": outcome},
            )
            assert response.status_code == 200, response.text
            return key, response.json()["data"]["id"]

        results = await asyncio.gather(*(submit(n) for n in range(2000)))
        ids = [job_id for _, job_id in results]
        assert len(set(ids)) == 2000
        assert {j.id for j in service.store.jobs()} == set(ids)
        clock.advance(3600)
        for key in keys:
            mine = [n for n in range(2000) if n % 10 == int(key.split("-")[1])]
            charged = sum(
                max(5, 1 + n % 9 + 2) * 15_000 for n in mine if n % 7 != 0
            )  # failed ones are refunded once they fail
            balance = await client.get(
                "/api/v3/balance", headers={"Authorization": f"Bearer {key}"}
            )
            assert (
                Decimal(str(balance.json()["data"]["balance"]))
                == Decimal(100_000_000 - charged) / MB
            )
            account_jobs = service.store.jobs(service.authenticate(f"Bearer {key}"))
            assert len(account_jobs) == 200
