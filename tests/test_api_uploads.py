"""The three upload forms, and uploaded files as job inputs."""

from __future__ import annotations

import httpx
import pytest

from mock_api import ManualClock, Settings
from tests.helpers import AUTH, SUBMIT, MakeClient, job_input

pytestmark = pytest.mark.anyio


async def _wav(client: httpx.AsyncClient, seconds: float) -> bytes:
    response = await client.get(f"/media/samples/silence.wav?seconds={seconds}&sample_rate=8000")
    assert response.status_code == 200
    return response.content


async def _ticket_url(client: httpx.AsyncClient, size: int) -> str:
    ticket = await client.post(
        "/api/v3/media/uploads", json={"filename": "a.wav", "size": size}, headers=AUTH
    )
    url: str = ticket.json()["data"]["upload"]["url"]
    return url


async def test_ticket_flow_as_the_sdk_does_it(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    data = await _wav(client, 6)
    ticket = await client.post(
        "/api/v3/media/uploads",
        json={"filename": "left.wav", "size": len(data), "content_type": "audio/wav"},
        headers=AUTH,
    )
    assert ticket.status_code == 200
    envelope = ticket.json()
    assert envelope["code"] == 200
    upload = envelope["data"]["upload"]
    assert upload["method"] == "PUT"
    assert upload["headers"] == {"Content-Type": "audio/wav"}
    put = await client.put(
        upload["url"], content=data, headers=upload["headers"]
    )  # no Authorization
    assert put.status_code == 200
    assert put.json()["data"]["type"] == "audio"
    download_url = envelope["data"]["download_url"]
    fetched = await client.get(download_url)
    assert fetched.content == data
    assert fetched.headers["content-type"].startswith("audio/")

    job = await client.post(
        SUBMIT, json={**job_input(right=2), "left_audio": download_url}, headers=AUTH
    )
    clock.advance(60)
    done = await client.get(f"/api/v3/predictions/{job.json()['data']['id']}/result", headers=AUTH)
    assert done.json()["data"]["status"] == "completed"
    balance = await client.get("/api/v3/balance", headers=AUTH)
    assert balance.json()["data"]["balance"] == 99.91  # 6 s of speech -> 6 x $0.015


async def test_a_ticket_is_used_once(client: httpx.AsyncClient) -> None:
    data = await _wav(client, 1)
    url = await _ticket_url(client, len(data))
    assert (await client.put(url, content=data)).status_code == 200
    again = await client.put(url, content=data)
    assert again.status_code == 404
    assert "not found, used or expired" in again.json()["message"]


async def test_put_of_the_wrong_size_is_refused_and_the_ticket_kept(
    client: httpx.AsyncClient,
) -> None:
    data = await _wav(client, 1)
    url = await _ticket_url(client, len(data))
    short = await client.put(url, content=data[:-10])
    assert short.status_code == 400
    assert "the ticket was issued for" in short.json()["message"]
    long = await client.put(url, content=data + b"0" * 10)
    assert long.status_code == 413
    assert (await client.put(url, content=data)).status_code == 200


async def test_ticket_expires(client: httpx.AsyncClient, clock: ManualClock) -> None:
    url = await _ticket_url(client, 3)
    clock.advance(3601)
    assert (await client.put(url, content=b"abc")).status_code == 404


@pytest.mark.parametrize(
    ("content_type", "size", "status"),
    [
        ("video/mp4", 100_000_000, 200),
        ("video/mp4", 100_000_001, 413),
        ("audio/mpeg", 50_000_001, 413),
        ("image/png", 20_000_001, 413),
        ("audio/wav", 50_000_000, 200),
        (None, 20_000_001, 413),
    ],
)
async def test_ticket_size_limits_by_type(
    client: httpx.AsyncClient, content_type: str | None, size: int, status: int
) -> None:
    body: dict[str, object] = {"filename": "f", "size": size}
    if content_type:
        body["content_type"] = content_type
    response = await client.post("/api/v3/media/uploads", json=body, headers=AUTH)
    assert response.status_code == status
    if status == 413:
        assert response.json()["code"] == 413
        assert "the limit for" in response.json()["message"]


async def test_binary_upload_sniffs_the_type_from_content(client: httpx.AsyncClient) -> None:
    data = await _wav(client, 1)
    response = await client.post(
        "/api/v3/media/upload/binary",
        files={"file": ("looks-like-an-image.png", data, "image/png")},
        headers=AUTH,
    )
    assert response.status_code == 200
    stored = response.json()["data"]
    assert stored["type"] == "audio"
    assert stored["filename"] == "looks-like-an-image.png"
    assert stored["size"] == len(data)
    assert (await client.get(stored["download_url"])).content == data


async def test_legacy_upload_answers_data_url(client: httpx.AsyncClient) -> None:
    data = await _wav(client, 1)
    response = await client.post("/api/v3/upload", files={"file": ("a.wav", data)}, headers=AUTH)
    assert response.status_code == 200
    url = response.json()["data"]["url"]
    assert (await client.get(url)).content == data


@pytest.mark.parametrize("path", ["/api/v3/media/upload/binary", "/api/v3/upload"])
async def test_multipart_without_a_file_part_names_the_field(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.post(
        path, data={"other": "x"}, files={"nope": ("a", b"a")}, headers=AUTH
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith('field "file" is required')
    not_multipart = await client.post(path, json={"file": "x"}, headers=AUTH)
    assert not_multipart.status_code == 400


async def test_binary_upload_over_the_audio_limit_is_413(make_client: MakeClient) -> None:
    settings = Settings(upload_limits={"image": 100, "video": 100, "audio": 1000, "other": 100})
    async with make_client(settings) as client:
        data = await _wav(client, 1)  # 16 kB of 8 kHz audio
        response = await client.post(
            "/api/v3/media/upload/binary", files={"file": ("a.wav", data)}, headers=AUTH
        )
        assert response.status_code == 413
        assert (
            response.json()["message"]
            == "file is more than 1000 bytes; the limit for audio is 1000 bytes"
        )


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("/abs/path/x.wav", "x.wav"),
        ("a\x00b.wav", "ab.wav"),
        ("..", "upload"),
        ("C:\\Users\\me\\x.wav", "x.wav"),
    ],
)
async def test_file_names_cannot_escape(client: httpx.AsyncClient, name: str, shown: str) -> None:
    response = await client.post(
        "/api/v3/media/uploads", json={"filename": name, "size": 1}, headers=AUTH
    )
    assert response.status_code == 200
    assert response.json()["data"]["download_url"].endswith("/" + shown)


async def test_a_ticket_size_written_as_a_float_is_kept_as_an_integer(
    client: httpx.AsyncClient,
) -> None:
    data = await _wav(client, 1)
    ticket = await client.post(
        "/api/v3/media/uploads", json={"filename": "a.wav", "size": float(len(data))}, headers=AUTH
    )
    url = ticket.json()["data"]["upload"]["url"]
    short = await client.put(url, content=data[:-1])
    assert f"the ticket was issued for {len(data)}" in short.json()["message"]


async def test_a_malformed_multipart_body_is_a_400_naming_the_field(
    client: httpx.AsyncClient,
) -> None:
    body = b"--b\r\nContent-Disposition[: form-data\r\n\r\nx\r\n--b--\r\n"
    response = await client.post(
        "/api/v3/media/upload/binary",
        content=body,
        headers={**AUTH, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith('field "file" is not readable multipart/form-data')


_PART = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        # Before: 200, and the file stored as far as the body went.
        (_PART + b"RIFF and then the connection was cut", "is cut short"),
        # Before: 200, the first part kept and the second ignored without a word.
        (_PART + b"one\r\n" + _PART + b"two\r\n--b--\r\n", "is sent twice"),
    ],
)
async def test_a_multipart_body_that_does_not_say_which_file_is_refused(
    client: httpx.AsyncClient, body: bytes, reason: str
) -> None:
    response = await client.post(
        "/api/v3/media/upload/binary",
        content=body,
        headers={**AUTH, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith(f'field "file" {reason}')
    assert response.json()["details"][0]["field"] == "file"
