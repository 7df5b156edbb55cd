"""The parity scenarios: the cheapest flows that each show one behaviour of the service.

Each scenario drives a target the way a client would, through a
:class:`~mock_api.parity.run.Run`, and returns its timeline; with the
exchanges the run recorded, that is one snapshot
(:mod:`mock_api.parity.snapshots`). What each shows, and costs on a paid target:

* ``catalogue`` (free): ``GET /api/v3/models``, the InfiniteTalk entries: the
  first snapshot recorded from the real service (by a third party);
  ``catalogue-filters`` (free): ``?type=`` and ``?category=`` that no
  InfiniteTalk model has list none of them; ``balances`` (free): both balance
  paths agree.
* ``minimum-*`` (three, $0.075 each): a job of 1 s and 2 s of audio in each
  order, billed the 5 s minimum, with the charge seen at acceptance, the
  statuses polled, both read paths, and the output played and measured;
  ``over-minimum-meanwhile`` (6.2 s and 2.1 s: 7 s, $0.105) and
  ``over-minimum-left-right`` (3.4 s then 4.3 s: 8 s, $0.12): the rounding and
  how the orders combine the tracks; ``padding-band`` (three jobs, $0.24):
  tracks a few ms past a whole second (5.03 s, 5.07 s, 3.03 s then 2.04 s),
  which tell how much encoder padding is forgiven and where;
  ``over-the-cap`` (605 s of speech, $9.00, *optional*: a paid target records
  it only when ``--budget`` has room): billed at the 600 s cap.
* ``unreadable-media`` (free): media that cannot be fetched fail the job, and
  nothing is charged.
* The fake's own (its control API: the real service cannot be told these, so
  they are skipped there, and say so): ``failed-job-refunded`` (a job told to
  fail is charged at acceptance and refunded once), ``flagged-output`` (a job
  told to be flagged keeps its NSFW flag), ``not-enough-balance`` (a $0.01
  balance: 402, no job, nothing moved), ``rate-limit`` (a quota of one video
  a minute: the 429 and its ``Retry-After``, then accepted after it; it moves
  the fake's clock on a minute, then by what ``Retry-After`` said).
* ``error-shapes``, ``upload-ticket``, ``quotes`` (both quote paths for no
  inputs and for an order alone), ``history-and-delete`` (two free jobs
  listed, filtered, one deleted): all free.
* ``two-accounts`` ($0.075; needs a second key): the second account cannot
  read, list or delete the first's job, and its balance does not move when
  the first is charged.
* ``webhook`` ($0.075; needs a receiver the target can reach): the receiver
  answers the first delivery 500; each delivery is verified as documented,
  and listened to past the expected two.
* ``sync`` ($0.075): ``enable_sync_mode`` answers with the finished job.
* ``family`` ($0.525): a fast sibling and a standard one (default resolution,
  then 720p), each under its minimum, quoted on both paths, then charged.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from mock_api.contract.jobs import upload_job, upload_request, upload_silence, upload_video
from mock_api.contract.schema import UNFETCHABLE
from mock_api.contract.target import RetryAfterMissing, retry_after_seconds
from mock_api.contract.webhooks import Delivery, WebhookReceiver, WebhookRejected, verify_delivery
from mock_api.parity.run import Run
from mock_api.parity.sanitise import media_summary

__all__ = ["SCENARIOS", "Scenario"]

MODEL = "wavespeed-ai/infinitetalk-fast/video-to-video-multi"
SUBMIT = f"/api/v3/{MODEL}"
#: The catalogue entries a snapshot keeps (the real answer lists ~1,000 models).
FAMILY_PREFIX = "wavespeed-ai/infinitetalk"
#: Media on ``.invalid`` hosts: the job cannot be priced, fails 1402 and costs nothing.
UNREADABLE = {f: UNFETCHABLE.format(field=f) for f in ("video", "left_audio", "right_audio")}
#: The rate of our model, in micro-dollars a second: what a scenario's worst case is priced at.
RATE = 15_000


def _body(run: Run, order: str, lengths_ms: tuple[int, int] = (1_000, 2_000)) -> dict[str, Any]:
    """Uploads for a job of our model: a 3 s video and two silences of ``lengths_ms``."""
    video = upload_video(run.api, run.cdn, 3_000)
    left = upload_silence(run.api, run.cdn, lengths_ms[0], "left")
    right = upload_silence(run.api, run.cdn, lengths_ms[1], "right")
    return {"video": video, "left_audio": left, "right_audio": right, "order": order, "seed": 7}


def _job(
    run: Run,
    order: str,
    lengths_ms: tuple[int, int] = (1_000, 2_000),
    *,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A job of ``lengths_ms`` of audio (default: 1 s and 2 s, the 5 s minimum) in ``order``,
    followed to its end."""
    return run.job(SUBMIT, _body(run, order, lengths_ms), headers=headers)


