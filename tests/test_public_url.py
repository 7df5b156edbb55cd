"""Outputs and uploads under a host name the user chooses (``--public-url``).

Some clients refuse to download from loopback: the Vercel AI SDK's
``validateDownloadUrl`` (``@ai-sdk/provider-utils``, used for generated video)
refuses ``localhost``, ``*.local``, ``*.localhost`` and loopback or private IP
literals, and looks no name up. Serving under a plain name that resolves to the
fake on the client's machine (an ``/etc/hosts`` line, a container's network
alias) gets past it. Every URL the fake writes then uses that name, and media
named by it come back to the fake as its own, read without a network fetch.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import httpx
import pytest

from mock_api import ManualClock, MockService, Settings, create_app
from tests.helpers import AUTH, SUBMIT, MakeClient, job_input

pytestmark = pytest.mark.anyio

PUBLIC = "http://wavespeed-fake.test:8000"


def _refused_by_the_ai_sdk_guard(url: str) -> bool:
    """The AI SDK's host rule, restated: loopback and private literals, localhost names."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith((".local", ".localhost")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_private or address.is_loopback or address.is_link_local


async def test_every_url_the_fake_writes_uses_the_public_name(
    make_client: MakeClient, clock: ManualClock
) -> None:
    async with make_client(Settings(public_url=PUBLIC)) as client:
        wav = (await client.get("/media/samples/silence.wav?seconds=6")).content
        uploaded = await client.post(
            "/api/v3/media/upload/binary", files={"file": ("left.wav", wav)}, headers=AUTH
        )
        left = uploaded.json()["data"]["download_url"]
        ticket = await client.post(
            "/api/v3/media/uploads",
            json={"filename": "right.wav", "size": len(wav), "content_type": "audio/wav"},
            headers=AUTH,
        )
        assert ticket.json()["data"]["upload"]["url"].startswith(f"{PUBLIC}/media/")
        # Media named by the public name are the fake's own: read from its store.
        body = {**job_input(), "left_audio": left}
        submitted = (await client.post(SUBMIT, json=body, headers=AUTH)).json()["data"]
        clock.advance(60)
        done = await client.get(f"/api/v3/predictions/{submitted['id']}/result", headers=AUTH)
        data = done.json()["data"]
        assert data["status"] == "completed", data["error"]
        urls = [left, data["urls"]["get"], *data["outputs"], data["input"]["left_audio"]]
        for url in urls:
            assert url.startswith(f"{PUBLIC}/"), url
            assert not _refused_by_the_ai_sdk_guard(url)
        # The same output under the fake's loopback address is what the guard refuses.
        assert _refused_by_the_ai_sdk_guard(
            data["outputs"][0].replace(PUBLIC, "http://127.0.0.1:8000")
        )
        output = await client.get(urlsplit(data["outputs"][0]).path)
        assert output.headers["content-type"] == "video/mp4"


async def test_without_it_urls_follow_the_request(client: httpx.AsyncClient) -> None:
    submitted = (await client.post(SUBMIT, json=job_input(), headers=AUTH)).json()["data"]
    assert submitted["urls"]["get"].startswith("http://testserver/")


async def test_every_app_in_one_process_writes_its_own_public_url() -> None:
    # The URLs of a request are kept per Host and scheme (mock_api.http.get_urls): the
    # public name is part of what they are kept by.
    for public in ("http://one.test:1", "http://two.test:2", None):
        app = create_app(service=MockService(Settings(public_url=public), ManualClock()))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://h") as client:
            submitted = await client.post(SUBMIT, json=job_input(), headers=AUTH)
            job_id = submitted.json()["data"]["id"]
            answer = await client.get(f"/api/v3/predictions/{job_id}/result", headers=AUTH)
        expected = public or "http://h"
        assert answer.json()["data"]["urls"]["get"].startswith(f"{expected}/api/v3/")
