"""What one account may do and see: its balance, its jobs, its rate.

* Not enough balance: the submission answers 402, in the documented shape,
  and creates no job (counted through the fake's control API).
* A second account (``--wavespeed-second-api-key``) cannot read the first's
  job (404 on both result paths) and its balance does not move when the
  first is charged.
* A 429 says when to come back: ``Retry-After`` as seconds or an HTTP date.
  Every client of the suite holds every 429 it meets to that
  (:func:`~mock_api.contract.target.check_retry_after`); on the fake this
  check also provokes one by setting a quota.

Checks that need the fake's control API (``/_mock/``) say so and skip
elsewhere; on a paid endpoint the 402 check runs only when the key's balance
is already below the cheapest job.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import httpx
import pytest

from mock_api.contract.budget import Spender, priced
from mock_api.contract.jobs import (
    SUBMIT_PATH,
    JobInputs,
    balance_micros,
    submit,
    upload_silence,
)
from mock_api.contract.rule import MINIMUM_SECONDS, RATE_MICROS_PER_SECOND, usd
from mock_api.contract.schema import UNFETCHABLE
from mock_api.contract.target import Target, retry_after_seconds
from mock_api.spec import default_spec

CHEAPEST_MICROS = MINIMUM_SECONDS * RATE_MICROS_PER_SECOND
SECOND_KEY_PLAN = priced(
    "isolation between two accounts", [(1000, 2000, "meanwhile")], "5 s minimum"
)
#: Media on ``.invalid`` hosts: the job cannot be priced, fails 1402 and costs nothing.
UNREADABLE = {
    field: UNFETCHABLE.format(field=field) for field in ("video", "left_audio", "right_audio")
}


def _conforms(operation_id: str, response: httpx.Response) -> None:
    violations = default_spec().response_violations(
        operation_id, response.status_code, response.json()
    )
    assert not violations, (
        f"{response.request.method} {response.request.url} answered {response.status_code} "
        f"outside openapi.yaml: {violations}\n  {response.text[:500]}"
    )


@contextmanager
def _balance_set_to(
    control: httpx.Client, api: httpx.Client, api_key: str, balance: str
) -> Iterator[None]:
    """The account's balance set through the control API, restored afterwards."""
    previous = Decimal(balance_micros(api)) / 1_000_000
    answer = control.put("/_mock/balance", json={"api_key": api_key, "balance": balance})
    assert answer.status_code == 200, answer.text
    try:
        yield
    finally:
        control.put("/_mock/balance", json={"api_key": api_key, "balance": str(previous)})


def _job_count(control: httpx.Client, api_key: str) -> int:
    answer = control.get("/_mock/jobs", params={"api_key": api_key})
    assert answer.status_code == 200, answer.text
    return len(answer.json()["data"]["jobs"])


def test_a_request_without_a_valid_key_is_refused(target: Target) -> None:
    """no key, a malformed Authorization, or (where keys are restricted) an unknown key: 401"""
    anonymous = target.client(auth=False)
    refusals: list[dict[str, str]] = [
        {},
        {"Authorization": "Basic dXNlcjpwYXNzd29yZA=="},
        {"Authorization": "Bearer"},
    ]
    if not target.open_keys:
        refusals.append({"Authorization": f"Bearer contract-suite-unknown-{secrets.token_hex(8)}"})
    for headers in refusals:
        for operation_id, path in (
            ("getBalance", "/api/v3/balance"),
            ("getPredictionResult", f"/api/v3/predictions/{'0' * 32}/result"),
        ):
            answer = anonymous.get(path, headers=headers)
            assert answer.status_code == 401, (
                f"GET {path} with {headers or 'no Authorization header'} answered "
                f"{answer.status_code}, not 401: {answer.text[:300]}"
            )
            _conforms(operation_id, answer)


