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
from mock_api.models import DEFAULT_MODEL, MODELS, MODELS_BY_ID
from mock_api.spec import default_spec
from tests.helpers import AUTH, SUBMIT, MakeClient, auth, job_input, silence, video

pytestmark = pytest.mark.anyio

MODEL = "wavespeed-ai/infinitetalk-fast/video-to-video-multi"
PRICE = "/api/v3/model/price"


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
    assert ours["name"]
    assert ours["description"]
    assert ours["type"] == "video-to-video"
    assert ours["base_price"] == 0.075  # the 5 s minimum at $0.015/s
    # The MCP server's list_models filters by type; get_model_schema reads this path.
    [api] = ours["api_schema"]["api_schemas"]
    schema = api["request_schema"]
    assert api["api_path"] == f"/api/v3/{MODEL}"
    assert schema["required"] == ["video", "left_audio", "right_audio"]
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


async def test_the_catalogue_carries_the_docs_names_and_not_their_items_wrapper(
    client: httpx.AsyncClient,
) -> None:
    """The docs' reading: every entry has ``model_uuid, name, category, description``.

    Their ``data.items`` wrapper cannot coexist with the list every official
    client reads, so a client written from that page alone finds no ``items``
    (the README says why the list won).
    """
    models = await _data(await client.get("/api/v3/models", headers=AUTH))
    for entry in models:
        assert entry["model_uuid"] == entry["model_id"]
        assert entry["category"] == entry["type"]
        assert {"model_uuid", "name", "category", "description"} <= entry.keys()
    assert not isinstance(models, dict)  # data.items does not exist


async def test_every_served_model_is_listed_once(client: httpx.AsyncClient) -> None:
    models = await _data(await client.get("/api/v3/models", headers=AUTH))
    assert [m["model_id"] for m in models] == [m.id for m in MODELS]


V2V = [
    "wavespeed-ai/infinitetalk/video-to-video",
    "wavespeed-ai/infinitetalk/video-to-video-multi",
    "wavespeed-ai/infinitetalk-fast/video-to-video",
    MODEL,
]
I2V = [
    "wavespeed-ai/infinitetalk",
    "wavespeed-ai/infinitetalk/multi",
    "wavespeed-ai/infinitetalk-fast/multi",
]


@pytest.mark.parametrize(
    ("category", "listed"),
    [
        ("video-to-video", V2V),
        ("VIDEO-TO-VIDEO", V2V),
        ("image-to-video", I2V),
        ("text-to-image", []),
        ("", []),
    ],
)
async def test_the_catalogue_filters_by_category(
    client: httpx.AsyncClient, category: str, listed: list[str]
) -> None:
    response = await client.get("/api/v3/models", params={"category": category}, headers=AUTH)
    assert [m["model_id"] for m in await _data(response)] == listed


async def test_the_catalogue_base_price_follows_the_billing_policy(
    make_client: MakeClient,
) -> None:
    """Ours follows ``Settings.billing`` whole; the family keeps its own rates and minimums."""
    policy = BillingPolicy(rate_micros_per_second=20_000, minimum_seconds=3)
    async with make_client(Settings(billing=policy)) as client:
        models = await _data(await client.get("/api/v3/models", headers=AUTH))
    by_id = {m["model_id"]: m for m in models}
    model = by_id[MODEL]
    assert model["base_price"] == 0.06
    assert "$max([3, " in model["formula"]
    # 480p floors: 3 s or 5 s at $0.03/s; the fast ones 5 s at $0.015/s.
    assert {k: m["base_price"] for k, m in by_id.items() if k != MODEL} == {
        "wavespeed-ai/infinitetalk": 0.09,
        "wavespeed-ai/infinitetalk/multi": 0.15,
        "wavespeed-ai/infinitetalk/video-to-video": 0.09,
        "wavespeed-ai/infinitetalk/video-to-video-multi": 0.15,
        "wavespeed-ai/infinitetalk-fast/multi": 0.075,
        "wavespeed-ai/infinitetalk-fast/video-to-video": 0.075,
    }
    assert 'resolution = "720p" ? 2' in by_id["wavespeed-ai/infinitetalk"]["formula"]
    assert "get_duration_v3(audio)" in by_id["wavespeed-ai/infinitetalk"]["formula"]


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
    assert quote["price"] == quote["discounted_price"] == quote["unit_price"] == 0.15
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


async def test_a_quote_for_an_unknown_model_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post(PRICE, json={"model_id": "acme/nothing"}, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "model_id"


async def test_a_quote_reads_media_given_as_data_uris(client: httpx.AsyncClient) -> None:
    wav = (await client.get(silence(7))).content
    uri = "data:audio/wav;base64," + base64.b64encode(wav).decode()
    quote = await _data(await _price(client, {"left_audio": uri, "right_audio": silence(2)}))
    assert quote["billed_seconds"] == 7


async def test_a_quote_charges_nothing(client: httpx.AsyncClient) -> None:
    await _data(await _price(client, {"left_audio": silence(30)}))
    assert (await _data(await client.get("/api/v3/balance", headers=AUTH)))["balance"] == 100


def test_the_spec_prices_exactly_the_models_served() -> None:
    """A model added to ``mock_api.models`` must be added to the price request's enum too."""
    schemas = default_spec().document["components"]["schemas"]
    assert schemas["PriceRequest"]["properties"]["model_id"]["enum"] == [m.id for m in MODELS]
    for model in MODELS:
        assert model.input_schema in schemas
        assert f"/api/v3/{model.id}" in default_spec().document["paths"]


@pytest.mark.parametrize(
    ("model_id", "inputs", "price", "billed"),
    [
        ("wavespeed-ai/infinitetalk", {"audio": silence(1.2)}, 0.09, 3),
        ("wavespeed-ai/infinitetalk", {"audio": silence(7.3), "resolution": "720p"}, 0.48, 8),
        ("wavespeed-ai/infinitetalk/video-to-video", {"audio": silence(4)}, 0.12, 4),
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
        ("wavespeed-ai/infinitetalk", {}, 0.09, 3),
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
    assert quote["price"] == 0.09


def test_the_formula_names_the_inputs_that_set_the_price() -> None:
    """The form WaveSpeed's CLI quotes for ``wavespeed-ai/infinitetalk`` (one audio)."""
    single = MODELS_BY_ID["wavespeed-ai/infinitetalk-fast/video-to-video"]
    assert single.formula(BillingPolicy()) == (
        '{"total_price": $max([5, $min([$ceil(get_duration_v3(audio)), 600])]) / 5 * base_price}'
    )
    assert DEFAULT_MODEL.formula(BillingPolicy()) == (
        '{"total_price": $max([5, $min([$ceil((order = "meanwhile" ? '
        "$max([get_duration_v3(left_audio), get_duration_v3(right_audio)]) : "
        "get_duration_v3(left_audio) + get_duration_v3(right_audio))), 600])]) / 5 * base_price}"
    )
