"""Settings: what one sync needs, and how the command line gathers it.

`SyncConfig` is the plain, validated input of the engine (the service builds it
from its own store). `Settings` reads the environment (prefix KLAVIYO_) and a
TOML file once, at the edge, and reports every problem at once.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from pathlib import Path
from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from klaviyo_connector import KLAVIYO_BASE_URL
from klaviyo_connector.errors import ConfigError
from klaviyo_connector.keys import ApiKey
from klaviyo_connector.sync.models import TABLES

DEFAULT_CONFIG_FILE = Path("klaviyo-connector.toml")
# Not klaviyo.duckdb: DuckDB names the catalog after the file, and a catalog
# named like the `klaviyo` schema makes every `klaviyo.<table>` ambiguous.
DEFAULT_DUCKDB = Path("klaviyo-warehouse.duckdb")
# dlt destinations are named like Python modules (duckdb, postgres,
# dlt.destinations.bigquery); anything else is usually credentials typed in the
# wrong place, which must not travel on to messages and summaries.
_DESTINATION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
# dlt names the pipeline's working folder after it and refuses path characters,
# dots and names Windows reserves (con, com1); these are safe on every platform.
_PIPELINE_NAME = re.compile(
    r"(?!(?:con|prn|aux|nul|com\d|lpt\d)$)[A-Za-z0-9_-]{1,100}", re.IGNORECASE
)
# Seconds: finite (inf overflows the socket timeout) and within reason.
MAX_TIMEOUT, MAX_WAIT = 3600.0, 86400.0


def duckdb_name_clash(path: Path, dataset: str) -> bool:
    """Whether DuckDB would name the file's database like the dataset."""
    return Path(path).expanduser().stem.lower() == dataset.strip().lower()


def printable(value: str) -> str:
    """A value from the command line or environment as it can be shown: bytes
    that are not UTF-8 (which Python keeps as lone surrogates) as `\\xff`."""
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = value.encode("utf-8", "backslashreplace")
    return raw.decode("utf-8", "backslashreplace")


def _clean_base_url(value: str) -> str:
    url = printable(str(value)).strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    # Base URLs are host and port only; paths already start with /api.
    url = url.removesuffix("/api")
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"{url!r} has no host name")
    if parts.path or parts.query or parts.fragment:
        rest = url[len(f"{parts.scheme}://{parts.netloc}") :]
        raise ValueError(
            f"must be the address alone, without {rest!r} after it "
            f"(e.g. https://a.klaviyo.com, or {parts.scheme}://{parts.netloc})"
        )
    return url


