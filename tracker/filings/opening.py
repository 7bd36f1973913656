"""Opening filings: the rung and channel a report's next filing goes to, the filing rows of
one report or of many at once (an intake's), and the holds of reports that cannot be filed."""

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Table, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from platform_adapters.registry import adapter_class
from tracker.bulk import insert_returning
from tracker.cases.models import Case
from tracker.channels import directory
from tracker.db import utcnow
from tracker.filings.models import (
    OPEN_FILING_STATUSES,
    Filing,
    FilingTrack,
)
from tracker.jobs import JobKind, enqueue_after_commit
from tracker.policies.models import PolicyVersion
from tracker.policies.schema import ParallelTrack, Rung
from tracker.policies.service import as_policy
from tracker.reports.holds import HoldReason
from tracker.reports.lifecycle import FILING_PENDING
from tracker.reports.models import Report
from tracker.settings import get_settings

WORKER = "worker"


def rung_of(*, session: Session, report: Report, rung_index: int | None = None) -> Rung | None:
    """The policy rung a report is on (or at ``rung_index``), None past the end of the ladder."""
    policy = session.get(PolicyVersion, report.policy_version_id)
    assert policy is not None
    rungs = as_policy(policy).rungs
    index = report.rung_index if rung_index is None else rung_index
    return rungs[index] if index < len(rungs) else None


LADDER = FilingTrack.LADDER
PARALLEL = FilingTrack.PARALLEL


def step_of(
    *, session: Session, report: Report, track: str, index: int
) -> Rung | ParallelTrack | None:
    """The rung (ladder track) or parallel track a filing belongs to."""
    policy = session.get(PolicyVersion, report.policy_version_id)
    assert policy is not None
    steps = as_policy(policy).rungs if track == LADDER else as_policy(policy).parallel
    return steps[index] if index < len(steps) else None


class Fileable(Protocol):
    """What opening a report's ladder filing reads of the report: a ``Report``, or a row that a
    bulk intake has just inserted (``tracker.reports.intake.LoggedReport``)."""

    @property
    def id(self) -> int | None: ...
    @property
    def organisation_id(self) -> int: ...
    @property
    def platform(self) -> str: ...
    @property
    def policy_version_id(self) -> int: ...
    @property
    def rung_index(self) -> int: ...
    @property
    def hold_reason(self) -> str | None: ...


def _routed(platform: str, step: Rung | ParallelTrack) -> dict[str, Any]:
    """The columns of a new filing that the channel directory decides: where it goes."""
    route = directory().route(platform, step.target)
    return {
        "rung_target": step.target,
        "adapter": route.adapter,
        "channel_kind": adapter_class(route.adapter).channel_kind,
        "channel_params": dict(route.params),
    }


def _of_report(report: Fileable, *, track: str, index: int) -> dict[str, Any]:
    """The columns of a new filing that its report decides."""
    assert report.id is not None
    return {
        "report_id": report.id,
        "organisation_id": report.organisation_id,
        "rung_index": index,
        "track": track,
        "idempotency_key": uuid.uuid4().hex,
    }


def _sent_at(now: datetime) -> dict[str, Any]:
    """The columns of a new filing that say it is sent at once."""
    return {
        "next_attempt_at": now,
        # Leased from birth: the job sent after commit owns it; if that send is lost, the
        # lease expires and the filing sweep sends it again.
        "lease_until": now + timedelta(seconds=get_settings().lease_seconds),
        "created_at": now,
        "updated_at": now,
    }


def open_filing(
    *, session: Session, report: Report, track: str = LADDER, index: int | None = None
) -> Filing:
    """Create a filing for the report's current rung (or a parallel track) and send it."""
    index = report.rung_index if index is None else index
    step = step_of(session=session, report=report, track=track, index=index)
    assert step is not None, "open_filing past the end of the ladder"
    filing = Filing(
        **_of_report(report, track=track, index=index),
        **_routed(report.platform, step),
        **_sent_at(utcnow()),
    )
    session.add(filing)
    if track == LADDER and report.hold_reason is not None:
        report.hold_reason = None  # filing starts: nothing holds the report any more
        session.add(report)
    session.flush()
    enqueue_after_commit(session, JobKind.FILE, filing.id)
    return filing


