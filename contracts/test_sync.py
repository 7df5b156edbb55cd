"""Sync mode: ``enable_sync_mode: true`` holds the answer until the job is done.

The answer is the finished prediction (``completed`` or ``failed``), or, when
the service gives up waiting, the documented timeout: task code 5004 with the
job still unfinished and an error that says so, after a wait (at least a
second; on a fake that says when the job would finish, not before it would).
An answer that is simply the ``created`` job, as an ordinary submission would
give, means the flag was ignored.
"""

from __future__ import annotations

import time
from datetime import datetime

import httpx
import pytest

from mock_api.contract.budget import Spender, priced
from mock_api.contract.invariants import TERMINAL, check_snapshot
from mock_api.contract.jobs import SUBMIT_PATH, JobInputs, upload_silence
from mock_api.contract.target import Target
from mock_api.spec import default_spec

SYNC_PLAN = priced("sync mode", [(1000, 2000, "meanwhile")], "5 s minimum")
#: The documented task code of a sync wait that ran out.
SYNC_TIMEOUT_CODE = 5004
#: The least a sync wait that runs out can have waited: no service documents a timeout
#: shorter than a second (the fake's is 60 s unless --sync-timeout says otherwise).
MIN_SYNC_WAIT_SECONDS = 1.0


def _seconds_between(start: str, end: str | None) -> float | None:
    if end is None:
        return None
    parse = datetime.fromisoformat
    return (parse(end) - parse(start)).total_seconds()


@pytest.mark.spends(SYNC_PLAN)
def test_sync_mode_answers_with_a_finished_job(
    target: Target, api: httpx.Client, cdn: httpx.Client, video_url: str, spender: Spender
) -> None:
    """enable_sync_mode answers with the finished job, or the documented 5004 timeout"""
    left = upload_silence(api, cdn, 1000, "left")
    right = upload_silence(api, cdn, 2000, "right")
    headers = target.force_outcome("complete") if target.can_force_outcomes else {}
    spender.reserve(SYNC_PLAN.label, SYNC_PLAN.each_micros)
    body = JobInputs(video_url, left, right, "meanwhile").body(seed=7, enable_sync_mode=True)
    with target.time_flowing():
        started = time.monotonic()
        answer = api.post(SUBMIT_PATH, json=body, headers=headers)
        waited = time.monotonic() - started
    assert answer.status_code == 200, answer.text[:500]
    violations = default_spec().response_violations(
        "submitInfiniteTalkFastVideoToVideoMulti", 200, answer.json()
    )
    assert not violations, f"the sync answer is outside openapi.yaml: {violations}"
    data = answer.json()["data"]
    if data.get("code") == SYNC_TIMEOUT_CODE:
        why = f"a 5004 sync timeout must leave the job unfinished and say why: {data}"
        assert data.get("status") not in TERMINAL, why
        assert data.get("error"), why
        assert waited >= MIN_SYNC_WAIT_SECONDS, (
            f"sync mode: 5004 (timed out) answered after {waited:.3f} s: a sync submission "
            f"that gives up without waiting\n  {data}"
        )
        if target.has_control:  # the fake says when the job was planned to finish
            plan = target.client(auth=False).get(f"/_mock/jobs/{data.get('id')}").json()["data"]
            took = _seconds_between(plan["created_at"], plan.get("finished_at"))
            assert took is None or took > waited, (
                f"sync mode: 5004 after {waited:.1f} s, but the job was planned to finish "
                f"{took:.1f} s after it was made: the wait ended before the job did\n  {data}"
            )
        return
    assert data.get("status") in TERMINAL, (
        f"sync mode answered a job that is {data.get('status')!r}, neither finished nor the "
        f"documented 5004 timeout: the flag was ignored\n  {data}"
    )
    check_snapshot(data)
