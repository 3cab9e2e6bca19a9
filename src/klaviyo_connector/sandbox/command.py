"""`klaviyo-connector sandbox`: serve the fake Klaviyo API until Ctrl-C."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from klaviyo_connector.sandbox.config import DEFAULT_SANDBOX_KEY, QUIRKS, SandboxConfig
from klaviyo_connector.sandbox.runner import bind, make_server
from klaviyo_connector.sandbox.server import Sandbox


class Switch(StrEnum):
    on = "on"
    off = "off"


def parse_scoped_keys(values: list[str]) -> dict[str, frozenset[str]]:
    """`KEY=scope,scope` pairs -> {key: scopes}; raises typer.BadParameter."""
    keys: dict[str, frozenset[str]] = {}
    for value in values:
        key, sep, scopes = value.partition("=")
        if not sep or not key:
            raise typer.BadParameter("use KEY=scope,scope", param_hint="--scoped-key")
        keys[key] = frozenset(s for s in scopes.split(",") if s)
    return keys


def sandbox_command(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    api_key: Annotated[
        str,
        typer.Option(
            envvar="KLAVIYO_SANDBOX_API_KEY",
            help="The full-scope private key the sandbox accepts.",
            show_default=False,
        ),
    ] = DEFAULT_SANDBOX_KEY,
    scoped_key: Annotated[
        list[str] | None,
        typer.Option(help="Extra key with fewer scopes, KEY=scope,scope (repeatable)."),
    ] = None,
    profiles: Annotated[int, typer.Option(help="How many profiles to serve.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the generated account.")] = 42,
    rate_limits: Annotated[
        Switch, typer.Option(help="Enforce Klaviyo's rate limits.")
    ] = Switch.on,
    time_scale: Annotated[
        float, typer.Option(help="Rate-limit windows pass this many times faster.")
    ] = 1.0,
    quirk: Annotated[
        list[str] | None,
        typer.Option(help=f"Enable a data quirk: {', '.join(sorted(QUIRKS))}."),
    ] = None,
) -> None:
    """Serve a local Klaviyo API (revision 2026-07-15) with generated data.

    Example: klaviyo-connector sandbox --profiles 100000 --rate-limits off
    """
    unknown = set(quirk or ()) - QUIRKS
    if unknown:
        raise typer.BadParameter(f"unknown quirk(s): {', '.join(sorted(unknown))}")
    config = SandboxConfig(
        seed=seed,
        profiles=profiles,
        api_key=api_key,
        scoped_keys=parse_scoped_keys(scoped_key or []),
        rate_limits=rate_limits is Switch.on,
        time_scale=time_scale,
        quirks=frozenset(quirk or ()),
    )
    sock = bind(host, port)
    base_url = f"http://{host}:{sock.getsockname()[1]}"
    typer.echo(f"Klaviyo sandbox on {base_url} (Ctrl-C stops it)")
    typer.echo(f"Full-scope private key: {api_key}")
    typer.echo(f"export KLAVIYO_BASE_URL={base_url}")
    typer.echo(f"export KLAVIYO_API_KEY={api_key}")
    server = make_server(Sandbox(config), host, sock.getsockname()[1])
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn re-raises Ctrl-C after its clean shutdown
    finally:
        sock.close()
    typer.echo("Sandbox stopped.")
