"""The request journal records what clients sent, and every way it broke the spec."""

from __future__ import annotations

import httpx
import pytest

from mock_api import ManualClock, MockService
from mock_api.journal import Journal, SpecViolation
from tests.helpers import AUTH, SUBMIT, job_input

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
        SpecViolation("order", "must be one of meanwhile, left_right, right_left", "body"),
        SpecViolation("seed", "must be >= -1", "body"),
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


async def test_reset_clears_the_journal(client: httpx.AsyncClient, service: MockService) -> None:
    await client.get("/api/v3/balance", headers=AUTH)
    service.reset()
    assert service.journal.entries() == []
