"""Scenario rules: choose how matching jobs end, and how long they take.

A :class:`ScenarioRule` matches submissions (by API key, by prompt text, by
input values) and turns each match into a :class:`~mock_api.planning.Directive`:
complete, NSFW-flag, fail with a task code and message, end as ``timeout`` or
``cancelled``, stay stuck in ``created`` or ``processing``, or take a given
time. A rule applies to its next ``times`` matches, or to a seeded ``share``
of them, so a run with the same rules and submissions replays exactly.

Rules come from the control API or a YAML file (``serve --scenarios``);
:func:`rules_from_yaml` reads the file format, documented in
``fixtures/scenarios.example.yaml``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mock_api.lifecycle import NEVER_MS, Outcome, Status
from mock_api.planning import DEFAULT_FAILURE_CODE, TASK_MESSAGES, Directive
from mock_api.records import account_id
from mock_api.rulebook import (
    RuleBook,
    RuleStore,
    check_counts,
    check_range,
    load_rules_yaml,
    register_rule_kind,
    rule_head,
)

#: Task codes a rule may set (the ``X-Mock-Outcome`` header takes the same).
MAX_TASK_CODE = 99_999
#: The longest a rule may keep a job in ``created`` or ``processing``: a year. Stuck
#: jobs (``stuck-created``, ``stuck-processing``) never move at all.
MAX_RULE_SECONDS = 31_536_000


class Then(enum.StrEnum):
    COMPLETE = "complete"
    NSFW = "nsfw"
    FAIL = "fail"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    STUCK_CREATED = "stuck-created"
    STUCK_PROCESSING = "stuck-processing"


_TERMINAL_DEFAULTS: dict[Then, tuple[Status, int, str]] = {
    Then.FAIL: (Status.FAILED, DEFAULT_FAILURE_CODE, TASK_MESSAGES[DEFAULT_FAILURE_CODE]),
    Then.TIMEOUT: (Status.TIMEOUT, 5004, TASK_MESSAGES[5004]),
    Then.CANCELLED: (Status.CANCELLED, 1405, "Task cancelled."),
}


@dataclass(frozen=True)
class Match:
    api_key: str | None = None  # None: any key
    prompt_contains: str | None = None  # case-sensitive substring of `prompt`
    input: Mapping[str, Any] = field(default_factory=dict)  # fields that must equal these

    def __call__(self, account: str, body: Mapping[str, Any]) -> bool:
        if self.api_key is not None and account != account_id(self.api_key):
            return False
        if self.prompt_contains is not None and self.prompt_contains not in str(
            body.get("prompt", "")
        ):
            return False
        return all(body.get(name) == value for name, value in self.input.items())


@dataclass(frozen=True)
class ScenarioRule:
    id: str
    then: Then
    match: Match = field(default_factory=Match)
    code: int | None = None  # task code, for fail / timeout / cancelled
    message: str | None = None  # error text, for the same
    queue_seconds: float | None = None  # time in ``created``
    processing_seconds: float | None = None  # time in ``processing``
    times: int | None = None  # the next N matches; None: every match
    share: float = 1.0  # the seeded share of matches it applies to
    seed: int = 0
    matched: int = field(default=0, compare=False)
    applied: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        check_counts(self.times, self.share)
        for name in ("queue_seconds", "processing_seconds"):
            check_range(name, getattr(self, name), 0, MAX_RULE_SECONDS)
        check_range("code", self.code, 1, MAX_TASK_CODE)
        if (
            self.code is not None or self.message is not None
        ) and self.then not in _TERMINAL_DEFAULTS:
            raise ValueError(f"code and message only apply to {', '.join(_TERMINAL_DEFAULTS)}")

    def directive(self) -> Directive:
        queue = None if self.queue_seconds is None else round(self.queue_seconds * 1000)
        processing = (
            None if self.processing_seconds is None else round(self.processing_seconds * 1000)
        )
        outcome: Outcome | None = None
        if self.then is Then.NSFW:
            outcome = Outcome(Status.COMPLETED, nsfw=True)
        elif self.then is Then.COMPLETE:
            outcome = Outcome(Status.COMPLETED)
        elif self.then is Then.STUCK_CREATED:
            queue = NEVER_MS
        elif self.then is Then.STUCK_PROCESSING:
            processing = NEVER_MS
        else:
            status, code, message = _TERMINAL_DEFAULTS[self.then]
            code = self.code if self.code is not None else code
            message = self.message or (
                message if self.code is None else TASK_MESSAGES.get(code, message)
            )
            outcome = Outcome(status, code=code, error=message)
        return Directive(outcome=outcome, queue_ms=queue, processing_ms=processing)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "then": self.then.value,
            "match": {
                "api_key": self.match.api_key,
                "prompt_contains": self.match.prompt_contains,
                "input": dict(self.match.input),
            },
            "code": self.code,
            "message": self.message,
            "queue_seconds": self.queue_seconds,
            "processing_seconds": self.processing_seconds,
            "times": self.times,
            "share": self.share,
            "seed": self.seed,
            "matched": self.matched,
            "applied": self.applied,
        }


_SCENARIO_FIELDS = frozenset(
    [
        "id",
        "then",
        "match",
        "code",
        "message",
        "queue_seconds",
        "processing_seconds",
        "times",
        "share",
        "seed",
    ]
)


def rule_from_dict(data: Mapping[str, Any]) -> ScenarioRule:
    """Build a rule from its JSON/YAML form; raises ValueError naming the bad field."""
    then = rule_head(data, kind="scenario", fields=_SCENARIO_FIELDS, key="then", choices=Then)
    raw_match = data.get("match") or {}
    if not isinstance(raw_match, Mapping) or set(raw_match) - {
        "api_key",
        "prompt_contains",
        "input",
    }:
        raise ValueError("match takes api_key, prompt_contains and input")
    match = Match(
        api_key=raw_match.get("api_key"),
        prompt_contains=raw_match.get("prompt_contains"),
        input=dict(raw_match.get("input") or {}),
    )
    fields = {k: data[k] for k in _SCENARIO_FIELDS - {"id", "then", "match"} if k in data}
    return ScenarioRule(id=str(data["id"]), then=then, match=match, **fields)


def rules_from_yaml(text: str) -> list[ScenarioRule]:
    document = load_rules_yaml(text) or {}
    items = document.get("scenarios", []) if isinstance(document, Mapping) else document
    if not isinstance(items, list):
        raise ValueError("expected a list of rules, or a mapping with a 'scenarios' list")
    rules = []
    for index, item in enumerate(items):
        try:
            rules.append(rule_from_dict(item))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"scenario #{index + 1}: {exc}") from None
    return rules


class ScenarioBook(RuleBook[ScenarioRule]):
    def __init__(self, store: RuleStore) -> None:
        super().__init__("scenario", store, rule_from_dict)

    def directive_for(self, account: str, body: Mapping[str, Any]) -> Directive | None:
        rule = self.fire(lambda r: r.match(account, body))
        return rule.directive() if rule else None


# A store rebuilds stored scenario rules from the moment this module is imported, not only
# once a book exists (a process may read a store before it makes a book).
register_rule_kind("scenario", rule_from_dict)
