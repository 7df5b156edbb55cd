"""Billing end to end: real audio in, the account's balance out.

Why this exists: the pure rule can be right while the service around it is
wrong (it reads the wrong duration, charges twice, forgets a refund). This
check makes WAVs of exactly known length, uploads them, submits, waits for the
job to finish, and compares how far ``/api/v3/balance`` moved with the
documented rule (:mod:`mock_api.contract.rule`), computed here from the lengths alone:
a completed job costs exactly the rule's amount, a failed one nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from mock_api.contract.budget import Spender
from mock_api.contract.invariants import TERMINAL, Snapshot
from mock_api.contract.jobs import SUBMIT_PATH, JobInputs, balance_micros, submit, upload_silence
from mock_api.contract.output import check_output_video, expected_output_ms
from mock_api.contract.rule import (
    FAKE_PADDING_MS,
    Order,
    cost_micros,
    explain,
    readings_agree,
    usd,
)
from mock_api.contract.target import Target

__all__ = ["BillingCase", "ChargeMismatch", "ChargeResult", "check_charge"]


@dataclass(frozen=True)
class BillingCase:
    """Two audio lengths (ms) and an order whose bill the documented rule fixes.

    ``band`` marks lengths inside the encoder-padding band (a track a few ms
    past a whole second), where the plain reading and the contract's differ:
    such a case is held to the contract's reading, :data:`FAKE_PADDING_MS`
    forgiven per track before combining (the README's billing section).
    Otherwise the two readings must agree on the case.
    """

    left_ms: int
    right_ms: int
    order: Order
    band: bool = False

    def __post_init__(self) -> None:
        if min(self.left_ms, self.right_ms) <= 0:
            raise ValueError("audio lengths must be positive")
        if not self.band and not readings_agree(self.left_ms, self.right_ms, self.order):
            raise ValueError(
                f"{self}: within the encoder-padding band, where the docs' plain reading and "
                "the fake's forgiving one bill differently; pick other lengths or band=True"
            )

    @property
    def padding_ms(self) -> int:
        return FAKE_PADDING_MS if self.band else 0

    @property
    def expected_micros(self) -> int:
        return cost_micros(self.left_ms, self.right_ms, self.order, padding_ms=self.padding_ms)

    @property
    def output_ms(self) -> int:
        return expected_output_ms(self.left_ms, self.right_ms, self.order)

    def explain(self) -> str:
        return explain(self.left_ms, self.right_ms, self.order, padding_ms=self.padding_ms)

    def __str__(self) -> str:
        band = f", {self.padding_ms} ms forgiven per track" if self.band else ""
        return f"left {self.left_ms} ms, right {self.right_ms} ms, {self.order}{band}"


class ChargeMismatch(AssertionError):
    """The balance moved by something other than the documented rule's amount."""


@dataclass(frozen=True)
class ChargeResult:
    case: BillingCase
    status: str
    charged_micros: int
    history: list[Snapshot]
    #: What the balance showed while the job was still created/processing, if it was read
    #: then (``None``: the job had finished before the balance could be read).
    charged_at_acceptance_micros: int | None

    @property
    def final(self) -> Snapshot:
        return self.history[-1]


def check_charge(
    target: Target,
    *,
    client: httpx.Client,
    cdn: httpx.Client,
    video_url: str,
    case: BillingCase,
    outcome: str | None = None,
    spender: Spender | None = None,
    label: str = "billing end to end",
    prompt: str | None = None,
    before_submit: Callable[[dict[str, Any]], None] | None = None,
) -> ChargeResult:
    """Run one job of ``case`` to its end and hold the balance to the rule.

    ``outcome`` forces how the job ends (``"fail"``, ``"complete"``) on a
    target that can be told; ``None`` leaves it to the target. ``before_submit``
    sees the exact body about to be submitted (to quote it, say).
    """
    left = upload_silence(client, cdn, case.left_ms, "left")
    right = upload_silence(client, cdn, case.right_ms, "right")
    body = JobInputs(video_url, left, right, case.order).body(seed=7)
    if prompt is not None:
        body["prompt"] = prompt
    headers = target.force_outcome(outcome) if outcome is not None else {}
    if before_submit is not None:
        before_submit(body)
    if spender is not None:
        spender.reserve(label, case.expected_micros)
    before = balance_micros(client)
    first = submit(client, body, headers)
    during = balance_micros(client)
    poller = target.poller(client)
    history = poller.follow(str(first["id"]), first)
    after = balance_micros(client)
    final = history[-1]
    status = str(final.get("status"))
    charged = before - after

    def mismatch(what: str, moved: int, expected: int, why: str) -> ChargeMismatch:
        return ChargeMismatch(
            f"billing: the job ({case}) ended {status!r}; {what} the balance had moved by "
            f"{usd(moved)}, the documented rule says {usd(expected)}\n"
            f"  rule:     {why}\n"
            f"  balance:  {usd(before)} before the submission, {usd(during)} just after it, "
            f"{usd(after)} after the job ended\n"
            f"  request:  POST {SUBMIT_PATH} {json.dumps(body)}\n"
            f"  response: {json.dumps(final, sort_keys=True)}"
        )

    if outcome == "fail" and status != "failed":
        raise ChargeMismatch(f"{case}: the job was told to fail but ended {status!r}")
    # The poll right after the balance read still saw the job unfinished: the balance
    # was read while it was, so the charge must already show (it is taken at acceptance).
    unfinished = len(history) > 1 and history[1].get("status") not in TERMINAL
    at_acceptance = before - during if unfinished else None
    # A job that ends failed may have been refused a price up front (over the cap with
    # --over-max reject: task code 1401) rather than charged and refunded.
    allowed = {case.expected_micros, 0} if status == "failed" else {case.expected_micros}
    if at_acceptance is not None and at_acceptance not in allowed:
        raise mismatch(
            "while it was still unfinished",
            at_acceptance,
            case.expected_micros,
            f"the charge is taken when the job is accepted: {case.explain()}",
        )
    expected = case.expected_micros if status == "completed" else 0
    if charged != expected:
        why = case.explain() if status == "completed" else "a failed job is refunded in full"
        raise mismatch("after it ended", charged, expected, why)
    # A refund (or a charge) that comes twice shows on a later read.
    target.wait(poller.interval)
    later = balance_micros(client)
    if later != after:
        raise mismatch(
            f"{usd(after - later)} more moved after it ended ({usd(after)} -> {usd(later)}):",
            before - later,
            expected,
            "a job is charged once, and a failed one refunded once",
        )
    if status == "completed":
        check_output_video(cdn, final, case.output_ms)
    return ChargeResult(case, status, charged, history, at_acceptance)
