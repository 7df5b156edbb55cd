"""Another process holding SQLite's write lock does not freeze the server.

The store's calls are synchronous and the server makes them on its event loop:
a writer waiting out SQLite's 10 s busy timeout there stopped every request of
its process, then answered 500. Now a writer on the loop waits at most 1 s, then
answers 503 with ``Retry-After`` having changed nothing, and does not wait again
until the lock is free; reads never wait (WAL). Here the lock is held by a
plain ``sqlite3`` connection to the same file, as another process would.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from mock_api import ManualClock, Settings, create_app
from mock_api.errors import Unavailable
from mock_api.quotas import Limits
from mock_api.spec import default_spec
from mock_api.storage.sqlite import SqliteStore
from tests.helpers import AUTH, BASE, SUBMIT, auth, job_input

SUBMIT_OPERATION = "submitInfiniteTalkFastVideoToVideoMulti"

pytestmark = pytest.mark.anyio


@contextlib.contextmanager
def write_lock_held(db: Path) -> Iterator[None]:
    """Hold the database's write lock from another connection, as another process would."""
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(random_seed=3), clock=ManualClock(), db=tmp_path / "state.db")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield c
    app.state.service.close()


async def _timed(request: asyncio.Future[httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = await request
    return response, time.perf_counter() - started


async def test_a_held_write_lock_answers_writes_503_and_leaves_reads_prompt(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    submitted = await client.post(SUBMIT, json=job_input(), headers=AUTH)
    assert submitted.status_code == 200
    result = f"/api/v3/predictions/{submitted.json()['data']['id']}/result"

    with write_lock_held(tmp_path / "state.db"):
        read, took = await _timed(asyncio.ensure_future(client.get(result, headers=AUTH)))
        assert (read.status_code, took < 3) == (200, True)  # not the 10 s busy timeout

        # A write waits for the lock at most 1 s, then says to come back: never 500.
        started = time.perf_counter()
        refused = await asyncio.wait_for(
            client.post(SUBMIT, json=job_input(), headers=AUTH), timeout=15
        )
        waited = time.perf_counter() - started
        assert refused.status_code == 503, refused.text
        assert 0.9 <= waited < 3
        assert refused.headers["retry-after"] == "1"
        body = refused.json()
        assert (body["code"], body["error_code"], body["data"]) == (
            503,
            "service_unavailable",
            None,
        )
        assert "locked by another process" in body["message"]
        assert default_spec().response_violations(SUBMIT_OPERATION, 503, body) == []

        # While it stays held, writes answer at once and reads go on.
        started = time.perf_counter()
        answers = await asyncio.gather(
            *(client.post(SUBMIT, json=job_input(), headers=AUTH) for _ in range(5)),
            *(client.get("/api/v3/balance", headers=auth(f"newcomer-{n}")) for n in range(5)),
            *(client.get(result, headers=AUTH) for _ in range(10)),
        )
        assert time.perf_counter() - started < 2  # not a second's wait per write
        assert [a.status_code for a in answers] == [503] * 10 + [200] * 10

    # Nothing the refused requests asked for was done; once free, writes go through.
    listed = await client.post(
        "/api/v3/predictions", json={"page": 1, "page_size": 20}, headers=AUTH
    )
    assert listed.json()["data"]["total"] == 1
    assert (await client.get("/_mock/ledger", params={"api_key": "newcomer-0"})).json()["data"][
        "entries"
    ] == []
    assert (await client.post(SUBMIT, json=job_input(), headers=AUTH)).status_code == 200


def test_a_writer_off_the_event_loop_waits_its_busy_timeout_then_raises_the_same(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "state.db", busy_timeout_ms=300)
    with write_lock_held(tmp_path / "state.db"):
        started = time.perf_counter()
        with pytest.raises(Unavailable) as raised:
            store.limits.set_limits(None, Limits(1, 1))
        assert 0.25 <= time.perf_counter() - started < 2
        assert raised.value.retry_after_seconds == 1
        assert store.limits.limits(None) is None  # reads are not held up
    store.limits.set_limits(None, Limits(1, 1))
    assert store.limits.limits(None) == Limits(1, 1)
    store.close()


def test_closing_while_another_process_holds_the_lock_takes_at_most_a_second(
    tmp_path: Path,
) -> None:
    """A stopping server checkpoints the WAL; a held lock makes that partial, not slow."""
    store = SqliteStore(tmp_path / "state.db")
    store.limits.set_limits(None, Limits(2, 2))
    with write_lock_held(tmp_path / "state.db"):
        started = time.perf_counter()
        store.close()
        assert time.perf_counter() - started < 2  # waited the whole 10 s busy timeout
    reopened = SqliteStore(tmp_path / "state.db")
    assert reopened.limits.limits(None) == Limits(2, 2)  # nothing lost
    reopened.close()
