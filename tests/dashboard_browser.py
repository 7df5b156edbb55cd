"""Headless Chromium for the dashboard: what its browser tests and its screenshots share.

The browser is the distribution's (``apt-get install -y chromium``), driven by
Playwright for Python pointed at it; ``playwright install`` (which downloads a
browser of its own) is never needed. One browser serves a whole test run; each
test gets a fresh context (its own storage) and a fake of its own.

The demo state (:func:`stage_demo`) is what the docs' screenshots show, made
through the API and the control API only, on a :class:`ManualClock` and with a
seed, so every run draws the same jobs, times and money (only the port in URLs
differs): ``scripts/dashboard_screenshots.py`` writes them to ``docs/images/``,
and ``tests/test_dashboard_browser.py`` to its own folder.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from mock_api import ManualClock, MockService, Settings, create_app
from mock_api.clock import OffsetClock
from mock_api.server import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright, ViewportSize

#: Where Debian's package puts the browser, and how to get it.
CHROMIUM = "/usr/bin/chromium"
INSTALL = "apt-get install -y chromium"
#: What lets Chromium run as root in a container with nothing to talk to: no sandbox
#: (it needs user namespaces), no GPU, and none of its own traffic (updates, sync,
#: field trials, QUIC probes) competing with the tests for two cores.
FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
#: The size of the page in tests and screenshots (CSS pixels): small PNGs, one view each.
VIEWPORT: ViewportSize = {"width": 1100, "height": 720}
PAGE = "/_mock/dashboard"
SUBMIT = "/api/v3/wavespeed-ai/infinitetalk-fast/video-to-video-multi"
KEY = "demo-key"


def chromium() -> str | None:
    """The system's Chromium, if there is one."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return found or (CHROMIUM if Path(CHROMIUM).exists() else None)


def missing() -> str | None:
    """Why the dashboard cannot be driven here, naming what to install; ``None`` if it can."""
    if importlib.util.find_spec("playwright") is None:
        return (
            "Playwright for Python is not installed: .venv/bin/pip install playwright "
            "(it drives the system's Chromium; `playwright install` is not needed)"
        )
    if chromium() is None:
        return f"no Chromium to drive the dashboard's tests: {INSTALL}"
    return None


def launch(playwright: Playwright) -> Browser:
    """Headless Chromium from the distribution; Playwright gives it a fresh profile
    (a temporary ``--user-data-dir``) each launch."""
    path = chromium()
    assert path is not None, f"no Chromium: {INSTALL}"
    return playwright.chromium.launch(executable_path=path, headless=True, args=list(FLAGS))


@dataclass
class Fake:
    """One fake served on a loopback port, on a clock the test moves."""

    url: str
    clock: ManualClock | OffsetClock
    service: MockService
    api: httpx.Client  # the API with KEY's bearer key
    token: str | None = None  # the control token, when the fake wants one

    def page_url(self, hash_: str = "", poll_ms: int = 150) -> str:
        return f"{self.url}{PAGE}?poll={poll_ms}{hash_}"

    def media(self, name: str, seconds: float) -> str:
        return f"{self.url}/media/samples/{name}?seconds={seconds}"

    def job_input(self, left: float = 5, right: float = 5, **extra: object) -> dict[str, object]:
        return {
            "video": self.media("video.mp4", 10),
            "left_audio": self.media("silence.wav", left),
            "right_audio": self.media("silence.wav", right),
            **extra,
        }

    def submit(self, body: dict[str, object], **headers: str) -> httpx.Response:
        return self.api.post(SUBMIT, json=body, headers=headers)

    def control(self, method: str, route: str, body: object = None) -> object:
        headers = {"X-Mock-Token": self.token} if self.token else {}
        answer = self.api.request(method, f"/_mock{route}", json=body, headers=headers)
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]


@contextmanager
def serve(
    settings: Settings | None = None, clock: ManualClock | OffsetClock | None = None
) -> Iterator[Fake]:
    """A fake on a free loopback port, on ``clock`` (a :class:`ManualClock` unless given),
    stopped afterwards."""
    settings = settings or Settings(random_seed=7)
    clock = clock or ManualClock()
    service = MockService(settings, clock)
    with (
        LiveServer(create_app(service=service)) as server,
        httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=10
        ) as api,
    ):
        yield Fake(server.url, clock, service, api, token=settings.control_token)


