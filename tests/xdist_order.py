"""Which tests run where under pytest-xdist, and in which order.

Two things make the suite fit its time on two cores (scripts/check):

* **Order** (:func:`rank`): the longest chains of work start first (the wheel,
  then the tests marked ``slow``), then the tests marked ``waits``, which spend
  most of their time waiting on the wall clock (jobs at a real pace, webhook
  retries), so that their waits overlap the tests that keep the cores busy
  instead of leaving the cores idle together at the end.
* **Placement** (:class:`ModulesOnOneWorker`): the modules of :data:`ONE_WORKER`
  run whole on one worker, in order, because their tests share something
  costly to make: each worker that ran one of them made it again (three
  ``serve`` instances) or sat idle waiting for another to make it (a recording
  of the parity scenarios by URL, the wheel). Every other test is its own unit
  of work, handed to whichever worker is free.

pytest-xdist's own way to keep tests together, ``@pytest.mark.xdist_group`` with
``--dist loadgroup``, keeps nothing together under pytest 9.2: the worker
renames each grouped test's node id to carry its group, and pytest no longer
reads the renamed id (pytest-dev/pytest-xdist#1386; tests/once.py shares the
work itself for that reason). The controller, where scheduling happens, sees
only node ids: so the modules are named here.
"""

from __future__ import annotations

from typing import Any

import pytest

#: Test modules run whole on one worker under ``--dist loadgroup``, and why.
ONE_WORKER: dict[str, str] = {
    "tests/test_postgres_instances.py": "its first four tests share three serve instances",
    "tests/test_parity.py": "three tests read one recording by URL that takes ~15 s to make",
    "tests/test_wheel.py": "its tests share one built wheel and its venvs",
    "tests/test_dashboard_browser.py": "its tests share one headless Chromium (~3 s to start)",
}


def rank(item: pytest.Item) -> int:
    """Where ``item`` goes in the run: lower first; the sort is stable."""
    if item.get_closest_marker("wheel") is not None:
        return 0
    if item.get_closest_marker("slow") is not None:
        return 1
    return 2 if item.get_closest_marker("waits") is not None else 3


def make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup``'s scheduler with :data:`ONE_WORKER`'s modules each one unit
    of work, in the collection's order (:func:`rank`'s), not largest unit first."""
    from xdist.scheduler import LoadGroupScheduling  # type: ignore[import-untyped]

    class ModulesOnOneWorker(LoadGroupScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module in ONE_WORKER else str(super()._split_scope(nodeid))

    # pytest-xdist otherwise sends the units with the most tests first, whatever the
    # collection's order: the parity module's 35 mostly idle tests ahead of the fuzz test.
    config.option.loadscopereorder = False
    return ModulesOnOneWorker(config, log)
