"""An ordered set of named rules that fire on matching requests, replayably.

Scenario rules (how jobs end) and fault rules (what happens on the wire) share
one mechanism: the first rule that matches and is not used up decides; a rule
applies to its next ``times`` matches, or to a seeded ``share`` of them, where
the draw for the n-th match is a hash of the rule's seed, its id and n. The
same rules and the same traffic therefore fire the same way on every run.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Generic, Protocol, TypeVar


class Rule(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def times(self) -> int | None: ...
    @property
    def share(self) -> float: ...
    @property
    def seed(self) -> int: ...
    @property
    def matched(self) -> int: ...
    @property
    def applied(self) -> int: ...


R = TypeVar("R", bound=Rule)


def check_counts(times: int | None, share: float) -> None:
    if not 0.0 <= share <= 1.0:
        raise ValueError("share must be between 0 and 1")
    if times is not None and times < 0:
        raise ValueError("times must be >= 0")


def draw(seed: int, rule_id: str, n: int) -> float:
    """A uniform number in [0, 1) for the n-th match of a rule."""
    digest = hashlib.sha256(f"{seed}\x00{rule_id}\x00{n}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class RuleBook(Generic[R]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._rules: list[R] = []
        self._lock = threading.Lock()

    def add(self, rule: R) -> R:
        with self._lock:
            if any(r.id == rule.id for r in self._rules):
                raise ValueError(f"a {self.kind} rule named {rule.id!r} exists already")
            self._rules.append(rule)
            return rule

    def remove(self, rule_id: str) -> bool:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            return len(self._rules) < before

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[R]:
        with self._lock:
            return list(self._rules)

    def fire(self, matches: Callable[[R], bool]) -> R | None:
        """The first rule that matches and applies; every matching rule's counters move."""
        with self._lock:
            for index, rule in enumerate(self._rules):
                used_up = rule.times is not None and rule.applied >= rule.times
                if used_up or not matches(rule):
                    continue
                n = rule.matched + 1
                applies = rule.share >= 1.0 or draw(rule.seed, rule.id, n) < rule.share
                changes: dict[str, Any] = {"matched": n, "applied": rule.applied + applies}
                updated: R = replace(rule, **changes)  # type: ignore[type-var]
                self._rules[index] = updated
                if applies:
                    return updated
            return None
