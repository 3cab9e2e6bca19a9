"""API: Sync now, historical recovery, run history and live progress."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from .. import actions
from .. import connections as store
from ..db import Connection, Run
from ..views import run_view
from ..web import ConnectionId, RunId, Service, service_of
from .deps import api_user, http_error
from .schemas import HistoricalIn, RunOut

MAX_RUNS = 200

router = APIRouter(prefix="/api", tags=["runs"], dependencies=[Depends(api_user)])


def _run_out(service: Service, run_id: int) -> RunOut:
    with service.db.session() as s:
        run = s.get(Run, run_id)
        if run is None:
            raise HTTPException(404, "No such run.")
    return RunOut.model_validate(run_view(service, run))


@router.post(
    "/connections/{connection_id}/sync", response_model=RunOut, status_code=202
)
def sync_now(connection_id: ConnectionId, request: Request) -> RunOut:
    """Queues an ordinary sync now; it waits behind a running one."""
    service = service_of(request)
    try:
        queued = actions.sync_now(service, connection_id)
    except actions.ActionError as exc:
        raise http_error(exc) from None
    return _run_out(service, queued.run_id)


@router.post(
    "/connections/{connection_id}/historical", response_model=RunOut, status_code=202
)
def launch_historical(
    connection_id: ConnectionId, body: HistoricalIn, request: Request
) -> RunOut:
    """Queues a historical recovery of whole UTC days, both ends included."""
    service = service_of(request)
    try:
        queued = actions.historical(service, connection_id, body.start, body.end)
    except actions.ActionError as exc:
        raise http_error(exc) from None
    return _run_out(service, queued.run_id)


@router.get("/connections/{connection_id}/runs", response_model=list[RunOut])
def list_runs(
    connection_id: ConnectionId,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_RUNS, description="How many runs.")] = 20,
) -> list[RunOut]:
    """The connection's latest runs, newest first."""
    service = service_of(request)
    with service.db.session() as s:
        if s.get(Connection, connection_id) is None:
            raise HTTPException(404, "No such connection.")
        runs = store.recent_runs(s, connection_id, limit)
    return [RunOut.model_validate(run_view(service, r)) for r in runs]


@router.get("/runs/{run_id}", response_model=RunOut)
def get_run(run_id: RunId, request: Request) -> RunOut:
    """One run; while it runs, `tables` holds live rows and requests per table."""
    return _run_out(service_of(request), run_id)
