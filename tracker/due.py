"""What is due: sweeps that claim due rows with a lease so no two processes take the same one.

PostgreSQL claims with ``FOR UPDATE SKIP LOCKED`` inside one ``UPDATE … RETURNING``; SQLite
runs the same single statement under its database write lock, which serialises claimers.
Each query reads an index on its time column, so a sweep's cost follows the due rows, not the
table. A claimed row whose worker dies is claimable again when its lease expires.
"""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, any_, func, select, update
from sqlmodel import Session, col

from tracker.db import utcnow
from tracker.filings.models import Filing, FilingStatus
from tracker.notifications.models import DeliveryStatus, NotificationDelivery
from tracker.reports.lifecycle import CHECKED, ON_THE_CLOCK, STALE, ReportState
from tracker.reports.models import Report

#: States in which a report not yet removed gets its parallel tracks opened.
PARALLEL_ELIGIBLE = frozenset(
    {
        ReportState.FILED,
        ReportState.ACKNOWLEDGED,
        ReportState.ESCALATED,
        ReportState.EXHAUSTED,
        ReportState.PAUSED,
        ReportState.AWAITING_MANUAL,
    }
)


def _claim(
    session: Session,
    model: Any,
    lease_column: Any,
    conditions: list[ColumnElement[bool]],
    order_by: Any,
    lease_until: datetime | None,
    limit: int,
    now: datetime,
    extra_values: dict[str, Any] | None = None,
) -> list[int]:
    candidates = (
        select(model.id)
        .where(*conditions)
        .where((lease_column.is_(None)) | (lease_column < now))
        .order_by(order_by)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if session.get_bind().dialect.name == "postgresql":
        # ANY(ARRAY(subquery)) runs the claim once as an InitPlan and updates through the
        # primary key; IN (subquery) hash-joins against a scan of the whole table, which made
        # the claim grow with the table (bench/sweep_cost.py, BENCHMARKS.md "Sweep cost").
        claimed = model.id == any_(func.array(candidates.scalar_subquery()))
    else:
        claimed = model.id.in_(candidates.scalar_subquery())
    statement = (
        update(model)
        .where(claimed)
        .values({lease_column.key: lease_until, **(extra_values or {})})
        .returning(model.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(row[0] for row in session.execute(statement).all())


def claim_due_checks(*, session: Session, lease_seconds: float, limit: int) -> list[int]:
    """Reports whose next check is due."""
    now = utcnow()
    return _claim(
        session,
        Report,
        col(Report.check_lease_until),
        [col(Report.next_check_at) <= now, col(Report.state).in_(list(CHECKED))],
        col(Report.next_check_at),
        now + timedelta(seconds=lease_seconds),
        limit,
        now,
    )


def claim_due_escalations(*, session: Session, lease_seconds: float, limit: int) -> list[int]:
    """Reports on the clock whose deadline has passed."""
    now = utcnow()
    return _claim(
        session,
        Report,
        col(Report.escalation_lease_until),
        [col(Report.deadline_at) <= now, col(Report.state).in_(list(ON_THE_CLOCK))],
        col(Report.deadline_at),
        now + timedelta(seconds=lease_seconds),
        limit,
        now,
    )


def claim_due_filings(*, session: Session, lease_seconds: float, limit: int) -> list[int]:
    """Filings waiting to be (re)submitted, and submissions whose worker died mid-way."""
    now = utcnow()
    return _claim(
        session,
        Filing,
        col(Filing.lease_until),
        [
            col(Filing.status).in_([FilingStatus.PENDING, FilingStatus.SUBMITTING]),
            col(Filing.next_attempt_at) <= now,
        ],
        col(Filing.next_attempt_at),
        now + timedelta(seconds=lease_seconds),
        limit,
        now,
        # A submission whose lease expired is presumed dead: it goes back to pending, and the
        # retry files under the same idempotency key.
        extra_values={"status": FilingStatus.PENDING},
    )


def claim_due_polls(*, session: Session, lease_seconds: float, limit: int) -> list[int]:
    """Filings whose platform status is due to be polled."""
    now = utcnow()
    return _claim(
        session,
        Filing,
        col(Filing.poll_lease_until),
        [
            col(Filing.next_poll_at) <= now,
            col(Filing.status).in_([FilingStatus.SUBMITTED, FilingStatus.ACKNOWLEDGED]),
        ],
        col(Filing.next_poll_at),
        now + timedelta(seconds=lease_seconds),
        limit,
        now,
    )


def claim_due_warnings(*, session: Session, limit: int) -> list[int]:
    """Reports at the warning fraction of their deadline (the warning time is consumed)."""
    now = utcnow()
    return _claim(
        session,
        Report,
        col(Report.warn_at),
        [col(Report.warn_at) <= now, col(Report.state).in_(list(ON_THE_CLOCK))],
        col(Report.warn_at),
        None,
        limit,
        now,  # type: ignore[arg-type]
    )


def claim_due_reminders(*, session: Session, interval_seconds: float, limit: int) -> list[int]:
    """Reports waiting on a person whose reminder is due; the next one is set in the claim."""
    now = utcnow()
    return _claim(
        session,
        Report,
        col(Report.remind_at),
        [col(Report.remind_at) <= now, col(Report.state).in_(list(STALE))],
        col(Report.remind_at),
        now + timedelta(seconds=interval_seconds),
        limit,
        now,
    )


def claim_due_parallel(*, session: Session, limit: int) -> list[int]:
    """Reports not removed quickly whose parallel tracks (search delisting) are due to open."""
    now = utcnow()
    return _claim(
        session,
        Report,
        col(Report.parallel_due_at),
        [col(Report.parallel_due_at) <= now, col(Report.state).in_(list(PARALLEL_ELIGIBLE))],
        col(Report.parallel_due_at),
        None,
        limit,
        now,  # type: ignore[arg-type]
    )


def claim_due_deliveries(*, session: Session, lease_seconds: float, limit: int) -> list[int]:
    """Notification deliveries waiting to be (re)sent, or orphaned by a dead worker."""
    now = utcnow()
    return _claim(
        session,
        NotificationDelivery,
        col(NotificationDelivery.lease_until),
        [
            col(NotificationDelivery.status).in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]),
            col(NotificationDelivery.next_attempt_at) <= now,
        ],
        col(NotificationDelivery.next_attempt_at),
        now + timedelta(seconds=lease_seconds),
        limit,
        now,
        extra_values={"status": DeliveryStatus.PENDING},
    )
