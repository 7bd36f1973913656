"""What a case's status page shows: counts and dates, never a URL, host or label."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, func, select

from tracker.filings.models import Filing
from tracker.reports.lifecycle import ReportState
from tracker.reports.models import Report, ReportTransition


@dataclass(frozen=True, slots=True)
class Progress:
    """How the addresses of one case stand, in numbers and dates."""

    found: int
    filed: int  # sent to a platform or intermediary at least once
    removed: int
    still_live: int
    reappeared: int
    first_logged_at: datetime | None
    last_removed_at: datetime | None
    last_checked_at: datetime | None
    #: (platform slug, how many addresses on it), most first; the page shows names only when
    #: the link allows it.
    platforms: list[tuple[str, int]] = field(default_factory=list)


def case_progress(*, session: Session, case_id: int) -> Progress:
    """The counts and dates of a case's reports (only ids, states and times are read)."""
    rows = session.exec(
        select(
            col(Report.id),
            col(Report.state),
            col(Report.created_at),
            col(Report.last_checked_at),
        ).where(Report.case_id == case_id)
    ).all()
    report_ids = [row[0] for row in rows]
    filed: set[int] = set()
    came_back: set[int] = set()
    closed_removed: set[int] = set()
    last_removed_at = None
    if report_ids:
        filed = set(
            session.exec(
                select(col(Filing.report_id))
                .where(col(Filing.report_id).in_(report_ids))
                .where(col(Filing.submitted_at).is_not(None))
            ).all()
        )
        transitions = session.exec(
            select(
                col(ReportTransition.report_id),
                col(ReportTransition.from_state),
                col(ReportTransition.to_state),
            ).where(col(ReportTransition.report_id).in_(report_ids))
        ).all()
        came_back = {report for report, _, to in transitions if to == ReportState.REAPPEARED}
        closed_removed = {
            report
            for report, source, to in transitions
            if source == ReportState.REMOVED and to == ReportState.CLOSED
        }
        last_removed_at = session.exec(
            select(func.max(ReportTransition.at))
            .where(col(ReportTransition.report_id).in_(report_ids))
            .where(ReportTransition.to_state == ReportState.REMOVED)
        ).one()
    removed = {
        report_id
        for report_id, state, *_ in rows
        if state == ReportState.REMOVED
        or (state == ReportState.CLOSED and report_id in closed_removed)
    }
    still_live = [
        report_id
        for report_id, state, *_ in rows
        if report_id not in removed and state != ReportState.CLOSED
    ]
    platforms = session.exec(
        select(col(Report.platform), func.count())
        .where(Report.case_id == case_id)
        .group_by(col(Report.platform))
    ).all()
    return Progress(
        found=len(rows),
        filed=len(filed),
        removed=len(removed),
        still_live=len(still_live),
        reappeared=len(came_back),
        first_logged_at=min((row[2] for row in rows), default=None),
        last_removed_at=last_removed_at,
        last_checked_at=max((row[3] for row in rows if row[3] is not None), default=None),
        platforms=sorted(
            ((slug, int(count)) for slug, count in platforms), key=lambda item: (-item[1], item[0])
        ),
    )
