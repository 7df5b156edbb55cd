"""mock_api.contract.session: choosing the target once per run, and refusing an unusable one."""

from __future__ import annotations

import pytest

from mock_api import Settings, create_app
from mock_api.contract.budget import BudgetExceeded, priced
from mock_api.contract.options import TargetOptions
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
