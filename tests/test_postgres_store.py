"""What the PostgreSQL store adds to the behavioural suites: a slow or locked database
slows the requests that wait for it, never the server; a held lock is a 503 that changed
nothing; schemas of other versions and unreachable databases are refused by name."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import psycopg
import pytest

from mock_api import ManualClock, MockService, Settings, create_app
from mock_api.errors import Unavailable
from mock_api.storage.postgres import WRITE_LOCK, PostgresStore
from mock_api.storage.sql import SchemaMismatch

pytestmark = pytest.mark.anyio

BASE = "http://testserver"
KEY = {"Authorization": "Bearer k1"}


@pytest.fixture
def store(pg_url: str) -> Iterator[PostgresStore]:
    opened = PostgresStore(pg_url, lock_wait_ms=4_000)
    yield opened
    opened.close()


@pytest.fixture
async def client(store: PostgresStore) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(service=MockService(Settings(random_seed=3), ManualClock(), store))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield c


@pytest.fixture
def other_instance(pg_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """Another instance's connection, to hold the write lock with."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        yield conn


async def test_a_locked_database_slows_the_write_not_the_server(
    client: httpx.AsyncClient, other_instance: psycopg.Connection[tuple[object, ...]]
) -> None:
    assert (await client.get("/api/v3/balance", headers=KEY)).status_code == 200  # opened
    other_instance.execute("BEGIN")
    other_instance.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
    body = {"balance": 12.5, "api_key": "k1"}
    write = asyncio.create_task(client.put("/_mock/balance", json=body))
    await asyncio.sleep(0.3)  # the write is waiting for the lock now
    started = time.monotonic()
    read = await client.get("/api/v3/balance", headers=KEY)
    read_took = time.monotonic() - started
    assert not write.done()
    assert read.status_code == 200
    assert read.json()["data"]["balance"] == 100  # the write is not in yet
    other_instance.execute("COMMIT")  # the other instance's transaction ends
    written = await write
    assert written.status_code == 200, written.text
    balance = await client.get("/api/v3/balance", headers=KEY)
    assert balance.json()["data"]["balance"] == 12.5
    assert read_took < 2.0  # answered while the write waited, not after it


async def test_a_lock_held_past_the_wait_is_a_503_that_changed_nothing(
    pg_url: str, other_instance: psycopg.Connection[tuple[object, ...]]
) -> None:
    store = PostgresStore(pg_url, lock_wait_ms=200)
    app = create_app(service=MockService(Settings(random_seed=3), ManualClock(), store))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        assert (await c.get("/api/v3/balance", headers=KEY)).status_code == 200
        other_instance.execute("BEGIN")
        other_instance.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
        refused = await c.put("/_mock/balance", json={"balance": 1, "api_key": "k1"})
        other_instance.execute("COMMIT")
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "1"
        assert "nothing was changed" in refused.json()["message"]
        assert (await c.get("/api/v3/balance", headers=KEY)).json()["data"]["balance"] == 100
    store.close()


def test_a_newer_schema_is_refused_naming_both_versions(pg_url: str) -> None:
    PostgresStore(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE meta SET value = 99 WHERE key = 'schema'")
    with pytest.raises(SchemaMismatch, match="schema version 99; this wavespeed-mock reads"):
        PostgresStore(pg_url)


def test_a_database_that_cannot_be_reached_is_unavailable_not_a_crash() -> None:
    with pytest.raises(Unavailable, match=r"postgresql://u:\*\*\*@127\.0\.0\.1:1/x cannot be used"):
        PostgresStore("postgresql://u:secret@127.0.0.1:1/x")


def test_instances_starting_together_create_the_schema_once(pg_url: str) -> None:
    """Two stores opened at once on an empty database: both work, one schema."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: PostgresStore(pg_url), range(4)))
    assert sorted(s.next_instance() for s in stores) == [0, 1, 2, 3]
    for opened in stores:
        opened.close()


async def test_state_is_shared_but_each_instance_keeps_its_own_journal(pg_url: str) -> None:
    """The choice the README states: jobs, money and the clock are the database's; the
    request journal is each instance's memory (query every instance to see them all)."""
    stores = [PostgresStore(pg_url), PostgresStore(pg_url)]
    apps = [create_app(service=MockService(Settings(random_seed=3), None, s)) for s in stores]
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=apps[0]), base_url=BASE) as a,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=apps[1]), base_url=BASE) as b,
    ):
        assert (await a.put("/_mock/balance", json={"balance": 7, "api_key": "k1"})).is_success
        assert (await b.get("/api/v3/balance", headers=KEY)).json()["data"]["balance"] == 7
        seen_by_a = (await a.get("/_mock/journal")).json()["data"]["entries"]
        seen_by_b = (await b.get("/_mock/journal")).json()["data"]["entries"]
    by_a = [(e["method"], e["path"]) for e in seen_by_a]
    by_b = [(e["method"], e["path"]) for e in seen_by_b]
    assert ("PUT", "/_mock/balance") in by_a
    assert ("PUT", "/_mock/balance") not in by_b
    assert ("GET", "/api/v3/balance") in by_b
    for store in stores:
        store.close()


SAMPLES = f"{BASE}/media/samples"
JOB = {
    "video": f"{SAMPLES}/video.mp4?seconds=2",
    "left_audio": f"{SAMPLES}/silence.wav?seconds=2",
    "right_audio": f"{SAMPLES}/silence.wav?seconds=2",
}
SUBMIT = "/api/v3/wavespeed-ai/infinitetalk-fast/video-to-video-multi"
#: PostgreSQL's text holds no NUL; a client's strings may (the spec allows any string, and
#: schemathesis sends them): each is kept exactly, backslashes too (it was a 500).
ODD = "a\u0000b\\0c\\\\d\\"


async def test_strings_with_nul_and_backslashes_are_kept_exactly(client: httpx.AsyncClient) -> None:
    body = {**JOB, "prompt": ODD, "webhook_url": f"http://127.0.0.1:9/{ODD}"}
    submitted = await client.post(SUBMIT, json=body, headers=KEY)
    assert submitted.status_code == 200, submitted.text
    job_id = submitted.json()["data"]["id"]
    rule = await client.post("/_mock/scenarios", json={"id": ODD, "then": "fail", "message": ODD})
    assert rule.status_code == 200, rule.text
    listed = (await client.get("/_mock/scenarios")).json()["data"]["scenarios"]
    assert [(r["id"], r["message"]) for r in listed] == [(ODD, ODD)]
    failed = (await client.post(SUBMIT, json=JOB, headers=KEY)).json()["data"]["id"]
    advanced = await client.post("/_mock/clock", json={"action": "advance", "seconds": 3600})
    assert advanced.status_code == 200, advanced.text
    result = await client.get(f"/api/v3/predictions/{failed}/result", headers=KEY)
    assert result.json()["data"]["status"] == "failed"
    assert result.json()["data"]["error"] == ODD
    job = (await client.get(f"/_mock/jobs/{job_id}")).json()["data"]
    assert job["input"]["prompt"] == ODD
    [delivery] = (await client.get("/_mock/webhooks")).json()["data"]["deliveries"]
    assert delivery["url"] == f"http://127.0.0.1:9/{ODD}"
