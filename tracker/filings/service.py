"""Filings: claiming one for submission and recording every outcome (attempts, receipts,
errors, polls). Opening filings is ``tracker.filings.opening``."""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from platform_adapters.base import (
    AdapterError,
    FilingReceipt,
    FilingRequest,
    InvalidCredentialsError,
    MissingCredentialsError,
    PlatformStatus,
    TransientError,
)
from platform_adapters.registry import adapter_class
from tracker.alerts.service import raise_alert
from tracker.cases.keys import open_text
from tracker.cases.models import Case
from tracker.db import utcnow
from tracker.filings.models import (
    OPEN_FILING_STATUSES,
    AttemptOutcome,
    Filing,
    FilingAttempt,
    FilingStatus,
)
from tracker.filings.opening import LADDER, PARALLEL, step_of
from tracker.metrics import count_filing
from tracker.organisations.models import Organisation
from tracker.policies.models import PolicyVersion
from tracker.policies.schema import ParallelTrack, Rung
from tracker.policies.service import as_policy
from tracker.reports.lifecycle import FILING_PENDING, ReportState
from tracker.reports.models import Report
from tracker.reports.transitions import move
from tracker.scorecards.outcomes import on_filed, on_rejected, reason_of
from tracker.settings import get_settings

WORKER = "worker"


@dataclass(frozen=True, slots=True)
class ClaimedFiling:
    """A filing a worker now holds, with the request to send."""

    filing_id: int
    organisation_id: int
    adapter: str
    request: FilingRequest
    started_at: datetime


