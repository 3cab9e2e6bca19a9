"""Reading the warehouse back and building the expected tables from the
sandbox's ground truth, independently of the connector's own row mapping."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from typing import Any

from klaviyo_connector.config import SyncConfig
from klaviyo_connector.load import warehouse_reader
from klaviyo_connector.sandbox import Sandbox

# Engine settings choosing the destination of an end-to-end run.
Warehouse = dict[str, Any]

LINEAGE = ("_loaded_at", "_dlt_load_id", "_dlt_id")
STATS_KEY = ("campaign_id", "campaign_message_id", "send_channel")
SEND_CHANNELS = {"email": "email", "sms": "sms", "mobile_push": "push-notification"}


def ts(value: str | None) -> dt.datetime | None:
    return (
        None if value is None else dt.datetime.fromisoformat(value).astimezone(dt.UTC)
    )


def text(value: Any) -> Any:
    return None if value == "" else value


def as_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def read_table(cfg: SyncConfig, table: str) -> list[dict[str, Any]]:
    with warehouse_reader(cfg) as reader:
        return reader.query(f"SELECT * FROM {reader.table(table)}")


def by_key(rows: Iterable[dict[str, Any]], key: tuple[str, ...] = ("id",)) -> dict:
    out: dict[Any, dict[str, Any]] = {}
    for row in rows:
        ident = row[key[0]] if len(key) == 1 else tuple(row[k] for k in key)
        assert ident not in out, f"duplicate row {ident}"
        out[ident] = row
    return out


def _utc(value: Any) -> Any:
    return value.astimezone(dt.UTC) if isinstance(value, dt.datetime) else value


def comparable(row: dict[str, Any], json_columns: Iterable[str] = ()) -> dict:
    """A loaded row without lineage columns, JSON parsed, times in UTC."""
    out = {k: _utc(v) for k, v in row.items() if k not in LINEAGE}
    for column in json_columns:
        out[column] = as_json(out[column])
    return out


MESSAGE_CONTENT = (
    "subject", "preview_text", "from_email", "from_label", "reply_to_email",
    "title", "body",
)  # fmt: skip


def _message(message: dict[str, Any]) -> dict[str, Any]:
    """Every field the `messages` column keeps, as docs/tables.md lists them."""
    a = message["attributes"]
    definition = a["definition"]
    content = definition.get("content") or {}
    return {
        "id": message["id"],
        "channel": definition["channel"],
        "label": definition.get("label"),
        **{name: content.get(name) for name in MESSAGE_CONTENT},
        "send_times": a["send_times"],
        "created_at": a["created_at"],
        "updated_at": a["updated_at"],
    }


def expected_campaigns(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    messages = {m["id"]: m for m in sandbox.ground_truth("campaign-message")}
    out = {}
    for record in sandbox.ground_truth("campaign"):
        a = record["attributes"]
        refs = record["relationships"]["campaign-messages"]["data"]
        own = [_message(messages[ref["id"]]) for ref in refs]
        out[record["id"]] = {
            "id": record["id"],
            "name": text(a["name"]),
            "channel": own[0]["channel"],
            "status": a["status"],
            "archived": a["archived"],
            "created_at": ts(a["created_at"]),
            "updated_at": ts(a["updated_at"]),
            "scheduled_at": ts(a["scheduled_at"]),
            "send_time": ts(a["send_time"]),
            "audiences": a["audiences"],
            "send_options": a["send_options"],
            "tracking_options": a["tracking_options"],
            "send_strategy": a["send_strategy"],
            "messages": own,
        }
    return out


def loaded_campaigns(cfg: SyncConfig) -> dict[str, dict[str, Any]]:
    json_columns = ("audiences", "send_options", "tracking_options", "send_strategy")
    out = {}
    for ident, row in by_key(read_table(cfg, "campaign")).items():
        out[ident] = comparable(row, (*json_columns, "messages"))
    return out


def _simple(
    resource: str, texts: tuple[str, ...], times: tuple[str, ...], raw: tuple[str, ...]
) -> Callable[[Sandbox], dict[str, dict[str, Any]]]:
    def expected(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
        out = {}
        for record in sandbox.ground_truth(resource):
            a = record["attributes"]
            row: dict[str, Any] = {"id": record["id"]}
            row.update({name: text(a.get(name)) for name in texts})
            row.update({name: ts(a.get(name)) for name in times})
            row.update({name: a.get(name) for name in raw})
            out[record["id"]] = row
        return out

    return expected


PROFILE_TEXTS = (
    "email", "phone_number", "external_id", "first_name", "last_name",
    "organization", "title", "locale", "image",
)  # fmt: skip
EXPECTED = {
    "campaign": expected_campaigns,
    "list": _simple("list", ("name", "opt_in_process"), ("created", "updated"), ()),
    "segment": _simple(
        "segment",
        ("name",),
        ("created", "updated"),
        ("definition", "is_active", "is_processing", "is_starred"),
    ),
    "profile": _simple(
        "profile",
        PROFILE_TEXTS,
        ("created", "updated", "last_event_date"),
        ("location", "properties", "subscriptions"),
    ),
}
JSON_COLUMNS = {
    "list": (),
    "segment": ("definition",),
    "profile": ("location", "properties", "subscriptions"),
}


def loaded(cfg: SyncConfig, table: str) -> dict[str, dict[str, Any]]:
    if table == "campaign":
        return loaded_campaigns(cfg)
    rows = by_key(read_table(cfg, table))
    return {k: comparable(r, JSON_COLUMNS[table]) for k, r in rows.items()}


def assert_matches_ground_truth(cfg: SyncConfig, sandbox: Sandbox, table: str) -> None:
    """Every record equal, field by field; no record missing, none extra."""
    expected = EXPECTED[table](sandbox)
    actual = loaded(cfg, table)
    assert set(actual) == set(expected), table
    for ident, want in expected.items():
        assert actual[ident] == want, (table, ident)


def stats_truth(
    sandbox: Sandbox, metric: str, start: dt.datetime, end: dt.datetime
) -> dict[tuple[str, str, str], dict[str, Any]]:
    rows = sandbox.campaign_values(metric, start, end)
    return {
        tuple(r["groupings"][k] for k in STATS_KEY): r["statistics"]  # type: ignore[misc]
        for r in rows
    }


COUNTS = (
    "recipients", "delivered", "opens", "opens_unique", "clicks", "clicks_unique",
    "bounced", "unsubscribes", "unsubscribe_uniques", "spam_complaints",
    "conversions", "conversion_uniques",
)  # fmt: skip
RATES = {
    "delivery_rate": ("delivered", "recipients"),
    "open_rate": ("opens_unique", "delivered"),
    "click_rate": ("clicks_unique", "delivered"),
    "click_to_open_rate": ("clicks_unique", "opens_unique"),
    "bounce_rate": ("bounced", "recipients"),
    "unsubscribe_rate": ("unsubscribe_uniques", "delivered"),
    "spam_complaint_rate": ("spam_complaints", "delivered"),
    "conversion_rate": ("conversion_uniques", "delivered"),
    "revenue_per_recipient": ("conversion_value", "delivered"),
    "average_order_value": ("conversion_value", "conversions"),
}
