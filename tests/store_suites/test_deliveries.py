"""Webhook deliveries: claimed once when due, released with their attempts.

Run against every store of ``STORES`` (``tests/store_suites/conftest.py``).
"""

from __future__ import annotations

from mock_api.storage import Store
from mock_api.webhooks import Attempt, DeliveryState, DeliveryStore
from tests.store_suites.conftest import T0, make_delivery


def test_deliveries_are_claimed_once_when_due_and_released_with_their_attempts(
    deliveries: DeliveryStore,
) -> None:
    deliveries.add_delivery(make_delivery("msg_1", "j1", next_attempt_ms=T0))
    deliveries.add_delivery(make_delivery("msg_2", "j2", next_attempt_ms=T0 + 5_000))
    assert deliveries.claim_due_deliveries(T0 - 1, lease_seconds=60) == []
    [claimed] = deliveries.claim_due_deliveries(T0, lease_seconds=60)
    assert (claimed.id, claimed.in_flight) == ("msg_1", True)
    assert deliveries.claim_due_deliveries(T0 + 10_000, lease_seconds=60) == [
        make_delivery("msg_2", "j2", next_attempt_ms=T0 + 5_000, in_flight=True)
    ]
    assert deliveries.claim_due_deliveries(T0 + 10_000, lease_seconds=60) == []  # both in flight

    claimed.attempts.append(Attempt(T0, 500, "HTTP 500", 1.25))
    claimed.next_attempt_ms = T0 + 1_000
    claimed.in_flight = False
    assert deliveries.deliveries(job_id="j1")[0].attempts == []  # the claim is a copy
    deliveries.release_delivery(claimed)
    [saved] = deliveries.deliveries(job_id="j1")
    assert saved == make_delivery(
        "msg_1", "j1", next_attempt_ms=T0 + 1_000, attempts=[Attempt(T0, 500, "HTTP 500", 1.25)]
    )
    [again] = deliveries.claim_due_deliveries(T0 + 1_000, lease_seconds=60)
    again.attempts.append(Attempt(T0 + 1_000, 200, "", 0.5))
    again.state = DeliveryState.DELIVERED
    deliveries.release_delivery(again)
    assert deliveries.claim_due_deliveries(T0 + 99_000, lease_seconds=60) == []
    assert [d.state for d in deliveries.deliveries(account="acct_1")] == [
        DeliveryState.DELIVERED,
        DeliveryState.PENDING,
    ]
    assert deliveries.deliveries(account="acct_2") == []
    deliveries.clear_deliveries()
    assert deliveries.deliveries() == []


def test_releasing_a_delivery_forgotten_meanwhile_changes_nothing(store: Store) -> None:
    store.deliveries.add_delivery(make_delivery())
    [claimed] = store.deliveries.claim_due_deliveries(T0, lease_seconds=60)
    store.reset()
    store.deliveries.release_delivery(claimed)
    assert store.deliveries.deliveries() == []