def _minimum(order: str) -> Callable[[Run], dict[str, Any]]:
    return lambda run: _job(run, order)


def _over(order: str, lengths_ms: tuple[int, int]) -> Callable[[Run], dict[str, Any]]:
    return lambda run: _job(run, order, lengths_ms)


#: Tracks a few ms past a whole second, each telling the contract's reading (up to 50 ms
#: forgiven per track, before combining) from a neighbour.
BAND = (
    ("meanwhile", (5_030, 1_000)),  # 30 ms over: 5 s (forgiving nothing: 6 s)
    ("meanwhile", (5_070, 1_000)),  # 70 ms over: 6 s (forgiving 100 ms: 5 s)
    ("left_right", (3_030, 2_040)),  # 2.98 + 1.99 s: 5 s (50 ms off the sum only: 6 s)
)
#: Speech past the 600 s maximum: billed at the cap.
OVER_CAP_MS = (605_000, 1_000)


def _band(run: Run) -> dict[str, Any]:
    return {"jobs": [_job(run, order, lengths) for order, lengths in BAND]}


def _unreadable(run: Run) -> dict[str, Any]:
    return run.job(SUBMIT, dict(UNREADABLE))


def _forced(outcome: str) -> Callable[[Run], dict[str, Any]]:
    def flow(run: Run) -> dict[str, Any]:
        assert run.force is not None, "needs a target that can be told how a job ends"
        return _job(run, "meanwhile", headers=run.force(outcome))

    return flow


def _history_total(run: Run) -> int:
    """How many jobs the account's history holds (read, not recorded: it depends on
    what ran before)."""
    answer = run.api.post("/api/v3/predictions", json={"page": 1, "page_size": 1})
    return int(answer.json()["data"]["total"]) if answer.status_code == 200 else -1


def _not_enough_balance(run: Run) -> dict[str, Any]:
    control = run.control
    assert control is not None, "needs the fake's control API"
    previous = run.api.get("/api/v3/balance").json()["data"]["balance"]
    body = _body(run, "meanwhile")
    account = {"api_key": run.api_key}
    control.put("/_mock/balance", json={**account, "balance": "0.01"}).raise_for_status()
    try:
        jobs_before = _history_total(run)
        timeline = run.job(SUBMIT, body)
        jobs_after = _history_total(run)
    finally:
        control.put("/_mock/balance", json={**account, "balance": str(previous)})
    return {**timeline, "jobs_created": jobs_after - jobs_before}


def _rate_limit(run: Run) -> dict[str, Any]:
    control = run.control
    assert control is not None, "needs the fake's control API"
    account = {"api_key": run.api_key}

    def advance(seconds: float) -> None:
        control.post("/_mock/clock", json={"action": "advance", "seconds": seconds})

    clock = control.get("/_mock/clock").json()["data"]
    if clock["kind"] == "system":
        raise RuntimeError("the fake's clock cannot be steered: serve it (an offset clock)")
    limits = control.get("/_mock/limits", params=account).json()["data"]
    advance(60)  # a minute of its own: the submissions of earlier scenarios are past
    control.put("/_mock/limits", json={**account, "videos_per_minute": 1}).raise_for_status()
    try:
        run.call("the first submission this minute", "POST", SUBMIT, json=dict(UNREADABLE))
        refused = run.call("a second in the same minute", "POST", SUBMIT, json=dict(UNREADABLE))
        try:
            wait = retry_after_seconds(refused) if refused.status_code == 429 else 0.0
        except RetryAfterMissing:
            wait = 60.0  # what it said is recorded; the flow goes on as a patient client's
        advance(wait)
        run.call("again, after Retry-After", "POST", SUBMIT, json=dict(UNREADABLE))
    finally:
        restore = {key: limits.get(key) for key in ("videos_per_minute", "max_concurrent")}
        control.put("/_mock/limits", json={**account, **restore})
    return {}


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
    # Followed only as a presigned PUT to the target's origin or an allowed host, never
    # with credentials: a refused ticket breaks the flow off, naming the field.
    sending = upload_request(ticket, run.api, len(data))
    run.call(
        "PUT the bytes",
        sending.method,
        sending.url,
        client=run.cdn,
        content=data,
        headers=sending.headers,
    )
    run.call("read the file back", "GET", ticket["download_url"], client=run.cdn)
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
    # The window starts at the first job's creation: a second first, so that a job an
    # earlier scenario made in the same millisecond (a fake's clock that stood still)
    # is not in it.
    run.wait(1.0)
    jobs = []
    for n in (1, 2):
        data = run.call(f"submit free job {n}", "POST", SUBMIT, json=dict(UNREADABLE)).json()
        run.follow(str(data["data"]["id"]), str(data["data"]["status"]))
        jobs.append(data["data"])
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


