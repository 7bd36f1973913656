"""`tracker export scorecards | trends | transparency`: the dashboard figures to a file, for
the analyst with a spreadsheet (the same rows as ``/api/v1/scorecards/export``)."""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from tracker.cli_data import _organisation, _progress, _stop, _written_to, export_app
from tracker.scorecards.schemas import Dimension, Period

T = TypeVar("T")


class Format(enum.StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


class ReportFormat(enum.StrEnum):
    CSV = "csv"
    JSON = "json"


FromOption = Annotated[
    str | None, typer.Option("--from", help="First day, YYYY-MM-DD (default: 89 days ago)")
]
ToOption = Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD (default: today)")]
GroupOption = Annotated[
    list[Dimension] | None,
    typer.Option("--group-by", help="platform, channel, legal_basis or rung (repeatable)"),
]
OutputOption = Annotated[
    Path | None, typer.Option(help="The file to write (default: standard output)")
]
OrganisationOption = Annotated[str, typer.Option(help="The organisation's name")]


def _day(command: str, name: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _stop(command, f"--{name} must be a date, YYYY-MM-DD") from None


def _figures(
    command: str,
    organisation: str,
    date_from: str | None,
    date_to: str | None,
    read: Callable[..., T],
    **arguments: Any,
) -> T:
    """What ``read`` (the scorecard or the trend) answers for the organisation over the range
    (the API's defaults where a day is not given); a refused range exits 2."""
    from tracker.db import utcnow
    from tracker.errors import Invalid
    from tracker.runtime import database
    from tracker.scorecards.periods import default_range

    first, last = default_range(
        _day(command, "from", date_from), _day(command, "to", date_to), utcnow().date()
    )
    with database().session() as session:
        found = _organisation(command, session, organisation)
        assert found.id is not None
        try:
            return read(
                session=session,
                organisation_id=found.id,
                date_from=first,
                date_to=last,
                **arguments,
            )
        except Invalid as error:
            raise _stop(command, str(error)) from None


def _write(command: str, lines: list[str], output: Path | None) -> None:
    with _progress(command, len(lines)) as advance, _written_to(command, output) as stream:
        for line in lines:
            stream.write(line)
            advance(1)


@export_app.command("scorecards")
def export_scorecards(
    organisation: OrganisationOption,
    date_from: FromOption = None,
    date_to: ToOption = None,
    group_by: GroupOption = None,
    export_format: Annotated[Format, typer.Option("--format", help="csv or jsonl")] = Format.CSV,
    output: OutputOption = None,
) -> None:
    """The scorecard of the reports first filed in a range of days, broken down."""
    from tracker.scorecards.export import scorecard_csv_lines, scorecard_jsonl_lines
    from tracker.scorecards.query import scorecard

    command = "export scorecards"
    figures = _figures(
        command, organisation, date_from, date_to, scorecard, group_by=group_by or []
    )
    csv_lines = export_format is Format.CSV
    lines = scorecard_csv_lines(figures) if csv_lines else scorecard_jsonl_lines(figures)
    _write(command, list(lines), output)


@export_app.command("trends")
def export_trends(
    organisation: OrganisationOption,
    period: Annotated[Period, typer.Option(help="day, week or month")] = Period.WEEK,
    date_from: FromOption = None,
    date_to: ToOption = None,
    group_by: GroupOption = None,
    export_format: Annotated[Format, typer.Option("--format", help="csv or jsonl")] = Format.CSV,
    output: OutputOption = None,
) -> None:
    """The same figures per day, ISO week or month."""
    from tracker.scorecards.export import trend_csv_lines, trend_jsonl_lines
    from tracker.scorecards.query import trend

    command = "export trends"
    figures = _figures(
        command, organisation, date_from, date_to, trend, period=period, group_by=group_by or []
    )
    lines = trend_csv_lines(figures) if export_format is Format.CSV else trend_jsonl_lines(figures)
    _write(command, list(lines), output)


@export_app.command("transparency")
def export_transparency(
    organisation: OrganisationOption,
    year: Annotated[int, typer.Option(help="The year", min=2000, max=2100)],
    threshold: Annotated[int, typer.Option(help="The smallest count shown", min=2)] = 10,
    export_format: Annotated[
        ReportFormat, typer.Option("--format", help="csv or json")
    ] = ReportFormat.CSV,
    output: OutputOption = None,
) -> None:
    """The year's report per platform and quarter, safe to publish (small counts suppressed)."""
    from tracker.runtime import database
    from tracker.scorecards.transparency import transparency_csv_lines, transparency_report

    command = "export transparency"
    with database().session() as session:
        found = _organisation(command, session, organisation)
        assert found.id is not None
        report = transparency_report(
            session=session, organisation_id=found.id, year=year, threshold=threshold
        )
    if export_format is ReportFormat.CSV:
        lines = list(transparency_csv_lines(report))
    else:
        lines = [json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"]
    _write(command, lines, output)
