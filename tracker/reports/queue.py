"""What needs a person now, by urgency: the queries behind the console's "My queue". Read-only.

Every section is one bounded query on indexed columns (``LIMIT``, plus a count of how many
match), restricted to what the person may see: a caseworker their own cases, a supervisor or
admin the organisation's. Nothing here scans the reports table in Python.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import case as when_then
from sqlalchemy import func
from sqlmodel import Session, col, select

from tracker.alerts.kinds import AlertKind
from tracker.alerts.models import Alert
from tracker.alerts.triage import visible_alerts
from tracker.cases.models import Case, CaseStatus
from tracker.cases.service import visible_cases_query
from tracker.db import utcnow
from tracker.filings.manual import list_awaiting_manual
from tracker.filings.models import Filing
from tracker.organisations.service import Principal
from tracker.reports.holds import HoldReason
from tracker.reports.lifecycle import FILING_PENDING, ON_THE_CLOCK, ReportState
from tracker.reports.models import Report
from tracker.reports.service import visible_reports

T = TypeVar("T")

#: Items shown per section; the rest are counted ("and 12 more").
SECTION_LIMIT = 50
#: How many of the person's own open cases the queue lists.
MY_CASES_LIMIT = 20
#: "Near the deadline": due within this time.
DUE_SOON = timedelta(hours=24)
#: Alerts about channels that keep failing (the rest are a supervisor's, on the alerts page).
CHANNEL_ALERT_KINDS = (
    AlertKind.CHANNEL_FAILING,
    AlertKind.ADAPTER_MISSING_CREDENTIALS,
    AlertKind.ADAPTER_INVALID_CREDENTIALS,
    AlertKind.FILING_ATTEMPTS_EXHAUSTED,
)


@dataclass(frozen=True, slots=True)
class Section(Generic[T]):
    """The first items of one queue section and how many there are in all."""

    items: list[T]
    total: int

    @property
    def more(self) -> int:
        """How many match beyond the items shown."""
        return max(0, self.total - len(self.items))


@dataclass(frozen=True, slots=True)
class Packet:
    """A web-form filing waiting for the person to submit it, with its report."""

    filing: Filing
    report: Report


@dataclass(frozen=True, slots=True)
class HeldCase:
    """A case without authority to act, and how many of its reports wait for it."""

    case: Case
    reports: int


@dataclass(frozen=True, slots=True)
class Queue:
    """Every section of the queue, most urgent first, and the person's open cases."""

    packets: Section[Packet]
    overdue: Section[Report]
    due_soon: Section[Report]
    reappeared: Section[Report]
    held: Section[HeldCase]
    exhausted: Section[Report]
    channels: Section[Alert]
    my_cases: Section[Case]
    now: datetime = field(default_factory=utcnow)

    @property
    def is_empty(self) -> bool:
        """Nothing in any section (the person's cases aside)."""
        return not any(
            section.total
            for section in (
                self.packets,
                self.overdue,
                self.due_soon,
                self.reappeared,
                self.held,
                self.exhausted,
                self.channels,
            )
        )


def _count(session: Session, query: Any) -> int:
    return int(session.exec(select(func.count()).select_from(query.subquery())).one())


def _reports(session: Session, query: Any, *order_by: Any) -> Section[Report]:
    items = session.exec(query.order_by(*order_by).limit(SECTION_LIMIT)).all()
    return Section(list(items), _count(session, query))


def packets(*, session: Session, principal: Principal) -> Section[Packet]:
    """Web-form packets awaiting manual submission, oldest first."""
    filings, total = list_awaiting_manual(
        session=session, principal=principal, limit=SECTION_LIMIT, offset=0
    )
    report_ids = [filing.report_id for filing in filings]
    reports = {
        report.id: report
        for report in session.exec(
            visible_reports(principal).where(col(Report.id).in_(report_ids))
        ).all()
    }
    items = [
        Packet(filing=filing, report=reports[filing.report_id])
        for filing in filings
        if filing.report_id in reports
    ]
    return Section(items, total)


