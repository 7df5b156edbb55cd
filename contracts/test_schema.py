"""Every operation of ``openapi.yaml``, exercised by schemathesis from the spec alone.

Phases (all of them, seeded and bounded, see ``mock_api/contract/schema.py``):
examples (the spec's own examples), coverage (boundaries, each constraint
broken in turn, unexpected methods), fuzzing (generated requests), and
stateful (sequences following the spec's links). All built-in checks run:
no server errors, status codes, content types, response schemas and headers,
valid data accepted, invalid data rejected, authentication enforced, and the
rest. Narrowed, each with its reason beside it in ``mock_api/contract/schema.py``:
two operations' "valid data accepted" (``NARROWED``), one combination left out
of generation (``BASE64_WITH_WEBHOOK``), the ``/_mock/`` control surface
(``EXCLUDED_TAGS``), ``ignored_auth`` on a fake that accepts any key, and the
coverage phase of five sibling models' submissions (``WITHOUT_COVERAGE_PHASE``:
they are built from the same components as the two that have it).

Generated submissions name media at random URLs, which the in-process fake
never fetches: they become jobs that fail with task code 1402, which is the
documented behaviour and costs nothing. Generated webhooks always go to a
loopback port where nothing listens (``WEBHOOK_SINK``), never to the internet.

By URL, generated media URLs move to ``.invalid`` hosts (no job can be
charged for them, no fake can be sent fetching). Not the fake: the ``/media/``
operations (tag ``media``) are skipped; they are the fake's stand-ins for the
real service's CDN and object store, which a real endpoint does not serve
under its own host, and the health checks (tag ``health``), the fake's own
(:data:`FAKE_ONLY`). Generated submissions are capped at :data:`GENERATED`'s
and :data:`GENERATED_STATEFUL`'s counts.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import pytest
from hypothesis import HealthCheck
from schemathesis import Case
from schemathesis.checks import CheckFunction
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.transport import Response
from schemathesis.generation.stateful.state_machine import StepInput, StepOutput
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import ignored_auth

from mock_api.contract.budget import UNPRICEABLE_JOB_MICROS, PlannedSpend, Spender
from mock_api.contract.jobs import submit
from mock_api.contract.schema import (
    STATEFUL_EXAMPLES,
    STATEFUL_STEPS,
    UNFETCHABLE,
    bind,
    bind_operation,
    bounded_session,
    is_submission,
    load_schema,
    prepare_submission,
)
from mock_api.contract.target import Target, TargetKind
from mock_api.models import DEFAULT_MODEL, MODELS

schema = load_schema()

#: Submissions schemathesis may make on a paid endpoint. Each phase group has
#: its own cap, so the stateful phase is not starved by the ones before it.
_UNPRICEABLE = "media on .invalid hosts: no length can be read; at worst a flat minimum"
GENERATED = PlannedSpend(
    "generated submissions: examples, coverage, fuzzing", 20, UNPRICEABLE_JOB_MICROS, _UNPRICEABLE
)
#: Two submissions the links check makes itself when the generated scenarios
#: followed no link (a paid run has few of them): their media cannot be read,
#: so they fail with 1402 and are not charged.
LINKS_PROOF = PlannedSpend(
    "stateful links: two submissions followed by hand when generation followed none",
    2,
    UNPRICEABLE_JOB_MICROS,
    _UNPRICEABLE,
)
GENERATED_STATEFUL = PlannedSpend(
    "generated submissions: stateful", 4, UNPRICEABLE_JOB_MICROS, _UNPRICEABLE
)

#: Operations never generated against a real account: their requests change what the
#: account holds beyond the suite's own jobs (history ids could feed a deletion).
DESTRUCTIVE = {
    "deletePredictions": "deleting predictions could reach the account's real jobs, which "
    "the history lists; it is exercised against the fake only",
}

MEDIA_SKIP = (
    "the /media/ routes are the fake's stand-ins for the real service's CDN and object "
    "store; a real endpoint does not serve them"
)
#: Tags of the fake's own operations, left out on any other target, and why.
FAKE_ONLY = {
    "media": MEDIA_SKIP,
    "health": "/healthz and /readyz are the fake's own health checks; WaveSpeed documents none",
}


@pytest.fixture(scope="module")
def bound_schema(target: Target) -> Any:
    with bind(schema, target) as bound:
        yield bound


@pytest.fixture(scope="module")
def sending(target: Target) -> Any:
    """How generated requests travel: by URL, over one keep-alive session.

    Schemathesis opens a connection per request unless given a session; a
    thousand connects cost seconds of a run and test nothing of the target.
    (Same-host redirects only, as schemathesis's own; in-process, the ASGI
    transport needs none.) Its answers are bounded as the suite's own are:
    each request's whole time, the run's end, the body's size.
    """
    if target.schema_app is not None:
        yield {}
        return
    with bounded_session(target) as session:
        yield {"session": session}


def _excluded(target: Target) -> list[CheckFunction]:
    # A fake started without --api-key opens an account for any key, by design;
    # authentication enforcement is checked wherever keys are restricted.
    return [ignored_auth] if target.open_keys else []


def _admit(case: Case[Any], target: Target, spender: Spender, plan: PlannedSpend) -> bool:
    """Make a submission safe to send to ``target``; ``False`` to leave it out.

    Left out: a combination the spec refuses in prose (see
    ``mock_api.contract.schema.prepare_submission``), and on a paid endpoint anything
    past ``plan``'s cap.
    """
    if not is_submission(case.method, case.operation.path):
        return True
    if prepare_submission(case, by_url=target.kind is not TargetKind.IN_PROCESS) is not None:
        return False
    return spender.try_reserve(plan.label, plan.each_micros, cap=None if target.free else plan.jobs)


def _auth(target: Target, case: Case[Any]) -> dict[str, str]:
    """The target's key for ``case``, unless the case breaks the Authorization header on purpose.

    A negative case whose headers broke the schema by leaving ``Authorization``
    out, or by making it malformed, must go as generated: adding the key would
    make it valid, and a target that accepts it would be blamed for accepting
    "invalid" data. (Which such cases get generated varies with allocation
    order, so this showed up in some processes and not others.)
    """
    meta = case.meta
    headers: dict[str, Any] = dict(case.headers or {})
    component = meta.components.get(ParameterLocation.HEADER) if meta is not None else None
    data = getattr(getattr(meta, "phase", None), "data", None)
    named = f"{getattr(data, 'parameter', '')} {getattr(data, 'description', '')}".lower()
    negative = component is not None and component.mode.is_negative
    if "authorization" in named or (negative and "Authorization" not in headers):
        return {}
    return {"Authorization": f"Bearer {target.api_key}"}


@pytest.mark.spends(GENERATED)
@schema.parametrize()
def test_conforms_to_spec(
    case: Case[Any], target: Target, bound_schema: Any, spender: Spender, sending: Any
) -> None:
    """conforms to openapi.yaml"""
    fake_only = [FAKE_ONLY[tag] for tag in case.operation.tags or () if tag in FAKE_ONLY]
    if fake_only and not target.is_fake:
        pytest.skip(fake_only[0])
    if case.operation.definition.raw.get("operationId") in DESTRUCTIVE and not target.is_fake:
        pytest.skip(DESTRUCTIVE[case.operation.definition.raw["operationId"]])
    if not _admit(case, target, spender, GENERATED):
        return  # left out (see _admit): this example is not sent
    bind_operation(case.operation, target)
    case.call_and_validate(
        headers=_auth(target, case), excluded_checks=_excluded(target), **sending
    )


@dataclass
class _Followed:
    """What the stateful run did with the spec's links, to prove it followed them."""

    submitted: list[str] = field(default_factory=list)  # ids accepted submissions answered
    reads: list[tuple[str, int, object]] = field(default_factory=list)  # id asked, status, id got
    puts: list[int] = field(default_factory=list)  # statuses of PUTs to linked tickets

    def record(self, input: StepInput, output: StepOutput) -> None:
        case, status = output.case, output.response.status_code
        method, path = case.method.upper(), case.operation.path
        if is_submission(method, path):
            if status == 200 and isinstance(job_id := _data(output).get("id"), str):
                self.submitted.append(job_id)
            return
        if input.transition is None or not input.is_applied:
            return  # not reached through a link (a first step, or an id drawn at random)
        if method == "GET" and path.startswith("/api/v3/predictions/{id}"):
            asked = str((case.path_parameters or {}).get("id"))
            self.reads.append((asked, status, _data(output).get("id") if status == 200 else None))
        elif method == "PUT" and path.startswith("/media/upload-tickets/"):
            self.puts.append(status)

    def read_back(self) -> list[tuple[str, int, object]]:
        """The linked reads of a submitted job that answered 200 with that job's own id.

        A linked read can also be one schemathesis sent with broken credentials (401):
        it followed the link but proves nothing, and the run tops up by hand.
        """
        ours = set(self.submitted)
        return [read for read in self.reads if read[0] in ours and read[1:] == (200, read[0])]

    def top_up(self, api: httpx.Client, spender: Spender) -> None:
        """Follow the submission -> result link by hand, when generation did not.

        Two submissions (so their ids can be told apart) of media that cannot
        be read, each then read through the link's target, ``GET
        /api/v3/predictions/{$response.body#/data/id}/result``.
        """
        body = {
            name: UNFETCHABLE.format(field=name) for name in ("video", "left_audio", "right_audio")
        }
        while len(set(self.submitted)) < 2 or not self.read_back():
            if not spender.try_reserve(LINKS_PROOF.label, LINKS_PROOF.each_micros, cap=2):
                return
            job_id = str(submit(api, body)["id"])
            self.submitted.append(job_id)
            response = api.get(f"/api/v3/predictions/{job_id}/result")
            data = response.json().get("data") if response.status_code == 200 else None
            answered = data.get("id") if isinstance(data, dict) else None
            self.reads.append((job_id, response.status_code, answered))

    def prove(self, api: httpx.Client, *, require_put: bool) -> None:
        """The links led somewhere only a server that keeps jobs can lead.

        A stateless server (Prism, say, answering every request with the spec's
        examples) accepts submissions and answers reads with 200 too; it fails
        here: its submissions share one id, or its reads answer another job, or
        it knows a job nobody submitted.
        """
        assert self.submitted, "no submission was accepted, so no link could be followed"
        duplicates = len(self.submitted) - len(set(self.submitted))
        assert duplicates == 0, (
            f"{len(self.submitted)} accepted submissions answered only "
            f"{len(set(self.submitted))} distinct ids ({sorted(set(self.submitted))[:3]}...): "
            "each submission must create a job of its own"
        )
        assert self.read_back(), (
            "no GET of a prediction through a link from a submission answered 200 with the "
            f"submitted job's own id; the linked reads were (id asked, status, id answered): "
            f"{self.reads[:6]}"
        )
        unknown = secrets.token_hex(16)
        response = api.get(f"/api/v3/predictions/{unknown}/result")
        assert response.status_code != 200, (
            f"GET /api/v3/predictions/{unknown}/result, an id no submission was given, "
            f"answered 200: a server that keeps jobs answers 404. {response.text[:300]}"
        )
        if self.puts or require_put:
            # An invented ticket gets 404; a real one gets 200, or 400/413 for a body of
            # another size than the ticket declared (see NARROWED in mock_api/contract/schema.py).
            assert {200, 400, 413} & set(self.puts), (
                "no PUT to a ticket from a link was taken: statuses "
                f"{sorted(set(self.puts)) or 'none: no linked PUT was generated'}"
            )


