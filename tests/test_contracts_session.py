"""mock_api.contract.session: choosing the target once per run, and refusing an unusable one."""

from __future__ import annotations

import pytest

from mock_api import Settings, create_app
from mock_api.contract.budget import BudgetExceeded, priced
from mock_api.contract.options import TargetOptions
from mock_api.contract.recognise import KeyRefused, NotWavespeed
from mock_api.contract.session import ContractSession, TargetUnreachable, TargetUnusable
from mock_api.contract.target import TargetKind
from mock_api.server import LiveServer
from tests.live import free_port
from tests.test_contracts_by_url import BRISK, KEY, serving

PLAN = [priced("one job", [(1000, 1000, "meanwhile")], "minimum")]


def test_no_options_open_the_fake_in_process_and_read_the_balance_twice() -> None:
    state = ContractSession(TargetOptions())
    target = state.open(PLAN)
    assert target.kind is TargetKind.IN_PROCESS
    assert state.balance_before == 100_000_000
    state.close()
    assert state.spent_micros == 0
    assert state.summary() == [
        "target: the fake, in-process (no socket)",
        "budget: not needed (the fake: jobs cost nothing real)",
        "spent: $0.00 (balance $100.00 -> $100.00)",
    ]


def test_a_fake_by_url_needs_no_budget() -> None:
    with serving() as (url, _service):
        state = ContractSession(TargetOptions(base_url=url, api_key=KEY))
        assert state.open(PLAN).kind is TargetKind.FAKE
        state.close()


def test_a_fake_that_accepts_any_key_says_the_auth_check_is_off() -> None:
    app = create_app(Settings(random_seed=7, pace=BRISK))  # no api_keys: any key opens one
    with LiveServer(app) as server:
        state = ContractSession(TargetOptions(base_url=server.url, api_key="any"))
        state.open(PLAN)
        summary = state.summary()
        state.close()
    assert summary[0] == (
        f"target: the fake, by URL ({server.url}); it accepts any API key (started without "
        "--api-key), so schemathesis's ignored_auth check is off for this run"
    )


def test_a_paid_looking_target_over_budget_says_why_it_counts_as_paid() -> None:
    with serving(paid_looking=True) as (url, _service):
        state = ContractSession(TargetOptions(base_url=url, api_key=KEY))
        with pytest.raises(BudgetExceeded, match=r"does not serve this checkout's openapi\.yaml"):
            state.open(PLAN)
    assert state.target is None


def test_a_refused_key_makes_the_target_unusable() -> None:
    with serving() as (url, _service):
        state = ContractSession(TargetOptions(base_url=url, api_key="not-" + KEY))
        with pytest.raises(TargetUnusable, match="answered 401"):
            state.open(PLAN)


@pytest.mark.parametrize("paid_looking", [False, True], ids=["fake", "paid-looking"])
def test_a_refused_key_is_said_in_the_documented_words(paid_looking: bool) -> None:
    # Before, on the fake by URL: "this target cannot be used: balance unavailable:" and
    # the 401's body; docs/verify.md promises "... refused the API key: GET /api/v3/balance
    # answered 401: ...", first, before any budget (budget 0 here, the plan costs).
    with serving(paid_looking=paid_looking) as (url, service):
        state = ContractSession(TargetOptions(base_url=url, api_key="wrong"))
        with pytest.raises(KeyRefused) as caught:
            state.open(PLAN)
        submitted = service.journal.entries(path="/api/v3/wavespeed-ai/")
    assert str(caught.value) == (
        f"{url} refused the API key: GET /api/v3/balance answered 401: invalid API key"
    )
    assert state.target is None
    assert submitted == []


@pytest.mark.parametrize(
    ("path", "answered", "cause"),
    [
        ("/api/v3", "404: no route GET", "it ends in /api/v3, which the suite adds itself"),
        (  # the fake's /api/v2/... routes take POST only
            "/api/v2/",
            "405: method GET is not allowed on",
            "it ends in /api/v2, which the suite adds itself",
        ),
        (
            "/wavespeed",
            "404: no route GET",
            "it has a path (/wavespeed), and the suite adds /api/v3/... to it",
        ),
    ],
    ids=["api-v3", "api-v2", "a-path"],
)
def test_a_base_url_with_a_path_is_named_as_the_cause_before_any_budget(
    path: str, answered: str, cause: str
) -> None:
    # Before: the fake at http://HOST:PORT/api/v3 was taken for a paid server (its spec is
    # at /openapi.yaml, not /api/v3/openapi.yaml) and the run refused for a budget of $0
    # ("refusing to start: this run could spend up to ..."); the 404 showed only with one.
    with serving() as (origin, service):
        state = ContractSession(TargetOptions(base_url=origin + path, api_key=KEY))
        state.flag_prefix = "--"  # as verify sets it
        with pytest.raises(NotWavespeed) as caught:
            state.open(PLAN)
        submitted = service.journal.entries(path="/api/v3/wavespeed-ai/")
    first, advice = str(caught.value).splitlines()
    given = origin + path.rstrip("/")
    route = f"{path.rstrip('/')}/api/v3/balance"
    assert first == (
        f"{given} is not a WaveSpeed API at this URL: GET {route} answered {answered} "
        f"{route} (Server: uvicorn)"
    )
    assert advice == f"--base-url should be the origin, e.g. {origin}: {cause}."
    assert state.target is None
    assert submitted == []


@pytest.mark.parametrize("budget_micros", [0, 10**9], ids=["over budget", "within budget"])
def test_an_unreachable_target_is_reported_as_such_before_any_budget_talk(
    budget_micros: int,
) -> None:
    """Not treated as paid (and refused for its budget): nothing answered at all."""
    url = f"http://127.0.0.1:{free_port()}"
    state = ContractSession(TargetOptions(base_url=url, api_key=KEY, budget_micros=budget_micros))
    with pytest.raises(TargetUnreachable) as caught:
        state.open(PLAN)
    cause, advice = str(caught.value).splitlines()
    assert cause == f"cannot reach {url}: connection refused"
    assert advice.startswith("Nothing answers there: is the server running, and is ")
    assert state.target is None
