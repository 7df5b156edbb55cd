"""``wavespeed-mock parity``: record the scenarios from a target, or check one against them.

The target is the fake in-process (the default of ``check``: no socket, a
manual clock, free) or any server by URL, identified as the contract suite
identifies it (:func:`mock_api.contract.target.connect`): a server that is not
the fake is paid, so ``record`` prices the scenarios first and refuses to
start over ``--budget``, as ``verify`` does.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from mock_api.contract.budget import PlannedSpend, Spender, check_budget, plan_total
from mock_api.contract.rule import usd
from mock_api.contract.target import Target, connect, in_process
from mock_api.parity.sanitise import Sanitiser
from mock_api.parity.scenarios import JOB_LIMIT_SECONDS, SCENARIOS, Run, Scenario
from mock_api.parity.snapshots import ScenarioResult, check, load, record, save

__all__ = ["ParityTarget", "check_snapshots", "record_snapshots", "report"]


@dataclass
class ParityTarget:
    target: Target
    description: str

    @property
    def can_receive(self) -> bool:
        return self.target.is_fake or self.target.on_this_machine

    def make_run(self) -> Run:
        target = self.target
        keys = tuple(k for k in (target.api_key, target.second_api_key) if k)
        return Run(
            api=target.client(),
            cdn=target.client(auth=False),
            anonymous=target.client(auth=False),
            wait=target.wait,
            poll_interval=0.25 if target.is_fake else 5.0,
            sanitiser=Sanitiser(keys),
            control=target.client(auth=False) if target.has_control else None,
            job_limit=60.0 if target.is_fake else JOB_LIMIT_SECONDS,
        )

    def close(self) -> None:
        self.target.close()


def open_target(base_url: str | None, api_key: str | None) -> ParityTarget:
    if base_url is None:
        made = in_process(api_key=api_key or f"parity-{secrets.token_hex(4)}")
        return ParityTarget(made, "the fake, in-process")
    if not api_key:
        raise ValueError("a target by URL needs --api-key")
    made = connect(base_url, api_key)
    kind = "the fake" if made.is_fake else "a server"
    return ParityTarget(made, f"{kind} by URL ({base_url})")


def _chosen(only: Iterable[str] | None) -> list[Scenario]:
    names = set(only or ())
    unknown = names - {s.name for s in SCENARIOS}
    if unknown:
        raise ValueError(
            f"no scenario {', '.join(sorted(unknown))}: {', '.join(s.name for s in SCENARIOS)}"
        )
    return [s for s in SCENARIOS if not names or s.name in names]


def record_snapshots(
    target: ParityTarget,
    directory: Path,
    *,
    budget_micros: int,
    only: Iterable[str] | None = None,
    say: Callable[[str], None] = print,
) -> list[Path]:
    """Record the chosen scenarios into ``directory``; a paid target within the budget."""
    scenarios = [s for s in _chosen(only) if not s.needs_receiver or target.can_receive]
    # The contract suite's guard and cost plan: priced before anything is sent, then
    # held to while it runs.
    plan = [
        PlannedSpend(f"parity: {s.name}", 1, s.cost_micros, s.description)
        for s in scenarios
        if s.cost_micros
    ]
    spender = Spender(None if target.target.free else budget_micros)
    if not target.target.free:
        say(f"recording {len(scenarios)} scenarios could cost {usd(plan_total(plan))}")
        check_budget(plan, budget_micros, flag="--budget", narrow="record fewer with --only")
    real = not target.target.is_fake
    source = "the real service" if real else "the fake"
    existing = load(directory) if directory.is_dir() else {}
    written = []
    for scenario in scenarios:
        if scenario.cost_micros:
            spender.reserve(f"parity: {scenario.name}", scenario.cost_micros)
        accepted = existing.get(scenario.name, {}).get("accepted")
        snapshot = record(
            scenario,
            target.make_run(),
            source=f"{source} ({target.description})",
            real=real,
            accepted=accepted,
        )
        written.append(save(directory, snapshot))
        say(f"recorded {scenario.name}: {len(snapshot['exchanges'])} exchanges")
    return written


def check_snapshots(
    target: ParityTarget, directory: Path, *, only: Iterable[str] | None = None
) -> list[ScenarioResult]:
    snapshots = load(directory) if directory.is_dir() else {}
    return check(snapshots, target.make_run, _chosen(only), can_receive=target.can_receive)


def report(results: list[ScenarioResult], description: str) -> list[str]:
    """The report: per scenario and per operation, and how much the real service validated."""
    lines = [f"parity check against {description}"]
    for result in results:
        recorded = (result.snapshot or {}).get("recorded", {})
        when = f"recorded {recorded.get('at')} from {recorded.get('from')}" if recorded else ""
        why = f" ({result.skipped})" if result.skipped else ""
        lines.append(f"  {result.name:<20} {result.verdict:<20} {when}{why}")
        for difference in result.differences:
            mark = "~" if difference.accepted else "!"
            lines.append(f"      {mark} {difference.describe()}")
    operations: dict[str, dict[str, int]] = {}
    for result in results:
        for operation, verdict in result.by_operation().items():
            counts = operations.setdefault(operation, {})
            counts[verdict] = counts.get(verdict, 0) + 1
    lines.append("per operation:")
    for operation, counts in sorted(operations.items()):
        said = ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items()))
        lines.append(f"  {operation:<60} {said}")
    recorded = [r for r in results if r.snapshot is not None]
    real = [r for r in recorded if r.snapshot and r.snapshot["recorded"]["validated_against_real"]]
    lines.append(
        f"validated against the real service: {len(real)} of {len(results)} scenarios "
        f"({', '.join(r.name for r in real) or 'none'}); the others were recorded from "
        "the fake, so they hold the fake to itself, not to the service"
    )
    verdicts = [r.verdict for r in results]
    lines.append(
        f"{len(results)} scenarios: {verdicts.count('matches')} match, "
        f"{verdicts.count('differs')} differ, {verdicts.count('accepted difference')} "
        f"with accepted differences, {verdicts.count('not recorded')} not recorded, "
        f"{verdicts.count('skipped')} skipped"
    )
    return lines
