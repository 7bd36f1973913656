"""Pause-the-clock: stopping a report's deadline while we wait, and resuming it exactly."""

import enum
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session, col

from tracker.audit.service import record
from tracker.db import utcnow
from tracker.errors import Conflict
from tracker.filings.models import Filing, FilingStatus
from tracker.filings.opening import LADDER
from tracker.organisations.service import Principal
from tracker.reports.lifecycle import PAUSABLE, ReportState
from tracker.reports.models import Report
from tracker.reports.service import require_report
from tracker.reports.transitions import move
from tracker.settings import get_settings


class PauseReason(enum.StrEnum):
    WAITING_FOR_VICTIM = "waiting_for_victim"
    PLATFORM_REQUESTED_INFO = "platform_requested_info"


def pause(*, session: Session, principal: Principal, report_id: int, reason: PauseReason) -> Report:
    """Stop the report's clock; the time left is kept and given back on resume."""
    report = require_report(session=session, principal=principal, report_id=report_id)
    if report.state not in PAUSABLE:
        raise Conflict.one(
            ("path", "report_id"),
            f"a {report.state} report cannot be paused",
            "report.not_pausable",
        )
    now = utcnow()
    remaining = max((report.deadline_at - now).total_seconds(), 0.0) if report.deadline_at else None
    move(
        session=session,
        report=report,
        to_state=ReportState.PAUSED,
        actor=principal.actor,
        cause=f"clock paused: {reason.value}"
        + (f" with {remaining:.0f} s left" if remaining is not None else ""),
        paused_from_state=report.state,
        pause_reason=reason.value,
        paused_remaining_seconds=remaining,
        deadline_at=None,
    )
    record(
        session=session,
        actor=principal.actor,
        action="report.paused",
        object_type="report",
        object_id=report.id,
        organisation_id=report.organisation_id,
        details={"reason": reason.value},
    )
    return report


def resume(*, session: Session, principal: Principal, report_id: int) -> Report:
    """Restart the clock where it stopped: the deadline moves by the paused time."""
    report = require_report(session=session, principal=principal, report_id=report_id)
    if report.state != ReportState.PAUSED or report.paused_from_state is None:
        raise Conflict.one(("path", "report_id"), "the report is not paused", "report.not_paused")
    now = utcnow()
    remaining = report.paused_remaining_seconds
    deadline_at = now + timedelta(seconds=remaining) if remaining is not None else None
    fields = {
        "paused_from_state": None,
        "pause_reason": None,
        "paused_remaining_seconds": None,
        "deadline_at": deadline_at,
        "next_check_at": now,
    }
    if deadline_at is not None:
        # Warn again at the same fraction of what is left, at the latest right away.
        fraction = get_settings().deadline_warning_fraction
        fields["warn_at"] = now + timedelta(seconds=remaining * fraction)  # type: ignore[operator]
        session.execute(
            update(Filing)
            .where(col(Filing.report_id) == report.id, col(Filing.track) == LADDER)
            .where(col(Filing.status).in_([FilingStatus.SUBMITTED, FilingStatus.ACKNOWLEDGED]))
            .values(deadline_at=deadline_at)
            .execution_options(synchronize_session=False)
        )
    move(
        session=session,
        report=report,
        to_state=ReportState(report.paused_from_state),
        actor=principal.actor,
        cause="clock resumed"
        + (f"; new deadline {deadline_at.isoformat()}" if deadline_at else ""),
        **fields,
    )
    record(
        session=session,
        actor=principal.actor,
        action="report.resumed",
        object_type="report",
        object_id=report.id,
        organisation_id=report.organisation_id,
    )
    return report
