"""Stub rules: matching requests get the user's own status, headers and body.

Rules go in through ``POST /_mock/stubs`` (or a rules file); requests go through
httpx's ASGI transport to an app on a :class:`~mock_api.clock.ManualClock`. The
store tests run on every store of ``tests/store_suites/conftest.py``. The
documented bounds are written here as numbers: a 64 KiB body (65,536 bytes), 32
headers, 2,048 characters a value, 8 KiB (8,192 bytes) of names and values.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import pytest

from mock_api import MockService
from mock_api.rules import load_rules
from mock_api.storage import Store
from mock_api.storage.memory import MemoryStore
from mock_api.stubs import StubBook, StubInvalid, StubRule, stub_from_dict
from tests.helpers import AUTH, SUBMIT, auth, control, job_input
from tests.store_suites.conftest import STORES

pytestmark = pytest.mark.anyio

BALANCE = "/api/v3/balance"
#: The fake's own answer to GET /api/v3/balance for a new account.
OWN_BALANCE = {"code": 200, "message": "success", "data": {"balance": 100.0, "currency": "USD"}}


async def add_stub(client: httpx.AsyncClient, rule: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = await control(client, "POST", "/stubs", rule)
    return data


async def stubs(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    data = await control(client, "GET", "/stubs")
    return {rule["id"]: rule for rule in data["stubs"]}


async def journal(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = (await control(client, "GET", "/journal", params=params))[
        "entries"
    ]
    return entries


# --- the answer ----------------------------------------------------------------------------


async def test_a_stub_answers_with_its_status_headers_and_body_then_the_fake_answers(
    client: httpx.AsyncClient,
) -> None:
    data = {"balance": 12.5, "currency": "USD", "credits": 1250}  # credits: not in the spec
    body = {"code": 200, "message": "success", "data": data}
    await add_stub(
        client,
        {
            "id": "credits",
            "method": "GET",
            "path": BALANCE,
            "status": 203,
            "headers": {"X-Request-Id": "req-42"},
            "json": body,
            "times": 1,
        },
    )

    stubbed = await client.get(BALANCE, headers=AUTH)
    own = await client.get(BALANCE, headers=AUTH)

    assert stubbed.status_code == 203
    assert stubbed.json() == body
    assert stubbed.content == json.dumps(body, separators=(",", ":")).encode()
    assert stubbed.headers["x-request-id"] == "req-42"
    assert stubbed.headers["content-type"] == "application/json"
    assert stubbed.headers["x-mock-stub"] == "credits"
    assert stubbed.headers["content-length"] == str(len(stubbed.content))
    assert (own.status_code, own.json()) == (200, OWN_BALANCE)
    assert "x-mock-stub" not in own.headers


@pytest.mark.parametrize(
    ("form", "value", "content", "content_type"),
    [
        ("json", None, b"null", "application/json"),
        ("json", [1, "é"], '[1,"é"]'.encode(), "application/json"),
        ("text", "upstream timed out\n", b"upstream timed out\n", "text/plain; charset=utf-8"),
        ("base64", base64.b64encode(b"\x00\x01\xff").decode(), b"\x00\x01\xff", None),
    ],
    ids=["json-null", "json-array", "text", "base64"],
)
async def test_each_body_form_is_sent_as_given_with_its_content_type(
    client: httpx.AsyncClient, form: str, value: Any, content: bytes, content_type: str | None
) -> None:
    await add_stub(client, {"id": "odd", "path": BALANCE, form: value})

    answer = await client.get(BALANCE, headers=AUTH)

    assert answer.status_code == 200
    assert answer.content == content
    assert answer.headers["content-type"] == (content_type or "application/octet-stream")


async def test_no_body_is_an_empty_answer_and_a_204_has_no_length(
    client: httpx.AsyncClient,
) -> None:
    await add_stub(client, {"id": "empty", "path": BALANCE, "times": 1})
    await add_stub(client, {"id": "none", "path": BALANCE, "status": 204})

    empty = await client.get(BALANCE, headers=AUTH)
    no_content = await client.get(BALANCE, headers=AUTH)

    assert (empty.status_code, empty.content, empty.headers["content-length"]) == (200, b"", "0")
    assert "content-type" not in empty.headers
    assert (no_content.status_code, no_content.content) == (204, b"")
    assert "content-length" not in no_content.headers


async def test_a_content_type_header_replaces_the_forms_own(client: httpx.AsyncClient) -> None:
    await add_stub(
        client,
        {"id": "html", "path": BALANCE, "headers": {"Content-Type": "text/html"}, "text": "<p>"},
    )
    answer = await client.get(BALANCE, headers=AUTH)
    assert answer.headers.get_list("content-type") == ["text/html"]
    assert answer.text == "<p>"


# --- which requests --------------------------------------------------------------------------


async def test_a_stub_picks_requests_by_method_path_glob_and_api_key(
    client: httpx.AsyncClient,
) -> None:
    await add_stub(
        client,
        {"id": "s", "method": "get", "path": "/api/v3/bal*", "api_key": "other", "text": "x"},
    )

    assert (await client.get(BALANCE, headers=auth("other"))).text == "x"
    assert (await client.get(BALANCE, headers=AUTH)).json() == OWN_BALANCE  # another key
    assert (await client.get(BALANCE)).status_code == 401  # no key
    assert (await client.post(BALANCE, headers=auth("other"))).status_code == 405  # method
    assert (await client.get("/api/v3/models", headers=auth("other"))).status_code == 200


async def test_the_default_path_is_the_api_only(client: httpx.AsyncClient) -> None:
    await add_stub(client, {"id": "s", "text": "x"})
    assert (await client.get(BALANCE, headers=AUTH)).text == "x"
    sample = await client.get("/media/samples/silence.wav?seconds=0.1")
    assert sample.headers["content-type"] == "audio/wav"


async def test_a_stub_picks_requests_by_query_parameters(client: httpx.AsyncClient) -> None:
    await add_stub(
        client,
        {"id": "q", "path": "/api/v3/models", "query": {"family": "x", "v": ""}, "text": "q"},
    )

    assert (await client.get("/api/v3/models?v=&family=x&more=1", headers=AUTH)).text == "q"
    assert (await client.get("/api/v3/models?family=x", headers=AUTH)).status_code == 200
    assert (await client.get("/api/v3/models?family=y&v=", headers=AUTH)).json()["code"] == 200


async def test_a_stub_picks_requests_by_json_body_fields_and_passes_the_others_whole(
    client: httpx.AsyncClient, service: MockService
) -> None:
    await add_stub(
        client,
        {
            "id": "left-first",
            "method": "POST",
            "path": SUBMIT,
            "input": {"order": "left_right", "seed": 7},
            "status": 500,
            "text": "boom",
        },
    )

    with anyio.fail_after(10):  # a body read for matching and not given again hangs
        matched = await client.post(
            SUBMIT, json=job_input(order="left_right", seed=7), headers=AUTH
        )
        passed = await client.post(SUBMIT, json=job_input(order="left_right", seed=8), headers=AUTH)

    assert (matched.status_code, matched.text) == (500, "boom")
    assert passed.status_code == 200, passed.text  # its body reached the fake whole
    assert passed.json()["data"]["input"]["seed"] == 8
    assert len(service.jobs()) == 1
    assert (await stubs(client))["left-first"]["matched"] == 1


async def test_a_body_over_64_kib_matches_no_input_stub_and_reaches_the_fake_whole(
    client: httpx.AsyncClient,
) -> None:
    wav = (await client.get("/media/samples/silence.wav?seconds=10&sample_rate=8000")).content
    assert len(wav) > 65_536
    upload = "/api/v3/media/upload/binary"
    await add_stub(client, {"id": "json-only", "path": upload, "input": {"a": 1}, "text": "no"})
    request = client.build_request("POST", upload, files={"file": ("a.wav", wav)})
    body = request.read()

    async def chunks() -> AsyncIterator[bytes]:  # several messages, as a server gives them
        for start in range(0, len(body), 16_384):
            yield body[start : start + 16_384]

    headers = {**AUTH, "Content-Type": request.headers["content-type"]}
    with anyio.fail_after(10):  # a body read for matching and not given again hangs
        answer = await client.post(upload, content=chunks(), headers=headers)

    assert answer.status_code == 200, answer.text
    stored = answer.json()["data"]
    assert stored["size"] == len(wav)
    assert (await client.get(stored["download_url"])).content == wav


@pytest.mark.parametrize(("size", "stubbed"), [(65_536, True), (65_537, False)])
async def test_a_json_body_is_matched_up_to_64_kib(
    client: httpx.AsyncClient, size: int, stubbed: bool
) -> None:
    await add_stub(client, {"id": "s", "path": "/api/v3/anything", "input": {"a": 1}})
    raw = b'{"a":1,"pad":"' + b"x" * (size - 16) + b'"}'
    assert len(raw) == size

    answer = await client.post(
        "/api/v3/anything", content=raw, headers={**AUTH, "Content-Type": "application/json"}
    )

    assert ("x-mock-stub" in answer.headers) is stubbed
    assert answer.status_code == (200 if stubbed else 404)


async def test_the_control_api_is_never_stubbed(client: httpx.AsyncClient) -> None:
    await add_stub(client, {"id": "all", "path": "*", "status": 500, "text": "no"})
    assert (await client.get("/_mock/stubs")).status_code == 200
    assert (await client.delete("/_mock/stubs/all")).status_code == 200
    assert (await client.get(BALANCE, headers=AUTH)).json() == OWN_BALANCE


async def test_a_fault_rule_acts_before_a_stub(client: httpx.AsyncClient) -> None:
    await add_stub(client, {"id": "s", "path": BALANCE, "text": "stub"})
    fault = {"id": "f", "kind": "status", "status": 503, "path": BALANCE, "times": 1}
    assert (await client.post("/_mock/faults", json=fault)).status_code == 200

    first, second = [await client.get(BALANCE, headers=AUTH) for _ in range(2)]

    assert (first.status_code, second.text) == (503, "stub")
    entries = await journal(client, path=BALANCE)
    assert [(e["fault"], e["stub"]) for e in entries] == [("f", None), (None, "s")]


# --- times, share, counters, the list ------------------------------------------------------


async def test_times_share_and_counters_follow_the_other_rules(client: httpx.AsyncClient) -> None:
    await add_stub(client, {"id": "twice", "path": BALANCE, "text": "a", "times": 2})
    await add_stub(client, {"id": "half", "path": BALANCE, "text": "b", "share": 0.5, "seed": 3})

    answers = [await client.get(BALANCE, headers=AUTH) for _ in range(12)]

    assert [a.text for a in answers[:2]] == ["a", "a"]
    rest = [a.text if "x-mock-stub" in a.headers else a.json() for a in answers[2:]]
    assert set(map(str, rest)) == {"b", str(OWN_BALANCE)}  # a seeded share: some, not all
    rules = await stubs(client)
    assert (rules["twice"]["matched"], rules["twice"]["applied"]) == (2, 2)
    assert (rules["half"]["matched"], rules["half"]["applied"]) == (10, rest.count("b"))


def test_a_seeded_share_replays_exactly() -> None:
    def run(seed: int) -> list[bool]:
        book = StubBook(MemoryStore().rules)
        book.add(StubRule(id="s", share=0.5, seed=seed))
        return [book.fire(lambda r: True) is not None for _ in range(20)]

    assert run(9) == run(9)
    assert run(9) != run(10)
    assert True in run(9)
    assert False in run(9)


async def test_the_list_shows_every_field_and_delete_and_reset_forget(
    client: httpx.AsyncClient,
) -> None:
    rule = {
        "id": "full",
        "method": "POST",
        "path": "/api/v3/*",
        "api_key": "k",
        "query": {"a": "1"},
        "input": {"seed": 3},
        "status": 418,
        "headers": {"X-A": "b"},
        "base64": "AAE=",
        "times": 4,
        "share": 0.5,
        "seed": 2,
    }
    added = await add_stub(client, rule)
    assert added == {**rule, "matched": 0, "applied": 0}
    assert await stubs(client) == {"full": added}
    await add_stub(client, {"id": "other"})

    assert await control(client, "DELETE", "/stubs/full") == {"removed": "full"}
    missing = await client.delete("/_mock/stubs/full")
    assert (missing.status_code, missing.json()["message"]) == (404, "stub rule full not found")
    assert list(await stubs(client)) == ["other"]
    assert await control(client, "DELETE", "/stubs") == {"stubs": []}
    await add_stub(client, {"id": "again"})
    await control(client, "POST", "/reset")
    assert await stubs(client) == {}


async def test_a_duplicate_id_is_a_400_and_keeps_the_first(client: httpx.AsyncClient) -> None:
    await add_stub(client, {"id": "s", "text": "first"})
    again = await client.post("/_mock/stubs", json={"id": "s", "text": "second"})
    assert again.status_code == 400
    assert again.json()["details"][0]["field"] == "id"
    assert again.json()["message"] == (
        "field \"id\" is taken: a stub rule named 's' exists already (remove it, or use another id)"
    )
    assert (await stubs(client))["s"]["text"] == "first"


async def test_a_lowercase_method_and_a_star_match(client: httpx.AsyncClient) -> None:
    await add_stub(client, {"id": "lower", "method": "get", "path": "/api/v3/balance", "times": 1})
    await add_stub(client, {"id": "any", "method": "*", "path": "/api/v3/balance"})
    first = await client.get("/api/v3/balance")
    second = await client.post("/api/v3/balance")
    assert (first.headers["x-mock-stub"], second.headers["x-mock-stub"]) == ("lower", "any")


@pytest.mark.parametrize(
    ("rule", "field", "words"),
    [
        ({"method": "FETCH"}, "method", "'FETCH' is not an HTTP method the fake serves"),
        ({"path": "api/v3/balance"}, "path", "'api/v3/balance' must start with / (or a wildcard)"),
    ],
    ids=["method", "path"],
)
async def test_a_fault_that_can_never_match_is_a_400_naming_the_field(
    client: httpx.AsyncClient, rule: dict[str, Any], field: str, words: str
) -> None:
    response = await client.post("/_mock/faults", json={"id": "f", "kind": "status", **rule})

    assert response.status_code == 400, response.text
    assert response.json()["details"][0]["field"] == field
    assert words in response.json()["message"]
    assert (await client.get("/_mock/faults")).json()["data"]["faults"] == []


async def test_a_duplicate_fault_id_names_the_id_field(client: httpx.AsyncClient) -> None:
    rule = {"id": "f", "kind": "status", "method": "*"}
    assert (await client.post("/_mock/faults", json=rule)).status_code == 200
    again = await client.post("/_mock/faults", json=rule)
    assert again.status_code == 400
    assert again.json()["details"][0]["field"] == "id"
    assert "a fault rule named 'f' exists already" in again.json()["message"]


# --- marked: the header, the journal, the spec ---------------------------------------------------


async def test_the_journal_names_the_stub_and_how_its_answer_breaks_the_spec(
    client: httpx.AsyncClient, service: MockService
) -> None:
    await add_stub(client, {"id": "bad", "path": BALANCE, "json": {"code": 200, "data": {}}})

    await client.get(BALANCE, headers=AUTH)

    [entry] = await journal(client, path=BALANCE)
    assert entry["stub"] == "bad"
    assert entry["fault"] is None
    assert entry["response"] == {"code": 200, "data": {}}
    assert {"field": "message", "reason": "is required", "location": "response"} in entry[
        "violations"
    ]
    assert [e["seq"] for e in await journal(client, invalid="true")] == [entry["seq"]]
    assert (
        service.journal.entries(path=BALANCE)[0]
        .describe()
        .startswith(
            f"#{entry['seq']} GET /api/v3/balance -> 200 (stub 'bad') [response 'message': "
        )
    )


@pytest.mark.parametrize(
    ("rule", "path", "violation"),
    [
        (
            {"status": 200, "json": OWN_BALANCE},
            BALANCE,
            None,
        ),
        (
            {"status": 299, "json": OWN_BALANCE},
            BALANCE,
            {"field": "status", "reason": "getBalance documents no 299 answer"},
        ),
        (
            {"text": "fine"},
            BALANCE,
            {
                "field": "body",
                "reason": "is text/plain; charset=utf-8, not the application/json getBalance "
                "documents",
            },
        ),
        (
            {"text": "{", "headers": {"Content-Type": "application/json"}},
            BALANCE,
            {"field": "body", "reason": "is not JSON though it says so"},
        ),
        (
            {"path": "/api/v3/nowhere", "json": {}},
            "/api/v3/nowhere",
            {"field": "path", "reason": "GET /api/v3/nowhere is not in openapi.yaml"},
        ),
    ],
    ids=["fits", "undocumented-status", "text-for-json", "not-json", "unknown-path"],
)
async def test_a_stubs_answer_is_held_to_the_spec_in_the_journal_only(
    client: httpx.AsyncClient,
    rule: dict[str, Any],
    path: str,
    violation: dict[str, str] | None,
) -> None:
    await add_stub(client, {"id": "s", "path": BALANCE, **rule})

    answer = await client.get(path, headers=AUTH)

    assert answer.headers["x-mock-stub"] == "s"  # sent as it is, whatever the spec says
    [entry] = await journal(client, path=path)
    found = [{k: v for k, v in e.items() if k != "location"} for e in entry["violations"]]
    assert found == ([] if violation is None else [violation])


async def test_a_media_answer_documented_as_bytes_has_no_body_to_check(
    client: httpx.AsyncClient,
) -> None:
    path = "/media/samples/silence.wav"
    await add_stub(client, {"id": "s", "path": path, "base64": "AAAA"})
    assert (await client.get(path)).content == b"\x00\x00\x00"
    [entry] = await journal(client, path=path)
    assert (entry["stub"], entry["violations"]) == ("s", [])


# --- what a stub may hold --------------------------------------------------------------------


def _headers(count: int, value_length: int = 1) -> dict[str, str]:
    return {f"X-{n}": "v" * value_length for n in range(count)}


BAD_STUBS = [
    ({"id": "s", "status": 101}, "status", "must be >= 200"),
    ({"id": "s", "status": 600}, "status", "must be <= 599"),
    ({"id": "s", "headers": {"Content-Length": "3"}}, "headers.Content-Length", "framing"),
    (
        {"id": "s", "headers": {"transfer-encoding": "chunked"}},
        "headers.transfer-encoding",
        "framing",
    ),
    ({"id": "s", "headers": {"Connection": "close"}}, "headers.Connection", "framing"),
    ({"id": "s", "headers": {"Keep-Alive": "5"}}, "headers.Keep-Alive", "framing"),
    ({"id": "s", "headers": {"X-Mock-Stub": "x"}}, "headers.X-Mock-Stub", "marks every"),
    ({"id": "s", "headers": {"X-A": "a\r\nX-B: b"}}, "headers.X-A", "no line breaks"),
    ({"id": "s", "headers": {"X-A": "1", "x-a": "2"}}, "headers.x-a", "set twice"),
    ({"id": "s", "headers": {"Bad Name": "1"}}, "headers.Bad Name", "not a header name"),
    ({"id": "s", "headers": _headers(33)}, "headers", "at most 32 headers, not 33"),
    ({"id": "s", "headers": {"X-A": "v" * 2049}}, "headers.X-A", "2048"),
    ({"id": "s", "headers": _headers(5, 2000)}, "headers", "at most 8192"),
    ({"id": "s", "text": "x" * 65_537}, "text", "a stub answers at most 65536"),
    ({"id": "s", "json": "x" * 65_535}, "json", "a stub answers at most 65536"),
    (
        {"id": "s", "base64": base64.b64encode(b"x" * 65_537).decode()},
        "base64",
        "65536",
    ),
    ({"id": "s", "base64": "not base64!"}, "base64", "is not base64"),
    ({"id": "s", "json": 1, "text": "a"}, "text", "cannot be given with 'json'"),
    ({"id": "s", "json": 1, "base64": "AA=="}, "base64", "one of json, text, base64"),
    ({"id": "s", "status": 204, "text": "a"}, "text", "a 204 answer has no body"),
    ({"id": "s", "status": 304, "json": {}}, "json", "a 304 answer has no body"),
    ({"id": "tab\there"}, "id", "printable ASCII"),
    ({"id": "x" * 201}, "id", "200"),
    ({"id": "s", "colour": "red"}, "colour", ""),
    ({"id": "s", "query": {"page": 2}}, "query.page", "string"),
    ({"id": "s", "query": {f"q{n}": "" for n in range(33)}}, "query", "at most 32"),
    ({"id": "s", "input": {f"f{n}": 1 for n in range(33)}}, "input", "at most 32"),
    ({"id": "s", "method": "GET /x"}, "method", "not an HTTP method"),
    ({"id": "s", "method": "FETCH"}, "method", "GET, HEAD, OPTIONS, PATCH, POST, PUT, or *"),
    ({"id": "s", "path": "api/v3/balance"}, "path", "must start with /"),
    ({"id": "s", "times": -1}, "times", ">= 0"),
    ({"id": "s", "share": 2}, "share", "<= 1"),
    ({"text": "x"}, "id", "is required"),
]


@pytest.mark.parametrize(
    ("rule", "field", "words"),
    BAD_STUBS,
    ids=[
        "status-101",
        "status-600",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "own-mark",
        "line-break",
        "twice",
        "bad-name",
        "33-headers",
        "long-value",
        "over-8-kib",
        "text-over-64-kib",
        "json-over-64-kib",
        "base64-over-64-kib",
        "not-base64",
        "two-bodies",
        "json-and-base64",
        "204-body",
        "304-body",
        "id-tab",
        "id-201",
        "unknown-field",
        "query-number",
        "33-query-fields",
        "33-input-fields",
        "method",
        "method-fetch",
        "path-no-slash",
        "negative-times",
        "share-2",
        "no-id",
    ],
)
async def test_a_bad_stub_is_a_400_naming_the_field_and_adds_nothing(
    client: httpx.AsyncClient, rule: dict[str, Any], field: str, words: str
) -> None:
    response = await client.post("/_mock/stubs", json=rule)

    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["code"], body["data"]) == (400, None)
    assert body["details"][0]["field"] == field
    assert words in body["message"]
    assert await stubs(client) == {}


@pytest.mark.parametrize(
    ("rule", "field"),
    [(rule, field) for rule, field, _ in BAD_STUBS if field not in ("colour",)],
    ids=[str(n) for n, (_, f, _) in enumerate(BAD_STUBS) if f not in ("colour",)],
)
def test_the_code_holds_the_same_limits_without_the_spec(rule: dict[str, Any], field: str) -> None:
    """A rules file or the library meets the bounds the control API's schema states."""
    with pytest.raises(StubInvalid) as raised:
        stub_from_dict(rule)
    assert raised.value.field.partition(".")[0] == field.partition(".")[0]


