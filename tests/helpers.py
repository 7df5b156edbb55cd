"""Constants and small builders the tests share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

BASE = "http://testserver"
KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
SUBMIT = "/api/v3/wavespeed-ai/infinitetalk-fast/video-to-video-multi"


def silence(seconds: float | str) -> str:
    return f"{BASE}/media/samples/silence.wav?seconds={seconds}"


def video(seconds: float | str = 10) -> str:
    return f"{BASE}/media/samples/video.mp4?seconds={seconds}"


def job_input(left: float | str = 5, right: float | str = 5, **extra: Any) -> dict[str, Any]:
    return {"video": video(), "left_audio": silence(left), "right_audio": silence(right), **extra}


MakeClient = Callable[..., httpx.AsyncClient]


def auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def control(
    client: httpx.AsyncClient,
    method: str,
    route: str,
    body: Any = None,
    params: dict[str, str] | None = None,
) -> Any:
    """Call the control API (``/_mock`` + ``route``) and return ``data``; it must be 200."""
    response = await client.request(method, f"/_mock{route}", json=body, params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]
