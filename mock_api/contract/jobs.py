"""Making real jobs on any target: media uploads, submissions, the balance.

Why this exists: the lifecycle and billing checks need jobs with inputs of
exactly known length on whatever target they run against. Test media is
generated here (silent WAVs to the millisecond, a tiny H.264 MP4) and
uploaded through the ticket flow the current SDKs use (``POST
/api/v3/media/uploads``, then ``PUT`` of the bytes to the ticket's URL), which
the real service offers too; the fake's sample URLs would only work on the
fake.

Which inputs a model takes, which are media of which kind and where it is
submitted come from the model registry (:mod:`mock_api.models`), the same
data the fake serves from: :func:`upload_job` builds a job of any model of the
family. What a job should cost does not: that is :mod:`mock_api.contract.rule`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import httpx

from mock_api.contract.invariants import Snapshot
from mock_api.contract.rule import Order
from mock_api.contract.target import describe_body
from mock_api.media import silence_wav, write_mp4, write_png
from mock_api.models import DEFAULT_MODEL, MODELS_BY_ID, ModelSpec

__all__ = [
    "SUBMIT_PATH",
    "JobInputs",
    "ModelJob",
    "balance_micros",
    "submit",
    "upload",
    "upload_image",
    "upload_job",
    "upload_silence",
    "upload_video",
]

#: Where our model's jobs are submitted (every model's: its registry entry's ``api_path``).
SUBMIT_PATH = DEFAULT_MODEL.api_path


def _describe(response: httpx.Response) -> str:
    """The request and its answer for a failure message; binary bodies only summarised."""
    request = response.request
    body = describe_body(request.content, request.headers.get("content-type"), limit=500)
    answer = describe_body(response.content, response.headers.get("content-type"), limit=800)
    return f"{request.method} {request.url} {body}\n  answered {response.status_code}: {answer}"


def upload(
    client: httpx.Client, cdn: httpx.Client, data: bytes, filename: str, content_type: str
) -> str:
    """Upload through a ticket; return the file's ``download_url``.

    ``cdn`` is a client without the API key: the ticket's URL is the
    credential (a presigned URL on the real service), and the key must not
    travel to another host.
    """
    ticket = client.post(
        "/api/v3/media/uploads",
        json={"filename": filename, "size": len(data), "content_type": content_type},
    )
    if ticket.status_code != 200 or ticket.json().get("code") != 200:
        raise AssertionError(f"upload ticket refused:\n  {_describe(ticket)}")
    found = ticket.json()["data"]
    put = cdn.request(
        found["upload"].get("method", "PUT"),
        found["upload"]["url"],
        content=data,
        headers=found["upload"].get("headers") or {},
    )
    if not put.is_success:
        raise AssertionError(f"upload of {filename} refused:\n  {_describe(put)}")
    url: str = found["download_url"]
    return url


def upload_silence(client: httpx.Client, cdn: httpx.Client, length_ms: int, name: str) -> str:
    """A silent 16 kHz WAV lasting exactly ``length_ms`` (16 samples per ms)."""
    data = silence_wav(Decimal(length_ms) / 1000, sample_rate=16000)
    return upload(client, cdn, data, f"{name}-{length_ms}ms.wav", "audio/wav")


def upload_video(client: httpx.Client, cdn: httpx.Client, length_ms: int = 10_000) -> str:
    """A tiny black H.264 MP4 (under 1 KB whatever its length)."""
    return upload(client, cdn, write_mp4(length_ms), "two-people.mp4", "video/mp4")


def upload_image(client: httpx.Client, cdn: httpx.Client) -> str:
    """A tiny grey PNG, for the models that animate an image."""
    return upload(client, cdn, write_png(), "person.png", "image/png")


@dataclass(frozen=True)
class ModelJob:
    """Uploaded inputs of one job of any model, and the lengths its audio was made with."""

    model: ModelSpec
    media: Mapping[str, str]  # input name -> uploaded URL
    audio_ms: tuple[int, ...]  # one per audio input, in the entry's order
    order: Order | None = None  # two-speaker models only
    resolution: str | None = None  # models with a resolution only

    @property
    def path(self) -> str:
        return self.model.api_path

    def body(self, **extra: Any) -> dict[str, Any]:
        chosen = {"order": self.order, "resolution": self.resolution}
        return {**self.media, **{k: v for k, v in chosen.items() if v is not None}, **extra}


def upload_job(
    client: httpx.Client,
    cdn: httpx.Client,
    model: ModelSpec | str,
    audio_ms: tuple[int, ...],
    *,
    order: Order | None = None,
    resolution: str | None = None,
    video_ms: int = 10_000,
) -> ModelJob:
    """Upload what a job of ``model`` needs: its picture or video and one silence per audio."""
    spec = MODELS_BY_ID[model] if isinstance(model, str) else model
    if len(audio_ms) != len(spec.audio_inputs):
        raise ValueError(f"{spec.id} takes {len(spec.audio_inputs)} audio track(s)")
    if order is not None and not spec.two_speakers:
        raise ValueError(f"{spec.id} has no speaking order")
    if resolution is not None and resolution not in spec.pricing.resolutions:
        raise ValueError(f"{spec.id} has no resolution {resolution!r}")
    lengths = dict(zip(spec.audio_inputs, audio_ms, strict=True))
    media: dict[str, str] = {}
    for name, kind in spec.media_inputs:
        if name not in spec.required:
            continue
        if kind == "audio":
            media[name] = upload_silence(client, cdn, lengths[name], name)
        elif kind == "video":
            media[name] = upload_video(client, cdn, video_ms)
        else:
            media[name] = upload_image(client, cdn)
    return ModelJob(spec, media, tuple(audio_ms), order, resolution)


@dataclass(frozen=True)
class JobInputs:
    """Uploaded inputs of one job of our model (the shorthand most checks use)."""

    video: str
    left_audio: str
    right_audio: str
    order: Order

    def body(self, **extra: Any) -> dict[str, Any]:
        return {
            "video": self.video,
            "left_audio": self.left_audio,
            "right_audio": self.right_audio,
            "order": self.order,
            **extra,
        }


def submit(
    client: httpx.Client,
    body: Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
    *,
    path: str = SUBMIT_PATH,
) -> Snapshot:
    """Submit a job (of our model, or the model at ``path``); return the prediction answered."""
    response = client.post(path, json=dict(body), headers=dict(headers or {}))
    if response.status_code != 200:
        raise AssertionError(f"submission refused:\n  {_describe(response)}")
    data: Snapshot = response.json()["data"]
    return data


def balance_micros(client: httpx.Client) -> int:
    """The account's balance, read exactly: JSON numbers parsed as decimals, not floats."""
    response = client.get("/api/v3/balance")
    if response.status_code != 200:
        raise AssertionError(f"balance unavailable:\n  {_describe(response)}")
    balance = json.loads(response.text, parse_float=Decimal)["data"]["balance"]
    micros = (Decimal(balance) * 1_000_000).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    return int(micros)
