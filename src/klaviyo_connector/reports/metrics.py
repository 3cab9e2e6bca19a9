"""Choosing the conversion metric the campaign values report needs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from klaviyo_connector.reports.base import Resource, attributes

PLACED_ORDER = "placed order"
STORE_PLATFORMS = frozenset(
    {
        "shopify",
        "woocommerce",
        "magento",
        "magento_two",
        "bigcommerce",
        "salesforce_commerce_cloud",
        "prestashop",
        "wix",
        "squarespace",
        "ecwid",
        "cartfunnel",
    }
)


@dataclass(frozen=True)
class MetricChoice:
    id: str
    name: str
    integration: str | None = None


def _integration(resource: Resource) -> dict[str, Any]:
    value = attributes(resource).get("integration")
    return value if isinstance(value, dict) else {}


def _is_store(resource: Resource) -> bool:
    integration = _integration(resource)
    category = integration.get("category")
    if isinstance(category, dict):
        category = category.get("category")
    key = str(integration.get("key") or "").lower()
    return key in STORE_PLATFORMS or str(category or "").lower() == "ecommerce"


def to_choice(resource: Resource) -> MetricChoice:
    integration = _integration(resource)
    label = integration.get("name") or integration.get("key")
    return MetricChoice(
        id=str(resource.get("id")),
        name=str(attributes(resource).get("name") or ""),
        integration=str(label) if label else None,
    )


def placed_order_candidates(metrics: Iterable[Resource]) -> list[MetricChoice]:
    """Every 'Placed Order' metric, the preferred one first: a store
    integration before an API-created one, then the oldest."""
    matches = [
        m
        for m in metrics
        if str(attributes(m).get("name") or "").strip().lower() == PLACED_ORDER
    ]
    matches.sort(
        key=lambda m: (
            not _is_store(m),
            str(attributes(m).get("created") or ""),
            str(m.get("id")),
        )
    )
    return [to_choice(m) for m in matches]


def choose_conversion_metric(
    metrics: Iterable[Resource], override: str | None = None
) -> MetricChoice | None:
    """The configured metric when set, else the preferred 'Placed Order' one."""
    metrics = list(metrics)
    if override:
        for metric in metrics:
            if metric.get("id") == override:
                return to_choice(metric)
        return None
    candidates = placed_order_candidates(metrics)
    return candidates[0] if candidates else None
