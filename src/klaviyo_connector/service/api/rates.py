"""API: the open and click rates the dashboard charts, read from the warehouse."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from ..views import load_connection, recent_rates
from ..web import ConnectionId, service_of
from .deps import api_user
from .schemas import CampaignRateOut, CampaignRatesOut

router = APIRouter(prefix="/api", tags=["warehouse"], dependencies=[Depends(api_user)])


@router.get(
    "/connections/{connection_id}/campaign-rates", response_model=CampaignRatesOut
)
async def campaign_rates(
    connection_id: ConnectionId, request: Request
) -> CampaignRatesOut:
    """Recent email campaigns' open and click rates, newest send first.

    The same rows as the dashboard's chart, from `campaign_performance_stats`.
    `readable` is false when the warehouse cannot be read (never synced, the
    table deselected, the destination unreachable); the list is then empty.
    """
    service = service_of(request)
    loaded = load_connection(service, connection_id)
    if loaded is None:
        raise HTTPException(404, "No such connection.")
    rows = await run_in_threadpool(recent_rates, service, *loaded)
    return CampaignRatesOut(
        readable=rows is not None,
        campaigns=[CampaignRateOut.model_validate(r) for r in rows or []],
    )
