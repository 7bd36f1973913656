"""Reports: bulk intake of URLs into a case, listing, reading with the full timeline."""

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from tracker.audit.service import record
from tracker.cases.models import Case, CaseStatus
from tracker.cases.service import require_case
from tracker.channels import directory
from tracker.checks.models import Check
from tracker.db import utcnow
from tracker.errors import Conflict, Invalid, NotFound, Problem
from tracker.filings.models import Filing, FilingAttempt
from tracker.filings.service import file_or_hold
from tracker.notifications.models import Notification, NotificationDelivery
from tracker.organisations.service import Principal
from tracker.pagination import paginate
from tracker.policies.models import PolicyVersion
from tracker.policies.service import as_policy, policy_for_case
from tracker.reports.holds import HoldReason, hold_message
from tracker.reports.lifecycle import ON_THE_CLOCK, ReportState
from tracker.reports.models import Report, ReportTransition
from tracker.reports.schemas import IntakeResult
from tracker.reports.transitions import record_logged
from tracker.reports.urls import UrlRejected, canonicalise, check_fetchable
from tracker.settings import get_settings


def add_urls(
    *,
    session: Session,
    principal: Principal,
    case_id: int,
    urls: list[str],
    allow_partial: bool,
    preview: bool = False,
) -> list[IntakeResult]:
    """Log URLs into a case: created, duplicate or rejected per URL; all-or-nothing by default.

    With ``preview``, answer exactly what would happen and write nothing: no report, no
    transition, no filing, no audit event (created results then have no ``report_id``).
    """
    case = require_case(session=session, principal=principal, case_id=case_id)
    if case.status == CaseStatus.CLOSED:
        raise Conflict.one(("path", "case_id"), "the case is closed", "case.closed")
    intake = _classify(session=session, case=case, urls=urls)
    rejected = [result for result in intake.results if result.outcome == "rejected"]
    if rejected and not allow_partial:
        raise Invalid(
            [
                Problem(
                    loc=("body", "urls", result.index),
                    msg=result.reason or "",
                    type=result.reason_type or "url.invalid",
                )
                for result in rejected
            ]
        )
    created = [result for result in intake.results if result.outcome == "created"]
    policy = policy_for_case(
        session=session,
        jurisdictions=case.jurisdictions,
        on=date.today(),
        minor_involved=case.minor_involved,
    )
    if preview:
        for result in created:
            _explain_hold(result, would_hold(case))
        return intake.results
    now = utcnow()
    for result in created:
        assert case.id is not None and policy.id is not None and result.canonical_url
        report = Report(
            case_id=case.id,
            organisation_id=case.organisation_id,
            original_url=result.url,
            canonical_url=result.canonical_url,
            host=intake.hosts[result.canonical_url],
            platform=result.platform or "web",
            policy_version_id=policy.id,
            next_check_at=now,  # a first check establishes whether the content is live
        )
        session.add(report)
        session.flush()
        record_logged(session=session, report=report, actor=principal.actor)
        result.report_id = report.id
        file_or_hold(session=session, report=report, case=case)
        _explain_hold(result, report.hold_reason)
    record(
        session=session,
        actor=principal.actor,
        action="reports.added",
        object_type="case",
        object_id=case.id,
        organisation_id=case.organisation_id,
        details={"created": len(created), "rejected": len(rejected)},
    )
    return intake.results


@dataclass
class _Intake:
    """Every URL classified (``results``, in order) and the host of each new canonical URL."""

    results: list[IntakeResult]
    hosts: dict[str, str]


