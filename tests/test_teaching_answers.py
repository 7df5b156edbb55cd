"""Answers that teach (issue 24 section 4): each refusal says what was meant or where to look.

A misspelt field is named with the field it most likely misspells; an unknown model's
404 says where the models are listed; a body that is not JSON says the API takes JSON;
several violations are each spelt out (never "(and 1 more)" after an enum's list); a
stray trailing slash is a JSON 404 naming the path meant, not an empty 307.

Unknown fields of a submission stay ignored by default (README: unknown fields): the
hint then goes in ``X-Mock-Warning`` and a log line, never in the answer's status or body.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
import jsonschema
import pytest

from mock_api import Settings
from mock_api.spec import default_spec
from tests.helpers import AUTH, BASE, SUBMIT, MakeClient, job_input, silence, video

pytestmark = pytest.mark.anyio

MODEL = SUBMIT.removeprefix("/api/v3/")
TAKES = "left_audio, order, prompt, right_audio, seed, video"
ONE_SPEAKER = "/api/v3/wavespeed-ai/infinitetalk-fast/video-to-video"
IMAGE_MULTI = "/api/v3/wavespeed-ai/infinitetalk/multi"
ERROR_SCHEMA = {
    **default_spec().document["components"]["schemas"]["Error"],
    "components": default_spec().document["components"],
}


def refused(response: httpx.Response, status: int) -> dict[str, Any]:
    """The error envelope of ``response``, checked against the spec's ``Error``."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    jsonschema.validate(body, ERROR_SCHEMA)
    assert body["message"] == body["error"]
    return body


async def nothing_changed(client: httpx.AsyncClient) -> None:
    """No job was made and the account was not charged (the fake starts accounts at $100)."""
    assert (await client.get("/_mock/jobs")).json()["data"] == {"jobs": []}
    balance = await client.get("/api/v3/balance", headers=AUTH)
    assert balance.json()["data"]["balance"] == 100


# 1. A misspelt field is named with the field meant.


@pytest.mark.parametrize(
    ("path", "body", "field", "sent"),
    [
        (SUBMIT, {"video": video(), "left_audi": silence(5), "right_audio": silence(5)},
         "left_audio", "left_audi"),
        (ONE_SPEAKER, {"video": video(), "audoi": silence(5)}, "audio", "audoi"),
        ("/api/v3/predictions", {"page": 1, "page_sise": 10}, "page_size", "page_sise"),
    ],
    ids=["left_audi", "audoi", "page_sise"],
)  # fmt: skip
async def test_a_misspelt_required_field_is_named_with_the_field_meant(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], field: str, sent: str
) -> None:
    # Before: 'field "left_audio" is required', leaving the reader to spot "left_audi".
    answer = refused(await client.post(path, json=body, headers=AUTH), 400)
    reason = f'is required (the body has "{sent}": did you mean "{field}"?)'
    assert answer["details"] == [{"field": field, "reason": reason, "location": "body"}]
    assert answer["message"] == f'field "{field}" {reason}'
    await nothing_changed(client)


