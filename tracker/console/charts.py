"""The dashboard's charts as geometry for inline SVG: pure functions from figures to coordinates.

The templates draw them (``templates/dashboard/_charts.html``): no chart library and no script,
a ``viewBox`` so they scale to any width, and a table on the page with the same figures as
their text alternative. Coordinates are in view-box units, rounded to 0.1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: Steps a time axis counts in: 15 min, 30 min, 1 h, 2 h, 3 h, 6 h, 12 h, 1 d, 2 d, 3 d, 1 week,
#: 2 weeks, 30 days, 60 days, 90 days, 180 days, 1 year.
TIME_STEPS = (
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
    2 * 86400,
    3 * 86400,
    7 * 86400,
    14 * 86400,
    30 * 86400,
    60 * 86400,
    90 * 86400,
    180 * 86400,
    365 * 86400,
)
#: At most this many labels along a time line (every n-th period is labelled).
MOST_LABELS = 8
#: At most this many steps up a value axis.
MOST_STEPS = 5
#: A horizontal chart's row: the label line above, then the bar.
ROW_HEIGHT = 40.0
BAR_THICKNESS = 16.0


@dataclass(frozen=True, slots=True)
class Plot:
    """A chart's view box and, inside it, the area the data is drawn in."""

    width: float = 560.0
    height: float = 240.0
    left: float = 56.0
    right: float = 4.0
    top: float = 28.0
    bottom: float = 32.0

    @property
    def x_end(self) -> float:
        return self.width - self.right

    @property
    def y_end(self) -> float:
        return self.height - self.bottom

    @property
    def inner_width(self) -> float:
        return self.x_end - self.left

    @property
    def inner_height(self) -> float:
        return self.y_end - self.top


@dataclass(frozen=True, slots=True)
class Tick:
    """A value on an axis and where it is drawn (y up a value axis, x along a time axis)."""

    value: float
    position: float


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: its rectangle, its value and which series it shows (0, 1, …)."""

    x: float
    y: float
    width: float
    height: float
    value: float
    series: int


@dataclass(frozen=True, slots=True)
class Slot:
    """One period along the time axis: its centre, its bars, and whether it is labelled."""

    index: int
    x: float
    bars: tuple[Bar, ...]
    labelled: bool


@dataclass(frozen=True, slots=True)
class BarChart:
    """Bars side by side per period (e.g. filed and removed)."""

    plot: Plot
    slots: tuple[Slot, ...]
    ticks: tuple[Tick, ...]
    maximum: float


@dataclass(frozen=True, slots=True)
class Point:
    """A value of a line, at its period's centre."""

    index: int
    x: float
    y: float
    value: float


@dataclass(frozen=True, slots=True)
class LineChart:
    """A line of shares in [0, 1] per period, broken where a period has no value."""

    plot: Plot
    slots: tuple[Slot, ...]
    points: tuple[Point, ...]
    #: Each unbroken run of two points or more, as an SVG ``points`` attribute.
    lines: tuple[str, ...]
    ticks: tuple[Tick, ...]


@dataclass(frozen=True, slots=True)
class Row:
    """One horizontal bar: the label's baseline above it, and the bar (width 0: no value)."""

    index: int
    label_y: float
    y: float
    width: float
    value: float | None


@dataclass(frozen=True, slots=True)
class HorizontalBarChart:
    """One bar per breakdown value, e.g. the median time to removal per platform."""

    plot: Plot
    rows: tuple[Row, ...]
    ticks: tuple[Tick, ...]
    maximum: float


def _round(value: float) -> float:
    return round(value, 1)


def count_scale(maximum: float) -> tuple[float, float]:
    """The top of a count axis and its step: a 1, 2 or 5 times a power of ten, whole numbers,
    at most ``MOST_STEPS`` steps; an axis of zeros goes up to 1."""
    if maximum <= 0:
        return 1.0, 1.0
    rough = maximum / MOST_STEPS
    magnitude = 10 ** math.floor(math.log10(rough)) if rough >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= rough)
    return float(math.ceil(maximum / step) * step), float(step)


def time_scale(maximum: float) -> tuple[float, float]:
    """The top of a time axis (seconds) and its step, counted in ``TIME_STEPS``."""
    rough = max(maximum, 0) / (MOST_STEPS - 1)
    step = next((s for s in TIME_STEPS if s >= rough), None)
    if step is None:
        step = math.ceil(rough / TIME_STEPS[-1]) * TIME_STEPS[-1]
    return float(max(math.ceil(maximum / step), 1) * step), float(step)


