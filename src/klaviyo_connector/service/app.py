"""Builds the FastAPI app: store, queue, scheduler, sign-in, pages and API."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import fastapi_offline
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from klaviyo_connector import __version__
from klaviyo_connector.keys import redact

from . import engine
from .api import access as api_access
from .api import connections as api_connections
from .api import rates as api_rates
from .api import runs as api_runs
from .auth import Auth, CrossSiteRefused, NotSignedIn, require_user
from .charts import chart_css
from .connections import all_connections, secret_problem
from .crypto import Vault, ensure_private_dir, read_or_create_secret
from .db import Connection, Database
from .headers import ResponseHeaders, csp_allowing_inline_scripts
from .queue import Execute, RunQueue, mark_interrupted
from .routes import connection as connection_pages
from .routes import home, setup, signin
from .scheduler import AutoSync
from .settings import ServiceSettings
from .web import Service, render

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
FAVICON = "/static/favicon.svg"
DOCS_ASSETS = "/docs-assets"
STOP_SECONDS = 30.0  # how long a stop waits for running syncs to wind down


def build_service(settings: ServiceSettings, execute: Execute | None = None) -> Service:
    """Opens the data folder; runs cut off by a previous stop become interrupted."""
    ensure_private_dir(settings.data_dir)
    db = Database(settings.db_path)
    vault = Vault.open(settings.data_dir, settings.secret)
    stopping = threading.Event()
    if execute is None:
        execute = functools.partial(
            engine.execute, vault=vault, settings=settings, cancel=stopping
        )

    def secret_of(conn: Connection) -> str:
        # A key that cannot be decrypted cannot leak into a run record either.
        return (
            vault.decrypt(conn.key_encrypted)
            if vault.readable(conn.key_encrypted)
            else ""
        )

    queue = RunQueue(db, execute, secret_of, settings.max_parallel_runs, stopping)
    interrupted = mark_interrupted(db)
    if interrupted:
        log.info(
            "%s run(s) were cut off by the last stop: marked interrupted", interrupted
        )
    _warn_unreadable(db, vault)
    auth = Auth(
        db, settings.data_dir, settings.signin_ttl_seconds, settings.session_max_age
    )
    return Service(settings, db, vault, auth, queue, AutoSync(db, queue))


def _warn_unreadable(db: Database, vault: Vault) -> None:
    """Says at start which connections a changed encryption secret has locked."""
    with db.session() as s:
        for conn in all_connections(s):
            problem = secret_problem(conn, vault)
            if problem:
                log.warning("connection %r: %s", conn.name, problem)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    service: Service = app.state.service
    service.autosync.start()
    try:
        yield
    finally:
        service.autosync.shutdown()
        # Running syncs stop at their next page and keep what they committed;
        # left to the process's exit they would die mid-load.
        service.queue.stop(STOP_SECONDS)


def _not_signed_in(request: Request, _exc: Exception) -> Response:
    if request.url.path.startswith("/api/") or request.url.path == "/openapi.json":
        return JSONResponse(
            {
                "detail": "Sign in first: open the link the server printed, or send "
                "'Authorization: Bearer <api-token>'."
            },
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    return RedirectResponse("/signin", status_code=303)


def _cross_site(request: Request, exc: Exception) -> Response:
    message = f"Refused: this form did not come from this dashboard ({exc})."
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": message}, status_code=403)
    return HTMLResponse(message, status_code=403)


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/api/"):
        return JSONResponse(
            {"detail": exc.detail}, exc.status_code, headers=exc.headers
        )
    return render(request, "error.html", exc.status_code, message=exc.detail)


def _invalid_request(request: Request, exc: Exception) -> Response:
    # FastAPI's default echoes the submitted values, which may include the key.
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": list(e.get("loc", ())),
            "msg": redact(str(e.get("msg", ""))),
            "type": e.get("type"),
        }
        for e in exc.errors()
    ]
    return JSONResponse({"detail": errors}, 422)


def _favicon() -> FileResponse:
    # Browsers ask for /favicon.ico on pages without a <link rel="icon">, such
    # as JSON answers; an SVG under that name is understood all the same.
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")


def _chart_css() -> Response:
    return Response(chart_css(), media_type="text/css")


def _swagger_assets() -> Path:
    # Swagger UI 5 (it reads OpenAPI 3.1, which FastAPI writes) as a wheel ships
    # it, so the API page works offline and runs no third-party script.
    return Path(fastapi_offline.__file__).parent / "static"


def _add_docs(app: FastAPI) -> None:
    signed_in = [Depends(require_user)]
    app.mount(DOCS_ASSETS, StaticFiles(directory=_swagger_assets()), "docs-assets")

    @app.get("/openapi.json", include_in_schema=False, dependencies=signed_in)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=signed_in)
    def docs() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=FAVICON,
            # The validator badge would send the spec's address to a public server.
            swagger_ui_parameters={"validatorUrl": None},
        )
        # The page starts Swagger UI with an inline script: allowed by its hash.
        policy = csp_allowing_inline_scripts(bytes(page.body).decode())
        page.headers["Content-Security-Policy"] = policy
        return page


def create_app(settings: ServiceSettings, execute: Execute | None = None) -> FastAPI:
    """The dashboard and API over one data folder; `execute` replaces the engine."""
    service = build_service(settings, execute)
    app = FastAPI(
        title="Klaviyo connector",
        version=__version__,
        lifespan=_lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.service = service
    session_secret = read_or_create_secret(settings.data_dir / "session.key")
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret,
        session_cookie="klaviyo_connector_session",
        max_age=settings.session_max_age,
        same_site="strict",
    )
    app.add_middleware(ResponseHeaders)
    app.mount("/static", StaticFiles(directory=STATIC), "static")
    app.add_api_route("/favicon.ico", _favicon, include_in_schema=False)
    app.add_api_route("/charts.css", _chart_css, include_in_schema=False)
    app.add_exception_handler(NotSignedIn, _not_signed_in)
    app.add_exception_handler(CrossSiteRefused, _cross_site)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    for router in (signin.router, home.router, setup.router, connection_pages.router):
        app.include_router(router)
    app.include_router(api_connections.router)
    app.include_router(api_runs.router)
    app.include_router(api_rates.router)
    app.include_router(api_access.router)
    _add_docs(app)
    return app


__all__ = ["Auth", "create_app"]
