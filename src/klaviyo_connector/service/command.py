"""`klaviyo-connector serve`: the dashboard, API and scheduler in one process."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import re
import socket
from pathlib import Path
from typing import Annotated, Any

import typer

from klaviyo_connector.keys import RedactingFilter, redact

from .settings import ServiceSettings
from .startup import CannotStart, listen, lock_data_dir

log = logging.getLogger(__name__)

_TOKEN_IN_URL = re.compile(r"token=[^&\s\"]+")
QUIET_LIBRARIES = ("httpx", "httpcore")


class SignInTokenFilter(logging.Filter):
    """Keeps sign-in tokens out of the access log."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _TOKEN_IN_URL.sub("token=…", message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class RedactingFormatter(logging.Formatter):
    """Masks key-shaped text in the whole line, tracebacks included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(RedactingFilter())
    handler.addFilter(SignInTokenFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    # The connector's own loggers speak through the root handler here, whatever
    # a command line run in the same process set up before.
    connector = logging.getLogger("klaviyo_connector")
    connector.handlers[:] = []
    connector.setLevel(logging.NOTSET)
    connector.propagate = True
    # The Klaviyo client logs each request once; httpx's own line would repeat it.
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_command(
    host: Annotated[
        str, typer.Option(help="Address to listen on; keep 127.0.0.1 unless you must.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for the dashboard and API.")] = 8000,
    data_dir: Annotated[
        Path,
        typer.Option(
            help="Folder for the state database, encryption key and DuckDB files."
        ),
    ] = Path("klaviyo-data"),
    public_url: Annotated[
        str | None,
        typer.Option(
            help="The address browsers reach the service at, when it is behind a "
            "proxy (https://connector.example.com); sign-in links start with it."
        ),
    ] = None,
    allow_seconds_period: Annotated[
        bool, typer.Option(hidden=True, help="Offer an every-N-seconds sync period.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("-v", "--verbose", help="Log debug detail too.")
    ] = False,
) -> None:
    """Start the dashboard and the scheduler.

    Example: klaviyo-connector serve --port 8000 --data-dir ./klaviyo-data

    Prints a one-time sign-in link; open it in the browser on this machine. The
    Klaviyo keys are stored encrypted with data-dir/secret.key, or with
    KLAVIYO_CONNECTOR_SECRET when that is set.
    """
    from .app import create_app

    try:
        settings = ServiceSettings(
            data_dir=data_dir,
            allow_seconds_period=allow_seconds_period,
            host=host,
            port=port,
            public_url=public_url,
        )
    except ValueError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from None
    configure_logging(verbose)
    # Everything the service writes (state, DuckDB files, dlt's working folders)
    # is for its owner only; set before any thread starts.
    os.umask(0o077)
    try:
        # Both before the app is built: building it marks the folder's
        # unfinished runs interrupted, which must never hit another service's.
        lock = lock_data_dir(settings.data_dir)
        sock = listen(host, port)
    except CannotStart as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from None
    with lock, sock:
        app = create_app(settings)
        _announce(app, settings)
        _run(app, settings, sock)


def _announce(app: Any, settings: ServiceSettings) -> None:
    token = app.state.service.auth.issue_link()
    typer.echo(f"Sign in (link works once): {settings.signin_url(token)}")
    typer.echo(f"API token for scripts: {app.state.service.auth.api_token_path}")
    if not _is_loopback(settings.host):
        typer.secho(
            f"Listening on {settings.host}: other machines can reach the sign-in "
            "page. Put it behind HTTPS before using it over a network.",
            fg=typer.colors.YELLOW,
            err=True,
        )


def _run(app: Any, settings: ServiceSettings, sock: socket.socket) -> None:
    import uvicorn

    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_config=None, access_log=True
    )
    # Handed a socket, uvicorn does not say where it listens.
    log.info("Listening on http://%s:%s", settings.host, settings.port)
    # uvicorn raises Ctrl-C again once it has shut down cleanly.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run(sockets=[sock])
