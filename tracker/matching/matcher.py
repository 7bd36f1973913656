"""Comparing what a re-check hashed with every bank of the organisation, and recording matches.

Each process keeps one in-memory index per organisation (PDQ and vPDQ multi-index, exact hashes
in a dict), rebuilt when the organisation's banks change (their count or newest id differ), so a
lookup costs milliseconds however large the banks grow. A match with the report's own case's bank
says "still the same content"; a match with another case's bank links the two cases and raises a
re-upload alert for a person.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from tracker.audit.service import record
from tracker.db import utcnow
from tracker.matching.index import PdqIndex, VpdqIndex
from tracker.matching.models import BankEntry, ContentMatch
from tracker.matching.signals import (
    EXACT,
    VPDQ_QUALITY_THRESHOLD,
    Frame,
    SignalType,
    parse_vpdq,
)
from tracker.notifications.models import NotificationKind
from tracker.notifications.service import notify
from tracker.reports.models import Report
from tracker.settings import get_settings

WORKER = "worker"


@dataclass(frozen=True, slots=True)
class Hit:
    """One bank entry the content matched, and how closely."""

    entry_id: int
    case_id: int
    signal_type: str
    distance: int | None = None
    share: float | None = None


@dataclass
class BankIndex:
    """Every bank hash of one organisation, ready for lookups."""

    pdq: PdqIndex
    vpdq: VpdqIndex
    exact: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    case_of: dict[int, int] = field(default_factory=dict)


def _exact_key(signal_type: str, value: str) -> tuple[str, str]:
    # An MD5 is an MD5 whether a list calls it a photo's or a video's.
    return ("sha256" if signal_type == SignalType.SHA256 else "md5", value)


def build_index(
    entries: list[tuple[int, int, str, str]], threshold: int, share: float
) -> BankIndex:
    """An index of (entry id, case id, signal type, value) rows."""
    index = BankIndex(pdq=PdqIndex(threshold), vpdq=VpdqIndex(threshold, share))
    pdqs, videos = [], []
    for entry_id, case_id, signal_type, value in entries:
        index.case_of[entry_id] = case_id
        if signal_type == SignalType.PDQ:
            pdqs.append((entry_id, value))
        elif signal_type == SignalType.VPDQ:
            videos.append((entry_id, parse_vpdq(value)))
        elif signal_type in EXACT:
            index.exact.setdefault(_exact_key(signal_type, value), []).append(entry_id)
    index.pdq.add_many(pdqs)
    index.vpdq.add_many(videos)
    return index


_cache: dict[tuple[str, int], tuple[tuple[object, ...], BankIndex]] = {}
_cache_lock = threading.Lock()


def organisation_index(*, session: Session, organisation_id: int) -> BankIndex:
    """The organisation's bank index, rebuilt only when its banks changed (an entry added or
    removed changes the count, the newest id or the newest creation time)."""
    settings = get_settings()
    count, newest, latest = session.exec(
        select(func.count(), func.max(BankEntry.id), func.max(BankEntry.created_at)).where(
            BankEntry.organisation_id == organisation_id
        )
    ).one()
    generation = (
        int(count),
        int(newest or 0),
        str(latest),
        settings.matching_pdq_threshold,
        settings.matching_vpdq_share,
    )
    key = (str(session.get_bind().engine.url), organisation_id)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None and cached[0] == generation:
            return cached[1]
    rows = session.exec(
        select(BankEntry.id, BankEntry.case_id, BankEntry.signal_type, BankEntry.value).where(
            BankEntry.organisation_id == organisation_id
        )
    ).all()
    index = build_index(
        [(int(a or 0), int(b), c, d) for a, b, c, d in rows],
        settings.matching_pdq_threshold,
        settings.matching_vpdq_share,
    )
    with _cache_lock:
        _cache[key] = (generation, index)
    return index


def lookup(
    index: BankIndex,
    *,
    md5: str | None = None,
    sha256: str | None = None,
    pdq: str | None = None,
    pdq_quality: int | None = None,
    pdq_mirror: str | None = None,
    frames: list[Frame] | None = None,
) -> list[Hit]:
    """Every bank entry the hashes match, best first per entry."""
    best: dict[int, Hit] = {}

    def keep(hit: Hit) -> None:
        if hit.entry_id not in best:
            best[hit.entry_id] = hit

    for kind, value in (("md5", md5), ("sha256", sha256)):
        if value:
            for entry_id in index.exact.get((kind, value), ()):
                keep(Hit(entry_id, index.case_of[entry_id], kind, distance=0))
    # A flat or featureless picture says nothing: PDQ's quality screens it out.
    if pdq and (pdq_quality is None or pdq_quality >= VPDQ_QUALITY_THRESHOLD):
        # The picture as it is, then mirrored (a flip is a common re-upload alteration).
        found = index.pdq.query(pdq) + (index.pdq.query(pdq_mirror) if pdq_mirror else [])
        for entry_id, distance in sorted(found, key=lambda hit: hit[1]):
            keep(Hit(entry_id, index.case_of[entry_id], SignalType.PDQ, distance=distance))
    if frames:
        for video in index.vpdq.query(frames):
            share = max(video.query_share, video.bank_share)
            keep(Hit(video.key, index.case_of[video.key], SignalType.VPDQ, share=share))
    return list(best.values())


def record_matches(
    *,
    session: Session,
    report: Report,
    hits: list[Hit],
    check_id: int | None,
    media_item_id: int | None,
    seen_at: datetime | None = None,
) -> list[ContentMatch]:
    """Store the hits as matches of the report; a first match with another case's bank links
    the cases, notifies the report's caseworker and is audited. Returns the new matches."""
    if not hits:
        return []
    assert report.id is not None
    seen_at = seen_at or utcnow()
    existing = {
        match.bank_entry_id: match
        for match in session.exec(
            select(ContentMatch)
            .where(ContentMatch.report_id == report.id)
            .where(col(ContentMatch.bank_entry_id).in_([hit.entry_id for hit in hits]))
        ).all()
    }
    new = []
    for hit in hits:
        match = existing.get(hit.entry_id)
        if match is not None:
            match.last_seen_at = seen_at
            match.last_check_id = check_id or match.last_check_id
            session.add(match)
            continue
        match = ContentMatch(
            organisation_id=report.organisation_id,
            report_id=report.id,
            case_id=report.case_id,
            bank_entry_id=hit.entry_id,
            bank_case_id=hit.case_id,
            cross_case=hit.case_id != report.case_id,
            signal_type=hit.signal_type,
            media_item_id=media_item_id,
            distance=hit.distance,
            share=hit.share,
            first_check_id=check_id,
            last_check_id=check_id,
            first_seen_at=seen_at,
            last_seen_at=seen_at,
        )
        session.add(match)
        new.append(match)
    session.flush()
    linked = sorted({match.bank_case_id for match in new if match.cross_case})
    for other_case in linked:
        notify(
            session=session,
            report=report,
            kind=NotificationKind.REUPLOAD_FOUND,
            message=(
                f"Report {report.id}: its content matches the hash bank of case {other_case}; "
                "a re-upload was found"
            ),
        )
    if new:
        record(
            session=session,
            actor=WORKER,
            action="match.found",
            object_type="report",
            object_id=report.id,
            organisation_id=report.organisation_id,
            details={
                "matches": len(new),
                "signal_types": sorted({match.signal_type for match in new}),
                "linked_cases": linked,
            },
        )
    return new


def match_and_record(
    *,
    session: Session,
    report: Report,
    check_id: int | None,
    media_item_id: int | None,
    md5: str | None = None,
    sha256: str | None = None,
    pdq: str | None = None,
    pdq_quality: int | None = None,
    pdq_mirror: str | None = None,
    frames: list[Frame] | None = None,
) -> int:
    """Look the hashes up in the organisation's banks and record the matches; how many hit."""
    index = organisation_index(session=session, organisation_id=report.organisation_id)
    if not index.case_of:
        return 0
    hits = lookup(
        index,
        md5=md5,
        sha256=sha256,
        pdq=pdq,
        pdq_quality=pdq_quality,
        pdq_mirror=pdq_mirror,
        frames=frames,
    )
    record_matches(
        session=session, report=report, hits=hits, check_id=check_id, media_item_id=media_item_id
    )
    return len(hits)
