"""The log agrees with itself: each line says the same in text and in JSON, and the truth.

``serve --log-format text|json`` writes the same records through two formatters
(:func:`mock_api.events.log_config`). Each event the fake logs is made here
in-process, through the code that makes it in ``serve``, and formatted both
ways: the JSON line's fields must be what its message says (a refunded job's
cost and refund, a job's billed seconds, its outcome), the money must be the
ledger's, nothing may say "refunded" when nothing was charged, and every JSON
line must carry ``time`` (ISO 8601, UTC, milliseconds).
"""

from __future__ import annotations

import calendar
import json
import logging
import re
import sys
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from pydoc import locate
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from mock_api import ManualClock, MockService, Settings, create_app
from mock_api.billing import BillingPolicy, OverMaximum
from mock_api.cli import main
from mock_api.events import LOGGER, JobLog, log_config
from mock_api.records import EntryKind, account_id
from tests.helpers import BASE, SUBMIT, job_input, silence

KEY = "logs-key"
HEADERS = {"Authorization": f"Bearer {KEY}"}
ISO_MS_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
Format = Callable[[logging.LogRecord], str]
WORKERS_ON_MEMORY = ("--workers", "2", "--db", ":memory:")


def _formatter(log_format: str, which: str = "default") -> Format:
    """The formatter ``serve --log-format`` configures for its own lines (or ``access``)."""
    spec = dict(log_config("info", log_format)["formatters"][which])
    factory = locate(spec.pop("()"))
    assert callable(factory)
    return factory(**spec).format  # type: ignore[no-any-return]


TEXT, JSON = _formatter("text"), _formatter("json")


def _both(record: logging.LogRecord) -> tuple[str, dict[str, Any]]:
    return TEXT(record), json.loads(JSON(record))


def _events(caplog: pytest.LogCaptureFixture, event: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None) == event]


def _moment(iso: str) -> float:
    """Seconds since the epoch of a JSON line's ``time``."""
    whole = calendar.timegm(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S"))
    return whole + int(iso[20:23]) / 1000


def _usd(text: str) -> int:
    """Micro-dollars of a log's USD text."""
    return int(Decimal(text) * 1_000_000)


@pytest.fixture
def caplog_info(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger=LOGGER.name)
    return caplog


class Fake:
    """An app on a manual clock, its client, its job log and its service."""

    def __init__(self, client: httpx.AsyncClient, service: MockService, clock: ManualClock):
        self.client, self.service, self.clock = client, service, clock
        self.job_log: JobLog = client._transport.app.state.job_log  # type: ignore[attr-defined]

    async def submit(self, body: dict[str, Any], **headers: str) -> httpx.Response:
        return await self.client.post(SUBMIT, json=body, headers={**HEADERS, **headers})

    def end_all(self) -> None:
        self.clock.advance(3600)
        self.job_log.log_ended()


async def _fake(settings: Settings) -> AsyncIterator[Fake]:
    clock = ManualClock()
    service = MockService(settings, clock)
    transport = httpx.ASGITransport(app=create_app(service=service))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield Fake(client, service, clock)


@pytest.fixture
async def fake(caplog_info: pytest.LogCaptureFixture) -> AsyncIterator[Fake]:
    async for made in _fake(Settings(random_seed=3)):
        yield made


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("outcome", "ended"),
    [
        ({"X-Mock-Outcome": "fail:1403:GPU fell over"}, "failed (code 1403: GPU fell over)"),
        ({"X-Mock-Outcome": "fail:1500:out of memory"}, "failed (code 1500: out of memory)"),
    ],
    ids=["fail-1403", "fail-1500"],
)
async def test_a_refunded_jobs_cost_reads_the_same_in_text_json_and_the_ledger(
    fake: Fake, caplog_info: pytest.LogCaptureFixture, outcome: dict[str, str], ended: str
) -> None:
    # 3 s then 4 s at $0.015/s: $0.105
    answer = await fake.submit(job_input(3, 4, order="left_right"), **outcome)
    job_id = answer.json()["data"]["id"]
    fake.end_all()
    [accepted] = _events(caplog_info, "job_accepted")
    [end] = _events(caplog_info, "job_ended")
    ledger = {e.kind: e.amount_micros for e in fake.service.accounts.ledger(account_id(KEY))}
    assert (ledger[EntryKind.CHARGE], ledger[EntryKind.REFUND]) == (-105_000, 105_000)

    text, data = _both(end)
    assert f"cost ${data['cost_usd']}" in text  # the JSON's cost is the text's
    assert (data["outcome"], data["refunded"]) == ("failed", True)
    assert (_usd(data["cost_usd"]), _usd(data["refunded_usd"])) == (105_000, 105_000)
    assert f"{ended}, billed 7 s, cost ${data['cost_usd']}, refunded ${data['refunded_usd']}" in (
        text
    )
    assert data["message"] in text
    text, data = _both(accepted)
    assert (data["job"], data["billed_seconds"], data["cost_usd"]) == (job_id, 7, "0.105")
    assert f"billed {data['billed_seconds']} s, cost ${data['cost_usd']};" in text
    assert data["planned_refund_usd"] == "0.105"
    assert f"will end {ended} and be refunded ${data['planned_refund_usd']}" in text


