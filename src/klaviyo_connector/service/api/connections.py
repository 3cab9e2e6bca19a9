"""API: connections, their tables, settings and auto-sync."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from .. import actions
from .. import connections as store
from ..db import Connection
from ..engine import CheckFailed, CheckSummary
from ..options import SyncSettings
from ..views import connection_view, load_connection
from ..web import ConnectionId, Service, service_of
from .deps import api_user, http_error
from .schemas import (
    AutoSyncIn,
    CheckOut,
    ConnectionIn,
    ConnectionOut,
    ConnectionPatch,
    KeyIn,
    TablesIn,
)

router = APIRouter(
    prefix="/api", tags=["connections"], dependencies=[Depends(api_user)]
)


def _out(service: Service, connection_id: int) -> ConnectionOut:
    loaded = load_connection(service, connection_id)
    if loaded is None:
        raise HTTPException(404, "No such connection.")
    return ConnectionOut.model_validate(connection_view(service, *loaded))


async def _check(service: Service, api_key: str) -> CheckSummary:
    try:
        return await run_in_threadpool(actions.check, service, api_key)
    except CheckFailed as exc:
        raise HTTPException(400, exc.message) from None


@router.post("/connections/check", response_model=CheckOut)
async def check_key(body: KeyIn, request: Request) -> CheckOut:
    """Validates a key with Klaviyo and says what it can read; stores nothing."""
    summary = await _check(service_of(request), body.api_key)
    return CheckOut.model_validate(summary.as_json())


@router.post("/connections", response_model=ConnectionOut, status_code=201)
async def create_connection(body: ConnectionIn, request: Request) -> ConnectionOut:
    """Validates the key, then stores the connection with its settings."""
    service = service_of(request)
    period = body.sync_period or SyncSettings().sync_period
    _require_period_for(body.model_dump(exclude_unset=True), period)
    try:
        actions.check_name(service, body.name)
        summary = await _check(service, body.api_key)
        connection_id = actions.create(service, body.name, body.api_key, summary)
    except actions.ActionError as exc:
        raise http_error(exc) from None
    try:
        if body.tables is not None:
            actions.save_tables(service, connection_id, body.tables)
        settings = SyncSettings.model_validate(
            body.model_dump(include=set(SyncSettings.model_fields))
        )
        await run_in_threadpool(
            actions.save_settings, service, connection_id, settings, finish=True
        )
        actions.set_auto_sync(service, connection_id, body.auto_sync)
    except actions.ActionError as exc:
        actions.delete(service, connection_id, never_ran=True)
        raise http_error(exc) from None
    return _out(service, connection_id)


@router.get("/connections", response_model=list[ConnectionOut])
def list_connections(request: Request) -> list[ConnectionOut]:
    service = service_of(request)
    with service.db.session() as s:
        ids = [c.id for c in store.all_connections(s)]
    return [_out(service, i) for i in ids]


@router.get("/connections/{connection_id}", response_model=ConnectionOut)
def get_connection(connection_id: ConnectionId, request: Request) -> ConnectionOut:
    return _out(service_of(request), connection_id)


def _merged_settings(
    service: Service, connection_id: int, patch: ConnectionPatch
) -> SyncSettings:
    with service.db.session() as s:
        conn = s.get(Connection, connection_id)
        if conn is None:
            raise HTTPException(404, "No such connection.")
        current = store.current_settings(conn).model_dump()
    changes = patch.model_dump(
        exclude_unset=True, include=set(SyncSettings.model_fields)
    )
    try:
        settings = SyncSettings.model_validate(current | changes)
    except ValidationError as exc:
        messages = "; ".join(
            str(e["msg"]).removeprefix("Value error, ") for e in exc.errors()
        )
        raise HTTPException(422, messages) from None
    _require_period_for(changes, settings.sync_period)
    return settings


def _require_period_for(changes: dict[str, Any], period: str) -> None:
    """A cron expression or a number of seconds only takes effect with its
    period: sent with another, it would be dropped without a word."""
    for field, needs in (("sync_cron", "cron"), ("sync_seconds", "seconds")):
        if changes.get(field) and period != needs:
            raise HTTPException(
                422,
                f"{field} is used only with sync_period '{needs}' (this "
                f"connection's would be '{period}'): send sync_period "
                f"'{needs}' with it.",
            )


@router.patch("/connections/{connection_id}", response_model=ConnectionOut)
def update_connection(
    connection_id: ConnectionId, patch: ConnectionPatch, request: Request
) -> ConnectionOut:
    """Changes name, tables, settings or auto-sync; only the fields given."""
    service = service_of(request)
    settings = _merged_settings(service, connection_id, patch)
    try:
        tables = None if patch.tables is None else actions.check_tables(patch.tables)
        actions.save_settings(
            service, connection_id, settings, finish=True, name=patch.name
        )
        if tables is not None:
            actions.save_tables(service, connection_id, tables)
        if patch.auto_sync is not None:
            actions.set_auto_sync(service, connection_id, patch.auto_sync)
    except actions.ActionError as exc:
        raise http_error(exc) from None
    return _out(service, connection_id)


@router.put("/connections/{connection_id}/key", response_model=ConnectionOut)
async def replace_key(
    connection_id: ConnectionId, body: KeyIn, request: Request
) -> ConnectionOut:
    """Checks a new key of the same account with Klaviyo and stores it."""
    service = service_of(request)
    try:
        await run_in_threadpool(
            actions.replace_key, service, connection_id, body.api_key
        )
    except actions.ActionError as exc:
        raise http_error(exc) from None
    return _out(service, connection_id)


@router.put("/connections/{connection_id}/tables", response_model=ConnectionOut)
def select_tables(
    connection_id: ConnectionId, body: TablesIn, request: Request
) -> ConnectionOut:
    service = service_of(request)
    try:
        actions.save_tables(service, connection_id, body.tables)
    except actions.ActionError as exc:
        raise http_error(exc) from None
    return _out(service, connection_id)


@router.put("/connections/{connection_id}/auto-sync", response_model=ConnectionOut)
def auto_sync(
    connection_id: ConnectionId, body: AutoSyncIn, request: Request
) -> ConnectionOut:
    """Switches auto-sync on or off; the answer carries the next scheduled time."""
    service = service_of(request)
    try:
        actions.set_auto_sync(service, connection_id, body.enabled)
    except actions.ActionError as exc:
        raise http_error(exc) from None
    return _out(service, connection_id)


@router.delete("/connections/{connection_id}", status_code=204)
def delete_connection(connection_id: ConnectionId, request: Request) -> Response:
    """Forgets the connection and its run history; warehouse data stays."""
    try:
        actions.delete(service_of(request), connection_id)
    except actions.ActionError as exc:
        raise http_error(exc) from None
    return Response(status_code=204)
