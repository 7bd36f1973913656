"""Escalation: a report still live at its deadline, or refused, moves to the next rung."""

from datetime import timedelta

from sqlmodel import Session

from tracker.alerts.service import raise_alert
from tracker.db import utcnow
from tracker.filings.opening import file_or_hold, rung_of
from tracker.filings.service import supersede_open_filings
from tracker.notifications.models import NotificationKind
from tracker.notifications.service import notify
from tracker.reports.lifecycle import ON_THE_CLOCK, ReportState
from tracker.reports.models import Report
from tracker.reports.transitions import move
from tracker.settings import get_settings

WORKER = "worker"


def escalate(*, session: Session, report: Report, cause: str, actor: str) -> None:
    """Move the report to the next rung and file there; past the last rung, alert a person."""
    supersede_open_filings(session=session, report_id=report.id)  # type: ignore[arg-type]
    next_index = report.rung_index + 1
    rung = rung_of(session=session, report=report, rung_index=next_index)
    if rung is None:
        move(
            session=session,
            report=report,
            to_state=ReportState.EXHAUSTED,
            cause=f"{cause}; no rung left on the ladder",
            actor=actor,
            deadline_at=None,
            escalation_lease_until=None,
        )
        notify(
            session=session,
            report=report,
            kind=NotificationKind.EXHAUSTED,
            message=f"Report {report.id}: every rung of the ladder was tried; decide next steps",
        )
        raise_alert(
            session=session,
            kind="report.ladder_exhausted",
            subject=f"report:{report.id}",
            organisation_id=report.organisation_id,
        )
        return
    move(
        session=session,
        report=report,
        to_state=ReportState.ESCALATED,
        cause=f"{cause}; escalated to rung {next_index} ({rung.target})",
        actor=actor,
        rung_index=next_index,
        deadline_at=None,
        escalation_lease_until=None,
    )
    notify(
        session=session,
        report=report,
        kind=NotificationKind.ESCALATED,
        message=f"Report {report.id} escalated to rung {next_index} ({rung.target})",
    )
    file_or_hold(session=session, report=report)


def escalate_if_overdue(*, session: Session, report_id: int) -> bool:
    """Decide a claimed report at its deadline: escalate if still not removed. True if moved."""
    report = session.get(Report, report_id)
    now = utcnow()
    if report is None:
        return False
    if report.state not in ON_THE_CLOCK or report.deadline_at is None or report.deadline_at > now:
        report.escalation_lease_until = None
        session.add(report)
        return False
    if report.consecutive_removed > 0:
        # Removal seen but not yet confirmed: wait for the confirming check, not a new rung.
        report.escalation_lease_until = now + timedelta(
            seconds=get_settings().confirm_interval_seconds
        )
        session.add(report)
        return False
    rung = rung_of(session=session, report=report)
    seen = report.last_verdict or "not yet checked"
    escalate(
        session=session,
        report=report,
        actor=WORKER,
        cause=(
            f"deadline passed ({rung.target if rung else 'rung'} had "
            f"{rung.deadline if rung else '?'}) and the content is not removed "
            f"(last check: {seen})"
        ),
    )
    return True
