"""The dashboard in a real browser: headless Chromium from the distribution, driven by
Playwright for Python (tests/dashboard_browser.py).

One browser and one page for the run, one fake per test on a :class:`ManualClock`
the test moves (so each test's page is an origin of its own). The browser's fixtures
are the module's, not the session's: while Playwright's sync API is started it holds
an event loop running in its thread, and the async tests run after these on the same
worker could not start theirs. The module runs whole on one worker
(tests/xdist_order.py), so that is still one browser per run.

The page polls every 150 ms here (``?poll=150``; 500 ms by default), and every
wait is Playwright's: it retries an expectation until it holds, for at most 5 s,
so no test sleeps. Without Chromium or Playwright the tests skip, naming the
install command; in CI (``CI`` set) they fail instead.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mock_api import Settings
from mock_api.clock import OffsetClock, iso_ms
from mock_api.records import account_id
from tests import dashboard_browser
from tests.dashboard_browser import KEY, VIEWPORT, Fake, serve

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    reason = dashboard_browser.missing()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = dashboard_browser.launch(playwright)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def fake() -> Iterator[Fake]:
    with serve() as started:
        yield started


@pytest.fixture(scope="module")
def tab(browser: Browser) -> Iterator[Page]:
    """One page for the run: a new one costs 0.1-0.6 s of a renderer starting. Each test's
    fake listens on a port of its own, so each test's page is another origin, with
    storage of its own (the control token)."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(tab: Page) -> Iterator[Page]:
    """The run's page, for one test; an uncaught script error fails the test."""
    errors: list[str] = []

    def record(error: Exception) -> None:
        errors.append(str(error))

    tab.on("pageerror", record)
    try:
        yield tab
    finally:
        tab.remove_listener("pageerror", record)
        tab.goto("about:blank")  # the test's page stops polling before its fake stops
    assert errors == [], errors


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def job_row(page: Page, job_id: str) -> Locator:
    return page.locator(f'#jobs-table tr[data-job="{job_id}"]')


def status_of(row: Locator) -> Locator:
    return row.locator("td").nth(3)


def test_a_job_submitted_through_the_api_appears_and_completes_without_a_reload(
    page: Page, fake: Fake
) -> None:
    page.goto(fake.url + "/")  # the root leads to the dashboard while the control API is on
    expect(page).to_have_url(re.compile(r"/_mock/dashboard$"))
    page.goto(fake.page_url())
    expect(page.locator("#jobs-empty")).to_be_visible()
    page.evaluate("window.notReloaded = true")
    job = fake.submit(fake.job_input(4, 6, order="left_right")).json()["data"]
    row = job_row(page, job["id"])
    expect(status_of(row)).to_have_text("created")
    cells = row.locator("td")
    expect(cells.nth(1)).to_have_text(account_id(KEY)[:13])  # the label, never the key
    expect(cells.nth(5)).to_have_text("10 s")
    expect(cells.nth(6)).to_have_text("$0.15")
    expect(cells.nth(7)).to_have_text("will end completed")
    fake.clock.advance(0.6)
    expect(status_of(row)).to_have_text("processing")
    fake.clock.advance(1)
    expect(status_of(row)).to_have_text("completed")
    expect(cells.nth(4)).to_have_text(
        "created 00:00:00.000 → processing 00:00:00.500 → completed 00:00:01.150"
    )
    assert page.evaluate("window.notReloaded") is True
    assert KEY not in page.content()
    # Its detail plays the output inline: a 10 s video, from this origin.
    row.get_by_role("link").click()
    video = page.locator("#job-detail video")
    expect(video).to_have_attribute("src", f"/media/outputs/{job['id']}/output.mp4")
    duration = video.evaluate(
        """video => new Promise((done, failed) => {
             if (video.readyState >= 1) return done(video.duration);
             video.addEventListener("loadedmetadata", () => done(video.duration));
             video.addEventListener("error", () => failed(new Error(String(video.error.code))));
           })"""
    )
    assert duration == pytest.approx(10, abs=0.05)
    # Its polls are not journaled (X-Mock-Journal: skip); loading the page is.
    journaled = {e.path for e in fake.service.journal.entries(method="GET", path="/_mock/")}
    assert journaled == {
        "/_mock/dashboard",
        "/_mock/dashboard/app.js",
        "/_mock/dashboard/style.css",
    }


