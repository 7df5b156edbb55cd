"""One contract run: its target, its budget, and what it spent.

Why this exists: the target is chosen once per pytest session, after
collection (when the selected checks, and so the planned spending, are
known) and before the first check submits anything. This object holds that
state for the hooks in ``contracts/conftest.py`` and for reporters such as
``wavespeed-mock verify``, which find it in ``config.stash[SESSION]``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx
import pytest

from mock_api.contract.bounds import Bounds, RunLimitReached, TargetUnusable
from mock_api.contract.budget import (
    BudgetExceeded,
    PlannedSpend,
    Spender,
    check_budget,
    describe_plan,
    plan_total,
    split_optional,
)
from mock_api.contract.jobs import balance_micros
from mock_api.contract.options import TargetOptions
from mock_api.contract.recognise import NotWavespeed, recognise_by_url, spec_source
from mock_api.contract.rule import RATE_MICROS_PER_SECOND, usd
from mock_api.contract.target import (
    Target,
    TargetKind,
    TargetUnreachable,
    connect,
    describe_transport_error,
    in_process,
)

__all__ = ["SESSION", "SPENDS", "ContractSession", "TargetUnreachable", "TargetUnusable"]

#: The marker a check uses to declare what its submissions may cost on a paid endpoint.
SPENDS = "spends"
#: The last balance read, after the run: bounded on its own, even past the run's limit.
CLOSING_READ_SECONDS = 30.0
#: Seconds of waiting on jobs past which a run against the fake by URL is told how to
#: skip the wait (``serve --pace instant``): an instant fake's jobs take none.
SLOW_FAKE_WAIT_SECONDS = 5.0


@dataclass
class ContractSession:
    options: TargetOptions
    target: Target | None = None
    spender: Spender | None = None
    planned_micros: int = 0
    plan: list[PlannedSpend] = field(default_factory=list)
    #: Optional plans the budget had no room for: their checks skip.
    unfunded: list[PlannedSpend] = field(default_factory=list)
    balance_before: int | None = None
    balance_after: int | None = None
    description: str = ""
    #: Why the run refused to start (over budget, target unreachable), if it did.
    refusal: str | None = None
    #: Why the balance could not be read at the end (the target stopped answering), if so.
    close_error: str | None = None
    #: How the options a message names are spelt: ``--wavespeed-`` (pytest) or ``--`` (verify).
    flag_prefix: str = "--wavespeed-"
    #: When the run began (``time.monotonic()``): ``--max-run-seconds`` counts from here.
    started: float = field(default_factory=time.monotonic)
    #: Seconds the run waited for the jobs of a fake by URL to settle (set at the end).
    fake_job_wait_seconds: float = 0.0

    def flag(self, name: str) -> str:
        """An option as the user gave it: ``--wavespeed-budget``, or verify's ``--budget``."""
        return f"{self.flag_prefix}{name}"

    def open(self, plan: Iterable[PlannedSpend]) -> Target:
        """Pick the target; on a paid one, refuse a plan over budget before anything is sent.

        Raises :class:`TargetUnreachable` first when the target does not answer
        at all (or not wholly in time); then :class:`TargetUnusable` when it is not a
        WaveSpeed API (:class:`~mock_api.contract.recognise.NotWavespeed`, a base URL
        with a path named as the likely cause), refuses the key
        (:class:`~mock_api.contract.recognise.KeyRefused`, the fake by URL too), will
        not show the key's balance, or answers what no client could use; and only then
        :class:`~mock_api.contract.budget.BudgetExceeded` with the plan, line by line.

        By URL every request is held to ``--timeout`` (else 90 s) from connecting to
        its last byte, and the whole run to ``--max-run-seconds`` (else an hour),
        counted from :attr:`started` (see :mod:`mock_api.contract.bounds`).
        """
        options = self.options
        self.plan = list(plan)
        self.planned_micros = plan_total(self.plan)
        target = in_process() if options.base_url is None else self._connect(options.base_url)
        if not target.free:
            self.plan, self.unfunded = split_optional(self.plan, options.budget_micros)
        self.planned_micros = plan_total(self.plan)
        # A paid job's billed seconds bound its output's; the longest planned one
        # bounds every wait (see Target.job_timeout).
        longest = max((item.each_micros for item in self.plan), default=0)
        target.max_output_seconds = max(target.max_output_seconds, longest / RATE_MICROS_PER_SECOND)
        try:
            with target.client() as client:
                _recognise(target, client)  # first, before any budget
                balance = balance_micros(client)  # a target with no balance to read: not run
                if not target.free:
                    check_budget(self.plan, options.budget_micros, flag=self.flag("budget"))
                self.balance_before = balance
        except NotWavespeed as exc:
            target.close()
            raise self._advised(exc) from None
        except httpx.TransportError as exc:
            target.close()
            raise TargetUnreachable(describe_transport_error(exc)) from None
        except RunLimitReached as exc:
            target.close()
            raise TargetUnreachable(f"cannot reach {target.base_url}: {exc}") from None
        except TargetUnusable:
            target.close()
            raise
        except BudgetExceeded as exc:
            target.close()
            raise BudgetExceeded(
                f"{exc}\n(Treated as paid: {target.base_url} does not serve {spec_source()} "
                "at /openapi.yaml, as the fake does.)"
            ) from None
        except AssertionError as exc:  # the balance read failed: a wrong key, say
            target.close()
            raise TargetUnusable(f"this target cannot be used: {exc}") from None
        except Exception:
            target.close()
            raise
        self.target = target
        self.description = target.describe()
        if target.open_keys:
            self.description += (
                "; it accepts any API key (started without --api-key), so schemathesis's "
                "ignored_auth check is off for this run"
            )
        self.spender = Spender(None if target.free else options.budget_micros)
        return target

    def _connect(self, base_url: str) -> Target:
        """The target by URL; a refusal's first line says why (see :func:`connect`), and the
        lines after it what to do, in the words of this run's options."""
        options = self.options
        assert options.api_key is not None  # resolve() insists
        bounds = Bounds.for_run(
            request_seconds=options.timeout,
            run_seconds=options.max_run_seconds,
            started=self.started,
            flag_prefix=self.flag_prefix,
        )
        try:
            return connect(
                base_url,
                options.api_key,
                poll_interval=options.poll_interval,
                timeout=options.timeout,
                video_url=options.video_url,
                second_api_key=options.second_api_key,
                bounds=bounds,
                upload_hosts=options.allow_upload_hosts,
            )
        except RunLimitReached as exc:
            raise TargetUnreachable(f"cannot reach {base_url}: {exc}") from None
        except TargetUnreachable as exc:
            raise TargetUnreachable(self._unreachable_advice(str(exc))) from None
        except NotWavespeed as exc:
            raise self._advised(exc) from None

    def _advised(self, refusal: NotWavespeed) -> NotWavespeed:
        """The refusal, and on its next line what to do, naming this run's option."""
        advice = refusal.advice(self.flag("base-url"), self.options.base_url or "")
        return NotWavespeed(f"{refusal}\n{advice}", prism=refusal.prism)

    def _unreachable_advice(self, message: str) -> str:
        """``cannot reach URL: connection refused``, and where nothing listens, what to check."""
        if message.endswith(("connection refused", "no such host")):
            message += (
                f"\nNothing answers there: is the server running, and is {self.flag('base-url')} "
                "right? (`wavespeed-mock serve` listens on http://127.0.0.1:8000 unless told "
                "otherwise.)"
            )
        return message

    def close(self) -> None:
        """Read the balance once more and let the target go.

        Never raises for the target's sake: a target that stopped answering
        mid-run must not cost the report of every check that ran before; the
        reason is kept in :attr:`close_error` and shown in :meth:`summary`.
        """
        target, self.target = self.target, None
        if target is None:
            return
        if target.kind is TargetKind.FAKE:  # by URL: its pace is the user's to choose
            self.fake_job_wait_seconds = target.job_wait_seconds
        # Past the run's limit too: one bounded read, so the report can say what was spent.
        target.bounds = target.bounds.without_run_limit(CLOSING_READ_SECONDS)
        try:
            with target.client() as client:
                self.balance_after = balance_micros(client)
        except httpx.TransportError as exc:
            self.close_error = describe_transport_error(exc)
        except (AssertionError, TargetUnusable) as exc:  # it answered, but not a balance
            self.close_error = str(exc).strip()
        finally:
            target.close()

    def unfunded_reason(self, plan: PlannedSpend) -> str | None:
        """Why a check with an optional ``plan`` skips on this run, if it does."""
        if plan.label not in {item.label for item in self.unfunded}:
            return None
        return (
            f"{plan.label} could cost {usd(plan.total_micros)} ({plan.why}); the budget of "
            f"{usd(self.options.budget_micros)} has no room for it after the other checks: "
            "raise the budget or select this check alone with -k"
        )

    @property
    def spent_micros(self) -> int | None:
        if self.balance_before is None or self.balance_after is None:
            return None
        return self.balance_before - self.balance_after

    def summary(self) -> list[str]:
        """What the terminal summary (and ``verify``) print about the target and the money."""
        lines = [f"target: {self.description}"]
        if self.spender is not None and self.spender.limit_micros is None:
            lines.append("budget: not needed (the fake: jobs cost nothing real)")
        else:
            lines.append(
                f"budget: {usd(self.options.budget_micros)}; planned at most "
                f"{usd(self.planned_micros)}"
            )
            lines.extend(f"  {line}" for line in describe_plan(self.plan))
        if self.balance_before is not None:
            after = "unknown" if self.balance_after is None else usd(self.balance_after)
            spent = self.spent_micros
            spent_text = "unknown" if spent is None else usd(spent)
            lines.append(f"spent: {spent_text} (balance {usd(self.balance_before)} -> {after})")
        if self.close_error is not None:
            lines.append(f"  the balance could not be read at the end: {self.close_error}")
        return lines + self.advice()

    def advice(self) -> list[str]:
        """What would make the next run faster, where the user can change it."""
        if self.fake_job_wait_seconds >= SLOW_FAKE_WAIT_SECONDS:
            return [
                f"slow: {self.fake_job_wait_seconds:.1f} s of this run went on waiting for the "
                "fake's jobs to run at its pace; `wavespeed-mock serve --pace instant` "
                "finishes each at once, and every check runs the same"
            ]
        return []


def _recognise(target: Target, client: httpx.Client) -> None:
    """Is a target by URL a WaveSpeed API at all, and is the key good? (see
    :mod:`mock_api.contract.recognise`). The fake by URL serves our very spec: only its
    key is in question."""
    if target.kind is not TargetKind.IN_PROCESS:
        recognise_by_url(target.base_url, client.get("/api/v3/balance"), fake=target.is_fake)


SESSION = pytest.StashKey[ContractSession]()
