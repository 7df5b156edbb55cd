"""tests/once.py: work shared by a run's pytest-xdist workers is done once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

#: Where ``tests`` is importable from, for the inner run.
ROOT = Path(__file__).resolve().parent.parent

SHARED = """
import os
import time
from pathlib import Path

import pytest

from tests.once import once_per_run

LOG = Path({log!r})


def make(where: Path) -> None:
    with LOG.open("a") as log:
        log.write(os.environ.get("PYTEST_XDIST_WORKER", "main") + "\\n")
    time.sleep(0.5)  # long enough for every worker to be waiting on it
    (where / "made").write_text("yes")


@pytest.mark.parametrize("n", range(6))
def test_shared(tmp_path_factory, n):
    where = once_per_run(tmp_path_factory, "thing", make)
    assert (where / "made").read_text() == "yes"
"""


@pytest.mark.skipif(sys.platform == "win32", reason="no flock: each worker works alone")
def test_three_workers_do_the_work_once(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: with pytest 9.2, xdist_group kept nothing together and the wheel was
    # built by every worker that ran one of its tests.
    log = pytester.path / "made.log"
    pytester.makepyfile(test_shared=SHARED.format(log=str(log)))
    # Only xdist: the workers start in a fraction of the time the whole set of plugins takes.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = pytester.runpytest_subprocess(
        *("-p", "xdist", "-n", "3", "-p", "no:cacheprovider"),
        *("-o", f"pythonpath={ROOT}"),
    )
    result.assert_outcomes(passed=6)
    assert len(log.read_text().splitlines()) == 1


def test_a_failed_attempt_is_tried_again(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from tests.once import once_per_run

    attempts: list[int] = []

    def flaky(where: object) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("the first build failed")

    name = f"flaky-{id(attempts)}"
    with pytest.raises(RuntimeError):
        once_per_run(tmp_path_factory, name, flaky)
    once_per_run(tmp_path_factory, name, flaky)
    once_per_run(tmp_path_factory, name, flaky)
    assert len(attempts) == 2
