"""Loading scenario and fault rules from YAML (``serve --scenarios FILE``).

The file holds two lists, ``scenarios`` and ``faults``, in the same form the
control API takes; ``fixtures/scenarios.example.yaml`` shows every field.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

from mock_api.errors import MockAPIError
from mock_api.faults import FaultRule, fault_from_dict
from mock_api.rulebook import RuleBook, load_rules_yaml
from mock_api.scenarios import ScenarioRule, rule_from_dict
from mock_api.service import MockService
from mock_api.spec import Spec


def load_rules(service: MockService, text: str, *, keep_existing: bool = False) -> tuple[int, int]:
    """Add the file's rules to the service; returns (scenarios, faults) added.

    With ``keep_existing``, a rule whose id the service already has is left as
    it is, counters included (``serve`` restarting on the same database).
    """
    scenarios, faults = read_rules(service.spec, text)
    return add_rules(service, scenarios, faults, keep_existing=keep_existing)


def read_rules(spec: Spec, text: str) -> tuple[list[ScenarioRule], list[FaultRule]]:
    """Parse and check a rules file, touching no state."""
    document: Any = load_rules_yaml(text) or {}
    if not isinstance(document, Mapping) or set(document) - {"scenarios", "faults"}:
        raise ValueError("a rules file is a mapping with 'scenarios' and/or 'faults' lists")
    scenarios: list[ScenarioRule] = []
    faults: list[FaultRule] = []
    # Each rule is checked against the same schema as the control API's.
    for index, item in enumerate(_items(document, "scenarios")):
        with _numbered("scenarios", index):
            spec.validate_body("addScenario", item)
            scenarios.append(_unique(rule_from_dict(item), scenarios, "scenario"))
    for index, item in enumerate(_items(document, "faults")):
        with _numbered("faults", index):
            spec.validate_body("addFault", item)
            faults.append(_unique(fault_from_dict(item), faults, "fault"))
    return scenarios, faults


def add_rules(
    service: MockService,
    scenarios: list[ScenarioRule],
    faults: list[FaultRule],
    *,
    keep_existing: bool = False,
) -> tuple[int, int]:
    """Add checked rules (:func:`read_rules`); returns (scenarios, faults) added."""
    return (
        _add("scenarios", service.scenarios, scenarios, keep_existing),
        _add("faults", service.faults, faults, keep_existing),
    )


R = TypeVar("R", ScenarioRule, FaultRule)


def _add(section: str, book: RuleBook[R], rules: list[R], keep_existing: bool) -> int:
    existing = {r.id for r in book.rules()} if keep_existing else set()
    added = 0
    for index, rule in enumerate(rules):
        if rule.id not in existing:
            with _numbered(section, index):
                book.add(rule)
            added += 1
    return added


def _unique(rule: R, earlier: list[R], kind: str) -> R:
    if any(r.id == rule.id for r in earlier):
        raise ValueError(f"a {kind} rule named {rule.id!r} exists already")
    return rule


def _items(document: Mapping[str, Any], section: str) -> list[Any]:
    items = document.get(section) or []
    if not isinstance(items, list):
        raise ValueError(f"'{section}' must be a list")
    return items


@contextlib.contextmanager
def _numbered(section: str, index: int) -> Iterator[None]:
    try:
        yield
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{section} #{index + 1}: {exc}") from None
    except MockAPIError as exc:
        raise ValueError(f"{section} #{index + 1}: {exc.message}") from None
