"""An answer is all or nothing: a submission that does not answer 2xx changes nothing.

Each test here reproduces a way a hostile or unlucky request used to leave
state behind it (a charge without a job, a job without its webhook), on
both stores, and checks the balance, ledger, jobs, deliveries, rule counters,
queued outcomes and journal are exactly as they were before it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_api import ManualClock, MockService, Settings, create_app
from mock_api.lifecycle import Outcome, Status
from mock_api.planning import Directive
from mock_api.scenarios import rule_from_dict
from mock_api.storage import Store
from mock_api.storage.memory import MemoryStore
from mock_api.storage.sqlite import SqliteStore
from mock_api.urls import Urls
from tests.helpers import AUTH, BASE, KEY, SUBMIT, job_input

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "s.db")
    yield made
    made.close()


def _state(service: MockService, account: str) -> dict[str, Any]:
    """Everything a submission may write, as plain values."""
    return {
        "balance": service.accounts.balance(account),
        "ledger": service.store.accounts.ledger(account),
        "jobs": [j.id for j in service.store.jobs.jobs()],
        "deliveries": [d.as_dict() for d in service.webhooks.deliveries()],
        "rules": [r.as_dict() for r in service.scenarios.rules()],
        "journal": [e.describe() for e in service.journal.entries()],
        "queued": list(service._directives),
    }


class Boom(RuntimeError):
    """The failure injected after the charge."""


#: The writes a submission makes, each made for real and then raising, so the test
#: sees that a write done is taken back: the rule's count (before the charge), the
#: charge itself, the job, its webhook; with a queued outcome (no rule is counted) or not.
CASES = [
    ("count_rule", False),
    *((step, queue) for step in ("record", "add_job", "add_delivery") for queue in (False, True)),
]


#: The concern of the store each step is a method of.
CONCERN_OF = {
    "count_rule": "rules",
    "record": "accounts",
    "add_job": "jobs",
    "add_delivery": "deliveries",
}


def _fail_after(store: Store, method: str) -> None:
    concern = getattr(store, CONCERN_OF[method])
    real: Callable[..., Any] = getattr(concern, method)

    def write_then_fail(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)
        raise Boom(f"{method} failed after writing")

    setattr(concern, method, write_then_fail)


@pytest.mark.parametrize(("step", "queue"), CASES)
async def test_a_submission_failing_after_the_charge_leaves_every_store_as_it_was(
    store: Store, step: str, queue: bool
) -> None:
    service = MockService(Settings(random_seed=3), ManualClock(), store)
    account = service.accounts.open(KEY)
    # A counted rule (count_rule happens before the charge: it must be taken back too).
    service.scenarios.add(rule_from_dict({"id": "once", "then": "fail", "times": 1}))
    if queue:
        service.queue_directive(Directive(outcome=Outcome(Status.COMPLETED)))
    urls = Urls(BASE)
    body = job_input(prompt="hello")
    before = _state(service, account)

    _fail_after(store, step)
    with pytest.raises(Boom):
        await service.submit(account, body, urls=urls, webhook="http://127.0.0.1:9/hook")
    assert _state(service, account) == before

    # The retry is accepted, charged once, and uses what the failed attempt gave back.
    del getattr(store, CONCERN_OF[step]).__dict__[step]  # the real method again
    job = await service.submit(account, body, urls=urls, webhook="http://127.0.0.1:9/hook")
    after = _state(service, account)
    assert after["jobs"] == [*before["jobs"], job.id]
    assert job.quote is not None
    assert after["balance"] == before["balance"] - job.quote.cost_micros
    assert [d["job_id"] for d in after["deliveries"]] == [job.id]
    assert after["queued"] == []
    if queue:  # the queued outcome wins over the rule, which does not count
        assert job.plan.outcome.status is Status.COMPLETED
        assert [r["applied"] for r in after["rules"]] == [0]
    else:
        assert job.plan.outcome.status is Status.FAILED
        assert [r["applied"] for r in after["rules"]] == [1]


def _raw(body: dict[str, Any], marker: str, escape: str) -> bytes:
    """``body`` as JSON text, ``marker`` replaced by a raw JSON escape (a lone surrogate)."""
    return json.dumps(body).replace(marker, escape).encode()


async def test_a_webhook_url_with_a_lone_surrogate_is_refused_and_not_charged(
    store: Store,
) -> None:
    # Before: the job was committed and charged, then the webhook insert failed (500 on
    # SQLite), so a client that retried paid twice; in memory the job was kept and
    # /_mock/journal answered 500 from then on.
    service = MockService(Settings(random_seed=3), ManualClock(), store)
    app = create_app(service=service)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        account = service.accounts.open(KEY)
        before = _state(service, account)
        body = _raw(job_input(webhook_url="http://127.0.0.1:9/MARK"), "MARK", "\\ud800")
        response = await client.post(
            SUBMIT, content=body, headers={**AUTH, "Content-Type": "application/json"}
        )
        assert response.status_code == 400
        assert response.json()["details"] == [
            {
                "field": "webhook_url",
                "reason": "holds a lone UTF-16 surrogate, which no UTF-8 text can hold",
                "location": "body",
            }
        ]
        after = _state(service, account)
        assert after["journal"] == [*before["journal"], f"#1 POST {SUBMIT} -> 400 " + (
            "[body 'webhook_url': holds a lone UTF-16 surrogate, which no UTF-8 text can hold]"
        )]  # fmt: skip
        assert {k: v for k, v in after.items() if k != "journal"} == {
            k: v for k, v in before.items() if k != "journal"
        }
        for route in ("/_mock/jobs", "/_mock/journal", "/_mock/webhooks"):
            assert (await client.get(route)).status_code == 200, route
