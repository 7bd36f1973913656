"""Evidence retention: a closed case's evidence is purged a set number of days after it closed."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select

from tracker.cases.models import Case, CaseStatus
from tracker.db import utcnow
from tracker.evidence.models import Evidence
from tracker.evidence.service import purge_case_evidence

#: Cases purged per sweep: the next sweep takes the rest.
BATCH = 50


def purge_expired_evidence(*, session: Session, days: int) -> int:
    """Purge the evidence of cases closed more than ``days`` ago; how many files went."""
    cutoff = utcnow() - timedelta(days=days)
    case_ids = session.exec(
        select(Evidence.case_id)
        .join(Case, col(Case.id) == Evidence.case_id)
        .where(Case.status == CaseStatus.CLOSED)
        .where(col(Case.closed_at) <= cutoff)
        .where(col(Evidence.purged_at).is_(None))
        .distinct()
        .limit(BATCH)
    ).all()
    return sum(
        purge_case_evidence(session=session, case_id=case_id, actor="system", reason="retention")
        for case_id in case_ids
    )
