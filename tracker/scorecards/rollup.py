"""Folding scorecard deltas into the cells, and counting the cells again from the outcomes.

Both add contributions into cells in memory (``CellSums``) and write each touched cell once:
its counters and its histogram of times to removal (an array of counts) are added to. Only a
fold or a recount writes cells, one at a time (an advisory lock on PostgreSQL; SQLite has one
writer); writers of outcomes only append deltas, so they never wait on a cell. On PostgreSQL a fold
takes its deltas ``FOR UPDATE SKIP LOCKED``: a writer's uncommitted deltas are left for the
next fold, never lost.
"""

from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import Connection, bindparam, delete, insert, select, text, tuple_, update
from sqlmodel import Session, col

from tracker.scorecards.buckets import OVERFLOW
from tracker.scorecards.models import COUNTERS, DIMENSIONS, Grain, ScorecardCell, ScorecardDelta
from tracker.scorecards.periods import period_start
from tracker.scorecards.schemas import Period

#: Deltas folded per call: bounds one fold's transaction after a bulk change.
FOLD_BATCH = 20_000
#: The advisory lock that makes folds and recounts take turns (PostgreSQL).
FOLD_LOCK = 0x7363_6F72_65  # "score"
#: Cells read and written per statement (seven bound values a cell: under SQLite's limit).
WRITE_BATCH = 1_000
_KEY_NAMES = ("organisation_id", "grain", "period_start", *DIMENSIONS)
_VALUE_NAMES = (*COUNTERS, "removal_counts")
_cells = ScorecardCell.__table__  # type: ignore[attr-defined]
_UPDATE = (
    update(_cells)
    .where(*(_cells.c[name] == bindparam(f"key_{name}") for name in _KEY_NAMES))
    .values({name: bindparam(f"value_{name}") for name in _VALUE_NAMES})
)

CellKey = tuple[Any, ...]  # (organisation_id, grain, period_start, *DIMENSIONS)
#: Buckets 0 .. OVERFLOW. A cell stores the buckets that are not empty, each as a record of
#: its number and its count (little-endian 16 and 32 bits): a day's cell holds a few.
HISTOGRAM_LENGTH = OVERFLOW + 1
PACKED = np.dtype([("bucket", "<u2"), ("count", "<i4")])


def unpack(*stored: bytes | None) -> "np.ndarray[Any, np.dtype[np.int64]]":
    """The histograms of cells added up, as an array of counts, one per bucket."""
    records = np.frombuffer(b"".join(part for part in stored if part), dtype=PACKED)
    counts = np.zeros(HISTOGRAM_LENGTH, dtype=np.int64)
    np.add.at(counts, records["bucket"].astype(np.intp), records["count"])
    return counts


def pack(counts: "np.ndarray[Any, np.dtype[np.int64]]") -> bytes:
    """A histogram as a cell stores it: its buckets that are not empty."""
    buckets = np.flatnonzero(counts)
    records = np.empty(len(buckets), dtype=PACKED)
    records["bucket"] = buckets
    records["count"] = counts[buckets]
    return records.tobytes()


def periods(day: date) -> Iterator[tuple[Grain, date]]:
    """The day, ISO week and month a cohort day counts in."""
    for grain in Grain:
        yield grain, period_start(day, Period(grain.value))


