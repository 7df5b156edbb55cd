"""The catalogue, price quotes and both balance paths, held to the rule and to each other.

* **Quotes equal charges.** ``POST /api/v3/model/price`` and its older name
  ``/model/pricing``, asked for the exact inputs of a job about to be
  submitted, both quote the documented rule's amount, and the job is then
  charged exactly that. A quote of no inputs is the minimum (5 s).
* **The catalogue agrees with the rule.** Every model of the documented family
  (:data:`~mock_api.contract.rule.FAMILY`) is listed, with a ``base_price``
  that is its rate at its default resolution for 5 s, and a ``formula`` that
  states the 5 s minimum, the 600 s cap and, for the standard models, the
  doubling at 720p.
* **Catalogue coverage.** Every model the spec gives a submission route is
  listed; every listed model is served (an empty submission is refused for its
  missing inputs, 400, never "no such model", 404); the ``type`` and
  ``category`` filters return exactly the models of the type they name.
* **Both balance paths agree**, in the same unit, read back to back.

Nothing here is charged but the one quoted job (on a paid target: its price
is planned and held to the budget like every other).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import httpx
import pytest

from mock_api.contract.budget import Spender, priced
from mock_api.contract.charges import BillingCase, check_charge
from mock_api.contract.jobs import SUBMIT_PATH
from mock_api.contract.rule import FAMILY, MAXIMUM_SECONDS, MINIMUM_SECONDS, tariff, usd
from mock_api.contract.target import Target
from mock_api.spec import default_spec

OURS = SUBMIT_PATH.removeprefix("/api/v3/")
#: 7.2 s and 2.1 s at once: 8 s, over the minimum, so a quote of the minimum is caught.
QUOTED = BillingCase(7200, 2100, "meanwhile")
QUOTE_PLAN = priced(
    "quotes equal charges",
    [(QUOTED.left_ms, QUOTED.right_ms, QUOTED.order)],
    "one job over the minimum: its quote, then its charge",
)


def _data(response: httpx.Response, operation_id: str) -> Any:
    assert response.status_code == 200, (
        f"{response.request.method} {response.request.url.path} answered "
        f"{response.status_code}: {response.text[:400]}"
    )
    body = json.loads(response.text, parse_float=Decimal)
    violations = default_spec().response_violations(operation_id, 200, response.json())
    assert not violations, f"{response.request.url.path} broke openapi.yaml: {violations}"
    return body["data"]


def _micros(usd_amount: Any) -> int:
    return int(Decimal(str(usd_amount)) * 1_000_000)


def _quotes(api: httpx.Client, inputs: dict[str, Any]) -> dict[str, int]:
    """Both quote paths' amounts for ``inputs`` of our model, in micro-dollars."""
    body = {"model_id": OURS, "inputs": inputs}
    price = _data(api.post("/api/v3/model/price", json=body), "quoteModelPrice")
    pricing = _data(api.post("/api/v3/model/pricing", json=body), "quoteModelPricing")
    return {
        "POST /api/v3/model/price (price)": _micros(price["price"]),
        "POST /api/v3/model/pricing (unit_price)": _micros(pricing["unit_price"]),
    }


@pytest.mark.spends(QUOTE_PLAN)
def test_a_quote_is_what_the_job_is_charged(
    target: Target, api: httpx.Client, cdn: httpx.Client, video_url: str, spender: Spender
) -> None:
    """both quote paths, asked for a job's exact inputs, quote the rule; the job costs that"""
    quoted: dict[str, int] = {}

    def quote(body: dict[str, Any]) -> None:
        quoted.update(_quotes(api, body))

    result = check_charge(
        target,
        client=api,
        cdn=cdn,
        video_url=video_url,
        case=QUOTED,
        outcome="complete" if target.can_force_outcomes else None,
        spender=spender,
        label=QUOTE_PLAN.label,
        before_submit=quote,
    )
    expected = QUOTED.expected_micros
    wrong = {path: usd(amount) for path, amount in quoted.items() if amount != expected}
    assert not wrong, (
        f"quotes: for a job of {QUOTED} the rule says {usd(expected)} ({QUOTED.explain()}); "
        f"quoted {wrong}"
    )
    if result.status == "completed":
        assert result.charged_micros == expected  # check_charge held it to the rule too


