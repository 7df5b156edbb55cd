"""Where the fake's time comes from.

Every moment the fake reasons about is an integer count of milliseconds since
the Unix epoch, read from a :class:`Clock`. Jobs store the moments their plan
was decided for; their status is derived from the clock at read time, so a
test that owns a :class:`ManualClock` can walk a job through its whole life
without sleeping.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable


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
            self._now += step
            return self._now

    def set(self, now_ms: int) -> None:
        with self._lock:
            if now_ms < self._now:
                raise ValueError(f"cannot move the clock back from {self._now} ms to {now_ms} ms")
            self._now = now_ms

    def __repr__(self) -> str:
        return f"ManualClock({self._now})"


def _step_ms(seconds: float, ms: int) -> int:
    step = round(seconds * 1000) + ms
    if step < 0:
        raise ValueError("a clock cannot be advanced by a negative amount")
    return step


def iso_ms(epoch_ms: int) -> str:
    """``2023-04-01T12:34:56.789Z``: the timestamp format of the real API."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


class OffsetClock:
    """Wall-clock time that a test or the control API can also steer.

    For a live server used by clients that block while they poll (an SDK's
    ``run()``): time flows by itself, so jobs finish unattended; :meth:`advance`
    skips ahead, :meth:`freeze` stops time (and :meth:`resume` lets it flow on
    from where it stood). It never moves backwards.
    """

    def __init__(self) -> None:
        self._offset_ms = 0
        self._frozen_at: int | None = None
        self._lock = threading.Lock()

    def _wall(self) -> int:
        return time.time_ns() // 1_000_000

    def now_ms(self) -> int:
        frozen = self._frozen_at
        return frozen if frozen is not None else self._wall() + self._offset_ms

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def freeze(self) -> int:
        with self._lock:
            if self._frozen_at is None:
                self._frozen_at = self._wall() + self._offset_ms
            return self._frozen_at

    def resume(self) -> int:
        with self._lock:
            if self._frozen_at is not None:
                self._offset_ms = self._frozen_at - self._wall()
                self._frozen_at = None
            return self.now_ms()

    def advance(self, seconds: float = 0.0, *, ms: int = 0) -> int:
        step = _step_ms(seconds, ms)
        with self._lock:
            self._offset_ms += step
            if self._frozen_at is not None:
                self._frozen_at += step
        return self.now_ms()

    def set(self, now_ms: int) -> int:
        """Jump to ``now_ms``, which must not be in the past."""
        current = self.now_ms()
        if now_ms < current:
            raise ValueError(f"cannot move the clock back from {current} ms to {now_ms} ms")
        return self.advance(ms=now_ms - current)

    def __repr__(self) -> str:
        state = f"frozen at {self._frozen_at}" if self._frozen_at is not None else "flowing"
        return f"OffsetClock(+{self._offset_ms} ms, {state})"
