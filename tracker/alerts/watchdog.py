"""The watchdog: raise an alert when something keeps failing, resolve it when it recovers.

Nothing fails silently: a checker that stops producing checks, a channel whose filings keep
failing, a host that keeps being unreachable each become an open alert (API, /readyz, metrics).
"""

from datetime import datetime, timedelta

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from tracker.alerts.models import Alert
from tracker.alerts.service import raise_alert
from tracker.checks.models import Check
from tracker.db import utcnow
from tracker.filings.models import AttemptOutcome, Filing, FilingAttempt
from tracker.reports.lifecycle import CHECKED
from tracker.reports.models import Report
from tracker.settings import Settings

CHECKER_STALLED = "checker.stalled"
CHANNEL_FAILING = "channel.failing"
HOST_UNREACHABLE = "host.unreachable"
RECENT = timedelta(hours=1)


def oldest_overdue_check(*, session: Session, now: datetime) -> datetime | None:
    """The due time of the most overdue check (the index on next_check_at answers this)."""
    return session.exec(
        select(func.min(Report.next_check_at)).where(col(Report.state).in_(list(CHECKED)))
    ).one()


def _resolve_others(session: Session, kind: str, still_failing: set[str], now: datetime) -> None:
    for alert in session.exec(
        select(Alert).where(Alert.kind == kind).where(col(Alert.resolved_at).is_(None))
    ).all():
        if alert.subject not in still_failing:
            alert.resolved_at = now
            session.add(alert)


def _failing_channels(session: Session, threshold: int, now: datetime) -> set[str]:
    failing = set()
    adapters = session.exec(
        select(Filing.adapter)
        .join(FilingAttempt, col(FilingAttempt.filing_id) == Filing.id)
        .where(col(FilingAttempt.finished_at) >= now - RECENT)
        .distinct()
    ).all()
    for adapter in adapters:
        outcomes = session.exec(
            select(FilingAttempt.outcome)
            .join(Filing, col(Filing.id) == FilingAttempt.filing_id)
            .where(Filing.adapter == adapter)
            .order_by(col(FilingAttempt.id).desc())
            .limit(threshold)
        ).all()
        if len(outcomes) >= threshold and AttemptOutcome.SUCCEEDED not in outcomes:
            failing.add(f"adapter:{adapter}")
    return failing


def _unreachable_hosts(session: Session, threshold: int, now: datetime) -> set[str]:
    rows = session.exec(
        select(
            Report.host,
            func.count(),
            func.sum(case((col(Check.verdict) == "unreachable", 1), else_=0)),
        )
        .join(Report, col(Report.id) == Check.report_id)
        .where(col(Check.checked_at) >= now - RECENT)
        .group_by(Report.host)
    ).all()
    return {
        f"host:{host}"
        for host, total, unreachable in rows
        if total >= threshold and unreachable == total
    }


def run_watchdog(*, session: Session, settings: Settings) -> list[str]:
    """Evaluate every condition once; returns the subjects alerting now."""
    now = utcnow()
    alerting: list[str] = []
    oldest = oldest_overdue_check(session=session, now=now)
    stalled = oldest is not None and now - oldest > timedelta(
        seconds=settings.checker_stall_seconds
    )
    if stalled:
        raise_alert(
            session=session,
            kind=CHECKER_STALLED,
            subject="checker",
            message=f"due checks are waiting since {oldest.isoformat()}; is a worker or "
            "the scheduler down?",
            organisation_id=None,
        )
        alerting.append("checker")
    _resolve_others(session, CHECKER_STALLED, {"checker"} if stalled else set(), now)
    for kind, subjects, message in (
        (
            CHANNEL_FAILING,
            _failing_channels(session, settings.failure_alert_threshold, now),
            "the last {n} filing attempts on this channel all failed",
        ),
        (
            HOST_UNREACHABLE,
            _unreachable_hosts(session, settings.failure_alert_threshold, now),
            "every check of this host in the last hour was unreachable ({n} or more)",
        ),
    ):
        for subject in subjects:
            raise_alert(
                session=session,
                kind=kind,
                subject=subject,
                message=message.format(n=settings.failure_alert_threshold),
                organisation_id=None,
            )
        _resolve_others(session, kind, subjects, now)
        alerting.extend(sorted(subjects))
    return alerting
