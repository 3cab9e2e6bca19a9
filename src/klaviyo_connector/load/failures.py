"""What a destination's failure means, and the next step that fits it.

    raise load_error("list", exc, cfg, step="load") from exc

dlt wraps the driver's error in its own; the chain of causes says what went
wrong: no connection, no right to write, or rows the destination (or Arrow,
before it) would not take. The message quotes the innermost error's first line.
"""

from __future__ import annotations

import errno
import re
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from klaviyo_connector.errors import ConfigError, WarehouseError

if TYPE_CHECKING:
    from klaviyo_connector.config import SyncConfig

_CREDENTIALS_IN_URL = re.compile(r"://[^/@\s]+@")

CONNECTION_FIX = "Check the destination's credentials and that it is reachable."
PRIVILEGE_FIX = (
    "Check that the user in the destination's credentials may create schemas in "
    "the database and write to the {dataset} and {dataset}_staging schemas."
)
FILE_FIX = "Check that the user running the sync may read and write {path}."
DATA_FIX = (
    "This is a connector bug or data from Klaviyo the connector does not expect; "
    "please report it with the log (-v)."
)
IN_USE_FIX = (
    "Make sure no other program (another sync, a SQL client) has the file open "
    "for writing."
)
UNKNOWN_FIX = (
    "The next sync tries again; if the error persists, please report it with the "
    "log (-v)."
)


class Failure(Enum):
    CONNECTION = "connection"
    PRIVILEGE = "privilege"  # the database user may not do it
    FILE = "file"  # the operating system refused a file or folder
    IN_USE = "in use"  # another process holds the DuckDB file
    DATA = "data"
    UNKNOWN = "unknown"


# DB-API class names (PEP 249), whatever the driver, and dlt's own.
_CONNECTION_NAMES = frozenset(
    {
        "OperationalError",
        "InterfaceError",
        "DestinationConnectionError",
        "ConnectionError",
        "TimeoutError",
    }
)
_DATA_NAMES = frozenset({"IntegrityError", "DataError", "ArrowException"})
_FILE_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})
_FILE_TEXTS = ("permission denied", "operation not permitted", "read-only file system")
# Steps that never reach the destination: a failure there is about the rows.
_LOCAL_STEPS = frozenset({"extract", "normalize"})


def clean(text: str) -> str:
    """The text without the password of a URL it may quote."""
    return _CREDENTIALS_IN_URL.sub("://***@", text)


def chain(exc: BaseException) -> list[BaseException]:
    """The exception and its causes, outermost first."""
    found: list[BaseException] = []
    inner: BaseException | None = exc
    while inner is not None and all(inner is not seen for seen in found):
        found.append(inner)
        inner = inner.__cause__ or inner.__context__
    return found


def chain_text(exc: BaseException) -> str:
    """Every message in the exception's chain of causes."""
    return "\n".join(str(inner) for inner in chain(exc))


def first_line(exc: BaseException) -> str:
    """The innermost error's first line, without credentials."""
    inner = chain(exc)[-1]
    lines = str(inner).strip().splitlines() or [type(inner).__name__]
    return clean(lines[0])[:300]


def sentence(text: str) -> str:
    """The text as a finished sentence, so a fix can follow it."""
    text = text.rstrip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def no_credentials(destination: str) -> ConfigError:
    return ConfigError(
        f"The {destination} destination has no credentials.",
        fix="Set KLAVIYO_DESTINATION_CREDENTIALS (or dlt's own "
        f"DESTINATION__{destination.upper()}__CREDENTIALS), or pass --credentials "
        "for a URL without a password.",
    )


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for inner in chain(exc) for cls in type(inner).__mro__}


def _refused_by_os(exc: BaseException) -> bool:
    return any(
        isinstance(inner, OSError) and inner.errno in _FILE_ERRNOS
        for inner in chain(exc)
    )


def _says_refused(exc: BaseException) -> bool:
    return any(text in chain_text(exc).lower() for text in _FILE_TEXTS)


def _refused_privilege(exc: BaseException) -> bool:
    # SQLSTATE 42501, insufficient_privilege, as psycopg2 and others carry it.
    return any(getattr(inner, "pgcode", None) == "42501" for inner in chain(exc)) or (
        "InsufficientPrivilege" in _names(exc)
    )


def classify(exc: BaseException, destination: str, step: str | None = None) -> Failure:
    """What kind of failure this is, from its chain of causes. "Permission
    denied" in the text is the operating system's words in DuckDB (whose
    errors are no OSError), a database's refusal anywhere else."""
    if _refused_privilege(exc):
        return Failure.PRIVILEGE
    if _refused_by_os(exc) or (destination == "duckdb" and _says_refused(exc)):
        return Failure.FILE
    if _says_refused(exc):
        return Failure.PRIVILEGE
    names = _names(exc)
    if names & _DATA_NAMES or step in _LOCAL_STEPS:
        return Failure.DATA
    if destination == "duckdb":
        held = "could not set lock" in chain_text(exc).lower()
        return Failure.IN_USE if held else Failure.UNKNOWN
    if names & _CONNECTION_NAMES:
        return Failure.CONNECTION
    return Failure.UNKNOWN


def _refused_path(exc: BaseException, cfg: SyncConfig) -> str:
    for inner in chain(exc):
        if isinstance(inner, OSError) and inner.filename:
            return str(inner.filename)
    if cfg.destination == "duckdb":
        path = Path(cfg.duckdb_path).expanduser().resolve()
        return f"the DuckDB file {path} and its folder"
    return f"the working folder {Path(cfg.data_dir).expanduser().resolve()}"


def fix_for(failure: Failure, exc: BaseException, cfg: SyncConfig) -> str:
    if failure == Failure.CONNECTION:
        return CONNECTION_FIX
    if failure == Failure.PRIVILEGE:
        return PRIVILEGE_FIX.format(dataset=cfg.dataset)
    if failure == Failure.FILE:
        return FILE_FIX.format(path=_refused_path(exc, cfg))
    if failure == Failure.IN_USE:
        return IN_USE_FIX
    if failure == Failure.DATA:
        return DATA_FIX
    return UNKNOWN_FIX


def warehouse_error(what: str, exc: BaseException, cfg: SyncConfig) -> WarehouseError:
    """`what` and the error's first line as one sentence, with the fix that fits."""
    failure = classify(exc, cfg.destination)
    return WarehouseError(
        sentence(f"{what}: {first_line(exc)}"), fix=fix_for(failure, exc, cfg)
    )


def load_error(
    table: str, exc: BaseException, cfg: SyncConfig, step: str | None = None
) -> WarehouseError:
    """A commit of `table` rows that failed in dlt's `step`, said by its kind."""
    failure = classify(exc, cfg.destination, step)
    where = cfg.destination
    if failure == Failure.CONNECTION:
        what = f"The {where} destination could not be reached for the {table} rows"
    elif step in _LOCAL_STEPS:
        what = f"The {table} rows could not be prepared for the {where} destination"
    else:
        during = f" during {step}" if step else ""
        what = f"The {where} destination refused the {table} rows{during}"
    return WarehouseError(
        sentence(f"{what}: {first_line(exc)}"), fix=fix_for(failure, exc, cfg)
    )
