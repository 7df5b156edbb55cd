"""The contract suite, by URL, against every drift of the catalogue: each must be caught.

Each case starts a correct fake behind one drift's proxy (``tests/drifts.py``) on
a loopback port, runs the check the catalogue names against it through the
by-URL suite (the same ``contracts/`` files and options a user runs, in an
inline pytest session), and asserts that check fails. The unbroken fake
passes the same checks by URL (the whole suite: ``tests/test_wheel.py``, against
``serve``; ``tests/test_verify.py``, against a paid-looking fake), so a failure
here is the drift's.
The docs' table of drifts (docs/verify.md) is this catalogue, and is checked to be.
"""

from __future__ import annotations

import os

import pytest

from mock_api import MockService, Settings, create_app
from mock_api.planning import Pace
from mock_api.server import LiveServer
from tests.drifts import Drift, catalogue, markdown
from tests.test_contracts_by_url import KEY, ROOT, SECOND_KEY

pytest_plugins = ["pytester"]

DRIFTS = catalogue(KEY, SECOND_KEY)
#: Jobs take ~0.1 s, as the by-URL suite's fake does.
PACE = Pace("drift", queue_ms=30, base_ms=30, per_output_second_ms=(1, 1))


def _app() -> tuple[object, MockService]:
    app = create_app(Settings(random_seed=7, pace=PACE, api_keys=frozenset({KEY, SECOND_KEY})))
    return app, app.state.service


# Untraced (no_cover): 46 inline pytest sessions, mostly pytest's and schemathesis's own
# work; the failure paths they reach in mock_api/contract are provoked one by one in
# tests/test_contracts_failures.py, which coverage does count.
@pytest.mark.no_cover
@pytest.mark.parametrize(
    "drift",
    # The webhook drifts wait out the fake's retries (1, 2, 4 s) on the wall clock.
    [
        pytest.param(drift, marks=pytest.mark.waits if drift.name.startswith("webhook") else ())
        for drift in DRIFTS
    ],
    ids=[drift.name for drift in DRIFTS],
)
def test_the_suite_catches_the_drift(
    drift: Drift, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in os.environ:
        if name.startswith("WAVESPEED_"):
            monkeypatch.delenv(name)
    app, _service = _app()
    file, _, _ = drift.caught_by.partition("::")
    selection = ["-k", drift.select] if drift.select else []
    with LiveServer(drift.wrap(app)) as server:  # type: ignore[arg-type]
        recorder = pytester.inline_run(
            str(ROOT / (file if drift.select else drift.caught_by)),
            *selection,
            *("--wavespeed-base-url", server.url, "--wavespeed-api-key", KEY),
            *("--wavespeed-second-api-key", SECOND_KEY, "--wavespeed-poll-interval", "0.02"),
            *("-p", "no:cacheprovider"),
            # Started as `pytest` (not `python -m pytest`), the package is loaded by its
            # editable install's finder before the inner session can mark it for rewriting.
            *("-W", "ignore::pytest.PytestAssertRewriteWarning"),
        )
    passed, skipped, failed = recorder.listoutcomes()
    ran = [report.nodeid for report in (*passed, *skipped, *failed)]
    assert ran, f"{drift.name}: no check ran for {drift.caught_by}"
    assert not skipped, f"{drift.name}: the check skipped: {skipped[0].longrepr}"
    caught = [report.nodeid for report in failed]
    assert caught, f"{drift.name} ({drift.change}) was NOT caught by {drift.caught_by}"
    assert all(
        nodeid.endswith(drift.caught_by.split("::")[-1]) or drift.select for nodeid in caught
    )


def test_the_catalogue_is_large_and_the_readme_shows_it() -> None:
    assert len(DRIFTS) >= 30
    assert len({drift.name for drift in DRIFTS}) == len(DRIFTS)
    areas = {drift.area for drift in DRIFTS}
    for area in (
        "billing",
        "charges",
        "refunds",
        "lifecycle",
        "schema",
        "auth",
        "quotas",
        "webhooks",
        "sync",
        "uploads",
        "output",
    ):
        assert area in areas, area
    page = (ROOT / "docs" / "verify.md").read_text()
    # Every drift is caught (each case above), so the kill rate the page states is all of them.
    assert f"**{len(DRIFTS)} of {len(DRIFTS)} drifts caught (100 %)**" in page
    assert markdown(DRIFTS) in page, (
        "docs/verify.md's drift table is out of date: regenerate it with `python -m tests.drifts`"
    )
