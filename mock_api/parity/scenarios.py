"""The parity scenarios: the cheapest flows that each show one behaviour of the service.

Each scenario drives a target (the fake in-process, or any server by URL) the
way a client would, through :class:`Run`, which records every exchange,
sanitised (:mod:`mock_api.parity.sanitise`), and returns the flow's timeline:
the statuses seen when polling at a fixed interval (consecutive repeats folded,
so a slower or faster service still compares), the balance's movement in
micro-dollars, and the webhook deliveries. Together they are one snapshot
(:mod:`mock_api.parity.snapshots`).

The scenarios, with what each costs on a paid target:

* ``minimum-meanwhile``, ``minimum-left-right``, ``minimum-right-left``: a job of
  1 s and 2 s of audio in each order, billed the 5 s minimum ($0.075 each);
* ``over-minimum-meanwhile`` (6.2 s and 2.1 s: 7 s, $0.105) and
  ``over-minimum-left-right`` (3.4 s then 4.3 s: 8 s, $0.12): the rounding and
  how the orders combine the tracks;
* ``unreadable-media``: a job whose media cannot be fetched fails (1402), free;
* ``error-shapes``: the 400, 401 and 404 answers, free;
* ``upload-ticket``: a ticket and its PUT, free;
* ``quotes``: both quote paths for no inputs and for an order alone, free;
* ``history-and-delete``: two free jobs listed, filtered by status, one
  deleted, then listed and read again, free;
* ``webhook``: a 5 s minimum job whose delivery reaches a receiver the run
  starts on loopback ($0.075; only where the target can reach it);
* ``catalogue``: ``GET /api/v3/models``, the InfiniteTalk entries, free.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from mock_api.contract.jobs import upload_silence, upload_video
from mock_api.contract.schema import UNFETCHABLE
from mock_api.contract.webhooks import WebhookReceiver
from mock_api.parity.sanitise import Sanitiser, media_summary

__all__ = ["JOB_LIMIT_SECONDS", "SCENARIOS", "Run", "Scenario"]

MODEL = "wavespeed-ai/infinitetalk-fast/video-to-video-multi"
SUBMIT = f"/api/v3/{MODEL}"
#: The catalogue entries a snapshot keeps (the real answer lists ~1,000 models).
FAMILY_PREFIX = "wavespeed-ai/infinitetalk"
UNFINISHED = ("created", "processing")
#: How long a flow may poll a job before it gives up, in waited seconds (a fake's jobs
#: take a second or two; the real service's 10 to 30 s per second of output).
JOB_LIMIT_SECONDS = 1_800.0


@dataclass
class Run:
    """One scenario's run against one target: its clients, clock and recording."""

    api: httpx.Client
    cdn: httpx.Client
    anonymous: httpx.Client
    wait: Callable[[float], object]
    poll_interval: float
    sanitiser: Sanitiser
    #: Reach the target's control API (a fake): to pump due webhook deliveries.
    control: httpx.Client | None = None
    #: How long one job may be polled, in waited seconds.
    job_limit: float = JOB_LIMIT_SECONDS
    exchanges: list[dict[str, Any]] = field(default_factory=list)

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
        data = self.call(step, "GET", "/api/v3/balance").json()["data"]
        return int(Decimal(str(data["balance"])) * 1_000_000)

    def follow(self, job_id: str, first: str) -> list[str]:
        """Poll every :attr:`poll_interval` until the job ends; the statuses seen, folded."""
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
        self.call("read the finished job", "GET", f"/api/v3/predictions/{job_id}/result")
        return seen


def _job(
    run: Run,
    order: str,
    *,
    webhook: str | None = None,
    lengths_ms: tuple[int, int] = (1_000, 2_000),
) -> dict[str, Any]:
    """A job of ``lengths_ms`` of audio (default: 1 s and 2 s, the 5 s minimum) in ``order``,
    followed to its end."""
    before = run.balance_micros("balance before")
    video = upload_video(run.api, run.cdn, 3_000)
    left = upload_silence(run.api, run.cdn, lengths_ms[0], "left")
    right = upload_silence(run.api, run.cdn, lengths_ms[1], "right")
    body = {"video": video, "left_audio": left, "right_audio": right, "order": order, "seed": 7}
    params = {"webhook": webhook} if webhook else None
    submitted = run.call("submit", "POST", SUBMIT, json=body, params=params)
    data = submitted.json()["data"]
    statuses = run.follow(str(data["id"]), str(data["status"]))
    after = run.balance_micros("balance after")
    return {"statuses": statuses, "balance_moved_micros": before - after}


def _minimum(order: str) -> Callable[[Run], dict[str, Any]]:
    return lambda run: _job(run, order)


def _over(order: str, lengths_ms: tuple[int, int]) -> Callable[[Run], dict[str, Any]]:
    return lambda run: _job(run, order, lengths_ms=lengths_ms)


def _unreadable(run: Run) -> dict[str, Any]:
    before = run.balance_micros("balance before")
    body = {f: UNFETCHABLE.format(field=f) for f in ("video", "left_audio", "right_audio")}
    submitted = run.call("submit media that cannot be fetched", "POST", SUBMIT, json=body)
    data = submitted.json()["data"]
    statuses = run.follow(str(data["id"]), str(data["status"]))
    after = run.balance_micros("balance after")
    return {"statuses": statuses, "balance_moved_micros": before - after}