@pytest.mark.parametrize(
    "rule",
    [
        {"text": "x" * 65_536},
        {"base64": base64.b64encode(b"x" * 65_536).decode()},
        {"json": "x" * 65_534},  # 65,536 bytes with its quotes
        {"headers": _headers(32)},
        {"headers": {"X-A": "v" * 2048}},
        {"headers": {f"X-{n}": "v" * 2045 for n in range(4)}},  # 4 x (3 + 2045) = 8192
        {"status": 599, "id": "~" * 200},
    ],
    ids=["text", "base64", "json", "32-headers", "value-2048", "8-kib", "status-599-id-200"],
)
async def test_a_stub_at_each_bound_is_taken_and_sent(
    client: httpx.AsyncClient, rule: dict[str, Any]
) -> None:
    added = await add_stub(client, {"id": "s", "path": BALANCE, **rule})
    answer = await client.get(BALANCE, headers=AUTH)
    assert answer.headers["x-mock-stub"] == added["id"]
    assert len(answer.content) == len(stub_from_dict({"id": "s", **rule}).body)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"id": "s", "json": {"a": NaN}}', "json.a"),
        (b'{"id": "s", "text": "\\ud800"}', "text"),
    ],
    ids=["nan", "lone-surrogate"],
)
async def test_json_that_cannot_be_sent_back_is_refused_at_the_edge(
    client: httpx.AsyncClient, raw: bytes, field: str
) -> None:
    response = await client.post(
        "/_mock/stubs", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == field
    assert await stubs(client) == {}


@pytest.mark.parametrize(
    ("rule", "field"),
    [({"id": "s", "json": {"a": float("nan")}}, "json"), ({"id": "s", "text": "\ud800"}, "text")],
    ids=["nan", "lone-surrogate"],
)
def test_the_library_refuses_the_same(rule: dict[str, Any], field: str) -> None:
    with pytest.raises(StubInvalid) as raised:
        stub_from_dict(rule)
    assert raised.value.field == field


# --- a rules file --------------------------------------------------------------------------------


async def test_a_rules_file_adds_stubs_as_the_control_api_does(
    service: MockService, client: httpx.AsyncClient
) -> None:
    text = (
        "stubs:\n"
        "  - id: from-file\n"
        "    path: /api/v3/balance\n"
        "    headers: {X-A: b}\n"
        "    json: {code: 200}\n"
    )
    assert load_rules(service, text) == (0, 0, 1)
    answer = await client.get(BALANCE, headers=AUTH)
    assert (answer.json(), answer.headers["x-a"]) == ({"code": 200}, "b")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            "stubs:\n  - id: a\n    headers:\n      Content-Length: '3'\n",
            "line 4: stubs #1, key 'headers.Content-Length': cannot be set by a stub",
        ),
        ("stubs:\n  - {id: a, json: .nan}\n", "line 2: stubs #1, key 'json': cannot be sent"),
        ("stubs:\n  - {id: a}\n  - {id: a}\n", "line 3: stubs #2: a stub rule named 'a'"),
        (
            "stubs:\n  - {id: a, status: 99}\n",
            "line 2: stubs #1, key 'status': field \"status\" must be >= 200",
        ),
    ],
    ids=["framing-header", "nan", "duplicate", "status"],
)
def test_a_bad_stub_in_a_file_names_the_line_the_rule_and_the_key(text: str, error: str) -> None:
    with pytest.raises(ValueError, match="^" + error.replace("(", r"\(").replace(".", r"\.")):
        load_rules(MockService(), text)


