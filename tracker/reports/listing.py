"""One page of a report listing, newest first, read so that it stays fast at any table size.

The planner's favourite for "newest 50 matching" is to walk the primary key backwards and
filter, which is instant when matches are spread evenly and reads most of the table when they
are not: a caseworker's cases are a few bursts of ids, overdue reports are mostly old ones.
Two shapes of query avoid the walk whatever the data looks like:

- overdue: the ids come from the partial index of the reports on the clock (every filter
  column is in it), all of them, and only the newest are then read from the table;
- several cases (a caseworker's): the newest of each case from the ``(case_id, id)`` index,
  merged (PostgreSQL; SQLite serves one person and reads its small table directly).

Every other filter has an index ending with the id (``ix_reports_org_state_id``,
``ix_reports_org_platform_id``, ``ix_reports_case_id_id``), read in order.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, func, literal, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from tracker.reports.models import Report


def newest_reports(
    *,
    session: Session,
    organisation_id: int,
    case_ids: Sequence[int] | None,
    conditions: Sequence[Any],
    from_clock_index: bool,
    limit: int,
    offset: int,
) -> list[Report]:
    """The page of the organisation's reports (of ``case_ids`` if given) matching
    ``conditions``, newest first. ``from_clock_index``: the conditions select overdue reports
    (so every match is in ``ix_reports_on_clock``).

    ``case_ids`` must be cases of the organisation: a page of cases is read by case alone, so
    that the planner cannot prefer an organisation-wide index to the case's own.
    """
    if from_clock_index:
        where = [Report.organisation_id == organisation_id, *conditions]
        if case_ids is not None:
            where.append(col(Report.case_id).in_(list(case_ids)))
        # "id + 0": no index gives that order, so the planner reads every match the cheapest
        # way (the partial index alone) and keeps the newest, instead of walking the table.
        newest_ids = (
            select(col(Report.id))
            .where(*where)
            .order_by((col(Report.id) + 0).desc())
            .limit(offset + limit)
        )
        query = select(Report).where(col(Report.id).in_(newest_ids))
        return list(
            session.exec(query.order_by(col(Report.id).desc()).limit(limit).offset(offset)).all()
        )
    if case_ids is None:
        where = [Report.organisation_id == organisation_id, *conditions]
    elif len(case_ids) > 1 and session.get_bind().dialect.name == "postgresql":
        return _merged_cases(session, list(case_ids), list(conditions), limit, offset)
    else:
        where = [col(Report.case_id).in_(list(case_ids)), *conditions]
    query = select(Report).where(*where).order_by(col(Report.id).desc())
    return list(session.exec(query.limit(limit).offset(offset)).all())


def _merged_cases(
    session: Session, case_ids: list[int], where: list[Any], limit: int, offset: int
) -> list[Report]:
    """The newest ``offset + limit`` of each case (an index range each), merged and cut."""
    scope = (
        func.unnest(literal(case_ids, ARRAY(Integer)))
        .table_valued("case_id")
        .render_derived(name="scope")
    )
    per_case = (
        select(Report)
        .where(col(Report.case_id) == scope.c.case_id, *where)
        .order_by(col(Report.id).desc())
        .limit(offset + limit)
        .subquery()
        .lateral("per_case")
    )
    newest = aliased(Report, per_case)
    query = (
        select(newest)
        .select_from(scope.join(per_case, true()))
        .order_by(per_case.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(session.exec(query).all())
