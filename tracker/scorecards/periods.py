"""The calendar of the scorecards: days, ISO weeks (from Monday) and months, and the range
shown when none is asked for. One place for what the cells, the deltas and the reads must
agree on."""

import calendar
from datetime import date, timedelta

from tracker.scorecards.schemas import Period

#: The range when none is asked for: the last 90 days, today included.
DEFAULT_DAYS = 90


def default_range(date_from: date | None, date_to: date | None, today: date) -> tuple[date, date]:
    """``from`` and ``to`` with the defaults filled in: to today, from 89 days before ``to``."""
    last = date_to or today
    return date_from or last - timedelta(days=DEFAULT_DAYS - 1), last


def month_end(day: date) -> date:
    """The last day of ``day``'s month."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def period_start(day: date, period: Period) -> date:
    """The first day of the day, ISO week or month ``day`` is in."""
    if period is Period.WEEK:
        return day - timedelta(days=day.weekday())
    if period is Period.MONTH:
        return day.replace(day=1)
    return day


def period_end(day: date, period: Period) -> date:
    """The last day of the period ``day`` is in."""
    if period is Period.WEEK:
        return period_start(day, period) + timedelta(days=6)
    if period is Period.MONTH:
        return month_end(day)
    return day
