"""Shared helpers for tests that talk to a served sandbox."""

from __future__ import annotations

from datetime import UTC, datetime

from klaviyo_connector.sandbox import SandboxConfig

REVISION = "2026-07-15"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def headers(key: str, revision: str | None = REVISION) -> dict[str, str]:
    out = {"Authorization": f"Klaviyo-API-Key {key}", "accept": "application/json"}
    if revision is not None:
        out["revision"] = revision
    return out


def config(**overrides: object) -> SandboxConfig:
    """A small, fixed-clock sandbox without rate limits unless overridden."""
    options: dict[str, object] = {"profiles": 250, "rate_limits": False, "now": NOW}
    options.update(overrides)
    return SandboxConfig(**options)  # type: ignore[arg-type]
