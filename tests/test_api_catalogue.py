"""The model catalogue, both balance paths and price quotes, through HTTP."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import httpx
import jsonschema
import pytest

from mock_api import Settings
from mock_api.billing import BillingPolicy
from mock_api.models import MODELS
from tests.helpers import AUTH, SUBMIT, MakeClient, auth, job_input, silence, video

pytestmark = pytest.mark.anyio

MODEL = "wavespeed-ai/infinitetalk-fast/video-to-video-multi"
PRICE = "/api/v3/model/price"
PRICING = "/api/v3/model/pricing"


async def _data(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["code"], body["message"]) == (200, "success")
    return body["data"]


async def test_the_catalogue_reads_as_the_official_clients_read_it(
    client: httpx.AsyncClient,
) -> None:
    """WaveSpeed's CLI, MCP server and desktop app: ``data`` is a list of ``LiveModel``."""
    models = await _data(await client.get("/api/v3/models", headers=AUTH))
    assert isinstance(models, list)
    [ours] = [m for m in models if m["model_id"] == MODEL]
    assert ours["name"] == MODEL
    assert ours["description"].startswith("InfiniteTalk fast video-to-video multi")
    assert ours["type"] == "digital-human"
    assert ours["base_price"] == 0.075  # $0.075 per 5 s block: $0.015/s
    # The MCP server's list_models filters by type; get_model_schema and the CLI's
    # `schema` read this path.
    [api] = ours["api_schema"]["api_schemas"]
    schema = api["request_schema"]
    assert schema["required"] == ["left_audio", "right_audio", "video"]
    assert schema["properties"]["order"]["enum"] == ["meanwhile", "left_right", "right_left"]
    assert schema["x-order-properties"][:3] == ["video", "left_audio", "right_audio"]
    # Standing alone: no references into a document the client does not have.
    assert "$ref" not in str(schema)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(job_input(), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**job_input(), "order": "sideways"}, schema)
    # The CLI's pricing-vars reads the inputs that move the price out of the formula.
    assert "get_duration_v3(left_audio)" in ours["formula"]
    assert "base_price" in ours["formula"]


async def test_the_catalogue_adds_only_what_a_named_client_reads(
    client: httpx.AsyncClient,
) -> None:
    """The real entry's fields, plus ``sort_order`` (WaveSpeed's CLI: ``models --popular``)."""
    models = await _data(await client.get("/api/v3/models", headers=AUTH))
    real = {"model_id", "name", "type", "description", "base_price", "formula", "api_schema"}
    for entry in models:
        assert set(entry) == real | {"sort_order"}
        assert entry["sort_order"] <= 10_000  # the CLI's threshold of "popular"
        assert set(entry["api_schema"]) == {"api_schemas"}
        assert [set(s) for s in entry["api_schema"]["api_schemas"]] == [{"request_schema"}]
    orders = [m["sort_order"] for m in models]
    assert orders == sorted(orders)


async def test_every_served_model_is_listed_once(client: httpx.AsyncClient) -> None:
    models = await _data(await client.get("/api/v3/models", headers=AUTH))
    assert [m["model_id"] for m in models] == [m.id for m in MODELS]


@pytest.mark.parametrize("name", ["type", "category"])
@pytest.mark.parametrize(
    ("wanted", "everything"),
    [("digital-human", True), ("DIGITAL-HUMAN", True), ("text-to-image", False), ("", False)],
)
async def test_the_catalogue_filters_by_type_under_either_name(
    client: httpx.AsyncClient, name: str, wanted: str, everything: bool
) -> None:
    response = await client.get("/api/v3/models", params={name: wanted}, headers=AUTH)
    listed = [m["model_id"] for m in await _data(response)]
    assert listed == ([m.id for m in MODELS] if everything else [])


async def test_both_filters_must_hold(client: httpx.AsyncClient) -> None:
    params = {"type": "digital-human", "category": "text-to-image"}
    response = await client.get("/api/v3/models", params=params, headers=AUTH)
    assert await _data(response) == []


async def test_the_catalogue_describes_the_service_whatever_the_billing_options(
    make_client: MakeClient,
) -> None:
    """``--min-seconds`` bills our model otherwise; the catalogue says what the service says."""
    policy = BillingPolicy(rate_micros_per_second=20_000, minimum_seconds=3)
    async with make_client(Settings(billing=policy)) as client:
        models = await _data(await client.get("/api/v3/models", headers=AUTH))
    by_id = {m["model_id"]: m for m in models}
    assert by_id[MODEL]["base_price"] == 0.075
    assert "$max([5, " in by_id[MODEL]["formula"]
    assert by_id["wavespeed-ai/infinitetalk"]["base_price"] == 0.15
    assert 'resolution = "720p" ? 2' in by_id["wavespeed-ai/infinitetalk"]["formula"]


async def test_the_catalogue_needs_a_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v3/models")
    assert response.status_code == 401
    assert response.json()["error_code"] == "unauthorized"


