"""Inputs as clients send them: empty optional fields, nulls, media as ``data:`` URIs."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_api import ManualClock, Settings
from mock_api.datauri import read_data_uri
from mock_api.errors import MediaError
from tests.helpers import AUTH, SUBMIT, MakeClient, job_input, silence, video

pytestmark = pytest.mark.anyio

MEDIA = Path(__file__).parent.parent / "fixtures" / "media"


def data_uri(data: bytes, mime: str = "application/octet-stream") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


async def run(client: httpx.AsyncClient, clock: ManualClock, body: dict[str, Any]) -> Any:
    response = await client.post(SUBMIT, json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    clock.advance(3600)
    job_id = response.json()["data"]["id"]
    return (await client.get(f"/api/v3/predictions/{job_id}/result", headers=AUTH)).json()["data"]


async def balance(client: httpx.AsyncClient) -> Any:
    return (await client.get("/api/v3/balance", headers=AUTH)).json()["data"]["balance"]


async def test_empty_optional_inputs_are_no_inputs(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    """WaveSpeed's own first MCP server sent ``"mask_image": ""`` for no mask.

    Our model takes no mask (the real catalogue's schema has none): the field is
    ignored whatever it holds (tests/test_api_unknown_fields.py); ``prompt: ""``
    is an empty prompt.
    """
    job = await run(client, clock, job_input(left=3, right=4, mask_image="", prompt=""))
    assert job["status"] == "completed", job["error"]
    assert await balance(client) == 99.925  # 5 s minimum


@pytest.mark.parametrize("field", ["prompt", "order", "seed"])
async def test_null_is_refused_naming_the_field(client: httpx.AsyncClient, field: str) -> None:
    response = await client.post(SUBMIT, json={**job_input(), field: None}, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == field


@pytest.mark.parametrize("field", ["video", "left_audio", "right_audio"])
async def test_an_empty_required_input_is_refused(client: httpx.AsyncClient, field: str) -> None:
    response = await client.post(SUBMIT, json={**job_input(), field: ""}, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["message"] == f'field "{field}" must not be empty'


async def test_media_given_as_data_uris_are_read_like_uploads(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    left = (await client.get(silence(6))).content
    right = (await client.get(silence(2))).content
    clip = (await client.get(video(8))).content
    body = {
        "video": data_uri(clip, "video/mp4"),
        "left_audio": data_uri(left, "audio/wav"),
        "right_audio": data_uri(right, "audio/wav"),
        "order": "left_right",
    }
    job = await run(client, clock, body)
    assert job["status"] == "completed", job["error"]
    assert await balance(client) == 99.88  # 6 s + 2 s of audio read from the URIs


async def test_a_data_uri_that_is_not_the_media_fails_the_job(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    body = job_input(right_audio=data_uri(b"not audio at all", "audio/wav"))
    job = await run(client, clock, body)
    assert (job["status"], job["code"]) == ("failed", 1402)
    assert job["error"].startswith("right_audio: ")
    assert await balance(client) == 100


async def test_a_data_uri_over_the_upload_limit_fails_the_job(
    make_client: MakeClient, clock: ManualClock
) -> None:
    limits = {"image": 20_000_000, "video": 100_000_000, "audio": 1_000, "other": 1_000}
    async with make_client(Settings(upload_limits=limits)) as client:
        wav = (await client.get(silence(1))).content
        assert len(wav) > 1_000
        job = await run(client, clock, job_input(left_audio=data_uri(wav, "audio/wav")))
        assert (job["status"], job["code"]) == ("failed", 1402)
        assert job["error"] == (
            f"left_audio: the data: URI holds {len(wav)} bytes; the limit is 1000 bytes"
        )


@pytest.mark.parametrize(
    "value",
    ["data:audio/wav,RIFF", "data:audio/wav;base64,AAAA AAAA", "data:audio/wav;base64,AA*A"],
)
async def test_a_data_uri_the_spec_does_not_take_is_a_400(
    client: httpx.AsyncClient, value: str
) -> None:
    response = await client.post(SUBMIT, json=job_input(left_audio=value), headers=AUTH)
    assert response.status_code == 400
    assert response.json()["message"] == (
        'field "left_audio" must be an http(s) URL or a base64 data: URI'
    )


def test_read_data_uri_checks_the_size_before_decoding() -> None:
    for size in range(7):
        uri = data_uri(b"x" * size)
        assert read_data_uri(uri, max_bytes=size) == b"x" * size
        with pytest.raises(MediaError, match=f"holds {size} bytes; the limit is {size - 1}"):
            read_data_uri(uri, max_bytes=size - 1)


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("data:text/plain,hello", "without ;base64,"),
        ("data:;base64,AAA", "not valid base64"),
        ("data:;base64,AA=A", "not valid base64"),
    ],
)
def test_read_data_uri_refuses_what_is_not_base64(uri: str, reason: str) -> None:
    with pytest.raises(MediaError, match=reason):
        read_data_uri(uri, max_bytes=100)


def test_read_data_uri_takes_any_case_prefix() -> None:
    assert read_data_uri("DATA:audio/wav;BASE64,AAEC", max_bytes=3) == b"\x00\x01\x02"
