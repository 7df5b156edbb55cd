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
