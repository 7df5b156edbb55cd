"""The contract suite: one set of checks for the fake, any server by URL, and the real API.

Run it with ``pytest contracts/`` (the fake, in-process), ``pytest contracts/
--wavespeed-base-url URL --wavespeed-api-key KEY`` (any server; add
``--wavespeed-budget USD`` for a paid one), or ``wavespeed-mock verify``.

The checks are also a library, usable from any test suite against any
target: the documented billing rule (:mod:`contracts.rule`) and its
properties (:mod:`contracts.properties`), lifecycle invariants and a poller
(:mod:`contracts.invariants`), the end-to-end charge check
(:mod:`contracts.charges`), targets (:mod:`contracts.target`) and the budget
(:mod:`contracts.budget`). The schemathesis set-up (:mod:`contracts.schema`)
is left out of this namespace so that importing the library does not import
schemathesis.
"""

from contracts.budget import (
    BudgetExceeded,
    PlannedSpend,
    Spender,
    check_budget,
    parse_budget,
    plan_total,
)
from contracts.charges import BillingCase, ChargeMismatch, ChargeResult, check_charge
from contracts.invariants import (
    Invariant,
    InvariantViolation,
    LifecycleTimeout,
    Poller,
    Snapshot,
    check_history,
    check_outputs_download,
    check_snapshot,
    check_transition,
    check_urls_get,
)
from contracts.options import TargetOptions, resolve
from contracts.properties import Pricer, RuleViolation
from contracts.rule import billed_seconds, cost_micros, readings_agree
from contracts.target import Target, TargetKind, connect, in_process

__all__ = [
    "BillingCase",
    "BudgetExceeded",
    "ChargeMismatch",
    "ChargeResult",
    "Invariant",
    "InvariantViolation",
    "LifecycleTimeout",
    "PlannedSpend",
    "Poller",
    "Pricer",
    "RuleViolation",
    "Snapshot",
    "Spender",
    "Target",
    "TargetKind",
    "TargetOptions",
    "billed_seconds",
    "check_budget",
    "check_charge",
    "check_history",
    "check_outputs_download",
    "check_snapshot",
    "check_transition",
    "check_urls_get",
    "connect",
    "cost_micros",
    "in_process",
    "parse_budget",
    "plan_total",
    "readings_agree",
    "resolve",
]
