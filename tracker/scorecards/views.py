"""``/api/v1/scorecards``: platform scorecards, trends, their exports and the transparency
report. Aggregates only, for dashboard keys and the people who see every case."""

from collections.abc import Iterator
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from tracker.api.deps import DashboardDep, SessionDep
from tracker.db import utcnow
from tracker.scorecards.export import (
    scorecard_csv_lines,
    scorecard_jsonl_lines,
    trend_csv_lines,
    trend_jsonl_lines,
)
from tracker.scorecards.periods import default_range
from tracker.scorecards.query import Filters, scorecard, trend
from tracker.scorecards.schemas import Dimension, Period, Scorecard, Trend
from tracker.scorecards.transparency import (
    TransparencyReport,
    transparency_csv_lines,
    transparency_report,
)

router = APIRouter(tags=["dashboards"])

ExportFormat = Literal["csv", "jsonl"]
MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


class ScorecardParams:
    """The query of a scorecard or trend (what every endpoint here takes)."""

    def __init__(
        self,
        date_from: Annotated[
            date | None, Query(alias="from", description="First day (UTC); default 89 days ago")
        ] = None,
        date_to: Annotated[
            date | None, Query(alias="to", description="Last day (UTC), included; default today")
        ] = None,
        group_by: Annotated[
            list[Dimension], Query(description="Break down by these (repeat the parameter)")
        ] = [],  # noqa: B006 - FastAPI copies the default
        platform: Annotated[str | None, Query(max_length=64)] = None,
        channel: Annotated[str | None, Query(max_length=16)] = None,
        legal_basis: Annotated[str | None, Query(max_length=255)] = None,
        rung: Annotated[str | None, Query(max_length=32)] = None,
    ) -> None:
        self.date_from, self.date_to = default_range(date_from, date_to, utcnow().date())
        self.group_by = group_by
        self.filters = Filters(
            platform=platform, channel=channel, legal_basis=legal_basis, rung=rung
        )


ParamsDep = Annotated[ScorecardParams, Depends()]
PeriodQuery = Annotated[Period, Query(description="day, week (ISO, from Monday) or month")]


def _scorecard(session: SessionDep, principal: DashboardDep, params: ParamsDep) -> Scorecard:
    return scorecard(
        session=session,
        organisation_id=principal.organisation_id,
        date_from=params.date_from,
        date_to=params.date_to,
        group_by=params.group_by,
        filters=params.filters,
    )


def _trend(
    session: SessionDep,
    principal: DashboardDep,
    params: ParamsDep,
    period: PeriodQuery = Period.WEEK,
) -> Trend:
    return trend(
        session=session,
        organisation_id=principal.organisation_id,
        period=period,
        date_from=params.date_from,
        date_to=params.date_to,
        group_by=params.group_by,
        filters=params.filters,
    )


def _download(lines: Iterator[str], name: str, export_format: str) -> StreamingResponse:
    return StreamingResponse(
        (line.encode() for line in lines),
        media_type=MEDIA[export_format],
        headers={"Content-Disposition": f'attachment; filename="{name}.{export_format}"'},
    )


_EXPORT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {MEDIA["csv"]: {}, MEDIA["jsonl"]: {}}, "description": "The rows, streamed"}
}


@router.get("/scorecards", response_model=Scorecard, response_model_by_alias=True)
def get_scorecard(figures: Annotated[Scorecard, Depends(_scorecard)]) -> Scorecard:
    """Per platform, channel, legal basis and rung (``group_by``) over a range of days: reports
    first filed, removed, removal rate, median and p90 time to removal, removed within the
    deadline, rejections by reason, escalations by rung, reappearances, time waiting on
    people. Read from rollups kept as reports move: the cost does not grow with the reports."""
    return figures


@router.get("/scorecards/trends", response_model=Trend, response_model_by_alias=True)
def get_trend(figures: Annotated[Trend, Depends(_trend)]) -> Trend:
    """The same figures per day, ISO week or month, for charts."""
    return figures


@router.get("/scorecards/export", response_class=StreamingResponse, responses=_EXPORT_RESPONSES)
def export_scorecard(
    figures: Annotated[Scorecard, Depends(_scorecard)],
    format: ExportFormat = "csv",  # noqa: A002
) -> StreamingResponse:
    """The scorecard's rows as CSV or JSON lines."""
    lines = scorecard_csv_lines(figures) if format == "csv" else scorecard_jsonl_lines(figures)
    return _download(lines, f"scorecard-{figures.from_}-{figures.to}", format)


@router.get(
    "/scorecards/trends/export", response_class=StreamingResponse, responses=_EXPORT_RESPONSES
)
def export_trend(
    figures: Annotated[Trend, Depends(_trend)],
    format: ExportFormat = "csv",  # noqa: A002
) -> StreamingResponse:
    """The trend's points as CSV or JSON lines."""
    lines = trend_csv_lines(figures) if format == "csv" else trend_jsonl_lines(figures)
    return _download(lines, f"trend-{figures.period}-{figures.from_}-{figures.to}", format)


@router.get(
    "/scorecards/transparency",
    response_model=TransparencyReport,
    responses={200: {"content": {MEDIA["csv"]: {}}}},
)
def get_transparency(
    session: SessionDep,
    principal: DashboardDep,
    year: Annotated[int, Query(ge=2000, le=2100)],
    threshold: Annotated[int, Query(ge=2, le=1000, description="The smallest count shown")] = 10,
    format: Literal["json", "csv"] = "json",  # noqa: A002
) -> TransparencyReport | StreamingResponse:
    """The year's figures per platform and quarter, safe to publish: counts under
    ``threshold`` suppressed, with enough others that none can be worked out from the totals."""
    report = transparency_report(
        session=session,
        organisation_id=principal.organisation_id,
        year=year,
        threshold=threshold,
    )
    if format == "csv":
        return _download(transparency_csv_lines(report), f"transparency-{year}", "csv")
    return report
