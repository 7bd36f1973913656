"""Report counts per (organisation, state, platform) and (case, state, platform), exact.

The database keeps them (tracker/reports/rollup_triggers.py): every write path is counted in
the transaction that makes it, the services', a bulk SQL load's and any future one's alike.
On SQLite the count rows are updated directly; on PostgreSQL writers append
``report_count_deltas`` rows and ``fold_rollups`` (a scheduler sweep) adds them into the
count rows. A read adds the count rows and the deltas not yet folded in one statement, so it
is exact at its snapshot whether or not the last fold ran.

Overdue depends on the clock, not on a write: it is counted from the partial index
``ix_reports_on_clock`` (only reports on the clock are in it) at the moment of the read.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    case,
    delete,
    func,
    literal,
    literal_column,
    or_,
    text,
    union_all,
)
from sqlmodel import Session, col, select

from tracker.reports.lifecycle import ON_THE_CLOCK
from tracker.reports.models import (
    CaseReportCount,
    OrganisationReportCount,
    Report,
    ReportCountDelta,
)

#: Deltas folded per statement: bounds one fold's transaction after a bulk change.
FOLD_BATCH = 50_000
#: The advisory lock that makes folds and rebuilds take turns (PostgreSQL).
FOLD_LOCK = 0x7472_6F6C6C  # "troll": tracker rollups


def on_the_clock() -> Any:
    """The states on a legal clock, as literals: the partial index's predicate, word for word
    (a bound parameter would not let the planner use the index)."""
    return col(Report.state).in_([literal_column(f"'{state}'") for state in sorted(ON_THE_CLOCK)])


def overdue_condition(now: datetime) -> Any:
    """On the clock and past the deadline at ``now``."""
    return and_(on_the_clock(), col(Report.deadline_at) <= now)


def not_overdue_condition(now: datetime) -> Any:
    """The exact complement of ``overdue_condition`` (a report without a deadline is not
    overdue, whatever its state)."""
    return or_(~on_the_clock(), col(Report.deadline_at).is_(None), col(Report.deadline_at) > now)


def recount_rollups(connection: Connection) -> None:
    """Recount every count row from the reports; the deltas are dropped (migrations, repairs)."""
    if connection.dialect.name == "postgresql":
        # Writers wait until the recount commits (readers do not); a fold waits its turn.
        connection.execute(text("LOCK TABLE reports IN SHARE MODE"))
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FOLD_LOCK})
    for table in ("report_count_deltas", "case_report_counts", "organisation_report_counts"):
        connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed names
    connection.execute(
        text(
            "INSERT INTO organisation_report_counts "
            "(organisation_id, state, platform, report_count) "
            "SELECT organisation_id, state, platform, count(*) FROM reports "
            "GROUP BY organisation_id, state, platform"
        )
    )
    connection.execute(
        text(
            "INSERT INTO case_report_counts "
            "(case_id, state, platform, organisation_id, report_count) "
            "SELECT case_id, state, platform, organisation_id, count(*) FROM reports "
            "GROUP BY case_id, state, platform, organisation_id"
        )
    )


def rebuild_rollups(*, session: Session) -> None:
    """Recount every rollup from the report rows, in the session's transaction."""
    recount_rollups(session.connection())


_FOLD_POSTGRESQL = text(
    """
    WITH moved AS (
        DELETE FROM report_count_deltas
        WHERE id IN (
            SELECT id FROM report_count_deltas ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED
        )
        RETURNING organisation_id, case_id, state, platform, delta
    ),
    by_organisation AS (
        INSERT INTO organisation_report_counts (organisation_id, state, platform, report_count)
        SELECT organisation_id, state, platform, sum(delta) FROM moved
        GROUP BY organisation_id, state, platform
        ORDER BY organisation_id, state, platform
        ON CONFLICT (organisation_id, state, platform)
        DO UPDATE SET report_count = organisation_report_counts.report_count
            + EXCLUDED.report_count
    ),
    by_case AS (
        INSERT INTO case_report_counts (case_id, state, platform, organisation_id, report_count)
        SELECT case_id, state, platform, max(organisation_id), sum(delta) FROM moved
        GROUP BY case_id, state, platform
        ORDER BY case_id, state, platform
        ON CONFLICT (case_id, state, platform)
        DO UPDATE SET report_count = case_report_counts.report_count + EXCLUDED.report_count
    )
    SELECT count(*) FROM moved
    """
)


