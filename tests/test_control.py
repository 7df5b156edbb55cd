"""The control API under /_mock: reset, clock, jobs, ledger, balances, journal, and its guard."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from mock_api import MockService, OffsetClock, Settings, create_app
from tests.helpers import AUTH, BASE, KEY, SUBMIT, MakeClient, job_input

pytestmark = pytest.mark.anyio


async def _data(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def test_reset_forgets_everything(client: httpx.AsyncClient, service: MockService) -> None:
    await client.post(SUBMIT, json=job_input(), headers=AUTH)
    await client.post("/_mock/scenarios", json={"id": "x", "then": "nsfw"})
    assert await _data(await client.post("/_mock/reset")) == {"reset": True}
    assert service.store.jobs.jobs() == []
    assert service.scenarios.rules() == []
    assert [e.path for e in service.journal.entries()] == ["/_mock/reset"]  # recorded after it ran


async def test_manual_clock_reads_advances_sets_and_runs_until_idle(
    client: httpx.AsyncClient,
) -> None:
    state = await _data(await client.get("/_mock/clock"))
    assert (state["kind"], state["frozen"]) == ("manual", True)
    moved = await _data(
        await client.post("/_mock/clock", json={"action": "advance", "seconds": 1.5})
    )
    assert moved["now_ms"] == state["now_ms"] + 1500
    jumped = await _data(
        await client.post("/_mock/clock", json={"action": "set", "now_ms": moved["now_ms"] + 10})
    )
    assert jumped["now_ms"] == moved["now_ms"] + 10
    back = await client.post("/_mock/clock", json={"action": "set", "now_ms": 0})
    assert back.status_code == 400
    assert "cannot move the clock back" in back.json()["message"]
    freeze = await client.post("/_mock/clock", json={"action": "freeze"})
    assert freeze.status_code == 400
    bad = await client.post("/_mock/clock", json={"action": "rewind"})
    assert bad.json()["message"].startswith('field "action" must be one of advance, set')

    job = (await client.post(SUBMIT, json=job_input(left=600, right=1), headers=AUTH)).json()[
        "data"
    ]
    idle = await _data(await client.post("/_mock/clock", json={"action": "run_until_idle"}))
    done = await _data(await client.get(f"/_mock/jobs/{job['id']}"))
    assert done["status"] == "completed"
    assert idle["now"] == done["finished_at"]  # exactly when the last job finished


async def test_flowing_clock_freezes_and_resumes(make_client: MakeClient) -> None:
    app = create_app(service=MockService(Settings(), OffsetClock()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        assert (await _data(await client.get("/_mock/clock")))["frozen"] is False
        frozen = await _data(await client.post("/_mock/clock", json={"action": "freeze"}))
        assert frozen["frozen"] is True
        assert (await _data(await client.get("/_mock/clock")))["now_ms"] == frozen["now_ms"]
        resumed = await _data(await client.post("/_mock/clock", json={"action": "resume"}))
        assert resumed["frozen"] is False
        assert resumed["now_ms"] >= frozen["now_ms"]


async def test_jobs_list_and_inspect_show_plan_outcome_and_quote(client: httpx.AsyncClient) -> None:
    ok = (
        await client.post(
            SUBMIT, json=job_input(left=7.3, right=2, order="left_right"), headers=AUTH
        )
    ).json()["data"]
    await client.post(SUBMIT, json=job_input(), headers={"Authorization": "Bearer other"})
    jobs = (await _data(await client.get("/_mock/jobs", params={"api_key": KEY})))["jobs"]
    assert [j["id"] for j in jobs] == [ok["id"]]
    assert len((await _data(await client.get("/_mock/jobs")))["jobs"]) == 2
    job = await _data(await client.get(f"/_mock/jobs/{ok['id']}"))
    assert job["quote"]["billed_seconds"] == 10
    assert job["quote"]["cost_usd"] == "0.15"
    assert job["outcome"] == {"status": "completed", "nsfw": False, "code": 0, "error": ""}
    assert job["status"] == "created"
    assert (await _data(await client.get("/_mock/jobs", params={"status": "processing"})))[
        "jobs"
    ] == []
    missing = await client.get("/_mock/jobs/nope")
    assert missing.status_code == 404


async def test_ledger_and_balance_setting(client: httpx.AsyncClient) -> None:
    await client.post(
        SUBMIT, json=job_input(left=10, right=1), headers={**AUTH, "X-Mock-Outcome": "fail"}
    )
    ledger = await _data(await client.get("/_mock/ledger", params={"api_key": KEY}))
    kinds = [(e["kind"], e["amount_usd"], e["in_effect"]) for e in ledger["entries"]]
    assert kinds == [("opening", "100", True), ("charge", "-0.15", True), ("refund", "0.15", False)]
    assert ledger["balance"] == 99.85
    set_to = await _data(
        await client.put("/_mock/balance", json={"api_key": KEY, "balance": "0.10"})
    )
    assert set_to["balance"] == 0.1
    refused = await client.post(SUBMIT, json=job_input(left=10, right=1), headers=AUTH)
    assert refused.status_code == 402
    entries = (await _data(await client.get("/_mock/ledger", params={"api_key": KEY})))["entries"]
    assert entries[-1]["kind"] == "adjustment"
    assert Decimal(entries[-1]["amount_usd"]) == Decimal("-99.75")
    bad = await client.put("/_mock/balance", json={"api_key": KEY, "balance": "lots"})
    assert bad.status_code == 400
    needs_key = await client.get("/_mock/ledger")
    assert needs_key.json()["message"] == 'query "api_key" is required'


async def test_journal_filters(client: httpx.AsyncClient) -> None:
    await client.get("/api/v3/balance", headers=AUTH)
    await client.post(SUBMIT, json={"order": "x"}, headers=AUTH)
    await client.get("/api/v3/balance")
    invalid = (await _data(await client.get("/_mock/journal", params={"invalid": "true"})))[
        "entries"
    ]
    assert [(e["method"], e["status"]) for e in invalid] == [("POST", 400), ("GET", 401)]
    assert {v["field"] for v in invalid[0]["violations"]} >= {"order", "video"}
    mine = (
        await _data(
            await client.get("/_mock/journal", params={"api_key": KEY, "path": "/api/v3/balance"})
        )
    )["entries"]
    assert len(mine) == 1
    last = (await _data(await client.get("/_mock/journal", params={"limit": 1})))["entries"]
    assert (last[0]["path"], last[0]["query"]) == (
        "/_mock/journal",
        "api_key=test-key&path=%2Fapi%2Fv3%2Fbalance",
    )
    bad = await client.get("/_mock/journal", params={"invalid": "maybe"})
    assert bad.json()["message"] == 'query "invalid" must be true or false'


async def test_limits_read_and_set(client: httpx.AsyncClient) -> None:
    assert await _data(await client.get("/_mock/limits")) == {
        "videos_per_minute": None,
        "max_concurrent": None,
    }
    await client.put("/_mock/limits", json={"api_key": KEY, "level": "bronze"})
    assert await _data(await client.get("/_mock/limits", params={"api_key": KEY})) == {
        "videos_per_minute": 2,
        "max_concurrent": 2,
    }
    assert (await _data(await client.get("/_mock/limits")))["videos_per_minute"] is None


async def test_token_guards_the_control_api(make_client: MakeClient) -> None:
    async with make_client(Settings(control_token="s3cret")) as client:
        denied = await client.get("/_mock/clock")
        assert denied.status_code == 403
        assert denied.json()["message"] == "missing or wrong X-Mock-Token header"
        wrong = await client.get("/_mock/clock", headers={"X-Mock-Token": "nope"})
        assert wrong.status_code == 403
        assert (
            await client.get("/_mock/clock", headers={"X-Mock-Token": "s3cret"})
        ).status_code == 200


async def test_control_api_can_be_off(make_client: MakeClient) -> None:
    async with make_client(Settings(control_enabled=False)) as client:
        response = await client.post("/_mock/reset")
        assert response.status_code == 403
        assert "control API is off" in response.json()["message"]
        assert (await client.get("/api/v3/balance", headers=AUTH)).status_code == 200


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        # Before: "True is not valid under any of the given schemas" (Python's spelling
        # of the value, and no word of what was wanted); likewise None and '1e3'.
        ("true", "must be a number or a string"),
        ("null", "must be a number or a string"),
        # A string: the wanted forms, not the pattern (the dashboard shows this reason).
        (
            '"1e3"',
            "must be an amount of USD: a number from 0 to 1000000000, "
            'or a string of digits with at most 6 decimals such as "12.50"',
        ),
        ("-1", "must be >= 0"),
    ],
)
async def test_a_balance_of_the_wrong_form_says_what_form_is_wanted(
    client: httpx.AsyncClient, raw: str, reason: str
) -> None:
    answer = await client.put(
        "/_mock/balance",
        content=f'{{"api_key": "{KEY}", "balance": {raw}}}',
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["details"] == [{"field": "balance", "reason": reason, "location": "body"}]
