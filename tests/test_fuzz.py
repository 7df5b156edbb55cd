"""Hostile input at volume: over 5,000 generated requests, no 5xx, every answer in the spec.

The contract suite runs every schemathesis phase with a small, seeded budget;
this test is the volume run the hostile-input brief asks for: valid and
invalid requests generated from ``openapi.yaml`` for every public operation
(the ``/_mock/`` control surface excluded, as in the contract suite), sent to
the fake in-process, each answer checked: no server error, a documented status,
the documented content type, headers and body schema. Seeded, so a failure
replays; bounded by the example counts, not by time.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import httpx
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

from mock_api.contract.schema import is_submission, load_schema, prepare_submission
from mock_api.contract.target import IN_PROCESS_URL, SyncASGITransport, in_process

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
#: Per operation and mode; operations with few possible inputs run out sooner.
EXAMPLES = 250
TARGET_REQUESTS = 5_000


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
) -> int:
    """Up to :data:`EXAMPLES` generated cases of one operation; how many were sent."""
    sent = 0
    checks = (
        CHECKS
        if mode is GenerationMode.POSITIVE
        else [not_a_server_error, content_type_conformance]
    )

    @settings(
        max_examples=EXAMPLES,
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
