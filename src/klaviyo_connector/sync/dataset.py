"""What a sync makes sure of in the dataset before it reads: the dataset holds
this account's records and no other's, and the tables earlier syncs created
are still there."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from klaviyo_connector.config import SyncConfig
from klaviyo_connector.errors import ConfigError
from klaviyo_connector.load.state import STATE_TABLE, Account

log = logging.getLogger(__name__)


def account_of(document: dict[str, Any] | None) -> Account | None:
    """The account in a GET /api/accounts answer; None without one (a key
    lacking `accounts:read`, a fault that outlasted the retries)."""
    data = (document or {}).get("data")
    first = data[0] if isinstance(data, list) and data else {}
    if not isinstance(first, dict) or not first.get("id"):
        return None
    contact = (first.get("attributes") or {}).get("contact_information") or {}
    return Account(str(first["id"]), contact.get("organization_name") or None)


def _place(cfg: SyncConfig) -> str:
    if cfg.destination == "duckdb":
        path = Path(cfg.duckdb_path).expanduser().resolve()
        return f"The dataset {cfg.dataset} in the DuckDB file {path}"
    return f"The dataset {cfg.dataset} in the {cfg.destination} destination"


def require_same_account(
    cfg: SyncConfig, held: Account | None, current: Account | None
) -> None:
    """Refuses a sync of one account into a dataset holding another: its
    cursors belong to the other account, so most records would be skipped, and
    the tables would mix the two accounts' records."""
    if current is None:
        # Not a warning: a key without `accounts:read` would print it on every
        # sync; README's Limitations says such syncs go unchecked.
        log.info(
            "the Klaviyo account could not be read (GET /api/accounts), so "
            "whether the dataset holds this key's account was not checked"
        )
        return
    if held is None or held.id == current.id:
        return
    other = "another dataset (--dataset)"
    if cfg.destination == "duckdb":
        other += " or another DuckDB file (--duckdb-path)"
    raise ConfigError(
        f"{_place(cfg)} holds Klaviyo account {held}, but the key belongs to "
        f"account {current}; a dataset holds one account, so nothing was read.",
        fix=f"Sync {current} into {other}.",
    )


def recreated_warning(table: str, recreated: tuple[str, ...], historical: bool) -> str:
    """What the table's result says when it, or the state table, was missing
    from the warehouse and created again (see `load.recreate`)."""
    if table in recreated:
        missing, done = f"The {table} table was", "created again and read in full"
        if historical:
            done = (
                "created again with this recovery's records; the next sync reads "
                "it in full"
            )
    else:
        missing = f"The sync state ({STATE_TABLE}) was"
        done = f"created again and the {table} table read in full"
        if historical:
            done = f"created again; the next sync reads the {table} table in full"
    return (
        f"{missing} missing from the warehouse although an earlier sync created "
        f"it (dropped by hand?): it was {done}."
    )
