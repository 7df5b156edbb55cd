"""Every supported media format, uploaded and used as a job input, is read for real."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_api import ManualClock, MockService
from tests.helpers import AUTH, SUBMIT, job_input, silence

pytestmark = pytest.mark.anyio

MEDIA = Path(__file__).parent.parent / "fixtures" / "media"
TABLE: list[dict[str, Any]] = json.loads((MEDIA / "durations.json").read_text())
AUDIO = [row for row in TABLE if row["kind"] == "audio"]
VIDEO = [row for row in TABLE if row["kind"] == "video"]
IMAGES = [row for row in TABLE if row["kind"] == "image"] or [{"file": "frame.png"}]


async def _upload(client: httpx.AsyncClient, name: str) -> str:
    data = (MEDIA / name).read_bytes()
    ticket = await client.post(
        "/api/v3/media/uploads", json={"filename": name, "size": len(data)}, headers=AUTH
    )
    upload = ticket.json()["data"]["upload"]
    assert (
        await client.put(upload["url"], content=data, headers=upload["headers"])
    ).status_code == 200
    url: str = ticket.json()["data"]["download_url"]
    return url


async def _finished(
    client: httpx.AsyncClient, clock: ManualClock, body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(SUBMIT, json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    clock.advance(120)
    result = await client.get(
        f"/api/v3/predictions/{response.json()['data']['id']}/result", headers=AUTH
    )
    data: dict[str, Any] = result.json()["data"]
    return data


@pytest.mark.parametrize("row", AUDIO, ids=[r["file"] for r in AUDIO])
async def test_audio_format_is_priced_from_its_real_duration(
    client: httpx.AsyncClient, clock: ManualClock, service: MockService, row: dict[str, Any]
) -> None:
    url = await _upload(client, row["file"])
    done = await _finished(client, clock, {**job_input(right=1), "left_audio": url})
    assert done["status"] == "completed", done["error"]
    job = service.store.jobs.job(done["id"])
    assert job is not None
    assert job.quote is not None
    assert abs(job.quote.left_seconds - Decimal(row["duration"])) <= Decimal(row["tolerance"])


@pytest.mark.parametrize("row", VIDEO, ids=[r["file"] for r in VIDEO])
async def test_video_container_is_accepted(
    client: httpx.AsyncClient, clock: ManualClock, row: dict[str, Any]
) -> None:
    url = await _upload(client, row["file"])
    done = await _finished(client, clock, {**job_input(), "video": url})
    assert done["status"] == "completed", done["error"]


@pytest.mark.parametrize("row", IMAGES, ids=[r["file"] for r in IMAGES])
async def test_mask_image_is_accepted(
    client: httpx.AsyncClient, clock: ManualClock, row: dict[str, Any]
) -> None:
    url = await _upload(client, row["file"])
    done = await _finished(client, clock, {**job_input(), "mask_image": url})
    assert done["status"] == "completed", done["error"]


async def test_an_image_as_audio_fails_naming_input_and_type(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    url = await _upload(client, "frame.png")
    failed = await _finished(client, clock, {**job_input(), "right_audio": url})
    assert (failed["status"], failed["code"]) == ("failed", 1402)
    assert failed["error"].startswith("right_audio: expected audio")
    assert "image/png" in failed["error"]


async def test_an_earlier_output_can_be_the_next_video(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    first = await _finished(client, clock, job_input())
    second = await _finished(
        client, clock, {**job_input(), "video": first["outputs"][0], "left_audio": silence(2)}
    )
    assert second["status"] == "completed"
