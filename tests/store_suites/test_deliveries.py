"""Webhook deliveries: claimed once when due, released with their attempts.

Run against every store of ``STORES`` (``tests/store_suites/conftest.py``).
"""

from __future__ import annotations

from mock_api.store import Store
from mock_api.webhooks import Attempt, DeliveryState, DeliveryStore
from tests.store_suites.conftest import T0, make_delivery


def test_deliveries_are_claimed_once_when_due_and_released_with_their_attempts(
    store: DeliveryStore,
) -> None:
    store.add_delivery(make_delivery("msg_1", "j1", next_attempt_ms=T0))
    store.add_delivery(make_delivery("msg_2", "j2", next_attempt_ms=T0 + 5_000))
    assert store.claim_due_deliveries(T0 - 1, lease_seconds=60) == []
    [claimed] = store.claim_due_deliveries(T0, lease_seconds=60)
    assert (claimed.id, claimed.in_flight) == ("msg_1", True)
    assert store.claim_due_deliveries(T0 + 10_000, lease_seconds=60) == [
        make_delivery("msg_2", "j2", next_attempt_ms=T0 + 5_000, in_flight=True)
    ]
    assert store.claim_due_deliveries(T0 + 10_000, lease_seconds=60) == []  # both in flight

    claimed.attempts.append(Attempt(T0, 500, "HTTP 500", 1.25))
    claimed.next_attempt_ms = T0 + 1_000
    claimed.in_flight = False
    assert store.deliveries(job_id="j1")[0].attempts == []  # the claim is a copy
    store.release_delivery(claimed)
    [saved] = store.deliveries(job_id="j1")
    assert saved == make_delivery(
        "msg_1", "j1", next_attempt_ms=T0 + 1_000, attempts=[Attempt(T0, 500, "HTTP 500", 1.25)]
    )
    [again] = store.claim_due_deliveries(T0 + 1_000, lease_seconds=60)
    again.attempts.append(Attempt(T0 + 1_000, 200, "", 0.5))
    again.state = DeliveryState.DELIVERED
    store.release_delivery(again)
    assert store.claim_due_deliveries(T0 + 99_000, lease_seconds=60) == []
    assert [d.state for d in store.deliveries(account="acct_1")] == [
        DeliveryState.DELIVERED,
        DeliveryState.PENDING,
    ]
    assert store.deliveries(account="acct_2") == []
    store.clear_deliveries()
    assert store.deliveries() == []


def test_releasing_a_delivery_forgotten_meanwhile_changes_nothing(store: Store) -> None:
    store.add_delivery(make_delivery())
    [claimed] = store.claim_due_deliveries(T0, lease_seconds=60)
    store.reset()
    store.release_delivery(claimed)
    assert store.deliveries() == []
