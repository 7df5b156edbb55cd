"""Tests marked ``no_cover`` run untraced, under pytest-xdist too (a pytest plugin).

Loaded by tests/conftest.py; matters under ``bash scripts/check --cov``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """pytest-cov pauses its coverage for ``no_cover`` tests, but in an xdist worker it
    has started two (one as if the worker ran alone, then the worker's own), and pausing
    the second resumes the first: the fuzz tests ran traced, at nearly twice the CPU.
    This runs inside pytest-cov's pause (``trylast``: the innermost wrapper) and takes
    whatever tracer is left off this thread and new threads until the test ends.
    """
    if item.get_closest_marker("no_cover") is None:
        return (yield)
    tracer, thread_tracer = sys.gettrace(), threading.gettrace()
    sys.settrace(None)
    threading.settrace(None)
    try:
        return (yield)
    finally:
        threading.settrace(thread_tracer)
        sys.settrace(tracer)
