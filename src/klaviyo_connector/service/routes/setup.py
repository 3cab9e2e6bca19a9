"""The three setup steps: connect a key, select reports, finish setup."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from .. import actions
from ..auth import require_user
from ..engine import CheckFailed
from ..web import ConnectionId, connection_or_404, render, service_of
from .forms import (
    form_tables,
    plain_errors,
    settings_from_form,
    stored_values,
    typed_values,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_user)])


def _connect_page(request: Request, status: int = 200, **context: Any) -> Response:
    base_url = service_of(request).settings.klaviyo_base_url
    return render(request, "connect.html", status, klaviyo_base_url=base_url, **context)


@router.get("/connect")
def connect_page(request: Request) -> Response:
    return _connect_page(request, name="", error=None, conn=None)


@router.post("/connect")
async def connect(request: Request) -> Response:
    form = await request.form()
    name = str(form.get("name", "")).strip()
    key = str(form.get("api_key", "")).strip()
    service = service_of(request)
    try:
        actions.check_name(service, name)
        summary = await run_in_threadpool(actions.check, service, key)
        connection_id = actions.create(service, name, key, summary)
    except (actions.ActionError, CheckFailed) as exc:
        # The key is never sent back: the user pastes it again.
        return _connect_page(request, 400, name=name, error=exc.message, conn=None)
    # A redirect, so reloading the result page cannot post the key again.
    return RedirectResponse(f"/connections/{connection_id}/setup/connected", 303)


@router.get("/connections/{connection_id}/setup/connected")
def connected_page(request: Request, connection_id: ConnectionId) -> Response:
    with service_of(request).db.session() as s:
        conn = connection_or_404(s, connection_id)
    return _connect_page(request, name=conn.name, error=None, conn=conn)


@router.get("/connections/{connection_id}/setup/tables")
def tables_page(request: Request, connection_id: ConnectionId) -> Response:
    with service_of(request).db.session() as s:
        conn = connection_or_404(s, connection_id)
    return render(request, "tables.html", conn=conn, error=None)


@router.post("/connections/{connection_id}/setup/tables")
async def save_tables(request: Request, connection_id: ConnectionId) -> Response:
    service = service_of(request)
    try:
        actions.save_tables(service, connection_id, form_tables(await request.form()))
    except actions.ActionError as exc:
        with service.db.session() as s:
            conn = connection_or_404(s, connection_id)
        return render(request, "tables.html", 400, conn=conn, error=exc.message)
    return RedirectResponse(f"/connections/{connection_id}/setup/finish", 303)


@router.get("/connections/{connection_id}/setup/finish")
def finish_page(request: Request, connection_id: ConnectionId) -> Response:
    with service_of(request).db.session() as s:
        conn = connection_or_404(s, connection_id)
    return render(
        request, "finish.html", conn=conn, values=stored_values(conn), error=None
    )


@router.post("/connections/{connection_id}/setup/finish")
async def finish(request: Request, connection_id: ConnectionId) -> Response:
    service = service_of(request)
    form = await request.form()
    try:
        settings = settings_from_form(form)
        # The destination is checked on the network: not on the event loop.
        await run_in_threadpool(
            actions.save_settings, service, connection_id, settings, finish=True
        )
        if form.get("auto_sync"):
            actions.set_auto_sync(service, connection_id, True)
    except (ValidationError, actions.ActionError) as exc:
        message = plain_errors(exc) if isinstance(exc, ValidationError) else exc.message
        with service.db.session() as s:
            conn = connection_or_404(s, connection_id)
        values = typed_values(conn, form)
        return render(
            request, "finish.html", 400, conn=conn, values=values, error=message
        )
    return RedirectResponse(f"/connections/{connection_id}", 303)
