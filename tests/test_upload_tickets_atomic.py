"""A ticket's PUT is one transaction: a PUT whose file cannot be stored leaves the ticket open.

Before, the ticket was taken in one transaction and the file stored in another:
when storing failed (a full disk, a crash in between) the ticket was used up, the
retried PUT answered 404 and the ticket's ``download_url`` never served anything.
Each case here makes storing fail once, on both stores, and checks that the
failed PUT changed nothing and the retried one works.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_api import ManualClock, MockService, Settings, create_app
from mock_api.storage import Store
from mock_api.storage.memory import MemoryStore
from mock_api.storage.sqlite import SqliteStore
from tests.helpers import AUTH, BASE

pytestmark = pytest.mark.anyio

DATA = b"RIFF" + bytes(range(256)) * 256  # 64 KiB and 4 bytes: new pages in a SQLite file


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "s.db")
    yield made
    made.close()


@pytest.fixture
async def client(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(service=MockService(Settings(random_seed=5), ManualClock(), store))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield c


def _disk_full() -> sqlite3.OperationalError:
    return sqlite3.OperationalError("database or disk is full")


def _raise_before_writing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store's add_file raises once, having written nothing."""
    real: Callable[..., Any] = store.files.add_file
    calls = iter([True])

    def add_file(*args: Any, **kwargs: Any) -> Any:
        if next(calls, False):
            raise _disk_full()
        return real(*args, **kwargs)

    monkeypatch.setattr(store.files, "add_file", add_file)


def _raise_after_writing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store's add_file writes the file, then raises once (as a failed commit would)."""
    real: Callable[..., Any] = store.files.add_file
    calls = iter([True])

    def add_file(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        if next(calls, False):
            raise _disk_full()
        return result

    monkeypatch.setattr(store.files, "add_file", add_file)


#: How storing the PUT's file fails once: by name, how to arrange it on a store.
FAILURES: dict[str, Callable[[Store, pytest.MonkeyPatch], None]] = {
    "raises-before-writing": _raise_before_writing,
    "raises-after-writing": _raise_after_writing,
}


async def _ticket(client: httpx.AsyncClient) -> tuple[str, str]:
    answer = await client.post(
        "/api/v3/media/uploads",
        json={"filename": "voice.wav", "size": len(DATA), "content_type": "audio/wav"},
        headers=AUTH,
    )
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    return data["upload"]["url"], data["download_url"]


async def _failed_put_then_retry(client: httpx.AsyncClient, put_url: str, download: str) -> None:
    failed = await client.put(put_url, content=DATA)
    assert failed.status_code == 500, failed.text
    assert "database or disk is full" in failed.json()["message"]
    # A request that does not answer 2xx changes nothing: no file behind the URL yet.
    assert (await client.get(download)).status_code == 404
    retried = await client.put(put_url, content=DATA)
    assert retried.status_code == 200, retried.text
    fetched = await client.get(download)
    assert fetched.status_code == 200
    assert fetched.content == DATA
    # And the ticket is used up now, as after any successful PUT.
    assert (await client.put(put_url, content=DATA)).status_code == 404


@pytest.mark.parametrize("failure", list(FAILURES))
async def test_a_put_whose_file_cannot_be_stored_leaves_the_ticket_usable(
    client: httpx.AsyncClient, store: Store, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    put_url, download = await _ticket(client)
    FAILURES[failure](store, monkeypatch)
    await _failed_put_then_retry(client, put_url, download)


async def test_a_put_on_a_full_sqlite_disk_leaves_the_ticket_usable(tmp_path: Path) -> None:
    # A real SQLITE_FULL, not a stand-in: the database may not grow past its current
    # pages, so inserting the file's 64 KiB fails inside SQLite itself.
    store = SqliteStore(tmp_path / "full.db")
    app = create_app(service=MockService(Settings(random_seed=5), ManualClock(), store))
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=BASE
        ) as client:
            put_url, download = await _ticket(client)
            # max_page_count holds per connection; the in-process app runs on this thread,
            # so the request uses this thread's connection.
            conn = store._sqlite.conn()
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages}")
            failed = await client.put(put_url, content=DATA)
            assert failed.status_code == 500, failed.text
            assert "database or disk is full" in failed.json()["message"]
            conn.execute("PRAGMA max_page_count = 1073741823")  # room again
            assert (await client.get(download)).status_code == 404
            retried = await client.put(put_url, content=DATA)
            assert retried.status_code == 200, retried.text
            assert (await client.get(download)).content == DATA
    finally:
        store.close()
