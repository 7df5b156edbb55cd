"""The whole family's billing, by URL: each model at its cheapest informative durations.

Every model of the documented family (:data:`~mock_api.contract.rule.FAMILY`,
written apart from any server) runs with real media, uploaded as for our
model: a job over the minimum without ``resolution`` (the default's rate),
and, where the budget allows, one under the minimum, one at each resolution
the model has, and the other speaking order for a two-speaker model. For each
job, before it is submitted, both quote paths are asked for its exact inputs
and must quote the rule's amount; the balance read right after the submission
has moved by exactly that (charged at acceptance); once every job has
finished, nothing more has moved, and every output lasts as long as its speech.

Jobs are submitted one after the other (each charge is read on its own), then
followed; on a paid endpoint both parts are priced before the run starts: the
first (one job a model) and the rest (``optional``) each run only when the
budget has room for them, and the report names what was left out and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

from mock_api.contract.budget import PlannedSpend, Spender
from mock_api.contract.invariants import Snapshot
from mock_api.contract.jobs import balance_micros, submit, upload_job
from mock_api.contract.output import check_output_video, expected_output_ms
from mock_api.contract.rule import FAMILY, Order, cost_micros, explain, tariff, usd
from mock_api.contract.session import ContractSession
from mock_api.contract.target import Target
from mock_api.models import MODELS_BY_ID


@dataclass(frozen=True)
class FamilyCase:
    """One job of one model: its audio lengths (ms), order and resolution (None: left out)."""

    model: str
    audio_ms: tuple[int, ...]
    order: Order | None = None
    resolution: str | None = None

    @property
    def expected_micros(self) -> int:
        left, right = (*self.audio_ms, 0)[:2]
        return cost_micros(
            left, right, self.order or "meanwhile", tariff=tariff(self.model, self.resolution)
        )

    @property
    def output_ms(self) -> int:
        left, right = (*self.audio_ms, 0)[:2]
        rule = tariff(self.model, self.resolution)
        return expected_output_ms(left, right, self.order or "meanwhile", tariff=rule)

    def explain(self) -> str:
        left, right = (*self.audio_ms, 0)[:2]
        rule = tariff(self.model, self.resolution)
        return explain(left, right, self.order or "meanwhile", tariff=rule)

    def __str__(self) -> str:
        parts = [self.model, "+".join(f"{ms} ms" for ms in self.audio_ms)]
        parts += [p for p in (self.order, self.resolution or "no resolution") if p]
        return ", ".join(parts)


def _cases() -> tuple[list[FamilyCase], list[FamilyCase]]:
    """One job a model over its minimum at the default; then the rest of its clauses.

    Lengths sit away from whole seconds, so the padding readings agree: 6.2 s (one
    track) or 6.2 s with 2.1 s at once bill 7 s; 1.2 s bills the 5 s minimum; 3.4 s
    then 4.3 s in turn bill 8 s (the longer alone would bill 5).
    """
    first: list[FamilyCase] = []
    rest: list[FamilyCase] = []
    for model, tariffs in FAMILY.items():
        two = next(iter(tariffs.values())).tracks == 2
        over = (6200, 2100) if two else (6200,)
        first.append(FamilyCase(model, over, "meanwhile" if two else None))
        under = (1200, 1300) if two else (1200,)
        rest.append(FamilyCase(model, under, "meanwhile" if two else None))
        for resolution in (r for r in tariffs if r):
            turns = (3400, 4300) if two else (6200,)
            rest.append(FamilyCase(model, turns, "left_right" if two else None, resolution))
        if two:
            rest.append(FamilyCase(model, (4300, 3400), "right_left"))
    return first, rest


FIRST, REST = _cases()
FIRST_PLAN = PlannedSpend(
    "family billing, one job a model",
    len(FIRST),
    max(case.expected_micros for case in FIRST),
    "each model over its minimum, at its default rate",
    optional=True,
)
REST_PLAN = PlannedSpend(
    "family billing, every clause",
    len(REST),
    max(case.expected_micros for case in REST),
    "each model under its minimum, at each resolution, and in the other order",
    optional=True,
)


def _quotes(api: httpx.Client, model: str, inputs: dict[str, Any]) -> dict[str, int]:
    body = {"model_id": model, "inputs": inputs}
    answers = {
        "POST /api/v3/model/price": ("price", api.post("/api/v3/model/price", json=body)),
        "POST /api/v3/model/pricing": ("unit_price", api.post("/api/v3/model/pricing", json=body)),
    }
    quoted: dict[str, int] = {}
    for path, (field, answer) in answers.items():
        assert answer.status_code == 200, f"{path} for {model}: {answer.text[:300]}"
        quoted[path] = int(Decimal(str(answer.json()["data"][field])) * 1_000_000)
    return quoted


def _run(
    target: Target,
    api: httpx.Client,
    cdn: httpx.Client,
    spender: Spender,
    cases: list[FamilyCase],
    label: str,
) -> None:
    headers = target.force_outcome("complete") if target.can_force_outcomes else {}
    wrong: list[str] = []
    submitted: list[tuple[FamilyCase, Snapshot]] = []
    for case in cases:
        job = upload_job(
            api,
            cdn,
            MODELS_BY_ID[case.model],
            case.audio_ms,
            order=case.order,
            resolution=case.resolution,
        )
        body = job.body(seed=7)
        for path, amount in _quotes(api, case.model, body).items():
            if amount != case.expected_micros:
                wrong.append(
                    f"{case}: {path} quoted {usd(amount)}, the rule says "
                    f"{usd(case.expected_micros)} ({case.explain()})"
                )
        spender.reserve(label, case.expected_micros)
        before = balance_micros(api)
        first = submit(api, body, headers, path=job.path)
        charged = before - balance_micros(api)
        if charged != case.expected_micros:
            wrong.append(
                f"{case}: charged {usd(charged)} at acceptance, the rule says "
                f"{usd(case.expected_micros)} ({case.explain()})"
            )
        submitted.append((case, first))
    settled = balance_micros(api)
    for case, first in submitted:
        final = target.poller(api).follow(str(first["id"]), first)[-1]
        if final.get("status") != "completed":
            wrong.append(f"{case}: ended {final.get('status')!r}: {final.get('error')}")
            continue
        check_output_video(cdn, final, case.output_ms)
    target.wait(target.poll_interval)
    later = balance_micros(api)
    if later != settled:
        wrong.append(f"the balance moved by {usd(settled - later)} after the jobs were charged")
    assert not wrong, "family billing:\n  " + "\n  ".join(wrong)


@pytest.mark.spends(FIRST_PLAN)
def test_every_model_is_charged_its_own_rate(
    target: Target,
    api: httpx.Client,
    cdn: httpx.Client,
    spender: Spender,
    contract_session: ContractSession,
) -> None:
    """one job a model, no resolution given: quoted and charged its default rate"""
    reason = contract_session.unfunded_reason(FIRST_PLAN)
    if reason:
        pytest.skip(reason)
    _run(target, api, cdn, spender, FIRST, FIRST_PLAN.label)


@pytest.mark.spends(REST_PLAN)
def test_every_model_keeps_its_minimum_resolutions_and_orders(
    target: Target,
    api: httpx.Client,
    cdn: httpx.Client,
    spender: Spender,
    contract_session: ContractSession,
) -> None:
    """under the minimum, at 480p and 720p, in both orders: quoted and charged the rule"""
    reason = contract_session.unfunded_reason(REST_PLAN)
    if reason:
        pytest.skip(reason)
    _run(target, api, cdn, spender, REST, REST_PLAN.label)
