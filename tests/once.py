"""Work done once per test run, however many pytest-xdist workers need it.

The usual way to share an expensive fixture, ``xdist_group`` and ``--dist
loadgroup``, keeps its tests on one worker; with pytest 9.2 that mark is
ignored (pytest-dev/pytest-xdist#1386), and the wheel was built and installed
three times a run. This needs no scheduler: the workers of one run share the
parent of their base temporary directories, and the first to take the lock
does the work there; the others wait for it, then find it done.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import pytest

fcntl: ModuleType | None
try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


def once_per_run(
    tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]
) -> Path:
    """The directory ``name`` that ``make`` filled, once for this whole run.

    If ``make`` raises, the directory is not marked done: the next caller tries
    again (and reports its own failure). Without ``fcntl`` (Windows) each worker
    does the work in a directory of its own.
    """
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if fcntl is not None and os.environ.get("PYTEST_XDIST_WORKER") else base
    where, done = shared / name, shared / f"{name}.done"
    with _exclusive(shared / f"{name}.lock"):
        if not done.exists():
            if where.exists():
                shutil.rmtree(where)
            where.mkdir()
            make(where)
            done.touch()
    return where


@contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    if fcntl is None:  # pragma: no cover - Windows: nothing is shared, nothing to lock
        yield
        return
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
