"""Build each operation's schemathesis test when it runs, not when pytest collects it.

``@schema.parametrize()`` makes one pytest item per operation, and schemathesis
builds each item's Hypothesis test while collecting: the examples phase draws
its examples and the coverage phase computes every boundary and negated
constraint. For ``openapi.yaml`` that is about 3 s of CPU in every process
that collects ``contracts/test_schema.py``, whether or not the items run: each
pytest-xdist worker, and every ``verify -k lifecycle`` or ``pytest contracts
-k billing``, which then deselect them all.

:func:`install` swaps schemathesis's builder for one that returns a
:class:`LazyOperationTest`: the same name, signature, marks and
``is_hypothesis_test`` as the built test (what pytest and Hypothesis's plugin
read while collecting), which builds the real test on its first call or the
first read of one of Hypothesis's attributes, and from then on is that test.
Items, their ids, fixtures and marks are unchanged. Three things differ: a spec
that schemathesis cannot build a test from fails the item that runs it instead
of its collection; reports locate the items at the test function rather than
inside schemathesis; and ``-k`` no longer matches the names of Hypothesis's
attributes on the built test (``-k settings`` or ``-k seed`` selected every
operation's item).

The builder is a private name of schemathesis (``schemathesis.pytest._test_builder``,
pinned ``<5`` in ``pyproject.toml``); if it moves, :func:`install` leaves
collection as it was and says nothing: only the time changes.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

#: On the swapped-in builder: schemathesis's own, which it calls when a test runs.
_EAGER = "_wavespeed_eager"


#: Attributes the built test has that the test function does not: Hypothesis's
#: handle, settings and examples, schemathesis's marks. Reading one builds the test.
_BUILT_ONLY = ("hypothesis", "_hypothesis", "_schemathesis", "__wrapped_target")


class LazyOperationTest:
    # No class docstring: an instance's ``__doc__`` is the test's (see below).

    # Slots hold what is not the test's own. The instance's __dict__ holds what the built
    # test's does: until it is built, the test function's (its pytest marks), as
    # functools.wraps copies it; then the built test's. (pytest matches ``-k`` against the
    # names in a test function's __dict__.)
    __slots__ = (
        "__code__",
        "__dict__",
        "__name__",
        "__qualname__",
        "__signature__",
        "_build",
        "_built",
        "_test_func",
    )

    #: Read by Hypothesis's pytest plugin while collecting (to mark the item); the
    #: built test says the same.
    is_hypothesis_test = True

    def __init__(
        self,
        build: Callable[[], Callable[..., Any]],
        test_func: Callable[..., Any],
        given: set[str],
    ) -> None:
        self.__dict__.update(test_func.__dict__)
        self.__name__ = test_func.__name__
        self.__qualname__ = test_func.__qualname__
        # The code object locates the item in reports (pytest's getfslineno).
        self.__code__ = test_func.__code__
        # The fixtures pytest passes: the test's parameters but those schemathesis draws.
        signature = inspect.signature(test_func)
        self.__signature__ = signature.replace(
            parameters=[p for name, p in signature.parameters.items() if name not in given]
        )
        self._build = build
        self._built: Callable[..., Any] | None = None
        self._test_func = test_func

    @property
    def __doc__(self) -> str | None:  # type: ignore[override]
        return self._test_func.__doc__

    @property
    def __module__(self) -> str:  # type: ignore[override]
        return self._test_func.__module__

    def built(self) -> Callable[..., Any]:
        """The real test, which schemathesis builds on the first call or read of it."""
        if self._built is None:
            self._built = self._build()
            self.__dict__.update(self._built.__dict__)
        return self._built

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        return self.built()(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        # Only names not found above. pytest and inspect probe test functions for
        # names they may lack (``patchings``, ``__wrapped__``...): those are missing
        # until the test is built, and asking does not build it.
        if not name.startswith(_BUILT_ONLY):
            raise AttributeError(name)
        return getattr(self.built(), name)


def install() -> None:
    """Make schemathesis build each operation's test lazily, in this process."""
    try:
        from schemathesis.pytest import _test_builder
    except ImportError:  # pragma: no cover - a schemathesis that moved its builder
        return
    eager = getattr(_test_builder, "build_operation_test", None)
    if eager is None or hasattr(eager, _EAGER):
        return

    def build_operation_test(**kwargs: Any) -> Callable[..., Any]:
        test_func: Callable[..., Any] = kwargs["test_func"]
        given = {"case", *kwargs.get("given_kwargs", {})}
        return LazyOperationTest(lambda: eager(**kwargs), test_func, given)

    setattr(build_operation_test, _EAGER, eager)
    _test_builder.build_operation_test = build_operation_test