def _value_ticks(plot: Plot, top: float, step: float) -> tuple[Tick, ...]:
    count = round(top / step)
    return tuple(
        Tick(value=step * n, position=_round(plot.y_end - plot.inner_height * n / count))
        for n in range(count + 1)
    )


def _labelled(index: int, count: int) -> bool:
    every = max(math.ceil(count / MOST_LABELS), 1)
    return index % every == 0


def _slot_width(plot: Plot, count: int) -> float:
    return plot.inner_width / count if count else plot.inner_width


def grouped_bars(series: Sequence[Sequence[float]], plot: Plot | None = None) -> BarChart:
    """Bars per period for each series (all the same length), on one count axis."""
    plot = plot or Plot()
    count = len(series[0]) if series else 0
    if any(len(values) != count for values in series):
        raise ValueError("every series needs one value per period")
    top, step = count_scale(max((max(values, default=0) for values in series), default=0))
    slot = _slot_width(plot, count)
    group = slot * 0.7
    width = group / max(len(series), 1)
    slots = []
    for index in range(count):
        start = plot.left + index * slot + (slot - group) / 2
        bars = []
        for number, values in enumerate(series):
            value = max(float(values[index]), 0.0)
            height = plot.inner_height * value / top
            bars.append(
                Bar(
                    x=_round(start + number * width),
                    y=_round(plot.y_end - height),
                    width=_round(width),
                    height=_round(height),
                    value=value,
                    series=number,
                )
            )
        slots.append(
            Slot(
                index=index,
                x=_round(plot.left + (index + 0.5) * slot),
                bars=tuple(bars),
                labelled=_labelled(index, count),
            )
        )
    return BarChart(plot=plot, slots=tuple(slots), ticks=_value_ticks(plot, top, step), maximum=top)


def share_line(values: Sequence[float | None], plot: Plot | None = None) -> LineChart:
    """A line of shares (0 to 1; None where a period has none) per period."""
    plot = plot or Plot()
    count = len(values)
    slot = _slot_width(plot, count)
    slots, points = [], []
    runs: list[list[Point]] = [[]]
    for index, value in enumerate(values):
        x = _round(plot.left + (index + 0.5) * slot)
        slots.append(Slot(index=index, x=x, bars=(), labelled=_labelled(index, count)))
        if value is None:
            runs.append([])
            continue
        share = min(max(float(value), 0.0), 1.0)
        point = Point(
            index=index, x=x, y=_round(plot.y_end - plot.inner_height * share), value=share
        )
        points.append(point)
        runs[-1].append(point)
    lines = tuple(
        " ".join(f"{point.x:g},{point.y:g}" for point in run) for run in runs if len(run) > 1
    )
    return LineChart(
        plot=plot,
        slots=tuple(slots),
        points=tuple(points),
        lines=lines,
        ticks=_value_ticks(plot, 1.0, 0.25),
    )


def horizontal_bars(values: Sequence[float | None], plot: Plot | None = None) -> HorizontalBarChart:
    """One bar per value (seconds; None draws no bar) on one time axis; the view box grows
    with the number of rows."""
    base = plot or Plot(left=12.0, right=96.0, top=8.0, bottom=32.0)
    plot = Plot(
        width=base.width,
        height=base.top + ROW_HEIGHT * len(values) + base.bottom,
        left=base.left,
        right=base.right,
        top=base.top,
        bottom=base.bottom,
    )
    top, step = time_scale(max((value or 0 for value in values), default=0))
    rows = []
    for index, value in enumerate(values):
        row_top = plot.top + ROW_HEIGHT * index
        width = plot.inner_width * max(value or 0, 0) / top
        rows.append(
            Row(
                index=index,
                label_y=_round(row_top + 14),
                y=_round(row_top + ROW_HEIGHT - BAR_THICKNESS - 4),
                width=_round(width),
                value=value,
            )
        )
    count = round(top / step)
    ticks = tuple(
        Tick(value=step * n, position=_round(plot.left + plot.inner_width * n / count))
        for n in range(count + 1)
    )
    return HorizontalBarChart(plot=plot, rows=tuple(rows), ticks=ticks, maximum=top)