def hold_reason_for(case: Case | None) -> HoldReason | None:
    """Why the reports of ``case`` are held rather than filed; None when they are filed."""
    return None if case is not None and case.authority_to_act else HoldReason.NO_AUTHORITY_TO_ACT


_filings: Table = Filing.__table__  # type: ignore[attr-defined]


def file_or_hold_many(
    *, session: Session, case: Case | None, reports: Sequence[Fileable]
) -> list[int]:
    """Open the ladder filing of each report's rung, or record why they are held (no authority
    to act): the ids of the filings opened, in the order of ``reports`` (none when held).

    The reports belong to ``case``. However many there are, this costs one UPDATE of the
    reports whose hold reason changes and one INSERT of the filings; each filing's job is sent
    after commit, as ``open_filing`` does for one.
    """
    if not reports:
        return []
    hold = hold_reason_for(case)
    session.flush()  # pending changes of these reports go before the UPDATE below
    changed = [report.id for report in reports if report.hold_reason != hold]
    if changed:
        session.execute(
            update(Report)
            .where(col(Report.id).in_(changed))
            .values(hold_reason=hold)
            .execution_options(synchronize_session=False)
        )
        for report in reports:
            if isinstance(report, Report):  # the session's copy says what the row now says
                set_committed_value(report, "hold_reason", hold)
    if hold is not None:
        return []
    ladders: dict[int, Sequence[Rung]] = {}
    routes: dict[tuple[str, str], dict[str, Any]] = {}  # the same route's columns, shared
    rows = []
    for report in reports:
        if report.policy_version_id not in ladders:
            policy = session.get(PolicyVersion, report.policy_version_id)
            assert policy is not None
            ladders[report.policy_version_id] = as_policy(policy).rungs
        rungs = ladders[report.policy_version_id]
        assert report.rung_index < len(rungs), "file_or_hold past the end of the ladder"
        step = rungs[report.rung_index]
        if (report.platform, step.target) not in routes:
            routes[report.platform, step.target] = _routed(report.platform, step)
        rows.append(
            _of_report(report, track=LADDER, index=report.rung_index)
            | routes[report.platform, step.target]
        )
    inserted = insert_returning(
        session=session,
        table=_filings,
        varying=rows,
        constant=_sent_at(utcnow()),
        returning=("report_id", "id"),
    )
    by_report: dict[int, int] = {report_id: filing_id for report_id, filing_id in inserted}
    filing_ids = [by_report[row["report_id"]] for row in rows]
    for filing_id in filing_ids:
        enqueue_after_commit(session, JobKind.FILE, filing_id)
    return filing_ids


def file_or_hold(*, session: Session, report: Report, case: Case | None = None) -> int | None:
    """Open the filing of the report's rung, or record why it is held (no authority to act):
    ``file_or_hold_many`` for one report; the new filing's id, None when held."""
    case = case or session.get(Case, report.case_id)
    opened = file_or_hold_many(session=session, case=case, reports=[report])
    return opened[0] if opened else None


def open_filings_for_case(*, session: Session, case: Case) -> list[Filing]:
    """Open filings for the case's reports that wait for one (after authority is granted)."""
    reports = session.exec(
        select(Report)
        .where(Report.case_id == case.id)
        .where(col(Report.state).in_(list(FILING_PENDING)))
    ).all()
    opened = []
    for report in reports:
        has_open = session.exec(
            select(Filing.id)
            .where(Filing.report_id == report.id, Filing.track == LADDER)
            .where(col(Filing.status).in_(list(OPEN_FILING_STATUSES)))
        ).first()
        if has_open is None:
            opened.append(open_filing(session=session, report=report))
    return opened


def open_parallel_tracks(*, session: Session, report: Report) -> list[Filing]:
    """Open every parallel track of the report's policy (the sweep calls this when due)."""
    policy = session.get(PolicyVersion, report.policy_version_id)
    assert policy is not None
    return [
        open_filing(session=session, report=report, track=PARALLEL, index=index)
        for index in range(len(as_policy(policy).parallel))
    ]
