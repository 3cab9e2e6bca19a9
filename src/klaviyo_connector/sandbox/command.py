"""`klaviyo-connector sandbox`: serve the fake Klaviyo API until Ctrl-C.

Every option is checked before anything is bound or printed: a bad value is
one line on stderr and exit 2, and nothing claims the sandbox is ready.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer

from klaviyo_connector.sandbox.config import (
    ALL_SCOPES,
    DEFAULT_SANDBOX_KEY,
    QUIRKS,
    SandboxConfig,
)
from klaviyo_connector.sandbox.runner import bind, make_server
from klaviyo_connector.sandbox.server import Sandbox
from klaviyo_connector.sandbox.store import MAX_PROFILES

EXIT_USAGE = 2
_PRIVATE_KEY = re.compile(r"pk_[A-Za-z0-9_]+")
_VALID_SCOPES = ", ".join(sorted(ALL_SCOPES))


class Switch(StrEnum):
    on = "on"
    off = "off"


class UsageProblems(Exception):
    """Every bad option of one invocation, reported together."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _key_problem(key: str, flag: str) -> str | None:
    # The sandbox, like Klaviyo, refuses anything but a private key; a key it
    # would refuse on every request is better refused at start.
    if _PRIVATE_KEY.fullmatch(key):
        return None
    return f"{flag} must be a private key: pk_ followed by letters and digits"


def parse_scoped_keys(values: list[str]) -> tuple[dict[str, frozenset[str]], list[str]]:
    """`KEY=scope,scope` pairs -> ({key: scopes}, problems): a pair with a bad
    key and unknown scopes names both."""
    keys: dict[str, frozenset[str]] = {}
    problems: list[str] = []
    for value in values:
        key, sep, listed = value.partition("=")
        scopes = frozenset(s.strip() for s in listed.split(",") if s.strip())
        unknown = sorted(scopes - ALL_SCOPES)
        found = []
        if not sep or not key:
            found.append("--scoped-key must be KEY=scope,scope")
        elif bad_key := _key_problem(key, "--scoped-key"):
            found.append(bad_key)
        if unknown:
            found.append(
                f"--scoped-key has unknown scope(s) {', '.join(unknown)} "
                f"(valid scopes: {_VALID_SCOPES})"
            )
        if not found:
            keys[key] = scopes
        problems += found
    return keys, problems


def parse_now(value: str | None) -> tuple[datetime | None, list[str]]:
    """An ISO date or datetime (without an offset: UTC), and its problems."""
    if value is None:
        return None, []
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        example = "2026-07-15T12:00:00Z"
        return None, [f"--now {value!r} is not an ISO datetime (e.g. {example})"]
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC), []


def _number_problems(
    port: int, profiles: int, time_scale: float, latency_ms: float
) -> list[str]:
    problems = []
    if not 0 <= port <= 65535:
        problems.append(f"--port must be between 0 and 65535 (got {port})")
    if not 0 <= profiles <= MAX_PROFILES:
        problems.append(
            f"--profiles must be between 0 and {MAX_PROFILES:,} (got {profiles})"
        )
    if not (math.isfinite(time_scale) and time_scale > 0):
        problems.append(
            f"--time-scale must be a number above 0, e.g. 60 (got {time_scale:g})"
        )
    if not (math.isfinite(latency_ms) and latency_ms >= 0):
        problems.append(
            f"--latency-ms must be 0 or more, e.g. 300 (got {latency_ms:g})"
        )
    return problems


def _quirk_problems(quirks: list[str]) -> list[str]:
    unknown = sorted(set(quirks) - QUIRKS)
    if not unknown:
        return []
    return [
        f"--quirk has unknown quirk(s) {', '.join(unknown)} "
        f"(choose from {', '.join(sorted(QUIRKS))})"
    ]


