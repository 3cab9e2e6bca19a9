"""The `klaviyo-connector` command line.

klaviyo-connector check      # the key, its scopes, the conversion metric
klaviyo-connector sync       # incremental sync of the five tables
klaviyo-connector backfill   # historical recovery over a date range
klaviyo-connector demo       # everything, against the bundled sandbox
klaviyo-connector sandbox    # serve the fake Klaviyo API
klaviyo-connector serve      # the web dashboard and scheduler
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from klaviyo_connector import __version__
from klaviyo_connector.cli.commands import backfill, check, sync
from klaviyo_connector.cli.demo import demo
from klaviyo_connector.memory import tune_allocators

# Commands that live in other parts of the package; imported only when used, so
# the CLI works even when one of them cannot be imported.
LAZY: dict[str, tuple[str, str]] = {
    "sandbox": ("klaviyo_connector.sandbox.command", "sandbox_command"),
    "serve": ("klaviyo_connector.service.command", "serve_command"),
}


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _untyped_flags(params: list[Any]) -> list[Any]:
    """Flags (--quiet, -v, --help) take no value, so help shows no type
    for them instead of a bare `<bool>` or `<int>`."""
    for param in params:
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.metavar = ""
    return params


# Rich cuts a word wider than its help column short with "…". The help texts
# fit 80 columns, so help is never drawn narrower: a narrower terminal wraps
# the lines instead of losing words, and output that is not a terminal gets 80.
HELP_MIN_WIDTH = 80


@contextmanager
def _help_width() -> Iterator[None]:
    from rich.console import Console
    from typer import rich_utils

    saved = rich_utils.MAX_WIDTH
    rich_utils.MAX_WIDTH = max(saved or Console().width, HELP_MIN_WIDTH)
    try:
        yield
    finally:
        rich_utils.MAX_WIDTH = saved


class Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _untyped_flags(super().get_params(ctx))

    def format_help(self, ctx: Any, formatter: Any) -> None:
        with _help_width():
            super().format_help(ctx, formatter)


class LazyGroup(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _untyped_flags(super().get_params(ctx))

    def format_help(self, ctx: Any, formatter: Any) -> None:
        with _help_width():
            super().format_help(ctx, formatter)

    def list_commands(self, ctx: Any) -> list[str]:
        lazy = [name for name, (module, _) in LAZY.items() if _available(module)]
        return [*super().list_commands(ctx), *lazy]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in LAZY:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = LAZY[cmd_name]
        try:
            function = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError):
            return None
        single = typer.Typer(add_completion=False)
        single.command(cmd_name, cls=Command)(function)
        return typer.main.get_command(single)


app = typer.Typer(
    name="klaviyo-connector",
    cls=LazyGroup,
    help="Copy a Klaviyo account into a data warehouse as five prebuilt tables.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command(cls=Command)(check)
app.command(cls=Command)(sync)
app.command(cls=Command)(backfill)
app.command(cls=Command)(demo)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"klaviyo-connector {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """Copy a Klaviyo account into a data warehouse as five prebuilt tables.

    Example: KLAVIYO_API_KEY=pk_... klaviyo-connector sync
    """


def main() -> None:
    tune_allocators()
    app()


__all__ = ["app", "main"]