def _classify(*, session: Session, case: Case, urls: list[str]) -> _Intake:
    """Canonicalise, check and deduplicate each URL (in the request and in the case); no writes."""
    results: list[IntakeResult] = []
    accepted: dict[str, IntakeResult] = {}
    hosts: dict[str, str] = {}
    allowlist = tuple(get_settings().outbound_allowlist)
    for index, raw in enumerate(urls):
        try:
            canonical = canonicalise(raw)
            check_fetchable(canonical.host, allowlist=allowlist)
        except UrlRejected as rejection:
            results.append(
                IntakeResult(
                    index=index,
                    url=raw[:200],
                    outcome="rejected",
                    reason=rejection.message,
                    reason_type=rejection.code,
                )
            )
            continue
        if canonical.canonical in accepted:
            first = accepted[canonical.canonical]
            results.append(
                IntakeResult(
                    index=index,
                    url=raw,
                    outcome="duplicate",
                    canonical_url=canonical.canonical,
                    platform=first.platform,
                    reason=f"same URL as entry {first.index}",
                    duplicate_of=first.index,
                )
            )
            continue
        result = IntakeResult(
            index=index,
            url=raw,
            outcome="created",
            canonical_url=canonical.canonical,
            platform=directory().platform_for_host(canonical.host),
        )
        accepted[canonical.canonical] = result
        hosts[canonical.canonical] = canonical.host
        results.append(result)
    existing = {
        url: (report_id, hold_reason)
        for url, report_id, hold_reason in session.exec(
            select(Report.canonical_url, Report.id, Report.hold_reason)
            .where(Report.case_id == case.id)
            .where(col(Report.canonical_url).in_(list(accepted)))
        ).all()
    }
    for canonical_url, result in accepted.items():
        if canonical_url in existing:
            result.outcome = "duplicate"
            result.report_id, hold_reason = existing[canonical_url]
            result.reason = "already logged in this case"
            _explain_hold(result, hold_reason)
    return _Intake(results=results, hosts=hosts)


def would_hold(case: Case) -> HoldReason | None:
    """Why a new report of this case would be held rather than filed (as ``file_or_hold``)."""
    return None if case.authority_to_act else HoldReason.NO_AUTHORITY_TO_ACT


def _explain_hold(result: IntakeResult, hold_reason: str | None) -> None:
    """Say on an intake result why its report is not filed, if it is held."""
    if hold_reason is not None:
        result.hold_reason = HoldReason(hold_reason)
        result.hold_message = hold_message(hold_reason)


def visible_reports(principal: Principal):  # type: ignore[no-untyped-def]
    """A query of the reports ``principal`` may see (their organisation; a caseworker's own)."""
    query = (
        select(Report)
        .join(Case, col(Case.id) == Report.case_id)
        .where(Report.organisation_id == principal.organisation_id)
    )
    if not principal.sees_all_cases:
        query = query.where(Case.assigned_to == principal.user_id)
    return query


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
) -> tuple[list[Report], int]:
    """Visible reports with filters, newest first, and the total before pagination."""
    query = visible_reports(principal)
    if case_id is not None:
        query = query.where(Report.case_id == case_id)
    if state is not None:
        query = query.where(Report.state == state)
    if platform is not None:
        query = query.where(Report.platform == platform)
    now = utcnow()
    on_clock = col(Report.state).in_(list(ON_THE_CLOCK))
    if overdue is True:
        query = query.where(on_clock, col(Report.deadline_at) <= now)
    elif overdue is False:
        query = query.where(~(on_clock & (col(Report.deadline_at) <= now)))
    return paginate(
        session=session, query=query, order_by=col(Report.id).desc(), limit=limit, offset=offset
    )


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


def is_overdue(report: Report) -> bool:
    """On the clock and past the deadline."""
    return (
        report.state in ON_THE_CLOCK
        and report.deadline_at is not None
        and report.deadline_at <= utcnow()
    )


def summary(*, session: Session, organisation_id: int) -> dict[str, object]:
    """Counts by state and by platform, and how many are overdue: no case data."""
    by_state = dict(
        session.exec(
            select(Report.state, func.count())
            .where(Report.organisation_id == organisation_id)
            .group_by(Report.state)
        ).all()
    )
    by_platform = dict(
        session.exec(
            select(Report.platform, func.count())
            .where(Report.organisation_id == organisation_id)
            .group_by(Report.platform)
        ).all()
    )
    overdue = session.exec(
        select(func.count())
        .select_from(Report)
        .where(Report.organisation_id == organisation_id)
        .where(col(Report.state).in_(list(ON_THE_CLOCK)))
        .where(col(Report.deadline_at) <= utcnow())
    ).one()
    due_soon = session.exec(
        select(func.count())
        .select_from(Report)
        .where(Report.organisation_id == organisation_id)
        .where(col(Report.state).in_(list(ON_THE_CLOCK)))
        .where(col(Report.deadline_at) > utcnow())
        .where(col(Report.deadline_at) <= utcnow() + timedelta(hours=6))
    ).one()
    return {
        "by_state": {str(key): value for key, value in by_state.items()},
        "by_platform": by_platform,
        "overdue": overdue,
        "due_within_6h": due_soon,
        "total": sum(by_state.values()),
    }