def _data(output: StepOutput) -> dict[str, Any]:
    try:
        data = json.loads(output.response.content or b"null")
    except ValueError:
        return {}
    inner = data.get("data") if isinstance(data, dict) else None
    return inner if isinstance(inner, dict) else {}


def _machine(
    linked: BaseSchema, target: Target, spender: Spender, followed: _Followed, sending: Any
) -> Any:
    base: Any = linked.as_state_machine()
    excluded = _excluded(target)

    class ContractMachine(base):  # type: ignore[misc]
        """The spec's links, with the target's key and the paid-endpoint guard."""

        def get_call_kwargs(self, case: Case[Any]) -> dict[str, Any]:
            return {"headers": _auth(target, case), **sending}

        def step(self, input: StepInput) -> StepOutput | None:
            # A submission left out is not sent: the step yields no response
            # (schemathesis then has nothing to follow from it) and the scenario
            # stays valid, instead of being thrown away midway.
            if not _admit(input.case, target, spender, GENERATED_STATEFUL):
                return None
            output: StepOutput = super().step(input)
            followed.record(input, output)
            return output

        def validate_response(
            self,
            response: Response,
            case: Case[Any],
            additional_checks: list[CheckFunction] | None = None,
            **kwargs: Any,
        ) -> None:
            case.validate_response(
                response,
                additional_checks=additional_checks,
                excluded_checks=excluded,
                transport_kwargs=kwargs or None,
                recorder=self.recorder,
            )

    return ContractMachine


