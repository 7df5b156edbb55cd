"""Loading scenario, fault and stub rules from YAML (``serve --rules FILE``).

The file holds three lists, ``scenarios``, ``faults`` and ``stubs``, in the
same form the control API takes; ``fixtures/scenarios.example.yaml`` shows
every field. :func:`replace_rules` puts a file's new version in place of the
rules its last version added (``serve --watch``, :mod:`mock_api.watch`).
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Collection, Iterator, Mapping
from typing import Any, NamedTuple, TypeVar

import yaml

from mock_api.errors import MockAPIError
from mock_api.faults import FaultRule, fault_from_dict
from mock_api.rulebook import Replaced, RuleBook, RuleInvalid, load_rules_yaml
from mock_api.scenarios import ScenarioRule, rule_from_dict
from mock_api.service import MockService
from mock_api.spec import Spec
from mock_api.stubs import StubRule, stub_from_dict

#: The top-level keys of a rules file.
SECTIONS = ("scenarios", "faults", "stubs")
_SHAPE = "a rules file is a mapping with 'scenarios', 'faults' and/or 'stubs' lists"


class FileRules(NamedTuple):
    """The rules of one rules file, checked, section by section."""

    scenarios: list[ScenarioRule]
    faults: list[FaultRule]
    stubs: list[StubRule]

    @property
    def total(self) -> int:
        return len(self.scenarios) + len(self.faults) + len(self.stubs)

    def by_section(self) -> dict[str, list[Any]]:
        return {"scenarios": self.scenarios, "faults": self.faults, "stubs": self.stubs}

    def ids(self) -> dict[str, set[str]]:
        """The rules' ids, by section."""
        return {section: {r.id for r in rules} for section, rules in self.by_section().items()}


def load_rules(
    service: MockService, text: str, *, keep_existing: bool = False
) -> tuple[int, int, int]:
    """Add the file's rules to the service; returns (scenarios, faults, stubs) added.

    With ``keep_existing``, a rule whose id the service already has is left as
    it is, counters included (``serve`` restarting on the same database).
    """
    return add_rules(service, *read_rules(service.spec, text), keep_existing=keep_existing)


def read_rules(spec: Spec, text: str) -> FileRules:
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
    stubs: list[StubRule] = []
    # Each rule is checked against the same schema as the control API's.
    for index, item in enumerate(_items(document, "scenarios", text)):
        with _numbered("scenarios", index, text):
            spec.validate_body("addScenario", item)
            scenarios.append(_unique(rule_from_dict(item), scenarios, "scenario"))
    for index, item in enumerate(_items(document, "faults", text)):
        with _numbered("faults", index, text):
            spec.validate_body("addFault", item)
            faults.append(_unique(fault_from_dict(item), faults, "fault"))
    for index, item in enumerate(_items(document, "stubs", text)):
        with _numbered("stubs", index, text):
            spec.validate_body("addStub", item)
            stubs.append(_unique(stub_from_dict(item), stubs, "stub"))
    return FileRules(scenarios, faults, stubs)


def add_rules(
    service: MockService,
    scenarios: list[ScenarioRule],
    faults: list[FaultRule],
    stubs: list[StubRule] | None = None,
    *,
    keep_existing: bool = False,
) -> tuple[int, int, int]:
    """Add checked rules (:func:`read_rules`); returns (scenarios, faults, stubs) added."""
    return (
        _add("scenarios", service.scenarios, scenarios, keep_existing),
        _add("faults", service.faults, faults, keep_existing),
        _add("stubs", service.stubs, stubs or [], keep_existing),
    )


def replace_rules(
    service: MockService, owned: Mapping[str, Collection[str]], rules: FileRules
) -> dict[str, Replaced]:
    """Put a rules file's new version in place of its last, atomically (``serve --watch``).

    ``owned`` names, by section, the rules the file's last version added. Rules
    added through the control API stay, after the file's; a rule whose definition
    did not change keeps its counters (:meth:`~mock_api.rulebook.RuleBook.replace`).
    Raises ValueError naming the section and the rule, changing nothing, when a
    rule of the file would take the id of one added through the control API.
    """
    books: dict[str, RuleBook[Any]] = {
        "scenarios": service.scenarios,
        "faults": service.faults,
        "stubs": service.stubs,
    }
    done: dict[str, Replaced] = {}
    with service.scenarios.transaction():  # one store: every book's changes, or none
        for section, new in rules.by_section().items():
            book = books[section]
            try:
                done[section] = book.replace(owned.get(section, ()), new)
            except ValueError as exc:
                raise ValueError(f"{section}: {exc}") from None
    return done


R = TypeVar("R", ScenarioRule, FaultRule, StubRule)


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
    except RuleInvalid as exc:  # names the field at fault, as the control API's 400 does
        path = [section, index, *exc.field.split(".")]
        where = _line(text, *path) if text else ""
        raise ValueError(
            f"{where}{section} #{index + 1}, key {exc.field!r}: {exc.reason}"
        ) from None
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
