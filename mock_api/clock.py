"""Where the fake's time comes from.

Every moment the fake reasons about is an integer count of milliseconds since
the Unix epoch, read from a :class:`Clock`. Jobs store the moments their plan
was decided for; their status is derived from the clock at read time, so a
test that owns a :class:`ManualClock` can walk a job through its whole life
without sleeping.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from mock_api.records import ClockState
from mock_api.storage import ClockStateStore

#: The latest moment a steerable clock may show: 2100-01-01T00:00:00Z. Every moment
#: the fake stores or formats stays far inside what SQLite, ``datetime`` and a
#: client's date parser hold (a clock set to the year 33658 once made every
#: submission answer 500 and no reset undid it); jobs' plans add at most a year or
#: two to it (mock_api.scenarios).
__all__ = [
    "MAX_ADVANCE_SECONDS",
    "MAX_CLOCK_MS",
    "Clock",
    "ClockState",
    "ClockStateStore",
    "ManualClock",
    "OffsetClock",
    "SystemClock",
    "iso_ms",
    "iso_ns",
    "parse_iso_ns",
]

MAX_CLOCK_MS = 4_102_444_800_000
#: The longest single step :meth:`ManualClock.advance` and friends take (100 years).
MAX_ADVANCE_SECONDS = 3_153_600_000


def _check_reach(now_ms: int) -> None:
    if now_ms > MAX_CLOCK_MS:
        raise ValueError(
            f"would move the clock to {now_ms} ms, past {MAX_CLOCK_MS} ms "
            f"({iso_ms(MAX_CLOCK_MS)}), the latest it can show"
        )


@runtime_checkable
class Clock(Protocol):
    def now_ms(self) -> int:
        """Milliseconds since the Unix epoch."""
        ...


class SystemClock:
    """Wall-clock time: what ``serve`` uses unless told otherwise."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that only moves when told to, and never backwards.

    Moving backwards would let a finished job become unfinished, which the
    real service never does, so :meth:`set` refuses it.
    """

    DEFAULT_START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z

    def __init__(self, start_ms: int = DEFAULT_START_MS) -> None:
        if start_ms < 0:
            raise ValueError("start_ms must be >= 0")
        self._now = start_ms
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        return self._now

    def advance(self, seconds: float = 0.0, *, ms: int = 0) -> int:
        """Move forward by ``seconds`` plus ``ms``; returns the new time."""
        step = _step_ms(seconds, ms)
        with self._lock:
            _check_reach(self._now + step)
            self._now += step
            return self._now

    def set(self, now_ms: int) -> None:
        with self._lock:
            if now_ms < self._now:
                raise ValueError(f"cannot move the clock back from {self._now} ms to {now_ms} ms")
            _check_reach(now_ms)
            self._now = now_ms

    def __repr__(self) -> str:
        return f"ManualClock({self._now})"


def _step_ms(seconds: float, ms: int) -> int:
    if not math.isfinite(seconds) or seconds > MAX_ADVANCE_SECONDS:
        raise ValueError(f"a clock advances by a finite step of at most {MAX_ADVANCE_SECONDS} s")
    step = round(seconds * 1000) + ms
    if step < 0:
        raise ValueError("a clock cannot be advanced by a negative amount")
    return step


@functools.lru_cache(maxsize=4096)  # a polled job's created_at: formatted once, not per GET
def iso_ms(epoch_ms: int) -> str:
    """``2023-04-01T12:34:56.789Z``: the timestamp format of the real API."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def iso_ns(epoch_ns: int) -> str:
    """``2025-05-19T06:09:15.948268264Z``: nine fractional digits, as WaveSpeed's history writes.

    Deliberately not ``%f``-parseable (six digits at most): a client that reads
    timestamps with ``strptime("%Y-%m-%dT%H:%M:%S.%fZ")`` fails on the fake where
    it fails on the real service.
    """
    seconds, fraction = divmod(epoch_ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{fraction:09d}Z"


#: An ISO 8601 moment with a zone, as ``openapi.yaml``'s ``Timestamp`` pattern has it.
_ISO = re.compile(
    r"(?P<y>\d{4})-(?P<mo>0[1-9]|1[0-2])-(?P<d>0[1-9]|[12]\d|3[01])"
    r"T(?P<h>[01]\d|2[0-3]):(?P<mi>[0-5]\d):(?P<s>[0-5]\d)(?:\.(?P<fraction>\d{1,9}))?"
    r"(?:Z|(?P<sign>[+-])(?P<oh>[01]\d|2[0-3]):(?P<om>[0-5]\d))"
)


def parse_iso_ns(text: str) -> int:
    """Nanoseconds since the epoch of an ISO 8601 moment; ``ValueError`` if it is not one.

    Takes what clients send (``Date.toISOString()``'s three digits, the real
    service's nine, none) and needs a zone: a moment without one is ambiguous.
    Total over its pattern, so a request the spec accepts is never refused
    here: a day past the end of its month (``2026-02-30``) runs on into the next.
    """
    match = _ISO.fullmatch(text)
    if match is None:
        raise ValueError("must be an ISO 8601 date-time with a zone, e.g. 2026-01-01T00:00:00.000Z")
    days = _days_from_civil(int(match["y"]), int(match["mo"]), 1) + int(match["d"]) - 1
    seconds = ((days * 24 + int(match["h"])) * 60 + int(match["mi"])) * 60 + int(match["s"])
    if match["sign"]:
        offset = (int(match["oh"]) * 60 + int(match["om"])) * 60
        seconds -= offset if match["sign"] == "+" else -offset
    return seconds * 1_000_000_000 + int((match["fraction"] or "0").ljust(9, "0"))


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month - 3 if month > 2 else month + 9) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


