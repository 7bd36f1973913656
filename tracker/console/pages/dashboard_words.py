"""How the dashboard writes its figures in one language: counts, shares, times, days, and the
names of what the figures are broken down by (not a router)."""

from __future__ import annotations

import math
from datetime import date

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent

from tracker.console.i18n import N_, translations
from tracker.console.pages.case_words import Phrases
from tracker.console.words import Words
from tracker.scorecards.schemas import Dimension, Period

NOTHING = "—"
DIMENSIONS = {
    "platform": N_("Platform"),
    "channel": N_("Channel"),
    "legal_basis": N_("Legal basis"),
    "rung": N_("Step of the ladder"),
}
PERIODS = {"day": N_("Day"), "week": N_("Week"), "month": N_("Month")}


class FigureWords:
    """The dashboard's numbers and names as text in ``language``."""

    def __init__(self, language: str) -> None:
        self.language = language
        translate = translations(language)
        self._ = translate.gettext
        self._words = Words(translate)
        self._phrases = Phrases(language)

    def count(self, number: float | None) -> str:
        """A count with the language's digit grouping ("1,23,456" in Hindi)."""
        return NOTHING if number is None else format_decimal(number, locale=self.language)

    def share(self, rate: float | None) -> str:
        """A share in [0, 1] as a whole percentage; "—" when there is nothing to divide by."""
        return NOTHING if rate is None else format_percent(rate, locale=self.language)

    def span(self, seconds: float | None) -> str:
        """A time in its largest sensible unit: "45 min", "1 h 30 min", "26 h", "3 d", "2 d 6 h"."""
        if seconds is None:
            return NOTHING
        minutes = max(math.ceil(seconds / 60), 0)
        if minutes < 60:
            return self._("%(minutes)d min") % {"minutes": minutes}
        if minutes < 120 and minutes % 60:
            return self._("%(hours)d h %(minutes)d min") % {
                "hours": minutes // 60,
                "minutes": minutes % 60,
            }
        hours = round(minutes / 60)
        if hours <= 48:
            return self._("%(hours)d h") % {"hours": hours}
        days, hours = divmod(hours, 24)
        if not hours:
            return self._("%(days)d d") % {"days": days}
        return self._("%(days)d d %(hours)d h") % {"days": days, "hours": hours}

    def day(self, day: date) -> str:
        """A day, e.g. "3 Mar 2025"."""
        return format_date(day, "d MMM y", locale=self.language)

    def period_start(self, day: date, period: Period) -> str:
        """Where a period starts, short, for a chart's axis: "3 Mar", or "Mar 2025" by month."""
        pattern = "MMM y" if period is Period.MONTH else "d MMM"
        return format_date(day, pattern, locale=self.language)

    def dimension(self, dimension: Dimension | str) -> str:
        """What the figures are broken down by, e.g. "Platform"."""
        return self._(DIMENSIONS[str(dimension)])

    def period(self, period: Period | str) -> str:
        """A period's name, e.g. "Week"."""
        return self._(PERIODS[str(period)])

    def value(self, dimension: Dimension | str, value: str | None) -> str:
        """A breakdown value in words: the platform's name, the channel, the rung's target;
        a legal basis as the policy writes it."""
        if not value:
            return NOTHING
        if dimension == Dimension.PLATFORM:
            return self._phrases.platform(value)
        if dimension == Dimension.CHANNEL:
            return self._words.channel(value)
        if dimension == Dimension.RUNG:
            return self._phrases.rung_target(value)
        return value
