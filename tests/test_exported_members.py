"""The public API is what ``__all__`` says, sorted, and nothing is missing from it.

And importing the package, or the pytest plugin pytest imports at start-up,
imports none of the rest: the public names load on first use.
"""

import ast
import subprocess
import sys
from pathlib import Path

import mock_api


def test_all_is_sorted_and_complete() -> None:
    assert mock_api.__all__ == sorted(mock_api.__all__, key=lambda n: (not n.isupper(), n))
    for name in mock_api.__all__:
        assert hasattr(mock_api, name), name
    public = {
        n
        for n in vars(mock_api)
        if not n.startswith("_") and not isinstance(getattr(mock_api, n), type(mock_api))
    }
    assert public == set(mock_api.__all__)


def test_every_public_name_has_one_home() -> None:
    assert set(mock_api._HOMES) == set(mock_api.__all__)


def test_the_package_and_the_plugin_import_nothing_else_until_used() -> None:
    # pytest imports the plugin (the pytest11 entry point) before pytest-cov starts
    # measuring: whatever it imported then had its module-level lines counted as
    # never run (the coverage figure read ~15 points low).
    script = (
        "import sys, mock_api, mock_api.pytest_plugin\n"
        "print(sorted(m for m in sys.modules if m.startswith('mock_api')))\n"
        "from mock_api import MockService\n"
        "print('mock_api.service' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    loaded, service = done.stdout.splitlines()
    assert loaded == "['mock_api', 'mock_api.pytest_plugin']"
    assert service == "True"


def test_the_handles_are_still_importable_from_the_plugin() -> None:
    from mock_api import pytest_plugin, testing

    for name in pytest_plugin.__all__:
        assert getattr(pytest_plugin, name) is getattr(testing, name)


def test_type_checkers_never_see_a_module_level_getattr() -> None:
    # Before: mock_api and its plugin defined __getattr__(...) -> Any where mypy saw it,
    # so `from mock_api import Setings` (misspelt) passed mypy --strict in users' code.
    package = Path(mock_api.__file__).parent
    exposed = []
    for path in package.rglob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
                exposed.append(str(path.relative_to(package)))
    assert exposed == [], "define module-level __getattr__ under `if not TYPE_CHECKING:`"
