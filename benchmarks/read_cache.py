"""What the per-request read cache saves on each shared store: SQLite and PostgreSQL.

A poll (``GET /api/v3/predictions/{id}/result``) reads the clock, the account,
the job and the rules. Each store keeps those per thread and drops them the
moment anyone commits (SQLite: ``PRAGMA data_version``; PostgreSQL: a change
counter read once per request). This times polls in-process (httpx's ASGI
transport) with the cache as shipped, and with it off (every read goes to the
database), on the same store in the same run, and prints the medians, their
ratio and the statements each poll sends to the database. Nothing is asserted.

    WAVESPEED_BENCH_PG=postgresql://user@host/db .venv/bin/python benchmarks/read_cache.py [polls]

Without ``WAVESPEED_BENCH_PG`` only SQLite is measured. The PostgreSQL database
must be empty (or hold only a fake's state: it is reset first).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mock_api.app import create_app
from mock_api.clock import OffsetClock
from mock_api.planning import PACES
from mock_api.service import MockService
from mock_api.settings import MODEL_ID, Settings
from mock_api.storage import Store
from mock_api.storage.sql import Database, SqlStore

BASE = "http://wavespeed.mock"
KEY = {"Authorization": "Bearer bench-key"}


@contextmanager
def counting(db: Database, cache: bool) -> Iterator[list[int]]:
    """Count the statements sent to ``db``; with ``cache`` off, every read loads."""
    sent = [0]
    execute = db._execute

    def counted(conn: Any, sql: str, params: Any) -> Any:
        sent[0] += 1
        return execute(conn, sql, params)

    def uncached(key: tuple[Any, ...], load: Callable[[], Any]) -> Any:
        return load()

    db._execute = counted  # type: ignore[method-assign]
    saved = db.cached
    if not cache:
        db.cached = uncached  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        db._execute = execute  # type: ignore[method-assign]
        db.cached = saved  # type: ignore[method-assign]


async def polls(store: SqlStore, count: int) -> dict[str, tuple[float, float]]:
    settings = Settings(random_seed=1, pace=PACES["instant"])
    app = create_app(service=MockService(settings, OffsetClock(store.clock), store))
    figures = {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        sample = f"{BASE}/media/samples"
        body = {
            "video": f"{sample}/video.mp4?seconds=2",
            "left_audio": f"{sample}/silence.wav?seconds=2",
            "right_audio": f"{sample}/silence.wav?seconds=2",
        }
        submitted = await c.post(f"/api/v3/{MODEL_ID}", json=body, headers=KEY)
        path = f"/api/v3/predictions/{submitted.json()['data']['id']}/result"
        for cache in (True, False, True, False):
            with counting(store._db, cache) as sent:
                times = []
                for _ in range(count):
                    started = time.perf_counter()
                    answer = await c.get(path, headers=KEY)
                    times.append(time.perf_counter() - started)
                    assert answer.status_code == 200, answer.text
            figures["cached" if cache else "uncached"] = (
                statistics.median(times) * 1000,
                sent[0] / count,
            )
    return figures


def report(name: str, figures: dict[str, tuple[float, float]]) -> None:
    cached, uncached = figures["cached"], figures["uncached"]
    print(
        f"{name:10} poll {cached[0]:.3f} ms with the cache ({cached[1]:.1f} statements), "
        f"{uncached[0]:.3f} ms without ({uncached[1]:.1f} statements): "
        f"{uncached[0] / cached[0]:.2f}x"
    )


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    stores: list[tuple[str, Callable[[], Store]]] = []
    with tempfile.TemporaryDirectory() as folder:
        from mock_api.storage.sqlite import SqliteStore

        stores.append(("sqlite", lambda: SqliteStore(Path(folder) / "state.db")))
        url = os.environ.get("WAVESPEED_BENCH_PG")
        if url:
            from mock_api.storage.postgres import PostgresStore

            stores.append(("postgresql", lambda: PostgresStore(url)))
        else:
            print("postgresql: not measured (set WAVESPEED_BENCH_PG to a database URL)")
        for name, open_store in stores:
            store = open_store()
            assert isinstance(store, SqlStore)
            store.reset()
            report(name, asyncio.run(polls(store, count)))
            store.close()


if __name__ == "__main__":
    main()