def test_advancing_the_clock_from_the_page_finishes_a_slow_job(page: Page, fake: Fake) -> None:
    fake.control("POST", "/scenarios", {"id": "slow", "then": "complete",
                                        "processing_seconds": 3600})  # fmt: skip
    job = fake.submit(fake.job_input()).json()["data"]
    page.goto(fake.page_url())
    row = job_row(page, job["id"])
    expect(status_of(row)).to_have_text("created")
    advance = page.get_by_label("Advance by")
    advance.fill("60")
    advance.press("Enter")  # the form submits with Enter
    expect(page.locator("#status")).to_have_text("Advanced the clock by 60 s.")
    expect(status_of(row)).to_have_text("processing")
    expect(page.locator("#clock-now")).to_have_text("2026-01-01 00:01:00.000 UTC")
    advance.fill("3600")
    page.get_by_role("button", name="Advance", exact=True).click()
    expect(status_of(row)).to_have_text("completed")
    assert fake.clock.now_ms() - job_created_ms(fake, job["id"]) == 3_660_000
    # What the API refuses, the page shows in the API's words, and nothing moves.
    advance.fill("soon")
    advance.press("Enter")
    expect(page.locator("#status")).to_have_text(re.compile(r'^Clock: field "seconds" must be'))
    # A negative number goes as a number: the API's answer says what is wrong with it.
    advance.fill("-5")
    advance.press("Enter")
    expect(page.locator("#status")).to_have_text('Clock: field "seconds" must be >= 0')
    assert fake.clock.now_ms() - job_created_ms(fake, job["id"]) == 3_660_000


def test_a_flowing_clock_freezes_and_resumes_from_the_page(page: Page) -> None:
    with serve(clock=OffsetClock()) as fake:  # serve's clock: wall time plus an offset
        page.goto(fake.page_url())
        kind = page.locator("#clock-kind")
        expect(kind).to_have_text("flowing (offset clock)")
        expect(page.get_by_role("button", name="Resume")).to_be_disabled()
        page.get_by_role("button", name="Freeze").click()
        expect(kind).to_have_text("frozen (offset clock)")
        assert isinstance(fake.clock, OffsetClock)
        assert fake.clock.frozen
        shown = page.locator("#clock-now").text_content()
        assert shown == f"{iso_ms(fake.clock.now_ms()).replace('T', ' ')[:-1]} UTC"
        page.get_by_role("button", name="Resume").click()
        expect(kind).to_have_text("flowing (offset clock)")
        expect(page.locator("#clock-now")).not_to_have_text(shown or "")  # time moves again
        assert not fake.clock.frozen


def job_created_ms(fake: Fake, job_id: str) -> int:
    job = fake.service.any_job(job_id)
    assert job is not None
    return job.plan.created_ms


def test_a_fault_rule_added_through_the_form_fires_on_the_next_request_and_shows_its_counter(
    page: Page, fake: Fake
) -> None:
    page.goto(fake.page_url("#rules"))
    form = page.locator("#fault-form")
    form.get_by_label("Id", exact=True).fill("busy")
    form.get_by_label("Status", exact=True).fill("99")
    form.get_by_label("Path glob", exact=True).fill("/api/v3/balance")
    form.get_by_label("Times", exact=True).fill("1")
    form.get_by_label("Times", exact=True).press("Enter")
    # The form's error is the API's own answer to the same body.
    same = fake.api.post("/_mock/faults", json={"id": "busy", "kind": "status", "status": 99,
                                                "path": "/api/v3/balance", "times": 1})  # fmt: skip
    assert same.status_code == 400
    expect(form.locator(".form-error")).to_have_text(same.json()["message"])
    expect(form.get_by_label("Status", exact=True)).to_have_attribute("aria-invalid", "true")
    assert fake.service.faults.rules() == []
    form.get_by_label("Status", exact=True).fill("503")
    form.get_by_label("Status", exact=True).press("Enter")
    row = page.locator('#faults-table tr[data-rule="busy"]')
    expect(row.locator(".counter-applied")).to_have_text("0")
    expect(form.locator(".form-error")).to_have_text("")
    assert fake.api.get("/api/v3/balance").status_code == 503  # the next request
    expect(row.locator(".counter-matched")).to_have_text("1")
    expect(row.locator(".counter-applied")).to_have_text("1")
    assert fake.api.get("/api/v3/balance").status_code == 200  # times: 1, used up
    [rule] = fake.service.faults.rules()
    assert (rule.as_dict()["applied"], rule.as_dict()["times"]) == (1, 1)
    expect(row.locator(".counter-applied")).to_have_text("1")
    page.get_by_role("button", name="Delete fault rule busy").click()
    expect(row).to_have_count(0)
    assert fake.service.faults.rules() == []


