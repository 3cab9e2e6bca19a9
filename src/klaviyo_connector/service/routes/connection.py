"""The connection page: auto-sync, Sync now, historical recovery, settings, runs."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from klaviyo_connector.sync.windows import KLAVIYO_EPOCH

from .. import actions
from ..auth import require_user
from ..charts import runs_chart
from ..views import connection_view, data_kept, load_connection, run_view
from ..web import ConnectionId, flash, render, service_of
from .forms import (
    form_tables,
    plain_errors,
    settings_from_form,
    stored_values,
    typed_values,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_user)])
TABS = ("overview", "historical", "settings")


def _page(
    request: Request,
    connection_id: int,
    tab: str = "overview",
    status: int = 200,
    error: str | None = None,
    values: dict | None = None,
) -> Response:
    service = service_of(request)
    loaded = load_connection(service, connection_id, limit=30)
    if loaded is None:
        raise HTTPException(404, "No such connection.")
    conn, runs = loaded
    if not conn.setup_complete:
        return RedirectResponse(f"/connections/{connection_id}/setup/tables", 303)
    today = dt.datetime.now(dt.UTC).date()
    return render(
        request,
        "connection.html",
        status,
        conn=connection_view(service, conn, runs),
        runs=[run_view(service, r) for r in runs],
        chart=runs_chart(runs),
        tab=tab if tab in TABS else "overview",
        error=error,
        values=values or stored_values(conn),
        default_from=(today - dt.timedelta(days=90)).isoformat(),
        default_to=today.isoformat(),
        first_day=KLAVIYO_EPOCH.isoformat(),
    )


def _back(connection_id: int, tab: str = "overview") -> Response:
    return RedirectResponse(f"/connections/{connection_id}?tab={tab}", 303)


@router.get("/connections/{connection_id}")
def connection_page(
    request: Request, connection_id: ConnectionId, tab: str = "overview"
) -> Response:
    return _page(request, connection_id, tab)


def _queued_message(queued: actions.Queued, what: str) -> str:
    if queued.behind_running:
        return f"{what} (run #{queued.run_id}) is queued behind the running sync."
    return f"{what} started (run #{queued.run_id})."


@router.post("/connections/{connection_id}/sync")
def sync_now(request: Request, connection_id: ConnectionId) -> Response:
    try:
        queued = actions.sync_now(service_of(request), connection_id)
        flash(request, _queued_message(queued, "Sync"))
    except actions.ActionError as exc:
        flash(request, exc.message, "error")
    return _back(connection_id)


@router.post("/connections/{connection_id}/historical")
async def launch_historical(request: Request, connection_id: ConnectionId) -> Response:
    form = await request.form()
    try:
        start = dt.date.fromisoformat(str(form.get("start", "")))
        end = dt.date.fromisoformat(str(form.get("end", "")))
    except ValueError:
        return _page(
            request,
            connection_id,
            "historical",
            400,
            error="Give both dates as YYYY-MM-DD.",
        )
    try:
        queued = actions.historical(service_of(request), connection_id, start, end)
    except actions.ActionError as exc:
        return _page(request, connection_id, "historical", 400, error=exc.message)
    flash(request, _queued_message(queued, f"Historical recovery {start}…{end}"))
    return _back(connection_id)


@router.post("/connections/{connection_id}/auto-sync")
async def auto_sync(request: Request, connection_id: ConnectionId) -> Response:
    enabled = (await request.form()).get("enabled") == "on"
    try:
        actions.set_auto_sync(service_of(request), connection_id, enabled)
        flash(request, f"Auto-sync switched {'on' if enabled else 'off'}.")
    except actions.ActionError as exc:
        flash(request, exc.message, "error")
    return _back(connection_id)


@router.post("/connections/{connection_id}/settings")
async def save_settings(request: Request, connection_id: ConnectionId) -> Response:
    service = service_of(request)
    form = await request.form()
    try:
        settings = settings_from_form(form)
        tables = actions.check_tables(form_tables(form))
        # A form without the field keeps the name; an empty one is refused.
        name = None if form.get("name") is None else str(form.get("name"))
        # The destination is checked on the network: not on the event loop.
        await run_in_threadpool(
            actions.save_settings, service, connection_id, settings, name=name
        )
        actions.save_tables(service, connection_id, tables)
    except (ValidationError, actions.ActionError) as exc:
        message = plain_errors(exc) if isinstance(exc, ValidationError) else exc.message
        loaded = load_connection(service, connection_id)
        values = typed_values(loaded[0], form) if loaded else None
        return _page(request, connection_id, "settings", 400, message, values)
    flash(request, "Settings saved.")
    return _back(connection_id, "settings")


@router.post("/connections/{connection_id}/key")
async def replace_key(request: Request, connection_id: ConnectionId) -> Response:
    key = str((await request.form()).get("api_key", "")).strip()
    try:
        await run_in_threadpool(
            actions.replace_key, service_of(request), connection_id, key
        )
    except actions.ActionError as exc:
        # The key is never sent back: the user pastes it again.
        return _page(request, connection_id, "settings", 400, error=exc.message)
    flash(request, "API key replaced.")
    return _back(connection_id, "settings")


@router.post("/connections/{connection_id}/delete")
def delete(request: Request, connection_id: ConnectionId) -> Response:
    service = service_of(request)
    try:
        conn = actions.delete(service, connection_id)
    except actions.ActionError as exc:
        flash(request, exc.message, "error")
        return _back(connection_id, "settings")
    flash(request, f"Connection deleted. {data_kept(service, conn)}")
    return RedirectResponse("/", 303)