def build_config(
    *,
    port: int,
    api_key: str,
    scoped_key: list[str],
    profiles: int,
    seed: int,
    rate_limits: bool,
    time_scale: float,
    quirk: list[str],
    now: str | None,
    latency_ms: float = 0.0,
    prebuild: bool = False,
) -> SandboxConfig:
    """The sandbox the options describe, or UsageProblems naming each bad one."""
    problems = _number_problems(port, profiles, time_scale, latency_ms)
    problems += [p for p in [_key_problem(api_key, "--api-key")] if p]
    keys, key_problems = parse_scoped_keys(scoped_key)
    moment, now_problems = parse_now(now)
    problems += key_problems + _quirk_problems(quirk) + now_problems
    if problems:
        raise UsageProblems(problems)
    return SandboxConfig(
        seed=seed,
        profiles=profiles,
        now=moment,
        api_key=api_key,
        scoped_keys=keys,
        rate_limits=rate_limits,
        time_scale=time_scale,
        latency=latency_ms / 1000,
        quirks=frozenset(quirk),
        prebuild=prebuild,
    )


def _usage_error(message: str) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


def _serve(sandbox: Sandbox, host: str, port: int) -> None:
    try:
        sock = bind(host, port)
    except OSError as error:
        raise _usage_error(
            f"cannot listen on {host}:{port} ({error.strerror}); choose another "
            "--port or --host"
        ) from None
    base_url = f"http://{host}:{sock.getsockname()[1]}"
    key = sandbox.config.api_key
    typer.echo(f"Klaviyo sandbox on {base_url} (Ctrl-C stops it)")
    typer.echo(f"Full-scope private key: {key}")
    typer.echo(f"export KLAVIYO_BASE_URL={base_url}")
    typer.echo(f"export KLAVIYO_API_KEY={key}")
    server = make_server(sandbox, host, sock.getsockname()[1])
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn re-raises Ctrl-C after its clean shutdown
    finally:
        sock.close()
    typer.echo("Sandbox stopped.")


def sandbox_command(
    port: Annotated[
        int, typer.Option(help="Port to listen on (0: a free one).")
    ] = 8765,
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
        typer.Option(
            help=f"Extra key with fewer scopes, KEY=scope,scope (repeatable); "
            f"scopes: {_VALID_SCOPES}."
        ),
    ] = None,
    profiles: Annotated[int, typer.Option(help="How many profiles to serve.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the generated account.")] = 42,
    now: Annotated[
        str | None,
        typer.Option(
            metavar="ISO-DATETIME",
            help="The data's clock at start (default: the real time). With the "
            "same --seed it gives the same ids and dates on every start.",
            show_default=False,
        ),
    ] = None,
    rate_limits: Annotated[
        Switch, typer.Option(help="Enforce Klaviyo's rate limits.")
    ] = Switch.on,
    time_scale: Annotated[
        float, typer.Option(help="Rate-limit windows pass this many times faster.")
    ] = 1.0,
    latency_ms: Annotated[
        float,
        typer.Option(
            help="Milliseconds every answer takes, like a real Klaviyo's few hundred."
        ),
    ] = 0.0,
    quirk: Annotated[
        list[str] | None,
        typer.Option(help=f"Enable a data quirk: {', '.join(sorted(QUIRKS))}."),
    ] = None,
    prebuild: Annotated[
        bool,
        typer.Option(
            "--prebuild",
            help="Build every profile before serving (about two minutes and 2 GB "
            "per million): pages then come several times faster, as a benchmark "
            "at Klaviyo's burst rate needs.",
        ),
    ] = False,
) -> None:
    """Serve a local Klaviyo API (revision 2026-07-15) with generated data.

    Example: klaviyo-connector sandbox --seed 7 --now 2026-07-15T12:00:00Z
    """
    try:
        config = build_config(
            port=port,
            api_key=api_key,
            scoped_key=scoped_key or [],
            profiles=profiles,
            seed=seed,
            rate_limits=rate_limits is Switch.on,
            time_scale=time_scale,
            latency_ms=latency_ms,
            quirk=quirk or [],
            now=now,
            prebuild=prebuild,
        )
    except UsageProblems as error:
        raise _usage_error(str(error)) from None
    if prebuild:
        typer.echo(f"Building {profiles:,} profiles before serving…", err=True)
    _serve(Sandbox(config), host, port)
