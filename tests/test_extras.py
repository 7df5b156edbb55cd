"""The extras fit their users: the plugin loads nothing heavy, a missing extra is named.

``pip install "wavespeed-mock[pytest]"`` is for testing one's own client with the
plugin's fixtures; ``[verify]`` adds the contract suite (``verify``, ``parity``);
``[dev]`` is this repository's toolchain. What each promises is checked here in
this environment (every extra installed), by hiding a module in a subprocess:
a ``sitecustomize`` on ``PYTHONPATH`` makes importing it fail as a missing
package does. tests/test_wheel.py installs the extras from the built wheel.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from mock_api.extras import EXTRAS, MissingExtra, require

ROOT = Path(__file__).resolve().parent.parent

#: Imported by Python at start-up from PYTHONPATH: importing a name in $HIDE fails as a
#: package that is not installed does (ModuleNotFoundError naming it).
SITECUSTOMIZE = """
import importlib.abc, os, sys

HIDDEN = set(os.environ["HIDE"].split(","))


class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, Hide())
"""

#: Modules that have no business in a pytest run that only registered the plugin.
HEAVY = ("fastapi", "starlette", "pydantic", "mock_api.testing", "mock_api.app", "schemathesis")

PROBE = f"""
import sys, pytest

class Probe:
    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session):
        print("LOADED", sorted(m for m in {HEAVY!r} if m in sys.modules))

pytest.main(["-p", "mock_api.pytest_plugin", "-p", "no:cacheprovider", "-q", "."],
            plugins=[Probe()])
"""


def _run(
    args: list[str], cwd: Path, hide: str = "", timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    if hide:
        stub = cwd / "_hide"
        stub.mkdir(exist_ok=True)
        (stub / "sitecustomize.py").write_text(SITECUSTOMIZE)
        env["PYTHONPATH"] = str(stub)
        env["HIDE"] = hide
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_registering_the_plugin_loads_nothing_heavy(tmp_path: Path) -> None:
    # Before: pytest lists a plugin's names with dir() to find hooks and fixtures, and
    # the plugin's dir() named the handles it loads on first use, so every pytest run of
    # a user with the plugin installed imported FastAPI and built nothing but paid for
    # it: 0.9 s against 0.2 s for an empty run.
    done = _run([sys.executable, "-c", PROBE], tmp_path)
    assert "LOADED []" in done.stdout, done.stdout + done.stderr


def test_the_handles_still_load_on_first_use() -> None:
    from mock_api import pytest_plugin, testing

    assert pytest_plugin.WavespeedMock is testing.WavespeedMock
    assert "WavespeedMock" in pytest_plugin.__all__


@pytest.mark.parametrize(
    ("command", "hidden"),
    [
        (["verify", "--base-url", "http://127.0.0.1:9", "--api-key", "k"], "schemathesis"),
        # PyAV is imported only when a check measures an output video: without the check
        # first, verify ran (and, against a real server, spent) before finding it missing.
        (["verify", "--base-url", "http://127.0.0.1:9", "--api-key", "k"], "av"),
        (["parity", "check", "--snapshots", "."], "hypothesis"),
    ],
    ids=["verify-schemathesis", "verify-av", "parity-hypothesis"],
)
def test_a_command_without_its_extra_names_the_extra(
    tmp_path: Path, command: list[str], hidden: str
) -> None:
    done = _run([sys.executable, "-m", "mock_api.cli", *command], tmp_path, hide=hidden)
    said = done.stdout + done.stderr
    assert done.returncode == 1, said
    assert done.stderr.strip() == (
        f"Error: {command[0]} needs the verify extra ({hidden} is missing): "
        'pip install "wavespeed-mock[verify]"'
    ), said
    assert "Traceback" not in said


def test_a_fixture_that_cannot_start_names_the_extra(tmp_path: Path) -> None:
    (tmp_path / "test_mine.py").write_text("def test_mine(wavespeed_mock):\n    pass\n")
    done = _run(
        [sys.executable, "-m", "pytest", "-p", "mock_api.pytest_plugin", "-p", "no:cacheprovider"],
        tmp_path,
        hide="fastapi",
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        "wavespeed_mock_settings: the fake cannot start, fastapi is missing; "
        'pip install "wavespeed-mock[pytest]" installs what the plugin\'s fixtures need'
    ) in done.stdout
    assert "Traceback" not in done.stdout
    assert "1 error" in done.stdout


def test_each_extra_declares_what_the_code_imports_from_it() -> None:
    """mock_api.extras names the modules; pyproject.toml must install each with its extra."""
    optional = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]

    def names(extra: str) -> set[str]:
        found: set[str] = set()
        for line in optional[extra]:
            requirement = Requirement(line)
            if requirement.name == "wavespeed-mock":  # another extra of this project
                for inner in requirement.extras:
                    found |= names(inner)
            else:
                found.add(requirement.name)
        return found

    assert set(EXTRAS) == {"pytest", "verify"}
    assert EXTRAS["pytest"] == ("pytest",)
    assert set(EXTRAS["verify"]) == {"pytest", "hypothesis", "schemathesis", "requests", "av"}
    for extra, modules in EXTRAS.items():  # here, import names are distribution names
        assert set(modules) <= names(extra), extra
    # [pytest] stays light: the plugin's fixtures need pytest and nothing else.
    assert names("pytest") == {"pytest"}
    # [dev] is command 2: everything, the docs site's build included.
    assert names("verify") | {"ruff", "mypy", "mkdocs", "mkdocs-material"} <= names("dev")
    assert names("test") == names("dev")  # the old name, kept for one release


def test_require_names_the_extra_and_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(EXTRAS, "verify", ("pytest", "no_such_module_anywhere"))
    with pytest.raises(MissingExtra) as raised:
        require("verify", "verify")
    assert str(raised.value) == (
        "verify needs the verify extra (no_such_module_anywhere is missing): "
        'pip install "wavespeed-mock[verify]"'
    )
    assert raised.value.extra == "verify"


def test_the_contract_suite_under_pytest_names_the_extra(tmp_path: Path) -> None:
    # Before: a collection error, test_schema.py's "ModuleNotFoundError: No module named
    # 'schemathesis'" and its traceback.
    suite = ROOT / "contracts"
    done = _run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(suite), "--co", "-q"],
        tmp_path,
        hide="schemathesis",
    )
    said = done.stdout + done.stderr
    assert done.returncode == 4, said
    assert (
        "ERROR: the contract suite needs the verify extra (schemathesis is missing): "
        'pip install "wavespeed-mock[verify]"'
    ) in said
    assert "Traceback" not in said


def test_require_can_look_without_importing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(EXTRAS, "verify", ("pytest", "no_such_module_anywhere"))
    with pytest.raises(MissingExtra, match=r"\(no_such_module_anywhere is missing\)"):
        require("verify", "the contract suite", load=False)
    monkeypatch.setitem(EXTRAS, "verify", ("pytest", "tests.test_extras_never_imported"))
    with pytest.raises(MissingExtra):  # looked for in a package that has no such module
        require("verify", "the contract suite", load=False)
    monkeypatch.setitem(EXTRAS, "verify", ("pytest", "tomllib"))
    require("verify", "the contract suite", load=False)
