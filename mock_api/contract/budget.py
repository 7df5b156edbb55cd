"""How much a contract run may spend, decided before it submits anything.

Why this exists: the same suite runs against the paid endpoint, where every
accepted job costs real money. So each test that submits jobs declares, before
the run starts, the most its submissions could cost (the documented rule
applied to its inputs, or a stated worst case where the inputs cannot be
priced); the run refuses to start when the total is over the budget the user
gave (``--wavespeed-budget``, default $0: a paid run is always opt-in), and a
:class:`Spender` enforces the same numbers while it runs.

Pure: no I/O and no clock, so the arithmetic is unit-tested on its own.
Money is integer micro-dollars throughout, as in the rule.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from mock_api.contract.rule import MINIMUM_SECONDS, RATE_MICROS_PER_SECOND, Order, cost_micros, usd

__all__ = [
    "UNPRICEABLE_JOB_MICROS",
    "BudgetExceeded",
    "PlannedSpend",
    "Spender",
    "check_budget",
    "describe_plan",
    "parse_budget",
    "plan_total",
    "priced",
    "split_optional",
]

#: The worst case for a job whose media cannot be read: the service cannot
#: know its length, so it can bill at most the minimum. Counted in case a
#: service charges that flat minimum and never refunds it.
UNPRICEABLE_JOB_MICROS = MINIMUM_SECONDS * RATE_MICROS_PER_SECOND


class BudgetExceeded(Exception):
    """The run would spend, or has tried to spend, more than its budget."""


@dataclass(frozen=True)
class PlannedSpend:
    """Submissions one part of the suite may make, at their worst-case cost each.

    ``label`` identifies the part: two tests sharing one allowance (the
    schemathesis phases share one cap on generated submissions) declare the
    same label and are counted once.
    """

    label: str
    jobs: int
    each_micros: int
    why: str
    #: Run only when the budget has room for it after every required plan; a check
    #: whose plan is left out skips, naming the budget it would need.
    optional: bool = False

    def __post_init__(self) -> None:
        if self.jobs < 0 or self.each_micros < 0:
            raise ValueError("a plan cannot have negative jobs or costs")

    @property
    def total_micros(self) -> int:
        return self.jobs * self.each_micros


def priced(label: str, jobs: Iterable[tuple[int, int, Order]], why: str) -> PlannedSpend:
    """A plan for jobs whose audio lengths are known: each at its documented cost.

    The most expensive job sets ``each_micros`` (plans are worst cases); the
    lengths are in milliseconds.
    """
    costs = [cost_micros(left, right, order) for left, right, order in jobs]
    return PlannedSpend(label, len(costs), max(costs, default=0), why)


def plan_total(plan: Iterable[PlannedSpend]) -> int:
    """The most the planned submissions could cost; one entry per label."""
    unique: dict[str, PlannedSpend] = {}
    for item in plan:
        known = unique.get(item.label)
        if known is not None and known != item:
            raise ValueError(f"two different plans are labelled {item.label!r}")
        unique[item.label] = item
    return sum(item.total_micros for item in unique.values())


def describe_plan(plan: Iterable[PlannedSpend]) -> list[str]:
    """One line per planned part, most expensive first, for the refusal message."""
    unique = {item.label: item for item in plan}
    ordered = sorted(unique.values(), key=lambda item: (-item.total_micros, item.label))
    return [
        f"{usd(item.total_micros):>9}  {item.label}: {item.jobs} x {usd(item.each_micros)}"
        f" ({item.why})"
        for item in ordered
    ]


def split_optional(
    plan: Iterable[PlannedSpend], budget_micros: int
) -> tuple[list[PlannedSpend], list[PlannedSpend]]:
    """The plans to hold to the budget, and the optional ones it has no room for.

    Required plans always count (:func:`check_budget` refuses the run if they
    do not fit); optional ones are funded cheapest first while room is left.
    """
    items = list(plan)
    required = [item for item in items if not item.optional]
    room = budget_micros - plan_total(required)
    funded, unfunded = [], []
    optional = {item.label: item for item in items if item.optional}
    for item in sorted(optional.values(), key=lambda item: (item.total_micros, item.label)):
        if item.total_micros <= room:
            funded.append(item)
            room -= item.total_micros
        else:
            unfunded.append(item)
    return required + funded, unfunded


def check_budget(
    plan: Iterable[PlannedSpend],
    budget_micros: int,
    *,
    flag: str = "--wavespeed-budget",
    narrow: str = "select fewer checks with -k",
) -> int:
    """Refuse a run whose worst case is over budget; return the worst case.

    ``flag`` is the option the refusal tells the user to raise: the pytest
    option by default, ``--budget`` under ``wavespeed-mock verify`` and
    ``parity record``; ``narrow`` says how to ask for less.
    """
    items = list(plan)
    total = plan_total(items)
    if total > budget_micros:
        lines = "\n".join(f"  {line}" for line in describe_plan(items))
        raise BudgetExceeded(
            f"refusing to start: this run could spend up to {usd(total)} on a paid endpoint, "
            f"over the budget of {usd(budget_micros)}.\n{lines}\n"
            f"Pass {flag} {usd(total)[1:]} (or set WAVESPEED_BUDGET) to allow it, "
            f"or {narrow}."
        )
    return total


def parse_budget(text: str) -> int:
    """Micro-dollars from a user's budget: ``"0"``, ``"1.5"``, ``"$2"``."""
    cleaned = text.strip().removeprefix("$").strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"budget {text!r} is not an amount in USD") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"budget {text!r} must be a finite amount >= 0")
    micros = value * 1_000_000
    if micros != micros.to_integral_value():
        raise ValueError(f"budget {text!r} is finer than a micro-dollar")
    return int(micros)


class Spender:
    """Enforces a budget while the run goes: each submission reserves its worst case.

    ``limit_micros`` of ``None`` means the target is free (the fake): nothing
    is refused, reservations are only counted. Thread-safe, as the fake's
    live server and the tests may run in different threads.
    """

    def __init__(self, limit_micros: int | None) -> None:
        self.limit_micros = limit_micros
        self.reserved_micros = 0
        self.submissions = 0
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def reserve(self, label: str, micros: int) -> None:
        """Account for one submission, or raise :class:`BudgetExceeded` before it is sent."""
        if not self.try_reserve(label, micros):
            limit = usd(self.limit_micros or 0)
            raise BudgetExceeded(
                f"{label}: a submission worth up to {usd(micros)} would take the run past "
                f"its budget of {limit} ({usd(self.reserved_micros)} already reserved)"
            )

    def try_reserve(self, label: str, micros: int, *, cap: int | None = None) -> bool:
        """Like :meth:`reserve`, but say no instead of raising; ``cap`` bounds ``label``'s count."""
        with self._lock:
            count = self._counts.get(label, 0)
            if cap is not None and count >= cap:
                return False
            if self.limit_micros is not None and self.reserved_micros + micros > self.limit_micros:
                return False
            self._counts[label] = count + 1
            self.reserved_micros += micros
            self.submissions += 1
            return True

    def count(self, label: str) -> int:
        with self._lock:
            return self._counts.get(label, 0)
