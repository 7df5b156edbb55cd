"""Fields a model does not take: ignored by default, refused with ``--strict-inputs``.

The real catalogue's request schemas list each model's inputs; what the service
does with a field outside them is not recorded (one integration's source says
the platform ignores unknown keys, another that it rejects them). The fake
ignores them by default (they are neither read nor stored with the job) and,
under ``Settings(strict_inputs=True)`` (``serve --strict-inputs``), refuses
them with a 400 naming each. The platform's fields (``enable_sync_mode``,
``enable_base64_output``, ``webhook_url``) are taken by every model either way.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_api import ManualClock, Settings
from tests.helpers import AUTH, SUBMIT, MakeClient, job_input, silence, video

pytestmark = pytest.mark.anyio

V2V = "/api/v3/wavespeed-ai/infinitetalk-fast/video-to-video"
PNG = (Path(__file__).parent.parent / "fixtures" / "media" / "frame.png").read_bytes()
MASK = "data:image/png;base64," + base64.b64encode(PNG).decode()


async def _job(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    response = await client.get(f"/_mock/jobs/{job_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


@pytest.mark.parametrize(
    "extra",
    [{"mask_image": MASK}, {"mask_image": ""}, {"resolution": "720p"}, {"colour": 1, "x": None}],
    ids=["mask", "empty-mask", "resolution", "made-up"],
)
async def test_by_default_a_field_the_model_lacks_is_ignored(
    client: httpx.AsyncClient, clock: ManualClock, extra: dict[str, Any]
) -> None:
    """Neither read (a mask our model lacks is never fetched) nor stored, nor billed."""
    response = await client.post(SUBMIT, json={**job_input(), **extra}, headers=AUTH)
    assert response.status_code == 200, response.text
    job = await _job(client, response.json()["data"]["id"])
    assert not set(extra) & set(job["input"])
    assert job["quote"]["cost_micros"] == 75_000  # 5 s at $0.015: no 720p for a fast model


@pytest.mark.parametrize(
    ("extra", "fields"),
    [
        ({"mask_image": ""}, ["mask_image"]),
        ({"resolution": "720p", "colour": 1}, ["resolution", "colour"]),
    ],
)
async def test_strict_inputs_refuse_each_field_the_model_lacks_by_name(
    make_client: MakeClient, extra: dict[str, Any], fields: list[str]
) -> None:
    async with make_client(Settings(strict_inputs=True)) as client:
        response = await client.post(SUBMIT, json={**job_input(), **extra}, headers=AUTH)
        assert response.status_code == 400
        body = response.json()
        assert [d["field"] for d in body["details"]] == fields
        assert body["message"].startswith(f'field "{fields[0]}" is not an input of ')
        assert "left_audio" in body["message"]  # it says what the model takes
        jobs = (await client.get("/_mock/jobs")).json()["data"]
        assert jobs == {"jobs": []}  # all or nothing: no job, no charge
        balance = await client.get("/api/v3/balance", headers=AUTH)
        assert balance.json()["data"]["balance"] == 100


@pytest.mark.parametrize("strict", [False, True])
async def test_the_platform_fields_are_taken_by_every_model_either_way(
    make_client: MakeClient, strict: bool
) -> None:
    async with make_client(Settings(strict_inputs=strict)) as client:
        body = {**job_input(), "enable_base64_output": False, "webhook_url": "http://127.0.0.1:9/h"}
        response = await client.post(SUBMIT, json=body, headers=AUTH)
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("strict", [False, True])
async def test_a_quote_ignores_or_refuses_alike(make_client: MakeClient, strict: bool) -> None:
    async with make_client(Settings(strict_inputs=strict)) as client:
        inputs = {"left_audio": silence(7), "resolution": "720p"}
        body = {"model_id": SUBMIT.removeprefix("/api/v3/"), "inputs": inputs}
        response = await client.post("/api/v3/model/price", json=body, headers=AUTH)
        if strict:
            assert response.status_code == 400
            assert response.json()["details"][0]["field"] == "inputs.resolution"
        else:
            assert response.json()["data"]["price"] == 0.105  # 7 s at $0.015


async def test_a_one_speaker_model_reads_its_mask(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    """Where the real schema has ``mask_image`` it is an input: validated, read, stored."""
    body = {"video": video(), "audio": silence(6), "mask_image": MASK}
    response = await client.post(V2V, json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    job = await _job(client, response.json()["data"]["id"])
    # Kept as a file of the job, named by URL (media by URL, as history shows them).
    mask = await client.get(job["input"]["mask_image"])
    assert mask.content == PNG
    for bad, reason in (
        (None, "must be a string"),
        ("mask.png", "must be an http(s) URL, a base64 data: URI, or empty"),
    ):
        refused = await client.post(V2V, json={**body, "mask_image": bad}, headers=AUTH)
        assert refused.status_code == 400
        assert refused.json()["details"][0] == {
            "field": "mask_image",
            "reason": reason,
            "location": "body",
        }
    unreadable = await client.post(V2V, json={**body, "mask_image": silence(2)}, headers=AUTH)
    job_id = unreadable.json()["data"]["id"]
    clock.advance(60)
    failed = (await client.get(f"/api/v3/predictions/{job_id}/result", headers=AUTH)).json()
    assert (failed["data"]["status"], failed["data"]["code"]) == ("failed", 1402)
    assert failed["data"]["error"].startswith("mask_image: ")
