"""Scenario rules through the HTTP API: how matching jobs end, and when.

Every test drives an app on a :class:`~mock_api.clock.ManualClock` through
httpx's ASGI transport: rules go in through ``POST /_mock/scenarios``, time
moves through ``POST /_mock/clock``, and state is read back through the public
API (results, balance) and the control API (jobs, ledger, rule counters).
Only the ``serve --scenarios`` check starts a real process.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import yaml
from click.testing import CliRunner

from mock_api import PACES, ManualClock, MockService, Settings, create_app
from mock_api.cli import main
from mock_api.rules import load_rules
from tests.helpers import BASE, KEY, SUBMIT, MakeClient, job_input
from tests.live import serve

pytestmark = pytest.mark.anyio

EXAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "scenarios.example.yaml"
FAST = PACES["fast"]


# --- small HTTP helpers ---------------------------------------------------------------


def auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def control(
    client: httpx.AsyncClient, method: str, path: str, body: Any = None, **params: str
) -> Any:
    response = await client.request(method, f"/_mock{path}", json=body, params=params or None)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def add_rule(client: httpx.AsyncClient, rule: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = await control(client, "POST", "/scenarios", rule)
    return data


async def rules(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    data = await control(client, "GET", "/scenarios")
    return {rule["id"]: rule for rule in data["scenarios"]}


async def submit(
    client: httpx.AsyncClient,
    body: dict[str, Any] | None = None,
    key: str = KEY,
    outcome: str | None = None,
) -> dict[str, Any]:
    headers = auth(key) if outcome is None else {**auth(key), "X-Mock-Outcome": outcome}
    response = await client.post(SUBMIT, json=body or job_input(), headers=headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def result(client: httpx.AsyncClient, job_id: str, key: str = KEY) -> dict[str, Any]:
    response = await client.get(f"/api/v3/predictions/{job_id}/result", headers=auth(key))
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def status(client: httpx.AsyncClient, job_id: str, key: str = KEY) -> str:
    return str((await result(client, job_id, key))["status"])


async def now_ms(client: httpx.AsyncClient) -> int:
    return int((await control(client, "GET", "/clock"))["now_ms"])


async def set_clock(client: httpx.AsyncClient, at_ms: int) -> None:
    await control(client, "POST", "/clock", {"action": "set", "now_ms": at_ms})


async def advance(client: httpx.AsyncClient, seconds: float) -> None:
    await control(client, "POST", "/clock", {"action": "advance", "seconds": seconds})


async def balance(client: httpx.AsyncClient, key: str = KEY) -> Decimal:
    response = await client.get("/api/v3/balance", headers=auth(key))
    assert response.status_code == 200, response.text
    return Decimal(str(json.loads(response.text, parse_float=Decimal)["data"]["balance"]))


async def ledger(client: httpx.AsyncClient, key: str = KEY) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = (await control(client, "GET", "/ledger", api_key=key))[
        "entries"
    ]
    return entries


async def jobs(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await control(client, "GET", "/jobs"))["jobs"]
    return found


# --- outcomes --------------------------------------------------------------------------


async def test_complete_rule_completes_with_an_unflagged_output(
    client: httpx.AsyncClient,
) -> None:
    await add_rule(client, {"id": "ok", "then": "complete"})
    job = await submit(client)
    await advance(client, 60)

    done = await result(client, job["id"])
    assert (done["status"], done["has_nsfw_contents"], done["error"]) == ("completed", [False], "")
    assert len(done["outputs"]) == 1
    assert (await rules(client))["ok"]["applied"] == 1


async def test_nsfw_rule_keeps_the_output_and_flags_it(client: httpx.AsyncClient) -> None:
    await add_rule(client, {"id": "flag", "then": "nsfw"})
    job = await submit(client)
    await advance(client, 60)

    done = await result(client, job["id"])
    assert done["status"] == "completed"
    assert done["has_nsfw_contents"] == [True]
    [output] = done["outputs"]
    download = await client.get(output)
    assert download.status_code == 200
    assert download.headers["content-type"] == "video/mp4"
    assert await balance(client) == Decimal("99.925")  # 5 s minimum: flagged jobs are paid for


async def test_fail_rule_with_a_code_and_message_fails_and_is_refunded(
    client: httpx.AsyncClient,
) -> None:
    await add_rule(
        client,
        {"id": "gpu", "then": "fail", "code": 1403, "message": "GPU fell over", "queue_seconds": 0},
    )
    start = await now_ms(client)
    job = await submit(client, job_input(left=10, right=1))
    assert await balance(client) == Decimal("99.85")  # charged at submission

    finish = start + FAST.base_ms  # a failing job does no per-second work
    await set_clock(client, finish - 1)
    assert await status(client, job["id"]) == "processing"
    assert await balance(client) == Decimal("99.85")
    await set_clock(client, finish)
    failed = await result(client, job["id"])
    assert (failed["status"], failed["code"], failed["error"]) == ("failed", 1403, "GPU fell over")
    assert (failed["outputs"], failed["has_nsfw_contents"]) == ([], [])
    assert await balance(client) == Decimal(100)


@pytest.mark.parametrize(
    ("rule", "expected_status", "expected_code", "expected_error"),
    [
        ({"then": "fail"}, "failed", 5000, "Internal server error."),
        (
            {"then": "fail", "code": 1200},
            "failed",
            1200,
            "Content moderation: the input was flagged by the safety checker.",
        ),
        (
            {"then": "fail", "code": 1402},
            "failed",
            1402,
            "Failed to download media from the provided URL.",
        ),
        ({"then": "timeout"}, "timeout", 5004, "Task timed out."),
        ({"then": "timeout", "message": "took too long"}, "timeout", 5004, "took too long"),
        ({"then": "cancelled"}, "cancelled", 1405, "Task cancelled."),
        (
            {"then": "cancelled", "code": 5003},
            "cancelled",
            5003,
            "Service temporarily unavailable.",
        ),
    ],
    ids=["fail", "fail-1200", "fail-1402", "timeout", "timeout-msg", "cancelled", "cancelled-5003"],
)
async def test_default_code_and_message_of_each_unsuccessful_outcome(
    client: httpx.AsyncClient,
    rule: dict[str, Any],
    expected_status: str,
    expected_code: int,
    expected_error: str,
) -> None:
    await add_rule(client, {"id": "r", **rule})
    job = await submit(client)
    await advance(client, 60)

    data = await result(client, job["id"])
    assert (data["status"], data["code"], data["error"]) == (
        expected_status,
        expected_code,
        expected_error,
    )
    assert (data["outputs"], data["has_nsfw_contents"]) == ([], [])


@pytest.mark.parametrize(("then", "code"), [("timeout", 5004), ("cancelled", 1405)])
async def test_timeout_and_cancelled_end_at_their_moment_and_are_refunded_once(
    client: httpx.AsyncClient, then: str, code: int
) -> None:
    await add_rule(
        client, {"id": "end", "then": then, "queue_seconds": 2, "processing_seconds": 30}
    )
    start = await now_ms(client)
    job = await submit(client, job_input(left="7.3", right=2, order="left_right"))  # 10 s, $0.15
    assert await balance(client) == Decimal("99.85")

    await set_clock(client, start + 2_000 + 30_000 - 1)
    running = await result(client, job["id"])
    assert (running["status"], running["error"], running["outputs"]) == ("processing", "", [])
    assert "code" not in running
    before = await ledger(client)
    assert [(e["kind"], e["amount_usd"], e["in_effect"]) for e in before] == [
        ("opening", "100", True),
        ("charge", "-0.15", True),
        ("refund", "0.15", False),  # written at submission, in effect when the job ends
    ]
    assert before[2]["at_ms"] == start + 32_000
    assert before[1]["job_id"] == before[2]["job_id"] == job["id"]
    assert await balance(client) == Decimal("99.85")

    await set_clock(client, start + 32_000)
    ended = await result(client, job["id"])
    assert (ended["status"], ended["code"]) == (then, code)
    assert ended["error"]
    assert ended["outputs"] == []
    assert ended["timings"] == {"inference": 30_000}
    assert await balance(client) == Decimal(100)
    after = await ledger(client)
    assert [e["kind"] for e in after].count("refund") == 1
    assert all(e["in_effect"] for e in after)

    await advance(client, 86_400 * 3)  # a finished job never changes, nor is refunded twice
    assert await result(client, job["id"]) == ended
    assert await ledger(client) == after
    assert await balance(client) == Decimal(100)


async def test_queue_and_processing_times_are_met_to_the_millisecond(
    client: httpx.AsyncClient,
) -> None:
    await add_rule(
        client, {"id": "slow", "then": "complete", "queue_seconds": 3, "processing_seconds": 7.25}
    )
    start = await now_ms(client)
    job = await submit(client)
    assert job["status"] == "created"

    moments = [
        (2_999, "created"),
        (3_000, "processing"),
        (10_249, "processing"),
        (10_250, "completed"),
    ]
    for offset, expected in moments:
        await set_clock(client, start + offset)
        assert await status(client, job["id"]) == expected, offset
    done = await result(client, job["id"])
    assert done["timings"] == {"inference": 7_250}
    inspected = await control(client, "GET", f"/jobs/{job['id']}")
    assert inspected["started_at"].endswith("00:00:03.000Z")
    assert inspected["finished_at"].endswith("00:00:10.250Z")


async def test_a_zero_length_job_is_finished_at_submission(client: httpx.AsyncClient) -> None:
    await add_rule(
        client, {"id": "now", "then": "complete", "queue_seconds": 0, "processing_seconds": 0}
    )
    job = await submit(client)
    assert job["status"] == "completed"
    assert len(job["outputs"]) == 1


async def test_stuck_jobs_stay_put_and_run_until_idle_ignores_them(
    client: httpx.AsyncClient,
) -> None:
    await add_rule(
        client, {"id": "never-starts", "then": "stuck-created", "match": {"prompt_contains": "A"}}
    )
    await add_rule(
        client,
        {"id": "never-ends", "then": "stuck-processing", "match": {"prompt_contains": "B"}},
    )
    start = await now_ms(client)
    created = await submit(client, job_input(prompt="A"))
    processing = await submit(client, job_input(prompt="B"))
    normal = await submit(client, job_input(prompt="C"))

    with anyio.fail_after(5):
        clock = await control(client, "POST", "/clock", {"action": "run_until_idle"})
    normal_finish = start + FAST.queue_ms + FAST.base_ms + 5 * 15  # 5 s of output
    assert clock["now_ms"] == normal_finish  # the normal job's end, not "never"
    assert await status(client, normal["id"]) == "completed"
    assert await status(client, created["id"]) == "created"
    assert await status(client, processing["id"]) == "processing"

    await advance(client, 3 * 86_400)
    with anyio.fail_after(5):
        clock = await control(client, "POST", "/clock", {"action": "run_until_idle"})
    assert clock["now_ms"] == normal_finish + 3 * 86_400_000  # nothing left to run to
    stuck_created = await result(client, created["id"])
    stuck_processing = await result(client, processing["id"])
    assert (stuck_created["status"], stuck_created["outputs"]) == ("created", [])
    assert (stuck_processing["status"], stuck_processing["timings"]) == ("processing", {})
    views = {job["id"]: job for job in await jobs(client)}
    assert (views[created["id"]]["started_at"], views[created["id"]]["finished_at"]) == (None, None)
    assert views[processing["id"]]["started_at"] is not None
    assert views[processing["id"]]["finished_at"] is None
    assert await balance(client) == Decimal(100) - 3 * Decimal("0.075")  # never refunded


# --- matching --------------------------------------------------------------------------


async def test_a_rule_matches_by_api_key(client: httpx.AsyncClient) -> None:
    await add_rule(client, {"id": "victim", "then": "fail", "match": {"api_key": "victim-key"}})
    hit = await submit(client, key="victim-key")
    missed = await submit(client, key="bystander-key")
    await advance(client, 60)

    assert await status(client, hit["id"], "victim-key") == "failed"
    assert await status(client, missed["id"], "bystander-key") == "completed"
    assert (await rules(client))["victim"]["matched"] == 1


async def test_a_rule_matches_a_case_sensitive_prompt_substring(
    client: httpx.AsyncClient,
) -> None:
    await add_rule(client, {"id": "beach", "then": "nsfw", "match": {"prompt_contains": "beach"}})
    hit = await submit(client, job_input(prompt="two people on a beach at dusk"))
    other_case = await submit(client, job_input(prompt="two people on a BEACH"))
    no_prompt = await submit(client, job_input())
    await advance(client, 60)

    flags = [
        (await result(client, job["id"]))["has_nsfw_contents"]
        for job in (hit, other_case, no_prompt)
    ]
    assert flags == [[True], [False], [False]]


async def test_a_rule_matches_input_values_all_of_them(client: httpx.AsyncClient) -> None:
    await add_rule(
        client,
        {
            "id": "seq",
            "then": "fail",
            "code": 1401,
            "match": {"input": {"order": "left_right", "seed": 42}},
        },
    )
    both = await submit(client, job_input(order="left_right", seed=42))
    order_only = await submit(client, job_input(order="left_right", seed=43))
    seed_only = await submit(client, job_input(order="right_left", seed=42))
    await advance(client, 60)

    assert await status(client, both["id"]) == "failed"
    assert await status(client, order_only["id"]) == "completed"
    assert await status(client, seed_only["id"]) == "completed"
    assert (await rules(client))["seq"]["matched"] == 1


async def test_all_match_conditions_must_hold(client: httpx.AsyncClient) -> None:
    await add_rule(
        client,
        {
            "id": "narrow",
            "then": "fail",
            "match": {"api_key": "k1", "prompt_contains": "x", "input": {"order": "right_left"}},
        },
    )
    everything = job_input(prompt="x", order="right_left")
    hit = await submit(client, everything, key="k1")
    wrong_key = await submit(client, everything, key="k2")
    wrong_prompt = await submit(client, {**everything, "prompt": "y"}, key="k1")
    wrong_input = await submit(client, {**everything, "order": "meanwhile"}, key="k1")
    await advance(client, 60)

    assert await status(client, hit["id"], "k1") == "failed"
    assert await status(client, wrong_key["id"], "k2") == "completed"
    assert await status(client, wrong_prompt["id"], "k1") == "completed"
    assert await status(client, wrong_input["id"], "k1") == "completed"


async def test_times_applies_to_the_next_n_matches_then_jobs_are_normal(
    client: httpx.AsyncClient,
) -> None:
    await add_rule(client, {"id": "twice", "then": "fail", "code": 1200, "times": 2})
    submitted = [await submit(client) for _ in range(4)]
    await advance(client, 60)

    statuses = [await status(client, job["id"]) for job in submitted]
    assert statuses == ["failed", "failed", "completed", "completed"]
    counters = (await rules(client))["twice"]
    assert (counters["times"], counters["applied"]) == (2, 2)
    assert await balance(client) == Decimal(100) - 2 * Decimal("0.075")


async def test_times_zero_never_applies(client: httpx.AsyncClient) -> None:
    await add_rule(client, {"id": "off", "then": "fail", "times": 0})
    job = await submit(client)
    await advance(client, 60)
    assert await status(client, job["id"]) == "completed"
    assert (await rules(client))["off"]["applied"] == 0


async def _failed_indices(client: httpx.AsyncClient, seed: int, count: int) -> set[int]:
    """Submit ``count`` jobs under a 30 % seeded fail rule; which of them fail."""
    await add_rule(client, {"id": "some", "then": "fail", "share": 0.3, "seed": seed})
    for index in range(count):
        await submit(client, job_input(prompt=f"job {index}"))
    counters = (await rules(client))["some"]
    failed = {
        int(job["input"]["prompt"].split()[1])
        for job in await jobs(client)
        if job["outcome"]["status"] == "failed"
    }
    assert (counters["matched"], counters["applied"]) == (count, len(failed))
    return failed


# Untraced (no_cover), like the fuzz tests: a volume run whose lines the rest of the
# suite reaches too; tracing its thousands of requests doubled its time.
@pytest.mark.no_cover
async def test_a_seeded_share_replays_exactly_and_depends_on_the_seed(
    make_client: MakeClient,
) -> None:
    count = 200
    settings = Settings(random_seed=5)
    async with make_client(settings) as first, make_client(settings) as second:
        a = await _failed_indices(first, seed=7, count=count)
        b = await _failed_indices(second, seed=7, count=count)
    async with make_client(settings) as third:
        c = await _failed_indices(third, seed=8, count=count)

    assert a == b  # same seed, same submissions: the same jobs fail
    assert a != c  # another seed picks others
    for picked in (a, c):
        assert 0.2 * count <= len(picked) <= 0.4 * count, len(picked)  # about 30 %


# --- precedence, counters, removal ------------------------------------------------------


async def test_the_outcome_header_beats_a_rule_and_does_not_use_it_up(
    client: httpx.AsyncClient,
) -> None:
    await add_rule(client, {"id": "once", "then": "fail", "code": 1403, "times": 1})
    headed = await submit(client, outcome="nsfw")
    plain = await submit(client)
    after = await submit(client)
    await advance(client, 60)

    assert (await result(client, headed["id"]))["has_nsfw_contents"] == [True]
    assert (await result(client, plain["id"]))["code"] == 1403
    assert await status(client, after["id"]) == "completed"
    counters = (await rules(client))["once"]
    assert (counters["matched"], counters["applied"]) == (1, 1)


async def test_the_first_matching_rule_wins_and_counters_say_which_fired(
    client: httpx.AsyncClient,
) -> None:
    await add_rule(client, {"id": "never", "then": "timeout", "share": 0})  # matches, never applies
    await add_rule(client, {"id": "beach", "then": "fail", "match": {"prompt_contains": "beach"}})
    await add_rule(client, {"id": "rest", "then": "nsfw"})
    await add_rule(client, {"id": "shadowed", "then": "cancelled"})
    beach = await submit(client, job_input(prompt="beach"))
    other = await submit(client, job_input(prompt="park"))
    await advance(client, 60)

    assert await status(client, beach["id"]) == "failed"
    assert (await result(client, other["id"]))["has_nsfw_contents"] == [True]
    counters = {
        rule_id: (rule["matched"], rule["applied"])
        for rule_id, rule in (await rules(client)).items()
    }
    assert counters == {
        "never": (2, 0),
        "beach": (1, 1),
        "rest": (1, 1),
        "shadowed": (0, 0),
    }
    assert list(counters) == ["never", "beach", "rest", "shadowed"]  # listed in rule order


async def test_rules_are_listed_as_added(client: httpx.AsyncClient) -> None:
    rule = {
        "id": "full",
        "then": "fail",
        "match": {"api_key": "k", "prompt_contains": "p", "input": {"seed": 1}},
        "code": 1200,
        "message": "flagged",
        "queue_seconds": 1.5,
        "processing_seconds": 2,
        "times": 3,
        "share": 0.5,
        "seed": 9,
    }
    added = await add_rule(client, rule)
    assert added == {**rule, "matched": 0, "applied": 0}
    assert await rules(client) == {"full": added}


async def test_delete_one_rule_or_all_of_them(client: httpx.AsyncClient) -> None:
    for rule_id in ("a", "b", "c"):
        await add_rule(client, {"id": rule_id, "then": "fail"})

    assert await control(client, "DELETE", "/scenarios/b") == {"removed": "b"}
    assert list(await rules(client)) == ["a", "c"]
    missing = await client.delete("/_mock/scenarios/b")
    assert missing.status_code == 404
    assert missing.json()["message"] == "scenario rule b not found"

    assert await control(client, "DELETE", "/scenarios") == {"scenarios": []}
    assert await rules(client) == {}
    job = await submit(client)
    await advance(client, 60)
    assert await status(client, job["id"]) == "completed"
    await add_rule(client, {"id": "a", "then": "nsfw"})  # the id is free again


async def test_reset_forgets_the_rules(client: httpx.AsyncClient) -> None:
    await add_rule(client, {"id": "a", "then": "fail"})
    await control(client, "POST", "/reset")
    assert await rules(client) == {}


@pytest.mark.parametrize(
    ("rule", "field", "words"),
    [
        ({"id": "x", "then": "explode"}, "then", "must be one of complete, nsfw, fail"),
        ({"id": "x", "then": "fail", "share": 2}, "share", "must be <= 1"),
        ({"id": "x", "then": "fail", "share": -0.1}, "share", "must be >= 0"),
        ({"id": "x", "then": "fail", "times": -1}, "times", "must be >= 0"),
        ({"id": "x", "then": "fail", "code": "1200"}, "code", "must be an integer"),
        ({"id": "x", "then": "fail", "processing_seconds": -1}, "processing_seconds", ">= 0"),
        ({"id": "x"}, "then", "is required"),
        ({"then": "fail"}, "id", "is required"),
        ({"id": "", "then": "fail"}, "id", "must not be empty"),
        ({"id": "x", "then": "complete", "code": 1200}, None, "code and message only apply"),
    ],
    ids=[
        "unknown-then",
        "share-2",
        "share-negative",
        "times-negative",
        "code-string",
        "processing-negative",
        "no-then",
        "no-id",
        "empty-id",
        "code-on-complete",
    ],
)
async def test_a_bad_rule_is_a_400_naming_the_field(
    client: httpx.AsyncClient, rule: dict[str, Any], field: str | None, words: str
) -> None:
    response = await client.post("/_mock/scenarios", json=rule)

    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["code"], body["data"]) == (400, None)
    if field is not None:  # a rule-level error names the fields in its words
        assert body["details"][0]["field"] == field
    assert words in body["message"]
    assert body["error"] == body["message"]
    assert await rules(client) == {}


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"id": "x", "then": "fail", "bogus": 1}, "bogus"),
        ({"id": "x", "then": "fail", "match": {"promt_contains": "typo"}}, "match.promt_contains"),
    ],
    ids=["top-level", "in-match"],
)
async def test_an_unknown_rule_field_is_a_400_naming_that_field(
    client: httpx.AsyncClient, rule: dict[str, Any], field: str
) -> None:
    """The 400 names the unknown field itself, not the object holding it (it once
    said 'field "body" is not allowed': ``additionalProperties`` worded with the
    object's path in ``mock_api/spec.py``)."""
    response = await client.post("/_mock/scenarios", json=rule)

    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == field


async def test_a_duplicate_rule_id_is_a_400_and_keeps_the_first_rule(
    client: httpx.AsyncClient,
) -> None:
    await add_rule(client, {"id": "dup", "then": "fail"})
    response = await client.post("/_mock/scenarios", json={"id": "dup", "then": "nsfw"})

    assert response.status_code == 400
    assert "scenario rule named 'dup' exists already" in response.json()["message"]
    assert (await rules(client))["dup"]["then"] == "fail"


async def test_a_refused_submission_does_not_use_up_a_rule(client: httpx.AsyncClient) -> None:
    """A submission refused with 402 (no job) leaves a ``times`` rule for the next job.

    Once, the directive was picked (firing the rule book) before the charge could
    refuse the job, so a refused submission used the rule up.
    """
    await add_rule(client, {"id": "once", "then": "fail", "times": 1})
    await control(client, "PUT", "/balance", {"api_key": KEY, "balance": "0.01"})
    refused = await client.post(SUBMIT, json=job_input(), headers=auth())
    assert refused.status_code == 402
    await control(client, "PUT", "/balance", {"api_key": KEY, "balance": "100"})

    job = await submit(client)
    await advance(client, 60)

    assert await status(client, job["id"]) == "failed"
    assert (await rules(client))["once"]["applied"] == 1


# --- rules from a file -----------------------------------------------------------------


def _example_ids() -> tuple[list[str], list[str]]:
    document = yaml.safe_load(EXAMPLE.read_text())
    return [r["id"] for r in document["scenarios"]], [f["id"] for f in document["faults"]]


async def test_load_rules_reads_the_example_file_and_the_rules_act(clock: ManualClock) -> None:
    service = MockService(Settings(random_seed=3), clock)
    assert load_rules(service, EXAMPLE.read_text()) == (4, 3, 1)
    transport = httpx.ASGITransport(app=create_app(service=service))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        scenarios = await rules(client)
        faults = (await control(client, "GET", "/faults"))["faults"]
        scenario_ids, fault_ids = _example_ids()
        assert list(scenarios) == scenario_ids
        assert [f["id"] for f in faults] == fault_ids
        moderation = scenarios["moderation-twice"]
        assert moderation["match"]["api_key"] == "flaky-key"
        assert (moderation["code"], moderation["times"]) == (1200, 2)
        assert (scenarios["some-timeouts"]["share"], scenarios["some-timeouts"]["seed"]) == (0.1, 7)
        busy = faults[0]
        assert (busy["status"], busy["retry_after"], busy["times"]) == (429, 1, 3)

        flagged = await submit(client, job_input(prompt="explicit lyrics"))
        moderated = await submit(client, key="flaky-key")
        slow = await submit(client, job_input(order="left_right", prompt="calm"))
        views = {job["id"]: job for job in await jobs(client)}

    assert views[flagged["id"]]["outcome"]["nsfw"] is True
    assert views[moderated["id"]]["outcome"] == {
        "status": "failed",
        "nsfw": False,
        "code": 1200,
        "error": "Content moderation: the video was flagged.",
    }
    assert views[slow["id"]]["started_at"].endswith("T00:00:00.500Z")
    assert views[slow["id"]]["finished_at"].endswith("T00:01:30.500Z")  # 90 s of processing


def test_load_rules_rejects_a_bad_rule_naming_its_section_and_number() -> None:
    text = "scenarios:\n  - {id: a, then: fail}\n  - {id: b, then: explode}\n"
    with pytest.raises(ValueError, match=r"^line 3: scenarios #2, key 'then': .*\bthen\b"):
        load_rules(MockService(), text)
    with pytest.raises(ValueError, match=r"^line 1: faults #1, key 'kind': .*\bkind\b"):
        load_rules(MockService(), "faults: [{id: f, kind: boom}]")


def test_load_rules_checks_field_types_as_the_control_api_does() -> None:
    """A YAML rule gets the schema check the control API applies.

    ``code: "1200"`` is refused as in ``POST /_mock/scenarios``; it was once
    accepted from a file, and the job then answered ``data.code: "1200"``, a
    string, against the contract.
    """
    service = MockService()
    with pytest.raises(ValueError, match="code"):
        load_rules(service, "scenarios: [{id: a, then: fail, code: '1200'}]")


def test_serve_loads_the_example_file() -> None:
    with serve("--scenarios", str(EXAMPLE), "--pace", "instant") as base:
        scenarios_answer = httpx.get(f"{base}/_mock/scenarios", timeout=10)
        faults_answer = httpx.get(f"{base}/_mock/faults", timeout=10)
    assert scenarios_answer.status_code == faults_answer.status_code == 200
    scenarios = {r["id"]: r for r in scenarios_answer.json()["data"]["scenarios"]}
    faults = faults_answer.json()["data"]["faults"]
    scenario_ids, fault_ids = _example_ids()
    assert list(scenarios) == scenario_ids
    assert [f["id"] for f in faults] == fault_ids
    assert scenarios["nsfw-prompts"]["match"]["prompt_contains"] == "explicit"
    assert scenarios["slow-sequential"]["processing_seconds"] == 90
    assert all((r["matched"], r["applied"]) == (0, 0) for r in scenarios.values())
    slow = next(f for f in faults if f["id"] == "slow-balance")
    assert (slow["kind"], slow["latency_ms"], slow["path"]) == ("latency", 250, "/api/v3/balance")


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        (
            "scenarios:\n  - {id: a, then: fail}\n  - {id: b, then: explode}\n",
            "scenarios #2",
            "then",
        ),
        ("scenarios: [{id: a, then: fail, share: 2}]", "scenarios #1", "share"),
        ("scenarios: [{id: a, then: fail}, {id: a, then: nsfw}]", "scenarios #2", "'a' exists"),
        ("scenarios: [{id: a, then: fail, colour: red}]", "scenarios #1", "colour"),
        ("faults: [{id: f, kind: status, status: 200}]", "faults #1", "status"),
        ("faults: [{id: f, kind: boom}]", "faults #1", "kind"),
        ("rules: []", "a rules file is a mapping", "'scenarios', 'faults' and/or 'stubs'"),
        ("scenarios: {id: a}", "'scenarios' must be a list", ""),
    ],
    ids=[
        "unknown-then",
        "share-2",
        "duplicate-id",
        "unknown-field",
        "fault-status-200",
        "fault-kind",
        "unknown-section",
        "not-a-list",
    ],
)
def test_serve_refuses_a_bad_rules_file_with_a_usage_error(
    tmp_path: Path, text: str, where: str, words: str
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text)

    outcome = CliRunner().invoke(main, ["serve", "--port", "0", "--scenarios", str(path)])

    assert outcome.exit_code == 2, outcome.output
    [error] = [line for line in outcome.output.splitlines() if line.startswith("Error: ")]
    # The file, the line, then what is wrong where (tests/test_cli.py: keys and lines).
    assert error.startswith(f"Error: Invalid value for --rules: {path}, line ")
    assert where in error
    assert words in error


def test_serve_refuses_a_file_that_is_not_yaml_with_a_usage_error(tmp_path: Path) -> None:
    """A YAML syntax error is a usage error (exit 2), not a traceback.

    ``yaml.YAMLError`` is not a ``ValueError``; it once escaped ``load_rules``.
    """
    path = tmp_path / "rules.yaml"
    path.write_text("scenarios: [ {id: a, then: fail\n")

    outcome = CliRunner().invoke(main, ["serve", "--port", "0", "--scenarios", str(path)])

    assert outcome.exit_code == 2, outcome.output
    assert "Error: " in outcome.output
