"""Hostile and heavy input: each way a client could break the fake, one test each.

Oversized uploads, thousands of concurrent submissions, and every input that
once poisoned the state for everyone (NaN, a clock in the year 33658, lone
surrogates, bodies nested 100,000 deep, YAML alias bombs, forged WAV headers,
a 500 that cost the connection). Each asserts the exact outcome: the status,
the body, the balance, the jobs and that every read still answers.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from click.testing import CliRunner

from mock_api import ManualClock, MemoryStore, MockService, OffsetClock, Settings, create_app
from mock_api.cli import main
from mock_api.faults import fault_from_dict
from mock_api.history import HistoryQuery
from mock_api.media import silence_wav
from mock_api.quotas import Limits
from mock_api.rules import read_rules
from mock_api.scenarios import rule_from_dict
from mock_api.spec import default_spec
from mock_api.webhooks import Delivery, DeliveryState, WebhookDispatcher
from tests.helpers import AUTH, BASE, KEY, SUBMIT, job_input
from tests.live import free_port

pytestmark = pytest.mark.anyio

MB = 1_000_000


async def _multipart(head: bytes, total: int, boundary: str = "hostile") -> AsyncIterator[bytes]:
    """A multipart body with one file part of ``total`` bytes, streamed 64 KiB at a time."""
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    yield head
    chunk = bytes(64 * 1024)
    sent = len(head)
    while sent < total:
        piece = chunk[: min(len(chunk), total - sent)]
        sent += len(piece)
        yield piece
    yield f"\r\n--{boundary}--\r\n".encode()


@pytest.mark.parametrize("path", ["/api/v3/media/upload/binary", "/api/v3/upload"])
async def test_an_oversized_upload_is_refused_without_holding_the_body(path: str) -> None:
    limits = {"image": 1 * MB, "video": 1 * MB, "audio": 1 * MB, "other": 1 * MB}
    app = create_app(Settings(upload_limits=limits))
    head = silence_wav(Decimal(1), sample_rate=8000)[:64]  # a WAV header: sniffed as audio
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        async for piece in _multipart(head, 40 * MB):
            sent += len(piece)
            yield piece

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        tracemalloc.start()
        try:
            response = await client.post(
                path,
                content=body(),
                headers={**AUTH, "Content-Type": "multipart/form-data; boundary=hostile"},
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert response.status_code == 413
    assert (
        response.json()["message"]
        == "file is more than 1000000 bytes; the limit for audio is 1000000 bytes"
    )
    assert peak < 8 * MB  # the limit plus a few chunks, not the 40 MB sent
    assert sent < 40 * MB  # it stopped reading early


# Untraced (no_cover), like the fuzz tests: a volume run whose lines the rest of the
# suite reaches too; tracing its thousands of requests doubled its time.
@pytest.mark.slow
@pytest.mark.no_cover
async def test_two_thousand_concurrent_submissions_across_ten_accounts() -> None:
    clock = ManualClock()
    service = MockService(Settings(random_seed=5), clock)
    app = create_app(service=service)
    keys = [f"key-{n}" for n in range(10)]
    limits = httpx.Limits(max_connections=None)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE, limits=limits
    ) as client:

        async def submit(n: int) -> tuple[str, str]:
            key = keys[n % 10]
            outcome = "fail" if n % 7 == 0 else "complete"
            response = await client.post(
                SUBMIT,
                json=job_input(left=1 + n % 9, right=2, order="left_right"),
                headers={"Authorization": f"Bearer {key}", "X-Mock-Outcome": outcome},
            )
            assert response.status_code == 200, response.text
            return key, response.json()["data"]["id"]

        results = await asyncio.gather(*(submit(n) for n in range(2000)))
        ids = [job_id for _, job_id in results]
        assert len(set(ids)) == 2000
        assert {j.id for j in service.store.jobs.jobs()} == set(ids)
        clock.advance(3600)
        for key in keys:
            mine = [n for n in range(2000) if n % 10 == int(key.split("-")[1])]
            charged = sum(
                max(5, 1 + n % 9 + 2) * 15_000 for n in mine if n % 7 != 0
            )  # failed ones are refunded once they fail
            balance = await client.get(
                "/api/v3/balance", headers={"Authorization": f"Bearer {key}"}
            )
            assert (
                Decimal(str(balance.json()["data"]["balance"]))
                == Decimal(100_000_000 - charged) / MB
            )
            account_jobs = service.store.jobs.jobs(service.accounts.open(key))
            assert len(account_jobs) == 200


# Every input is bounded: no request can poison the state for the next one.


def _json(body: Any, escape: str) -> bytes:
    """``body`` as JSON text, its ``"MARK"`` strings made raw JSON: ``NaN``, or (an
    escape such as ``\\ud800``) put inside the string where MARK stands."""
    text = json.dumps(body)
    if escape.startswith("\\"):
        return text.replace("MARK", escape).encode()
    return text.replace('"MARK"', escape).encode()


async def _send_raw(
    client: httpx.AsyncClient, method: str, path: str, raw: bytes, **headers: str
) -> httpx.Response:
    sent = {**AUTH, "Content-Type": "application/json", **headers}
    return await client.request(method, path, content=raw, headers=sent)


async def _reads_answer(client: httpx.AsyncClient) -> None:
    """Every read of the shared state answers 200, whatever was sent before."""
    for route in (
        "/_mock/jobs",
        "/_mock/journal",
        "/_mock/scenarios",
        "/_mock/faults",
        "/_mock/webhooks",
        "/_mock/clock",
        f"/_mock/ledger?api_key={KEY}",
        "/_mock/limits",
    ):
        response = await client.get(route)
        assert response.status_code == 200, (route, response.text)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e400", "-2.5E+999"])
@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", SUBMIT, {**job_input(), "seed": "MARK"}, "seed"),
        ("POST", "/_mock/clock", {"action": "advance", "seconds": "MARK"}, "seconds"),
        ("PUT", "/_mock/balance", {"api_key": KEY, "balance": "MARK"}, "balance"),
        ("POST", "/_mock/scenarios", {"id": "s", "then": "fail", "share": "MARK"}, "share"),
        (
            "POST",
            "/_mock/faults",
            {"id": "f", "kind": "latency", "latency_ms": "MARK"},
            "latency_ms",
        ),
    ],
)
async def test_json_nan_and_infinity_are_refused_naming_the_field(
    client: httpx.AsyncClient,
    service: MockService,
    constant: str,
    method: str,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    # Before: the clock's advance answered 500 (round(nan)), and the journal, which kept
    # the body, answered 500 to every read from then on (JSON cannot write NaN back).
    # 1e400 is a JSON number past the float range: it parsed to infinity, passed the
    # guard, and did the same (a scenario rule holding it made GET /_mock/scenarios 500).
    account = service.accounts.open(KEY)
    balance = service.accounts.balance(account)
    response = await _send_raw(client, method, path, _json(body, escape=constant))
    assert response.status_code == 400
    assert response.json()["details"] == [
        {
            "field": field,
            "reason": f"is {constant}: JSON numbers are finite, send a number or a string",
            "location": "body",
        }
    ]
    assert service.store.jobs.jobs() == []
    assert service.accounts.balance(account) == balance
    await _reads_answer(client)
    query = {"path": path, "method": method}
    kept = (await client.get("/_mock/journal", params=query)).json()["data"]["entries"]
    assert kept[-1]["status"] == 400
    assert kept[-1]["request"][field] == constant  # shown as the text sent


async def test_the_clock_cannot_be_set_or_advanced_past_2100(
    client: httpx.AsyncClient, service: MockService, clock: ManualClock
) -> None:
    # Before: {"action": "set", "now_ms": 1e15} moved the clock to the year 33658; every
    # submission then answered 500 yet was charged, and /_mock/reset did not recover.
    start = clock.now_ms()
    far = {"action": "set", "now_ms": 10**15}
    response = await client.post("/_mock/clock", json=far)
    assert response.status_code == 400
    assert response.json()["details"] == [
        {"field": "now_ms", "reason": "must be <= 4102444800000", "location": "body"}
    ]
    response = await client.post("/_mock/clock", json={"action": "advance", "seconds": 10**12})
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "seconds"
    # Within the schema's range, but past 2100 from now: the code refuses it too.
    response = await client.post(
        "/_mock/clock", json={"action": "advance", "seconds": 3_000_000_000}
    )
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "seconds"
    assert "the latest it can show" in response.json()["message"]
    assert clock.now_ms() == start
    # The last moment allowed is reachable, and the fake works there.
    assert (
        await client.post("/_mock/clock", json={"action": "set", "now_ms": 4_102_444_800_000})
    ).status_code == 200
    account = service.accounts.open(KEY)
    before = service.accounts.balance(account)
    submitted = await client.post(SUBMIT, json=job_input(), headers=AUTH)
    assert submitted.status_code == 200, submitted.text
    assert (
        await client.get(
            f"/api/v3/predictions/{submitted.json()['data']['id']}/result", headers=AUTH
        )
    ).status_code == 200
    [job] = service.store.jobs.jobs()
    assert job.quote is not None
    assert service.accounts.balance(account) == before - job.quote.cost_micros > 0
    await _reads_answer(client)


#: Every number the control API stores, just past its limit: (route, body, field).
#: Each limit is in openapi.yaml, and the code checks it again (rules files, the library).
OVER_THE_LIMIT = [
    ("PUT", "/_mock/balance", {"api_key": KEY, "balance": 1_000_000_001}, "balance"),
    ("PUT", "/_mock/balance", {"api_key": KEY, "balance": "1000000000.000001"}, "balance"),
    ("PUT", "/_mock/limits", {"videos_per_minute": 100_001}, "videos_per_minute"),
    ("PUT", "/_mock/limits", {"max_concurrent": 100_001}, "max_concurrent"),
    ("POST", "/_mock/scenarios", {"id": "s", "then": "fail", "code": 100_000}, "code"),
    (
        "POST",
        "/_mock/scenarios",
        {"id": "s", "then": "complete", "processing_seconds": 31_536_001},
        "processing_seconds",
    ),
    (
        "POST",
        "/_mock/scenarios",
        {"id": "s", "then": "complete", "queue_seconds": 1e300},
        "queue_seconds",
    ),
    ("POST", "/_mock/scenarios", {"id": "s", "then": "complete", "times": 1_000_001}, "times"),
    ("POST", "/_mock/faults", {"id": "f", "kind": "latency", "latency_ms": 300_001}, "latency_ms"),
    ("POST", "/_mock/faults", {"id": "f", "kind": "status", "retry_after": 86_401}, "retry_after"),
    ("POST", "/_mock/faults", {"id": "f", "kind": "drop", "times": 1_000_001}, "times"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), OVER_THE_LIMIT)
async def test_numbers_past_their_documented_limit_are_refused_naming_the_field(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    before = (await client.get(path.replace("/balance", "/ledger"), params={"api_key": KEY})).json()
    response = await client.request(method, path, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["details"][0]["field"] == field
    after = (await client.get(path.replace("/balance", "/ledger"), params={"api_key": KEY})).json()
    assert after == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"page": 1e300, "page_size": 20}, "page"),  # was echoed as a 301-digit page
        ({"page": 1_000_001, "page_size": 20}, "page"),
        (
            {
                "page": 1,
                "page_size": 20,
                "created_after": "\u0662\u0660\u0662\u0666-01-01T00:00:00Z",
            },
            "created_after",
        ),
        (
            {"page": 1, "page_size": 20, "created_before": "2026-\uff101-01T00:00:00Z"},
            "created_before",
        ),
        (
            {"page": 1, "page_size": 20, "created_after": "2026-01-01T00:00:00.\uff11Z"},
            "created_after",
        ),
    ],
    ids=["page-1e300", "page-past-a-million", "arabic-indic-year", "fullwidth-month", "fraction"],
)
async def test_a_history_query_past_its_bounds_is_refused_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/v3/predictions", json=body, headers=AUTH)
    assert response.status_code == 400, response.text
    assert response.json()["details"][0]["field"] == field
    at_the_bound = await client.post(
        "/api/v3/predictions", json={"page": 1_000_000, "page_size": 100}, headers=AUTH
    )
    assert at_the_bound.status_code == 200, at_the_bound.text
    assert at_the_bound.json()["data"]["page"] == 1_000_000
    if field == "page":  # the library holds the same bound without the spec
        with pytest.raises(ValueError, match=r"page must be in 1\.\.1000000"):
            HistoryQuery(page=int(body["page"]))


@pytest.mark.parametrize(
    ("method", "path", "body", "field"), [c for c in OVER_THE_LIMIT if "balance" not in c[1]]
)
def test_the_code_holds_the_same_limits_as_the_spec(
    method: str, path: str, body: dict[str, Any], field: str
) -> None:
    """A rules file, or a test using the library, meets the same limits without the spec."""
    del method
    build: Any = {"/_mock/scenarios": rule_from_dict, "/_mock/faults": fault_from_dict}.get(
        path, lambda b: Limits(b.get("videos_per_minute"), b.get("max_concurrent"))
    )
    with pytest.raises(ValueError, match=field):
        build(body)
    for clock in (ManualClock(), OffsetClock()):
        with pytest.raises(ValueError, match="the latest it can show"):
            clock.set(10**15)
        with pytest.raises(ValueError, match="finite step"):
            clock.advance(float("inf"))


#: Where a client can put a string: (method, path, body). MARK becomes a lone surrogate.
SURROGATE_TARGETS = [
    ("POST", SUBMIT, {**job_input(), "prompt": "MARK"}, "prompt"),
    ("POST", SUBMIT, {**job_input(), "MARK": 1}, "\\ud800"),
    ("POST", SUBMIT, {**job_input(), "webhook_url": "http://127.0.0.1:9/MARK"}, "webhook_url"),
    (
        "POST",
        "/api/v3/media/uploads",
        {"filename": "a.wav", "size": 3, "content_type": "audio/MARK"},
        "content_type",
    ),
    ("POST", "/api/v3/media/uploads", {"filename": "MARK.wav", "size": 3}, "filename"),
    ("POST", "/_mock/faults", {"id": "f", "kind": "drop", "path": "/api/MARK"}, "path"),
    ("POST", "/_mock/faults", {"id": "MARK", "kind": "drop"}, "id"),
    ("POST", "/_mock/scenarios", {"id": "s", "then": "fail", "message": "MARK"}, "message"),
    (
        "POST",
        "/_mock/scenarios",
        {"id": "s", "then": "fail", "match": {"input": {"MARK": "x"}}},
        "match.input.\\ud800",
    ),
    ("PUT", "/_mock/balance", {"api_key": "MARK", "balance": 1}, "api_key"),
    ("PUT", "/_mock/limits", {"api_key": "MARK", "level": "gold"}, "api_key"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), SURROGATE_TARGETS)
async def test_a_lone_surrogate_in_any_field_is_refused_and_breaks_no_read(
    client: httpx.AsyncClient,
    service: MockService,
    method: str,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    # Before: a prompt or rule holding one was stored, and from then on /_mock/jobs,
    # /_mock/journal or /_mock/scenarios answered 500 to everyone (no UTF-8 for it).
    response = await _send_raw(client, method, path, _json(body, escape="\\ud800"))
    assert response.status_code == 400, response.text
    assert response.json()["details"][0]["field"] == field
    assert "lone UTF-16 surrogate" in response.json()["details"][0]["reason"]
    assert service.store.jobs.jobs() == []
    assert service.scenarios.rules() == []
    assert service.faults.rules() == []
    await _reads_answer(client)
    query = {"path": path, "method": method}
    journal = (await client.get("/_mock/journal", params=query)).json()["data"]
    assert journal["entries"][-1]["status"] == 400


async def test_a_surrogate_pair_is_text_and_is_kept(
    client: httpx.AsyncClient, service: MockService
) -> None:
    """Only lone surrogates are refused: an escaped pair is one character (an emoji)."""
    raw = _json({**job_input(), "prompt": "MARK"}, escape="\\ud83d\\ude00")
    response = await _send_raw(client, "POST", SUBMIT, raw)
    assert response.status_code == 200, response.text
    assert service.store.jobs.jobs()[0].input["prompt"] == "\U0001f600"
    await _reads_answer(client)


@pytest.mark.parametrize("depth", [65, 100_000])
async def test_a_body_nested_deeper_than_the_limit_is_refused(
    client: httpx.AsyncClient, depth: int
) -> None:
    # Before: 100,000 levels were a RecursionError: a 500, and the connection dropped.
    response = await _send_raw(client, "POST", SUBMIT, b"[" * depth + b"]" * depth)
    assert response.status_code == 400
    assert response.json()["details"] == [
        {
            "field": "body",
            "reason": "nests deeper than 64 levels of objects and arrays",  # README: Limits
            "location": "body",
        }
    ]
    await _reads_answer(client)


async def test_a_body_at_the_nesting_limit_is_read(client: httpx.AsyncClient) -> None:
    """64 levels parse (brackets inside strings do not count): the schema then answers."""
    body = {"input": {"a": "[[[[{{{{" * 100}}
    nested: Any = body
    for _ in range(64 - 3):  # the documented depth, 64
        nested = [nested]
    response = await client.put("/_mock/limits", json={"api_key": KEY, "level": nested})
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "level"


@pytest.mark.parametrize("path", ["/api/v3/media/upload/binary", "/api/v3/upload"])
async def test_a_multipart_boundary_over_the_rfc_limit_is_refused(
    client: httpx.AsyncClient, path: str
) -> None:
    head = silence_wav(Decimal(1), sample_rate=8000)
    boundary = "b" * 71
    response = await client.post(
        path,
        content=b"".join([chunk async for chunk in _multipart(head, len(head), boundary)]),
        headers={**AUTH, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["details"] == [
        {
            "field": "Content-Type",
            "reason": "has a multipart boundary of 71 characters; RFC 2046 allows 1 to 70",
            "location": "header",
        }
    ]
    boundary = "b" * 70  # the longest allowed works
    response = await client.post(
        path,
        content=b"".join([chunk async for chunk in _multipart(head, len(head), boundary)]),
        headers={**AUTH, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 200, response.text


def _alias_bomb(levels: int = 9) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, levels + 1)]
    return "\n".join([*lines, f"scenarios: [*a{levels}]", ""])


def test_a_yaml_alias_bomb_in_a_rules_file_is_refused_with_little_memory() -> None:
    # Before: the 1 KB file loaded as a small graph that the schema check walked as
    # 9**10 strings: minutes of CPU and gigabytes once expanded.
    text = _alias_bomb()
    assert len(text) < 1_000
    with pytest.raises(ValueError, match="anchors and aliases"):  # imports, caches: not counted
        read_rules(default_spec(), text)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="anchors and aliases") as refused:
            read_rules(default_spec(), text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(refused.value).startswith("line 1: YAML anchors and aliases")
    assert peak < 4 * MB  # "a few MB"; expanded, the file is 9**10 strings


def test_serve_refuses_an_alias_bomb_before_starting(tmp_path: Path) -> None:
    rules = tmp_path / "bomb.yaml"
    rules.write_text(_alias_bomb())
    result = CliRunner().invoke(
        main, ["serve", "--scenarios", str(rules), "--db", str(tmp_path / "s.db")]
    )
    assert result.exit_code == 2
    assert "YAML anchors and aliases (&name, *name) are not allowed" in result.output
    assert not (tmp_path / "s.db").exists()


async def test_a_wav_whose_header_claims_more_than_it_holds_fails_the_job_unbilled(
    client: httpx.AsyncClient, service: MockService, clock: ManualClock
) -> None:
    # Before: a 44-byte WAV claiming ten hours was billed at the 600 s cap ($9.00).
    rate, claimed = 16_000, 16_000 * 2 * 36_000
    fields = (b"RIFF", 36 + claimed, b"WAVE", b"fmt ", 16, 1, 1, rate, rate * 2, 2, 16)
    forged = struct.pack("<4sI4s4sIHHIIHH4sI", *fields, b"data", claimed)
    assert len(forged) == 44
    upload = await client.post(
        "/api/v3/media/upload/binary", files={"file": ("ten-hours.wav", forged)}, headers=AUTH
    )
    assert upload.status_code == 200, upload.text
    account = service.accounts.open(KEY)
    before = service.accounts.balance(account)
    body = {**job_input(), "left_audio": upload.json()["data"]["download_url"]}
    submitted = await client.post(SUBMIT, json=body, headers=AUTH)
    assert submitted.status_code == 200, submitted.text
    clock.advance(60)
    result = (
        await client.get(
            f"/api/v3/predictions/{submitted.json()['data']['id']}/result", headers=AUTH
        )
    ).json()["data"]
    assert result["status"] == "failed"
    assert result["error"] == (
        f"left_audio: the WAV header says its audio data is {claimed} bytes, but the file "
        "holds only 0: it is truncated or its header is wrong"
    )
    assert service.store.jobs.jobs()[0].plan.outcome.code == 1402
    assert service.accounts.balance(account) == before


@pytest.fixture
def live_server(service: MockService) -> Iterator[str]:
    """The app on a real loopback socket (keep-alive is the server's business)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(service=service), port=port, log_level="critical", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.01)
    yield f"127.0.0.1:{port}"
    server.should_exit = True
    thread.join()


def _exchange(sock: socket.socket, request: bytes) -> tuple[int, bytes]:
    """Send one request on ``sock`` and read its whole answer (by Content-Length)."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        body += chunk
    return int(head.split(b" ")[1]), body


async def test_after_a_500_the_same_keep_alive_connection_still_works(
    service: MockService, live_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: Starlette re-raised the crash after answering it, and uvicorn closed the
    # connection; the client's next request on it failed.
    def broken(account: str) -> int:
        raise RuntimeError("a bug in the fake")

    monkeypatch.setattr(service.accounts, "balance", broken)
    host, port = live_server.split(":")
    with socket.create_connection((host, int(port))) as sock:
        get = (
            f"GET /api/v3/balance HTTP/1.1\r\nHost: {live_server}\r\n"
            f"Authorization: Bearer {KEY}\r\n\r\n"
        )
        status, body = await asyncio.to_thread(_exchange, sock, get.encode())
        assert status == 500
        assert (
            json.loads(body)["message"]
            == "internal error in the mock: RuntimeError('a bug in the fake')"
        )
        monkeypatch.undo()
        status, body = await asyncio.to_thread(_exchange, sock, get.encode())
        assert status == 200
        assert json.loads(body)["data"]["balance"] == 100
    entries = service.journal.entries(path="/api/v3/balance")
    assert [e.status for e in entries] == [500, 200]


# The control API and webhooks cannot be turned against the user.


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example", "Content-Type": "text/plain"},  # the reported attack
        {"Origin": "http://evil.example", "Content-Type": "application/json"},
        {"Origin": "null", "Content-Type": "application/json"},
        {"Origin": "http://localhost:3000", "Content-Type": "application/json"},
        {"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"},
        {"Sec-Fetch-Site": "same-site", "Content-Type": "application/json"},  # another port
        {"Content-Type": "text/plain"},  # a page may send it without asking first
        {"Content-Type": "application/x-www-form-urlencoded"},
    ],
)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/_mock/reset", b"{}"),
        ("POST", "/_mock/clock", b'{"action": "freeze"}'),
        ("POST", "/_mock/clock", b'{"action": "advance", "seconds": 3600}'),
        ("PUT", "/_mock/balance", b'{"api_key": "test-key", "balance": 0}'),
    ],
)
async def test_a_browser_page_cannot_steer_the_mock(
    client: httpx.AsyncClient,
    service: MockService,
    clock: ManualClock,
    headers: dict[str, str],
    method: str,
    path: str,
    body: bytes,
) -> None:
    # Before: Content-Type text/plain with Origin http://evil.example reset everything.
    submitted = await client.post(SUBMIT, json=job_input(), headers=AUTH)
    assert submitted.status_code == 200
    account = service.accounts.open(KEY)
    balance, now = service.accounts.balance(account), clock.now_ms()
    response = await client.request(method, path, content=body, headers=headers)
    assert response.status_code == 403, response.text
    assert response.json()["message"].startswith("the control API ")
    assert [j.id for j in service.store.jobs.jobs()] == [submitted.json()["data"]["id"]]
    assert (service.accounts.balance(account), clock.now_ms()) == (balance, now)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},  # the mock's /docs
        {"Sec-Fetch-Site": "none"},  # typed in the address bar
        {"Content-Type": "application/json; charset=utf-8"},
    ],
)
async def test_tools_and_the_mocks_own_pages_still_steer_it(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    sent = {"Content-Type": "application/json", **headers}
    response = await client.post("/_mock/clock", content=b'{"action": "advance"}', headers=sent)
    assert response.status_code == 200, response.text
    assert (await client.post("/_mock/reset", headers=headers)).status_code == 200


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:8000/_mock/reset",
        "http://localhost:8000/_mock/clock",
        "http://testserver/_MOCK/reset",
        "http://127.0.0.1:8000//_mock/reset",
        "http://127.0.0.1:8000/%5Fmock/reset",
        "http://127.0.0.1:8000/api/../_mock/reset",
        "http://[::1]:8000/_mock",
    ],
)
@pytest.mark.parametrize("where", ["query", "body"])
async def test_a_webhook_can_never_be_aimed_at_a_control_api(
    client: httpx.AsyncClient, service: MockService, target: str, where: str
) -> None:
    # Before: ?webhook=http://127.0.0.1:PORT/_mock/reset wiped every account when the
    # job ended.
    account = service.accounts.open(KEY)
    balance = service.accounts.balance(account)
    if where == "query":
        response = await client.post(
            SUBMIT, params={"webhook": target}, json=job_input(), headers=AUTH
        )
    else:
        response = await client.post(
            SUBMIT, json={**job_input(), "webhook_url": target}, headers=AUTH
        )
    assert response.status_code == 400, response.text
    assert response.json()["details"] == [
        {
            "field": "webhook" if where == "query" else "webhook_url",
            "reason": "is a control API path (/_mock/): a webhook never goes there",
            "location": where,
        }
    ]
    assert service.store.jobs.jobs() == []
    assert service.webhooks.deliveries() == []
    assert service.accounts.balance(account) == balance


def _recording(sent: list[httpx.Request], status: int) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(status)

    return httpx.MockTransport(answer)


async def test_a_stored_delivery_to_a_control_api_is_refused_when_due(
    service: MockService, clock: ManualClock
) -> None:
    """Deliveries stored before the check (an older version's database) are refused too."""
    sent: list[httpx.Request] = []
    dispatcher = WebhookDispatcher(
        clock,
        lambda d: b"{}",
        lambda a: "whsec_x",
        store=MemoryStore().deliveries,
        transport=_recording(sent, 200),
    )
    url = "http://127.0.0.1:8000/_mock/reset"
    dispatcher.register(Delivery("msg_1", "j1", "acct", url, BASE, clock.now_ms()))
    assert await dispatcher.pump() == 1
    [delivery] = dispatcher.deliveries()
    assert sent == []
    assert delivery.state is DeliveryState.FAILED  # no retry can make it right
    assert [a.error for a in delivery.attempts] == [
        f"{url} is a control API path (/_mock/): a webhook never goes there; refused"
    ]


async def _resolve_to(address: str) -> Any:
    async def resolve(host: str, port: int) -> list[str]:
        return [address]

    return resolve


@pytest.mark.parametrize(
    ("url", "resolved", "reason"),
    [
        ("http://127.0.0.1:9/hook", None, "127.0.0.1 is a loopback address"),
        ("http://hooks.test/h", "10.1.2.3", "hooks.test resolves to 10.1.2.3, a private address"),
        ("http://hooks.test/h", "169.254.169.254", "hooks.test resolves to 169.254.169.254, a "
         "link-local address (the cloud metadata service)"),
        ("http://2130706433/h", None, "2130706433 is 127.0.0.1, a loopback address"),
    ],
)  # fmt: skip
async def test_without_allow_private_webhooks_reach_public_addresses_only(
    clock: ManualClock, url: str, resolved: str | None, reason: str
) -> None:
    sent: list[httpx.Request] = []
    dispatcher = WebhookDispatcher(
        clock,
        lambda d: b"{}",
        lambda a: "whsec_x",
        store=MemoryStore().deliveries,
        transport=_recording(sent, 200),
        allow_private=False,
        resolver=await _resolve_to(resolved or "203.0.113.9"),
    )
    dispatcher.register(Delivery("msg_1", "j1", "acct", url, BASE, clock.now_ms()))
    await dispatcher.pump()
    [delivery] = dispatcher.deliveries()
    assert sent == []
    assert [a.error for a in delivery.attempts] == [f"{reason}; refused"]
    assert delivery.state is DeliveryState.PENDING  # DNS may change: retried as usual


async def test_without_allow_private_a_public_receiver_gets_the_webhook_on_its_vetted_address(
    clock: ManualClock,
) -> None:
    sent: list[httpx.Request] = []
    dispatcher = WebhookDispatcher(
        clock,
        lambda d: b"{}",
        lambda a: "whsec_x",
        store=MemoryStore().deliveries,
        transport=_recording(sent, 204),
        allow_private=False,
        resolver=await _resolve_to("8.8.8.8"),
    )
    url = "https://hooks.example.com/wavespeed"
    dispatcher.register(Delivery("msg_1", "j1", "acct", url, BASE, clock.now_ms()))
    await dispatcher.pump()
    [request] = sent
    assert str(request.url) == "https://8.8.8.8/wavespeed"  # connected to what was vetted
    assert request.headers["host"] == "hooks.example.com"
    assert request.extensions["sni_hostname"] == "hooks.example.com"
    assert dispatcher.deliveries()[0].state is DeliveryState.DELIVERED


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        ((), True),  # loopback: local receivers are the common case
        (("--host", "0.0.0.0"), False),
        (("--host", "0.0.0.0", "--webhook-allow-private"), True),
        (("--no-webhook-allow-private",), False),
    ],
)
def test_serve_allows_private_webhook_targets_on_loopback_only_by_default(
    args: tuple[str, ...], allowed: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[Settings] = []

    def run(server: Any, sockets: list[socket.socket]) -> None:  # uvicorn would take over
        seen.append(server.config.app.state.service.settings)
        server.started = True
        for sock in sockets:
            sock.close()

    monkeypatch.setattr("uvicorn.Server.run", run)
    monkeypatch.setattr("uvicorn.Config.configure_logging", lambda config: None)
    result = CliRunner().invoke(main, ["serve", "--db", ":memory:", "--port", "0", *args])
    assert result.exit_code == 0, result.output
    assert [s.webhook_allow_private for s in seen] == [allowed]
    assert Settings().webhook_allow_private is True  # the library and the pytest plugin


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_json_body_over_a_mebibyte_is_refused_before_it_is_read_whole(
    client: httpx.AsyncClient, chunked: bool
) -> None:
    # Before: any size was read into memory, then kept by the rules or the journal.
    body = json.dumps({"id": "big", "then": "fail", "message": "x" * 3 * MB}).encode()
    sent = 0

    async def stream() -> AsyncIterator[bytes]:
        nonlocal sent
        for start in range(0, len(body), 64 * 1024):
            sent += 64 * 1024
            yield body[start : start + 64 * 1024]

    content: Any = stream() if chunked else body
    response = await client.post(
        "/_mock/scenarios", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["details"] == [
        {
            "field": "body",
            "reason": "is over 1048576 bytes, the most a JSON body may be",
            "location": "body",
        }
    ]
    assert (await client.get("/_mock/scenarios")).json()["data"]["scenarios"] == []
    if chunked:
        assert sent < 2 * MB  # it stopped reading soon after the limit


async def test_a_seed_steers_outcomes_but_never_secrets_or_capability_ids() -> None:
    """Two servers started with the same --seed: the same job ids (runs replay), but webhook
    secrets and upload ids (capability URLs) of their own, from the system's CSPRNG."""
    seen: list[dict[str, str]] = []
    for _ in range(2):
        app = create_app(Settings(random_seed=7), clock=ManualClock())
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE, headers=AUTH) as client:
            secret = (await client.get("/api/v3/webhook/secret")).json()["data"]["secret"]
            ticket = (
                await client.post(
                    "/api/v3/media/uploads",
                    json={"filename": "a.wav", "size": 4, "content_type": "audio/wav"},
                )
            ).json()["data"]
            job = (await client.post(SUBMIT, json=job_input())).json()["data"]
        seen.append({"secret": secret, "upload": ticket["upload"]["url"], "job": job["id"]})
    first, second = seen
    assert first["job"] == second["job"]  # seeded: the same run replays
    assert first["secret"] != second["secret"]
    assert first["upload"] != second["upload"]