@dataclass(frozen=True)
class Demo:
    """What :func:`stage_demo` made, to point each view at."""

    failed_job: str
    refused_seq: int
    account: str


def stage_demo(fake: Fake) -> Demo:
    """A few minutes of a client's life, made through the API and the control API."""
    busy = {"id": "busy", "kind": "status", "status": 503, "path": "/api/v3/balance", "times": 1}
    fake.control("POST", "/faults", busy)
    beach = {"prompt_contains": "beach"}
    fake.control(
        "POST",
        "/scenarios",
        {"id": "moderation", "then": "fail", "code": 1200, "match": beach, "times": 2},
    )
    fake.submit(fake.job_input(4, 6, order="left_right", seed=7))
    fake.clock.advance(1)
    fake.submit(fake.job_input(3, 3, prompt="a walk on the beach", seed=8))
    fake.api.get("/api/v3/balance")  # answered 503 by the fault rule
    refused = fake.submit(fake.job_input(order="sideways"))
    assert refused.status_code == 400, refused.text
    fake.clock.advance(2)
    failing = {"X-Mock-Outcome": "fail:1403:GPU fell over"}
    # Its webhook's receiver is not listening (port 9, discard): the attempt fails.
    hooked = fake.job_input(8, 2, order="right_left", seed=9, webhook_url="http://127.0.0.1:9/")
    failed = fake.submit(hooked, **failing)
    fake.clock.advance(1)
    fake.submit(fake.job_input(300, 300, seed=10), **{"X-Mock-Outcome": "nsfw"})
    fake.clock.advance(1.5)
    fake.api.get(f"/api/v3/predictions/{failed.json()['data']['id']}/result")
    fake.submit(fake.job_input(2, 3, order="left_right", seed=11))  # just submitted
    fake.control("POST", "/webhooks/pump")  # the failed job's first attempt, at 00:00:05.500
    journal = fake.control("GET", "/journal?status=400")
    assert isinstance(journal, dict)
    return Demo(
        failed_job=failed.json()["data"]["id"],
        refused_seq=journal["entries"][-1]["seq"],
        account=_account(fake),
    )


def _account(fake: Fake) -> str:
    accounts = fake.control("GET", "/accounts")
    assert isinstance(accounts, dict)
    [account] = accounts["accounts"]
    return str(account["account"])


#: The views the screenshots show: (file name, where on the page, the element the view
#: draws last, whether to scroll that element to the top).
def views(demo: Demo) -> list[tuple[str, str, str, bool]]:
    return [
        ("dashboard-jobs.png", "#jobs", "#jobs-table tbody tr", False),
        ("dashboard-job.png", f"#jobs/{demo.failed_job}", "#job-detail h3", True),
        ("dashboard-requests.png", f"#requests/{demo.refused_seq}", "#request-detail h3", False),
        ("dashboard-accounts.png", f"#accounts/{demo.account}", "#ledger-table tbody tr", False),
        ("dashboard-rules.png", "#rules", "#faults-table tbody tr[data-rule]", False),
    ]


def screenshots(page: Page, folder: Path) -> list[Path]:
    """Stage the demo on a fresh fake and write a PNG of each main view into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with serve() as fake:
        demo = stage_demo(fake)
        for name, where, ready, to_top in views(demo):
            page.goto(fake.page_url(where))
            # The view's last part to be drawn: the rest of it was drawn in the same poll.
            drawn = page.locator(ready).first
            drawn.wait_for()
            if to_top:
                drawn.evaluate("element => element.scrollIntoView({block: 'start'})")
            else:  # following the link focused the detail, scrolling to it: the view's top
                page.evaluate("window.scrollTo(0, 0)")
            page.evaluate("document.activeElement && document.activeElement.blur()")
            path = folder / name
            page.screenshot(path=str(path))
            written.append(path)
        page.goto("about:blank")
    return written
