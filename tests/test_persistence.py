"""Nothing lost: ``serve`` on a database survives restarts, crashes and several workers.

Each test runs ``wavespeed-mock serve`` as real processes on one SQLite file:
stopped gracefully (SIGTERM) and started again, killed (SIGKILL) under load and
started again, or run with ``--workers 2``. The first test does the same in
process, through ``create_app(db=...)``.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from mock_api import ManualClock, Settings, create_app
from mock_api.billing import usd_to_micros
from mock_api.cli import main
from mock_api.planning import PACES
from mock_api.rules import load_rules
from mock_api.service import MockService
from mock_api.storage.sqlite import SqliteStore
from tests.helpers import AUTH, BASE, KEY, SUBMIT, job_input
from tests.live import ServerProcess
from tests.receiver import Receiver, running_receiver, signed_as_documented

COST = 75_000  # every job here bills the 5 s minimum: $0.075
OPENING = 100_000_000


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver("/hook") as state:
        yield state


class Api:
    """A client of one server; ``fresh=True`` opens a new connection per request."""

    def __init__(self, base: str, *, fresh: bool = False) -> None:
        headers = {"Connection": "close"} if fresh else {}
        self.base = base
        self.http = httpx.Client(base_url=base, timeout=15, headers=headers)

    def data(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def control(self, method: str, path: str, body: Any = None) -> Any:
        return self.data(method, f"/_mock{path}", json=body)

    def body(self, left: str | None = None, **extra: Any) -> dict[str, Any]:
        media = f"{self.base}/media/samples"
        return {
            "video": f"{media}/video.mp4?seconds=10",
            "left_audio": left or f"{media}/silence.wav?seconds=3",
            "right_audio": f"{media}/silence.wav?seconds=4",
            **extra,
        }

    def submit(self, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        return self.data("POST", SUBMIT, headers={**AUTH, **(headers or {})}, **kwargs)

    def ledger(self) -> Any:
        return self.control("GET", f"/ledger?api_key={KEY}")

    def jobs(self) -> dict[str, Any]:
        return {j["id"]: j for j in self.control("GET", f"/jobs?api_key={KEY}")["jobs"]}

    def close(self) -> None:
        self.http.close()


def micros(ledger: Any) -> int:
    return usd_to_micros(Decimal(str(ledger["balance"])))


def wait_for(check: Any, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    return result


@pytest.mark.anyio
async def test_an_app_on_a_database_file_comes_back_whole(tmp_path: Path) -> None:
    db, clock, settings = tmp_path / "state.db", ManualClock(), Settings(random_seed=3)

    def client(app: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)

    first = create_app(settings, clock=clock, db=db)
    async with client(first) as http:
        uploaded = await http.post(
            "/api/v3/media/upload/binary",
            headers=AUTH,
            files={"file": ("left.wav", (await http.get(job_input()["left_audio"])).content)},
        )
        file_url = uploaded.json()["data"]["download_url"]
        ok = await http.post(SUBMIT, json=job_input(left_audio=file_url), headers=AUTH)
        failed = await http.post(
            SUBMIT, json=job_input(), headers={**AUTH, "X-Mock-Outcome": "fail"}
        )
        await http.post("/_mock/scenarios", json={"id": "n", "then": "nsfw", "times": 1})
        await http.put("/_mock/limits", json={"api_key": KEY, "max_concurrent": 7})
    first.state.service.store.close()

    second = create_app(settings, clock=clock, db=db)
    clock.advance(60)
    async with client(second) as http:
        ids = [ok.json()["data"]["id"], failed.json()["data"]["id"]]
        statuses = [
            (await http.get(f"/api/v3/predictions/{i}/result", headers=AUTH)).json()["data"]
            for i in ids
        ]
        assert [s["status"] for s in statuses] == ["completed", "failed"]
        assert (await http.get(file_url)).content == (
            await http.get(job_input()["left_audio"])
        ).content
        balance = (await http.get("/api/v3/balance", headers=AUTH)).json()["data"]["balance"]
        assert balance == 99.925  # two charges, one refunded
        limits = (await http.get("/_mock/limits", params={"api_key": KEY})).json()["data"]
        assert limits["max_concurrent"] == 7
        third = await http.post(SUBMIT, json=job_input(), headers=AUTH)
        assert third.json()["data"]["id"] not in ids  # a seeded restart draws new ids
        view = (await http.get(f"/_mock/jobs/{third.json()['data']['id']}")).json()["data"]
        assert view["outcome"]["nsfw"] is True  # the stored rule applied
    second.state.service.store.close()


@pytest.mark.anyio
async def test_two_apps_on_one_database_see_each_others_changes_at_once(tmp_path: Path) -> None:
    """Two workers in one process, each with its own connection: every change made
    through one is seen by the next request through the other, although each keeps
    what polls read in a cache, and a sync-mode wait in one is released by a clock
    advance through the other."""
    db = tmp_path / "state.db"
    settings = Settings(pace=PACES["realistic"], sync_timeout_seconds=20)
    one, two = create_app(settings, db=db), create_app(settings, db=db)

    def client(app: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)

    async with client(one) as first, client(two) as second:
        await second.post("/_mock/clock", json={"action": "freeze"})
        job_id = (await second.post(SUBMIT, json=job_input(), headers=AUTH)).json()["data"]["id"]
        poll = f"/api/v3/predictions/{job_id}/result"

        async def status() -> str:
            answer = await first.get(poll, headers=AUTH)
            return "missing" if answer.status_code == 404 else str(answer.json()["data"]["status"])

        assert [await status(), await status()] == ["created", "created"]  # the second from cache
        await second.post("/_mock/clock", json={"action": "advance", "seconds": 1_000})
        assert await status() == "completed"
        await second.post("/_mock/reset")
        assert await status() == "missing"

        held = asyncio.create_task(
            first.post(SUBMIT, json=job_input(enable_sync_mode=True), headers=AUTH)
        )
        await asyncio.sleep(0.3)  # the sync wait is polling the frozen clock
        assert not held.done()
        started = time.monotonic()
        await second.post("/_mock/clock", json={"action": "advance", "seconds": 1_000})
        answer = (await asyncio.wait_for(held, timeout=10)).json()
        assert time.monotonic() - started < 5  # released, not timed out after 20 s
        assert (answer["code"], answer["data"]["status"]) == (200, "completed")
    one.state.service.store.close()
    two.state.service.store.close()


def test_a_restart_keeps_everything(tmp_path: Path, receiver: Receiver) -> None:
    db = tmp_path / "state.db"
    server = ServerProcess("--db", str(db), "--pace", "fast").start()
    api = Api(server.url)
    try:
        receiver.statuses = [500]  # the first webhook attempt fails, the retry is after the stop
        frozen = api.control("POST", "/clock", {"action": "freeze"})["now_ms"]
        secret = api.data("GET", "/api/v3/webhook/secret", headers=AUTH)["secret"]
        wav = api.http.get("/media/samples/silence.wav?seconds=3").content
        upload = api.data(
            "POST", "/api/v3/media/upload/binary", headers=AUTH, files={"file": ("l.wav", wav)}
        )
        api.control("POST", "/scenarios", {"id": "beach", "then": "nsfw", "times": 2,
                                           "match": {"prompt_contains": "beach"}})  # fmt: skip
        api.control("POST", "/scenarios", {"id": "slow", "then": "complete",
                                           "processing_seconds": 3600,
                                           "match": {"prompt_contains": "slow"}})  # fmt: skip
        api.control("POST", "/faults", {"id": "busy", "kind": "status", "status": 429,
                                        "method": "GET", "path": "/api/v3/balance",
                                        "times": 2})  # fmt: skip
        ok = api.submit(json=api.body(upload["download_url"]), params={"webhook": receiver.url})
        failed = api.submit(headers={"X-Mock-Outcome": "fail:1403:GPU fell over"}, json=api.body())
        beach = api.submit(json=api.body(prompt="beach"))
        slow = api.submit(json=api.body(prompt="slow"))
        assert api.http.get("/api/v3/balance", headers=AUTH).status_code == 429
        api.control("POST", "/clock", {"action": "advance", "seconds": 60})
        wait_for(lambda: api.control("GET", "/webhooks")["deliveries"][0]["attempts"])
        before = {
            "jobs": api.jobs(),
            "ledger": api.ledger(),
            "scenarios": api.control("GET", "/scenarios"),
            "faults": api.control("GET", "/faults"),
            "webhooks": api.control("GET", "/webhooks"),
        }
        assert [j["status"] for j in before["jobs"].values()] == [
            "completed",
            "failed",
            "completed",
            "processing",
        ]
        [delivery] = before["webhooks"]["deliveries"]
        assert (delivery["state"], [a["status"] for a in delivery["attempts"]]) == (
            "pending",
            [500],
        )
        assert micros(before["ledger"]) == OPENING - 4 * COST + COST

        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert server.stop(signal.SIGTERM) == -signal.SIGTERM
        wal = Path(f"{db}-wal")
        assert not wal.exists() or wal.stat().st_size == 0  # the app closed the store

        server.start()
        clock = api.control("GET", "/clock")
        assert (clock["now_ms"], clock["frozen"]) == (frozen + 60_000, True)
        assert api.jobs() == before["jobs"]
        assert api.ledger() == before["ledger"]
        assert api.control("GET", "/scenarios") == before["scenarios"]
        assert api.control("GET", "/faults") == before["faults"]
        assert api.control("GET", "/webhooks") == before["webhooks"]
        assert api.http.get(upload["download_url"]).content == wav
        assert api.data("GET", "/api/v3/webhook/secret", headers=AUTH)["secret"] == secret

        # The rules carry on from their counters.
        assert api.http.get("/api/v3/balance", headers=AUTH).status_code == 429  # 2nd of 2
        assert api.data("GET", "/api/v3/balance", headers=AUTH)["balance"] == 99.775
        again = [api.submit(json=api.body(prompt="beach"))["id"] for _ in range(2)]
        nsfw = [api.control("GET", f"/jobs/{i}")["outcome"]["nsfw"] for i in again]
        assert nsfw == [True, False]  # the rule's 2nd application, then it is used up

        # The webhook retries, signed with the same secret, and the slow job finishes.
        api.control("POST", "/clock", {"action": "advance", "seconds": 5})
        wait_for(lambda: len(receiver.received) == 2)
        (first_headers, _), (headers, body) = receiver.received
        assert headers["webhook-id"] == first_headers["webhook-id"]
        assert signed_as_documented(secret, headers, body)
        api.control("POST", "/clock", {"action": "advance", "seconds": 3600})
        jobs = api.jobs()
        assert jobs[slow["id"]]["status"] == "completed"
        assert (jobs[ok["id"]]["status"], jobs[failed["id"]]["status"]) == ("completed", "failed")
        assert jobs[beach["id"]]["outcome"]["nsfw"] is True
        output = api.http.get(f"/media/outputs/{slow['id']}/output.mp4")
        assert output.status_code == 200
        ledger = api.ledger()
        charges = [e for e in ledger["entries"] if e["kind"] == "charge"]
        refunds = [e for e in ledger["entries"] if e["kind"] == "refund"]
        assert (len(charges), [e["job_id"] for e in refunds]) == (6, [failed["id"]])
        assert micros(ledger) == OPENING - 6 * COST + COST
    finally:
        api.close()
        server.close()


def test_two_workers_share_one_database(tmp_path: Path, receiver: Receiver) -> None:
    db = tmp_path / "state.db"
    server = ServerProcess(
        "--workers", "2", "--db", str(db), "--pace", "instant", "--sync-timeout", "1"
    ).start()
    api = Api(server.url, fresh=True)  # a new connection per request: the kernel spreads them
    try:
        api.control("POST", "/scenarios", {"id": "five", "then": "nsfw", "times": 5})

        def submit(index: int) -> str:
            job: str = api.submit(json=api.body(), params={"webhook": receiver.url})["id"]
            return job

        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(submit, range(40)))
        assert len(set(ids)) == 40

        with ThreadPoolExecutor(8) as pool:  # every job, through either worker
            views = list(
                pool.map(
                    lambda i: api.data("GET", f"/api/v3/predictions/{i}/result", headers=AUTH), ids
                )
            )
        assert {v["status"] for v in views} == {"completed"}
        assert sum(v["has_nsfw_contents"] == [True] for v in views) == 5  # counted once, atomically
        ledger = api.ledger()
        assert sorted(e["job_id"] for e in ledger["entries"] if e["kind"] == "charge") == sorted(
            ids
        )
        assert micros(ledger) == OPENING - 40 * COST  # billed once each

        # Each delivery is claimed by one worker: 40 posts, 40 distinct message ids.
        wait_for(lambda: len(receiver.received) >= 40, timeout=10)
        time.sleep(0.3)  # a second worker sending a duplicate would show up by now
        assert len({h["webhook-id"] for h, _ in receiver.received}) == len(receiver.received) == 40

        # The clock is read from the database: a freeze through one worker holds in all.
        frozen = api.control("POST", "/clock", {"action": "freeze"})["now_ms"]
        moved = api.control("POST", "/clock", {"action": "advance", "seconds": 30})["now_ms"]
        assert moved == frozen + 30_000
        with ThreadPoolExecutor(8) as pool:
            seen = set(pool.map(lambda _: api.control("GET", "/clock")["now_ms"], range(16)))
        assert seen == {moved}

        # The journal is per worker: each lists the submissions it answered, no more.
        def submitted(_: int) -> frozenset[str]:
            entries = api.control("GET", "/journal?path=/api/v3/wavespeed-ai&limit=1000")
            return frozenset(e["response"]["data"]["id"] for e in entries["entries"])

        with ThreadPoolExecutor(8) as pool:
            journals = set(pool.map(submitted, range(24)))
        assert len(journals) == 2
        first, second = journals
        assert not first & second
        assert first | second == set(ids)

        # SIGTERM lets a request in flight finish: a sync-mode wait for a stuck job.
        api.control("POST", "/scenarios", {"id": "hold", "then": "stuck-processing",
                                           "match": {"prompt_contains": "hold"}})  # fmt: skip
        with ThreadPoolExecutor(1) as pool:
            held = api.body(prompt="hold", enable_sync_mode=True)
            waiting = pool.submit(api.submit, json=held)
            time.sleep(0.3)
            assert server.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
            answer = waiting.result()
        assert (answer["status"], answer["code"]) == ("processing", 5004)  # timed out, answered
        wal = Path(f"{db}-wal")
        assert not wal.exists() or wal.stat().st_size == 0  # both workers closed the store
        store = SqliteStore(db)
        job = store.jobs.job(answer["id"])
        store.close()
        assert job is not None
    finally:
        api.close()
        server.close()


def test_a_crash_loses_no_acknowledged_submission(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    server = ServerProcess("--db", str(db), "--pace", "instant").start()
    acknowledged: dict[str, bool] = {}  # job id -> meant to fail
    crashed = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            body = Api(server.url).body()
            for index in range(10_000):
                fail = index % 3 == 0
                headers = {**AUTH, "X-Mock-Outcome": "fail" if fail else "complete"}
                try:
                    response = http.post(SUBMIT, json=body, headers=headers)
                except httpx.TransportError:
                    return
                if response.status_code == 200:
                    acknowledged[response.json()["data"]["id"]] = fail
                if crashed.is_set():
                    return

    thread = threading.Thread(target=load)
    thread.start()
    wait_for(lambda: len(acknowledged) >= 40, timeout=15)
    assert server.stop(signal.SIGKILL) == -signal.SIGKILL
    crashed.set()
    thread.join()

    server.start()
    api = Api(server.url)
    try:
        jobs = api.jobs()
        assert set(acknowledged) <= set(jobs)  # every 200 is there
        failed = {i for i, j in jobs.items() if j["status"] == "failed"}
        assert failed == {i for i, j in jobs.items() if j["outcome"]["status"] == "failed"}
        assert {i for i, fail in acknowledged.items() if fail} <= failed
        ledger = api.ledger()
        charged = [e["job_id"] for e in ledger["entries"] if e["kind"] == "charge"]
        refunded = [e["job_id"] for e in ledger["entries"] if e["kind"] == "refund"]
        assert sorted(charged) == sorted(jobs)  # each job charged exactly once
        assert sorted(refunded) == sorted(failed)  # each failed job refunded exactly once
        assert micros(ledger) == OPENING - COST * len(jobs) + COST * len(failed)
        balance = api.data("GET", "/api/v3/balance", headers=AUTH)["balance"]
        assert usd_to_micros(Decimal(str(balance))) == micros(ledger)
    finally:
        api.close()
        server.close()


def test_workers_need_a_database_file() -> None:
    outcome = CliRunner().invoke(main, ["serve", "--workers", "2", "--db", ":memory:"])
    assert outcome.exit_code == 2
    assert "not with --db :memory:" in outcome.output


def test_a_rules_file_loaded_again_keeps_the_stored_rules_and_their_counters(
    tmp_path: Path,
) -> None:
    text = "scenarios: [{id: a, then: nsfw, times: 2}, {id: b, then: fail}]\n"
    first = MockService(Settings(), ManualClock(), SqliteStore(tmp_path / "x.db"))
    assert load_rules(first, text) == (2, 0, 0)
    first.scenarios.fire(lambda rule: rule.id == "a")
    first.store.close()
    again = MockService(Settings(), ManualClock(), SqliteStore(tmp_path / "x.db"))
    more = text + "faults: [{id: f, kind: drop}]"
    assert load_rules(again, more, keep_existing=True) == (0, 1, 0)
    assert [(r.id, r.applied) for r in again.scenarios.rules()] == [("a", 1), ("b", 0)]
    with pytest.raises(ValueError, match="exists already"):
        load_rules(again, text)  # without keep_existing, as the control API
    again.store.close()
