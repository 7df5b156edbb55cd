"""The package's shape, checked: no import cycles, and storage that knows no domain.

Imports are read from the source (every ``import`` and ``from ... import``,
also those inside functions, since a lazy import hides a cycle without
removing it), so a new cycle fails here before it bites at start-up.

Storage (``mock_api.storage`` and its backends) imports the records it stores
and nothing else of the domain: every name it takes from a domain module must
be a record (a dataclass or an enum), which is checked by importing it. Each
backend is one small class per concern, and only the modules that choose a
backend (the service, the app, ``serve``'s options, the package's exports)
import one.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mock_api"

#: Modules storage may import names from, but only records (dataclasses, enums, types).
RECORD_MODULES = ("mock_api.records", "mock_api.lifecycle", "mock_api.billing", "mock_api.quotas")
#: ... and the one exception hierarchy, for the error a store raises when it cannot answer.
STORAGE_MAY_RAISE = {"mock_api.errors": {"Unavailable"}}
#: The modules that choose a backend; nothing else imports one.
BACKEND_CHOOSERS = ("mock_api", "mock_api.app", "mock_api.service", "mock_api.serving")
#: Each concern, and the methods its protocol names (besides ``transaction``).
CONCERNS = ("accounts", "jobs", "files", "limits", "rules", "deliveries", "clock")


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


def _storage_modules() -> list[str]:
    return sorted(name for name in _modules() if name.split(".")[:2] == ["mock_api", "storage"])


def _imported_names(name: str) -> list[tuple[str, str]]:
    """(module, name) for each ``from mock_api... import name`` of the module, lazy ones too."""
    path = _modules()[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([module] if module else [])])
            found.extend((module, alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            found.extend((alias.name, "") for alias in node.names)
    return [(module, n) for module, n in found if module.split(".")[0] == "mock_api"]


def _is_record(value: object) -> bool:
    return isinstance(value, type) and (
        dataclasses.is_dataclass(value) or issubclass(value, enum.Enum)
    )


def test_storage_modules_are_found() -> None:
    assert {"mock_api.storage", "mock_api.storage.memory", "mock_api.storage.sql"} <= set(
        _storage_modules()
    )


@pytest.mark.parametrize("store", _storage_modules())
def test_storage_imports_only_records_from_the_domain(store: str) -> None:
    """Every name a store takes from outside storage is a record it stores (or its error)."""
    wrong = []
    for module, name in _imported_names(store):
        if module.startswith("mock_api.storage"):
            continue
        if name in STORAGE_MAY_RAISE.get(module, ()):
            continue
        if module not in RECORD_MODULES:
            wrong.append(f"{module}.{name}: not a records module")
            continue
        value = getattr(importlib.import_module(module), name)
        if module != "mock_api.records" and not _is_record(value):
            wrong.append(f"{module}.{name}: not a record")
    assert wrong == [], f"{store} imports {wrong}"


def test_the_storage_checks_catch_a_domain_import(tmp_path: Path) -> None:
    """The check above fails on a store that imports a domain function."""
    assert not _is_record(importlib.import_module("mock_api.billing").quote)
    assert _is_record(importlib.import_module("mock_api.billing").Quote)
    assert _is_record(importlib.import_module("mock_api.records").EntryKind)


def test_records_and_storage_load_no_http_client_nor_yaml() -> None:
    """Importing storage (or the records) costs neither httpx nor PyYAML nor the app."""
    code = (
        "import sys, mock_api.storage.memory, mock_api.storage.sqlite, mock_api.storage.sql;"
        "print(sorted(m for m in ('httpx', 'yaml', 'fastapi', 'starlette', 'mock_api.service')"
        " if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def _backends() -> list[str]:
    return [
        name
        for name in _storage_modules()
        if name not in ("mock_api.storage", "mock_api.storage.sql", "mock_api.storage.chooser")
    ]


def test_only_the_modules_that_choose_a_backend_import_one() -> None:
    backends = set(_backends()) | {"mock_api.storage.sql"}
    importing = sorted(
        f"{name} -> {module}"
        for name, imported in _graph().items()
        if name not in BACKEND_CHOOSERS and not name.startswith("mock_api.storage")
        for module in imported
        if module in backends
    )
    assert importing == []


def _members(protocol: type) -> set[str]:
    return {
        name
        for klass in protocol.__mro__
        if klass.__module__ == "mock_api.storage"
        for name in vars(klass)
        if not name.startswith("_")
    } - {"transaction"}


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_each_backend_is_one_small_class_per_concern(backend: str, tmp_path: Path) -> None:
    """Each concern of a store is its own object, with that concern's methods and no other's."""
    import typing

    from mock_api.storage import Store
    from mock_api.storage.memory import MemoryStore
    from mock_api.storage.sqlite import SqliteStore

    store = MemoryStore() if backend == "memory" else SqliteStore(tmp_path / "s.db")
    hints = typing.get_type_hints(Store.__dict__[CONCERNS[0]].fget)  # a property per concern
    assert hints["return"].__name__ == "AccountStore"
    protocols = {
        concern: typing.get_type_hints(getattr(Store, concern).fget)["return"]
        for concern in CONCERNS
    }
    every = set().union(*(_members(p) for p in protocols.values()))
    objects = {concern: getattr(store, concern) for concern in CONCERNS}
    assert len({id(o) for o in objects.values()}) == len(CONCERNS)
    for concern, protocol in protocols.items():
        own = _members(protocol)
        public = {n for n in dir(objects[concern]) if not n.startswith("_")}
        assert own <= public, f"{concern} lacks {own - public}"
        others = (public & every) - own
        assert others == set(), f"{backend} {concern} also does {others}"
    store.close()


#: The only modules that hold a store: the service, and the stores themselves.
STORE_HOLDERS = ("mock_api.service", *_storage_modules())


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
    "mock_api.accounts": {"AccountStore", "LimitStore"},
    "mock_api.uploads": {"FileStore"},
    "mock_api.history": {"JobStore"},
    "mock_api.rulebook": {"RuleStore"},
    "mock_api.webhooks": {"DeliveryStore"},
    "mock_api.clock": {"ClockStateStore"},
}
_PROTOCOLS = {
    "Store",
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
