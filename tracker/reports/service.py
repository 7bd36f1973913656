"""Reports: listing, reading with the full timeline, re-check requests, the summary (intake of
URLs is ``tracker.reports.intake``)."""

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from tracker.audit.service import record
from tracker.cases.models import Case
from tracker.checks.models import Check
from tracker.db import utcnow
from tracker.errors import Conflict, NotFound
from tracker.filings.models import Filing, FilingAttempt
from tracker.notifications.models import Notification, NotificationDelivery
from tracker.organisations.service import Principal
from tracker.policies.models import PolicyVersion
from tracker.policies.service import as_policy
from tracker.reports.filters import ReportFilter, report_filter
from tracker.reports.lifecycle import ON_THE_CLOCK, ReportState
from tracker.reports.listing import newest_reports
from tracker.reports.models import Report, ReportTransition
from tracker.reports.rollups import summary_counts


def _own_cases(principal: Principal):  # type: ignore[no-untyped-def]
    """A select of the ids of the cases assigned to ``principal`` in their organisation."""
    return select(col(Case.id)).where(
        Case.organisation_id == principal.organisation_id, Case.assigned_to == principal.user_id
    )


def visible_reports(principal: Principal):  # type: ignore[no-untyped-def]
    """A query of the reports ``principal`` may see (their organisation; a caseworker's own)."""
    query = select(Report).where(Report.organisation_id == principal.organisation_id)
    if not principal.sees_all_cases:
        query = query.where(col(Report.case_id).in_(_own_cases(principal)))
    return query


def case_scope(*, session: Session, principal: Principal, case_id: int | None) -> list[int] | None:
    """The cases a listing of ``principal`` covers: None for the whole organisation, else the
    ids, all of the organisation (a caseworker's own cases; ``case_id`` alone if the caller may
    see it; none at all if not)."""
    if principal.sees_all_cases:
        return organisation_scope(
            session=session, organisation_id=principal.organisation_id, case_id=case_id
        )
    cases = _own_cases(principal)
    if case_id is not None:
        cases = cases.where(col(Case.id) == case_id)
    return list(session.exec(cases).all())


def organisation_scope(
    *, session: Session, organisation_id: int, case_id: int | None
) -> list[int] | None:
    """The cases a listing of the whole organisation covers: None for all of them, else
    ``case_id`` alone if it is the organisation's (none at all if not)."""
    if case_id is None:
        return None
    cases = select(col(Case.id)).where(
        Case.organisation_id == organisation_id, col(Case.id) == case_id
    )
    return [found for found in session.exec(cases).all() if found is not None]


def listing_filter(
    *,
    session: Session,
    principal: Principal,
    case_id: int | None,
    state: ReportState | None,
    platform: str | None,
    overdue: bool | None,
) -> ReportFilter:
    """What a listing of ``principal``'s with these filters selects, decided now."""
    return report_filter(
        organisation_id=principal.organisation_id,
        case_ids=case_scope(session=session, principal=principal, case_id=case_id),
        state=state,
        platform=platform,
        overdue=overdue,
        now=utcnow(),
    )


def list_reports(
    *,
    session: Session,
    principal: Principal,
    case_id: int | None,
    state: ReportState | None,
    platform: str | None,
    overdue: bool | None,
    limit: int,
    offset: int,
    before_id: int | None = None,
) -> tuple[list[Report], int]:
    """Visible reports with filters, newest first, and the exact total before pagination.

    ``before_id`` pages by key: only reports with a smaller id (older) are listed, and the
    total still counts every page. The total is read from the counts the database keeps
    (tracker/reports/rollups.py), so it costs the same at a million reports as at ten.
    """
    filters = listing_filter(
        session=session,
        principal=principal,
        case_id=case_id,
        state=state,
        platform=platform,
        overdue=overdue,
    )
    if filters.matches_nothing:
        return [], 0
    conditions = filters.conditions
    if before_id is not None:
        conditions.append(col(Report.id) < before_id)
    items = newest_reports(
        session=session,
        organisation_id=filters.organisation_id,
        case_ids=filters.case_ids,
        conditions=conditions,
        from_clock_index=filters.from_clock_index,
        limit=limit,
        offset=offset,
    )
    return items, filters.count(session=session)


def get_report(*, session: Session, principal: Principal, report_id: int) -> Report | None:
    """A report the caller may see, or None."""
    return session.exec(visible_reports(principal).where(Report.id == report_id)).first()


