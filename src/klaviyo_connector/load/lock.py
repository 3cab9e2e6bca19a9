"""One sync per dataset: a lock in the destination for as long as a sync runs.

Two syncs loading one dataset at once share dlt's `<dataset>_staging` tables,
and their merges interleave into duplicate rows that later syncs do not
repair. In PostgreSQL a sync holds a session advisory lock keyed on the
dataset, on a connection of its own, from before it reads the cursors until
it ends; the server frees it when that connection closes, also for a killed
process. A DuckDB file admits one writing process by itself. Other
destinations take no lock (README, Limitations).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from klaviyo_connector.errors import DatasetBusyError
from klaviyo_connector.load.destination import DLT_LOCK
from klaviyo_connector.load.failures import no_credentials, warehouse_error

if TYPE_CHECKING:
    import dlt

    from klaviyo_connector.config import SyncConfig

log = logging.getLogger(__name__)

LOCKING = frozenset({"postgres"})
# How often a waiting sync asks again; pg_try_advisory_lock never blocks, so
# the wait can end the moment the run is stopped.
POLL_SECONDS = 1.0


def lock_key(dataset: str) -> int:
    """The advisory lock's 64-bit key: the same dataset, the same key, in every
    process and version."""
    digest = hashlib.sha256(f"klaviyo-connector dataset {dataset}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class DatasetLock:
    """The destination's lock on the configured dataset."""

    def __init__(self, pipeline: dlt.Pipeline, cfg: SyncConfig) -> None:
        self._pipeline = pipeline
        self._cfg = cfg
        self._client: Any = None

    def acquire(self, sleep: Callable[[float], None] = time.sleep) -> None:
        """Takes the lock, waiting up to `lock_wait` seconds for a sync that
        holds it; DatasetBusyError when it does not come free in time. `sleep`
        may raise to end the wait (a stopped run)."""
        if self._cfg.destination not in LOCKING or self._client is not None:
            return
        key = self._connect()
        deadline = time.monotonic() + self._cfg.lock_wait
        waited = False
        while not self._try(key):
            left = deadline - time.monotonic()
            if left <= 0:
                self.release()
                raise self._busy()
            if not waited:
                log.warning(
                    "Another sync is loading the dataset %s in %s; waiting up to "
                    "%g s for it to finish.",
                    self._cfg.dataset,
                    self._cfg.destination,
                    self._cfg.lock_wait,
                )
                waited = True
            sleep(min(POLL_SECONDS, left))
        if waited:
            log.info("The other sync has finished; loading %s.", self._cfg.dataset)

    def release(self) -> None:
        """Closing the connection frees the lock."""
        with DLT_LOCK:
            client, self._client = self._client, None
            if client is not None:
                client.close_connection()

    def _connect(self) -> int:
        from dlt.common.configuration.exceptions import ConfigFieldMissingException

        where = self._cfg.destination
        try:
            with DLT_LOCK:
                client = self._pipeline.sql_client()
                client.open_connection()
        except ConfigFieldMissingException as exc:
            raise no_credentials(where) from exc
        except Exception as exc:
            raise warehouse_error(
                f"Could not connect to the {where} destination", exc, self._cfg
            ) from exc
        self._client = client
        return lock_key(client.dataset_name)

    def _try(self, key: int) -> bool:
        try:
            with DLT_LOCK:
                rows = self._client.execute_sql("SELECT pg_try_advisory_lock(%s)", key)
        except Exception as exc:
            self.release()
            raise warehouse_error(
                f"Could not lock the dataset {self._cfg.dataset} in the "
                f"{self._cfg.destination} destination",
                exc,
                self._cfg,
            ) from exc
        return bool(rows and rows[0][0])

    def _busy(self) -> DatasetBusyError:
        waited = self._cfg.lock_wait
        after = f"; this one waited {waited:g} s for it to finish" if waited else ""
        return DatasetBusyError(
            f"Another sync is loading the dataset {self._cfg.dataset} in "
            f"{self._cfg.destination}{after}."
        )
