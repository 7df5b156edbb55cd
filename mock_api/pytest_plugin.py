"""pytest fixtures for testing your own WaveSpeed client code against the fake.

Installing ``wavespeed-mock`` registers this module through the ``pytest11``
entry point, so a user's tests get these fixtures with no conftest:

* ``wavespeed_mock_settings`` (function): the :class:`~mock_api.Settings` both
  fakes run with. Override it in a conftest to change billing, pace or keys.
* ``wavespeed_mock`` (function): a fresh fake inside the test process on a
  :class:`~mock_api.ManualClock`, reached through httpx transports, no socket.
  Time moves only when the test says so, so polling clients need no sleeps.
* ``wavespeed_mock_server`` (function): the fake on a real loopback port, for
  clients that open their own connections (requests, aiohttp, the official
  SDKs, subprocesses, other languages). Starting uvicorn is the costly part,
  so one server per distinct settings lives for the whole session and each
  test gets it reset. Its :class:`~mock_api.OffsetClock` flows with wall time,
  so a blocking SDK call finishes by itself, and ``advance()`` skips ahead.

Both handles share one control surface (:class:`BaseWavespeedMock`): steer
the next jobs' outcomes, move time, read jobs, balances and the request
journal. With the ``wavespeed_mock_strict`` ini option or marker on, a test
whose client sent any request the spec forbids fails at teardown, naming the
request, the field and the rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mock_api.settings import Settings
    from mock_api.testing import (
        DEFAULT_API_KEY,
        BaseWavespeedMock,
        ServerPool,
        WavespeedMock,
        WavespeedMockServer,
    )

__all__ = ["DEFAULT_API_KEY", "BaseWavespeedMock", "WavespeedMock", "WavespeedMockServer"]

#: The ini option and marker that fail a test whose client sent a request the spec forbids.
STRICT = "wavespeed_mock_strict"

# pytest imports this module at start-up (the pytest11 entry point), before
# pytest-cov starts measuring: it imports the rest of the package only inside
# its fixtures, so every module's lines are measured. The handles live in
# mock_api.testing; they are importable from here as before.


# Hidden from type checkers, which read the imports above: a module-level
# __getattr__ would make them accept any name (a misspelt one included).
#
# And no __dir__ that names them: pytest lists a plugin's names with dir() and gets
# each one, looking for hooks and fixtures, so a dir() naming the handles imported
# mock_api.testing (FastAPI, the app) at every start-up of every user's pytest.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        if name in __all__:
            from mock_api import testing

            return getattr(testing, name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# hooks and fixtures


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        STRICT,
        type="bool",
        default=False,
        help="wavespeed-mock: fail a test whose client sent a request the API spec forbids",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{STRICT}(on=True): fail this test at teardown if its client sent a request "
        "the WaveSpeed API spec forbids (overrides the ini option)",
    )


def _check(request: pytest.FixtureRequest, mock: BaseWavespeedMock[Any]) -> None:
    __tracebackhide__ = True
    marker = request.node.get_closest_marker(STRICT)
    if marker is None:
        strict = bool(request.config.getini(STRICT))
    else:
        strict = bool(marker.args[0]) if marker.args else True
    if not strict:
        return
    try:
        mock.assert_all_requests_valid()
    except AssertionError as exc:
        failure = str(exc)
    else:
        return
    pytest.fail(f"{STRICT}: {failure}", pytrace=False)  # outside the except: no chained traceback


def _testing(fixture: str) -> ModuleType:
    """``mock_api.testing``, or a failure naming what is missing and the extra that has it
    (not an import traceback inside pytest's fixture machinery)."""
    __tracebackhide__ = True
    try:
        from mock_api import testing
    except ImportError as exc:
        from mock_api.extras import install_command

        missing = exc.name or str(exc)
    else:
        return testing
    pytest.fail(
        f"{fixture}: the fake cannot start, {missing} is missing; "
        f"{install_command('pytest')} installs what the plugin's fixtures need",
        pytrace=False,
    )


@pytest.fixture
def wavespeed_mock_settings() -> Settings:
    """The settings of both fakes: override this fixture to change billing, pace or keys."""
    _testing("wavespeed_mock_settings")
    from mock_api.planning import PACES
    from mock_api.settings import Settings

    return Settings(random_seed=0, pace=PACES["fast"])


@pytest.fixture
def wavespeed_mock(
    request: pytest.FixtureRequest, wavespeed_mock_settings: Settings
) -> Iterator[WavespeedMock]:
    """A fresh in-process fake on a manual clock."""
    mock: WavespeedMock = _testing("wavespeed_mock").WavespeedMock(wavespeed_mock_settings)
    try:
        yield mock
        _check(request, mock)
    finally:
        mock.close()


@pytest.fixture(scope="session")
def _wavespeed_mock_servers() -> Iterator[ServerPool]:
    pool: ServerPool = _testing("wavespeed_mock_server").ServerPool()
    yield pool
    pool.stop()


@pytest.fixture
def wavespeed_mock_server(
    request: pytest.FixtureRequest,
    wavespeed_mock_settings: Settings,
    _wavespeed_mock_servers: ServerPool,
) -> Iterator[WavespeedMockServer]:
    """The session's live fake for these settings, reset for this test."""
    server = _wavespeed_mock_servers.get(wavespeed_mock_settings)
    server.reset()
    try:
        yield server
        _check(request, server)
    finally:
        server.close()
