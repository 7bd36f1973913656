"""The public transparency report: per platform and quarter, small counts suppressed.

Safe to publish means no victim can be singled out, neither from a cell nor by arithmetic on
the totals beside it:

- A platform with fewer than ``threshold`` reports filed in the year is folded into "other
  platforms"; if that row is still under the threshold it is left out (the totals are those
  of the rows shown).
- If any quarter has fewer than ``threshold`` reports, the year is published as one column
  (a quarter's total could otherwise be had from the year's less the other quarters); under
  the threshold for the whole year, nothing is published.
- Every count from 1 to ``threshold`` - 1 is suppressed, totals too (zeros are published: a
  zero singles nobody out). Then, while a linear program finds a suppressed value that the
  published figures and sums pin down, one more count beside it is suppressed. The test
  attacks the result with its own linear program (``tests/test_transparency.py``).
- A rate or a median is published only where every count it comes from is.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from itertools import product

from pydantic import BaseModel, Field
from sqlmodel import Session

from tracker.reports.export import csv_cell
from tracker.scorecards.buckets import percentile
from tracker.scorecards.query import monthly_sums
from tracker.scorecards.schemas import Dimension
from tracker.scorecards.sums import Sums

MEASURES = ("filed", "removed", "removed_within_deadline", "rejected", "escalated", "reappeared")
OTHER = "other platforms"
ALL = "all platforms"
TOTAL = "total"
YEAR = "year"
Cell = tuple[str, str]


class TransparencyRow(BaseModel):
    platform: str
    values: list[int | None] = Field(description="One per column; null where suppressed")
    total: int | None = Field(
        description="The platform's figure for the year; null where suppressed"
    )


class TransparencyTable(BaseModel):
    measure: str
    rows: list[TransparencyRow]
    column_totals: list[int | None]
    grand_total: int | None


class TransparencyReport(BaseModel):
    year: int
    threshold: int
    columns: list[str] = Field(description='"2027-Q1" .. "2027-Q4", or "year"')
    tables: list[TransparencyTable]
    median_seconds_to_removal: dict[str, int] = Field(
        description="Per platform, for the year, where at least threshold reports were removed"
    )
    removal_rate: dict[str, float] = Field(
        description="Per platform, for the year (removed / filed; both published)"
    )
    note: str


@dataclass(frozen=True)
class Grid:
    """One measure's table with its margins: values per (row, column), where the last row is
    the column totals (``ALL``) and the last column the row totals (``TOTAL``)."""

    rows: list[str]
    columns: list[str]
    values: dict[Cell, int]

    @classmethod
    def of(cls, rows: list[str], columns: list[str], inner: dict[Cell, int]) -> "Grid":
        values = dict(inner)
        for row in rows:
            values[(row, TOTAL)] = sum(inner[(row, column)] for column in columns)
        for column in columns:
            values[(ALL, column)] = sum(inner[(row, column)] for row in rows)
        values[(ALL, TOTAL)] = sum(inner.values())
        return cls(rows=[*rows, ALL], columns=[*columns, TOTAL], values=values)

    def equations(self) -> list[tuple[list[Cell], Cell]]:
        """Every "these add up to that" the table states."""
        rows, columns = self.rows[:-1], self.columns[:-1]
        return [([(row, c) for c in columns], (row, TOTAL)) for row in self.rows] + [
            ([(r, column) for r in rows], (ALL, column)) for column in self.columns
        ]


def bounds(grid: Grid, hidden: set[Cell]) -> dict[Cell, tuple[float, float]]:
    """What someone holding the published table can work out of each hidden cell: its least
    and greatest value consistent with every published figure and every sum (hidden counts
    are at least 1: zeros are published). A linear program per bound; the sums' matrix is
    totally unimodular, so the bounds are whole numbers that whole tables reach."""
    from scipy.optimize import linprog

    cells = list(grid.values)
    index = {cell: position for position, cell in enumerate(cells)}
    equalities = []
    for parts, total in grid.equations():
        line = [0.0] * len(cells)
        for part in parts:
            line[index[part]] += 1.0
        line[index[total]] -= 1.0
        equalities.append(line)
    limits = [
        (1.0, None) if cell in hidden else (float(grid.values[cell]), float(grid.values[cell]))
        for cell in cells
    ]
    found: dict[Cell, tuple[float, float]] = {}
    for cell in hidden:
        objective = [0.0] * len(cells)
        objective[index[cell]] = 1.0
        low = linprog(objective, A_eq=equalities, b_eq=[0.0] * len(equalities), bounds=limits)
        objective[index[cell]] = -1.0
        high = linprog(objective, A_eq=equalities, b_eq=[0.0] * len(equalities), bounds=limits)
        upper = -high.fun if high.status == 0 else float("inf")
        found[cell] = (round(low.fun, 6), round(upper, 6) if upper != float("inf") else upper)
    return found


def recoverable(grid: Grid, hidden: set[Cell]) -> set[Cell]:
    """The hidden cells whose value the published figures pin down."""
    return {cell for cell, (low, high) in bounds(grid, hidden).items() if high - low < 1}


def suppress(grid: Grid, threshold: int) -> set[Cell]:
    """The cells to hide: every count from 1 to ``threshold`` - 1 (totals too), then, while
    any hidden cell can be worked out, the smallest published count beside it (in its row or
    column). Zeros are never hidden; the grand total is hidden last, if ever."""
    hidden = {cell for cell, value in grid.values.items() if 0 < value < threshold}
    while pinned := recoverable(grid, hidden):
        row, column = min(pinned)
        beside = [
            cell
            for cell, value in grid.values.items()
            if value > 0 and cell not in hidden and (cell[0] == row or cell[1] == column)
        ]
        if not beside:
            beside = [cell for cell, value in grid.values.items() if value and cell not in hidden]
        if not beside:
            break  # everything not zero is hidden: nothing is left to work anything out from
        hidden.add(min(beside, key=lambda cell: (cell == (ALL, TOTAL), grid.values[cell], cell)))
    return hidden


def _quarter(month: date) -> str:
    return f"{month.year}-Q{(month.month - 1) // 3 + 1}"


def transparency_report(
    *, session: Session, organisation_id: int, year: int, threshold: int = 10
) -> TransparencyReport:
    """The organisation's report for ``year`` (cohorts of reports first filed in it)."""
    groups = monthly_sums(
        session=session,
        organisation_id=organisation_id,
        first=date(year, 1, 1),
        last=date(year, 12, 31),
        group_by=[Dimension.PLATFORM],
    )
    quarters = [f"{year}-Q{quarter}" for quarter in range(1, 5)]
    by_cell: dict[Cell, Sums] = {}
    for (month, platform), sums in groups.items():
        by_cell.setdefault((platform, _quarter(month)), Sums()).merge(sums)
    # Platforms under the threshold for the year go to "other platforms".
    yearly: dict[str, Sums] = {}
    for (platform, _), sums in by_cell.items():
        yearly.setdefault(platform, Sums()).merge(sums)
    small = {platform for platform, sums in yearly.items() if sums.counts["filed"] < threshold}
    folded: dict[Cell, Sums] = {}
    for (platform, quarter), sums in by_cell.items():
        folded.setdefault((OTHER if platform in small else platform, quarter), Sums()).merge(sums)
    rows = sorted({platform for platform, _ in folded} - {OTHER})
    other_total = sum(s.counts["filed"] for (p, _), s in folded.items() if p == OTHER)
    if other_total >= threshold:
        rows.append(OTHER)
    folded = {cell: sums for cell, sums in folded.items() if cell[0] in rows}
    quarter_totals = {
        q: sum(s.counts["filed"] for (_, c), s in folded.items() if c == q) for q in quarters
    }
    columns = quarters
    if any(total < threshold for total in quarter_totals.values()):
        columns = [YEAR]
        merged: dict[Cell, Sums] = {}
        for (platform, _), sums in folded.items():
            merged.setdefault((platform, YEAR), Sums()).merge(sums)
        folded = merged
    grand = sum(s.counts["filed"] for s in folded.values())
    if grand < threshold:
        rows, folded = [], {}
    tables = [_table(measure, rows, columns, folded, threshold) for measure in MEASURES]
    published = {table.measure: table for table in tables}
    per_platform = {platform: Sums() for platform in rows}
    for (platform, _), sums in folded.items():
        per_platform[platform].merge(sums)
    medians = {
        platform: median
        for platform, sums in per_platform.items()
        if sums.counts["removed"] >= threshold
        and (median := percentile(sums.histogram(), 0.5)) is not None
    }
    rates = {
        row.platform: round(removed.total / row.total, 4)
        for row, removed in zip(published["filed"].rows, published["removed"].rows, strict=True)
        if row.total and removed.total is not None and removed.total >= threshold
    }
    return TransparencyReport(
        year=year,
        threshold=threshold,
        columns=columns,
        tables=tables,
        median_seconds_to_removal=medians,
        removal_rate=rates,
        note=(
            f"Counts from 1 to {threshold - 1} are suppressed, with enough others that none "
            "can be worked out from the totals; platforms with fewer reports in the year are "
            "counted together as 'other platforms' or left out."
        ),
    )


