"""Webhooks as a receiver sees them: signed as documented, the bare prediction, once done.

The suite starts a receiver on loopback (or uses the one the user exposes
with ``--wavespeed-webhook-url``), submits a job with ``?webhook=``, and
holds the delivery to the documented scheme with the reference verifier of
:mod:`mock_api.contract.webhooks`: ``webhook-id``, ``webhook-timestamp``
(unix seconds, within 300 s) and ``webhook-signature: v3,<hex>`` over
``id.timestamp.body`` with the secret from ``/api/v3/webhook/secret``. The
verifier must also refuse the same delivery with one byte of its body
changed, so a verifier that accepts anything cannot pass.
"""

from __future__ import annotations

import json

import httpx
import pytest

from mock_api.contract.budget import Spender, priced
from mock_api.contract.invariants import TERMINAL
from mock_api.contract.jobs import SUBMIT_PATH, JobInputs, upload_silence
from mock_api.contract.target import Target
from mock_api.contract.webhooks import (
    Delivery,
    WebhookReceiver,
    WebhookRejected,
    verify_delivery,
)

WEBHOOK_PLAN = priced("webhooks", [(1000, 2000, "meanwhile")], "5 s minimum")
#: How long a delivery may take after the job ends, in wall seconds: the fake
#: delivers at once (its retries come after 1, 2, 4 s), the real service within seconds.
DELIVERY_WAIT_SECONDS = {True: 8.0, False: 60.0}


@pytest.mark.spends(WEBHOOK_PLAN)
def test_webhook_is_signed_as_documented(
    target: Target,
    api: httpx.Client,
    cdn: httpx.Client,
    video_url: str,
    spender: Spender,
    webhook_receiver: WebhookReceiver,
) -> None:
    """a finished job's webhook carries the bare prediction, signed over id.timestamp.body"""
    secret_answer = api.get("/api/v3/webhook/secret")
    assert secret_answer.status_code == 200, secret_answer.text[:500]
    secret = str(secret_answer.json()["data"]["secret"])
    left = upload_silence(api, cdn, 1000, "left")
    right = upload_silence(api, cdn, 2000, "right")
    headers = target.force_outcome("complete") if target.can_force_outcomes else {}
    spender.reserve(WEBHOOK_PLAN.label, WEBHOOK_PLAN.each_micros)
    answer = api.post(
        SUBMIT_PATH,
        params={"webhook": webhook_receiver.url},
        json=JobInputs(video_url, left, right, "meanwhile").body(seed=7),
        headers=headers,
    )
    assert answer.status_code == 200, answer.text[:500]
    job_id = str(answer.json()["data"]["id"])
    final = target.poller(api).follow(job_id)[-1]

    def for_this_job(delivery: Delivery) -> bool:
        return job_id.encode() in delivery.body  # however it is shaped: judged below

    nudge = None
    if target.has_control:
        control = target.client(auth=False)

        def nudge() -> None:  # deliveries due on the fake's clock go out now
            control.post("/_mock/webhooks/pump")

    wait = DELIVERY_WAIT_SECONDS[target.is_fake]
    delivery = webhook_receiver.wait_for(for_this_job, wait, nudge=nudge)
    assert delivery is not None, (
        f"no webhook for job {job_id} reached {webhook_receiver.url} within "
        f"{wait:g} s of it ending {final.get('status')!r}"
    )
    verify_delivery(secret, delivery.headers, delivery.body, now=target.now())
    payload = json.loads(delivery.body)
    bare = f"the webhook body is not the bare prediction of {job_id}: {delivery.body[:300]!r}"
    assert "data" not in payload, bare
    assert payload.get("id") == job_id, bare
    assert payload.get("status") in TERMINAL, f"a webhook for an unfinished job: {payload}"
    assert payload.get("status") == final.get("status"), (payload, final)
    tampered = delivery.body.replace(job_id.encode(), job_id[::-1].encode(), 1)
    try:
        verify_delivery(secret, delivery.headers, tampered, now=target.now())
    except WebhookRejected:
        pass
    else:
        raise AssertionError("the reference verifier accepted a delivery whose body was changed")
