"""One scenario's run against one target: the clients, the clock, the recording.

:class:`Run` sends each request a scenario makes and records it, sanitised
(:mod:`mock_api.parity.sanitise`); :meth:`Run.job` is the flow most scenarios
share: a job submitted, the balance read just after (is the charge taken at
acceptance?), polled at a fixed interval to its end (the statuses seen, with
consecutive repeats folded, so a slower or faster service still compares),
read by both of its paths, its outputs downloaded and measured (do they play,
and for how long), and the balance read again.

What a target offers beyond the public API is optional here and named: the
control API of a fake (``control``: balances, limits, the clock, webhook
pumping), outcomes it can be told (``force``), a second account
(``second``).
Scenarios that need one are skipped where it is missing, and say so.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from mock_api.parity.sanitise import Sanitiser, media_summary

__all__ = ["JOB_LIMIT_SECONDS", "OUTPUT_STEP_MS", "UNFINISHED", "Run"]

UNFINISHED = ("created", "processing")
#: How long a flow may poll a job before it gives up, in waited seconds (a fake's jobs
#: take a second or two; the real service's 10 to 30 s per second of output).
JOB_LIMIT_SECONDS = 1_800.0
#: An output's length is recorded to the nearest 100 ms: a service that encodes a few
#: frames differently still compares equal, a second too long does not.
OUTPUT_STEP_MS = 100


@contextlib.contextmanager
def _still() -> Iterator[None]:
    yield


@dataclass
class Run:
    """One scenario's run against one target: its clients, clock and recording."""

    api: httpx.Client
    cdn: httpx.Client
    anonymous: httpx.Client
    wait: Callable[[float], object]
    poll_interval: float
    sanitiser: Sanitiser
    #: The first account's key (the control API names accounts by key).
    api_key: str = ""
    #: A client as a second account, where the target has one.
    second: httpx.Client | None = None
    #: The target's control API (a fake): balances, limits, the clock, webhook pumping.
    control: httpx.Client | None = None
    #: Headers that make the next submission end as told (``complete``, ``fail``, ``nsfw``).
    force: Callable[[str], dict[str, str]] | None = None
    #: Unix seconds on the target's clock (what a webhook's timestamp is held to).
    now: Callable[[], float] | None = None
    #: Lets the target's clock run during a blocking call (sync mode, in-process).
    time_flowing: Callable[[], contextlib.AbstractContextManager[None]] = _still
    #: Wall seconds to wait for a webhook, and to go on listening after the expected ones.
    delivery_wait: float = 60.0
    listen: float = 30.0
    #: How long one job may be polled, in waited seconds.
    job_limit: float = JOB_LIMIT_SECONDS
    exchanges: list[dict[str, Any]] = field(default_factory=list)
    #: The last job :meth:`job` submitted, as answered (raw: its id, to use again).
    last_job: dict[str, Any] = field(default_factory=dict)

    def call(
        self, step: str, method: str, path: str, *, client: httpx.Client | None = None, **kw: Any
    ) -> httpx.Response:
        """Send one request and record it, sanitised, as ``step``."""
        response = (client or self.api).request(method, path, **kw)
        body = kw.get("json")
        request: dict[str, Any] = {"method": method, "path": self.sanitiser.url(path)}
        if body is not None:
            request["json"] = self.sanitiser.json(body)
        elif "content" in kw:
            request["content"] = media_summary(kw["content"])
        self.exchanges.append({"step": step, "request": request, "response": self.answer(response)})
        return response

    def answer(self, response: httpx.Response) -> dict[str, Any]:
        recorded: dict[str, Any] = {"status": response.status_code}
        headers = self.sanitiser.headers(response.headers)
        if headers:
            recorded["headers"] = headers
        try:
            recorded["json"] = self.sanitiser.json(response.json())
        except ValueError:
            recorded["body"] = media_summary(response.content)
        return recorded

    def balance_micros(self, step: str) -> int:
        response = self.call(step, "GET", "/api/v3/balance")
        data = response.json()["data"]
        return int(Decimal(str(data["balance"])) * 1_000_000)

    def follow(self, job_id: str, first: str) -> tuple[list[str], dict[str, Any]]:
        """Poll every :attr:`poll_interval` until the job ends; the statuses seen, folded,
        and the job as its last read (``/result``, then ``/predictions/{id}``) gave it."""
        seen = [first]
        waited = 0.0
        # Only the documented unfinished statuses are waited on: any other (a final one,
        # or one the docs do not name) is what the service said, and is recorded.
        while seen[-1] in UNFINISHED and waited < self.job_limit:
            self.wait(self.poll_interval)
            waited += self.poll_interval
            response = self.api.get(f"/api/v3/predictions/{job_id}/result")
            status = str(response.json().get("data", {}).get("status"))
            if status != seen[-1]:
                seen.append(status)
        final = self.call("read the finished job", "GET", f"/api/v3/predictions/{job_id}/result")
        self.call("read it by its other path", "GET", f"/api/v3/predictions/{job_id}")
        data = final.json().get("data", {}) if final.status_code == 200 else {}
        return seen, data if isinstance(data, dict) else {}

    def outputs(self, job: dict[str, Any]) -> list[dict[str, Any]]:
        """Each output downloaded and opened: does it play, and how long it lasts."""
        from mock_api.contract.output import measure  # PyAV, a test extra

        measured: list[dict[str, Any]] = []
        for url in job.get("outputs") or ():
            response = self.cdn.get(str(url))
            if response.status_code != 200:
                measured.append({"download": response.status_code})
                continue
            try:
                video = measure(response.content)
            except ValueError:
                measured.append({"plays": False})
                continue
            lasts = round(video.duration_ms / OUTPUT_STEP_MS) * OUTPUT_STEP_MS
            measured.append({"plays": True, "lasts_ms": lasts})
        return measured

    def job(
        self,
        path: str,
        body: dict[str, Any],
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Submit ``body`` to ``path`` and follow it to its end: the job's timeline."""
        before = self.balance_micros("balance before")
        submitted = self.call(
            "submit", "POST", path, json=body, params=params, headers=headers or {}
        )
        if submitted.status_code != 200:
            after = self.balance_micros("balance after")
            return {"submitted": submitted.status_code, "balance_moved_micros": before - after}
        data = self.last_job = submitted.json()["data"]
        during = self.balance_micros("balance just after submitting")
        statuses, final = self.follow(str(data["id"]), str(data["status"]))
        after = self.balance_micros("balance after")
        return {
            "statuses": statuses,
            "charged_at_acceptance_micros": before - during,
            "balance_moved_micros": before - after,
            "outputs": self.outputs(final),
        }

    def pump(self) -> None:
        """Let due webhook deliveries go out: the fake's clock moved on a quarter second
        (where it can be steered) and its dispatcher pumped. Elsewhere deliveries go out
        on their own, on the service's schedule."""
        if self.control is None:
            return
        self.control.post("/_mock/clock", json={"action": "advance", "seconds": 0.25})
        self.control.post("/_mock/webhooks/pump")