def _table(
    measure: str, rows: list[str], columns: list[str], sums: dict[Cell, Sums], threshold: int
) -> TransparencyTable:
    def count(cell: Cell) -> int:
        if cell not in sums:
            return 0
        counts = sums[cell].counts
        if measure == "rejected":
            return sum(v for k, v in counts.items() if k.startswith("rejected_"))
        return counts["removed_in_time" if measure == "removed_within_deadline" else measure]

    grid = Grid.of(rows, columns, {cell: count(cell) for cell in product(rows, columns)})
    hidden = suppress(grid, threshold)

    def shown(cell: Cell) -> int | None:
        return None if cell in hidden else grid.values[cell]

    return TransparencyTable(
        measure=measure,
        rows=[
            TransparencyRow(
                platform=row,
                values=[shown((row, column)) for column in columns],
                total=shown((row, TOTAL)),
            )
            for row in rows
        ],
        column_totals=[shown((ALL, column)) for column in columns],
        grand_total=shown((ALL, TOTAL)),
    )


def transparency_csv_lines(report: TransparencyReport) -> Iterator[str]:
    """The report in long form: measure, platform, column, value (empty where suppressed)."""

    def line(measure: str, platform: str, column: str, value: int | None) -> str:
        shown = "" if value is None else str(value)
        return f"{measure},{csv_cell(platform)},{column},{shown},{int(value is None)}\r\n"

    yield "measure,platform,column,value,suppressed\r\n"
    for table in report.tables:
        for row in table.rows:
            for column, value in zip(report.columns, row.values, strict=True):
                yield line(table.measure, row.platform, column, value)
            yield line(table.measure, row.platform, TOTAL, row.total)
        for column, total in zip(report.columns, table.column_totals, strict=True):
            yield line(table.measure, ALL, column, total)
        yield line(table.measure, ALL, TOTAL, table.grand_total)
