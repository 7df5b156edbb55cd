"""The contract suite: one set of checks for the fake, any server by URL, and the real API.

Run it with ``pytest contracts/`` (the fake, in-process), ``pytest contracts/
--wavespeed-base-url URL --wavespeed-api-key KEY`` (any server; add
``--wavespeed-budget USD`` for a paid one), or ``wavespeed-mock verify``.

The checks are also a library, usable from any test suite against any
target: the documented billing rule (:mod:`mock_api.contract.rule`) and its
properties (:mod:`mock_api.contract.properties`), lifecycle invariants and a poller
(:mod:`mock_api.contract.invariants`), the end-to-end charge check
(:mod:`mock_api.contract.charges`), targets (:mod:`mock_api.contract.target`) and the budget
(:mod:`mock_api.contract.budget`). The schemathesis set-up (:mod:`mock_api.contract.schema`)
is left out of this namespace so that importing the library does not import
schemathesis.
"""

from mock_api.contract.budget import (
    BudgetExceeded,
    PlannedSpend,
    Spender,
    check_budget,
    parse_budget,
    plan_total,
)
from mock_api.contract.charges import BillingCase, ChargeMismatch, ChargeResult, check_charge
from mock_api.contract.invariants import (
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
from mock_api.contract.options import TargetOptions, resolve
from mock_api.contract.properties import Pricer, RuleViolation
from mock_api.contract.rule import billed_seconds, cost_micros, readings_agree
from mock_api.contract.target import Target, TargetKind, connect, in_process

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
