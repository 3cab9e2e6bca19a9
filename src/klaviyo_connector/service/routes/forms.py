"""Turning the settings form into validated settings, with readable messages."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from ..options import SyncSettings

_FIELD_NAMES = {
    "sync_cron": "Cron expression",
    "sync_seconds": "Seconds",
    "lookback_days": "Lookback window",
    "destination": "Destination",
    "dataset": "Dataset",
    "conversion_metric_id": "Conversion metric",
}


def plain_errors(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        field = _FIELD_NAMES.get(str(error["loc"][0]), "") if error["loc"] else ""
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{field}: {message}" if field else message)
    return "; ".join(parts) + "."


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value.strip() or None if isinstance(value, str) else None


def _metric(form: FormData) -> str | None:
    choice = _text(form, "conversion_metric")
    if choice == "other":
        return _text(form, "conversion_metric_other")
    return None if choice in (None, "detected") else choice


def settings_from_form(form: FormData) -> SyncSettings:
    """Raises ValidationError; `plain_errors` makes it readable."""
    data: dict[str, Any] = {
        "sync_period": _text(form, "sync_period") or "24h",
        "sync_cron": _text(form, "sync_cron"),
        "sync_seconds": _text(form, "sync_seconds"),
        "lookback_days": _text(form, "lookback_days") or 14,
        "destination": _text(form, "destination") or "duckdb",
        "destination_credentials": _text(form, "destination_credentials"),
        "dataset": _text(form, "dataset"),
        "conversion_metric_id": _metric(form),
    }
    return SyncSettings.model_validate(data)


def form_tables(form: FormData) -> list[str]:
    return [str(v) for v in form.getlist("tables")]


def stored_values(conn: Any) -> dict[str, Any]:
    """The settings form's fields filled from a stored connection."""
    metric = conn.conversion_metric_id
    known = {m["id"] for m in conn.metrics or []}
    if metric is None:
        choice, other = "detected", ""
    elif metric in known:
        choice, other = metric, ""
    else:
        choice, other = "other", metric
    return {
        "sync_period": conn.sync_period,
        "sync_cron": conn.sync_cron or "",
        "sync_seconds": conn.sync_seconds or "",
        "lookback_days": conn.lookback_days,
        "destination": conn.destination,
        "dataset": conn.dataset,
        "conversion_metric": choice,
        "conversion_metric_other": other,
        "has_credentials": conn.credentials_encrypted is not None,
    }


def typed_values(conn: Any, form: FormData) -> dict[str, Any]:
    """The fields as the user typed them, to show again next to an error."""
    values = stored_values(conn)
    for name in values:
        if name != "has_credentials" and isinstance(form.get(name), str):
            values[name] = form.get(name)
    return values
