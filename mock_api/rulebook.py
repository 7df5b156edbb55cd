"""An ordered set of named rules that fire on matching requests, replayably.

Scenario rules (how jobs end), fault rules (what happens on the wire) and stub
rules (answers of the user's own) share one mechanism: the first rule that
matches and is not used up decides; a rule applies to its next ``times``
matches, or to a seeded ``share`` of them, where the draw for the n-th match is
a hash of the rule's seed, its id and n. The same rules and the same traffic
therefore fire the same way on every run.

The rules and their counters live in a store (:class:`RuleStore`), so every
process serving one database counts the same matches, and a restart keeps them.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

import yaml

from mock_api.records import (
    R,
    Rule,
    decode_rule,
    register_rule_kind,
    rule_definition,
    with_counts,
)
from mock_api.storage import RuleStore

__all__ = [
    "MAX_RULES_FILE_BYTES",
    "MAX_TIMES",
    "RULE_METHODS",
    "Replaced",
    "Rule",
    "RuleBook",
    "RuleInvalid",
    "RuleStore",
    "check_counts",
    "check_method_path",
    "check_range",
    "decode_rule",
    "draw",
    "load_rules_yaml",
    "register_rule_kind",
    "rule_definition",
    "rule_head",
    "used_up",
    "with_counts",
]

# libyaml's loader when PyYAML has it, as mock_api.spec uses.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: The largest rules file read (bytes): thousands of rules fit.
MAX_RULES_FILE_BYTES = 1_000_000


#: The most matches a rule can be limited to (openapi.yaml says the same); omit
#: ``times`` for a rule that never runs out.
MAX_TIMES = 1_000_000


def load_rules_yaml(text: str) -> Any:
    """A rules file's YAML, refusing anchors and aliases (``&a``, ``*a``).

    An alias is a reference, so a 1 KB file of nested ones (a "billion laughs")
    loads as a small graph that every later walk (the schema check, JSON for the
    store) expands to gigabytes. A rules file has no use for them; refusing them
    from the event stream, before anything is built, costs one parse.
    """
    if len(text) > MAX_RULES_FILE_BYTES:
        raise ValueError(f"the file is over {MAX_RULES_FILE_BYTES} bytes; rules files are small")
    try:
        for event in yaml.parse(text, Loader=_SAFE_LOADER):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                where = f"line {event.start_mark.line + 1}: " if event.start_mark else ""
                raise ValueError(
                    f"{where}YAML anchors and aliases (&name, *name) are not allowed in a "
                    "rules file: write each rule out"
                )
        return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise ValueError(_yaml_error(exc)) from None


def _yaml_error(exc: yaml.YAMLError) -> str:
    """One line: where the parser stopped, and why (PyYAML's own text spans several, and
    names the file ``"<unicode string>"``)."""
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem is None:
        return "not valid YAML: " + " ".join(str(exc).split())
    where = ""
    if exc.problem_mark is not None:
        where = f"line {exc.problem_mark.line + 1}, column {exc.problem_mark.column + 1}: "
    started = ""
    if exc.context and exc.context_mark is not None:
        started = f" ({exc.context} at line {exc.context_mark.line + 1})"
    return f"{where}not valid YAML: {exc.problem}{started}"


class RuleInvalid(ValueError):
    """A rule that cannot be kept; ``field`` names the part at fault (the 400's field)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


#: The methods a rule matches: the HTTP methods the fake serves (``*``: any of them).
RULE_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def check_method_path(method: object, path: object) -> None:
    """RuleInvalid unless a rule's ``method`` and ``path`` can match a request at all."""
    if method is not None and not (
        isinstance(method, str) and (method == "*" or method.upper() in RULE_METHODS)
    ):
        raise RuleInvalid(
            "method",
            f"{method!r} is not an HTTP method the fake serves: one of "
            f"{', '.join(RULE_METHODS)}, or * for any",
        )
    if not isinstance(path, str):
        raise RuleInvalid("path", "must be a string (an fnmatch glob)")
    if not path.startswith(("/", "*", "?", "[")):  # a glob led by a wildcard may match
        raise RuleInvalid(
            "path",
            f"{path!r} must start with / (or a wildcard): it is matched against the "
            "request's path, such as /api/v3/balance",
        )


def check_range(name: str, value: float | None, low: float, high: float) -> None:
    """ValueError naming ``name`` unless it is absent or a finite number in [low, high]."""
    if value is not None and not (low <= value <= high):  # NaN fails too
        raise ValueError(f"{name} must be from {low} to {high}")


def check_counts(times: int | None, share: float) -> None:
    if not 0.0 <= share <= 1.0:
        raise ValueError("share must be between 0 and 1")
    check_range("times", times, 0, MAX_TIMES)


E = TypeVar("E", bound=enum.Enum)


def rule_head(
    data: Mapping[str, Any], *, kind: str, fields: Iterable[str], key: str, choices: type[E]
) -> E:
    """Check a rule's JSON/YAML form: no unknown field, an ``id``, and ``key`` among ``choices``.

    Raises ValueError naming the bad field; returns the parsed ``key``.
    """
    known = sorted(fields)
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r}; expected one of {', '.join(known)}")
    if "id" not in data or key not in data:
        raise ValueError(f"a {kind} rule needs 'id' and {key!r}")
    try:
        return choices(data[key])
    except ValueError:
        options = ", ".join(str(c.value) for c in choices)
        raise ValueError(f"{key} {data[key]!r} is not one of {options}") from None


