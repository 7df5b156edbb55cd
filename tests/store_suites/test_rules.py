"""Scenario and fault rules: every field round-trips; books add, remove, clear, count.

Run against every store of ``STORES`` (``tests/store_suites/conftest.py``).
"""

from __future__ import annotations

import pytest

from mock_api.faults import FaultBook, FaultKind, FaultRule
from mock_api.rulebook import RuleStore, draw
from mock_api.scenarios import Match, ScenarioBook, ScenarioRule, Then

FULL_SCENARIO = ScenarioRule(
    id="moderation",
    then=Then.FAIL,
    match=Match(api_key="k", prompt_contains="beach", input={"order": "left_right", "seed": 3}),
    code=1200,
    message="flagged",
    queue_seconds=1.5,
    processing_seconds=0.25,
    times=3,
    share=0.5,
    seed=9,
)
FULL_FAULT = FaultRule(
    id="busy",
    kind=FaultKind.STATUS,
    method="GET",
    path="/api/v3/predictions/*",
    account="k",
    status=429,
    retry_after=2,
    latency_ms=0,
    times=None,
    share=0.25,
    seed=4,
)


def test_rules_round_trip_with_every_field(rules: RuleStore) -> None:
    scenarios, faults = ScenarioBook(rules), FaultBook(rules)
    scenarios.add(FULL_SCENARIO)
    scenarios.add(ScenarioRule(id="stuck", then=Then.STUCK_PROCESSING))
    faults.add(FULL_FAULT)
    faults.add(FaultRule(id="slow", kind=FaultKind.LATENCY, latency_ms=250))
    assert [r.as_dict() for r in scenarios.rules()] == [
        FULL_SCENARIO.as_dict(),
        ScenarioRule(id="stuck", then=Then.STUCK_PROCESSING).as_dict(),
    ]
    assert scenarios.rules()[0] == FULL_SCENARIO
    assert [r.as_dict() for r in faults.rules()] == [
        FULL_FAULT.as_dict(),
        FaultRule(id="slow", kind=FaultKind.LATENCY, latency_ms=250).as_dict(),
    ]


def test_rule_books_add_remove_and_clear_by_kind(rules: RuleStore) -> None:
    scenarios, faults = ScenarioBook(rules), FaultBook(rules)
    scenarios.add(ScenarioRule(id="a", then=Then.NSFW))
    faults.add(FaultRule(id="a", kind=FaultKind.DROP))  # another kind: the id is free
    with pytest.raises(ValueError, match="scenario rule named 'a' exists already"):
        scenarios.add(ScenarioRule(id="a", then=Then.FAIL))
    scenarios.add(ScenarioRule(id="b", then=Then.FAIL))
    assert [r.id for r in scenarios.rules()] == ["a", "b"]
    assert scenarios.remove("a") is True
    assert scenarios.remove("a") is False
    scenarios.clear()
    assert scenarios.rules() == []
    assert [r.id for r in faults.rules()] == ["a"]


def test_rules_fire_count_and_use_up_the_same_way(rules: RuleStore) -> None:
    book = ScenarioBook(rules)
    book.add(ScenarioRule(id="twice", then=Then.NSFW, match=Match(prompt_contains="x"), times=2))
    book.add(ScenarioRule(id="half", then=Then.FAIL, share=0.5, seed=1))
    fired = [book.fire(lambda r: r.match("acct", {"prompt": "x"})) for _ in range(6)]
    expected: list[tuple[str, int, int] | None] = [("twice", 1, 1), ("twice", 2, 2)]
    applied = 0
    for n in range(1, 5):  # then "twice" is used up, and "half" applies by its seeded draws
        applies = draw(1, "half", n) < 0.5
        applied += applies
        expected.append(("half", n, applied) if applies else None)
    assert [(r.id, r.matched, r.applied) if r else None for r in fired] == expected
    assert 0 < applied < 4  # the seed gives a mix, so both branches are exercised
    counts = {r.id: (r.matched, r.applied) for r in book.rules()}
    assert counts == {"twice": (2, 2), "half": (4, applied)}
    assert book.fire(lambda r: False) is None
    assert {r.id: (r.matched, r.applied) for r in book.rules()} == counts