@pytest.mark.anyio
async def test_a_completed_job_and_a_flagged_one_read_the_same_both_ways(
    fake: Fake, caplog_info: pytest.LogCaptureFixture
) -> None:
    await fake.submit(job_input(3, 4, order="left_right"))
    await fake.submit(job_input(3, 4, order="left_right"), **{"X-Mock-Outcome": "nsfw"})
    fake.end_all()
    for record, flagged in zip(_events(caplog_info, "job_ended"), (False, True), strict=True):
        text, data = _both(record)
        assert (data["outcome"], data["nsfw"], data["refunded"]) == ("completed", flagged, False)
        said = "completed, nsfw" if flagged else "completed"
        assert f"{said}, billed 7 s, cost ${data['cost_usd']}" in text
        assert (data["cost_usd"], data["refunded_usd"]) == ("0.105", "0.00")
        assert "refund" not in text


@pytest.mark.anyio
async def test_a_stuck_job_says_it_never_ends_both_ways(
    fake: Fake, caplog_info: pytest.LogCaptureFixture
) -> None:
    rule = {"id": "stuck", "then": "stuck-processing"}
    assert (await fake.client.post("/_mock/scenarios", json=rule)).status_code == 200
    await fake.submit(job_input(3, 4, order="left_right"))
    fake.end_all()
    [accepted] = _events(caplog_info, "job_accepted")
    text, data = _both(accepted)
    assert "never ends (stuck)" in text
    assert (data["stuck"], data["planned_outcome"], data["planned_refund_usd"]) == (
        True,
        None,
        "0.00",
    )
    assert _events(caplog_info, "job_ended") == []


async def _over_the_cap(fake: Fake) -> None:
    body = job_input()
    body["left_audio"] = silence("601&sample_rate=8000")
    answer = await fake.submit(body)
    assert answer.status_code == 200, answer.text


async def _unreadable(fake: Fake) -> None:
    body = job_input()
    body["left_audio"] = f"{BASE}/media/files/{'0' * 32}/left.wav"  # no such upload
    answer = await fake.submit(body)
    assert answer.status_code == 200, answer.text


