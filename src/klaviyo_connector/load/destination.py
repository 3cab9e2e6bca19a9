"""Building the dlt pipeline for a configuration: destination, dataset, folder.

Every other dlt destination is configuration, not code: its name plus dlt's
own credentials (environment variables such as
DESTINATION__BIGQUERY__CREDENTIALS__PROJECT_ID, or .dlt/secrets.toml).
"""

from __future__ import annotations

import copy
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from klaviyo_connector.errors import ConfigError, WarehouseError
from klaviyo_connector.load.failures import (
    Failure,
    classify,
    first_line,
    fix_for,
    sentence,
)

if TYPE_CHECKING:
    import dlt
    import duckdb

    from klaviyo_connector.config import SyncConfig

# dlt pipelines share process-wide context; one load at a time keeps them apart
# while the Klaviyo reads of every table still run concurrently.
DLT_LOCK = threading.RLock()

# dlt's working folder holds Parquet copies of the rows while they load (every
# profile's email and address), so only its owner may read it.
PRIVATE_DIR = 0o700

# Destinations that take Parquet files: several times faster than SQL inserts.
_PARQUET = frozenset({"duckdb", "motherduck", "filesystem", "bigquery", "snowflake"})


class _ArrowJsonNote(logging.Filter):
    """JSON columns travel as text in the Arrow tables we hand dlt; dlt keeps
    our `json` hint (which is the point) and warns about it on every load."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "when merging arrow schema with dlt schema" not in record.getMessage()


_ARROW_JSON_NOTE = _ArrowJsonNote()


def quiet_dlt() -> None:
    """No usage telemetry and no progress chatter from dlt, unless set otherwise.

    Rows arrive as Arrow tables, which dlt loads without its lineage columns
    unless asked; every table keeps `_dlt_load_id` and `_dlt_id`: dlt fills the
    load id, the row ids come with the rows (`warehouse.with_lineage`), so
    these two are set, not defaults. Loaded packages would keep a copy of
    every profile in the working folder, so their job files are deleted once
    the warehouse has them."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ.setdefault("LOAD__DELETE_COMPLETED_JOBS", "true")
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    os.environ["NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID"] = "true"
    os.environ["NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_ID"] = "false"
    logging.getLogger("dlt").addFilter(_ARROW_JSON_NOTE)


def file_format(destination: str) -> Any:
    """The loader file format dlt should use, or None for the destination's own."""
    return "parquet" if destination in _PARQUET else None