def overdue(*, session: Session, principal: Principal, now: datetime) -> Section[Report]:
    """Reports on the clock past their deadline, the longest overdue first."""
    query = visible_reports(principal).where(
        col(Report.deadline_at) <= now, col(Report.state).in_(list(ON_THE_CLOCK))
    )
    return _reports(session, query, col(Report.deadline_at), col(Report.id))


def due_soon(*, session: Session, principal: Principal, now: datetime) -> Section[Report]:
    """Reports on the clock due within the next 24 hours, the soonest first."""
    query = visible_reports(principal).where(
        col(Report.deadline_at) > now,
        col(Report.deadline_at) <= now + DUE_SOON,
        col(Report.state).in_(list(ON_THE_CLOCK)),
    )
    return _reports(session, query, col(Report.deadline_at), col(Report.id))


def in_state(*, session: Session, principal: Principal, state: ReportState) -> Section[Report]:
    """Visible reports in one state (the organisation and state index), oldest change first."""
    query = visible_reports(principal).where(Report.state == state)
    return _reports(session, query, col(Report.updated_at), col(Report.id))


def held_for_authority(*, session: Session, principal: Principal) -> Section[HeldCase]:
    """Cases whose reports are not filed for want of authority to act, with how many wait."""
    held = (
        visible_reports(principal)
        .where(col(Report.state).in_(list(FILING_PENDING)))
        .where(Report.hold_reason == HoldReason.NO_AUTHORITY_TO_ACT)
        .with_only_columns(col(Report.case_id), func.count().label("waiting"))
        .group_by(col(Report.case_id))
    )
    rows = session.execute(held.order_by(col(Report.case_id)).limit(SECTION_LIMIT)).all()
    counts = {case_id: int(waiting) for case_id, waiting in rows}
    cases = session.exec(select(Case).where(col(Case.id).in_(list(counts)))).all()
    by_id = {case.id: case for case in cases}
    items = [HeldCase(case=by_id[case_id], reports=counts[case_id]) for case_id in counts]
    return Section(items, _count(session, held))


def failing_channels(*, session: Session, principal: Principal) -> Section[Alert]:
    """Open alerts about channels that keep failing, as the person may see them, newest first."""
    query = (
        visible_alerts(principal)
        .where(col(Alert.resolved_at).is_(None))
        .where(col(Alert.kind).in_([kind.value for kind in CHANNEL_ALERT_KINDS]))
    )
    items = session.exec(query.order_by(col(Alert.id).desc()).limit(SECTION_LIMIT)).all()
    return Section(list(items), _count(session, query))


def my_open_cases(*, session: Session, principal: Principal) -> Section[Case]:
    """The person's own open cases, the most recent activity (case or report) first."""
    mine = (
        visible_cases_query(principal)
        .where(Case.assigned_to == principal.user_id)
        .where(Case.status == CaseStatus.OPEN)
    )
    latest = (
        select(col(Report.case_id), func.max(Report.updated_at).label("at"))
        .where(col(Report.case_id).in_(mine.with_only_columns(col(Case.id))))
        .group_by(col(Report.case_id))
        .subquery()
    )
    activity = when_then(
        (latest.c.at > col(Case.updated_at), latest.c.at), else_=col(Case.updated_at)
    )
    query = mine.outerjoin(latest, latest.c.case_id == col(Case.id))
    items = session.exec(
        query.order_by(activity.desc(), col(Case.id).desc()).limit(MY_CASES_LIMIT)
    ).all()
    return Section(list(items), _count(session, mine))


def queue_of(*, session: Session, principal: Principal) -> Queue:
    """Everything that needs ``principal`` now, by urgency."""
    now = utcnow()
    return Queue(
        packets=packets(session=session, principal=principal),
        overdue=overdue(session=session, principal=principal, now=now),
        due_soon=due_soon(session=session, principal=principal, now=now),
        reappeared=in_state(session=session, principal=principal, state=ReportState.REAPPEARED),
        held=held_for_authority(session=session, principal=principal),
        exhausted=in_state(session=session, principal=principal, state=ReportState.EXHAUSTED),
        channels=failing_channels(session=session, principal=principal),
        my_cases=my_open_cases(session=session, principal=principal),
        now=now,
    )
