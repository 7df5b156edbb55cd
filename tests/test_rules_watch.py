"""``serve --rules FILE --watch``: the rules file is read again when it changes.

Most tests call :meth:`RulesWatcher.check` (one look at the file) directly, after
loading the file as ``serve`` does; one runs the watcher's thread with a 10 ms
interval, and one runs ``serve`` itself. Each edit moves the file's modification
time a second on, so a file system with a coarse clock still shows the change.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from mock_api import ManualClock, MockService, Settings
from mock_api.cli import main
from mock_api.errors import Unavailable
from mock_api.rulebook import RuleBook
from mock_api.rules import add_rules, read_rules
from mock_api.scenarios import ScenarioRule, Then
from mock_api.storage import Store
from mock_api.stubs import StubRule
from mock_api.watch import Reload, RulesWatcher, signature
from tests.live import ServerProcess
from tests.store_suites.conftest import STORES

V1 = """\
scenarios:
  - {id: s-same, then: nsfw, times: 5}
  - {id: s-gone, then: fail}
faults:
  - {id: f-change, kind: status, status: 503, path: /api/v3/balance}
stubs:
  - {id: st-same, path: /api/v3/balance, text: v1}
"""
V2 = """\
scenarios:
  - {id: s-new, then: complete}
  - {id: s-same, then: nsfw, times: 5}
faults:
  - {id: f-change, kind: status, status: 500, path: /api/v3/balance}
stubs:
  - {id: st-same, path: /api/v3/balance, text: v1}
"""


def write(path: Path, text: str) -> None:
    """A new version of the file, its mtime a second past the last one's."""
    last = path.stat().st_mtime_ns if path.exists() else time.time_ns()
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(last + 1_000_000_000, last + 1_000_000_000))


def watched(service: MockService, path: Path, text: str, interval: float = 0.5) -> RulesWatcher:
    """The file written and loaded as ``serve --rules path --watch`` loads it."""
    write(path, text)
    seen = signature(path)
    rules = read_rules(service.spec, path.read_text(encoding="utf-8"))
    add_rules(service, *rules, keep_existing=True)
    return RulesWatcher(service, path, rules, seen, interval=interval)


def state(service: MockService) -> dict[str, list[tuple[str, int, int]]]:
    """Every rule as (id, matched, applied), by section, in order."""
    books: dict[str, RuleBook[Any]] = {
        "scenarios": service.scenarios,
        "faults": service.faults,
        "stubs": service.stubs,
    }
    return {name: [(r.id, r.matched, r.applied) for r in b.rules()] for name, b in books.items()}


def definitions(service: MockService) -> list[dict[str, Any]]:
    books = (service.scenarios, service.faults, service.stubs)
    return [r.as_dict() for book in books for r in book.rules()]


@pytest.fixture
def service() -> MockService:
    return MockService(Settings(), ManualClock())


def _with_api_rules_and_counters(service: MockService) -> None:
    """Rules added through the control API, and counters on the file's rules."""
    service.scenarios.add(ScenarioRule(id="api-rule", then=Then.COMPLETE))
    service.stubs.add(StubRule(id="api-stub", path="/nowhere"))
    for _ in range(2):
        service.scenarios.fire(lambda r: r.id == "s-same")
    service.faults.fire(lambda r: r.id == "f-change")
    service.stubs.fire(lambda r: r.id == "st-same")


