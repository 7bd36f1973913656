"""Consent withdrawn: stop everything, tell the channels that can be told, erase the case.

What the person asked for, through their caseworker: no more re-checks and no more filings on
their behalf, and nothing identifying them kept. In one transaction:

- every report of the case is closed (cause "consent withdrawn"); every open filing becomes
  ``withdrawn``; each filing that reached a channel able to hear it (an e-mail notice, so far)
  is marked for a withdrawal notice, which ``sweep_withdrawals`` sends with retries;
- the case's data key is destroyed (``tracker.cases.keys``): contact fields, notes and evidence
  encrypted under it are unreadable everywhere, backups included; the evidence files are deleted
  too; the reported URLs, the pages' final URLs, the web-form packets and any identity in channel
  parameters are erased; the label becomes "Withdrawn case #<id>"; the status link is revoked;
- what stays: the rows and their states (counts per state and platform, dates), the audit log,
  and the audit event of this withdrawal, which counts what was erased and names nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlmodel import Session, col, select, update

from platform_adapters.base import Withdrawable
from platform_adapters.registry import adapter_class
from tracker.audit.service import record
from tracker.cases.models import Case, CaseStatus
from tracker.cases.service import require_case
from tracker.checks.models import Check
from tracker.db import utcnow
from tracker.errors import Conflict
from tracker.filings.models import OPEN_FILING_STATUSES, Filing, FilingStatus, WithdrawalNotice
from tracker.organisations.service import Principal
from tracker.reports.lifecycle import ReportState
from tracker.reports.models import Report
from tracker.reports.transitions import move

CAUSE = "consent withdrawn"
#: Channel parameters a withdrawal notice still needs; everything else (identity, URLs) goes.
KEPT_CHANNEL_PARAMS = ("address", "language", "notice")


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """What a withdrawal did, in counts."""

    reports_closed: int
    filings_withdrawn: int
    notices_due: int
    evidence_purged: int


def erased_url(report_id: int) -> str:
    """What a report's URL reads after erasure."""
    return f"erased:report-{report_id}"


def withdraw_case(*, session: Session, principal: Principal, case_id: int) -> Withdrawal:
    """Withdraw a case the caller may see; Conflict if it was withdrawn already."""
    case = require_case(session=session, principal=principal, case_id=case_id)
    if case.withdrawn_at is not None:
        raise Conflict.one(
            ("path", "case_id"), "consent was already withdrawn for this case", "case.withdrawn"
        )
    assert case.id is not None
    now = utcnow()
    reports = list(session.exec(select(Report).where(Report.case_id == case.id)).all())
    closed = 0
    for report in reports:
        if report.state != ReportState.CLOSED:
            move(
                session=session,
                report=report,
                to_state=ReportState.CLOSED,
                cause=CAUSE,
                actor=principal.actor,
                next_check_at=None,
                check_lease_until=None,
                escalation_lease_until=None,
            )
            closed += 1
    report_ids = [report.id for report in reports if report.id is not None]
    withdrawn, notices = _withdraw_filings(session, report_ids, now)
    evidence = _erase(session, case, reports, principal.actor)
    session.flush()
    outcome = Withdrawal(
        reports_closed=closed,
        filings_withdrawn=withdrawn,
        notices_due=notices,
        evidence_purged=evidence,
    )
    record(
        session=session,
        actor=principal.actor,
        action="case.withdrawn",
        object_type="case",
        object_id=case.id,
        organisation_id=case.organisation_id,
        details=asdict(outcome),
    )
    return outcome


def _withdraw_filings(session: Session, report_ids: list[int], now) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    if not report_ids:
        return 0, 0
    filings = list(session.exec(select(Filing).where(col(Filing.report_id).in_(report_ids))).all())
    withdrawn = notices = 0
    for filing in filings:
        if filing.status in OPEN_FILING_STATUSES:
            filing.status = FilingStatus.WITHDRAWN
            filing.next_attempt_at = filing.next_poll_at = filing.lease_until = None
            withdrawn += 1
        reached = filing.submitted_at is not None
        if reached and issubclass(adapter_class(filing.adapter), Withdrawable):
            filing.withdrawal_notice = WithdrawalNotice.DUE
            filing.withdrawal_next_at = now
            notices += 1
        params = filing.channel_params or {}
        filing.channel_params = {key: params[key] for key in KEPT_CHANNEL_PARAMS if key in params}
        filing.packet = None
        filing.last_error = None
        filing.updated_at = now
        session.add(filing)
    return withdrawn, notices


def _erase(session: Session, case: Case, reports: list[Report], actor: str) -> int:
    """Destroy the case key and evidence; erase URLs, label and contact; revoke the link."""
    from tracker.cases.keys import destroy_case_key
    from tracker.evidence.service import purge_case_evidence
    from tracker.matching.bank import erase_case_matching
    from tracker.status_links.service import revoke_case_links

    assert case.id is not None
    purged = purge_case_evidence(session=session, case_id=case.id, actor=actor, reason="withdrawn")
    destroy_case_key(session=session, case_id=case.id)
    revoke_case_links(session=session, case_id=case.id, actor=actor)
    erase_case_matching(
        session=session,
        case_id=case.id,
        report_ids=[report.id for report in reports if report.id is not None],
    )
    for report in reports:
        assert report.id is not None
        session.execute(
            update(Report)
            .where(col(Report.id) == report.id)
            .values(
                original_url=erased_url(report.id),
                canonical_url=erased_url(report.id),
                host="erased",
            )
            .execution_options(synchronize_session=False)
        )
    if reports:
        session.execute(
            update(Check)
            .where(col(Check.report_id).in_([report.id for report in reports]))
            .values(final_url=None, error=None)
            .execution_options(synchronize_session=False)
        )
    now = utcnow()
    case.label = f"Withdrawn case #{case.id}"
    case.contact_name = case.contact_email = case.contact_phone = case.notes = None
    case.authority_to_act = False
    case.exports_allowed = False  # nothing left to hand over; the erasure is the record
    case.consent_to_share_identity = False
    if case.status != CaseStatus.CLOSED:
        case.status = CaseStatus.CLOSED
        case.closed_at = now
    case.withdrawn_at = now
    case.updated_at = now
    session.add(case)
    return purged
