"""Quotas as pure functions: the rate window and the concurrency slots."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mock_api.quotas import LEVEL_LIMITS, UNLIMITED, Level, Limits, retry_after_ms, start_slot_ms


def test_levels_have_the_documented_limits() -> None:
    table = {
        level.value: (lim.videos_per_minute, lim.max_concurrent)
        for level, lim in LEVEL_LIMITS.items()
    }
    assert table == {
        "bronze": (2, 2),
        "silver": (500, 300),
        "gold": (3000, 3000),
        "ultra": (5000, 10000),
    }
    assert Level("gold").limits == Limits(3000, 3000)


@pytest.mark.parametrize(
    ("history", "now", "wait"),
    [
        ([], 0, 0),
        ([1_000], 5_000, 0),
        ([1_000, 2_000], 5_000, 56_000),  # the 1 s submission leaves the window at 61 s
        ([1_000, 2_000], 61_000, 0),
        ([1_000, 2_000, 3_000], 10_000, 52_000),  # two must leave: the 2 s one leaves at 62 s
        ([0, 59_999], 60_000, 0),  # the window is (now - 60 s, now]
        ([1, 59_999], 60_000, 1),
    ],
)
def test_retry_after(history: list[int], now: int, wait: int) -> None:
    assert retry_after_ms(history, now, Limits(videos_per_minute=2, max_concurrent=None)) == wait


@given(st.lists(st.integers(0, 120_000), max_size=30), st.integers(0, 120_000), st.integers(1, 5))
def test_after_waiting_retry_after_the_submission_fits(
    history: list[int], now: int, rate: int
) -> None:
    limits = Limits(videos_per_minute=rate, max_concurrent=None)
    history = [t for t in history if t <= now]  # the past only
    wait = retry_after_ms(history, now, limits)
    assert wait >= 0
    assert retry_after_ms(history, now + wait, limits) == 0
    if wait:
        assert retry_after_ms(history, now + wait - 1, limits) > 0


@pytest.mark.parametrize(
    ("running", "ready", "start"),
    [
        ([], 100, 100),
        ([500], 100, 100),
        ([500, 700], 100, 500),  # two running, limit two: waits for the first to finish
        ([700, 500, 900], 100, 700),
        ([50, 60], 100, 100),  # already finished
    ],
)
def test_start_slot(running: list[int], ready: int, start: int) -> None:
    assert start_slot_ms(running, ready, Limits(videos_per_minute=None, max_concurrent=2)) == start


@given(st.lists(st.integers(0, 10_000), max_size=20), st.integers(0, 10_000), st.integers(1, 4))
def test_at_the_start_slot_fewer_than_the_limit_are_running(
    running: list[int], ready: int, limit: int
) -> None:
    start = start_slot_ms(running, ready, Limits(videos_per_minute=None, max_concurrent=limit))
    assert start >= ready
    assert sum(1 for t in running if t > start) < limit


def test_unlimited() -> None:
    assert retry_after_ms(range(10_000), 5_000, UNLIMITED) == 0
    assert start_slot_ms(range(10_000), 5, UNLIMITED) == 5


def test_limits_must_be_positive_and_bounded() -> None:
    with pytest.raises(ValueError, match="must be from 1 to 100000"):
        Limits(videos_per_minute=0, max_concurrent=None)
    with pytest.raises(ValueError, match="max_concurrent must be from 1 to 100000"):
        Limits(videos_per_minute=None, max_concurrent=100_001)
    assert Limits(100_000, 100_000).max_concurrent == 100_000