def _balance(client: httpx.Client) -> int:
    data = client.get("/api/v3/balance").json()["data"]
    return int(Decimal(str(data["balance"])) * 1_000_000)


def _two_accounts(run: Run) -> dict[str, Any]:
    second = run.second
    assert second is not None, "needs a second account's key"
    # The second account's balance is read, not recorded: that it equals or differs from
    # the first's depends on what ran before; that it does not move is the timeline's.
    second_before = _balance(second)
    first = _job(run, "meanwhile")
    job_id, created_at = run.last_job["id"], run.last_job["created_at"]
    for path in (f"/api/v3/predictions/{job_id}/result", f"/api/v3/predictions/{job_id}"):
        run.call("the second account reads the first's job", "GET", path, client=second)
    run.call(
        "the second account's history",
        "POST",
        "/api/v3/predictions",
        json={"page": 1, "page_size": 20, "created_after": created_at},
        client=second,
    )
    run.call(
        "the second account deletes the first's job",
        "POST",
        "/api/v3/predictions/delete",
        json={"ids": [job_id]},
        client=second,
    )
    run.call("the first account reads it still", "GET", f"/api/v3/predictions/{job_id}/result")
    second_after = _balance(second)
    return {**first, "second_account_moved_micros": second_before - second_after}


def _delivery(run: Run, secret: str, delivery: Delivery, answered: int) -> dict[str, Any]:
    try:
        verify_delivery(secret, delivery.headers, delivery.body, now=run.now() if run.now else None)
        verified = True
    except WebhookRejected:
        verified = False
    return {
        "answered": answered,
        "verified_as_documented": verified,
        "headers": run.sanitiser.headers(delivery.headers),
        "json": run.sanitiser.json(_json(delivery.body)),
    }


def _webhook(run: Run) -> dict[str, Any]:
    """One job whose first delivery is answered 500: both deliveries verified, then
    listened past (none may follow a 2xx), and both under the one webhook-id."""
    secret = str(
        run.call("the webhook secret", "GET", "/api/v3/webhook/secret").json()["data"]["secret"]
    )
    nudge = run.pump if run.control is not None else None
    with WebhookReceiver() as receiver:
        url = receiver.url_for("parity", failing=1)
        body = _body(run, "meanwhile")
        timeline = run.job(SUBMIT, body, params={"webhook": url})
        receiver.wait_for(lambda d: len(receiver.deliveries) >= 2, run.delivery_wait, nudge=nudge)
        if nudge is not None:
            for _ in range(40):  # 10 s of the fake's clock: past every retry it would make
                nudge()
        else:
            receiver.wait_for(lambda d: False, run.listen, nudge=nudge)
        deliveries = receiver.received(lambda d: True)
    return {
        **timeline,
        "deliveries": [
            _delivery(run, secret, d, 500 if index == 0 else 200)
            for index, d in enumerate(deliveries)
        ],
    }


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return media_summary(body)


def _sync(run: Run) -> dict[str, Any]:
    body = _body(run, "meanwhile")
    before = run.balance_micros("balance before")
    with run.time_flowing():
        answer = run.call(
            "submit in sync mode", "POST", SUBMIT, json={**body, "enable_sync_mode": True}
        )
    data = answer.json().get("data", {}) if answer.status_code == 200 else {}
    after = run.balance_micros("balance after")
    return {
        "answered": [data.get("status"), data.get("code")],
        "balance_moved_micros": before - after,
        "outputs": run.outputs(data),
    }


def _catalogue(run: Run) -> dict[str, Any]:
    response = run.call("the catalogue", "GET", "/api/v3/models")
    recorded = run.exchanges[-1]["response"]
    entries = recorded.get("json", {}).get("data")
    if response.status_code == 200 and isinstance(entries, list):
        family = [e for e in entries if str(e.get("model_id", "")).startswith(FAMILY_PREFIX)]
        recorded["json"]["data"] = sorted(family, key=lambda e: str(e.get("model_id")))
    return {}


