"""Quota edges that mutation testing (``benchmarks/mutation.py``) found no test for.

The window is one minute, (now - 60 s, now]; limits run from 1 to 100,000 or are unlimited
(README, Limits: ``PUT /_mock/limits``).
"""

from __future__ import annotations

import pytest

from mock_api.quotas import Limits, retry_after_ms, start_slot_ms

ONE_A_MINUTE = Limits(videos_per_minute=1, max_concurrent=None)


def test_a_submission_exactly_one_minute_old_has_left_the_window() -> None:
    assert retry_after_ms([0], 60_000, ONE_A_MINUTE) == 0
    assert retry_after_ms([1], 60_000, ONE_A_MINUTE) == 1


def test_a_submission_at_this_very_moment_counts() -> None:
    assert retry_after_ms([60_000], 60_000, ONE_A_MINUTE) == 60_000


def test_a_submission_after_now_does_not_count() -> None:
    # Only the past minute fills the window: a later submission (another worker's
    # clock a little ahead) takes no slot at ``now``.
    assert retry_after_ms([0, 100_000], 50_000, ONE_A_MINUTE) == 10_000
    assert retry_after_ms([100_000], 50_000, ONE_A_MINUTE) == 0


def test_the_limits_of_one_are_allowed() -> None:
    assert Limits(videos_per_minute=1, max_concurrent=1) == Limits(1, 1)


@pytest.mark.parametrize("name", ["videos_per_minute", "max_concurrent"])
@pytest.mark.parametrize("value", [0, -1, 100_001])
def test_limits_outside_1_to_100000_are_refused(name: str, value: int) -> None:
    other = "max_concurrent" if name == "videos_per_minute" else "videos_per_minute"
    with pytest.raises(ValueError, match=f"{name} must be from 1 to 100000, or null"):
        Limits(**{name: value, other: None})


def test_one_at_a_time_waits_for_the_running_job() -> None:
    one = Limits(videos_per_minute=None, max_concurrent=1)
    assert start_slot_ms([700], 100, one) == 700
    assert start_slot_ms([700, 900], 100, one) == 900
    assert start_slot_ms([], 100, one) == 100
