"""One ``run_until_idle``, the same through the plugin's handles and the control API.

Pinned with a job held on purpose (a ``stuck-processing`` scenario) beside an
ordinary one, on both clocks a test can steer: the in-process handle's
ManualClock and the live server's OffsetClock. The clock moves to the ordinary
job's end, not towards "never"; the stuck job stays where it is; the answer
names only the jobs that finished. Earlier the plugin's copy moved the clock
by about 2**62 ms and the control API's copy did not move it at all.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mock_api.testing import BaseWavespeedMock

SUBMIT = "/api/v3/wavespeed-ai/infinitetalk-fast/video-to-video-multi"
HANDLES = ["wavespeed_mock", "wavespeed_mock_server"]


def _submit(client: httpx.Client, mock: BaseWavespeedMock[Any], prompt: str) -> str:
    samples = f"{mock.base_url}/media/samples"
    body = {
        "video": f"{samples}/video.mp4?seconds=10",
        "left_audio": f"{samples}/silence.wav?seconds=3",
        "right_audio": f"{samples}/silence.wav?seconds=4",
        "prompt": prompt,
    }
    answer = client.post(SUBMIT, json=body)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["data"]["id"])


def _setup(mock: BaseWavespeedMock[Any], client: httpx.Client) -> tuple[str, str, int]:
    rule = {"id": "held", "then": "stuck-processing", "match": {"prompt_contains": "held"}}
    assert client.post("/_mock/scenarios", json=rule).status_code == 200
    if hasattr(mock.clock, "freeze"):
        mock.clock.freeze()  # the server's clock flows with wall time otherwise
    stuck = _submit(client, mock, "held")
    normal = _submit(client, mock, "ordinary")
    finish = max(job.plan.finished_ms for job in mock.jobs() if job.id == normal)
    return stuck, normal, finish


def _status(client: httpx.Client, job_id: str) -> str:
    return str(client.get(f"/api/v3/predictions/{job_id}/result").json()["data"]["status"])


@pytest.mark.parametrize("handle", HANDLES)
def test_the_handle_runs_to_the_last_job_that_will_end(
    handle: str, request: pytest.FixtureRequest
) -> None:
    mock: BaseWavespeedMock[Any] = request.getfixturevalue(handle)
    with mock.client() as client:
        stuck, normal, finish = _setup(mock, client)
        assert mock.run_until_idle() == [normal]
        assert mock.clock.now_ms() == finish
        assert (_status(client, normal), _status(client, stuck)) == ("completed", "processing")
        assert mock.run_until_idle() == []  # nothing left that will end: time stays
        assert mock.clock.now_ms() == finish


@pytest.mark.parametrize("handle", HANDLES)
def test_the_control_api_runs_to_the_same_moment(
    handle: str, request: pytest.FixtureRequest
) -> None:
    mock: BaseWavespeedMock[Any] = request.getfixturevalue(handle)
    with mock.client() as client:
        stuck, normal, finish = _setup(mock, client)
        answer = client.post("/_mock/clock", json={"action": "run_until_idle"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["now_ms"] == finish == mock.clock.now_ms()
        assert (_status(client, normal), _status(client, stuck)) == ("completed", "processing")