class _LocalClockState:
    def __init__(self) -> None:
        self._state = ClockState()
        self._lock = threading.Lock()

    def clock_state(self) -> ClockState:
        return self._state

    def update_clock_state(self, change: Callable[[ClockState], ClockState]) -> ClockState:
        with self._lock:
            self._state = change(self._state)
            return self._state


class OffsetClock:
    """Wall-clock time that a test or the control API can also steer.

    For a live server used by clients that block while they poll (an SDK's
    ``run()``): time flows by itself, so jobs finish unattended; :meth:`advance`
    skips ahead, :meth:`freeze` stops time (and :meth:`resume` lets it flow on
    from where it stood). It never moves backwards.

    Its :class:`ClockState` is kept in memory, or by ``state`` (a store): then
    every process on that store reads the same time, and a restart resumes it.
    """

    def __init__(self, state: ClockStateStore | None = None) -> None:
        self._states: ClockStateStore = state if state is not None else _LocalClockState()

    def _wall(self) -> int:
        return time.time_ns() // 1_000_000

    def now_ms(self) -> int:
        return self._states.clock_state().now_ms(self._wall())

    @property
    def frozen(self) -> bool:
        return self._states.clock_state().frozen_at_ms is not None

    def freeze(self) -> int:
        state = self._states.update_clock_state(lambda s: s.freeze(self._wall()))
        assert state.frozen_at_ms is not None
        return state.frozen_at_ms

    def resume(self) -> int:
        self._states.update_clock_state(lambda s: s.resume(self._wall()))
        return self.now_ms()

    def advance(self, seconds: float = 0.0, *, ms: int = 0) -> int:
        step = _step_ms(seconds, ms)

        def forward(state: ClockState) -> ClockState:
            _check_reach(state.now_ms(self._wall()) + step)
            return state.advance(step)

        self._states.update_clock_state(forward)
        return self.now_ms()

    def set(self, now_ms: int) -> int:
        """Jump to ``now_ms``, which must not be in the past."""

        def jump(state: ClockState) -> ClockState:
            current = state.now_ms(self._wall())
            if now_ms < current:
                raise ValueError(f"cannot move the clock back from {current} ms to {now_ms} ms")
            _check_reach(now_ms)
            return state.advance(now_ms - current)

        self._states.update_clock_state(jump)
        return self.now_ms()

    def __repr__(self) -> str:
        state = self._states.clock_state()
        where = "flowing" if state.frozen_at_ms is None else f"frozen at {state.frozen_at_ms}"
        return f"OffsetClock(+{state.offset_ms} ms, {where})"