@pytest.mark.spends(GENERATED_STATEFUL, LINKS_PROOF)
def test_stateful_links(
    target: Target, bound_schema: Any, spender: Spender, api: httpx.Client, sending: Any
) -> None:
    """follows the spec's links: submission -> result (the same job), upload ticket -> PUT"""
    linked = (
        bound_schema
        if target.is_fake
        else bound_schema.exclude(tag=list(FAKE_ONLY)).exclude(operation_id=list(DESTRUCTIVE))
    )
    # Every model's submission answers the same `Submitted` response and its links, so
    # following them from our model's proves them for all, and the draws are not spread
    # over the whole family (a paid run affords only a few stateful submissions).
    # The same goes for the v2 aliases of v3 operations (tag legacy).
    others = [m.operation_id for m in MODELS if m is not DEFAULT_MODEL]
    linked = linked.exclude(operation_id=others).exclude(tag="legacy")
    followed = _Followed()
    machine = _machine(linked, target, spender, followed, sending)
    machine.run(
        settings=hypothesis.settings(
            max_examples=STATEFUL_EXAMPLES if target.free else GENERATED_STATEFUL.jobs,
            stateful_step_count=STATEFUL_STEPS,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
    )
    if not followed.read_back():
        followed.top_up(api, spender)
    # In-process the seeded run is known to reach a linked PUT; by URL the generated
    # media URLs differ, and with them the path Hypothesis takes, so a PUT is proved
    # only when one was sent.
    followed.prove(api, require_put=target.kind is TargetKind.IN_PROCESS)
