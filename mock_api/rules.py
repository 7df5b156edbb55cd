"""Loading scenario and fault rules from YAML (``serve --scenarios FILE``).

The file holds two lists, ``scenarios`` and ``faults``, in the same form the
control API takes; ``fixtures/scenarios.example.yaml`` shows every field.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

import yaml

from mock_api.errors import MockAPIError
from mock_api.faults import FaultRule, fault_from_dict
from mock_api.rulebook import RuleBook, load_rules_yaml
from mock_api.scenarios import ScenarioRule, rule_from_dict
from mock_api.service import MockService
from mock_api.spec import Spec

#: The top-level keys of a rules file.
SECTIONS = ("scenarios", "faults")
_SHAPE = "a rules file is a mapping with 'scenarios' and/or 'faults' lists"


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
    if not isinstance(document, Mapping):
        raise ValueError(f"{_line(text)}{_SHAPE}")
    for key in document:
        if key not in SECTIONS:
            close = difflib.get_close_matches(str(key), SECTIONS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{_line(text, key)}unknown key {key!r}{hint}; {_SHAPE}")
    scenarios: list[ScenarioRule] = []
    faults: list[FaultRule] = []
    # Each rule is checked against the same schema as the control API's.
    for index, item in enumerate(_items(document, "scenarios", text)):
        with _numbered("scenarios", index, text):
            spec.validate_body("addScenario", item)
            scenarios.append(_unique(rule_from_dict(item), scenarios, "scenario"))
    for index, item in enumerate(_items(document, "faults", text)):
        with _numbered("faults", index, text):
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


def _items(document: Mapping[str, Any], section: str, text: str) -> list[Any]:
    items = document.get(section) or []
    if not isinstance(items, list):
        raise ValueError(f"{_line(text, section)}'{section}' must be a list")
    return items


@contextlib.contextmanager
def _numbered(section: str, index: int, text: str | None = None) -> Iterator[None]:
    """Errors of one rule name it (``scenarios #2``) and, given the file's text, the
    line of the key at fault, or of the rule."""
    try:
        yield
    except (ValueError, TypeError) as exc:
        where = _line(text, section, index) if text else ""
        raise ValueError(f"{where}{section} #{index + 1}: {exc}") from None
    except MockAPIError as exc:
        field = getattr(exc, "field", None)
        path = [section, index, *(field.split(".") if field else [])]
        where = _line(text, *path) if text else ""
        key = f", key {field!r}" if field else ""
        raise ValueError(f"{where}{section} #{index + 1}{key}: {exc.message}") from None


def _line(text: str, *path: object) -> str:
    """``"line N: "``: where ``path`` (keys and list indexes) is in the YAML text, as far
    as it goes; only computed for an error, from the parser's own marks."""
    try:
        node: yaml.Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return ""
    found = node
    for step in path:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if k.value == str(step)), None)
            if pair is None:
                break
            found, node = pair
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            if not 0 <= step < len(node.value):
                break
            found = node = node.value[step]
        else:
            break
    return f"line {found.start_mark.line + 1}: " if found is not None else ""
