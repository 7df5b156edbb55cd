"""The prediction history and deletion, held to what a client relies on.

* **History** (``POST /api/v3/predictions``): the newest job is first on page 1;
  pages of one never repeat or skip a job and agree on ``total``; the
  ``status``, ``model`` and time-window filters hold; only the caller's jobs are
  listed (a second key sees none of them).
* **Delete** (``POST /api/v3/predictions/delete``): deleting one of its own
  finished jobs counts 1, and the job then answers 404 on both result paths,
  its output URL is gone and it leaves the history; unknown ids and another
  account's ids count 0 and change nothing for their owner.

The history's jobs are made of media on ``.invalid`` hosts: they fail (task
code 1402) and cost nothing, on any target. Deletion also removes one
completed job (the cheapest: the 5 s minimum), to see its output go.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from mock_api.contract.budget import Spender, priced
from mock_api.contract.invariants import Snapshot
from mock_api.contract.jobs import SUBMIT_PATH, JobInputs, submit, upload_silence
from mock_api.contract.schema import UNFETCHABLE
from mock_api.contract.target import Target
from mock_api.spec import default_spec

HISTORY = "/api/v3/predictions"
DELETE = "/api/v3/predictions/delete"
OURS = SUBMIT_PATH.removeprefix("/api/v3/")
OTHER_MODEL = "wavespeed-ai/infinitetalk/video-to-video-multi"
DELETED_PLAN = priced("deleting a completed job", [(1000, 2000, "meanwhile")], "5 s minimum")


def _unreadable(prompt: str) -> dict[str, Any]:
    inputs = {f: UNFETCHABLE.format(field=f) for f in ("video", "left_audio", "right_audio")}
    return {**inputs, "prompt": prompt}


def _page(client: httpx.Client, **body: Any) -> dict[str, Any]:
    response = client.post(HISTORY, json={"page": 1, "page_size": 20, **body})
    assert response.status_code == 200, f"history {body}: {response.status_code} {response.text}"
    violations = default_spec().response_violations("listPredictions", 200, response.json())
    assert not violations, f"history {body} broke openapi.yaml: {violations}"
    data: dict[str, Any] = response.json()["data"]
    return data


def _ids(page: dict[str, Any]) -> list[str]:
    return [str(item.get("id")) for item in page.get("items", [])]


def _finished_jobs(target: Target, api: httpx.Client, count: int) -> list[Snapshot]:
    """``count`` free jobs (unreadable media), each created after the last, all ended."""
    tag = secrets.token_hex(4)
    jobs: list[Snapshot] = []
    for n in range(count):
        first = submit(api, _unreadable(f"history check {tag} #{n}"))
        jobs.append(target.poller(api).follow(str(first["id"]), first)[-1])
        target.wait(0.01)  # distinct created_at, to the millisecond
    return jobs


def test_the_history_lists_the_callers_jobs_newest_first_and_filters_them(
    target: Target, api: httpx.Client, second_api: httpx.Client
) -> None:
    """newest first; pages of one neither repeat nor skip; status, model, window; own jobs"""
    jobs = _finished_jobs(target, api, 3)
    oldest, middle, newest = (str(job["id"]) for job in jobs)
    since = str(jobs[0]["created_at"])
    window = {"created_after": since}

    first_page = _page(api, **window)
    listed = _ids(first_page)
    # The history's own created_at (nanoseconds on the service) bounds the window: the
    # result's is truncated to milliseconds, a moment before the job.
    middle_at = next(i["created_at"] for i in first_page["items"] if i.get("id") == middle)
    ours = [job_id for job_id in listed if job_id in {oldest, middle, newest}]
    assert ours == [newest, middle, oldest], (
        f"history: our three jobs, newest first, are {[newest, middle, oldest]}; page 1 of "
        f"the history since {since} listed {listed}"
    )
    assert listed[0] == newest, f"history: the newest job {newest} is not first: {listed}"

    pages = [_page(api, **window, page=n, page_size=1) for n in (1, 2, 3, 4)]
    seen = [job_id for page in pages for job_id in _ids(page)]
    totals = {page.get("total") for page in pages}
    assert len(totals) == 1, f"history: pages of one disagree on the total: {totals}"
    assert len(seen) == len(set(seen)), f"history: a job on two pages: {seen}"
    assert set(seen) >= {oldest, middle, newest}, (
        f"history: pages of one skipped a job: they listed {seen}"
    )
    assert all(len(_ids(page)) <= 1 for page in pages), "history: a page holds more than asked"

    for body, want in (
        ({"status": "failed"}, {oldest, middle, newest}),
        ({"status": "completed"}, set()),
        ({"model": OURS}, {oldest, middle, newest}),
        ({"model": OTHER_MODEL}, set()),
        ({"created_before": str(middle_at)}, {oldest, middle}),
    ):
        got = set(_ids(_page(api, **window, **body))) & {oldest, middle, newest}
        assert got == want, f"history: the filter {body} listed {got} of ours, not {want}"
        for item in _page(api, **window, **body).get("items", []):
            for name in ("status", "model"):
                if name in body:
                    assert item.get(name) == body[name], (
                        f"history: the filter {body} listed a job whose {name} is "
                        f"{item.get(name)!r}: {item.get('id')}"
                    )

    theirs = set(_ids(_page(second_api, **window))) & {oldest, middle, newest}
    assert not theirs, f"history: a second account's history lists the first's jobs {theirs}"


@pytest.mark.spends(DELETED_PLAN)
def test_delete_removes_exactly_the_callers_jobs(
    target: Target,
    api: httpx.Client,
    cdn: httpx.Client,
    second_api: httpx.Client,
    video_url: str,
    spender: Spender,
) -> None:
    """own finished job: counted, 404 on both paths, output and history gone; others' untouched"""
    [kept, failed] = _finished_jobs(target, api, 2)
    left = upload_silence(api, cdn, 1000, "left")
    right = upload_silence(api, cdn, 2000, "right")
    headers = target.force_outcome("complete") if target.can_force_outcomes else {}
    spender.reserve(DELETED_PLAN.label, DELETED_PLAN.each_micros)
    first = submit(api, JobInputs(video_url, left, right, "meanwhile").body(seed=7), headers)
    done = target.poller(api).follow(str(first["id"]), first)[-1]
    completed = str(done["id"])
    outputs = [str(url) for url in done.get("outputs") or []]
    since = {"created_after": str(kept["created_at"])}

    def delete(client: httpx.Client, ids: list[str]) -> int:
        response = client.post(DELETE, json={"ids": ids})
        assert response.status_code == 200, f"delete {ids}: {response.text}"
        count: int = response.json()["data"]["deleted_count"]
        return count

    unknown = secrets.token_hex(16)
    assert delete(api, [unknown]) == 0, "delete: an unknown id was counted"
    assert delete(second_api, [kept["id"], failed["id"]]) == 0, (
        "delete: a second account's delete counted the first account's jobs"
    )
    for job in (kept, failed):
        path = f"/api/v3/predictions/{job['id']}/result"
        assert api.get(path).status_code == 200, (
            f"delete: a second account's delete removed the first's job {job['id']}"
        )

    for job_id in (failed["id"], completed):
        assert delete(api, [str(job_id), unknown]) == 1, f"delete: {job_id} was not counted once"
        for path in (f"/api/v3/predictions/{job_id}/result", f"/api/v3/predictions/{job_id}"):
            answer = api.get(path)
            assert answer.status_code == 404, (
                f"delete: GET {path} answered {answer.status_code} after the job was deleted"
            )
    for url in outputs:
        gone = cdn.get(url)
        assert gone.status_code in (403, 404, 410), (
            f"delete: the deleted job's output {url} still answers {gone.status_code}"
        )
    listed = _ids(_page(api, **since))
    assert str(kept["id"]) in listed, f"delete: the job not deleted left the history: {listed}"
    left_over = {str(failed["id"]), completed} & set(listed)
    assert not left_over, f"delete: deleted jobs are still in the history: {left_over}"