def test_not_enough_balance_answers_402_and_creates_no_job(
    target: Target, api: httpx.Client, cdn: httpx.Client, video_url: str
) -> None:
    """a submission the balance cannot pay answers 402 and creates no job"""
    left = upload_silence(api, cdn, 1000, "left")
    right = upload_silence(api, cdn, 2000, "right")
    body = JobInputs(video_url, left, right, "meanwhile").body(seed=7)
    if target.has_control:
        control = target.client(auth=False)
        with _balance_set_to(control, api, target.api_key, "0.01"):
            jobs_before = _job_count(control, target.api_key)
            answer = api.post(SUBMIT_PATH, json=body)
            jobs_after = _job_count(control, target.api_key)
            balance = balance_micros(api)
        assert answer.status_code == 402, (
            f"a $0.075 job on a $0.01 balance answered {answer.status_code}: {answer.text[:500]}"
        )
        _conforms("submitInfiniteTalkFastVideoToVideoMulti", answer)
        assert jobs_after == jobs_before, (
            f"the 402 left a job behind: {jobs_before} job(s) before, {jobs_after} after"
        )
        assert balance == 10_000, f"the refused submission moved the balance to {usd(balance)}"
        return
    balance = balance_micros(api)
    if balance >= CHEAPEST_MICROS:
        pytest.skip(
            f"the key's balance ({usd(balance)}) pays for the cheapest job, and only the fake's "
            "control API can lower it: run with a key whose balance is under $0.075"
        )
    answer = api.post(SUBMIT_PATH, json=body)
    assert answer.status_code == 402, answer.text[:500]
    _conforms("submitInfiniteTalkFastVideoToVideoMulti", answer)
    assert balance_micros(api) == balance


@pytest.mark.spends(SECOND_KEY_PLAN)
def test_a_second_account_cannot_see_the_first(
    target: Target,
    api: httpx.Client,
    cdn: httpx.Client,
    second_api: httpx.Client,
    video_url: str,
    spender: Spender,
) -> None:
    """another key cannot read this key's job (404), and its balance does not move"""
    left = upload_silence(api, cdn, 1000, "left")
    right = upload_silence(api, cdn, 2000, "right")
    headers = target.force_outcome("complete") if target.can_force_outcomes else {}
    second_before = balance_micros(second_api)
    first_before = balance_micros(api)
    spender.reserve(SECOND_KEY_PLAN.label, SECOND_KEY_PLAN.each_micros)
    job = submit(api, JobInputs(video_url, left, right, "meanwhile").body(seed=7), headers)
    job_id = str(job["id"])
    for path in (f"/api/v3/predictions/{job_id}/result", f"/api/v3/predictions/{job_id}"):
        answer = second_api.get(path)
        assert answer.status_code == 404, (
            f"GET {path} with a second account's key answered {answer.status_code}: another "
            f"account's job must not be found\n  {answer.text[:500]}"
        )
        _conforms("getPredictionResult", answer)
    assert balance_micros(api) < first_before, "the first account was not charged"
    second_after = balance_micros(second_api)
    assert second_after == second_before, (
        f"the second account's balance moved from {usd(second_before)} to {usd(second_after)} "
        "when the first account was charged"
    )


def test_a_429_says_when_to_come_back(target: Target, api: httpx.Client) -> None:
    """a rate-limited submission answers 429 with a Retry-After that is right: back after it"""
    if not target.has_control:
        pytest.skip(
            "provoking a 429 needs the fake's control API (/_mock/limits); on other targets "
            "every 429 any check meets is held to Retry-After as it arrives"
        )
    control = target.client(auth=False)
    before = control.get("/_mock/limits", params={"api_key": target.api_key}).json()["data"]
    answer = control.put("/_mock/limits", json={"api_key": target.api_key, "videos_per_minute": 1})
    assert answer.status_code == 200, answer.text
    try:
        statuses = []
        for _ in range(3):  # the first fits the quota (unless one was used this minute)
            response = api.post(SUBMIT_PATH, json=UNREADABLE)  # Retry-After checked on arrival
            statuses.append(response.status_code)
            if response.status_code == 429:
                _conforms("submitInfiniteTalkFastVideoToVideoMulti", response)
                break
        assert 429 in statuses, f"a quota of 1 video a minute, yet submissions answered {statuses}"
        # Back after Retry-After (the fake's clock is moved rather than slept through):
        # the same submission is accepted once capacity is back.
        wait = retry_after_seconds(response)
        control.post("/_mock/clock", json={"action": "advance", "seconds": wait})
        again = api.post(SUBMIT_PATH, json=UNREADABLE)
        assert again.status_code == 200, (
            f"rate limit: after the {wait:g} s Retry-After said, the submission answered "
            f"{again.status_code} again: {again.text[:300]}"
        )
    finally:
        restore = {key: before.get(key) for key in ("videos_per_minute", "max_concurrent")}
        control.put("/_mock/limits", json={"api_key": target.api_key, **restore})
