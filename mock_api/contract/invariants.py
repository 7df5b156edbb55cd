"""Lifecycle invariants that a schema cannot express, and a poller that checks them.

Why this exists: ``openapi.yaml`` says what one response looks like; it cannot
say that a job's status never moves backwards, that a finished job never
changes, or that outputs appear exactly when the job completes. Those are
properties of a *sequence* of reads of one job, and they are what polling
clients (the official SDKs among them) rely on.

Two layers, usable against any target:

* pure checks over snapshots (the ``data`` object of a prediction response):
  :func:`check_snapshot` for one read, :func:`check_transition` for two
  consecutive reads, :func:`check_history` for a whole sequence;
* :class:`Poller`, which reads a job through an ``httpx.Client`` until it
  finishes (and a few times more), checking every read as it arrives. Time is
  injected: in-process it advances a ``ManualClock``, over HTTP it sleeps.

Every failure is an :class:`InvariantViolation` naming the invariant and
showing the offending snapshot(s), so a report reads without a debugger.
"""

from __future__ import annotations

import base64
import enum
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

import httpx

from mock_api.spec import default_spec

__all__ = [
    "STATUSES",
    "TERMINAL",
    "UNSUCCESSFUL",
    "Invariant",
    "InvariantViolation",
    "LifecycleTimeout",
    "Poller",
    "Snapshot",
    "check_history",
    "check_outputs_download",
    "check_snapshot",
    "check_transition",
    "check_urls_get",
    "read_job",
]

Snapshot = Mapping[str, Any]

#: The statuses of ``openapi.yaml``, in the only order a job may pass through them.
#: The docs list the first four; the SDKs also end on ``timeout`` and ``cancelled``.
STATUSES = ("created", "processing", "completed", "failed", "timeout", "cancelled")
TERMINAL = frozenset(STATUSES[2:])
#: Finished without outputs: the job's ``error`` says why.
UNSUCCESSFUL = frozenset(STATUSES[3:])
_RANK = {status: min(index, 2) for index, status in enumerate(STATUSES)}
#: The docs show 3 fractional digits on predictions and 9 in the history (openapi.yaml's
#: ``CreatedAt`` takes 1 to 9), always in UTC ("Z").
_CREATED_AT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{1,9}Z$")


class Invariant(enum.StrEnum):
    """Each property a job's reads must keep, as its report names it."""

    STATUS_KNOWN = "status is one of " + ", ".join(STATUSES)
    STATUS_FORWARD = (
        "status only moves forward: created -> processing -> completed | failed "
        "(| timeout | cancelled)"
    )
    FINISHED_FINAL = "a finished job never changes"
    OUTPUTS_IFF_COMPLETED = "outputs are non-empty exactly when the job is completed"
    NSFW_PER_OUTPUT = "has_nsfw_contents holds one flag per output"
    ERROR_IFF_FAILED = (
        "error is non-empty exactly when the job failed (or timed out, or was cancelled)"
    )
    CREATED_AT_FORMAT = (
        "created_at is ISO 8601 UTC with 1 to 9 fractional digits (2023-04-01T12:34:56.789Z)"
    )
    CREATED_AT_STABLE = "created_at never changes"
    ID_STABLE = "the id never changes"
    URLS_GET_SAME_JOB = "urls.get answers the same job"
    OUTPUTS_DOWNLOAD = "output URLs download"
    OUTPUT_PLAYS = "the output video decodes and lasts as long as the speech (to the frame)"
    CONFORMS = "every answer of a poll conforms to openapi.yaml"
    PATHS_AGREE = (
        "GET /api/v3/predictions/{id} and /api/v3/predictions/{id}/result answer the same "
        "job at the same moment"
    )


def _show(snapshot: Snapshot | None) -> str:
    return json.dumps(snapshot, sort_keys=True, default=str)


class InvariantViolation(AssertionError):
    """A read (or a pair of reads) of a job broke one of the :class:`Invariant` s."""

    def __init__(
        self,
        invariant: Invariant,
        detail: str,
        *,
        later: Snapshot | None,
        earlier: Snapshot | None = None,
    ) -> None:
        self.invariant = invariant
        self.detail = detail
        self.earlier = earlier
        self.later = later
        lines = [f"invariant broken: {invariant.value}", f"  {detail}"]
        if earlier is not None:
            lines.append(f"  earlier read: {_show(earlier)}")
            lines.append(f"  later read:   {_show(later)}")
        elif later is not None:
            lines.append(f"  read: {_show(later)}")
        super().__init__("\n".join(lines))


class LifecycleTimeout(AssertionError):
    """The job did not finish within the poller's time limit."""


def _fail(
    invariant: Invariant, detail: str, later: Snapshot, earlier: Snapshot | None = None
) -> NoReturn:
    raise InvariantViolation(invariant, detail, later=later, earlier=earlier)


