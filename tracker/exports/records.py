"""What a case's bundle is made from: the case, its reports, filings, checks and evidence."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from tracker.cases.models import Case
from tracker.checks.models import Check
from tracker.evidence.models import Evidence
from tracker.evidence.service import case_evidence
from tracker.filings.models import Filing
from tracker.filings.opening import step_of
from tracker.organisations.models import Organisation
from tracker.reports.models import Report, ReportTransition

#: Removed checks shown at the start of each run of them: the ones that confirm a removal.
CONFIRMATIONS_SHOWN = 3


@dataclass(frozen=True, slots=True)
class FilingRecord:
    """One filing with the legal basis of its rung, from the report's policy version."""

    filing: Filing
    legal_basis: str


@dataclass(frozen=True, slots=True)
class CheckLine:
    """A check shown in the bundle, or (``check`` None) a note of ``skipped`` checks left out."""

    check: Check | None
    skipped: int = 0
    verdict: str = ""
    first: datetime | None = None
    last: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReportRecord:
    """One reported URL with its filings (oldest first) and its summarised checks."""

    number: int
    report: Report
    policy_title: str
    filings: list[FilingRecord]
    checks: list[CheckLine]
    check_count: int


@dataclass(frozen=True, slots=True)
class CaseRecords:
    """Everything the bundle shows, read once; ``generated_at`` is their newest timestamp."""

    case: Case
    organisation: Organisation
    reports: list[ReportRecord]
    evidence: list[Evidence]
    generated_at: datetime
    database_kind: str


def summarise_checks(checks: Sequence[Check]) -> list[CheckLine]:
    """Each run of one verdict as its first and last check (removed: its first confirmations)."""
    lines: list[CheckLine] = []
    start = 0
    while start < len(checks):
        end = start
        while end + 1 < len(checks) and checks[end + 1].verdict == checks[start].verdict:
            end += 1
        run = checks[start : end + 1]
        head = CONFIRMATIONS_SHOWN if run[0].verdict == "removed" else 1
        shown = run[:head]
        middle = run[head:-1] if len(run) > head else []
        lines.extend(CheckLine(check=check) for check in shown)
        if middle:
            lines.append(
                CheckLine(
                    check=None,
                    skipped=len(middle),
                    verdict=run[0].verdict,
                    first=middle[0].checked_at,
                    last=middle[-1].checked_at,
                )
            )
        if len(run) > head:
            lines.append(CheckLine(check=run[-1]))
        start = end + 1
    return lines


def _newest(moments: Iterable[datetime | None]) -> datetime:
    return max(moment for moment in moments if moment is not None)


def read_records(*, session: Session, case: Case) -> CaseRecords:
    """Read a case's records for its bundle, in a stable order."""
    from tracker.policies.models import PolicyVersion

    organisation = session.get(Organisation, case.organisation_id)
    assert organisation is not None and case.id is not None
    reports = list(
        session.exec(select(Report).where(Report.case_id == case.id).order_by(col(Report.id))).all()
    )
    moments: list[datetime | None] = [case.created_at, case.updated_at]
    records = []
    for number, report in enumerate(reports, start=1):
        filings = list(
            session.exec(
                select(Filing).where(Filing.report_id == report.id).order_by(col(Filing.id))
            ).all()
        )
        checks = list(
            session.exec(
                select(Check)
                .where(Check.report_id == report.id)
                .order_by(col(Check.checked_at), col(Check.id))
            ).all()
        )
        transitions = session.exec(
            select(ReportTransition.at).where(ReportTransition.report_id == report.id)
        ).all()
        policy = session.get(PolicyVersion, report.policy_version_id)
        assert policy is not None
        filing_records = []
        for filing in filings:
            step = step_of(
                session=session, report=report, track=filing.track, index=filing.rung_index
            )
            filing_records.append(
                FilingRecord(filing=filing, legal_basis=step.legal_basis if step else "")
            )
            moments += [filing.created_at, filing.updated_at, filing.submitted_at]
            moments.append(filing.confirmed_at)
        moments += [report.created_at, report.updated_at, *transitions]
        moments += [check.checked_at for check in checks]
        records.append(
            ReportRecord(
                number=number,
                report=report,
                policy_title=f"{policy.title} (version {policy.version})",
                filings=filing_records,
                checks=summarise_checks(checks),
                check_count=len(checks),
            )
        )
    evidence = case_evidence(session=session, case_id=case.id)
    for item in evidence:
        moments += [item.captured_at, item.purged_at]
    bind = session.get_bind()
    return CaseRecords(
        case=case,
        organisation=organisation,
        reports=records,
        evidence=evidence,
        generated_at=_newest(moments),
        database_kind="PostgreSQL" if bind.dialect.name == "postgresql" else "SQLite",
    )
