"""Every generated record validates against Klaviyo's own schemas (2026-07-15).

Two liberties with the spec, both because the spec cannot be met as written:
`oneOf` is checked as `anyOf` (send_options lists three identical schemas and
the SMS tracking options are a subset of the email ones, so a valid value
always matches several branches), and `nullable` becomes a null alternative.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator

from klaviyo_connector.sandbox.config import SandboxConfig
from klaviyo_connector.sandbox.store import Store

SPEC = Path(
    os.environ.get(
        "KLAVIYO_OPENAPI_SPEC", "/work/shared/klaviyo-api/openapi/stable.json"
    )
)
SCHEMAS = {
    "campaign": "CampaignResponseObjectResource",
    "campaign-message": "CampaignMessageResponseObjectResource",
    "list": "ListListResponseObjectResource",
    "segment": "SegmentListResponseObjectResource",
    "metric": "MetricResponseObjectResource",
    "profile": "ProfileResponseObjectResource",
    "account": "AccountResponseObjectResource",
}
BASE = "http://127.0.0.1:8765/api"

pytestmark = pytest.mark.skipif(not SPEC.exists(), reason=f"no spec at {SPEC}")


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {
        ("anyOf" if key == "oneOf" else key): _convert(value)
        for key, value in node.items()
        if key not in ("nullable", "example", "description")
    }
    if node.get("nullable") is True:
        out = {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def validator(schema: str) -> Draft4Validator:
    components = _convert(json.loads(SPEC.read_text())["components"])
    return Draft4Validator(
        {"$ref": f"#/components/schemas/{schema}", "components": components}
    )


def as_response(record: dict[str, Any]) -> dict[str, Any]:
    """What the server adds around a store record: links."""
    own = f"{BASE}/{record['type']}s/{record['id']}"
    relationships = {
        name: {**rel, "links": {"self": f"{own}/r/{name}", "related": f"{own}/{name}"}}
        for name, rel in record.get("relationships", {}).items()
    }
    out = {**record, "links": {"self": own}}
    if relationships:
        out["relationships"] = relationships
    else:
        out.pop("relationships", None)
    return out


def errors(schema: str, value: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in validator(schema).iter_errors(value)
    ]


@pytest.fixture(scope="module")
def store() -> Store:
    config = SandboxConfig(
        profiles=400,
        campaigns=80,
        now=datetime(2026, 7, 20, 12, tzinfo=UTC),
        quirks=frozenset({"future_record"}),
    )
    store = Store(config)
    store.mutate(0.2, seed=3)
    return store


@pytest.mark.parametrize("resource", sorted(SCHEMAS))
def test_records_validate_against_the_spec(store: Store, resource: str) -> None:
    records = (
        [store.account()] if resource == "account" else store.ground_truth(resource)
    )
    found = []
    for record in records:
        found += [
            f"{record['id']} {e}"
            for e in errors(SCHEMAS[resource], as_response(record))
        ]
    assert found == []


def test_profile_additional_fields_validate(store: Store) -> None:
    found = []
    for record in store.ground_truth("profile"):
        found += errors("Subscriptions", record["attributes"]["subscriptions"])
    for record in store.query("profile", [], None, None, 100)[0]:
        found += errors(
            "PredictiveAnalytics", record["attributes"]["predictive_analytics"]
        )
    assert found == []
