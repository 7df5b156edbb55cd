"""``wavespeed-mock verify``: the contract suite against a server, as a readable report.

Why this exists: someone checking a deployment (the fake on a CI host, a
staging proxy, the real API with a budget) wants one command and an answer a
person can act on, not pytest's output. This runs the ``contracts`` package
with ``pytest.main`` and the target options, keeps pytest's own output out of
sight, and prints instead a first line (how many checks, against what; or, when
the run is refused, why: what the target is, ``NOT RUN: http://... is not a
WaveSpeed API: ...``, see :mod:`mock_api.contract.recognise`), one line per check
as it finishes, then a report: every failure with the request and response that
broke it, why checks skipped, and what the run spent (and, on a slow fake, how to
make it fast). The exit status is
pytest's: 0 only when every check passed, 1 when one failed; 2 when the run
stopped early because the target stopped answering, answered what no client
could use (more than a body's bound, say), or the run outlived
``--max-run-seconds`` (the check then running is cut and named); 4 when it was
refused (target unreachable or too slow to answer whole within ``--timeout``,
over budget, key refused, an unusable first answer, or ``--base-url`` or
``--webhook-url`` not an http(s) URL: said on the first line, before pytest
starts, see :func:`url_problem`); 5 when ``-k`` matched no
check.

What a report never shows: the API key (it goes only to the target's own
origin, see :class:`~mock_api.contract.target.OriginAuth`), binary bodies
(summarised as type, size, sha256 and first bytes), Hypothesis's own
bookkeeping (``Falsifying example: run(case=...)``), or a traceback in
place of the results: a target that stops answering mid-run ends the run
with every result so far and the request that went unanswered.

The run loads only the pytest plugins the suite needs (schemathesis's and
Hypothesis's), not every one installed: other plugins (random order,
parallelism, timeouts) would change what the suite does, and pytest would
rewrite the assertions of every module of each auto-loaded plugin's package
on every run, about 3 s here.

The contract suite needs the ``verify`` extra (schemathesis, hypothesis, PyAV):
``wavespeed-mock verify`` checks for it first and names it if it is missing
(:mod:`mock_api.extras`); it is imported only when ``verify`` runs.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import sys
import time
from collections import Counter
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import httpx
import pytest

if TYPE_CHECKING:
    from mock_api.contract.session import ContractSession

__all__ = ["CheckResult", "VerifyReporter", "pytest_args", "run", "url_problem"]

#: The suite's pytest files: ``contracts/`` in a checkout, installed under this name.
SUITE = "mock_api.contract.suite"

_MARK = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}

#: The only plugins a run loads (see the module docstring).
PLUGINS = ("schemathesis.pytest.plugin", "_hypothesis_pytestplugin")

#: Lines Hypothesis adds to a failure about itself, not about the target.
_HYPOTHESIS_NOISE = re.compile(
    r"^\s*(Falsifying|Failing) (explicit )?example:|^\s*You can (reproduce|add)|"
    r"@reproduce_failure|^\s*Highest target score|^\s*Trying example:|"
    r"^\s*Hypothesis found \d+ distinct failures|^\s*Explanation:|^\s*Unreliable test timings"
)


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
    """What a failed check says: its own words, without Hypothesis's; a request that got no
    answer as the URL and the reason; each of several failures in turn."""
    from mock_api.contract.target import describe_transport_error

    if isinstance(error, BaseExceptionGroup):
        parts = [_message(inner) for inner in error.exceptions]
        unique = list(dict.fromkeys(part for part in parts if part))
        if len(unique) == 1:
            return unique[0]
        return "\n".join(f"({n}) {part}" for n, part in enumerate(unique, 1))
    if _is_unanswered(error):
        return describe_transport_error(error)
    lines = [str(error) or type(error).__name__]
    lines += [str(note) for note in getattr(error, "__notes__", None) or []]
    text = "\n".join(lines)
    kept = [line for line in text.splitlines() if not _HYPOTHESIS_NOISE.search(line)]
    return "\n".join(kept).strip()


def _is_unanswered(error: BaseException) -> bool:
    import httpx

    if isinstance(error, httpx.TransportError):
        return True
    requests = sys.modules.get("requests")
    return requests is not None and isinstance(error, requests.exceptions.ConnectionError)


class VerifyReporter:
    """A pytest plugin: one line per finished check, then :meth:`render`."""

    def __init__(self, out: TextIO, *, base_url: str = "", select: str | None = None) -> None:
        self.out = out
        self.base_url = base_url
        self.select = select
        self.results: list[CheckResult] = []
        self.config: pytest.Config | None = None
        self.planned = 0
        self.collected = 0
        self.stopped: str | None = None
        self.crash: str | None = None
        self.headed = False
        self._titles: dict[str, str] = {}
        self._messages: dict[str, str] = {}
        self._started = time.monotonic()

    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        self.config = config
        state = self.session
        if state is not None:  # a message names verify's own flags, not the pytest options
            state.flag_prefix = "--"

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        self.collected = len(items)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """The first line: how many checks, against what (the session has just opened it)."""
        self._titles = {item.nodeid + item.name: _title(item) for item in session.items}
        self.planned = len(session.items)
        state = self.session
        if state is not None and state.target is not None:
            self._head(f"{self.planned} checks against {state.description}")

    def _head(self, text: str) -> None:
        if not self.headed:
            self.headed = True
            self.out.write(f"wavespeed-mock verify: {text}\n")
            self.out.flush()

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if session.shouldstop:
            self.stopped = str(session.shouldstop)

    def pytest_internalerror(self, excrepr: object) -> None:
        lines = str(excrepr).strip().splitlines()
        self.crash = lines[-1] if lines else "internal error"

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
        if report.when == "setup" and report.failed and not message and report.longrepr:
            message = report.longreprtext.strip().splitlines()[-1]
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
        state = self.session
        refusal = state.refusal if state is not None else None
        lines = self._tally()
        if refusal:  # the first line says why: what the target is, or what it would cost
            cause, _, rest = refusal.partition("\n")
            where = self.base_url.rstrip("/")
            self._head(
                f"NOT RUN: {cause}" if where in cause else f"NOT RUN against {where}: {cause}"
            )
            lines = rest.splitlines()
        elif exit_code == pytest.ExitCode.NO_TESTS_COLLECTED and self.select:
            self._head(f"no checks match -k {self.select!r} ({self.collected} checks exist)")
        else:
            self._head(self.base_url)
        for result in self.results:
            if result.outcome == "failed":
                lines += ["", *self._failure(result)]
        if state is not None and state.balance_before is not None:
            lines += ["", *state.summary()]
        verdict = "all checks passed" if exit_code == 0 else f"FAILED (exit status {exit_code})"
        lines += ["", f"verify: {verdict}"]
        return "\n".join(lines) + "\n"

    def _tally(self) -> list[str]:
        counts = dict.fromkeys(_MARK, 0)
        for result in self.results:
            counts[result.outcome] = counts.get(result.outcome, 0) + 1
        elapsed = time.monotonic() - self._started
        ran = len(self.results)
        lines = [
            "",
            f"{ran} checks in {elapsed:.1f} s: {counts['passed']} passed, "
            f"{counts['failed']} failed, {counts['skipped']} skipped",
        ]
        if self.stopped:
            lines.append(f"STOPPED after {ran} of {self.planned} checks: {self.stopped}")
        elif self.planned > ran:
            lines.append(f"{self.planned - ran} of {self.planned} checks did not run")
        if self.crash:
            lines.append(f"the run broke off: {self.crash}")
        return lines + self._skip_reasons()

    def _skip_reasons(self) -> list[str]:
        """Why checks skipped, each reason once with its count: where a flag or another
        target would run them, the reason says which."""
        reasons = Counter(
            result.message.splitlines()[0]
            for result in self.results
            if result.outcome == "skipped" and result.message.strip()
        )
        if not reasons:
            return []
        lines = ["skipped, and why:"]
        lines += [f"  {count} x {reason}" for reason, count in reasons.most_common()]
        return lines

    @staticmethod
    def _failure(result: CheckResult) -> list[str]:
        lines = [f"FAILED {result.title}"]
        lines += [f"  {line}" for line in result.message.splitlines()]
        for name, text in result.sections:
            lines.append(f"  {name.removeprefix('wavespeed: ')}:")
            lines += [f"    {line}" for line in text.splitlines()]
        return lines


def _pytest_said(exit_code: int, said: str, args: list[str]) -> str:
    """What pytest said when it stopped the run for its own reasons; never an empty heading."""
    try:
        why = pytest.ExitCode(exit_code).name.lower().replace("_", " ")
    except ValueError:
        why = f"exit status {exit_code}"
    said = said.strip()
    if said:
        return f"\npytest said, stopping the run ({why}):\n{said[-4000:]}\n"
    return (
        f"\npytest said nothing, stopping the run ({why}). To see its own output, run the "
        f"suite with pytest: python -m pytest {args[0]} --wavespeed-base-url URL "
        "--wavespeed-api-key KEY\n"
    )


def pytest_args(
    base_url: str,
    api_key: str,
    budget: str = "0",
    *,
    select: str | None = None,
    poll_interval: float | None = None,
    timeout: float | None = None,
    video_url: str | None = None,
    second_api_key: str | None = None,
    webhook_url: str | None = None,
    webhook_port: int = 0,
    max_run_seconds: float | None = None,
    allow_upload_hosts: tuple[str, ...] = (),
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
        "--disable-plugin-autoload",
        *(arg for plugin in PLUGINS for arg in ("-p", plugin)),
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
    if timeout is not None:
        args += ["--wavespeed-timeout", str(timeout)]
    if video_url:
        args += ["--wavespeed-video", video_url]
    if second_api_key:
        args += ["--wavespeed-second-api-key", second_api_key]
    if webhook_url:
        args += ["--wavespeed-webhook-url", webhook_url]
    if webhook_port:
        args += ["--wavespeed-webhook-port", str(webhook_port)]
    if max_run_seconds is not None:
        args += ["--wavespeed-max-run-seconds", str(max_run_seconds)]
    if allow_upload_hosts:
        args += ["--wavespeed-allow-upload-host", ",".join(allow_upload_hosts)]
    return args


def url_problem(flag: str, value: str) -> str | None:
    """Why ``value``, given as ``flag``, is not an http(s) URL with a host (and what was
    likely meant), or None. Said in verify's own words, before pytest starts: pytest
    would name its own option (``--wavespeed-base-url``), and only after the report."""
    said = f"{flag} {value!r} is not an http(s) URL"
    scheme, sep, rest = value.partition("://")
    if not value.strip():
        return f"{said}: it is empty"
    if not sep:
        guess = "http://" + value.lstrip("/")
        return f"{said}: it has no scheme; did you mean {flag} {guess}?"
    if scheme not in ("http", "https"):  # as the pytest option is held to, lower case
        return f"{said}: it must start with http:// or https://"
    try:
        host = httpx.URL(value).host
    except httpx.InvalidURL as exc:
        return f"{said}: {exc}"
    if not host or not rest:
        return f"{said}: it names no host"
    return None


def run(
    base_url: str,
    api_key: str,
    budget: str = "0",
    *,
    select: str | None = None,
    poll_interval: float | None = None,
    timeout: float | None = None,
    video_url: str | None = None,
    second_api_key: str | None = None,
    webhook_url: str | None = None,
    webhook_port: int = 0,
    max_run_seconds: float | None = None,
    allow_upload_hosts: tuple[str, ...] = (),
    out: TextIO | None = None,
) -> int:
    """Run the suite, print progress and the report to ``out``; return the exit status."""
    out = out or sys.stdout
    for flag, value in (("--base-url", base_url), ("--webhook-url", webhook_url or None)):
        problem = url_problem(flag, value) if value is not None else None
        if problem:  # the first line says it; nothing is run
            status = int(pytest.ExitCode.USAGE_ERROR)
            out.write(f"wavespeed-mock verify: NOT RUN: {problem}\n\nverify: FAILED ")
            out.write(f"(exit status {status})\n")
            out.flush()
            return status
    args = pytest_args(
        base_url,
        api_key,
        budget,
        select=select,
        poll_interval=poll_interval,
        timeout=timeout,
        video_url=video_url,
        second_api_key=second_api_key,
        webhook_url=webhook_url,
        webhook_port=webhook_port,
        max_run_seconds=max_run_seconds,
        allow_upload_hosts=allow_upload_hosts,
    )
    reporter = VerifyReporter(out, base_url=base_url, select=select)
    captured = io.StringIO()
    try:  # pytest's own words, on either stream, are kept for when they are the only ones
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            exit_code = int(pytest.main(args, plugins=[reporter]))
    except Exception as exc:  # whatever broke, the results so far are printed
        reporter.crash = f"{type(exc).__name__}: {exc}"
        exit_code = int(pytest.ExitCode.INTERNAL_ERROR)
    out.write(reporter.render(exit_code))
    state = reporter.session
    explained = (
        (state is not None and state.refusal)
        or reporter.stopped
        or (exit_code == pytest.ExitCode.NO_TESTS_COLLECTED and select)
    )
    unexplained = exit_code not in (0, 1) and not explained
    if unexplained:  # a usage or internal error: pytest's own words say what
        out.write(_pytest_said(exit_code, captured.getvalue(), args))
    out.flush()
    return exit_code
