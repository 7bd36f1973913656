"""The supervisors' dashboard: how the organisation's reports fare, as figures, a table and
charts, with the same figures as CSV downloads.

It reads only the scorecards (``tracker.scorecards.query``): counts, shares and times of
reports by platform, channel, legal basis or rung, never a case, a person or a URL. The CSV
downloads answer the bytes the API's exports answer (``tracker.scorecards.export``), for a
signed-in supervisor instead of an API key.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from tracker.api.deps import SessionDep
from tracker.console import charts
from tracker.console.app import error_page
from tracker.console.context import Console, SupervisorConsoleDep
from tracker.console.i18n import N_, translations
from tracker.console.pages.dashboard_words import FigureWords
from tracker.console.render import render
from tracker.db import utcnow
from tracker.errors import Invalid
from tracker.scorecards.export import scorecard_csv_lines, trend_csv_lines
from tracker.scorecards.periods import DEFAULT_DAYS
from tracker.scorecards.query import LONGEST, scorecard, trend
from tracker.scorecards.schemas import Dimension, Period, Scorecard, ScorecardRow, Trend

router = APIRouter()

DEFAULT_PERIOD = Period.WEEK
DEFAULT_BREAKDOWN = Dimension.PLATFORM
#: Days a person can mean: the scorecards' own limits decide how long a range may be.
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
MESSAGES = {
    "from": N_("Give the first day as a date from 2000 to 2100, for example 2025-01-31."),
    "to": N_("Give the last day as a date from 2000 to 2100, for example 2025-03-31."),
    "order": N_("The first day must not be after the last day."),
    "too_long": N_("Choose a shorter range: at most %(days)s days."),
    "period": N_("Choose a day, a week or a month from the list."),
    "breakdown": N_("Choose what to break the figures down by from the list."),
}
#: Any text: a value the page cannot use is named on its field (a length limit would answer 404).
Text = Annotated[str, Query()]
From = Annotated[str, Query(alias="from")]
#: How much of a refused value the form shows again.
ECHOED = 32


@dataclass(frozen=True, slots=True)
class Choice:
    """The dashboard's filters, read from the GET form (defaults filled in)."""

    date_from: date
    date_to: date
    period: Period
    breakdown: Dimension

    def query(self, *names: str) -> str:
        """The filters named, as a query string for the page or a download."""
        values = {
            "from": self.date_from.isoformat(),
            "to": self.date_to.isoformat(),
            "period": self.period.value,
            "breakdown": self.breakdown.value,
        }
        return urlencode({name: values[name] for name in names})


def _day(text: str, default: date) -> date | None:
    text = text.strip()
    if not text:
        return default
    if not DAY.fullmatch(text):
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if EARLIEST <= day <= LATEST else None


def read_choice(
    date_from: str, date_to: str, period: str, breakdown: str, *, today: date
) -> tuple[Choice | None, dict[str, str]]:
    """The filters, or the message code of each field that is wrong."""
    errors: dict[str, str] = {}
    last = _day(date_to, today)
    first = _day(date_from, (last or today) - timedelta(days=DEFAULT_DAYS - 1))
    if first is None:
        errors["from"] = "from"
    if last is None:
        errors["to"] = "to"
    periods, dimensions = {p.value for p in Period}, {d.value for d in Dimension}
    if period.strip() and period.strip() not in periods:
        errors["period"] = "period"
    if breakdown.strip() and breakdown.strip() not in dimensions:
        errors["breakdown"] = "breakdown"
    if errors or first is None or last is None:
        return None, errors
    return (
        Choice(
            date_from=first,
            date_to=last,
            period=Period(period.strip() or DEFAULT_PERIOD),
            breakdown=Dimension(breakdown.strip() or DEFAULT_BREAKDOWN),
        ),
        {},
    )


@dataclass(frozen=True, slots=True)
class Row:
    """A row of the breakdown: the value in words, as stored, and its figures."""

    label: str
    value: str
    figures: ScorecardRow


def _rows(card: Scorecard, breakdown: Dimension, say: FigureWords) -> list[Row]:
    rows = []
    for row in card.rows:
        value = getattr(row, breakdown.value) or ""
        rows.append(Row(label=say.value(breakdown, value), value=value, figures=row))
    return rows


def _range_error(error: Invalid) -> dict[str, str]:
    """The field a scorecard refused a range for (``check_range`` names it in ``loc``)."""
    field = str(error.problems[0].loc[-1]) if error.problems else "to"
    return {"from": "order"} if field == "from" else {"to": "too_long"}


def read_figures(
    session: Session, console: Console, choice: Choice
) -> tuple[Scorecard | None, Trend | None, dict[str, str], int]:
    """The scorecard broken down as chosen and the trend per period, or the field refused
    and the longest range allowed."""
    organisation_id = console.principal.organisation_id
    longest = min(LONGEST[None], LONGEST[choice.period])
    try:
        card = scorecard(
            session=session,
            organisation_id=organisation_id,
            date_from=choice.date_from,
            date_to=choice.date_to,
            group_by=[choice.breakdown],
        )
        line = trend(
            session=session,
            organisation_id=organisation_id,
            period=choice.period,
            date_from=choice.date_from,
            date_to=choice.date_to,
        )
    except Invalid as error:
        return None, None, _range_error(error), longest
    return card, line, {}, longest


