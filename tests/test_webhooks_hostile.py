"""Webhook receivers that try to hurt the fake: raw asyncio servers on loopback.

Whoever submits a job chooses where its webhook goes, so the receiver may be
hostile: a gzip bomb (grew the fake by the bomb's size), an answer that never
ends, one trickled a byte every 2 s (each read came within the 5 s timeout, so
the attempt never ended, and another process re-sent the delivery when the
claim lapsed). Documented bounds: an attempt takes at most 5 s in all, and only
the answer's status and headers are read.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mock_api import ManualClock
from mock_api.storage.memory import MemoryStore
from mock_api.storage.sqlite import SqliteStore
from mock_api.webhooks import Delivery, DeliveryState, DeliveryStore, WebhookDispatcher

pytestmark = pytest.mark.anyio

Answer = Callable[[asyncio.StreamWriter], Awaitable[None]]
HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"


@dataclass
class Receiver:
    url: str = ""
    heads: list[bytes] = field(default_factory=list)  # each request's head, as received
    handlers: set[asyncio.Task[None]] = field(default_factory=set)


@contextlib.asynccontextmanager
async def receiver(answer: Answer) -> AsyncIterator[Receiver]:
    """A server that reads each request whole, then lets ``answer`` write what it will."""
    state = Receiver()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        state.handlers.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            state.heads.append(head)
            length = next(
                int(line.split(b":")[1])
                for line in head.lower().split(b"\r\n")
                if line.startswith(b"content-length:")
            )
            await reader.readexactly(length)
            await answer(writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the fake hung up: what it should do
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    state.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
    try:
        yield state
    finally:
        server.close()
        for task in state.handlers:
            task.cancel()
        await asyncio.gather(*state.handlers, return_exceptions=True)


def dispatcher(
    store: DeliveryStore, clock: ManualClock, *, attempt: float = 5.0, claim: float = 60.0
) -> WebhookDispatcher:
    """A dispatcher of one-line payloads; by default with the documented bounds."""
    return WebhookDispatcher(
        clock,
        lambda delivery: b'{"id": "j1"}',
        lambda account: "whsec_x",
        store=store,
        attempt_seconds=attempt,
        claim_seconds=claim,
    )


def delivery(url: str, clock: ManualClock) -> Delivery:
    return Delivery("msg_1", "j1", "acct_1", url, "http://testserver", clock.now_ms())


def trickle(every: float) -> Answer:
    """An answer's head, one byte every ``every`` seconds: each read comes in time."""

    async def answer(writer: asyncio.StreamWriter) -> None:
        for byte in HEAD:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(every)

    return answer


