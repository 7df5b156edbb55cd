"""mock_api.contract.invariants on hand-written sequences of reads, and the poller's timeout."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mock_api.contract.invariants import (
    READ_ATTEMPTS,
    Invariant,
    InvariantViolation,
    LifecycleTimeout,
    Poller,
    check_history,
    read_job,
)

JOB = "0123456789abcdef0123456789abcdef"


def read(status: str, **changes: Any) -> dict[str, Any]:
    completed = status == "completed"
    base: dict[str, Any] = {
        "id": JOB,
        "model": "wavespeed-ai/infinitetalk-fast/video-to-video-multi",
        "outputs": ["https://cdn.example/out.mp4"] if completed else [],
        "urls": {"get": f"https://api.example/api/v3/predictions/{JOB}/result"},
        "has_nsfw_contents": [False] if completed else [],
        "status": status,
        "created_at": "2026-01-01T00:00:00.000Z",
        "error": "Task failed." if status in ("failed", "timeout", "cancelled") else "",
        "timings": {},
    }
    return {**base, **changes}


GOOD = {
    "created, processing, completed": [read("created"), read("processing"), read("completed")],
    "straight to failed": [read("created"), read("failed"), read("failed")],
    "timeout is final too": [read("processing"), read("timeout")],
    "one read": [read("completed")],
    # The history's timestamps, as the docs' sample writes them.
    "nanoseconds": [read("completed", created_at="2025-05-19T06:09:15.948268264Z")],
}

BAD: dict[str, tuple[list[dict[str, Any]], Invariant]] = {
    "backwards": ([read("processing"), read("created")], Invariant.STATUS_FORWARD),
    "finished, then changed": ([read("completed"), read("processing")], Invariant.FINISHED_FINAL),
    "finished, then a field changed": (
        [read("completed"), read("completed", timings={"inference": 5})],
        Invariant.FINISHED_FINAL,
    ),
    "unknown status": ([read("queued")], Invariant.STATUS_KNOWN),
    "outputs while processing": (
        [read("processing", outputs=["x"], has_nsfw_contents=[False])],
        Invariant.OUTPUTS_IFF_COMPLETED,
    ),
    "completed without outputs": (
        [read("completed", outputs=[], has_nsfw_contents=[])],
        Invariant.OUTPUTS_IFF_COMPLETED,
    ),
    "a flag missing": ([read("completed", has_nsfw_contents=[])], Invariant.NSFW_PER_OUTPUT),
    "failed without a reason": ([read("failed", error="")], Invariant.ERROR_IFF_FAILED),
    "an error while processing": ([read("processing", error="hm")], Invariant.ERROR_IFF_FAILED),
    "created_at without ms": (
        [read("created", created_at="2026-01-01T00:00:00Z")],
        Invariant.CREATED_AT_FORMAT,
    ),
    "created_at not a date": (
        [read("created", created_at="2026-13-45T00:00:00.000Z")],
        Invariant.CREATED_AT_FORMAT,
    ),
    "created_at not a date, with nanoseconds": (
        [read("created", created_at="2026-02-30T00:00:00.123456789Z")],
        Invariant.CREATED_AT_FORMAT,
    ),
    "created_at with ten digits": (
        [read("created", created_at="2026-01-01T00:00:00.1234567890Z")],
        Invariant.CREATED_AT_FORMAT,
    ),
    "created_at moved": (
        [read("created"), read("processing", created_at="2026-01-01T00:00:01.000Z")],
        Invariant.CREATED_AT_STABLE,
    ),
    "another id": ([read("created"), read("processing", id="f" * 32)], Invariant.ID_STABLE),
}


@pytest.mark.parametrize("name", GOOD)
def test_lawful_histories_pass(name: str) -> None:
    check_history(GOOD[name])


@pytest.mark.parametrize("name", BAD)
def test_each_broken_invariant_is_named(name: str) -> None:
    history, invariant = BAD[name]
    with pytest.raises(InvariantViolation) as caught:
        check_history(history)
    assert caught.value.invariant is invariant
    assert str(caught.value).startswith(f"invariant broken: {invariant.value}")


def test_a_violation_between_two_reads_shows_both() -> None:
    with pytest.raises(InvariantViolation) as caught:
        check_history([read("completed"), read("processing")])
    text = str(caught.value)
    assert '"status": "completed"' in text.split("later read", maxsplit=1)[0]
    assert '"status": "processing"' in text.split("later read")[1]


def _answer(data: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"code": 200, "message": "success", "data": data})


def test_the_poller_gives_up_after_its_timeout_in_waited_seconds() -> None:
    waits: list[float] = []
    transport = httpx.MockTransport(lambda request: _answer(read("created")))
    with httpx.Client(base_url="https://api.example", transport=transport) as client:
        poller = Poller(client, waits.append, interval=5, timeout=20)
        with pytest.raises(LifecycleTimeout, match="still 'created' after 20 s"):
            poller.follow(JOB)
    assert waits == [5, 5, 5, 5]


def test_the_poller_asks_the_bound_for_each_job_once() -> None:
    """A target's ``job_timeout`` is asked per job id, after the first read."""
    asked: list[str] = []

    def bound(job_id: str) -> float:
        asked.append(job_id)
        return 10.0

    waits: list[float] = []
    transport = httpx.MockTransport(lambda request: _answer(read("created")))
    with httpx.Client(base_url="https://api.example", transport=transport) as client:
        poller = Poller(client, waits.append, interval=5, timeout=bound)
        with pytest.raises(LifecycleTimeout, match=r"after 10 s \(the bound for this job: 10 s"):
            poller.follow(JOB)
    assert asked == [JOB]
    assert waits == [5, 5]


