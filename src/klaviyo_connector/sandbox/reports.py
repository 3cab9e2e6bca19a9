"""POST /api/campaign-values-reports: body validation and the report document."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from klaviyo_connector.sandbox.endpoints import Context
from klaviyo_connector.sandbox.filters import (
    FilterError,
    parse_wall_clock,
    report_conditions,
)
from klaviyo_connector.sandbox.responses import ApiError, error_object, invalid
from klaviyo_connector.sandbox.spec import load_digest
from klaviyo_connector.sandbox.store import Condition

DEFAULT_GROUP_BY = ("campaign_id", "campaign_message_id", "send_channel")
REQUIRED_GROUP_BY = ("campaign_id", "campaign_message_id")
REPORT_TYPE = "campaign-values-report"
_ATTRS = "/data/attributes"
_NO_VALUES = "Passed in conversion metric does not support querying for values data"


def _bad(detail: str, pointer: str) -> dict[str, Any]:
    return error_object(400, "invalid", detail, pointer=pointer)


def _attributes(body: bytes) -> dict[str, Any]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise invalid("The request body is not valid JSON.", pointer="/data") from None
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict):
        raise invalid("'data' is required.", pointer="/data")
    if data.get("type") != REPORT_TYPE:
        raise invalid(f"'type' must be '{REPORT_TYPE}'.", pointer="/data/type")
    attributes = data.get("attributes")
    if not isinstance(attributes, dict):
        raise invalid("'attributes' is required.", pointer=_ATTRS)
    return attributes


def _statistics(raw: Any) -> tuple[list[str], list[dict[str, Any]]]:
    pointer = f"{_ATTRS}/statistics"
    if not isinstance(raw, list) or not raw:
        return [], [_bad("'statistics' must be a non-empty list.", pointer)]
    allowed = set(load_digest().values_report.statistics)
    errors = [
        _bad(f"'{s}' is not a valid choice for 'statistics'.", f"{pointer}/{i}")
        for i, s in enumerate(raw)
        if s not in allowed
    ]
    return list(dict.fromkeys(raw)), errors


def _group_by(raw: Any) -> tuple[tuple[str, ...], list[dict[str, Any]]]:
    pointer = f"{_ATTRS}/group_by"
    if raw is None:
        return DEFAULT_GROUP_BY, []
    if not isinstance(raw, list):
        return (), [_bad("'group_by' must be a list.", pointer)]
    allowed = set(load_digest().values_report.group_by)
    errors = [
        _bad(f"'{g}' is not a valid choice for 'group_by'.", f"{pointer}/{i}")
        for i, g in enumerate(raw)
        if g not in allowed
    ]
    missing = [g for g in REQUIRED_GROUP_BY if g not in raw]
    if missing:
        detail = f"'group_by' must include {' and '.join(REQUIRED_GROUP_BY)}."
        errors.append(_bad(detail, pointer))
    return tuple(dict.fromkeys(raw)), errors


def _midnight(day: datetime) -> datetime:
    return day.replace(hour=0, minute=0, second=0, microsecond=0)


def _months_back(day: datetime, months: int) -> datetime:
    index = day.year * 12 + day.month - 1 - months
    return day.replace(year=index // 12, month=index % 12 + 1, day=1)


def timeframe_bounds(key: str, now: datetime) -> tuple[datetime, datetime]:
    """Named timeframes in `now`'s timezone (weeks start on Monday); ends are
    exclusive."""
    today = _midnight(now)
    month = today.replace(day=1)
    year = month.replace(month=1)
    week = today - timedelta(days=today.weekday())
    days = {
        "last_7_days": 7,
        "last_30_days": 30,
        "last_90_days": 90,
        "last_365_days": 365,
    }
    if key in days:
        return today - timedelta(days=days[key]), today
    named: dict[str, tuple[datetime, datetime]] = {
        "today": (today, now),
        "yesterday": (today - timedelta(days=1), today),
        "this_week": (week, now),
        "last_week": (week - timedelta(days=7), week),
        "this_month": (month, now),
        "last_month": (_months_back(month, 1), month),
        "this_year": (year, now),
        "last_year": (year.replace(year=year.year - 1), year),
        "last_3_months": (_months_back(month, 3), month),
        "last_12_months": (_months_back(month, 12), month),
    }
    return named[key]


def _custom(raw: dict[str, Any], zone: tzinfo) -> tuple[datetime, datetime]:
    """Klaviyo ignores the offsets of a custom timeframe and reads its wall
    clock times in the account's timezone."""
    pointer = f"{_ATTRS}/timeframe"
    try:
        start = parse_wall_clock(str(raw["start"])).replace(tzinfo=zone)
        end = parse_wall_clock(str(raw["end"])).replace(tzinfo=zone)
    except (KeyError, FilterError):
        raise invalid(
            "'timeframe' needs a valid 'key', or 'start' and 'end' date-times.",
            pointer=pointer,
        ) from None
    if end <= start:
        raise invalid("The timeframe 'end' must be after its 'start'.", pointer=pointer)
    try:
        year_later = start.replace(year=start.year + 1)
    except ValueError:  # 29 February
        year_later = start.replace(year=start.year + 1, day=28)
    if end > year_later:
        raise invalid("The timeframe must not be longer than 1 year.", pointer=pointer)
    return start.astimezone(UTC), end.astimezone(UTC)


