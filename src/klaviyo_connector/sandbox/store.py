"""The sandbox's data: a queryable, mutable, deterministic fake Klaviyo account.

The HTTP server parses requests into `Condition`s, a sort and a cursor and asks
the `Store` for pages; the store never sees HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from klaviyo_connector.sandbox.config import SandboxConfig

RESOURCES = ("campaign", "list", "segment", "profile", "metric")


class StoreError(KeyError):
    """A request the store cannot answer (bad cursor, unknown resource or sort)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "store error"


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any


@dataclass
class MutationSummary:
    """Ids touched by one `mutate` call, per resource type."""

    updated: dict[str, list[str]] = field(default_factory=dict)
    created: dict[str, list[str]] = field(default_factory=dict)
    archived: dict[str, list[str]] = field(default_factory=dict)


class Store:
    """Skeleton: answers with an empty account until the generators land."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        anchor = config.now or datetime.now(UTC).replace(microsecond=0)
        self._anchor = anchor.astimezone(UTC)
        self._started = time.monotonic()

    @property
    def now(self) -> datetime:
        elapsed = time.monotonic() - self._started
        return self._anchor + timedelta(seconds=elapsed)

    def query(
        self,
        resource: str,
        conditions: Sequence[Condition],
        sort: str | None,
        cursor: str | None,
        page_size: int,
    ) -> tuple[list[dict[str, Any]], str | None]:
        if resource not in RESOURCES:
            raise StoreError(f"unknown resource {resource!r}")
        return [], None

    def get(self, resource: str, id: str) -> dict[str, Any] | None:
        return None

    def campaign_messages(self, campaign_id: str) -> list[dict[str, Any]]:
        return []

    def account(self) -> dict[str, Any]:
        return {"type": "account", "id": "SBX001", "attributes": {}}

    def profile_count(self, resource: str, id: str) -> int:
        return 0

    def metric_supports_values(self, metric_id: str) -> bool:
        return False

    def campaign_values(
        self,
        *,
        conversion_metric_id: str,
        start: datetime,
        end: datetime,
        group_by: Sequence[str],
        filters: Sequence[Condition],
    ) -> list[dict[str, Any]]:
        return []

    def ground_truth(self, resource: str) -> Iterator[dict[str, Any]]:
        return iter(())

    def mutate(self, share: float, seed: int) -> MutationSummary:
        return MutationSummary()
