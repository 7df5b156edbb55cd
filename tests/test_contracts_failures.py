"""What the contract suite says when a target breaks it, check by check, without a server.

The drift catalogue (``tests/test_drifts.py``) proves each of these is reached
by a real drifting server; here each failure is provoked directly, with the
exact message a user reads.
"""

from __future__ import annotations

import base64
import email.utils
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from mock_api.contract.invariants import Invariant, InvariantViolation, read_job
from mock_api.contract.jobs import submit
from mock_api.contract.output import check_output_video
from mock_api.contract.target import (
    RetryAfterMissing,
    Target,
    TargetKind,
    check_retry_after,
)
from mock_api.contract.webhooks import WebhookRejected, reference_signature, verify_delivery
from mock_api.http import OUTCOME_HEADER
from mock_api.media.mp4 import write_mp4

JOB = "0" * 32


def _answer(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status, headers=headers, request=httpx.Request("GET", "http://t/api/v3/balance")
    )


# a 429 must say when to come back


def _http_date(seconds_from_now: float) -> str:
    return email.utils.format_datetime(
        datetime.now(UTC) + timedelta(seconds=seconds_from_now), usegmt=True
    )


# HTTP dates are given as seconds from now, made when the test runs (ids stay stable).
@pytest.mark.parametrize("value", ["7", " 120 ", "1", 30, -1])
def test_a_429_with_seconds_or_a_future_http_date_passes(value: str | int) -> None:
    header = _http_date(value) if isinstance(value, int) else value
    check_retry_after(_answer(429, {"Retry-After": header}))


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("0", "with Retry-After '0': a client would retry at once"),
        (-3600, "s in the past, so a client would retry at once"),
        ("Wed, 21 Oct 2026 07:28:00 GMT", "s in the past, so a client would retry at once"),
    ],
)
def test_a_429_that_says_retry_now_fails_naming_it(value: str | int, says: str) -> None:
    header = _http_date(value) if isinstance(value, int) else value
    with pytest.raises(RetryAfterMissing) as caught:
        check_retry_after(_answer(429, {"Retry-After": header}))
    assert says in str(caught.value)


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({}, "GET http://t/api/v3/balance answered 429 without a Retry-After header"),
        ({"Retry-After": "soon"}, "with Retry-After 'soon': neither delay-seconds nor an HTTP"),
        ({"Retry-After": "-3"}, "with Retry-After '-3': neither"),
    ],
)
def test_a_429_without_a_usable_retry_after_fails(headers: dict[str, str], says: str) -> None:
    with pytest.raises(RetryAfterMissing) as caught:
        check_retry_after(_answer(429, headers))
    assert says in str(caught.value)


def test_other_statuses_need_no_retry_after() -> None:
    check_retry_after(_answer(200))


# the output must play, and last as long as the speech


def _outputs(content: bytes) -> dict[str, Any]:
    return {"outputs": ["data:video/mp4;base64," + base64.b64encode(content).decode()]}


def test_an_output_that_does_not_decode_fails_output_plays() -> None:
    with httpx.Client() as cdn, pytest.raises(InvariantViolation) as caught:
        check_output_video(cdn, _outputs(b"\x00\x00\x00\x18ftypmp42 not a video"), 5000)
    assert caught.value.invariant is Invariant.OUTPUT_PLAYS
    assert "the base64 output (24 bytes) does not play: FFmpeg cannot decode it" in str(
        caught.value
    )


def test_an_output_of_the_wrong_length_fails_output_plays() -> None:
    with httpx.Client() as cdn, pytest.raises(InvariantViolation) as caught:
        check_output_video(cdn, _outputs(write_mp4(2000)), 5000)
    assert caught.value.invariant is Invariant.OUTPUT_PLAYS
    assert "lasts 2.000 s; the speech lasts 5.000 s (allowed: one frame" in str(caught.value)


def test_an_output_of_the_right_length_passes() -> None:
    with httpx.Client() as cdn:
        check_output_video(cdn, _outputs(write_mp4(5000)), 5000)


# answers held to the spec


def _serving(handler: Any) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler), base_url="http://t")


def test_a_job_read_answered_outside_the_spec_fails_conforms() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"code": 200, "data": {"id": JOB, "status": "dancing"}})

    with _serving(handler) as client, pytest.raises(InvariantViolation) as caught:
        read_job(client, JOB)
    assert caught.value.invariant is Invariant.CONFORMS
    assert f"GET /api/v3/predictions/{JOB}/result answered 200 outside the spec: " in str(
        caught.value
    )


def test_a_refused_submission_says_what_the_target_answered() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"code": 400, "message": "video: must be an http(s) URL"})

    with _serving(handler) as client, pytest.raises(AssertionError) as caught:
        submit(client, {"video": "ftp://x"})
    assert str(caught.value).startswith("submission refused:\n  ")
    assert "video: must be an http(s) URL" in str(caught.value)


# webhook deliveries as a careful receiver takes them


def test_a_delivery_stamped_too_far_from_now_is_rejected() -> None:
    body, stamp = b'{"id": "x"}', str(int(time.time()) - 3600)
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": stamp,
        "webhook-signature": reference_signature("whsec_c2VjcmV0", "msg_1", stamp, body),
    }
    with pytest.raises(WebhookRejected) as caught:
        verify_delivery("whsec_c2VjcmV0", headers, body, now=int(stamp) + 3600)
    assert f"webhook-timestamp {stamp} is 3600 s from now; receivers refuse more than" in str(
        caught.value
    )


# a target by URL


def _by_url(base_url: str) -> Target:
    return Target(
        kind=TargetKind.FAKE, base_url=base_url, api_key="k", wait=time.sleep, poll_interval=0.05
    )


@pytest.mark.parametrize(
    ("base_url", "here"),
    [
        ("http://127.0.0.1:8000", True),
        ("http://127.8.9.10:8000", True),
        ("http://localhost:8000", True),
        ("http://[::1]:8000", True),
        ("http://192.168.1.5:8000", False),
        ("https://api.wavespeed.ai", False),
    ],
)
def test_a_target_by_url_is_on_this_machine_only_on_loopback(base_url: str, here: bool) -> None:
    assert _by_url(base_url).on_this_machine is here


def test_a_target_by_url_keeps_its_own_time_and_is_told_outcomes_by_header() -> None:
    target = _by_url("http://127.0.0.1:8000")
    assert abs(target.now() - time.time()) < 5
    with target.time_flowing():  # by URL time passes on its own: nothing to start
        pass
    assert target.force_outcome("nsfw") == {OUTCOME_HEADER: "nsfw"}
