"""The watchdog: raise an alert when something keeps failing, resolve it when it recovers.

Nothing fails silently: a checker that stops producing checks, a channel whose filings keep
failing, a host that keeps being unreachable each become an open alert of every organisation
concerned (API, /readyz, metrics), computed from that organisation's own rows. Each alert closes
by itself once its cause clears, including the kinds other code raises (credentials, exhausted
attempts, an exhausted ladder, a notification channel that is no longer configured).
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from tracker.alerts.kinds import (
    ADAPTER_PREFIX,
    CHECKER_SUBJECT,
    HOST_PREFIX,
    REPORT_PREFIX,
    AlertKind,
)
from tracker.alerts.models import Alert
from tracker.alerts.service import open_alerts_of_kind, raise_alert
from tracker.checks.models import Check
from tracker.db import utcnow
from tracker.filings.models import AttemptOutcome, Filing, FilingAttempt
from tracker.organisations.models import Organisation, User
from tracker.reports.lifecycle import CHECKED, ReportState
from tracker.reports.models import Report
from tracker.settings import Settings

CHECKER_STALLED = AlertKind.CHECKER_STALLED.value
CHANNEL_FAILING = AlertKind.CHANNEL_FAILING.value
HOST_UNREACHABLE = AlertKind.HOST_UNREACHABLE.value
RECENT = timedelta(hours=1)
ACTOR = "watchdog"
# Raised where a filing fails (tracker/filings, workers/jobs); the subject names the adapter.
ADAPTER_KINDS = (
    AlertKind.FILING_ATTEMPTS_EXHAUSTED,
    AlertKind.ADAPTER_MISSING_CREDENTIALS,
    AlertKind.ADAPTER_INVALID_CREDENTIALS,
)

Key = tuple[int, str]  # (organisation id, subject)
Recovered = Callable[[Session, Alert], bool]  # has this open alert's cause cleared?


def oldest_overdue_check(*, session: Session, now: datetime) -> datetime | None:
    """The due time of the most overdue check (the index on next_check_at answers this)."""
    return session.exec(
        select(func.min(Report.next_check_at)).where(col(Report.state).in_(list(CHECKED)))
    ).one()


def _resolve(alert: Alert, session: Session, now: datetime) -> None:
    alert.resolved_at = now
    alert.resolved_by = ACTOR
    session.add(alert)


def _stalled(session: Session, settings: Settings, now: datetime) -> set[Key]:
    cutoff = now - timedelta(seconds=settings.checker_stall_seconds)
    organisations = session.exec(
        select(Report.organisation_id)
        .where(col(Report.state).in_(list(CHECKED)))
        .where(col(Report.next_check_at) < cutoff)
        .distinct()
    ).all()
    return {(organisation_id, CHECKER_SUBJECT) for organisation_id in organisations}


def _last_outcomes(
    session: Session, organisation_id: int, adapter: str, limit: int
) -> list[tuple[str, datetime]]:
    rows = session.exec(
        select(FilingAttempt.outcome, FilingAttempt.finished_at)
        .join(Filing, col(Filing.id) == FilingAttempt.filing_id)
        .where(Filing.organisation_id == organisation_id, Filing.adapter == adapter)
        .order_by(col(FilingAttempt.id).desc())
        .limit(limit)
    ).all()
    return [(str(outcome), finished_at) for outcome, finished_at in rows]


def _failing_channels(session: Session, threshold: int, now: datetime) -> set[Key]:
    pairs = session.exec(
        select(Filing.organisation_id, Filing.adapter)
        .join(FilingAttempt, col(FilingAttempt.filing_id) == Filing.id)
        .where(col(FilingAttempt.finished_at) >= now - RECENT)
        .distinct()
    ).all()
    failing = set()
    for organisation_id, adapter in pairs:
        last = _last_outcomes(session, organisation_id, adapter, threshold)
        outcomes = [outcome for outcome, _ in last]
        if len(outcomes) >= threshold and AttemptOutcome.SUCCEEDED not in outcomes:
            failing.add((organisation_id, f"{ADAPTER_PREFIX}{adapter}"))
    return failing


def _channel_recovered(session: Session, alert: Alert) -> bool:
    """The organisation's latest attempt on the adapter, made after the alert, succeeded."""
    adapter = alert.subject.removeprefix(ADAPTER_PREFIX)
    latest = _last_outcomes(session, alert.organisation_id, adapter, 1)
    if not latest:
        return True  # no filing on this channel is left
    outcome, finished_at = latest[0]
    return outcome == AttemptOutcome.SUCCEEDED and finished_at >= alert.raised_at


