"""Snapshots on disk, recording a target into them, and checking a target against them.

A snapshot is one JSON file per scenario (``fixtures/parity/<scenario>.json``):

.. code-block:: json

    {"scenario": "minimum-meanwhile",
     "description": "...",
     "recorded": {"from": "...", "at": "2026-12-07", "validated_against_real": false},
     "accepted": {"exchanges[0].response.json.data[*].sort_order": "why"},
     "exchanges": [{"step": "...", "request": {...}, "response": {...}}],
     "timeline": {"statuses": [...], "balance_moved_micros": 75000}}

``recorded`` says what it was recorded from and when, and whether that was the
real service (``validated_against_real``): nothing may pretend otherwise, and
the report counts them. ``accepted`` names known differences path by path
(:func:`mock_api.parity.diff.matches`), each with its reason.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mock_api.parity.diff import Difference, compare
from mock_api.parity.run import Run
from mock_api.parity.scenarios import Scenario

__all__ = [
    "BROKE_OFF",
    "ScenarioBroke",
    "ScenarioResult",
    "check",
    "load",
    "record",
    "run_scenario",
    "save",
]

#: The timeline's key when a flow could not go on: what stopped it.
BROKE_OFF = "broke_off"


class ScenarioBroke(Exception):
    """Scenarios that could not be recorded: the target answered what their flows could
    not go on from (each named, with what stopped it)."""


def run_scenario(scenario: Scenario, run: Run) -> dict[str, Any]:
    """The scenario's recorded part: its exchanges and timeline.

    A flow that cannot go on (the target answered something it cannot use: a
    missing field, a refused upload, a connection dropped) is not an error of
    the tool but a finding: the timeline says where it broke off, and the
    exchanges up to there are kept, so a check reports it path by path.
    """
    try:
        timeline = scenario.run(run)
    except Exception as exc:
        said = run.sanitiser.text(f"{type(exc).__name__}: {exc}")
        timeline = {BROKE_OFF: said[:300]}
    return {"exchanges": run.exchanges, "timeline": timeline}


def load(directory: Path) -> dict[str, dict[str, Any]]:
    snapshots = {}
    for path in sorted(directory.glob("*.json")):
        snapshot = json.loads(path.read_text(encoding="utf-8"))
        snapshots[str(snapshot["scenario"])] = snapshot
    return snapshots


def save(directory: Path, snapshot: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{snapshot['scenario']}.json"
    path.write_text(json.dumps(snapshot, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


def record(
    scenario: Scenario,
    run: Run,
    *,
    source: str,
    real: bool,
    accepted: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A new snapshot of ``scenario`` from the target behind ``run``."""
    return {
        "scenario": scenario.name,
        "description": scenario.description,
        "recorded": {
            "from": source,
            "at": datetime.date.today().isoformat(),
            "validated_against_real": real,
        },
        "accepted": dict(accepted or {}),
        **run_scenario(scenario, run),
    }


@dataclass
class ScenarioResult:
    name: str
    snapshot: dict[str, Any] | None
    differences: list[Difference] = field(default_factory=list)
    skipped: str | None = None

    @property
    def failures(self) -> list[Difference]:
        return [d for d in self.differences if d.accepted is None]

    @property
    def verdict(self) -> str:
        if self.skipped:
            return "skipped"
        if self.snapshot is None:
            return "not recorded"
        if self.failures:
            return "differs"
        return "accepted difference" if self.differences else "matches"

    def by_operation(self) -> dict[str, str]:
        """Each exchange's operation (``METHOD path``) and its verdict."""
        verdicts: dict[str, str] = {}
        if self.snapshot is None:
            return verdicts
        for index, exchange in enumerate(self.snapshot.get("exchanges", [])):
            request = exchange.get("request", {})
            operation = f"{request.get('method')} {request.get('path')}"
            prefix = f"exchanges[{index}]."
            mine = [d for d in self.differences if d.path.startswith(prefix)]
            verdict = (
                "differs"
                if any(d.accepted is None for d in mine)
                else ("accepted difference" if mine else "matches")
            )
            worst = {"matches": 0, "accepted difference": 1, "differs": 2}
            if worst[verdict] >= worst[verdicts.get(operation, "matches")]:
                verdicts[operation] = verdict
        return verdicts


def check(snapshot: dict[str, Any] | None, scenario: Scenario, run: Run) -> ScenarioResult:
    """Run ``scenario`` with ``run`` and compare what it recorded with ``snapshot``."""
    now = run_scenario(scenario, run)
    if snapshot is None:
        return ScenarioResult(scenario.name, None)
    recorded = {"exchanges": snapshot["exchanges"], "timeline": snapshot["timeline"]}
    differences = compare(recorded, now, snapshot.get("accepted"))
    return ScenarioResult(scenario.name, snapshot, differences)