def with_empty_password(url: str) -> str:
    """dlt insists on a password; trust, peer and .pgpass setups have none, so
    `postgresql://user@host/db` becomes `postgresql://user:@host/db`."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" in userinfo or not scheme.startswith("postgres"):
        return url
    return f"{scheme}://{userinfo}:@{host}"


def _check_duckdb_names(path: Path, dataset: str) -> None:
    """DuckDB names a file's catalog after the file: a catalog and a schema of
    the same name make `name.table` ambiguous, for dlt and for every query."""
    if path.stem.lower() == dataset.lower():
        raise ConfigError(
            f"The DuckDB file {path.name} and the dataset {dataset!r} share a name, "
            "which DuckDB cannot tell apart.",
            fix="Rename the file (--duckdb-path) or the dataset (--dataset).",
        )


# DuckDB caches up to 80% of RAM by default and keeps it. Merging a chunk of
# 20,000 ordinary profiles needs far less; a load that runs out (profiles with
# very large custom properties, a larger profile_chunk_rows) is loaded again
# with the next, larger limit (see Warehouse).
DUCKDB_MEMORY_MB = (64, 256, 1024, 4096)
DUCKDB_MEMORY_LIMIT = f"{DUCKDB_MEMORY_MB[0]}MB"


def set_duckdb_memory(connection: duckdb.DuckDBPyConnection, megabytes: int) -> None:
    connection.execute(f"SET GLOBAL memory_limit = '{megabytes}MB'")


def duckdb_credentials(path: Path) -> Any:
    from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

    return DuckDbCredentials(
        str(path), global_config={"memory_limit": DUCKDB_MEMORY_LIMIT}
    )


def duckdb_file(cfg: SyncConfig) -> Path:
    """The configured DuckDB file, its folder created."""
    path = Path(cfg.duckdb_path).expanduser().resolve()
    _check_duckdb_names(path, cfg.dataset)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unusable("The DuckDB file", path, exc, "--duckdb-path") from exc
    return path


def _unusable(what: str, path: Path, exc: OSError, option: str) -> ConfigError:
    """An OSError about a configured path, as the one sentence users read."""
    reason = (exc.strerror or str(exc)).lower()
    culprit = f" ({exc.filename})" if exc.filename and exc.filename != str(path) else ""
    return ConfigError(
        f"{what} {path} cannot be created: {reason}{culprit}.",
        fix=f"Choose another place in {option} or the config file.",
    )


def private_folder(path: Path, *, ours: bool = False) -> None:
    """Creates `path` readable by its owner only. An existing folder keeps its
    mode (it may be the user's), unless it is `ours` and others could read it,
    as folders made by earlier versions could."""
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=PRIVATE_DIR, exist_ok=True)
    elif not ours or path.stat().st_uid != os.getuid():
        return
    # mkdir's mode passes through the umask; this sets it exactly.
    if path.stat().st_mode & 0o777 != PRIVATE_DIR:
        os.chmod(path, PRIVATE_DIR)


def open_duckdb(cfg: SyncConfig) -> duckdb.DuckDBPyConnection:
    """One connection to the DuckDB file for a whole sync. Left to itself, dlt
    opens the file for every load and closes it after, and each close
    checkpoints the database: on a large table, most of a commit's cost."""
    import duckdb

    path = duckdb_file(cfg)
    try:
        # Opened without options, as dlt opens it, so readers in the same
        # process share the one database instance.
        connection = duckdb.connect(str(path))
        set_duckdb_memory(connection, DUCKDB_MEMORY_MB[0])
    except duckdb.Error as exc:
        raise _unopened(path, exc, cfg) from exc
    return connection


def _unopened(path: Path, exc: Exception, cfg: SyncConfig) -> WarehouseError:
    """Why the DuckDB file would not open, with the fix for that reason."""
    failure = classify(exc, "duckdb")
    fix = (
        fix_for(failure, exc, cfg)
        if failure in (Failure.FILE, Failure.IN_USE)
        else "Make sure it is a DuckDB database, or choose another file."
    )
    return WarehouseError(
        sentence(f"Could not open the DuckDB file {path}: {first_line(exc)}"),
        fix=fix,
    )


def _credentials(cfg: SyncConfig) -> str | None:
    """The configured URL, else one in dlt's own variable or secrets.toml
    (DESTINATION__POSTGRES__CREDENTIALS): both may come without a password."""
    import dlt

    url = cfg.destination_credentials or dlt.secrets.get(
        f"destination.{cfg.destination}.credentials"
    )
    return with_empty_password(url) if isinstance(url, str) and url else None


def _destination(cfg: SyncConfig, connection: Any = None) -> Any:
    import dlt
    from dlt.common.destination import Destination
    from dlt.common.destination.exceptions import DestinationException

    if cfg.destination == "duckdb":
        credentials = connection or duckdb_credentials(duckdb_file(cfg))
        return remember_capabilities(dlt.destinations.duckdb(credentials=credentials))
    kwargs: dict[str, Any] = {}
    credentials = _credentials(cfg)
    if credentials:
        kwargs["credentials"] = credentials
    try:
        destination = Destination.from_reference(cfg.destination, **kwargs)
    except DestinationException as exc:
        raise ConfigError(
            f"Unknown destination {cfg.destination!r}.",
            fix="Use duckdb, postgres or another dlt destination name.",
        ) from exc
    return remember_capabilities(destination)


def remember_capabilities(destination: Any) -> Any:
    """Works its capabilities out once per naming convention, not every time.

    dlt asks a destination for its capabilities several times a load, and each
    time resolves a partial configuration from every config provider: about a
    quarter of a 20,000-row commit's CPU. The answer depends only on the
    factory's own parameters, which a sync never changes, and the naming
    convention, so the first answer for a convention serves the sync (a sync
    makes its own destination). Each caller gets a copy to adjust."""
    ask = destination.capabilities
    known: dict[tuple[Any, ...] | None, Any] = {}

    def capabilities(config: Any = None, naming: Any = None) -> Any:
        if config is not None:  # a fully resolved config: nothing to save
            return ask(config, naming)
        key = (
            (type(naming), naming.max_length, naming.is_case_sensitive)
            if naming is not None
            else None
        )
        if key not in known:
            known[key] = ask(None, naming)
        return copy.deepcopy(known[key])

    destination.capabilities = capabilities
    return destination


def make_pipeline(cfg: SyncConfig, connection: Any = None) -> dlt.Pipeline:
    """The pipeline whose working folder lives in cfg.data_dir, never in $HOME;
    for DuckDB, `connection` (from `open_duckdb`) is used instead of the file."""
    quiet_dlt()
    import dlt

    data_dir = Path(cfg.data_dir).expanduser().resolve()
    pipelines_dir = data_dir / "pipelines"
    try:
        private_folder(data_dir)
        private_folder(pipelines_dir, ours=True)
    except OSError as exc:
        raise _unusable("dlt's working folder", data_dir, exc, "--data-dir") from exc
    with DLT_LOCK:
        return dlt.pipeline(
            pipeline_name=cfg.pipeline_name,
            destination=_destination(cfg, connection),
            dataset_name=cfg.dataset,
            pipelines_dir=str(pipelines_dir),
        )
