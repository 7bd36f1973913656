"""HTTP endpoint of the report listing as a file: ``GET /reports/export``, streamed.

Registered before the routes of ``/reports/{report_id}``, so that "export" is this path and
never read as an id.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from tracker.api.deps import SessionDep, SupervisorDep, get_database
from tracker.api.pages import BeforeId
from tracker.audit.service import record
from tracker.db import Database
from tracker.reports.export import (
    COLUMNS,
    MEDIA_TYPES,
    ExportFormat,
    export_filename,
    export_reports,
    read_in_one_snapshot,
)
from tracker.reports.filters import ReportFilter
from tracker.reports.service import listing_filter
from tracker.reports.views import ReportQueryDep

router = APIRouter(tags=["reports"])

DatabaseDep = Annotated[Database, Depends(get_database)]

EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The reports, newest first. CSV: a header row, then one row per "
        f"report with the columns {', '.join(COLUMNS)}; a cell that a spreadsheet would "
        "read as a formula (starting with = + - @, a tab or a carriage return) is prefixed "
        "with a single quote. JSON lines: one object per line with the same keys (not "
        "prefixed). Timestamps are ISO 8601 in UTC; an empty cell (CSV) or null (JSON) is no "
        "value.",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
        "headers": {
            "Content-Disposition": {
                "description": 'attachment; filename="reports-<UTC date>.<format>"',
                "schema": {"type": "string"},
            },
            "X-Total-Count": {
                "description": "How many reports the filters select, exactly, counted as "
                "the file starts (all of them: `before_id` aside, as the listing's `total`)",
                "schema": {"type": "integer"},
            },
        },
    }
}


def _streamed(
    session: Session,
    filters: ReportFilter,
    export_format: ExportFormat,
    before_id: int | None,
) -> Iterator[str]:
    """The export's pieces, read in ``session``, which is closed when the stream ends (or is
    dropped); started at once by ``_started`` so that ``finally`` always runs."""
    try:
        yield ""
        yield from export_reports(
            session=session, filters=filters, export_format=export_format, before_id=before_id
        )
    finally:
        session.close()


def _started(pieces: Iterator[str]) -> Iterator[str]:
    next(pieces)
    return pieces


@router.get(
    "/reports/export",
    response_class=StreamingResponse,
    responses=EXPORT_RESPONSES,
)
def export(
    session: SessionDep,
    database: DatabaseDep,
    principal: SupervisorDep,
    query: ReportQueryDep,
    export_format: Annotated[
        ExportFormat,
        Query(alias="format", description="csv (for a spreadsheet) or jsonl (JSON lines)"),
    ] = ExportFormat.CSV,
    before_id: BeforeId = None,
) -> StreamingResponse:
    """The report listing as a file, CSV or JSON lines: every report the filters select.

    For a supervisor or admin, of their organisation. The filters are the listing's
    (`GET /reports`), the rows the same, newest first; `before_id` resumes an export that was
    cut off (give the last id received). No victim identity is in it (no case label, no
    contact detail), nor in its file name. Streamed as it is read: the size of the
    organisation does not matter. Each export is recorded in the audit log.
    """
    reading = database.session()
    try:
        read_in_one_snapshot(session=reading)  # the file holds X-Total-Count rows
        filters = listing_filter(
            session=reading,
            principal=principal,
            case_id=query.case_id,
            state=query.state,
            platform=query.platform,
            overdue=query.overdue,
        )
        total = filters.count(session=reading)
        record(
            session=session,
            actor=principal.actor,
            action="reports.exported",
            object_type="organisation",
            object_id=principal.organisation_id,
            organisation_id=principal.organisation_id,
            details={
                "format": export_format.value,
                "case_id": query.case_id,
                "state": query.state,
                "platform": query.platform,
                "overdue": query.overdue,
                "before_id": before_id,
                "selected": total,
            },
        )
        session.commit()
        pieces = _started(_streamed(reading, filters, export_format, before_id))
    except BaseException:
        reading.close()
        raise
    filename = export_filename(export_format, filters.now)
    return StreamingResponse(
        pieces,
        media_type=MEDIA_TYPES[export_format],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Total-Count": str(total),
            "Cache-Control": "no-store",
        },
    )
