"""Wiring the contract suite into pytest: options, target, budget, report.

Why here: pytest reads ``pytest_addoption`` only from plugins and *initial*
conftests, those of the paths it was started on. ``contracts`` is in
``testpaths``, so a plain ``pytest`` at the repository root loads this file
before parsing options, as do ``pytest contracts/`` and ``pytest
contracts/test_lifecycle.py``. (``pytest tests/`` does not, and does not
need it.)

The session's life: options are resolved at configure time; after
collection, knowing which checks were selected, the target is chosen and,
if it is paid, the planned spending is held to the budget before anything
is sent; at the end the balance is read again and the terminal summary says
what the run spent.

A run by URL stops early, with every result so far, when the target stops
answering, answers what no client could use (:class:`TargetUnusable`), or the
run outlives ``--wavespeed-max-run-seconds`` (:class:`RunLimitReached`; the
check running then is cut, and the stop names it).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Generator
from pathlib import Path

import httpx
import pytest

from mock_api.contract import lazy
from mock_api.contract.bounds import RunLimitReached, RunWatch
from mock_api.contract.budget import BudgetExceeded, PlannedSpend, Spender
from mock_api.contract.jobs import upload_video
from mock_api.contract.options import OPTIONS, OptionError, add_options, resolve
from mock_api.contract.session import (
    SESSION,
    SPENDS,
    ContractSession,
    TargetUnreachable,
    TargetUnusable,
)
from mock_api.contract.target import Target, describe_transport_error
from mock_api.contract.webhooks import WebhookReceiver
from mock_api.extras import MissingExtra, require

HERE = Path(__file__).resolve().parent


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    try:  # a missing extra is named before any test module fails to import
        require("verify", "the contract suite", load=False)
    except MissingExtra as exc:
        raise pytest.UsageError(str(exc)) from None
    # test_schema.py's items build their Hypothesis tests when they run, not at collection
    # (about 3 s of CPU for a run that deselects them all, or runs them elsewhere).
    lazy.install()
    config.addinivalue_line(
        "markers",
        f"{SPENDS}(*plans): the submissions a contract check may make and their worst-case "
        "cost on a paid endpoint (mock_api.contract.budget.PlannedSpend)",
    )
    cli = {option.dest: config.getoption(option.dest) for option in OPTIONS}
    try:
        options = resolve(cli, os.environ)
    except OptionError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SESSION] = ContractSession(options)


def _ours(item: pytest.Item) -> bool:
    return HERE in item.path.resolve().parents


def pytest_collection_finish(session: pytest.Session) -> None:
    ours = [item for item in session.items if _ours(item)]
    if not ours or session.config.option.collectonly:
        return
    plan: list[PlannedSpend] = [
        planned for item in ours for mark in item.iter_markers(SPENDS) for planned in mark.args
    ]
    state = session.config.stash[SESSION]
    try:
        target = state.open(plan)
    except (TargetUnreachable, BudgetExceeded, TargetUnusable) as exc:
        state.refusal = str(exc)
        pytest.exit(state.refusal, returncode=pytest.ExitCode.USAGE_ERROR)
    except httpx.HTTPError as exc:
        state.refusal = f"cannot reach {state.options.base_url}: {exc}"
        pytest.exit(state.refusal, returncode=pytest.ExitCode.USAGE_ERROR)
    if target.bounds.run_deadline is not None:
        watch = RunWatch(target.bounds)
        watch.arm()
        session.config.stash[_WATCH] = watch


_WATCH = pytest.StashKey[RunWatch]()


def _find(
    error: BaseException | None, wanted: tuple[type[BaseException], ...]
) -> BaseException | None:
    """The first exception of a ``wanted`` type behind a check's failure, if any."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, wanted):
            return error
        if isinstance(error, BaseExceptionGroup):
            found = next((e for e in (_find(x, wanted) for x in error.exceptions) if e), None)
            if found is not None:
                return found
        error = error.__cause__ or error.__context__
    return None


def _unanswered(error: BaseException | None) -> BaseException | None:
    """The request that got no answer at all behind a check's failure, if that is what it was."""
    found = _find(error, (httpx.TransportError,))
    if found is not None:
        return found
    requests = sys.modules.get("requests")
    if requests is None:
        return None
    return _find(error, (requests.exceptions.ConnectionError,))


def _gone(target: Target) -> bool:
    """Does the target itself no longer answer? (Not just some other host it named.)"""
    return not target.still_answers()