def test_a_refused_request_shows_its_reason(page: Page, fake: Fake) -> None:
    refused = fake.submit(fake.job_input(order="sideways"))
    assert refused.status_code == 400
    fake.api.get("/api/v3/balance")
    page.goto(fake.page_url("#requests"))
    rows = page.locator("#requests-table tbody tr")
    expect(rows).to_have_count(2)
    page.get_by_label("Show").select_option("refused")
    expect(rows).to_have_count(1)
    expect(rows.locator("td.problem")).to_have_text(
        "order: must be one of meanwhile, left_right, right_left"
    )
    rows.get_by_role("link").press("Enter")  # keyboard: follow the row's link
    detail = page.locator("#request-detail")
    expect(detail.locator("h3")).to_be_focused()
    expect(detail.locator(".violations li")).to_have_text(
        "order (body): must be one of meanwhile, left_right, right_left"
    )
    expect(detail.locator("pre").first).to_contain_text('"order": "sideways"')
    expect(detail.locator("pre").last).to_contain_text('"code": 400')


def test_a_failed_job_shows_its_refund(page: Page, fake: Fake) -> None:
    failing = {"X-Mock-Outcome": "fail:1403:GPU fell over"}
    job = fake.submit(fake.job_input(4, 6, order="left_right"), **failing).json()["data"]
    page.goto(fake.page_url(f"#jobs/{job['id']}"))
    detail = page.locator("#job-detail")
    ledger = detail.locator("table.ledger tbody tr")
    expect(ledger).to_have_count(2)
    charge, refund = ledger.nth(0).locator("td"), ledger.nth(1).locator("td")
    expect(charge.nth(1)).to_have_text("charge")
    expect(charge.nth(2)).to_have_text("-$0.15")
    expect(refund.nth(1)).to_have_text("refund")
    expect(refund.nth(2)).to_have_text("$0.15")
    expect(refund.nth(4)).to_have_text("job failed: GPU fell over")
    expect(refund.last).to_have_text("not yet")  # recorded at submission, due when it fails
    fake.clock.advance(60)
    expect(refund.last).to_have_text("yes")
    expect(detail).to_contain_text("failed, task code 1403: GPU fell over")
    cost = job_row(page, job["id"]).locator("td").nth(6)
    expect(cost).to_have_text("$0.15 refunded")  # the table says so too, not just the ledger
    page.get_by_role("link", name="Accounts").click()
    expect(page.locator("#accounts-table tbody td.num")).to_have_text("$100.00")  # refunded


def test_the_page_works_with_the_control_token_set(page: Page) -> None:
    with serve(Settings(random_seed=7, control_token="s3cret")) as fake:
        job = fake.submit(fake.job_input()).json()["data"]
        page.goto(fake.page_url())
        token = page.get_by_label("Control token")
        expect(token).to_be_focused()
        expect(page.locator("#token-why")).to_have_text(
            "The control API answered: missing or wrong X-Mock-Token header."
        )
        token.fill("wrong")
        token.press("Enter")
        expect(page.locator("#token-why")).to_have_text(
            "The control API refused this token: missing or wrong X-Mock-Token header."
        )
        expect(page.locator("#status")).to_have_text(
            "Token refused: enter the one serve was started with (--control-token)."
        )
        expect(token).to_be_visible()  # asked again
        token.fill("s3cret")
        token.press("Enter")
        expect(status_of(job_row(page, job["id"]))).to_have_text("created")
        expect(page.locator("#token-form")).to_be_hidden()
        expect(page.locator("#status")).to_have_text("Token accepted.")
        page.get_by_label("Advance by").fill("60")
        page.get_by_label("Advance by").press("Enter")
        expect(status_of(job_row(page, job["id"]))).to_have_text("completed")


