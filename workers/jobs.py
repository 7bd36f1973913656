"""The work itself, as plain functions taking ids: Celery tasks and the in-process runner
both call these. Each keeps network I/O outside database transactions."""

from __future__ import annotations

import logging
from collections.abc import Callable

from pydantic import ValidationError
from sqlalchemy import select

from platform_adapters.base import (
    Adapter,
    AdapterError,
    FetchedPage,
    InvalidCredentialsError,
    MissingCredentialsError,
    TransientError,
    Verdict,
)
from platform_adapters.registry import build_adapter
from tracker.alerts.service import raise_alert
from tracker.bulk import among
from tracker.channels import directory
from tracker.channels.service import stored_values
from tracker.db import Database
from tracker.escalation.service import escalate, escalate_if_overdue
from tracker.filings.models import Filing
from tracker.filings.service import (
    ClaimedFiling,
    claim_for_submission,
    record_error,
    record_poll,
    record_receipt,
)
from tracker.matching.media import media_of
from tracker.notifications.service import claim_delivery, record_delivery
from tracker.reports.lifecycle import CHECKED
from tracker.reports.models import Report
from tracker.reports.transitions import StaleState
from tracker.runtime import database
from tracker.settings import get_settings
from workers.notify import send_email, send_webhook
from workers.recheck.pipeline import recheck_reports

logger = logging.getLogger(__name__)
WORKER = "worker"


def file_filing(filing_id: int, *, db: Database | None = None) -> str:
    """Submit one filing through its adapter, exactly once; returns what happened."""
    db = db or database()
    with db.transaction() as session:
        claim = claim_for_submission(session=session, filing_id=filing_id)
    if claim is None:
        return "skipped"
    with db.session() as session:
        stored = stored_values(
            session=session, organisation_id=claim.organisation_id, adapter=claim.adapter
        )
    try:
        receipt = build_adapter(claim.adapter, get_settings(), stored).file(claim.request)
    except AdapterError as error:
        # The kind only: an adapter's message may name the host (e.g. an RDAP lookup).
        logger.warning("filing %s on %s failed (%s)", filing_id, claim.adapter, error.kind)
        _record_filing_error(db, claim, error)
        return error.kind
    except ValidationError:
        # Stored credentials that no longer fit the adapter's config: a person must fix them.
        _record_filing_error(
            db, claim, InvalidCredentialsError(f"stored config for {claim.adapter} is invalid")
        )
        return InvalidCredentialsError.kind
    except Exception as error:  # an adapter bug must not leave the filing stuck
        logger.exception("adapter %s failed unexpectedly on filing %s", claim.adapter, filing_id)
        _record_filing_error(db, claim, TransientError(f"unexpected {type(error).__name__}"))
        return "transient"
    for attempt in range(2):
        try:
            with db.transaction() as session:
                record_receipt(session=session, claim=claim, receipt=receipt)
            return "filed"
        except StaleState:
            # The report moved while we were filing (say, removal confirmed): read it again.
            if attempt == 1:
                raise
    return "filed"


def _record_filing_error(db: Database, claim: ClaimedFiling, error: AdapterError) -> None:
    with db.transaction() as session:
        cause = record_error(session=session, claim=claim, error=error)
        if cause is not None:
            filing = session.get(Filing, claim.filing_id)
            report = session.get(Report, filing.report_id) if filing else None
            if report is not None:
                escalate(session=session, report=report, cause=cause, actor=WORKER)


def poll_filing(filing_id: int, *, db: Database | None = None) -> str:
    """Ask the platform about one filing and apply the answer."""
    db = db or database()
    with db.transaction() as session:
        filing = session.get(Filing, filing_id)
        if filing is None or filing.external_ref is None:
            return "skipped"
        adapter_slug, external_ref = filing.adapter, filing.external_ref
        organisation_id = filing.organisation_id
        stored = stored_values(
            session=session, organisation_id=organisation_id, adapter=adapter_slug
        )
    try:
        status = build_adapter(adapter_slug, get_settings(), stored).poll(external_ref)
    except (MissingCredentialsError, InvalidCredentialsError) as error:
        with db.transaction() as session:
            raise_alert(
                session=session,
                kind=f"adapter.{error.kind}",
                subject=f"adapter:{adapter_slug}",
                organisation_id=organisation_id,
            )
        return error.kind
    except AdapterError as error:
        # Polling is best effort: the poll lease expires and the sweep asks again later.
        logger.info("poll of filing %s failed: %s", filing_id, error.kind)
        return error.kind
    with db.transaction() as session:
        cause = record_poll(
            session=session, filing_id=filing_id, status=status.status, detail=status.detail
        )
        if cause is not None:
            filing = session.get(Filing, filing_id)
            report = session.get(Report, filing.report_id) if filing else None
            if report is not None:
                escalate(session=session, report=report, cause=cause, actor=WORKER)
    return str(status.status)


