"""The one scheduler: named periodic sweeps that claim due rows and only enqueue work."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from datetime import datetime

from apscheduler.events import EVENT_SCHEDULER_STARTED, SchedulerEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlmodel import col, select

from tracker.alerts.watchdog import run_watchdog
from tracker.db import Database
from tracker.due import (
    claim_due_checks,
    claim_due_deliveries,
    claim_due_escalations,
    claim_due_filings,
    claim_due_parallel,
    claim_due_polls,
    claim_due_reminders,
    claim_due_warnings,
)
from tracker.filings.opening import open_parallel_tracks
from tracker.jobs import JobKind, queue_depth, send_now
from tracker.metrics import observe_sweep
from tracker.notifications.models import NotificationKind
from tracker.notifications.service import notify
from tracker.reports.models import Report
from tracker.settings import Settings

logger = logging.getLogger(__name__)
SWEEP_LIMIT = 1000


def _claim_and_send(
    db: Database,
    claim: Callable[..., list[int]],
    kind: JobKind,
    settings: Settings,
    batch_size: int | None = None,
) -> int:
    """Claim due rows with a lease in one transaction, then send their ids after it commits."""
    with db.transaction() as session:
        ids = claim(session=session, lease_seconds=settings.lease_seconds, limit=SWEEP_LIMIT)
    if batch_size is None:
        for row_id in ids:
            send_now(kind, row_id)
    else:
        for start in range(0, len(ids), batch_size):
            send_now(kind, ids[start : start + batch_size])
    return len(ids)


def sweep_filings(db: Database, settings: Settings) -> int:
    """Send filings that are due (new, retrying, or orphaned by a dead worker)."""
    return _claim_and_send(db, claim_due_filings, JobKind.FILE, settings)


def sweep_polls(db: Database, settings: Settings) -> int:
    """Send polls of filings whose platform status is due."""
    return _claim_and_send(db, claim_due_polls, JobKind.POLL, settings)


class CheckFeeder:
    """Claims due re-checks in proportion to what the workers absorb, not a fixed cap.

    Each run reads how many re-check batches wait in the queue and how many were taken since
    the last run, which gives the rate the workers take them at (smoothed); it then tops the
    queue up to ``recheck_queue_seconds`` of work at that rate, at least
    ``recheck_queue_min_batches``. A queue that ran dry doubles the rate it assumes, so a
    fleet of fast workers is found within a few runs. Claimed reports never wait long enough in
    the queue for their lease to end, and a stopped worker fleet leaves the queue full, so
    nothing more is claimed until it drains. Without a way to read the depth (an unknown
    dispatcher) it claims ``SWEEP_LIMIT`` per run as before.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.rate = 0.0  # batches taken per second
        self._last: tuple[float, int] | None = None  # (when, depth after sending)

    def sweep(self, db: Database, settings: Settings) -> int:
        """Top the re-check queue up; how many reports were claimed."""
        size = settings.recheck_batch_size
        depth = queue_depth(JobKind.RECHECK)
        if depth is None:
            return _claim_and_send(db, claim_due_checks, JobKind.RECHECK, settings, size)
        now = self.clock()
        if self._last is not None:
            then, left = self._last
            taken = max(0, left - depth)
            if now > then:
                measured = taken / (now - then)
                self.rate = measured if self.rate == 0 else (self.rate + measured) / 2
            if depth == 0 and taken > 0:
                self.rate *= 2  # the queue ran dry: the workers could have taken more
        target = max(
            settings.recheck_queue_min_batches,
            math.ceil(self.rate * settings.recheck_queue_seconds),
        )
        wanted = min(target - depth, MAX_BATCHES_PER_SWEEP)
        if wanted <= 0:
            self._last = (now, depth)
            return 0
        with db.transaction() as session:
            ids = claim_due_checks(
                session=session, lease_seconds=settings.lease_seconds, limit=wanted * size
            )
        sent = 0
        for start in range(0, len(ids), size):
            sent += send_now(JobKind.RECHECK, ids[start : start + size])
        self._last = (self.clock(), depth + sent)
        return len(ids)


def sweep_checks(db: Database, settings: Settings) -> int:
    """Send due re-checks in batches, as many as the workers absorb (``CheckFeeder``)."""
    return _FEEDER.sweep(db, settings)


#: At most this many batches are claimed by one run (bounds one claim statement).
MAX_BATCHES_PER_SWEEP = 200
_FEEDER = CheckFeeder()


def sweep_escalations(db: Database, settings: Settings) -> int:
    """Send reports whose deadline has passed to be decided."""
    return _claim_and_send(db, claim_due_escalations, JobKind.ESCALATE, settings)


def sweep_warnings(db: Database, settings: Settings) -> int:
    """Warn the caseworker of reports at the warning fraction of their deadline."""
    with db.transaction() as session:
        ids = claim_due_warnings(session=session, limit=SWEEP_LIMIT)
        for report in _reports(session, ids):
            notify(
                session=session,
                report=report,
                kind=NotificationKind.DEADLINE_WARNING,
                message=f"Report {report.id}: {settings.deadline_warning_fraction:.0%} of the "
                f"deadline has passed; it falls due at {_when(report.deadline_at)} and the "
                f"content was last seen {report.last_verdict or 'unchecked'}",
            )
    return len(ids)