def _catalogue_filters(run: Run) -> dict[str, Any]:
    """Filters that no InfiniteTalk model matches, and the one they all do: the family's
    model ids each lists (the rest of the catalogue is the service's to change)."""
    for query in ("type=text-to-image", "category=image", "type=digital-human"):
        response = run.call(f"the catalogue, ?{query}", "GET", f"/api/v3/models?{query}")
        recorded = run.exchanges[-1]["response"]
        entries = recorded.get("json", {}).get("data")
        if response.status_code == 200 and isinstance(entries, list):
            recorded["json"]["data"] = sorted(
                str(e.get("model_id"))
                for e in entries
                if str(e.get("model_id", "")).startswith(FAMILY_PREFIX)
            )
    return {}


def _balances(run: Run) -> dict[str, Any]:
    run.call("the balance", "GET", "/api/v3/balance")
    run.call("the account's balance", "GET", "/api/v3/account/balance")
    return {}


#: The family's cheapest telling jobs: (model, audio lengths in ms, resolution).
FAMILY_JOBS: tuple[tuple[str, tuple[int, ...], str | None], ...] = (
    ("wavespeed-ai/infinitetalk-fast", (1_200,), None),  # fast: 5 s at $0.015, $0.075
    ("wavespeed-ai/infinitetalk", (1_200,), None),  # standard, default 480p: $0.15
    ("wavespeed-ai/infinitetalk", (1_200,), "720p"),  # standard at 720p: $0.30
)


def _family(run: Run) -> dict[str, Any]:
    jobs = []
    for model, audio_ms, resolution in FAMILY_JOBS:
        job = upload_job(run.api, run.cdn, model, audio_ms, resolution=resolution)
        body = job.body(seed=7)
        for path in ("/api/v3/model/price", "/api/v3/model/pricing"):
            run.call(
                f"quote {model} {resolution or ''}".strip(),
                "POST",
                path,
                json={"model_id": model, "inputs": body},
            )
        jobs.append(run.job(job.path, body))
    return {"jobs": jobs}


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    run: Callable[[Run], dict[str, Any]]
    #: Worst-case cost on a paid target, in micro-dollars.
    cost_micros: int = 0
    #: Needs a webhook receiver the target can reach.
    needs_receiver: bool = False
    #: Needs the fake's control API and outcomes (the real service cannot be told these).
    needs_control: bool = False
    #: Needs a second account's key.
    needs_second_key: bool = False
    #: A paid target runs it only when the budget has room for it.
    optional: bool = False


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("catalogue", "GET /api/v3/models: the InfiniteTalk entries", _catalogue),
    Scenario(
        "catalogue-filters",
        "?type= and ?category= that no InfiniteTalk model has, and the one they all have",
        _catalogue_filters,
    ),
    Scenario("balances", "both balance paths, read together", _balances),
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
    Scenario(
        "padding-band",
        "5.03 s, 5.07 s, and 3.03 s then 2.04 s: how much encoder padding is forgiven",
        _band,
        240_000,
    ),
    Scenario(
        "over-the-cap",
        "605 s of speech: billed at the 600 s cap",
        _over("meanwhile", OVER_CAP_MS),
        600 * RATE,
        optional=True,
    ),
    Scenario("unreadable-media", "a job whose media cannot be fetched fails, free", _unreadable),
    Scenario(
        "failed-job-refunded",
        "a job told to fail: charged at acceptance, refunded once",
        _forced("fail"),
        needs_control=True,
    ),
    Scenario(
        "flagged-output",
        "a job told to be flagged keeps its NSFW flag",
        _forced("nsfw"),
        needs_control=True,
    ),
    Scenario(
        "not-enough-balance",
        "a $0.075 job on a $0.01 balance: 402, no job, nothing moved",
        _not_enough_balance,
        needs_control=True,
    ),
    Scenario(
        "rate-limit",
        "a quota of one video a minute: the 429, its Retry-After, then accepted",
        _rate_limit,
        needs_control=True,
    ),
    Scenario("error-shapes", "the 400, 401 and 404 answers", _errors),
    Scenario("upload-ticket", "an upload ticket, its PUT, and the file read back", _upload),
    Scenario("quotes", "both quote paths, for no inputs and for an order alone", _quotes),
    Scenario("history-and-delete", "two free jobs listed, filtered, one deleted, free", _history),
    Scenario(
        "two-accounts",
        "a second account cannot read, list or delete the first's job, nor share its balance",
        _two_accounts,
        75_000,
        needs_second_key=True,
    ),
    Scenario(
        "webhook",
        "a 5 s minimum job delivered to a receiver on loopback, its first delivery refused",
        _webhook,
        75_000,
        needs_receiver=True,
    ),
    Scenario("sync", "enable_sync_mode answers with the finished job", _sync, 75_000),
    Scenario(
        "family",
        "a fast sibling and a standard one (480p by default, then 720p), quoted and charged",
        _family,
        525_000,
    ),
)
