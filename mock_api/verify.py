"""``wavespeed-mock verify``: the contract suite against a server, as a readable report.

Why this exists: someone checking a deployment (the fake on a CI host, a
staging proxy, the real API with a budget) wants one command and an answer a
person can act on, not pytest's output. This runs the ``contracts`` package
with ``pytest.main`` and the target options, keeps pytest's own output out of
sight, and prints instead one line per check as it finishes, then a report:
every failure with the request and response that broke it, and what the run
spent. The exit status is pytest's: 0 only when every check passed.

The contract suite needs the test extras (schemathesis, hypothesis); they
are imported only when ``verify`` runs.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import sys
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import pytest

if TYPE_CHECKING:
    from mock_api.contract.session import ContractSession

__all__ = ["CheckResult", "VerifyReporter", "pytest_args", "run"]

#: The suite's pytest files: ``contracts/`` in a checkout, installed under this name.
SUITE = "mock_api.contract.suite"

_MARK = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}


@dataclass
class CheckResult:
    title: str
    outcome: str  # passed, failed, skipped
    seconds: float
    message: str = ""
    sections: list[tuple[str, str]] = field(default_factory=list)


def _title(item: pytest.Item) -> str:
    """``lifecycle · a job run to its end ...``: the module's concern and the check's docstring."""
    function = getattr(item, "test_function", None) or getattr(item, "function", None)
    doc = (getattr(function, "__doc__", None) or "").strip().splitlines()
    what = doc[0].strip() if doc else item.name
    label = getattr(item, "operation_label", None)
    callspec = getattr(item, "callspec", None)
    if label:
        what = f"{what}: {label}"
    elif callspec is not None:
        what = f"{what} [{callspec.id}]"
    concern = item.path.stem.removeprefix("test_").replace("_", " ")
    return f"{concern} · {what}"


def _message(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    notes = getattr(error, "__notes__", None) or []
    return "\n".join([text, *[str(note) for note in notes]]).strip()


class VerifyReporter:
    """A pytest plugin: one line per finished check, then :meth:`render`."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.results: list[CheckResult] = []
        self.config: pytest.Config | None = None
        self._titles: dict[str, str] = {}
        self._messages: dict[str, str] = {}
        self._started = time.monotonic()

    def pytest_configure(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        self._titles = {item.nodeid + item.name: _title(item) for item in items}

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if call.excinfo is not None and report.failed:
            self._messages[item.nodeid + item.name] = _message(call.excinfo.value)
        # Schemathesis items share one node id; the name tells its operations apart.
        report.verify_key = item.nodeid + item.name  # type: ignore[attr-defined]
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        key = getattr(report, "verify_key", report.nodeid)
        finished = report.when == "call" or (report.when == "setup" and not report.passed)
        if not finished:
            return
        title = self._titles.get(key, report.nodeid)
        message = self._messages.get(key, "")
        if report.skipped and isinstance(report.longrepr, tuple):
            message = str(report.longrepr[2]).removeprefix("Skipped: ")
        elif report.failed and not message:
            message = report.longreprtext
        sections = [(name, text) for name, text in report.sections if name.startswith("wavespeed")]
        result = CheckResult(title, report.outcome, report.duration, message, sections)
        self.results.append(result)
        line = f"  {_MARK.get(result.outcome, result.outcome.upper())}  {title}"
        suffix = f"  ({message.splitlines()[0]})" if result.outcome == "skipped" and message else ""
        self.out.write(f"{line}  {result.seconds:.2f} s{suffix}\n")
        self.out.flush()

    @property
    def session(self) -> ContractSession | None:
        from mock_api.contract.session import SESSION

        return self.config.stash.get(SESSION, None) if self.config is not None else None

    def render(self, exit_code: int) -> str:
        lines: list[str] = []
        counts = dict.fromkeys(_MARK, 0)
        for result in self.results:
            counts[result.outcome] = counts.get(result.outcome, 0) + 1
        state = self.session
        lines.append("")
        if state is not None and state.refusal:
            lines.append("NOT RUN")
            lines.append(state.refusal)
        elapsed = time.monotonic() - self._started
        lines.append(
            f"{len(self.results)} checks in {elapsed:.1f} s: {counts['passed']} passed, "
            f"{counts['failed']} failed, {counts['skipped']} skipped"
        )
        for result in self.results:
            if result.outcome != "failed":
                continue
            lines.append("")
            lines.append(f"FAILED {result.title}")
            lines.extend(f"  {line}" for line in result.message.splitlines())
            for name, text in result.sections:
                lines.append(f"  {name.removeprefix('wavespeed: ')}:")
                lines.extend(f"    {line}" for line in text.splitlines())
        if state is not None and state.balance_before is not None:
            lines.append("")
            lines.extend(state.summary())
        verdict = "all checks passed" if exit_code == 0 else f"FAILED (exit status {exit_code})"
        lines.append("")
        lines.append(f"verify: {verdict}")
        return "\n".join(lines) + "\n"


def pytest_args(
    base_url: str,
    api_key: str,
    budget: str = "0",
    *,
    select: str | None = None,
    poll_interval: float | None = None,
    video_url: str | None = None,
) -> list[str]:
    """The pytest command line that runs the contract suite against ``base_url``."""
    spec = importlib.util.find_spec(SUITE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"the contract suite ({SUITE}) is not installed", name=SUITE)
    args = [
        str(Path(next(iter(spec.submodule_search_locations))).resolve()),
        "--wavespeed-base-url",
        base_url,
        "--wavespeed-api-key",
        api_key,
        "--wavespeed-budget",
        budget,
        "-p",
        "no:cacheprovider",
        "-q",
        # The CLI has imported the fake (and so anyio, a pytest plugin) before
        # pytest starts: harmless, but it would warn, and a project's
        # ``filterwarnings = error`` would turn that into a failure.
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
    ]
    if select:
        args += ["-k", select]
    if poll_interval is not None:
        args += ["--wavespeed-poll-interval", str(poll_interval)]
    if video_url:
        args += ["--wavespeed-video", video_url]
    return args


def run(
    base_url: str,
    api_key: str,
    budget: str = "0",
    *,
    select: str | None = None,
    poll_interval: float | None = None,
    video_url: str | None = None,
    out: TextIO | None = None,
) -> int:
    """Run the suite, print progress and the report to ``out``; return the exit status."""
    out = out or sys.stdout
    args = pytest_args(
        base_url,
        api_key,
        budget,
        select=select,
        poll_interval=poll_interval,
        video_url=video_url,
    )
    out.write(f"wavespeed-mock verify: {base_url}\n")
    out.flush()
    reporter = VerifyReporter(out)
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        exit_code = int(pytest.main(args, plugins=[reporter]))
    out.write(reporter.render(exit_code))
    state = reporter.session
    unexplained = exit_code not in (0, 1) and not (state is not None and state.refusal)
    if unexplained:  # a usage or internal error: pytest's own words say what
        out.write("\npytest said:\n" + captured.getvalue()[-4000:])
    out.flush()
    return exit_code
