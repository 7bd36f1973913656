"""Reading scorecards and trends from the cells (plus the deltas not folded yet).

A scorecard over days ``from``..``to`` reads the month cells of the whole months inside the
range and the day cells of the days around them; a trend reads the cells of its own period.
Either way the unfolded deltas of those days are added in the same statement, so figures are
exact at the read's snapshot, and the work grows with the number of cells, never with the
number of reports.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, literal, literal_column, union_all
from sqlalchemy import select as columns_of  # (typed for any columns)
from sqlmodel import Session, col

from tracker.errors import Invalid
from tracker.scorecards.models import (
    COUNTERS,
    Grain,
    ScorecardCell,
    ScorecardDelta,
)
from tracker.scorecards.periods import month_end, period_end, period_start
from tracker.scorecards.schemas import (
    Dimension,
    Period,
    Scorecard,
    ScorecardFigures,
    ScorecardRow,
    Trend,
    TrendPoint,
)
from tracker.scorecards.sums import Gathered, Sums

#: The longest range a scorecard or trend reads, per period (a day trend is for charts).
LONGEST = {None: 366 * 5, Period.DAY: 366, Period.WEEK: 366 * 5, Period.MONTH: 366 * 10}
_DIMENSIONS = tuple(Dimension)
_DELTA_PERIOD = {Period.DAY: "day", Period.WEEK: "week_start", Period.MONTH: "month_start"}


@dataclass(frozen=True)
class Filters:
    """Keep only the reports whose latest filing has these (None: any)."""

    platform: str | None = None
    channel: str | None = None
    legal_basis: str | None = None
    rung: str | None = None

    def conditions(self, table: Any) -> list[Any]:
        return [
            getattr(table, name) == value
            for name, value in self.__dict__.items()
            if value is not None
        ]


def check_range(date_from: date, date_to: date, period: Period | None) -> None:
    """A range the scorecards answer: ``from`` not after ``to``, and not too long."""
    if date_from > date_to:
        raise Invalid.one(("query", "from"), "from must not be after to", "value_error.range")
    if (date_to - date_from).days + 1 > LONGEST[period]:
        raise Invalid.one(
            ("query", "to"),
            f"a range of at most {LONGEST[period]} days" + (f" by {period}" if period else ""),
            "value_error.range",
        )


def _cells(organisation_id: int, grain: Grain, first: date, last: date, filters: Filters) -> Any:
    """The cells of one grain whose period starts from ``first`` to ``last``."""
    table = ScorecardCell
    return columns_of(
        col(table.period_start),
        *(col(getattr(table, name)) for name in _DIMENSIONS),
        *(col(getattr(table, name)) for name in COUNTERS),
        col(table.removal_counts),
    ).where(
        col(table.organisation_id) == organisation_id,
        col(table.grain) == grain,
        col(table.period_start) >= first,
        col(table.period_start) <= last,
        *filters.conditions(table),
    )


def _deltas(
    organisation_id: int, period_column: str, first: date, last: date, filters: Filters
) -> Any:
    """The deltas not folded yet of the cohort days ``first`` to ``last``, with the period
    (``period_column``) each counts in."""
    table = ScorecardDelta
    return columns_of(
        col(getattr(table, period_column)),
        *(col(getattr(table, name)) for name in _DIMENSIONS),
        *(col(getattr(table, name)) for name in COUNTERS),
        col(table.removal_bucket),
    ).where(
        col(table.organisation_id) == organisation_id,
        col(table.day) >= first,
        col(table.day) <= last,
        *filters.conditions(table),
    )


def _joined(column: Any, dialect: str) -> Any:
    """The aggregate joining the packed histograms of a group end to end (their records are
    whole, so the join is the records of them all): bytes on PostgreSQL, hexadecimal text on
    SQLite (whose text functions would stop at a zero byte)."""
    if dialect == "postgresql":
        return func.string_agg(column, literal_column("''::bytea"))
    return func.group_concat(func.hex(column), literal(""))


def _unjoined(value: Any) -> bytes:
    if value is None:
        return b""
    return bytes.fromhex(value) if isinstance(value, str) else bytes(value)


def _group(
    session: Session,
    cells: Sequence[Any],
    deltas: Any,
    group_by: Sequence[Dimension],
    *,
    by_period: bool,
) -> tuple[dict[tuple[Any, ...], Sums], Sums]:
    """The cells and deltas read, added up per (period, *breakdown) and in all."""
    gathered: dict[tuple[Any, ...], Gathered] = {}
    width = len(_DIMENSIONS)
    rung = 1 + _DIMENSIONS.index(Dimension.RUNG)
    wanted = [1 + _DIMENSIONS.index(dimension) for dimension in group_by]
    first, last = 1 + width, 1 + width + len(COUNTERS)
    removed = first + COUNTERS.index("removed")
    escalated = first + COUNTERS.index("escalated")

    def entry(key: tuple[Any, ...], rung_name: str, values: Sequence[int]) -> Gathered:
        found = gathered.get(key)
        if found is None:
            found = gathered[key] = Gathered()
        found.values.append(values)
        count = values[escalated - first]
        if count:
            found.escalated_to[rung_name] = found.escalated_to.get(rung_name, 0) + count
        return found

    # The cells, added up by the database per period, breakdown and rung (the rung names the
    # escalations), their histograms joined end to end.
    if cells:
        rows = union_all(*cells).subquery("scorecard_cells_read")
        period = rows.c.period_start if by_period else literal(None)
        keys = [rows.c[str(dimension)] for dimension in group_by]
        grouping = ([period] if by_period else []) + [*keys, rows.c.rung]
        read = columns_of(
            period,
            *keys,
            rows.c.rung,
            *(func.sum(rows.c[name]) for name in COUNTERS),
            _joined(rows.c.removal_counts, session.get_bind().dialect.name),
        ).group_by(*grouping)
        size = len(keys)
        for row in session.execute(read):
            key = ((row[0],) if by_period else ()) + tuple(row[1 : 1 + size])
            found = entry(key, row[1 + size], row[2 + size : 2 + size + len(COUNTERS)])
            found.packed.append(_unjoined(row[-1]))
    for row in session.execute(deltas):
        key = ((row[0],) if by_period else ()) + tuple(row[i] for i in wanted)
        found = entry(key, row[rung], row[first:last])
        bucket, count = int(row[-1]), int(row[removed])
        if bucket >= 0 and count:
            found.loose[bucket] = found.loose.get(bucket, 0) + count
    groups = {key: found.sums() for key, found in gathered.items()}
    total = Sums()
    for sums in groups.values():
        total.merge(sums)
    return groups, total


def _cover(first: date, last: date) -> list[tuple[Grain, date, date]]:
    """The fewest cells that cover the days ``first`` to ``last``: whole months, then whole
    ISO weeks, then days."""
    parts: list[tuple[Grain, date, date]] = []
    month = first if first.day == 1 else month_end(first) + timedelta(days=1)
    months_end = last if last == month_end(last) else last.replace(day=1) - timedelta(days=1)
    if month <= months_end:
        parts.append((Grain.MONTH, month, months_end.replace(day=1)))
        edges = [(first, month - timedelta(days=1)), (months_end + timedelta(days=1), last)]
    else:
        edges = [(first, last)]
    for start, end in edges:
        if start > end:
            continue
        week = start + timedelta(days=(7 - start.weekday()) % 7)
        week_end = end - timedelta(days=(end.weekday() + 1) % 7)
        if week + timedelta(days=6) <= week_end:
            parts.append((Grain.WEEK, week, week_end - timedelta(days=6)))
            days = [(start, week - timedelta(days=1)), (week_end + timedelta(days=1), end)]
        else:
            days = [(start, end)]
        parts.extend((Grain.DAY, a, b) for a, b in days if a <= b)
    return parts


def scorecard(
    *,
    session: Session,
    organisation_id: int,
    date_from: date,
    date_to: date,
    group_by: Sequence[Dimension] = (),
    filters: Filters | None = None,
) -> Scorecard:
    """The figures of the reports first filed from ``date_from`` to ``date_to`` (UTC days,
    both included), broken down by ``group_by``."""
    check_range(date_from, date_to, None)
    filters = filters or Filters()
    group_by = list(dict.fromkeys(group_by))
    # Whole months, weeks and days that cover the range; every unfolded delta of its days.
    cells = [
        _cells(organisation_id, grain, start, end, filters)
        for grain, start, end in _cover(date_from, date_to)
    ]
    deltas = _deltas(organisation_id, "day", date_from, date_to, filters)
    groups, total = _group(session, cells, deltas, group_by, by_period=False)
    rows = [
        ScorecardRow(**dict(zip(group_by, key, strict=True)), **sums.figures())
        for key, sums in sorted(groups.items(), key=lambda item: tuple(str(k) for k in item[0]))
    ]
    return Scorecard(  # type: ignore[call-arg]  # populated by name
        from_=date_from,
        to=date_to,
        group_by=group_by,
        rows=rows,
        total=ScorecardFigures(**total.figures()),
    )


def trend(
    *,
    session: Session,
    organisation_id: int,
    period: Period,
    date_from: date,
    date_to: date,
    group_by: Sequence[Dimension] = (),
    filters: Filters | None = None,
) -> Trend:
    """The same figures per day, ISO week or month; the range is widened to whole periods.
    Every period of the range has a point (zeros where nothing was filed) unless broken down,
    where only cells with reports appear."""
    check_range(date_from, date_to, period)
    filters = filters or Filters()
    group_by = list(dict.fromkeys(group_by))
    first, last = period_start(date_from, period), period_end(date_to, period)
    groups, _ = _group(
        session,
        [_cells(organisation_id, Grain(period.value), first, last, filters)],
        _deltas(organisation_id, _DELTA_PERIOD[period], first, last, filters),
        group_by,
        by_period=True,
    )
    if not group_by:
        start = first
        while start <= last:
            groups.setdefault((start,), Sums())
            start = period_end(start, period) + timedelta(days=1)
    points = [
        TrendPoint(
            period_start=key[0],
            **dict(zip(group_by, key[1:], strict=True)),
            **sums.figures(),
        )
        for key, sums in sorted(groups.items(), key=lambda item: tuple(str(k) for k in item[0]))
    ]
    return Trend(  # type: ignore[call-arg]  # populated by name
        period=period, from_=first, to=last, group_by=group_by, points=points
    )


def monthly_sums(
    *,
    session: Session,
    organisation_id: int,
    first: date,
    last: date,
    group_by: Sequence[Dimension],
) -> dict[tuple[Any, ...], "Sums"]:
    """The sums per (month start, *breakdown) of the months from ``first`` to ``last``."""
    first, last = period_start(first, Period.MONTH), period_end(last, Period.MONTH)
    groups, _ = _group(
        session,
        [_cells(organisation_id, Grain.MONTH, first, last, Filters())],
        _deltas(organisation_id, "month_start", first, last, Filters()),
        group_by,
        by_period=True,
    )
    return groups
