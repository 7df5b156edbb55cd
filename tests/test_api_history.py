"""Prediction history and deletion through HTTP, on a manual clock."""

from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Any

import httpx
import pytest

from mock_api import ManualClock
from mock_api.spec import default_spec
from tests.helpers import AUTH, SUBMIT, auth, job_input

HISTORY = "/api/v3/predictions"
DELETE = "/api/v3/predictions/delete"
NS_CREATED_AT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$")
DAY_S = 86_400


async def submit(client: httpx.AsyncClient, key: str = "test-key", **extra: Any) -> str:
    response = await client.post(SUBMIT, json=job_input(**extra), headers=auth(key))
    assert response.status_code == 200, response.text
    job_id: str = response.json()["data"]["id"]
    return job_id


async def history(client: httpx.AsyncClient, key: str = "test-key", **body: Any) -> Any:
    response = await client.post(
        HISTORY, json={"page": 1, "page_size": 20, **body}, headers=auth(key)
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


@pytest.mark.anyio
async def test_the_history_lists_the_accounts_jobs_newest_first(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    first = await submit(client)
    clock.advance(1)
    second = await submit(client)
    clock.advance(600)  # both finished
    page = await history(client)
    assert (page["page"], page["page_size"], page["total"]) == (1, 20, 2)
    assert [item["id"] for item in page["items"]] == [second, first]
    item = page["items"][0]
    assert item["model"] == "wavespeed-ai/infinitetalk-fast/video-to-video-multi"
    assert item["status"] == "completed"
    assert item["urls"]["get"].endswith(f"/api/v3/predictions/{second}/result")
    assert item["outputs"]
    assert item["error"] == ""
    assert item["executionTime"] == item["timings"]["inference"] > 0


@pytest.mark.anyio
async def test_history_items_are_the_prediction_with_nanoseconds(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    job_id = await submit(client)
    clock.advance(600)
    result = (await client.get(f"/api/v3/predictions/{job_id}/result", headers=AUTH)).json()
    [item] = (await history(client))["items"]
    assert NS_CREATED_AT.match(item["created_at"]), item["created_at"]
    assert not item["created_at"].endswith("0Z")  # nine digits, as a Go writer leaves them
    # The result endpoint keeps the docs' milliseconds: the same moment, truncated.
    assert item["created_at"][:23] + "Z" == result["data"]["created_at"]
    # The same object, but for the inputs: history items carry them only when asked.
    shown = {k: v for k, v in result["data"].items() if k != "input"}
    assert {**item, "created_at": None} == {**shown, "created_at": None}
    assert "input" not in item
    assert "inputs" not in item


@pytest.mark.anyio
async def test_include_inputs_gives_each_item_what_was_submitted(
    client: httpx.AsyncClient,
) -> None:
    """WaveSpeed's CLI sends ``include_inputs: true`` and shows ``inputs.prompt``."""
    await submit(client, prompt="two people talk", order="left_right")
    [item] = (await history(client, include_inputs=True))["items"]
    inputs = item["inputs"]
    assert inputs["prompt"] == "two people talk"
    assert inputs["order"] == "left_right"
    assert inputs["left_audio"] == job_input()["left_audio"]  # media by URL
    assert isinstance(inputs["seed"], int)
    assert inputs["seed"] >= 0
    [plain] = (await history(client, include_inputs=False))["items"]
    assert "inputs" not in plain


@pytest.mark.anyio
async def test_inline_media_are_kept_as_files_and_named_by_url(
    client: httpx.AsyncClient,
) -> None:
    """A ``data:`` input reaches ``inputs``, ``input`` and the file it became, by URL."""
    wav = (await client.get(job_input()["left_audio"])).content
    uri = "data:audio/wav;base64," + base64.b64encode(wav).decode()
    job_id = await submit(client, left_audio=uri)
    [item] = (await history(client, include_inputs=True))["items"]
    url = item["inputs"]["left_audio"]
    assert url.startswith("http://testserver/media/files/")
    assert url.endswith("/left_audio.wav")
    assert (await client.get(url)).content == wav
    result = (await client.get(f"/api/v3/predictions/{job_id}/result", headers=AUTH)).json()
    assert result["data"]["input"]["left_audio"] == url


@pytest.mark.anyio
async def test_a_strptime_client_fails_on_the_history_as_on_the_real_service(
    client: httpx.AsyncClient,
) -> None:
    """``%f`` reads at most six digits: the real history's nine break such a client."""
    await submit(client)
    [item] = (await history(client))["items"]
    with pytest.raises(ValueError, match="does not match format"):
        datetime.strptime(item["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    # What reads both: fromisoformat (Python 3.11+), or trimming to microseconds.
    assert datetime.fromisoformat(item["created_at"]).microsecond > 0


@pytest.mark.anyio
async def test_pages_split_the_list_without_overlap(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    submitted = []
    for _ in range(7):
        submitted.append(await submit(client))
        clock.advance(0.001)
    seen: list[str] = []
    for number in (1, 2, 3):
        page = await history(client, page=number, page_size=3)
        assert (page["page"], page["page_size"], page["total"]) == (number, 3, 7)
        seen += [item["id"] for item in page["items"]]
    assert seen == submitted[::-1]
    past_the_end = await history(client, page=4, page_size=3)
    assert (past_the_end["items"], past_the_end["total"]) == ([], 7)


@pytest.mark.anyio
async def test_jobs_submitted_in_one_millisecond_keep_one_order(client: httpx.AsyncClient) -> None:
    """Same millisecond: ordered by the nanosecond created_at shown, then id; stable."""
    for _ in range(6):
        await submit(client)
    whole = [item["id"] for item in (await history(client))["items"]]
    pages = [
        item["id"]
        for number in (1, 2, 3)
        for item in (await history(client, page=number, page_size=2))["items"]
    ]
    assert pages == whole
    assert sorted(set(whole)) == sorted(whole)
    moments = [item["created_at"] for item in (await history(client))["items"]]
    assert moments == sorted(moments, reverse=True)


@pytest.mark.anyio
async def test_only_the_last_seven_days_are_listed(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    old = await submit(client)
    clock.advance(DAY_S)
    recent = await submit(client)
    clock.advance(6 * DAY_S - 0.001)  # ``old`` is 1 ms short of 7 days
    assert [i["id"] for i in (await history(client))["items"]] == [recent, old]
    clock.advance(0.001)  # ``old`` is 7 days old: gone
    assert [i["id"] for i in (await history(client))["items"]] == [recent]
    clock.advance(DAY_S)
    assert (await history(client))["total"] == 0


@pytest.mark.anyio
async def test_filters_combine(client: httpx.AsyncClient, clock: ManualClock) -> None:
    done = await submit(client)
    clock.advance(600)
    start = await history(client)
    running = await submit(client)
    after_done = start["items"][0]["created_at"]
    assert [i["id"] for i in (await history(client, status="completed"))["items"]] == [done]
    assert [i["id"] for i in (await history(client, status="created"))["items"]] == [running]
    assert (await history(client, status="failed"))["total"] == 0
    model = "wavespeed-ai/infinitetalk-fast/video-to-video-multi"
    assert (await history(client, model=model))["total"] == 2
    assert (await history(client, model=""))["total"] == 2  # empty: any model
    assert (await history(client, model="acme/other"))["total"] == 0
    # Bounds are inclusive, to the nanosecond the item shows.
    assert [i["id"] for i in (await history(client, created_before=after_done))["items"]] == [done]
    assert (await history(client, created_after=after_done))["total"] == 2
    later = (await history(client, status="created"))["items"][0]["created_at"]
    assert [i["id"] for i in (await history(client, created_after=later))["items"]] == [running]


@pytest.mark.anyio
async def test_date_filters_take_what_clients_send(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    """The desktop app and CLI send ``Date.toISOString()``: three digits and Z."""
    job_id = await submit(client)  # at 2026-01-01T00:00:00.000Z + sub-ms digits
    day = {
        "created_after": "2025-12-31T00:00:00.000Z",
        "created_before": "2026-01-01T00:00:01.000Z",
    }
    assert [i["id"] for i in (await history(client, **day))["items"]] == [job_id]
    offset = {"created_after": "2026-01-01T01:00:00+01:00"}  # the same moment as 00:00Z
    assert (await history(client, **offset))["total"] == 1
    assert (await history(client, created_after="2026-01-01T00:00:00.001Z"))["total"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"page_size": 20}, "page"),
        ({"page": 1}, "page_size"),
        ({"page": 0, "page_size": 20}, "page"),
        ({"page": 1, "page_size": 0}, "page_size"),
        ({"page": 1, "page_size": 101}, "page_size"),
        ({"page": 1, "page_size": 20, "status": "done"}, "status"),
        ({"page": 1, "page_size": 20, "created_after": "yesterday"}, "created_after"),
        ({"page": 1, "page_size": 20, "created_before": "2026-01-01T00:00:00"}, "created_before"),
    ],
)
@pytest.mark.anyio
async def test_a_bad_history_request_is_a_400_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await client.post(HISTORY, json=body, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == field
    assert response.json()["error_code"] == "invalid_request"


@pytest.mark.anyio
async def test_each_account_sees_only_its_own_history(client: httpx.AsyncClient) -> None:
    mine = await submit(client)
    theirs = await submit(client, key="other-key")
    assert [i["id"] for i in (await history(client))["items"]] == [mine]
    assert [i["id"] for i in (await history(client, key="other-key"))["items"]] == [theirs]
    assert (await client.post(HISTORY, json={"page": 1, "page_size": 1})).status_code == 401


@pytest.mark.anyio
async def test_deleted_jobs_answer_404_and_leave_the_history(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    gone, kept = await submit(client), await submit(client)
    clock.advance(600)
    response = await client.post(DELETE, json={"ids": [gone, gone, "f" * 32]}, headers=AUTH)
    assert response.status_code == 200
    assert response.json() == {"code": 200, "message": "success", "data": {"deleted_count": 1}}
    for path in (f"/api/v3/predictions/{gone}/result", f"/api/v3/predictions/{gone}"):
        missing = await client.get(path, headers=AUTH)
        assert missing.status_code == 404
        assert missing.json()["error_code"] == "not_found"
    assert (await client.get(f"/media/outputs/{gone}/output.mp4")).status_code == 404
    assert [i["id"] for i in (await history(client))["items"]] == [kept]
    again = await client.post(DELETE, json={"ids": [gone]}, headers=AUTH)
    assert again.json()["data"]["deleted_count"] == 0


@pytest.mark.anyio
async def test_deleting_keeps_the_charge(client: httpx.AsyncClient) -> None:
    job_id = await submit(client, left=10, right=10)
    await client.post(DELETE, json={"ids": [job_id]}, headers=AUTH)
    balance = await client.get("/api/v3/balance", headers=AUTH)
    assert balance.json()["data"]["balance"] == 99.85


@pytest.mark.anyio
async def test_another_accounts_ids_are_neither_deleted_nor_revealed(
    client: httpx.AsyncClient,
) -> None:
    theirs = await submit(client, key="other-key")
    mine = await submit(client)
    response = await client.post(DELETE, json={"ids": [theirs, mine]}, headers=AUTH)
    # Their job counts as an unknown id would: the count tells nothing about it.
    assert response.json()["data"]["deleted_count"] == 1
    still = await client.get(f"/api/v3/predictions/{theirs}/result", headers=auth("other-key"))
    assert still.status_code == 200
    assert [i["id"] for i in (await history(client, key="other-key"))["items"]] == [theirs]


@pytest.mark.anyio
async def test_the_delete_path_is_not_read_as_a_job_id(client: httpx.AsyncClient) -> None:
    response = await client.get(DELETE, headers=AUTH)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["error_code"] == "method_not_allowed"
    # A job id still resolves on both poll paths, and "delete" under /result stays a lookup.
    job_id = await submit(client)
    assert (await client.get(f"/api/v3/predictions/{job_id}", headers=AUTH)).status_code == 200
    lookup = await client.get("/api/v3/predictions/delete/result", headers=AUTH)
    assert lookup.status_code == 404
    assert lookup.json()["message"] == "prediction delete not found"


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "ids"), ({"ids": "abc"}, "ids"), ({"ids": [1]}, "ids.0"), ({"ids": [""]}, "ids.0")],
)
@pytest.mark.anyio
async def test_a_bad_delete_request_is_a_400_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await client.post(DELETE, json=body, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == field


@pytest.mark.anyio
async def test_execution_time_is_zero_until_the_job_finishes(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    job_id = await submit(client)
    path = f"/api/v3/predictions/{job_id}/result"
    assert (await client.get(path, headers=AUTH)).json()["data"]["executionTime"] == 0
    clock.advance(600)
    finished = (await client.get(path, headers=AUTH)).json()["data"]
    assert finished["status"] == "completed"
    assert finished["executionTime"] == finished["timings"]["inference"] > 0


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("2023-04-01T12:34:56.789Z", True),  # the docs' prediction sample
        ("2025-05-19T06:09:15.948268264Z", True),  # the docs' history sample
        ("2025-05-19T06:09:15.94826826Z", True),  # a Go writer drops trailing zeros
        ("2025-05-19T06:09:15.9482682641Z", False),
        ("2025-05-19 06:09:15.948Z", False),
        ("2025-05-19T06:09:15.948+00:00", False),
    ],
)
def test_the_spec_takes_the_real_services_timestamps(text: str, valid: bool) -> None:
    pattern = default_spec().document["components"]["schemas"]["CreatedAt"]["pattern"]
    assert bool(re.search(pattern, text)) is valid
