"""The contract suite catches a broken fake: each mutant makes its check fail.

A harness that passes everything proves nothing. Each test here breaks the
fake on purpose (a monkeypatched view, service or billing rule), runs the
contract check that should notice, and asserts that it fails, naming the
right invariant or property. The unbroken fake passes the same checks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from schemathesis.core.failures import FailureGroup
from starlette.responses import JSONResponse

from mock_api import billing, views
from mock_api.contract import properties
from mock_api.contract.charges import BillingCase, ChargeMismatch, check_charge
from mock_api.contract.invariants import (
    Invariant,
    InvariantViolation,
    Poller,
    check_outputs_download,
    check_urls_get,
)
from mock_api.contract.jobs import JobInputs, submit, upload_silence, upload_video
from mock_api.contract.rule import FAKE_PADDING_MS, Order
from mock_api.contract.schema import bind_operation, load_schema
from mock_api.contract.target import SyncASGITransport, Target, in_process
from mock_api.routes import predictions as prediction_routes
from mock_api.service import MockService

View = Callable[..., dict[str, Any]]


@pytest.fixture
def target() -> Iterator[Target]:
    made = in_process()
    yield made
    made.close()


def mutate_view(monkeypatch: pytest.MonkeyPatch, change: Callable[[dict[str, Any]], None]) -> None:
    """Every prediction the fake answers with goes through ``change`` first."""
    real: View = views.prediction

    def mutant(*args: Any, **kwargs: Any) -> dict[str, Any]:
        body = real(*args, **kwargs)
        change(body)
        return body

    def mutant_answer(job: Any, now_ms: int, urls: Any) -> bytes:  # a poll's kept JSON
        return bytes(JSONResponse(views.envelope(mutant(job, now_ms, urls))).body)

    # Routes import the functions by name, so patch every name they are known by.
    monkeypatch.setattr(views, "prediction", mutant)
    monkeypatch.setattr(prediction_routes, "prediction", mutant)
    monkeypatch.setattr(prediction_routes, "prediction_answer", mutant_answer)


def outputs_while_processing(body: dict[str, Any]) -> None:
    if body["status"] == "processing":
        body["outputs"] = ["http://testserver/media/outputs/early/output.mp4"]
        body["has_nsfw_contents"] = [False]


def nsfw_flags_dropped(body: dict[str, Any]) -> None:
    body["has_nsfw_contents"] = []


def error_without_failure(body: dict[str, Any]) -> None:
    if body["status"] == "completed":
        body["error"] = "something went wrong"


def created_at_drifts(body: dict[str, Any]) -> None:
    if body["status"] == "processing":
        body["created_at"] = "2030-01-01T00:00:00.000Z"


def urls_get_elsewhere(body: dict[str, Any]) -> None:
    body["urls"] = {"get": "http://testserver/api/v3/predictions/" + "0" * 32 + "/result"}


def flips_back_after_finishing() -> Callable[[dict[str, Any]], None]:
    """A job read as finished is read as processing again on the next poll."""
    seen: set[str] = set()

    def change(body: dict[str, Any]) -> None:
        if body["status"] == "completed":
            if body["id"] in seen:
                body.update(status="processing", outputs=[], has_nsfw_contents=[], timings={})
            seen.add(body["id"])

    return change


MUTANTS: dict[str, tuple[Callable[[dict[str, Any]], None], Invariant]] = {
    "outputs appear while processing": (
        outputs_while_processing,
        Invariant.OUTPUTS_IFF_COMPLETED,
    ),
    "NSFW flags dropped": (nsfw_flags_dropped, Invariant.NSFW_PER_OUTPUT),
    "error on a completed job": (error_without_failure, Invariant.ERROR_IFF_FAILED),
    "created_at changes": (created_at_drifts, Invariant.CREATED_AT_STABLE),
    "urls.get names another job": (urls_get_elsewhere, Invariant.URLS_GET_SAME_JOB),
}


def run_job(target: Target) -> None:
    """Submit one job and hold it to every lifecycle invariant, as the suite does."""
    api, cdn = target.client(), target.client(auth=False)
    video = upload_video(api, cdn)
    left, right = upload_silence(api, cdn, 1000, "left"), upload_silence(api, cdn, 2000, "right")
    first = submit(api, JobInputs(video, left, right, "meanwhile").body())
    history = Poller(api, target.wait, target.poll_interval, target.timeout).follow(
        str(first["id"]), first
    )
    check_urls_get(api, history[-1])
    check_outputs_download(cdn, history[-1], mp4=True)


def test_the_unbroken_fake_keeps_every_invariant(target: Target) -> None:
    run_job(target)


@pytest.mark.parametrize("name", MUTANTS)
def test_a_broken_view_breaks_its_invariant(
    name: str, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    change, invariant = MUTANTS[name]
    mutate_view(monkeypatch, change)
    with pytest.raises(InvariantViolation) as caught:
        run_job(target)
    assert caught.value.invariant is invariant
    assert invariant.value in str(caught.value)  # the report names it...
    assert '"id"' in str(caught.value)  # ...and shows the offending read


def test_a_finished_job_that_changes_is_caught(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    mutate_view(monkeypatch, flips_back_after_finishing())
    with pytest.raises(InvariantViolation) as caught:
        run_job(target)
    assert caught.value.invariant is Invariant.FINISHED_FINAL
    message = str(caught.value)
    assert "earlier read" in message
    assert "later read" in message
    assert caught.value.earlier is not None
    assert caught.value.earlier["status"] == "completed"
    assert caught.value.later is not None
    assert caught.value.later["status"] == "processing"


def test_an_output_that_is_not_a_video_is_caught(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(MockService, "output_bytes", lambda self, job_id: b"not a video at all")
    with pytest.raises(InvariantViolation) as caught:
        run_job(target)
    assert caught.value.invariant is Invariant.OUTPUTS_DOWNLOAD


# billing: one second too much


def one_second_too_much(monkeypatch: pytest.MonkeyPatch) -> None:
    real = billing.quote

    def mutant(*args: Any, **kwargs: Any) -> billing.Quote:
        q = real(*args, **kwargs)
        rate = billing.BillingPolicy().rate_micros_per_second
        return dataclasses.replace(
            q, billed_seconds=q.billed_seconds + 1, cost_micros=q.cost_micros + rate
        )

    monkeypatch.setattr(billing, "quote", mutant)


def fake_price(left_ms: int, right_ms: int, order: Order) -> int:
    left, right = Decimal(left_ms) / 1000, Decimal(right_ms) / 1000
    return billing.quote(left, right, billing.Order(order)).cost_micros


def test_the_pure_rule_property_catches_an_extra_second(monkeypatch: pytest.MonkeyPatch) -> None:
    properties.check_agrees_with_rule(fake_price, 7300, 2000, "left_right", padding_ms=50)
    one_second_too_much(monkeypatch)
    with pytest.raises(properties.RuleViolation, match="the documented rule's amount"):
        properties.check_agrees_with_rule(
            fake_price, 7300, 2000, "left_right", padding_ms=FAKE_PADDING_MS
        )


def test_the_end_to_end_charge_catches_an_extra_second(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, cdn = target.client(), target.client(auth=False)
    video = upload_video(api, cdn)
    case = BillingCase(7300, 2000, "left_right")
    check_charge(target, client=api, cdn=cdn, video_url=video, case=case)  # the real fake: fine
    one_second_too_much(monkeypatch)
    with pytest.raises(ChargeMismatch) as caught:
        check_charge(target, client=api, cdn=cdn, video_url=video, case=case)
    message = str(caught.value)
    assert "moved by $0.165" in message
    assert "says $0.15" in message
    assert "request:" in message
    assert "response:" in message


def test_a_refund_that_never_comes_is_caught(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert target.service is not None
    store = target.service.store
    real_record = store.accounts.record

    def no_refunds(*entries: Any) -> None:
        real_record(*(e for e in entries if e.kind.value != "refund"))

    monkeypatch.setattr(store.accounts, "record", no_refunds)
    api, cdn = target.client(), target.client(auth=False)
    video = upload_video(api, cdn)
    with pytest.raises(ChargeMismatch, match="refunded in full"):
        check_charge(
            target,
            client=api,
            cdn=cdn,
            video_url=video,
            case=BillingCase(1000, 2000, "meanwhile"),
            outcome="fail",
        )


# schemathesis: a response that breaks the schema


def test_schemathesis_catches_a_status_outside_the_spec(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The job must live in the fake the schemathesis phases talk to (instant pace).
    assert target.schema_app is not None
    transport = SyncASGITransport(target.schema_app)
    headers = {"Authorization": f"Bearer {target.api_key}"}
    with httpx.Client(base_url=target.base_url, transport=transport, headers=headers) as api:
        video = upload_video(api, api)
        left = upload_silence(api, api, 1000, "left")
        job = submit(api, JobInputs(video, left, left, "meanwhile").body())
    transport.shutdown()
    schema = load_schema()
    operation = schema["/api/v3/predictions/{id}/result"]["GET"]
    bind_operation(operation, target)
    operation.Case(path_parameters={"id": job["id"]}).call_and_validate(headers=headers)

    def renamed_status(body: dict[str, Any]) -> None:
        body["status"] = "done"

    mutate_view(monkeypatch, renamed_status)
    with pytest.raises(FailureGroup, match="Response violates schema"):
        operation.Case(path_parameters={"id": job["id"]}).call_and_validate(headers=headers)
