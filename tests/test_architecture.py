"""The package's shape, checked: no import cycles, and storage that knows no domain.

Imports are read from the source (every ``import`` and ``from ... import``,
also those inside functions, since a lazy import hides a cycle without
removing it), so a new cycle fails here before it bites at start-up.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mock_api"

#: What storage may not import: the modules that parse rules, run the service or
#: speak HTTP. A store keeps records; what they mean belongs to the callers.
NOT_FOR_STORAGE = (
    "mock_api.app",
    "mock_api.cli",
    "mock_api.contract",
    "mock_api.faults",
    "mock_api.http",
    "mock_api.routes",
    "mock_api.rules",
    "mock_api.scenarios",
    "mock_api.service",
)
STORAGE = ("mock_api.store", "mock_api.store_sqlite")


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                child = f"{module}.{alias.name}"
                found.add(child if child in known else module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {module for module in found if module in known and module != name}


def _graph() -> dict[str, set[str]]:
    known = _modules()
    return {name: _imports(name, path, known) for name, path in known.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_the_package_has_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


@pytest.mark.parametrize("store", STORAGE)
def test_storage_imports_no_domain_module(store: str) -> None:
    imported = _graph()[store]
    forbidden = sorted(
        module
        for module in imported
        if any(module == bad or module.startswith(bad + ".") for bad in NOT_FOR_STORAGE)
    )
    assert forbidden == [], f"{store} imports {forbidden}"


#: The only modules that hold a store: the service, and the stores themselves.
STORE_HOLDERS = ("mock_api.service", "mock_api.store", "mock_api.store_sqlite")


def test_only_the_service_reaches_the_store() -> None:
    """Routes, the control API, the plugin and the CLI ask the service for named operations."""
    reaching = sorted(
        f"{name}:{node.lineno}"
        for name, path in _modules().items()
        if name not in STORE_HOLDERS
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and node.attr == "store"
    )
    assert reaching == []


#: The service's parts, and the only store protocols each may name: its own concerns.
SERVICE_PARTS = {
    "mock_api.accounts": {"StateStore", "AccountStore", "LimitStore"},
    "mock_api.uploads": {"StateStore", "FileStore"},  # a ticket's PUT is one transaction
    "mock_api.rulebook": {"RuleStore"},
    "mock_api.webhooks": {"DeliveryStore"},
}
_PROTOCOLS = {
    "Store",
    "StateStore",
    "AccountStore",
    "JobStore",
    "FileStore",
    "LimitStore",
    "RuleStore",
    "DeliveryStore",
    "ClockStateStore",
}


@pytest.mark.parametrize("module", sorted(SERVICE_PARTS))
def test_each_part_of_the_service_names_only_its_own_store_protocols(module: str) -> None:
    """A new store (PostgreSQL, say) serves each part once it passes that part's suites."""
    tree = ast.parse(_modules()[module].read_text(encoding="utf-8"))
    named = {
        node.id if isinstance(node, ast.Name) else node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Name | ast.Attribute)
    }
    assert named & _PROTOCOLS <= SERVICE_PARTS[module], sorted(named & _PROTOCOLS)
