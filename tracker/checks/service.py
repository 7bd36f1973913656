"""Recording a re-check and deciding what it means for the report and when to look again."""

import logging
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col

from platform_adapters.addresses import REFUSED_BY_POLICY
from tracker.checks.models import Check
from tracker.db import utcnow
from tracker.evidence.capture import capture_check, had_live_check
from tracker.filings.models import OPEN_FILING_STATUSES, Filing, FilingStatus
from tracker.filings.service import file_or_hold
from tracker.notifications.models import NotificationKind
from tracker.notifications.service import notify
from tracker.reports.lifecycle import ReportState
from tracker.reports.models import Report
from tracker.reports.transitions import move
from tracker.settings import Settings, get_settings

logger = logging.getLogger(__name__)

WORKER = "worker"
REMOVED = "removed"
LIVE = "live"
#: The check reason of a fetch the outbound guard refused.
DESTINATION_REFUSED = "destination_refused"
#: The check reason when the page is gone but media it linked still serve.
LINKED_MEDIA_LIVE = "linked media still live"


def _capped_by_deadline(report: Report, when: datetime, now: datetime) -> datetime:
    # A check lands at the deadline, so escalation is decided on a fresh verdict.
    if report.deadline_at is not None and now < report.deadline_at < when:
        return report.deadline_at
    return when


def next_check_for_state(report: Report, now: datetime, settings: Settings) -> datetime:
    """When to look again at a report that is not (yet) confirmed removed."""
    if report.state == ReportState.ACKNOWLEDGED:
        interval = settings.check_interval_acknowledged_seconds
    else:
        interval = settings.check_interval_active_seconds
    return _capped_by_deadline(report, now + timedelta(seconds=interval), now)


def record_check(
    *,
    session: Session,
    report_id: int,
    checked_at: datetime,
    verdict: str,
    reason: str,
    http_status: int | None,
    final_url: str | None,
    fingerprint: str | None,
    latency_ms: int | None,
    error: str | None,
    headers: dict[str, str] | None = None,
    media_live: bool = False,
) -> Check | None:
    """Store one check and move the report accordingly; None if the report is gone or closed.

    The first live check of a report, and every check that moves it, leaves a capture record
    as evidence (``headers``: the response's, of which a few are kept). ``media_live``: an image
    or video the page links still serves, so a page that is gone does not count as removed.
    """
    report = session.get(Report, report_id)
    if report is None or report.state == ReportState.CLOSED:
        return None
    if verdict == REMOVED and media_live:
        verdict, reason = LIVE, f"{LINKED_MEDIA_LIVE} (page: {reason})"
    state_before = report.state
    # A report whose last verdict was live has had a live check: the common re-check of a
    # live page asks the database nothing more.
    is_first_live = (
        verdict == LIVE
        and report.last_verdict != LIVE
        and not had_live_check(session=session, report_id=report_id)
    )
    check = _record_check(
        session=session,
        report=report,
        checked_at=checked_at,
        verdict=verdict,
        reason=reason,
        http_status=http_status,
        final_url=final_url,
        fingerprint=fingerprint,
        latency_ms=latency_ms,
        error=error,
    )
    if is_first_live or report.state != state_before:
        capture_check(
            session=session, report=report, check=check, state_before=state_before, headers=headers
        )
    return check


def _record_check(
    *,
    session: Session,
    report: Report,
    checked_at: datetime,
    verdict: str,
    reason: str,
    http_status: int | None,
    final_url: str | None,
    fingerprint: str | None,
    latency_ms: int | None,
    error: str | None,
) -> Check:
    assert report.id is not None
    report_id = report.id
    settings = get_settings()
    if reason == DESTINATION_REFUSED:
        # Whatever the fetcher wrote, a refusal is stored and shown as the policy's one sentence:
        # the detail (which internal address a name resolved to) is the guard's log line alone.
        logger.warning("report %s: re-check refused by the outbound policy", report_id)
        error = REFUSED_BY_POLICY
    check = Check(
        report_id=report_id,
        checked_at=checked_at,
        http_status=http_status,
        final_url=final_url[:4096] if final_url else None,
        verdict=verdict,
        reason=reason[:120],
        fingerprint=fingerprint,
        latency_ms=latency_ms,
        error=error[:500] if error else None,
    )
    session.add(check)
    now = utcnow()
    report.last_verdict = verdict
    report.last_checked_at = checked_at
    report.check_lease_until = None
    watch = settings.watch_schedule_seconds
    if verdict == REMOVED:
        report.consecutive_removed += 1
        if report.consecutive_removed == 1:
            report.first_removed_at = checked_at
        spacing = timedelta(seconds=settings.confirm_interval_seconds)
        # Confirmations must be spaced in time: a burst of checks (say, a caseworker asking
        # for one right after another) cannot prove removal on its own.
        spaced = report.first_removed_at is None or checked_at - report.first_removed_at >= spacing
        if report.state == ReportState.REMOVED:
            report.watch_step += 1
            if report.watch_step >= len(watch):
                move(
                    session=session,
                    report=report,
                    to_state=ReportState.CLOSED,
                    actor=WORKER,
                    cause="still removed at the end of the watch schedule",
                    next_check_at=None,
                )
                return check
            report.next_check_at = now + timedelta(seconds=watch[report.watch_step])
        elif report.consecutive_removed >= settings.removal_confirmations and spaced:
            _close_open_filings(session, report_id)
            move(
                session=session,
                report=report,
                to_state=ReportState.REMOVED,
                actor=WORKER,
                cause=(
                    f"removal confirmed by {report.consecutive_removed} consecutive checks "
                    f"({reason})"
                ),
                deadline_at=None,
                escalation_lease_until=None,
                watch_step=0,
                next_check_at=now + timedelta(seconds=watch[0]) if watch else None,
            )
            notify(
                session=session,
                report=report,
                kind=NotificationKind.REMOVED,
                message=f"Report {report.id}: removal confirmed; watching for reappearance",
            )
            return check
        else:
            first = report.first_removed_at or checked_at
            report.next_check_at = max(now, first + spacing)
        session.add(report)
        return check

    report.consecutive_removed = 0
    report.first_removed_at = None
    if report.state == ReportState.REMOVED:
        if verdict == LIVE:
            move(
                session=session,
                report=report,
                to_state=ReportState.REAPPEARED,
                actor=WORKER,
                cause=f"content is live again ({reason})",
                watch_step=0,
                next_check_at=now + timedelta(seconds=settings.check_interval_active_seconds),
            )
            notify(
                session=session,
                report=report,
                kind=NotificationKind.REAPPEARED,
                message=f"Report {report.id}: the content is live again; filed again",
            )
            file_or_hold(session=session, report=report)
            return check
        # Blocked or unreachable proves nothing either way: look again at the same watch step.
        report.next_check_at = now + timedelta(
            seconds=watch[min(report.watch_step, len(watch) - 1)]
        )
    else:
        report.next_check_at = next_check_for_state(report, now, settings)
    session.add(report)
    return check


def _close_open_filings(session: Session, report_id: int) -> None:
    session.execute(
        update(Filing)
        .where(col(Filing.report_id) == report_id)
        .where(col(Filing.status).in_(list(OPEN_FILING_STATUSES)))
        .values(status=FilingStatus.REMOVED, next_poll_at=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
