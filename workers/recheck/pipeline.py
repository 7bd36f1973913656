"""One re-check batch end to end: the reports' pages, then their media, then the records.

Pass 1 checks each report's URL; an image or video there is read whole (up to the byte limit)
and hashed in memory, and a live HTML page's linked media (og:image, <video>, ...) are noted.
Pass 2 checks every linked medium of the batch's reports, new ones included, through the same
client (so the SSRF guard and per-host limits cover them), hashing what changed. Both passes run
on the process's re-check loop (``workers.recheck.runtime``); the database work stays on the
job's thread, which records pages while the loop is still fetching the rest: the outcomes that
have arrived are recorded together (``RECORD_AT_LEAST`` of them, or all there are when no more
come for a while), each lot in one transaction. A page with linked media waits for
pass 2 and is recorded with them: each medium's check, then the page's (a page that is gone
while a medium it linked still serves is not removed), the matches with the organisation's
banks. A transaction that fails for a transient reason (a deadlock, a busy SQLite, a dropped
connection) is retried; one that fails otherwise is recorded again one page at a time, so one
bad record cannot hold back the rest of its batch.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col

from tracker.checks.models import Check
from tracker.checks.service import Observation, RecordedCheck, defer_checks, record_checks
from tracker.db import Database, utcnow
from tracker.matching.media import (
    LINKED,
    PAGE,
    add_linked,
    match_item,
    page_item,
    record_media_check,
    store_hashes,
)
from tracker.matching.models import MediaItem
from tracker.reports.models import Report
from tracker.settings import Settings, get_settings
from workers.recheck.engine import (
    HOST_DEFERRED,
    CheckOutcome,
    MediaOptions,
    PlatformRule,
    check_batch,
    politeness_config,
)
from workers.recheck.runtime import check_runtime

logger = logging.getLogger(__name__)

LIVE = "live"
#: Attempts at recording a batch when the database fails transiently, and the waits between.
RECORD_RETRY_WAITS = (0.1, 0.5, 2.0)
#: Outcomes that have arrived are recorded once this many wait, or once none has come for
#: ``RECORD_AFTER_STALL_SECONDS`` (slow hosts): the fetching goes on meanwhile. A lot as large as
#: a default batch: each transaction's fixed cost (locks, round trips, the commit) is shared by
#: more checks; on loopback lots of 50 cost 30 % more CPU per check than lots of 200.
RECORD_AT_LEAST = 200
RECORD_AFTER_STALL_SECONDS = 0.5

LinkedMedia = dict[int, tuple[int, str, str | None]]  # item id -> (report id, URL, validator)


def recheck_reports(
    items: Sequence[tuple[int, str, PlatformRule | None]],
    *,
    known: Sequence[MediaItem],
    db: Database,
    settings: Settings,
) -> int:
    """Check the reports' pages and ``known`` media (the reports' media items, as
    ``media_of`` lists them) and record everything; how many pages were recorded."""
    page_validators = {
        item.report_id: item.validator for item in known if item.role == PAGE and item.validator
    }
    linked: LinkedMedia = {
        item.id: (item.report_id, item.url, item.validator)
        for item in known
        if item.role == LINKED and item.id is not None
    }
    runtime = check_runtime()
    common = _common(settings)
    page_options = MediaOptions(
        limit=settings.matching_max_media_bytes,
        seconds=settings.matching_hash_seconds,
        validators=page_validators,
        find_linked=True,
    )
    with_media = {report_id for report_id, _, _ in linked.values()}
    arrived: queue.SimpleQueue[CheckOutcome] = queue.SimpleQueue()
    fetching = runtime.submit(
        settings,
        lambda client: check_batch(
            items, client=client, media=page_options, on_outcome=arrived.put, **common
        ),
    )
    # Pages are recorded while the rest are still fetched; a page with media waits for pass 2.
    recorded = 0
    held: list[CheckOutcome] = []
    ready: list[CheckOutcome] = []
    waiting_for = len(items)
    while waiting_for:
        try:
            outcome = arrived.get(timeout=RECORD_AFTER_STALL_SECONDS if ready else 1.0)
        except queue.Empty:
            if fetching.done() and arrived.empty():
                break  # check_batch ended without an outcome for every URL (a bug): stop
            outcome = None
        if outcome is not None:
            waiting_for -= 1
            (held if outcome.linked or outcome.key in with_media else ready).append(outcome)
        if ready and (outcome is None or len(ready) >= RECORD_AT_LEAST or not waiting_for):
            recorded += _record(db, ready, [], linked)
            ready = []
    fetching.result()  # an engine failure (never expected: a batch never raises) surfaces here
    if ready:
        recorded += _record(db, ready, [], linked)
    if not held:
        return recorded
    _register_linked(db, held, linked)
    media: list[CheckOutcome] = []
    if linked:
        media_items = [(item_id, url, None) for item_id, (_, url, _) in linked.items()]
        media_options = MediaOptions(
            limit=settings.matching_max_media_bytes,
            seconds=settings.matching_hash_seconds,
            validators={key: value[2] for key, value in linked.items() if value[2]},
        )
        media = runtime.run(
            settings,
            lambda client: check_batch(media_items, client=client, media=media_options, **common),
        )
    return recorded + _record(db, held, media, linked)


def _common(settings: Settings) -> dict[str, Any]:
    return {
        "body_limit": settings.recheck_body_limit_bytes,
        "per_host_concurrency": settings.recheck_per_host_concurrency,
        "max_concurrency": settings.recheck_concurrency,
        "retries": settings.recheck_retries,
    }


def _register_linked(db: Database, pages: list[CheckOutcome], linked: LinkedMedia) -> None:
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


def _record(
    db: Database, pages: list[CheckOutcome], media: list[CheckOutcome], linked: LinkedMedia
) -> int:
    """Record the batch in one transaction (retried when the database fails transiently)."""
    for attempt, wait in enumerate((*RECORD_RETRY_WAITS, None)):
        try:
            with db.transaction(immediate=True) as session:
                return _record_batch(session, pages, media, linked)
        except OperationalError:
            if wait is None:
                raise
            logger.warning("recording a batch failed (attempt %d); trying again", attempt + 1)
            time.sleep(wait)
        except Exception:
            logger.exception("recording a batch of %d failed; recording page by page", len(pages))
            break
    return _record_one_by_one(db, pages, media, linked)


def _record_one_by_one(
    db: Database, pages: list[CheckOutcome], media: list[CheckOutcome], linked: LinkedMedia
) -> int:
    recorded = 0
    for outcome in pages:
        mine = [check for check in media if linked[check.key][0] == outcome.key]
        try:
            with db.transaction(immediate=True) as session:
                recorded += _record_batch(session, [outcome], mine, linked)
        except Exception:
            logger.exception("report %s: its check could not be recorded", outcome.key)
    return recorded


def _record_batch(
    session: Session, pages: list[CheckOutcome], media: list[CheckOutcome], linked: LinkedMedia
) -> int:
    # A URL whose host's turn was too far away was not fetched: no check of it is recorded; its
    # report comes due again when the host's turn comes (a pause the gate knows the end of), or
    # after as long as a check may wait for its turn (no slot came free: say, a killed worker's
    # slots whose leases have not ended yet).
    deferred = [outcome for outcome in pages if outcome.reason == HOST_DEFERRED]
    if deferred:
        now, wait = utcnow(), politeness_config(get_settings()).max_wait
        defer_checks(
            session=session,
            until={
                outcome.key: now + timedelta(seconds=max(wait, outcome.deferred_for or 0.0))
                for outcome in deferred
            },
        )
        pages = [outcome for outcome in pages if outcome.reason != HOST_DEFERRED]
    media = [outcome for outcome in media if outcome.reason != HOST_DEFERRED]
    media_matches = _record_media(session, media)
    live_media = {linked[outcome.key][0] for outcome in media if str(outcome.verdict) == LIVE}
    observations = [
        Observation(
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
            media_live=outcome.key in live_media,
            # The page's check says how much of the banks its media matched.
            matches=media_matches.get(outcome.key, 0),
        )
        for outcome in pages
    ]
    checks = record_checks(session=session, observations=observations)
    for outcome in pages:
        check = checks.get(outcome.key)
        if check is not None and outcome.media_kind is not None and str(outcome.verdict) == LIVE:
            _match_page_media(session, outcome, check)
    return len(checks)


def _record_media(session: Session, media: list[CheckOutcome]) -> dict[int, int]:
    """Record each medium's check; how many bank hashes each report's media matched."""
    matched: dict[int, int] = {}
    for outcome in media:
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


def _match_page_media(session: Session, outcome: CheckOutcome, check: RecordedCheck) -> None:
    """The reported URL is itself an image or a video: its hashes (new, or unchanged since the
    validator) are compared with the banks, and its check counts the matches too."""
    report = session.get(Report, outcome.key)
    assert report is not None
    item = page_item(session=session, report=report)
    item.kind = outcome.media_kind
    item.last_checked_at, item.last_verdict = outcome.checked_at, LIVE
    if outcome.media is not None:
        store_hashes(item, outcome.media, outcome.checked_at)
        item.validator = outcome.validator
    session.add(item)
    session.flush()
    matches = match_item(session=session, report=report, item=item, check_id=check.id)
    if matches:
        check.matches += matches
        session.execute(
            update(Check)
            .where(col(Check.id) == check.id)
            .values(matches=check.matches)
            .execution_options(synchronize_session=False)
        )