def claim_for_submission(*, session: Session, filing_id: int) -> ClaimedFiling | None:
    """Take a filing for submission; None if another worker holds it or it is done.

    Compare-and-set on the status: a task delivered twice submits once. A worker that died
    while submitting leaves the lease to expire; the retry reuses the idempotency key.
    """
    now = utcnow()
    lease_until = now + timedelta(seconds=get_settings().lease_seconds)
    result = session.execute(
        update(Filing)
        .where(col(Filing.id) == filing_id)
        .where(
            # A pending filing is taken only once its retry time has come: a job delivered
            # twice must not send again before the platform's Retry-After has passed.
            (
                (col(Filing.status) == FilingStatus.PENDING)
                & (col(Filing.next_attempt_at).is_(None) | (col(Filing.next_attempt_at) <= now))
            )
            | ((col(Filing.status) == FilingStatus.SUBMITTING) & (col(Filing.lease_until) < now))
        )
        .values(
            status=FilingStatus.SUBMITTING,
            lease_until=lease_until,
            attempt_count=Filing.attempt_count + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    filing = session.get(Filing, filing_id)
    assert filing is not None
    session.refresh(filing)
    report = session.get(Report, filing.report_id)
    organisation = session.get(Organisation, filing.organisation_id)
    assert report is not None and organisation is not None
    rung = step_of(session=session, report=report, track=filing.track, index=filing.rung_index)
    assert rung is not None
    request = FilingRequest(
        idempotency_key=filing.idempotency_key,
        url=report.canonical_url,
        platform=report.platform,
        rung_target=filing.rung_target,
        legal_basis=rung.legal_basis,
        deadline_text=deadline_text(rung),
        organisation_name=organisation.name,
        organisation_email=organisation.contact_email,
        channel_params=_request_params(session, report, filing),
    )
    return ClaimedFiling(
        filing_id=filing_id,
        organisation_id=filing.organisation_id,
        adapter=filing.adapter,
        request=request,
        started_at=now,
    )


COUNTRY_NAMES = {"IN": "India", "US": "United States"}


def _request_params(session: Session, report: Report, filing: Filing) -> dict[str, Any]:
    """The channel's parameters plus what the case allows a filing to say.

    The victim's identity goes out only where the channel requires it AND the case records
    consent to share it; otherwise filings speak for the organisation alone.
    """
    params: dict[str, Any] = dict(filing.channel_params or {})
    params.pop("identity", None)  # never taken from stored data, only from the case below
    case = session.get(Case, report.case_id)
    if case is None:
        return params
    country = next(
        (COUNTRY_NAMES[code] for code in case.jurisdictions if code in COUNTRY_NAMES), None
    )
    if country and "country" not in params:
        params["country"] = country
    if params.get("requires_identity") and case.consent_to_share_identity:
        assert case.id is not None
        name = open_text(session=session, case_id=case.id, value=case.contact_name)
        if name:
            params["identity"] = name
    return params


def deadline_text(rung: Rung | ParallelTrack) -> str:
    """The rung's deadline in words for a notice, e.g. 'within 24 hours of receipt'."""
    hours = rung.deadline.total_seconds() / 3600
    amount = f"{hours:g} hours" if hours < 72 else f"{hours / 24:g} days"
    return f"within {amount} of receipt of this notice"


def _attempt(
    session: Session,
    claim: ClaimedFiling,
    outcome: AttemptOutcome,
    http_status: int | None = None,
    error: str | None = None,
) -> None:
    session.add(
        FilingAttempt(
            filing_id=claim.filing_id,
            started_at=claim.started_at,
            finished_at=utcnow(),
            outcome=outcome,
            http_status=http_status,
            error=error[:500] if error else None,
        )
    )
    count_filing(
        session=session,
        organisation_id=claim.organisation_id,
        adapter=claim.adapter,
        outcome=outcome,
    )


def record_receipt(*, session: Session, claim: ClaimedFiling, receipt: FilingReceipt) -> None:
    """The platform took the filing (or a manual packet is ready): move filing and report."""
    filing = session.get(Filing, claim.filing_id)
    report = session.get(Report, filing.report_id) if filing else None
    assert filing is not None and report is not None
    _attempt(session, claim, AttemptOutcome.SUCCEEDED, receipt.http_status)
    now = utcnow()
    filing.channel_kind = receipt.channel_kind
    filing.lease_until = None
    filing.last_error = None
    if receipt.awaiting_manual:
        filing.status = FilingStatus.AWAITING_MANUAL
        filing.packet = dict(receipt.packet or {})
        session.add(filing)
        if filing.track == LADDER and report.state in FILING_PENDING:
            move(
                session=session,
                report=report,
                to_state=ReportState.AWAITING_MANUAL,
                cause=f"packet ready for manual submission ({filing.rung_target})",
                actor=WORKER,
            )
        return
    mark_submitted(
        session=session,
        filing=filing,
        report=report,
        external_ref=receipt.external_ref,
        submitted_at=receipt.submitted_at or now,
        actor=WORKER,
        cause=f"filed with {filing.adapter} ({filing.rung_target})",
    )


def mark_submitted(
    *,
    session: Session,
    filing: Filing,
    report: Report,
    external_ref: str | None,
    submitted_at: datetime,
    actor: str,
    cause: str,
) -> None:
    """The filing reached the platform: its deadline starts; the report goes on the clock."""
    settings = get_settings()
    rung = step_of(session=session, report=report, track=filing.track, index=filing.rung_index)
    assert rung is not None
    now = utcnow()
    deadline_at = submitted_at + rung.deadline
    filing.status = FilingStatus.SUBMITTED
    filing.external_ref = external_ref
    filing.submitted_at = submitted_at
    filing.deadline_at = deadline_at
    filing.updated_at = now
    if adapter_class(filing.adapter).can_poll:
        filing.next_poll_at = now + timedelta(seconds=settings.poll_interval_seconds)
    session.add(filing)
    if filing.track != LADDER:
        return  # a parallel track keeps its own deadline; the report's clock is the ladder's
    next_check = now + timedelta(seconds=settings.check_interval_active_seconds)
    if report.next_check_at is not None:
        next_check = min(next_check, report.next_check_at)
    if report.state in FILING_PENDING or report.state == ReportState.AWAITING_MANUAL:
        move(
            session=session,
            report=report,
            to_state=ReportState.FILED,
            cause=cause,
            actor=actor,
            deadline_at=deadline_at,
            next_check_at=min(next_check, deadline_at),
            warn_at=submitted_at + rung.deadline * settings.deadline_warning_fraction,
            parallel_due_at=_parallel_due(session, report, submitted_at),
        )
        on_filed(
            session=session,
            report=report,
            channel=filing.channel_kind,
            rung=filing.rung_target,
            rung_index=filing.rung_index,
            legal_basis=rung.legal_basis,
            submitted_at=submitted_at,
        )


def _parallel_due(session: Session, report: Report, submitted_at: datetime) -> datetime | None:
    """When the parallel tracks start: counted from the first filing, opened only once."""
    if report.parallel_due_at is not None:
        return report.parallel_due_at
    policy = session.get(PolicyVersion, report.policy_version_id)
    assert policy is not None
    tracks = as_policy(policy).parallel
    opened = session.exec(
        select(Filing.id).where(Filing.report_id == report.id, Filing.track == PARALLEL)
    ).first()
    if not tracks or opened is not None:
        return None
    return submitted_at + min(track.start_after for track in tracks)


def record_error(*, session: Session, claim: ClaimedFiling, error: AdapterError) -> str | None:
    """A filing attempt failed: retry later or alert; returns an escalation cause if refused."""
    filing = session.get(Filing, claim.filing_id)
    assert filing is not None
    settings = get_settings()
    now = utcnow()
    filing.lease_until = None
    filing.last_error = f"{error.kind}: {error.message}"[:500]
    filing.updated_at = now
    if isinstance(error, TransientError):
        _attempt(session, claim, AttemptOutcome.TRANSIENT_ERROR, error.http_status, error.message)
        if filing.attempt_count < settings.filing_max_attempts:
            filing.status = FilingStatus.PENDING
            filing.next_attempt_at = now + timedelta(
                seconds=retry_delay(filing.attempt_count, error.retry_after)
            )
            session.add(filing)
            return None
        filing.status = FilingStatus.FAILED
        session.add(filing)
        raise_alert(
            session=session,
            kind="filing.attempts_exhausted",
            subject=f"adapter:{filing.adapter}",
            organisation_id=filing.organisation_id,
        )
        return None
    if isinstance(error, MissingCredentialsError | InvalidCredentialsError):
        _attempt(session, claim, AttemptOutcome.CREDENTIALS_ERROR, error.http_status, error.message)
        filing.status = FilingStatus.FAILED
        session.add(filing)
        raise_alert(
            session=session,
            kind=f"adapter.{error.kind}",
            subject=f"adapter:{filing.adapter}",
            organisation_id=filing.organisation_id,
        )
        return None
    _attempt(session, claim, AttemptOutcome.PERMANENT_ERROR, error.http_status, error.message)
    filing.status = FilingStatus.FAILED
    session.add(filing)
    if filing.track != LADDER:
        return None  # a refused parallel filing does not move the report's ladder
    refused = session.get(Report, filing.report_id)
    if refused is not None:
        on_rejected(session=session, report=refused, reason=reason_of(None, refused=True))
    return f"{filing.adapter} refused the filing: {error.message}"


def retry_delay(attempt_count: int, retry_after: float | None) -> float:
    """Exponential back-off with jitter, never sooner than the platform's Retry-After."""
    base = get_settings().filing_retry_base_seconds
    delay = base * (2 ** max(attempt_count - 1, 0)) * random.uniform(0.5, 1.0)  # noqa: S311
    return max(delay, retry_after or 0.0)


def record_poll(
    *, session: Session, filing_id: int, status: PlatformStatus, detail: str | None
) -> str | None:
    """Apply what the platform said about a filing; returns an escalation cause if rejected."""
    filing = session.get(Filing, filing_id)
    assert filing is not None
    report = session.get(Report, filing.report_id)
    assert report is not None
    now = utcnow()
    filing.platform_status = status
    filing.poll_lease_until = None
    filing.updated_at = now
    settings = get_settings()
    if filing.status not in (FilingStatus.SUBMITTED, FilingStatus.ACKNOWLEDGED):
        filing.next_poll_at = None
        session.add(filing)
        return None
    filing.next_poll_at = now + timedelta(seconds=settings.poll_interval_seconds)
    if status == PlatformStatus.ACKNOWLEDGED and filing.status == FilingStatus.SUBMITTED:
        filing.status = FilingStatus.ACKNOWLEDGED
        if report.state == ReportState.FILED:
            move(
                session=session,
                report=report,
                to_state=ReportState.ACKNOWLEDGED,
                cause=f"{filing.adapter} acknowledged the report",
                actor=WORKER,
            )
    elif status == PlatformStatus.REMOVED:
        filing.status = FilingStatus.REMOVED
        filing.next_poll_at = None
        # The platform's word is not proof: check now, and let consecutive checks confirm.
        report.next_check_at = now
        report.check_lease_until = None
        session.add(report)
    elif status == PlatformStatus.REJECTED:
        filing.status = FilingStatus.REJECTED
        filing.next_poll_at = None
        session.add(filing)
        if filing.track != LADDER:
            return None  # a refused parallel filing does not move the report's ladder
        on_rejected(session=session, report=report, reason=reason_of(detail))
        return f"{filing.adapter} rejected the report" + (f": {detail}" if detail else "")
    session.add(filing)
    return None


def supersede_open_filings(*, session: Session, report_id: int) -> None:
    """Close the report's open ladder filings because it moved to another rung."""
    session.execute(
        update(Filing)
        .where(col(Filing.report_id) == report_id)
        .where(col(Filing.track) == LADDER)
        .where(col(Filing.status).in_(list(OPEN_FILING_STATUSES)))
        .values(status=FilingStatus.SUPERSEDED, next_poll_at=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def attempts_of(*, session: Session, filing_ids: list[int]) -> dict[int, list[FilingAttempt]]:
    """Attempts grouped by filing."""
    grouped: dict[int, list[FilingAttempt]] = {filing_id: [] for filing_id in filing_ids}
    for attempt in session.exec(
        select(FilingAttempt)
        .where(col(FilingAttempt.filing_id).in_(filing_ids))
        .order_by(col(FilingAttempt.id))
    ).all():
        grouped[attempt.filing_id].append(attempt)
    return grouped