# --- every store -----------------------------------------------------------------------------


@pytest.fixture(params=list(STORES))
def two_stores(request: pytest.FixtureRequest) -> Iterator[tuple[Store, Store]]:
    """Two stores on the same state: one process's and another's (in memory: one store)."""
    first = STORES[request.param](request)
    if request.param == "memory":
        second = first
    elif request.param == "sqlite":
        from mock_api.storage.sqlite import SqliteStore

        second = SqliteStore(request.getfixturevalue("tmp_path") / "state.db")
    else:
        from mock_api.storage.postgres import PostgresStore

        second = PostgresStore(request.getfixturevalue("pg_url"))
    yield first, second
    first.close()
    second.close()


FULL = {
    "id": "full",
    "method": "POST",
    "path": "/api/v3/*",
    "api_key": "k",
    "query": {"a": "1"},
    "input": {"seed": 3, "deep": {"x": [1, None]}},
    "status": 418,
    "headers": {"X-A": "b"},
    "json": {"é": [1.5, None, True]},
    "times": 3,
    "share": 1.0,
    "seed": 2,
}


def test_stubs_are_kept_and_shared_with_their_counters_on_every_store(
    two_stores: tuple[Store, Store],
) -> None:
    first, second = two_stores
    one, other = StubBook(first.rules), StubBook(second.rules)
    one.add(stub_from_dict(FULL))
    one.add(StubRule(id="text", form="text", value="hi"))

    assert [r.as_dict() for r in other.rules()] == [
        {**FULL, "matched": 0, "applied": 0},
        stub_from_dict({"id": "text", "text": "hi"}).as_dict(),
    ]
    fired = other.fire(lambda r: r.id == "full")
    assert fired is not None
    assert fired.body == '{"é":[1.5,null,true]}'.encode()
    assert [(r.id, r.matched, r.applied) for r in one.rules()] == [("full", 1, 1), ("text", 0, 0)]
    assert other.remove("text") is True
    assert [r.id for r in one.rules()] == ["full"]