def fold_rollups(*, session: Session, limit: int = FOLD_BATCH) -> int:
    """Add up to ``limit`` pending deltas into the count rows; how many were folded.

    One statement on PostgreSQL (the deltas leave as the counts take them in); another fold
    running at the same time makes this one return 0 rather than wait.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        if not connection.execute(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": FOLD_LOCK}
        ).scalar_one():
            return 0
        return int(connection.execute(_FOLD_POSTGRESQL, {"limit": limit}).scalar_one())
    return _fold_portably(session, limit)


def _fold_portably(session: Session, limit: int) -> int:
    """The same fold in plain statements, for SQLite (one writer: nothing runs in between)."""
    rows = session.exec(
        select(ReportCountDelta).order_by(col(ReportCountDelta.id)).limit(limit)
    ).all()
    if not rows:
        return 0
    by_organisation: dict[tuple[int, str, str], int] = {}
    by_case: dict[tuple[int, str, str], tuple[int, int]] = {}
    for row in rows:
        key = (row.organisation_id, row.state, row.platform)
        by_organisation[key] = by_organisation.get(key, 0) + row.delta
        case_key = (row.case_id, row.state, row.platform)
        _, before = by_case.get(case_key, (row.organisation_id, 0))
        by_case[case_key] = (row.organisation_id, before + row.delta)
    for (organisation_id, state, platform), delta in by_organisation.items():
        count = session.get(OrganisationReportCount, (organisation_id, state, platform))
        if count is None:
            count = OrganisationReportCount(
                organisation_id=organisation_id, state=state, platform=platform
            )
        count.report_count += delta
        session.add(count)
    for (case_id, state, platform), (organisation_id, delta) in by_case.items():
        case_count = session.get(CaseReportCount, (case_id, state, platform))
        if case_count is None:
            case_count = CaseReportCount(
                case_id=case_id, state=state, platform=platform, organisation_id=organisation_id
            )
        case_count.report_count += delta
        session.add(case_count)
    session.execute(delete(ReportCountDelta).where(col(ReportCountDelta.id) <= rows[-1].id))
    session.flush()
    return len(rows)


def pending_deltas(*, session: Session) -> int:
    """How many deltas wait to be folded in."""
    return int(session.exec(select(func.count()).select_from(ReportCountDelta)).one())


def counted_rows(*, organisation_id: int, case_ids: Sequence[int] | None = None) -> Any:
    """A subquery of (case_id, state, platform, n): count rows plus unfolded deltas of the
    organisation, or of the given cases of it; add up ``n`` over any grouping for exact counts.

    ``case_id`` is NULL on organisation rows (``case_ids`` None).
    """
    counts: Any
    deltas: Any
    if case_ids is None:
        counts = select(
            literal(None).label("case_id"),
            col(OrganisationReportCount.state).label("state"),
            col(OrganisationReportCount.platform).label("platform"),
            col(OrganisationReportCount.report_count).label("n"),
        ).where(OrganisationReportCount.organisation_id == organisation_id)
        deltas = select(
            literal(None).label("case_id"),
            col(ReportCountDelta.state),
            col(ReportCountDelta.platform),
            col(ReportCountDelta.delta),
        ).where(ReportCountDelta.organisation_id == organisation_id)
    else:
        counts = select(
            col(CaseReportCount.case_id).label("case_id"),
            col(CaseReportCount.state).label("state"),
            col(CaseReportCount.platform).label("platform"),
            col(CaseReportCount.report_count).label("n"),
        ).where(
            CaseReportCount.organisation_id == organisation_id,
            col(CaseReportCount.case_id).in_(list(case_ids)),
        )
        deltas = select(
            col(ReportCountDelta.case_id),
            col(ReportCountDelta.state),
            col(ReportCountDelta.platform),
            col(ReportCountDelta.delta),
        ).where(
            ReportCountDelta.organisation_id == organisation_id,
            col(ReportCountDelta.case_id).in_(list(case_ids)),
        )
    return union_all(counts, deltas).subquery("counted")


def _filtered(rows: Any, state: str | None, platform: str | None) -> list[Any]:
    conditions = []
    if state is not None:
        conditions.append(rows.c.state == str(state))
    if platform is not None:
        conditions.append(rows.c.platform == platform)
    return conditions


def overdue_count_query(
    *,
    organisation_id: int,
    now: datetime,
    case_ids: Sequence[int] | None = None,
    state: str | None = None,
    platform: str | None = None,
) -> Any:
    """A select of how many reports are overdue at ``now`` (read from the partial index)."""
    query = (
        select(func.count())
        .select_from(Report)
        .where(Report.organisation_id == organisation_id, overdue_condition(now))
    )
    if case_ids is not None:
        query = query.where(col(Report.case_id).in_(list(case_ids)))
    if state is not None:
        query = query.where(Report.state == str(state))
    if platform is not None:
        query = query.where(Report.platform == platform)
    return query


def count_reports(
    *,
    session: Session,
    organisation_id: int,
    now: datetime,
    case_ids: Sequence[int] | None = None,
    state: str | None = None,
    platform: str | None = None,
    overdue: bool | None = None,
) -> int:
    """How many reports of the organisation (or of ``case_ids`` in it) match, exactly.

    Without ``overdue`` it is read from the counts; ``overdue`` True counts the index of the
    reports on the clock; False is the first less the second, in one statement.
    """
    overdue_query = overdue_count_query(
        organisation_id=organisation_id,
        now=now,
        case_ids=case_ids,
        state=state,
        platform=platform,
    )
    if overdue is True:
        return int(session.exec(overdue_query).one())
    rows = counted_rows(organisation_id=organisation_id, case_ids=case_ids)
    everything = select(func.coalesce(func.sum(rows.c.n), 0)).where(
        *_filtered(rows, state, platform)
    )
    if overdue is None:
        return int(session.exec(everything).one())
    difference = everything.scalar_subquery() - overdue_query.scalar_subquery()
    return int(session.exec(select(difference)).one())


def report_totals(*, session: Session, case_ids: list[int]) -> dict[int, int]:
    """How many reports each of these cases holds (cases without any are left out)."""
    if not case_ids:
        return {}
    counts: Any = select(
        col(CaseReportCount.case_id).label("case_id"),
        col(CaseReportCount.report_count).label("n"),
    ).where(col(CaseReportCount.case_id).in_(case_ids))
    deltas = select(col(ReportCountDelta.case_id), col(ReportCountDelta.delta)).where(
        col(ReportCountDelta.case_id).in_(case_ids)
    )
    rows = union_all(counts, deltas).subquery("counted")
    totals = session.exec(select(rows.c.case_id, func.sum(rows.c.n)).group_by(rows.c.case_id))
    return {int(case_id): int(total) for case_id, total in totals.all() if total}


def holds_reports(case_id: Any, *, state: str | None = None, platform: str | None = None) -> Any:
    """A condition on the outer query's ``case_id`` column: the case holds a report in
    ``state`` and/or of ``platform``, probed case by case (for a few cases; ``cases_holding``
    for a whole organisation). While no delta of the case waits, one count row above zero
    answers it (a probe that stops at the first); otherwise the sum decides."""
    count_conditions = [col(CaseReportCount.case_id) == case_id]
    delta_conditions = [col(ReportCountDelta.case_id) == case_id]
    if state is not None:
        count_conditions.append(CaseReportCount.state == str(state))
        delta_conditions.append(ReportCountDelta.state == str(state))
    if platform is not None:
        count_conditions.append(CaseReportCount.platform == platform)
        delta_conditions.append(ReportCountDelta.platform == platform)
    counted = select(func.coalesce(func.sum(CaseReportCount.report_count), 0)).where(
        *count_conditions
    )
    pending = select(func.coalesce(func.sum(ReportCountDelta.delta), 0)).where(*delta_conditions)
    # OFFSET 0 keeps it a probe per case that stops at the first row: without it PostgreSQL
    # may hash the whole table once for it, which costs more than every probe of a page.
    any_counted = (
        select(literal(1))
        .where(*count_conditions, col(CaseReportCount.report_count) > 0)
        .offset(0)
        .exists()
    )
    return case(
        (
            select(literal(1)).where(*delta_conditions).exists(),
            counted.scalar_subquery() + pending.scalar_subquery() > 0,
        ),
        else_=any_counted,
    )


def cases_holding(
    *, organisation_id: int, state: str | None = None, platform: str | None = None
) -> Any:
    """A select of the ids of the organisation's cases holding a report in ``state`` and/or
    of ``platform``: one read of the counts index for the whole organisation (where probing
    every case would cost a subquery per case)."""
    count_conditions = [CaseReportCount.organisation_id == organisation_id]
    delta_conditions = [ReportCountDelta.organisation_id == organisation_id]
    if state is not None:
        count_conditions.append(CaseReportCount.state == str(state))
        delta_conditions.append(ReportCountDelta.state == str(state))
    if platform is not None:
        count_conditions.append(CaseReportCount.platform == platform)
        delta_conditions.append(ReportCountDelta.platform == platform)
    rows = union_all(
        select(
            col(CaseReportCount.case_id).label("case_id"),
            col(CaseReportCount.report_count).label("n"),
        ).where(*count_conditions),
        select(col(ReportCountDelta.case_id), col(ReportCountDelta.delta)).where(*delta_conditions),
    ).subquery("holding")
    return select(rows.c.case_id).group_by(rows.c.case_id).having(func.sum(rows.c.n) > 0)


def summary_counts(
    *, session: Session, organisation_id: int, now: datetime, soon: timedelta
) -> dict[str, Any]:
    """By state, by platform, overdue and due within ``soon`` of the organisation's reports,
    all from one statement (one snapshot: the parts always add up)."""
    rows = counted_rows(organisation_id=organisation_id).alias("summary_rows")
    on_clock = (
        select(func.count())
        .select_from(Report)
        .where(Report.organisation_id == organisation_id, on_the_clock())
    )
    parts = union_all(
        select(literal("state").label("kind"), rows.c.state.label("key"), func.sum(rows.c.n))
        .group_by(rows.c.state)
        .having(func.sum(rows.c.n) != 0),
        select(literal("platform"), rows.c.platform, func.sum(rows.c.n))
        .group_by(rows.c.platform)
        .having(func.sum(rows.c.n) != 0),
        on_clock.where(col(Report.deadline_at) <= now).with_only_columns(
            literal("overdue"), literal(""), func.count()
        ),
        on_clock.where(
            col(Report.deadline_at) > now, col(Report.deadline_at) <= now + soon
        ).with_only_columns(literal("due_soon"), literal(""), func.count()),
    )
    by_state: dict[str, int] = {}
    by_platform: dict[str, int] = {}
    single: dict[str, int] = {}
    for kind, key, value in session.execute(parts).all():
        if kind == "state":
            by_state[key] = int(value)
        elif kind == "platform":
            by_platform[key] = int(value)
        else:
            single[kind] = int(value)
    return {
        "by_state": by_state,
        "by_platform": by_platform,
        "overdue": single.get("overdue", 0),
        "due_soon": single.get("due_soon", 0),
        "total": sum(by_state.values()),
    }
