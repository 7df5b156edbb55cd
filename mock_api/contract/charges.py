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
from dataclasses import dataclass

import httpx

from mock_api.contract.budget import Spender
from mock_api.contract.invariants import Poller, Snapshot
from mock_api.contract.jobs import JobInputs, balance_micros, submit, upload_silence
from mock_api.contract.rule import Order, cost_micros, explain, readings_agree, usd
from mock_api.contract.target import Target

__all__ = ["BillingCase", "ChargeMismatch", "ChargeResult", "check_charge"]


@dataclass(frozen=True)
class BillingCase:
    """Two audio lengths (ms) and an order whose bill the documented rule fixes."""

    left_ms: int
    right_ms: int
    order: Order

    def __post_init__(self) -> None:
        if min(self.left_ms, self.right_ms) <= 0:
            raise ValueError("audio lengths must be positive")
        if not readings_agree(self.left_ms, self.right_ms, self.order):
            raise ValueError(
                f"{self}: within the encoder-padding band, where the docs' plain reading and "
                "the fake's forgiving one bill differently; pick other lengths"
            )

    @property
    def expected_micros(self) -> int:
        return cost_micros(self.left_ms, self.right_ms, self.order)

    def explain(self) -> str:
        return explain(self.left_ms, self.right_ms, self.order)

    def __str__(self) -> str:
        return f"left {self.left_ms} ms, right {self.right_ms} ms, {self.order}"


class ChargeMismatch(AssertionError):
    """The balance moved by something other than the documented rule's amount."""


@dataclass(frozen=True)
class ChargeResult:
    case: BillingCase
    status: str
    charged_micros: int
    history: list[Snapshot]

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
) -> ChargeResult:
    """Run one job of ``case`` to its end and hold the balance to the rule.

    ``outcome`` forces how the job ends (``"fail"``, ``"complete"``) on a
    target that can be told; ``None`` leaves it to the target.
    """
    left = upload_silence(client, cdn, case.left_ms, "left")
    right = upload_silence(client, cdn, case.right_ms, "right")
    body = JobInputs(video_url, left, right, case.order).body(seed=7)
    headers = target.force_outcome(outcome) if outcome is not None else {}
    if spender is not None:
        spender.reserve("billing end to end", case.expected_micros)
    before = balance_micros(client)
    first = submit(client, body, headers)
    poller = Poller(client, target.wait, target.poll_interval, target.timeout)
    history = poller.follow(str(first["id"]), first)
    after = balance_micros(client)
    final = history[-1]
    status = str(final.get("status"))
    charged = before - after
    if outcome == "fail" and status != "failed":
        raise ChargeMismatch(f"{case}: the job was told to fail but ended {status!r}")
    expected = case.expected_micros if status == "completed" else 0
    if charged != expected:
        why = case.explain() if status == "completed" else "a failed job is refunded in full"
        raise ChargeMismatch(
            f"billing: the job ({case}) ended {status!r}; the balance moved by {usd(charged)}, "
            f"the documented rule says {usd(expected)}\n"
            f"  rule:     {why}\n"
            f"  balance:  {usd(before)} before the submission, {usd(after)} after the job ended\n"
            f"  request:  POST /api/v3/wavespeed-ai/infinitetalk-fast/video-to-video-multi "
            f"{json.dumps(body)}\n"
            f"  response: {json.dumps(final, sort_keys=True)}"
        )
    return ChargeResult(case, status, charged, history)
