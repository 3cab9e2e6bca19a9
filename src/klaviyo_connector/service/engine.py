"""The service's only doorway to the sync engine: key checks and runs."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from klaviyo_connector.errors import (
    ConnectorError,
    RateLimitError,
    ServerError,
    TransportError,
    UnexpectedResponseError,
)
from klaviyo_connector.keys import ApiKey, redact
from klaviyo_connector.sync.models import (
    ProgressCallback,
    RunKind,
    RunRequest,
    RunResult,
    TableResult,
)

from .crypto import CREDENTIALS, Vault, ensure_private_dir
from .db import Connection
from .settings import ServiceSettings

log = logging.getLogger(__name__)


class CheckFailed(Exception):
    """The key could not be validated; `message` is safe to show."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@dataclass
class CheckSummary:
    """What a key can see, in a shape the store and pages keep as JSON."""

    account_name: str | None
    account_id: str | None
    tables: dict[str, dict[str, Any]]
    detected_metric: dict[str, Any] | None
    metrics: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _metric(choice: Any) -> dict[str, Any]:
    return {
        "id": choice.id,
        "name": choice.name,
        "integration": getattr(choice, "integration", None),
    }


def _check_message(exc: ConnectorError, base_url: str) -> str:
    """The error in words for the connect form, where no "next run" exists yet."""
    if isinstance(exc, TransportError):
        return (
            f"Klaviyo could not be reached at {base_url}; check the network, or "
            "start the service with KLAVIYO_BASE_URL pointing at the right address "
            f"(e.g. the sandbox, http://127.0.0.1:8765). Detail: {exc.message}"
        )
    if isinstance(exc, UnexpectedResponseError):
        return (
            f"{exc.message} Something between this service and {base_url} (a proxy "
            "or firewall) may be answering instead; check it and connect again."
        )
    if isinstance(exc, ServerError | RateLimitError):
        return f"{exc.message} Klaviyo is busy; connect again in a minute."
    return str(exc)


def check_key(api_key: ApiKey, base_url: str) -> CheckSummary:
    """Asks Klaviyo what the key can read; raises CheckFailed with plain words."""
    from klaviyo_connector.sync.check import check_connection

    if not api_key.reveal():
        raise CheckFailed("Enter the private API key.")
    try:
        chk = check_connection(api_key, base_url=base_url)
    except ConnectorError as exc:
        raise CheckFailed(
            redact(_check_message(exc, base_url), api_key.reveal())
        ) from None
    except Exception as exc:
        log.warning("key check failed unexpectedly: %s", type(exc).__name__)
        raise CheckFailed(
            "The key could not be checked because of an unexpected error; "
            "see the service log."
        ) from None
    tables = {
        name: {
            "ok": bool(t.ok),
            "missing_scopes": list(t.missing_scopes),
            "problem": redact(t.problem, api_key.reveal()) if t.problem else None,
        }
        for name, t in chk.tables.items()
    }
    detected = chk.conversion_metric
    return CheckSummary(
        account_name=chk.account_name,
        account_id=chk.account_id,
        tables=tables,
        detected_metric=_metric(detected) if detected else None,
        metrics=[_metric(m) for m in chk.metrics],
    )


def sync_config(conn: Connection, vault: Vault, settings: ServiceSettings) -> Any:
    """The engine's SyncConfig for one connection: own dataset, pipeline, folders."""
    from klaviyo_connector.config import SyncConfig

    credentials = (
        vault.decrypt(conn.credentials_encrypted, CREDENTIALS)
        if conn.credentials_encrypted
        else None
    )
    return SyncConfig(
        api_key=ApiKey(vault.decrypt(conn.key_encrypted)),
        base_url=settings.klaviyo_base_url,
        destination=conn.destination,
        duckdb_path=settings.duckdb_path(conn.slug),
        dataset=conn.dataset,
        destination_credentials=credentials,
        pipeline_name=f"klaviyo_{conn.slug.replace('-', '_')}",
        data_dir=settings.pipeline_dir(conn.slug),
        conversion_metric_id=conn.conversion_metric_id or conn.detected_metric_id,
        profile_chunk_rows=settings.profile_chunk_rows,
    )


def run_request(
    conn: Connection, kind: str, start: dt.datetime | None, end: dt.datetime | None
) -> RunRequest:
    if kind == "historical":
        return RunRequest(
            kind=RunKind.HISTORICAL, tables=tuple(conn.tables), start=start, end=end
        )
    return RunRequest(
        kind=RunKind.INCREMENTAL,
        tables=tuple(conn.tables),
        lookback_days=conn.lookback_days,
    )


def execute(
    conn: Connection,
    request: RunRequest,
    progress: ProgressCallback,
    *,
    vault: Vault,
    settings: ServiceSettings,
    cancel: threading.Event | None = None,
) -> RunResult:
    """Runs one sync through the engine; a config problem becomes a failed result.
    Setting `cancel` (the service stopping) ends the sync at its next page."""
    from klaviyo_connector.sync.engine import run_sync

    started = dt.datetime.now(dt.UTC)
    try:
        ensure_private_dir(settings.warehouse_dir)
        return run_sync(
            sync_config(conn, vault, settings), request, progress, cancel=cancel
        )
    except ConnectorError as exc:
        return RunResult(request, started, dt.datetime.now(dt.UTC), error=str(exc))


def failed_tables(result: RunResult) -> list[TableResult]:
    return [t for t in result.tables.values() if not t.ok]
