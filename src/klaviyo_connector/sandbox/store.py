"""The sandbox's data: a queryable, mutable, deterministic fake Klaviyo account.

The HTTP server parses requests into `Condition`s, a sort and a cursor and asks
the `Store` for pages; the store never sees HTTP. Small resources (campaigns,
lists, segments, metrics) are generated once and held; profiles are generated
on demand (see gen_profile_index) so a million of them cost no memory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from klaviyo_connector.sandbox import gen_catalog as catalog
from klaviyo_connector.sandbox import gen_mutate, values
from klaviyo_connector.sandbox.config import SandboxConfig
from klaviyo_connector.sandbox.data import (
    Condition,
    MutationSummary,
    Page,
    Record,
    Resolver,
    StoreError,
    field_key,
    is_datetime_field,
    matches,
    page_of,
    split_sort,
)
from klaviyo_connector.sandbox.gen_campaigns import campaign, make_campaigns
from klaviyo_connector.sandbox.gen_common import Draw, hash_key, iso
from klaviyo_connector.sandbox.gen_profile_index import ProfileIndex
from klaviyo_connector.sandbox.gen_profiles import ProfileGenerator, fresh_profile

__all__ = ["RESOURCES", "Condition", "MutationSummary", "Page", "Store", "StoreError"]

RESOURCES = ("campaign", "list", "segment", "profile", "metric")
MAX_PROFILES = 100_000_000  # keeps base `created` strictly increasing (ids ordered)
FUTURE = timedelta(days=30)


class Store:
    """One generated Klaviyo account: same config and `now` give the same data."""

    def __init__(self, config: SandboxConfig) -> None:
        if not 0 <= config.profiles <= MAX_PROFILES:
            raise ValueError(f"profiles must be between 0 and {MAX_PROFILES}")
        self.config = config
        anchor = config.now or datetime.now(UTC).replace(microsecond=0)
        self.anchor = anchor.astimezone(UTC)
        self._skew = 0.0
        self.lock = threading.RLock()
        self.mutations = 0
        self._generate()
        # The account's clock starts once it is ready: a start that builds
        # every profile first (prebuild) serves the same data as one that
        # does not.
        self._started = time.monotonic()

    # -- construction ------------------------------------------------------------

    def _generate(self) -> None:
        cfg, anchor = self.config, self.anchor
        ids = catalog.ShortIds(Draw.of(cfg.seed, "ids"))
        self._account = catalog.make_account(ids, Draw.of(cfg.seed, "account"))
        draw = Draw.of(cfg.seed, "lists")
        lists = [catalog.make_list(ids, draw, anchor, n) for n in range(cfg.list_count)]
        metrics, self.values_metrics = catalog.make_metrics(
            ids, Draw.of(cfg.seed, "metrics"), anchor, cfg.no_placed_order
        )
        refs = ([r["id"] for r in lists], [r["id"] for r in metrics])
        draw = Draw.of(cfg.seed, "segments")
        segments = [
            catalog.make_segment(ids, draw, anchor, n, refs)
            for n in range(cfg.segment_count)
        ]
        audiences = refs[0] + [s["id"] for s in segments]
        made = make_campaigns(
            Draw.of(cfg.seed, "campaigns"), anchor, cfg.campaign_count, audiences
        )
        self.records: dict[str, dict[str, Record]] = {
            "list": {r["id"]: r for r in lists},
            "segment": {r["id"]: r for r in segments},
            "metric": {r["id"]: r for r in metrics},
            "campaign": {r["id"]: r for r in made.records},
        }
        self.messages = made.messages
        self.special = {
            "no_delivery": made.no_delivery,
            "no_recipients": made.no_recipients,
        }
        generator = ProfileGenerator(cfg.seed, cfg.profiles, anchor, refs[0])
        if cfg.prebuild:
            generator.prebuild()
        self.profiles = ProfileIndex(generator)
        self._members = {a: Draw.of(cfg.seed, "members", a).random() for a in audiences}
        if "future_record" in cfg.quirks:
            self._add_future_records(audiences)

    def _add_future_records(self, audiences: list[str]) -> None:
        moment = self.anchor + FUTURE
        draw = Draw.of(self.config.seed, "future")
        profile = fresh_profile(draw, gen_mutate.new_id(draw, moment), moment, [])
        self.profiles.add(profile)
        plan = ("Draft", "email", False)
        record, messages = campaign(draw, moment, plan, audiences, created_at=moment)
        record["attributes"]["name"] = "Imported with a future date"
        record["attributes"]["updated_at"] = iso(moment)
        self.records["campaign"][record["id"]] = record
        self.messages[record["id"]] = messages

    # -- the clock -----------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """config.now advanced by the real time elapsed since construction."""
        elapsed = time.monotonic() - self._started + self._skew
        return self.anchor + timedelta(seconds=elapsed)

    def advance(self, seconds: float) -> None:
        """Move the sandbox clock forward (demos: let engagement accumulate)."""
        self._skew += seconds

    # -- reads ---------------------------------------------------------------------

    def query(
        self,
        resource: str,
        conditions: Sequence[Condition],
        sort: str | None,
        cursor: str | None,
        page_size: int,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page and the cursor of the next one (None on the last page)."""
        page = self.page(resource, conditions, sort, cursor, page_size)
        return page.records, page.next

    def page(
        self,
        resource: str,
        conditions: Sequence[Condition],
        sort: str | None,
        cursor: str | None,
        page_size: int,
    ) -> Page:
        """One page with the cursors of the pages after and before it."""
        if resource not in RESOURCES:
            raise StoreError(f"unknown resource {resource!r}")
        if page_size < 1:
            raise StoreError("page size must be at least 1")
        conditions = self._with_quirks(conditions)
        with self.lock:
            if resource == "profile":
                return self.profiles.query(conditions, sort, cursor, page_size)
            return self._query_small(resource, conditions, sort, cursor, page_size)

    def _with_quirks(self, conditions: Sequence[Condition]) -> list[Condition]:
        if "boundary_repeat" not in self.config.quirks:
            return list(conditions)
        return [
            Condition(c.field, "greater-or-equal", c.value)
            if c.op == "greater-than" and c.field in ("updated", "updated_at")
            else c
            for c in conditions
        ]

    def _resolvers(self, resource: str) -> Mapping[str, Resolver]:
        if resource != "campaign":
            return {}
        return {"messages.channel": self.campaign_channel}

    def campaign_channel(self, record: Record) -> str:
        messages = self.messages.get(record["id"]) or [{}]
        return str(messages[0]["attributes"]["definition"]["channel"])

    def _query_small(
        self,
        resource: str,
        conditions: list[Condition],
        sort: str | None,
        cursor: str | None,
        page_size: int,
    ) -> Page:
        # Klaviyo leaves archived campaigns out unless the filter asks about them.
        if resource == "campaign" and not any(
            c.field == "archived" for c in conditions
        ):
            conditions = [*conditions, Condition("archived", "equals", False)]
        extra = self._resolvers(resource)
        name, descending = split_sort(sort, "id")
        is_time = is_datetime_field(name)
        shuffle = (
            resource == "campaign" and "archived_out_of_order" in self.config.quirks
        )
        keyed = []
        for record in self.records[resource].values():
            if matches(record, conditions, extra):
                value = record["id"] if name == "id" else record["attributes"].get(name)
                key = field_key(value, is_time)
                if shuffle and record["attributes"]["archived"]:
                    # out of the requested order, yet stable so paging stays exact
                    key = (1, f"{hash_key(record['id']):016x}")
                keyed.append(((key, record["id"]), record))
        keyed.sort(key=lambda kr: kr[0], reverse=descending)
        return page_of(keyed, sort or "id", descending, cursor, page_size)

    def get(self, resource: str, id: str) -> dict[str, Any] | None:
        with self.lock:
            if resource == "profile":
                return self.profiles.get(id)
            if resource == "campaign-message":
                return self._message(id)
            if resource == "account":
                return self._account if id == self._account["id"] else None
            return self.records.get(resource, {}).get(id)

    def _message(self, message_id: str) -> Record | None:
        for messages in self.messages.values():
            for message in messages:
                if message["id"] == message_id:
                    return message
        return None

    def campaign_messages(self, campaign_id: str) -> list[dict[str, Any]]:
        return list(self.messages.get(campaign_id, []))

    def account(self) -> dict[str, Any]:
        return self._account

    def profile_count(self, resource: str, id: str) -> int:
        if self.records.get(resource, {}).get(id) is None:
            raise StoreError(f"no {resource} {id}")
        return self.audience_size(id, self.profiles.count())

    def audience_size(self, audience_id: str, profiles: int) -> int:
        """Members of a list or segment when the account has `profiles`."""
        share = self._members.get(audience_id)
        return 0 if share is None else round(profiles * (0.02 + 0.7 * share))

    def known_short_ids(self) -> set[str]:
        known = {self._account["id"]}
        for resource in ("list", "segment", "metric"):
            known.update(self.records[resource])
        return known

    def add_audience(self, record_id: str) -> None:
        self._members[record_id] = Draw.of(
            self.config.seed, "members", record_id
        ).random()

    def metric_supports_values(self, metric_id: str) -> bool:
        return metric_id in self.values_metrics

    def campaign_values(
        self,
        *,
        conversion_metric_id: str,
        start: datetime,
        end: datetime,
        group_by: Sequence[str],
        filters: Sequence[Condition],
    ) -> list[dict[str, Any]]:
        with self.lock:
            return values.report(
                self,
                conversion_metric_id,
                (start, end),
                group_by,
                filters,
                self.now,
            )

    def ground_truth(self, resource: str) -> Iterator[dict[str, Any]]:
        """Every record, full objects; profiles without predictive_analytics."""
        if resource == "profile":
            for _, record in self.profiles.stream("id"):
                attributes = dict(record["attributes"])
                attributes.pop("predictive_analytics", None)
                yield {**record, "attributes": attributes}
        elif resource == "campaign-message":
            for messages in self.messages.values():
                yield from messages
        elif resource == "account":
            yield self._account
        elif resource in self.records:
            yield from list(self.records[resource].values())
        else:
            raise StoreError(f"unknown resource {resource!r}")

    # -- changes -------------------------------------------------------------------

    def mutate(self, share: float, seed: int) -> MutationSummary:
        """Update `share` of records, create share/2 more, archive some campaigns."""
        if not 0 <= share <= 1:
            raise ValueError("share must be between 0 and 1")
        with self.lock:
            self.mutations += 1
            return gen_mutate.mutate(self, share, seed)
