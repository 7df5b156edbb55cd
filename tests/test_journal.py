"""The request journal records what clients sent, and every way it broke the spec."""

from __future__ import annotations

import gc
from typing import Any

import httpx
import pytest

from mock_api import ManualClock, MockService, Settings
from mock_api.errors import Violation
from mock_api.journal import Journal, JournalMiddleware
from mock_api.records import account_id
from tests.helpers import AUTH, SUBMIT, job_input

#: README (Limits): bodies kept only when JSON and at most 64 KiB each.
KEPT_BODY_BYTES = 64 * 1024

pytestmark = pytest.mark.anyio


async def test_valid_requests_are_recorded_with_account_and_bodies(
    client: httpx.AsyncClient, service: MockService, clock: ManualClock
) -> None:
    response = await client.post(
        SUBMIT, json=job_input(), headers={**AUTH, "X-Client-Name": "my-client"}
    )
    await client.get(f"/api/v3/predictions/{response.json()['data']['id']}/result", headers=AUTH)
    first, second = service.journal.entries()
    assert (first.method, first.path, first.status, first.valid) == ("POST", SUBMIT, 200, True)
    assert first.account is not None
    assert first.account.startswith("acct_")
    assert first.at_ms == clock.now_ms()
    assert first.request_json == job_input()
    assert first.response_json["data"]["status"] == "created"
    assert first.headers["x-client-name"] == "my-client"
    assert second.path.endswith("/result")
    assert second.seq == first.seq + 1


async def test_violations_name_field_and_rule(
    client: httpx.AsyncClient, service: MockService
) -> None:
    await client.post(SUBMIT, json={**job_input(), "order": "sideways", "seed": -5}, headers=AUTH)
    await client.get("/api/v3/balance")
    await client.get("/api/v3/not-a-route", headers=AUTH)
    bad_body, no_key, no_route = service.journal.violations()
    assert bad_body.violations == (
        Violation("order", "must be one of meanwhile, left_right, right_left", "body"),
        Violation("seed", "must be >= -1", "body"),
    )
    assert no_key.violations[0].field == "Authorization"
    assert no_route.violations[0].location == "path"
    assert "order" in bad_body.describe()


async def test_filters(client: httpx.AsyncClient, service: MockService) -> None:
    await client.get("/api/v3/balance", headers=AUTH)
    await client.get("/api/v3/balance", headers={"Authorization": "Bearer other"})
    await client.get("/media/samples/silence.wav?seconds=1")
    journal = service.journal
    assert len(journal.entries(path="/api/v3/")) == 2
    assert len(journal.entries(method="get", path="/media/")) == 1
    assert journal.entries(path="/media/")[0].query == "seconds=1"
    assert journal.entries(path="/media/")[0].response_json is None  # not JSON: not kept
    account = journal.entries()[0].account
    assert [e.account for e in journal.entries(account=account)] == [account]
    assert journal.entries(status=200, invalid=False) == journal.entries()


def test_journal_keeps_the_newest_entries_up_to_its_limit() -> None:
    journal = Journal(limit=3)
    for i in range(5):
        journal.record(
            at_ms=i, method="GET", path=f"/{i}", query="", account=None, status=200, duration_ms=0.0
        )
    assert [e.path for e in journal.entries()] == ["/2", "/3", "/4"]
    journal.clear()
    assert journal.entries() == []


def test_journal_holds_at_most_its_bytes_dropping_the_oldest_first() -> None:
    journal = Journal(max_bytes=200_000)
    body = b'{"prompt": "' + b"x" * 60_000 + b'"}'
    for i in range(100):
        journal.record(
            at_ms=i, method="POST", path=f"/{i}", query="", account=None, status=400,
            duration_ms=0.0, request_body=body,
        )  # fmt: skip
        assert journal.size <= journal.max_bytes
    # Three 60 KB entries fit in 200 KB; the newest are kept, numbered on.
    assert [(e.seq, e.path) for e in journal.entries()] == [(98, "/97"), (99, "/98"), (100, "/99")]
    assert journal.entries()[-1].request_json == {"prompt": "x" * 60_000}
    journal.clear()
    assert journal.size == 0


def test_an_entry_larger_than_the_journal_is_kept_alone() -> None:
    journal = Journal(max_bytes=1_000)
    for i in range(2):
        journal.record(
            at_ms=i, method="POST", path=f"/{i}", query="", account=None, status=400,
            duration_ms=0.0, request_body=b"[" + b"1," * 5_000 + b"1]",
        )  # fmt: skip
    assert [e.path for e in journal.entries()] == ["/1"]


def test_the_service_journal_takes_its_size_from_the_settings() -> None:
    assert MockService(Settings(journal_max_bytes=1234)).journal.max_bytes == 1234
    assert MockService().journal.max_bytes == 32 * 1024 * 1024


async def test_reset_clears_the_journal(client: httpx.AsyncClient, service: MockService) -> None:
    await client.get("/api/v3/balance", headers=AUTH)
    service.reset()
    assert service.journal.entries() == []


def _chunked_json_app(*chunks: bytes) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for n, chunk in enumerate(chunks):
            more = n < len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more})

    return app


@pytest.mark.parametrize(
    ("request_body", "chunks", "kept_request", "kept_response"),
    [
        (b'{"a": 1}', [b'{"ok": ', b"true}"], {"a": 1}, {"ok": True}),  # chunks joined
        (b'{"a": "' + b"x" * KEPT_BODY_BYTES + b'"}', [b"{}"], None, {}),  # request too big
        (b"{}", [b'{"big": "', b"y" * KEPT_BODY_BYTES, b'"}'], {}, None),  # answer too big
    ],
)
async def test_small_json_bodies_are_kept_and_big_ones_are_not(
    request_body: bytes, chunks: list[bytes], kept_request: Any, kept_response: Any
) -> None:
    journal = Journal()
    app = JournalMiddleware(_chunked_json_app(*chunks), journal, ManualClock())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        headers = {"content-type": "application/json", "authorization": "Bearer k"}
        await client.post("/anything", content=request_body, headers=headers)
    [entry] = journal.entries()
    assert (entry.request_json, entry.response_json) == (kept_request, kept_response)
    assert entry.account == account_id("k")  # no route authenticated it: the bearer key says
    assert "authorization" not in entry.headers  # never the key itself
    assert entry.headers["content-type"] == "application/json"


async def test_a_growing_journal_leaves_the_garbage_collector_nothing_to_walk(
    client: httpx.AsyncClient, service: MockService
) -> None:
    """Entries are kept as tuples of plain values, which the collector stops tracking: a
    journal of 100,000 entries used to make every full collection walk them all (a
    20-40 ms pause under load)."""
    submitted = await client.post(SUBMIT, json=job_input(), headers=AUTH)
    path = f"/api/v3/predictions/{submitted.json()['data']['id']}/result"
    for _ in range(500):
        await client.get(path, headers=AUTH)
    # A tuple is untracked once its items are, when the collector looks at it: the
    # headers' tuples first, then the record, then the journal's (seq, record, size).
    for _ in range(3):
        gc.collect()
    held = list(service.journal._items)  # what the journal keeps, as it keeps it
    assert len(held) == 501
    assert [item for item in held if gc.is_tracked(item)] == []
