"""The dashboard home: every connection's health, last and next sync, charts."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from .. import connections as store
from ..auth import require_user
from ..charts import rates_chart, runs_chart
from ..views import connection_view, recent_rates
from ..web import render, service_of

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_user)])


@router.get("/")
def home(request: Request) -> Response:
    service = service_of(request)
    cards = []
    with service.db.session() as s:
        connections = store.all_connections(s)
        history = {c.id: store.recent_runs(s, c.id, 15) for c in connections}
    for conn in connections:
        runs = history[conn.id]
        rates = recent_rates(service, conn, runs)
        cards.append(
            {
                "conn": connection_view(service, conn, runs),
                "runs_chart": runs_chart(runs),
                "rates_chart": rates_chart(rates or []),
            }
        )
    return render(request, "home.html", cards=cards)
