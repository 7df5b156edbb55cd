"""The ``/api/v2`` routes of WaveSpeed's older ComfyUI nodes: v3 under v2, or a 403 naming v3.

The nodes (WaveSpeedAI/wavespeed-comfyui before its June 2026 change) posted to
``/api/v2/{model}``, polled ``/api/v2/predictions/{id}/result`` and uploaded to
``/api/v2/media/upload/binary`` (multipart ``file``), reading ``code``,
``data.id``, ``data.status``, ``data.outputs``, ``data.error`` and
``data.download_url``. This drives that flow as they send it.
"""

from __future__ import annotations

import httpx
import pytest

from mock_api import ManualClock, Settings
from tests.helpers import AUTH, KEY, MakeClient, job_input, silence

pytestmark = pytest.mark.anyio

MODEL = "wavespeed-ai/infinitetalk-fast/video-to-video-multi"


async def test_a_comfyui_v2_flow_uploads_submits_polls_and_reads_the_output(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    wav = (await client.get(silence(6))).content
    uploaded = await client.post(
        "/api/v2/media/upload/binary",
        files={"file": ("audio.mp3", wav, "audio/mp3")},
        headers=AUTH,
    )
    assert uploaded.status_code == 200
    assert uploaded.json()["code"] == 200
    left = uploaded.json()["data"]["download_url"]

    body = {**job_input(right=2), "left_audio": left, "enable_base64_output": False}
    submitted = await client.post(f"/api/v2/{MODEL}", json=body, headers=AUTH)
    assert submitted.status_code == 200, submitted.text
    envelope = submitted.json()
    assert envelope["code"] == 200
    job_id = envelope["data"]["id"]
    assert envelope["data"]["status"] == "created"
    assert envelope["data"]["urls"]["get"].endswith(f"/api/v3/predictions/{job_id}/result")

    clock.advance(60)
    polled = await client.get(f"/api/v2/predictions/{job_id}/result", headers=AUTH)
    assert polled.status_code == 200
    data = polled.json()["data"]
    assert (data["status"], data["error"]) == ("completed", "")
    v3 = await client.get(f"/api/v3/predictions/{job_id}/result", headers=AUTH)
    assert data == v3.json()["data"]  # path-only: the same answer
    [output] = data["outputs"]
    assert (await client.get(output)).headers["content-type"] == "video/mp4"
    balance = await client.get("/api/v3/balance", headers=AUTH)
    assert balance.json()["data"]["balance"] == 99.91  # 6 s at $0.015


async def test_v2_holds_each_model_to_its_own_schema(client: httpx.AsyncClient) -> None:
    missing = await client.post(f"/api/v2/{MODEL}", json={"video": "x"}, headers=AUTH)
    assert missing.status_code == 400
    assert {d["field"] for d in missing.json()["details"]} >= {"left_audio", "right_audio"}
    unknown = await client.post("/api/v2/acme/nothing", json={}, headers=AUTH)
    assert unknown.status_code == 404
    assert "GET /api/v3/models" in unknown.json()["message"]
    anonymous = await client.post(f"/api/v2/{MODEL}", json=job_input())
    assert anonymous.status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "v3"),
    [
        ("POST", f"/api/v2/{MODEL}", f"POST /api/v3/{MODEL}"),
        ("GET", "/api/v2/predictions/abc/result", "GET /api/v3/predictions/abc/result"),
        ("POST", "/api/v2/media/upload/binary", "POST /api/v3/media/upload/binary"),
    ],
)
async def test_refused_v2_names_the_v3_path_and_changes_nothing(
    make_client: MakeClient, method: str, path: str, v3: str
) -> None:
    async with make_client(Settings(legacy_v2=False)) as client:
        response = await client.request(method, path, json=job_input(), headers=AUTH)
        assert response.status_code == 403
        body = response.json()
        assert body["error_code"] == "forbidden"
        assert f"call {v3} instead" in body["message"]
        assert (await client.get("/_mock/jobs")).json()["data"] == {"jobs": []}
        ledger = await client.get("/_mock/ledger", params={"api_key": KEY})
        assert ledger.json()["data"]["balance"] == 100
        # The key is still checked first, as on the service.
        assert (await client.request(method, path, json={})).status_code == 401
