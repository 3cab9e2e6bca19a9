"""Auto-sync: one APScheduler job per switched-on connection, derived from the DB."""

from __future__ import annotations

import datetime as dt
import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select
from sqlalchemy.orm import Session

from .db import Connection, Database, Run, utcnow
from .options import trigger_for
from .queue import RunQueue

log = logging.getLogger(__name__)


def _job_id(connection_id: int) -> str:
    return f"auto-sync-{connection_id}"


def schedule_anchor(session: Session, conn: Connection) -> dt.datetime:
    """What the schedule counts from: the last scheduled run, or else the moment
    auto-sync was switched on. Both are stored, so a restart changes nothing; an
    interrupted run does not count, as it did not finish its work."""
    last = session.scalars(
        select(Run.queued_at)
        .where(
            Run.connection_id == conn.id,
            Run.kind == "scheduled",
            Run.status != "interrupted",
        )
        .order_by(Run.queued_at.desc())
    ).first()
    since = conn.auto_sync_since or conn.created_at
    return max(last, since) if last is not None else since


def first_due(
    trigger: BaseTrigger, anchor: dt.datetime, now: dt.datetime
) -> dt.datetime:
    """The trigger's first time after `anchor`; now, if that passed while stopped."""
    if isinstance(trigger, IntervalTrigger):
        due = anchor + trigger.interval
    else:
        # A cron trigger answers the first time at or after the given moment.
        due = trigger.get_next_fire_time(None, anchor + dt.timedelta(seconds=1))
    return now if due is None or due < now else due


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
            if conn is None or not wanted:
                trigger, anchor = None, None
            else:
                trigger = trigger_for(
                    conn.sync_period, conn.sync_cron, conn.sync_seconds
                )
                anchor = schedule_anchor(s, conn)
        job_id = _job_id(connection_id)
        if trigger is None or anchor is None:
            if self._scheduler.get_job(job_id):
                self._scheduler.remove_job(job_id)
            return
        self._scheduler.add_job(
            self._fire,
            trigger,
            args=[connection_id],
            id=job_id,
            replace_existing=True,
            next_run_time=first_due(trigger, anchor, utcnow()),
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
