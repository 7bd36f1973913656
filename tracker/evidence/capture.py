"""Automatic captures: a sealed JSON record of the check that first saw a report live, and of
every check that proved a state change. A record of what was seen, never the media."""

from __future__ import annotations

import json
import logging

from sqlmodel import Session, col, select

from platform_adapters.base import CAPTURED_HEADERS
from tracker.cases.keys import CaseKeyDestroyed
from tracker.cases.models import Case
from tracker.checks.models import Check
from tracker.evidence.models import Evidence
from tracker.evidence.service import store_capture
from tracker.reports.models import Report

logger = logging.getLogger(__name__)

LIVE = "live"


def selected_headers(headers: dict[str, str] | None) -> dict[str, str] | None:
    """Only the headers a capture keeps, names in lower case, values bounded."""
    if headers is None:
        return None
    wanted = {name.lower(): value for name, value in headers.items()}
    return {name: wanted[name][:200] for name in CAPTURED_HEADERS if name in wanted}


def had_live_check(*, session: Session, report_id: int) -> bool:
    """Whether any check of the report saw it live already."""
    found = session.exec(
        select(col(Check.id)).where(Check.report_id == report_id, Check.verdict == LIVE).limit(1)
    ).first()
    return found is not None


def capture_check(
    *,
    session: Session,
    report: Report,
    check: Check,
    state_before: str,
    headers: dict[str, str] | None,
) -> Evidence | None:
    """Store a capture record of this check: the time, final URL, HTTP status, selected
    headers, fingerprint and verdict, and the state change it proved."""
    case = session.get(Case, report.case_id)
    if case is None or report.id is None:
        return None
    record = {
        "report_id": report.id,
        "checked_at": check.checked_at.isoformat(),
        "url": report.canonical_url,
        "final_url": check.final_url,
        "http_status": check.http_status,
        "headers": selected_headers(headers),
        "fingerprint": check.fingerprint,
        "verdict": check.verdict,
        "reason": check.reason,
        "state_before": str(state_before),
        "state_after": str(report.state),
    }
    content = json.dumps(record, sort_keys=True, indent=2).encode()
    try:
        return store_capture(
            session=session, case=case, report_id=report.id, content=content, actor="worker"
        )
    except CaseKeyDestroyed:  # a withdrawn case keeps nothing new
        return None
