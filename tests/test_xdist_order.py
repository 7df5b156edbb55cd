"""The suite's own scheduling under pytest-xdist (tests/xdist_order.py)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tests.xdist_order import ONE_WORKER, make_scheduler

ROOT = Path(__file__).parent.parent


class _Config:
    """What the scheduler reads of pytest's config: three workers, --dist loadgroup."""

    def __init__(self) -> None:
        self.option = SimpleNamespace(tx=["3*popen"], dist="loadgroup", loadscopereorder=True)

    def getvalue(self, name: str) -> Any:
        return getattr(self.option, name)


def test_every_module_kept_on_one_worker_exists() -> None:
    # A renamed module would silently be spread over the workers again.
    for module in ONE_WORKER:
        assert (ROOT / module).is_file(), module


def test_a_listed_module_is_one_unit_of_work_and_any_other_test_its_own() -> None:
    config = _Config()
    scheduler = make_scheduler(config, None)  # type: ignore[arg-type]
    listed = sorted(ONE_WORKER)[0]
    assert scheduler._split_scope(f"{listed}::test_a") == listed
    assert scheduler._split_scope(f"{listed}::test_b[x-y]") == listed
    other = "tests/test_billing.py::test_rounding[5.05 s]"
    assert scheduler._split_scope(other) == other
    # The units go out in the collection's order (the slow tests first), not biggest first.
    assert config.option.loadscopereorder is False