async def test_both_balance_paths_answer_the_same(client: httpx.AsyncClient) -> None:
    await client.post(SUBMIT, json=job_input(left=4, right=6, order="left_right"), headers=AUTH)
    documented = await client.get("/api/v3/account/balance", headers=AUTH)
    sdk = await client.get("/api/v3/balance", headers=AUTH)
    assert documented.status_code == sdk.status_code == 200
    assert documented.json() == sdk.json()
    assert documented.json()["data"] == {"balance": 99.85, "currency": "USD"}
    other = await client.get("/api/v3/account/balance", headers=auth("another-key"))
    assert other.json()["data"]["balance"] == 100


async def _balance(client: httpx.AsyncClient) -> Decimal:
    data = await _data(await client.get("/api/v3/balance", headers=AUTH))
    return Decimal(str(data["balance"]))


async def _price(client: httpx.AsyncClient, inputs: dict[str, Any]) -> httpx.Response:
    return await client.post(PRICE, json={"model_id": MODEL, "inputs": inputs}, headers=AUTH)


async def test_a_quote_has_the_shape_the_mcp_server_reads(client: httpx.AsyncClient) -> None:
    inputs = {"left_audio": silence(4), "right_audio": silence(6), "order": "left_right"}
    quote = await _data(await _price(client, inputs))
    assert quote["model_id"] == MODEL
    assert quote["price"] == quote["discounted_price"] == 0.15
    assert quote["discount_rate"] == 0
    assert quote["currency"] == "USD"
    assert quote["billed_seconds"] == 10


@pytest.mark.parametrize(
    ("left", "right", "order"),
    [(4, 6, "left_right"), (4, 6, "meanwhile"), (1, 2, "meanwhile"), (5.04, 5, "right_left")],
)
async def test_a_quote_is_what_the_submission_is_charged(
    client: httpx.AsyncClient, left: float, right: float, order: str
) -> None:
    """The same probing and the same rule: the quote equals the balance's drop."""
    inputs = job_input(left=left, right=right, order=order)
    quote = await _data(await _price(client, inputs))
    before = Decimal(
        str((await _data(await client.get("/api/v3/balance", headers=AUTH)))["balance"])
    )
    submitted = await client.post(SUBMIT, json=inputs, headers=AUTH)
    assert submitted.status_code == 200
    after = Decimal(
        str((await _data(await client.get("/api/v3/balance", headers=AUTH)))["balance"])
    )
    assert before - after == Decimal(str(quote["price"]))


async def test_a_quote_without_the_audio_is_the_minimum(client: httpx.AsyncClient) -> None:
    """As WaveSpeed's pricing endpoint: partial inputs price the missing length as none."""
    for inputs in ({}, {"order": "left_right"}, {"video": video(), "mask_image": ""}):
        quote = await _data(await _price(client, inputs))
        assert (quote["price"], quote["billed_seconds"]) == (0.075, 5)
    missing = await client.post(PRICE, json={"model_id": MODEL}, headers=AUTH)
    assert (await _data(missing))["price"] == 0.075


async def test_a_quote_of_media_that_cannot_be_read_is_a_400_naming_it(
    client: httpx.AsyncClient,
) -> None:
    response = await _price(client, {"left_audio": silence(4), "right_audio": video(3)})
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "invalid_request"
    assert body["message"].startswith('field "inputs.right_audio" cannot be read: ')
    assert body["details"][0]["field"] == "inputs.right_audio"
    remote = await _price(client, {"left_audio": "https://media.invalid/a.wav"})
    assert remote.status_code == 400
    assert remote.json()["details"][0]["field"] == "inputs.left_audio"


@pytest.mark.parametrize(
    ("inputs", "field"),
    [
        ({"order": "sideways"}, "inputs.order"),
        ({"order": ["left_right"]}, "inputs.order"),
        ({"left_audio": 5}, "inputs.left_audio"),
        ({"video": video(601)}, "inputs.video"),
    ],
)
async def test_a_quote_of_inputs_that_cannot_be_priced_is_a_400_naming_them(
    client: httpx.AsyncClient, inputs: dict[str, Any], field: str
) -> None:
    response = await _price(client, inputs)
    assert response.status_code == 400, response.text
    assert response.json()["details"][0]["field"] == field