def test_a_quote_of_no_inputs_is_the_minimum(api: httpx.Client) -> None:
    """no media yet: both quote paths say the 5 s minimum, never $0"""
    minimum = MINIMUM_SECONDS * tariff(OURS).rate_micros_per_second
    quoted = _quotes(api, {})
    wrong = {path: usd(amount) for path, amount in quoted.items() if amount != minimum}
    assert not wrong, (
        f"quotes: with no inputs the price is the {MINIMUM_SECONDS} s minimum, "
        f"{usd(minimum)}; quoted {wrong}"
    )


def _catalogue(api: httpx.Client, **query: str) -> list[dict[str, Any]]:
    models = _data(api.get("/api/v3/models", params=query), "listModels")
    assert isinstance(models, list), f"GET /api/v3/models: data is not a list: {models!r}"
    return models


def test_the_catalogue_prices_every_model_as_the_rule(api: httpx.Client) -> None:
    """each model's base_price is its rate for 5 s; its formula states minimum, cap and 720p"""
    listed = {str(m.get("model_id")): m for m in _catalogue(api)}
    wrong: list[str] = []
    for model, tariffs in FAMILY.items():
        entry = listed.get(model)
        if entry is None:
            wrong.append(f"{model}: not listed")
            continue
        default = tariff(model)
        want = 5 * default.rate_micros_per_second
        if _micros(entry.get("base_price")) != want:
            wrong.append(
                f"{model}: base_price {entry.get('base_price')}, the rule's "
                f"{usd(want)} per 5 s at its default resolution"
            )
        formula = str(entry.get("formula", ""))
        numbers = [int(n) for n in re.findall(r"\$max\(\[(\d+),", formula)]
        if MINIMUM_SECONDS not in numbers or f", {MAXIMUM_SECONDS}])" not in formula:
            wrong.append(
                f"{model}: its formula does not state the {MINIMUM_SECONDS} s minimum and the "
                f"{MAXIMUM_SECONDS} s cap: {formula}"
            )
        doubles = tariffs.get("720p") is not None and tariffs["720p"].rate_micros_per_second == (
            2 * default.rate_micros_per_second
        )
        if doubles != ('resolution = "720p" ? 2' in formula):
            wrong.append(f"{model}: its formula and the rule disagree on 720p: {formula}")
    assert not wrong, "catalogue: " + "; ".join(wrong)


def test_every_listed_model_is_served_and_every_served_model_listed(
    api: httpx.Client,
) -> None:
    """the catalogue lists exactly the models with a submission route, and filters by type"""
    listed = _catalogue(api)
    ids = [str(m.get("model_id")) for m in listed]
    served = [
        op.path.removeprefix("/api/v3/")
        for op in default_spec().operations
        if "x-model" in op.definition
    ]
    missing = sorted(set(served) - set(ids))
    assert not missing, f"catalogue: served but not listed: {missing}"
    assert len(ids) == len(set(ids)), f"catalogue: a model listed twice: {ids}"
    for model in ids:
        refused = api.post(f"/api/v3/{model}", json={})
        assert refused.status_code == 400, (
            f"catalogue: {model} is listed, but an empty submission to it answered "
            f"{refused.status_code}, not 400 for its missing inputs: {refused.text[:300]}"
        )
    for kind in sorted({str(m.get("type")) for m in listed}):
        want = [str(m.get("model_id")) for m in listed if m.get("type") == kind]
        for name in ("type", "category"):
            got = [str(m.get("model_id")) for m in _catalogue(api, **{name: kind})]
            assert sorted(got) == sorted(want), (
                f"catalogue: ?{name}={kind} listed {got}, the models of type {kind} are {want}"
            )
    unknown = _catalogue(api, type="no-such-type-of-model")
    assert unknown == [], f"catalogue: ?type=no-such-type-of-model listed {unknown}"


def test_both_balance_paths_agree(api: httpx.Client) -> None:
    """GET /api/v3/balance and /api/v3/account/balance, read back to back, say the same USD"""
    first = _data(api.get("/api/v3/balance"), "getBalance")
    other = _data(api.get("/api/v3/account/balance"), "getAccountBalance")
    again = _data(api.get("/api/v3/balance"), "getBalance")
    assert first["balance"] == again["balance"], "balance: moved between two reads"
    assert (other["balance"], other.get("currency")) == (first["balance"], "USD"), (
        f"balance: /api/v3/balance says {first['balance']} USD, /api/v3/account/balance "
        f"says {other['balance']} {other.get('currency')}"
    )
