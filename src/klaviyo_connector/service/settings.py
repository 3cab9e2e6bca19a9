"""Where the service keeps its state and how it reaches Klaviyo."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from klaviyo_connector import KLAVIYO_BASE_URL

DEFAULT_PROFILE_CHUNK_ROWS = 20_000

# Addresses meaning "every interface": recognised here, never bound to.
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104


def _default_base_url() -> str:
    return os.environ.get("KLAVIYO_BASE_URL", KLAVIYO_BASE_URL).rstrip("/")


def _default_chunk_rows() -> int:
    """KLAVIYO_PROFILE_CHUNK_ROWS, the command line's setting, read the same way."""
    raw = os.environ.get("KLAVIYO_PROFILE_CHUNK_ROWS", "").strip()
    if not raw:
        return DEFAULT_PROFILE_CHUNK_ROWS
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(
            f"KLAVIYO_PROFILE_CHUNK_ROWS must be a whole number of at least 1, "
            f"not {raw!r}; unset it for the default ({DEFAULT_PROFILE_CHUNK_ROWS})."
        )
    return int(raw)


@dataclass(frozen=True)
class ServiceSettings:
    """The service's settings, read once when the app is built."""

    data_dir: Path = Path("klaviyo-data")
    klaviyo_base_url: str = field(default_factory=_default_base_url)
    secret: str | None = field(
        default_factory=lambda: os.environ.get("KLAVIYO_CONNECTOR_SECRET")
    )
    # Runs of different connections that may execute at once; one connection
    # never runs twice at the same time whatever this says.
    max_parallel_runs: int = 2
    # Exposes a "every N seconds" sync period; meant for tests and demos, where
    # waiting an hour for a scheduled run is not an option.
    allow_seconds_period: bool = False
    signin_ttl_seconds: int = 3600
    # Where the service listens; sign-in links are built from these (or from
    # public_url), never from a request's Host header, which the client writes.
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    session_max_age: int = 14 * 24 * 3600
    # Profiles committed per load: a sync cut off by a stop resumes after the
    # last commit, so smaller chunks lose less work and cost more loads.
    profile_chunk_rows: int = field(default_factory=_default_chunk_rows)

    @property
    def base_url(self) -> str:
        """The service's own address, for links it prints or hands out."""
        if self.public_url:
            return self.public_url.rstrip("/")
        # A link to a wildcard address opens nothing; this machine is listening.
        host = "127.0.0.1" if self.host in WILDCARD_HOSTS else self.host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}"

    def signin_url(self, token: str) -> str:
        return f"{self.base_url}/signin?token={token}"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "connector.db"

    @property
    def warehouse_dir(self) -> Path:
        return self.data_dir / "warehouse"

    @property
    def pipelines_dir(self) -> Path:
        return self.data_dir / "pipelines"

    def duckdb_path(self, slug: str) -> Path:
        return self.warehouse_dir / f"{slug}.duckdb"

    def pipeline_dir(self, slug: str) -> Path:
        return self.pipelines_dir / slug

    def has_files_of(self, slug: str) -> bool:
        """A connection by this name wrote here, even one deleted long ago."""
        return self.duckdb_path(slug).exists() or self.pipeline_dir(slug).exists()
