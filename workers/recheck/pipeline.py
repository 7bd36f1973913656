"""One re-check batch end to end: the reports' pages, then their media, then the records.

Pass 1 checks each report's URL; an image or video there is read whole (up to the byte limit)
and hashed in memory, and a live HTML page's linked media (og:image, <video>, ...) are noted.
Pass 2 checks every linked medium of the batch's reports, new ones included, through the same
client (so the SSRF guard and per-host limits cover them), hashing what changed. Then each
medium's check is recorded, and each page's: a page that is gone while a medium it linked still
serves is not removed. Every hash is compared with the organisation's banks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from tracker.checks.service import record_check
from tracker.db import Database
from tracker.matching.media import (
    LINKED,
    PAGE,
    add_linked,
    match_item,
    media_of,
    page_item,
    record_media_check,
    store_hashes,
)
from tracker.matching.models import MediaItem
from tracker.reports.models import Report
from tracker.reports.transitions import StaleState
from tracker.settings import Settings
from workers.recheck.engine import (
    CheckOutcome,
    MediaOptions,
    PlatformRule,
    build_client,
    check_batch,
    politeness_config,
)

logger = logging.getLogger(__name__)

LIVE = "live"


def recheck_reports(
    items: Sequence[tuple[int, str, PlatformRule | None]], *, db: Database, settings: Settings
) -> int:
    """Check the reports' pages and media and record everything; how many pages were recorded."""
    report_ids = [key for key, _, _ in items]
    with db.transaction() as session:
        known = media_of(session=session, report_ids=report_ids)
        page_validators = {
            item.report_id: item.validator for item in known if item.role == PAGE and item.validator
        }
        linked = {
            item.id: (item.report_id, item.url, item.validator)
            for item in known
            if item.role == LINKED and item.id is not None
        }

    def register(pages: list[CheckOutcome]) -> None:
        """New linked media the live pages revealed get an item (and a check in pass 2)."""
        found = {outcome.key: outcome.linked for outcome in pages if outcome.linked}
        if not found:
            return
        with db.transaction() as session:
            for report_id, urls in found.items():
                have = [url for owner, url, _ in linked.values() if owner == report_id]
                for item in add_linked(session=session, report_id=report_id, urls=urls, known=have):
                    assert item.id is not None
                    linked[item.id] = (report_id, item.url, None)

    pages, media = asyncio.run(_both_passes(items, linked, page_validators, register, settings))
    media_matches = _record_media(db, media)
    live_media = {linked[outcome.key][0] for outcome in media if str(outcome.verdict) == LIVE}
    recorded = 0
    for outcome in pages:
        try:
            with db.transaction() as session:
                check = _record_page(session, outcome, outcome.key in live_media)
                if check is not None:
                    # The page's check says how much of the banks its media matched.
                    check.matches += media_matches.get(outcome.key, 0)
                    session.add(check)
                    recorded += 1
        except StaleState:
            logger.info("report %s moved during its check; the next check decides", outcome.key)
    return recorded


async def _both_passes(
    items: Sequence[tuple[int, str, PlatformRule | None]],
    linked: dict[int, tuple[int, str, str | None]],
    page_validators: dict[int, str],
    register: Callable[[list[CheckOutcome]], None],
    settings: Settings,
) -> tuple[list[CheckOutcome], list[CheckOutcome]]:
    client = build_client(
        allowlist=settings.outbound_allowlist,
        timeout=settings.outbound_timeout_seconds,
        max_redirects=settings.max_redirects,
        max_connections=settings.recheck_concurrency,
        politeness=politeness_config(settings),
    )
    common: dict[str, Any] = {
        "client": client,
        "body_limit": settings.recheck_body_limit_bytes,
        "per_host_concurrency": settings.recheck_per_host_concurrency,
        "max_concurrency": settings.recheck_concurrency,
        "retries": settings.recheck_retries,
    }
    async with client:
        pages = await check_batch(
            items,
            media=MediaOptions(
                limit=settings.matching_max_media_bytes,
                seconds=settings.matching_hash_seconds,
                validators=page_validators,
                find_linked=True,
            ),
            **common,
        )
        register(pages)  # a short transaction between the passes; nothing else is in flight
        if not linked:
            return pages, []
        media = await check_batch(
            [(item_id, url, None) for item_id, (_, url, _) in linked.items()],
            media=MediaOptions(
                limit=settings.matching_max_media_bytes,
                seconds=settings.matching_hash_seconds,
                validators={key: value[2] for key, value in linked.items() if value[2]},
            ),
            **common,
        )
    return pages, media


def _record_media(db: Database, media: list[CheckOutcome]) -> dict[int, int]:
    """Record each medium's check; how many bank hashes each report's media matched."""
    matched: dict[int, int] = {}
    for outcome in media:
        with db.transaction() as session:
            item = session.get(MediaItem, outcome.key)
            if item is None:
                continue
            check = record_media_check(
                session=session,
                item=item,
                checked_at=outcome.checked_at,
                verdict=str(outcome.verdict),
                reason=outcome.reason,
                http_status=outcome.http_status,
                latency_ms=outcome.latency_ms,
                error=outcome.error,
                kind=outcome.media_kind,
                hashes=outcome.media,
                validator=outcome.validator,
            )
            if check is not None and check.matches:
                matched[item.report_id] = matched.get(item.report_id, 0) + check.matches
    return matched


def _record_page(session, outcome: CheckOutcome, media_live: bool):  # type: ignore[no-untyped-def]
    check = record_check(
        session=session,
        report_id=outcome.key,
        checked_at=outcome.checked_at,
        verdict=str(outcome.verdict),
        reason=outcome.reason,
        http_status=outcome.http_status,
        final_url=outcome.final_url,
        fingerprint=outcome.fingerprint,
        latency_ms=outcome.latency_ms,
        error=outcome.error,
        headers=outcome.headers,
        media_live=media_live,
    )
    if check is None or outcome.media_kind is None or str(outcome.verdict) != LIVE:
        return check
    # The reported URL is itself an image or a video: its hashes (new, or unchanged since the
    # validator) are compared with the banks.
    report = session.get(Report, outcome.key)
    item = page_item(session=session, report=report)
    item.kind = outcome.media_kind
    item.last_checked_at, item.last_verdict = outcome.checked_at, LIVE
    if outcome.media is not None:
        store_hashes(item, outcome.media, outcome.checked_at)
        item.validator = outcome.validator
    session.add(item)
    session.flush()
    check.matches = match_item(session=session, report=report, item=item, check=check)
    session.add(check)
    return check