def _not_empty(value: str, default: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError(f"must not be empty; leave it unset for {default}")
    return value


def _pipeline_name(value: str) -> str:
    value = value.strip()
    if not _PIPELINE_NAME.fullmatch(value):
        raise ValueError(
            "must be 1 to 100 letters, digits, _ or -, and not a device name "
            "such as con (it names dlt's working folder), e.g. klaviyo"
        )
    return value


def place_problem(path: Path, kind: str) -> str | None:
    """Why this user could not create or write `path`, a "folder" or a "file",
    if so; nothing is created."""
    shown = printable(str(path))
    target = path.expanduser().absolute()
    if kind == "file" and target.is_dir():
        inside = printable(str(path / DEFAULT_DUCKDB))
        return f"{shown} is a folder; give a file name, e.g. {inside}"
    if kind == "file" and os.path.exists(target) and not os.access(target, os.W_OK):
        return f"you cannot write to the file {shown}; choose a file you can write to"
    folder = target if kind == "folder" else target.parent
    # os.path.exists, unlike Path.exists, says False for a path it may not see.
    blocker = next(p for p in (folder, *folder.parents) if os.path.exists(p))
    where = shown if blocker == target else printable(str(blocker))
    if not blocker.is_dir():
        return f"{where} is a file, not a folder; choose another {kind}"
    if not os.access(blocker, os.W_OK | os.X_OK):
        done = "written" if os.path.exists(target) else "created"
        made = "" if blocker == target else f"{shown} cannot be {done}, as "
        return f"{made}you cannot write to the folder {where}; choose a {kind} " + (
            "you can write to" if kind == "folder" else "in a folder you can write to"
        )
    return None


def parse_tables(value: Any) -> tuple[str, ...]:
    """'campaign,profile' or a list: known table names, in the canonical order."""
    if value is None or value == "" or value == ():
        return TABLES
    items = value.split(",") if isinstance(value, str) else list(value)
    names = [printable(str(item)).strip() for item in items]
    names = [name for name in names if name]
    unknown = [name for name in names if name not in TABLES]
    if unknown:
        raise ValueError(
            f"unknown table(s) {', '.join(unknown)}; choose from {', '.join(TABLES)}"
        )
    if not names:
        raise ValueError(f"no table given; choose from {', '.join(TABLES)}")
    return tuple(table for table in TABLES if table in names)


# Klaviyo answers a page of profiles in a few hundred milliseconds; this many
# chains at once reach its 75 requests a second within the minute's quota.
PROFILE_READERS = 20


class SyncConfig(BaseModel):
    """Everything the engine needs to sync one Klaviyo account."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    api_key: ApiKey
    base_url: str = KLAVIYO_BASE_URL
    destination: str = "duckdb"
    duckdb_path: Path = DEFAULT_DUCKDB
    dataset: str = "klaviyo"
    destination_credentials: str | None = Field(default=None, repr=False)
    pipeline_name: str = "klaviyo"
    data_dir: Path = Path(".klaviyo-connector")
    conversion_metric_id: str | None = None
    # Optional tuning: Klaviyo reads run on this many threads; HTTP budget.
    max_workers: int = Field(default=3, ge=1, le=8)
    timeout: float = Field(default=30.0, gt=0, le=MAX_TIMEOUT, allow_inf_nan=False)
    max_attempts: int = Field(default=8, ge=1)
    max_wait: float = Field(default=300.0, gt=0, le=MAX_WAIT, allow_inf_nan=False)
    profile_chunk_rows: int = Field(default=20_000, ge=1)
    # Profile pages read at once, each chain over its own `updated` range.
    profile_readers: int = Field(default=PROFILE_READERS, ge=1, le=32)
    # Off only for a server without rate limits (a sandbox with --rate-limits off).
    pacing: bool = True
    # Seconds a sync waits for another sync loading the same dataset to finish
    # (PostgreSQL; see load/lock.py) before it stops with an error.
    lock_wait: float = Field(default=600.0, ge=0, le=MAX_WAIT, allow_inf_nan=False)
    # How far back the first sync of campaign_performance_stats reads; later
    # syncs re-read only the lookback window.
    stats_history_days: int = Field(default=730, ge=0)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return _clean_base_url(value)

    @field_validator("destination", "dataset")
    @classmethod
    def _name(cls, value: str, info: ValidationInfo) -> str:
        return _not_empty(value, cls.model_fields[str(info.field_name)].default)

    @field_validator("pipeline_name")
    @classmethod
    def _pipeline(cls, value: str) -> str:
        return _pipeline_name(value)


class Settings(BaseSettings):
    """Command-line settings: flags > KLAVIYO_* environment > TOML file > defaults."""

    model_config = SettingsConfigDict(env_prefix="KLAVIYO_", extra="forbid")

    api_key: ApiKey | None = None
    base_url: str = KLAVIYO_BASE_URL
    destination: str = "duckdb"
    # Before duckdb_path, whose check reads it.
    dataset: str = "klaviyo"
    duckdb_path: Path = DEFAULT_DUCKDB
    destination_credentials: str | None = Field(default=None, repr=False)
    pipeline_name: str = "klaviyo"
    data_dir: Path = Path(".klaviyo-connector")
    conversion_metric_id: str | None = None
    lookback_days: int = Field(default=14, ge=0, le=3650)
    stats_history_days: int = Field(default=730, ge=0, le=3650)
    tables: Annotated[tuple[str, ...], NoDecode] = TABLES
    # Tuning, passed to the engine as is: profiles committed per load (a killed
    # sync resumes from the last commit) and the HTTP budget per request.
    profile_chunk_rows: int = Field(default=20_000, ge=1)
    profile_readers: int = Field(default=PROFILE_READERS, ge=1, le=32)
    timeout: float = Field(default=30.0, gt=0, le=MAX_TIMEOUT, allow_inf_nan=False)
    max_attempts: int = Field(default=8, ge=1)
    max_wait: float = Field(default=300.0, gt=0, le=MAX_WAIT, allow_inf_nan=False)
    pacing: bool = True
    lock_wait: float = Field(default=600.0, ge=0, le=MAX_WAIT, allow_inf_nan=False)

    _file_values: ClassVar[dict[str, Any]] = {}
    # Set for the commands that write (sync, backfill): their folder and file
    # are checked with the other settings, before any request.
    _writes: ClassVar[bool] = False

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return _clean_base_url(value)

    @field_validator("tables", mode="before")
    @classmethod
    def _tables(cls, value: Any) -> tuple[str, ...]:
        return parse_tables(value)

    @field_validator("destination")
    @classmethod
    def _destination(cls, value: str) -> str:
        if not _DESTINATION_NAME.fullmatch(value.strip()):
            raise ValueError(
                "must be a dlt destination name such as duckdb or postgres; "
                "credentials go in destination_credentials"
            )
        return value.strip()

    @field_validator("dataset")
    @classmethod
    def _dataset(cls, value: str) -> str:
        return _not_empty(value, "klaviyo")

    @field_validator("pipeline_name")
    @classmethod
    def _pipeline(cls, value: str) -> str:
        return _pipeline_name(value)

    @field_validator("duckdb_path")
    @classmethod
    def _duckdb_path(cls, value: Path, info: ValidationInfo) -> Path:
        dataset = info.data.get("dataset")
        if info.data.get("destination") != "duckdb" or dataset is None:
            return value
        if duckdb_name_clash(value, dataset):
            raise ValueError(
                f"the file {value.name} and the dataset {dataset!r} share a name, "
                "which DuckDB cannot tell apart (it names the database after the "
                f"file); choose another file name, e.g. {DEFAULT_DUCKDB}, or "
                "another dataset"
            )
        problem = place_problem(value, "file") if cls._writes else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("data_dir")
    @classmethod
    def _data_dir(cls, value: Path) -> Path:
        problem = place_problem(value, "folder") if cls._writes else None
        if problem:
            raise ValueError(problem)
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        file_source = InitSettingsSource(settings_cls, init_kwargs=cls._file_values)
        return (init_settings, env_settings, file_source)

    def sync_config(self, **extra: Any) -> SyncConfig:
        """The engine's input; a missing key is a configuration error."""
        if self.api_key is None:
            raise ConfigError(
                "No Klaviyo API key is configured.",
                fix=(
                    "Set KLAVIYO_API_KEY, or api_key in klaviyo-connector.toml "
                    "(readable only by you)."
                ),
            )
        fields = self.model_dump(exclude={"lookback_days", "tables", "api_key"})
        fields["destination_credentials"] = self.destination_credentials
        try:
            return SyncConfig(api_key=self.api_key, **fields, **extra)
        except ValidationError as exc:
            raise _settings_error(exc) from exc


def read_config_file(path: Path | None) -> tuple[dict[str, Any], list[str]]:
    """The TOML file's values and warnings; an explicitly named file must exist."""
    target = path or DEFAULT_CONFIG_FILE
    if not target.exists():
        if path is not None:
            raise ConfigError(f"Config file {target} does not exist.")
        return {}, []
    try:
        values = tomllib.loads(target.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise ConfigError(f"Config file {target} is not valid TOML: {exc}.") from exc
    return values, permission_warnings(target, values)


def permission_warnings(path: Path, values: dict[str, Any]) -> list[str]:
    """A secret in a file others can read is a leaked secret waiting to happen."""
    if "api_key" in values:
        held = "an API key"
    elif "destination_credentials" in values:
        held = "destination credentials"
    else:
        return []
    if os.name != "posix":
        return []
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return [
            f"{path} holds {held} but other users can read it "
            f"(mode {mode:o}); run: chmod 600 {path}"
        ]
    return []


def _problems(error: ValidationError) -> list[str]:
    """One line per problem, `where: what.`, each a finished sentence."""
    lines = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "settings"
        message = problem["msg"].removeprefix("Value error, ").rstrip(".")
        if problem["type"] == "extra_forbidden":
            message = "unknown setting"
        lines.append(f"{where}: {message}.")
    return lines


def _settings_error(error: ValidationError) -> ConfigError:
    problems = _problems(error)
    if len(problems) == 1:
        return ConfigError(
            f"A setting has a problem: {problems[0]}",
            fix="Fix it in the flags, KLAVIYO_* variables or the config file.",
        )
    listing = "\n".join(f"  {line}" for line in problems)
    return ConfigError(
        f"The settings have {len(problems)} problems:\n{listing}",
        fix="Fix them in the flags, KLAVIYO_* variables or the config file.",
    )


def _refuse_undecodable(given: dict[str, Any]) -> None:
    """A name or address with bytes that are not UTF-8 cannot reach Klaviyo or
    a warehouse intact; tables say which names exist instead."""
    for name, value in given.items():
        if name == "tables" or not isinstance(value, str):
            continue
        if printable(value) != value:
            raise ConfigError(
                f"The {name} setting '{printable(value)}' is not valid UTF-8 text.",
                fix="Type it again, without the stray bytes.",
            )


def load_settings(
    config_file: Path | None = None, *, writes: bool = False, **overrides: Any
) -> tuple[Settings, list[str]]:
    """Settings from flags (overrides that are not None), KLAVIYO_* variables and
    the config file; raises one ConfigError listing every problem. `writes`
    also checks that the DuckDB file and dlt's folder can be written."""
    file_values, warnings = read_config_file(config_file)
    given = {name: value for name, value in overrides.items() if value is not None}
    _refuse_undecodable(given)

    class _FromFile(Settings):
        _file_values = file_values
        _writes = writes

    try:
        settings = _FromFile(**given)
    except ValidationError as exc:
        raise _settings_error(exc) from exc
    return settings, warnings
