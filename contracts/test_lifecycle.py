"""A job's life, read the way the SDKs read it: polled until it finishes, and beyond.

Each check makes one job, follows it with :class:`~mock_api.contract.invariants.Poller`
(every poll reads both documented result paths, holds each answer to
``openapi.yaml`` and the two to each other, and every read to every invariant
in ``mock_api/contract/invariants.py``, each pair of consecutive reads too),
then reads it through its own ``urls.get`` and downloads its outputs; a
completed job's video must decode and last as long as the speech. Inputs are
the cheapest that still prove the point: a few seconds of audio, billed at the
5 s minimum.
"""

from __future__ import annotations

import httpx
import pytest

from mock_api.contract.budget import UNPRICEABLE_JOB_MICROS, PlannedSpend, Spender, priced
from mock_api.contract.invariants import (
    Snapshot,
    check_history,
    check_outputs_download,
    check_urls_get,
)
from mock_api.contract.jobs import JobInputs, balance_micros, submit, upload_silence
from mock_api.contract.output import check_output_video, expected_output_ms
from mock_api.contract.schema import UNFETCHABLE
from mock_api.contract.target import Target

COMPLETED = priced(
    "lifecycle: a job run to its end",
    [(1000, 2000, "meanwhile")],
    "1 s and 2 s of audio, billed at the 5 s minimum",
)
UNREADABLE = PlannedSpend(
    "lifecycle: a job whose media cannot be read",
    jobs=1,
    each_micros=UNPRICEABLE_JOB_MICROS,
    why="media on .invalid hosts; at worst a flat minimum",
)
ONLY_THE_FAKE = "only the fake can be told how a job ends (directives, X-Mock-Outcome)"


def _run(
    target: Target,
    api: httpx.Client,
    cdn: httpx.Client,
    video_url: str,
    outcome: str | None,
    spender: Spender,
) -> list[Snapshot]:
    left = upload_silence(api, cdn, 1000, "left")
    right = upload_silence(api, cdn, 2000, "right")
    headers = target.force_outcome(outcome) if outcome else {}
    spender.reserve(COMPLETED.label, COMPLETED.each_micros)
    first = submit(api, JobInputs(video_url, left, right, "meanwhile").body(seed=7), headers)
    history = target.poller(api).follow(str(first["id"]), first)
    check_history(history)
    check_urls_get(api, history[-1])
    check_outputs_download(cdn, history[-1], mp4=target.is_fake)
    if history[-1]["status"] == "completed":
        check_output_video(cdn, history[-1], expected_output_ms(1000, 2000, "meanwhile"))
    return history


@pytest.mark.spends(COMPLETED)
def test_completed_job_keeps_every_invariant(
    target: Target, api: httpx.Client, cdn: httpx.Client, video_url: str, spender: Spender
) -> None:
    """a job run to its end keeps every lifecycle invariant"""
    outcome = "complete" if target.can_force_outcomes else None
    history = _run(target, api, cdn, video_url, outcome, spender)
    statuses = [read["status"] for read in history]
    if target.is_fake:
        assert statuses[-1] == "completed", statuses
    # On the fake's clock the job is seen in every state on the way.
    if target.service is not None:
        assert {"created", "processing", "completed"} <= set(statuses), statuses


def test_failed_job_keeps_every_invariant(
    target: Target, api: httpx.Client, cdn: httpx.Client, video_url: str, spender: Spender
) -> None:
    """a job that fails keeps every lifecycle invariant and says why"""
    if not target.can_force_outcomes:
        pytest.skip(ONLY_THE_FAKE)
    final = _run(target, api, cdn, video_url, "fail", spender)[-1]
    assert final["status"] == "failed", final
    assert isinstance(final.get("code"), int), f"a failed job carries its task code: {final}"


def test_flagged_job_keeps_every_invariant(
    target: Target, api: httpx.Client, cdn: httpx.Client, video_url: str, spender: Spender
) -> None:
    """a job flagged NSFW keeps its output and one flag per output"""
    if not target.can_force_outcomes:
        pytest.skip(ONLY_THE_FAKE)
    final = _run(target, api, cdn, video_url, "nsfw", spender)[-1]
    assert final["status"] == "completed", final
    assert final["has_nsfw_contents"] == [True] * len(final["outputs"]), final


@pytest.mark.spends(UNREADABLE)
def test_unreadable_media_fails_the_job_free(
    target: Target, api: httpx.Client, spender: Spender
) -> None:
    """media that cannot be fetched fails the job (task code 1402), and costs nothing"""
    body = {
        field: UNFETCHABLE.format(field=field) for field in ("video", "left_audio", "right_audio")
    }
    spender.reserve(UNREADABLE.label, UNREADABLE.each_micros)
    before = balance_micros(api)
    first = submit(api, body)
    history = target.poller(api).follow(str(first["id"]), first)
    final = history[-1]
    assert final["status"] == "failed", final
    if target.is_fake:
        assert final.get("code") == 1402, final
    after = balance_micros(api)
    assert after == before, f"balance went from {before} to {after} micro-dollars: {final}"