def pytest_runtest_setup(item: pytest.Item) -> None:
    target = item.config.stash[SESSION].target
    if target is not None:
        left = target.bounds.left()
        if left is not None and left <= 0:
            reason = target.bounds.run_over(f"before {item.name} began")
            item.session.shouldstop = str(reason)
            pytest.skip(str(reason))
        target.exchanges.clear()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    watch = item.config.stash.get(_WATCH, None)
    if watch is None:
        return (yield)
    watch.in_check = True
    try:
        return (yield)
    finally:
        watch.in_check = False


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed check's report carries the last requests it made and their answers."""
    report = yield
    target = item.config.stash[SESSION].target
    if report.failed and call.when == "call" and target is not None and target.exchanges:
        text = "\n\n".join(exchange.describe() for exchange in target.exchanges)
        report.sections.append(("wavespeed: last HTTP exchanges", text))
    error = call.excinfo.value if call.excinfo is not None else None
    if not report.failed or target is None or error is None:
        return report
    cut = _find(error, (RunLimitReached,))
    unusable = _find(error, (TargetUnusable,))
    if cut is not None:
        item.session.shouldstop = f"{cut}; the check cut: {item.name}"
    elif unusable is not None:
        # What no client could use (too large, an encoding not offered) will not get better.
        item.session.shouldstop = str(unusable)
    elif (unanswered := _unanswered(error)) is not None and _gone(target):
        # The target stopped answering: the checks left would each wait for it and fail
        # the same way. Stop here; every result so far is still reported.
        item.session.shouldstop = (
            f"the target stopped answering: {describe_transport_error(unanswered)}"
        )
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    watch = session.config.stash.get(_WATCH, None)
    if watch is not None:
        watch.disarm()
    state = session.config.stash.get(SESSION, None)
    if state is not None:
        state.close()


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    state = config.stash.get(SESSION, None)
    if state is None or state.balance_before is None:
        return
    terminalreporter.section("wavespeed contract suite")
    for line in state.summary():
        terminalreporter.write_line(line)


# fixtures


@pytest.fixture(scope="session")
def contract_session(pytestconfig: pytest.Config) -> ContractSession:
    return pytestconfig.stash[SESSION]


@pytest.fixture(scope="session")
def target(contract_session: ContractSession) -> Target:
    """The target chosen for this run (see ``mock_api/contract/target.py``)."""
    if contract_session.target is None:
        pytest.fail("the contract target was not opened: run the suite through pytest")
    return contract_session.target


@pytest.fixture(scope="session")
def spender(contract_session: ContractSession) -> Spender:
    assert contract_session.spender is not None
    return contract_session.spender


@pytest.fixture(scope="session")
def api(target: Target) -> httpx.Client:
    """A client on the target's API, with its key."""
    return target.client()


@pytest.fixture(scope="session")
def cdn(target: Target) -> httpx.Client:
    """A client without the API key, for upload and output URLs on other hosts (media:
    its answers may be as large as ``mock_api.contract.bounds.MEDIA_BYTES``)."""
    return target.client(auth=False, media=True)


@pytest.fixture(scope="session")
def second_api(target: Target) -> httpx.Client:
    """A client on a second account (``--wavespeed-second-api-key``), or the check skips."""
    if target.second_api_key is None:
        pytest.skip(target.second_key_missing)
    return target.client(api_key=target.second_api_key)


@pytest.fixture(scope="session")
def control(target: Target) -> httpx.Client:
    """A client on the fake's control API (``/_mock/``), or the check skips."""
    if not target.has_control:
        pytest.skip(
            "needs the fake's control API (/_mock/) to set a balance or a quota; "
            f"{target.describe()} has none"
        )
    return target.client(auth=False)


@pytest.fixture(scope="session")
def webhook_receiver(
    target: Target, contract_session: ContractSession
) -> Generator[WebhookReceiver, None, None]:
    """The suite's webhook receiver: on loopback, or behind ``--wavespeed-webhook-url``."""
    options = contract_session.options
    if options.webhook_url is None and not target.on_this_machine:
        pytest.skip(
            f"{target.describe()} cannot reach a receiver on this machine: expose one and "
            "pass --wavespeed-webhook-url URL (and --wavespeed-webhook-port PORT)"
        )
    with WebhookReceiver(port=options.webhook_port, public_url=options.webhook_url) as receiver:
        yield receiver


@pytest.fixture(scope="session")
def video_url(target: Target, api: httpx.Client, cdn: httpx.Client) -> str:
    """The video every job uses: ``--wavespeed-video``, or a synthetic one uploaded once."""
    return target.video_url or upload_video(api, cdn)
