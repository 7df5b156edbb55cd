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

from mock_api.contract.budget import (
    PlannedSpend,
    Spender,
    check_budget,
    plan_total,
    split_optional,
)
from mock_api.contract.recognise import NotWavespeed, recognise_by_url
from mock_api.contract.rule import usd
from mock_api.contract.target import Target, connect, in_process
from mock_api.parity.run import JOB_LIMIT_SECONDS, Run
from mock_api.parity.sanitise import Sanitiser
from mock_api.parity.scenarios import SCENARIOS, Scenario
from mock_api.parity.snapshots import (
    BROKE_OFF,
    ScenarioBroke,
    ScenarioResult,
    check,
    load,
    record,
    save,
)

__all__ = ["ParityTarget", "check_snapshots", "open_target", "record_snapshots", "report"]


@dataclass
class ParityTarget:
    target: Target
    description: str

    @property
    def can_receive(self) -> bool:
        return self.target.is_fake or self.target.on_this_machine

    def why_not(self, scenario: Scenario) -> str | None:
        """Why ``scenario`` cannot run on this target (``None``: it can)."""
        if scenario.needs_receiver and not self.can_receive:
            return "the target cannot reach a receiver on this machine"
        if scenario.needs_control and not self.target.has_control:
            return "only the fake can be told this (its control API); the service cannot"
        if scenario.needs_second_key and not self.target.second_api_key:
            return "no second account: pass --second-api-key"
        return None

    def make_run(self) -> Run:
        target = self.target
        keys = tuple(k for k in (target.api_key, target.second_api_key) if k)
        second = None
        if target.second_api_key:
            second = target.client(api_key=target.second_api_key, check_429=False)
        fake = target.is_fake
        return Run(
            api=target.client(check_429=False),
            cdn=target.client(auth=False, media=True),
            anonymous=target.client(auth=False),
            wait=target.wait,
            poll_interval=target.poll_interval,
            sanitiser=Sanitiser(keys),
            api_key=target.api_key,
            second=second,
            control=target.client(auth=False) if target.has_control else None,
            force=target.force_outcome if target.can_force_outcomes else None,
            now=target.now,
            time_flowing=target.time_flowing,
            delivery_wait=3.0 if fake else 60.0,
            listen=3.0 if fake else 30.0,
            job_limit=60.0 if fake else JOB_LIMIT_SECONDS,
        )

    def close(self) -> None:
        self.target.close()


def open_target(
    base_url: str | None,
    api_key: str | None,
    *,
    second_api_key: str | None = None,
    upload_hosts: tuple[str, ...] = (),
) -> ParityTarget:
    if base_url is None:
        made = in_process(api_key=api_key or f"parity-{secrets.token_hex(4)}")
        return ParityTarget(made, "the fake, in-process")
    if not api_key:
        raise ValueError("a target by URL needs --api-key")
    made = connect(base_url, api_key, second_api_key=second_api_key, upload_hosts=upload_hosts)
    try:  # as verify does: a target that is no WaveSpeed API, or refuses the key, says so first
        with made.client() as client:
            recognise_by_url(base_url, client.get("/api/v3/balance"), fake=made.is_fake)
    except NotWavespeed as exc:
        made.close()
        advice = exc.advice("--base-url", base_url)
        raise NotWavespeed(f"{exc}\n{advice}", prism=exc.prism) from None
    except BaseException:
        made.close()
        raise
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


def _plan(scenario: Scenario) -> PlannedSpend:
    return PlannedSpend(
        f"parity: {scenario.name}",
        1,
        scenario.cost_micros,
        scenario.description,
        optional=scenario.optional,
    )


@dataclass
class Chosen:
    """The scenarios a run will drive, and those it leaves out with the reason."""

    run: list[Scenario]
    left_out: dict[str, str]
    spender: Spender


