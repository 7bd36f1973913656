"""Keeping each report's outcome as events happen, and the cells' deltas with it.

Called in the transaction of the event, after the report's row is locked by its move (or by
the filing that files it): ``on_moved`` from ``tracker.reports.transitions.move``, ``on_filed``
when a ladder filing reaches its recipient, ``on_rejected`` when one is turned down. Each
takes the outcome's contribution to the cells before and after and appends the difference
(``ScorecardDelta`` rows), so the cells stay the sum of the outcomes without any scan.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlmodel import Session

from tracker.filings.opening import rung_of
from tracker.reports.lifecycle import ReportState
from tracker.reports.models import Report
from tracker.scorecards.buckets import bucket_of
from tracker.scorecards.models import (
    COUNTERS,
    RejectionReason,
    ReportOutcome,
    ScorecardDelta,
)
from tracker.scorecards.periods import period_start
from tracker.scorecards.schemas import Period

S = ReportState


@dataclass(slots=True)
class Outcome:
    """A report's outcome in memory: the columns of ``report_outcomes``, read and written as
    a plain row (this runs on every move that matters, inside batches of hundreds)."""

    report_id: int
    organisation_id: int
    platform: str
    channel: str = ""
    legal_basis: str = ""
    rung: str = ""
    first_filed_at: datetime | None = None
    removed_at: datetime | None = None
    removal_bucket: int = -1
    removed_in_time: bool = False
    rejected_reason: str | None = None
    reappeared: bool = False
    escalated: bool = False
    waiting_manual_seconds: int = 0
    paused_seconds: int = 0
    waiting_since: datetime | None = None
    waiting_state: str | None = None

    def values(self) -> dict[str, Any]:
        """The row to store."""
        return {name: getattr(self, name) for name in COLUMNS}


#: The columns of an outcome, in the table's order.
COLUMNS = tuple(column.name for column in ReportOutcome.__table__.columns)  # type: ignore[attr-defined]
#: States in which a report waits on people: a packet to submit by hand, a stopped clock.
WAITING = {S.AWAITING_MANUAL: "waiting_manual_seconds", S.PAUSED: "paused_seconds"}

Key = tuple[int, date, str, str, str, str, int]
Contribution = tuple[Key, dict[str, int]]

_REASON_WORDS = (
    (RejectionReason.NOT_FOUND, re.compile(r"not.?found|unable to (locate|find)|no content", re.I)),
    (
        RejectionReason.MORE_INFORMATION,
        re.compile(r"more information|insufficient|incomplete|additional|missing", re.I),
    ),
    (
        RejectionReason.NOT_VIOLATING,
        re.compile(r"not.?violat|no.?violation|does not (break|breach)|policy|no.?action", re.I),
    ),
)


def reason_of(detail: str | None, *, refused: bool = False) -> RejectionReason:
    """The kind of a rejection, from what the platform said (or that it refused outright)."""
    if refused:
        return RejectionReason.REFUSED
    for reason, words in _REASON_WORDS:
        if detail and words.search(detail):
            return reason
    return RejectionReason.OTHER


def contribution(outcome: Outcome) -> Contribution | None:
    """What one outcome adds to the cells: its cell and its counts (None before it is filed)."""
    if outcome.first_filed_at is None:
        return None
    key: Key = (
        outcome.organisation_id,
        outcome.first_filed_at.date(),
        outcome.platform,
        outcome.channel,
        outcome.legal_basis,
        outcome.rung,
        outcome.removal_bucket,
    )
    counts = dict.fromkeys(COUNTERS, 0)
    counts["filed"] = 1
    counts["removed"] = int(outcome.removed_at is not None)
    counts["removed_in_time"] = int(outcome.removed_in_time)
    if outcome.rejected_reason is not None:
        counts[f"rejected_{outcome.rejected_reason}"] = 1
    counts["reappeared"] = int(outcome.reappeared)
    counts["escalated"] = int(outcome.escalated)
    counts["waiting_manual_seconds"] = outcome.waiting_manual_seconds
    counts["paused_seconds"] = outcome.paused_seconds
    return key, counts


def delta_row(key: Key, counts: dict[str, int], sign: int) -> dict[str, Any]:
    """A ``scorecard_deltas`` row adding (``sign`` 1) or taking away (-1) one contribution."""
    organisation_id, day, platform, channel, legal_basis, rung, removal_bucket = key
    return {
        "organisation_id": organisation_id,
        "day": day,
        "week_start": period_start(day, Period.WEEK),
        "month_start": period_start(day, Period.MONTH),
        "platform": platform,
        "channel": channel,
        "legal_basis": legal_basis,
        "rung": rung,
        "removal_bucket": removal_bucket,
        **{name: sign * value for name, value in counts.items()},
    }


_outcomes = ReportOutcome.__table__  # type: ignore[attr-defined]
_deltas = ScorecardDelta.__table__  # type: ignore[attr-defined]
_UPDATE = (
    update(_outcomes)
    .where(_outcomes.c.report_id == bindparam("new_report_id"))
    .values({name: bindparam(f"new_{name}") for name in COLUMNS if name != "report_id"})
)


def _load(session: Session, report: Report, *, create: bool) -> tuple[Outcome | None, bool]:
    """The report's outcome, its row locked for the rest of the transaction (PostgreSQL), and
    whether it is stored yet."""
    row = session.execute(
        select(_outcomes).where(_outcomes.c.report_id == report.id).with_for_update()
    ).first()
    if row is not None:
        return Outcome(**row._mapping), True
    if not create:
        return None, False
    assert report.id is not None
    fresh = Outcome(
        report_id=report.id, organisation_id=report.organisation_id, platform=report.platform
    )
    return fresh, False


def _save(session: Session, outcome: Outcome, before: Contribution | None, *, stored: bool) -> None:
    """Store the outcome and append the change of its contribution."""
    values = outcome.values()
    if stored:
        session.execute(_UPDATE, {f"new_{name}": value for name, value in values.items()})
    else:
        session.execute(insert(_outcomes), values)
    after = contribution(outcome)
    if after == before:
        return
    rows = []
    if before is not None:
        rows.append(delta_row(*before, sign=-1))
    if after is not None:
        rows.append(delta_row(*after, sign=1))
    session.execute(insert(_deltas), rows)


def _end_wait(outcome: Outcome, now: datetime) -> None:
    """A wait on people is over: its time joins its kind's total."""
    if outcome.waiting_since is None or outcome.waiting_state is None:
        return
    seconds = max(int((now - outcome.waiting_since).total_seconds()), 0)
    column = WAITING.get(S(outcome.waiting_state))
    if column is not None:
        setattr(outcome, column, getattr(outcome, column) + seconds)
    outcome.waiting_since = None
    outcome.waiting_state = None


