"""Loading scenario and fault rules from YAML (``serve --scenarios FILE``).

The file holds two lists, ``scenarios`` and ``faults``, in the same form the
control API takes; ``fixtures/scenarios.example.yaml`` shows every field.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from mock_api.errors import MockAPIError
from mock_api.faults import fault_from_dict
from mock_api.scenarios import rule_from_dict
from mock_api.service import MockService


def load_rules(service: MockService, text: str) -> tuple[int, int]:
    """Add the file's rules to the service; returns (scenarios, faults) added."""
    try:
        document: Any = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {exc}") from None
    if not isinstance(document, Mapping) or set(document) - {"scenarios", "faults"}:
        raise ValueError("a rules file is a mapping with 'scenarios' and/or 'faults' lists")
    scenarios = _items(document, "scenarios")
    faults = _items(document, "faults")
    # Each rule is checked against the same schema as the control API's.
    for index, item in enumerate(scenarios):
        with _numbered("scenarios", index):
            service.spec.validate_body("addScenario", item)
            service.scenarios.add(rule_from_dict(item))
    for index, item in enumerate(faults):
        with _numbered("faults", index):
            service.spec.validate_body("addFault", item)
            service.faults.add(fault_from_dict(item))
    return len(scenarios), len(faults)


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
