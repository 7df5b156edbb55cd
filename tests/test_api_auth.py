"""Every /api/v3 operation needs a key; each key is its own account."""

from __future__ import annotations

import re
from decimal import Decimal

import httpx
import pytest

from mock_api import Settings
from mock_api.spec import default_spec
from tests.helpers import SUBMIT, MakeClient, job_input

pytestmark = pytest.mark.anyio

API_OPERATIONS = [op for op in default_spec().operations if op.path.startswith("/api/v3/")]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "0123456789abcdef0123456789abcdef", path)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "test-key"},
    ],
    ids=["none", "empty", "bearer-without-key", "basic", "no-scheme"],
)
@pytest.mark.parametrize("op", API_OPERATIONS, ids=[op.operation_id for op in API_OPERATIONS])
async def test_operation_refuses_missing_or_malformed_keys(
    client: httpx.AsyncClient,
    op,
    headers: dict[str, str],
) -> None:
    response = await client.request(op.method.upper(), _concrete(op.path), headers=headers, json={})
    assert response.status_code == 401
    body = response.json()
    assert (body["code"], body["data"]) == (401, None)
    assert "Authorization" in body["message"]


async def test_restricted_keys(make_client: MakeClient) -> None:
    async with make_client(Settings(api_keys=frozenset({"good"}))) as client:
        bad = await client.get("/api/v3/balance", headers={"Authorization": "Bearer bad"})
        assert (bad.status_code, bad.json()["message"]) == (401, "invalid API key")
        good = await client.get("/api/v3/balance", headers={"Authorization": "Bearer good"})
        assert good.status_code == 200


async def test_accounts_have_their_own_balances(client: httpx.AsyncClient) -> None:
    alice, bob = {"Authorization": "Bearer alice"}, {"Authorization": "Bearer bob"}
    assert (
        await client.post(SUBMIT, json=job_input(left=10, right=1), headers=alice)
    ).status_code == 200
    alice_balance = (await client.get("/api/v3/balance", headers=alice)).json()["data"]["balance"]
    bob_balance = (await client.get("/api/v3/balance", headers=bob)).json()["data"]["balance"]
    assert Decimal(str(alice_balance)) == Decimal("99.85")
    assert Decimal(str(bob_balance)) == Decimal(100)
