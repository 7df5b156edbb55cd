"""What the API answers, built from records and the clock.

Pure functions: a job plus a moment gives the prediction object, exactly as
WaveSpeed documents it, so the same job read twice at the same moment is the
same JSON, byte for byte.
"""

from __future__ import annotations

import base64
from typing import Any

from mock_api.billing import MICROS_PER_USD
from mock_api.clock import iso_ms
from mock_api.lifecycle import Status, status_at
from mock_api.media import write_mp4
from mock_api.store import Job, StoredFile
from mock_api.urls import Urls


def envelope(data: Any) -> dict[str, Any]:
    return {"code": 200, "message": "success", "data": data}


def prediction(job: Job, now_ms: int, urls: Urls) -> dict[str, Any]:
    status = status_at(job.plan, now_ms)
    outcome = job.plan.outcome
    completed = status is Status.COMPLETED
    body: dict[str, Any] = {
        "id": job.id,
        "model": job.model,
        "outputs": [_output(job, urls)] if completed else [],
        "urls": {"get": urls.result(job.id)},
        "has_nsfw_contents": [outcome.nsfw] if completed else [],
        "status": status.value,
        "created_at": iso_ms(job.plan.created_ms),
        "error": outcome.error if status.refunded else "",
        "timings": {"inference": job.plan.inference_ms} if status.terminal else {},
    }
    if status.refunded:
        body["code"] = outcome.code
    return body


def _output(job: Job, urls: Urls) -> str:
    """The output's URL, or with ``enable_base64_output`` the video itself as a data URI."""
    if job.input.get("enable_base64_output") is True:
        video = write_mp4(max(job.output_ms, 1), variant=job.variant)
        return "data:video/mp4;base64," + base64.b64encode(video).decode()
    return urls.output(job.id)


def stored_file(stored: StoredFile, urls: Urls) -> dict[str, Any]:
    return {
        "type": stored.kind,
        "download_url": urls.file(stored.id, stored.filename),
        "filename": stored.filename,
        "size": len(stored.data),
        "content_type": stored.content_type,
    }


def usd_number(micros: int) -> float:
    """Dollars as a JSON number without float noise.

    One correctly rounded division gives the float nearest the exact amount,
    and Python writes a float as the shortest text that reads back as it:
    for any amount under a billion dollars (fewer than 16 significant digits)
    that text is the exact decimal, ``99.925075`` and not ``99.92507499999``.
    """
    return micros / MICROS_PER_USD