def test_the_balance_form_shows_the_apis_own_reasons_and_two_decimals(
    page: Page, fake: Fake
) -> None:
    fake.api.get("/api/v3/balance")  # opens the key's account with $100
    account = account_id(KEY)
    page.goto(fake.page_url(f"#accounts/{account}"))
    field = page.get_by_label("Set the balance to")
    error = page.locator("#balance-form .form-error")
    expect(page.locator("#account-balance")).to_have_text("$100.00")
    # "-5" is a number: sent as one, the API answers what it answers any client.
    same = fake.api.put(f"/_mock/accounts/{account}/balance", json={"balance": -5})
    assert same.json()["message"] == 'field "balance" must be >= 0'
    field.fill("-5")
    field.press("Enter")
    expect(error).to_have_text('field "balance" must be >= 0')
    field.fill("abc")
    field.press("Enter")
    expect(error).to_have_text(
        'field "balance" must be an amount of USD: a number from 0 to 1000000000, '
        'or a string of digits with at most 6 decimals such as "12.50"'
    )
    assert fake.service.accounts.balance(account) == 100_000_000  # refused: nothing changed
    field.fill("42.5")
    field.press("Enter")
    expect(page.locator("#status")).to_have_text(f"Set the balance of {account[:13]} to $42.50.")
    expect(page.locator("#account-balance")).to_have_text("$42.50")
    expect(page.locator("#accounts-table tbody td.num")).to_have_text("$42.50")
    expect(error).to_have_text("")
    field.fill("0.000001")  # exact to the micro-dollar: sent as typed
    field.press("Enter")
    expect(page.locator("#account-balance")).to_have_text("$0.000001")
    assert fake.service.accounts.balance(account) == 1
    page.get_by_role("link", name="Jobs").click()  # the message was about the other view
    expect(page.locator("#status")).to_have_text("")


def test_stub_rules_are_listed_counted_added_and_deleted_and_their_answers_named(
    page: Page, fake: Fake
) -> None:
    fake.control("POST", "/stubs", {"id": "down", "method": "GET", "path": "/api/v3/balance",
                                    "status": 502, "json": {"code": 502}})  # fmt: skip
    page.goto(fake.page_url("#rules"))
    row = page.locator('#stubs-table tr[data-rule="down"]')
    expect(row.locator("td").nth(1)).to_have_text("GET /api/v3/balance")
    expect(row.locator("td").nth(2)).to_have_text("502 with a json body")
    expect(row.locator(".counter-applied")).to_have_text("0")
    assert fake.api.get("/api/v3/balance").status_code == 502
    expect(row.locator(".counter-matched")).to_have_text("1")
    expect(row.locator(".counter-applied")).to_have_text("1")
    # In Requests, the answer is named as the stub's, before the spec check's remark.
    page.get_by_role("link", name="Requests").click()
    expect(page.locator("#requests-table tbody td.problem")).to_have_text(
        "answered by stub rule down; status: getBalance documents no 502 answer"
    )
    page.get_by_role("link", name="Rules").click()
    # The form: the API's own validation and message; a body that is not JSON is named.
    form = page.locator("#stub-form")
    form.get_by_label("Id", exact=True).fill("ok")
    form.get_by_label("Path", exact=True).fill("/api/v3/balance")
    form.get_by_label("Answer status", exact=True).fill("abc")
    form.get_by_label("Answer status", exact=True).press("Enter")
    same = fake.api.post("/_mock/stubs", json={"id": "ok", "path": "/api/v3/balance",
                                               "status": "abc"})  # fmt: skip
    assert same.status_code == 400
    expect(form.locator(".form-error")).to_have_text(same.json()["message"])
    expect(form.get_by_label("Answer status", exact=True)).to_have_attribute("aria-invalid", "true")
    form.get_by_label("Answer status", exact=True).fill("200")
    form.get_by_label("JSON body", exact=True).fill("{nope")
    form.get_by_label("JSON body", exact=True).press("Enter")
    expect(form.locator(".form-error")).to_contain_text('field "json" is not JSON')
    assert [r.id for r in fake.service.stubs.rules()] == ["down"]
    form.get_by_label("JSON body", exact=True).fill('{"code": 200}')
    form.get_by_label("JSON body", exact=True).press("Enter")
    expect(page.locator('#stubs-table tr[data-rule="ok"] td').nth(2)).to_have_text(
        "200 with a json body"
    )
    assert [r.id for r in fake.service.stubs.rules()] == ["down", "ok"]
    page.get_by_role("button", name="Delete stub rule down").click()
    expect(row).to_have_count(0)
    assert [r.id for r in fake.service.stubs.rules()] == ["ok"]


class _OtherSite(BaseHTTPRequestHandler):
    """A page on another origin that tries to read and drive the mock (its URL in ?mock=)."""

    def do_GET(self) -> None:
        body = b"<!doctype html><title>elsewhere</title><p>another site</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def other_site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OtherSite)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # localhost, where the mock is 127.0.0.1: another site, as another name is
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