def choose(
    target: ParityTarget,
    only: Iterable[str] | None,
    budget_micros: int,
    *,
    doing: str,
    say: Callable[[str], None],
) -> Chosen:
    """The scenarios that can run on ``target``; on a paid one, priced first and held to
    the budget (the contract suite's guard and cost plan), optional ones only where the
    budget has room. Raises :class:`~mock_api.contract.budget.BudgetExceeded`."""
    left_out: dict[str, str] = {}
    runnable = []
    for scenario in _chosen(only):
        why = target.why_not(scenario)
        if why:
            left_out[scenario.name] = why
        else:
            runnable.append(scenario)
    if target.target.free:
        for name, why in left_out.items():
            say(f"not {doing} {name}: {why}")
        return Chosen(runnable, left_out, Spender(None))
    plans = [_plan(s) for s in runnable if s.cost_micros]
    funded, unfunded = split_optional(plans, budget_micros)
    for plan in unfunded:
        name = plan.label.removeprefix("parity: ")
        left_out[name] = f"optional, and --budget has no room for its {usd(plan.total_micros)}"
    runnable = [s for s in runnable if s.name not in left_out]
    for name, why in left_out.items():
        say(f"not {doing} {name}: {why}")
    count = f"{len(runnable)} scenario{'' if len(runnable) == 1 else 's'}"
    say(f"{doing} {count} could cost {usd(plan_total(funded))}")
    check_budget(funded, budget_micros, flag="--budget", narrow="choose fewer with --only")
    return Chosen(runnable, left_out, Spender(budget_micros))


def record_snapshots(
    target: ParityTarget,
    directory: Path,
    *,
    budget_micros: int,
    only: Iterable[str] | None = None,
    say: Callable[[str], None] = print,
) -> list[Path]:
    """Record the chosen scenarios into ``directory``; a paid target within the budget.

    A scenario that breaks off (the target answered what the flow cannot go on from)
    is not written: :class:`ScenarioBroke` names each, after the others are written.
    """
    chosen = choose(target, only, budget_micros, doing="recording", say=say)
    real = not target.target.is_fake
    source = "the real service" if real else "the fake"
    existing = load(directory) if directory.is_dir() else {}
    written, broke = [], []
    for scenario in chosen.run:
        if scenario.cost_micros:
            chosen.spender.reserve(f"parity: {scenario.name}", scenario.cost_micros)
        accepted = existing.get(scenario.name, {}).get("accepted")
        snapshot = record(
            scenario,
            target.make_run(),
            source=f"{source} ({target.description})",
            real=real,
            accepted=accepted,
        )
        if BROKE_OFF in snapshot["timeline"]:
            broke.append(f"{scenario.name}: {snapshot['timeline'][BROKE_OFF]}")
            say(f"could not record {scenario.name}: {snapshot['timeline'][BROKE_OFF]}")
            continue
        written.append(save(directory, snapshot))
        say(f"recorded {scenario.name}: {len(snapshot['exchanges'])} exchanges")
    if broke:
        raise ScenarioBroke("; ".join(broke))
    return written


def check_snapshots(
    target: ParityTarget,
    directory: Path,
    *,
    only: Iterable[str] | None = None,
    budget_micros: int = 0,
    say: Callable[[str], None] = lambda line: None,
) -> list[ScenarioResult]:
    """Run the chosen scenarios against ``target`` and compare each with its snapshot
    (a paid target: priced first and held to ``budget_micros``, as :func:`record_snapshots`)."""
    snapshots = load(directory) if directory.is_dir() else {}
    chosen = choose(target, only, budget_micros, doing="checking", say=say)
    results = []
    for scenario in _chosen(only):
        why = chosen.left_out.get(scenario.name)
        if why:
            results.append(ScenarioResult(scenario.name, snapshots.get(scenario.name), skipped=why))
            continue
        if scenario.cost_micros:
            chosen.spender.reserve(f"parity: {scenario.name}", scenario.cost_micros)
        results.append(check(snapshots.get(scenario.name), scenario, target.make_run()))
    return results


def report(results: list[ScenarioResult], description: str) -> list[str]:
    """The report: per scenario and per operation, and how much the real service validated."""
    lines = [f"parity check against {description}"]
    for result in results:
        recorded = (result.snapshot or {}).get("recorded", {})
        when = f"recorded {recorded.get('at')} from {recorded.get('from')}" if recorded else ""
        why = f" ({result.skipped})" if result.skipped else ""
        lines.append(f"  {result.name:<24} {result.verdict:<20} {when}{why}")
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
