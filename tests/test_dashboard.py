"""The dashboard, in process: its page and files, their protection, and the control API
it reads (accounts, a job's money and deliveries, the journal polled without growing it).

What the page does in a browser is tests/test_dashboard_browser.py.
"""

from __future__ import annotations

import fnmatch
import re
import socket
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from mock_api import ManualClock, MockService, Settings, create_app
from mock_api.cli import main
from mock_api.records import account_id
from tests.helpers import AUTH, BASE, KEY, SUBMIT, MakeClient, auth, job_input

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "mock_api" / "dashboard" / "static"
PAGE = "/_mock/dashboard"
ASSETS = {"app.js": "text/javascript", "style.css": "text/css"}


async def _data(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _csp(response: httpx.Response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


# the page and its files


async def test_the_page_and_its_files_are_served_with_their_types(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get(PAGE)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>wavespeed-mock dashboard</title>" in page.text
    referenced = set(re.findall(r'(?:src|href)="(dashboard/[^"]+)"', page.text))
    assert referenced == {f"dashboard/{name}" for name in ASSETS}
    for name, media_type in ASSETS.items():
        answer = await client.get(f"/_mock/dashboard/{name}")
        assert answer.status_code == 200, name
        assert answer.headers["content-type"] == f"{media_type}; charset=utf-8"
        assert answer.content == (STATIC / name).read_bytes()


@pytest.mark.parametrize("name", ["index.html", "nope.js", "style.css.map"])
async def test_a_file_the_dashboard_does_not_have_is_a_404_naming_the_page(
    client: httpx.AsyncClient, name: str
) -> None:
    answer = await client.get(f"/_mock/dashboard/{name}")
    assert answer.status_code == 404
    assert answer.json()["message"] == (
        f"the dashboard has no file {name!r}: the page is at /_mock/dashboard"
    )
    # Only the files listed are served: no path reaches beyond them.
    escape = await client.get("/_mock/dashboard/..%2F__init__.py")
    assert escape.status_code == 404
    assert b"a page a developer keeps open" not in escape.content  # __init__.py's docstring


async def test_the_page_runs_only_its_own_code_and_cannot_be_framed(
    client: httpx.AsyncClient,
) -> None:
    for path in (PAGE, "/_mock/dashboard/app.js", "/_mock/dashboard/style.css"):
        answer = await client.get(path)
        policy = _csp(answer)
        assert policy["default-src"] == "'none'"
        assert policy["script-src"] == "'self'"  # no inline script, no eval, no CDN
        assert policy["connect-src"] == "'self'"
        assert policy["frame-ancestors"] == "'none'"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["cross-origin-resource-policy"] == "same-origin"


def test_the_page_loads_nothing_from_elsewhere_and_writes_no_html_from_data() -> None:
    """No CDN, no web font, no build step; text from the fake is set as text only."""
    for path in STATIC.iterdir():
        text = path.read_text()
        assert not re.search(r"(?<![\w.])(https?:)?//[a-z0-9]", text, re.I), path.name
    script = (STATIC / "app.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script
    assert "<script>" not in (STATIC / "index.html").read_text()  # CSP allows no inline script


async def test_with_the_control_api_off_the_page_is_off_too(make_client: MakeClient) -> None:
    async with make_client(Settings(control_enabled=False)) as client:
        for path in (PAGE, "/_mock/dashboard/app.js"):
            answer = await client.get(path)
            assert answer.status_code == 403
            assert answer.json()["message"].startswith("the control API is off")


async def test_with_a_token_the_page_holds_no_data_and_the_api_wants_the_token(
    make_client: MakeClient,
) -> None:
    async with make_client(Settings(control_token="s3cret")) as client:
        job = (await client.post(SUBMIT, json=job_input(), headers=AUTH)).json()["data"]
        page = await client.get(PAGE)
        assert page.status_code == 200  # a navigation cannot carry the token: it asks for it
        script = await client.get("/_mock/dashboard/app.js")
        assert job["id"] not in page.text + script.text
        assert "X-Mock-Token" in script.text
        refused = await client.get("/_mock/jobs", headers={"X-Mock-Journal": "skip"})
        assert refused.status_code == 403
        assert refused.json()["message"] == "missing or wrong X-Mock-Token header"


def _fetch(site: str, mode: str, dest: str) -> dict[str, str]:
    """The headers a browser sends with a request (Fetch Metadata)."""
    return {"Sec-Fetch-Site": site, "Sec-Fetch-Mode": mode, "Sec-Fetch-Dest": dest}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        # The user following a link from another site to the page: served (it holds nothing).
        (_fetch("cross-site", "navigate", "document"), 200),
        (_fetch("none", "navigate", "document"), 200),
        # Another site framing the page or fetching it: refused.
        (_fetch("cross-site", "navigate", "iframe"), 403),
        (_fetch("cross-site", "no-cors", "empty"), 403),
        (_fetch("same-site", "cors", "empty"), 403),
        ({"Origin": "http://evil.example"}, 403),
    ],
    ids=["link", "typed", "framed", "fetched", "other-port", "origin"],
)
async def test_another_site_can_link_to_the_page_but_not_frame_or_fetch_it(
    client: httpx.AsyncClient, headers: dict[str, str], status: int
) -> None:
    assert (await client.get(PAGE, headers=headers)).status_code == status
    if status == 403:
        script = await client.get("/_mock/dashboard/app.js", headers=headers)
        assert script.status_code == 403
        assert "refuses requests from other web pages" in script.json()["message"]


async def test_the_page_answers_only_names_the_server_answers_to(clock: ManualClock) -> None:
    app = create_app(service=MockService(Settings(allowed_hosts=frozenset()), clock))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://evil.example") as client:
        rebound = await client.get(PAGE)
    assert rebound.status_code == 403
    assert "--allowed-host evil.example" in rebound.json()["message"]
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        assert (await client.get(PAGE)).status_code == 200


@pytest.mark.parametrize(
    ("host", "named"),
    [("127.0.0.1", True), ("0.0.0.0", False)],
    ids=["loopback", "beyond"],
)
def test_serve_names_the_dashboard_when_the_control_api_is_on(
    monkeypatch: pytest.MonkeyPatch, host: str, named: bool
) -> None:
    started: list[Any] = []

    def run(server: Any, sockets: list[socket.socket]) -> None:  # uvicorn's, not serving
        started.append(server.config.app)
        server.started = True
        for sock in sockets:
            sock.close()

    monkeypatch.setattr("uvicorn.Server.run", run)
    monkeypatch.setattr("uvicorn.Config.configure_logging", lambda config: None)
    result = CliRunner().invoke(main, ["serve", "--host", host, "--port", "0", "--db", ":memory:"])
    assert result.exit_code == 0, result.output
    port = re.search(r"docs at http://[^\s]+:(\d+)/docs", result.output)
    assert port is not None, result.output
    dashboard = f", dashboard at http://{host}:{port.group(1)}/_mock/dashboard"
    assert (dashboard in result.output) is named, result.output
    assert ("dashboard at" in result.output) is named
    started[0].state.service.close()


def test_the_wheel_declares_the_dashboard_package_and_its_files() -> None:
    """setuptools installs only the packages and package data pyproject.toml lists."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "mock_api.dashboard" in setuptools["packages"]
    globs = setuptools.get("package-data", {}).get("mock_api.dashboard", [])
    for path in STATIC.iterdir():
        name = f"static/{path.name}"
        assert any(fnmatch.fnmatch(name, glob) for glob in globs), f"{name} is not package data"


# the control API the page reads


async def test_accounts_list_with_label_and_balance_and_read_by_id(
    client: httpx.AsyncClient,
) -> None:
    assert await _data(await client.get("/_mock/accounts")) == {"accounts": []}
    await client.post(SUBMIT, json=job_input(order="left_right"), headers=AUTH)  # 10 s: $0.15
    await client.get("/api/v3/balance", headers=auth("other-key"))
    mine, other = account_id(KEY), account_id("other-key")
    listed = (await _data(await client.get("/_mock/accounts")))["accounts"]
    assert listed == sorted(
        [
            {"account": mine, "label": mine[:13], "balance": 99.85},
            {"account": other, "label": other[:13], "balance": 100},
        ],
        key=lambda a: str(a["account"]),
    )
    assert all(KEY not in str(a) for a in listed)
    account = await _data(await client.get(f"/_mock/accounts/{mine}"))
    assert (account["account"], account["label"], account["balance"]) == (mine, mine[:13], 99.85)
    assert [(e["kind"], e["amount"]) for e in account["entries"]] == [
        ("opening", "$100.00"),
        ("charge", "-$0.15"),
    ]
    missing = await client.get("/_mock/accounts/acct_nobody")
    assert missing.status_code == 404
    assert missing.json()["message"] == (
        "account acct_nobody not found: GET /_mock/accounts lists them"
    )


async def test_an_accounts_balance_is_set_by_id(
    client: httpx.AsyncClient, service: MockService
) -> None:
    await client.get("/api/v3/balance", headers=AUTH)
    account = account_id(KEY)
    path = f"/_mock/accounts/{account}/balance"
    set_to = await _data(await client.put(path, json={"balance": "25.50"}))
    assert set_to == {"account": account, "balance": 25.5}
    assert (await client.get("/api/v3/balance", headers=AUTH)).json()["data"]["balance"] == 25.5
    assert service.accounts.ledger(account)[-1].note == "set by the control API"
    entries = len(service.accounts.ledger(account))
    for body, field, reason in [
        ({"balance": "lots"}, "balance", "must be an amount of USD: a number from 0 to"),
        ({"balance": 1_000_000_001}, "balance", "must be <= 1000000000"),
        ({}, "balance", "is required"),
        ({"balance": 1, "api_key": KEY}, "api_key", "is not allowed"),
    ]:
        refused = await client.put(path, json=body)
        assert refused.status_code == 400, body
        assert refused.json()["details"][0]["field"] == field
        assert reason in refused.json()["details"][0]["reason"], refused.json()
    unknown = await client.put("/_mock/accounts/acct_nobody/balance", json={"balance": 5})
    assert unknown.status_code == 404
    assert len(service.accounts.ledger(account)) == entries  # nothing refused changed anything
    assert service.accounts.balances() == {account: 25_500_000}


async def test_jobs_filter_by_account_keep_the_newest_and_name_model_and_output(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    first = (await client.post(SUBMIT, json=job_input(), headers=AUTH)).json()["data"]
    second = (await client.post(SUBMIT, json=job_input(), headers=AUTH)).json()["data"]
    await client.post(SUBMIT, json=job_input(), headers=auth("other-key"))
    mine = account_id(KEY)
    listed = (await _data(await client.get("/_mock/jobs", params={"account": mine})))["jobs"]
    assert [j["id"] for j in listed] == [first["id"], second["id"]]
    newest = (await _data(await client.get("/_mock/jobs", params={"limit": 1})))["jobs"]
    assert [j["account"] for j in newest] == [account_id("other-key")]
    both: dict[str, str | int] = {"account": mine, "api_key": KEY, "limit": 5}
    assert len((await _data(await client.get("/_mock/jobs", params=both)))["jobs"]) == 2
    disagree = {"account": mine, "api_key": "other-key"}
    assert (await _data(await client.get("/_mock/jobs", params=disagree)))["jobs"] == []
    job = listed[0]
    assert job["model"] == "wavespeed-ai/infinitetalk-fast/video-to-video-multi"
    assert job["output_url"] is None  # not completed yet
    clock.advance(60)
    done = await _data(await client.get(f"/_mock/jobs/{first['id']}"))
    assert done["output_url"] == f"{BASE}/media/outputs/{first['id']}/output.mp4"
    assert (await client.get(done["output_url"])).headers["content-type"] == "video/mp4"
    for bad, reason in [("0", "must be >= 1"), ("x", "must be an integer")]:
        refused = await client.get("/_mock/jobs", params={"limit": bad})
        assert refused.status_code == 400
        assert refused.json()["details"] == [
            {"field": "limit", "reason": reason, "location": "query"}
        ]


async def test_a_jobs_detail_has_its_charge_refund_and_webhook_attempts(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    failing = {**AUTH, "X-Mock-Outcome": "fail:1403:GPU fell over"}
    # A receiver nobody listens on (port 9 is discard): the attempt fails, and says so.
    hook = {"webhook": "http://127.0.0.1:9/hook"}
    body = job_input(order="left_right")  # 5 s + 5 s in turn: 10 s, $0.15
    job = (await client.post(SUBMIT, json=body, headers=failing, params=hook)).json()
    job_id = job["data"]["id"]
    await client.post(SUBMIT, json=job_input(), headers=AUTH)  # another job: not in the detail
    before = await _data(await client.get(f"/_mock/jobs/{job_id}"))
    assert [(e["kind"], e["amount"], e["in_effect"]) for e in before["ledger"]] == [
        ("charge", "-$0.15", True),
        ("refund", "$0.15", False),  # recorded at submission, in effect when the job fails
    ]
    assert [(d["url"], d["state"], d["attempts"]) for d in before["deliveries"]] == [
        ("http://127.0.0.1:9/hook", "pending", [])
    ]
    clock.advance(60)
    await client.post("/_mock/webhooks/pump")
    after = await _data(await client.get(f"/_mock/jobs/{job_id}"))
    assert after["status"] == "failed"
    assert (after["outcome"]["code"], after["outcome"]["error"]) == (1403, "GPU fell over")
    assert [e["in_effect"] for e in after["ledger"]] == [True, True]
    [attempt] = after["deliveries"][0]["attempts"]
    assert attempt["status"] is None  # nothing listens there: no answer
    assert attempt["error"].startswith("ConnectError")


async def test_the_journal_reads_what_is_new_by_account_and_names_itself(
    client: httpx.AsyncClient, service: MockService
) -> None:
    await client.get("/api/v3/balance", headers=AUTH)
    await client.get("/api/v3/balance", headers=auth("other-key"))
    first = await _data(await client.get("/_mock/journal", params={"account": account_id(KEY)}))
    assert [e["path"] for e in first["entries"]] == ["/api/v3/balance"]
    assert first["journal"] == service.journal.id
    last = first["entries"][-1]["seq"]
    await client.post(SUBMIT, json={"order": "x"}, headers=AUTH)
    new = await _data(await client.get("/_mock/journal", params={"after": last}))
    # What came after: the other key's read, the filtered read above, the refused one.
    assert [(e["method"], e["path"], e["status"]) for e in new["entries"]] == [
        ("GET", "/api/v3/balance", 200),
        ("GET", "/_mock/journal", 200),
        ("POST", SUBMIT, 400),
    ]
    mine_after = {"after": last, "account": account_id(KEY)}
    refused = (await _data(await client.get("/_mock/journal", params=mine_after)))["entries"]
    assert [e["status"] for e in refused] == [400]
    assert {v["field"] for v in refused[0]["violations"]} >= {"order", "video"}
    beyond = {"after": refused[-1]["seq"] + 100}
    assert (await _data(await client.get("/_mock/journal", params=beyond)))["entries"] == []
    negative = await client.get("/_mock/journal", params={"after": -1})
    assert negative.json()["details"][0]["field"] == "after"


async def test_control_reads_marked_skip_are_not_journaled_and_nothing_else_is_skipped(
    client: httpx.AsyncClient, service: MockService
) -> None:
    skip = {"X-Mock-Journal": "skip"}
    for path in ("/_mock/jobs", "/_mock/clock", "/_mock/journal", "/_mock/accounts"):
        assert (await client.get(path, headers=skip)).status_code == 200
    assert service.journal.entries() == []
    await client.get("/api/v3/balance", headers={**AUTH, **skip})  # the API: journaled
    await client.post("/_mock/webhooks/pump", headers=skip)  # a change: journaled
    await client.get(PAGE, headers=skip)  # the page is under /_mock/ too, and a read
    await client.get("/_mock/clock", headers={"X-Mock-Journal": "keep"})
    journaled = [(e.method, e.path) for e in service.journal.entries()]
    assert journaled == [
        ("GET", "/api/v3/balance"),
        ("POST", "/_mock/webhooks/pump"),
        ("GET", "/_mock/clock"),
    ]


def test_without_chromium_the_browser_tests_name_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests import dashboard_browser

    monkeypatch.setattr("shutil.which", lambda name: None)
    monkeypatch.setattr(dashboard_browser, "CHROMIUM", "/nonexistent/chromium")
    assert dashboard_browser.missing() == (
        "no Chromium to drive the dashboard's tests: apt-get install -y chromium"
    )
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    assert "pip install playwright" in str(dashboard_browser.missing())
