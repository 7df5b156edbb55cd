"""The suite's own machinery: tests marked ``no_cover`` really run untraced.

Under scripts/check (pytest-xdist and pytest-cov) they once ran traced all the
same, at nearly twice their CPU (see ``pytest_runtest_call`` in tests/conftest.py).
"""

from __future__ import annotations

import sys
import threading

import pytest


@pytest.mark.no_cover
def test_a_no_cover_test_runs_with_no_tracer_on_it_or_its_threads() -> None:
    assert sys.gettrace() is None
    assert threading.gettrace() is None
    seen: list[object] = []
    thread = threading.Thread(target=lambda: seen.append(sys.gettrace()))
    thread.start()
    thread.join()
    assert seen == [None]