def _unreachable_hosts(session: Session, threshold: int, now: datetime) -> set[Key]:
    rows = session.exec(
        select(
            Report.organisation_id,
            Report.host,
            func.count(),
            func.sum(case((col(Check.verdict) == "unreachable", 1), else_=0)),
        )
        .join(Report, col(Report.id) == Check.report_id)
        .where(col(Check.checked_at) >= now - RECENT)
        .where(col(Report.state).in_(list(CHECKED)))  # a closed report's host is no concern
        .group_by(col(Report.organisation_id), col(Report.host))
    ).all()
    return {
        (organisation_id, f"{HOST_PREFIX}{host}")
        for organisation_id, host, total, unreachable in rows
        if total >= threshold and unreachable == total
    }


def _host_recovered(session: Session, alert: Alert) -> bool:
    """The latest check of the organisation's reports on the host reached it, or none is left."""
    host = alert.subject.removeprefix(HOST_PREFIX)
    on_host = (Report.organisation_id == alert.organisation_id, Report.host == host)
    still_checked = session.exec(
        select(Report.id).where(*on_host).where(col(Report.state).in_(list(CHECKED))).limit(1)
    ).first()
    if still_checked is None:
        return True
    latest = session.exec(
        select(Check.verdict)
        .join(Report, col(Report.id) == Check.report_id)
        .where(*on_host)
        .order_by(col(Check.checked_at).desc(), col(Check.id).desc())
        .limit(1)
    ).first()
    return latest is not None and latest != "unreachable"


def _report_decided(session: Session, alert: Alert) -> bool:
    """A caseworker moved the exhausted report on (or it is gone)."""
    report_id = alert.subject.removeprefix(REPORT_PREFIX)
    report = session.get(Report, int(report_id)) if report_id.isdigit() else None
    return report is None or report.state != ReportState.EXHAUSTED


def _notification_channel_gone(session: Session, alert: Alert) -> bool:
    """Nobody is notified on this channel any more (a later delivery resolves it otherwise)."""
    if alert.kind == AlertKind.NOTIFICATION_WEBHOOK_FAILING:
        organisation = session.get(Organisation, alert.organisation_id)
        return organisation is None or organisation.webhook_url is None
    address = session.exec(
        select(User.id)
        .where(User.organisation_id == alert.organisation_id)
        .where(col(User.notification_email).is_not(None))
        .limit(1)
    ).first()
    return address is None


def _raise_and_resolve(
    session: Session,
    kind: AlertKind,
    failing: set[Key],
    numbers: dict[str, int],
    recovered: Recovered | None,
    now: datetime,
) -> None:
    for organisation_id, subject in sorted(failing):
        raise_alert(
            session=session,
            organisation_id=organisation_id,
            kind=kind,
            subject=subject,
            numbers=numbers,
        )
    for alert in open_alerts_of_kind(session=session, kind=kind):
        key = (alert.organisation_id, alert.subject)
        if key not in failing and (recovered is None or recovered(session, alert)):
            _resolve(alert, session, now)


def run_watchdog(*, session: Session, settings: Settings) -> list[str]:
    """Evaluate every condition once per organisation; returns the subjects alerting now."""
    now = utcnow()
    threshold = settings.failure_alert_threshold
    stalled = _stalled(session, settings, now)
    channels = _failing_channels(session, threshold, now)
    hosts = _unreachable_hosts(session, threshold, now)
    seconds = {"seconds": int(settings.checker_stall_seconds)}
    count = {"count": threshold}
    # A stalled checker clears as soon as nothing is overdue; a failing channel or host stays
    # open until it is seen working again (no attempt or check at all proves nothing).
    _raise_and_resolve(session, AlertKind.CHECKER_STALLED, stalled, seconds, None, now)
    _raise_and_resolve(session, AlertKind.CHANNEL_FAILING, channels, count, _channel_recovered, now)
    _raise_and_resolve(session, AlertKind.HOST_UNREACHABLE, hosts, count, _host_recovered, now)
    for kind, recovered in (
        *((kind, _channel_recovered) for kind in ADAPTER_KINDS),
        (AlertKind.REPORT_LADDER_EXHAUSTED, _report_decided),
        (AlertKind.NOTIFICATION_EMAIL_FAILING, _notification_channel_gone),
        (AlertKind.NOTIFICATION_WEBHOOK_FAILING, _notification_channel_gone),
    ):
        _raise_and_resolve(session, kind, set(), {}, recovered, now)
    return sorted(subject for _, subject in stalled | channels | hosts)
