"""Filings a caseworker submits by hand: listing their packets, confirming with a reference."""

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from tracker.audit.service import record
from tracker.cases.models import Case
from tracker.cases.service import get_case, visible_cases_query
from tracker.db import utcnow
from tracker.errors import Conflict, Invalid, NotFound
from tracker.filings.models import Filing, FilingStatus
from tracker.filings.service import mark_submitted
from tracker.organisations.service import Principal
from tracker.pagination import paginate
from tracker.reports.models import Report

#: Clock skew tolerated on a caseworker's stated submission time, at either end of its window.
CLOCK_SKEW = timedelta(minutes=5)


def list_awaiting_manual(
    *, session: Session, principal: Principal, limit: int, offset: int
) -> tuple[list[Filing], int]:
    """Filings whose packet a caseworker must submit, oldest first."""
    visible = visible_cases_query(principal).with_only_columns(col(Case.id))
    query = (
        select(Filing)
        .join(Report, col(Report.id) == Filing.report_id)
        .where(Filing.status == FilingStatus.AWAITING_MANUAL)
        .where(col(Report.case_id).in_(visible))
    )
    return paginate(
        session=session, query=query, order_by=col(Filing.id), limit=limit, offset=offset
    )


def require_filing(
    *, session: Session, principal: Principal, filing_id: int
) -> tuple[Filing, Report]:
    """A filing (and its report) the caller may see: its case is theirs; else NotFound."""
    filing = session.get(Filing, filing_id)
    report = session.get(Report, filing.report_id) if filing else None
    if (
        filing is None
        or report is None
        or get_case(session=session, principal=principal, case_id=report.case_id) is None
    ):
        raise NotFound.one(("path", "filing_id"), "filing not found", "filing.not_found")
    return filing, report


def confirm_manual(
    *,
    session: Session,
    principal: Principal,
    filing_id: int,
    reference_id: str,
    submitted_at: datetime | None,
) -> Filing:
    """A caseworker submitted the packet: record the reference; the deadline starts now."""
    filing, report = require_filing(session=session, principal=principal, filing_id=filing_id)
    if filing.status != FilingStatus.AWAITING_MANUAL:
        raise Conflict.one(
            ("path", "filing_id"),
            f"the filing is {filing.status}, not awaiting manual submission",
            "filing.not_awaiting_manual",
        )
    duplicate = session.exec(
        select(Filing.id)
        .where(Filing.adapter == filing.adapter)
        .where(Filing.external_ref == reference_id)
        .where(Filing.id != filing.id)
    ).first()
    if duplicate is not None:
        raise Conflict.one(
            ("body", "reference_id"),
            "this reference is already recorded on another filing",
            "filing.duplicate_reference",
        )
    now = utcnow()
    if submitted_at is not None:
        _check_submitted_at(submitted_at, prepared_at=filing.created_at, now=now)
    filing.confirmed_at = now
    mark_submitted(
        session=session,
        filing=filing,
        report=report,
        external_ref=reference_id,
        submitted_at=submitted_at or now,
        actor=principal.actor,
        cause=f"submitted by hand ({filing.rung_target}), reference recorded",
    )
    record(
        session=session,
        actor=principal.actor,
        action="filing.confirmed",
        object_type="filing",
        object_id=filing.id,
        organisation_id=filing.organisation_id,
    )
    return filing


def _check_submitted_at(submitted_at: datetime, *, prepared_at: datetime, now: datetime) -> None:
    """Refuse a stated submission time outside [packet prepared, now], give or take the skew."""
    # Deadlines run from it: a time in 1970 would start a clock that ran out decades ago.
    if submitted_at > now + CLOCK_SKEW:
        raise Invalid.one(
            ("body", "submitted_at"), "the submission time is in the future", "filing.future_time"
        )
    if submitted_at < prepared_at - CLOCK_SKEW:
        raise Invalid.one(
            ("body", "submitted_at"),
            "the submission time is before the filing was prepared "
            f"({prepared_at.isoformat(timespec='seconds')}); give the time it was submitted",
            "filing.time_before_filing",
        )