ClassifyRule = Callable[[FetchedPage], Verdict | None]


def _platform_rules(platforms: set[str]) -> dict[str, ClassifyRule | None]:
    """Each platform's own "is it gone" rule, from the adapter of its platform channel."""
    settings = get_settings()
    rules: dict[str, ClassifyRule | None] = {}
    for platform in platforms:
        try:
            adapter: Adapter = build_adapter(
                directory().route(platform, "platform").adapter, settings
            )
        except (AdapterError, ValidationError):
            # Classification needs no credentials; an adapter that cannot be built without
            # them simply contributes no rule, and the generic rules decide.
            rules[platform] = None
            continue
        rules[platform] = adapter.classify
    return rules


def recheck_batch(report_ids: list[int], *, db: Database | None = None) -> int:
    """Re-check a batch of reports concurrently and record each verdict; returns how many."""
    db = db or database()
    settings = get_settings()
    reports = Report.__table__  # type: ignore[attr-defined]
    with db.session() as session:
        rows = session.execute(
            select(reports.c.id, reports.c.canonical_url, reports.c.platform)
            .where(among(session=session, column=reports.c.id, values=report_ids))
            .where(reports.c.state.in_([str(state) for state in CHECKED]))
        ).all()
        known = media_of(session=session, report_ids=[int(row[0]) for row in rows])
    if not rows:
        return 0
    rules = _platform_rules({platform for _, _, platform in rows})
    items = [(int(report_id), url, rules[platform]) for report_id, url, platform in rows]
    return recheck_reports(items, known=known, db=db, settings=settings)


def escalate_report(report_id: int, *, db: Database | None = None) -> bool:
    """Decide one report whose deadline passed; True if it moved to the next rung."""
    db = db or database()
    try:
        with db.transaction() as session:
            return escalate_if_overdue(session=session, report_id=report_id)
    except StaleState:
        return False


def deliver_notification(delivery_id: int, *, db: Database | None = None) -> str:
    """Send one notification delivery (e-mail or signed webhook) and record the attempt."""
    db = db or database()
    with db.transaction() as session:
        claim = claim_delivery(session=session, delivery_id=delivery_id)
    if claim is None:
        return "skipped"
    settings = get_settings()
    sender = send_webhook if claim.channel == "webhook" else send_email
    result = sender(claim, settings)
    with db.transaction() as session:
        record_delivery(
            session=session,
            delivery_id=delivery_id,
            ok=result.ok,
            response_status=result.response_status,
            error=result.error,
            retryable=result.retryable,
        )
    return "delivered" if result.ok else "failed"


def send_withdrawal(filing_id: int, *, db: Database | None = None) -> str:
    """Send one held withdrawal notice through its channel; returns what happened."""
    from platform_adapters.base import PermanentError, Withdrawable
    from tracker.filings.withdrawals import record_withdrawal, withdrawal_request

    db = db or database()
    with db.session() as session:
        claim = withdrawal_request(session=session, filing_id=filing_id)
        if claim is None:
            return "skipped"
        stored = stored_values(
            session=session, organisation_id=claim.organisation_id, adapter=claim.adapter
        )
    sent, retryable = False, True
    try:
        adapter = build_adapter(claim.adapter, get_settings(), stored)
        if not isinstance(adapter, Withdrawable):
            raise PermanentError(f"{claim.adapter} cannot take a withdrawal")
        adapter.withdraw(claim.request)
        sent = True
    except AdapterError as error:
        logger.warning("withdrawal %s on %s failed (%s)", filing_id, claim.adapter, error.kind)
        retryable = isinstance(error, TransientError)
    except ValidationError:
        logger.warning("withdrawal %s: stored config for %s is invalid", filing_id, claim.adapter)
        retryable = False
    with db.transaction() as session:
        return record_withdrawal(
            session=session, filing_id=filing_id, sent=sent, retryable=retryable
        )


JOBS: dict[str, Callable[..., object]] = {
    "file_filing": file_filing,
    "poll_filing": poll_filing,
    "recheck_batch": recheck_batch,
    "escalate_report": escalate_report,
    "deliver_notification": deliver_notification,
    "send_withdrawal": send_withdrawal,
}
