"""openapi.yaml is valid, and the app serves exactly the operations it describes."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import yaml
from openapi_spec_validator import validate
from starlette.routing import Route

from mock_api import Settings
from mock_api.app import ROUTERS, ROUTES
from mock_api.models import MODELS
from mock_api.routes.predictions import submit_router
from mock_api.spec import SPEC_PATH, default_spec
from tests.helpers import MakeClient

# Routes that serve the contract itself rather than take part in it.
DOCUMENTATION_ROUTES = {("GET", "/openapi.yaml"), ("GET", "/docs"), ("GET", "/")}
# The dashboard's page and files: HTML for a person, driving the documented control API.
DASHBOARD_ROUTES = {("GET", "/_mock/dashboard"), ("GET", "/_mock/dashboard/{name}")}


def test_spec_is_valid_openapi() -> None:
    validate(yaml.safe_load(SPEC_PATH.read_text()))


def _served() -> set[tuple[str, str]]:
    return {
        (method, re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path))  # {id:convertor} -> {id}
        for route in [
            *ROUTES,
            *submit_router(MODELS).routes,
            *(route for router in ROUTERS for route in router.routes),
        ]
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }


def _described() -> set[tuple[str, str]]:
    return {(op.method.upper(), op.path) for op in default_spec().operations}


def test_every_served_route_is_in_the_spec() -> None:
    assert _served() - DOCUMENTATION_ROUTES - DASHBOARD_ROUTES - _described() == set()


def test_every_operation_in_the_spec_is_served() -> None:
    assert _described() - _served() == set()


@pytest.mark.anyio
@pytest.mark.parametrize("op", default_spec().operations, ids=lambda op: op.operation_id)
async def test_every_operation_answers_through_the_app(client: httpx.AsyncClient, op) -> None:
    path = re.sub(r"\{[^}]+\}", "x", op.path)
    response = await client.request(op.method.upper(), path, headers={"Authorization": "Bearer k"})
    assert response.status_code != 405
    if response.status_code == 404:
        assert not response.json()["message"].startswith("no route")


def test_api_needs_the_bearer_key_media_nothing_and_control_its_token() -> None:
    spec = default_spec()
    assert spec.document["security"] == [{"bearerAuth": []}]
    expected: dict[str, object] = {
        "/api/v3/": None,
        "/api/v2/": None,
        "/media/": [],
        "/_mock/": [{}, {"controlToken": []}],
        "/healthz": [],  # health checks carry no key nor token (mock_api.routes.health)
        "/readyz": [],
    }
    for op in spec.operations:
        prefix = next(p for p in expected if op.path.startswith(p))
        assert op.definition.get("security") == expected[prefix], op.operation_id


def test_every_operation_documents_its_errors_in_the_envelope() -> None:
    spec = default_spec()
    for op in spec.operations:
        responses = op.definition["responses"]
        if op.path.startswith("/api/v3/"):
            assert "401" in responses, op.operation_id
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                assert response["$ref"].startswith("#/components/responses/"), (
                    op.operation_id,
                    status,
                )


@pytest.mark.anyio
async def test_spec_and_docs_are_served(client: httpx.AsyncClient) -> None:
    spec = await client.get("/openapi.yaml")
    assert spec.status_code == 200
    assert spec.text == SPEC_PATH.read_text()
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert 'url: "/openapi.yaml"' in docs.text
    assert "persistAuthorization: true" in docs.text  # the bearer key survives a reload
    bundle = await client.get("/docs/static/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert len(bundle.content) > 100_000  # served offline, from the package


@pytest.mark.anyio
async def test_unknown_route_and_method_answer_in_the_envelope(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v3/nope")
    assert missing.status_code == 404
    assert missing.json()["message"] == "no route GET /api/v3/nope"
    wrong = await client.delete("/api/v3/balance")
    assert wrong.status_code == 405
    assert wrong.json()["code"] == 405


@pytest.mark.anyio
async def test_the_root_leads_to_the_dashboard_or_with_the_control_api_off_the_docs(
    client: httpx.AsyncClient, make_client: MakeClient
) -> None:
    home = await client.get("/")
    assert home.status_code == 307
    assert home.headers["location"] == "/_mock/dashboard"
    async with make_client(Settings(control_enabled=False)) as off:
        home = await off.get("/")
    assert home.status_code == 307
    assert home.headers["location"] == "/docs"


def test_a_checkout_reads_the_one_top_level_contract() -> None:
    """The repository holds one openapi.yaml; a wheel carries it in (tests/test_wheel.py)."""
    top_level = Path(__file__).resolve().parent.parent / "openapi.yaml"
    assert top_level == SPEC_PATH
