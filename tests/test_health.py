"""``GET /healthz`` (liveness) and ``GET /readyz`` (readiness), in-process.

Liveness answers 200 without a key and reads nothing of the state; readiness
answers 200 once the state answers a read, and 503 in the error envelope,
naming the reason, when it does not (a store that raises, one that hangs, a
PostgreSQL database that refuses connections). Neither is journaled nor
faulted, and a failing readiness is logged once when it starts and once when
it ends.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from pydoc import locate
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from mock_api import ManualClock, MockService, Settings, create_app
from mock_api.errors import Unavailable
from mock_api.events import LOGGER, log_config
from mock_api.routes import health
from mock_api.storage.memory import MemoryStore
from tests.helpers import BASE
from tests.pgfixtures import PgServer

LIVE = {"code": 200, "message": "success", "data": {"status": "live"}}
READY = {"code": 200, "message": "success", "data": {"status": "ready"}}


class SpyStore:
    """A memory store that records which of its parts are used once armed, and whose
    clock (what readiness reads) may fail or hang on demand."""

    def __init__(self, blocking: bool = False) -> None:
        self._inner = MemoryStore()
        self.blocking = blocking
        self.armed = False
        self.used: list[str] = []
        self.failure: BaseException | None = None
        self.release = threading.Event()
        self.release.set()  # cleared: clock reads hang until it is set
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        if self.__dict__.get("armed"):
            self.used.append(name)
        return getattr(self._inner, name)

    @property
    def clock(self) -> Any:
        if self.armed:
            self.used.append("clock")
        return self

    def clock_state(self) -> Any:
        self.reads += 1
        self.release.wait(10)
        if self.failure is not None:
            raise self.failure
        return self._inner.clock.clock_state()

    def update_clock_state(self, change: Any) -> Any:
        return self._inner.clock.update_clock_state(change)


@pytest.fixture
def spy() -> SpyStore:
    return SpyStore()


async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield c


@pytest.fixture
async def app(spy: SpyStore) -> FastAPI:
    return create_app(service=MockService(Settings(random_seed=5), ManualClock(), spy))


@pytest.fixture
async def client(app: FastAPI, spy: SpyStore) -> AsyncIterator[httpx.AsyncClient]:
    async for made in _client(app):
        spy.armed = True
        yield made


@pytest.mark.anyio
async def test_liveness_answers_without_a_key_and_reads_nothing(
    client: httpx.AsyncClient, spy: SpyStore
) -> None:
    spy.failure = Unavailable("the state database is gone", retry_after_seconds=1)
    answer = await client.get("/healthz")
    assert (answer.status_code, answer.json()) == (200, LIVE)
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["cache-control"] == "no-store"
    assert spy.used == []  # not even the clock


@pytest.mark.anyio
async def test_readiness_answers_200_once_the_state_answers_a_read(
    client: httpx.AsyncClient, spy: SpyStore
) -> None:
    answer = await client.get("/readyz")
    assert (answer.status_code, answer.json()) == (200, READY)
    assert spy.used == ["clock"]
    assert spy.reads == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (
            Unavailable(
                "the state database postgresql://db.example/mock cannot be used (connection "
                "refused); nothing was changed: retry in 1 s",
                retry_after_seconds=1,
            ),
            "the state database postgresql://db.example/mock cannot be used (connection refused)",
        ),
        (
            sqlite3.OperationalError("disk I/O error"),
            "the state cannot be read (OperationalError: disk I/O error)",
        ),
    ],
    ids=["unavailable", "driver-error"],
)
async def test_readiness_answers_503_naming_why_in_the_error_envelope(
    client: httpx.AsyncClient, spy: SpyStore, failure: BaseException, reason: str
) -> None:
    spy.failure = failure
    answer = await client.get("/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["message"].startswith(f"not ready: {reason}")
    assert (body["code"], body["error_code"], body["data"]) == (503, "service_unavailable", None)
    assert body["error"] == body["message"]
    assert answer.headers["retry-after"] == "1"
    assert (await client.get("/healthz")).status_code == 200  # alive all the same


@pytest.mark.anyio
async def test_a_failing_readiness_is_logged_when_it_starts_and_when_it_ends(
    client: httpx.AsyncClient, spy: SpyStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER.name)
    assert (await client.get("/readyz")).status_code == 200
    spy.failure = sqlite3.OperationalError("disk I/O error")
    for _ in range(3):
        assert (await client.get("/readyz")).status_code == 503
    spy.failure = None
    for _ in range(2):
        assert (await client.get("/readyz")).status_code == 200
    logged = [(r.levelname, getattr(r, "event", None)) for r in caplog.records]
    assert logged == [("WARNING", "not_ready"), ("INFO", "ready")]
    assert getattr(caplog.records[0], "fields", {})["reason"] == (
        "the state cannot be read (OperationalError: disk I/O error)"
    )


@pytest.mark.anyio
async def test_health_checks_are_not_journaled_nor_faulted_and_need_no_token(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    journal = app.state.service.journal
    wrong = await client.post("/healthz")  # another method: through the app, journaled
    assert (wrong.status_code, wrong.headers["allow"]) == (405, "GET")
    assert wrong.json()["error_code"] == "method_not_allowed"
    assert [e.path for e in journal.entries()] == ["/healthz"]
    fault = {"id": "all-down", "kind": "status", "status": 500, "path": "*"}
    assert (await client.post("/_mock/faults", json=fault)).status_code == 200
    before = len(journal.entries())
    for path in ("/healthz", "/readyz", "/healthz", "/readyz?verbose=1"):
        assert (await client.get(path)).status_code == 200, path
    assert len(journal.entries()) == before
    assert (await client.get("/api/v3/models")).status_code == 500  # the rule is in force
    assert [e.path for e in journal.entries()][before:] == ["/api/v3/models"]


@pytest.mark.anyio
async def test_health_checks_answer_only_the_names_the_server_answers_to() -> None:
    service = MockService(Settings(allowed_hosts=frozenset({"localhost"})), ManualClock())
    async for client in _client(create_app(service=service)):
        assert (await client.get("http://localhost/healthz")).status_code == 200
        refused = await client.get("http://evil.example/healthz")
    assert refused.status_code == 403


@pytest.mark.anyio
async def test_readiness_on_a_store_that_hangs_answers_503_in_bounded_time_one_check_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A store whose calls may wait is read on a request thread, for at most the timeout;
    probes that come meanwhile wait for the same read rather than start more."""
    monkeypatch.setattr(health, "READY_TIMEOUT_SECONDS", 0.05)
    spy = SpyStore(blocking=True)
    app = create_app(service=MockService(Settings(), ManualClock(), spy))
    spy.release.clear()
    try:
        async for client in _client(app):
            answers = await asyncio.gather(*(client.get("/readyz") for _ in range(3)))
            assert [a.status_code for a in answers] == [503, 503, 503]
            assert answers[0].json()["message"] == (
                "not ready: the state database did not answer within 0.05 s"
            )
            assert spy.reads == 1
            assert (await client.get("/healthz")).status_code == 200  # on the event loop
            spy.release.set()
            await asyncio.sleep(0.05)  # the hung read ends
            ok = await client.get("/readyz")
            assert (ok.status_code, ok.json()) == (200, READY)
            assert spy.reads == 2
    finally:
        spy.release.set()