def test_the_poller_reads_a_finished_job_again_to_see_it_settle() -> None:
    reads = iter([read("processing"), read("completed"), read("completed"), read("completed")])
    current: dict[str, Any] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        # Each poll reads /result, then /{id}: both see the job as it is at that poll.
        if request.url.path.endswith("/result"):
            current.update(next(reads))
        return _answer(dict(current))

    transport = httpx.MockTransport(answer)
    with httpx.Client(base_url="https://api.example", transport=transport) as client:
        history = Poller(client, lambda seconds: None, settle_polls=2).follow(JOB)
    # Four polls, each reading both paths: the finished job is read three times more.
    statuses = ["processing", "completed", "completed", "completed"]
    assert [r["status"] for r in history] == [status for status in statuses for _ in (1, 2)]


# read_job: both result paths at the same moment, on a job that may move between reads


def _scripted(*answers: tuple[str, dict[str, Any]]) -> tuple[httpx.Client, list[str]]:
    """A client whose n-th request must be to the n-th path (``result`` or ``plain``)."""
    script = iter(answers)
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        path, data = next(script)
        asked.append("result" if request.url.path.endswith("/result") else "plain")
        assert asked[-1] == path, (asked, path)
        return _answer(data)

    return httpx.Client(
        base_url="https://api.example", transport=httpx.MockTransport(answer)
    ), asked


def test_a_job_that_moves_twice_between_the_reads_is_read_again() -> None:
    """A short job can go created -> processing -> completed across one read of each path:
    that proves nothing either way, so /{id} is read again beside the newer /result."""
    client, asked = _scripted(
        ("result", read("created")),
        ("plain", read("processing")),
        ("result", read("completed")),
        ("plain", read("completed")),
    )
    with client:
        reads = read_job(client, JOB)
    assert [r["status"] for r in reads] == ["created", "processing", "completed", "completed"]
    assert asked == ["result", "plain", "result", "plain"]


def test_paths_that_disagree_while_the_job_stands_still_are_a_violation() -> None:
    stale = read("completed", timings={"inference": 0})
    client, _asked = _scripted(
        ("result", read("completed")), ("plain", stale), ("result", read("completed"))
    )
    with client, pytest.raises(InvariantViolation) as caught:
        read_job(client, JOB)
    assert caught.value.invariant is Invariant.PATHS_AGREE
    assert "disagree on timings" in str(caught.value)


def test_paths_that_never_agree_on_a_moving_job_are_a_violation_in_the_end() -> None:
    """/{id} one step behind a job that moves at every read never agrees: after
    ``READ_ATTEMPTS`` windows it is a violation, not an endless loop."""
    moments = [read("processing", timings={"step": step}) for step in range(20)]
    answers = [("result", moments[0])]
    for step in range(1, 10):
        answers += [("plain", moments[step - 1] | {"status": "created"}), ("result", moments[step])]
    client, asked = _scripted(*answers)
    with client, pytest.raises(InvariantViolation) as caught:
        read_job(client, JOB)
    assert caught.value.invariant is Invariant.PATHS_AGREE
    assert "again and again" in str(caught.value)
    assert asked.count("plain") == READ_ATTEMPTS
