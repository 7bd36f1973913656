"""Scorecards and trends as CSV or JSON lines, a line at a time (what the API streams, the
console downloads and the command line writes)."""

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any, get_args

from tracker.policies.schema import RungTarget
from tracker.reports.export import csv_cell
from tracker.scorecards.models import RejectionReason
from tracker.scorecards.schemas import Dimension, Scorecard, ScorecardFigures, Trend

_SCALARS = [
    name
    for name in ScorecardFigures.model_fields
    if name not in ("rejections_by_reason", "escalated_to")
]
_REASONS = [f"rejected_{reason}" for reason in RejectionReason]
_RUNGS = [f"escalated_to_{target}" for target in get_args(RungTarget)]


def columns(*, trend: bool) -> list[str]:
    """The header of a flat export: the breakdown, the figures, then one column per kind of
    rejection and per rung escalated to."""
    lead = ["period_start"] if trend else []
    return lead + [str(d) for d in Dimension] + _SCALARS + _REASONS + _RUNGS


def flat(row: ScorecardFigures) -> dict[str, Any]:
    """One row of figures as flat columns."""
    data = row.model_dump(mode="json")
    by_reason = data.pop("rejections_by_reason")
    escalated_to = data.pop("escalated_to")
    for reason in RejectionReason:
        data[f"rejected_{reason}"] = by_reason.get(str(reason), 0)
    for target in get_args(RungTarget):
        data[f"escalated_to_{target}"] = escalated_to.get(target, 0)
    return data


def _csv_lines(header: list[str], rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, extrasaction="ignore")
    writer.writeheader()
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow({key: csv_cell(value) for key, value in row.items()})
        yield buffer.getvalue()


def scorecard_csv_lines(scorecard: Scorecard) -> Iterator[str]:
    """The scorecard's rows as CSV (figures only: the names are the platform's, the channel's,
    the law's and the rung's, never anything of a case)."""
    return _csv_lines(columns(trend=False), (flat(row) for row in scorecard.rows))


def trend_csv_lines(trend: Trend) -> Iterator[str]:
    """The trend's points as CSV."""
    return _csv_lines(columns(trend=True), (flat(point) for point in trend.points))


def scorecard_jsonl_lines(scorecard: Scorecard) -> Iterator[str]:
    for row in scorecard.rows:
        yield json.dumps(row.model_dump(mode="json"), ensure_ascii=False) + "\n"


def trend_jsonl_lines(trend: Trend) -> Iterator[str]:
    for point in trend.points:
        yield json.dumps(point.model_dump(mode="json"), ensure_ascii=False) + "\n"
