"""Re-upload alerts: matches of a report with another case's bank, until a person looks.

A caseworker sees an alert when they may see either case: the one where the copy was found, or
the one whose bank it matched (that victim's caseworker must learn of the re-upload too).
"""

from __future__ import annotations

from sqlalchemy import or_
from sqlmodel import Session, col, select

from tracker.audit.service import record
from tracker.cases.models import Case
from tracker.db import utcnow
from tracker.errors import NotFound
from tracker.matching.models import ContentMatch
from tracker.organisations.service import Principal
from tracker.reports.service import require_report


def _visible(principal: Principal):  # type: ignore[no-untyped-def]
    query = select(ContentMatch).where(ContentMatch.organisation_id == principal.organisation_id)
    if principal.sees_all_cases:
        return query
    mine = select(Case.id).where(Case.assigned_to == principal.user_id)
    return query.where(
        or_(col(ContentMatch.case_id).in_(mine), col(ContentMatch.bank_case_id).in_(mine))
    )


def open_reuploads(
    *, session: Session, principal: Principal, limit: int = 50
) -> list[ContentMatch]:
    """Unacknowledged cross-case matches the caller may see, newest first."""
    return list(
        session.exec(
            _visible(principal)
            .where(col(ContentMatch.cross_case))
            .where(col(ContentMatch.acknowledged_at).is_(None))
            .order_by(col(ContentMatch.first_seen_at).desc(), col(ContentMatch.id).desc())
            .limit(limit)
        ).all()
    )


def report_matches(*, session: Session, principal: Principal, report_id: int) -> list[ContentMatch]:
    """A report's matches, oldest first."""
    require_report(session=session, principal=principal, report_id=report_id)
    return list(
        session.exec(
            select(ContentMatch)
            .where(ContentMatch.report_id == report_id)
            .order_by(col(ContentMatch.first_seen_at), col(ContentMatch.id))
        ).all()
    )


def linked_cases(*, session: Session, case_id: int) -> list[int]:
    """Cases this case shares content with (a report of one matched the other's bank)."""
    rows = session.exec(
        select(ContentMatch.case_id, ContentMatch.bank_case_id)
        .where(col(ContentMatch.cross_case))
        .where(or_(col(ContentMatch.case_id) == case_id, col(ContentMatch.bank_case_id) == case_id))
    ).all()
    return sorted({other for pair in rows for other in pair if other != case_id})


def acknowledge(*, session: Session, principal: Principal, match_id: int) -> ContentMatch:
    """A person has seen the re-upload alert; it leaves the queue (the match stays)."""
    match = session.exec(_visible(principal).where(ContentMatch.id == match_id)).first()
    if match is None or not match.cross_case:
        raise NotFound.one(("path", "match_id"), "match not found", "match.not_found")
    if match.acknowledged_at is None:
        match.acknowledged_at = utcnow()
        match.acknowledged_by = principal.user_id
        session.add(match)
        session.flush()
        record(
            session=session,
            actor=principal.actor,
            action="match.acknowledged",
            object_type="report",
            object_id=match.report_id,
            organisation_id=match.organisation_id,
            details={"match_id": match.id},
        )
    return match
