"""test_schema.py's items build their Hypothesis tests when they run, not when collected.

``mock_api/contract/lazy.py``: a run that deselects them (``verify -k lifecycle``)
or runs them on another pytest-xdist worker no longer pays the ~3 s schemathesis
spends building each operation's examples and coverage cases.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
from schemathesis.pytest import _test_builder

from mock_api.contract.lazy import LazyOperationTest, install
from mock_api.spec import default_spec
from tests.test_contracts_by_url import ROOT

pytest_plugins = ["pytester"]


def _a_test(case: object, target: object, spender: object) -> None:
    """conforms to the spec"""


_a_test.pytestmark = [pytest.mark.skipif(False, reason="a mark of its own")]  # type: ignore[attr-defined]


class _Built:
    """What schemathesis's builder returns: the test with Hypothesis's attributes."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.hypothesis = "the handle"
        self._hypothesis_internal_use_settings = "the settings"

    def __call__(self, **kwargs: Any) -> str:
        self.calls.append(kwargs)
        return "ran"


def _lazy() -> tuple[LazyOperationTest, list[_Built]]:
    builds: list[_Built] = []

    def build() -> Callable[..., Any]:
        builds.append(_Built())
        return builds[-1]

    return LazyOperationTest(build, _a_test, {"case"}), builds


def test_it_looks_like_the_built_test_to_collection_without_building() -> None:
    lazy, builds = _lazy()
    assert str(inspect.signature(lazy)) == "(target: 'object', spender: 'object') -> 'None'"
    assert lazy.__name__ == "_a_test"
    assert lazy.__doc__ == "conforms to the spec"
    assert lazy.__module__ == __name__
    assert lazy.__code__ is _a_test.__code__
    assert lazy.pytestmark == _a_test.pytestmark  # type: ignore[attr-defined]
    assert lazy.is_hypothesis_test is True
    # What pytest and inspect probe for while collecting: missing here, as on the built test.
    assert getattr(lazy, "patchings", None) is None
    assert not hasattr(lazy, "__wrapped__")
    assert not hasattr(lazy, "compat_co_firstlineno")
    # pytest matches -k against these names: only the test's own.
    assert set(lazy.__dict__) == {"pytestmark"}
    assert builds == []


def test_it_builds_once_on_first_use_and_is_then_the_built_test() -> None:
    lazy, builds = _lazy()
    assert lazy._hypothesis_internal_use_settings == "the settings"
    assert len(builds) == 1
    assert lazy(target=1, spender=2) == "ran"
    assert lazy(target=3, spender=4) == "ran"
    assert len(builds) == 1
    assert builds[0].calls == [{"target": 1, "spender": 2}, {"target": 3, "spender": 4}]
    assert lazy.hypothesis == "the handle"
    assert lazy.__dict__["hypothesis"] == "the handle"  # its marks, for schemathesis's plugin


def test_a_call_builds_it() -> None:
    lazy, builds = _lazy()
    assert lazy(target=1, spender=2) == "ran"
    assert len(builds) == 1


@pytest.fixture
def eager_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each operation schemathesis's own builder builds, by label, in an inline run."""
    built: list[str] = []
    eager = getattr(_test_builder.build_operation_test, "_wavespeed_eager", None)
    eager = eager or _test_builder.build_operation_test

    def counting(**kwargs: Any) -> Callable[..., Any]:
        built.append(kwargs["operation"].label)
        return eager(**kwargs)

    monkeypatch.setattr(_test_builder, "build_operation_test", counting)
    for name in ("WAVESPEED_BASE_URL", "WAVESPEED_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return built


def _inline(pytester: pytest.Pytester, *args: str) -> pytest.HookRecorder:
    return pytester.inline_run(
        str(ROOT / "contracts" / "test_schema.py"),
        *args,
        *("-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning"),
    )


def test_installing_twice_keeps_one_lazy_builder() -> None:
    install()
    once = _test_builder.build_operation_test
    install()
    assert _test_builder.build_operation_test is once


def test_a_run_that_deselects_them_builds_none(
    pytester: pytest.Pytester, eager_builds: list[str]
) -> None:
    recorder = _inline(pytester, "-k", "conforms_to_spec and balance", "--collect-only")
    # One item per operation of the spec but the control API's, and the stateful test.
    api = [op for op in default_spec().operations if not op.path.startswith("/_mock/")]
    assert len(recorder.getcalls("pytest_itemcollected")) == len(api) + 1
    assert eager_builds == []


def test_the_items_that_run_build_their_own_and_pass(
    pytester: pytest.Pytester, eager_builds: list[str]
) -> None:
    recorder = _inline(pytester, "-k", "conforms_to_spec and balance")
    recorder.assertoutcome(passed=2)
    assert sorted(eager_builds) == ["GET /api/v3/account/balance", "GET /api/v3/balance"]
