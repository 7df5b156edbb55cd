"""The suite's own machinery: tests marked ``no_cover`` run untraced under
``bash scripts/check --cov`` (pytest-xdist and pytest-cov together).

pytest-cov alone leaves them traced in an xdist worker, at nearly twice their CPU;
tests/untraced.py (loaded by tests/conftest.py) takes the tracer off. Each test runs a
session as ``scripts/check --cov`` does (an xdist worker, branch coverage), in a
subprocess, with and without that plugin: the second shows what the plugin is for, and
fails once pytest-cov pauses correctly by itself (then the plugin can go).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import sys
import threading

import pytest


@pytest.mark.no_cover
def test_untraced():
    assert sys.gettrace() is None
    assert threading.gettrace() is None
    seen = []
    thread = threading.Thread(target=lambda: seen.append(sys.gettrace()))
    thread.start()
    thread.join()
    assert seen == [None]


def test_traced():
    assert sys.gettrace() is not None
"""


def _session(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *plugins: str
) -> pytest.RunResult:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # for -p tests.untraced
    pytester.makepyfile(test_probe=PROBE)
    return pytester.runpytest_subprocess(
        "-n", "1", "--cov=mock_api", "--cov-branch", "--cov-report=", "-p", "no:cacheprovider",
        *plugins,
    )  # fmt: skip


def test_a_no_cover_test_runs_with_no_tracer_on_it_or_its_threads(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _session(pytester, monkeypatch, "-p", "tests.untraced")
    result.assert_outcomes(passed=2)


def test_without_the_plugin_pytest_cov_leaves_it_traced_under_xdist(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _session(pytester, monkeypatch)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*FAILED test_probe.py::test_untraced*"])