def concerns(from_state: S, to_state: S) -> bool:
    """Whether a move changes what the scorecards know (most moves do not: no reads then)."""
    return (
        to_state in (S.REMOVED, S.REAPPEARED, S.ESCALATED)
        or to_state in WAITING
        or from_state in WAITING
    )


def apply_move(
    outcome: Outcome,
    *,
    from_state: S,
    to_state: S,
    at: datetime,
    deadline_before: datetime | None,
    paused_remaining_before: float | None,
) -> float | None:
    """What a move does to an outcome (in memory); the time to removal if it confirms the
    report's first removal since its first filing."""
    removal_seconds: float | None = None
    if from_state in WAITING:
        _end_wait(outcome, at)
    if to_state in WAITING:
        outcome.waiting_since = at
        outcome.waiting_state = to_state
    if to_state == S.ESCALATED:
        outcome.escalated = True
    elif to_state == S.REAPPEARED:
        outcome.reappeared = True
    elif to_state == S.REMOVED and outcome.removed_at is None and outcome.first_filed_at:
        removal_seconds = (at - outcome.first_filed_at).total_seconds()
        outcome.removed_at = at
        outcome.removal_bucket = bucket_of(removal_seconds)
        if from_state == S.PAUSED:
            outcome.removed_in_time = (paused_remaining_before or 0) > 0
        else:
            outcome.removed_in_time = deadline_before is not None and at <= deadline_before
    return removal_seconds


def apply_filing(
    outcome: Outcome,
    *,
    platform: str,
    channel: str,
    rung: str,
    rung_index: int,
    legal_basis: str,
    submitted_at: datetime,
) -> None:
    """What a ladder filing reaching its recipient does to an outcome (in memory)."""
    if outcome.first_filed_at is None:
        outcome.first_filed_at = submitted_at
    outcome.platform = platform
    outcome.channel = channel[:16]
    outcome.rung = rung[:32]
    outcome.legal_basis = legal_basis[:255]
    outcome.escalated = outcome.escalated or rung_index > 0


def on_moved(
    *,
    session: Session,
    report: Report,
    from_state: S,
    to_state: S,
    at: datetime,
    rung_index: int,
    deadline_before: datetime | None,
    paused_remaining_before: float | None,
) -> float | None:
    """Record a move of ``report``; returns the time to removal when this move confirms the
    report's first removal since its first filing (for the metrics)."""
    if not concerns(from_state, to_state):
        return None
    outcome, stored = _load(session, report, create=to_state in WAITING)
    if outcome is None:
        return None  # never filed nor waiting: nothing to count yet
    before = contribution(outcome)
    removal_seconds = apply_move(
        outcome,
        from_state=from_state,
        to_state=to_state,
        at=at,
        deadline_before=deadline_before,
        paused_remaining_before=paused_remaining_before,
    )
    if to_state == S.ESCALATED:
        # Where it is going: the next rung's target and legal basis (its channel is known
        # when that filing goes out).
        rung = rung_of(session=session, report=report, rung_index=rung_index)
        if rung is not None:
            outcome.rung, outcome.legal_basis = rung.target, rung.legal_basis[:255]
    _save(session, outcome, before, stored=stored)
    return removal_seconds


def on_filed(
    *,
    session: Session,
    report: Report,
    channel: str,
    rung: str,
    rung_index: int,
    legal_basis: str,
    submitted_at: datetime,
) -> None:
    """A ladder filing reached its recipient: the first one makes the report's cohort; each
    one says where the report stands (channel, rung, legal basis)."""
    outcome, stored = _load(session, report, create=True)
    assert outcome is not None
    before = contribution(outcome)
    apply_filing(
        outcome,
        platform=report.platform,
        channel=channel,
        rung=rung,
        rung_index=rung_index,
        legal_basis=legal_basis,
        submitted_at=submitted_at,
    )
    _save(session, outcome, before, stored=stored)


def on_rejected(*, session: Session, report: Report, reason: RejectionReason) -> None:
    """A ladder filing of the report was turned down (the latest reason is the one counted)."""
    outcome, stored = _load(session, report, create=False)
    if outcome is None:
        return
    before = contribution(outcome)
    outcome.rejected_reason = reason
    _save(session, outcome, before, stored=stored)
