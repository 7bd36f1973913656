"""Moving a report between states: compare-and-set on the state, with the cause recorded."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, update
from sqlmodel import Session

from tracker.bulk import insert_returning
from tracker.db import utcnow
from tracker.metrics.record import observe_after_commit
from tracker.metrics.series import TIME_TO_REMOVAL
from tracker.reports.lifecycle import ON_THE_CLOCK, STALE, ReportState, ensure_allowed
from tracker.reports.models import Report, ReportTransition
from tracker.scorecards.outcomes import on_moved
from tracker.settings import get_settings


class StaleState(Exception):
    """Another process moved the report first; the caller should re-read and decide again."""


def move(
    *,
    session: Session,
    report: Report,
    to_state: ReportState,
    cause: str,
    actor: str,
    **fields: Any,
) -> None:
    """Move ``report`` to ``to_state`` if it is still in the state we read; set ``fields`` too."""
    from_state = ReportState(report.state)
    ensure_allowed(from_state, to_state)
    session.flush()
    now = utcnow()
    deadline_before, paused_remaining_before = report.deadline_at, report.paused_remaining_seconds
    # Clocks that belong to states: a warning only while on the clock, reminders while stale.
    if to_state not in ON_THE_CLOCK:
        fields.setdefault("warn_at", None)
    if "remind_at" not in fields:
        interval = timedelta(seconds=get_settings().reminder_interval_seconds)
        fields["remind_at"] = now + interval if to_state in STALE else None
    result = session.execute(
        update(Report)
        .where(Report.id == report.id, Report.state == from_state)  # type: ignore[arg-type]
        .values(state=to_state, updated_at=now, **fields)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleState(f"report {report.id} is no longer {from_state}")
    rung_index = fields.get("rung_index", report.rung_index)
    assert report.id is not None
    session.add(
        ReportTransition(
            report_id=report.id,
            from_state=from_state,
            to_state=to_state,
            rung_index=rung_index,
            cause=cause[:500],
            actor=actor,
            at=now,
        )
    )
    session.flush()
    # The scorecards' view of the report, in the same transaction (the row is locked now).
    removal_seconds = on_moved(
        session=session,
        report=report,
        from_state=from_state,
        to_state=to_state,
        at=now,
        rung_index=rung_index,
        deadline_before=deadline_before,
        paused_remaining_before=paused_remaining_before,
    )
    if removal_seconds is not None:
        observe_after_commit(
            session,
            [
                (
                    TIME_TO_REMOVAL,
                    report.organisation_id,
                    {"platform": report.platform},
                    removal_seconds,
                )
            ],
        )
    session.refresh(report)


_transitions: Table = ReportTransition.__table__  # type: ignore[attr-defined]


def record_logged(
    *, session: Session, report_ids: Sequence[int], actor: str, at: datetime | None = None
) -> None:
    """The first line of the timeline of each new report (on rung 0), in one INSERT."""
    insert_returning(
        session=session,
        table=_transitions,
        varying=[{"report_id": report_id} for report_id in report_ids],
        constant={
            "from_state": "",
            "to_state": ReportState.LOGGED,
            "rung_index": 0,
            "cause": "URL logged",
            "actor": actor,
            "at": at or utcnow(),
        },
    )