def check_snapshot(snapshot: Snapshot) -> None:
    """The invariants one read must keep on its own."""
    status = snapshot.get("status")
    if status not in _RANK:
        _fail(Invariant.STATUS_KNOWN, f"status is {status!r}", snapshot)
    outputs = snapshot.get("outputs")
    if not isinstance(outputs, list):
        _fail(Invariant.OUTPUTS_IFF_COMPLETED, f"outputs is {outputs!r}, not a list", snapshot)
    if (status == "completed") != bool(outputs):
        have = f"{len(outputs)} output(s)"
        _fail(Invariant.OUTPUTS_IFF_COMPLETED, f"status {status!r} with {have}", snapshot)
    flags = snapshot.get("has_nsfw_contents")
    if not isinstance(flags, list) or len(flags) != len(outputs):
        _fail(
            Invariant.NSFW_PER_OUTPUT,
            f"{len(outputs)} output(s) but has_nsfw_contents is {flags!r}",
            snapshot,
        )
    error = snapshot.get("error")
    if (status in UNSUCCESSFUL) != bool(error):
        _fail(Invariant.ERROR_IFF_FAILED, f"status {status!r} with error {error!r}", snapshot)
    created_at = snapshot.get("created_at")
    if (
        not isinstance(created_at, str)
        or not _CREATED_AT.match(created_at)
        or not _parses(created_at)
    ):
        _fail(Invariant.CREATED_AT_FORMAT, f"created_at is {created_at!r}", snapshot)