def _gzip_of_zeros(mib: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip format
    block = bytes(1 << 20)
    return b"".join(packer.compress(block) for _ in range(mib)) + packer.flush()


async def test_a_gzip_bomb_is_never_read_nor_inflated() -> None:
    bomb = _gzip_of_zeros(64)  # 64 MiB of zeros in about 64 KB

    async def answer(writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\n"
            + f"content-length: {len(bomb)}\r\n\r\n".encode()
            + bomb
        )
        await writer.drain()

    clock = ManualClock()
    webhooks = dispatcher(MemoryStore().deliveries, clock)
    async with receiver(answer) as hostile:
        webhooks.register(delivery(hostile.url, clock))
        tracemalloc.start()
        try:
            assert await asyncio.wait_for(webhooks.pump(), timeout=20) == 1
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 4 << 20  # 64 MiB and more when it was inflated
    [(head)] = hostile.heads
    assert b"\r\naccept-encoding: identity\r\n" in head.lower()
    [done] = webhooks.deliveries()
    assert (done.state, done.attempts[0].status) == (DeliveryState.DELIVERED, 200)


async def test_an_answer_that_never_ends_ends_the_attempt_at_its_head() -> None:
    async def answer(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 500 Oops\r\ntransfer-encoding: chunked\r\n\r\n")
        while True:  # a chunk of 64 KiB as fast as it is taken, forever
            writer.write(b"10000\r\n" + bytes(1 << 16) + b"\r\n")
            await writer.drain()

    clock = ManualClock()
    webhooks = dispatcher(MemoryStore().deliveries, clock)
    async with receiver(answer) as hostile:
        webhooks.register(delivery(hostile.url, clock))
        started = time.perf_counter()
        assert await asyncio.wait_for(webhooks.pump(), timeout=20) == 1
        assert time.perf_counter() - started < 1
    [retried] = webhooks.deliveries()
    assert (retried.state, retried.attempts[0].status) == (DeliveryState.PENDING, 500)
    assert retried.attempts[0].error == "HTTP 500"


@pytest.mark.waits  # seconds of a server's or a target's own timing
async def test_an_answer_trickled_a_byte_every_2_s_ends_the_attempt_at_5_s() -> None:
    clock = ManualClock()
    webhooks = dispatcher(MemoryStore().deliveries, clock)  # the documented bounds
    async with receiver(trickle(every=2.0)) as hostile:
        webhooks.register(delivery(hostile.url, clock))
        started = time.perf_counter()
        assert await asyncio.wait_for(webhooks.pump(), timeout=15) == 1
        took = time.perf_counter() - started
    assert 4.9 <= took < 7
    [retried] = webhooks.deliveries()
    [attempt] = retried.attempts
    assert (attempt.status, attempt.error) == (None, "no answer within 5 s")
    assert 4_900 <= attempt.duration_ms < 7_000
    assert (retried.state, retried.in_flight) == (DeliveryState.PENDING, False)
    assert retried.next_attempt_ms == clock.now_ms() + 1_000  # retried as any failure


async def test_a_claim_outlasts_its_attempt_so_no_other_process_sends_it_again(
    tmp_path: Path,
) -> None:
    """Two processes on one database; the first's attempt is held open by a trickle."""
    clock = ManualClock()
    first, second = (SqliteStore(tmp_path / "state.db") for _ in range(2))
    sending = dispatcher(first.deliveries, clock, attempt=0.3, claim=1.0)
    watching = dispatcher(second.deliveries, clock, attempt=0.3, claim=1.0)
    async with receiver(trickle(every=0.2)) as hostile:
        sending.register(delivery(hostile.url, clock))
        attempt = asyncio.create_task(sending.pump())
        while not hostile.heads:  # the first process claimed it, and is sending
            await asyncio.sleep(0.01)
        deadline = time.perf_counter() + 1.6  # past the first claim's 1 s
        while time.perf_counter() < deadline:
            await watching.pump()
            await asyncio.sleep(0.05)
        assert await asyncio.wait_for(attempt, timeout=15) == 1
    assert len(hostile.heads) == 1  # sent once
    [retried] = watching.deliveries()
    assert [a.error for a in retried.attempts] == ["no answer within 0.3 s"]
    first.close()
    second.close()


def test_a_claim_shorter_than_two_attempts_is_refused() -> None:
    with pytest.raises(ValueError, match="at least twice"):
        dispatcher(MemoryStore().deliveries, ManualClock(), attempt=5, claim=9)


async def test_an_attempt_the_store_cannot_take_yet_is_saved_at_the_next_pump(
    tmp_path: Path,
) -> None:
    """Another process holds the database's write lock when the answer comes."""
    db = tmp_path / "state.db"
    holder = sqlite3.connect(db, isolation_level=None)

    async def answer(writer: asyncio.StreamWriter) -> None:
        holder.execute("BEGIN IMMEDIATE")
        writer.write(HEAD)
        await writer.drain()

    clock = ManualClock()
    store = SqliteStore(db)
    webhooks = dispatcher(store.deliveries, clock)
    async with receiver(answer) as hostile:
        webhooks.register(delivery(hostile.url, clock))
        started = time.perf_counter()
        assert await asyncio.wait_for(webhooks.pump(), timeout=15) == 1
        assert time.perf_counter() - started < 3  # waited 1 s for the lock, then went on
        [claimed] = webhooks.deliveries()
        assert (claimed.in_flight, claimed.attempts) == (True, [])  # still its claim
        holder.execute("ROLLBACK")
        assert await webhooks.pump() == 0  # nothing due: the attempt is saved instead
    [done] = webhooks.deliveries()
    assert (done.state, [a.status for a in done.attempts]) == (DeliveryState.DELIVERED, [200])
    assert len(hostile.heads) == 1
    holder.close()
    store.close()