def _messages(console: Console, errors: dict[str, str], longest: int) -> dict[str, str]:
    gettext = translations(console.language).gettext
    return {
        field: gettext(MESSAGES[code]) % ({"days": longest} if code == "too_long" else {})
        for field, code in errors.items()
    }


def _charts(card: Scorecard, line: Trend) -> dict[str, Any]:
    points = line.points
    return {
        "filed_removed": charts.grouped_bars(
            [[point.filed for point in points], [point.removed for point in points]]
        ),
        "removal_rate": charts.share_line([point.removal_rate for point in points]),
        "median": charts.horizontal_bars([row.median_seconds_to_removal for row in card.rows]),
    }


@router.get("/dashboard")
def dashboard(
    request: Request,
    session: SessionDep,
    console: SupervisorConsoleDep,
    date_from: From = "",
    to: Text = "",
    period: Text = "",
    breakdown: Text = "",
) -> Response:
    """Headline figures, the breakdown table and the charts for the chosen days."""
    choice, errors = read_choice(date_from, to, period, breakdown, today=utcnow().date())
    card = line = None
    longest = LONGEST[None]
    if choice is not None:
        card, line, errors, longest = read_figures(session, console, choice)
    form = {
        "from": date_from[:ECHOED],
        "to": to[:ECHOED],
        "period": period[:ECHOED],
        "breakdown": breakdown[:ECHOED],
    }
    if choice is not None:
        form = {
            "from": choice.date_from.isoformat(),
            "to": choice.date_to.isoformat(),
            "period": choice.period.value,
            "breakdown": choice.breakdown.value,
        }
    say = FigureWords(console.language)
    rows = _rows(card, choice.breakdown, say) if card is not None and choice is not None else []
    return render(
        request,
        "dashboard/index.html",
        {
            "form": form,
            "errors": _messages(console, errors, longest),
            "choice": choice if card is not None else None,
            "card": card,
            "trend": line,
            "charts": _charts(card, line) if card is not None and line is not None else None,
            "periods": [p.value for p in Period],
            "dimensions": [d.value for d in Dimension],
            "rows": rows,
            "has_median": any(row.figures.median_seconds_to_removal for row in rows),
            "say": say,
        },
        console=console,
        status_code=400 if errors else 200,
    )


def _refused(request: Request, console: Console, errors: dict[str, str], longest: int) -> Response:
    """The console's error page, saying which filter is wrong."""
    return error_page(request, 400, next(iter(_messages(console, errors, longest).values()), None))


def _csv(lines: Iterator[str], filename: str) -> Response:
    response = StreamingResponse(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )
    response.headers["cache-control"] = "no-store"
    return response


@router.get("/dashboard/scorecard.csv")
def scorecard_download(
    request: Request,
    session: SessionDep,
    console: SupervisorConsoleDep,
    date_from: From = "",
    to: Text = "",
    breakdown: Text = "",
) -> Response:
    """The breakdown as CSV: the bytes of ``GET /api/v1/scorecards/export?format=csv``."""
    choice, errors = read_choice(date_from, to, "", breakdown, today=utcnow().date())
    if choice is None:
        return _refused(request, console, errors, LONGEST[None])
    try:
        card = scorecard(
            session=session,
            organisation_id=console.principal.organisation_id,
            date_from=choice.date_from,
            date_to=choice.date_to,
            group_by=[choice.breakdown],
        )
    except Invalid as error:
        return _refused(request, console, _range_error(error), LONGEST[None])
    name = f"scorecard-{choice.breakdown}-{choice.date_from}-{choice.date_to}.csv"
    return _csv(scorecard_csv_lines(card), name)


@router.get("/dashboard/trend.csv")
def trend_download(
    request: Request,
    session: SessionDep,
    console: SupervisorConsoleDep,
    date_from: From = "",
    to: Text = "",
    period: Text = "",
) -> Response:
    """The figures per period as CSV: the bytes of ``GET /api/v1/scorecards/trends/export``."""
    choice, errors = read_choice(date_from, to, period, "", today=utcnow().date())
    if choice is None:
        return _refused(request, console, errors, LONGEST[None])
    try:
        line = trend(
            session=session,
            organisation_id=console.principal.organisation_id,
            period=choice.period,
            date_from=choice.date_from,
            date_to=choice.date_to,
        )
    except Invalid as error:
        return _refused(request, console, _range_error(error), LONGEST[choice.period])
    name = f"trend-{choice.period}-{choice.date_from}-{choice.date_to}.csv"
    return _csv(trend_csv_lines(line), name)