@pytest.mark.parametrize("path", [PRICE, PRICING])
async def test_a_quote_for_an_unknown_model_is_a_404_naming_the_catalogue(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.post(path, json={"model_id": "acme/nothing"}, headers=AUTH)
    assert response.status_code == 404
    message = response.json()["message"]
    assert message.startswith('model_id "acme/nothing" is not a model this server serves')
    assert "GET /api/v3/models" in message


async def test_a_quote_reads_media_given_as_data_uris(client: httpx.AsyncClient) -> None:
    wav = (await client.get(silence(7))).content
    uri = "data:audio/wav;base64," + base64.b64encode(wav).decode()
    quote = await _data(await _price(client, {"left_audio": uri, "right_audio": silence(2)}))
    assert quote["billed_seconds"] == 7


async def test_a_quote_charges_nothing(client: httpx.AsyncClient) -> None:
    await _data(await _price(client, {"left_audio": silence(30)}))
    assert (await _data(await client.get("/api/v3/balance", headers=AUTH)))["balance"] == 100


@pytest.mark.parametrize(
    ("model_id", "inputs", "price", "billed"),
    [
        ("wavespeed-ai/infinitetalk", {"audio": silence(1.2)}, 0.15, 5),
        ("wavespeed-ai/infinitetalk", {"audio": silence(7.3), "resolution": "720p"}, 0.48, 8),
        ("wavespeed-ai/infinitetalk/video-to-video", {"audio": silence(4)}, 0.15, 5),
        ("wavespeed-ai/infinitetalk-fast", {"audio": silence(6.2)}, 0.105, 7),
        (
            "wavespeed-ai/infinitetalk/multi",
            {"left_audio": silence(4), "right_audio": silence(6.5), "order": "left_right"},
            0.33,
            11,
        ),
        (
            "wavespeed-ai/infinitetalk/video-to-video-multi",
            {"left_audio": silence(4), "right_audio": silence(6.5), "resolution": "720p"},
            0.42,
            7,
        ),
        ("wavespeed-ai/infinitetalk-fast/multi", {"left_audio": silence(9.5)}, 0.15, 10),
        ("wavespeed-ai/infinitetalk-fast/video-to-video", {"audio": silence(2)}, 0.075, 5),
        ("wavespeed-ai/infinitetalk-fast/video-to-video", {}, 0.075, 5),
        ("wavespeed-ai/infinitetalk", {}, 0.15, 5),
    ],
)
async def test_every_model_is_quoted_by_its_own_rule(
    client: httpx.AsyncClient, model_id: str, inputs: dict[str, Any], price: float, billed: int
) -> None:
    quote = await _data(
        await client.post(PRICE, json={"model_id": model_id, "inputs": inputs}, headers=AUTH)
    )
    assert (quote["model_id"], quote["price"], quote["billed_seconds"]) == (model_id, price, billed)


@pytest.mark.parametrize(
    ("model_id", "inputs", "field"),
    [
        ("wavespeed-ai/infinitetalk", {"resolution": "1080p"}, "inputs.resolution"),
        ("wavespeed-ai/infinitetalk/multi", {"order": "sideways"}, "inputs.order"),
        ("wavespeed-ai/infinitetalk", {"audio": "https://127.0.0.1:1/x.wav"}, "inputs.audio"),
        ("wavespeed-ai/infinitetalk", {"image": silence(1)}, "inputs.image"),
    ],
)
async def test_a_quote_refuses_what_the_model_cannot_price(
    client: httpx.AsyncClient, model_id: str, inputs: dict[str, Any], field: str
) -> None:
    response = await client.post(PRICE, json={"model_id": model_id, "inputs": inputs}, headers=AUTH)
    assert response.status_code == 400, response.text
    assert response.json()["details"][0]["field"] == field


async def test_a_one_speaker_quote_ignores_an_order_it_does_not_have(
    client: httpx.AsyncClient,
) -> None:
    body = {"model_id": "wavespeed-ai/infinitetalk", "inputs": {"order": "sideways"}}
    quote = await _data(await client.post(PRICE, json=body, headers=AUTH))
    assert quote["price"] == 0.15


@pytest.mark.parametrize(
    ("model_id", "inputs", "unit_price"),
    [
        (MODEL, {"left_audio": silence(4), "right_audio": silence(6), "order": "left_right"}, 0.15),
        (MODEL, {}, 0.075),
        ("wavespeed-ai/infinitetalk/multi", {"left_audio": silence(8), "resolution": "720p"}, 0.48),
    ],
)
async def test_the_older_pricing_path_answers_unit_price_as_the_cli_reads_it(
    client: httpx.AsyncClient, model_id: str, inputs: dict[str, Any], unit_price: float
) -> None:
    """``POST /model/pricing``: WaveSpeed's CLI (``wavespeed price``) and desktop app."""
    body = {"model_id": model_id, "inputs": inputs}
    pricing = await _data(await client.post(PRICING, json=body, headers=AUTH))
    assert pricing == {"model_id": model_id, "unit_price": unit_price, "currency": "USD"}
    price = await _data(await client.post(PRICE, json=body, headers=AUTH))
    assert price["price"] == unit_price


@pytest.mark.parametrize(
    ("inputs", "field"),
    [({"order": "sideways"}, "inputs.order"), ({"left_audio": 5}, "inputs.left_audio")],
)
async def test_the_older_pricing_path_refuses_what_price_refuses(
    client: httpx.AsyncClient, inputs: dict[str, Any], field: str
) -> None:
    response = await client.post(PRICING, json={"model_id": MODEL, "inputs": inputs}, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == field
    assert (await client.post(PRICING, json={}, headers=AUTH)).status_code == 400