def sweep_reminders(db: Database, settings: Settings) -> int:
    """Remind the caseworker of reports waiting on a person."""
    with db.transaction() as session:
        ids = claim_due_reminders(
            session=session, limit=SWEEP_LIMIT, interval_seconds=settings.reminder_interval_seconds
        )
        for report in _reports(session, ids):
            notify(
                session=session,
                report=report,
                kind=NotificationKind.REMINDER,
                message=f"Report {report.id} is still {report.state}: "
                f"{REMINDER_TEXT.get(report.state, 'it needs you')}",
            )
    return len(ids)


def sweep_parallel(db: Database, settings: Settings) -> int:
    """Open the parallel tracks (search delisting) of reports not removed quickly."""
    with db.transaction() as session:
        ids = claim_due_parallel(session=session, limit=SWEEP_LIMIT)
        for report in _reports(session, ids):
            open_parallel_tracks(session=session, report=report)
    return len(ids)


def sweep_deliveries(db: Database, settings: Settings) -> int:
    """Send notification deliveries that are due (new, retrying, or orphaned)."""
    return _claim_and_send(db, claim_due_deliveries, JobKind.DELIVER, settings)


def sweep_withdrawals(db: Database, settings: Settings) -> int:
    """Send the withdrawal notices that are due (new, retrying, or orphaned)."""
    from tracker.filings.withdrawals import claim_due_withdrawals

    return _claim_and_send(db, claim_due_withdrawals, JobKind.WITHDRAW, settings)


def sweep_retention(db: Database, settings: Settings) -> int:
    """Purge the evidence of cases closed longer than the retention period (audited)."""
    from tracker.evidence.retention import purge_expired_evidence

    if settings.evidence_retention_days is None:
        return 0
    with db.transaction() as session:
        return purge_expired_evidence(session=session, days=settings.evidence_retention_days)


def fold_report_counts(db: Database, settings: Settings) -> int:
    """Add the report-count deltas the writers appended into the counts (PostgreSQL)."""
    from tracker.reports.rollups import fold_rollups

    with db.transaction() as session:
        return fold_rollups(session=session)


def fold_scorecard_cells(db: Database, settings: Settings) -> int:
    """Add the scorecard deltas the writers appended into the day, week and month cells."""
    from tracker.scorecards.rollup import fold_scorecards

    with db.transaction() as session:
        return fold_scorecards(session=session)


def watchdog(db: Database, settings: Settings) -> int:
    """Raise or resolve alerts for a stalled checker, failing channels, unreachable hosts."""
    with db.transaction() as session:
        return len(run_watchdog(session=session, settings=settings))


REMINDER_TEXT = {
    "awaiting_manual": "its web-form packet waits to be submitted and confirmed",
    "exhausted": "every rung was tried; decide the next step",
    "paused": "its clock is paused; resume it when you can",
}


def _reports(session, ids: list[int]) -> list[Report]:  # type: ignore[no-untyped-def]
    return list(session.exec(select(Report).where(col(Report.id).in_(ids))).all())


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "an unknown time"


SWEEPS: dict[str, Callable[[Database, Settings], int]] = {
    "sweep_filings": sweep_filings,
    "sweep_polls": sweep_polls,
    "sweep_checks": sweep_checks,
    "sweep_escalations": sweep_escalations,
    "sweep_warnings": sweep_warnings,
    "sweep_reminders": sweep_reminders,
    "sweep_parallel": sweep_parallel,
    "sweep_deliveries": sweep_deliveries,
    "sweep_withdrawals": sweep_withdrawals,
    "sweep_retention": sweep_retention,
    "fold_report_counts": fold_report_counts,
    "fold_scorecard_cells": fold_scorecard_cells,
    "watchdog": watchdog,
}


def _guarded(
    name: str, sweep: Callable[[Database, Settings], int], db: Database, settings: Settings
) -> Callable[[], None]:
    def run() -> None:
        started = time.monotonic()
        try:
            count = sweep(db, settings)
            if count:
                logger.info("%s sent %d", name, count)
        except Exception:
            # A database restart must not kill the scheduler: log, and the next tick retries.
            logger.exception("%s failed", name)
        finally:
            observe_sweep(sweep=name, seconds=time.monotonic() - started)

    return run


def build_scheduler(db: Database, settings: Settings, *, blocking: bool) -> BaseScheduler:
    """The scheduler with every sweep on the configured interval."""
    scheduler: BaseScheduler = BlockingScheduler() if blocking else BackgroundScheduler()
    for name, sweep in SWEEPS.items():
        # The re-check sweep runs more often: it keeps the workers' queue topped up.
        interval = (
            min(settings.recheck_sweep_interval_seconds, settings.sweep_interval_seconds)
            if name == "sweep_checks"
            else settings.sweep_interval_seconds
        )
        scheduler.add_job(
            _guarded(name, sweep, db, settings),
            "interval",
            id=name,
            name=name,
            seconds=interval,
            max_instances=1,
            coalesce=True,
        )

    def started(_: SchedulerEvent) -> None:
        # One line instead of APScheduler's one per job (its logger is kept at WARNING).
        logger.info(
            "Scheduler started: %d sweeps every %.1f s",
            len(SWEEPS),
            settings.sweep_interval_seconds,
        )

    scheduler.add_listener(started, EVENT_SCHEDULER_STARTED)
    return scheduler
