"""Fault rules through the HTTP API: what a client meets on the wire.

Rules go in through ``POST /_mock/faults``; requests go through httpx's ASGI
transport to an app on a :class:`~mock_api.clock.ManualClock`, except where the
fault is about the socket itself (a dropped connection, latency on a real
connection), which runs the app on a loopback port with
:class:`~mock_api.server.LiveServer`. Latency is only ever checked from below.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mock_api import ManualClock, MockService, Settings, create_app
from mock_api.errors import error_code_for
from mock_api.server import LiveServer
from tests.helpers import KEY, SUBMIT, MakeClient, auth, control, job_input

pytestmark = pytest.mark.anyio

BALANCE = "/api/v3/balance"


async def add_fault(client: httpx.AsyncClient, rule: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = await control(client, "POST", "/faults", rule)
    return data


async def faults(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    data = await control(client, "GET", "/faults")
    return {rule["id"]: rule for rule in data["faults"]}


async def journal(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = (await control(client, "GET", "/journal", params=params))[
        "entries"
    ]
    return entries


async def submit(client: httpx.AsyncClient, key: str = KEY) -> httpx.Response:
    return await client.post(SUBMIT, json=job_input(), headers=auth(key))


def envelope(rule_id: str, status: int) -> dict[str, Any]:
    message = f"injected fault {rule_id!r}: HTTP {status}"
    return {
        "code": status,
        "message": message,
        "error": message,
        "error_code": error_code_for(status),
        "data": None,
    }


# --- status faults ---------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_a_status_fault_answers_that_status_in_the_error_envelope(
    client: httpx.AsyncClient, status: int
) -> None:
    await add_fault(client, {"id": "boom", "kind": "status", "status": status, "path": BALANCE})

    response = await client.get(BALANCE, headers=auth())

    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json() == envelope("boom", status)
    assert "retry-after" not in response.headers


async def test_a_429_fault_sends_retry_after(client: httpx.AsyncClient) -> None:
    await add_fault(
        client, {"id": "busy", "kind": "status", "status": 429, "retry_after": 7, "path": BALANCE}
    )

    response = await client.get(BALANCE, headers=auth())

    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json() == envelope("busy", 429)


async def test_the_default_status_fault_is_a_503_on_the_api_only(
    client: httpx.AsyncClient,
) -> None:
    rule = await add_fault(client, {"id": "down", "kind": "status"})
    assert (rule["status"], rule["path"], rule["method"], rule["api_key"]) == (
        503,
        "/api/v3/*",
        None,
        None,
    )

    assert (await client.get(BALANCE, headers=auth())).status_code == 503
    assert (await submit(client)).status_code == 503
    assert (await client.get("/media/samples/silence.wav?seconds=1")).status_code == 200
    assert (await client.get("/_mock/clock")).status_code == 200  # the control API still works


async def test_times_fires_exactly_n_times_then_requests_are_normal(
    client: httpx.AsyncClient,
) -> None:
    await add_fault(
        client, {"id": "flaky", "kind": "status", "method": "POST", "path": SUBMIT, "times": 3}
    )

    statuses = [(await submit(client)).status_code for _ in range(5)]

    assert statuses == [503, 503, 503, 200, 200]
    assert (await faults(client))["flaky"]["applied"] == 3
    # A faulted request never reaches the app: two jobs, two charges.
    assert len((await control(client, "GET", "/jobs"))["jobs"]) == 2
    balance = (await client.get(BALANCE, headers=auth())).json()["data"]["balance"]
    assert balance == 99.85


async def test_a_fault_picks_requests_by_method_and_path_glob(client: httpx.AsyncClient) -> None:
    job_id = (await submit(client)).json()["data"]["id"]
    await add_fault(
        client,
        {"id": "polls", "kind": "status", "method": "get", "path": "/api/v3/predictions/*/result"},
    )

    assert (
        await client.get(f"/api/v3/predictions/{job_id}/result", headers=auth())
    ).status_code == 503
    assert (await client.get(f"/api/v3/predictions/{job_id}", headers=auth())).status_code == 200
    assert (await client.post(f"/api/v3/predictions/{job_id}/result")).status_code == 405
    assert (await client.get(BALANCE, headers=auth())).status_code == 200
    assert (await submit(client)).status_code == 200
    assert (await faults(client))["polls"]["matched"] == 1


async def test_a_fault_picks_requests_by_api_key(client: httpx.AsyncClient) -> None:
    await add_fault(client, {"id": "victim", "kind": "status", "status": 502, "api_key": "victim"})

    assert (await client.get(BALANCE, headers=auth("victim"))).status_code == 502
    assert (await client.get(BALANCE, headers=auth("bystander"))).status_code == 200
    assert (await client.get(BALANCE)).status_code == 401  # no key: not the victim's request
    assert (await faults(client))["victim"]["applied"] == 1


async def test_the_first_matching_rule_fires(client: httpx.AsyncClient) -> None:
    await add_fault(
        client, {"id": "first", "kind": "status", "status": 429, "path": BALANCE, "times": 1}
    )
    await add_fault(client, {"id": "second", "kind": "status", "status": 500, "path": BALANCE})

    statuses = [(await client.get(BALANCE, headers=auth())).status_code for _ in range(3)]

    assert statuses == [429, 500, 500]
    counters = {k: (r["matched"], r["applied"]) for k, r in (await faults(client)).items()}
    assert counters == {"first": (1, 1), "second": (2, 2)}


async def _fired(client: httpx.AsyncClient, seed: int, count: int) -> list[bool]:
    await add_fault(
        client, {"id": "coin", "kind": "status", "path": BALANCE, "share": 0.4, "seed": seed}
    )
    fired = [(await client.get(BALANCE, headers=auth())).status_code == 503 for _ in range(count)]
    counters = (await faults(client))["coin"]
    assert (counters["matched"], counters["applied"]) == (count, sum(fired))
    return fired


async def test_a_seeded_share_replays_exactly(make_client: MakeClient) -> None:
    count = 60
    async with make_client(Settings(random_seed=1)) as first:
        a = await _fired(first, seed=11, count=count)
    async with make_client(Settings(random_seed=2)) as second:  # other ids: rules do not care
        b = await _fired(second, seed=11, count=count)
    async with make_client(Settings(random_seed=1)) as third:
        c = await _fired(third, seed=12, count=count)

    assert a == b
    assert a != c
    assert 0.2 * count <= sum(a) <= 0.6 * count, sum(a)


# --- latency, drop, malformed ----------------------------------------------------------


async def test_latency_delays_the_normal_answer(client: httpx.AsyncClient) -> None:
    await add_fault(client, {"id": "slow", "kind": "latency", "latency_ms": 150, "path": BALANCE})

    started = time.perf_counter()
    response = await client.get(BALANCE, headers=auth())
    elapsed = time.perf_counter() - started

    assert response.status_code == 200
    assert response.json()["data"]["balance"] == 100
    assert elapsed >= 0.15
    [entry] = await journal(client, path=BALANCE)
    assert entry["duration_ms"] >= 150
    assert (await faults(client))["slow"]["applied"] == 1


async def test_a_drop_raises_in_process_and_later_requests_are_served(
    client: httpx.AsyncClient,
) -> None:
    await add_fault(client, {"id": "cut", "kind": "drop", "path": BALANCE, "times": 1})

    with pytest.raises(ConnectionAbortedError, match="injected fault 'cut'"):
        await client.get(BALANCE, headers=auth())

    assert (await client.get(BALANCE, headers=auth())).status_code == 200
    assert [e["path"] for e in await journal(client, path=BALANCE)] == [BALANCE, BALANCE]


async def test_malformed_answers_200_with_a_body_that_is_not_json(
    client: httpx.AsyncClient,
) -> None:
    await add_fault(
        client, {"id": "garbled", "kind": "malformed", "method": "POST", "path": SUBMIT}
    )

    response = await submit(client)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    assert (await control(client, "GET", "/jobs"))["jobs"] == []  # nothing reached the app


@pytest.fixture
def live() -> Iterator[LiveServer]:
    service = MockService(Settings(random_seed=9), ManualClock())
    with LiveServer(create_app(service=service)) as server:
        yield server


def test_a_drop_over_a_socket_is_a_transport_error(live: LiveServer) -> None:
    with httpx.Client(base_url=live.url, timeout=10) as client:
        added = client.post(
            "/_mock/faults", json={"id": "cut", "kind": "drop", "path": BALANCE, "times": 1}
        )
        assert added.status_code == 200

        with pytest.raises(httpx.RemoteProtocolError):
            client.get(BALANCE, headers=auth())

        after = client.get(BALANCE, headers=auth())  # the server lives on
        assert after.status_code == 200
        [dropped, served] = client.get("/_mock/journal", params={"path": BALANCE}).json()["data"][
            "entries"
        ]
        assert dropped["path"] == served["path"] == BALANCE
        assert (dropped["fault"], served["fault"]) == ("cut", None)


def test_latency_over_a_socket(live: LiveServer) -> None:
    with httpx.Client(base_url=live.url, timeout=10) as client:
        rule = {"id": "slow", "kind": "latency", "latency_ms": 150, "path": BALANCE}
        assert client.post("/_mock/faults", json=rule).status_code == 200

        started = time.perf_counter()
        response = client.get(BALANCE, headers=auth())
        elapsed = time.perf_counter() - started

    assert response.status_code == 200
    assert elapsed >= 0.15


# --- the journal, the rule list, bad rules ---------------------------------------------


async def test_faulted_requests_are_in_the_journal(client: httpx.AsyncClient) -> None:
    await add_fault(
        client,
        {
            "id": "busy",
            "kind": "status",
            "status": 429,
            "retry_after": 2,
            "path": BALANCE,
            "times": 2,
        },
    )
    for _ in range(3):
        await client.get(BALANCE, headers=auth())

    entries = await journal(client, path=BALANCE)
    assert [e["status"] for e in entries] == [429, 429, 200]
    assert [e["fault"] for e in entries] == ["busy", "busy", None]
    assert entries[0]["response"] == envelope("busy", 429)
    assert entries[0]["method"] == "GET"
    assert [e["seq"] for e in await journal(client, status="429")] == [
        e["seq"] for e in entries[:2]
    ]


async def test_the_rule_list_shows_every_field_and_counter(client: httpx.AsyncClient) -> None:
    rule = {
        "id": "full",
        "kind": "status",
        "method": "GET",
        "path": "/api/v3/predictions/*",
        "api_key": "k",
        "status": 429,
        "retry_after": 3,
        "latency_ms": 0,
        "times": 4,
        "share": 0.5,
        "seed": 2,
    }
    added = await add_fault(client, rule)
    assert added == {**rule, "matched": 0, "applied": 0}
    assert await faults(client) == {"full": added}


async def test_delete_one_fault_or_all(client: httpx.AsyncClient) -> None:
    for rule_id in ("a", "b"):
        await add_fault(client, {"id": rule_id, "kind": "status", "path": BALANCE})

    assert await control(client, "DELETE", "/faults/a") == {"removed": "a"}
    assert list(await faults(client)) == ["b"]
    missing = await client.delete("/_mock/faults/a")
    assert missing.status_code == 404
    assert missing.json()["message"] == "fault rule a not found"

    assert await control(client, "DELETE", "/faults") == {"faults": []}
    assert (await client.get(BALANCE, headers=auth())).status_code == 200


async def test_reset_forgets_the_faults(client: httpx.AsyncClient) -> None:
    await add_fault(client, {"id": "a", "kind": "status", "path": BALANCE})
    await control(client, "POST", "/reset")
    assert await faults(client) == {}
    assert (await client.get(BALANCE, headers=auth())).status_code == 200


@pytest.mark.parametrize(
    ("rule", "field", "words"),
    [
        ({"id": "f", "kind": "explode"}, "kind", "must be one of status, latency, drop, malformed"),
        ({"id": "f", "kind": "status", "status": 200}, "status", "must be >= 400"),
        ({"id": "f", "kind": "status", "status": 600}, "status", "must be <= 599"),
        ({"id": "f", "kind": "latency", "latency_ms": -1}, "latency_ms", "must be >= 0"),
        ({"id": "f", "kind": "status", "share": 2}, "share", "must be <= 1"),
        ({"id": "f", "kind": "status", "times": -1}, "times", "must be >= 0"),
        ({"id": "f", "kind": "status", "retry_after": "soon"}, "retry_after", "an integer"),
        ({"id": "f"}, "kind", "is required"),
        ({"kind": "drop"}, "id", "is required"),
    ],
    ids=[
        "unknown-kind",
        "status-200",
        "status-600",
        "negative-latency",
        "share-2",
        "negative-times",
        "retry-after-text",
        "no-kind",
        "no-id",
    ],
)
async def test_a_bad_fault_rule_is_a_400_naming_the_field(
    client: httpx.AsyncClient, rule: dict[str, Any], field: str, words: str
) -> None:
    response = await client.post("/_mock/faults", json=rule)

    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["code"], body["data"]) == (400, None)
    assert body["details"][0]["field"] == field
    assert words in body["message"]
    assert await faults(client) == {}


async def test_a_duplicate_fault_id_is_a_400_and_keeps_the_first_rule(
    client: httpx.AsyncClient,
) -> None:
    await add_fault(client, {"id": "f", "kind": "status", "status": 500})
    response = await client.post("/_mock/faults", json={"id": "f", "kind": "drop"})

    assert response.status_code == 400
    assert "fault rule named 'f' exists already" in response.json()["message"]
    assert (await faults(client))["f"]["kind"] == "status"


async def test_an_unknown_fault_field_is_a_400_naming_that_field(
    client: httpx.AsyncClient,
) -> None:
    """The 400 names the unknown field (it once read 'field "body" is not allowed')."""
    response = await client.post(
        "/_mock/faults", json={"id": "f", "kind": "latency", "latency": 100}
    )

    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "latency"


def test_every_fault_kind_has_its_own_handler() -> None:
    """No kind falls through to another's behaviour (an unknown one once dropped the line)."""
    from mock_api.faults import APPLY, FaultKind

    assert set(APPLY) == set(FaultKind)
    assert len(set(APPLY.values())) == len(FaultKind)