_ATTACKS = """async (mock) => {
  const tried = {};
  const outcome = (promise) => promise.then((r) => `answered ${r.type} ${r.status}`,
                                            (e) => `blocked: ${e.name}`);
  tried.read = await outcome(fetch(mock + "/_mock/jobs").then((r) => r.text().then(() => r)));
  tried.reset = await outcome(fetch(mock + "/_mock/reset", {method: "POST", mode: "no-cors",
      headers: {"Content-Type": "text/plain"}, body: "{}"}));
  tried.advance = await outcome(fetch(mock + "/_mock/clock", {method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({action: "advance", seconds: 100})}));
  tried.script = await new Promise((done) => {
    const script = document.createElement("script");
    script.src = mock + "/_mock/dashboard/app.js";
    script.onload = () => done("loaded");
    script.onerror = () => done("refused");
    document.head.append(script);
  });
  return tried;
}"""


def test_a_page_from_another_site_cannot_read_or_drive_it(
    page: Page, fake: Fake, other_site: str
) -> None:
    job = fake.submit(fake.job_input()).json()["data"]
    now = fake.clock.now_ms()
    page.goto(other_site)
    tried = page.evaluate(_ATTACKS, fake.url)
    assert tried == {
        "read": "blocked: TypeError",  # no CORS: the answer is never readable
        "reset": "answered opaque 0",  # sent without asking (text/plain), refused: below
        "advance": "blocked: TypeError",  # JSON needs a preflight, which is never granted
        "script": "refused",  # its files are not for other sites either
    }
    # A form posted across sites, as a page can without any script.
    page.set_content(
        f'<form method="post" action="{fake.url}/_mock/reset" enctype="text/plain">'
        '<input name="{}" value=""><button>go</button></form>'
    )
    with page.expect_navigation():
        page.get_by_role("button", name="go").click()
    assert "refuses requests from other web pages" in page.content()
    # Framed by another site, the page never shows.
    page.goto(other_site)
    page.set_content(f'<iframe src="{fake.url}/_mock/dashboard"></iframe>')
    frame = page.frame_locator("iframe")
    expect(frame.locator("nav")).to_have_count(0)
    journaled = [(e.method, e.path, e.status) for e in fake.service.journal.entries(path="/_mock/")]
    assert ("POST", "/_mock/reset", 403) in journaled
    assert ("GET", "/_mock/dashboard", 403) in journaled  # the frame's request, refused
    assert fake.service.any_job(job["id"]) is not None  # nothing was reset
    assert fake.clock.now_ms() == now  # nor moved


def test_the_page_is_usable_from_the_keyboard(page: Page, fake: Fake) -> None:
    job = fake.submit(fake.job_input()).json()["data"]
    page.goto(fake.page_url())
    expect(status_of(job_row(page, job["id"]))).to_have_text("created")
    reached = []
    for _ in range(11):
        page.keyboard.press("Tab")
        reached.append(
            page.evaluate(
                """() => { const e = document.activeElement;
                   const label = e.labels && e.labels[0];
                   return (label ? label.firstChild.textContent : e.textContent).trim(); }"""
            )
        )
    # The manual clock cannot freeze or resume: those buttons are disabled, so skipped.
    assert reached == [
        "Skip to the view", "Jobs", "Accounts", "Requests", "Rules",
        "Advance by", "Advance", "Run until idle", "Account", "Status", job["id"][:12],
    ]  # fmt: skip
    page.keyboard.press("Enter")  # follow the job's link: its detail takes the focus
    expect(page.locator("#job-detail h3")).to_be_focused()
    page.get_by_role("button", name="Run until idle").focus()
    page.keyboard.press("Enter")
    expect(status_of(job_row(page, job["id"]))).to_have_text("completed")
    page.get_by_role("link", name="Rules").press("Enter")
    scenario = page.locator("#scenario-form")
    scenario.get_by_label("Id", exact=True).fill("kb")
    scenario.locator("select[name=then]").select_option("nsfw")
    scenario.get_by_label("Prompt contains", exact=True).fill("cat")
    scenario.get_by_label("Prompt contains", exact=True).press("Enter")
    expect(page.locator('#scenarios-table tr[data-rule="kb"]')).to_contain_text(
        'prompt contains "cat"'
    )
    [rule] = fake.service.scenarios.rules()
    assert rule.as_dict()["match"]["prompt_contains"] == "cat"


def test_screenshots_of_the_main_views(page: Page, tmp_path: Path) -> None:
    written = dashboard_browser.screenshots(page, tmp_path)
    assert [p.name for p in written] == [
        "dashboard-jobs.png",
        "dashboard-job.png",
        "dashboard-requests.png",
        "dashboard-accounts.png",
        "dashboard-rules.png",
    ]
    for path in written:
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert 10_000 < len(data) < 400_000, (path.name, len(data))
