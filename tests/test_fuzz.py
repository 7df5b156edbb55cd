"""Hostile input at volume: over 5,000 generated requests, no 5xx, every answer in the spec.

The contract suite runs every schemathesis phase with a small, seeded budget;
this test is the volume run the hostile-input brief asks for: valid and
invalid requests generated from ``openapi.yaml`` for every public operation,
sent to the fake in-process, each answer checked: no server error, a documented
status, the documented content type, headers and body schema. The ``/_mock/``
control surface, which the contract suite leaves out, gets a run of its own on
an instance of its own (the fault rules and clock moves it makes touch nothing
else), with the same checks on valid and invalid input alike; and every path
answers each method the spec does not list with 405 and an ``Allow`` header
naming exactly the methods it does. Seeded, so a failure replays; bounded by
the example counts, not by time.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from mock_api import ManualClock, MockService, Settings, create_app
from mock_api.contract.schema import is_submission, load_schema, prepare_submission
from mock_api.contract.target import IN_PROCESS_URL, SyncASGITransport, in_process
from mock_api.planning import PACES
from mock_api.spec import HTTP_METHODS, SPEC_PATH, default_spec

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
#: Per operation and mode; operations with few possible inputs run out sooner. Enough
#: for TARGET_REQUESTS over the public operations (about 5,300 sent, where 120 sent 6,338
#: once the family's routes were in the spec, for 55 s of CPU). More costs more than it
#: adds: Hypothesis's later examples of the large submission bodies grow, and 250 each
#: took 320 s of CPU for about 10,000 requests.
EXAMPLES = 100
TARGET_REQUESTS = 5_000
#: The control API's run: every operation, both modes, every check on each answer.
CONTROL_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
CONTROL_EXAMPLES = 50  # 1,460 requests over the 27 control operations (70 sent 2,040: 20 s of CPU)
CONTROL_TARGET_REQUESTS = 1_400


def _sendable(files: Any) -> bool:
    """Negative generation can put numbers where multipart file contents go."""
    if files is None:
        return True
    items = files.values() if isinstance(files, dict) else [value for _, value in files]
    for item in items:
        content = item[1] if isinstance(item, tuple) else item
        if not isinstance(content, bytes | str):
            return False
    return True


def _send(client: httpx.Client, case: Case[Any], headers: dict[str, str]) -> httpx.Response | None:
    """Send one generated case through ``client``; ``None`` if it cannot or must not be sent."""
    if is_submission(case.method, case.operation.path) and (
        prepare_submission(case, by_url=False) is not None
    ):
        return None  # a combination the spec refuses in prose; see mock_api/contract/schema.py
    kwargs = case.as_transport_kwargs(base_url=IN_PROCESS_URL, headers=headers)
    kwargs.pop("cookies", None)  # none in this API; httpx deprecates them
    raw = kwargs.get("data")
    if raw is not None and not isinstance(raw, dict):  # raw bodies go as content=
        del kwargs["data"]
        kwargs["content"] = raw if isinstance(raw, bytes) else str(raw).encode()
    if not _sendable(kwargs.get("files")):
        return None  # httpx itself cannot encode such a multipart body
    started = time.perf_counter()
    request = client.build_request(**kwargs)
    request.read()  # the checks report the body sent, multipart included
    response = client.send(request)
    # The in-process transport answers fully read; httpx sets elapsed only when it
    # reads the body itself, and the checks report it.
    response.elapsed = timedelta(seconds=time.perf_counter() - started)
    return response


def _fuzz(
    client: httpx.Client,
    operation: APIOperation[Any, Any, Any, Any],
    mode: GenerationMode,
    headers: dict[str, str],
    *,
    checks: list[Any] | None = None,
    examples: int = EXAMPLES,
) -> int:
    """Up to ``examples`` generated cases of one operation; how many were sent.

    ``checks`` default: every check for valid input, and for invalid input no
    crash and the documented content type.
    """
    sent = 0
    if checks is None:
        checks = (
            CHECKS
            if mode is GenerationMode.POSITIVE
            else [not_a_server_error, content_type_conformance]
        )

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Case[Any]) -> None:
        nonlocal sent
        response = _send(client, case, headers)
        if response is None:
            return
        sent += 1
        assert response.status_code < 500, operation.label
        # valid input: every check; invalid input: no crash and only documented answers
        case.validate_response(response, checks=checks)

    try:
        run()
    except Unsatisfiable:
        # No input of this operation can be made invalid (no parameters, or none
        # with constraints): there is nothing negative to send.
        assert mode is GenerationMode.NEGATIVE, operation.label
    return sent


# Untraced by coverage (pytest-cov's no_cover): tracing every frame of Hypothesis's
# generation doubled these two tests' time, and the lines they reach in mock_api the
# rest of the suite reaches too.
@pytest.mark.slow
@pytest.mark.no_cover
def test_over_five_thousand_generated_requests_get_no_5xx_and_answers_in_the_spec() -> None:
    target = in_process()  # its instant-pace app: sync-mode bodies finish at once
    headers = {"Authorization": f"Bearer {target.api_key}"}
    assert target.schema_app is not None
    transport = SyncASGITransport(target.schema_app)
    client = httpx.Client(transport=transport, base_url=IN_PROCESS_URL)
    sent: dict[str, int] = {}
    try:
        for result in load_schema().get_all_operations():
            operation = result.ok()  # type: ignore[union-attr]  # the spec is valid: tested
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                key = f"{operation.label} ({mode.value})"
                sent[key] = _fuzz(client, operation, mode, headers)
    finally:
        transport.shutdown()
        target.close()
    assert sum(sent.values()) >= TARGET_REQUESTS, sent


@pytest.mark.slow
@pytest.mark.no_cover
def test_the_control_api_fuzzed_gets_no_5xx_and_only_documented_answers() -> None:
    # Before: PUT /_mock/balance answered 401 (undocumented) for a key the mock does not
    # accept, a NaN or a clock set to the year 33658 answered 500, and OPTIONS on a
    # /_mock/ path answered 405 with an Allow header missing the path's other methods.
    service = MockService(
        Settings(random_seed=7, api_keys=frozenset({"fuzz-key"}), pace=PACES["instant"]),
        ManualClock(),
    )
    transport = SyncASGITransport(create_app(service=service))
    client = httpx.Client(transport=transport, base_url=IN_PROCESS_URL)
    schema = schemathesis.openapi.from_path(SPEC_PATH).include(tag="control")
    sent: dict[str, int] = {}
    try:
        for result in schema.get_all_operations():
            operation = result.ok()  # type: ignore[union-attr]  # the spec is valid: tested
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                key = f"{operation.label} ({mode.value})"
                sent[key] = _fuzz(
                    client, operation, mode, {}, checks=CONTROL_CHECKS, examples=CONTROL_EXAMPLES
                )
    finally:
        transport.shutdown()
    control = {
        f"{op.method.upper()} {op.path}"
        for op in default_spec().operations
        if "control" in op.definition.get("tags", ())
    }
    assert {key.split(" (")[0] for key in sent} == control
    assert sum(sent.values()) >= CONTROL_TARGET_REQUESTS, sent


#: Path parameters that reach the routes (the answer is 405 before any lookup).
_PATH_VALUES = {"{id}": "0" * 32, "{rule_id}": "a-rule"}


def test_every_path_answers_an_unlisted_method_with_405_naming_the_listed_ones() -> None:
    service = MockService(Settings(pace=PACES["instant"]), ManualClock())
    transport = SyncASGITransport(create_app(service=service))
    client = httpx.Client(transport=transport, base_url=IN_PROCESS_URL)
    checked = 0
    try:
        for path, item in default_spec().document["paths"].items():
            listed = {m.upper() for m in HTTP_METHODS if m in item}
            url = path
            for name, value in _PATH_VALUES.items():
                url = url.replace(name, value)
            for method in sorted({m.upper() for m in HTTP_METHODS} - listed - {"HEAD"}):
                response = client.request(method, url)
                assert response.status_code == 405, (method, path, response.text)
                allow = {m.strip() for m in response.headers["allow"].split(",")}
                assert allow == listed, (method, path, allow)
                checked += 1
    finally:
        transport.shutdown()
    assert checked > 100
