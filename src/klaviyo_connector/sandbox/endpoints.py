"""The GET operations: accounts, campaigns (+ messages), lists, segments,
profiles and metrics, as JSON:API documents built from the store."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from klaviyo_connector.sandbox import documents
from klaviyo_connector.sandbox.filters import FilterError, conditions
from klaviyo_connector.sandbox.responses import ApiError, invalid
from klaviyo_connector.sandbox.spec import Operation
from klaviyo_connector.sandbox.store import Condition, Store, StoreError

METRICS_PAGE_SIZE = 200
OPT_IN = {"profile": ("subscriptions", "predictive_analytics")}
_CHANNEL_REQUIRED = (
    "A channel filter is required to list campaigns. Use exactly one of "
    "equals(messages.channel,'email'), equals(messages.channel,'sms') or "
    "equals(messages.channel,'mobile_push')."
)


@dataclass
class Context:
    """One request, as the handlers see it."""

    store: Store
    op: Operation
    query: dict[str, str]
    path_params: dict[str, str]
    base: str
    path: str
    query_string: str
    body: bytes

    def csv(self, name: str) -> tuple[str, ...]:
        value = self.query.get(name)
        return tuple(v for v in value.split(",") if v) if value else ()

    def fields(self, type_: str) -> tuple[str, ...] | None:
        name = f"fields[{type_}]"
        return self.csv(name) if name in self.query else None

    def withheld(self, type_: str) -> tuple[str, ...]:
        """Opt-in attributes left out because additional-fields did not ask."""
        asked = self.csv(f"additional-fields[{type_}]")
        return tuple(a for a in OPT_IN.get(type_, ()) if a not in asked)

    def shape(self, record: dict[str, Any]) -> dict[str, Any]:
        type_ = record["type"]
        return documents.resource(
            record, self.base, self.fields(type_), self.withheld(type_)
        )

    @property
    def self_url(self) -> str:
        return documents.self_url(self.base, self.path, self.query_string)


def _page_size(ctx: Context) -> int:
    bounds = ctx.op.page_size
    if bounds is None:
        return METRICS_PAGE_SIZE
    raw = ctx.query.get("page[size]")
    if raw is None:
        return bounds.default
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if not bounds.minimum <= size <= bounds.maximum:
        raise invalid(
            f"Page size must be an integer between {bounds.minimum} and "
            f"{bounds.maximum}.",
            parameter="page[size]",
        )
    return size


def _conditions(ctx: Context) -> list[Condition]:
    text = ctx.query.get("filter")
    if text is None:
        return []
    try:
        return conditions(text, ctx.op.filters)
    except FilterError as error:
        raise invalid(str(error), parameter="filter") from None


def _campaign_conditions(ctx: Context) -> list[Condition]:
    found = _conditions(ctx)
    channels = [c for c in found if c.field == "messages.channel"]
    if len(channels) != 1:
        raise invalid(_CHANNEL_REQUIRED, parameter="filter")
    # Without an archived filter Klaviyo leaves archived campaigns out.
    if not any(c.field == "archived" for c in found):
        found.append(Condition("archived", "equals", False))
    return found


def _collection(
    ctx: Context, resource: str, found: list[Condition], size: int
) -> dict[str, Any]:
    try:
        page = ctx.store.page(
            resource, found, ctx.query.get("sort"), ctx.query.get("page[cursor]"), size
        )
    except StoreError as error:
        raise invalid(
            f"Invalid page cursor: {error}", parameter="page[cursor]"
        ) from None
    return {
        "data": [ctx.shape(r) for r in page.records],
        "links": {
            "self": ctx.self_url,
            "next": _page_link(ctx, page.next),
            "prev": _page_link(ctx, page.prev),
        },
    }


def _page_link(ctx: Context, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    return documents.page_url(ctx.base, ctx.path, ctx.query, cursor)


def _single(ctx: Context, resource: str) -> dict[str, Any]:
    record = ctx.store.get(resource, ctx.path_params["id"])
    if record is None:
        raise ApiError(
            404,
            "not_found",
            f"A {resource} with id {ctx.path_params['id']} was not found.",
        )
    return record


def _included(ctx: Context, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[str, str]] = set()
    out = []
    for record in records:
        key = (record["type"], record["id"])
        if key not in seen:
            seen.add(key)
            out.append(ctx.shape(record))
    return out


def _campaign_included(
    ctx: Context, campaigns: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    if "campaign-messages" not in ctx.csv("include"):
        return []
    messages = (m for c in campaigns for m in ctx.store.campaign_messages(c["id"]))
    return _included(ctx, messages)


def get_accounts(ctx: Context) -> dict[str, Any]:
    return {
        "data": [ctx.shape(ctx.store.account())],
        "links": {"self": ctx.self_url, "next": None, "prev": None},
    }


def get_campaigns(ctx: Context) -> dict[str, Any]:
    found = _campaign_conditions(ctx)
    document = _collection(ctx, "campaign", found, _page_size(ctx))
    if "include" in ctx.query:
        document["included"] = _campaign_included(ctx, document["data"])
    return document


def get_campaign(ctx: Context) -> dict[str, Any]:
    record = _single(ctx, "campaign")
    document: dict[str, Any] = {
        "data": ctx.shape(record),
        "links": {"self": ctx.self_url},
    }
    if "include" in ctx.query:
        document["included"] = _campaign_included(ctx, [record])
    return document


def get_campaign_messages(ctx: Context) -> dict[str, Any]:
    campaign = _single(ctx, "campaign")
    messages = ctx.store.campaign_messages(campaign["id"])
    document: dict[str, Any] = {
        "data": [ctx.shape(m) for m in messages],
        "links": {"self": ctx.self_url, "next": None, "prev": None},
    }
    if "include" in ctx.query:
        wanted = [campaign] if "campaign" in ctx.csv("include") else []
        document["included"] = _included(ctx, wanted)
    return document


def _listing(resource: str) -> Callable[[Context], dict[str, Any]]:
    def handler(ctx: Context) -> dict[str, Any]:
        document = _collection(ctx, resource, _conditions(ctx), _page_size(ctx))
        if "include" in ctx.query:
            document["included"] = []  # the sandbox has no tags, flows or tokens
        return document

    return handler


def _with_count(resource: str) -> Callable[[Context], dict[str, Any]]:
    def handler(ctx: Context) -> dict[str, Any]:
        record = _single(ctx, resource)
        if "profile_count" in ctx.csv(f"additional-fields[{resource}]"):
            count = ctx.store.profile_count(resource, record["id"])
            attributes = {**record["attributes"], "profile_count": count}
            record = {**record, "attributes": attributes}
        document: dict[str, Any] = {
            "data": ctx.shape(record),
            "links": {"self": ctx.self_url},
        }
        if "include" in ctx.query:
            document["included"] = []
        return document

    return handler


HANDLERS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "get_accounts": get_accounts,
    "get_campaigns": get_campaigns,
    "get_campaign": get_campaign,
    "get_messages_for_campaign": get_campaign_messages,
    "get_lists": _listing("list"),
    "get_list": _with_count("list"),
    "get_segments": _listing("segment"),
    "get_segment": _with_count("segment"),
    "get_profiles": _listing("profile"),
    "get_metrics": _listing("metric"),
}
