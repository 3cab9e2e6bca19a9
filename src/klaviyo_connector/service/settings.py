"""Where the service keeps its state and how it reaches Klaviyo."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from klaviyo_connector import KLAVIYO_BASE_URL


def _default_base_url() -> str:
    return os.environ.get("KLAVIYO_BASE_URL", KLAVIYO_BASE_URL).rstrip("/")


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
    session_max_age: int = 14 * 24 * 3600

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