async def _unpaid(fake: Fake) -> None:
    answer = await fake.submit(job_input(3, 4, order="left_right"))
    assert answer.status_code == 402, answer.text


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("settings", "act", "code"),
    [
        (Settings(), _unreadable, 1402),
        (
            Settings(billing=BillingPolicy(over_maximum=OverMaximum.REJECT)),
            _over_the_cap,
            1401,
        ),
        (Settings(initial_balance_micros=0), _unpaid, None),
    ],
    ids=["media-unreadable-1402", "over-the-cap-rejected-1401", "refused-402"],
)
async def test_nothing_says_refunded_when_nothing_was_charged(
    caplog_info: pytest.LogCaptureFixture,
    settings: Settings,
    act: Callable[[Fake], Any],
    code: int | None,
) -> None:
    async for fake in _fake(settings):
        await act(fake)
        fake.end_all()
        charged = [e for e in fake.service.accounts.ledger(account_id(KEY)) if e.job_id]
    assert charged == []  # the ledger: no charge, no refund
    records = [r for r in caplog_info.records if getattr(r, "event", None)]
    assert records
    for record in records:
        text, data = _both(record)
        assert "refund" not in text, text
        assert data.get("refunded", False) is False
        for field in ("cost_usd", "refunded_usd", "planned_refund_usd"):
            assert data.get(field, "0.00") == "0.00", (field, data)
    if code is not None:
        [end] = _events(caplog_info, "job_ended")
        text, data = _both(end)
        assert (data["outcome"], data["code"]) == ("failed", code)
        assert f"failed (code {code}: " in text
        assert text.endswith("billed 0 s, cost $0.00")


def _lines_of_every_kind(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """One record of each kind ``serve`` writes besides the job lines: uvicorn's access
    and server lines, an error with its traceback, a line of the proxy."""
    access = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:50000", "GET", "/api/v3/balance", "1.1", 200),
        None,
    )
    started = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1, "Application startup complete.", (), None
    )
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        crash = logging.LogRecord(
            "mock_api", logging.ERROR, __file__, 1, "unexpected error", (), sys.exc_info()
        )
    return [access, started, crash, *caplog.records]


@pytest.mark.anyio
async def test_every_json_line_has_a_time_and_its_texts_message(
    fake: Fake, caplog_info: pytest.LogCaptureFixture
) -> None:
    await fake.submit({"order": "sideways"})  # refused
    await fake.submit(job_input(3, 4, order="left_right"), **{"X-Mock-Outcome": "fail"})
    await fake.submit(job_input(3, 4, order="left_right"))
    fake.end_all()
    records = _lines_of_every_kind(caplog_info)
    events = {getattr(r, "event", None) for r in records}
    assert {"refused", "job_accepted", "job_ended"} <= events
    for record in records:
        line = json.loads(JSON(record))
        assert ISO_MS_UTC.fullmatch(line["time"]), line
        assert _moment(line["time"]) == pytest.approx(record.created, abs=0.001)
        assert line["message"] == record.getMessage()
        assert line["message"] in TEXT(record) or record.name == "uvicorn.access"
    access = json.loads(JSON(records[0]))
    assert access["event"] == "access"
    assert (access["method"], access["path"], access["status"]) == ("GET", "/api/v3/balance", 200)
    text_access = _formatter("text", "access")(records[0])
    assert '127.0.0.1:50000 - "GET /api/v3/balance HTTP/1.1" 200' in text_access


def test_serves_own_json_lines_have_a_time_too(tmp_path: Path) -> None:
    """The lines ``serve`` writes before uvicorn starts (``started``, a warning about the
    rules file) are JSON lines like the log's, with ``time``."""
    empty = tmp_path / "rules.yaml"
    empty.write_text("# nothing yet\n")
    result = CliRunner().invoke(
        main,
        # --workers 2 on :memory: is refused, after the rules file was read and warned of.
        ["serve", "--log-format", "json", "--scenarios", str(empty), *WORKERS_ON_MEMORY],
    )
    assert result.exit_code == 2, result.output
    [warning] = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert (warning["event"], warning["level"]) == ("empty_rules", "warning")
    assert ISO_MS_UTC.fullmatch(warning["time"]), warning
    assert abs(_moment(warning["time"]) - time.time()) < 60
