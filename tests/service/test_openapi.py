"""The OpenAPI document: every API route with its methods, no secret in answers."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from tests.service.support import bearer, make_app

SECRET_FIELDS = {"api_key", "destination_credentials", "secret", "token"}


@pytest.fixture
def document(tmp_path) -> tuple[Any, dict[str, Any]]:
    app = make_app(tmp_path / "data")
    with TestClient(app, headers=bearer(app)) as api:
        response = api.get("/openapi.json")
    assert response.status_code == 200
    return app, response.json()


def _flat(routes: list[Any]) -> list[Any]:
    # FastAPI 0.165 keeps an included router as one entry holding its routes.
    flat = []
    for route in routes:
        included = getattr(route, "original_router", None)
        flat += _flat(included.routes) if included is not None else [route]
    return flat


def _api_routes(app: Any) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for route in _flat(app.routes):
        if isinstance(route, APIRoute) and route.path.startswith("/api/"):
            methods = {m.lower() for m in route.methods}
            routes.setdefault(route.path, set()).update(methods)
    return routes


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[1]} if "$ref" in node else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def _response_schemas(doc: dict[str, Any]) -> set[str]:
    """Every component an answer can contain, nested ones included."""
    schemas = doc["components"]["schemas"]
    todo = {
        name
        for operations in doc["paths"].values()
        for operation in operations.values()
        for name in _refs(operation.get("responses", {}))
    }
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        seen.add(name)
        todo |= _refs(schemas[name]) - seen
    return seen


def test_every_api_route_is_described_with_its_methods(document):
    app, doc = document
    described = {path: set(ops) for path, ops in doc["paths"].items()}
    served = _api_routes(app)
    assert len(served) >= 12, served
    assert described == served
    assert "/api/connections/{connection_id}/campaign-rates" in described
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"


def test_no_answer_has_a_field_for_a_secret(document):
    _app, doc = document
    schemas = doc["components"]["schemas"]
    answers = _response_schemas(doc)
    assert {"ConnectionOut", "RunOut", "CampaignRatesOut"} <= answers
    for name in answers:
        fields = set(schemas[name].get("properties", {}))
        assert not fields & SECRET_FIELDS, f"{name} carries {fields & SECRET_FIELDS}"
    assert schemas["ConnectionOut"]["properties"]["key"]["description"] == (
        "Masked: pk_…abcd."
    )
    assert "api_key" in schemas["KeyIn"]["properties"], "keys are write-only"
