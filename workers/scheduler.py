"""The one scheduler: named periodic sweeps that claim due rows and only enqueue work."""

from __future__ import annotations

import logging
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from tracker.db import Database
from tracker.due import (
    claim_due_checks,
    claim_due_escalations,
    claim_due_filings,
    claim_due_polls,
)
from tracker.jobs import JobKind, send_now
from tracker.settings import Settings

logger = logging.getLogger(__name__)
SWEEP_LIMIT = 1000


def sweep_filings(db: Database, settings: Settings) -> int:
    """Send filings that are due (new, retrying, or orphaned by a dead worker)."""
    with db.transaction() as session:
        ids = claim_due_filings(
            session=session, lease_seconds=settings.lease_seconds, limit=SWEEP_LIMIT
        )
    for filing_id in ids:
        send_now(JobKind.FILE, filing_id)
    return len(ids)


def sweep_polls(db: Database, settings: Settings) -> int:
    """Send polls of filings whose platform status is due."""
    with db.transaction() as session:
        ids = claim_due_polls(
            session=session, lease_seconds=settings.lease_seconds, limit=SWEEP_LIMIT
        )
    for filing_id in ids:
        send_now(JobKind.POLL, filing_id)
    return len(ids)


def sweep_checks(db: Database, settings: Settings) -> int:
    """Send due re-checks in batches."""
    with db.transaction() as session:
        ids = claim_due_checks(
            session=session, lease_seconds=settings.lease_seconds, limit=SWEEP_LIMIT
        )
    size = settings.recheck_batch_size
    for start in range(0, len(ids), size):
        send_now(JobKind.RECHECK, ids[start : start + size])
    return len(ids)


def sweep_escalations(db: Database, settings: Settings) -> int:
    """Send reports whose deadline has passed to be decided."""
    with db.transaction() as session:
        ids = claim_due_escalations(
            session=session, lease_seconds=settings.lease_seconds, limit=SWEEP_LIMIT
        )
    for report_id in ids:
        send_now(JobKind.ESCALATE, report_id)
    return len(ids)


SWEEPS: dict[str, Callable[[Database, Settings], int]] = {
    "sweep_filings": sweep_filings,
    "sweep_polls": sweep_polls,
    "sweep_checks": sweep_checks,
    "sweep_escalations": sweep_escalations,
}


def _guarded(
    name: str, sweep: Callable[[Database, Settings], int], db: Database, settings: Settings
) -> Callable[[], None]:
    def run() -> None:
        try:
            count = sweep(db, settings)
            if count:
                logger.info("%s sent %d", name, count)
        except Exception:
            # A database restart must not kill the scheduler: log, and the next tick retries.
            logger.exception("%s failed", name)

    return run


def build_scheduler(db: Database, settings: Settings, *, blocking: bool) -> BaseScheduler:
    """The scheduler with every sweep on the configured interval."""
    scheduler: BaseScheduler = BlockingScheduler() if blocking else BackgroundScheduler()
    for name, sweep in SWEEPS.items():
        scheduler.add_job(
            _guarded(name, sweep, db, settings),
            "interval",
            id=name,
            name=name,
            seconds=settings.sweep_interval_seconds,
            max_instances=1,
            coalesce=True,
        )
    return scheduler
