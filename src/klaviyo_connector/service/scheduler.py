"""Auto-sync: one APScheduler job per switched-on connection, derived from the DB."""

from __future__ import annotations

import datetime as dt
import logging

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from .db import Connection, Database
from .options import trigger_for
from .queue import RunQueue

log = logging.getLogger(__name__)


def _job_id(connection_id: int) -> str:
    return f"auto-sync-{connection_id}"


class AutoSync:
    """Keeps the scheduler's jobs equal to the connections' auto-sync settings."""

    def __init__(self, db: Database, queue: RunQueue) -> None:
        self._db = db
        self._queue = queue
        self._scheduler = BackgroundScheduler(timezone=dt.UTC)

    def start(self) -> None:
        if self._scheduler.running:
            return
        self._scheduler.start()
        with self._db.session() as s:
            ids = s.scalars(select(Connection.id)).all()
        for connection_id in ids:
            self.refresh(connection_id)

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def refresh(self, connection_id: int) -> None:
        """Adds, replaces or removes the connection's job after a settings change."""
        with self._db.session() as s:
            conn = s.get(Connection, connection_id)
            wanted = conn is not None and conn.auto_sync and conn.setup_complete
            trigger = (
                trigger_for(conn.sync_period, conn.sync_cron, conn.sync_seconds)
                if conn is not None and wanted
                else None
            )
        job_id = _job_id(connection_id)
        if trigger is None:
            if self._scheduler.get_job(job_id):
                self._scheduler.remove_job(job_id)
            return
        self._scheduler.add_job(
            self._fire,
            trigger,
            args=[connection_id],
            id=job_id,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=300,
        )

    def next_run(self, connection_id: int) -> dt.datetime | None:
        job = self._scheduler.get_job(_job_id(connection_id))
        return job.next_run_time if job is not None else None

    def _fire(self, connection_id: int) -> None:
        run_id = self._queue.submit(connection_id, "scheduled")
        log.info("auto-sync queued run %s for connection %s", run_id, connection_id)
