"""What every command shares: options, settings at the edge, errors to exit codes.

Exit codes: 0 success, 1 a sync or check failed, 2 usage or configuration,
130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from klaviyo_connector.config import Settings, load_settings, printable
from klaviyo_connector.errors import (
    AuthenticationError,
    ConfigError,
    ConnectorError,
    TransportError,
)
from klaviyo_connector.keys import redact
from klaviyo_connector.logs import configure_logging
from klaviyo_connector.sync.check import KEY_REJECTED

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130, as shells report Ctrl-C

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="TOML settings file (default ./klaviyo-connector.toml when present).",
        show_default=False,
    ),
]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        help="Klaviyo address, e.g. a local sandbox (env KLAVIYO_BASE_URL).",
        show_default=False,
    ),
]
TablesOpt = Annotated[
    str | None,
    typer.Option(
        "--tables",
        help="Comma-separated tables (default: all five).",
        show_default=False,
    ),
]
VerboseOpt = Annotated[
    int, typer.Option("--verbose", "-v", count=True, help="More detail; -vv for debug.")
]
QuietOpt = Annotated[
    bool,
    typer.Option(
        "--quiet", "-q", help="Only failures and table warnings; nothing on success."
    ),
]


def console() -> Console:
    """Created per command, so output goes wherever stdout points right now."""
    return Console(highlight=False, soft_wrap=True)


def error_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


class Edge:
    """One command's view of the world: settings, verbosity, consoles."""

    def __init__(self, verbose: int, quiet: bool) -> None:
        self.verbosity = -1 if quiet else verbose
        self.out = console()
        self.err = error_console()
        self.base_url: str | None = None
        configure_logging(self.verbosity, self.err)

    def settings(
        self, config: Path | None, *, writes: bool = False, **overrides: Any
    ) -> Settings:
        settings, warnings = load_settings(config, writes=writes, **overrides)
        for warning in warnings:
            self.err.print(f"Warning: {warning}", style="yellow", markup=False)
        self.base_url = settings.base_url
        return settings

    def say(self, text: str, style: str | None = None) -> None:
        if self.verbosity >= 0:
            self.out.print(text, style=style)


def _sentence(exc: ConnectorError, base_url: str | None) -> str:
    """The one sentence a user reads, saying what to do next."""
    if isinstance(exc, AuthenticationError):
        return KEY_REJECTED
    if isinstance(exc, TransportError):
        where = f" at {base_url}" if base_url else ""
        return (
            f"Could not reach Klaviyo{where}: check the network, or the address "
            "in --base-url / KLAVIYO_BASE_URL."
        )
    return str(exc)


@contextmanager
def failures(edge: Edge) -> Iterator[None]:
    """Turns the connector's errors into one plain sentence and an exit code;
    the traceback only with -v."""
    try:
        yield
    except ConnectorError as exc:
        if edge.verbosity >= 1:
            edge.err.print(redact("".join(traceback.format_exc())), markup=False)
        edge.err.print(f"Error: {redact(_sentence(exc, edge.base_url))}", markup=False)
        code = EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_FAILED
        raise typer.Exit(code) from None


@contextmanager
def ctrl_c_sets(event: threading.Event, edge: Edge) -> Iterator[None]:
    """Ctrl-C asks the run to stop at the next page, keeping what it committed,
    instead of killing it mid-load; a second Ctrl-C quits at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if event.is_set():
            raise KeyboardInterrupt
        event.set()
        edge.err.print(
            "Stopping after the current page (Ctrl-C again to quit at once)...",
            markup=False,
        )

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def parse_day(value: str, name: str) -> dt.date:
    """A date (2024-01-31), or an ISO datetime (a naive one is UTC)."""
    text = value.strip().replace("Z", "+00:00")
    parse = dt.date.fromisoformat if len(text) <= 10 else dt.datetime.fromisoformat
    try:
        return parse(text)
    except ValueError:
        raise ConfigError(
            f"{name} '{printable(value)}' is not a date; use YYYY-MM-DD, e.g. "
            "2024-01-31."
        ) from None