def draw(seed: int, rule_id: str, n: int) -> float:
    """A uniform number in [0, 1) for the n-th match of a rule."""
    digest = hashlib.sha256(f"{seed}\x00{rule_id}\x00{n}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class RuleBook(Generic[R]):
    """The rules of one kind, kept in a :class:`RuleStore`; ``decode`` rebuilds a stored one."""

    def __init__(self, kind: str, store: RuleStore, decode: Callable[[dict[str, Any]], R]) -> None:
        register_rule_kind(kind, decode)
        self.kind = kind
        self._store = store

    def add(self, rule: R) -> R:
        if not self._store.add_rule(self.kind, rule):
            raise RuleInvalid(
                "id",
                f"is taken: a {self.kind} rule named {rule.id!r} exists already (remove it, "
                "or use another id)",
            )
        return rule

    def remove(self, rule_id: str) -> bool:
        return self._store.remove_rule(self.kind, rule_id)

    def clear(self) -> None:
        self._store.clear_rules(self.kind)

    def rules(self) -> list[R]:
        return cast(list[R], self._store.rules(self.kind))

    def transaction(self) -> AbstractContextManager[object]:
        """The store's transaction: several books' changes made atomic together."""
        return self._store.transaction()

    def replace(self, owned: Collection[str], rules: Sequence[R]) -> Replaced:
        """Put ``rules`` in place of the rules whose ids are in ``owned``, atomically.

        What a rules file's new version does to the rules its last version added
        (``serve --watch``). ``rules`` come first, in their order, then every other
        rule, in its order (as when the file was loaded first on a fresh store). A
        rule whose definition is the same as the one in place keeps its counters; a
        changed one starts again from 0. Raises ValueError, changing nothing, when
        one of ``rules`` would take the id of a rule ``owned`` does not name (one
        added through the control API).
        """
        with self._store.transaction():
            current = self.rules()
            by_id = {r.id: r for r in current}
            taken = [r.id for r in rules if r.id in by_id and r.id not in owned]
            if taken:
                raise ValueError(
                    f"a {self.kind} rule named {taken[0]!r} exists already, added through "
                    "the control API: give the file's rule another id, or remove that one"
                )
            incoming = {r.id for r in rules}
            placed: list[R] = []
            done = Replaced()
            for rule in rules:
                old = by_id.get(rule.id)
                if old is None:
                    done.added.append(rule.id)
                elif rule_definition(old) == rule_definition(rule):
                    rule = with_counts(rule, old.matched, old.applied)  # noqa: PLW2901
                    done.kept.append(rule.id)
                else:
                    done.changed.append(rule.id)
                placed.append(rule)
            done.removed = [r.id for r in current if r.id in owned and r.id not in incoming]
            others = [r for r in current if r.id not in owned and r.id not in incoming]
            new = [*placed, *others]
            if [_state(r) for r in new] != [_state(r) for r in current]:
                self._store.clear_rules(self.kind)
                for rule in new:
                    self._store.add_rule(self.kind, rule)
            return done

    def armed(self) -> bool:
        """Can any rule still fire? Cheaper than :meth:`fire` when none can."""
        return any(not used_up(r) for r in self.rules())

    def fire(self, matches: Callable[[R], bool]) -> R | None:
        """The first rule that matches and applies; every matching rule's counters move."""
        if not any(not used_up(r) and matches(r) for r in self.rules()):
            return None  # the common case: nothing to count, so nothing to write
        with self._store.transaction():  # read and count again, atomically
            for rule in self.rules():
                if used_up(rule) or not matches(rule):
                    continue
                n = rule.matched + 1
                applies = rule.share >= 1.0 or draw(rule.seed, rule.id, n) < rule.share
                applied = rule.applied + applies
                self._store.count_rule(self.kind, rule.id, n, applied)
                if applies:
                    return with_counts(rule, n, applied)
            return None


@dataclass
class Replaced:
    """What :meth:`RuleBook.replace` did, by rule id."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # a new definition: counters from 0
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # the same definition and counters

    @property
    def changes(self) -> int:
        return len(self.added) + len(self.changed) + len(self.removed)


def _state(rule: Rule) -> tuple[str, dict[str, Any], int, int]:
    return rule.id, rule_definition(rule), rule.matched, rule.applied


def used_up(rule: Rule) -> bool:
    """Has the rule fired its ``times`` already?"""
    return rule.times is not None and rule.applied >= rule.times