def _timeframe(raw: Any, now: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    pointer = f"{_ATTRS}/timeframe"
    if not isinstance(raw, dict):
        raise invalid("'timeframe' is required.", pointer=pointer)
    if "key" in raw:
        if raw["key"] not in load_digest().values_report.timeframe_keys:
            raise invalid(
                f"'{raw['key']}' is not a valid choice for 'key'.",
                pointer=f"{pointer}/key",
            )
        start, end = timeframe_bounds(raw["key"], now.astimezone(zone))
        return start.astimezone(UTC), end.astimezone(UTC)
    return _custom(raw, zone)


def _account_zone(ctx: Context) -> tzinfo:
    name = ctx.store.account()["attributes"].get("timezone") or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _filters(raw: Any) -> list[Condition]:
    if raw is None:
        return []
    if not isinstance(raw, str):
        raise invalid("'filter' must be a string.", pointer=f"{_ATTRS}/filter")
    try:
        return report_conditions(raw)
    except FilterError as error:
        raise invalid(str(error), pointer=f"{_ATTRS}/filter") from None


def _metric(ctx: Context, raw: Any) -> str:
    pointer = f"{_ATTRS}/conversion_metric_id"
    if not isinstance(raw, str) or not raw:
        raise invalid("'conversion_metric_id' is required.", pointer=pointer)
    if not ctx.store.metric_supports_values(raw):
        raise invalid(_NO_VALUES, pointer=pointer)
    return raw


def _result(row: dict[str, Any], statistics: list[str]) -> dict[str, Any]:
    values = row["statistics"]
    return {
        "groupings": row["groupings"],
        "statistics": {
            s: float(values[s]) if values[s] is not None else None for s in statistics
        },
    }


def query_campaign_values(ctx: Context) -> dict[str, Any]:
    attributes = _attributes(ctx.body)
    statistics, errors = _statistics(attributes.get("statistics"))
    group_by, group_errors = _group_by(attributes.get("group_by"))
    errors += group_errors
    if errors:
        raise ApiError.many(400, errors)
    start, end = _timeframe(
        attributes.get("timeframe"), ctx.store.now, _account_zone(ctx)
    )
    metric = _metric(ctx, attributes.get("conversion_metric_id"))
    rows = ctx.store.campaign_values(
        conversion_metric_id=metric,
        start=start,
        end=end,
        group_by=group_by,
        filters=_filters(attributes.get("filter")),
    )
    campaigns = dict.fromkeys(r["groupings"]["campaign_id"] for r in rows)
    report_attrs: dict[str, Any] = {"results": [_result(r, statistics) for r in rows]}
    fields = ctx.fields(REPORT_TYPE)
    if fields is not None and "results" not in fields:
        report_attrs = {}
    return {
        "data": {
            "type": REPORT_TYPE,
            "id": str(uuid.uuid4()),
            "attributes": report_attrs,
            "relationships": {
                "campaigns": {
                    "data": [{"type": "campaign", "id": c} for c in campaigns]
                }
            },
        },
        "links": {"self": ctx.self_url, "next": None, "prev": None},
    }


HANDLERS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "query_campaign_values": query_campaign_values,
}