@pytest.mark.parametrize("kind", list(STORES))
def test_a_good_edit_replaces_the_files_rules_keeping_the_others_and_unchanged_counters(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store: Store = STORES[kind](request)
    service = MockService(Settings(), ManualClock(), store)
    watcher = watched(service, tmp_path / "rules.yaml", V1)
    _with_api_rules_and_counters(service)
    assert watcher.check() is Reload.UNCHANGED

    write(tmp_path / "rules.yaml", V2)
    with caplog.at_level(logging.INFO, logger="wavespeed_mock.rules"):
        assert watcher.check() is Reload.RELOADED

    assert state(service) == {
        # The file's rules first, in its order, then the control API's.
        "scenarios": [("s-new", 0, 0), ("s-same", 2, 2), ("api-rule", 0, 0)],
        "faults": [("f-change", 0, 0)],  # changed: its counters start again
        "stubs": [("st-same", 1, 1), ("api-stub", 0, 0)],
    }
    assert service.faults.rules()[0].status == 500
    [line] = [r for r in caplog.records if r.name == "wavespeed_mock.rules"]
    assert line.levelno == logging.INFO
    assert line.getMessage() == (
        f"{tmp_path / 'rules.yaml'} reloaded: 1 rule added, 1 changed (their counters start "
        "again), 1 removed, 2 unchanged (their counters kept)"
    )
    assert watcher.check() is Reload.UNCHANGED
    store.close()


def test_the_same_rules_written_again_change_nothing(service: MockService, tmp_path: Path) -> None:
    watcher = watched(service, tmp_path / "rules.yaml", V1)
    _with_api_rules_and_counters(service)
    before = state(service)

    write(tmp_path / "rules.yaml", "# a comment\n" + V1)

    assert watcher.check() is Reload.RELOADED
    assert state(service) == before


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            "stubs: [ {id: a\n",
            "line 2, column 1: not valid YAML: did not find expected ',' or '}' (while "
            "parsing a flow mapping at line 1)",
        ),
        (
            "stubs:\n  - id: a\n    headers:\n      Content-Length: '3'\n",
            "line 4: stubs #1, key 'headers.Content-Length': cannot be set by a stub",
        ),
        ("scenarios:\n  - {id: s-same, then: explode}\n", "line 2: scenarios #1, key 'then': "),
        ("stub: []\n", "line 1: unknown key 'stub' (did you mean 'stubs'?)"),
        (
            "stubs: [{id: api-stub, text: x}]\n",
            "stubs: a stub rule named 'api-stub' exists already, added through the control API",
        ),
    ],
    ids=["yaml", "framing-header", "unknown-then", "unknown-section", "taken-id"],
)
def test_a_bad_edit_is_logged_naming_the_file_line_and_field_and_changes_nothing(
    service: MockService,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    text: str,
    error: str,
) -> None:
    path = tmp_path / "rules.yaml"
    watcher = watched(service, path, V1)
    _with_api_rules_and_counters(service)
    before, kept = state(service), definitions(service)

    write(path, text)
    with caplog.at_level(logging.INFO, logger="wavespeed_mock.rules"):
        assert watcher.check() is Reload.REFUSED
        assert watcher.check() is Reload.UNCHANGED  # said once, not at every look

    assert (state(service), definitions(service)) == (before, kept)
    [line] = [r for r in caplog.records if r.name == "wavespeed_mock.rules"]
    assert line.levelno == logging.WARNING
    message = line.getMessage()
    assert message.startswith(f"{path}, ")
    assert error in message
    assert "\n" not in message  # one line, naming the file (not "<unicode string>")
    assert message.endswith("; not reloaded: the rules in force stay")
    write(path, V2)  # the next good edit is taken
    assert watcher.check() is Reload.RELOADED
    assert [r[0] for r in state(service)["scenarios"]] == ["s-new", "s-same", "api-rule"]


def test_an_emptied_file_is_read_again_once_it_is_written(
    service: MockService, tmp_path: Path
) -> None:
    path = tmp_path / "rules.yaml"
    watcher = watched(service, path, V1)
    before = state(service)

    write(path, "")  # an editor truncating before it writes

    assert watcher.check() is Reload.UNCHANGED
    assert state(service) == before
    write(path, V2)
    assert watcher.check() is Reload.RELOADED
    write(path, "{}\n")  # no rules, said so: the file's rules go
    assert watcher.check() is Reload.RELOADED
    assert state(service) == {"scenarios": [], "faults": [], "stubs": []}


