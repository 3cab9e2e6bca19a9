"""Picking the conversion metric."""

from __future__ import annotations

from klaviyo_connector.reports.metrics import (
    choose_conversion_metric,
    placed_order_candidates,
)


def metric(id: str, name: str, integration: dict | None, created: str) -> dict:
    return {
        "type": "metric",
        "id": id,
        "attributes": {"name": name, "integration": integration, "created": created},
    }


API = {"object": "integration", "key": "api", "name": "API", "category": "API"}
SHOPIFY = {"key": "shopify", "name": "Shopify", "category": "eCommerce"}
METRICS = [
    metric("API001", "Placed Order", API, "2020-01-01T00:00:00+00:00"),
    metric("OPEN01", "Opened Email", None, "2019-01-01T00:00:00+00:00"),
    metric("SHOP01", "Placed Order", SHOPIFY, "2022-01-01T00:00:00+00:00"),
]


def test_the_store_integration_wins_over_an_older_api_metric() -> None:
    chosen = choose_conversion_metric(METRICS)
    assert chosen is not None
    assert (chosen.id, chosen.name, chosen.integration) == (
        "SHOP01",
        "Placed Order",
        "Shopify",
    )
    assert [m.id for m in placed_order_candidates(METRICS)] == ["SHOP01", "API001"]


def test_category_may_be_an_object() -> None:
    custom = {"key": "app", "category": {"id": 3, "category": "eCommerce"}}
    metrics = [
        metric("API001", "Placed Order", API, "2020-01-01T00:00:00+00:00"),
        metric("APP001", "Placed Order", custom, "2024-01-01T00:00:00+00:00"),
    ]
    chosen = choose_conversion_metric(metrics)
    assert chosen is not None
    assert chosen.id == "APP001"


def test_override_and_absence() -> None:
    override = choose_conversion_metric(METRICS, "API001")
    assert override is not None
    assert override.id == "API001"
    assert choose_conversion_metric(METRICS, "NOPE00") is None
    assert choose_conversion_metric(METRICS[1:2]) is None
