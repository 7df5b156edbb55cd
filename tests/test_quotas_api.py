"""Account quotas through the HTTP API: the per-minute rate and the concurrency queue.

Limits are set with ``PUT /_mock/limits``; time moves with ``POST /_mock/clock``
(action ``set``, to the millisecond) on an app with a
:class:`~mock_api.clock.ManualClock`, so every ``Retry-After`` and every start
moment is checked exactly. The default ``fast`` pace: 0.5 s in ``created``,
then 0.5 s plus 15 ms per second of output.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

from mock_api import PACES, Settings
from mock_api.quotas import Level
from mock_api.records import account_id
from tests.helpers import KEY, SUBMIT, MakeClient, auth, control, job_input

pytestmark = pytest.mark.anyio

FAST = PACES["fast"]


async def set_limits(client: httpx.AsyncClient, **limits: Any) -> dict[str, Any]:
    data: dict[str, Any] = await control(client, "PUT", "/limits", limits)
    return data


async def get_limits(client: httpx.AsyncClient, key: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = await control(
        client, "GET", "/limits", params={"api_key": key} if key else None
    )
    return data


async def now_ms(client: httpx.AsyncClient) -> int:
    return int((await control(client, "GET", "/clock"))["now_ms"])


async def set_clock(client: httpx.AsyncClient, at_ms: int) -> None:
    await control(client, "POST", "/clock", {"action": "set", "now_ms": at_ms})


async def post(client: httpx.AsyncClient, key: str = KEY, **body: Any) -> httpx.Response:
    return await client.post(SUBMIT, json=job_input(**body), headers=auth(key))


async def submit(client: httpx.AsyncClient, key: str = KEY, **body: Any) -> str:
    response = await post(client, key, **body)
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["id"])


async def status(client: httpx.AsyncClient, job_id: str, key: str = KEY) -> str:
    response = await client.get(f"/api/v3/predictions/{job_id}/result", headers=auth(key))
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["status"])


async def balance(client: httpx.AsyncClient, key: str = KEY) -> Decimal:
    response = await client.get("/api/v3/balance", headers=auth(key))
    assert response.status_code == 200, response.text
    return Decimal(str(json.loads(response.text, parse_float=Decimal)["data"]["balance"]))


async def job_count(client: httpx.AsyncClient, key: str = KEY) -> int:
    return len((await control(client, "GET", "/jobs", params={"api_key": key}))["jobs"])


def assert_rate_limited(response: httpx.Response, retry_after: int) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["retry-after"] == str(retry_after)
    message = f"rate limit: 2 video submissions per minute; retry in {retry_after} s"
    assert response.json() == {
        "code": 429,
        "message": message,
        "error": message,
        "error_code": "rate_limited",
        "data": None,
    }


# --- the per-minute rate ---------------------------------------------------------------


async def test_bronze_allows_two_a_minute_and_retry_after_follows_the_clock(
    client: httpx.AsyncClient,
) -> None:
    assert await set_limits(client, level="bronze") == {"videos_per_minute": 2, "max_concurrent": 2}
    start = await now_ms(client)

    await submit(client)
    await set_clock(client, start + 10_000)
    await submit(client)
    await set_clock(client, start + 20_000)
    assert_rate_limited(await post(client), 40)  # the t=0 submission leaves the window at 60 s
    await set_clock(client, start + 59_500)
    assert_rate_limited(await post(client), 1)  # 0.5 s, rounded up to whole seconds
    await set_clock(client, start + 59_999)
    assert_rate_limited(await post(client), 1)

    await set_clock(client, start + 60_000)
    await submit(client)  # the window is (now - 60 s, now]: t=0 has left it
    assert_rate_limited(await post(client), 10)  # now t=10 s is the oldest; it leaves at 70 s
    await set_clock(client, start + 70_000)
    await submit(client)
    assert await job_count(client) == 4  # the refused attempts made no jobs


async def test_a_429_creates_no_job_and_charges_nothing(client: httpx.AsyncClient) -> None:
    await set_limits(client, level="bronze")
    await submit(client)
    await submit(client)
    charged = await balance(client)
    assert charged == Decimal(100) - 2 * Decimal("0.075")

    for _ in range(3):
        assert (await post(client)).status_code == 429

    assert await job_count(client) == 2
    assert await balance(client) == charged
    entries = (await control(client, "GET", "/ledger", params={"api_key": KEY}))["entries"]
    assert [e["kind"] for e in entries] == ["opening", "charge", "charge"]
    refused = (await control(client, "GET", "/journal", params={"status": "429"}))["entries"]
    assert len(refused) == 3
    assert {e["account"] for e in refused} == {account_id(KEY)}


async def test_the_rate_counts_submissions_not_outcomes(client: httpx.AsyncClient) -> None:
    await set_limits(client, level="bronze")
    await client.post(SUBMIT, json=job_input(), headers={**auth(), "X-Mock-Outcome": "fail"})
    await submit(client, video="http://testserver/nowhere.mp4")  # fails with 1402, free
    assert (await post(client)).status_code == 429


# --- the concurrency queue -------------------------------------------------------------


async def test_a_job_over_the_concurrency_limit_waits_for_the_first_running_one(
    client: httpx.AsyncClient,
) -> None:
    assert await set_limits(client, max_concurrent=2) == {
        "videos_per_minute": None,
        "max_concurrent": 2,
    }
    start = await now_ms(client)

    def work(output_seconds: int) -> int:
        return FAST.base_ms + output_seconds * 15

    a = await submit(client, left=10, right=10)  # 10 s of output
    b = await submit(client, left=20, right=20)  # 20 s
    c = await submit(client, left=5, right=5)  # 5 s: waits for a
    d = await submit(client, left=5, right=5)  # 5 s: waits for b
    ready = FAST.queue_ms
    a_end = ready + work(10)  # 1150
    b_end = ready + work(20)  # 1300
    c_end = a_end + work(5)  # 1725
    d_end = b_end + work(5)  # 1875

    timeline = [
        (ready - 1, ["created", "created", "created", "created"]),
        (ready, ["processing", "processing", "created", "created"]),
        (a_end - 1, ["processing", "processing", "created", "created"]),
        (a_end, ["completed", "processing", "processing", "created"]),
        (b_end - 1, ["completed", "processing", "processing", "created"]),
        (b_end, ["completed", "completed", "processing", "processing"]),
        (c_end - 1, ["completed", "completed", "processing", "processing"]),
        (c_end, ["completed", "completed", "completed", "processing"]),
        (d_end - 1, ["completed", "completed", "completed", "processing"]),
        (d_end, ["completed", "completed", "completed", "completed"]),
    ]
    for offset, expected in timeline:
        await set_clock(client, start + offset)
        assert [await status(client, job) for job in (a, b, c, d)] == expected, offset

    inference = {}
    for job in (a, b, c, d):
        response = await client.get(f"/api/v3/predictions/{job}/result", headers=auth())
        inference[job] = response.json()["data"]["timings"]["inference"]
    assert [inference[j] for j in (a, b, c, d)] == [work(10), work(20), work(5), work(5)]


async def test_a_free_slot_is_used_at_once(client: httpx.AsyncClient) -> None:
    await set_limits(client, max_concurrent=2)
    start = await now_ms(client)
    first = await submit(client)
    await set_clock(client, start + 100)
    second = await submit(client)  # one running, one slot free: no wait

    await set_clock(client, start + 100 + FAST.queue_ms)
    assert [await status(client, j) for j in (first, second)] == ["processing", "processing"]


# --- per account, explicit, reading back -----------------------------------------------


async def test_one_accounts_limits_leave_other_keys_alone(client: httpx.AsyncClient) -> None:
    limited = await set_limits(client, api_key="small", level="bronze")
    assert limited == {"videos_per_minute": 2, "max_concurrent": 2}
    start = await now_ms(client)

    small = [await submit(client, "small") for _ in range(2)]
    assert (await post(client, "small")).status_code == 429
    big = [await submit(client, "big") for _ in range(5)]

    await set_clock(client, start + FAST.queue_ms)
    assert [await status(client, j, "big") for j in big] == ["processing"] * 5  # no queue
    assert [await status(client, j, "small") for j in small] == ["processing"] * 2
    assert await get_limits(client, "small") == {"videos_per_minute": 2, "max_concurrent": 2}
    assert await get_limits(client, "big") == {"videos_per_minute": None, "max_concurrent": None}
    assert await get_limits(client) == {"videos_per_minute": None, "max_concurrent": None}


async def test_explicit_limits(client: httpx.AsyncClient) -> None:
    assert await set_limits(client, videos_per_minute=1, max_concurrent=1) == {
        "videos_per_minute": 1,
        "max_concurrent": 1,
    }
    assert await get_limits(client, "anyone") == {"videos_per_minute": 1, "max_concurrent": 1}
    start = await now_ms(client)

    first = await submit(client)
    refused = await post(client)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "60"
    assert "1 video submissions per minute" in refused.json()["message"]

    await set_clock(client, start + 60_000)
    second = await submit(client)
    await set_clock(client, start + 60_000 + FAST.queue_ms)
    assert [await status(client, j) for j in (first, second)] == ["completed", "processing"]


@pytest.mark.parametrize(
    ("level", "rate", "concurrent"),
    [("bronze", 2, 2), ("silver", 500, 300), ("gold", 3000, 3000), ("ultra", 5000, 10000)],
)
async def test_each_level_sets_its_documented_limits(
    client: httpx.AsyncClient, level: str, rate: int, concurrent: int
) -> None:
    expected = {"videos_per_minute": rate, "max_concurrent": concurrent}
    assert await set_limits(client, api_key="k", level=level) == expected
    assert await get_limits(client, "k") == expected


async def test_unlimited_by_default(client: httpx.AsyncClient) -> None:
    assert await get_limits(client) == {"videos_per_minute": None, "max_concurrent": None}
    start = await now_ms(client)
    jobs = [await submit(client) for _ in range(10)]
    await set_clock(client, start + FAST.queue_ms)
    assert {await status(client, j) for j in jobs} == {"processing"}


async def test_a_level_from_the_settings_is_the_default_and_survives_reset(
    make_client: MakeClient,
) -> None:
    async with make_client(Settings(limits=Level.BRONZE.limits)) as client:
        bronze = {"videos_per_minute": 2, "max_concurrent": 2}
        assert await get_limits(client) == bronze
        await submit(client)
        await submit(client)
        assert (await post(client)).status_code == 429

        await set_limits(client, level="gold")
        assert (await post(client)).status_code == 200
        await control(client, "POST", "/reset")
        assert await get_limits(client) == bronze


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"videos_per_minute": 0}, "videos_per_minute"),
        ({"max_concurrent": -1}, "max_concurrent"),
        ({"max_concurrent": "two"}, "max_concurrent"),
        ({"level": "platinum"}, "level"),
        ({"api_key": "", "level": "gold"}, "api_key"),
    ],
)
async def test_bad_limits_are_a_400_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await client.put("/_mock/limits", json=body)

    assert response.status_code == 400, response.text
    assert response.json()["details"][0]["field"] == field
    assert await get_limits(client) == {"videos_per_minute": None, "max_concurrent": None}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        # Before: 200, with the explicit value silently dropped for the level's.
        ({"api_key": KEY, "level": "gold", "max_concurrent": 2}, "max_concurrent"),
        # Before: 200, and the account set to unlimited on both quotas.
        ({"api_key": KEY, "bogus": 1}, "bogus"),
    ],
)
async def test_limits_that_do_not_say_one_thing_are_refused_and_change_nothing(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    before = (await client.get("/_mock/limits", params={"api_key": KEY})).json()["data"]
    answer = await client.put("/_mock/limits", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["details"][0]["field"] == field
    after = (await client.get("/_mock/limits", params={"api_key": KEY})).json()["data"]
    assert after == before
