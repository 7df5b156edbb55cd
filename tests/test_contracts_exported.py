"""The contracts package's public API, pinned: a rename is a decision, not an accident."""

from __future__ import annotations

import mock_api.contract as contracts

EXPECTED = [
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


def test_all_is_sorted_and_pinned() -> None:
    assert contracts.__all__ == sorted(contracts.__all__)
    assert contracts.__all__ == EXPECTED


def test_every_exported_name_exists() -> None:
    for name in contracts.__all__:
        assert getattr(contracts, name) is not None


def test_importing_the_library_does_not_import_schemathesis() -> None:
    import subprocess
    import sys

    code = (
        "import mock_api.contract, sys; "
        "print('schemathesis' in sys.modules, 'fastapi' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    # Nor the app: a run by URL never builds one (FastAPI was a sixth of verify's start-up).
    assert result.stdout.strip() == "False False"
