"""Automatic captures: a sealed JSON record of the check that first saw a report live, and of
every check that proved a state change. A record of what was seen, never the media."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlmodel import Session

from platform_adapters.base import CAPTURED_HEADERS
from tracker.bulk import among
from tracker.checks.models import Check
from tracker.evidence.service import CaptureRecord, store_captures

logger = logging.getLogger(__name__)

LIVE = "live"
WORKER = "worker"


class CheckSeen(Protocol):
    """What a capture records of a check."""

    checked_at: datetime
    final_url: str | None
    http_status: int | None
    fingerprint: str | None
    verdict: str
    reason: str


@dataclass(frozen=True, slots=True)
class Capture:
    """What one capture records: the report, the check, and the state change it proved."""

    case_id: int
    organisation_id: int
    report_id: int
    url: str
    check: CheckSeen
    state_before: str
    state_after: str
    headers: dict[str, str] | None


def selected_headers(headers: dict[str, str] | None) -> dict[str, str] | None:
    """Only the headers a capture keeps, names in lower case, values bounded."""
    if headers is None:
        return None
    wanted = {name.lower(): value for name, value in headers.items()}
    return {name: wanted[name][:200] for name in CAPTURED_HEADERS if name in wanted}


def had_live_check(*, session: Session, report_id: int) -> bool:
    """Whether any check of the report saw it live already."""
    return report_id in reports_seen_live(session=session, report_ids=[report_id])


def reports_seen_live(*, session: Session, report_ids: Iterable[int]) -> set[int]:
    """Which of these reports have a check that saw them live already (one query)."""
    wanted = list(report_ids)
    if not wanted:
        return set()
    checks = Check.__table__  # type: ignore[attr-defined]
    return set(
        session.execute(
            select(checks.c.report_id)
            .where(among(session=session, column=checks.c.report_id, values=wanted))
            .where(checks.c.verdict == LIVE)
            .distinct()
        ).scalars()
    )


def capture_record(capture: Capture) -> bytes:
    """The capture's JSON: time, final URL, HTTP status, selected headers, fingerprint,
    verdict and the state change it proved."""
    check = capture.check
    record = {
        "report_id": capture.report_id,
        "checked_at": _iso(check.checked_at),
        "url": capture.url,
        "final_url": check.final_url,
        "http_status": check.http_status,
        "headers": selected_headers(capture.headers),
        "fingerprint": check.fingerprint,
        "verdict": check.verdict,
        "reason": check.reason,
        "state_before": str(capture.state_before),
        "state_after": str(capture.state_after),
    }
    return json.dumps(record, sort_keys=True, indent=2).encode()


def capture_checks(*, session: Session, captures: list[Capture]) -> list[int]:
    """Store a capture record of each check, sealed with its case's key (one insert, one
    custody event each); the evidence ids. A withdrawn case keeps nothing new."""
    return store_captures(
        session=session,
        records=[
            CaptureRecord(
                case_id=capture.case_id,
                organisation_id=capture.organisation_id,
                report_id=capture.report_id,
                content=capture_record(capture),
            )
            for capture in captures
        ],
        actor=WORKER,
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat()
