"""What every page and API route shares: the service container and page rendering."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from .auth import Auth, csrf_token, is_signed_in
from .crypto import Vault
from .db import Connection, Database
from .options import PERIOD_LABELS, TABLE_DESCRIPTIONS, describe_period
from .queue import RunQueue
from .scheduler import AutoSync
from .settings import ServiceSettings
from .warehouse import RatesCache
from .windows import when

TEMPLATES = Jinja2Templates(directory=FilePath(__file__).parent / "templates")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs} s" if minutes else f"{seconds:.1f} s"


def _thousands(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


TEMPLATES.env.filters["when"] = when
TEMPLATES.env.filters["thousands"] = _thousands
TEMPLATES.env.filters["duration"] = _duration
TEMPLATES.env.globals.update(
    table_descriptions=TABLE_DESCRIPTIONS,
    period_labels=PERIOD_LABELS,
    describe_period=describe_period,
)


@dataclass
class Service:
    """The parts one running service is made of."""

    settings: ServiceSettings
    db: Database
    vault: Vault
    auth: Auth
    queue: RunQueue
    autosync: AutoSync
    rates: RatesCache = field(default_factory=RatesCache)


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def flash(request: Request, message: str, kind: str = "info") -> None:
    request.session.setdefault("flash", []).append({"kind": kind, "text": message})


def render(
    request: Request, template: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    context.setdefault("csrf_token", csrf_token(request))
    context.setdefault("signed_in", is_signed_in(request))
    context.setdefault("flashes", request.session.pop("flash", []))
    context.setdefault(
        "allow_seconds", service_of(request).settings.allow_seconds_period
    )
    return TEMPLATES.TemplateResponse(
        request, template, context, status_code=status_code
    )


# SQLite keeps integers in 8 signed bytes: a larger id names no row, and the
# driver would fail converting it instead of finding nothing.
MAX_ID = 2**63 - 1
_ID = re.compile(r"[0-9]{1,19}")
# Read as text, so that even an id too long to parse is a 404; documented as
# the integer it is.
_ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def _stored_id(value: str, what: str) -> int:
    if _ID.fullmatch(value) and 1 <= int(value) <= MAX_ID:
        return int(value)
    raise HTTPException(404, f"No such {what}.")


def _connection_id(
    connection_id: Annotated[str, Path(json_schema_extra=_ID_SCHEMA)],
) -> int:
    return _stored_id(connection_id, "connection")


def _run_id(run_id: Annotated[str, Path(json_schema_extra=_ID_SCHEMA)]) -> int:
    return _stored_id(run_id, "run")


# Every route taking an id declares it with one of these: an id no row can
# have is a 404 like an id no row has.
ConnectionId = Annotated[int, Depends(_connection_id)]
RunId = Annotated[int, Depends(_run_id)]


def connection_or_404(session: Any, connection_id: int) -> Connection:
    conn = session.get(Connection, connection_id)
    if conn is None:
        raise HTTPException(404, "No such connection.")
    assert isinstance(conn, Connection)
    return conn
