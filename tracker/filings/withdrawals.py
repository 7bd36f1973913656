"""Withdrawal notices to channels: claimed by the sweep, sent by a job, retried with back-off."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, col, select, update

from platform_adapters.base import WithdrawalRequest
from tracker.db import utcnow
from tracker.filings.models import Filing, WithdrawalNotice
from tracker.organisations.models import Organisation
from tracker.settings import get_settings


@dataclass(frozen=True, slots=True)
class ClaimedWithdrawal:
    """A withdrawal notice a worker holds: what to send, and where."""

    filing_id: int
    adapter: str
    organisation_id: int
    request: WithdrawalRequest


def claim_due_withdrawals(*, session: Session, lease_seconds: float, limit: int) -> list[int]:
    """Hold the due notices (and those whose holder died) for one lease; their filing ids."""
    now = utcnow()
    lease = now + timedelta(seconds=lease_seconds)
    due = list(
        session.exec(
            select(Filing.id)
            .where(
                col(Filing.withdrawal_notice).in_([WithdrawalNotice.DUE, WithdrawalNotice.SENDING])
            )
            .where(col(Filing.withdrawal_next_at) <= now)
            .order_by(col(Filing.withdrawal_next_at))
            .limit(limit)
        ).all()
    )
    claimed = []
    for filing_id in due:
        result = session.exec(
            update(Filing)
            .where(col(Filing.id) == filing_id)
            .where(
                col(Filing.withdrawal_notice).in_([WithdrawalNotice.DUE, WithdrawalNotice.SENDING])
            )
            .where(col(Filing.withdrawal_next_at) <= now)
            .values(withdrawal_notice=WithdrawalNotice.SENDING, withdrawal_next_at=lease)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            claimed.append(int(filing_id))  # type: ignore[arg-type]
    return claimed


def withdrawal_request(*, session: Session, filing_id: int) -> ClaimedWithdrawal | None:
    """The notice a held filing needs, or None when it is no longer held."""
    filing = session.get(Filing, filing_id)
    if filing is None or filing.withdrawal_notice != WithdrawalNotice.SENDING:
        return None
    organisation = session.get(Organisation, filing.organisation_id)
    assert organisation is not None and filing.id is not None
    return ClaimedWithdrawal(
        filing_id=filing.id,
        adapter=filing.adapter,
        organisation_id=filing.organisation_id,
        request=WithdrawalRequest(
            idempotency_key=filing.idempotency_key,
            external_ref=filing.external_ref,
            organisation_name=organisation.name,
            organisation_email=organisation.contact_email,
            channel_params=dict(filing.channel_params or {}),
        ),
    )


def record_withdrawal(*, session: Session, filing_id: int, sent: bool, retryable: bool) -> str:
    """Record one sending: sent, due again after a back-off, or failed for good."""
    settings = get_settings()
    filing = session.get(Filing, filing_id)
    if filing is None or filing.withdrawal_notice != WithdrawalNotice.SENDING:
        return "skipped"
    filing.withdrawal_attempts += 1
    if sent:
        filing.withdrawal_notice = WithdrawalNotice.SENT
        filing.withdrawal_next_at = None
    elif retryable and filing.withdrawal_attempts < settings.filing_max_attempts:
        delay = settings.filing_retry_base_seconds * 2 ** (filing.withdrawal_attempts - 1)
        filing.withdrawal_notice = WithdrawalNotice.DUE
        filing.withdrawal_next_at = utcnow() + timedelta(seconds=delay)
    else:
        filing.withdrawal_notice = WithdrawalNotice.FAILED
        filing.withdrawal_next_at = None
    session.add(filing)
    return str(filing.withdrawal_notice)