def _errors(run: Run) -> dict[str, Any]:
    run.call("400: no inputs", "POST", SUBMIT, json={})
    run.call("400: an order that is not one", "POST", SUBMIT, json={"order": "sideways"})
    run.call("401: no key", "GET", "/api/v3/balance", client=run.anonymous)
    missing = secrets.token_hex(16)
    run.call("404: no such job", "GET", f"/api/v3/predictions/{missing}/result")
    return {}


def _upload(run: Run) -> dict[str, Any]:
    data = b"RIFF" + bytes(60)
    ticket = run.call(
        "ticket",
        "POST",
        "/api/v3/media/uploads",
        json={
            "filename": "probe.bin",
            "size": len(data),
            "content_type": "application/octet-stream",
        },
    ).json()["data"]
    upload = ticket["upload"]
    run.call(
        "PUT the bytes",
        upload.get("method", "PUT"),
        upload["url"],
        client=run.cdn,
        content=data,
        headers=upload.get("headers") or {},
    )
    run.call("read the file back", "GET", ticket["download_url"], client=run.cdn)
    return {}


def _webhook(run: Run) -> dict[str, Any]:
    with WebhookReceiver() as receiver:
        timeline = _job(run, "meanwhile", webhook=receiver.url)
        nudge = None
        if run.control is not None:
            control = run.control

            def nudge() -> None:
                run.wait(0.25)
                control.post("/_mock/webhooks/pump")

        delivery = receiver.wait_for(lambda d: True, 30.0, nudge=nudge)
        deliveries = []
        if delivery is not None:
            deliveries.append(
                {
                    "headers": run.sanitiser.headers(delivery.headers),
                    "json": run.sanitiser.json(_json(delivery.body)),
                }
            )
    return {**timeline, "deliveries": deliveries}


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return media_summary(body)


def _catalogue(run: Run) -> dict[str, Any]:
    response = run.call("the catalogue", "GET", "/api/v3/models")
    recorded = run.exchanges[-1]["response"]
    entries = recorded.get("json", {}).get("data")
    if response.status_code == 200 and isinstance(entries, list):
        family = [e for e in entries if str(e.get("model_id", "")).startswith(FAMILY_PREFIX)]
        recorded["json"]["data"] = sorted(family, key=lambda e: str(e.get("model_id")))
    return {}


def _quotes(run: Run) -> dict[str, Any]:
    for path in ("/api/v3/model/price", "/api/v3/model/pricing"):
        run.call(f"quote of no inputs ({path})", "POST", path, json={"model_id": MODEL})
        run.call(
            f"quote of an order alone ({path})",
            "POST",
            path,
            json={"model_id": MODEL, "inputs": {"order": "left_right"}},
        )
    return {}


def _history(run: Run) -> dict[str, Any]:
    body = {f: UNFETCHABLE.format(field=f) for f in ("video", "left_audio", "right_audio")}
    jobs = []
    for n in (1, 2):
        data = run.call(f"submit free job {n}", "POST", SUBMIT, json=body).json()["data"]
        run.follow(str(data["id"]), str(data["status"]))
        jobs.append(data)
        run.wait(0.01)
    window = {"page": 1, "page_size": 20, "created_after": jobs[0]["created_at"]}
    run.call("the history", "POST", "/api/v3/predictions", json=window)
    run.call("failed only", "POST", "/api/v3/predictions", json={**window, "status": "failed"})
    run.call(
        "completed only", "POST", "/api/v3/predictions", json={**window, "status": "completed"}
    )
    run.call(
        "delete the first", "POST", "/api/v3/predictions/delete", json={"ids": [jobs[0]["id"]]}
    )
    run.call("the history after", "POST", "/api/v3/predictions", json=window)
    run.call("the deleted job", "GET", f"/api/v3/predictions/{jobs[0]['id']}/result")
    return {}


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    run: Callable[[Run], dict[str, Any]]
    #: Worst-case cost on a paid target, in micro-dollars.
    cost_micros: int = 0
    #: Needs a webhook receiver the target can reach.
    needs_receiver: bool = False


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("catalogue", "GET /api/v3/models: the InfiniteTalk entries", _catalogue),
    Scenario(
        "minimum-meanwhile",
        "a 5 s minimum job, both speaking at once",
        _minimum("meanwhile"),
        75_000,
    ),
    Scenario(
        "minimum-left-right", "a 5 s minimum job, left then right", _minimum("left_right"), 75_000
    ),
    Scenario(
        "minimum-right-left", "a 5 s minimum job, right then left", _minimum("right_left"), 75_000
    ),
    Scenario(
        "over-minimum-meanwhile",
        "6.2 s and 2.1 s at once: the longer, rounded up, 7 s",
        _over("meanwhile", (6_200, 2_100)),
        105_000,
    ),
    Scenario(
        "over-minimum-left-right",
        "3.4 s then 4.3 s: both, rounded up, 8 s",
        _over("left_right", (3_400, 4_300)),
        120_000,
    ),
    Scenario("unreadable-media", "a job whose media cannot be fetched fails, free", _unreadable),
    Scenario("error-shapes", "the 400, 401 and 404 answers", _errors),
    Scenario("upload-ticket", "an upload ticket, its PUT, and the file read back", _upload),
    Scenario("quotes", "both quote paths, for no inputs and for an order alone", _quotes),
    Scenario("history-and-delete", "two free jobs listed, filtered, one deleted, free", _history),
    Scenario(
        "webhook",
        "a 5 s minimum job delivered to a receiver on loopback",
        _webhook,
        75_000,
        needs_receiver=True,
    ),
)
