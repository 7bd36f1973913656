"""A report listing as a file, CSV or JSON lines, streamed: read in chunks by key, written as
read, so an export of a million reports never holds more than one chunk in memory.

The rows are the listing's, newest first, for the same filters (``tracker.reports.filters``).
The columns are what a listing item carries about the report and nothing about the victim:
no case label, no contact detail. The URL is the canonical one, the content's location, as a
supervisor sees it in the listing; the original spelling a caseworker pasted (which may carry
the sharer's tracking parameters) adds nothing for an analyst and is left out.

A CSV file is opened in a spreadsheet, and URLs come from whoever shared the content: a cell
that a spreadsheet would read as a formula is prefixed with a single quote.
"""

from __future__ import annotations

import csv
import enum
import io
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row
from sqlmodel import Session, col, select

from tracker.reports.filters import ReportFilter
from tracker.reports.models import Report
from tracker.reports.service import RungTargets, is_overdue_at

#: Reports read per statement; the most an export holds in memory at once.
CHUNK_SIZE = 1000

COLUMNS = (
    "id",
    "case_id",
    "platform",
    "state",
    "rung_index",
    "rung_target",
    "canonical_url",
    "deadline_at",
    "is_overdue",
    "next_check_at",
    "last_verdict",
    "last_checked_at",
    "consecutive_removed",
    "pause_reason",
    "paused_remaining_seconds",
    "hold_reason",
    "created_at",
    "updated_at",
)
_READ: tuple[Any, ...] = (
    col(Report.id),
    col(Report.case_id),
    col(Report.platform),
    col(Report.state),
    col(Report.policy_version_id),
    col(Report.rung_index),
    col(Report.canonical_url),
    col(Report.deadline_at),
    col(Report.next_check_at),
    col(Report.last_verdict),
    col(Report.last_checked_at),
    col(Report.consecutive_removed),
    col(Report.pause_reason),
    col(Report.paused_remaining_seconds),
    col(Report.hold_reason),
    col(Report.created_at),
    col(Report.updated_at),
)
#: What a spreadsheet takes for the start of a formula (OWASP's list for CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportFormat(enum.StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


MEDIA_TYPES = {ExportFormat.CSV: "text/csv", ExportFormat.JSONL: "application/x-ndjson"}


def export_filename(export_format: ExportFormat, now: datetime) -> str:
    """``reports-<UTC date>.<format>``: nothing in it says whose reports they are."""
    return f"reports-{now.astimezone(UTC):%Y-%m-%d}.{export_format.value}"


def _timestamp(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _record(row: Row[Any], targets: RungTargets, now: datetime) -> dict[str, Any]:
    """One report as exported: plain JSON values, timestamps in ISO 8601 UTC."""
    return {
        "id": row.id,
        "case_id": row.case_id,
        "platform": row.platform,
        "state": str(row.state),
        "rung_index": row.rung_index,
        "rung_target": targets.target(row.policy_version_id, row.rung_index),
        "canonical_url": row.canonical_url,
        "deadline_at": _timestamp(row.deadline_at),
        "is_overdue": is_overdue_at(state=row.state, deadline_at=row.deadline_at, now=now),
        "next_check_at": _timestamp(row.next_check_at),
        "last_verdict": row.last_verdict,
        "last_checked_at": _timestamp(row.last_checked_at),
        "consecutive_removed": row.consecutive_removed,
        "pause_reason": row.pause_reason,
        "paused_remaining_seconds": row.paused_remaining_seconds,
        "hold_reason": row.hold_reason,
        "created_at": _timestamp(row.created_at),
        "updated_at": _timestamp(row.updated_at),
    }


def csv_cell(value: Any) -> str:
    """A value as a CSV cell that no spreadsheet runs as a formula."""
    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def read_in_one_snapshot(*, session: Session) -> None:
    """Make the session's next transaction read one snapshot (PostgreSQL), so that the count
    and every chunk of an export agree; call it before the session reads anything."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def report_chunks(
    *,
    session: Session,
    filters: ReportFilter,
    before_id: int | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[Sequence[Row[Any]]]:
    """The filter's reports (older than ``before_id`` if given), newest first, in chunks of at
    most ``chunk_size`` rows: one statement a chunk, each starting below the last id read."""
    if filters.matches_nothing:
        return
    while True:
        where = filters.where()
        if before_id is not None:
            where.append(col(Report.id) < before_id)
        query = select(*_READ).where(*where).order_by(col(Report.id).desc()).limit(chunk_size)
        rows = session.execute(query).all()
        if rows:
            yield rows
        if len(rows) < chunk_size:
            return
        before_id = rows[-1].id


def export_reports(
    *,
    session: Session,
    filters: ReportFilter,
    export_format: ExportFormat,
    before_id: int | None = None,
    chunk_size: int = CHUNK_SIZE,
    on_rows: Callable[[int], None] | None = None,
) -> Iterator[str]:
    """The export's text, a piece per chunk of reports (a CSV file starts with its header).

    ``on_rows`` is told how many reports each piece held, once it is made (a progress bar).
    """
    targets = RungTargets(session)
    if export_format is ExportFormat.CSV:
        yield _csv_text([COLUMNS])
    for rows in report_chunks(
        session=session, filters=filters, before_id=before_id, chunk_size=chunk_size
    ):
        records = (_record(row, targets, filters.now) for row in rows)
        if export_format is ExportFormat.CSV:
            text = _csv_text([csv_cell(record[name]) for name in COLUMNS] for record in records)
        else:
            text = "".join(
                json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
                for record in records
            )
        yield text
        if on_rows is not None:
            on_rows(len(rows))


def _csv_text(rows: Any) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()