def _parses(text: str) -> bool:
    """A real moment (no 25:00 or February 30th), whatever its number of digits."""
    whole, _, fraction = text.removesuffix("Z").partition(".")
    try:
        datetime.strptime(f"{whole}.{fraction[:6]:0<6}+0000", "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return False
    return True


def check_transition(earlier: Snapshot, later: Snapshot) -> None:
    """The invariants two consecutive reads of one job must keep together."""
    if earlier.get("id") != later.get("id"):
        _fail(
            Invariant.ID_STABLE,
            f"id {earlier.get('id')!r} became {later.get('id')!r}",
            later,
            earlier,
        )
    before, after = earlier.get("status"), later.get("status")
    if before in TERMINAL and earlier != later:
        changed = sorted(k for k in {*earlier, *later} if earlier.get(k) != later.get(k))
        _fail(
            Invariant.FINISHED_FINAL,
            f"the job was {before!r} and then changed: {', '.join(changed)}",
            later,
            earlier,
        )
    if before in _RANK and after in _RANK and after != before and _RANK[after] <= _RANK[before]:
        _fail(Invariant.STATUS_FORWARD, f"{before!r} was followed by {after!r}", later, earlier)
    if earlier.get("created_at") != later.get("created_at"):
        detail = f"{earlier.get('created_at')!r} became {later.get('created_at')!r}"
        _fail(Invariant.CREATED_AT_STABLE, detail, later, earlier)


def check_history(snapshots: Sequence[Snapshot]) -> None:
    """Every invariant over a whole sequence of reads of one job, in order."""
    for index, snapshot in enumerate(snapshots):
        check_snapshot(snapshot)
        if index:
            check_transition(snapshots[index - 1], snapshot)


def check_urls_get(client: httpx.Client, snapshot: Snapshot) -> Snapshot:
    """Read the job through its own ``urls.get``: it must be the same job.

    ``client`` is the target's authenticated client; its key goes only to the
    target's own origin (:class:`~mock_api.contract.target.OriginAuth`), so a
    ``urls.get`` on another host is fetched without it (and may rightly be refused).
    """
    url = (snapshot.get("urls") or {}).get("get")
    if not isinstance(url, str) or not url:
        _fail(Invariant.URLS_GET_SAME_JOB, f"urls.get is {url!r}", snapshot)
    response = client.get(url)
    if response.status_code != 200:
        detail = f"GET {url} answered {response.status_code}: {response.text[:300]}"
        _fail(Invariant.URLS_GET_SAME_JOB, detail, snapshot)
    read: Snapshot = response.json().get("data") or {}
    if read.get("id") != snapshot.get("id"):
        _fail(Invariant.URLS_GET_SAME_JOB, f"GET {url} answered another job", read, snapshot)
    return read


def check_outputs_download(client: httpx.Client, snapshot: Snapshot, *, mp4: bool) -> None:
    """Every output URL downloads (no API key: outputs live on a CDN); ``mp4`` checks the box."""
    for url in snapshot.get("outputs") or ():
        if url.startswith("data:"):  # enable_base64_output: the video itself
            content = base64.b64decode(url.partition(",")[2], validate=False)
            name = "the base64 output"
        else:
            response = client.get(url)
            content, name = response.content, url
            if response.status_code != 200 or not content:
                detail = f"GET {url} answered {response.status_code} with {len(content)} bytes"
                _fail(Invariant.OUTPUTS_DOWNLOAD, detail, snapshot)
        if mp4 and (content[4:8] != b"ftyp" or b"moov" not in content):
            _fail(
                Invariant.OUTPUTS_DOWNLOAD,
                f"{name} is not an MP4 (starts {content[:16]!r})",
                snapshot,
            )


_PATHS = (
    ("getPredictionResult", "/api/v3/predictions/{id}/result"),
    ("getPrediction", "/api/v3/predictions/{id}"),
)


def _read_path(client: httpx.Client, operation_id: str, path: str) -> Snapshot:
    """One answer about a job, held to the spec whatever its status; its ``data``."""
    response = client.get(path)
    request = f"GET {path}"
    if response.status_code != 200:
        raise AssertionError(f"{request} answered {response.status_code}: {response.text[:500]}")
    try:
        body = response.json()
    except ValueError:
        raise InvariantViolation(
            Invariant.CONFORMS,
            f"{request} answered 200 with a body that is not JSON: {response.text[:200]!r}",
            later=None,
        ) from None
    violations = default_spec().response_violations(operation_id, 200, body)
    data = body.get("data") if isinstance(body, dict) else None
    snapshot: Snapshot = data if isinstance(data, dict) else {}
    if violations:
        listed = "; ".join(f"{v.field} {v.reason}" for v in violations[:6])
        _fail(Invariant.CONFORMS, f"{request} answered 200 outside the spec: {listed}", snapshot)
    return snapshot


#: How many times :func:`read_job` reads ``/{id}`` again while the job moves under it.
READ_ATTEMPTS = 5


def read_job(client: httpx.Client, job_id: str) -> list[Snapshot]:
    """Read a job on both documented paths, each answer held to ``openapi.yaml``.

    The two must agree at the same moment. A job may move on between two reads,
    so ``/result`` is read on either side of ``/{id}``: the middle read must
    equal one of them. If it equals neither and the two ``/result`` reads are
    the same, the job stood still and the paths disagree (a violation); if the
    job moved during the window (a short job can move twice), the window proves
    nothing, so ``/{id}`` is read again against the newer ``/result``, up to
    ``READ_ATTEMPTS`` times. Returns every read, in order, for the lifecycle checks.
    """
    result_op, result_path = _PATHS[0]
    plain_op, plain_path = _PATHS[1]
    first = _read_path(client, result_op, result_path.format(id=job_id))
    plain = _read_path(client, plain_op, plain_path.format(id=job_id))
    reads = [first, plain]
    windows = 0
    while plain != first:
        last = _read_path(client, result_op, result_path.format(id=job_id))
        reads.append(last)
        if plain == last:
            return reads
        windows += 1
        moved = last != first
        if not moved or windows == READ_ATTEMPTS:
            changed = sorted(k for k in {*last, *plain} if last.get(k) != plain.get(k))
            again = " again and again" if moved else ""
            _fail(
                Invariant.PATHS_AGREE,
                f"the two paths disagree on {', '.join(changed)} "
                f"(read /result, /{{id}}, /result{again})",
                plain,
                last,
            )
        first = last  # the job moved: a new window, /{id} beside the newer /result
        plain = _read_path(client, plain_op, plain_path.format(id=job_id))
        reads.append(plain)
    return reads


@dataclass
class Poller:
    """Reads one job until it finishes, checking every read on the way.

    ``wait(seconds)`` moves time between reads: ``ManualClock.advance``
    in-process, ``time.sleep`` over HTTP. ``timeout`` is in waited seconds,
    so it means the same thing on both: a number, or a function of the job's
    id (a target's :meth:`~mock_api.contract.target.Target.job_timeout`, which
    asks what the target's own answers imply for that job). After the job
    finishes it is read ``settle_polls`` more times, to prove it no longer changes.

    The waits are ``interval`` each; with ``first_wait``, they start there and
    double up to ``interval`` (a fake on loopback at instant pace has often
    finished a job before a 50 ms wait would end).
    """

    client: httpx.Client
    wait: Callable[[float], object]
    interval: float = 1.0
    timeout: float | Callable[[str], float] = 600.0
    settle_polls: int = 2
    first_wait: float | None = None

    def read(self, job_id: str) -> list[Snapshot]:
        """One poll: both result paths, each answer held to the spec (:func:`read_job`)."""
        return read_job(self.client, job_id)

    def follow(self, job_id: str, first: Snapshot | None = None) -> list[Snapshot]:
        """All reads of the job, from ``first`` (the submission's answer) to a settled end."""
        history: list[Snapshot] = []
        if first is not None:
            self._add(history, first)
        waited = 0.0
        pause = self.interval if self.first_wait is None else min(self.first_wait, self.interval)
        settled = 0
        limit: float | None = None
        while True:
            for snapshot in self.read(job_id):
                self._add(history, snapshot)
            if snapshot.get("status") in TERMINAL:
                settled += 1
                if settled > self.settle_polls:
                    return history
            if limit is None:  # asked once, after the first read: the job exists by then
                limit = self.timeout(job_id) if callable(self.timeout) else self.timeout
            if waited >= limit:
                raise LifecycleTimeout(
                    f"job {job_id} still {snapshot.get('status')!r} after {waited:g} s "
                    f"(the bound for this job: {limit:g} s; {len(history)} reads); "
                    f"last read: {_show(snapshot)}"
                )
            self.wait(pause)
            waited += pause
            pause = min(pause * 2, self.interval)

    @staticmethod
    def _add(history: list[Snapshot], snapshot: Snapshot) -> None:
        check_snapshot(snapshot)
        if history:
            check_transition(history[-1], snapshot)
        history.append(snapshot)
