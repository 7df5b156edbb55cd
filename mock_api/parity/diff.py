"""Two snapshots compared path by path, with accepted differences and their reasons.

A snapshot is plain JSON; :func:`flatten` turns it into ``{path: value}``
(``exchanges[2].response.json.data.status``), and :func:`compare` lists every
path whose value differs, or that only one side has. A difference the
snapshot's ``accepted`` table names (by path, ``*`` standing for any run of
characters: :func:`matches`) is reported as accepted, with its reason, rather than as a failure.

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["MISSING", "Difference", "compare", "flatten", "matches"]

#: The value of a path one side does not have.
MISSING = "<absent>"


@dataclass(frozen=True)
class Difference:
    path: str
    recorded: Any
    now: Any
    #: Why this difference is accepted (``accepted`` in the snapshot); ``None``: it is not.
    accepted: str | None = None

    def describe(self) -> str:
        how = f" (accepted: {self.accepted})" if self.accepted else ""
        return f"{self.path}: recorded {self.recorded!r}, now {self.now!r}{how}"


def matches(pattern: str, path: str) -> bool:
    """``pattern`` names ``path`` exactly, or with ``*`` standing for any run of characters
    (``exchanges[0].response.json.data[*].sort_order``); brackets are literal."""
    return re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), path) is not None


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf of a JSON value by its path; empty containers are leaves."""
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value:
        out = {}
        for index, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{index}]"))
        return out
    return {prefix: value}


def compare(recorded: Any, now: Any, accepted: Mapping[str, str] | None = None) -> list[Difference]:
    """Every path where ``now`` differs from ``recorded``, marked accepted where it is."""
    before, after = flatten(recorded), flatten(now)
    differences = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path, MISSING), after.get(path, MISSING)
        if old == new:
            continue
        reason = next(
            (why for pattern, why in (accepted or {}).items() if matches(pattern, path)),
            None,
        )
        differences.append(Difference(path, old, new, reason))
    return differences