def require_report(*, session: Session, principal: Principal, report_id: int) -> Report:
    """Like get_report, raising NotFound."""
    report = get_report(session=session, principal=principal, report_id=report_id)
    if report is None:
        raise NotFound.one(("path", "report_id"), "report not found", "report.not_found")
    return report


def timeline(*, session: Session, report: Report) -> dict[str, list]:  # type: ignore[type-arg]
    """The filings (with attempts), checks, transitions and notifications (with their
    deliveries) of a report, oldest first."""
    filings = list(
        session.exec(
            select(Filing).where(Filing.report_id == report.id).order_by(col(Filing.id))
        ).all()
    )
    attempts = session.exec(
        select(FilingAttempt)
        .where(col(FilingAttempt.filing_id).in_([filing.id for filing in filings]))
        .order_by(col(FilingAttempt.id))
    ).all()
    checks = session.exec(
        select(Check).where(Check.report_id == report.id).order_by(col(Check.checked_at))
    ).all()
    transitions = session.exec(
        select(ReportTransition)
        .where(ReportTransition.report_id == report.id)
        .order_by(col(ReportTransition.id))
    ).all()
    notifications = list(
        session.exec(
            select(Notification)
            .where(Notification.report_id == report.id)
            .order_by(col(Notification.id))
        ).all()
    )
    deliveries = session.exec(
        select(NotificationDelivery)
        .where(col(NotificationDelivery.notification_id).in_([row.id for row in notifications]))
        .order_by(col(NotificationDelivery.id))
    ).all()
    return {
        "filings": filings,
        "attempts": list(attempts),
        "checks": list(checks),
        "transitions": list(transitions),
        "notifications": notifications,
        "deliveries": list(deliveries),
    }


def policy_of(*, session: Session, report: Report) -> PolicyVersion:
    """The policy version a report was logged under."""
    row = session.get(PolicyVersion, report.policy_version_id)
    assert row is not None
    return row


class RungTargets:
    """Rung targets by policy version, each version read once (a page, an export)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._targets: dict[int, list[str]] = {}

    def __call__(self, report: Report) -> str | None:
        return self.target(report.policy_version_id, report.rung_index)

    def target(self, policy_version_id: int, rung_index: int) -> str | None:
        """The target of rung ``rung_index`` of the policy version (None past its last)."""
        if policy_version_id not in self._targets:
            row = self._session.get(PolicyVersion, policy_version_id)
            assert row is not None
            self._targets[policy_version_id] = [rung.target for rung in as_policy(row).rungs]
        targets = self._targets[policy_version_id]
        return targets[rung_index] if rung_index < len(targets) else None


def rung_target(*, session: Session, report: Report) -> str | None:
    """The target of the report's current rung."""
    rungs = as_policy(policy_of(session=session, report=report)).rungs
    return rungs[report.rung_index].target if report.rung_index < len(rungs) else None


def request_recheck(*, session: Session, principal: Principal, report_id: int) -> Report:
    """Make a report due for a check now (the next sweep picks it up)."""
    report = require_report(session=session, principal=principal, report_id=report_id)
    if report.state == ReportState.CLOSED:
        raise Conflict.one(("path", "report_id"), "the report is closed", "report.closed")
    report.next_check_at = utcnow()
    report.check_lease_until = None
    session.add(report)
    record(
        session=session,
        actor=principal.actor,
        action="report.recheck_requested",
        object_type="report",
        object_id=report.id,
        organisation_id=report.organisation_id,
    )
    return report


#: What the summary counts as due soon.
DUE_SOON = timedelta(hours=6)


def is_overdue(report: Report) -> bool:
    """On the clock and past the deadline."""
    return is_overdue_at(state=report.state, deadline_at=report.deadline_at, now=utcnow())


def is_overdue_at(*, state: str, deadline_at: datetime | None, now: datetime) -> bool:
    """On the clock and past the deadline at ``now`` (as ``overdue_condition`` selects)."""
    return state in ON_THE_CLOCK and deadline_at is not None and deadline_at <= now


def summary(*, session: Session, organisation_id: int) -> dict[str, object]:
    """Counts by state and by platform, and how many are overdue: no case data.

    Exact, from the counts the database keeps and the index of reports on the clock, in one
    statement: the parts always add up to the total.
    """
    counts = summary_counts(
        session=session, organisation_id=organisation_id, now=utcnow(), soon=DUE_SOON
    )
    return {
        "by_state": counts["by_state"],
        "by_platform": counts["by_platform"],
        "overdue": counts["overdue"],
        "due_within_6h": counts["due_soon"],
        "total": counts["total"],
    }
