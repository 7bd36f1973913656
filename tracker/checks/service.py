"""Recording re-checks: the check rows, what they mean for their reports, and the evidence
captures they call for, a whole batch in the caller's transaction.

A batch costs a fixed handful of statements whatever its size: the reports are read (and, on
PostgreSQL, locked, with fresh check ids) in one SELECT, their earlier live checks in one more,
the checks written in one COPY, the reports that do not change state updated in one statement
(``tracker.bulk``), and the captures and their custody events in a few more. A check that proves
a state change (removal confirmed, content back, the watch ended) goes through
``tracker.reports.transitions.move`` as before, with its transition, notification and filings.
The decision itself is ``tracker.checks.decide``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlmodel import Session, col

from platform_adapters.addresses import REFUSED_BY_POLICY
from tracker.bulk import among, copy_rows, is_postgresql, new_ids, update_rows
from tracker.checks.decide import LIVE, REMOVED, Decision, Snapshot, decide, next_check_for_state
from tracker.checks.models import Check
from tracker.db import utcnow
from tracker.evidence.capture import Capture, capture_checks, reports_seen_live
from tracker.filings.models import OPEN_FILING_STATUSES, Filing, FilingStatus
from tracker.filings.opening import file_or_hold
from tracker.metrics import count_checks
from tracker.notifications.service import notify
from tracker.reports.lifecycle import ReportState
from tracker.reports.models import Report
from tracker.reports.transitions import move
from tracker.settings import get_settings

__all__ = [
    "Observation",
    "RecordedCheck",
    "defer_checks",
    "next_check_for_state",
    "record_check",
    "record_checks",
]

logger = logging.getLogger(__name__)

WORKER = "worker"
#: The check reason of a fetch the outbound guard refused.
DESTINATION_REFUSED = "destination_refused"
#: The check reason when the page is gone but media it linked still serve.
LINKED_MEDIA_LIVE = "linked media still live"

_reports = Report.__table__  # type: ignore[attr-defined]
_checks = Check.__table__  # type: ignore[attr-defined]
_SNAPSHOT = (
    _reports.c.id,
    _reports.c.case_id,
    _reports.c.organisation_id,
    _reports.c.canonical_url,
    _reports.c.state,
    _reports.c.deadline_at,
    _reports.c.consecutive_removed,
    _reports.c.first_removed_at,
    _reports.c.watch_step,
    _reports.c.last_verdict,
)
#: The columns a check sets on a report whose state it does not change (and their types).
_PLAIN = (
    ("last_verdict", "varchar"),
    ("last_checked_at", "timestamptz"),
    ("consecutive_removed", "integer"),
    ("first_removed_at", "timestamptz"),
    ("next_check_at", "timestamptz"),
    ("watch_step", "integer"),
)
_CHECK_COLUMNS = (
    "id",
    "report_id",
    "checked_at",
    "http_status",
    "final_url",
    "verdict",
    "reason",
    "fingerprint",
    "latency_ms",
    "error",
    "media_item_id",
    "matches",
)


@dataclass(slots=True)
class RecordedCheck:
    """A check as recorded (the row's values; a light stand-in for the ``Check`` model)."""

    id: int
    report_id: int
    checked_at: datetime
    http_status: int | None
    final_url: str | None
    verdict: str
    reason: str
    fingerprint: str | None
    latency_ms: int | None
    error: str | None
    media_item_id: int | None
    matches: int


@dataclass(frozen=True, slots=True)
class Observation:
    """What one check of a report's URL saw: the recorder's input."""

    report_id: int
    checked_at: datetime
    verdict: str
    reason: str
    http_status: int | None
    final_url: str | None
    fingerprint: str | None
    latency_ms: int | None
    error: str | None
    #: The response's headers (a capture keeps a few of them).
    headers: dict[str, str] | None = None
    #: An image or video the page links still serves: a page that is gone is not removed.
    media_live: bool = False
    #: Bank hashes the page's media matched.
    matches: int = 0


def record_check(
    *,
    session: Session,
    report_id: int,
    checked_at: datetime,
    verdict: str,
    reason: str,
    http_status: int | None,
    final_url: str | None,
    fingerprint: str | None,
    latency_ms: int | None,
    error: str | None,
    headers: dict[str, str] | None = None,
    media_live: bool = False,
) -> RecordedCheck | None:
    """Store one check and move the report accordingly; None if the report is gone or closed
    (a batch of one: see ``record_checks``)."""
    observation = Observation(
        report_id=report_id,
        checked_at=checked_at,
        verdict=verdict,
        reason=reason,
        http_status=http_status,
        final_url=final_url,
        fingerprint=fingerprint,
        latency_ms=latency_ms,
        error=error,
        headers=headers,
        media_live=media_live,
    )
    return record_checks(session=session, observations=[observation]).get(report_id)


def record_checks(
    *, session: Session, observations: Sequence[Observation]
) -> dict[int, RecordedCheck]:
    """Store each observation as a check and move its report accordingly; the checks by report
    id (a report gone or closed gets none).

    The first live check of a report, and every check that moves it, leaves a capture record as
    evidence. The reports are locked until the caller's transaction ends (on SQLite, open it
    with ``Database.transaction(immediate=True)``), so nothing moves them between the read and
    the write.
    """
    if not observations:
        return {}
    report_ids = [observation.report_id for observation in observations]
    if len(set(report_ids)) != len(report_ids):
        raise ValueError("one observation per report in a batch")
    snapshots, check_ids = _lock(session, report_ids)
    observations = [
        _as_recorded(observation)
        for observation in observations
        if observation.report_id in snapshots
        and snapshots[observation.report_id].state != ReportState.CLOSED
    ]
    if not observations:
        return {}
    # A report whose last verdict was live has had a live check: the common re-check of a live
    # page asks the database nothing more.
    maybe_first_live = [
        observation.report_id
        for observation in observations
        if observation.verdict == LIVE and snapshots[observation.report_id].last_verdict != LIVE
    ]
    seen_live = reports_seen_live(session=session, report_ids=maybe_first_live)
    checks = _insert_checks(session, observations, check_ids)
    settings = get_settings()
    now = utcnow()
    plain: list[tuple[object, ...]] = []
    moved: list[tuple[Snapshot, Decision]] = []
    for observation in observations:
        snapshot = snapshots[observation.report_id]
        check = checks[observation.report_id]
        decision = decide(
            snapshot,
            verdict=check.verdict,
            reason=check.reason,
            checked_at=check.checked_at,
            now=now,
            settings=settings,
        )
        if decision.move is None:
            plain.append((snapshot.id, *(decision.changes[name] for name, _kind in _PLAIN)))
        else:
            moved.append((snapshot, decision))
    update_rows(session, _reports, _PLAIN, plain, constants={"check_lease_until": "NULL"})
    states_after = {
        snapshot.id: _apply_move(session, snapshot, decision) for snapshot, decision in moved
    }
    captures = [
        Capture(
            case_id=snapshot.case_id,
            organisation_id=snapshot.organisation_id,
            report_id=snapshot.id,
            url=snapshot.canonical_url,
            check=checks[snapshot.id],
            state_before=snapshot.state,
            state_after=states_after.get(snapshot.id, snapshot.state),
            headers=observation.headers,
        )
        for observation in observations
        for snapshot in [snapshots[observation.report_id]]
        if snapshot.id in states_after
        or (snapshot.id in maybe_first_live and snapshot.id not in seen_live)
    ]
    if captures:
        capture_checks(session=session, captures=captures)
    count_checks(
        session=session,
        counts=Counter(
            (snapshots[check.report_id].organisation_id, check.verdict) for check in checks.values()
        ),
    )
    return checks


def defer_checks(*, session: Session, until: Mapping[int, datetime]) -> None:
    """Reports whose check could not be made now (the host asked us to wait): no check is
    recorded, their lease ends and each comes due again at its time."""
    update_rows(
        session,
        _reports,
        (("next_check_at", "timestamptz"),),
        [(report_id, moment) for report_id, moment in until.items()],
        constants={"check_lease_until": "NULL"},
    )


def _lock(session: Session, report_ids: list[int]) -> tuple[dict[int, Snapshot], list[int]]:
    """The reports' snapshots, their rows locked (in id order, so batches never deadlock), and
    as many fresh check ids (on PostgreSQL drawn in the same statement)."""
    query = (
        select(*_SNAPSHOT)
        .where(among(session=session, column=_reports.c.id, values=report_ids))
        .order_by(_reports.c.id)
    )
    if is_postgresql(session):
        sequence = func.nextval(func.pg_get_serial_sequence("checks", "id"))
        rows = session.execute(query.add_columns(sequence).with_for_update(of=_reports)).all()
        return {row[0]: Snapshot(*row[:-1]) for row in rows}, [int(row[-1]) for row in rows]
    rows = session.execute(query).all()
    return {row[0]: Snapshot(*row) for row in rows}, new_ids(session, _checks, len(rows))


def _as_recorded(observation: Observation) -> Observation:
    """The observation as it is stored: a page gone while its media serve counts as live, and
    a refused fetch keeps only the policy's sentence."""
    verdict, reason, error = observation.verdict, observation.reason, observation.error
    if verdict == REMOVED and observation.media_live:
        verdict, reason = LIVE, f"{LINKED_MEDIA_LIVE} (page: {reason})"
    if reason == DESTINATION_REFUSED:
        # Whatever the fetcher wrote, a refusal is stored and shown as the policy's one sentence:
        # the detail (which internal address a name resolved to) is the guard's log line alone.
        logger.warning("report %s: re-check refused by the outbound policy", observation.report_id)
        error = REFUSED_BY_POLICY
    if (verdict, reason, error) == (observation.verdict, observation.reason, observation.error):
        return observation
    return Observation(
        report_id=observation.report_id,
        checked_at=observation.checked_at,
        verdict=verdict,
        reason=reason,
        http_status=observation.http_status,
        final_url=observation.final_url,
        fingerprint=observation.fingerprint,
        latency_ms=observation.latency_ms,
        error=error,
        headers=observation.headers,
        media_live=observation.media_live,
        matches=observation.matches,
    )


def _insert_checks(
    session: Session, observations: list[Observation], ids: list[int]
) -> dict[int, RecordedCheck]:
    """One INSERT (COPY) for every check of the batch; the checks by report id."""
    checks = {
        observation.report_id: RecordedCheck(
            id=check_id,
            report_id=observation.report_id,
            checked_at=observation.checked_at,
            http_status=observation.http_status,
            final_url=observation.final_url[:4096] if observation.final_url else None,
            verdict=observation.verdict,
            reason=observation.reason[:120],
            fingerprint=observation.fingerprint,
            latency_ms=observation.latency_ms,
            error=observation.error[:500] if observation.error else None,
            media_item_id=None,
            matches=observation.matches,
        )
        for observation, check_id in zip(observations, ids, strict=False)
    }
    rows = [tuple(getattr(check, name) for name in _CHECK_COLUMNS) for check in checks.values()]
    copy_rows(session, _checks, _CHECK_COLUMNS, rows)
    return checks


def _apply_move(session: Session, snapshot: Snapshot, decision: Decision) -> str:
    """A check that proves a state change: the report moved (compare-and-set, transition
    recorded), its notification and filings; the state it is in afterwards."""
    assert decision.move is not None
    report = session.get(Report, snapshot.id, populate_existing=True)
    assert report is not None  # locked since the batch read it
    for name, value in decision.changes.items():
        setattr(report, name, value)
    if decision.close_open_filings:
        _close_open_filings(session, snapshot.id)
    move(
        session=session,
        report=report,
        to_state=decision.move.to_state,
        actor=WORKER,
        cause=decision.move.cause,
        **decision.move.fields,
    )
    if decision.notification is not None:
        kind, message = decision.notification
        notify(session=session, report=report, kind=kind, message=message)
    if decision.file_again:
        file_or_hold(session=session, report=report)
    return str(report.state)


def _close_open_filings(session: Session, report_id: int) -> None:
    session.execute(
        update(Filing)
        .where(col(Filing.report_id) == report_id)
        .where(col(Filing.status).in_(list(OPEN_FILING_STATUSES)))
        .values(status=FilingStatus.REMOVED, next_poll_at=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
