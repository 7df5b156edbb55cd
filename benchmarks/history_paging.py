"""What one page of the history costs with 100 and with 100,000 jobs in it.

``POST /api/v3/predictions`` in-process (httpx's ASGI transport, so the figure
includes validation and writing the page), on both stores, for one account
whose jobs were created over the last 6 days (all inside the 7-day window).
Prints the median time of a page at each size and their ratio; nothing is
asserted (the tests assert behaviour, not speed).

    .venv/bin/python benchmarks/history_paging.py [large count] [pages timed]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mock_api import billing
from mock_api.app import create_app
from mock_api.clock import ManualClock
from mock_api.lifecycle import COMPLETED, Plan
from mock_api.planning import PACES
from mock_api.records import Job
from mock_api.service import MockService
from mock_api.settings import MODEL_ID, Settings
from mock_api.storage import Store
from mock_api.storage.sqlite import SqliteStore

BASE = "http://wavespeed.mock"
API_KEY = "bench-key"
SPREAD_MS = 6 * 86_400_000  # the jobs' creation moments span the last 6 days
#: The pages timed: what clients ask for (page 1 of 20), the last at 100 jobs, two filters.
QUERIES: dict[str, dict[str, Any]] = {
    "page 1 of 20": {"page": 1, "page_size": 20},
    "page 5 of 20": {"page": 5, "page_size": 20},
    "status=completed": {"page": 1, "page_size": 20, "status": "completed"},
    "model filter": {"page": 1, "page_size": 20, "model": MODEL_ID},
}


def _fill(service: MockService, account: str, count: int) -> None:
    """``count`` finished jobs, oldest first, spread evenly over the last 6 days."""
    now = service.clock.now_ms()
    policy = service.settings.billing
    quote = billing.quote(Decimal(5), Decimal(2), billing.Order.LEFT_RIGHT, policy)
    step = SPREAD_MS // count
    with service.store.transaction():  # one commit: 100,000 jobs reach SQLite in seconds
        for i in range(count):
            created = now - SPREAD_MS + i * step
            service.store.jobs.add_job(
                Job(
                    id=f"{i:032x}",
                    account=account,
                    model=MODEL_ID,
                    input={"video": f"{BASE}/media/files/{i:032x}/video.mp4", "seed": i},
                    seed=i,
                    plan=Plan(created, created + 500, created + 1_000, COMPLETED),
                    quote=quote,
                    output_ms=7_000,
                    variant=i * 7919,
                )
            )


async def _time_pages(app: Any, body: dict[str, Any], pages: int) -> float:
    """Median milliseconds of one history page (after two untimed ones)."""
    auth = {"Authorization": f"Bearer {API_KEY}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE, headers=auth) as client:
        spent = []
        for i in range(pages + 2):
            started = time.perf_counter()
            answer = await client.post("/api/v3/predictions", json=body)
            if i >= 2:
                spent.append((time.perf_counter() - started) * 1000)
            answer.raise_for_status()
        return statistics.median(spent)


def _app(store: Store | None, count: int) -> Any:
    settings = Settings(pace=PACES["instant"], random_seed=1)
    app = create_app(settings, clock=ManualClock(), store=store)
    service: MockService = app.state.service
    _fill(service, service.accounts.open(API_KEY), count)
    return app


def main() -> None:
    large = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    pages = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    sizes = (100, large)
    print(f"history pages, median of {pages}, in-process (POST /api/v3/predictions)")
    with tempfile.TemporaryDirectory() as folder:
        for name in ("memory", "sqlite"):
            apps = {
                count: _app(
                    SqliteStore(Path(folder) / f"{count}.db") if name == "sqlite" else None,
                    count,
                )
                for count in sizes
            }
            for label, body in QUERIES.items():
                small, big = (asyncio.run(_time_pages(apps[c], body, pages)) for c in sizes)
                print(
                    f"  {name:6} {label:17} {sizes[0]:>7,} jobs {small:8.2f} ms"
                    f"   {sizes[1]:>7,} jobs {big:8.2f} ms   ratio {big / small:6.2f}"
                )
            for app in apps.values():
                app.state.service.close()


if __name__ == "__main__":
    main()