class CellSums:
    """Contributions added up per cell, in memory."""

    def __init__(self) -> None:
        self.cells: dict[CellKey, tuple[list[int], np.ndarray[Any, np.dtype[np.int64]]]] = {}

    def add(
        self,
        organisation_id: int,
        day: date,
        dimensions: tuple[str, ...],
        counts: Iterable[int],
        bucket: int,
    ) -> None:
        """One contribution (or delta) of the cohort ``day``, to its day, week and month."""
        values = [int(value) for value in counts]
        removed = values[COUNTERS.index("removed")]
        for grain, start in periods(day):
            key = (organisation_id, str(grain), start, *dimensions)
            found = self.cells.get(key)
            if found is None:
                found = self.cells[key] = ([0] * len(COUNTERS), unpack())
            sums, histogram = found
            for index, value in enumerate(values):
                sums[index] += value
            if removed and bucket >= 0:
                histogram[bucket] += removed

    def write(self, connection: Connection) -> int:
        """Add these sums into the cells (merging into the cells that exist); how many."""
        keys = list(self.cells)
        key_columns = [_cells.c[name] for name in _KEY_NAMES]
        for first in range(0, len(keys), WRITE_BATCH):
            batch = keys[first : first + WRITE_BATCH]
            existing = {
                tuple(row[: len(key_columns)]): row[len(key_columns) :]
                for row in connection.execute(
                    select(*key_columns, *(_cells.c[name] for name in _VALUE_NAMES)).where(
                        tuple_(*key_columns).in_(batch)
                    )
                )
            }
            inserts: list[dict[str, Any]] = []
            updates: list[dict[str, Any]] = []
            for key in batch:
                sums, histogram = self.cells[key]
                row = dict(zip(_KEY_NAMES, key, strict=True))
                if key in existing:
                    *before, before_histogram = existing[key]
                    sums = [a + int(b) for a, b in zip(sums, before, strict=True)]
                    histogram = histogram + unpack(before_histogram)
                row.update(zip(COUNTERS, sums, strict=True))
                row["removal_counts"] = pack(histogram)
                (updates if key in existing else inserts).append(row)
            if inserts:
                connection.execute(insert(_cells), inserts)
            if updates:
                connection.execute(
                    _UPDATE,
                    [
                        {f"key_{name}": row[name] for name in _KEY_NAMES}
                        | {f"value_{name}": row[name] for name in _VALUE_NAMES}
                        for row in updates
                    ],
                )
        return len(keys)


def fold_scorecards(*, session: Session, limit: int = FOLD_BATCH) -> int:
    """Add up to ``limit`` pending deltas into the cells; how many were folded. Another fold
    running at the same time makes this one return 0 rather than wait."""
    connection = session.connection()
    postgresql = connection.dialect.name == "postgresql"
    if (
        postgresql
        and not connection.execute(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": FOLD_LOCK}
        ).scalar_one()
    ):
        return 0
    deltas = ScorecardDelta.__table__  # type: ignore[attr-defined]
    query = (
        select(
            deltas.c.id,
            deltas.c.organisation_id,
            deltas.c.day,
            *(deltas.c[name] for name in DIMENSIONS),
            deltas.c.removal_bucket,
            *(deltas.c[name] for name in COUNTERS),
        )
        .order_by(deltas.c.id)
        .limit(limit)
    )
    if postgresql:
        query = query.with_for_update(skip_locked=True)
    rows = connection.execute(query).all()
    if not rows:
        return 0
    sums = CellSums()
    width = len(DIMENSIONS)
    for row in rows:
        dimensions = tuple(row[3 : 3 + width])
        sums.add(row[1], row[2], dimensions, row[4 + width :], int(row[3 + width]))
    sums.write(connection)
    ids = [row[0] for row in rows]
    for first in range(0, len(ids), WRITE_BATCH):
        connection.execute(
            delete(ScorecardDelta).where(
                col(ScorecardDelta.id).in_(ids[first : first + WRITE_BATCH])
            )
        )
    return len(rows)


def pending_scorecard_deltas(*, session: Session) -> int:
    """How many deltas wait to be folded in."""
    connection = session.connection()
    return int(connection.execute(text("SELECT count(*) FROM scorecard_deltas")).scalar_one())


def recount_scorecards(connection: Connection) -> None:
    """Count every cell again from the outcomes (migrations, repairs); the deltas are dropped.

    Writers of outcomes wait until it commits on PostgreSQL; a fold waits its turn."""
    from tracker.scorecards.models import ReportOutcome
    from tracker.scorecards.outcomes import Outcome, contribution

    if connection.dialect.name == "postgresql":
        connection.execute(text("LOCK TABLE report_outcomes IN SHARE MODE"))
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FOLD_LOCK})
    connection.execute(delete(ScorecardDelta))
    connection.execute(delete(ScorecardCell))
    sums = CellSums()
    table = ReportOutcome.__table__  # type: ignore[attr-defined]
    outcomes = connection.execute(
        select(table)
        .where(table.c.first_filed_at.is_not(None))
        .execution_options(yield_per=10_000)  # the statement's: a migration's connection goes on
    )
    for outcome in outcomes:  # rows: the outcome's columns by name, as contribution reads them
        found = contribution(Outcome(**outcome._mapping))
        if found is None:
            continue
        (organisation_id, day, *dimensions, bucket), counts = found
        sums.add(organisation_id, day, tuple(dimensions), counts.values(), bucket)
    sums.write(connection)


def rebuild_scorecards(*, session: Session) -> None:
    """Count every cell again from the outcomes, in the session's transaction."""
    recount_scorecards(session.connection())