def test_a_file_written_while_it_is_read_is_read_at_the_next_look(
    service: MockService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rules.yaml"
    watcher = watched(service, path, V1)
    write(path, V2)
    real = signature(path)
    assert real is not None
    looks = iter([real, (real[0], real[1] + 1, real[2] + 1)])  # it grew while read
    monkeypatch.setattr("mock_api.watch.signature", lambda p: next(looks, real))

    assert watcher.check() is Reload.UNCHANGED
    assert [r[0] for r in state(service)["scenarios"]] == ["s-same", "s-gone"]
    assert watcher.check() is Reload.RELOADED


def test_a_missing_file_keeps_the_rules_until_it_is_back(
    service: MockService, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "rules.yaml"
    watcher = watched(service, path, V1)
    before = state(service)
    path.unlink()

    with caplog.at_level(logging.WARNING, logger="wavespeed_mock.rules"):
        assert watcher.check() is Reload.REFUSED
        assert watcher.check() is Reload.UNCHANGED
    [line] = caplog.records
    assert line.getMessage() == (
        f"{path}, cannot be read (it is gone?); not reloaded: the rules in force stay"
    )
    assert state(service) == before
    write(path, V2)
    assert watcher.check() is Reload.RELOADED


def test_a_store_that_cannot_take_the_change_now_is_tried_again(
    service: MockService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rules.yaml"
    watcher = watched(service, path, V1)
    write(path, V2)
    from mock_api import rules, watch

    real = rules.replace_rules
    calls = iter([Unavailable("the database is busy", retry_after_seconds=1)])

    def busy_once(*args: Any) -> Any:
        for exc in calls:
            raise exc
        return real(*args)

    monkeypatch.setattr(watch, "replace_rules", busy_once)

    assert watcher.check() is Reload.RETRY
    assert [r[0] for r in state(service)["scenarios"]] == ["s-same", "s-gone"]
    assert watcher.check() is Reload.RELOADED


def test_the_watchers_thread_reloads_and_stops(service: MockService, tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    watcher = watched(service, path, V1, interval=0.01).start()
    try:
        write(path, V2)
        deadline = time.monotonic() + 5
        while state(service)["scenarios"][0][0] != "s-new":
            assert time.monotonic() < deadline, "not reloaded within 5 s"
            time.sleep(0.01)
        assert "rules-watch" in [t.name for t in threading.enumerate()]
    finally:
        watcher.stop()
    assert "rules-watch" not in [t.name for t in threading.enumerate()]


def test_watch_needs_a_rules_file() -> None:
    outcome = CliRunner().invoke(main, ["serve", "--port", "0", "--watch"])
    assert outcome.exit_code == 2, outcome.output
    assert "--watch watches a rules file: give it with --rules FILE" in outcome.output


@pytest.fixture
def rules_server(tmp_path: Path) -> Iterator[tuple[ServerProcess, Path]]:
    path = tmp_path / "rules.yaml"
    write(path, "stubs:\n  - {id: first, path: /api/v3/balance, text: v1}\n")
    server = ServerProcess("--rules", str(path), "--watch", "--db", ":memory:")
    try:
        yield server.start(), path
    finally:
        server.close()


def _stub_ids(server: ServerProcess) -> list[str]:
    answer = httpx.get(f"{server.url}/_mock/stubs", timeout=5).json()
    return [rule["id"] for rule in answer["data"]["stubs"]]


def test_serve_watch_reloads_a_good_edit_and_logs_a_bad_one(
    rules_server: tuple[ServerProcess, Path],
) -> None:
    server, path = rules_server
    assert _stub_ids(server) == ["first"]
    assert (
        httpx.get(f"{server.url}/api/v3/balance", headers={"Authorization": "Bearer k"}).text
        == "v1"
    )

    write(path, "stubs:\n  - {id: second, path: /api/v3/balance, text: v2}\n")
    deadline = time.monotonic() + 10
    while _stub_ids(server) != ["second"]:
        assert time.monotonic() < deadline, server.output
        time.sleep(0.05)

    write(path, "stubs:\n  - {id: third, status: 700}\n")
    while "not reloaded" not in server.output:
        assert time.monotonic() < deadline, server.output
        time.sleep(0.05)
    assert f"{path}, line 2: stubs #1, key 'status': " in server.output
    assert _stub_ids(server) == ["second"]
