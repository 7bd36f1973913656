"""The media of a report: the image or video its URL serves, and those its page links.

A re-check records each media fetch as a check of the report (``Check.media_item_id``), keeps
the media's latest hashes on its item (never its bytes) and compares them with the banks. A
report counts as removed only when its page and all its media are gone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from tracker.checks.models import Check
from tracker.matching.hashing import MediaHashes
from tracker.matching.matcher import match_and_record
from tracker.matching.models import MediaItem
from tracker.matching.signals import format_vpdq, parse_vpdq
from tracker.reports.models import Report

PAGE = "page"
LINKED = "linked"
LIVE = "live"
#: At most this many linked media are followed per report.
MAX_LINKED_PER_REPORT = 8


def media_of(*, session: Session, report_ids: Sequence[int]) -> list[MediaItem]:
    if not report_ids:
        return []
    return list(
        session.exec(
            select(MediaItem)
            .where(col(MediaItem.report_id).in_(list(report_ids)))
            .where(~col(MediaItem.url).startswith("erased:"))
            .order_by(col(MediaItem.id))
        ).all()
    )


def add_linked(
    *, session: Session, report_id: int, urls: Iterable[str], known: Iterable[str]
) -> list[MediaItem]:
    """New linked media of a report (URLs it already has are skipped; at most a few in all)."""
    have = set(known)
    room = MAX_LINKED_PER_REPORT - len(have)
    added = []
    for url in urls:
        if room <= 0:
            break
        if url in have:
            continue
        have.add(url)
        item = MediaItem(report_id=report_id, url=url, role=LINKED)
        session.add(item)
        added.append(item)
        room -= 1
    session.flush()
    return added


def page_item(*, session: Session, report: Report) -> MediaItem:
    """The item standing for the report's own URL when it serves an image or a video."""
    assert report.id is not None
    found = session.exec(
        select(MediaItem).where(MediaItem.report_id == report.id).where(MediaItem.role == PAGE)
    ).first()
    if found is None:
        found = MediaItem(report_id=report.id, url=report.canonical_url, role=PAGE)
        session.add(found)
        session.flush()
    return found


def store_hashes(item: MediaItem, hashes: MediaHashes, at: datetime) -> None:
    item.kind = hashes.kind
    item.md5, item.sha256 = hashes.md5, hashes.sha256
    item.pdq, item.pdq_quality, item.pdq_mirror = hashes.pdq, hashes.pdq_quality, hashes.pdq_mirror
    item.vpdq = format_vpdq(hashes.frames) if hashes.frames else None
    item.truncated = hashes.truncated
    item.hashed_at = at


def match_item(*, session: Session, report: Report, item: MediaItem, check_id: int | None) -> int:
    """Compare the item's latest hashes with the banks; how many bank hashes it matched."""
    if item.hashed_at is None:
        return 0
    return match_and_record(
        session=session,
        report=report,
        check_id=check_id,
        media_item_id=item.id,
        md5=None if item.truncated else item.md5,
        sha256=None if item.truncated else item.sha256,
        pdq=item.pdq,
        pdq_quality=item.pdq_quality,
        pdq_mirror=item.pdq_mirror,
        frames=parse_vpdq(item.vpdq) if item.vpdq else None,
    )


def record_media_check(
    *,
    session: Session,
    item: MediaItem,
    checked_at: datetime,
    verdict: str,
    reason: str,
    http_status: int | None,
    latency_ms: int | None,
    error: str | None,
    kind: str | None,
    hashes: MediaHashes | None,
    validator: str | None,
) -> Check | None:
    """One check of a linked medium: the item's state and hashes, a check row, the matches."""
    report = session.get(Report, item.report_id)
    if report is None:
        return None
    item.last_checked_at = checked_at
    item.last_verdict = verdict
    if kind is not None:
        item.kind = kind
    if hashes is not None:
        store_hashes(item, hashes, checked_at)
    if validator is not None or hashes is not None:
        item.validator = validator
    check = Check(
        report_id=item.report_id,
        media_item_id=item.id,
        checked_at=checked_at,
        http_status=http_status,
        verdict=verdict,
        reason=reason[:120],
        fingerprint=(item.sha256 if verdict == LIVE else None),
        latency_ms=latency_ms,
        error=error[:500] if error else None,
    )
    session.add(item)
    session.add(check)
    session.flush()
    if verdict == LIVE:
        check.matches = match_item(session=session, report=report, item=item, check_id=check.id)
    return check


def live_media(items: Iterable[MediaItem]) -> set[int]:
    """Reports with a linked medium whose latest check found it live."""
    return {item.report_id for item in items if item.role == LINKED and item.last_verdict == LIVE}
