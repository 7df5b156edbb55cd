"""A job's randomness follows its media's bytes, not their URLs: an edge mutation testing
found no test for (the service keys each job by its seed and a digest of its inputs,
media bytes included: ``mock_api/planning.py``)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mock_api import ManualClock, Settings
from mock_api.planning import PACES
from tests.helpers import AUTH, SUBMIT, silence, video

pytestmark = pytest.mark.anyio


@pytest.fixture
def settings() -> Settings:
    return Settings(pace=PACES["realistic"])  # 10-30 s per output second, drawn by the key


async def test_the_same_media_at_other_urls_gives_the_same_job(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    body = {"video": video(7), "left_audio": silence(4), "right_audio": silence(6), "seed": 42}
    # The same bytes, spelled otherwise: 4 s and 4.0 s of silence are one file.
    same = {**body, "video": video("7.0"), "left_audio": silence("4.0")}
    other = {**body, "left_audio": silence("4.5")}
    ids = []
    for one in (body, same, other):
        response = await client.post(SUBMIT, json=one, headers=AUTH)
        assert response.status_code == 200, response.text
        ids.append(response.json()["data"]["id"])
    clock.advance(3600)
    done: list[dict[str, Any]] = []
    for job_id in ids:
        answer = await client.get(f"/api/v3/predictions/{job_id}/result", headers=AUTH)
        done.append(answer.json()["data"])
    first, again, changed = done
    assert again["timings"] == first["timings"]
    assert changed["timings"] != first["timings"]
    videos = [(await client.get(job["outputs"][0])).content for job in (first, again)]
    assert videos[0] == videos[1]