@pytest.mark.parametrize(
    ("extra", "note"),
    [
        ({"oder": "left_right"}, f'ignored field "oder": not an input of {MODEL} '
         '(did you mean "order"?)'),
        ({"promt": "two people"}, f'ignored field "promt": not an input of {MODEL} '
         '(did you mean "prompt"?)'),
        ({"colour": 1}, f'ignored field "colour": not an input of {MODEL}'),
    ],
    ids=["oder", "promt", "nothing-close"],
)  # fmt: skip
async def test_an_ignored_field_is_named_in_x_mock_warning_and_the_log(
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    extra: dict[str, Any],
    note: str,
) -> None:
    """Accepted as before (the fake ignores unknown fields by default, as the real service
    may), with the same body; the hint is in a header and a log line only."""
    caplog.set_level(logging.INFO, logger="wavespeed_mock")
    answer = await client.post(SUBMIT, json={**job_input(), **extra}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Mock-Warning"] == note
    data = answer.json()["data"]
    assert data["status"] == "created"
    assert not set(extra) & set(data["input"])
    assert data["input"]["order"] == "meanwhile"  # "oder" changed nothing
    [logged] = [r for r in caplog.records if getattr(r, "event", None) == "ignored_fields"]
    assert logged.fields["ignored"] == [note]  # type: ignore[attr-defined]
    assert logged.fields["path"] == SUBMIT  # type: ignore[attr-defined]
    assert note in logged.getMessage()


async def test_a_sync_mode_answer_names_an_ignored_field_too(make_client: MakeClient) -> None:
    async with make_client(Settings(sync_timeout_seconds=0)) as client:
        body = {**job_input(), "enable_sync_mode": True, "oder": "left_right"}
        answer = await client.post(SUBMIT, json=body, headers=AUTH)
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["code"] == 5004  # the wait ran out at once: still running
        assert answer.headers["X-Mock-Warning"] == (
            f'ignored field "oder": not an input of {MODEL} (did you mean "order"?)'
        )


async def test_a_submission_with_only_its_own_fields_has_no_warning(
    client: httpx.AsyncClient,
) -> None:
    body = {**job_input(), "order": "left_right", "enable_base64_output": False}
    answer = await client.post(SUBMIT, json=body, headers=AUTH)
    assert answer.status_code == 200
    assert "X-Mock-Warning" not in answer.headers


async def test_another_models_input_is_not_called_a_misspelling(
    client: httpx.AsyncClient,
) -> None:
    """``"mask_image": ""`` sent to every model is on purpose: on an image model without a
    mask it is not "did you mean image"."""
    body = {"image": f"{BASE}/media/samples/silence.wav?seconds=1", "left_audio": silence(5)}
    body |= {"right_audio": silence(5), "mask_image": ""}
    answer = await client.post(IMAGE_MULTI, json=body, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Mock-Warning"] == (
        'ignored field "mask_image": not an input of wavespeed-ai/infinitetalk/multi '
        "(other models take it, this one does not)"
    )


async def test_a_quote_names_the_inputs_it_ignored(client: httpx.AsyncClient) -> None:
    body = {"model_id": MODEL, "inputs": {"left_audio": silence(7), "oder": "left_right"}}
    answer = await client.post("/api/v3/model/price", json=body, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["price"] == 0.105  # 7 s at $0.015/s: "oder" moved nothing
    assert answer.headers["X-Mock-Warning"] == (
        f'ignored field "inputs.oder": not an input of {MODEL} (did you mean "order"?)'
    )


async def test_strict_inputs_refuse_a_misspelling_naming_the_field_meant(
    make_client: MakeClient,
) -> None:
    async with make_client(Settings(strict_inputs=True)) as client:
        body = {**job_input(), "oder": "left_right", "colour": 1}
        answer = refused(await client.post(SUBMIT, json=body, headers=AUTH), 400)
        assert answer["details"] == [
            {
                "field": "oder",
                "reason": f'is not an input of {MODEL} (did you mean "order"?) (it takes: {TAKES})',
                "location": "body",
            },
            {
                "field": "colour",
                "reason": f"is not an input of {MODEL} (it takes: {TAKES})",
                "location": "body",
            },
        ]
        await nothing_changed(client)


async def test_the_warning_names_ten_fields_then_counts_the_rest(
    client: httpx.AsyncClient,
) -> None:
    extra: dict[str, Any] = {f"extra{i:02d}": i for i in range(12)}
    extra["x\n\u00e9" + "y" * 100] = 1  # a line break, non-ASCII, and long: shown safely
    answer = await client.post(SUBMIT, json={**job_input(), **extra}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    notes = answer.headers["X-Mock-Warning"].split("; ")
    assert len(notes) == 11
    assert notes[0] == f'ignored field "extra00": not an input of {MODEL}'
    assert notes[9] == f'ignored field "extra09": not an input of {MODEL}'
    assert notes[10] == "and 3 other ignored fields"


async def test_a_field_name_is_shown_in_ascii_and_cut_to_64_characters(
    client: httpx.AsyncClient,
) -> None:
    name = "x\n\u00e9" + "y" * 100
    answer = await client.post(SUBMIT, json={**job_input(), name: 1}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    shown = '"x\\n\\u00e9' + "y" * 61 + '..."'
    assert answer.headers["X-Mock-Warning"] == f"ignored field {shown}: not an input of {MODEL}"


async def test_a_body_of_many_unknown_fields_is_answered_at_once(
    client: httpx.AsyncClient,
) -> None:
    # Before: the fields kept were picked out of a list of the unknown ones, a quadratic
    # scan: 40,000 names held the request (and the event loop) for 5 s, 60,000 for 11 s.
    extra = {f"k{i}": 0 for i in range(60_000)}
    started = time.perf_counter()
    answer = await client.post(SUBMIT, json={**job_input(), **extra}, headers=AUTH)
    elapsed = time.perf_counter() - started
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Mock-Warning"].endswith("; and 59990 other ignored fields")
    assert elapsed < 3, f"{elapsed:.1f} s"


# 2. An unknown model's 404 says where the models are listed.


@pytest.mark.parametrize(
    ("model", "hint"),
    [
        ("wavespeed-ai/infinitetalk-fst", '; did you mean "wavespeed-ai/infinitetalk-fast"?'),
        ("acme/some-other-model", ""),
    ],
    ids=["close", "far"],
)
async def test_an_unknown_model_names_where_the_models_are_listed(
    client: httpx.AsyncClient, model: str, hint: str
) -> None:
    # Before: "no route POST /api/v3/wavespeed-ai/infinitetalk-fst", and nothing more.
    answer = refused(await client.post(f"/api/v3/{model}", json=job_input(), headers=AUTH), 404)
    assert answer["message"] == (
        f'no route POST /api/v3/{model}: no model "{model}" is served here '
        f"(GET /api/v3/models lists them{hint})"
    )
    legacy = refused(await client.post(f"/api/v2/{model}", json=job_input(), headers=AUTH), 404)
    assert legacy["message"] == (
        f"no model {model!r} is served here (GET /api/v3/models lists them{hint})"
    )
    quote = {"model_id": model, "inputs": {}}
    priced = refused(await client.post("/api/v3/model/price", json=quote, headers=AUTH), 404)
    assert priced["message"] == (
        f'model_id "{model}" is not a model this server serves '
        f"(GET /api/v3/models lists them{hint})"
    )
    await nothing_changed(client)


@pytest.mark.parametrize(
    ("method", "path", "meant"),
    [
        ("POST", "/api/v3/uploads", "/api/v3/upload"),  # a mistake real clients make
        ("GET", "/api/v3/balanse", "/api/v3/balance"),
        ("POST", "/api/v3/model/prices", "/api/v3/model/price"),
        ("GET", "/_mock/job", "/_mock/jobs"),
    ],
    ids=["uploads", "balanse", "prices", "mock-job"],
)
async def test_a_misspelt_path_is_named_with_the_path_meant(
    client: httpx.AsyncClient, method: str, path: str, meant: str
) -> None:
    response = await client.request(method, path, json={}, headers=AUTH)
    answer = refused(response, 404)
    assert answer["message"] == f"no route {method} {path} (did you mean {method} {meant}?)"


async def test_another_unknown_route_is_still_a_plain_404(client: httpx.AsyncClient) -> None:
    answer = refused(await client.get("/api/v3/nope", headers=AUTH), 404)
    assert answer["message"] == "no route GET /api/v3/nope"


# 3. A body that is not JSON: the API takes JSON.

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SAYS = "this API takes a JSON body, sent with Content-Type: application/json"


@pytest.mark.parametrize(
    ("headers", "content", "reason"),
    [
        (FORM, b"video=a&left_audio=b",
         f"is application/x-www-form-urlencoded (a form, as curl -d and HTML forms send): {SAYS}"),
        ({"Content-Type": "text/plain"}, b"hello", f'is "text/plain": {SAYS}'),
        ({}, b'{"video": "v"}', f"is missing: {SAYS} (the body looks like JSON: only the "
         "header is wrong)"),
        (FORM, b'{"video": "v"}', "is application/x-www-form-urlencoded (a form, as curl -d "
         f"and HTML forms send): {SAYS} (the body looks like JSON: only the header is wrong)"),
    ],
    ids=["form", "text", "json-without-content-type", "json-sent-as-a-form"],
)  # fmt: skip
@pytest.mark.parametrize(
    "path", [SUBMIT, "/api/v3/media/uploads", "/api/v3/model/price", "/api/v3/predictions"]
)
async def test_a_body_not_sent_as_json_is_told_the_api_takes_json(
    client: httpx.AsyncClient, headers: dict[str, str], content: bytes, reason: str, path: str
) -> None:
    # Before: a form read as JSON said 'field "body" is not valid JSON (Expecting value:
    # line 1 column 1 (char 0))', and JSON without its Content-Type was served.
    answer = refused(await client.post(path, content=content, headers={**AUTH, **headers}), 400)
    assert answer["details"] == [{"field": "Content-Type", "reason": reason, "location": "header"}]
    assert answer["message"] == f'header "Content-Type" {reason}'
    await nothing_changed(client)


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "Application/JSON",
     "application/vnd.example+json"],
)  # fmt: skip
async def test_a_json_body_with_a_json_content_type_is_served(
    client: httpx.AsyncClient, content_type: str
) -> None:
    answer = await client.post(
        SUBMIT,
        content=httpx.Request("POST", BASE, json=job_input()).content,
        headers={**AUTH, "Content-Type": content_type},
    )
    assert answer.status_code == 200, answer.text


async def test_an_empty_body_is_told_what_to_send(client: httpx.AsyncClient) -> None:
    answer = refused(await client.post(SUBMIT, headers=AUTH), 400)
    assert answer["message"] == (
        'field "body" is required: send a JSON object, with Content-Type: application/json'
    )


# 4. Several violations: each spelt out, an enum's values all listed.


async def test_several_violations_are_each_named_never_and_1_more(
    client: httpx.AsyncClient,
) -> None:
    # Before: 'field "order" must be one of meanwhile, left_right, right_left (and 1 more)':
    # one more value, or one more error?
    body = {**job_input(), "order": "sideways", "seed": "x"}
    answer = refused(await client.post(SUBMIT, json=body, headers=AUTH), 400)
    assert answer["message"] == (
        'field "order" must be one of meanwhile, left_right, right_left; '
        'field "seed" must be an integer'
    )
    assert "(and" not in answer["message"]
    assert [d["field"] for d in answer["details"]] == ["order", "seed"]


async def test_past_five_violations_the_message_counts_the_rest_as_problems(
    client: httpx.AsyncClient,
) -> None:
    body = {"order": "sideways", "seed": "x", "prompt": 1}
    answer = refused(await client.post(SUBMIT, json=body, headers=AUTH), 400)
    assert [d["field"] for d in answer["details"]] == [
        "left_audio", "order", "prompt", "right_audio", "seed", "video",
    ]  # fmt: skip
    assert answer["message"] == (
        'field "left_audio" is required; '
        'field "order" must be one of meanwhile, left_right, right_left; '
        'field "prompt" must be a string; field "right_audio" is required; '
        'field "seed" must be an integer; and 1 other problems, each in details'
    )


@pytest.mark.parametrize(
    ("path", "method", "body", "field", "reason"),
    [
        (SUBMIT, "POST", {**job_input(), "order": "Left_Right"}, "order",
         'must be one of meanwhile, left_right, right_left (did you mean "left_right"?)'),
        ("/_mock/clock", "POST", {"action": "advanse"}, "action",
         "must be one of advance, set, freeze, resume, run_until_idle "
         '(did you mean "advance"?)'),
        ("/_mock/faults", "POST", {"id": "f", "kind": "sideways"}, "kind",
         "must be one of status, latency, drop, malformed, slow-answer"),
        ("/_mock/limits", "PUT", {"api_key": "k", "level": "platinum"}, "level",
         "must be one of bronze, silver, gold, ultra"),
    ],
    ids=["order", "clock-action", "fault-kind", "limits-level"],
)  # fmt: skip
async def test_an_enum_error_lists_every_allowed_value(
    client: httpx.AsyncClient,
    path: str,
    method: str,
    body: dict[str, Any],
    field: str,
    reason: str,
) -> None:
    answer = refused(await client.request(method, path, json=body, headers=AUTH), 400)
    assert answer["details"] == [{"field": field, "reason": reason, "location": "body"}]


# 5. A trailing slash: a JSON 404 naming the path meant, never an empty 307.


@pytest.mark.parametrize(
    ("method", "path", "meant"),
    [
        ("GET", "/api/v3/balance/", "/api/v3/balance"),
        ("GET", "/api/v3/predictions/0123456789abcdef0123456789abcdef/result/",
         "/api/v3/predictions/0123456789abcdef0123456789abcdef/result"),
        ("POST", f"{SUBMIT}/", SUBMIT),
        ("POST", f"{SUBMIT}//", SUBMIT),
        ("GET", "/api/v3/models/", "/api/v3/models"),
        ("GET", "/_mock/jobs/", "/_mock/jobs"),
        ("POST", "/_mock/clock/", "/_mock/clock"),
    ],
    ids=["balance", "result", "model", "model-two-slashes", "models", "mock-jobs", "mock-clock"],
)  # fmt: skip
async def test_a_trailing_slash_is_a_json_404_naming_the_path_meant(
    client: httpx.AsyncClient, method: str, path: str, meant: str
) -> None:
    # Before: an empty 307 to the path without the slash (Starlette's redirect_slashes).
    body = job_input() if path.startswith(SUBMIT) else {"action": "advance", "seconds": 60}
    kwargs: dict[str, Any] = {"json": body} if method == "POST" else {}
    response = await client.request(method, path, headers=AUTH, **kwargs)
    answer = refused(response, 404)
    assert "location" not in response.headers
    assert answer["message"] == (
        f"no route {method} {path}: the path is {meant}, without the trailing slash"
    )
    await nothing_changed(client)
    assert (await client.get("/_mock/clock")).json()["data"]["now_ms"] == 1_767_225_600_000


async def test_a_trailing_slash_on_no_route_at_all_is_a_plain_404(
    client: httpx.AsyncClient,
) -> None:
    answer = refused(await client.get("/api/v3/nope/", headers=AUTH), 404)
    assert answer["message"] == "no route GET /api/v3/nope/"


# The control API teaches the same way.


@pytest.mark.parametrize(
    ("method", "path", "body", "field", "reason"),
    [
        ("PUT", "/_mock/limits", {"api_key": "k", "videos_per_minut": 1}, "videos_per_minut",
         'is not allowed (did you mean "videos_per_minute"?)'),
        ("PUT", "/_mock/limits", {"api_key": "k", "colour": 1}, "colour",
         "is not allowed (the fields are api_key, level, videos_per_minute, max_concurrent)"),
        ("POST", "/_mock/scenarios", {"id": "s", "thn": "fail"}, "then",
         'is required (the body has "thn": did you mean "then"?)'),
    ],
    ids=["misspelt", "nothing-close", "misspelt-required"],
)  # fmt: skip
async def test_the_control_api_names_the_field_meant(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    body: dict[str, Any],
    field: str,
    reason: str,
) -> None:
    answer = refused(await client.request(method, path, json=body), 400)
    assert {"field": field, "reason": reason, "location": "body"} in answer["details"]


async def test_the_control_api_says_it_takes_json(client: httpx.AsyncClient) -> None:
    response = await client.post("/_mock/clock", content=b"action=advance", headers=FORM)
    answer = refused(response, 403)  # a page could send a form: refused before it is read
    assert answer["message"] == (
        "the control API takes only JSON bodies, sent with Content-Type: application/json, "
        "not application/x-www-form-urlencoded (a web page can send those without asking "
        "first)"
    )
