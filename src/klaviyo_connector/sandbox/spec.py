"""What the sandbox knows about Klaviyo's spec, read once from a committed digest.

`spec_digest.json` is generated from Klaviyo's OpenAPI document by
`scripts/make_spec_digest.py`; it keeps only what the server enforces: declared
query parameters, filter whitelists, page-size bounds, rate-limit tiers, scopes
and enums.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Tier:
    """One rate-limit tier: requests per second, per minute and (rarely) per day."""

    burst: int
    steady: int
    daily: int | None = None


@dataclass(frozen=True)
class FilterRule:
    """The operators a filter field accepts and the type of its value."""

    single: frozenset[str]
    list: frozenset[str]
    type: str
    format: str | None
    enum: tuple[str, ...] | None

    @property
    def is_datetime(self) -> bool:
        return self.format == "date-time"


@dataclass(frozen=True)
class PageSize:
    minimum: int
    maximum: int
    default: int


@dataclass(frozen=True)
class Operation:
    """One served operation, e.g. `GET /api/profiles`."""

    method: str
    path: str
    operation_id: str
    scopes: tuple[str, ...]
    tier: Tier
    lower_tiers: tuple[tuple[str, str, Tier], ...]
    params: frozenset[str]
    enums: dict[str, frozenset[str]]
    filters: dict[str, FilterRule]
    page_size: PageSize | None
    response_schema: str | None

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    def tier_for(self, query: dict[str, list[str]]) -> tuple[str, Tier]:
        """The tier a request lands in; some additional fields cost more."""
        for param, value, tier in self.lower_tiers:
            if value in query.get(param, ()):
                return value, tier
        return "default", self.tier


@dataclass(frozen=True)
class ValuesReportSpec:
    statistics: tuple[str, ...]
    group_by: tuple[str, ...]
    timeframe_keys: tuple[str, ...]


@dataclass(frozen=True)
class SpecDigest:
    revision: str
    operations: dict[str, Operation]
    values_report: ValuesReportSpec

    def operation(self, method: str, path: str) -> Operation:
        return self.operations[f"{method} {path}"]


def _tier(raw: dict[str, Any]) -> Tier:
    return Tier(raw["burst"], raw["steady"], raw.get("daily"))


def _page_size(params: dict[str, Any]) -> PageSize | None:
    raw = params.get("page[size]")
    if raw is None:
        return None
    return PageSize(raw["minimum"], raw["maximum"], raw["default"])


def _filter_rule(raw: dict[str, Any]) -> FilterRule:
    enum = raw.get("enum")
    return FilterRule(
        single=frozenset(raw["single"]),
        list=frozenset(raw["list"]),
        type=raw["type"],
        format=raw.get("format"),
        enum=tuple(enum) if enum else None,
    )


def _operation(raw: dict[str, Any]) -> Operation:
    params = raw["params"]
    return Operation(
        method=raw["method"],
        path=raw["path"],
        operation_id=raw["operation_id"],
        scopes=tuple(raw["scopes"]),
        tier=_tier(raw["ratelimit"]),
        lower_tiers=tuple(
            (t["param"], t["value"], _tier(t)) for t in raw["lower_tiers"]
        ),
        params=frozenset(params),
        enums={n: frozenset(p["enum"]) for n, p in params.items() if "enum" in p},
        filters={f: _filter_rule(r) for f, r in raw["filters"].items()},
        page_size=_page_size(params),
        response_schema=raw.get("response_schema"),
    )


def parse_digest(raw: dict[str, Any]) -> SpecDigest:
    report = raw["campaign_values_report"]
    return SpecDigest(
        revision=raw["revision"],
        operations={k: _operation(v) for k, v in raw["operations"].items()},
        values_report=ValuesReportSpec(
            statistics=tuple(report["statistics"]),
            group_by=tuple(report["group_by"]),
            timeframe_keys=tuple(report["timeframe_keys"]),
        ),
    )


@cache
def load_digest() -> SpecDigest:
    """The digest bundled with the package (parsed once per process)."""
    text = resources.files(__package__).joinpath("spec_digest.json").read_text()
    return parse_digest(json.loads(text))