@pytest.mark.anyio
async def test_readiness_on_sqlite_reads_the_file(tmp_path: Path) -> None:
    app = create_app(db=tmp_path / "state.db")
    try:
        async for client in _client(app):
            answer = await client.get("/readyz")
    finally:
        app.state.service.close()
    assert (answer.status_code, answer.json()) == (200, READY)


@pytest.mark.anyio
async def test_readiness_on_postgresql_makes_a_round_trip_and_names_an_outage(
    pg_server: PgServer, pg_url: str
) -> None:
    import psycopg
    from psycopg import sql

    app = create_app(db=pg_url)
    dbname = urlsplit(pg_url).path.removeprefix("/")
    database = sql.Identifier(dbname)
    with psycopg.connect(pg_server.admin_url, autocommit=True) as admin:
        async with app.router.lifespan_context(app):
            async for client in _client(app):
                assert (await client.get("/readyz")).status_code == 200
                # The database goes away: no connection is allowed, and those open are cut.
                admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(database))
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (dbname,),
                )
                down = await client.get("/readyz")
                alive = await client.get("/healthz")
                admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(database))
                back = await client.get("/readyz")
    assert down.status_code == 503, down.text
    message = down.json()["message"]
    assert message.startswith("not ready: the state database postgresql://"), message
    assert dbname in message
    assert alive.status_code == 200
    assert (back.status_code, back.json()) == (200, READY)


@pytest.mark.parametrize(
    ("method", "path", "status", "kept"),
    [
        ("GET", "/healthz", 200, False),
        ("GET", "/readyz", 200, False),
        ("GET", "/readyz?probe=1", 200, False),
        ("GET", "/readyz", 503, True),
        ("POST", "/healthz", 405, True),
        ("GET", "/api/v3/balance", 200, True),
    ],
    ids=["live", "ready", "ready-query", "not-ready", "wrong-method", "api"],
)
def test_serve_writes_no_access_line_for_a_health_check_that_passed(
    method: str, path: str, status: int, kept: bool
) -> None:
    config = log_config("info", "json")
    assert config["handlers"]["access"]["filters"] == ["health_checks"]
    factory = locate(config["filters"]["health_checks"]["()"])
    assert callable(factory)
    line = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:50000", method, path, "1.1", status),
        None,
    )
    assert bool(factory().filter(line)) is kept
